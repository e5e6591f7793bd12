//! An operation whose process dies mid-way (the future is dropped after a given step, the way
//! a killed process stops: no compensation runs) is recovered from its journal and tags.

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use common::{mappings, planned_failover, setup, shape, Env, MEMBERS};

use protector_core::engine::{FailbackRequest, FailoverRequest, ProgressObserver};
use protector_core::model::{GroupStatus, Operation, OperationStatus};
use protector_mock::Inventory;

/// Runs `start(observer)` and kills it the moment `step` is reported done: the observer panics,
/// which unwinds out of the operation without running any of its compensation, like a process
/// that dies. Returns the id of the operation that was running.
async fn kill_after<'a, F, Fut>(step: &'static str, start: F) -> uuid::Uuid
where
    F: FnOnce(&'a dyn ProgressObserver) -> Fut,
    Fut: Future<Output = protector_core::Result<Operation>> + 'a,
{
    let id = Arc::new(std::sync::Mutex::new(None));
    let observer: &'a dyn ProgressObserver = {
        let id = id.clone();
        Box::leak(Box::new(move |op: &Operation| {
            *id.lock().unwrap() = Some(op.id);
            if op.steps_completed.iter().any(|s| s == step) {
                std::panic::panic_any(Killed);
            }
        }))
    };
    let outcome = AssertUnwindSafe(start(observer)).catch_unwind().await;
    match outcome {
        Err(payload) if payload.is::<Killed>() => {}
        other => panic!(
            "the operation was not killed after {step}: {:?}",
            other.map(|r| r.map(|o| o.status))
        ),
    }
    let id = id.lock().unwrap().expect("the operation reported progress");
    id
}

/// The panic payload of [`kill_after`].
struct Killed;

fn running_on(inventory: &Inventory, site: &str) -> usize {
    inventory.sites[site]
        .servers
        .iter()
        .filter(|s| MEMBERS.contains(&s.name.as_str()) && s.status == "ACTIVE")
        .count()
}

async fn recover(env: &Env, id: uuid::Uuid) -> Operation {
    env.engine
        .recover_operation(&format!("op-{id}"))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failover_killed_while_booting_is_rolled_back_completely() {
    let env = setup().await;
    let before = shape(&env.sim.inspect());
    let id = kill_after("create_instances_site_b", |observer| {
        env.engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            observer,
        )
    })
    .await;
    // The dead process left its work half-done.
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailingOver);
    assert_eq!(running_on(&env.sim.inspect(), "site-a"), 0);

    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Failed);
    assert!(
        op.error_message
            .as_deref()
            .unwrap()
            .contains("rolling back"),
        "{op:?}"
    );
    assert!(
        !op.error_message.as_deref().unwrap().contains("by hand"),
        "{op:?}"
    );
    let now = env.sim.inspect();
    assert_eq!(shape(&now), before, "the rollback left something behind");
    assert_eq!(running_on(&now, "site-a"), 3);
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.active_operation_id, None);
    // Recovering again changes nothing; the failover can run now.
    assert_eq!(recover(&env, id).await, op);
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
}

#[tokio::test]
async fn a_failover_killed_after_the_group_was_updated_is_recorded_as_completed() {
    let env = setup().await;
    let id = kill_after("update_protection_group", |observer| {
        env.engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            observer,
        )
    })
    .await;
    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(running_on(&env.sim.inspect(), "site-b"), 3);
}

#[tokio::test]
async fn a_failback_killed_once_the_originals_run_is_finished_forward() {
    let env = setup().await;
    let initial = shape(&env.sim.inspect());
    planned_failover(&env).await.unwrap();
    let id = kill_after("verify_instances", |observer| {
        env.engine
            .failback("prod-web-app", FailbackRequest::default(), observer)
    })
    .await;
    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let now = env.sim.inspect();
    assert_eq!(running_on(&now, "site-a"), 3);
    assert_eq!(running_on(&now, "site-b"), 0);
    let mut expected = initial;
    let mut got = shape(&now);
    for v in [&mut expected, &mut got] {
        for array in v["arrays"].as_object_mut().unwrap().values_mut() {
            array.as_object_mut().unwrap().remove("protection_groups");
        }
    }
    assert_eq!(got, expected, "DR copies left behind");
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.current_primary_site, "site-a");
    for member in env.engine.members("prod-web-app").await.unwrap() {
        assert_eq!(member.current.site, "site-a");
    }
}

#[tokio::test]
async fn a_failback_killed_before_the_originals_run_is_rolled_back() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();
    let after_failover = shape(&env.sim.inspect());
    let id = kill_after("promote_storage_primary", |observer| {
        env.engine
            .failback("prod-web-app", FailbackRequest::default(), observer)
    })
    .await;
    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Failed, "{op:?}");
    let now = env.sim.inspect();
    assert_eq!(running_on(&now, "site-b"), 3);
    assert_eq!(running_on(&now, "site-a"), 0);
    let mut expected = after_failover;
    let mut got = shape(&now);
    for v in [&mut expected, &mut got] {
        for array in v["arrays"].as_object_mut().unwrap().values_mut() {
            array.as_object_mut().unwrap().remove("protection_groups");
        }
    }
    assert_eq!(got, expected);
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    // And the failback can run again.
    let op = env
        .engine
        .failback(
            "prod-web-app",
            FailbackRequest::default(),
            &protector_core::engine::NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
}

#[tokio::test]
async fn an_operation_that_died_before_taking_the_group_changes_nothing_when_recovered() {
    let env = setup().await;
    let id = kill_after("validate_sites", |observer| {
        env.engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            observer,
        )
    })
    .await;
    let before = env.engine.group("prod-web-app").await.unwrap();
    let inventory = shape(&env.sim.inspect());
    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Failed);
    assert!(
        op.error_message
            .as_deref()
            .unwrap()
            .contains("nothing of it to undo"),
        "{op:?}"
    );
    // Not even a metadata version: the group was never this operation's.
    assert_eq!(env.engine.group("prod-web-app").await.unwrap(), before);
    assert_eq!(shape(&env.sim.inspect()), inventory);
}

#[tokio::test]
async fn recovering_a_dead_operation_leaves_a_group_locked_by_another_alone() {
    let env = setup().await;
    let dead = kill_after("validate_sites", |observer| {
        env.engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            observer,
        )
    })
    .await;
    // Another failover took the group since (and died holding it).
    let holder = kill_after("create_dr_record", |observer| {
        env.engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            observer,
        )
    })
    .await;
    let locked = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(locked.active_operation_id, Some(holder));
    recover(&env, dead).await;
    assert_eq!(env.engine.group("prod-web-app").await.unwrap(), locked);
    // Its own recovery releases it.
    let op = recover(&env, holder).await;
    assert_eq!(op.status, OperationStatus::Failed);
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.active_operation_id, None);
}

#[tokio::test]
async fn a_failback_that_rebuilt_a_member_is_finished_forward_with_its_new_placement() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();
    let failed_over = env.engine.members("prod-web-app").await.unwrap();
    let gone = failed_over
        .iter()
        .find(|m| m.instance_name == "web-server-2")
        .unwrap();
    let site_a = env.engine.clients("site-a").await.unwrap();
    site_a
        .compute
        .delete_server(&gone.standby.as_ref().unwrap().instance_id)
        .await
        .unwrap();
    env.sim.tick(10).unwrap();
    let id = kill_after("verify_instances", |observer| {
        env.engine
            .failback("prod-web-app", FailbackRequest::default(), observer)
    })
    .await;
    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let now = env.sim.inspect();
    assert_eq!(running_on(&now, "site-a"), 3);
    assert_eq!(running_on(&now, "site-b"), 0);
    let rebuilt = env
        .engine
        .members("prod-web-app")
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.instance_name == "web-server-2")
        .unwrap();
    assert_eq!(rebuilt.current.site, "site-a");
    let server = now.sites["site-a"]
        .servers
        .iter()
        .find(|s| s.id == rebuilt.current.instance_id)
        .expect("the rebuilt server is the member's current one");
    assert_eq!(server.status, "ACTIVE");
    assert_eq!(
        rebuilt.current.volume_ids.len(),
        gone.current.volume_ids.len()
    );
    assert_eq!(rebuilt.current.port_ids.len(), 1);
}
