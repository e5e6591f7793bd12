//! What a dashboard shows: the instances that could join a group (each with the refusal
//! `add_member` would give) and each group's health at a glance.

use crate::common::{planned_failover, setup, shape, sites_only, MEMBERS};
use protector_core::engine::{AddMember, CreateGroup, OverviewSync, ReplicationHealth};
use protector_core::model::{GroupStatus, OperationStatus, OperationType, ReplicationType};
use protector_core::ErrorKind;

#[tokio::test]
async fn candidates_carry_the_refusal_add_member_gives_and_change_nothing() {
    let env = sites_only().await;
    env.engine
        .create_group(CreateGroup {
            name: "web".into(),
            description: String::new(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    let web1 = env.sim.find_server("site-a", "web-server-1").unwrap();
    env.engine
        .add_member(
            "web",
            AddMember {
                instance_id: web1.id.clone(),
            },
        )
        .await
        .unwrap();
    let before = shape(&env.sim.inspect());
    let candidates = env.engine.member_candidates("web").await.unwrap();
    assert_eq!(
        shape(&env.sim.inspect()),
        before,
        "listing changed the sites"
    );

    let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
    // This project's VMs only (t2-app belongs to another project), by name.
    assert_eq!(
        names,
        [
            "db-server-1",
            "ledger-db",
            "legacy-app",
            "web-server-1",
            "web-server-2"
        ]
    );
    let eligible: Vec<&str> = candidates
        .iter()
        .filter(|c| c.eligible)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(eligible, ["db-server-1", "web-server-2"]);
    for candidate in candidates.iter().filter(|c| !c.eligible) {
        let refusal = env
            .engine
            .add_member(
                "web",
                AddMember {
                    instance_id: candidate.instance_id.clone(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            candidate.reason.as_deref(),
            Some(refusal.message()),
            "{}",
            candidate.name
        );
        let expected = if candidate.name == "web-server-1" {
            ErrorKind::AlreadyExists
        } else {
            ErrorKind::InvalidInput
        };
        assert_eq!(refusal.kind(), expected, "{}", candidate.name);
    }
    assert!(candidates.iter().all(|c| c.eligible == c.reason.is_none()));
    assert_eq!(
        shape(&env.sim.inspect()),
        before,
        "refusals changed the sites"
    );
}

#[tokio::test]
async fn candidates_of_an_unknown_group_are_not_found() {
    let env = sites_only().await;
    let err = env.engine.member_candidates("nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("'nope'"), "{err}");
}

#[tokio::test]
async fn overviews_follow_members_sync_and_the_last_operation() {
    let env = setup().await;
    let overviews = env.engine.group_overviews().await.unwrap();
    assert_eq!(overviews.len(), 1);
    let o = &overviews[0];
    assert_eq!(o.group.name, "prod-web-app");
    assert_eq!(o.member_count, MEMBERS.len());
    assert_eq!(o.sync_status, OverviewSync::Synced);
    assert_eq!(o.rpo_minutes, Some(15));
    assert!(o.last_operation.is_none());
    assert_ne!(o.replication_status, ReplicationHealth::Unknown, "{o:?}");
    assert_ne!(o.replication_status, ReplicationHealth::NotConfigured);

    let op = planned_failover(&env).await.unwrap();
    let o = env.engine.group_overview("prod-web-app").await.unwrap();
    assert_eq!(o.group.status, GroupStatus::FailedOver);
    let last = o.last_operation.expect("the failover");
    assert_eq!(last.id, op.id);
    assert_eq!(last.operation_type, OperationType::Failover);
    assert_eq!(last.status, OperationStatus::Completed);
    assert_eq!(o.sync_status, OverviewSync::Synced);
}

#[tokio::test]
async fn an_array_that_does_not_answer_makes_replication_unknown_not_the_list_fail() {
    let env = setup().await;
    env.sim.set_array_down("site-b", true).unwrap();
    let overviews = env.engine.group_overviews().await.unwrap();
    assert_eq!(overviews.len(), 1);
    assert_eq!(overviews[0].replication_status, ReplicationHealth::Unknown);
    assert!(overviews[0].replication_error.is_some());
    assert_eq!(overviews[0].member_count, MEMBERS.len());
}
