//! Cinder v3 with the Pure Storage driver: volumes, types, services, manage/unmanage and
//! generic groups. API-side checks answer at once; driver work (manage's rename, unmanage,
//! delete) runs on the next tick, as Cinder's volume manager does, and is in `tick.rs`.
//! Volume creation and the manageable listing are in `create.rs`, snapshots in
//! `snapshots.rs`, group types and the wire's group calls in `groups.rs`.

mod create;
mod groups;
mod snapshots;

pub(crate) use create::{
    create_volume, finish_create, list_manageable_volumes, set_bootable, CreateVolume,
    ManageableVolume,
};
pub(crate) use groups::{
    create_group, default_group_type, find_group_type, list_group_types, list_groups, rename_group,
    CreateGroup,
};
pub(crate) use snapshots::{
    create_snapshot, delete_snapshot, list_snapshots, snapshots_step, visible_snapshot,
    CreateSnapshot,
};

use protector_core::api::{
    CreateVolumeGroup, ListVolumes, ManageVolume, Volume, VolumeAttachment, VolumeGroup,
    VolumeService, VolumeType,
};
use protector_core::error::RetryStatus;
use protector_core::{Error, ErrorKind, Result};

use super::{policy_denied, Caller};
use crate::state::records::{VolumeGroupRec, VolumeRec, VolumeTask, VolumeTypeRec};
use crate::state::World;

/// Statuses from which Cinder lets a volume be deleted or unmanaged.
pub(crate) const DELETABLE: [&str; 5] = [
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
];

/// The status API users see for a volume's status in Cinder's database: Cinder's volume
/// views (`_get_volume_status` in `cinder/api/v2/views/volumes.py`, also used by v3) show the
/// managing statuses introduced for bug 1504007 as the older ones, for API compatibility.
/// Every other status is shown as it is.
pub(crate) fn api_status(status: &str) -> &str {
    match status {
        "managing" => "creating",
        "error_managing" => "error",
        "error_managing_deleting" => "deleting",
        other => other,
    }
}

/// Extra specs every user may read (`cinder/policies/type_extra_specs.py`).
pub(crate) const USER_VISIBLE_SPECS: [&str; 3] = [
    "RESKEY:availability_zones",
    "multiattach",
    "replication_enabled",
];

pub(crate) fn invalid_volume_state() -> Error {
    Error::conflict(
        "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.",
    )
}

/// Whether the caller may manage, unmanage and list services on this site.
pub(crate) fn may_administer(world: &World, caller: &Caller) -> bool {
    caller.is_admin() || world.faults.manage_policy_open.contains(&caller.site)
}

/// The volume as the API shows it to `caller`.
pub(crate) fn volume_view(caller: &Caller, v: &VolumeRec) -> Volume {
    Volume {
        id: v.id.clone(),
        name: v.name.clone(),
        status: api_status(&v.status).to_string(),
        size_gb: v.size_gb,
        volume_type: v.volume_type.clone(),
        bootable: v.bootable,
        host: if caller.is_admin() {
            v.host.clone()
        } else {
            None
        },
        project_id: v.project_id.clone(),
        attachments: v
            .attachments
            .iter()
            .map(|a| VolumeAttachment {
                server_id: a.server_id.clone(),
                device: a.device.clone(),
            })
            .collect(),
        group_id: v.group_id.clone(),
        array_volume: v.array_volume.clone(),
        metadata: v.metadata.clone(),
    }
}

/// The volume `id` if the caller may see it (its project's, or any for admins).
pub(crate) fn visible<'w>(world: &'w World, caller: &Caller, id: &str) -> Option<&'w VolumeRec> {
    world
        .volumes
        .get(id)
        .filter(|v| v.site == caller.site && caller.can_see(&v.project_id))
}

/// `GET /volumes/{id}`.
pub(crate) fn get_volume(world: &World, caller: &Caller, id: &str) -> Option<Volume> {
    visible(world, caller, id).map(|v| volume_view(caller, v))
}

/// `GET /volumes/detail` in the token's project, newest first.
pub(crate) fn list_volumes(world: &World, caller: &Caller, filter: &ListVolumes) -> Vec<Volume> {
    let mut volumes: Vec<&VolumeRec> = world
        .volumes
        .values()
        .filter(|v| v.site == caller.site && v.project_id == caller.project_id)
        .filter(|v| filter.name.as_ref().is_none_or(|n| &v.name == n))
        .filter(|v| {
            filter
                .metadata
                .as_ref()
                .is_none_or(|(k, val)| v.metadata.get(k) == Some(val))
        })
        .collect();
    volumes.sort_by_key(|v| std::cmp::Reverse(v.seq));
    volumes
        .into_iter()
        .map(|v| volume_view(caller, v))
        .collect()
}

fn type_view(caller: &Caller, t: &VolumeTypeRec) -> VolumeType {
    let extra_specs = if caller.is_admin() {
        t.extra_specs.clone()
    } else {
        t.extra_specs
            .iter()
            .filter(|(k, _)| USER_VISIBLE_SPECS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    VolumeType {
        id: t.id.clone(),
        name: t.name.clone(),
        extra_specs,
    }
}

/// A volume type of `site` by id, else by name.
pub(crate) fn resolve_type<'w>(
    world: &'w World,
    site: &str,
    name_or_id: &str,
) -> Option<&'w VolumeTypeRec> {
    world
        .volume_types
        .get(name_or_id)
        .filter(|t| t.site == site)
        .or_else(|| {
            world
                .volume_types
                .find(|t| t.site == site && t.name == name_or_id)
        })
}

/// `GET /types/{id}` (by id or name).
pub(crate) fn find_volume_type(
    world: &World,
    caller: &Caller,
    name_or_id: &str,
) -> Option<VolumeType> {
    resolve_type(world, &caller.site, name_or_id).map(|t| type_view(caller, t))
}

/// `GET /types`, by name.
pub(crate) fn list_volume_types(world: &World, caller: &Caller) -> Vec<VolumeType> {
    let mut types: Vec<VolumeType> = world
        .volume_types
        .values()
        .filter(|t| t.site == caller.site)
        .map(|t| type_view(caller, t))
        .collect();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    types
}

/// `GET /os-services?binary=cinder-volume` (admin only by default).
pub(crate) fn list_volume_services(world: &World, caller: &Caller) -> Result<Vec<VolumeService>> {
    if !may_administer(world, caller) {
        return Err(policy_denied("volume_extension:services:index"));
    }
    Ok(world
        .volume_services
        .values()
        .filter(|s| s.site == caller.site)
        .map(|s| VolumeService {
            host: s.host.clone(),
            binary: s.binary.clone(),
            state: s.state.clone(),
            status: s.status.clone(),
            zone: s.zone.clone(),
        })
        .collect())
}

/// The Cinder volume id inside a Pure array volume name (`[pod::]volume-<uuid>[-cinder]`).
pub(crate) fn cinder_id_in_array_name(name: &str) -> Option<&str> {
    let base = name.rsplit("::").next().unwrap_or(name);
    let rest = base.strip_prefix("volume-")?;
    let id = rest.strip_suffix("-cinder").unwrap_or(rest);
    uuid::Uuid::parse_str(id).ok().map(|_| id)
}

/// `POST /manageable_volumes`: the API part (policy, already managed, type, host). The
/// driver part runs on the next tick ([`finish_manage`]).
pub(crate) fn manage_volume(
    world: &mut World,
    caller: &Caller,
    request: &ManageVolume,
) -> Result<Volume> {
    let site = caller.site.clone();
    if !may_administer(world, caller) {
        return Err(policy_denied("volume_extension:volume_manage"));
    }
    if let Some(id) = cinder_id_in_array_name(&request.source_name) {
        if world.volumes.get(id).is_some_and(|v| v.site == site) {
            return Err(Error::invalid(
                "Invalid volume: Unable to manage existing volume. The volume is already managed",
            ));
        }
    }
    let type_name = if request.volume_type.is_empty() {
        crate::seed::TYPE_STANDARD
    } else {
        request.volume_type.as_str()
    };
    let volume_type = resolve_type(world, &site, type_name)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(format!(
                "Invalid volume type: Cannot find requested '{type_name}' volume type"
            ))
        })?;
    let (backend, pool) = match request.host.split_once('#') {
        Some((backend, pool)) => (backend, Some(pool)),
        None => (request.host.as_str(), None),
    };
    let service = world
        .volume_services
        .find(|s| s.site == site && s.host == backend)
        .ok_or_else(|| {
            Error::unavailable(format!("Host '{}' not found.", request.host))
                .with_retry(RetryStatus::Permanent)
        })?;
    if service.state != "up" || service.status != "enabled" {
        return Err(Error::unavailable("Service is unavailable at this time."));
    }
    let host = match pool {
        Some(_) => request.host.clone(),
        None => service.host.clone(),
    };
    let zone = service.zone.clone();

    let id = world.new_uuid();
    let seq = world.next_seq();
    let until_tick = world.meta.tick + 1;
    let now = world.now();
    let volume = VolumeRec {
        id: id.clone(),
        site,
        seq,
        name: request.name.clone(),
        description: request.description.clone(),
        status: "managing".to_string(),
        size_gb: 0,
        volume_type_id: volume_type.id.clone(),
        volume_type: volume_type.name.clone(),
        bootable: request.bootable,
        host: Some(host),
        project_id: caller.project_id.clone(),
        availability_zone: zone,
        attachments: Vec::new(),
        group_id: None,
        array_volume: None,
        metadata: request.metadata.clone(),
        task: Some(VolumeTask::Manage {
            source_name: request.source_name.clone(),
            until_tick,
        }),
        created: now,
        user_id: caller.user_id.clone(),
        updated: None,
        // Recorded by the driver when it adopts the array volume.
        lineage: None,
    };
    let view = volume_view(caller, &volume);
    world.volumes.insert(id, volume);
    Ok(view)
}

/// The Pure driver's `manage_existing` on the volume manager's tick: validate the reference,
/// rename the array volume to `volume-<id>-cinder` and size the volume, or `error_managing`.
pub(crate) fn finish_manage(world: &mut World, volume_id: &str, source_name: &str) {
    let Some(volume) = world.volumes.get(volume_id).cloned() else {
        return;
    };
    let array = world.array_name_of_site(&volume.site);
    let refused = manage_refusal(world, &array, source_name);
    if let Some(reason) = refused {
        tracing::info!(volume = volume_id, reason, "simulated Cinder manage failed");
        if let Some(v) = world.volumes.get_mut(volume_id) {
            v.status = "error_managing".to_string();
            v.task = None;
        }
        return;
    }
    // Never in a pod: the driver refuses those above.
    let new_name = crate::seed::cinder_array_name(volume_id);
    let adopted = world
        .array_volumes
        .get(&crate::state::records::array_key(&array, source_name));
    let lineage = crate::lineage::VolumeLineage {
        kind: crate::lineage::LineageKind::Managed,
        array_volume: Some(source_name.to_string()),
        copied_from: adopted.and_then(|a| a.copied_from.as_ref().map(|c| c.from.clone())),
        source_volume: adopted
            .and_then(|a| a.copied_from.as_ref().map(|c| c.source_volume.clone())),
        copied_fingerprint: adopted.and_then(|a| a.copied_from.as_ref().map(|c| c.fingerprint)),
        fingerprint: adopted.map_or(0, |a| a.fingerprint),
    };
    let provisioned = crate::array::rename_internal(world, &array, source_name, &new_name);
    let size_gb = provisioned.div_ceil(crate::seed::GIB);
    if let Some(v) = world.volumes.get_mut(volume_id) {
        v.status = "available".to_string();
        v.task = None;
        v.size_gb = size_gb;
        v.lineage = Some(lineage);
        v.array_volume = Some(new_name.clone());
        v.metadata.insert("array_name".to_string(), array);
        v.metadata.insert("array_volume_name".to_string(), new_name);
    }
}

fn manage_refusal(world: &World, array: &str, source_name: &str) -> Option<String> {
    if !world.array_up(array) {
        return Some(format!("{array} is unreachable"));
    }
    let key = crate::state::records::array_key(array, source_name);
    let Some(source) = world.array_volumes.get(&key) else {
        return Some(format!(
            "Manage existing volume failed due to invalid backend reference {{'source-name': '{source_name}'}}: Volume does not exist."
        ));
    };
    if source.destroyed {
        return Some(format!("Volume {source_name} has been destroyed."));
    }
    if crate::array::is_connected(world, array, source_name) {
        return Some(format!(
            "Manage existing volume failed due to invalid backend reference {{'source-name': '{source_name}'}}: {source_name} is connected to hosts."
        ));
    }
    // The Pure driver's `_validate_manage_existing_ref`: "Unable to manage volume in a Pod",
    // stretched or not.
    if source.pod.is_some() || source_name.contains("::") {
        return Some(format!(
            "Manage existing volume failed due to invalid backend reference {{'source-name': '{source_name}'}}: Unable to manage volume in a Pod."
        ));
    }
    None
}

/// `os-unmanage`: the API part. The driver renames the array volume on the next tick.
pub(crate) fn unmanage_volume(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    if !may_administer(world, caller) {
        return Err(policy_denied("volume_extension:volume_unmanage"));
    }
    let Some(volume) = visible(world, caller, id) else {
        return Ok(());
    };
    if !DELETABLE.contains(&volume.status.as_str())
        || !volume.attachments.is_empty()
        || volume.group_id.is_some()
        || snapshots::count_for_volume(world, id) > 0
    {
        return Err(invalid_volume_state());
    }
    let until_tick = world.meta.tick + 1;
    if let Some(v) = world.volumes.get_mut(id) {
        v.status = "unmanaging".to_string();
        v.task = Some(VolumeTask::Unmanage { until_tick });
    }
    Ok(())
}

/// The Pure driver's `unmanage`: rename to `<name>-unmanaged` (63 characters at most) and
/// forget the volume.
pub(crate) fn finish_unmanage(world: &mut World, volume_id: &str) {
    let Some(volume) = world.volumes.get(volume_id).cloned() else {
        return;
    };
    let array = world.array_name_of_site(&volume.site);
    if let Some(name) = &volume.array_volume {
        if !world.array_up(&array) {
            if let Some(v) = world.volumes.get_mut(volume_id) {
                v.status = "error_unmanaging".to_string();
                v.task = None;
            }
            return;
        }
        let (prefix, base) = match name.rsplit_once("::") {
            Some((pod, base)) => (format!("{pod}::"), base.to_string()),
            None => (String::new(), name.clone()),
        };
        let mut unmanaged = format!("{base}-unmanaged");
        unmanaged.truncate(63);
        let key = crate::state::records::array_key(&array, name);
        if world.array_volumes.contains_key(&key) {
            crate::array::rename_internal(world, &array, name, &format!("{prefix}{unmanaged}"));
        }
    }
    world.volumes.remove(volume_id);
}

/// `DELETE /volumes/{id}`: the API part; the driver destroys and eradicates on the next tick.
pub(crate) fn delete_volume(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let Some(volume) = visible(world, caller, id) else {
        return Ok(());
    };
    if volume.status == "deleting" || volume.status == "error_managing_deleting" {
        return Ok(());
    }
    if !DELETABLE.contains(&volume.status.as_str())
        || !volume.attachments.is_empty()
        || volume.group_id.is_some()
    {
        return Err(invalid_volume_state());
    }
    let dependent = snapshots::count_for_volume(world, id);
    if dependent > 0 {
        // `cinder/volume/api.py delete`: snapshots must go first unless `cascade`.
        return Err(Error::invalid(format!(
            "Invalid volume: Volume still has {dependent} dependent snapshots."
        )));
    }
    let until_tick = world.meta.tick + 1;
    if let Some(v) = world.volumes.get_mut(id) {
        // Cinder's `delete`: a volume that failed to be managed is `error_managing_deleting`.
        v.status = if v.status == "error_managing" {
            "error_managing_deleting"
        } else {
            "deleting"
        }
        .to_string();
        v.task = Some(VolumeTask::Delete { until_tick });
    }
    Ok(())
}

/// The Pure driver's `delete_volume`: destroy and eradicate the array volume.
pub(crate) fn finish_delete(world: &mut World, volume_id: &str) {
    let Some(volume) = world.volumes.get(volume_id).cloned() else {
        return;
    };
    let array = world.array_name_of_site(&volume.site);
    if let Some(name) = &volume.array_volume {
        if !world.array_up(&array) {
            if let Some(v) = world.volumes.get_mut(volume_id) {
                v.status = "error_deleting".to_string();
                v.task = None;
            }
            return;
        }
        crate::array::eradicate_internal(world, &array, name);
    }
    world.volumes.remove(volume_id);
}

// ---------------------------------------------------------------- groups

pub(crate) fn group_not_found(id: &str) -> Error {
    Error::not_found(format!("Group {id} could not be found."))
}

fn group_view(world: &World, g: &VolumeGroupRec) -> VolumeGroup {
    let mut members: Vec<(u64, String)> = world
        .volumes
        .values()
        .filter(|v| v.group_id.as_deref() == Some(g.id.as_str()))
        .map(|v| (v.seq, v.id.clone()))
        .collect();
    members.sort();
    VolumeGroup {
        id: g.id.clone(),
        name: g.name.clone(),
        status: g.status.clone(),
        volume_types: g.volume_type_ids.clone(),
        volume_ids: members.into_iter().map(|(_, id)| id).collect(),
    }
}

pub(crate) fn visible_group<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Option<&'w VolumeGroupRec> {
    world
        .volume_groups
        .get(id)
        .filter(|g| g.site == caller.site && caller.can_see(&g.project_id))
}

/// `POST /groups` with one volume type.
pub(crate) fn create_volume_group(
    world: &mut World,
    caller: &Caller,
    request: &CreateVolumeGroup,
) -> Result<VolumeGroup> {
    let volume_type = resolve_type(world, &caller.site, &request.volume_type)
        .cloned()
        .ok_or_else(|| {
            Error::not_found(format!(
                "Volume type with name {} could not be found.",
                request.volume_type
            ))
        })?;
    let id = world.new_uuid();
    let seq = world.next_seq();
    let group = VolumeGroupRec {
        id: id.clone(),
        site: caller.site.clone(),
        seq,
        project_id: caller.project_id.clone(),
        name: request.name.clone(),
        description: request.description.clone(),
        status: "available".to_string(),
        volume_type_ids: vec![volume_type.id],
        group_type_id: default_group_type(world, &caller.site),
        created: Some(world.now()),
    };
    let view = group_view(world, &group);
    world.volume_groups.insert(id, group);
    Ok(view)
}

/// `GET /groups/{id}`.
pub(crate) fn get_volume_group(world: &World, caller: &Caller, id: &str) -> Option<VolumeGroup> {
    visible_group(world, caller, id).map(|g| group_view(world, g))
}

/// `PUT /groups/{id}` with `add_volumes` / `remove_volumes`; all checked before any change.
pub(crate) fn update_volume_group(
    world: &mut World,
    caller: &Caller,
    id: &str,
    add: &[String],
    remove: &[String],
) -> Result<()> {
    let group = visible_group(world, caller, id)
        .cloned()
        .ok_or_else(|| group_not_found(id))?;
    if group.status != "available" {
        return Err(Error::conflict(format!(
            "Invalid group: Group {id} status must be available, but current status is: {}.",
            group.status
        )));
    }
    for volume_id in add {
        if remove.contains(volume_id) {
            return Err(Error::invalid(format!(
                "Invalid volume: Volume {volume_id} cannot be both added to and removed from group {id}."
            )));
        }
        let prefix = format!("Invalid volume: Cannot add volume {volume_id} to group {id} because");
        let volume = visible(world, caller, volume_id)
            .ok_or_else(|| Error::invalid(format!("{prefix} volume cannot be found.")))?;
        if !group.volume_type_ids.contains(&volume.volume_type_id) {
            return Err(Error::invalid(format!(
                "{prefix} volume type {} is not supported by the group.",
                volume.volume_type_id
            )));
        }
        if volume.status != "available" && volume.status != "in-use" {
            return Err(Error::invalid(format!(
                "{prefix} volume is in an invalid state: {}. Valid states are: ('available', 'in-use').",
                volume.status
            )));
        }
        if let Some(other) = &volume.group_id {
            if other != id {
                return Err(Error::invalid(format!(
                    "{prefix} it is already in group {other}."
                )));
            }
        }
    }
    for volume_id in remove {
        let member =
            visible(world, caller, volume_id).is_some_and(|v| v.group_id.as_deref() == Some(id));
        if !member {
            return Err(Error::invalid(format!(
                "Invalid volume: Cannot remove volume {volume_id} from group {id} because it is not in the group."
            )));
        }
    }
    for volume_id in add {
        if let Some(v) = world.volumes.get_mut(volume_id) {
            v.group_id = Some(id.to_string());
        }
    }
    for volume_id in remove {
        if let Some(v) = world.volumes.get_mut(volume_id) {
            v.group_id = None;
        }
    }
    Ok(())
}

/// `POST /groups/{id}/action {"delete": {"delete-volumes": false}}`: refused while the group
/// still has volumes, as in Cinder. Missing succeeds.
pub(crate) fn delete_volume_group(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let Some(group) = visible_group(world, caller, id) else {
        return Ok(());
    };
    if world
        .volumes
        .values()
        .any(|v| v.group_id.as_deref() == Some(group.id.as_str()))
    {
        return Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "Invalid group: Group {id} still contains volumes. The delete-volumes flag is required to delete it."
            ),
        ));
    }
    world.volume_groups.remove(id);
    Ok(())
}

/// The ids of a group's member volumes.
pub(crate) fn group_members(world: &World, id: &str) -> Vec<String> {
    world
        .volumes
        .values()
        .filter(|v| v.group_id.as_deref() == Some(id))
        .map(|v| v.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{api_status, cinder_id_in_array_name};

    /// Every volume status the simulator can reach (`status = "…"` in this module, `create`,
    /// `compute` and the seed), and what Cinder's view shows API users for it.
    #[test]
    fn volume_statuses_are_shown_as_cinder_s_views_show_them() {
        let table = [
            ("creating", "creating"),
            ("available", "available"),
            ("reserved", "reserved"),
            ("in-use", "in-use"),
            ("deleting", "deleting"),
            ("error", "error"),
            ("error_deleting", "error_deleting"),
            ("managing", "creating"),
            ("error_managing", "error"),
            ("error_managing_deleting", "deleting"),
            ("unmanaging", "unmanaging"),
            ("error_unmanaging", "error_unmanaging"),
        ];
        for (internal, shown) in table {
            assert_eq!(api_status(internal), shown, "{internal}");
        }
    }

    #[test]
    fn cinder_ids_are_found_in_pure_names() {
        let id = "5a1bd6b1-0c4e-4b5c-9a0e-2f7d1c3b4a59";
        assert_eq!(
            cinder_id_in_array_name(&format!("volume-{id}-cinder")),
            Some(id)
        );
        assert_eq!(
            cinder_id_in_array_name(&format!("cinder-pod::volume-{id}-cinder")),
            Some(id)
        );
        assert_eq!(cinder_id_in_array_name(&format!("volume-{id}")), Some(id));
        assert_eq!(cinder_id_in_array_name("prot-web-root"), None);
        assert_eq!(cinder_id_in_array_name("volume-not-a-uuid-cinder"), None);
    }
}
