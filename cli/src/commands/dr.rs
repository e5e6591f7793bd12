//! `protector dr test failover ...` (DR drills) and `protector dr site failover ...`.

use protector_core::engine::{SiteFailoverRequest, TestFailoverRequest};
use protector_core::model::OperationType;
use protector_core::plan::FailoverMode;

use crate::args::{
    DrSiteCommand, DrTestCommand, FailoverTypeArg, SiteFailoverArgs, TestFailoverArgs,
    TestFailoverCommand,
};
use crate::commands::background::{self, Foreground, Mode};
use crate::commands::group::{mappings, operation_outcome, pending_for};
use crate::context::Context;
use crate::error::{CliError, CliResult};
use crate::output::Printer;
use crate::views;

pub async fn run_test(ctx: &Context, command: DrTestCommand) -> CliResult {
    match command {
        DrTestCommand::Failover(args) => match args.command {
            Some(TestFailoverCommand::Cleanup(cleanup)) => {
                let mode = Mode::of(&cleanup.run)?;
                let engine = ctx.engine_with_transport().await?;
                match mode {
                    Mode::Detach => {
                        let group = engine.protector.group(&cleanup.group).await?;
                        let pending = pending_for(&group, OperationType::TestCleanup);
                        background::detach(ctx, &engine, pending, &cleanup.output).await
                    }
                    Mode::Foreground { operation_id } => {
                        let run = Foreground::new(
                            &format!("test failover cleanup {}", cleanup.group),
                            operation_id,
                        );
                        let result = engine
                            .protector
                            .test_failover_cleanup(
                                &cleanup.group,
                                run.operation_id(),
                                run.observer(),
                            )
                            .await;
                        let op = run.finish(&engine, result).await?;
                        Printer::stdout(&cleanup.output)
                            .show(&views::operation(&op, "operation_id"))?;
                        operation_outcome(&op)
                    }
                }
            }
            None => test_failover(ctx, args).await,
        },
    }
}

async fn test_failover(ctx: &Context, args: TestFailoverArgs) -> CliResult {
    // clap requires the group unless `cleanup` is given.
    let group = args.group.ok_or_else(|| {
        CliError::invalid("no protection group given: `protector dr test failover <GROUP> ...`")
    })?;
    let mappings = mappings(
        &args.network_mapping,
        &args.flavor_mapping,
        &args.security_group_mapping,
    )?;
    let mode = Mode::of(&args.run)?;
    let engine = ctx.engine_with_transport().await?;
    match mode {
        Mode::Detach => {
            let found = engine.protector.group(&group).await?;
            let pending = pending_for(&found, OperationType::TestFailover);
            background::detach(ctx, &engine, pending, &args.output).await
        }
        Mode::Foreground { operation_id } => {
            let run = Foreground::new(&format!("test failover {group}"), operation_id);
            let request = TestFailoverRequest {
                mappings,
                operation_id: run.operation_id(),
            };
            let result = engine
                .protector
                .test_failover(&group, request, run.observer())
                .await;
            let op = run.finish(&engine, result).await?;
            Printer::stdout(&args.output).show(&views::operation(&op, "operation_id"))?;
            operation_outcome(&op)
        }
    }
}

pub async fn run_site(ctx: &Context, command: DrSiteCommand) -> CliResult {
    match command {
        DrSiteCommand::Failover(args) => site_failover(ctx, args).await,
    }
}

async fn site_failover(ctx: &Context, args: SiteFailoverArgs) -> CliResult {
    let mode = match args.failover_type {
        FailoverTypeArg::Planned => FailoverMode::Planned,
        FailoverTypeArg::Unplanned if args.force => FailoverMode::Unplanned,
        FailoverTypeArg::Unplanned => {
            return Err(CliError::invalid(format!(
                "an unplanned failover of site '{}' recovers every group from its last replicated snapshot and does not stop the VMs there: confirm with --force",
                args.site
            )))
        }
    };
    let run_mode = Mode::of(&args.run)?;
    let engine = ctx.engine_with_transport().await?;
    let request = SiteFailoverRequest {
        mode,
        concurrency: usize::from(args.concurrency),
        groups: args.groups.clone(),
        operation_id: None,
    };
    match run_mode {
        Mode::Detach => {
            // Every refusal (role, unknown site or group) comes back before anything is recorded.
            let pending = engine
                .protector
                .plan_site_failover(&args.site, &request)
                .await?;
            background::detach(ctx, &engine, pending, &args.output).await
        }
        Mode::Foreground { operation_id } => {
            let run = Foreground::new(&format!("site failover {}", args.site), operation_id);
            let request = SiteFailoverRequest {
                operation_id: run.operation_id(),
                ..request
            };
            let result = engine
                .protector
                .site_failover(&args.site, request, run.observer())
                .await;
            let op = run.finish(&engine, result).await?;
            views::print_operation(&mut Printer::stdout(&args.output), &op, "operation_id")?;
            operation_outcome(&op)
        }
    }
}
