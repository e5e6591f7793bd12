//! How a command fails, and the one table from failure to exit code.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | unexpected error (a bug, or an answer protector did not expect) |
//! | 2 | usage: unknown command or option, missing argument (clap) |
//! | 3 | not found: site, protection group, member, operation, instance |
//! | 4 | refused: invalid input, validation failed, conflict, already exists, out of sync, unsupported |
//! | 5 | unavailable: a site or array cannot be reached, rate limited, timed out |
//! | 6 | permission denied or authentication refused |
//! | 7 | configuration: state directory, key file, missing transport (`--sim-state`) |
//! | 8 | a DR operation ran and ended `failed` or `partial` (its record is printed) |
//! | 9 | `protector demo` ran but one of its checks did not hold |

use std::fmt;

use protector_core::{Error, ErrorKind};

use crate::advice::advice;
use crate::output::escape_controls;

/// `Result` of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// An error from the engine or from the command's own checks.
    Engine(Error),
    /// The operation ran to its end but did not complete.
    OperationNotCompleted(String),
    /// A demo check did not hold.
    CheckFailed(String),
    /// Stdout was closed (`protector ... | head`): stop quietly.
    BrokenPipe,
}

impl CliError {
    /// Bad input given to the CLI itself (`-c` with an unknown column, …).
    pub fn invalid(message: impl Into<String>) -> Self {
        CliError::Engine(Error::invalid(message))
    }

    /// Local configuration is missing or wrong.
    pub fn config(message: impl Into<String>) -> Self {
        CliError::Engine(Error::new(ErrorKind::ConfigInvalid, message))
    }

    /// Something that should not happen.
    pub fn unexpected(message: impl Into<String>) -> Self {
        CliError::Engine(Error::unexpected(message))
    }

    /// Writing the output failed.
    pub fn from_io(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::unexpected(format!("cannot write the output: {err}"))
        }
    }

    /// The process exit code: the only place that decides it.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Engine(e) => match e.kind() {
                ErrorKind::NotFound => 3,
                ErrorKind::InvalidInput
                | ErrorKind::ValidationFailed
                | ErrorKind::Conflict
                | ErrorKind::AlreadyExists
                | ErrorKind::OutOfSync
                | ErrorKind::Unsupported => 4,
                ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::RateLimited => 5,
                ErrorKind::PermissionDenied | ErrorKind::Unauthenticated => 6,
                ErrorKind::ConfigInvalid => 7,
                _ => 1,
            },
            CliError::OperationNotCompleted(_) => 8,
            CliError::CheckFailed(_) => 9,
            CliError::BrokenPipe => 0,
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Engine(e)
    }
}

/// One line of message; a validation failure's findings follow as indented lines. Control
/// characters in them (a name or a server's message) are escaped, so each stays one line.
impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Engine(e) => {
                f.write_str(&escape_controls(e.message(), &[]))?;
                if let Some(hint) = e.hint() {
                    write!(f, ": {}", escape_controls(&advice(hint), &[]))?;
                }
                for finding in e.findings() {
                    write!(f, "\n  - {}", escape_controls(&finding.message, &[]))?;
                    if let Some(hint) = &finding.hint {
                        write!(f, ": {}", escape_controls(&advice(hint), &[]))?;
                    }
                }
                if let Some(request) = e.context_value("request_id") {
                    write!(f, " (request id {})", escape_controls(request, &[]))?;
                }
                Ok(())
            }
            CliError::OperationNotCompleted(m) | CliError::CheckFailed(m) => {
                f.write_str(&escape_controls(m, &['\n']))
            }
            CliError::BrokenPipe => f.write_str("the output was closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_distinct_codes() {
        let code = |k| CliError::from(Error::new(k, "x")).exit_code();
        assert_eq!(code(ErrorKind::Unexpected), 1);
        assert_eq!(code(ErrorKind::NotFound), 3);
        assert_eq!(code(ErrorKind::ValidationFailed), 4);
        assert_eq!(code(ErrorKind::OutOfSync), 4);
        assert_eq!(code(ErrorKind::Timeout), 5);
        assert_eq!(code(ErrorKind::Unauthenticated), 6);
        assert_eq!(code(ErrorKind::ConfigInvalid), 7);
        assert_eq!(CliError::OperationNotCompleted("x".into()).exit_code(), 8);
        assert_eq!(CliError::CheckFailed("x".into()).exit_code(), 9);
    }

    #[test]
    fn messages_and_findings_stay_one_line_each() {
        let e = Error::validation("group 'a\nb\u{1b}[2J' refused", vec!["x\ry".into()])
            .with_context("request_id", "req-1");
        assert_eq!(
            CliError::from(e).to_string(),
            "group 'a\\nb\\u{1b}[2J' refused\n  - x\\ry (request id req-1)"
        );
    }
}
