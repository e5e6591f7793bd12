//! `protector dr test failover ...` (DR drills) and `protector dr site failover ...`.

use protector_core::engine::{OperationRequest, SiteFailoverRequest, TestFailoverRequest};
use protector_core::plan::FailoverMode;

use crate::args::{
    DrSiteCommand, DrTestCommand, FailoverTypeArg, SiteFailoverArgs, TestFailoverArgs,
    TestFailoverCommand,
};
use crate::commands::group::mappings;
use crate::commands::{background, dry_run};
use crate::context::Context;
use crate::error::{CliError, CliResult};

pub async fn run_test(ctx: &Context, command: DrTestCommand) -> CliResult {
    match command {
        DrTestCommand::Failover(args) => match args.command {
            Some(TestFailoverCommand::Cleanup(cleanup)) => {
                let engine = ctx.engine_with_transport().await?;
                if cleanup.plan.dry_run {
                    return dry_run::test_cleanup(&engine, &cleanup.group, &cleanup.output).await;
                }
                let request = OperationRequest::TestFailoverCleanup {
                    group: cleanup.group.clone(),
                };
                background::launch(ctx, &engine, request, &cleanup.run, &cleanup.output).await
            }
            None => test_failover(ctx, *args).await,
        },
        DrTestCommand::Report(args) => crate::commands::evidence::drill_report(ctx, args).await,
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
        &args.az_mapping,
    )?;
    let engine = ctx.engine_with_transport().await?;
    let request = TestFailoverRequest {
        mappings,
        operation_id: None,
        recovery_point: args.point.recovery_point.clone(),
    };
    if args.plan.dry_run {
        return dry_run::test_failover(&engine, &group, &request, &args.output).await;
    }
    let request = OperationRequest::TestFailover { group, request };
    background::launch(ctx, &engine, request, &args.run, &args.output).await
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
    let engine = ctx.engine_with_transport().await?;
    let request = SiteFailoverRequest {
        mode,
        concurrency: usize::from(args.concurrency),
        groups: args.groups.clone(),
        operation_id: None,
    };
    if args.plan.dry_run {
        return dry_run::site_failover(&engine, &args.site, &request, &args.output).await;
    }
    let request = OperationRequest::SiteFailover {
        site: args.site.clone(),
        request,
    };
    background::launch(ctx, &engine, request, &args.run, &args.output).await
}
