//! `protector operation ...`

use protector_core::engine::{OperationFilter, RecoverMode};
use protector_core::model::OperationStatus;

use crate::args::OperationCommand;
use crate::commands::background;
use crate::context::Context;
use crate::error::CliResult;
use crate::output::Printer;
use crate::views;

pub async fn run(ctx: &Context, command: OperationCommand) -> CliResult {
    let engine = ctx.engine(&[]).await?;
    match command {
        OperationCommand::List(args) => {
            let filter =
                OperationFilter::parse(args.group, &args.statuses, &args.types, args.limit)?;
            let ops = engine.protector.operations_where(&filter).await?;
            Printer::stdout(&args.output).list(&views::operations(&ops))
        }
        OperationCommand::Show(args) => {
            let op = engine.protector.operation(&args.id).await?;
            views::print_operation(&mut Printer::stdout(&args.output), &op, "id")?;
            // A live run holds its operation's lock from before it records `running`.
            if op.status == OperationStatus::Running && engine.protector.is_orphaned(&op.id).await?
            {
                eprintln!(
                    "Note: no process runs operation op-{} any more (it was interrupted): finish or undo it with `protector operation recover op-{}`",
                    op.id, op.id
                );
            }
            Ok(())
        }
        OperationCommand::Cancel(args) => {
            let op = engine.protector.cancel(&args.id).await?;
            views::print_operation(&mut Printer::stdout(&args.output), &op, "id")?;
            if !op.status.is_terminal() {
                eprintln!(
                    "Cancel requested: operation op-{} stops before its next step and rolls back; follow it with `protector operation wait op-{}`",
                    op.id, op.id
                );
            }
            Ok(())
        }
        OperationCommand::Wait(args) => {
            let op = engine.protector.wait(&args.id, None).await?;
            views::print_operation(&mut Printer::stdout(&args.output), &op, "id")?;
            crate::commands::group::operation_outcome(&op)
        }
        OperationCommand::Recover(args) => {
            let mode = if args.rollback {
                RecoverMode::RollBack
            } else {
                RecoverMode::Continue
            };
            let op = engine
                .protector
                .recover_operation_with(&args.id, mode)
                .await?;
            views::print_operation(&mut Printer::stdout(&args.output), &op, "id")?;
            if let Some(log) = background::existing_log(ctx, &op.id) {
                eprintln!("Its background run's output: {}", log.display());
            }
            Ok(())
        }
    }
}
