//! `protector dr tenant mapping ...`

use crate::args::TenantMappingCommand;
use crate::context::Context;
use crate::error::CliResult;
use crate::output::Printer;
use crate::views;

pub async fn run(ctx: &Context, command: TenantMappingCommand) -> CliResult {
    match command {
        TenantMappingCommand::Create(args) => {
            let engine = ctx.engine_with_transport().await?;
            let mapping = engine
                .protector
                .create_tenant_mapping(
                    &args.local_tenant,
                    &args.remote_site,
                    &args.remote_tenant,
                    &args.description,
                )
                .await?;
            Printer::stdout(&args.output).show(&views::tenant_mapping(&mapping))
        }
        TenantMappingCommand::List(args) => {
            let engine = ctx.engine(&[]).await?;
            let mappings = engine.protector.tenant_mappings().await?;
            Printer::stdout(&args.output).list(&views::tenant_mappings(&mappings))
        }
    }
}
