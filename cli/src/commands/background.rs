//! Long operations (failover, failback, drills, site failover) in the foreground or in the
//! background, over the engine's operation lifecycle (`Protector::submit` / `run`).
//!
//! Every long command first submits its request: the engine checks it (refusals come back at
//! once and record nothing) and records a `pending` operation with what to run. Without
//! `--wait` the command then starts itself again detached (same arguments plus `--wait
//! --operation-id <id>`, no terminal, output to `<state dir>/operations/op-<id>.log`), prints
//! the pending record and exits: `protector operation show <id>` follows it. The background
//! run asks the engine to run the submitted operation by id; the engine marks it failed when
//! it is refused before it starts, so that no record stays pending, and `protector operation
//! recover` ends one whose background run died before it began.
//!
//! With `--wait` the command runs the submitted operation itself with the live progress
//! display and prints the final record.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use protector_core::engine::{OperationRequest, ProgressObserver};
use protector_core::model::Operation;
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

/// Submits `request` and runs it as `run` asks: detached (the pending record is printed and
/// a background process runs it), here with the progress display (`--wait`), or, in the
/// detached worker (`--operation-id`), runs the operation its starter submitted. Refusals come
/// back from the submission at once and record nothing. The final record is printed.
pub async fn launch(
    ctx: &Context,
    engine: &Engine,
    request: OperationRequest,
    run: &RunOptions,
    output: &OutputOptions,
) -> CliResult {
    let title = request.title();
    let mode = Mode::of(run)?;
    if let Mode::Foreground {
        operation_id: Some(id),
    } = mode
    {
        return run_here(engine, id, &title, output).await;
    }
    let submitted = engine.protector.submit(request).await?;
    if let Some(point) = submitted
        .plan
        .as_ref()
        .and_then(|p| p.recovery_point.as_ref())
    {
        crate::output::eprint_line(&format!("Data at risk: {}", point.data_at_risk));
    }
    // An unplanned site failover: each group's recovery point, before anything runs.
    for (group, point) in submitted
        .site_plan
        .as_ref()
        .map(|p| p.recovery_points())
        .unwrap_or_default()
    {
        crate::output::eprint_line(&format!(
            "Data at risk for {group}: {} (recovery point {}, {} s old)",
            point.data_at_risk, point.snapshot, point.age_secs
        ));
    }
    if engine.operations_run_on_site() {
        // Site mode: the local site's protector-engine workers claim the pending record.
        let site = engine.protector.local_site().to_string();
        return match mode {
            Mode::Detach => {
                crate::output::eprint_line(&format!(
                    "Queued on {site}: its protector-engine runs it; follow it with `protector operation show op-{}`",
                    submitted.operation.id
                ));
                Printer::stdout(output)
                    .show(&views::operation(&submitted.operation, "operation_id"))
            }
            Mode::Foreground { .. } => {
                follow_here(engine, submitted.operation.id, &title, output).await
            }
        };
    }
    match mode {
        Mode::Detach => detach(ctx, engine, submitted.operation, output).await,
        Mode::Foreground { .. } => run_here(engine, submitted.operation.id, &title, output).await,
    }
}

/// Follows operation `id`, run by the site's protector-engine, with the progress display
/// titled `title`, prints its final record and turns an unfinished end into the matching exit
/// status.
async fn follow_here(engine: &Engine, id: Uuid, title: &str, output: &OutputOptions) -> CliResult {
    use futures::StreamExt;
    let display = ProgressDisplay::new(title);
    let mut updates = Box::pin(engine.protector.watch(&id.to_string()));
    let mut last = None;
    while let Some(update) = updates.next().await {
        match update {
            Ok(op) => {
                display.on_update(&op);
                last = Some(op);
            }
            Err(e) => {
                display.finish();
                return Err(e.into());
            }
        }
    }
    display.finish();
    let op = match last {
        Some(op) => op,
        None => engine.protector.operation(&id.to_string()).await?,
    };
    views::print_operation(&mut Printer::stdout(output), &op, "operation_id")?;
    super::group::operation_outcome(&op)
}

/// Starts this command again detached to run the submitted operation `pending`, and prints
/// the record with `operation_id` first.
async fn detach(
    ctx: &Context,
    engine: &Engine,
    pending: Operation,
    output: &OutputOptions,
) -> CliResult {
    let log = log_path(ctx, &pending.id)?;
    if let Err(e) = spawn_worker(&pending.id, &log) {
        let message = format!("could not start the background run: {e}");
        let _ = engine.protector.cancel(&pending.id.to_string()).await;
        return Err(CliError::unexpected(format!(
            "{message}; nothing was changed: retry with --wait to run it in the foreground"
        )));
    }
    Printer::stdout(output).show(&views::operation(&pending, "operation_id"))
}

/// Runs the submitted operation `id` here with the progress display titled `title`, prints
/// its final record and turns an unfinished end into the matching exit status.
async fn run_here(engine: &Engine, id: Uuid, title: &str, output: &OutputOptions) -> CliResult {
    // The display is the run's observer: every line is printed as its record is stored.
    let display = Arc::new(ProgressDisplay::new(title));
    let result = engine.protector.run(id, Shared(display.clone())).await;
    display.finish();
    let op = result?;
    views::print_operation(&mut Printer::stdout(output), &op, "operation_id")?;
    super::group::operation_outcome(&op)
}

/// The progress display, shared with the run that reports to it.
struct Shared(Arc<ProgressDisplay>);

impl ProgressObserver for Shared {
    fn on_update(&self, operation: &Operation) {
        self.0.on_update(operation);
    }
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

/// Where the background run of operation `id` wrote its output, if it left any.
pub fn existing_log(ctx: &Context, id: &Uuid) -> Option<PathBuf> {
    let path = ctx
        .state_dir()
        .ok()?
        .join("operations")
        .join(format!("op-{id}.log"));
    path.exists().then_some(path)
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
