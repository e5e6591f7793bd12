//! Shared set-up of the engine tests: two in-memory stores and the in-process simulator, both
//! sites registered, group `prod-web-app` with the three seeded VMs and a policy.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, FailoverRequest, NoProgress, PollPolicy,
    RegisterSite,
};
use protector_core::model::{
    Operation, OperationStatus, ProtectionGroup, ReplicationType, ResourceMappings, SiteType,
};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::Protector;
use protector_mock::{Inventory, Simulator};

pub const MEMBERS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];

/// Asserts that `op` completed, showing its error when it did not.
#[track_caller]
pub fn assert_completed(op: &Operation) {
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
}

pub struct Env {
    pub sim: Simulator,
    pub engine: Protector,
    pub store_a: Arc<dyn Store>,
    pub store_b: Arc<dyn Store>,
}

pub fn mappings() -> ResourceMappings {
    ResourceMappings {
        networks: ResourceMappings::parse_pairs(
            "network",
            ["net-primary-web=net-secondary-web net-primary-db=net-secondary-db"],
        )
        .unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
        security_groups: BTreeMap::new(),
        availability_zones: Default::default(),
    }
}

/// Engine over a fresh simulator with both sites registered, nothing else.
pub async fn sites_only() -> Env {
    let sim = Simulator::in_memory().unwrap();
    let key = SecretKey::generate();
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key.clone()).unwrap());
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key).unwrap());
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store_a.clone())
        .with_store("site-b", store_b.clone())
        .with_connector(Arc::new(sim.connector()))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap();
    for (site, site_type) in [
        ("site-a", SiteType::Primary),
        ("site-b", SiteType::Secondary),
    ] {
        let reg = sim.site_registration(site).unwrap();
        engine
            .register_site(RegisterSite {
                name: reg.name,
                description: reg.description,
                site_type,
                auth_url: reg.auth_url,
                region_name: reg.region_name,
                cloud: None,
            })
            .await
            .unwrap();
    }
    Env {
        sim,
        engine,
        store_a,
        store_b,
    }
}

/// [`sites_only`] plus the group `prod-web-app` with three members and a policy.
pub async fn setup() -> Env {
    let Env {
        sim,
        engine,
        store_a,
        store_b,
    } = sites_only().await;
    engine
        .create_group(CreateGroup {
            name: "prod-web-app".into(),
            description: "web tier".into(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    for name in MEMBERS {
        let id = sim.find_server("site-a", name).unwrap().id;
        engine
            .add_member("prod-web-app", AddMember { instance_id: id })
            .await
            .unwrap();
    }
    engine
        .create_policy(
            "prod-web-app",
            CreatePolicy {
                primary_array: sim.array_endpoint("site-a").unwrap(),
                secondary_array: sim.array_endpoint("site-b").unwrap(),
                pure_pg_name: "pg-prod-web-app".into(),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await
        .unwrap();
    Env {
        sim,
        engine,
        store_a,
        store_b,
    }
}

/// The inventory without what moves on its own (write fingerprints, scheduled snapshots).
pub fn shape(inventory: &Inventory) -> serde_json::Value {
    let mut v = serde_json::to_value(inventory).unwrap();
    for site in v["sites"].as_object_mut().unwrap().values_mut() {
        for volume in site["volumes"].as_array_mut().unwrap() {
            volume.as_object_mut().unwrap().remove("fingerprint");
        }
    }
    for array in v["arrays"].as_object_mut().unwrap().values_mut() {
        let array = array.as_object_mut().unwrap();
        array.remove("snapshots");
        for volume in array["volumes"].as_array_mut().unwrap() {
            let volume = volume.as_object_mut().unwrap();
            volume.remove("fingerprint");
            // Which snapshot a volume's data was last copied from moves with the data.
            volume.remove("copied_from");
        }
    }
    v
}

/// [`shape`] without the server and volume statuses the simulator advances on its own as
/// simulated time passes (every call, an authorization included, moves it): what exists.
pub fn existing(inventory: &Inventory) -> serde_json::Value {
    let mut v = shape(inventory);
    for site in v["sites"].as_object_mut().unwrap().values_mut() {
        for kind in ["servers", "volumes"] {
            for item in site[kind].as_array_mut().unwrap() {
                item.as_object_mut().unwrap().remove("status");
            }
        }
    }
    v
}

pub async fn groups(env: &Env) -> (ProtectionGroup, ProtectionGroup) {
    let a = env.store_a.list_groups().await.unwrap().remove(0);
    let b = env.store_b.list_groups().await.unwrap().remove(0);
    (a, b)
}

/// A planned failover of `prod-web-app` with [`mappings`], without progress reporting.
pub async fn planned_failover(env: &Env) -> protector_core::Result<Operation> {
    env.engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            &NoProgress,
        )
        .await
}

/// Adds a `post_storage` hook (a command that succeeds) to `prod-web-app`: a run then keeps
/// its phase barriers (every member imported before the first boots), which tests that
/// inspect the imported volumes before any server writes to them rely on.
pub async fn keep_phase_barriers(env: &Env) {
    env.engine
        .add_hook(
            "prod-web-app",
            protector_core::engine::HookSpec::new(
                "barrier",
                protector_core::model::HookPoint::PostStorage,
                protector_core::model::HookAction::Command {
                    argv: vec!["true".into()],
                },
            ),
        )
        .await
        .unwrap();
}
