//! `protector-api`: the REST service over a site's protector store (spec/004), on port 8788 by
//! default, configured by `/etc/protector/protector.conf`:
//!
//! - `[DEFAULT] site_name` (required), `debug`;
//! - `[api] bind_host` (0.0.0.0), `bind_port` (8788), `workers` (4 threads);
//! - `[database] connection` (MariaDB/MySQL, schema by `protector-manage db sync`, or SQLite);
//! - `[keystone_authtoken] auth_url, www_authenticate_uri, username, password, project_name,
//!   user_domain_name, project_domain_name, token_cache_time (300), cafile, insecure`.
//!
//! SIGTERM (or Ctrl-C) stops accepting connections and finishes the requests in flight.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use protector_core::{Error, ErrorKind, Result};
use protector_openstack::ClientOptions;
use protector_service::api::{serve, Api, ApiSettings};
use protector_service::config::{ServiceConfig, DEFAULT_CONFIG_FILE};
use protector_service::process::{exit_with, init_logging, Signals};

/// protector's REST service of one site.
#[derive(Debug, Parser)]
#[command(name = "protector-api", version)]
struct Args {
    /// The site's protector.conf.
    #[arg(long, default_value = DEFAULT_CONFIG_FILE)]
    config_file: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_with("protector-api", &e),
    }
}

fn run(args: Args) -> Result<()> {
    let config = ServiceConfig::load(&args.config_file)?;
    let settings = ApiSettings::from_config(&config)?;
    init_logging(settings.debug);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.workers)
        .enable_all()
        .build()
        .map_err(|e| Error::unexpected(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let signals = Signals::register()?;
        let store = config.database()?.open(config.secret_key()?).await?;
        let auth = settings.keystone.authenticator(ClientOptions::default())?;
        let api = Api::new(settings.site_name.clone(), store, auth);
        let address = format!("{}:{}", settings.bind_host, settings.bind_port);
        let listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cannot listen on {address} ({e}): check [api] bind_host and bind_port in {}",
                    config.path().display()
                ),
            )
        })?;
        tracing::info!(site = %settings.site_name, address = %address, workers = settings.workers, "protector-api serving");
        serve(listener, api.router(), shutdown_signal(signals)).await?;
        tracing::info!("protector-api stopped");
        Ok(())
    })
}

/// SIGTERM or SIGINT, watched from the start.
async fn shutdown_signal(mut signals: Signals) {
    let signal = signals.recv().await;
    tracing::info!(signal, "shutting down: finishing the requests in flight");
}
