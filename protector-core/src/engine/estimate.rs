//! The recovery time an operation is expected to take, stated in its plan before it runs.
//!
//! The model (see [`RtoEstimate`]): preparation, storage per round of volumes, each boot wave
//! per round of servers, finalization, where a round is as many units as the engine works on
//! at once (its member concurrency). Each per-unit duration is the median over the last
//! [`HISTORY_RUNS`] completed operations of the same kind into the same site (their step
//! times and boot waves), or a conservative default when there is none:
//!
//! | part | default | why |
//! |---|---|---|
//! | preparation | 60 s | site checks and the group record pushed to both sites |
//! | storage, per round of volumes | 180 s | final snapshot, replication, array copy and Cinder manage |
//! | boot wave, per round of servers | 240 s | Nova boot from volume to ACTIVE (plus readiness) |
//! | finalization | 30 s | group record, metadata push and re-protection |
//!
//! Only completed runs count: a partial or failed run's timing says little about the next one.

use crate::engine::boot_order::plan_boot_order;
use crate::engine::Protector;
use crate::model::{
    seconds_between, Operation, OperationStatus, OperationType, Phase, RtoEstimate, WaveEstimate,
};
use crate::plan::Plan;
use crate::store::OperationQuery;

/// How many earlier operations an estimate measures at most (the most recent ones).
pub const HISTORY_RUNS: usize = 5;

const DEFAULT_PREPARATION_SECS: f64 = 60.0;
const DEFAULT_STORAGE_ROUND_SECS: f64 = 180.0;
const DEFAULT_WAVE_ROUND_SECS: f64 = 240.0;
const DEFAULT_FINALIZATION_SECS: f64 = 30.0;

/// One earlier run's per-unit durations.
#[derive(Debug, Clone, Copy)]
struct Sample {
    preparation: f64,
    storage_round: f64,
    wave_round: f64,
    finalization: f64,
}

impl Protector {
    /// Sets `plan`'s boot order and its estimate for an operation of `kind`, measured on this
    /// site's earlier operations (a store that cannot be read gives the defaults).
    pub(in crate::engine) async fn order_and_estimate(&self, plan: &mut Plan, kind: OperationType) {
        plan.boot_order = plan_boot_order(&plan.members);
        let query = OperationQuery::default()
            .of_types(&[kind])
            .in_statuses(&[OperationStatus::Completed])
            .into_site(&plan.target_site)
            .newest(HISTORY_RUNS + 1);
        let history = match self.store().query_operations(&query).await {
            Ok(history) => history,
            Err(e) => {
                tracing::warn!(error = %e, "no earlier operations to estimate from");
                Vec::new()
            }
        };
        plan.estimate = Some(estimate(
            plan,
            kind,
            &history,
            self.options().member_concurrency,
        ));
    }
}

/// `n` units at `concurrency` at once: how many rounds (at least one).
fn rounds(n: usize, concurrency: usize) -> f64 {
    n.div_ceil(concurrency.max(1)).max(1) as f64
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// What `op` (a completed run with its own estimate, step times and boot waves) measured.
fn sample(op: &Operation) -> Option<Sample> {
    let planned = op.estimate.as_ref()?;
    let first_wave = op.boot_waves.iter().map(|w| w.started_at).min()?;
    let last_wave = op
        .boot_waves
        .iter()
        .map(|w| w.finished_at)
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()?;
    let storage_start = op
        .step_times
        .iter()
        .filter(|s| s.phase == Phase::Storage)
        .map(|s| s.started_at)
        .min()
        .unwrap_or(first_wave);
    // Finalization runs from the last server ACTIVE to the operation's end: the group's record,
    // the metadata push and re-protection, all of which the actual total counts.
    let completed = op.completed_at?;
    let waves: Vec<f64> = op
        .boot_waves
        .iter()
        .filter(|w| !w.members.is_empty())
        .filter_map(|w| {
            let end = w.finished_at?;
            Some(seconds_between(w.started_at, end) / rounds(w.members.len(), planned.concurrency))
        })
        .collect();
    Some(Sample {
        preparation: seconds_between(op.started_at, storage_start),
        storage_round: seconds_between(storage_start, first_wave)
            / rounds(planned.volumes, planned.concurrency),
        wave_round: median(waves)?,
        finalization: seconds_between(last_wave, completed),
    })
}

/// `kind` in words, plural unless `n` is 1.
fn kind_words(kind: OperationType, n: usize) -> String {
    let one = match kind {
        OperationType::Failover => "failover",
        OperationType::Failback => "failback",
        OperationType::TestFailover => "DR drill",
        _ => "operation",
    };
    if n == 1 {
        one.to_string()
    } else {
        format!("{one}s")
    }
}

/// The estimate of `plan` run as a `kind` operation with `concurrency`, from `history` (any
/// operations; those measured are the last [`HISTORY_RUNS`] completed ones of `kind` into the
/// plan's target site).
pub(crate) fn estimate(
    plan: &Plan,
    kind: OperationType,
    history: &[Operation],
    concurrency: usize,
) -> RtoEstimate {
    let mut earlier: Vec<&Operation> = history
        .iter()
        .filter(|op| {
            op.operation_type == kind
                && op.status == OperationStatus::Completed
                && op.target_site == plan.target_site
                && op.id != plan.id
        })
        .collect();
    earlier.sort_by_key(|op| std::cmp::Reverse(op.started_at));
    let samples: Vec<Sample> = earlier
        .into_iter()
        .filter_map(sample)
        .take(HISTORY_RUNS)
        .collect();
    let measured = |f: fn(&Sample) -> f64, default: f64| {
        median(samples.iter().map(f).collect()).unwrap_or(default)
    };
    let preparation = measured(|s| s.preparation, DEFAULT_PREPARATION_SECS);
    let storage_round = measured(|s| s.storage_round, DEFAULT_STORAGE_ROUND_SECS);
    let wave_round = measured(|s| s.wave_round, DEFAULT_WAVE_ROUND_SECS);
    let finalization = measured(|s| s.finalization, DEFAULT_FINALIZATION_SECS);

    let volumes: usize = plan.members.iter().map(|m| m.volumes.len()).sum();
    let storage = storage_round * rounds(volumes, concurrency);
    let boot_order = if plan.boot_order.is_empty() {
        plan_boot_order(&plan.members)
    } else {
        plan.boot_order.clone()
    };
    let waves: Vec<WaveEstimate> = boot_order
        .iter()
        .map(|w| WaveEstimate {
            priority: w.priority,
            level: w.level,
            servers: w.members.len(),
            secs: wave_round * rounds(w.members.len(), concurrency),
        })
        .collect();
    let recovery = preparation + storage + waves.iter().map(|w| w.secs).sum::<f64>();
    let words = kind_words(kind, samples.len());
    let basis = if samples.is_empty() {
        format!(
            "default: no completed {words} into {} measured yet",
            plan.target_site
        )
    } else {
        format!(
            "measured over {} earlier {words} into {}",
            samples.len(),
            plan.target_site
        )
    };
    RtoEstimate {
        basis,
        measured_runs: samples.len(),
        volumes,
        concurrency: concurrency.max(1),
        preparation_secs: round_ms(preparation),
        storage_secs: round_ms(storage),
        waves: waves
            .into_iter()
            .map(|w| WaveEstimate {
                secs: round_ms(w.secs),
                ..w
            })
            .collect(),
        finalization_secs: round_ms(finalization),
        recovery_secs: round_ms(recovery),
        total_secs: round_ms(recovery + finalization),
    }
}

/// Milliseconds are as precise as the measurements.
fn round_ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::engine::test_plans::{member, plan};
    use crate::model::{StepTime, WaveRun};
    use crate::plan::FailoverMode;

    /// A completed failover of `plan` that started at `t0`: storage from +10 s, one boot
    /// wave from +40 s to +100 s (the workload runs at +101 s), re-protected by +130 s.
    fn run(plan: &Plan, t0: DateTime<Utc>) -> Operation {
        let at = |secs| t0 + Duration::seconds(secs);
        let mut op = Operation::start(
            OperationType::Failover,
            Some((&plan.group_id, &plan.group_name)),
            &plan.source_site,
            &plan.target_site,
            t0,
        );
        op.status = OperationStatus::Completed;
        op.estimate = Some(estimate(plan, OperationType::Failover, &[], 4));
        op.step_times.push(StepTime {
            name: "create_volumes_site_b".into(),
            phase: Phase::Storage,
            started_at: at(10),
            finished_at: Some(at(40)),
        });
        op.boot_waves.push(WaveRun {
            priority: 3,
            level: 0,
            members: plan
                .members
                .iter()
                .map(|m| m.instance_name.clone())
                .collect(),
            not_started: Vec::new(),
            failed: Vec::new(),
            started_at: at(40),
            finished_at: Some(at(100)),
        });
        op.recovered_at = Some(at(101));
        op.completed_at = Some(at(130));
        op
    }

    #[test]
    fn a_plan_measured_on_its_own_run_estimates_that_run_to_the_second() {
        let plan = plan(
            FailoverMode::Planned,
            vec![member("vm-0", false), member("vm-1", false)],
        );
        let earlier = run(&plan, Utc::now() - Duration::hours(1));
        let measured = estimate(
            &plan,
            OperationType::Failover,
            std::slice::from_ref(&earlier),
            4,
        );
        assert_eq!(measured.measured_runs, 1);
        assert_eq!(measured.preparation_secs, 10.0);
        assert_eq!(measured.storage_secs, 30.0);
        assert_eq!(measured.waves.len(), 1);
        assert_eq!(measured.waves[0].secs, 60.0);
        // Both ends of the estimate are the run's own: the last server ACTIVE and the end of
        // the operation, re-protection included.
        assert_eq!(Some(measured.recovery_secs), earlier.recovery_secs());
        assert_eq!(Some(measured.total_secs), earlier.total_secs());
        assert_eq!(measured.finalization_secs, 30.0);
    }

    #[test]
    fn medians_and_rounds() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
        assert_eq!(rounds(0, 4), 1.0);
        assert_eq!(rounds(9, 4), 3.0);
    }
}
