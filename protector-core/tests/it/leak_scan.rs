//! The leak scan on the in-process simulator: nothing on a clean deployment nor what a drill
//! in progress or the members own; a drill whose record was lost, and an array copy named
//! like protector's whose operation is unknown, are found with their place, kind and id; an
//! array that cannot be read is reported as not scanned while the rest is scanned.

use std::collections::BTreeSet;

use crate::common::{assert_completed, setup, Env};

use protector_core::api::CopyVolume;
use protector_core::engine::{LeakKind, LeakScan, NoProgress, ScanPlace, TestFailoverRequest};
use protector_core::model::{Operation, OperationStatus, OperationType, ResourceMappings};

const GROUP: &str = "prod-web-app";

async fn scan(env: &Env) -> LeakScan {
    env.engine.leak_scan(&[]).await.unwrap()
}

fn site(name: &str) -> ScanPlace {
    ScanPlace {
        site: name.into(),
        array: None,
    }
}

async fn drill(env: &Env) -> uuid::Uuid {
    let request = TestFailoverRequest {
        mappings: ResourceMappings {
            networks: ResourceMappings::parse_pairs(
                "network",
                ["net-primary-web=dr-test-net net-primary-db=dr-test-net"],
            )
            .unwrap(),
            flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
            ..ResourceMappings::default()
        },
        operation_id: None,
        recovery_point: None,
    };
    let op = env
        .engine
        .test_failover(GROUP, request, &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    op.id
}

#[tokio::test]
async fn leaks_are_found_and_what_is_owned_is_not() {
    let env = setup().await;
    env.sim.tick(320).unwrap();

    // Clean: both sites and both arrays read, nothing found.
    let clean = scan(&env).await;
    assert!(clean.is_complete(), "{:?}", clean.not_scanned);
    assert_eq!(clean.leaks, [], "{:#?}", clean.leaks);
    let places: BTreeSet<String> = clean.scanned.iter().map(ToString::to_string).collect();
    assert_eq!(places.len(), 4, "{places:?}");
    assert!(places.contains("site-a") && places.contains("site-b"));

    // A drill's test resources are owned by its record while it exists.
    let drill_id = drill(&env).await;
    assert_eq!(scan(&env).await.leaks, []);

    // A copy named like protector's whose operation nobody knows.
    let endpoint = env.sim.array_endpoint("site-b").unwrap();
    let array = protector_core::api::Connector::array(&env.sim.connector(), &endpoint)
        .await
        .unwrap();
    let source = env.sim.inspect().arrays["site-b"]
        .volumes
        .iter()
        .find(|v| !v.name.starts_with("test-"))
        .expect("a volume on site-b's array")
        .name
        .clone();
    array
        .copy_volume(&CopyVolume {
            name: "protector-0badc0de-leaked".into(),
            source,
            overwrite: false,
        })
        .await
        .unwrap();

    // The drill's record is lost on both sites (the drill itself finished long ago).
    for store in [&env.store_a, &env.store_b] {
        let mut group = store.list_groups().await.unwrap().remove(0);
        group.test_failover = None;
        store.put_group(&group).await.unwrap();
    }

    let found = scan(&env).await;
    assert!(found.is_complete());
    let test_servers: Vec<_> = found
        .leaks
        .iter()
        .filter(|l| l.kind == LeakKind::Server)
        .collect();
    assert_eq!(test_servers.len(), 3, "{:#?}", found.leaks);
    for leak in &test_servers {
        assert_eq!(leak.place, site("site-b"));
        assert!(leak.name.starts_with("test-"), "{leak:?}");
        assert_eq!(leak.operation_id, Some(drill_id));
        assert_eq!(leak.group.as_deref(), Some(GROUP));
        assert_eq!(leak.tags["protector:operation"], drill_id.to_string());
        assert!(leak.reason.contains("ended completed"), "{}", leak.reason);
        assert_eq!(
            leak.remove_with,
            format!("openstack server delete {} (on site-b)", leak.id)
        );
        assert!(env.sim.inspect().sites["site-b"]
            .servers
            .iter()
            .any(|s| s.id == leak.id));
    }
    for kind in [LeakKind::Port, LeakKind::Volume] {
        assert!(
            found
                .leaks
                .iter()
                .any(|l| l.kind == kind && l.operation_id == Some(drill_id)),
            "{kind:?} in {:#?}",
            found.leaks
        );
    }
    let copy = found
        .leaks
        .iter()
        .find(|l| l.id == "protector-0badc0de-leaked")
        .expect("the copy is found");
    assert_eq!(copy.kind, LeakKind::ArrayVolume);
    assert_eq!(copy.place.site, "site-b");
    assert!(copy.place.array.is_some());
    assert_eq!(copy.operation_id, None);
    assert!(copy
        .remove_with
        .starts_with("purevol destroy protector-0badc0de-leaked"));
    // Nothing on production: the members' servers, volumes and ports are owned.
    assert!(found.leaks.iter().all(|l| l.place.site == "site-b"));
    // Read-only: the scan removed nothing.
    assert_eq!(scan(&env).await.leaks, found.leaks);

    // The copy's name points at an operation run from site-b, still running there (recorded
    // only in site-b's store): owned. Once it ended, the copy is its leak.
    let peer_op_id = uuid::Uuid::parse_str("0badc0de-0000-4000-8000-000000000001").unwrap();
    let mut peer_op = Operation::start(
        OperationType::Failover,
        None,
        "site-a",
        "site-b",
        chrono::Utc::now(),
    );
    peer_op.id = peer_op_id;
    env.store_b.put_operation(&peer_op).await.unwrap();
    let owned = scan(&env).await;
    assert!(
        owned.leaks.iter().all(|l| l.kind != LeakKind::ArrayVolume),
        "{:#?}",
        owned.leaks
    );
    peer_op.status = OperationStatus::Failed;
    peer_op.completed_at = Some(chrono::Utc::now());
    env.store_b.put_operation(&peer_op).await.unwrap();
    let ended = scan(&env).await;
    let copy = ended
        .leaks
        .iter()
        .find(|l| l.id == "protector-0badc0de-leaked")
        .expect("the copy of the ended operation");
    assert_eq!(copy.operation_id, Some(peer_op_id));
    assert!(
        copy.reason.contains("(failover) ended failed"),
        "{}",
        copy.reason
    );

    // An array that cannot be read: reported, the rest scanned all the same.
    env.sim.set_array_down("site-b", true).unwrap();
    let partial = scan(&env).await;
    assert!(!partial.is_complete());
    assert_eq!(partial.not_scanned.len(), 1, "{:?}", partial.not_scanned);
    assert_eq!(partial.not_scanned[0].place.site, "site-b");
    assert!(partial.not_scanned[0].place.array.is_some());
    assert!(partial
        .leaks
        .iter()
        .all(|l| l.kind != LeakKind::ArrayVolume));
    assert_eq!(
        partial
            .leaks
            .iter()
            .filter(|l| l.kind == LeakKind::Server)
            .count(),
        3
    );
}

#[tokio::test]
async fn an_unknown_site_is_refused() {
    let env = setup().await;
    let e = env
        .engine
        .leak_scan(&["site-z".to_string()])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), protector_core::ErrorKind::NotFound, "{e}");
    // One site only: its OpenStack and its array.
    let one = env.engine.leak_scan(&["site-a".to_string()]).await.unwrap();
    assert!(one.scanned.iter().all(|p| p.site == "site-a"));
    assert_eq!(one.scanned.len(), 2, "{:?}", one.scanned);
}
