//! Pure Storage FlashArray (REST 2.x).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What an array can do; checked in validation, not discovered halfway through a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayCapabilities {
    /// Protection groups with replication targets.
    pub async_replication: bool,
    /// ActiveCluster pods.
    pub sync_replication: bool,
}

/// The array's identity (`GET /arrays`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayInfo {
    /// Array id.
    pub id: String,
    /// Array name; replicated objects on a peer are prefixed with it (`name:pg`).
    pub name: String,
    /// Purity version.
    pub version: String,
    /// The array's clock when it answered (`_as_of`): replication lag is measured against it,
    /// not against the caller's clock. `None` when the array does not report it.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
}

/// The connection of this array to a peer array (`GET /array-connections`): the link that
/// carries replication between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayConnection {
    /// The peer array's name.
    pub name: String,
    /// `connected` while the link works; `connecting`, `partially_connected`, `unbalanced`, …
    /// otherwise.
    pub status: String,
}

impl ArrayConnection {
    /// Whether replication can flow over this connection now.
    pub fn is_connected(&self) -> bool {
        self.status == "connected"
    }
}

/// A volume on the array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayVolume {
    /// Name (`volume-<uuid>-cinder`, `pod::name`, …).
    pub name: String,
    /// Provisioned size in bytes.
    pub provisioned_bytes: u64,
    /// Serial number.
    pub serial: String,
    /// Destroyed (pending eradication).
    pub destroyed: bool,
    /// Pod, if the volume lives in one.
    pub pod: Option<String>,
    /// Creation time.
    pub created: DateTime<Utc>,
}

/// A replication target of a protection group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgTarget {
    /// Target array name.
    pub name: String,
    /// Whether the target allowed the replication.
    pub allowed: bool,
}

/// A protection group (`GET /protection-groups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayProtectionGroup {
    /// Name; on a target array the replica is `source:name`.
    pub name: String,
    /// Array that owns it.
    pub source: String,
    /// Member volume names.
    pub volumes: Vec<String>,
    /// Replication targets.
    pub targets: Vec<PgTarget>,
    /// `replication_schedule.enabled`.
    pub replication_enabled: bool,
    /// `replication_schedule.frequency`, in seconds.
    pub replication_frequency_secs: u64,
    /// Destroyed.
    pub destroyed: bool,
}

/// Which parts of a protection group a read needs besides the group itself
/// ([`ArrayApi::get_protection_group_parts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgParts {
    /// Its member volumes.
    pub volumes: bool,
    /// Its replication targets.
    pub targets: bool,
}

impl PgParts {
    /// The group alone: whether it exists, is destroyed, its schedule.
    pub const GROUP: PgParts = PgParts {
        volumes: false,
        targets: false,
    };
    /// The group and its targets (whether a target allows it).
    pub const TARGETS: PgParts = PgParts {
        volumes: false,
        targets: true,
    };
    /// Everything, as [`ArrayApi::get_protection_group`] reads it.
    pub const ALL: PgParts = PgParts {
        volumes: true,
        targets: true,
    };
}

/// A protection-group snapshot (`pg.N`, or `source:pg.N` on the target).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgSnapshot {
    /// Full name.
    pub name: String,
    /// The protection group it belongs to (`pg` or `source:pg`).
    pub source: String,
    /// Creation time on the source array.
    pub created: DateTime<Utc>,
    /// Destroyed.
    pub destroyed: bool,
}

/// Replication progress of a pg snapshot (`GET /protection-group-snapshots/transfer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgSnapshotTransfer {
    /// Snapshot name as seen on the array asked.
    pub name: String,
    /// 0.0 – 1.0.
    pub progress: f64,
    /// Transfer start.
    pub started: Option<DateTime<Utc>>,
    /// Transfer end, when complete.
    pub completed: Option<DateTime<Utc>>,
    /// Bytes sent so far.
    pub data_transferred: u64,
}

impl PgSnapshotTransfer {
    /// Whether the snapshot has fully arrived.
    pub fn is_complete(&self) -> bool {
        self.completed.is_some() && self.progress >= 1.0
    }
}

/// A volume snapshot inside a pg snapshot (`pg.N.vol`, `source:pg.N.vol`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSnapshot {
    /// Full name.
    pub name: String,
    /// Source volume name (as named on the source array).
    pub source_volume: String,
    /// Creation time.
    pub created: DateTime<Utc>,
}

/// Take a pg snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePgSnapshot {
    /// Send it to the targets now, outside the schedule.
    pub replicate_now: bool,
    /// Apply the group's retention to it.
    pub apply_retention: bool,
    /// Suffix instead of the next number.
    pub suffix: Option<String>,
}

/// Create a volume from a snapshot or another volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyVolume {
    /// New volume name.
    pub name: String,
    /// Source snapshot or volume name.
    pub source: String,
    /// Overwrite an existing volume of that name.
    pub overwrite: bool,
}

/// One array of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodArray {
    /// Array name.
    pub name: String,
    /// `online`, `offline`, `resyncing`, …
    pub status: String,
}

/// An ActiveCluster pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pod {
    /// Name.
    pub name: String,
    /// Arrays the pod is stretched over.
    pub arrays: Vec<PodArray>,
    /// `promoted` / `demoted`.
    pub promotion_status: String,
    /// Destroyed.
    pub destroyed: bool,
}

/// One FlashArray, reached with one API token.
#[async_trait]
pub trait ArrayApi: Send + Sync + std::fmt::Debug + 'static {
    /// What the array supports.
    fn capabilities(&self) -> ArrayCapabilities;

    /// Name, id and version (`GET /arrays`). Also the reachability check.
    async fn array_info(&self) -> Result<ArrayInfo>;

    /// Opens this client's session with the array ahead of the calls that need it (over REST
    /// 2.x: the version negotiated and the login, without a read of its own). The default
    /// reads [`ArrayApi::array_info`].
    async fn connect(&self) -> Result<()> {
        self.array_info().await.map(|_| ())
    }

    /// This array's connections to peer arrays (`GET /array-connections`).
    ///
    /// # Behavior
    /// - One entry per connected or configured peer, named after the peer array; an array
    ///   with no peer answers an empty list.
    /// - A link that is cut or a peer that is down shows as a status other than `connected`
    ///   (`connecting` on Purity), not as a missing entry.
    async fn array_connections(&self) -> Result<Vec<ArrayConnection>>;

    /// A volume by name, destroyed or not. `Ok(None)` when missing.
    async fn get_volume(&self, name: &str) -> Result<Option<ArrayVolume>>;

    /// Several volumes by name, destroyed or not, in the order of `names` (`None` for one
    /// that is missing): one call where the array answers for many (`GET /volumes?names=`).
    /// By default one [`ArrayApi::get_volume`] each.
    async fn get_volumes(&self, names: &[String]) -> Result<Vec<Option<ArrayVolume>>> {
        let mut volumes = Vec::with_capacity(names.len());
        for name in names {
            volumes.push(self.get_volume(name).await?);
        }
        Ok(volumes)
    }

    /// Volumes whose name starts with `name_prefix`, destroyed or not, by name (`GET /volumes`
    /// with a name filter): how a leak scan finds the copies protector named.
    ///
    /// # Behavior
    /// - An empty list when none matches; the prefix is matched literally.
    async fn list_volumes(&self, name_prefix: &str) -> Result<Vec<ArrayVolume>>;

    /// Creates a volume from a snapshot or volume (`POST /volumes` with `source`).
    ///
    /// # Behavior
    /// - `AlreadyExists` when the name is taken and `overwrite` is false.
    /// - `NotFound` when the source does not exist.
    async fn copy_volume(&self, request: &CopyVolume) -> Result<ArrayVolume>;

    /// Renames a volume.
    async fn rename_volume(&self, name: &str, new_name: &str) -> Result<()>;

    /// Destroys a volume (recoverable until eradicated).
    ///
    /// # Behavior
    /// - Destroying a missing or already destroyed volume succeeds.
    async fn destroy_volume(&self, name: &str) -> Result<()>;

    /// Eradicates a destroyed volume.
    ///
    /// # Behavior
    /// - Eradicating a missing volume succeeds; eradicating a live one is `Conflict`.
    async fn eradicate_volume(&self, name: &str) -> Result<()>;

    /// A protection group by name (`pg`, or `source:pg` for a replica). `Ok(None)` when missing.
    async fn get_protection_group(&self, name: &str) -> Result<Option<ArrayProtectionGroup>>;

    /// [`ArrayApi::get_protection_group`] for a caller that needs only some of the group's
    /// parts: whether it exists and its own fields always, its member volumes and its targets
    /// only where `parts` asks (the others may come back empty). On a FlashArray each part is
    /// a read of its own, so asking whether a group exists takes one call instead of three.
    ///
    /// # Behavior
    /// - The default reads every part.
    async fn get_protection_group_parts(
        &self,
        name: &str,
        parts: PgParts,
    ) -> Result<Option<ArrayProtectionGroup>> {
        let _ = parts;
        self.get_protection_group(name).await
    }

    /// Creates a protection group. `AlreadyExists` when the name is taken.
    async fn create_protection_group(&self, name: &str) -> Result<ArrayProtectionGroup>;

    /// Adds volumes. Adding a member twice succeeds.
    async fn add_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()>;

    /// Removes volumes. Removing a non-member succeeds.
    async fn remove_protection_group_volumes(&self, group: &str, volumes: &[String]) -> Result<()>;

    /// Adds a replication target array. Adding it twice succeeds.
    async fn add_protection_group_target(&self, group: &str, target_array: &str) -> Result<()>;

    /// On a target array: allows (or disallows) replication of `source:group` into it.
    async fn set_protection_group_allowed(&self, replica_group: &str, allowed: bool) -> Result<()>;

    /// Sets the replication schedule.
    async fn set_replication_schedule(
        &self,
        group: &str,
        enabled: bool,
        frequency_secs: u64,
    ) -> Result<()>;

    /// Destroys a protection group. Missing succeeds.
    async fn destroy_protection_group(&self, name: &str) -> Result<()>;

    /// Takes a pg snapshot.
    async fn create_pg_snapshot(
        &self,
        group: &str,
        request: &CreatePgSnapshot,
    ) -> Result<PgSnapshot>;

    /// Snapshots of a protection group (`pg` or `source:pg`), oldest first; not destroyed ones.
    async fn list_pg_snapshots(&self, group: &str) -> Result<Vec<PgSnapshot>>;

    /// Transfer state of snapshots of `group` (or of one snapshot when given its full name),
    /// newest first.
    async fn list_pg_snapshot_transfers(
        &self,
        group_or_snapshot: &str,
    ) -> Result<Vec<PgSnapshotTransfer>>;

    /// Volume snapshots inside one pg snapshot.
    async fn list_volume_snapshots(&self, pg_snapshot: &str) -> Result<Vec<VolumeSnapshot>>;

    /// Destroys and eradicates a pg snapshot. Missing succeeds.
    async fn eradicate_pg_snapshot(&self, name: &str) -> Result<()>;

    /// Bytes of `volume` that differ from `base` (a volume snapshot such as `pg.3.vol`, on this
    /// array), per `GET /volumes/diff`: the data written to `volume` since `base` was taken,
    /// for reporting what an unplanned failover from `base` would lose.
    ///
    /// # Behavior
    /// - The sum of the `length` of every extent the array reports as different, over the
    ///   whole provisioned size of `volume` (every segment, every page). Zero when nothing
    ///   changed, including for a volume just copied from `base`.
    /// - The array compares at a block granularity, so a small write counts as a whole block:
    ///   the result is an upper bound of the bytes written, never more than the volume's size.
    /// - `NotFound` when `volume` or `base` does not exist on this array.
    /// - Ask only about a replicated snapshot that has fully arrived: the simulator refuses one
    ///   in transfer with `Conflict`; what Purity answers then is not documented.
    /// - `Unsupported` when the array's REST API has no volume diff (before REST 2.9).
    async fn changed_bytes_since(&self, volume: &str, base: &str) -> Result<u64>;

    /// A pod by name. `Ok(None)` when missing.
    async fn get_pod(&self, name: &str) -> Result<Option<Pod>>;

    /// Creates a pod. `AlreadyExists` when taken.
    async fn create_pod(&self, name: &str) -> Result<Pod>;

    /// Stretches a pod to another array. Stretching twice succeeds.
    async fn add_pod_array(&self, pod: &str, array: &str) -> Result<()>;

    /// Promotes a pod on this array.
    async fn promote_pod(&self, pod: &str) -> Result<()>;

    /// Demotes a pod on this array.
    async fn demote_pod(&self, pod: &str) -> Result<()>;
}
