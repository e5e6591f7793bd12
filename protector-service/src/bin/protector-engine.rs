//! `protector-engine`: a site's worker process (spec/004:
//! `protector-engine --config-file /etc/protector/protector.conf`).
//!
//! It claims the site's queued operations from `[database] connection` with a lease, runs them
//! (and resumes those whose worker died) with the service user's credentials of `[engine]
//! clouds_file`, and stops on SIGTERM or SIGINT: it claims nothing more, waits up to `[engine]
//! shutdown_timeout` for its running operations and exits 0, leaving any still running to
//! their leases. See `protector_service::engine`.
//!
//! Exit codes: 0 stopped by a signal; 2 the configuration is invalid (the message names the
//! file, section and key); 1 anything else. A database that does not answer is waited for,
//! never a reason to exit. Logs go to stderr (`[DEFAULT] debug = True` for debug level,
//! `PROTECTOR_LOG` to choose filters), never with a secret.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use protector_core::store::Store;
use protector_core::{Error, ErrorKind, Result};
use protector_service::config::{ServiceConfig, DEFAULT_CONFIG_FILE};
use protector_service::engine::{build_with_peers, peer_discovery, EngineConfig, Worker};
use protector_service::process::{exit_with, init_logging, Signals};

/// A site's protector worker: claims and runs the site's operations.
#[derive(Debug, Parser)]
#[command(name = "protector-engine", version)]
struct Args {
    /// The site's protector.conf.
    #[arg(long, default_value = DEFAULT_CONFIG_FILE)]
    config_file: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => exit_with("protector-engine", &e),
    }
}

fn run(args: Args) -> Result<()> {
    let config = EngineConfig::from_config(&ServiceConfig::load(&args.config_file)?)?;
    init_logging(config.debug);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::unexpected(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let mut signals = Signals::register()?;
        let key = config.secret_key.clone();
        let opened = tokio::select! {
            store = open_store(&config, key) => Some(store?),
            signal = signals.recv() => {
                tracing::info!(signal, "stopping before the database answered");
                None
            }
        };
        let Some(store) = opened else {
            return Ok(());
        };
        let protector = build_with_peers(&config, store.clone()).await?;
        let worker = Worker::new(protector, store.clone(), config.worker.clone())
            .with_engine_source(peer_discovery(&config, store));
        let report = worker
            .run_until(async {
                let signal = signals.recv().await;
                tracing::info!(signal, "stopping");
            })
            .await;
        tracing::info!(
            finished = report.finished,
            abandoned = report.abandoned.len(),
            "protector-engine stopped"
        );
        Ok(())
    })
}

/// Opens the site's store, waiting (with a growing pause) while the database does not answer.
async fn open_store(
    config: &EngineConfig,
    key: protector_core::store::SecretKey,
) -> Result<Arc<dyn Store>> {
    let mut pause = Duration::from_secs(1);
    loop {
        match config.database.open(key.clone()).await {
            Ok(store) => return Ok(store),
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                tracing::warn!(error = %e, retry_in_s = pause.as_secs(), "the site's database does not answer: waiting for it");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
    }
}
