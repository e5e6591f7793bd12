//! Cinder: creating volumes (`POST /volumes`, the Pure driver's `create_volume` on the next
//! tick), `os-set_bootable`, and the Pure driver's list of manageable volumes.

use std::collections::BTreeMap;

use protector_core::{Error, Result};

use super::{policy_denied, resolve_type, visible, Caller};
use crate::lineage::{LineageKind, VolumeLineage};
use crate::state::records::{array_key, ArrayVolumeRec, VolumeRec, VolumeTask};
use crate::state::World;

/// `POST /volumes` (blank volumes only: no image, snapshot, source volume or backup).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CreateVolume {
    pub size_gb: u64,
    pub name: String,
    pub description: String,
    /// Name or id; empty for the default type.
    pub volume_type: String,
    pub availability_zone: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// The API part of `POST /volumes`: type and zone are checked, the volume is `creating`, and
/// the driver creates `volume-<id>-cinder` on the array on the next tick.
pub(crate) fn create_volume(
    world: &mut World,
    caller: &Caller,
    request: &CreateVolume,
) -> Result<VolumeRec> {
    let site = caller.site.clone();
    if request.size_gb == 0 {
        return Err(Error::invalid(format!(
            "Invalid input received: Volume size '{}' must be an integer and greater than 0",
            request.size_gb
        )));
    }
    let type_name = if request.volume_type.is_empty() {
        crate::seed::TYPE_STANDARD
    } else {
        request.volume_type.as_str()
    };
    let volume_type = resolve_type(world, &site, type_name)
        .cloned()
        .ok_or_else(|| {
            Error::not_found(format!(
                "Volume type with name {type_name} could not be found."
            ))
        })?;
    let zone = match request.availability_zone.as_deref() {
        None | Some("") | Some("nova") => "nova".to_string(),
        Some(zone) => {
            return Err(Error::invalid(format!(
                "Invalid input received: Availability zone '{zone}' is invalid."
            )))
        }
    };
    let id = world.new_uuid();
    let seq = world.next_seq();
    let until_tick = world.meta.tick + 1;
    let now = world.now();
    let volume = VolumeRec {
        id: id.clone(),
        site: site.clone(),
        seq,
        name: request.name.clone(),
        description: request.description.clone(),
        status: "creating".to_string(),
        size_gb: request.size_gb,
        volume_type_id: volume_type.id.clone(),
        volume_type: volume_type.name.clone(),
        bootable: false,
        host: Some(crate::seed::volume_host(&site)),
        project_id: caller.project_id.clone(),
        availability_zone: zone,
        attachments: Vec::new(),
        group_id: None,
        array_volume: None,
        metadata: request.metadata.clone(),
        task: Some(VolumeTask::Create { until_tick }),
        created: now,
        user_id: caller.user_id.clone(),
        updated: Some(now),
        lineage: Some(VolumeLineage {
            kind: LineageKind::Created,
            array_volume: None,
            copied_from: None,
            source_volume: None,
            copied_fingerprint: None,
            fingerprint: 0,
        }),
    };
    world.volumes.insert(id, volume.clone());
    Ok(volume)
}

/// The Pure driver's `create_volume`: `volume-<id>-cinder` (in the replication pod for a
/// sync-replicated type, on every array of the pod) of the requested size; `error` when the
/// array cannot be reached.
pub(crate) fn finish_create(world: &mut World, volume_id: &str) {
    let Some(volume) = world.volumes.get(volume_id).cloned() else {
        return;
    };
    let array = world.array_name_of_site(&volume.site);
    let sync = world
        .volume_types
        .get(&volume.volume_type_id)
        .and_then(|t| t.extra_specs.get("replication_type"))
        .is_some_and(|v| v.trim() == "<in> sync");
    let base = crate::seed::cinder_array_name(volume_id);
    let (name, arrays) = if sync {
        let members: Vec<String> = world
            .pods
            .get(crate::seed::SYNC_POD)
            .filter(|p| !p.destroyed)
            .map(|p| {
                p.members
                    .iter()
                    .filter(|m| m.array == array || world.link_up(&array, &m.array))
                    .map(|m| m.array.clone())
                    .collect()
            })
            .unwrap_or_default();
        (format!("{}::{base}", crate::seed::SYNC_POD), members)
    } else {
        (base, vec![array.clone()])
    };
    let writable = world.array_up(&array)
        && arrays.contains(&array)
        && !world.array_volumes.contains_key(&array_key(&array, &name));
    if !writable {
        if let Some(v) = world.volumes.get_mut(volume_id) {
            v.status = "error".to_string();
            v.task = None;
        }
        return;
    }
    let serial = crate::seed::new_serial(world);
    let now = world.now();
    for on in arrays {
        world.array_volumes.insert(
            array_key(&on, &name),
            ArrayVolumeRec {
                array: on,
                name: name.clone(),
                provisioned_bytes: volume.size_gb * crate::seed::GIB,
                serial: serial.clone(),
                destroyed: false,
                destroyed_at: None,
                pod: sync.then(|| crate::seed::SYNC_POD.to_string()),
                created: now,
                fingerprint: 0,
                hosts: Vec::new(),
                source: None,
                written_blocks: Default::default(),
                copied_from: None,
            },
        );
    }
    if let Some(v) = world.volumes.get_mut(volume_id) {
        v.status = "available".to_string();
        v.task = None;
        v.array_volume = Some(name.clone());
        v.updated = Some(now);
        v.metadata.insert("array_name".to_string(), array);
        v.metadata.insert("array_volume_name".to_string(), name);
    }
}

/// `os-set_bootable`.
pub(crate) fn set_bootable(
    world: &mut World,
    caller: &Caller,
    id: &str,
    bootable: bool,
) -> Result<()> {
    if visible(world, caller, id).is_none() {
        return Err(Error::not_found(format!("Volume {id} could not be found.")));
    }
    let now = world.now();
    if let Some(v) = world.volumes.get_mut(id) {
        v.bootable = bootable;
        v.updated = Some(now);
    }
    Ok(())
}

/// One entry of `GET /manageable_volumes`, as the Pure driver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ManageableVolume {
    /// The Purity volume name (the reference is `{"name": ...}`).
    pub name: String,
    pub size_gb: u64,
    pub safe_to_manage: bool,
    /// `""` when safe, else the reasons joined with `" && "`.
    pub reason_not_safe: String,
    pub cinder_id: Option<String>,
}

/// The Pure driver's `get_manageable_volumes` for `host` (`host@backend[#pool]`): every volume
/// on the backend's array, unsafe when connected to a host, already managed, or in a pod.
pub(crate) fn list_manageable_volumes(
    world: &World,
    caller: &Caller,
    host: &str,
) -> Result<Vec<ManageableVolume>> {
    if !super::may_administer(world, caller) {
        return Err(policy_denied("volume_extension:list_manageable"));
    }
    let backend = host.split_once('#').map_or(host, |(backend, _)| backend);
    let service = world
        .volume_services
        .find(|s| s.site == caller.site && s.host == backend)
        .ok_or_else(|| Error::not_found(format!("Host {host} could not be found.")))?;
    if service.state != "up" {
        return Err(Error::unavailable("Service is unavailable at this time."));
    }
    let array = world.array_name_of_site(&caller.site);
    if !world.array_up(&array) {
        return Err(Error::unavailable(format!(
            "Bad or unexpected response from the storage volume backend API: {array} is unreachable."
        )));
    }
    let managed: BTreeMap<&str, &str> = world
        .volumes
        .values()
        .filter(|v| v.site == caller.site)
        .filter_map(|v| v.array_volume.as_deref().map(|n| (n, v.id.as_str())))
        .collect();
    let mut out: Vec<ManageableVolume> = world
        .array_volumes
        .values()
        .filter(|v| v.array == array && !v.destroyed)
        .map(|v| {
            let mut reasons = Vec::new();
            if let Some(host) = v.hosts.first() {
                reasons.push(format!("Volume connected to host {host}"));
            }
            let cinder_id = managed.get(v.name.as_str()).map(|id| id.to_string());
            if cinder_id.is_some() {
                reasons.push("Volume already managed".to_string());
            }
            if v.name.contains("::") {
                reasons.push("Volume is in a Pod".to_string());
            }
            ManageableVolume {
                name: v.name.clone(),
                size_gb: v.provisioned_bytes.div_ceil(crate::seed::GIB),
                safe_to_manage: reasons.is_empty(),
                reason_not_safe: reasons.join(" && "),
                cinder_id,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
