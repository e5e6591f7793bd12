//! RTO estimate (issue 16 item 4): a plan states the expected recovery time per boot wave and
//! in total, from conservative defaults before any run and from measured earlier runs after;
//! the operation keeps its estimate and reports it against the actual time.

use crate::boot_order::{tier, GROUP};
use crate::common::{mappings, setup};
use protector_core::engine::{FailbackRequest, FailoverRequest, NoProgress};
use protector_core::model::{seconds_between, OperationStatus, Phase};
use protector_mock::Service;

/// Every call to either site costs this much real time, so that each part of a run (its
/// preparation, storage, waves and re-protection) lasts long enough to be measured.
const LATENCY_MS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_estimate_is_default_first_then_measured_on_the_earlier_run_s_record() {
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
    let earlier = op;

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
    // Measured on the earlier run's own record, not on a clock read now: its preparation
    // (start to the first storage step), its storage round (to the first wave), and its
    // finalization (the last server ACTIVE to the end of the operation, re-protection
    // included), so the estimated total counts everything the actual total counts.
    let first_wave = earlier
        .boot_waves
        .iter()
        .map(|w| w.started_at)
        .min()
        .unwrap();
    let last_wave = earlier
        .boot_waves
        .iter()
        .filter_map(|w| w.finished_at)
        .max()
        .unwrap();
    let storage_start = earlier
        .step_times
        .iter()
        .filter(|s| s.phase == Phase::Storage)
        .map(|s| s.started_at)
        .min()
        .unwrap();
    let completed = earlier.completed_at.unwrap();
    assert_eq!(
        measured.preparation_secs,
        seconds_between(earlier.started_at, storage_start)
    );
    assert_eq!(
        measured.storage_secs,
        seconds_between(storage_start, first_wave)
    );
    assert_eq!(
        measured.finalization_secs,
        seconds_between(last_wave, completed)
    );
    assert!(
        measured.finalization_secs >= seconds_between(earlier.recovered_at.unwrap(), completed),
        "re-protection is part of the measured finalization: {measured:?}"
    );
    assert!(measured.waves.iter().all(|w| w.secs > 0.0), "{measured:?}");
    // Each part is rounded to the millisecond on its own.
    let parts = measured.recovery_secs + measured.finalization_secs;
    assert!((measured.total_secs - parts).abs() < 0.0015, "{measured:?}");
    let op = env
        .engine
        .execute_failover(&plan, &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:#?}");
    assert_eq!(op.estimate.as_ref(), Some(&measured));
    let summary = op.rto_summary().unwrap();
    assert!(
        summary.contains("(measured over 1 earlier failover into site-b); actual "),
        "{summary}"
    );
}
