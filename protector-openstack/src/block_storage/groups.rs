//! Cinder generic volume groups (the consistency groups of the Pure driver).

use std::collections::BTreeMap;

use protector_core::api::{BlockStorageApi, CreateVolumeGroup, VolumeGroup};
use protector_core::{Error, ErrorKind, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::BlockStorageClient;
use crate::service::{null_default, take, Microversion, Versions};

/// Group types exist from 3.11.
const GROUP_TYPES: Versions = Versions::exactly(3, 11);
/// Groups exist from 3.13.
const GROUPS: Versions = Versions::exactly(3, 13);
/// Show: from 3.25 `?list_volume=True` adds the member volume ids.
const GROUP_SHOW: Versions = Versions::range((3, 13), (3, 25));
const LIST_VOLUME: Microversion = Microversion(3, 25);

/// The group spec that makes a group type a consistency group type.
const CONSISTENT_SNAPSHOTS: &str = "consistent_group_snapshot_enabled";

impl BlockStorageClient {
    pub(super) async fn create_group(&self, request: &CreateVolumeGroup) -> Result<VolumeGroup> {
        let volume_type = self
            .find_volume_type(&request.volume_type)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "create volume group '{}': volume type '{}' does not exist",
                    request.name, request.volume_type
                ))
            })?;
        let group_type = self.consistency_group_type().await?;
        let body = json!({"group": {
            "name": request.name,
            "description": request.description,
            "group_type": group_type,
            "volume_types": [volume_type.id],
        }});
        let http = self
            .service
            .request(
                Method::POST,
                &["groups"],
                format!("create volume group '{}'", request.name),
                Some(GROUPS),
            )
            .await?
            .json(body);
        let response = self.service.send(&http).await?;
        let created: GroupWire = take(&response, "group")?;
        Ok(VolumeGroup {
            id: created.id,
            name: request.name.clone(),
            status: created.status.unwrap_or_else(|| "creating".into()),
            volume_types: vec![volume_type.id],
            volume_ids: Vec::new(),
        })
    }

    /// The group type for consistency groups: the first (by name) whose specs enable
    /// consistent snapshots, else the cloud's default group type.
    ///
    /// `CreateVolumeGroup` names no group type, so one is chosen here.
    async fn consistency_group_type(&self) -> Result<String> {
        let request = self
            .service
            .request(
                Method::GET,
                &["group_types"],
                "list group types",
                Some(GROUP_TYPES),
            )
            .await?;
        let mut types: Vec<GroupTypeWire> = self.service.list(request, "group_types").await?;
        types.sort_by(|a, b| a.name.cmp(&b.name));
        let consistent = types.into_iter().find(|t| {
            t.group_specs
                .get(CONSISTENT_SNAPSHOTS)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("<is> true"))
        });
        if let Some(found) = consistent {
            return Ok(found.id);
        }
        let request = self
            .service
            .request(
                Method::GET,
                &["group_types", "default"],
                "show the default group type",
                Some(GROUP_TYPES),
            )
            .await?;
        match self.service.get_optional::<GroupTypeWire>(&request, "group_type").await? {
            Some(default) => Ok(default.id),
            None => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the cloud has no group type with {CONSISTENT_SNAPSHOTS}='<is> True' and no default group type; create one (openstack volume group type create --property {CONSISTENT_SNAPSHOTS}='<is> True' NAME)"
                ),
            )),
        }
    }

    pub(super) async fn get_group(&self, id: &str) -> Result<Option<VolumeGroup>> {
        let request = self
            .service
            .request(
                Method::GET,
                &["groups", id],
                format!("show volume group {id}"),
                Some(GROUP_SHOW),
            )
            .await?
            .query("list_volume", "True");
        let Some(response) = self.service.send_optional(&request).await? else {
            return Ok(None);
        };
        // The version it was answered at (an older cloud answers at an older one).
        let lists_volumes = response.microversion.is_some_and(|v| v >= LIST_VOLUME);
        let group: GroupWire = take(&response, "group")?;
        // Cinder leaves `volumes` out of an empty group.
        let volume_ids = match group.volumes {
            volumes if lists_volumes => volumes
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().or_else(|| v.get("id")?.as_str()))
                .map(str::to_string)
                .collect(),
            // Before 3.25 the members are found through the volumes' group_id.
            _ => self
                .all_volumes(None)
                .await?
                .into_iter()
                .filter(|v| v.group_id.as_deref() == Some(id))
                .map(|v| v.id)
                .collect(),
        };
        Ok(Some(VolumeGroup {
            id: group.id,
            name: group.name,
            status: group.status.unwrap_or_default(),
            volume_types: group.volume_types,
            volume_ids,
        }))
    }

    pub(super) async fn update_group(
        &self,
        id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<()> {
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let mut group = Map::new();
        if !add.is_empty() {
            group.insert("add_volumes".into(), json!(add.join(",")));
        }
        if !remove.is_empty() {
            group.insert("remove_volumes".into(), json!(remove.join(",")));
        }
        let request = self
            .service
            .request(
                Method::PUT,
                &["groups", id],
                format!("update volume group {id}"),
                Some(GROUPS),
            )
            .await?
            .json(json!({ "group": group }))
            // Adding a volume twice is refused: not safe to re-send after a timeout.
            .idempotent(false);
        self.service
            .send(&request)
            .await
            .map(|_| ())
            .map_err(|e| e.with_context("group", id))
    }

    pub(super) async fn delete_group(&self, id: &str) -> Result<()> {
        let request = self
            .service
            .request(
                Method::POST,
                &["groups", id, "action"],
                format!("delete volume group {id}"),
                Some(GROUPS),
            )
            .await?
            .json(json!({"delete": {"delete-volumes": false}}));
        self.service
            .send_optional(&request)
            .await
            .map(|_| ())
            .map_err(|e| e.with_context("group", id))
    }
}

#[derive(Deserialize)]
struct GroupWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    volume_types: Vec<String>,
    #[serde(default)]
    volumes: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct GroupTypeWire {
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    name: String,
    #[serde(default, deserialize_with = "null_default")]
    group_specs: BTreeMap<String, String>,
}
