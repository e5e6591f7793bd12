//! The whole stack over the wire: the engine with protector-openstack and protector-pure
//! talking HTTP(S) to the simulator's wire face, a planned failover with zero data loss.

use std::collections::BTreeMap;
use std::sync::Arc;

use protector_core::api::CombinedConnector;
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, FailoverRequest, NoProgress, PollPolicy,
    RegisterSite,
};
use protector_core::model::{
    ArrayEndpoint, GroupStatus, OperationStatus, ReplicationType, ResourceMappings, Secret,
    SiteType,
};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::Protector;
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::Simulator;
use protector_openstack::{ClientOptions, ConfigLoader, OpenStackConnector};
use protector_pure::FlashArrayConnector;

fn arrays(path: &std::path::Path) -> BTreeMap<String, ArrayEndpoint> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json.as_object()
        .unwrap()
        .iter()
        .map(|(site, v)| {
            (
                site.clone(),
                ArrayEndpoint {
                    url: v["url"].as_str().unwrap().to_string(),
                    api_token: Secret::new(v["api_token"].as_str().unwrap()),
                    ca_file: v["ca_file"].as_str().map(str::to_string),
                },
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_failover_over_http_with_zero_data_loss() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::open(&ServeOptions::state_file(dir.path())).unwrap();
    let server = SimServer::start(sim.clone(), ServeOptions::new(dir.path()))
        .await
        .unwrap();
    let loader = ConfigLoader::new([(
        "OS_CLIENT_CONFIG_FILE",
        server.clouds_yaml().display().to_string(),
    )]);
    let connector = CombinedConnector {
        sites: Arc::new(OpenStackConnector::new(loader, ClientOptions::default())),
        arrays: Arc::new(FlashArrayConnector::new()),
    };
    let key = SecretKey::generate();
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key.clone()).unwrap());
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key).unwrap());
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store_a.clone())
        .with_store("site-b", store_b.clone())
        .with_connector(Arc::new(connector))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(2_000),
            member_concurrency: 4,
        })
        .build()
        .unwrap();
    for (site, site_type) in [
        ("site-a", SiteType::Primary),
        ("site-b", SiteType::Secondary),
    ] {
        engine
            .register_site(RegisterSite {
                name: site.into(),
                description: String::new(),
                site_type,
                auth_url: server.auth_url(site).unwrap(),
                region_name: "RegionOne".into(),
                cloud: None,
            })
            .await
            .unwrap();
        let validation = engine.validate_site(site).await.unwrap();
        assert_eq!(validation.status.as_str(), "active", "{validation:?}");
    }
    engine
        .create_group(CreateGroup {
            name: "prod-web-app".into(),
            description: String::new(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        let id = sim.find_server("site-a", vm).unwrap().id;
        engine
            .add_member("prod-web-app", AddMember { instance_id: id })
            .await
            .unwrap();
    }
    let arrays = arrays(&server.arrays_json());
    engine
        .create_policy(
            "prod-web-app",
            CreatePolicy {
                primary_array: arrays["site-a"].clone(),
                secondary_array: arrays["site-b"].clone(),
                pure_pg_name: "pg-prod-web-app".into(),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await
        .unwrap();
    let mappings = ResourceMappings {
        networks: ResourceMappings::parse_pairs(
            "network",
            ["net-primary-web=net-secondary-web net-primary-db=net-secondary-db"],
        )
        .unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
        ..ResourceMappings::default()
    };
    let members = engine.members("prod-web-app").await.unwrap();
    let op = engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
    let group = engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.current_primary_site, "site-b");
    assert_eq!(store_b.list_groups().await.unwrap()[0], group);

    let inventory = sim.inspect();
    let after = engine.members("prod-web-app").await.unwrap();
    for (before, after) in members.iter().zip(&after) {
        let on_a = sim.find_server("site-a", &before.instance_name).unwrap();
        assert_eq!(on_a.status.as_str(), "SHUTOFF");
        let on_b = inventory.sites["site-b"]
            .servers
            .iter()
            .find(|s| s.id == after.current.instance_id)
            .unwrap();
        assert_eq!(on_b.status, "ACTIVE");
        for (i, array_volume) in before.current.array_volumes.iter().enumerate() {
            let source = sim
                .array_volume_fingerprint("site-a", array_volume)
                .unwrap();
            let target = sim
                .volume_fingerprint("site-b", &after.current.volume_ids[i])
                .unwrap();
            assert!(target >= source, "{}: data lost", before.instance_name);
        }
    }
    server.shutdown().await;
}
