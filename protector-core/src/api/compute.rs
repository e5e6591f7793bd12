//! Nova.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::capacity::{AvailabilityZone, ComputeLimits, Hypervisor};
use crate::error::{Error, ErrorKind, Result};

/// Nova server status, as returned by the API (`ACTIVE`, `SHUTOFF`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerStatus {
    /// Being built.
    Build,
    /// Running.
    Active,
    /// Stopped.
    Shutoff,
    /// Failed; see `fault`.
    Error,
    /// Deleted (only seen while deletion completes).
    Deleted,
    /// Any other status Nova reports.
    #[serde(untagged)]
    Other(String),
}

impl ServerStatus {
    /// The spelling Nova uses.
    pub fn as_str(&self) -> &str {
        match self {
            ServerStatus::Build => "BUILD",
            ServerStatus::Active => "ACTIVE",
            ServerStatus::Shutoff => "SHUTOFF",
            ServerStatus::Error => "ERROR",
            ServerStatus::Deleted => "DELETED",
            ServerStatus::Other(s) => s,
        }
    }

    /// Parses Nova's spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "BUILD" => ServerStatus::Build,
            "ACTIVE" => ServerStatus::Active,
            "SHUTOFF" => ServerStatus::Shutoff,
            "ERROR" => ServerStatus::Error,
            "DELETED" => ServerStatus::Deleted,
            other => ServerStatus::Other(other.to_string()),
        }
    }
}

/// A volume attached to a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedVolume {
    /// Cinder volume id.
    pub volume_id: String,
    /// Whether Nova deletes it with the server.
    pub delete_on_termination: bool,
}

/// A Nova server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    /// Server id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: ServerStatus,
    /// Owning project.
    pub project_id: String,
    /// Flavor id (when the microversion exposes it) or empty.
    pub flavor_id: String,
    /// Flavor name (`original_name` from 2.47 on).
    pub flavor_name: String,
    /// Keypair name.
    pub key_name: Option<String>,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Attached volumes in attachment order.
    pub attached_volumes: Vec<AttachedVolume>,
    /// Security group names.
    pub security_groups: Vec<String>,
    /// Server metadata.
    pub metadata: BTreeMap<String, String>,
    /// Fault message when status is `ERROR`.
    pub fault: Option<String>,
}

/// A block device of a new server (boot from an existing volume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDevice {
    /// Cinder volume id.
    pub volume_id: String,
    /// 0 for the root disk, -1 for others.
    pub boot_index: i32,
    /// Guest device name, if it matters.
    pub device_name: Option<String>,
    /// Whether Nova deletes the volume with the server (protector always passes false).
    pub delete_on_termination: bool,
}

/// `POST /servers` with boot from volume and pre-created ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateServer {
    /// Name.
    pub name: String,
    /// Flavor id on the target site.
    pub flavor_id: String,
    /// Keypair name.
    pub key_name: Option<String>,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Block devices, root first.
    pub block_devices: Vec<BlockDevice>,
    /// Pre-created Neutron port ids, in NIC order.
    pub port_ids: Vec<String>,
    /// Metadata; protector tags servers with `protector:operation` and `protector:member`.
    pub metadata: BTreeMap<String, String>,
}

/// A flavor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in MiB.
    pub ram_mb: u64,
    /// Root disk in GiB.
    pub disk_gb: u64,
}

/// A keypair of the authenticated user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keypair {
    /// Name.
    pub name: String,
    /// Public key.
    pub public_key: String,
    /// Fingerprint.
    pub fingerprint: String,
}

/// Filters for listing servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListServers {
    /// Exact name.
    pub name: Option<String>,
    /// Servers whose metadata holds this key with this value.
    pub metadata: Option<(String, String)>,
}

/// A site's Nova.
#[async_trait]
pub trait ComputeApi: Send + Sync + std::fmt::Debug + 'static {
    /// One server. `Ok(None)` when it does not exist (404).
    async fn get_server(&self, id: &str) -> Result<Option<Server>>;

    /// Servers of the scoped project matching `filter`, all pages.
    async fn list_servers(&self, filter: &ListServers) -> Result<Vec<Server>>;

    /// Boots a server. Returns at once with status `BUILD`; poll [`ComputeApi::get_server`].
    ///
    /// # Behavior
    /// - Not idempotent: a caller that may have sent it must look for the server by its
    ///   `protector:step` metadata before sending again.
    /// - `InvalidInput` for a bad flavor, volume or port.
    async fn create_server(&self, request: &CreateServer) -> Result<Server>;

    /// Stops a server (`os-stop`). Returns when accepted; poll until `SHUTOFF`.
    ///
    /// # Behavior
    /// - Stopping a server that is already `SHUTOFF` succeeds without change.
    /// - `NotFound` when the server does not exist.
    async fn stop_server(&self, id: &str) -> Result<()>;

    /// Starts a server (`os-start`). Returns when accepted; poll until `ACTIVE`.
    ///
    /// # Behavior
    /// - Starting an `ACTIVE` server succeeds without change.
    async fn start_server(&self, id: &str) -> Result<()>;

    /// Deletes a server; its volumes are detached and kept.
    ///
    /// # Behavior
    /// - Deleting a missing server succeeds.
    async fn delete_server(&self, id: &str) -> Result<()>;

    /// A flavor by id or by name. `Ok(None)` when neither matches.
    async fn find_flavor(&self, id_or_name: &str) -> Result<Option<Flavor>>;

    /// Every flavor visible to the project.
    async fn list_flavors(&self) -> Result<Vec<Flavor>>;

    /// A keypair of the authenticated user. `Ok(None)` when missing.
    async fn get_keypair(&self, name: &str) -> Result<Option<Keypair>>;

    /// The scoped project's absolute limits and usage (`GET /limits`).
    ///
    /// # Behavior
    /// - `Unsupported` (the default) when the transport cannot tell; callers then skip the
    ///   quota check with a warning.
    async fn get_limits(&self) -> Result<ComputeLimits> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "this compute client cannot read limits",
        ))
    }

    /// Every compute node with its capacity (`GET /os-hypervisors/detail` below 2.88).
    ///
    /// # Behavior
    /// - `PermissionDenied` when the credentials are not admin (the default policy).
    /// - `Unsupported` (the default) when the transport cannot tell.
    async fn list_hypervisors(&self) -> Result<Vec<Hypervisor>> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "this compute client cannot list hypervisors",
        ))
    }

    /// Nova's availability zones (`GET /os-availability-zone/detail`, or the plain list
    /// without hosts when the detail is not allowed).
    ///
    /// # Behavior
    /// - `Unsupported` (the default) when the transport cannot tell.
    async fn list_availability_zones(&self) -> Result<Vec<AvailabilityZone>> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "this compute client cannot list availability zones",
        ))
    }
}
