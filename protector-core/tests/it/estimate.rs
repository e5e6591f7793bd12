//! RTO estimate (issue 16 item 4): a plan states the expected recovery time per boot wave and
//! in total, from conservative defaults before any run and from measured earlier runs after;
//! the operation keeps its estimate and reports it against the actual time.

use crate::boot_order::{tier, GROUP};
use crate::common::{mappings, setup};
use protector_core::engine::{FailbackRequest, FailoverRequest, NoProgress};
use protector_core::model::OperationStatus;
use protector_mock::Service;

/// Every call to either site costs this much real time: the runs' durations are then made of
/// the same calls at the same price, not of scheduling noise, so two runs of the same plan
/// take close to the same time.
const LATENCY_MS: u64 = 20;

/// How far the measured estimate may be from the actual run: the second failover makes the
/// same calls as the first (same members, volumes, waves), so its duration is the first's
/// within the noise of the runtime; ±50% leaves room for a loaded machine without letting a
/// wrong model (a missing wave, storage counted per member instead of per volume round) pass.
const MARGIN: f64 = 0.5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_estimate_is_default_first_then_measured_and_close_to_the_actual_run() {
    let env = setup().await;
    tier(&env).await;
    for site in ["site-a", "site-b"] {
        for service in Service::ALL {
            env.sim.set_latency_ms(site, service, LATENCY_MS).unwrap();
        }
    }
    let request = || FailoverRequest::planned(mappings());

    let plan = env.engine.plan_failover(GROUP, &request()).await.unwrap();
    let first = plan.estimate.clone().unwrap();
    assert!(first.basis.starts_with("default"), "{}", first.basis);
    assert_eq!(first.measured_runs, 0);
    assert_eq!(first.waves.len(), 3, "{first:?}");
    assert_eq!(first.volumes, 4);
    // Defaults: 60 s preparation, 180 s per storage round (4 volumes, 4 at once), 240 s per
    // wave (one server each), 30 s finalization.
    assert_eq!(first.recovery_secs, 60.0 + 180.0 + 3.0 * 240.0);
    assert_eq!(first.total_secs, first.recovery_secs + 30.0);
    let op = env
        .engine
        .failover(GROUP, request(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:#?}");
    assert_eq!(op.estimate.as_ref(), Some(&first));
    let summary = op.rto_summary().unwrap();
    assert!(
        summary.contains("estimated 16m 0s to the last server ACTIVE"),
        "{summary}"
    );
    assert!(summary.contains("; actual "), "{summary}");

    env.engine
        .failback(GROUP, FailbackRequest::default(), &NoProgress)
        .await
        .unwrap();

    let plan = env.engine.plan_failover(GROUP, &request()).await.unwrap();
    let measured = plan.estimate.clone().unwrap();
    assert_eq!(measured.measured_runs, 1, "{measured:?}");
    assert_eq!(
        measured.basis,
        "measured over 1 earlier failover into site-b"
    );
    let op = env
        .engine
        .execute_failover(&plan, &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:#?}");
    let actual = op.recovery_secs().unwrap();
    let total = op.total_secs().unwrap();
    for (what, estimated, actual) in [
        ("recovery", measured.recovery_secs, actual),
        ("total", measured.total_secs, total),
    ] {
        let ratio = actual / estimated;
        eprintln!("{what}: estimated {estimated}s, actual {actual}s, ratio {ratio:.2}");
        assert!(
            (1.0 - MARGIN..=1.0 + MARGIN).contains(&ratio),
            "{what}: estimated {estimated}s, actual {actual}s ({measured:#?})"
        );
    }
}
