//! Nothing leaks when an answer is lost: a create that took effect although its caller saw a
//! timeout is found by its tag and removed by the rollback, and what a rollback could not reach
//! is removed by the next operation of the group (or by recovering the failed one).

mod common;

use common::{groups, planned_failover, setup, Env, MEMBERS};

use protector_core::api::ServerStatus;
use protector_core::engine::FailoverRequest;
use protector_core::model::{GroupStatus, Operation, OperationStatus};
use protector_core::ErrorKind;
use protector_mock::Service;

/// Makes the next `operation` of `service` on site-b take effect and lose its answer.
fn lose_next_answer(env: &Env, service: Service, operation: &str) {
    env.sim
        .fail_next_after_apply(
            "site-b",
            service,
            operation,
            ErrorKind::Timeout,
            &format!("{operation} on site-b did not answer in time (test)"),
            1,
        )
        .unwrap();
}

/// What site-b holds: (servers, Cinder volumes, ports, array volumes not of the seed).
fn on_site_b(env: &Env) -> (usize, usize, usize, usize) {
    let inventory = env.sim.inspect();
    let site = &inventory.sites["site-b"];
    let array_volumes = inventory.arrays["site-b"]
        .volumes
        .iter()
        .filter(|v| v.name.starts_with("protector-") || v.name.starts_with("volume-"))
        .count();
    (
        site.servers.len(),
        site.volumes.len(),
        site.ports.len(),
        array_volumes,
    )
}

/// The source VMs run on site-a, and the group is back where it started.
async fn assert_back_on_site_a(env: &Env) {
    for name in MEMBERS {
        assert_eq!(
            env.sim.find_server("site-a", name).unwrap().status,
            ServerStatus::Active,
            "{name} does not run on site-a"
        );
    }
    let (a, b) = groups(env).await;
    assert_eq!(a, b);
    assert_eq!(a.status, GroupStatus::Active);
    assert_eq!(a.current_primary_site, "site-a");
}

async fn failover_losing_one_answer(service: Service, operation: &str) -> (Env, Operation) {
    let env = setup().await;
    lose_next_answer(&env, service, operation);
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Failed, "{:?}", op.error_message);
    (env, op)
}

#[tokio::test]
async fn a_managed_volume_whose_answer_was_lost_is_removed_by_the_rollback() {
    let (env, op) = failover_losing_one_answer(Service::Volume, "manage_volume").await;
    let message = op.error_message.unwrap();
    assert!(message.contains("did not answer"), "{message}");
    assert_eq!(
        on_site_b(&env),
        (0, 0, 0, 0),
        "leftovers on site-b: {message}"
    );
    assert!(
        message.contains("rolled back: nothing was left"),
        "{message}"
    );
    assert_back_on_site_a(&env).await;
}

#[tokio::test]
async fn a_port_whose_answer_was_lost_is_removed_by_the_rollback() {
    let (env, op) = failover_losing_one_answer(Service::Network, "create_port").await;
    let message = op.error_message.unwrap();
    assert_eq!(
        on_site_b(&env),
        (0, 0, 0, 0),
        "leftovers on site-b: {message}"
    );
    assert!(
        message.contains("rolled back: nothing was left"),
        "{message}"
    );
    assert_back_on_site_a(&env).await;
}

#[tokio::test]
async fn a_server_whose_answer_was_lost_is_removed_by_the_rollback() {
    let (env, op) = failover_losing_one_answer(Service::Compute, "create_server").await;
    let message = op.error_message.unwrap();
    assert_eq!(
        on_site_b(&env),
        (0, 0, 0, 0),
        "leftovers on site-b: {message}"
    );
    assert!(
        message.contains("rolled back: nothing was left"),
        "{message}"
    );
    assert_back_on_site_a(&env).await;
}

#[tokio::test]
async fn an_array_copy_whose_answer_was_lost_is_removed_by_the_rollback() {
    let (env, op) = failover_losing_one_answer(Service::Array, "copy_volume").await;
    let message = op.error_message.unwrap();
    assert_eq!(
        on_site_b(&env),
        (0, 0, 0, 0),
        "leftovers on site-b: {message}"
    );
    assert!(
        message.contains("rolled back: nothing was left"),
        "{message}"
    );
    assert_back_on_site_a(&env).await;
}
