//! Nothing leaks when an answer is lost: a create that took effect although its caller saw a
//! timeout is found by its tag and removed by the rollback, and what a rollback could not reach
//! is removed by the next operation of the group (or by recovering the failed one).

use std::collections::BTreeSet;

use crate::common::{groups, mappings, planned_failover, setup, Env, MEMBERS};

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

/// A planned failover during which site-b goes down once the ports are made: the instances
/// cannot be created, and the rollback cannot reach site-b to remove the volumes and ports.
async fn failover_losing_site_b_before_the_instances(env: &Env) -> Operation {
    // "Once the ports are made, before any instance": a moment only phase barriers have.
    crate::common::keep_phase_barriers(env).await;
    let sim = env.sim.clone();
    let observer = move |op: &Operation| {
        if op
            .steps_completed
            .iter()
            .any(|s| s == "create_ports_site_b")
        {
            sim.set_site_down("site-b", true).unwrap();
        }
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
    assert_eq!(op.status, OperationStatus::Failed, "{:?}", op.error_message);
    let message = op.error_message.clone().unwrap();
    assert!(!message.contains("nothing was left"), "{message}");
    assert!(
        message.contains(&format!("recover the operation op-{}", op.id)),
        "{message}"
    );
    let (servers, volumes, ports, array_volumes) = on_site_b(env);
    assert_eq!(servers, 0);
    assert!(
        volumes > 0 && ports > 0 && array_volumes > 0,
        "nothing was left on site-b"
    );
    for name in MEMBERS {
        assert_eq!(
            env.sim.find_server("site-a", name).unwrap().status,
            ServerStatus::Active,
            "{name} does not run on site-a"
        );
    }
    env.sim.set_site_down("site-b", false).unwrap();
    // The group's failed status could not be pushed to site-b while it was down.
    env.engine.sync_force("prod-web-app").await.unwrap();
    op
}

/// Site-b holds exactly what the members' placements there name: one set, nothing extra.
async fn assert_one_set_on_site_b(env: &Env) {
    let group = groups(env).await.0;
    let members = env.store_a.list_members(&group.id).await.unwrap();
    let placed: Vec<_> = members
        .iter()
        .map(|m| &m.current)
        .filter(|p| p.site == "site-b")
        .collect();
    assert_eq!(placed.len(), MEMBERS.len());
    let inventory = env.sim.inspect();
    let site = &inventory.sites["site-b"];
    let set = |ids: Vec<&String>| ids.into_iter().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        set(site.servers.iter().map(|s| &s.id).collect()),
        set(placed.iter().map(|p| &p.instance_id).collect())
    );
    assert_eq!(
        set(site.volumes.iter().map(|v| &v.id).collect()),
        set(placed.iter().flat_map(|p| &p.volume_ids).collect())
    );
    assert_eq!(
        set(site.ports.iter().map(|p| &p.id).collect()),
        set(placed.iter().flat_map(|p| &p.port_ids).collect())
    );
    assert_eq!(
        set(inventory.arrays["site-b"]
            .volumes
            .iter()
            .filter(|v| v.name.starts_with("protector-") || v.name.starts_with("volume-"))
            .map(|v| &v.name)
            .collect()),
        set(placed.iter().flat_map(|p| &p.array_volumes).collect())
    );
    assert_eq!(
        site.volumes.len(),
        site.servers.iter().map(|s| s.volumes.len()).sum::<usize>()
    );
}

#[tokio::test]
async fn the_next_failover_removes_what_an_unreachable_rollback_left() {
    let env = setup().await;
    failover_losing_site_b_before_the_instances(&env).await;
    assert_eq!(groups(&env).await.0.status, GroupStatus::Error);

    let op = planned_failover(&env).await.unwrap();
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
    assert_one_set_on_site_b(&env).await;
}

#[tokio::test]
async fn recovering_the_failed_failover_removes_what_it_left() {
    let env = setup().await;
    let failed = failover_losing_site_b_before_the_instances(&env).await;
    let id = format!("op-{}", failed.id);

    // Not while site-b is unreachable: refused, nothing changed.
    env.sim.set_site_down("site-b", true).unwrap();
    let before = on_site_b(&env);
    let err = env.engine.recover_operation(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains(&id), "{err}");
    assert_eq!(on_site_b(&env), before);
    env.sim.set_site_down("site-b", false).unwrap();

    let op = env.engine.recover_operation(&id).await.unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    assert!(
        op.error_message
            .as_deref()
            .unwrap()
            .contains("were removed"),
        "{:?}",
        op.error_message
    );
    assert_eq!(on_site_b(&env), (0, 0, 0, 0));
    // Again: nothing left to do, nothing changes.
    assert_eq!(env.engine.recover_operation(&id).await.unwrap(), op);

    let op = planned_failover(&env).await.unwrap();
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
    assert_one_set_on_site_b(&env).await;
}

/// A DR drill whose `operation` on `service` of site-b takes effect but loses its answer.
async fn drill_losing_one_answer(service: Service, operation: &str) -> (Env, Operation) {
    let env = setup().await;
    // The replication schedule (300 s) fires and its snapshot arrives on site-b.
    env.sim.tick(320).unwrap();
    lose_next_answer(&env, service, operation);
    let request = protector_core::engine::TestFailoverRequest {
        recovery_point: None,
        mappings: protector_core::model::ResourceMappings {
            networks: protector_core::model::ResourceMappings::parse_pairs(
                "network",
                ["net-primary-web=dr-test-net net-primary-db=dr-test-net"],
            )
            .unwrap(),
            flavors: protector_core::model::ResourceMappings::parse_pairs(
                "flavor",
                ["m1.large=m2.large"],
            )
            .unwrap(),
            ..Default::default()
        },
        operation_id: None,
    };
    let op = env
        .engine
        .test_failover("prod-web-app", request, &protector_core::engine::NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed, "{:?}", op.error_message);
    (env, op)
}

#[tokio::test]
async fn a_drill_rollback_removes_creates_whose_answer_was_lost() {
    for (service, operation) in [
        (Service::Volume, "manage_volume"),
        (Service::Network, "create_port"),
        (Service::Compute, "create_server"),
        (Service::Array, "copy_volume"),
    ] {
        let (env, op) = drill_losing_one_answer(service, operation).await;
        let message = op.error_message.unwrap();
        assert_eq!(
            on_site_b(&env),
            (0, 0, 0, 0),
            "{operation}: leftovers on site-b: {message}"
        );
        assert!(message.contains("nothing was left"), "{message}");
        assert!(groups(&env).await.0.test_failover.is_none());
    }
}

#[tokio::test]
async fn random_timeouts_on_site_b_never_leave_a_leak_the_rollback_denies() {
    for service in [Service::Volume, Service::Network, Service::Compute] {
        let env = setup().await;
        env.sim
            .set_error_rate(
                "site-b",
                service,
                0.2,
                protector_mock::InjectedError::Timeout,
            )
            .unwrap();
        // Planning reads only: a timeout there refuses the failover before anything changes.
        let op = loop {
            match planned_failover(&env).await {
                Ok(op) => break op,
                Err(e) => assert_eq!(on_site_b(&env), (0, 0, 0, 0), "{service}: {e}"),
            }
        };
        env.sim
            .set_error_rate(
                "site-b",
                service,
                0.0,
                protector_mock::InjectedError::Timeout,
            )
            .unwrap();
        let message = op.error_message.clone().unwrap_or_default();
        eprintln!("{service}: {:?}: {message}", op.status);
        if op.status == OperationStatus::Completed {
            assert_one_set_on_site_b(&env).await;
            continue;
        }
        assert_eq!(op.status, OperationStatus::Failed, "{service}: {message}");
        if message.contains("nothing was left") {
            assert_eq!(on_site_b(&env), (0, 0, 0, 0), "{service}: {message}");
        }
        // Whatever it left, the next failover removes before it builds the one set.
        let _ = env.engine.sync_force("prod-web-app").await;
        let op = planned_failover(&env).await.unwrap();
        assert_eq!(
            op.status,
            OperationStatus::Completed,
            "{service}: {:?}",
            op.error_message
        );
        assert_one_set_on_site_b(&env).await;
    }
}
