//! Protection groups and the one function that owns their status transitions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::TestFailoverRecord;
use crate::error::{Error, ErrorKind, Result};

/// How the group's volumes replicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationType {
    /// FlashArray protection groups: periodic replicated snapshots, RPO above zero.
    Async,
    /// ActiveCluster pods: zero RPO.
    Sync,
}

impl ReplicationType {
    /// The spelling used in output and in Cinder extra specs.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationType::Async => "async",
            ReplicationType::Sync => "sync",
        }
    }
}

impl std::str::FromStr for ReplicationType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "async" => Ok(ReplicationType::Async),
            "sync" => Ok(ReplicationType::Sync),
            other => Err(Error::invalid(format!(
                "unknown replication type '{other}': use async or sync"
            ))),
        }
    }
}

/// Status of a protection group (spec/003, spec/001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    /// Consistency groups and array objects are being created.
    Creating,
    /// Running on `current_primary_site`, replication flowing.
    Active,
    /// A failover is in progress.
    FailingOver,
    /// Every member runs on the failover target.
    FailedOver,
    /// Some members run on the failover target, some failed.
    FailedOverPartial,
    /// A failback is in progress.
    FailingBack,
    /// An operation failed; see the operation record.
    Error,
    /// The group is being deleted.
    Deleting,
}

impl GroupStatus {
    /// Every status, in lifecycle order (for front-ends that tabulate them).
    pub const ALL: [GroupStatus; 8] = [
        GroupStatus::Creating,
        GroupStatus::Active,
        GroupStatus::FailingOver,
        GroupStatus::FailedOver,
        GroupStatus::FailedOverPartial,
        GroupStatus::FailingBack,
        GroupStatus::Error,
        GroupStatus::Deleting,
    ];

    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Creating => "creating",
            GroupStatus::Active => "active",
            GroupStatus::FailingOver => "failing_over",
            GroupStatus::FailedOver => "failed_over",
            GroupStatus::FailedOverPartial => "failed_over_partial",
            GroupStatus::FailingBack => "failing_back",
            GroupStatus::Error => "error",
            GroupStatus::Deleting => "deleting",
        }
    }

    /// Whether an operation is in flight (modifications and deletion are refused).
    pub fn is_in_flight(self) -> bool {
        matches!(
            self,
            GroupStatus::Creating
                | GroupStatus::FailingOver
                | GroupStatus::FailingBack
                | GroupStatus::Deleting
        )
    }
}

impl std::fmt::Display for GroupStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a group and may change its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupEvent {
    /// Creation finished on both sites.
    Created,
    /// A failover starts.
    FailoverStarted,
    /// A failover finished with every member running on the target.
    FailoverCompleted,
    /// A failover finished with some members failed.
    FailoverPartial,
    /// A failover failed before anything irreversible happened: back to where it started.
    FailoverAborted {
        /// The status the group had before the failover started.
        previous: GroupStatus,
    },
    /// A failover or failback failed after an irreversible step.
    OperationFailed,
    /// A failback starts.
    FailbackStarted,
    /// A failback finished.
    FailbackCompleted,
    /// A failback failed before anything irreversible happened.
    FailbackAborted {
        /// The status the group had before the failback started.
        previous: GroupStatus,
    },
    /// Deletion starts.
    DeleteStarted,
    /// An uncommitted failover is rolled back to recover again from an older point.
    RollbackStarted,
}

/// Applies `event` to `status`: the only place where group status changes.
///
/// Returns [`ErrorKind::Conflict`] naming both when the event is not allowed in that status.
pub fn transition(status: GroupStatus, event: GroupEvent) -> Result<GroupStatus> {
    use GroupEvent as E;
    use GroupStatus as S;
    let next = match (status, event) {
        (S::Creating, E::Created) => S::Active,
        // A failed operation can be retried once its cause is fixed.
        (S::Active | S::Error, E::FailoverStarted) => S::FailingOver,
        (S::FailingOver, E::FailoverCompleted) => S::FailedOver,
        (S::FailingOver, E::FailoverPartial) => S::FailedOverPartial,
        (S::FailingOver, E::FailoverAborted { previous }) => previous,
        (S::FailedOver | S::FailedOverPartial | S::Error, E::FailbackStarted) => S::FailingBack,
        (S::FailingBack, E::FailbackCompleted) => S::Active,
        (S::FailingBack, E::FailbackAborted { previous }) => previous,
        (S::FailedOver | S::FailedOverPartial, E::RollbackStarted) => S::FailingOver,
        (S::Creating | S::FailingOver | S::FailingBack | S::Deleting, E::OperationFailed) => {
            S::Error
        }
        (S::Active | S::Error | S::FailedOver | S::FailedOverPartial, E::DeleteStarted) => {
            S::Deleting
        }
        (from, event) => {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("protection group status {from} does not allow {event:?}"),
            ))
        }
    };
    Ok(next)
}

/// The 1:1:1 binding between a protection group, the Cinder consistency groups on both sites and
/// the FlashArray protection group or pod.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConsistencyGroupBinding {
    /// Protector's id of the consistency-group record.
    pub id: Uuid,
    /// Cinder group id on the group's primary site.
    pub primary_cg_id: Option<String>,
    /// Cinder group id on the group's secondary site.
    pub secondary_cg_id: Option<String>,
    /// FlashArray protection group (async) or pod (sync) name.
    pub array_group: String,
    /// Cinder backend of the volumes (`host@backend`), learned from the first member.
    pub backend_name: Option<String>,
}

/// The metadata version record kept in step on both sites.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MetadataVersion {
    /// Incremented by every modification.
    pub version: u64,
    /// SHA-256 of the canonical metadata document at that version.
    pub checksum: String,
    /// When the version was written.
    pub modified_at: Option<DateTime<Utc>>,
}

/// A tenant-defined group of VMs that fail over together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectionGroup {
    /// Protector's id.
    pub id: Uuid,
    /// Unique per tenant.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The owning project on the group's primary site.
    pub project_id: String,
    /// Its name there: how the group's project is recognised on the other site when no
    /// tenant mapping pairs it with one (empty for groups recorded before it was kept).
    #[serde(default)]
    pub project_name: String,
    /// Site where the VMs ran when the group was created.
    pub primary_site: String,
    /// DR site chosen at creation.
    pub secondary_site: String,
    /// Site where the VMs run now; swaps on failover and failback.
    pub current_primary_site: String,
    /// Async or sync replication.
    pub replication_type: ReplicationType,
    /// Cinder volume type every member volume uses.
    pub volume_type: String,
    /// Lifecycle status.
    pub status: GroupStatus,
    /// Number of completed failovers.
    pub failover_count: u32,
    /// When the last failover completed.
    pub last_failover_at: Option<DateTime<Utc>>,
    /// Consistency group binding.
    pub consistency_group: ConsistencyGroupBinding,
    /// Metadata version, kept equal on both sites.
    pub metadata: MetadataVersion,
    /// Operation currently running on the group, if any.
    pub active_operation_id: Option<Uuid>,
    /// Set by an unplanned failover: the old primary must be confirmed stopped before any
    /// operation touches the group again.
    #[serde(default)]
    pub fence_required_on: Option<String>,
    /// The failover or failback that last changed where the group runs: how a recovered
    /// operation knows whether it had finished.
    #[serde(default)]
    pub last_operation_id: Option<Uuid>,
    /// The DR drill of the group and what it created, until its cleanup removed everything.
    #[serde(default)]
    pub test_failover: Option<TestFailoverRecord>,
    /// The recovery point the group runs on after a failover, and its commit window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_point: Option<super::RunningPoint>,
    /// Steps of the operator's run around the phases of failovers and drills (synced with
    /// the rest of the group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<super::Hook>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl ProtectionGroup {
    /// The site that is not `current_primary_site`: where a failover would go.
    pub fn current_secondary_site(&self) -> &str {
        if self.current_primary_site == self.primary_site {
            &self.secondary_site
        } else {
            &self.primary_site
        }
    }

    /// The other site of the pair.
    pub fn peer_of(&self, site: &str) -> &str {
        if site == self.primary_site {
            &self.secondary_site
        } else {
            &self.primary_site
        }
    }

    /// The Cinder consistency group id of the group on `site`.
    pub fn cinder_group_on(&self, site: &str) -> Option<String> {
        if site == self.primary_site {
            self.consistency_group.primary_cg_id.clone()
        } else if site == self.secondary_site {
            self.consistency_group.secondary_cg_id.clone()
        } else {
            None
        }
    }

    /// Whether `site` is one of the group's two sites.
    pub fn involves(&self, site: &str) -> bool {
        site == self.primary_site || site == self.secondary_site
    }

    /// Applies a status event through [`transition`].
    pub fn apply(&mut self, event: GroupEvent) -> Result<()> {
        self.status = transition(self.status, event)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GroupEvent as E;
    use GroupStatus as S;

    #[test]
    fn all_lists_every_status_once_in_order() {
        // A new status fails to compile here until it has a place in `ALL`.
        let position = |s: S| match s {
            S::Creating => 0,
            S::Active => 1,
            S::FailingOver => 2,
            S::FailedOver => 3,
            S::FailedOverPartial => 4,
            S::FailingBack => 5,
            S::Error => 6,
            S::Deleting => 7,
        };
        for (i, s) in S::ALL.iter().enumerate() {
            assert_eq!(position(*s), i, "{s}");
        }
    }

    #[test]
    fn planned_cycle() {
        let mut s = S::Creating;
        for (event, expect) in [
            (E::Created, S::Active),
            (E::FailoverStarted, S::FailingOver),
            (E::FailoverCompleted, S::FailedOver),
            (E::FailbackStarted, S::FailingBack),
            (E::FailbackCompleted, S::Active),
        ] {
            s = transition(s, event).unwrap();
            assert_eq!(s, expect);
        }
    }

    #[test]
    fn refuses_failover_when_not_active() {
        for s in [
            S::FailedOver,
            S::FailingOver,
            S::FailingBack,
            S::Creating,
            S::Deleting,
        ] {
            let err = transition(s, E::FailoverStarted).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Conflict);
        }
        assert_eq!(
            transition(S::Active, E::FailbackStarted)
                .unwrap_err()
                .kind(),
            ErrorKind::Conflict
        );
    }

    #[test]
    fn delete_refused_in_flight() {
        for s in [S::FailingOver, S::FailingBack, S::Creating, S::Deleting] {
            assert!(transition(s, E::DeleteStarted).is_err());
        }
    }

    #[test]
    fn abort_restores_previous() {
        assert_eq!(
            transition(
                S::FailingOver,
                E::FailoverAborted {
                    previous: S::Active
                }
            )
            .unwrap(),
            S::Active
        );
    }
}
