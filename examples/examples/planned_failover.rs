//! A planned failover through the library API.
//!
//! ```text
//! cargo run -p examples --example planned_failover                      # in-process simulator
//! cargo run -p examples --example planned_failover -- --sim-dir DIR     # over the wire
//! ```
//!
//! With `--sim-dir DIR` (the directory of a running `protector sim serve --dir DIR`) every call
//! goes over HTTP(S) through `protector-openstack` and `protector-pure`, with the credentials of
//! `DIR/clouds.yaml` and `DIR/arrays.json`, exactly as against real clouds. Without it the
//! example runs on the in-process simulator.
//!
//! It registers both sites, protects the three seeded VMs in one group, attaches a replication
//! policy, fails the group over to site-b and prints the operation.

use std::sync::Arc;

use protector_core::api::{CombinedConnector, Connector, ListServers};
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, FailoverRequest, PollPolicy, RegisterSite,
};
use protector_core::model::{
    ArrayEndpoint, Operation, ReplicationType, ResourceMappings, Secret, SiteType,
};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::Protector;
use protector_mock::Simulator;
use protector_openstack::{ClientOptions, ConfigLoader, OpenStackConnector};
use protector_pure::FlashArrayConnector;

/// Where the sites and arrays are: the wire (a `protector sim serve` directory) or in-process.
struct Target {
    connector: Arc<dyn Connector>,
    /// Site name → (auth URL, region).
    sites: Vec<(String, String)>,
    /// Site name → array endpoint.
    arrays: std::collections::BTreeMap<String, ArrayEndpoint>,
    poll: PollPolicy,
}

fn wire(dir: &std::path::Path) -> Result<Target, Box<dyn std::error::Error>> {
    let clouds = dir.join("clouds.yaml");
    let loader = ConfigLoader::new([("OS_CLIENT_CONFIG_FILE", clouds.display().to_string())]);
    let mut sites = Vec::new();
    for site in ["site-a", "site-b"] {
        let config = loader.load(Some(site))?;
        sites.push((site.to_string(), config.auth_url().to_string()));
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("arrays.json"))?)?;
    let mut arrays = std::collections::BTreeMap::new();
    for (site, v) in json.as_object().ok_or("arrays.json is not an object")? {
        arrays.insert(
            site.clone(),
            ArrayEndpoint {
                url: v["url"].as_str().ok_or("array url missing")?.to_string(),
                api_token: Secret::new(v["api_token"].as_str().ok_or("api_token missing")?),
                ca_file: v["ca_file"].as_str().map(str::to_string),
                allow_insecure_http: false,
            },
        );
    }
    Ok(Target {
        connector: Arc::new(CombinedConnector {
            sites: Arc::new(OpenStackConnector::new(loader, ClientOptions::default())),
            arrays: Arc::new(FlashArrayConnector::new()),
        }),
        sites,
        arrays,
        // Real time: the served simulator's clock advances with calls, so short polls do.
        poll: PollPolicy {
            interval: std::time::Duration::from_millis(50),
            max_interval: std::time::Duration::from_millis(200),
            timeout: std::time::Duration::from_secs(300),
            max_polls: 5_000,
        },
    })
}

fn in_process(sim: &Simulator) -> Result<Target, Box<dyn std::error::Error>> {
    let mut sites = Vec::new();
    let mut arrays = std::collections::BTreeMap::new();
    for site in ["site-a", "site-b"] {
        let reg = sim
            .site_registration(site)
            .ok_or("unknown simulated site")?;
        sites.push((reg.name, reg.auth_url));
        arrays.insert(
            site.to_string(),
            sim.array_endpoint(site).ok_or("no array")?,
        );
    }
    Ok(Target {
        connector: Arc::new(sim.connector()),
        sites,
        arrays,
        // The simulator's clock advances with every call: poll back to back.
        poll: PollPolicy::immediate(2_000),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sim_dir = match args.as_slice() {
        [] => None,
        [flag, dir] if flag == "--sim-dir" => Some(std::path::PathBuf::from(dir)),
        _ => return Err("usage: planned_failover [--sim-dir DIR]".into()),
    };
    let sim = Simulator::in_memory()?;
    let target = match &sim_dir {
        Some(dir) => wire(dir)?,
        None => in_process(&sim)?,
    };
    let key = SecretKey::generate();
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key.clone())?);
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key)?);
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store_a)
        .with_store("site-b", store_b)
        .with_connector(target.connector.clone())
        .with_options(EngineOptions {
            poll: target.poll.clone(),
            ..EngineOptions::default()
        })
        .build()?;

    for ((site, auth_url), site_type) in target
        .sites
        .iter()
        .zip([SiteType::Primary, SiteType::Secondary])
    {
        engine
            .register_site(RegisterSite {
                name: site.clone(),
                description: String::new(),
                site_type,
                auth_url: auth_url.clone(),
                region_name: "RegionOne".into(),
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
    // Find the VMs the way any client would: by name, through the site's Nova.
    let compute = engine.clients("site-a").await?.compute;
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        let found = compute
            .list_servers(&ListServers {
                name: Some(vm.to_string()),
                ..ListServers::default()
            })
            .await?;
        let server = found.into_iter().next().ok_or("seeded VM missing")?;
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
                primary_array: target.arrays["site-a"].clone(),
                secondary_array: target.arrays["site-b"].clone(),
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
