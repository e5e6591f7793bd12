//! DR operations as recorded and shown to operators (spec/000 example 3).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationType {
    /// Planned or unplanned failover.
    Failover,
    /// Return to the original primary.
    Failback,
    /// DR drill.
    TestFailover,
    /// Drill cleanup.
    TestCleanup,
    /// Every group of a site.
    SiteFailover,
    /// Metadata sync.
    Sync,
}

impl OperationType {
    /// Every type.
    pub const ALL: [OperationType; 6] = [
        OperationType::Failover,
        OperationType::Failback,
        OperationType::TestFailover,
        OperationType::TestCleanup,
        OperationType::SiteFailover,
        OperationType::Sync,
    ];

    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationType::Failover => "failover",
            OperationType::Failback => "failback",
            OperationType::TestFailover => "test_failover",
            OperationType::TestCleanup => "test_cleanup",
            OperationType::SiteFailover => "site_failover",
            OperationType::Sync => "sync",
        }
    }
}

impl std::str::FromStr for OperationType {
    type Err = crate::Error;
    /// `failover`, `test_failover` (or `test-failover`), ...
    fn from_str(s: &str) -> crate::Result<Self> {
        named(
            OperationType::ALL,
            OperationType::as_str,
            "type",
            s,
            &s.trim().replace('-', "_"),
        )
    }
}

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    /// Recorded, not started.
    Pending,
    /// Running.
    Running,
    /// Finished, everything done.
    Completed,
    /// Finished with an error.
    Failed,
    /// Finished, some parts failed.
    Partial,
}

impl OperationStatus {
    /// Every status, in lifecycle order (for front-ends that tabulate them).
    pub const ALL: [OperationStatus; 5] = [
        OperationStatus::Pending,
        OperationStatus::Running,
        OperationStatus::Completed,
        OperationStatus::Failed,
        OperationStatus::Partial,
    ];

    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Pending => "pending",
            OperationStatus::Running => "running",
            OperationStatus::Completed => "completed",
            OperationStatus::Failed => "failed",
            OperationStatus::Partial => "partial",
        }
    }

    /// Whether the operation has finished.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OperationStatus::Completed | OperationStatus::Failed | OperationStatus::Partial
        )
    }
}

/// The four phases of spec/000 and their progress ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// 0–20: validate sites, mark the group, record the operation.
    Preparation,
    /// 20–60: quiesce, final replication, copy and import volumes.
    Storage,
    /// 60–90: ports and servers on the target.
    Instances,
    /// 90–100: group record, metadata sync.
    Finalization,
}

impl Phase {
    /// Progress range `[start, end)` of the phase.
    pub fn range(self) -> (u8, u8) {
        match self {
            Phase::Preparation => (0, 20),
            Phase::Storage => (20, 60),
            Phase::Instances => (60, 90),
            Phase::Finalization => (90, 100),
        }
    }

    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preparation => "preparation",
            Phase::Storage => "storage",
            Phase::Instances => "instances",
            Phase::Finalization => "finalization",
        }
    }
}

/// A DR operation record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Protector's id.
    pub id: Uuid,
    /// What it does.
    pub operation_type: OperationType,
    /// The group, if the operation is about one.
    pub group_id: Option<Uuid>,
    /// Group name at the time, for display.
    pub group_name: Option<String>,
    /// Where it is.
    pub status: OperationStatus,
    /// 0–100.
    pub progress: u8,
    /// Current phase.
    pub phase: Phase,
    /// Names of finished steps, in order.
    pub steps_completed: Vec<String>,
    /// Names of failed steps.
    pub steps_failed: Vec<String>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Site the workload leaves.
    pub source_site: String,
    /// Site the workload goes to.
    pub target_site: String,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time.
    pub completed_at: Option<DateTime<Utc>>,
    /// Servers created on the target.
    pub instances_created: u32,
    /// Servers that failed on the target.
    pub instances_failed: u32,
    /// Site failover: groups in scope.
    #[serde(default)]
    pub total_protection_groups: Option<u32>,
    /// Site failover: groups done.
    #[serde(default)]
    pub completed_count: Option<u32>,
    /// Site failover: groups failed.
    #[serde(default)]
    pub failed_count: Option<u32>,
    /// Data loss measured or estimated, in the words of the operation (for example
    /// "none: source stopped before the final replication").
    #[serde(default)]
    pub data_loss: Option<String>,
    /// Site failover: one entry per protection group in scope.
    #[serde(default)]
    pub group_results: Vec<GroupResult>,
    /// The boot waves as they ran, in order.
    #[serde(default)]
    pub boot_waves: Vec<super::WaveRun>,
    /// When each step started and ended (what later estimates measure).
    #[serde(default)]
    pub step_times: Vec<super::StepTime>,
    /// The recovery time estimated when it started.
    #[serde(default)]
    pub estimate: Option<super::RtoEstimate>,
    /// What went wrong without failing the operation: hooks whose failure only warns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// When the workload ran on the target (a failover's or failback's servers ACTIVE and the
    /// group recorded there), before re-protection: the recovery time is `recovered_at -
    /// started_at`. `None` before, and for operations that recover nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<DateTime<Utc>>,
}

/// The outcome of one protection group inside a site failover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// The group.
    pub group_id: Uuid,
    /// Its name.
    pub group_name: String,
    /// Its project.
    pub project_id: String,
    /// The group's own failover operation, once started.
    pub operation_id: Option<Uuid>,
    /// pending, running, completed, partial or failed.
    pub status: OperationStatus,
    /// Why it failed.
    pub error_message: Option<String>,
}

impl Operation {
    /// Seconds from the start until the workload ran on the target, once known.
    pub fn recovery_seconds(&self) -> Option<i64> {
        self.recovered_at
            .map(|at| (at - self.started_at).num_seconds().max(0))
    }

    /// A new running operation at 0%.
    pub fn start(
        operation_type: OperationType,
        group: Option<(&Uuid, &str)>,
        source_site: &str,
        target_site: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Operation {
            id: Uuid::new_v4(),
            operation_type,
            group_id: group.map(|(id, _)| *id),
            group_name: group.map(|(_, name)| name.to_string()),
            status: OperationStatus::Running,
            progress: 0,
            phase: Phase::Preparation,
            steps_completed: Vec::new(),
            steps_failed: Vec::new(),
            error_message: None,
            source_site: source_site.to_string(),
            target_site: target_site.to_string(),
            started_at: now,
            completed_at: None,
            instances_created: 0,
            instances_failed: 0,
            total_protection_groups: None,
            completed_count: None,
            failed_count: None,
            data_loss: None,
            group_results: Vec::new(),
            boot_waves: Vec::new(),
            step_times: Vec::new(),
            estimate: None,
            warnings: Vec::new(),
            recovered_at: None,
        }
    }
}

/// The values of `lists`, each a comma-separated list of words (`failed,partial`; blanks
/// skipped), parsed: the first unknown word's error.
pub(crate) fn parse_words<'a, T: std::str::FromStr<Err = crate::Error>>(
    lists: impl IntoIterator<Item = &'a str>,
) -> crate::Result<Vec<T>> {
    lists
        .into_iter()
        .flat_map(|list| list.split(','))
        .filter(|word| !word.trim().is_empty())
        .map(str::parse)
        .collect()
}

impl std::str::FromStr for OperationStatus {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        named(
            OperationStatus::ALL,
            OperationStatus::as_str,
            "status",
            s,
            s.trim(),
        )
    }
}

/// The value of `all` whose name is `spelled` (the user's `input`, trimmed and normalised), or
/// an error naming the operation `field` and listing the valid names.
fn named<T: Copy, const N: usize>(
    all: [T; N],
    name: fn(T) -> &'static str,
    field: &str,
    input: &str,
    spelled: &str,
) -> crate::Result<T> {
    all.into_iter()
        .find(|v| name(*v) == spelled)
        .ok_or_else(|| {
            crate::Error::invalid(format!(
                "unknown operation {field} '{input}': use one of {}",
                all.map(name).join(", ")
            ))
        })
}

#[cfg(test)]
mod status_tests {
    use super::OperationStatus as S;

    #[test]
    fn all_lists_every_status_once_in_order() {
        // A new status fails to compile here until it has a place in `ALL`.
        let position = |s: S| match s {
            S::Pending => 0,
            S::Running => 1,
            S::Completed => 2,
            S::Failed => 3,
            S::Partial => 4,
        };
        for (i, s) in S::ALL.iter().enumerate() {
            assert_eq!(position(*s), i, "{}", s.as_str());
        }
    }

    #[test]
    fn all_lists_every_type_once_and_each_is_spelled_as_serialized() {
        use super::OperationType as T;
        // A new type fails to compile here until it has a place in `ALL`.
        let position = |t: T| match t {
            T::Failover => 0,
            T::Failback => 1,
            T::TestFailover => 2,
            T::TestCleanup => 3,
            T::SiteFailover => 4,
            T::Sync => 5,
        };
        for (i, t) in T::ALL.iter().enumerate() {
            assert_eq!(position(*t), i, "{}", t.as_str());
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().to_string())
            );
        }
        for s in S::ALL {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().to_string())
            );
            assert_eq!(s.as_str().parse::<S>().unwrap(), s);
        }
        for t in T::ALL {
            assert_eq!(t.as_str().parse::<T>().unwrap(), t);
        }
        assert_eq!("test-failover".parse::<T>().unwrap(), T::TestFailover);
        let err = "finished".parse::<S>().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert_eq!(
            err.message(),
            "unknown operation status 'finished': use one of pending, running, completed, \
             failed, partial"
        );
    }
}
