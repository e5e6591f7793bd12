//! A core `Protector` whose two site stores are RemoteStores on two protector-apis (each over
//! its own SQLite file, each validating tokens with its own site's Keystone): a group created
//! and a member added on site A are on site B too, in sync.

use std::sync::Arc;

use protector_core::engine::{AddMember, CreateGroup, EngineOptions, PollPolicy, RegisterSite};
use protector_core::model::{ReplicationType, SiteType};
use protector_core::store::{RemoteSyncStatus, Store};
use protector_core::Protector;

use crate::support::{remote, sqlite, Sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protector_on_two_remote_stores_keeps_both_sites_in_sync() {
    let sim = Sim::start().await;
    let (file_a, file_b) = (
        sqlite(sim.dir.path(), "site-a"),
        sqlite(sim.dir.path(), "site-b"),
    );
    let (_api_a, remote_a) = remote(&sim, "site-a", file_a.clone(), "site-a").await;
    let (_api_b, remote_b) = remote(&sim, "site-b", file_b.clone(), "site-b").await;
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", Arc::new(remote_a))
        .with_store("site-b", Arc::new(remote_b))
        .with_connector(Arc::new(sim.sim.connector()))
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
        let reg = sim.sim.site_registration(site).unwrap();
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
    let vm = sim.sim.find_server("site-a", "web-server-1").unwrap();
    engine
        .add_member("prod-web-app", AddMember { instance_id: vm.id })
        .await
        .unwrap();

    let report = engine.sync_status("prod-web-app").await.unwrap();
    assert!(report.in_sync, "{report:?}");
    assert_eq!(report.remote_status, RemoteSyncStatus::Synced);
    assert_eq!(report.remote_version, Some(report.local_version));

    // What each API wrote in its own database.
    let on_a = file_a.list_groups().await.unwrap();
    let on_b = file_b.list_groups().await.unwrap();
    assert_eq!(on_a.len(), 1);
    assert_eq!(on_a, on_b);
    let members_b = file_b.list_members(&on_b[0].id).await.unwrap();
    assert_eq!(members_b.len(), 1);
    assert_eq!(members_b[0].instance_name, "web-server-1");
}
