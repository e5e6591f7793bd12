//! Running one hook action: a command (no shell, own process group, killed on timeout) or a
//! URL call through the transport's [`crate::api::HookCaller`].

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::api::HookRequest;
use crate::engine::Protector;
use crate::error::{Error, ErrorKind};
use crate::model::{redact_url, HookAction, HookMethod};

/// How much of a command's output (each stream) or a URL's answer is kept: the end of it.
pub(super) const TAIL_BYTES: usize = 4096;

/// Variables of the engine's own environment a command inherits; everything else (cloud
/// passwords in `OS_*`, tokens) is left out.
const INHERITED: [&str; 7] = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"];

/// What one action did, for the journal and the messages.
#[derive(Debug, Default, Clone)]
pub(super) struct Ran {
    /// Exit code (command) or HTTP status (URL).
    pub(super) code: Option<i64>,
    /// The end of stdout (command) or of the answer's body (URL).
    pub(super) stdout: String,
    /// The end of stderr (command).
    pub(super) stderr: String,
}

impl Ran {
    pub(super) fn detail(&self) -> Value {
        serde_json::json!({"code": self.code, "stdout": self.stdout, "stderr": self.stderr})
    }
}

/// The last [`TAIL_BYTES`] of `bytes`, as text.
fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(TAIL_BYTES);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Runs `action` once with `variables` (name → value), within `timeout`.
///
/// `Ok` when it succeeded; otherwise an error whose message says what it did (exit code,
/// status, timeout) with the tail of its stderr, and [`Ran`] with what it printed.
pub(super) async fn run_action(
    engine: &Protector,
    what: &str,
    action: &HookAction,
    variables: &[(String, String)],
    timeout: Duration,
) -> std::result::Result<Ran, (Error, Ran)> {
    match action {
        HookAction::Command { argv } => {
            if !engine.inner.allow_command_hooks {
                return Err((command_refused(what), Ran::default()));
            }
            run_command(what, argv, variables, timeout).await
        }
        HookAction::Url {
            method,
            url,
            status_min,
            status_max,
        } => {
            let Some(caller) = engine.inner.connector.hook_caller() else {
                return Err((
                    Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "{what} calls {}, but this engine's transport makes no HTTP calls for hooks: run it with a transport that does (the CLI and protector-engine do)",
                            redact_url(url)
                        ),
                    ),
                    Ran::default(),
                ));
            };
            let body: serde_json::Map<String, Value> = variables
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let request = HookRequest {
                method: *method,
                url: url.clone(),
                body: if *method == HookMethod::Post {
                    Value::Object(body)
                } else {
                    Value::Null
                },
                timeout,
            };
            let shown = format!("{} {}", method.as_str(), redact_url(url));
            let answer = match tokio::time::timeout(timeout, caller.call(&request)).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => return Err((e.with_prefix(what), Ran::default())),
                Err(_) => {
                    return Err((
                        Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "{what} ({shown}) got no answer within {} s: check the service, or raise the hook's timeout",
                                whole_secs(timeout)
                            ),
                        ),
                        Ran::default(),
                    ))
                }
            };
            let ran = Ran {
                code: Some(i64::from(answer.status)),
                stdout: answer.body_tail.clone(),
                stderr: String::new(),
            };
            if (*status_min..=*status_max).contains(&answer.status) {
                Ok(ran)
            } else {
                Err((
                    Error::new(
                        ErrorKind::Unexpected,
                        format!(
                            "{what} ({shown}) answered status {} (expected {status_min}..={status_max}): {}",
                            answer.status,
                            last_line(&answer.body_tail).unwrap_or("no body")
                        ),
                    ),
                    ran,
                ))
            }
        }
    }
}

/// The refusal of a command hook by an engine that runs none.
pub(super) fn command_refused(what: &str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "{what} runs a command, but this engine does not run command hooks (protector.conf [hooks] allow_commands = false): use a URL hook, or ask the operator to allow commands"
        ),
    )
}

/// `d` in whole seconds, rounded up: a bound computed from a deadline (a hair under the
/// hook's timeout) reads as the timeout it came from.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

async fn run_command(
    what: &str,
    argv: &[String],
    variables: &[(String, String)],
    timeout: Duration,
) -> std::result::Result<Ran, (Error, Ran)> {
    let program = &argv[0];
    let mut command = tokio::process::Command::new(program);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .kill_on_drop(true);
    for name in INHERITED {
        if let Ok(value) = std::env::var(name) {
            command.env(name, value);
        }
    }
    command.envs(variables.iter().map(|(k, v)| (k, v)));
    // Its own process group, so that a timeout kills what it started too.
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|e| {
        (
            Error::new(
                ErrorKind::InvalidInput,
                format!("{what} could not start program '{program}': {e}; check the path and that it is executable on the engine's machine"),
            ),
            Ran::default(),
        )
    })?;
    let reader = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut out = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut out).await;
            }
            out
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let status = tokio::time::timeout(timeout, child.wait()).await;
    let timed_out = status.is_err();
    if timed_out {
        kill_group(&mut child).await;
    }
    // The pipes close once every process of the group has exited; one that left the group
    // (setsid) could hold them open: its output is not waited for.
    let collect = |handle: tokio::task::JoinHandle<Vec<u8>>| async move {
        match tokio::time::timeout(Duration::from_secs(5), handle).await {
            Ok(Ok(bytes)) => tail(&bytes),
            _ => String::new(),
        }
    };
    let mut ran = Ran {
        code: None,
        stdout: collect(stdout).await,
        stderr: collect(stderr).await,
    };
    let stderr_tail = last_line(&ran.stderr)
        .map(|l| format!(": {l}"))
        .unwrap_or_default();
    match status {
        Err(_) => Err((
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "{what} ran longer than its timeout of {} s and was killed{stderr_tail}; make it faster or raise its timeout",
                    whole_secs(timeout)
                ),
            ),
            ran,
        )),
        Ok(Err(e)) => Err((
            Error::unexpected(format!("{what}: waiting for program '{program}' failed: {e}")),
            ran,
        )),
        Ok(Ok(status)) => {
            ran.code = status.code().map(i64::from);
            if status.success() {
                Ok(ran)
            } else {
                let how = match status.code() {
                    Some(code) => format!("exited with code {code}"),
                    None => "was killed by a signal".to_string(),
                };
                Err((
                    Error::new(
                        ErrorKind::Unexpected,
                        format!("{what} failed: {program} {how}{stderr_tail}"),
                    ),
                    ran,
                ))
            }
        }
    }
}

/// Kills the command and every process of its group.
async fn kill_group(child: &mut tokio::process::Child) {
    #[cfg(unix)]
    if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
        if let Some(group) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_end() {
        let long = vec![b'a'; TAIL_BYTES + 10];
        assert_eq!(tail(&long).len(), TAIL_BYTES);
        assert_eq!(tail(b"short"), "short");
    }

    #[test]
    fn last_non_empty_line() {
        assert_eq!(last_line("a\nb\n\n"), Some("b"));
        assert_eq!(last_line(""), None);
    }
}
