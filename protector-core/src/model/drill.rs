//! The record of a DR drill (test failover, spec/002): what the drill created on the drill site,
//! kept in the group's metadata on both sites so that its cleanup removes exactly that.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a drill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestFailoverStatus {
    /// The drill is creating its resources, or was interrupted while it did: cleanup then also
    /// looks for resources tagged with the drill's operation id.
    Running,
    /// The test VMs were created; they run until cleanup.
    Ready,
    /// The drill failed and its rollback left the resources listed; cleanup removes them.
    Failed,
    /// A cleanup could not remove the resources listed; run it again.
    CleanupIncomplete,
}

impl TestFailoverStatus {
    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            TestFailoverStatus::Running => "running",
            TestFailoverStatus::Ready => "ready",
            TestFailoverStatus::Failed => "failed",
            TestFailoverStatus::CleanupIncomplete => "cleanup_incomplete",
        }
    }
}

impl std::fmt::Display for TestFailoverStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One volume of a member as the drill brought it up on the drill site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestVolume {
    /// The production Cinder volume it was copied from (on the primary site).
    pub source_volume_id: String,
    /// Cinder name on the drill site (`test-<volume name>`).
    pub name: String,
    /// Cinder volume id on the drill site, once managed.
    pub volume_id: Option<String>,
    /// Names on the drill site's array that may hold the copy: the `test-` copy, and the name
    /// Cinder's driver gave it when managing. A name that no longer exists counts as removed.
    pub array_volumes: Vec<String>,
}

impl TestVolume {
    /// Whether nothing of this volume is left to remove.
    pub fn is_removed(&self) -> bool {
        self.volume_id.is_none() && self.array_volumes.is_empty()
    }
}

/// What the drill created for one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestMember {
    /// The member.
    pub member_id: Uuid,
    /// Its production instance name.
    pub instance_name: String,
    /// The test server's name (`test-<instance name>`).
    pub server_name: String,
    /// The test server's id, once created.
    pub server_id: Option<String>,
    /// Ports created on the isolated networks, in NIC order.
    pub port_ids: Vec<String>,
    /// Volumes, root first.
    pub volumes: Vec<TestVolume>,
    /// Why the test server did not become ACTIVE, if it did not.
    #[serde(default)]
    pub error: Option<String>,
}

impl TestMember {
    /// Whether nothing of this member is left to remove.
    pub fn is_removed(&self) -> bool {
        self.server_id.is_none()
            && self.port_ids.is_empty()
            && self.volumes.iter().all(TestVolume::is_removed)
    }
}

/// The DR drill of a protection group, from its start until its cleanup has removed everything.
///
/// While a record exists no other drill starts. Every resource is also tagged with
/// `operation_id` (server and volume metadata `protector:operation`, port descriptions
/// `protector:<operation id>:…`), which cleanup checks before removing anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFailoverRecord {
    /// The drill's operation.
    pub operation_id: Uuid,
    /// Where it stands.
    pub status: TestFailoverStatus,
    /// The site the production VMs ran on (untouched by the drill).
    pub source_site: String,
    /// The site the test resources live on.
    pub site: String,
    /// The replicated protection-group snapshot the test volumes were copied from
    /// (`source-array:pg.N` on the drill site's array).
    pub snapshot: String,
    /// When the drill started.
    pub started_at: DateTime<Utc>,
    /// When the test VMs were ready.
    #[serde(default)]
    pub completed_at: Option<DateTime<Utc>>,
    /// Per member, what exists on the drill site.
    pub members: Vec<TestMember>,
    /// What the last rollback or cleanup could not remove, and why.
    #[serde(default)]
    pub errors: Vec<String>,
    /// The undo actions of the drill hooks that ran, in the order they ran: the cleanup runs
    /// them in reverse order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks_to_undo: Vec<super::HookUndo>,
}

impl TestFailoverRecord {
    /// Whether nothing of the drill is left to remove.
    pub fn is_removed(&self) -> bool {
        self.members.iter().all(TestMember::is_removed)
    }

    /// The entry of one member, to record what was created or removed for it.
    pub fn member_mut(&mut self, member_id: Uuid) -> Option<&mut TestMember> {
        self.members.iter_mut().find(|m| m.member_id == member_id)
    }
}
