//! `protector consistency-group ...`

use crate::args::ConsistencyGroupCommand;
use crate::context::Context;
use crate::error::CliResult;
use crate::output::Printer;
use crate::views;

pub async fn run(ctx: &Context, command: ConsistencyGroupCommand) -> CliResult {
    match command {
        ConsistencyGroupCommand::Show(args) => {
            let engine = ctx.engine_with_transport().await?;
            let report = engine.protector.consistency_group(&args.group).await?;
            Printer::stdout(&args.output).show(&views::consistency_group(&report))
        }
    }
}
