//! Cinder snapshots: the API record and its lifecycle (`creating` → `available`, `deleting` →
//! gone, one tick each). The Pure driver's Purity snapshot behind it is not simulated, so a
//! snapshot holds no data of its own; what it changes is what Cinder refuses while it exists
//! (deleting or unmanaging its volume).

use std::collections::BTreeMap;

use protector_core::{Error, Result};

use super::{visible, Caller};
use crate::state::records::CinderSnapshotRec;
use crate::state::World;

/// `POST /snapshots`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CreateSnapshot {
    pub volume_id: String,
    pub name: String,
    pub description: String,
    /// Snapshot an `in-use` volume too.
    pub force: bool,
    pub metadata: BTreeMap<String, String>,
}

fn snapshot_not_found(id: &str) -> Error {
    Error::not_found(format!("Snapshot {id} could not be found."))
}

/// How many snapshots `volume_id` has.
pub(crate) fn count_for_volume(world: &World, volume_id: &str) -> usize {
    world
        .cinder_snapshots
        .values()
        .filter(|s| s.volume_id == volume_id)
        .count()
}

/// The snapshot `id` if the caller may see it.
pub(crate) fn visible_snapshot<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Option<&'w CinderSnapshotRec> {
    world
        .cinder_snapshots
        .get(id)
        .filter(|s| s.site == caller.site && caller.can_see(&s.project_id))
}

/// `GET /snapshots/detail`: the project's (every project's with `all_projects` for admins),
/// newest first.
pub(crate) fn list_snapshots<'w>(
    world: &'w World,
    caller: &Caller,
    all_projects: bool,
) -> Vec<&'w CinderSnapshotRec> {
    let mut snapshots: Vec<&CinderSnapshotRec> = world
        .cinder_snapshots
        .values()
        .filter(|s| s.site == caller.site)
        .filter(|s| {
            if all_projects && caller.is_admin() {
                true
            } else {
                s.project_id == caller.project_id
            }
        })
        .collect();
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.seq));
    snapshots
}

/// `POST /snapshots`: the volume must be `available` (or `in-use` with `force`).
pub(crate) fn create_snapshot(
    world: &mut World,
    caller: &Caller,
    request: &CreateSnapshot,
) -> Result<CinderSnapshotRec> {
    let volume = visible(world, caller, &request.volume_id)
        .cloned()
        .ok_or_else(|| {
            Error::not_found(format!("Volume {} could not be found.", request.volume_id))
        })?;
    let allowed = volume.status == "available" || (request.force && volume.status == "in-use");
    if !allowed {
        return Err(Error::invalid(format!(
            "Invalid volume: Volume {} status must be available, but current status is: {}.",
            volume.id, volume.status
        )));
    }
    let id = world.new_uuid();
    let seq = world.next_seq();
    let snapshot = CinderSnapshotRec {
        id: id.clone(),
        site: caller.site.clone(),
        seq,
        volume_id: volume.id.clone(),
        project_id: caller.project_id.clone(),
        name: request.name.clone(),
        description: request.description.clone(),
        status: "creating".to_string(),
        size_gb: volume.size_gb,
        metadata: request.metadata.clone(),
        created: world.now(),
        until_tick: Some(world.meta.tick + 1),
    };
    world.cinder_snapshots.insert(id, snapshot.clone());
    Ok(snapshot)
}

/// `DELETE /snapshots/{id}`: `available` or `error` only.
pub(crate) fn delete_snapshot(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let snapshot = visible_snapshot(world, caller, id).ok_or_else(|| snapshot_not_found(id))?;
    if snapshot.status == "deleting" {
        return Ok(());
    }
    if snapshot.status != "available" && snapshot.status != "error" {
        return Err(Error::invalid(format!(
            "Invalid snapshot: Snapshot {id} status must be available or error and must not be part of a group, but current status is: {}.",
            snapshot.status
        )));
    }
    let until_tick = world.meta.tick + 1;
    if let Some(s) = world.cinder_snapshots.get_mut(id) {
        s.status = "deleting".to_string();
        s.until_tick = Some(until_tick);
    }
    Ok(())
}

/// The volume manager's part: snapshots finish creating or deleting.
pub(crate) fn snapshots_step(world: &mut World) {
    crate::state::due::DueIndexes::refresh(world);
    for key in world.due.cinder_snapshots.due(crate::tick::due_tick(world)) {
        let deleting = world
            .cinder_snapshots
            .get(&key)
            .is_some_and(|s| s.status == "deleting");
        if deleting {
            world.cinder_snapshots.remove(&key);
        } else if let Some(s) = world.cinder_snapshots.get_mut(&key) {
            s.status = "available".to_string();
            s.until_tick = None;
        }
    }
}
