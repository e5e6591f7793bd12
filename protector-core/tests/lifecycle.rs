//! Protection-group lifecycle on the in-process simulator: creation on both sites, members,
//! policy, metadata sync, and the refusals of spec/003 and spec/004, each leaving both sites and
//! both stores unchanged.

mod common;

use common::{groups, setup, shape, sites_only, Env};
use protector_core::engine::{AddMember, CreateGroup};
use protector_core::model::{GroupStatus, ReplicationType};
use protector_core::store::RemoteSyncStatus;
use protector_core::ErrorKind;

fn create_request(name: &str, volume_type: &str) -> CreateGroup {
    CreateGroup {
        name: name.into(),
        description: String::new(),
        replication_type: ReplicationType::Async,
        primary_site: "site-a".into(),
        secondary_site: "site-b".into(),
        volume_type: volume_type.into(),
    }
}

async fn snapshot(env: &Env) -> (serde_json::Value, usize, usize) {
    (
        shape(&env.sim.inspect()),
        env.store_a.list_groups().await.unwrap().len(),
        env.store_b.list_groups().await.unwrap().len(),
    )
}

#[tokio::test]
async fn create_writes_version_one_on_both_sites_with_consistency_groups() {
    let env = sites_only().await;
    let group = env
        .engine
        .create_group(create_request("prod-web-app", "replicated-ssd"))
        .await
        .unwrap();
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.metadata.version, 1);
    assert_eq!(group.current_primary_site, "site-a");
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    for site in ["site-a", "site-b"] {
        let clients = env.engine.clients(site).await.unwrap();
        let cg = group.cinder_group_on(site).unwrap();
        assert!(
            clients
                .block_storage
                .get_volume_group(&cg)
                .await
                .unwrap()
                .is_some(),
            "{site}"
        );
    }
    let status = env.engine.sync_status("prod-web-app").await.unwrap();
    assert!(status.in_sync);
    assert_eq!(status.remote_version, Some(1));
    assert_eq!(status.remote_status, RemoteSyncStatus::Synced);
}

#[tokio::test]
async fn non_replicated_volume_type_is_refused_and_nothing_is_created() {
    let env = sites_only().await;
    let before = snapshot(&env).await;
    let err = env
        .engine
        .create_group(create_request("legacy", "standard"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.message().contains("not eligible for replication"),
        "{err}"
    );
    assert_eq!(snapshot(&env).await, before);
}

#[tokio::test]
async fn duplicate_name_in_the_tenant_is_refused() {
    let env = setup().await;
    let before = snapshot(&env).await;
    let err = env
        .engine
        .create_group(create_request("prod-web-app", "replicated-ssd"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(snapshot(&env).await, before);
}

#[tokio::test]
async fn member_with_a_non_replicated_volume_is_refused() {
    let env = setup().await;
    let before = snapshot(&env).await;
    let (group_before, _) = groups(&env).await;
    let legacy = env.sim.find_server("site-a", "legacy-app").unwrap();
    let err = env
        .engine
        .add_member(
            "prod-web-app",
            AddMember {
                instance_id: legacy.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("volume type mismatch"), "{err}");
    assert!(err.message().contains("standard"), "{err}");
    assert_eq!(snapshot(&env).await, before);
    assert_eq!(groups(&env).await.0, group_before);
}

#[tokio::test]
async fn a_vm_can_belong_to_one_group_only() {
    let env = setup().await;
    let web = env.sim.find_server("site-a", "web-server-1").unwrap();
    let err = env
        .engine
        .add_member(
            "prod-web-app",
            AddMember {
                instance_id: web.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
}

#[tokio::test]
async fn peer_down_refuses_member_changes_until_it_recovers() {
    let env = setup().await;
    let web = env.sim.find_server("site-a", "web-server-1").unwrap();
    let member = env
        .engine
        .members("prod-web-app")
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.instance_id == web.id)
        .unwrap();
    env.sim.set_site_down("site-b", true).unwrap();
    let before = snapshot(&env).await;
    let groups_before = groups(&env).await;
    let err = env
        .engine
        .remove_member("prod-web-app", &member.id.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(
        err.message().contains("Cannot modify protection group"),
        "{err}"
    );
    assert_eq!(
        err.hint(),
        Some(&protector_core::error::Hint::SyncForce {
            group: "prod-web-app".into()
        }),
        "{err}"
    );
    assert_eq!(
        snapshot(&env).await,
        before,
        "nothing changed on either site"
    );
    assert_eq!(
        groups(&env).await,
        groups_before,
        "nothing changed in either store"
    );
    let status = env.engine.sync_status("prod-web-app").await.unwrap();
    assert_eq!(status.remote_status, RemoteSyncStatus::Unreachable);

    // Recovery: the documented fix works.
    env.sim.set_site_down("site-b", false).unwrap();
    env.engine.sync_force("prod-web-app").await.unwrap();
    let removed = env
        .engine
        .remove_member("prod-web-app", &member.id.to_string())
        .await
        .unwrap();
    assert_eq!(removed.instance_name, "web-server-1");
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    assert_eq!(a.metadata.version, groups_before.0.metadata.version + 1);
    // The volumes left the Cinder consistency group and the FlashArray protection group.
    let clients = env.engine.clients("site-a").await.unwrap();
    let cg = a.cinder_group_on("site-a").unwrap();
    let cg = clients
        .block_storage
        .get_volume_group(&cg)
        .await
        .unwrap()
        .unwrap();
    assert!(removed
        .current
        .volume_ids
        .iter()
        .all(|v| !cg.volume_ids.contains(v)));
    let pg = env.sim.inspect().arrays["site-a"]
        .protection_groups
        .iter()
        .find(|p| p.name == "pg-prod-web-app")
        .cloned()
        .unwrap();
    assert!(removed
        .current
        .array_volumes
        .iter()
        .all(|v| !pg.volumes.contains(v)));
    // And it can be added again.
    env.engine
        .add_member(
            "prod-web-app",
            AddMember {
                instance_id: web.id,
            },
        )
        .await
        .unwrap();
    assert_eq!(env.engine.members("prod-web-app").await.unwrap().len(), 3);
}

#[tokio::test]
async fn modifications_are_refused_while_an_operation_runs() {
    let env = setup().await;
    for store in [&env.store_a, &env.store_b] {
        let mut g = store.list_groups().await.unwrap().remove(0);
        g.status = GroupStatus::FailingOver;
        store.put_group(&g).await.unwrap();
    }
    let legacy = env.sim.find_server("site-a", "ledger-db").unwrap();
    let err = env
        .engine
        .add_member(
            "prod-web-app",
            AddMember {
                instance_id: legacy.id,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("failing_over"), "{err}");
}

#[tokio::test]
async fn out_of_sync_is_reported_and_sync_force_pushes_the_higher_version() {
    let env = setup().await;
    let mut local = env.store_a.list_groups().await.unwrap().remove(0);
    let version = local.metadata.version;
    // A change recorded on site-a only (the peer missed the push).
    local.description = "changed while site-b was away".into();
    local.metadata.version += 1;
    env.store_a.put_group(&local).await.unwrap();
    let status = env.engine.sync_status("prod-web-app").await.unwrap();
    assert!(!status.in_sync);
    assert_eq!(status.local_version, version + 1);
    assert_eq!(status.remote_version, Some(version));
    let err = env
        .engine
        .add_member(
            "prod-web-app",
            AddMember {
                instance_id: "x".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfSync);
    let report = env.engine.sync_force("prod-web-app").await.unwrap();
    assert_eq!(report.version, version + 1);
    assert_eq!(report.pushed_to, "site-b");
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    assert!(
        env.engine
            .sync_status("prod-web-app")
            .await
            .unwrap()
            .in_sync
    );
    let log = env.engine.sync_log("prod-web-app", 10).await.unwrap();
    assert_eq!(log[0].reason, "sync-force");
}

#[tokio::test]
async fn policy_tokens_never_show_in_debug_output() {
    let env = setup().await;
    let policy = env.engine.policy("prod-web-app").await.unwrap().unwrap();
    let token = env.sim.array_endpoint("site-a").unwrap().api_token;
    let printed = format!(
        "{policy:?} {:?}",
        env.engine.members("prod-web-app").await.unwrap()
    );
    assert!(
        !printed.contains(token.expose()),
        "token leaked into Debug output"
    );
    assert!(printed.contains("[redacted]"));
}

#[tokio::test]
async fn delete_cascades_on_both_sites_and_leaves_the_vms() {
    let env = setup().await;
    let group = env.engine.group("prod-web-app").await.unwrap();
    let vms_before: Vec<_> = env.sim.inspect().sites["site-a"]
        .servers
        .iter()
        .map(|s| (s.id.clone(), s.status.clone()))
        .collect();
    env.engine.delete_group("prod-web-app").await.unwrap();
    assert!(env.store_a.list_groups().await.unwrap().is_empty());
    assert!(env.store_b.list_groups().await.unwrap().is_empty());
    assert!(env
        .store_a
        .list_members(&group.id)
        .await
        .unwrap()
        .is_empty());
    for site in ["site-a", "site-b"] {
        let clients = env.engine.clients(site).await.unwrap();
        let cg = group.cinder_group_on(site).unwrap();
        assert!(
            clients
                .block_storage
                .get_volume_group(&cg)
                .await
                .unwrap()
                .is_none(),
            "{site}"
        );
    }
    let vms_after: Vec<_> = env.sim.inspect().sites["site-a"]
        .servers
        .iter()
        .map(|s| (s.id.clone(), s.status.clone()))
        .collect();
    assert_eq!(vms_before, vms_after, "VMs untouched");
    let err = env.engine.group("prod-web-app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn delete_is_refused_while_an_operation_runs_and_when_the_peer_is_down() {
    let env = setup().await;
    env.sim.set_site_down("site-b", true).unwrap();
    let before = snapshot(&env).await;
    let err = env.engine.delete_group("prod-web-app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(snapshot(&env).await, before);
    env.sim.set_site_down("site-b", false).unwrap();
    for store in [&env.store_a, &env.store_b] {
        let mut g = store.list_groups().await.unwrap().remove(0);
        g.status = GroupStatus::FailingBack;
        store.put_group(&g).await.unwrap();
    }
    let err = env.engine.delete_group("prod-web-app").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("failing_back"), "{err}");
    assert_eq!(env.store_b.list_groups().await.unwrap().len(), 1);
}
