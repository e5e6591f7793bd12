//! What the service binaries share as processes: their logging, their exit codes and the
//! signals that stop them.

use std::process::ExitCode;

use protector_core::{Error, ErrorKind, Result};

/// Logs to stderr (journald under systemd): `debug` level with `[DEFAULT] debug = True`,
/// `PROTECTOR_LOG` to choose filters; colours only on a terminal. Never a secret: the
/// services log what they do, not the bodies or headers they carry.
pub fn init_logging(debug: bool) {
    let default = if debug { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROTECTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The exit code of a service that stopped on `error`: 2 for its configuration, 3 for a
/// dependency that does not answer, 1 for anything else. The error goes to stderr first,
/// prefixed with `program`.
pub fn exit_with(program: &str, error: &Error) -> ExitCode {
    eprintln!("{program}: {error}");
    ExitCode::from(match error.kind() {
        ErrorKind::ConfigInvalid | ErrorKind::InvalidInput => 2,
        ErrorKind::Unavailable | ErrorKind::Timeout => 3,
        _ => 1,
    })
}

/// SIGTERM and SIGINT, registered before any work starts so that neither is missed.
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers both (needs a Tokio runtime).
    pub fn register() -> Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let watch = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| Error::unexpected(format!("cannot watch {name}: {e}")))
            };
            Ok(Signals {
                interrupt: watch(SignalKind::interrupt(), "SIGINT")?,
                terminate: watch(SignalKind::terminate(), "SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next of them: its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
