//! `protector dr test failover ...` (DR drills) and `protector dr site failover ...`.

use std::collections::BTreeSet;

use chrono::Utc;
use protector_core::engine::{SiteFailoverRequest, TestFailoverRequest};
use protector_core::model::{GroupResult, Operation, OperationStatus, OperationType};
use protector_core::plan::FailoverMode;
use protector_core::Error;

use crate::args::{
    DrSiteCommand, DrTestCommand, FailoverTypeArg, SiteFailoverArgs, TestFailoverArgs,
    TestFailoverCommand,
};
use crate::commands::background::{self, Foreground, Mode};
use crate::commands::group::{mappings, operation_outcome, pending_for};
use crate::context::{Context, Engine};
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
    engine.protector.site(&args.site).await?;
    match run_mode {
        Mode::Detach => {
            let pending = pending_site_failover(&engine, &args.site, &args.groups).await?;
            background::detach(ctx, &engine, pending, &args.output).await
        }
        Mode::Foreground { operation_id } => {
            let run = Foreground::new(&format!("site failover {}", args.site), operation_id);
            let request = SiteFailoverRequest {
                mode,
                concurrency: usize::from(args.concurrency),
                groups: args.groups.clone(),
                operation_id: run.operation_id(),
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

/// The pending record of a site failover: the groups whose workload runs on `site` (only
/// those of `only`, by name or id, when given), each pending.
async fn pending_site_failover(
    engine: &Engine,
    site: &str,
    only: &[String],
) -> CliResult<Operation> {
    let groups = engine.protector.groups().await?;
    let wanted: BTreeSet<&str> = only.iter().map(String::as_str).collect();
    for name in &wanted {
        if !groups
            .iter()
            .any(|g| g.name == *name || g.id.to_string() == *name)
        {
            return Err(Error::not_found(format!(
                "protection group '{name}' not found on site '{}': list groups with `protector protection-group list`",
                engine.protector.local_site()
            ))
            .into());
        }
    }
    let in_scope: Vec<_> = groups
        .iter()
        .filter(|g| g.current_primary_site == site)
        .filter(|g| {
            wanted.is_empty()
                || wanted.contains(g.name.as_str())
                || wanted.contains(g.id.to_string().as_str())
        })
        .collect();
    let local = engine.protector.local_site();
    let target = if local != site {
        local.to_string()
    } else {
        in_scope
            .first()
            .map(|g| g.current_secondary_site().to_string())
            .unwrap_or_default()
    };
    let mut op = Operation::start(OperationType::SiteFailover, None, site, &target, Utc::now());
    op.status = OperationStatus::Pending;
    op.total_protection_groups = Some(u32::try_from(in_scope.len()).unwrap_or(u32::MAX));
    op.completed_count = Some(0);
    op.failed_count = Some(0);
    op.group_results = in_scope
        .iter()
        .map(|g| GroupResult {
            group_id: g.id,
            group_name: g.name.clone(),
            project_id: g.project_id.clone(),
            operation_id: None,
            status: OperationStatus::Pending,
            error_message: None,
        })
        .collect();
    Ok(op)
}
