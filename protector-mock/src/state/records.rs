//! The rows of the simulated world. Every record of an OpenStack service carries the site it
//! lives on; array records carry the array name. Ids are globally unique, so the two sites never
//! share an id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- Keystone

/// A Keystone project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProjectRec {
    pub id: String,
    pub site: String,
    pub name: String,
    pub domain_id: String,
}

/// A Keystone user and its role assignments. Every user is in the `Default` domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserRec {
    pub id: String,
    pub site: String,
    pub name: String,
    /// project id → role names.
    pub roles: BTreeMap<String, Vec<String>>,
    /// The password the wire face checks (seeded, deterministic). States saved before the
    /// wire face existed have none, and no password matches an empty one.
    #[serde(default)]
    pub password: String,
}

/// A Keystone application credential. Key: its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ApplicationCredentialRec {
    pub id: String,
    pub site: String,
    pub user_id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    /// SHA-256 of the secret, hex (Keystone keeps a hash too).
    pub secret_hash: String,
    /// Role names the credential carries (a subset of the user's on the project).
    pub roles: Vec<String>,
    pub unrestricted: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A service registered in Keystone's catalog (`openstack service create`), beside the
/// simulator's own services, which are always there. Key: its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeystoneServiceRec {
    pub id: String,
    pub site: String,
    /// The service type (`protector`).
    pub kind: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
}

/// An endpoint of a registered service (`openstack endpoint create`). Key: its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeystoneEndpointRec {
    pub id: String,
    pub site: String,
    pub service_id: String,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// As registered: `%(tenant_id)s` and the like are expanded in a token's catalog.
    pub url: String,
    pub region_id: String,
    pub enabled: bool,
}

/// A revoked Keystone token, by its audit id. Key: `site/audit_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RevokedTokenRec {
    pub site: String,
    pub audit_id: String,
    /// When the token would have expired anyway (real time), for pruning.
    pub expires_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- Nova

/// A Nova flavor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlavorRec {
    pub id: String,
    pub site: String,
    pub name: String,
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

/// A keypair of one user. Key: `site/user_id/name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeypairRec {
    pub site: String,
    pub user_id: String,
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
    /// `ssh` or `x509` (empty: `ssh`).
    #[serde(default)]
    pub key_type: String,
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
}

/// What a server is doing until a later tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "task")]
pub(crate) enum ServerTask {
    /// BUILD until `until_tick`, then ACTIVE, or ERROR with `fault`.
    Spawning {
        until_tick: u64,
        fault: Option<String>,
    },
    /// ACTIVE (still writing) until `until_tick`, then SHUTOFF.
    PoweringOff { until_tick: u64 },
    /// SHUTOFF until `until_tick`, then ACTIVE.
    PoweringOn { until_tick: u64 },
}

impl ServerTask {
    pub(crate) fn state_name(&self) -> &'static str {
        match self {
            ServerTask::Spawning { .. } => "spawning",
            ServerTask::PoweringOff { .. } => "powering-off",
            ServerTask::PoweringOn { .. } => "powering-on",
        }
    }
}

/// A volume attached to a server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServerVolume {
    pub volume_id: String,
    pub device: String,
    pub boot_index: i32,
    pub delete_on_termination: bool,
}

/// A Nova server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServerRec {
    pub id: String,
    pub site: String,
    pub seq: u64,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub flavor_id: String,
    pub flavor_name: String,
    pub key_name: Option<String>,
    pub availability_zone: String,
    /// `BUILD`, `ACTIVE`, `SHUTOFF`, `ERROR`.
    pub status: String,
    pub task: Option<ServerTask>,
    pub volumes: Vec<ServerVolume>,
    pub port_ids: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub fault: Option<String>,
    pub created: DateTime<Utc>,
    /// Ports Nova created for `networks[].uuid` requests; Nova deletes them with the server.
    #[serde(default)]
    pub created_port_ids: Vec<String>,
    /// Free text (compute API 2.19+).
    #[serde(default)]
    pub description: Option<String>,
    /// When the state last changed.
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
    /// The hypervisor (`HypervisorRec::hostname`) it runs on; `None` for servers made before
    /// hypervisors were simulated, counted on the first hypervisor of their zone.
    #[serde(default)]
    pub host: Option<String>,
}

/// A compute node. Key: `site/hostname`. Its availability zone is what Nova's host aggregates
/// would give it; the zones of a site are those of its hypervisors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HypervisorRec {
    /// Integer id, as Nova reports it before microversion 2.53.
    pub id: u64,
    pub site: String,
    pub hostname: String,
    pub availability_zone: String,
    pub vcpus: u64,
    pub memory_mb: u64,
    /// `status: enabled` (the nova-compute service is not disabled).
    pub enabled: bool,
    /// `state: up`.
    pub up: bool,
}

/// A project's quota limits on one site, set with `protector sim quota set`. Key:
/// `site/project_id`. A project without a record has the simulator's defaults; `-1` is
/// unlimited, as in the services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QuotaRec {
    pub site: String,
    pub project_id: String,
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
    pub volumes: i64,
    pub gigabytes: i64,
    pub ports: i64,
}

// ---------------------------------------------------------------- Cinder

/// A Cinder volume type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VolumeTypeRec {
    pub id: String,
    pub site: String,
    pub name: String,
    pub description: String,
    pub extra_specs: BTreeMap<String, String>,
}

/// A Cinder group type (generic volume groups, API 3.11+).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GroupTypeRec {
    pub id: String,
    pub site: String,
    pub name: String,
    pub description: String,
    pub group_specs: BTreeMap<String, String>,
}

/// A Cinder snapshot of a volume. The Pure driver's array-side snapshot is not simulated.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CinderSnapshotRec {
    pub id: String,
    pub site: String,
    pub seq: u64,
    pub volume_id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    /// `creating`, `available`, `deleting`, `error`.
    pub status: String,
    pub size_gb: u64,
    pub metadata: BTreeMap<String, String>,
    pub created: DateTime<Utc>,
    /// The status flips on this tick (`creating` → `available`, `deleting` → gone).
    pub until_tick: Option<u64>,
}

/// A `cinder-volume` service. Key: `site/host`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VolumeServiceRec {
    pub site: String,
    pub host: String,
    pub binary: String,
    pub zone: String,
    pub state: String,
    pub status: String,
}

/// A volume attachment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AttachmentRec {
    pub server_id: String,
    pub device: String,
}

/// What a volume is doing until a later tick (the volume manager's asynchronous part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "task")]
pub(crate) enum VolumeTask {
    /// `creating` after a manage request; the driver runs at `until_tick`.
    Manage {
        source_name: String,
        until_tick: u64,
    },
    /// `unmanaging`; the driver renames the array volume and the record goes at `until_tick`.
    Unmanage { until_tick: u64 },
    /// `deleting`; the array volume is destroyed and eradicated at `until_tick`.
    Delete { until_tick: u64 },
    /// `creating` after `POST /volumes`; the driver creates the array volume at `until_tick`.
    Create { until_tick: u64 },
}

/// A Cinder volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VolumeRec {
    pub id: String,
    pub site: String,
    pub seq: u64,
    pub name: String,
    pub description: String,
    pub status: String,
    pub size_gb: u64,
    pub volume_type_id: String,
    pub volume_type: String,
    pub bootable: bool,
    pub host: Option<String>,
    pub project_id: String,
    pub availability_zone: String,
    pub attachments: Vec<AttachmentRec>,
    pub group_id: Option<String>,
    pub array_volume: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub task: Option<VolumeTask>,
    pub created: DateTime<Utc>,
    /// The user who created (or managed) it.
    #[serde(default)]
    pub user_id: String,
    /// When the state last changed.
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
    /// Where its data came from and the write it held then (`None`: made before lineage was
    /// recorded).
    #[serde(default)]
    pub lineage: Option<crate::lineage::VolumeLineage>,
}

/// A Cinder generic volume group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VolumeGroupRec {
    pub id: String,
    pub site: String,
    pub seq: u64,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub status: String,
    pub volume_type_ids: Vec<String>,
    /// Its group type; empty for groups created before group types were simulated (shown as
    /// the default group type).
    #[serde(default)]
    pub group_type_id: String,
    #[serde(default)]
    pub created: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------- Neutron

/// A Neutron network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetworkRec {
    pub id: String,
    pub site: String,
    pub name: String,
    pub project_id: String,
    pub shared: bool,
    pub subnet_ids: Vec<String>,
    /// `admin_state_up` as created (`true` for records made before networks could be created).
    #[serde(default = "default_true")]
    pub admin_state_up: bool,
    /// The MTU asked for; `None` is the simulator's default (1450, VXLAN over 1500).
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub description: String,
}

fn default_true() -> bool {
    true
}

/// A Neutron subnet (IPv4, /8 to /30).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SubnetRec {
    pub id: String,
    pub site: String,
    pub name: String,
    pub network_id: String,
    pub project_id: String,
    pub cidr: String,
    pub gateway_ip: String,
    /// `(start, end)` ranges addresses are allocated from; empty is Neutron's default, every
    /// host of the CIDR but the gateway.
    #[serde(default)]
    pub allocation_pools: Vec<(String, String)>,
    /// `enable_dhcp` as created (`true` for records made before subnets could be created).
    #[serde(default = "default_true")]
    pub enable_dhcp: bool,
    #[serde(default)]
    pub dns_nameservers: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// A Neutron port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PortRec {
    pub id: String,
    pub site: String,
    pub seq: u64,
    pub name: String,
    pub network_id: String,
    pub project_id: String,
    pub device_id: String,
    pub device_owner: String,
    pub mac_address: String,
    /// (subnet id, address).
    pub fixed_ips: Vec<(String, String)>,
    pub security_group_ids: Vec<String>,
    pub description: String,
    pub status: String,
}

/// A Neutron security group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecurityGroupRec {
    pub id: String,
    pub site: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
}

/// A Neutron router (no external gateway: the simulator has no external networks). Its
/// interfaces are ports with `device_owner` `network:router_interface` and `device_id` its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RouterRec {
    pub id: String,
    pub site: String,
    pub name: String,
    pub project_id: String,
    pub admin_state_up: bool,
    pub description: String,
}

/// A rule of a Neutron security group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SecurityGroupRuleRec {
    pub id: String,
    pub site: String,
    pub security_group_id: String,
    pub project_id: String,
    /// `ingress` / `egress`.
    pub direction: String,
    /// `IPv4` / `IPv6`.
    pub ethertype: String,
    pub protocol: Option<String>,
    pub port_range_min: Option<u32>,
    pub port_range_max: Option<u32>,
    pub remote_ip_prefix: Option<String>,
    pub remote_group_id: Option<String>,
    pub description: String,
}

// ---------------------------------------------------------------- FlashArray

/// A FlashArray. Key: its name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArrayRec {
    pub name: String,
    pub id: String,
    pub site: String,
    pub url: String,
    pub api_token: String,
    pub version: String,
    /// Arrays it has a replication connection with.
    pub connections: Vec<String>,
}

/// A volume on an array. Key: `array/name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArrayVolumeRec {
    pub array: String,
    pub name: String,
    pub provisioned_bytes: u64,
    pub serial: String,
    pub destroyed: bool,
    pub destroyed_at: Option<DateTime<Utc>>,
    pub pod: Option<String>,
    pub created: DateTime<Utc>,
    /// Sequence number of the last write the volume holds.
    pub fingerprint: u64,
    /// Hosts it is connected to (a volume attached to a server is connected to its compute
    /// host). Follows the volume through renames, as Purity's connections do.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The volume it was copied from, as named on this array (`source` in REST).
    #[serde(default)]
    pub source: Option<String>,
    /// Block → sequence number of the last write to it ([`crate::array::diff`]).
    #[serde(default)]
    pub written_blocks: super::blocks::WrittenBlocks,
    /// When it was made by a copy: what was copied and the write it held.
    #[serde(default)]
    pub copied_from: Option<crate::lineage::ArrayCopyRec>,
}

/// A protection group. On its source array `name` is `pg`; the replica on a target array is
/// `source:pg` with `replica` set. Key: `array/name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PgRec {
    pub array: String,
    pub name: String,
    /// The array that owns the group.
    pub source: String,
    pub replica: bool,
    /// Member volume names (source groups only).
    pub volumes: Vec<String>,
    /// Target array names (source groups only).
    pub targets: Vec<String>,
    /// Whether the source may replicate into this array (replica groups only).
    pub allowed: bool,
    pub replication_enabled: bool,
    pub replication_frequency_secs: u64,
    /// When the schedule last fired (or was enabled).
    pub last_scheduled: Option<DateTime<Utc>>,
    /// The number the next `pg.N` snapshot gets.
    pub next_snapshot_number: u64,
    pub destroyed: bool,
    pub destroyed_at: Option<DateTime<Utc>>,
    /// Retention set over REST (`source_retention`) for the group's snapshots on its own
    /// array; `None` is Purity's default. Enforced by `crate::array::retention`.
    #[serde(default)]
    pub source_retention: Option<RetentionRec>,
    /// Retention set over REST (`target_retention`) for the group's replicas on its targets;
    /// `None` is Purity's default. Kept on the source group only.
    #[serde(default)]
    pub target_retention: Option<RetentionRec>,
}

/// A protection group's retention policy as REST sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RetentionRec {
    /// Keep every snapshot this many seconds.
    pub all_for_sec: u64,
    /// Then keep this many per day…
    pub per_day: u64,
    /// …for this many days.
    pub days: u64,
}

/// Incoming replication of a replica snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TransferRec {
    pub started: DateTime<Utc>,
    /// Steps done out of [`crate::tick::TRANSFER_STEPS`].
    pub steps: u32,
    pub completed: Option<DateTime<Utc>>,
    pub total_bytes: u64,
}

/// A protection-group snapshot (`pg.N` on the source, `source:pg.N` on a target). Key:
/// `array/name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PgSnapshotRec {
    pub array: String,
    pub name: String,
    /// The group as named on this array.
    pub group: String,
    pub seq: u64,
    pub created: DateTime<Utc>,
    pub destroyed: bool,
    #[serde(default)]
    pub destroyed_at: Option<DateTime<Utc>>,
    /// Subject to the group's retention (scheduled or `apply_retention`).
    pub retained: bool,
    /// Source side: targets the snapshot still has to be sent to.
    pub pending_targets: Vec<String>,
    /// Target side: the incoming transfer.
    pub transfer: Option<TransferRec>,
}

/// A volume snapshot inside a pg snapshot. Key: `array/name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VolumeSnapshotRec {
    pub array: String,
    pub name: String,
    pub pg_snapshot: String,
    /// Source volume as named on the source array.
    pub source_volume: String,
    pub created: DateTime<Utc>,
    pub provisioned_bytes: u64,
    pub fingerprint: u64,
    /// The source volume's written blocks when the snapshot was taken.
    #[serde(default)]
    pub written_blocks: super::blocks::WrittenBlocks,
}

/// One array of a pod.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PodMemberRec {
    pub array: String,
    /// `online`, `offline`, `resyncing`.
    pub status: String,
    /// `promoted` / `demoted`.
    pub promotion: String,
}

/// An ActiveCluster pod, one object shared by the arrays it is stretched over. Key: its name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PodRec {
    pub name: String,
    pub members: Vec<PodMemberRec>,
    pub destroyed: bool,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub destroyed_at: Option<DateTime<Utc>>,
}

impl PodRec {
    pub(crate) fn member(&self, array: &str) -> Option<&PodMemberRec> {
        self.members.iter().find(|m| m.array == array)
    }

    pub(crate) fn member_mut(&mut self, array: &str) -> Option<&mut PodMemberRec> {
        self.members.iter_mut().find(|m| m.array == array)
    }
}

/// `array/name`, the key of array-scoped rows.
pub(crate) fn array_key(array: &str, name: &str) -> String {
    format!("{array}/{name}")
}
