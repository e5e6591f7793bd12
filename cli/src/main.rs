//! `protector`: the command line of the protector DR engine.
//!
//! This file only parses, runs and turns a failure into `Error: ...` on stderr and an exit code
//! (see [`error`] for the table). Commands live in [`commands`].

mod advice;
mod args;
mod commands;
mod context;
mod error;
mod output;
mod progress;
mod secret_input;
mod transport;
mod views;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the engine allocates many small values (JSON bodies, records); glibc's malloc
/// was an eighth of its CPU in a 100-VM failover.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version exit 0, usage errors 2, both printed by clap.
        Err(e) => e.exit(),
    };
    init_logging();
    let runtime = match runtime_for(&cli.command).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            output::eprint_line(&format!("Error: cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let result = commands::run(cli).await;
        // A lock leased from a site's protector-api is released in the background when a
        // single-threaded runtime drops it: let it finish before the process ends (it lapses
        // by itself otherwise).
        protector_openstack::protector_api::settle_releases(RELEASE_GRACE).await;
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = err.exit_code();
            if code != 0 {
                let _ = std::io::stdout().flush();
                output::eprint_line(&format!("Error: {err}"));
            }
            ExitCode::from(code)
        }
    }
}

/// How long the command waits at its end for the release of leased locks (see `main`).
const RELEASE_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The runtime of `command`. The commands that host the simulator (`demo`, `sim`) serve many
/// connections and take every core. The others drive sites and arrays: on one thread, as the
/// I/O driver wakes the task on the thread that polls it, with no wake-up handed between
/// threads (those were a fifth of the engine's CPU per call in a 100-VM failover).
fn runtime_for(command: &args::Command) -> tokio::runtime::Builder {
    match command {
        args::Command::Demo(_) | args::Command::Sim(_) => {
            tokio::runtime::Builder::new_multi_thread()
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    }
}

/// Engine warnings go to stderr; `PROTECTOR_LOG` (e.g. `debug`) asks for more.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROTECTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
