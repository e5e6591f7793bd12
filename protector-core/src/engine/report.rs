//! Read-only reports that combine protector's records with what the arrays say now:
//! `consistency-group show` (spec/003 example 6) with the replication lag.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Protector;
use crate::api::{
    ArrayApi, ArrayConnection, ArrayProtectionGroup, PgParts, PgSnapshot, PgSnapshotTransfer,
};
use crate::error::Result;
use crate::model::{GroupStatus, ProtectionGroup, ReplicationPolicy, ReplicationType};

/// How replication of a consistency group stands, as far as the target array shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationHealth {
    /// The last fully replicated snapshot is within the RPO.
    Ok,
    /// The last fully replicated snapshot is older than the RPO.
    RpoExceeded,
    /// The target array holds no fully replicated snapshot yet (the schedule has not fired,
    /// or the first transfer is still running).
    NoReplicatedSnapshot,
    /// Async replication cannot deliver snapshots to the target array now: the replication
    /// link between the arrays is down, or the target does not allow the replica; see
    /// `replication_error`. The snapshot fields still show the last one that arrived.
    Interrupted,
    /// No replication policy is attached: nothing replicates.
    NotConfigured,
    /// Sync replication (ActiveCluster pod online on both arrays): no lag.
    Synchronous,
    /// Sync replication, but the pod is not online on every array; see `replication_error`.
    Degraded,
    /// An array could not be asked; see `replication_error`.
    Unknown,
}

impl ReplicationHealth {
    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicationHealth::Ok => "ok",
            ReplicationHealth::RpoExceeded => "rpo_exceeded",
            ReplicationHealth::NoReplicatedSnapshot => "no_replicated_snapshot",
            ReplicationHealth::Interrupted => "interrupted",
            ReplicationHealth::NotConfigured => "not_configured",
            ReplicationHealth::Synchronous => "synchronous",
            ReplicationHealth::Degraded => "degraded",
            ReplicationHealth::Unknown => "unknown",
        }
    }
}

/// Which clock the replication lag was measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LagClock {
    /// The target array's clock (`_as_of` of its answer): the snapshot's creation time comes
    /// from the arrays too, so a skewed local clock does not distort the lag.
    Array,
    /// The local clock, because the array did not report its own.
    Local,
}

/// The consistency group of a protection group (spec/003 example 6) with the state of its
/// replication: the last snapshot that fully reached the other site's array and how old it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyGroupReport {
    /// Protector's id of the consistency-group record.
    pub id: Uuid,
    /// The protection group's id.
    pub protection_group_id: Uuid,
    /// The protection group's name.
    pub protection_group: String,
    /// Cinder volume type of every member volume.
    pub volume_type_name: String,
    /// Cinder backend of the volumes (`host@backend`), once a member is added.
    pub backend_name: Option<String>,
    /// Cinder group id on the group's primary site.
    pub primary_cg_id: Option<String>,
    /// Cinder group id on the group's secondary site.
    pub secondary_cg_id: Option<String>,
    /// `active`, or the protection group's `creating`, `deleting` or `error`; `incomplete` when
    /// a Cinder group is missing on one site.
    pub status: String,
    /// Volumes of every member.
    pub volume_count: usize,
    /// Async or sync.
    pub replication_type: ReplicationType,
    /// FlashArray protection group (async) or pod (sync).
    pub pure_pg_name: String,
    /// Site whose array sends the replicas (the group's current primary).
    pub replication_source_site: String,
    /// Site whose array receives them.
    pub replication_target_site: String,
    /// How replication stands.
    pub replication_status: ReplicationHealth,
    /// The newest snapshot fully replicated to the target array (`source:pg.N`).
    pub last_replicated_snapshot: Option<String>,
    /// When that snapshot was taken on the source array.
    pub last_replicated_at: Option<DateTime<Utc>>,
    /// The target array's clock when it was asked.
    pub array_time: Option<DateTime<Utc>>,
    /// Age of the last replicated snapshot: the data the target would lack after an unplanned
    /// failover now. Never negative.
    pub replication_lag_seconds: Option<i64>,
    /// The clock the lag was measured against.
    pub lag_clock: Option<LagClock>,
    /// The policy's replication interval, in seconds.
    pub replication_interval: Option<u64>,
    /// The policy's RPO, in minutes.
    pub rpo_minutes: Option<u64>,
    /// Why the replication state could not be read.
    pub replication_error: Option<String>,
}

/// What the target array says about the replicas: the one reading of replication health,
/// shared by `consistency-group show` and the validation of failovers.
pub(super) struct ReplicaState {
    pub(super) health: ReplicationHealth,
    /// The newest snapshot fully replicated to the target array (async).
    pub(super) snapshot: Option<PgSnapshot>,
    pub(super) array_time: Option<DateTime<Utc>>,
    pub(super) lag_seconds: Option<i64>,
    pub(super) clock: Option<LagClock>,
    /// Why replication does not work now (`Interrupted`, `Degraded`).
    pub(super) problem: Option<String>,
}

impl Protector {
    /// The consistency group of `group` with its replication lag.
    ///
    /// The records come from the local store. The lag comes from the array of the group's
    /// current secondary site: the newest snapshot of `source:pg` whose transfer completed,
    /// measured against that array's clock. An array that cannot be asked does not fail the
    /// report: the replication fields say `unknown` and `replication_error` says why.
    pub async fn consistency_group(&self, group: &str) -> Result<ConsistencyGroupReport> {
        let group = self.group(group).await?;
        self.consistency_group_of(&group).await
    }

    /// [`Protector::consistency_group`] of a group the caller was authorized for.
    pub(super) async fn consistency_group_of(
        &self,
        group: &ProtectionGroup,
    ) -> Result<ConsistencyGroupReport> {
        let members = self.store().list_members(&group.id).await?;
        let policy = self.store().get_policy(&group.id).await?;
        let volume_count = members.iter().map(|m| m.current.volume_ids.len()).sum();
        let source = group.current_primary_site.clone();
        let target = group.current_secondary_site().to_string();
        let binding = &group.consistency_group;
        let mut report = ConsistencyGroupReport {
            id: binding.id,
            protection_group_id: group.id,
            protection_group: group.name.clone(),
            volume_type_name: group.volume_type.clone(),
            backend_name: binding.backend_name.clone(),
            primary_cg_id: binding.primary_cg_id.clone(),
            secondary_cg_id: binding.secondary_cg_id.clone(),
            status: cg_status(group).to_string(),
            volume_count,
            replication_type: group.replication_type,
            pure_pg_name: policy
                .as_ref()
                .map_or_else(|| binding.array_group.clone(), |p| p.pure_pg_name.clone()),
            replication_source_site: source,
            replication_target_site: target,
            replication_status: ReplicationHealth::NotConfigured,
            last_replicated_snapshot: None,
            last_replicated_at: None,
            array_time: None,
            replication_lag_seconds: None,
            lag_clock: None,
            replication_interval: policy.as_ref().map(|p| p.replication_interval_secs),
            rpo_minutes: policy.as_ref().map(|p| p.rpo_minutes),
            replication_error: None,
        };
        let Some(policy) = policy else {
            return Ok(report);
        };
        match self.replication_state(group, &policy).await {
            Ok(state) => {
                report.replication_status = state.health;
                report.last_replicated_snapshot = state.snapshot.as_ref().map(|s| s.name.clone());
                report.last_replicated_at = state.snapshot.as_ref().map(|s| s.created);
                report.array_time = state.array_time;
                report.replication_lag_seconds = state.lag_seconds;
                report.lag_clock = state.clock;
                report.replication_error = state.problem;
            }
            Err(e) => {
                report.replication_status = ReplicationHealth::Unknown;
                report.replication_error = Some(e.to_string());
            }
        }
        Ok(report)
    }

    /// How replication of `group` from its current primary to its current secondary site
    /// stands, as the secondary site's array sees it: the pod (sync) or the replicated
    /// snapshots and the link (async). `Err` when an array cannot be asked.
    pub(super) async fn replication_state(
        &self,
        group: &ProtectionGroup,
        policy: &ReplicationPolicy,
    ) -> Result<ReplicaState> {
        match group.replication_type {
            ReplicationType::Async => self.replica_state(group, policy).await,
            ReplicationType::Sync => self.pod_state(group, policy).await,
        }
    }

    /// Sync groups: the pod as the current secondary site's array sees it (the array that
    /// must hold current data when the primary fails).
    async fn pod_state(
        &self,
        group: &ProtectionGroup,
        policy: &ReplicationPolicy,
    ) -> Result<ReplicaState> {
        let target = group.current_secondary_site();
        let target_ep = policy.array_on(group, target);
        let target_array = self.inner.connector.array(target_ep).await?;
        let info = target_array
            .array_info()
            .await
            .map_err(|e| e.with_prefix(format!("FlashArray {} of {target}", target_ep.url)))?;
        let pod =
            super::pods::pod_on(target_array.as_ref(), &info.name, &policy.pure_pg_name).await?;
        let online = pod.arrays.len() >= 2 && pod.arrays.iter().all(|a| a.status == "online");
        let statuses: Vec<String> = pod
            .arrays
            .iter()
            .map(|a| format!("{} {}", a.name, a.status))
            .collect();
        Ok(ReplicaState {
            health: if online {
                ReplicationHealth::Synchronous
            } else {
                ReplicationHealth::Degraded
            },
            snapshot: None,
            array_time: info.as_of,
            lag_seconds: online.then_some(0),
            clock: online.then_some(if info.as_of.is_some() {
                LagClock::Array
            } else {
                LagClock::Local
            }),
            problem: (!online).then(|| {
                format!(
                    "pod '{}' is not online on both arrays ({}): check the ActiveCluster connection between the arrays",
                    policy.pure_pg_name,
                    statuses.join(", ")
                )
            }),
        })
    }

    async fn replica_state(
        &self,
        group: &ProtectionGroup,
        policy: &ReplicationPolicy,
    ) -> Result<ReplicaState> {
        let source = &group.current_primary_site;
        let target = group.current_secondary_site();
        let target_ep = policy.array_on(group, target);
        let target_array = self.inner.connector.array(target_ep).await?;
        // Replicas are named after the source array; ask it only when the policy did not
        // record its name (the source may be the site that is down).
        let source_name = match policy.array_name_on(group, source) {
            Some(name) => name.to_string(),
            None => {
                let source_ep = policy.array_on(group, source);
                self.inner
                    .connector
                    .array(source_ep)
                    .await?
                    .array_info()
                    .await
                    .map_err(|e| {
                        e.with_prefix(format!("FlashArray {} of {source}", source_ep.url))
                    })?
                    .name
            }
        };
        let replica = format!("{source_name}:{}", policy.pure_pg_name);
        // Everything the target array is asked, at once: one round trip.
        let (target_info, snapshot, connections, replica_group) = futures::join!(
            target_array.array_info(),
            latest_replicated(target_array.as_ref(), &replica),
            target_array.array_connections(),
            // Whether it is destroyed or refused: the group and its targets, not its volumes.
            target_array.get_protection_group_parts(&replica, PgParts::TARGETS)
        );
        let target_info = target_info
            .map_err(|e| e.with_prefix(format!("FlashArray {} of {target}", target_ep.url)))?;
        let snapshot = snapshot?;
        let problem = match link_problem_in(&connections?, &target_info.name, &source_name) {
            Some(problem) => Some(problem),
            None => replica_refused(replica_group?, &target_info.name, &replica),
        };
        let (now, clock) = match target_info.as_of {
            Some(t) => (t, LagClock::Array),
            None => (Utc::now(), LagClock::Local),
        };
        let Some(snapshot) = snapshot else {
            return Ok(ReplicaState {
                health: if problem.is_some() {
                    ReplicationHealth::Interrupted
                } else {
                    ReplicationHealth::NoReplicatedSnapshot
                },
                snapshot: None,
                array_time: target_info.as_of,
                lag_seconds: None,
                clock: None,
                problem,
            });
        };
        let lag = (now - snapshot.created).num_seconds().max(0);
        let rpo = i64::try_from(policy.rpo_minutes.saturating_mul(60)).unwrap_or(i64::MAX);
        Ok(ReplicaState {
            health: if problem.is_some() {
                ReplicationHealth::Interrupted
            } else if lag <= rpo {
                ReplicationHealth::Ok
            } else {
                ReplicationHealth::RpoExceeded
            },
            snapshot: Some(snapshot),
            array_time: target_info.as_of,
            lag_seconds: Some(lag),
            clock: Some(clock),
            problem,
        })
    }
}

/// Why FlashArray `target` (named `target_name`) cannot receive replicas from the array named
/// `source_name` now, if it cannot: it has no connection to it, or one that is not
/// `connected` (the link is cut or the peer is down).
pub(super) async fn link_problem(
    target: &dyn ArrayApi,
    target_name: &str,
    source_name: &str,
) -> Result<Option<String>> {
    let connections = target.array_connections().await?;
    Ok(link_problem_in(&connections, target_name, source_name))
}

/// [`link_problem`] from the target's array connections.
pub(super) fn link_problem_in(
    connections: &[ArrayConnection],
    target_name: &str,
    source_name: &str,
) -> Option<String> {
    match connections.iter().find(|c| c.name == source_name) {
        Some(c) if c.is_connected() => None,
        Some(c) => Some(format!(
            "the replication link between FlashArrays {source_name} and {target_name} is down (array connection status: {})",
            c.status
        )),
        None => Some(format!(
            "FlashArray {target_name} has no array connection to FlashArray {source_name}"
        )),
    }
}

/// Why the target array (named `target_name`) refuses the replica group `replica`
/// (`source:pg`), given what it answered for it: destroyed, or not allowed. A replica the
/// target does not list yet is no refusal (nothing was sent).
fn replica_refused(
    group: Option<ArrayProtectionGroup>,
    target_name: &str,
    replica: &str,
) -> Option<String> {
    match group {
        Some(pg) if pg.destroyed => Some(format!(
            "protection group {replica} is destroyed on FlashArray {target_name}"
        )),
        Some(pg) if !pg.targets.iter().any(|t| t.allowed) => Some(format!(
            "FlashArray {target_name} does not allow replication of protection group {replica}"
        )),
        _ => None,
    }
}

/// The newest snapshot of `replica` (`source:pg`) on `array` whose transfer completed (its
/// transfers and snapshots read at once).
async fn latest_replicated(array: &dyn ArrayApi, replica: &str) -> Result<Option<PgSnapshot>> {
    let (transfers, snapshots) = futures::join!(
        array.list_pg_snapshot_transfers(replica),
        array.list_pg_snapshots(replica)
    );
    // Until the first transfer starts the replica group does not exist on the target.
    let missing = |e: &crate::error::Error| e.kind() == crate::error::ErrorKind::NotFound;
    let transfers: Vec<PgSnapshotTransfer> = match transfers {
        Ok(t) => t,
        Err(e) if missing(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let snapshots = match snapshots {
        Ok(s) => s,
        Err(e) if missing(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(snapshots
        .into_iter()
        .filter(|s| !s.destroyed)
        .filter(|s| {
            transfers
                .iter()
                .any(|t| t.name == s.name && t.is_complete())
        })
        .max_by_key(|s| s.created))
}

/// The consistency group's status, from the protection group's.
fn cg_status(group: &ProtectionGroup) -> &'static str {
    match group.status {
        GroupStatus::Creating => "creating",
        GroupStatus::Deleting => "deleting",
        GroupStatus::Error => "error",
        _ if group.consistency_group.primary_cg_id.is_none()
            || group.consistency_group.secondary_cg_id.is_none() =>
        {
            "incomplete"
        }
        _ => "active",
    }
}
