//! Another tool embedding protector: plan a failover of a group, print the plan and its
//! findings, and run it only when asked.
//!
//! ```text
//! cargo run -p examples --example embed_failover                          # simulator, plan only
//! cargo run -p examples --example embed_failover -- --run                 # simulator, and run it
//! cargo run -p examples --example embed_failover -- --cloud site-a --group prod-web-app [--run]
//! ```
//!
//! With `--cloud NAME` the engine stands on that clouds.yaml entry with the CLI's state
//! directory (`protector_connect::from_clouds`), and the group's stored mappings are used.
//! Without it, an in-process simulator with a group `app` of one VM stands in
//! (`Protector::in_memory`).

use protector_core::engine::{AddMember, CreateGroup, CreatePolicy, FailoverRequest, RegisterSite};
use protector_core::model::{Operation, ResourceMappings, SiteType};
use protector_core::Protector;

/// What the command line asked for.
struct Args {
    cloud: Option<String>,
    group: String,
    run: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        cloud: None,
        group: "app".to_string(),
        run: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--run" => args.run = true,
            "--cloud" => args.cloud = Some(given.next().ok_or("--cloud needs a name")?),
            "--group" => args.group = given.next().ok_or("--group needs a name")?,
            other => {
                return Err(format!(
                    "unknown argument '{other}'; usage: embed_failover [--cloud NAME] [--group NAME] [--run]"
                ))
            }
        }
    }
    Ok(args)
}

/// An engine on an in-process simulator with group `app` (web-server-1) protected.
async fn simulated() -> Result<(Protector, ResourceMappings), Box<dyn std::error::Error>> {
    let sim = protector_mock::Simulator::in_memory()?;
    let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
    for (site, kind) in [
        ("site-a", SiteType::Primary),
        ("site-b", SiteType::Secondary),
    ] {
        let auth_url = sim.site_registration(site).ok_or("unknown site")?.auth_url;
        engine
            .register_site(RegisterSite::new(site, kind, auth_url))
            .await?;
    }
    engine
        .create_group(CreateGroup::new(
            "app",
            "site-a",
            "site-b",
            "replicated-ssd",
        ))
        .await?;
    let vm = sim
        .find_server("site-a", "web-server-1")
        .ok_or("no such VM")?;
    engine.add_member("app", AddMember::new(vm.id)).await?;
    let endpoint = |site| sim.array_endpoint(site).ok_or("no array");
    let policy = CreatePolicy::new(endpoint("site-a")?, endpoint("site-b")?, "pg-app");
    engine.create_policy("app", policy).await?;
    let mappings = ResourceMappings::default()
        .with_network("net-primary-web", "net-secondary-web")
        .with_flavor("m1.large", "m2.large");
    Ok((engine, mappings))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let (engine, mappings) = match &args.cloud {
        Some(cloud) => (
            protector_connect::from_clouds(cloud, None).await?.protector,
            ResourceMappings::default(),
        ),
        None => simulated().await?,
    };
    let request = FailoverRequest::planned(mappings);
    let plan = engine.plan_failover(&args.group, &request).await?;
    println!(
        "failover of {} from {} to {}: {} members, {} steps",
        plan.group_name,
        plan.source_site,
        plan.target_site,
        plan.members.len(),
        plan.steps.len()
    );
    for step in &plan.steps {
        let after = if step.depends_on.is_empty() {
            "-".to_string()
        } else {
            step.depends_on.join(", ")
        };
        println!("  {:<28} after {after}", step.name);
    }
    let report = engine.validate_plan(&plan).await?;
    if report.findings.is_empty() {
        println!("no findings");
    }
    for finding in &report.findings {
        println!(
            "  {:?} {}: {}",
            finding.severity, finding.code, finding.message
        );
    }
    if !report.is_ok() {
        return Err("the plan has blocking findings; nothing was run".into());
    }
    if !args.run {
        println!("plan only; pass --run to fail over");
        return Ok(());
    }
    let progress = |op: &Operation| {
        if let Some(step) = op.steps_completed.last() {
            eprintln!("[{:>3}%] {step}", op.progress);
        }
    };
    let op = engine.failover(&args.group, request, &progress).await?;
    println!("failover {}", op.status.as_str());
    if op.status != protector_core::model::OperationStatus::Completed {
        return Err(format!("failover ended {}", op.status.as_str()).into());
    }
    Ok(())
}
