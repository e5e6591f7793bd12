//! `--dry-run` of the operation commands: the plan the operation would run, as JSON on
//! stdout, then its blocking findings as the command's error (nothing is changed either way).

use protector_core::engine::{
    FailbackRequest, Finding, SiteFailoverRequest, TestFailoverRequest, ValidationReport,
};
use protector_core::plan::Plan;
use protector_core::{Error, ErrorKind};

use crate::args::OutputOptions;
use crate::context::Engine;
use crate::error::CliResult;
use crate::output::Printer;

fn print(output: &OutputOptions, json: &str) -> CliResult {
    Printer::stdout(output).text(&format!("{json}\n"))
}

/// The plan's boot order and recovery-time estimate in words, on stderr (stdout is the
/// plan's JSON, which holds both as `boot_order` and `estimate`).
pub fn explain(plan: &Plan) {
    if !plan.boot_order.is_empty() {
        eprintln!("Boot order (each wave starts once the one before is ACTIVE):");
        for (index, wave) in plan.boot_order.iter().enumerate() {
            eprintln!(
                "  {}. priority {}: {}",
                index + 1,
                wave.priority,
                wave.members.join(", ")
            );
        }
    }
    if let Some(estimate) = &plan.estimate {
        eprintln!("Estimated recovery time:");
        for line in estimate.lines() {
            eprintln!("  {line}");
        }
    }
}

fn refuse(findings: Vec<Finding>, what: &str) -> CliResult {
    Ok(ValidationReport { findings }.into_result(what)?)
}

/// `protection-group failback --dry-run`.
pub async fn failback(
    engine: &Engine,
    group: &str,
    request: &FailbackRequest,
    output: &OutputOptions,
) -> CliResult {
    let plan = engine.protector.plan_failback(group, request).await?;
    print(output, &plan.to_json())?;
    explain(&plan);
    let report = engine.protector.validate_plan(&plan).await?;
    refuse(
        report.findings,
        &format!("failback of protection group '{}'", plan.group_name),
    )
}

/// `dr test failover --dry-run`.
pub async fn test_failover(
    engine: &Engine,
    group: &str,
    request: &TestFailoverRequest,
    output: &OutputOptions,
) -> CliResult {
    let plan = engine.protector.plan_test_failover(group, request).await?;
    print(output, &plan.to_json())?;
    explain(&plan);
    refuse(
        plan.findings,
        &format!("DR drill of protection group '{}'", plan.group_name),
    )
}

/// `dr test failover cleanup --dry-run`.
pub async fn test_cleanup(engine: &Engine, group: &str, output: &OutputOptions) -> CliResult {
    let plan = engine.protector.plan_test_cleanup(group).await?;
    print(output, &plan.to_json())?;
    refuse(
        plan.findings,
        &format!(
            "cleanup of the DR drill of protection group '{}'",
            plan.group_name
        ),
    )
}

/// `dr site failover --dry-run`: fails when a group would be skipped or refused (the others
/// would still fail over).
pub async fn site_failover(
    engine: &Engine,
    site: &str,
    request: &SiteFailoverRequest,
    output: &OutputOptions,
) -> CliResult {
    let plan = engine
        .protector
        .plan_site_failover_groups(site, request)
        .await?;
    print(output, &plan.to_json())?;
    let blocking = plan.blocking();
    if blocking.is_empty() {
        return Ok(());
    }
    let mut groups: Vec<&str> = blocking.iter().map(|(g, _)| g.as_str()).collect();
    groups.dedup();
    Err(Error::new(
        ErrorKind::ValidationFailed,
        format!(
            "{} of {} protection groups of site '{site}' would not fail over ({}): {}",
            groups.len(),
            plan.groups.len(),
            groups.join(", "),
            blocking
                .iter()
                .map(|(group, finding)| format!("{group}: {}", finding.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
    .into())
}
