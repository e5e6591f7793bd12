//! A planned failover through the library API, on the embedded two-site simulator.
//!
//! ```text
//! cargo run -p examples --example planned_failover
//! ```
//!
//! It registers both simulated sites, protects the three seeded VMs in one group, attaches a
//! replication policy, fails the group over to site-b and prints the operation.

use std::sync::Arc;

use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, FailoverRequest, PollPolicy, RegisterSite,
};
use protector_core::model::{Operation, ReplicationType, ResourceMappings, SiteType};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::Protector;
use protector_mock::Simulator;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::in_memory()?;
    let key = SecretKey::generate();
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key.clone())?);
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key)?);
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store_a)
        .with_store("site-b", store_b)
        .with_connector(Arc::new(sim.connector()))
        .with_options(EngineOptions {
            // The simulator's clock advances with every call: poll back to back.
            poll: PollPolicy::immediate(2_000),
            ..EngineOptions::default()
        })
        .build()?;

    for (site, site_type) in [
        ("site-a", SiteType::Primary),
        ("site-b", SiteType::Secondary),
    ] {
        let reg = sim
            .site_registration(site)
            .ok_or("unknown simulated site")?;
        engine
            .register_site(RegisterSite {
                name: reg.name,
                description: reg.description,
                site_type,
                auth_url: reg.auth_url,
                region_name: reg.region_name,
                cloud: None,
            })
            .await?;
    }
    engine
        .create_group(CreateGroup {
            name: "prod-web-app".into(),
            description: "three-tier web application".into(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await?;
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        let server = sim.find_server("site-a", vm).ok_or("seeded VM missing")?;
        engine
            .add_member(
                "prod-web-app",
                AddMember {
                    instance_id: server.id,
                },
            )
            .await?;
    }
    engine
        .create_policy(
            "prod-web-app",
            CreatePolicy {
                primary_array: sim.array_endpoint("site-a").ok_or("no array")?,
                secondary_array: sim.array_endpoint("site-b").ok_or("no array")?,
                pure_pg_name: "pg-prod-web-app".into(),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await?;

    let mappings = ResourceMappings {
        networks: ResourceMappings::parse_pairs(
            "network",
            [
                "net-primary-web=net-secondary-web",
                "net-primary-db=net-secondary-db",
            ],
        )?,
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"])?,
        ..ResourceMappings::default()
    };
    let progress = |op: &Operation| {
        if let Some(step) = op.steps_completed.last() {
            eprintln!("[{:>3}%] {step}", op.progress);
        }
    };
    let op = engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings),
            &progress,
        )
        .await?;
    println!("{}", serde_json::to_string_pretty(&op)?);
    let group = engine.group("prod-web-app").await?;
    println!(
        "group {} is {} on {} (failover_count {})",
        group.name, group.status, group.current_primary_site, group.failover_count
    );
    if op.status != protector_core::model::OperationStatus::Completed {
        return Err(format!("failover ended {}", op.status.as_str()).into());
    }
    Ok(())
}
