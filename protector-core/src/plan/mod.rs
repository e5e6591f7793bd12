//! Plans: plain serde data saying what an operation will do, before anything runs.
//!
//! A [`Plan`] is built by `Protector::plan_failover` from the group, its members and both sites'
//! inventories, with every mapping resolved. It can be printed (`--dry-run`), saved, diffed and
//! snapshot-tested. Problems found while resolving are kept as [`crate::engine::Finding`]s in
//! the plan, so that validation can report all of them at once.
//!
//! Every operation kind has one, built by the same function its executor runs from, so that a
//! dry run shows what runs: [`Plan`] for a failover (`Protector::plan_failover`), a failback
//! (`Protector::plan_failback`) and a DR drill (`Protector::plan_test_failover`);
//! [`CleanupPlan`] for a drill cleanup (`Protector::plan_test_cleanup`); [`SiteFailoverPlan`]
//! for a site failover (`Protector::plan_site_failover_groups`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::Finding;
use crate::model::{BootWave, Phase, ReplicationType, RtoEstimate, TestFailoverStatus};

/// Planned (source reachable, VMs stopped first, final replication) or unplanned (source down,
/// latest replicated snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverMode {
    /// Zero data loss: quiesce, final snapshot replicated, then recover.
    Planned,
    /// The source is unreachable: recover from the latest replicated snapshot.
    Unplanned,
}

/// A resource resolved on the target site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// As known on the source site (id or name).
    pub source: String,
    /// Id on the target site; `None` when it could not be resolved (see the findings).
    pub target_id: Option<String>,
    /// Name on the target site.
    pub target_name: Option<String>,
}

/// One fixed IP to request on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedIp {
    /// Subnet on the target.
    pub subnet_id: String,
    /// The source address, kept when the target subnet contains it; otherwise Neutron picks.
    pub ip_address: Option<String>,
}

/// One NIC to create on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicPlan {
    /// Network on the source and its target.
    pub network: Resolved,
    /// Fixed IPs to request.
    pub fixed_ips: Vec<PlannedIp>,
    /// Security groups on the target.
    pub security_group_ids: Vec<String>,
}

/// One volume to bring over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumePlan {
    /// Cinder volume id on the source.
    pub source_volume_id: String,
    /// Array volume name on the source array.
    pub source_array_volume: String,
    /// Name of the copy created on the target array before it is managed.
    pub copy_name: String,
    /// Cinder name on the target.
    pub name: String,
    /// Size in GiB.
    pub size_gb: u64,
    /// Bootable flag to set when managing.
    pub bootable: bool,
    /// Boot index on the new server (0 root, -1 data).
    pub boot_index: i32,
    /// Guest device.
    pub device: String,
    /// The volume snapshot (or pod volume) the copy is made from, when known at planning: a
    /// drill copies an already replicated snapshot; a failover's is taken when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_snapshot: Option<String>,
}

/// What happens to one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPlan {
    /// Member id.
    pub member_id: Uuid,
    /// Server name (kept on the target).
    pub instance_name: String,
    /// Server id on the source.
    pub source_instance_id: String,
    /// Source server status when planned (`None` when the source cannot be asked).
    pub source_status: Option<String>,
    /// Flavor on the target.
    pub flavor: Resolved,
    /// Keypair name.
    pub key_name: Option<String>,
    /// NICs in order.
    pub nics: Vec<NicPlan>,
    /// Volumes, root first.
    pub volumes: Vec<VolumePlan>,
    /// Failback: the stopped server on the target that is started again (its volumes are
    /// overwritten with the replicated data), instead of building a new one.
    #[serde(default)]
    pub target_instance_id: Option<String>,
    /// Availability zone the server boots in on the target; `None` lets Nova pick.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// Boot priority (1 first, 5 last).
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Member ids that must be ACTIVE before this one boots.
    #[serde(default)]
    pub depends_on: Vec<Uuid>,
}

fn default_priority() -> u8 {
    crate::model::DEFAULT_PRIORITY
}

/// One step of the plan, in execution order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Unique id, also the journal key (`create_server:web-server-1`).
    pub id: String,
    /// Step name as shown in `steps_completed` (`quiesce_vms`, `create_volumes_site_b`…).
    pub name: String,
    /// Phase it belongs to.
    pub phase: Phase,
    /// What it does, in words.
    pub description: String,
    /// Steps that must be done first.
    pub depends_on: Vec<String>,
}

/// A failover plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Plan id; becomes the operation id when executed.
    pub id: Uuid,
    /// Planned or unplanned.
    pub mode: FailoverMode,
    /// Group id.
    pub group_id: Uuid,
    /// Group name.
    pub group_name: String,
    /// Metadata version the plan was made from; execution refuses a newer one.
    pub metadata_version: u64,
    /// Site the workload leaves.
    pub source_site: String,
    /// Site the workload goes to.
    pub target_site: String,
    /// Replication type.
    pub replication_type: ReplicationType,
    /// FlashArray protection group on the source array.
    pub array_group: String,
    /// Source array name, when known.
    pub source_array: Option<String>,
    /// Target array name, when known.
    pub target_array: Option<String>,
    /// Cinder volume type on the target.
    pub target_volume_type: String,
    /// `cinder-volume` host to manage into.
    pub manage_host: Option<String>,
    /// Members.
    pub members: Vec<MemberPlan>,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Problems found while planning.
    pub findings: Vec<Finding>,
    /// Unplanned failover: the replicated snapshot it will recover from and the data at risk,
    /// reported before anything runs.
    #[serde(default)]
    pub recovery_point: Option<RecoveryPoint>,
    /// Unplanned failover: whether the source site answered while planning. When it did, its
    /// VMs are stopped first; when it did not, the group is fenced until they are confirmed
    /// stopped.
    #[serde(default)]
    pub source_reachable: bool,
    /// A drill: the replicated protection-group snapshot (`array:pg.N`) or the pod its test
    /// copies are taken from, chosen when planning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_snapshot: Option<String>,
    /// Unplanned failover: its commit window in seconds (one hour when `None`, `0`: committed
    /// at once); see [`crate::model::RunningPoint`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_window_secs: Option<u64>,
    /// The order servers boot in: wave by wave, each after the one before is ACTIVE.
    #[serde(default)]
    pub boot_order: Vec<BootWave>,
    /// The expected recovery time, per wave and in total.
    #[serde(default)]
    pub estimate: Option<RtoEstimate>,
    /// The group's hooks this operation runs (those for its kind: failover or drill), in the
    /// order of their points.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::model::Hook>,
}

/// The recovery point of an unplanned failover, as the target array reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPoint {
    /// The replicated protection-group snapshot on the target array (`array:pg.N`).
    pub snapshot: String,
    /// When the source array took it.
    pub created_at: DateTime<Utc>,
    /// When it had fully arrived on the target array.
    pub replicated_at: Option<DateTime<Utc>>,
    /// The target array's clock when the plan was made.
    pub array_time: DateTime<Utc>,
    /// `array_time - created_at`: every write in this window is lost.
    pub age_secs: i64,
    /// Bytes changed since the snapshot on the source array, per its volume diff, when it
    /// answered (a lower bound: VMs there may still be writing).
    #[serde(default)]
    pub changed_bytes: Option<u64>,
    /// The data at risk in words, shown before the failover runs and kept on the operation.
    pub data_at_risk: String,
}

impl Plan {
    /// The plan as pretty JSON (`--dry-run`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }
}

/// What kind of resource a drill cleanup removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalKind {
    /// A test server (removed first: it holds its ports and volumes).
    Server,
    /// A test server's port (only once its server is gone).
    Port,
    /// A test Cinder volume (only once its server is gone).
    Volume,
    /// A test array volume (Cinder removes the managed ones with their volume; the others,
    /// copies never managed, are removed from the array directly).
    ArrayVolume,
}

/// Where a cleanup learnt of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// The drill record lists it.
    Record,
    /// Found on the drill site by the drill's tags, not in the record (a drill interrupted
    /// before it recorded it, or a create whose answer was lost).
    Tags,
}

/// One resource a drill cleanup removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRemoval {
    /// Server, port, volume or array volume.
    pub kind: RemovalKind,
    /// Its id (the name, for an array volume).
    pub id: String,
    /// Its name, when known.
    pub name: Option<String>,
    /// The member (instance name) it is a test copy of.
    pub member: String,
    /// From the record or from the tag sweep.
    pub found_by: FoundBy,
}

/// What a drill cleanup will remove, and where.
///
/// A drill creates servers, ports, Cinder volumes and array volumes on its site, never
/// networks (it attaches to the mapped isolated networks). The cleanup removes exactly
/// `removals`, in the order of their kinds, each only if it still carries the drill's tag,
/// plus what the tag sweep finds when it runs again (`tag_sweep`: a drill recorded as running
/// or failed may have created something it could not record); then it clears the drill record
/// on both sites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupPlan {
    /// Plan id; becomes the cleanup's operation id when executed.
    pub id: Uuid,
    /// Group id.
    pub group_id: Uuid,
    /// Group name.
    pub group_name: String,
    /// The site everything is removed from (the drill's site).
    pub site: String,
    /// The site production runs on (untouched).
    pub source_site: String,
    /// The drill whose resources are removed; `None` when there is none (nothing to do).
    pub drill_operation_id: Option<Uuid>,
    /// Where the drill stands.
    pub drill_status: Option<TestFailoverStatus>,
    /// Whether the cleanup searches the site by the drill's tags before removing.
    pub tag_sweep: bool,
    /// What is removed, servers first.
    pub removals: Vec<PlannedRemoval>,
    /// Steps in order (none when there is no drill).
    pub steps: Vec<Step>,
    /// Problems found while planning.
    pub findings: Vec<Finding>,
}

/// What a site failover does with one protection group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteGroupAction {
    /// Failed over through its own failover.
    Failover,
    /// Busy with another operation: reported failed, not touched.
    Skip,
}

/// One protection group of a site failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteGroupPlan {
    /// Group id.
    pub group_id: Uuid,
    /// Group name.
    pub group_name: String,
    /// Project owning the group.
    pub project_id: String,
    /// Planned or unplanned (the site failover's mode).
    pub mode: FailoverMode,
    /// Failed over or skipped.
    pub action: SiteGroupAction,
    /// Why it is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its failover plan as it stands now (steps, members, findings; a blocking finding
    /// means its failover will be refused and the group reported failed). The site failover
    /// plans each group again when its turn comes, with the same request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

/// What a site failover will do: every protection group in scope, in the order they start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFailoverPlan {
    /// Plan id; becomes the site operation's id when executed.
    pub id: Uuid,
    /// Planned or unplanned.
    pub mode: FailoverMode,
    /// The site the workloads leave.
    pub failed_site: String,
    /// The site they go to.
    pub target_site: String,
    /// At most this many groups fail over at once.
    pub concurrency: usize,
    /// Every group in scope.
    pub groups: Vec<SiteGroupPlan>,
}

impl CleanupPlan {
    /// The plan as pretty JSON (`--dry-run`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }
}

impl SiteFailoverPlan {
    /// The plan as pretty JSON (`--dry-run`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plans serialize")
    }

    /// Each group that fails over from a replicated snapshot, with that recovery point: its
    /// data at risk, in the order the groups start.
    pub fn recovery_points(&self) -> Vec<(&str, &RecoveryPoint)> {
        self.groups
            .iter()
            .filter_map(|g| {
                let point = g.plan.as_ref()?.recovery_point.as_ref()?;
                Some((g.group_name.as_str(), point))
            })
            .collect()
    }

    /// Every blocking finding of every group's plan and every skipped group, as one
    /// `(group, finding)` list: what would keep the site failover from completing.
    pub fn blocking(&self) -> Vec<(String, Finding)> {
        let mut out = Vec::new();
        for group in &self.groups {
            if let Some(reason) = &group.reason {
                out.push((
                    group.group_name.clone(),
                    Finding::error(crate::ErrorKind::Conflict, "group_busy", reason.clone()),
                ));
            }
            for finding in group.plan.iter().flat_map(|p| &p.findings) {
                if finding.severity == crate::engine::Severity::Error {
                    out.push((group.group_name.clone(), finding.clone()));
                }
            }
        }
        out
    }
}
