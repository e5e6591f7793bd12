//! Cinder.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::capacity::VolumeLimits;
use crate::error::{Error, ErrorKind, Result};

/// A volume's attachment to a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeAttachment {
    /// Server id.
    pub server_id: String,
    /// Guest device name.
    pub device: String,
}

/// A Cinder volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status as Cinder's API shows it (`available`, `in-use`, `creating`, `error`, …; Cinder
    /// shows its internal `managing` as `creating` and `error_managing` as `error`).
    pub status: String,
    /// Size in GiB.
    pub size_gb: u64,
    /// Volume type name.
    pub volume_type: String,
    /// Bootable flag.
    pub bootable: bool,
    /// Backend host (`os-vol-host-attr:host`, `host@backend#pool`), visible to admins.
    pub host: Option<String>,
    /// Owning project.
    pub project_id: String,
    /// Attachments.
    pub attachments: Vec<VolumeAttachment>,
    /// Cinder group id, if in one.
    pub group_id: Option<String>,
    /// Name of the backing array volume (`provider_id` / metadata `array_volume_name`).
    pub array_volume: Option<String>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
}

/// A volume type with its extra specs (as far as the caller may see them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeType {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Extra specs.
    pub extra_specs: BTreeMap<String, String>,
}

impl VolumeType {
    /// `replication_enabled='<is> True'`.
    pub fn replication_enabled(&self) -> bool {
        self.extra_specs
            .get("replication_enabled")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("<is> true"))
    }

    /// The replication type (`async` / `sync`) from `replication_type='<in> X'`, if visible.
    /// Replication enabled without a type means async, as in the Cinder Pure driver.
    pub fn replication_type(&self) -> Option<String> {
        match self.extra_specs.get("replication_type") {
            Some(v) => Some(
                v.trim()
                    .trim_start_matches("<in>")
                    .trim()
                    .to_ascii_lowercase(),
            ),
            None if self.replication_enabled() => Some("async".to_string()),
            None => None,
        }
    }
}

/// A `cinder-volume` service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeService {
    /// `host@backend`.
    pub host: String,
    /// `cinder-volume`.
    pub binary: String,
    /// `up` / `down`.
    pub state: String,
    /// `enabled` / `disabled`.
    pub status: String,
    /// Availability zone.
    pub zone: String,
}

impl VolumeService {
    /// Whether the service can take a manage request.
    pub fn is_usable(&self) -> bool {
        self.state == "up" && self.status == "enabled"
    }
}

/// Manage an existing array volume into Cinder ("manage existing").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManageVolume {
    /// `host@backend[#pool]` from `os-services`.
    pub host: String,
    /// The array volume name (`ref.source-name`).
    pub source_name: String,
    /// Cinder name of the new volume.
    pub name: String,
    /// Volume type name.
    pub volume_type: String,
    /// Bootable flag (Nova refuses to boot from a non-bootable volume).
    pub bootable: bool,
    /// Description.
    pub description: String,
    /// Metadata; protector tags volumes with `protector:operation` and `protector:step`.
    pub metadata: BTreeMap<String, String>,
}

/// A Cinder generic volume group (consistency group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeGroup {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Volume type ids.
    pub volume_types: Vec<String>,
    /// Member volume ids.
    pub volume_ids: Vec<String>,
}

/// Create a consistency group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateVolumeGroup {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Volume type name or id.
    pub volume_type: String,
}

/// Filters for listing volumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVolumes {
    /// Exact name.
    pub name: Option<String>,
    /// Volumes whose metadata holds this key with this value.
    pub metadata: Option<(String, String)>,
}

/// A site's Cinder.
#[async_trait]
pub trait BlockStorageApi: Send + Sync + std::fmt::Debug + 'static {
    /// One volume. `Ok(None)` when missing.
    async fn get_volume(&self, id: &str) -> Result<Option<Volume>>;

    /// Volumes of the project matching `filter`, all pages.
    async fn list_volumes(&self, filter: &ListVolumes) -> Result<Vec<Volume>>;

    /// A volume type by name or id. `Ok(None)` when missing.
    async fn find_volume_type(&self, name_or_id: &str) -> Result<Option<VolumeType>>;

    /// Every volume type.
    async fn list_volume_types(&self) -> Result<Vec<VolumeType>>;

    /// `cinder-volume` services (`os-services`).
    ///
    /// # Behavior
    /// - `PermissionDenied` when policy forbids it (admin-only by default): that also tells
    ///   validation the credentials cannot manage volumes.
    async fn list_volume_services(&self) -> Result<Vec<VolumeService>>;

    /// Manages an array volume into Cinder. Returns at once (`creating`); poll until
    /// `available` or `error` (Cinder's `error_managing`, as its API shows it).
    ///
    /// # Behavior
    /// - `PermissionDenied` with Cinder's policy message when manage is not allowed.
    /// - `InvalidInput` when the reference does not exist or is already managed.
    /// - Not idempotent: look for a volume carrying the step's metadata before sending again.
    async fn manage_volume(&self, request: &ManageVolume) -> Result<Volume>;

    /// Removes a volume from Cinder, keeping it on the backend (`os-unmanage`).
    ///
    /// # Behavior
    /// - Unmanaging a missing volume succeeds.
    /// - `Conflict` when the volume is attached, in a group, has snapshots or a busy status.
    async fn unmanage_volume(&self, id: &str) -> Result<()>;

    /// Deletes a volume and its backing array volume.
    ///
    /// # Behavior
    /// - Deleting a missing volume succeeds.
    async fn delete_volume(&self, id: &str) -> Result<()>;

    /// Creates a consistency group.
    async fn create_volume_group(&self, request: &CreateVolumeGroup) -> Result<VolumeGroup>;

    /// One group. `Ok(None)` when missing.
    async fn get_volume_group(&self, id: &str) -> Result<Option<VolumeGroup>>;

    /// Adds and removes volumes.
    async fn update_volume_group(&self, id: &str, add: &[String], remove: &[String]) -> Result<()>;

    /// Deletes a group, keeping its volumes.
    ///
    /// # Behavior
    /// - Deleting a missing group succeeds.
    async fn delete_volume_group(&self, id: &str) -> Result<()>;

    /// The scoped project's absolute limits and usage (`GET /v3/{project_id}/limits`).
    ///
    /// # Behavior
    /// - `Unsupported` (the default) when the transport cannot tell.
    async fn get_limits(&self) -> Result<VolumeLimits> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "this block storage client cannot read limits",
        ))
    }
}
