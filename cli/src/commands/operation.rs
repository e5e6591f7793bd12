//! `protector operation ...`

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
            views::print_operation(&mut Printer::stdout(&args.output), &op, "id")
        }
        OperationCommand::Recover(args) => {
            let op = engine.protector.operation(&args.id).await?;
            let op = match background::fail_unstarted(ctx, &engine, op).await? {
                Some(ended) => ended,
                None => engine.protector.recover_operation(&args.id).await?,
            };
            views::print_operation(&mut Printer::stdout(&args.output), &op, "id")
        }
    }
}
