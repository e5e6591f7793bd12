//! `protector operation ...`

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
            let ops = engine.protector.operations().await?;
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
        OperationCommand::Recover(args) => {
            let found = engine.protector.operation(&args.id).await?;
            let ended = if found.status.is_terminal() {
                None
            } else {
                // Refused while the process that runs it lives; read again under its lock.
                let _owner = engine.protector.lock_operation(&found.id).await?;
                let op = engine.protector.operation(&args.id).await?;
                background::fail_unstarted(ctx, &engine, op).await?
            };
            let op = match ended {
                Some(ended) => ended,
                None => engine.protector.recover_operation(&args.id).await?,
            };
            views::print_operation(&mut Printer::stdout(&args.output), &op, "id")
        }
    }
}
