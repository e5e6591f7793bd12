//! What a rollback says when it cannot reach the target site to record its end state.

use std::sync::Mutex;

use crate::common::{groups, mappings, setup};
use protector_core::engine::{FailoverRequest, ProgressObserver};
use protector_core::model::{GroupStatus, Operation, OperationStatus};
use protector_mock::Simulator;

/// Takes `site` down once the operation has recorded `step` as completed.
struct DownAfter {
    sim: Simulator,
    site: &'static str,
    step: &'static str,
    done: Mutex<bool>,
}

impl ProgressObserver for DownAfter {
    fn on_update(&self, op: &Operation) {
        let mut done = self.done.lock().unwrap();
        if !*done && op.steps_completed.iter().any(|s| s == self.step) {
            self.sim.set_site_down(self.site, true).unwrap();
            *done = true;
        }
    }
}

#[tokio::test]
async fn a_rollback_that_cannot_reach_the_target_says_so_and_names_the_repair() {
    let env = setup().await;
    let observer = DownAfter {
        sim: env.sim.clone(),
        site: "site-b",
        step: "create_dr_record",
        done: Mutex::new(false),
    };
    let op = env
        .engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            &observer,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let message = op.error_message.clone().unwrap();
    assert!(!message.contains("nothing was left"), "{message}");
    assert!(
        message.contains(
            "site-b could not be told and still records protection group 'prod-web-app' as failing_over"
        ),
        "{message}"
    );
    assert!(message.contains("sync-force"), "{message}");
    let (a, b) = groups(&env).await;
    assert_eq!(
        b.status,
        GroupStatus::FailingOver,
        "site-b missed the rollback"
    );
    assert_ne!(a.status, GroupStatus::FailingOver, "site-a recorded it");
    assert_eq!(a.active_operation_id, None);

    // The named repair works once site-b is back.
    env.sim.set_site_down("site-b", false).unwrap();
    env.engine.sync_force("prod-web-app").await.unwrap();
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
}
