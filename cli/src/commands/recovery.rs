//! `protector protection-group recovery-points | failover-commit | failover-rollback`: the
//! recovery point choice and the commit window of an unplanned failover.

use protector_core::engine::FailoverRollbackRequest;
use protector_core::views::{failover_committed, recovery_points_heading};

use crate::args::{FailoverRollbackArgs, Format, GroupArgs};
use crate::context::Context;
use crate::error::CliResult;
use crate::output::Printer;
use crate::progress::ProgressDisplay;
use crate::views;

pub async fn recovery_points(ctx: &Context, args: GroupArgs) -> CliResult {
    let engine = ctx.engine(&[]).await?;
    let listed = engine.protector.recovery_points(&args.group).await?;
    let mut printer = Printer::stdout(&args.output);
    if printer.format() == Format::Table {
        crate::output::eprint_line(&recovery_points_heading(&listed));
    }
    printer.list(&protector_core::views::recovery_points(&listed))
}

pub async fn failover_commit(ctx: &Context, args: GroupArgs) -> CliResult {
    let engine = ctx.engine_with_transport().await?;
    let committed = engine.protector.failover_commit(&args.group).await?;
    if let Some(note) = &committed.replication_note {
        crate::output::eprint_line(&format!("Warning: {note}"));
    }
    Printer::stdout(&args.output).show(&failover_committed(&committed))
}

pub async fn failover_rollback(ctx: &Context, args: FailoverRollbackArgs) -> CliResult {
    let engine = ctx.engine_with_transport().await?;
    let request = FailoverRollbackRequest {
        recovery_point: args.recovery_point,
        commit_window_secs: args.commit_window,
        operation_id: None,
    };
    let display = ProgressDisplay::new(&format!("Rollback of {}", args.group));
    let result = engine
        .protector
        .failover_rollback(&args.group, request, &display)
        .await;
    display.finish();
    let op = result?;
    if let Some(loss) = &op.data_loss {
        crate::output::eprint_line(&format!("Data at risk: {loss}"));
    }
    views::print_operation(&mut Printer::stdout(&args.output), &op, "operation_id")?;
    super::group::operation_outcome(&op)
}
