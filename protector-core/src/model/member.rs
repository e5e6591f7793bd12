//! Protection-group members and the recovery metadata captured when they are added.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether a member is ready to fail over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Volumes are in the consistency group; recovery metadata captured.
    Protected,
    /// Something failed; see `error_message`.
    Error,
}

impl MemberStatus {
    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Protected => "protected",
            MemberStatus::Error => "error",
        }
    }
}

/// A flavor as the source site knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlavorRef {
    /// Flavor id on the source site.
    pub id: String,
    /// Flavor name on the source site.
    pub name: String,
}

/// One fixed IP of a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    /// Subnet id on the source site.
    pub subnet_id: String,
    /// The address.
    pub ip_address: String,
}

/// One NIC of a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NicSpec {
    /// Network id on the source site.
    pub network_id: String,
    /// Network name on the source site.
    pub network_name: String,
    /// Port id on the source site.
    pub port_id: String,
    /// MAC address of the source port.
    pub mac_address: String,
    /// Fixed IPs of the source port.
    pub fixed_ips: Vec<FixedIp>,
    /// Security group ids on the port (source site).
    pub security_group_ids: Vec<String>,
}

/// A security group as the source site knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRef {
    /// Id on the source site.
    pub id: String,
    /// Name (names are how groups are matched across sites when no mapping is given).
    pub name: String,
}

/// One volume of a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    /// Cinder volume id on the source site.
    pub volume_id: String,
    /// Cinder volume name.
    pub name: String,
    /// Size in GiB.
    pub size_gb: u64,
    /// Whether Cinder marks it bootable.
    pub bootable: bool,
    /// Device name in the guest (`/dev/vda`).
    pub device: String,
    /// Boot index: 0 for the root disk, `None` for data disks.
    pub boot_index: Option<i32>,
    /// Name of the backing volume on the FlashArray.
    pub array_volume: String,
    /// Cinder volume type name.
    pub volume_type: String,
}

/// Everything needed to rebuild the VM on the other site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryMetadata {
    /// Flavor on the source site.
    pub flavor: FlavorRef,
    /// NICs in order.
    pub networks: Vec<NicSpec>,
    /// Security groups of the VM.
    pub security_groups: Vec<SecurityGroupRef>,
    /// Keypair name, if any.
    pub key_name: Option<String>,
    /// Availability zone on the source site.
    pub availability_zone: Option<String>,
    /// Volumes, root first.
    pub volumes: Vec<VolumeSpec>,
}

/// Where a member's VM runs now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Site name.
    pub site: String,
    /// Nova server id on that site.
    pub instance_id: String,
    /// Cinder volume ids on that site, in the order of `RecoveryMetadata::volumes`.
    pub volume_ids: Vec<String>,
    /// Array volume names on that site's array, same order.
    pub array_volumes: Vec<String>,
    /// Neutron port ids on that site, in the order of `RecoveryMetadata::networks`.
    pub port_ids: Vec<String>,
}

/// A protected VM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Protector's id.
    pub id: Uuid,
    /// The group it belongs to.
    pub group_id: Uuid,
    /// Nova instance id when it was added.
    pub instance_id: String,
    /// Instance name.
    pub instance_name: String,
    /// Whether it is ready to fail over.
    pub status: MemberStatus,
    /// Why it is in error.
    pub error_message: Option<String>,
    /// What was captured when it was added (describes the VM on the group's primary site).
    pub recovery: RecoveryMetadata,
    /// Where the VM runs now.
    pub current: Placement,
    /// The stopped copy on the other site after a failover, kept for a cheap failback.
    #[serde(default)]
    pub standby: Option<Placement>,
    /// Boot priority, 1 (first) to 5 (last), as SRM's five priority groups; 3 when not set.
    #[serde(default = "super::boot::default_priority")]
    pub priority: u8,
    /// Members of the same group that must be ACTIVE before this one boots (their
    /// priority is the same or earlier).
    #[serde(default)]
    pub depends_on: Vec<Uuid>,
}
