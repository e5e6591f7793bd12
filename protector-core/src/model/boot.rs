//! Boot order and recovery-time data: the waves a plan boots its members in, what each wave
//! did when it ran, and the recovery time estimated before a run (plain serde data; the
//! engine's `boot_order` and `estimate` modules compute them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Operation, Phase};

/// The priority a member gets when none is given: the middle of SRM's five priority groups.
pub const DEFAULT_PRIORITY: u8 = 3;
/// The first priority (booted first).
pub const HIGHEST_PRIORITY: u8 = 1;
/// The last priority (booted last).
pub const LOWEST_PRIORITY: u8 = 5;

/// Serde default of `Member::priority` (records written before priorities existed).
pub(crate) fn default_priority() -> u8 {
    DEFAULT_PRIORITY
}

/// Members booted together: every server of a wave is created at once (with the engine's
/// member concurrency), and the next wave starts only when each of them is ACTIVE or failed.
///
/// Waves come in priority order (1 first); inside a priority tier, a member's wave comes
/// after the waves of everything it depends on (`level` 0 depends on nothing in the tier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootWave {
    /// The priority tier (1-5).
    pub priority: u8,
    /// Dependency level inside the tier.
    pub level: u32,
    /// Instance names of its members.
    pub members: Vec<String>,
}

/// One boot wave as it ran (kept on the operation, so the order is observable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaveRun {
    /// The priority tier (1-5).
    pub priority: u8,
    /// Dependency level inside the tier.
    pub level: u32,
    /// Instance names of the members booted in it.
    pub members: Vec<String>,
    /// Members of the wave not started because something they depend on failed.
    #[serde(default)]
    pub not_started: Vec<String>,
    /// Members of the wave that did not become ACTIVE.
    #[serde(default)]
    pub failed: Vec<String>,
    /// When its first server was requested.
    pub started_at: DateTime<Utc>,
    /// When its last server was verified ACTIVE (or failed); `None` while it runs.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// When one step of an operation started and ended (the input of later estimates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepTime {
    /// Step name (`create_volumes_site_b`).
    pub name: String,
    /// Its phase.
    pub phase: Phase,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while it runs or when it failed.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
}

/// The expected duration of one boot wave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaveEstimate {
    /// The priority tier (1-5).
    pub priority: u8,
    /// Dependency level inside the tier.
    pub level: u32,
    /// Servers booted in it.
    pub servers: usize,
    /// Seconds from its first request to its last server ACTIVE.
    pub secs: f64,
}

// Every number is finite (durations and medians of them), so equality is total.
impl Eq for WaveEstimate {}

/// The recovery time an operation is expected to take, stated before it runs.
///
/// The model: preparation (a fixed time), storage (per round of `concurrency` volumes copied
/// and managed), each boot wave (per round of `concurrency` servers booted), finalization (a
/// fixed time). Each per-unit duration is the median over the last completed operations of
/// the same kind into the same site, or a conservative default when there are none
/// (`basis` says which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtoEstimate {
    /// Where the numbers come from: `measured over 3 earlier failovers into site-b` or
    /// `default (no earlier failover into site-b)`.
    pub basis: String,
    /// How many earlier operations were measured (0: defaults).
    pub measured_runs: usize,
    /// Volumes the storage phase copies and manages.
    pub volumes: usize,
    /// Members worked on at once.
    pub concurrency: usize,
    /// Seconds before the storage phase starts.
    pub preparation_secs: f64,
    /// Seconds of the storage phase (snapshot, copies, managed volumes, ports).
    pub storage_secs: f64,
    /// Each boot wave, in order.
    pub waves: Vec<WaveEstimate>,
    /// Seconds after the last server is ACTIVE (group record, metadata push).
    pub finalization_secs: f64,
    /// Seconds from the start to the last server ACTIVE: the recovery time objective to hold.
    pub recovery_secs: f64,
    /// Seconds from the start to the end of the operation.
    pub total_secs: f64,
}

impl Eq for RtoEstimate {}

impl RtoEstimate {
    /// One line per tier and the total, for the plan rendering.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "preparation {}, storage {} ({} volumes)",
            duration(self.preparation_secs),
            duration(self.storage_secs),
            self.volumes
        )];
        for wave in &self.waves {
            out.push(format!(
                "priority {} wave {}: {} ({} server{})",
                wave.priority,
                wave.level + 1,
                duration(wave.secs),
                wave.servers,
                if wave.servers == 1 { "" } else { "s" }
            ));
        }
        out.push(format!(
            "recovery (last server ACTIVE) {}, total {}; {}",
            duration(self.recovery_secs),
            duration(self.total_secs),
            self.basis
        ));
        out
    }
}

/// `75.2` → `1m 15s`; below 10 seconds with one decimal (`2.4s`).
pub fn duration(secs: f64) -> String {
    let secs = secs.max(0.0);
    if secs < 10.0 {
        return format!("{secs:.1}s");
    }
    let whole = secs.round() as u64;
    match (whole / 3600, whole % 3600 / 60, whole % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

impl Operation {
    /// Notes that step `name` (of `phase`) started at `at`; a step run again (a resumed
    /// run) starts again unless it had ended.
    pub fn note_step_started(&mut self, name: &str, phase: Phase, at: DateTime<Utc>) {
        match self.step_times.iter_mut().find(|s| s.name == name) {
            Some(step) if step.finished_at.is_some() => {}
            Some(step) => step.started_at = at,
            None => self.step_times.push(StepTime {
                name: name.to_string(),
                phase,
                started_at: at,
                finished_at: None,
            }),
        }
    }

    /// Notes that step `name` ended at `at` (once).
    pub fn note_step_done(&mut self, name: &str, at: DateTime<Utc>) {
        if let Some(step) = self
            .step_times
            .iter_mut()
            .find(|s| s.name == name && s.finished_at.is_none())
        {
            step.finished_at = Some(at);
        }
    }

    /// Seconds from the start to the last server verified ACTIVE, once every boot wave ended.
    pub fn recovery_secs(&self) -> Option<f64> {
        let last = self
            .boot_waves
            .iter()
            .map(|w| w.finished_at)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()?;
        Some(seconds_between(self.started_at, last))
    }

    /// Seconds from the start to the end, once ended.
    pub fn total_secs(&self) -> Option<f64> {
        self.completed_at
            .map(|end| seconds_between(self.started_at, end))
    }

    /// `RTO: estimated 5m 10s (default …), actual 12.0s to the last server ACTIVE, 14.2s in
    /// total`, when the operation was estimated.
    pub fn rto_summary(&self) -> Option<String> {
        let estimate = self.estimate.as_ref()?;
        let mut line = format!(
            "RTO: estimated {} to the last server ACTIVE, {} in total ({})",
            duration(estimate.recovery_secs),
            duration(estimate.total_secs),
            estimate.basis
        );
        match (self.recovery_secs(), self.total_secs()) {
            (Some(recovery), Some(total)) => line.push_str(&format!(
                "; actual {} to the last server ACTIVE, {} in total",
                duration(recovery),
                duration(total)
            )),
            (None, Some(total)) => {
                line.push_str(&format!("; actual {} in total", duration(total)));
            }
            _ => {}
        }
        Some(line)
    }
}

/// `end - start` in seconds (0 when `end` is earlier).
pub fn seconds_between(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    ((end - start).num_milliseconds().max(0) as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration(2.44), "2.4s");
        assert_eq!(duration(75.2), "1m 15s");
        assert_eq!(duration(42.0), "42s");
        assert_eq!(duration(f64::from(3 * 3600 + 120)), "3h 2m");
    }
}
