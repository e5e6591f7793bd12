//! One measured run: a fresh world, the latency injected, `protector` run and reaped, then
//! what it did read back from the request log, the operation record and its journal.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use protector_core::engine::{critical_path, CriticalPath, TestFailoverRequest};
use protector_core::model::{Operation, ResourceMappings};
use protector_core::plan::Plan;
use protector_core::store::{JournalKind, LocalEngine};
use protector_mock::http::ServedRequest;

use crate::checks;
use crate::measure::Protector;
use crate::report::RunMetrics;
use crate::scenario::{Kind, Scenario};
use crate::world::{open_engine, World};
use crate::Failure;

/// Runs `scenario` once with `latency` per call and the simulator at `pace` on `clock`, and
/// returns what it measured and the critical path of the plan it executed.
pub async fn run_once(
    scenario: &Scenario,
    latency: Duration,
    pace: protector_mock::Pace,
    clock: protector_mock::Clock,
    protector: &Protector,
    run: u32,
) -> Result<(RunMetrics, CriticalPath), Failure> {
    let world = World::build(scenario).await?;
    // A drill journals no plan: its plan is made here, as `--dry-run` would print it.
    let drill_plan = if scenario.kind == Kind::Drill {
        let engine = open_engine(&world.state_dir, scenario.kind.local_site(), &world.sim).await?;
        let request = TestFailoverRequest {
            mappings: ResourceMappings {
                networks: ResourceMappings::parse_pairs(
                    "network",
                    ["net-primary-bench=dr-test-net"],
                )
                .expect("valid pairs"),
                ..ResourceMappings::default()
            },
            ..TestFailoverRequest::default()
        };
        Some(
            engine
                .protector
                .plan_test_failover("bench", &request)
                .await
                .map_err(|e| Failure(format!("cannot plan the drill: {e}")))?,
        )
    } else {
        None
    };

    let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    world.set_latency(latency_ms, pace, clock)?;
    world.server.requests().clear();
    let child = {
        let protector = protector.clone();
        let state_dir = world.state_dir.clone();
        let clouds = world.clouds_yaml();
        let site = scenario.kind.local_site();
        let args = scenario.command();
        tokio::task::spawn_blocking(move || protector.run(&state_dir, site, &clouds, &args))
            .await
            .map_err(|e| Failure(format!("the measuring thread failed: {e}")))??
    };
    let requests = world.server.requests().requests();
    world.set_latency(
        0,
        protector_mock::Pace::Realistic,
        protector_mock::Clock::Calls,
    )?;
    if let Some(dir) = &protector.trace {
        let file = dir.join(format!("{}-{run}.log", scenario.name));
        std::fs::write(&file, &child.stderr)
            .map_err(|e| Failure(format!("cannot write {}: {e}", file.display())))?;
    }
    if child.exit_code != Some(0) {
        let tail: Vec<&str> = child.stderr.lines().rev().take(5).collect();
        return Err(Failure(format!(
            "protector {} exited {:?}: {}",
            scenario.command().join(" "),
            child.exit_code,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }

    let engine = open_engine(&world.state_dir, scenario.kind.local_site(), &world.sim).await?;
    let id = operation_id(&child.stdout)?;
    let op = engine
        .protector
        .operation(&id.to_string())
        .await
        .map_err(|e| Failure(format!("cannot read operation {id}: {e}")))?;
    let (plans, plan_source) = match drill_plan {
        Some(plan) => (vec![plan], "dry-run"),
        None => (executed_plans(&engine, &op).await?, "journal"),
    };
    let path = CriticalPath::longest(plans.iter().map(critical_path))
        .ok_or_else(|| Failure(format!("operation {id} executed no plan")))?;

    let inventory = world.sim.inspect();
    let mut results = vec![
        checks::completed(scenario, &op),
        checks::one_running_copy(scenario, &world, &inventory),
        checks::no_leaks(&engine.protector).await,
    ];
    // Zero loss is measured for planned failovers: a failback deletes the DR copies it
    // leaves, so their last write can no longer be read back once it has run.
    if matches!(scenario.kind, Kind::Failover | Kind::SiteFailover) {
        results.push(checks::zero_loss(&world, &inventory, &plans));
    }

    let (recovered, recorded) = recovered_at(&op);
    let (polls, polls_by_kind) = polls(&requests);
    let metrics = RunMetrics {
        calls: requests.len(),
        polls,
        polls_by_kind,
        calls_by_service: by_service(&requests),
        round_trips: path.round_trips(),
        bound_ms: millis(path.bound(latency)),
        wall_ms: millis(child.wall),
        recovered_ms: recovered
            .map(|t| (t - child.started).num_microseconds().unwrap_or(0) as f64 / 1000.0),
        recovered_at_recorded: recorded,
        cpu_ms: millis(child.cpu),
        sim_cpu_ms: millis(child.host_cpu),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        peak_rss_mb: child.max_rss as f64 / (1024.0 * 1024.0),
        plan_source,
        checks: results,
    };
    world.server.shutdown().await;
    Ok((metrics, path))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The id of the operation `protector ... --wait -f json` printed.
fn operation_id(stdout: &str) -> Result<Uuid, Failure> {
    let json: serde_json::Value = serde_json::from_str(stdout).map_err(|e| {
        Failure(format!(
            "protector printed no JSON record ({e}): {}",
            stdout.chars().take(200).collect::<String>()
        ))
    })?;
    let record = if json.is_array() { &json[0] } else { &json };
    ["operation_id", "id"]
        .iter()
        .find_map(|key| record[*key].as_str())
        .and_then(|id| Uuid::parse_str(id.trim_start_matches("op-")).ok())
        .ok_or_else(|| {
            Failure(format!(
                "protector's record has no operation id: {}",
                stdout.chars().take(300).collect::<String>()
            ))
        })
}

/// When the workload ran on the target: the operation's `recovered_at` when it records one,
/// else its completion; and whether it was `recovered_at`.
fn recovered_at(op: &Operation) -> (Option<DateTime<Utc>>, bool) {
    let json = serde_json::to_value(op).unwrap_or_default();
    match json
        .get("recovered_at")
        .and_then(|v| v.as_str())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        Some(t) => (Some(t.with_timezone(&Utc)), true),
        None => (op.completed_at, false),
    }
}

/// The plans the operation executed, from its journal (a site failover: each group's
/// failover's), in any store of the state directory.
async fn executed_plans(engine: &LocalEngine, op: &Operation) -> Result<Vec<Plan>, Failure> {
    let ids: Vec<Uuid> = if op.group_results.is_empty() {
        vec![op.id]
    } else {
        op.group_results
            .iter()
            .filter_map(|g| g.operation_id)
            .collect()
    };
    let mut plans = Vec::new();
    for id in ids {
        let mut found = None;
        for store in engine.stores.values() {
            let journal = store
                .list_journal(&id)
                .await
                .map_err(|e| Failure(format!("cannot read the journal of {id}: {e}")))?;
            found = journal
                .iter()
                .rev()
                .find(|e| e.kind == JournalKind::Planned)
                .and_then(|e| serde_json::from_value::<Plan>(e.detail["plan"].clone()).ok());
            if found.is_some() {
                break;
            }
        }
        plans.push(
            found.ok_or_else(|| Failure(format!("operation {id} journaled no executed plan")))?,
        );
    }
    Ok(plans)
}

/// `site service`, e.g. `site-b compute`.
fn service_key(r: &ServedRequest) -> String {
    format!("{} {}", r.site, r.service.as_str())
}

fn by_service(requests: &[ServedRequest]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in requests {
        *out.entry(service_key(r)).or_default() += 1;
    }
    out
}

/// The GET requests after the first side effect (waits and observations), counted per site,
/// service and route.
fn polls(requests: &[ServedRequest]) -> (usize, BTreeMap<String, usize>) {
    let mut kinds = BTreeMap::new();
    let mut total = 0;
    for r in requests
        .iter()
        .skip_while(|r| !r.is_side_effect())
        .filter(|r| r.method == "GET")
    {
        total += 1;
        *kinds
            .entry(format!("{} {}", service_key(r), r.call()))
            .or_default() += 1;
    }
    (total, kinds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protector_mock::Service;

    fn request(
        seq: u64,
        site: &str,
        service: Service,
        method: &str,
        template: &str,
    ) -> ServedRequest {
        ServedRequest {
            seq,
            site: site.into(),
            service,
            method: method.into(),
            template: template.into(),
            status: 200,
        }
    }

    #[test]
    fn polls_are_the_gets_after_the_first_side_effect() {
        let log = [
            request(1, "site-a", Service::Identity, "POST", "/v3/auth/tokens"),
            request(2, "site-a", Service::Compute, "GET", "/v2.1/servers/detail"),
            request(
                3,
                "site-a",
                Service::Compute,
                "POST",
                "/v2.1/servers/{id}/action",
            ),
            request(4, "site-a", Service::Compute, "GET", "/v2.1/servers/detail"),
            request(5, "site-a", Service::Compute, "GET", "/v2.1/servers/detail"),
            request(6, "site-b", Service::Array, "GET", "/api/{version}/volumes"),
        ];
        let (total, kinds) = polls(&log);
        assert_eq!(total, 3);
        assert_eq!(kinds["site-a compute GET /v2.1/servers/detail"], 2);
        assert_eq!(kinds["site-b array GET /api/{version}/volumes"], 1);
        let services = by_service(&log);
        assert_eq!(services["site-a compute"], 4);
        assert_eq!(services.values().sum::<usize>(), 6);
    }

    #[test]
    fn the_operation_id_comes_from_the_printed_record() {
        let id = Uuid::new_v4();
        assert_eq!(
            operation_id(&format!(
                "{{\"operation_id\": \"op-{id}\", \"status\": \"completed\"}}"
            ))
            .unwrap(),
            id
        );
        assert!(operation_id("Error: nope").is_err());
        assert!(operation_id("{\"status\": \"completed\"}").is_err());
    }
}
