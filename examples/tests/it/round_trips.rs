//! Keystone round trips over the wire (issue 11): how many requests reach Keystone before an
//! operation's first side effect (the first POST/PUT/PATCH/DELETE to Nova, Cinder, Neutron or
//! an array, server actions included), counted by the simulator's HTTP face. Each scenario runs
//! with a fresh engine (no token cached, as a new `protector` process starts) and prints its
//! numbers (`cargo test -p examples --test it round_trips -- --nocapture`; set
//! `ROUND_TRIPS_TRACE=1` for every request), so that the note can quote them; the bounds are
//! the numbers reached, so a regression fails here.
//!
//! Before this work (main at 716a9f6): 13 Keystone round trips before a planned failover's
//! first side effect (14 in all), 24 before a ten-group site failover's (97 in all).

use std::collections::BTreeMap;

use crate::common::{assert_completed, failover_mappings, setup, Credentials, Env, Face, GROUP};
use crate::site_failover::{build, request as site_failover_request, scenario};

use protector_core::engine::{FailoverRequest, NoProgress, OperationRequest};
use protector_core::model::OperationStatus;
use protector_core::plan::FailoverMode;
use protector_core::ErrorKind;
use protector_mock::http::{RequestLog, ServedRequest};
use protector_mock::Service;

/// The most Keystone requests a planned failover of the README's three-VM group makes before
/// it stops the first VM, submitted and run as `protector dr failover` does: at submit one
/// token per site (issuing it is the reachability check), at run one check per site.
const PLANNED_FAILOVER_BEFORE_SIDE_EFFECT: usize = 4;
/// The most Keystone requests of the whole planned failover.
const PLANNED_FAILOVER_TOTAL: usize = 4;
/// The most Keystone requests a planned site failover of ten groups in three tenants makes
/// before its first side effect: the dr_site_admin check issues site-a's token, the first
/// group's check of site-b issues site-b's (the other groups that start at once wait for that
/// answer); the first groups are the admin's own project's.
const SITE_FAILOVER_BEFORE_SIDE_EFFECT: usize = 2;
/// The most Keystone requests of the whole ten-group site failover: one token per site and
/// per tenant project scope (tenant2 and tenant3 on both sites), each site's answer reused by
/// every group's planning, validation and execution.
const SITE_FAILOVER_TOTAL: usize = 6;

/// What the Keystone requests of `requests` were, by site and call, for the report.
fn keystone_calls(requests: &[ServedRequest]) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for r in requests.iter().filter(|r| r.service == Service::Identity) {
        *calls.entry(format!("{} {}", r.site, r.call())).or_default() += 1;
    }
    calls
}

/// (Keystone requests before the first side effect, Keystone requests in all), printed with
/// their breakdown.
fn report(what: &str, log: &RequestLog) -> (usize, usize) {
    let all = log.requests();
    let before = log.before_first_side_effect();
    let first = all.iter().find(|r| r.is_side_effect());
    let keystone =
        |rs: &[ServedRequest]| rs.iter().filter(|r| r.service == Service::Identity).count();
    let (before_count, total) = (keystone(&before), keystone(&all));
    eprintln!(
        "{what}: {before_count} Keystone round trips before the first side effect ({}), {total} in all; {} requests in all",
        first.map_or_else(|| "none".to_string(), |r| format!("{} {}", r.site, r.call())),
        all.len()
    );
    eprintln!(
        "  before the first side effect: {:?}",
        keystone_calls(&before)
    );
    eprintln!("  in all: {:?}", keystone_calls(&all));
    if std::env::var_os("ROUND_TRIPS_TRACE").is_some() {
        for r in &all {
            eprintln!(
                "    {:>4} {} {:?} {} {}",
                r.seq,
                r.site,
                r.service,
                r.call(),
                r.status
            );
        }
    }
    (before_count, total)
}

fn server(env: &Env) -> &protector_mock::http::SimServer {
    env.server.as_ref().expect("the wire face")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_failover_keystone_round_trips() {
    let env = setup(Face::Wire).await;
    // A fresh engine: no token cached, as `protector dr failover` starts.
    let engine = env.engine_as(Credentials::Sites);
    let log = server(&env).requests();
    log.clear();

    let submitted = engine
        .submit(OperationRequest::Failover {
            group: GROUP.into(),
            request: FailoverRequest::planned(failover_mappings()),
        })
        .await
        .unwrap();
    let op = engine
        .run(submitted.operation.id, NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.instances_created, 3);

    let (before, total) = report("planned failover of prod-web-app (3 VMs)", log);
    // Planned once, at submit: the run executes the submitted plan (the group is unchanged).
    let flavor_reads = log
        .requests()
        .iter()
        .filter(|r| r.site == "site-b" && r.call() == "GET /v2.1/flavors/detail")
        .count();
    assert_eq!(flavor_reads, 1, "the target's flavors are read by one plan");
    assert!(
        before <= PLANNED_FAILOVER_BEFORE_SIDE_EFFECT,
        "{before} Keystone round trips before the first side effect (at most {PLANNED_FAILOVER_BEFORE_SIDE_EFFECT})"
    );
    assert!(
        total <= PLANNED_FAILOVER_TOTAL,
        "{total} Keystone round trips in all (at most {PLANNED_FAILOVER_TOTAL})"
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_failover_of_ten_groups_keystone_round_trips() {
    let world = build(Face::Wire, scenario()).await;
    let env = &world.env;
    let engine = env.engine_as(Credentials::Sites);
    let log = server(env).requests();
    log.clear();

    let op = engine
        .site_failover(
            "site-a",
            site_failover_request(FailoverMode::Planned, &[]),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.completed_count, Some(10));

    let (before, total) = report("planned site failover of ten groups", log);
    assert!(
        before <= SITE_FAILOVER_BEFORE_SIDE_EFFECT,
        "{before} Keystone round trips before the first side effect (at most {SITE_FAILOVER_BEFORE_SIDE_EFFECT})"
    );
    assert!(
        total <= SITE_FAILOVER_TOTAL,
        "{total} Keystone round trips in all (at most {SITE_FAILOVER_TOTAL})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failover_plans_again_when_its_group_changed_after_submit() {
    let env = setup(Face::Wire).await;
    let engine = env.engine_as(Credentials::Sites);
    let submitted = engine
        .submit(OperationRequest::Failover {
            group: GROUP.into(),
            request: FailoverRequest::planned(failover_mappings()),
        })
        .await
        .unwrap();
    assert_eq!(submitted.plan.as_ref().unwrap().members.len(), 3);
    // The group changes before the run: one member leaves it (a new metadata version).
    let leaving = engine
        .members(GROUP)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.instance_name == "web-server-2")
        .unwrap();
    engine
        .remove_member(GROUP, &leaving.id.to_string())
        .await
        .unwrap();

    let op = engine
        .run(submitted.operation.id, NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    // The run planned again: the member that left stays where it is.
    assert_eq!(op.instances_created, 2);
    let inventory = env.sim.inspect();
    let on = |site: &str, name: &str| {
        inventory.sites[site]
            .servers
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.status.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(on("site-a", "web-server-2"), ["ACTIVE"]);
    assert!(on("site-b", "web-server-2").is_empty());
    assert_eq!(on("site-b", "web-server-1"), ["ACTIVE"]);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_lost_between_submit_and_run_is_found_by_the_runs_own_check() {
    let env = setup(Face::Wire).await;
    let engine = env.engine_as(Credentials::Sites);
    let submitted = engine
        .submit(OperationRequest::Failover {
            group: GROUP.into(),
            request: FailoverRequest::planned(failover_mappings()),
        })
        .await
        .unwrap();
    // The tokens of both sites are cached now; the target stops answering before the run.
    env.set_site_down("site-b", true).await;
    let log = server(&env).requests();
    log.clear();

    let err = engine
        .run(submitted.operation.id, NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.message().starts_with(
            "Cannot execute failover — remote site unreachable: site 'site-b' is unreachable"
        ),
        "{err}"
    );
    assert!(
        !log.requests().iter().any(|r| r.is_side_effect()),
        "nothing changed: {:?}",
        log.requests()
    );
    let op = engine
        .operation(&submitted.operation.id.to_string())
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let group = engine.group(GROUP).await.unwrap();
    assert_eq!(group.current_primary_site, "site-a");
    assert!(group.active_operation_id.is_none());
    env.shutdown().await;
}
