//! An operation whose process dies mid-way (the future is dropped after a given step, the way
//! a killed process stops: no compensation runs) is recovered from its journal and tags.
//! Recovery and runs respect the operation's lock: nothing acts on an operation whose process
//! (here: whoever holds the lock) still lives.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;

use crate::common::{existing, groups, mappings, planned_failover, setup, shape, Env, MEMBERS};

use protector_core::engine::{
    FailbackRequest, FailoverRequest, NoProgress, ProgressObserver, RecoverMode,
    TestFailoverRequest,
};
use protector_core::model::{
    GroupStatus, Operation, OperationStatus, OperationType, ResourceMappings,
};
use protector_core::store::{GroupDocument, LockAttempt};
use protector_core::ErrorKind;
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

/// Recovery asked to undo what the operation did instead of continuing it.
async fn roll_back(env: &Env, id: uuid::Uuid) -> Operation {
    env.engine
        .recover_operation_with(&format!("op-{id}"), RecoverMode::RollBack)
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

    let op = roll_back(&env, id).await;
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
    assert_eq!(roll_back(&env, id).await, op);
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

/// Killed between the group's local write and its push: the peer still holds the claimed
/// version. Recovery finishes the operation and brings the peer up to the local version.
#[tokio::test]
async fn a_failover_killed_before_the_finished_group_reached_the_peer_brings_the_peer_up() {
    let env = setup().await;
    let id = kill_after("update_protection_group", |observer| {
        env.engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            observer,
        )
    })
    .await;
    let (finished, _) = groups(&env).await;
    assert_eq!(finished.last_operation_id, Some(id));
    // The peer as the push would have left it had the process ended before it.
    let mut behind = GroupDocument {
        group: env.store_b.get_group(&finished.id).await.unwrap().unwrap(),
        members: env.store_b.list_members(&finished.id).await.unwrap(),
        policy: env.store_b.get_policy(&finished.id).await.unwrap(),
        mappings: env.store_b.list_mappings(&finished.id).await.unwrap(),
    };
    behind.group.metadata.version = finished.metadata.version - 1;
    behind.group.status = GroupStatus::FailingOver;
    behind.group.active_operation_id = Some(id);
    behind.group.last_operation_id = None;
    env.store_b.apply_document(&behind).await.unwrap();

    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let (a, b) = groups(&env).await;
    assert_eq!(a, finished);
    assert_eq!(b, finished, "the peer holds the finished group");
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
    let op = roll_back(&env, id).await;
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
async fn an_operation_that_died_before_taking_the_group_changes_nothing_when_rolled_back() {
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
    let op = roll_back(&env, id).await;
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
    let op = roll_back(&env, holder).await;
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

/// A DR drill's request: both production networks onto site-b's isolated `dr-test-net`.
fn drill_request() -> TestFailoverRequest {
    TestFailoverRequest {
        recovery_point: None,
        mappings: ResourceMappings {
            networks: ResourceMappings::parse_pairs(
                "network",
                ["net-primary-web=dr-test-net net-primary-db=dr-test-net"],
            )
            .unwrap(),
            ..mappings()
        },
        operation_id: None,
    }
}

/// [`setup`] with a replicated snapshot on site-b and a completed drill there. Returns the
/// inventory from before the drill.
async fn drilled() -> (Env, serde_json::Value) {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let before = shape(&env.sim.inspect());
    let drill = env
        .engine
        .test_failover("prod-web-app", drill_request(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(drill.status, OperationStatus::Completed, "{drill:?}");
    (env, before)
}

/// A drill cleanup killed once its servers are removed: ports, volumes and array volumes of
/// the drill are still on site-b, its record still lists everything.
async fn killed_cleanup(env: &Env) -> uuid::Uuid {
    let id = kill_after("delete_instances_site_b", |observer| {
        env.engine
            .test_failover_cleanup("prod-web-app", None, observer)
    })
    .await;
    let stuck = env.store_a.get_operation(&id).await.unwrap().unwrap();
    assert_eq!(stuck.status, OperationStatus::Running);
    id
}

/// Nothing of the drill is left (both inventories as before it), no drill on record on either
/// site, and the group can be deleted.
async fn assert_cleaned_and_deletable(env: &Env, before: &serde_json::Value) {
    assert_eq!(&shape(&env.sim.inspect()), before, "drill resources left");
    let (a, b) = groups(env).await;
    assert_eq!(a.test_failover, None);
    assert_eq!(b.test_failover, None);
    env.engine.delete_group("prod-web-app").await.unwrap();
    assert!(env.store_a.list_groups().await.unwrap().is_empty());
    assert!(env.store_b.list_groups().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_killed_drill_cleanup_is_finished_by_recovery_and_the_group_can_be_deleted() {
    let (env, before) = drilled().await;
    let id = killed_cleanup(&env).await;
    // As found: the dead cleanup blocks the group.
    let refused = env.engine.delete_group("prod-web-app").await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");

    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_eq!(op.operation_type, OperationType::TestCleanup);
    assert!(
        op.error_message
            .as_deref()
            .unwrap()
            .contains("recovered by finishing it"),
        "{op:?}"
    );
    assert_eq!(
        env.store_b.get_operation(&id).await.unwrap(),
        Some(op.clone())
    );
    // Recovering again changes nothing.
    assert_eq!(recover(&env, id).await, op);
    assert_cleaned_and_deletable(&env, &before).await;
}

#[tokio::test]
async fn a_cleanup_run_again_after_one_was_killed_closes_the_dead_record() {
    let (env, before) = drilled().await;
    let dead = killed_cleanup(&env).await;
    let again = env
        .engine
        .test_failover_cleanup("prod-web-app", None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(again.status, OperationStatus::Completed, "{again:?}");
    let closed = env.store_a.get_operation(&dead).await.unwrap().unwrap();
    assert_eq!(closed.status, OperationStatus::Failed);
    assert!(closed.completed_at.is_some());
    assert!(
        closed
            .error_message
            .as_deref()
            .unwrap()
            .contains(&format!("cleanup op-{} superseded it", again.id)),
        "{closed:?}"
    );
    assert_cleaned_and_deletable(&env, &before).await;
}

#[tokio::test]
async fn recovery_is_refused_and_changes_nothing_while_the_operation_lock_is_held() {
    let env = setup().await;
    let id = kill_after("create_instances_site_b", |observer| {
        env.engine.failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            observer,
        )
    })
    .await;
    // Its process still runs, as far as the store knows.
    let LockAttempt::Acquired(owner) = env.store_a.lock_operation(&id).await.unwrap() else {
        panic!("the killed run released its lock");
    };
    let inventory = existing(&env.sim.inspect());
    let groups_before = groups(&env).await;
    let record = env.store_a.get_operation(&id).await.unwrap();
    let journal = env.store_a.list_journal(&id).await.unwrap();

    let refused = env
        .engine
        .recover_operation(&format!("op-{id}"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(
        refused.message().contains(&format!(
            "operation op-{id} is still running in another process (pid {})",
            std::process::id()
        )),
        "{refused}"
    );
    assert_eq!(existing(&env.sim.inspect()), inventory);
    assert_eq!(groups(&env).await, groups_before);
    assert_eq!(env.store_a.get_operation(&id).await.unwrap(), record);
    assert_eq!(env.store_a.list_journal(&id).await.unwrap(), journal);

    // Its process ends: recovery goes ahead and continues the failover to its end.
    drop(owner);
    let op = recover(&env, id).await;
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let inventory = env.sim.inspect();
    assert_eq!(running_on(&inventory, "site-a"), 0);
    assert_eq!(running_on(&inventory, "site-b"), 3);
    assert_eq!(inventory.sites["site-b"].servers.len(), 3, "no second copy");
}

/// Stops the run in its observer once `step` is done, until the test lets it go on.
struct PauseAfter {
    step: &'static str,
    reached: std::sync::mpsc::SyncSender<uuid::Uuid>,
    resume: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    paused: std::sync::atomic::AtomicBool,
}

impl ProgressObserver for PauseAfter {
    fn on_update(&self, op: &Operation) {
        use std::sync::atomic::Ordering;
        if op.steps_completed.iter().any(|s| s == self.step)
            && !self.paused.swap(true, Ordering::SeqCst)
        {
            self.reached.send(op.id).unwrap();
            self.resume.lock().unwrap().recv().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_of_a_running_failover_is_refused_and_the_run_finishes() {
    let env = setup().await;
    let (reached_tx, reached_rx) = std::sync::mpsc::sync_channel(1);
    let (resume_tx, resume_rx) = std::sync::mpsc::channel();
    let observer = PauseAfter {
        step: "create_instances_site_b",
        reached: reached_tx,
        resume: std::sync::Mutex::new(resume_rx),
        paused: Default::default(),
    };
    let engine = env.engine.clone();
    let run = tokio::spawn(async move {
        engine
            .failover(
                "prod-web-app",
                FailoverRequest::planned(mappings()),
                &observer,
            )
            .await
    });
    let id = tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
        .await
        .unwrap();
    // Mid-flight: the VMs run on site-b, the sources are stopped.
    let inventory = existing(&env.sim.inspect());
    let groups_before = groups(&env).await;
    let refused = env
        .engine
        .recover_operation(&format!("op-{id}"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert_eq!(existing(&env.sim.inspect()), inventory);
    assert_eq!(groups(&env).await, groups_before);

    resume_tx.send(()).unwrap();
    let op = run.await.unwrap().unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_eq!(running_on(&env.sim.inspect(), "site-b"), 3);
    assert_eq!(running_on(&env.sim.inspect(), "site-a"), 0);
}

#[tokio::test]
async fn a_cleanup_is_refused_while_the_drill_it_would_remove_still_runs() {
    let (env, _) = drilled().await;
    // The drill is recorded as running, and its process holds its lock.
    let mut drill_id = None;
    for store in [&env.store_a, &env.store_b] {
        let mut group = store.list_groups().await.unwrap().remove(0);
        let record = group.test_failover.as_mut().unwrap();
        record.status = protector_core::model::TestFailoverStatus::Running;
        drill_id = Some(record.operation_id);
        store.put_group(&group).await.unwrap();
    }
    let drill_id = drill_id.unwrap();
    let LockAttempt::Acquired(drill) = env.store_a.lock_operation(&drill_id).await.unwrap() else {
        panic!("the drill's lock is held");
    };
    let inventory = shape(&env.sim.inspect());
    let groups_before = groups(&env).await;
    let refused = env
        .engine
        .test_failover_cleanup("prod-web-app", None, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(
        refused.message().contains(&format!(
            "operation op-{drill_id} is still running in another process"
        )),
        "{refused}"
    );
    assert_eq!(shape(&env.sim.inspect()), inventory);
    assert_eq!(groups(&env).await, groups_before);
    // Once its process is gone, the cleanup removes it.
    drop(drill);
    let op = env
        .engine
        .test_failover_cleanup("prod-web-app", None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
}

#[tokio::test]
async fn a_run_whose_record_was_ended_meanwhile_does_not_start() {
    let (env, _) = drilled().await;
    // A pending cleanup that `operation recover` ended before its background run began.
    let group = env.engine.group("prod-web-app").await.unwrap();
    let mut ended = Operation::start(
        OperationType::TestCleanup,
        Some((&group.id, &group.name)),
        "site-a",
        "site-b",
        chrono::Utc::now(),
    );
    ended.status = OperationStatus::Failed;
    env.store_a.put_operation(&ended).await.unwrap();
    let inventory = shape(&env.sim.inspect());
    let groups_before = groups(&env).await;
    let refused = env
        .engine
        .test_failover_cleanup("prod-web-app", Some(ended.id), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(
        refused.message().contains("has already ended (failed)"),
        "{refused}"
    );
    assert_eq!(shape(&env.sim.inspect()), inventory);
    assert_eq!(groups(&env).await, groups_before);
    assert_eq!(
        env.store_a.get_operation(&ended.id).await.unwrap(),
        Some(ended)
    );
}
