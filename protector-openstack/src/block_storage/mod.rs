//! Cinder (block storage API v3).

mod groups;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use protector_core::api::{
    BlockStorageApi, CreateVolumeGroup, ListVolumes, ManageVolume, Volume, VolumeAttachment,
    VolumeGroup, VolumeService, VolumeType,
};
use protector_core::{ErrorKind, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::ServiceType;
use crate::error::recast;
use crate::service::{null_default, take, ServiceClient, Versions};
use crate::session::Session;

/// Volume show/list: `group_id` appears in 3.13, `provider_id` (admin) in 3.21.
const VOLUMES: Versions = Versions::range((3, 0), (3, 21));
/// `POST /manageable_volumes` exists from 3.8.
const MANAGE: Versions = Versions::exactly(3, 8);
/// Types, services, `os-unmanage`, delete: unchanged since 3.0.
const BASE: Versions = Versions::exactly(3, 0);

/// Cinder of one cloud, implementing [`BlockStorageApi`].
#[derive(Debug)]
pub struct BlockStorageClient {
    service: ServiceClient,
}

impl BlockStorageClient {
    pub(crate) fn new(session: Arc<Session>) -> Self {
        BlockStorageClient {
            service: ServiceClient::new(session, ServiceType::BlockStorage),
        }
    }

    async fn volume(&self, wire: VolumeWire) -> Result<Volume> {
        // Non-admins do not see the owner; a project-scoped listing only holds its own volumes.
        let project_id = match &wire.tenant_id {
            Some(p) if !p.is_empty() => p.clone(),
            _ => self.service.project_id().await?,
        };
        Ok(wire.into_volume(project_id))
    }

    async fn all_volumes(&self, name: Option<&str>) -> Result<Vec<Volume>> {
        let mut request = self
            .service
            .request(
                Method::GET,
                &["volumes", "detail"],
                "list volumes",
                Some(VOLUMES),
            )
            .await?;
        if let Some(name) = name {
            request = request.query("name", name);
        }
        let wires: Vec<VolumeWire> = self.service.list(request, "volumes").await?;
        let mut volumes = Vec::with_capacity(wires.len());
        for wire in wires {
            volumes.push(self.volume(wire).await?);
        }
        Ok(volumes)
    }

    /// A volume action or delete whose 404 means done; a 400 is about the volume's state
    /// (attached, in a group, has snapshots, busy), so it is a `Conflict`.
    async fn volume_change(
        &self,
        method: Method,
        id: &str,
        action: Option<Value>,
        verb: &str,
    ) -> Result<()> {
        let path: &[&str] = if action.is_some() {
            &["volumes", id, "action"]
        } else {
            &["volumes", id]
        };
        let mut request = self
            .service
            .request(method, path, format!("{verb} volume {id}"), Some(BASE))
            .await?;
        if let Some(body) = action {
            request = request.json(body);
        }
        match self.service.send_optional(&request).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::InvalidInput => Err(recast(
                &e,
                ErrorKind::Conflict,
                format!(
                    "{}; detach it, remove it from its group and delete its snapshots first",
                    e.message()
                ),
            )
            .with_context("volume", id)),
            Err(e) => Err(e.with_context("volume", id)),
        }
    }
}

#[async_trait]
impl BlockStorageApi for BlockStorageClient {
    async fn get_volume(&self, id: &str) -> Result<Option<Volume>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["volumes", id],
                format!("show volume {id}"),
                Some(VOLUMES),
            )
            .await?;
        match self
            .service
            .get_optional::<VolumeWire>(&request, "volume")
            .await?
        {
            Some(wire) => Ok(Some(self.volume(wire).await?)),
            None => Ok(None),
        }
    }

    async fn list_volumes(&self, filter: &ListVolumes) -> Result<Vec<Volume>> {
        // Cinder filters names exactly; metadata is filtered here, its query syntax having
        // changed across releases.
        Ok(self
            .all_volumes(filter.name.as_deref())
            .await?
            .into_iter()
            .filter(|v| filter.name.as_ref().is_none_or(|n| &v.name == n))
            .filter(|v| {
                filter
                    .metadata
                    .as_ref()
                    .is_none_or(|(k, val)| v.metadata.get(k) == Some(val))
            })
            .collect())
    }

    async fn find_volume_type(&self, name_or_id: &str) -> Result<Option<VolumeType>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["types", name_or_id],
                format!("show volume type {name_or_id}"),
                Some(BASE),
            )
            .await?;
        if let Some(found) = self
            .service
            .get_optional::<TypeWire>(&request, "volume_type")
            .await?
        {
            return Ok(Some(found.into()));
        }
        Ok(self
            .list_volume_types()
            .await?
            .into_iter()
            .find(|t| t.name == name_or_id))
    }

    async fn list_volume_types(&self) -> Result<Vec<VolumeType>> {
        // `is_public=None`: admins see private types too; the parameter is ignored for others.
        let request = self
            .service
            .request(Method::GET, &["types"], "list volume types", Some(BASE))
            .await?
            .query("is_public", "None");
        let types: Vec<TypeWire> = self.service.list(request, "volume_types").await?;
        Ok(types.into_iter().map(VolumeType::from).collect())
    }

    async fn list_volume_services(&self) -> Result<Vec<VolumeService>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["os-services"],
                "list volume services",
                Some(BASE),
            )
            .await?
            .query("binary", "cinder-volume");
        let response = self.service.send(&request).await?;
        let services: Vec<ServiceWire> = take(&response, "services")?;
        Ok(services
            .into_iter()
            .filter(|s| s.binary == "cinder-volume")
            .map(|s| VolumeService {
                host: s.host,
                binary: s.binary,
                state: s.state,
                status: s.status,
                zone: s.zone,
            })
            .collect())
    }

    async fn manage_volume(&self, request: &ManageVolume) -> Result<Volume> {
        // The Pure driver reads `name`; drivers following the api-ref read `source-name`.
        // Drivers ignore keys they do not use, so both are sent.
        let body = json!({"volume": {
            "host": request.host,
            "ref": {"name": request.source_name, "source-name": request.source_name},
            "name": request.name,
            "description": request.description,
            "volume_type": request.volume_type,
            "bootable": request.bootable,
            "metadata": request.metadata,
        }});
        let http = self
            .service
            .request(
                Method::POST,
                &["manageable_volumes"],
                format!(
                    "manage array volume '{}' as '{}'",
                    request.source_name, request.name
                ),
                Some(MANAGE),
            )
            .await?
            .json(body);
        let response = self
            .service
            .send(&http)
            .await
            .map_err(|e| e.with_context("array_volume", request.source_name.clone()))?;
        // The answer is Cinder's legacy view of a volume being created: fill what it lacks.
        let wire: VolumeWire = take(&response, "volume")?;
        let mut volume = self.volume(wire).await?;
        if volume.name.is_empty() {
            volume.name = request.name.clone();
        }
        if volume.volume_type.is_empty() {
            volume.volume_type = request.volume_type.clone();
        }
        volume.bootable |= request.bootable;
        for (k, v) in &request.metadata {
            volume
                .metadata
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        Ok(volume)
    }

    async fn unmanage_volume(&self, id: &str) -> Result<()> {
        self.volume_change(
            Method::POST,
            id,
            Some(json!({"os-unmanage": null})),
            "unmanage",
        )
        .await
    }

    async fn delete_volume(&self, id: &str) -> Result<()> {
        self.volume_change(Method::DELETE, id, None, "delete").await
    }

    async fn create_volume_group(&self, request: &CreateVolumeGroup) -> Result<VolumeGroup> {
        self.create_group(request).await
    }

    async fn get_volume_group(&self, id: &str) -> Result<Option<VolumeGroup>> {
        self.get_group(id).await
    }

    async fn update_volume_group(&self, id: &str, add: &[String], remove: &[String]) -> Result<()> {
        self.update_group(id, add, remove).await
    }

    async fn delete_volume_group(&self, id: &str) -> Result<()> {
        self.delete_group(id).await
    }

    async fn get_limits(&self) -> Result<protector_core::api::VolumeLimits> {
        crate::capacity::volume_limits(&self.service).await
    }
}

#[derive(Deserialize)]
struct VolumeWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    status: String,
    #[serde(default, deserialize_with = "null_default")]
    size: u64,
    #[serde(default, deserialize_with = "null_default")]
    volume_type: String,
    /// `"true"` / `"false"` as a string; some proxies turn it into a bool.
    #[serde(default)]
    bootable: Value,
    #[serde(rename = "os-vol-host-attr:host", default)]
    host: Option<String>,
    #[serde(rename = "os-vol-tenant-attr:tenant_id", default)]
    tenant_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    attachments: Vec<AttachmentWire>,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    provider_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    metadata: BTreeMap<String, String>,
}

impl VolumeWire {
    fn into_volume(self, project_id: String) -> Volume {
        let bootable = match &self.bootable {
            Value::Bool(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        let array_volume = self
            .provider_id
            .filter(|p| !p.is_empty())
            .or_else(|| self.metadata.get("array_volume_name").cloned());
        Volume {
            id: self.id,
            name: self.name,
            status: self.status,
            size_gb: self.size,
            volume_type: self.volume_type,
            bootable,
            host: self.host.filter(|h| !h.is_empty()),
            project_id,
            attachments: self
                .attachments
                .into_iter()
                .map(|a| VolumeAttachment {
                    server_id: a.server_id,
                    device: a.device,
                })
                .collect(),
            group_id: self.group_id.filter(|g| !g.is_empty()),
            array_volume,
            metadata: self.metadata,
        }
    }
}

#[derive(Deserialize)]
struct AttachmentWire {
    #[serde(default, deserialize_with = "null_default")]
    server_id: String,
    #[serde(default, deserialize_with = "null_default")]
    device: String,
}

#[derive(Deserialize)]
struct TypeWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    extra_specs: BTreeMap<String, String>,
}

impl From<TypeWire> for VolumeType {
    fn from(w: TypeWire) -> Self {
        VolumeType {
            id: w.id,
            name: w.name,
            extra_specs: w.extra_specs,
        }
    }
}

#[derive(Deserialize)]
struct ServiceWire {
    #[serde(default, deserialize_with = "null_default")]
    host: String,
    #[serde(default, deserialize_with = "null_default")]
    binary: String,
    #[serde(default, deserialize_with = "null_default")]
    state: String,
    #[serde(default, deserialize_with = "null_default")]
    status: String,
    #[serde(default, deserialize_with = "null_default")]
    zone: String,
}
