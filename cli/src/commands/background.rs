//! Long operations (failover, failback, drills, site failover) in the foreground or in the
//! background.
//!
//! Without `--wait` the command records a `pending` operation under a fresh id in the local
//! store, starts itself again detached (same arguments plus `--wait --operation-id <id>`, no
//! terminal, output to `<state dir>/operations/<id>.log`), prints the pending record and exits:
//! `protector operation show <id>` follows it. The background run hands the id to the engine,
//! which records the operation under it; when the engine refuses before the operation starts,
//! the background run marks the pending record `failed` with the reason, so that no record
//! stays pending. When the background run dies before the engine begins the operation, the
//! record stays pending until `protector operation recover` ends it ([`fail_unstarted`]).
//! The engine takes the operation's lock before its first side effect and refuses a record
//! that recovery ended meanwhile; this worker writes the record only under that lock too.
//!
//! With `--wait` the command runs the operation itself with the live progress display and
//! prints the final record.

use std::path::PathBuf;
use std::process::Stdio;

use chrono::Utc;
use protector_core::engine::ProgressObserver;
use protector_core::model::{Operation, OperationStatus};
use protector_core::store::LockAttempt;
use protector_core::Result;
use uuid::Uuid;

use crate::args::{OutputOptions, RunOptions};
use crate::context::{Context, Engine};
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::progress::ProgressDisplay;
use crate::views;

/// Parses an operation id as displayed (`op-<uuid>`) or bare.
pub fn parse_operation_id(text: &str) -> CliResult<Uuid> {
    Uuid::parse_str(text.trim().trim_start_matches("op-")).map_err(|_| {
        CliError::invalid(format!(
            "'{text}' is not an operation id: give op-<uuid> as printed by `protector operation list`"
        ))
    })
}

/// How this run of a long command goes.
pub enum Mode {
    /// Record a pending operation, start the work detached, print the record.
    Detach,
    /// Run the operation here with the progress display (`--wait`, or the detached worker of
    /// the pending operation `operation_id`).
    Foreground {
        /// The pending operation this run works on.
        operation_id: Option<Uuid>,
    },
}

impl Mode {
    /// The mode asked for by `--wait` and the hidden `--operation-id`.
    pub fn of(run: &RunOptions) -> CliResult<Mode> {
        match &run.operation_id {
            Some(id) => Ok(Mode::Foreground {
                operation_id: Some(parse_operation_id(id)?),
            }),
            None if run.wait => Ok(Mode::Foreground { operation_id: None }),
            None => Ok(Mode::Detach),
        }
    }
}

/// Records `pending` (status forced to `pending`) in the local store, starts this command again
/// detached to run it, and prints the record with `operation_id` first.
pub async fn detach(
    ctx: &Context,
    engine: &Engine,
    mut pending: Operation,
    output: &OutputOptions,
) -> CliResult {
    pending.status = OperationStatus::Pending;
    pending.progress = 0;
    let log = log_path(ctx, &pending.id)?;
    engine.protector.store().put_operation(&pending).await?;
    if let Err(e) = spawn_worker(&pending.id, &log) {
        let message = format!("could not start the background run: {e}");
        let _ = mark_failed(engine, &pending.id, &message).await;
        return Err(CliError::unexpected(format!(
            "{message}; nothing was changed: retry with --wait to run it in the foreground"
        )));
    }
    Printer::stdout(output).show(&views::operation(&pending, "operation_id"))
}

/// Keeps `plan` for the background worker of operation `plan.id`
/// (`<state dir>/operations/op-<id>.plan.json`).
pub fn save_plan(ctx: &Context, plan: &protector_core::plan::Plan) -> CliResult {
    let path = plan_path(ctx, &plan.id)?;
    std::fs::write(&path, plan.to_json()).map_err(|e| {
        CliError::config(format!(
            "cannot write the plan to {}: {e}: choose another state directory with --state-dir",
            path.display()
        ))
    })
}

/// The plan kept for operation `id` by [`save_plan`], removed from disk once read.
pub fn take_plan(ctx: &Context, id: &Uuid) -> CliResult<Option<protector_core::plan::Plan>> {
    let path = plan_path(ctx, id)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::config(format!(
                "cannot read the plan {}: {e}",
                path.display()
            )))
        }
    };
    let plan = serde_json::from_str(&text).map_err(|e| {
        CliError::config(format!(
            "the plan {} is not a protector plan ({e}): run the failover again",
            path.display()
        ))
    })?;
    let _ = std::fs::remove_file(&path);
    Ok(Some(plan))
}

fn plan_path(ctx: &Context, id: &Uuid) -> CliResult<PathBuf> {
    let log = log_path(ctx, id)?;
    Ok(log.with_file_name(format!("op-{id}.plan.json")))
}

/// `<state dir>/operations/<id>.log`, its directory created.
fn log_path(ctx: &Context, id: &Uuid) -> CliResult<PathBuf> {
    let dir = ctx.state_dir()?.join("operations");
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::config(format!(
            "cannot create {} for the operation logs: {e}: choose another state directory with --state-dir",
            dir.display()
        ))
    })?;
    Ok(dir.join(format!("op-{id}.log")))
}

/// Starts `protector <same arguments> --wait --operation-id <id>` with no terminal and its
/// output in `log`. It runs in its own process group, so that Ctrl-C in the shell that started
/// it does not stop it.
fn spawn_worker(id: &Uuid, log: &std::path::Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .arg("--wait")
        .arg("--operation-id")
        .arg(format!("op-{id}"))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    // The worker outlives this process; nothing waits for it.
    command.spawn().map(drop)
}

/// Marks the operation `id` failed with `message` unless it already ended.
async fn mark_failed(engine: &Engine, id: &Uuid, message: &str) -> Result<()> {
    let store = engine.protector.store();
    if let Some(mut op) = store.get_operation(id).await? {
        if !op.status.is_terminal() {
            op.status = OperationStatus::Failed;
            op.error_message = Some(message.to_string());
            op.completed_at = Some(Utc::now());
            store.put_operation(&op).await?;
        }
    }
    Ok(())
}

/// Marks the operation `id`, refused by the engine, failed with `message`, unless another
/// process holds its lock: that one (a run or a recovery of it) owns the record.
async fn mark_refused(engine: &Engine, id: &Uuid, message: &str) -> Result<()> {
    match engine.protector.store().lock_operation(id).await? {
        LockAttempt::Acquired(_owner) => mark_failed(engine, id, message).await,
        LockAttempt::Held { .. } => Ok(()),
    }
}

/// Ends `op` as `failed` when it is a `pending` record whose background run ended before the
/// engine began it (killed, or its machine went down): nothing runs it and nothing was changed,
/// so there is nothing to roll back. Returns the ended record, or `None` when `op` is not such a
/// record and recovery belongs to the engine.
///
/// The engine records an operation as `running` before its first side effect; a record still
/// `pending` was never begun unless a side effect was journaled under its id or its group
/// names it (a drill commits its record to the group before it publishes the operation).
pub async fn fail_unstarted(
    ctx: &Context,
    engine: &Engine,
    mut op: Operation,
) -> CliResult<Option<Operation>> {
    if op.status != OperationStatus::Pending {
        return Ok(None);
    }
    let store = engine.protector.store();
    if !store.list_journal(&op.id).await?.is_empty() {
        return Ok(None);
    }
    if let Some(group_id) = op.group_id {
        if let Some(group) = store.get_group(&group_id).await? {
            let drill = group.test_failover.as_ref().map(|r| r.operation_id);
            if group.active_operation_id == Some(op.id) || drill == Some(op.id) {
                return Ok(None);
            }
        }
    }
    let log = ctx
        .state_dir()?
        .join("operations")
        .join(format!("op-{}.log", op.id));
    op.status = OperationStatus::Failed;
    op.completed_at = Some(Utc::now());
    op.error_message = Some(format!(
        "the background run ended before the {} started (its output: {}): nothing was changed; recovered by marking it failed: start it again",
        op.operation_type.as_str(),
        log.display()
    ));
    store.put_operation(&op).await?;
    Ok(Some(op))
}

/// A foreground run: the progress display, and what to do with the engine's answer.
pub struct Foreground {
    progress: ProgressDisplay,
    operation_id: Option<Uuid>,
}

impl Foreground {
    /// Starts the progress display titled `title` (such as `failover prod-web-app`).
    pub fn new(title: &str, operation_id: Option<Uuid>) -> Foreground {
        Foreground {
            progress: ProgressDisplay::new(title),
            operation_id,
        }
    }

    /// The id to hand to the engine.
    pub fn operation_id(&self) -> Option<Uuid> {
        self.operation_id
    }

    /// The observer to hand to the engine.
    pub fn observer(&self) -> &dyn ProgressObserver {
        &self.progress
    }

    /// Ends the display. When the engine refused before the operation started, the pending
    /// record this run works on is marked failed with the reason (the store keeps no pending
    /// record that nothing runs), and the refusal is returned.
    pub async fn finish(self, engine: &Engine, result: Result<Operation>) -> CliResult<Operation> {
        self.progress.finish();
        match result {
            Ok(op) => Ok(op),
            Err(e) => {
                if let Some(id) = self.operation_id {
                    if let Err(store_error) = mark_refused(engine, &id, &e.to_string()).await {
                        tracing::error!(error = %store_error, "could not mark operation op-{id} failed");
                    }
                }
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_with_or_without_prefix() {
        let id = Uuid::parse_str("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed").unwrap();
        assert_eq!(
            parse_operation_id("op-1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed").unwrap(),
            id
        );
        assert_eq!(
            parse_operation_id("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed").unwrap(),
            id
        );
        let err = parse_operation_id("op-42").unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.to_string().contains("'op-42' is not an operation id"));
    }
}
