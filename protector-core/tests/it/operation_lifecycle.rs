//! The operation lifecycle every front-end drives (`submit`, `run`, `start`, `wait`, `watch`,
//! `cancel`, `recover_operation`): refusals at submission record nothing, a submitted
//! operation runs in any engine on the same stores (another process), progress arrives as
//! owned records, and a cancel stops a run before its next step and rolls it back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::common::{assert_completed, existing, groups, mappings, setup, Env};
use futures::StreamExt;
use protector_core::engine::{
    progress_channel, EngineOptions, FailoverRequest, OperationRequest, PollPolicy,
    ProgressObserver, TestFailoverRequest,
};
use protector_core::error::ErrorKind;
use protector_core::model::{GroupStatus, Operation, OperationStatus, OperationType};
use protector_core::plan::FailoverMode;
use protector_core::Protector;

const GROUP: &str = "prod-web-app";

/// Another process's engine on the same stores and simulator.
fn other_process(env: &Env) -> Protector {
    engine_on(env, "site-a")
}

/// An engine standing on `site`, over the same stores and simulator.
fn engine_on(env: &Env, site: &str) -> Protector {
    Protector::builder()
        .with_local_site(site)
        .with_store("site-a", env.store_a.clone())
        .with_store("site-b", env.store_b.clone())
        .with_connector(Arc::new(env.sim.connector()))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap()
}

fn failover(mode: FailoverMode) -> OperationRequest {
    OperationRequest::Failover {
        group: GROUP.into(),
        request: FailoverRequest {
            mode,
            mappings: mappings(),
            operation_id: None,
            recovery_point: None,
            commit_window_secs: Some(0),
        },
    }
}

/// Servers of the group's members running on `site`.
fn running_on(env: &Env, site: &str) -> usize {
    env.sim.inspect().sites[site]
        .servers
        .iter()
        .filter(|s| s.status.as_str() == "ACTIVE")
        .filter(|s| crate::common::MEMBERS.iter().any(|m| s.name.ends_with(m)))
        .count()
}

#[tokio::test]
async fn a_refused_submission_records_nothing() {
    let env = setup().await;
    let before = existing(&env.sim.inspect());
    let request = OperationRequest::Failover {
        group: GROUP.into(),
        request: FailoverRequest::planned(Default::default()),
    };
    let err = env.engine.submit(request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.to_string()
            .contains("map network 'net-primary-db' to a network on site-b"),
        "{err}"
    );

    let err = env
        .engine
        .submit(OperationRequest::TestFailoverCleanup {
            group: "no-such-group".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    // A drill's pre-flight refusals too: nothing has replicated yet, and a drill given no
    // isolated network must not land on production networks.
    for (request, expected) in [
        (
            TestFailoverRequest {
                mappings: mappings(),
                operation_id: None,
                recovery_point: None,
            },
            "no fully replicated snapshot",
        ),
        (
            TestFailoverRequest {
                mappings: Default::default(),
                operation_id: None,
                recovery_point: None,
            },
            "net-primary-web",
        ),
    ] {
        let err = env
            .engine
            .submit(OperationRequest::TestFailover {
                group: GROUP.into(),
                request,
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }

    assert!(env.engine.operations().await.unwrap().is_empty());
    assert!(env.store_b.list_operations().await.unwrap().is_empty());
    assert_eq!(existing(&env.sim.inspect()), before);
}

#[tokio::test]
async fn a_submitted_failover_runs_in_another_process_with_owned_progress() {
    let env = setup().await;
    let submitted = env
        .engine
        .submit(failover(FailoverMode::Planned))
        .await
        .unwrap();
    let id = submitted.operation.id;
    assert_eq!(submitted.operation.status, OperationStatus::Pending);
    assert_eq!(submitted.operation.operation_type, OperationType::Failover);
    assert_eq!(submitted.plan.as_ref().map(|p| p.id), Some(id));
    // Recorded, nothing started.
    let recorded = env.engine.operation(&id.to_string()).await.unwrap();
    assert_eq!(recorded.status, OperationStatus::Pending);
    assert_eq!(groups(&env).await.0.status, GroupStatus::Active);

    // Another process runs it by id; its progress arrives through a channel it owns.
    let worker = other_process(&env);
    let (sender, mut receiver) = progress_channel();
    let run = tokio::spawn(worker.run(id, sender));
    let mut seen = Vec::new();
    while let Some(op) = receiver.next().await {
        seen.push(op);
    }
    let op = run.await.unwrap().unwrap();
    assert_eq!(op.id, id);
    assert_completed(&op);
    assert_eq!(op.instances_created, 3);
    assert!(seen.len() > 5, "{} progress records", seen.len());
    assert!(seen.iter().all(|o| o.id == id));
    let progress: Vec<u8> = seen.iter().map(|o| o.progress).collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(seen.last().unwrap().status, OperationStatus::Completed);

    // One running copy of each VM: on site-b.
    assert_eq!(running_on(&env, "site-b"), 3);
    assert_eq!(running_on(&env, "site-a"), 0);
    let (a, b) = groups(&env).await;
    assert_eq!(a.status, GroupStatus::FailedOver);
    assert_eq!(b.status, GroupStatus::FailedOver);

    // It ran once: running it again is refused and changes nothing.
    let err = env.engine.run(id, progress_channel().0).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(
        env.engine.operation(&id.to_string()).await.unwrap().status,
        OperationStatus::Completed
    );
}

#[tokio::test]
async fn an_unplanned_failover_reports_its_data_at_risk_at_submission() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let survivor = engine_on(&env, "site-b");
    let submitted = survivor
        .submit(failover(FailoverMode::Unplanned))
        .await
        .unwrap();
    let plan = submitted
        .plan
        .expect("the plan whose data at risk is reported");
    assert!(plan.recovery_point.is_some());
    let op = survivor.start(submitted.operation.id).wait().await.unwrap();
    assert_completed(&op);
    assert_eq!(op.id, plan.id);
    assert_eq!(running_on(&env, "site-b"), 3);
}

#[tokio::test]
async fn watch_and_wait_follow_a_run_to_its_end() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let submitted = env.engine.submit(drill()).await.unwrap();
    let id = submitted.operation.id.to_string();
    let watcher = other_process(&env);
    let watched = tokio::spawn(async move {
        watcher
            .watch(&id)
            .collect::<Vec<protector_core::Result<Operation>>>()
            .await
    });
    let mut running = env.engine.start(submitted.operation.id);
    assert!(running.take_progress().is_some());
    assert!(running.take_progress().is_none());
    let ran = running.wait().await.unwrap();
    assert_completed(&ran);

    let waited = other_process(&env)
        .wait(&ran.id.to_string(), None)
        .await
        .unwrap();
    assert_eq!(waited, ran);
    let watched = watched.await.unwrap();
    let last = watched.last().unwrap().as_ref().unwrap();
    assert_eq!(last, &ran, "the stream ends with the final record");
    assert!(watched.iter().all(Result::is_ok));
}

#[tokio::test]
async fn cancelling_a_submitted_operation_ends_it_and_changes_nothing() {
    let env = setup().await;
    let before = existing(&env.sim.inspect());
    let submitted = env
        .engine
        .submit(failover(FailoverMode::Planned))
        .await
        .unwrap();
    let id = submitted.operation.id.to_string();

    let op = other_process(&env).cancel(&id).await.unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    assert!(op.completed_at.is_some());
    assert_eq!(
        op.error_message.as_deref(),
        Some("cancelled before the failover started: nothing was changed")
    );
    // Its worker starts late: it is refused and changes nothing.
    let err = env
        .engine
        .run(submitted.operation.id, progress_channel().0)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let err = env.engine.cancel(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.message().contains("already ended"), "{err}");

    assert_eq!(existing(&env.sim.inspect()), before);
    let (a, b) = groups(&env).await;
    assert_eq!(
        (a.status, b.status),
        (GroupStatus::Active, GroupStatus::Active)
    );
    assert_eq!(a.active_operation_id, None);
}

/// Holds the run right after step `after` is done, until the test lets it go.
struct Gate {
    after: &'static str,
    fired: AtomicBool,
    reached: Mutex<mpsc::Sender<()>>,
    go: Mutex<mpsc::Receiver<()>>,
}

impl ProgressObserver for Gate {
    fn on_update(&self, op: &Operation) {
        if op.steps_completed.iter().any(|s| s == self.after)
            && !self.fired.swap(true, Ordering::SeqCst)
        {
            self.reached.lock().unwrap().send(()).unwrap();
            // Blocks this worker thread (the test runs on the other) until released.
            self.go.lock().unwrap().recv().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_running_failover_stops_it_and_rolls_it_back() {
    let env = setup().await;
    let before = existing(&env.sim.inspect());
    let submitted = env
        .engine
        .submit(failover(FailoverMode::Planned))
        .await
        .unwrap();
    let id = submitted.operation.id;

    let (reached_tx, reached_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    let gate = Gate {
        after: "quiesce_vms",
        fired: AtomicBool::new(false),
        reached: Mutex::new(reached_tx),
        go: Mutex::new(go_rx),
    };
    let run = tokio::spawn(env.engine.run(id, gate));
    tokio::task::spawn_blocking(move || reached_rx.recv().unwrap())
        .await
        .unwrap();
    // The source VMs are stopped now; the operator cancels from another process.
    assert_eq!(running_on(&env, "site-a"), 0);
    let now = other_process(&env).cancel(&id.to_string()).await.unwrap();
    assert_eq!(now.status, OperationStatus::Running);
    go_tx.send(()).unwrap();

    let op = run.await.unwrap().unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let message = op.error_message.clone().unwrap_or_default();
    assert!(message.contains("was cancelled"), "{message}");
    // Rolled back: the VMs run on site-a again, nothing is left on site-b, the group is
    // active on both sites and free.
    assert_eq!(running_on(&env, "site-a"), 3);
    assert_eq!(running_on(&env, "site-b"), 0);
    assert_eq!(existing(&env.sim.inspect()), before);
    let (a, b) = groups(&env).await;
    assert_eq!(
        (a.status, b.status),
        (GroupStatus::Active, GroupStatus::Active)
    );
    assert_eq!((a.active_operation_id, b.active_operation_id), (None, None));
    // The group can fail over again.
    let again = env
        .engine
        .submit(failover(FailoverMode::Planned))
        .await
        .unwrap();
    let op = env.engine.start(again.operation.id).wait().await.unwrap();
    assert_completed(&op);
}

#[tokio::test]
async fn recover_ends_a_submitted_operation_whose_run_never_began() {
    let env = setup().await;
    let submitted = env
        .engine
        .submit(OperationRequest::TestFailoverCleanup {
            group: GROUP.into(),
        })
        .await
        .unwrap();
    let op = env
        .engine
        .recover_operation(&submitted.operation.id.to_string())
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    assert!(
        op.error_message
            .as_deref()
            .unwrap()
            .starts_with("the process that was to run it ended before the test_cleanup started"),
        "{:?}",
        op.error_message
    );
}

fn drill() -> OperationRequest {
    OperationRequest::TestFailover {
        group: GROUP.into(),
        request: TestFailoverRequest {
            mappings: mappings(),
            operation_id: None,
            recovery_point: None,
        },
    }
}

fn total_calls(engine: &Protector) -> u64 {
    engine.api_calls().iter().map(|c| c.calls).sum()
}

#[tokio::test]
async fn a_drill_run_at_once_uses_the_plan_its_submission_made() {
    // Submitted and run by one engine: the run takes the admitted plan (its reads are not
    // made again; both sites are asked once more).
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let submitted = env.engine.submit(drill()).await.unwrap();
    let before = total_calls(&env.engine);
    let op = env
        .engine
        .start(submitted.operation.id)
        .wait()
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.instances_created, 3);
    let same_engine = total_calls(&env.engine) - before;

    // Run by another process: it plans again.
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let submitted = env.engine.submit(drill()).await.unwrap();
    let other = other_process(&env);
    let op = other.start(submitted.operation.id).wait().await.unwrap();
    assert_completed(&op);
    assert_eq!(op.instances_created, 3);
    let planned_again = total_calls(&other);
    assert!(
        same_engine < planned_again,
        "the run with the admitted plan made {same_engine} calls, one that planned again {planned_again}"
    );
}

#[tokio::test]
async fn a_drill_whose_group_changed_since_its_submission_is_planned_again() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let submitted = env.engine.submit(drill()).await.unwrap();
    // A member leaves the group between the submission and the run.
    let members = env.engine.members(GROUP).await.unwrap();
    let leaving = &members[2];
    env.engine
        .remove_member(GROUP, &leaving.id.to_string())
        .await
        .unwrap();
    let op = env
        .engine
        .start(submitted.operation.id)
        .wait()
        .await
        .unwrap();
    assert_completed(&op);
    // The group as it is now: two test copies, none of the member that left.
    assert_eq!(op.instances_created, 2);
    let test_servers: Vec<String> = env.sim.inspect().sites["site-b"]
        .servers
        .iter()
        .map(|s| s.name.clone())
        .filter(|name| name.contains(&leaving.instance_name))
        .collect();
    assert!(test_servers.is_empty(), "{test_servers:?}");
}
