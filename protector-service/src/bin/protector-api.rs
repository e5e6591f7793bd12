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
        Err(e) => {
            eprintln!("protector-api: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::ConfigInvalid | ErrorKind::InvalidInput => 2,
                ErrorKind::Unavailable | ErrorKind::Timeout => 3,
                _ => 1,
            })
        }
    }
}

fn run(args: Args) -> Result<()> {
    let config = ServiceConfig::load(&args.config_file)?;
    let settings = ApiSettings::from_config(&config)?;
    let filter = if settings.debug { "debug" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PROTECTOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.workers)
        .enable_all()
        .build()
        .map_err(|e| Error::unexpected(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
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
        serve(listener, api.router(), shutdown_signal()).await?;
        tracing::info!("protector-api stopped");
        Ok(())
    })
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; stop with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
