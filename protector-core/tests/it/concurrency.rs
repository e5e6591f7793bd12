//! Two operations on one group at once: two operators, two processes, or two engines on the same
//! stores. Exactly one claims the group; the other is refused before it changes anything, and
//! nothing the winner did is undone. Each race runs many times with real injected latency, so
//! the two runs interleave at every call; the invariants are checked after every round.

use crate::common;

use std::sync::Arc;

use crate::common::{mappings, setup, sites_only, Env, MEMBERS};
use protector_core::engine::{
    CreateGroup, EngineOptions, FailbackRequest, FailoverRequest, NoProgress, PollPolicy,
    TestFailoverRequest,
};
use protector_core::error::ErrorKind;
use protector_core::model::{
    GroupStatus, Operation, OperationStatus, ProtectionGroup, ReplicationType, ResourceMappings,
};
use protector_core::plan::FailoverMode;
use protector_core::{Protector, Result};
use protector_mock::{Inventory, Service};

const GROUP: &str = "prod-web-app";
const ROUNDS: usize = 20;

/// A second engine on the same stores and simulator: another operator's process.
fn second_engine(env: &Env) -> Protector {
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

/// Real latency on every service of both sites, so the two runs interleave call by call.
fn slow_down(env: &Env) {
    for site in ["site-a", "site-b"] {
        for service in [
            Service::Identity,
            Service::Compute,
            Service::Volume,
            Service::Network,
            Service::Array,
        ] {
            env.sim.set_latency_ms(site, service, 1).unwrap();
        }
    }
}

/// One of the two ran to `completed`; the other was refused (an error of a refusal kind),
/// never a second operation that ran.
fn one_winner(round: usize, outcomes: [Result<Operation>; 2]) -> Operation {
    let mut winners = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(op) => {
                assert_eq!(
                    op.status,
                    OperationStatus::Completed,
                    "round {round}: {:?}",
                    op.error_message
                );
                winners.push(op);
            }
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Conflict | ErrorKind::ValidationFailed | ErrorKind::OutOfSync
                ),
                "round {round}: the loser must be refused, got {:?}: {e}",
                e.kind()
            ),
        }
    }
    assert_eq!(winners.len(), 1, "round {round}: exactly one run wins");
    winners.remove(0)
}

/// Member servers ACTIVE on `site`, by name.
fn running(inventory: &Inventory, site: &str) -> Vec<String> {
    let mut names: Vec<String> = inventory.sites[site]
        .servers
        .iter()
        .filter(|s| s.status == "ACTIVE")
        .map(|s| s.name.clone())
        .filter(|n| MEMBERS.iter().any(|m| n.ends_with(m)))
        .collect();
    names.sort();
    names
}

fn all_members() -> Vec<String> {
    let mut names: Vec<String> = MEMBERS.iter().map(|m| m.to_string()).collect();
    names.sort();
    names
}

/// Both stores hold the same group, no operation holds it, and it records `winner`.
async fn settled(env: &Env, round: usize, status: GroupStatus, site: &str, winner: &Operation) {
    let (a, b) = common::groups(env).await;
    assert_eq!(a, b, "round {round}: both sites hold the same metadata");
    assert_eq!(a.status, status, "round {round}");
    assert_eq!(a.current_primary_site, site, "round {round}");
    assert_eq!(a.active_operation_id, None, "round {round}");
    assert_eq!(a.last_operation_id, Some(winner.id), "round {round}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_planned_failovers_of_one_group_never_both_run() {
    for round in 0..ROUNDS {
        let env = setup().await;
        let other = second_engine(&env);
        slow_down(&env);
        let (first, second) = tokio::join!(
            env.engine
                .failover(GROUP, FailoverRequest::planned(mappings()), &NoProgress),
            other.failover(GROUP, FailoverRequest::planned(mappings()), &NoProgress),
        );
        let winner = one_winner(round, [first, second]);
        let inventory = env.sim.inspect();
        assert_eq!(
            running(&inventory, "site-a"),
            Vec::<String>::new(),
            "round {round}"
        );
        assert_eq!(
            running(&inventory, "site-b"),
            all_members(),
            "round {round}"
        );
        let site_b = &inventory.sites["site-b"];
        assert_eq!(
            site_b.servers.len(),
            3,
            "round {round}: no duplicate server"
        );
        assert_eq!(
            site_b.volumes.len(),
            4,
            "round {round}: no duplicate volume"
        );
        assert_eq!(site_b.ports.len(), 4, "round {round}: no duplicate port");
        settled(&env, round, GroupStatus::FailedOver, "site-b", &winner).await;
        let (a, _) = common::groups(&env).await;
        assert_eq!(a.failover_count, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_failbacks_of_one_group_never_both_run() {
    let reverse = || FailbackRequest {
        reverse_replication: true,
        ..FailbackRequest::default()
    };
    for round in 0..ROUNDS {
        let env = setup().await;
        let op = common::planned_failover(&env).await.unwrap();
        assert_eq!(
            op.status,
            OperationStatus::Completed,
            "{:?}",
            op.error_message
        );
        let other = second_engine(&env);
        slow_down(&env);
        let (first, second) = tokio::join!(
            env.engine.failback(GROUP, reverse(), &NoProgress),
            other.failback(GROUP, reverse(), &NoProgress),
        );
        let winner = one_winner(round, [first, second]);
        let inventory = env.sim.inspect();
        assert_eq!(
            running(&inventory, "site-a"),
            all_members(),
            "round {round}"
        );
        assert_eq!(
            running(&inventory, "site-b"),
            Vec::<String>::new(),
            "round {round}"
        );
        settled(&env, round, GroupStatus::Active, "site-a", &winner).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_drills_of_one_group_never_both_run() {
    let request = || TestFailoverRequest {
        recovery_point: None,
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
    };
    for round in 0..ROUNDS {
        let env = setup().await;
        env.sim.tick(320).unwrap();
        let other = second_engine(&env);
        slow_down(&env);
        let (first, second) = tokio::join!(
            env.engine.test_failover(GROUP, request(), &NoProgress),
            other.test_failover(GROUP, request(), &NoProgress),
        );
        let winner = one_winner(round, [first, second]);
        let inventory = env.sim.inspect();
        // Production untouched, exactly one set of test VMs.
        assert_eq!(
            running(&inventory, "site-a"),
            all_members(),
            "round {round}"
        );
        let tests = inventory.sites["site-b"]
            .servers
            .iter()
            .filter(|s| s.name.starts_with("test-"))
            .count();
        assert_eq!(tests, 3, "round {round}: one drill's servers");
        let (a, b) = common::groups(&env).await;
        assert_eq!(a, b, "round {round}");
        let drill = a.test_failover.expect("the winner's drill is recorded");
        assert_eq!(drill.operation_id, winner.id, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_unplanned_failovers_from_the_surviving_site_never_both_run() {
    for round in 0..ROUNDS {
        let env = setup().await;
        env.sim.tick(320).unwrap();
        env.sim.set_site_down("site-a", true).unwrap();
        let (one, two) = (engine_on(&env, "site-b"), engine_on(&env, "site-b"));
        slow_down(&env);
        let request = || FailoverRequest {
            mode: FailoverMode::Unplanned,
            ..FailoverRequest::planned(mappings())
        };
        let (first, second) = tokio::join!(
            one.failover(GROUP, request(), &NoProgress),
            two.failover(GROUP, request(), &NoProgress),
        );
        let winner = one_winner(round, [first, second]);
        env.sim.clear().unwrap();
        let inventory = env.sim.inspect();
        assert_eq!(
            running(&inventory, "site-b"),
            all_members(),
            "round {round}"
        );
        let site_b = &inventory.sites["site-b"];
        assert_eq!(
            site_b.servers.len(),
            3,
            "round {round}: no duplicate server"
        );
        assert_eq!(
            site_b.volumes.len(),
            4,
            "round {round}: no duplicate volume"
        );
        assert_eq!(site_b.ports.len(), 4, "round {round}: no duplicate port");
        let group = env.store_b.list_groups().await.unwrap().remove(0);
        assert_eq!(group.status, GroupStatus::FailedOver, "round {round}");
        assert_eq!(group.active_operation_id, None, "round {round}");
        assert_eq!(group.last_operation_id, Some(winner.id), "round {round}");
    }
}

fn create(name: &str) -> CreateGroup {
    CreateGroup {
        name: name.into(),
        description: String::new(),
        replication_type: ReplicationType::Async,
        primary_site: "site-a".into(),
        secondary_site: "site-b".into(),
        volume_type: "replicated-ssd".into(),
    }
}

/// Groups named `name` in each store.
async fn named(env: &Env, name: &str) -> (Vec<ProtectionGroup>, Vec<ProtectionGroup>) {
    let pick = |groups: Vec<ProtectionGroup>| {
        groups
            .into_iter()
            .filter(|g| g.name == name)
            .collect::<Vec<_>>()
    };
    (
        pick(env.store_a.list_groups().await.unwrap()),
        pick(env.store_b.list_groups().await.unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_creates_of_one_name_at_once_make_one_group() {
    for round in 0..ROUNDS {
        let env = sites_only().await;
        let other = second_engine(&env);
        slow_down(&env);
        let (first, second) = tokio::join!(
            env.engine.create_group(create("web")),
            other.create_group(create("web")),
        );
        let created: Vec<_> = [first, second]
            .into_iter()
            .filter_map(|r| match r {
                Ok(group) => Some(group),
                Err(e) => {
                    assert!(
                        matches!(e.kind(), ErrorKind::AlreadyExists | ErrorKind::Conflict),
                        "round {round}: {:?}: {e}",
                        e.kind()
                    );
                    None
                }
            })
            .collect();
        assert_eq!(created.len(), 1, "round {round}: one create wins");
        let (a, b) = named(&env, "web").await;
        assert_eq!(a, created, "round {round}: one group on site-a");
        assert_eq!(b, created, "round {round}: the same group on site-b");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_of_one_name_on_both_sites_at_once_never_diverge() {
    for round in 0..ROUNDS {
        let env = sites_only().await;
        let on_b = engine_on(&env, "site-b");
        slow_down(&env);
        let (first, second) = tokio::join!(
            env.engine.create_group(create("web")),
            on_b.create_group(create("web")),
        );
        let created = [first, second].into_iter().filter(|r| r.is_ok()).count();
        assert!(created <= 1, "round {round}");
        let (a, b) = named(&env, "web").await;
        assert!(a.len() <= 1, "round {round}: {a:?}");
        assert_eq!(
            a, b,
            "round {round}: both sites hold the same groups of that name"
        );
    }
}

#[tokio::test]
async fn a_claim_from_a_stale_version_is_refused_naming_the_running_operation() {
    // Engine 1 claims the group; a planned failover that engine 2 planned before that claim
    // is refused at its own claim, and the group stays with engine 1's operation.
    let env = setup().await;
    let other = second_engine(&env);
    let plan = other
        .plan_failover(GROUP, &FailoverRequest::planned(mappings()))
        .await
        .unwrap();
    let op = common::planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    let before = env.sim.inspect();
    let (a_before, _) = common::groups(&env).await;

    // The stale plan runs anyway (its validation would refuse it; the store must too).
    let err = other
        .execute_failover(&plan, &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Conflict | ErrorKind::InvalidInput),
        "{:?}: {err}",
        err.kind()
    );
    let (a_after, b_after) = common::groups(&env).await;
    assert_eq!(a_after, a_before, "nothing changed in site-a's store");
    assert_eq!(b_after, a_before, "nothing changed in site-b's store");
    assert_eq!(
        common::shape(&env.sim.inspect()),
        common::shape(&before),
        "nothing changed on either site"
    );
}
