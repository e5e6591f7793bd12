//! Protection groups: members, replication targets and schedules. Their snapshots and the
//! replication itself are in `snapshots.rs`.
//!
//! A source group `pg` on array A with target B has a replica group `A:pg` on B, which B must
//! allow before anything is sent.

use protector_core::api::{ArrayProtectionGroup, PgTarget};
use protector_core::{Error, ErrorKind, Result};

use super::snapshots::eradicate_snapshot_internal;
use super::{destroyed_error, does_not_exist, object_id, valid_object_name};
use crate::state::records::{array_key, PgRec, RetentionRec};
use crate::state::World;

pub(super) fn group_missing(name: &str) -> Error {
    does_not_exist("Protection group", name)
}

pub(super) fn replica_name(source: &str, name: &str) -> String {
    format!("{source}:{name}")
}

/// A group as its array shows it: a replica lists its source's members (as `src:vol`) and
/// itself as the one target.
pub(crate) fn pg_view(world: &World, g: &PgRec) -> ArrayProtectionGroup {
    if g.replica {
        let (replication_enabled, replication_frequency_secs, volumes) = world
            .protection_groups
            .get(&array_key(
                &g.source,
                g.name.split_once(':').map_or("", |(_, n)| n),
            ))
            .map(|s| {
                (
                    s.replication_enabled,
                    s.replication_frequency_secs,
                    s.volumes.clone(),
                )
            })
            .unwrap_or((false, 0, Vec::new()));
        return ArrayProtectionGroup {
            name: g.name.clone(),
            source: g.source.clone(),
            volumes: volumes.iter().map(|v| replica_name(&g.source, v)).collect(),
            targets: vec![PgTarget {
                name: g.array.clone(),
                allowed: g.allowed,
            }],
            replication_enabled,
            replication_frequency_secs,
            destroyed: g.destroyed,
        };
    }
    ArrayProtectionGroup {
        name: g.name.clone(),
        source: g.source.clone(),
        volumes: g.volumes.clone(),
        targets: g
            .targets
            .iter()
            .map(|t| PgTarget {
                name: t.clone(),
                allowed: world
                    .protection_groups
                    .get(&array_key(t, &replica_name(&g.array, &g.name)))
                    .is_some_and(|r| r.allowed && !r.destroyed),
            })
            .collect(),
        replication_enabled: g.replication_enabled,
        replication_frequency_secs: g.replication_frequency_secs,
        destroyed: g.destroyed,
    }
}

/// `GET /protection-groups?names=` (destroyed ones included, flagged).
pub(crate) fn get_protection_group(
    world: &World,
    array: &str,
    name: &str,
) -> Option<ArrayProtectionGroup> {
    world
        .protection_groups
        .get(&array_key(array, name))
        .map(|g| pg_view(world, g))
}

/// A live source group on `array`.
pub(super) fn source_group(world: &World, array: &str, name: &str) -> Result<PgRec> {
    let group = world
        .protection_groups
        .get(&array_key(array, name))
        .ok_or_else(|| group_missing(name))?;
    if group.destroyed {
        return Err(destroyed_error("Protection group", name));
    }
    if group.replica {
        return Err(Error::invalid(format!(
            "Protection group {name} is a replica of {}; change it on its source array.",
            group.source
        )));
    }
    Ok(group.clone())
}

/// `POST /protection-groups?names=`.
pub(crate) fn create_protection_group(
    world: &mut World,
    array: &str,
    name: &str,
) -> Result<ArrayProtectionGroup> {
    if !valid_object_name(name, 63) {
        return Err(Error::invalid(format!(
            "Protection group name {name} is invalid: use 1 to 63 letters, digits, '-' or '_', beginning and ending with a letter or digit."
        )));
    }
    let key = array_key(array, name);
    if let Some(existing) = world.protection_groups.get(&key) {
        if existing.destroyed {
            return Err(destroyed_error("Protection group", name));
        }
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("Protection group {name} already exists."),
        ));
    }
    let group = PgRec {
        array: array.to_string(),
        name: name.to_string(),
        source: array.to_string(),
        replica: false,
        volumes: Vec::new(),
        targets: Vec::new(),
        allowed: false,
        replication_enabled: false,
        replication_frequency_secs: 3600,
        last_scheduled: None,
        next_snapshot_number: 1,
        destroyed: false,
        destroyed_at: None,
        source_retention: None,
        target_retention: None,
    };
    let view = pg_view(world, &group);
    world.protection_groups.insert(key, group);
    Ok(view)
}

/// `POST /protection-groups/volumes`. `Ok(false)` when every volume was already a member.
pub(crate) fn add_volumes(
    world: &mut World,
    array: &str,
    group: &str,
    volumes: &[String],
) -> Result<bool> {
    let pg = source_group(world, array, group)?;
    for volume in volumes {
        let v = world
            .array_volumes
            .get(&array_key(array, volume))
            .ok_or_else(|| does_not_exist("Volume", volume))?;
        if v.destroyed {
            return Err(destroyed_error("Volume", volume));
        }
    }
    let new: Vec<String> = volumes
        .iter()
        .filter(|v| !pg.volumes.contains(v))
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(false);
    }
    if let Some(g) = world.protection_groups.get_mut(&array_key(array, group)) {
        for v in new {
            if !g.volumes.contains(&v) {
                g.volumes.push(v);
            }
        }
    }
    Ok(true)
}

/// `DELETE /protection-groups/volumes`. `Ok(false)` when none was a member.
pub(crate) fn remove_volumes(
    world: &mut World,
    array: &str,
    group: &str,
    volumes: &[String],
) -> Result<bool> {
    let pg = source_group(world, array, group)?;
    if !volumes.iter().any(|v| pg.volumes.contains(v)) {
        return Ok(false);
    }
    if let Some(g) = world.protection_groups.get_mut(&array_key(array, group)) {
        g.volumes.retain(|v| !volumes.contains(v));
    }
    Ok(true)
}

/// `POST /protection-groups/targets`; the replica group appears on the target, not yet
/// allowed. `Ok(false)` when already a target.
pub(crate) fn add_target(
    world: &mut World,
    array: &str,
    group: &str,
    target: &str,
) -> Result<bool> {
    let pg = source_group(world, array, group)?;
    if target == array {
        return Err(Error::invalid(format!(
            "Array {array} cannot be a replication target of its own protection group {group}."
        )));
    }
    let connected = world
        .arrays
        .get(array)
        .is_some_and(|a| a.connections.iter().any(|c| c == target));
    if !connected || !world.arrays.contains_key(target) {
        return Err(Error::not_found(format!(
            "Array {target} does not exist or is not connected to {array}."
        )));
    }
    if pg.targets.iter().any(|t| t == target) {
        return Ok(false);
    }
    if let Some(g) = world.protection_groups.get_mut(&array_key(array, group)) {
        g.targets.push(target.to_string());
    }
    let replica = replica_name(array, group);
    let key = array_key(target, &replica);
    match world.protection_groups.get_mut(&key) {
        Some(existing) => {
            existing.destroyed = false;
            existing.destroyed_at = None;
        }
        None => world.protection_groups.insert(
            key,
            PgRec {
                array: target.to_string(),
                name: replica,
                source: array.to_string(),
                replica: true,
                volumes: Vec::new(),
                targets: Vec::new(),
                allowed: false,
                replication_enabled: false,
                replication_frequency_secs: 0,
                last_scheduled: None,
                next_snapshot_number: 1,
                destroyed: false,
                destroyed_at: None,
                source_retention: None,
                target_retention: None,
            },
        ),
    }
    Ok(true)
}

/// `PATCH /protection-groups/targets {"allowed": …}` on the target array. `Ok(false)` when
/// unchanged.
pub(crate) fn set_allowed(
    world: &mut World,
    array: &str,
    replica: &str,
    allowed: bool,
) -> Result<bool> {
    let group = world
        .protection_groups
        .get(&array_key(array, replica))
        .ok_or_else(|| group_missing(replica))?;
    if !group.replica {
        return Err(Error::invalid(format!(
            "Protection group {replica} is local to {array}: the allowed parameter must be set from the target array."
        )));
    }
    if group.destroyed {
        return Err(destroyed_error("Protection group", replica));
    }
    if group.allowed == allowed {
        return Ok(false);
    }
    if let Some(g) = world.protection_groups.get_mut(&array_key(array, replica)) {
        g.allowed = allowed;
    }
    Ok(true)
}

/// `PATCH /protection-groups {"replication_schedule": …}`. Enabling starts the period now.
pub(crate) fn set_schedule(
    world: &mut World,
    array: &str,
    group: &str,
    enabled: bool,
    frequency_secs: u64,
) -> Result<()> {
    let pg = source_group(world, array, group)?;
    if frequency_secs == 0 {
        return Err(Error::invalid(format!(
            "Replication frequency of {group} must be at least one second."
        )));
    }
    let now = world.now();
    if let Some(g) = world.protection_groups.get_mut(&array_key(array, group)) {
        if enabled && !pg.replication_enabled {
            g.last_scheduled = Some(now);
        }
        g.replication_enabled = enabled;
        g.replication_frequency_secs = frequency_secs;
    }
    Ok(())
}

/// `PATCH /protection-groups {"destroyed": true}`; its snapshots go with it. Eradicated after
/// the eradication delay. `Ok(false)` when missing or already destroyed.
pub(crate) fn destroy_group(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let key = array_key(array, name);
    match world.protection_groups.get(&key) {
        None => return Ok(false),
        Some(g) if g.destroyed => return Ok(false),
        Some(_) => {}
    }
    let now = world.now();
    if let Some(g) = world.protection_groups.get_mut(&key) {
        g.destroyed = true;
        g.destroyed_at = Some(now);
        g.replication_enabled = false;
    }
    for snap in world
        .pg_snapshots
        .keys_where(|s| s.array == array && s.group == name && !s.destroyed)
    {
        if let Some(s) = world.pg_snapshots.get_mut(&snap) {
            s.destroyed = true;
            s.destroyed_at = Some(now);
            s.pending_targets.clear();
        }
    }
    Ok(true)
}

/// Every protection group of `array` (its own and the replicas it receives), destroyed ones
/// included, by name.
pub(crate) fn groups<'a>(world: &'a World, array: &'a str) -> impl Iterator<Item = &'a PgRec> + 'a {
    world
        .protection_groups
        .values()
        .filter(move |g| g.array == array)
}

/// The REST id of a group.
pub(crate) fn group_id(group: &PgRec) -> String {
    object_id(&["protection-group", &group.array, &group.name])
}

/// `PATCH /protection-groups {"replication_schedule": {…}}` with either field left as it is.
pub(crate) fn update_schedule(
    world: &mut World,
    array: &str,
    group: &str,
    enabled: Option<bool>,
    frequency_secs: Option<u64>,
) -> Result<()> {
    let pg = source_group(world, array, group)?;
    set_schedule(
        world,
        array,
        group,
        enabled.unwrap_or(pg.replication_enabled),
        frequency_secs.unwrap_or(pg.replication_frequency_secs),
    )
}

/// `PATCH /protection-groups {"source_retention" | "target_retention": {…}}`.
pub(crate) fn set_retention(
    world: &mut World,
    array: &str,
    group: &str,
    target: bool,
    retention: RetentionRec,
) -> Result<()> {
    source_group(world, array, group)?;
    if retention.all_for_sec < 60 && retention.all_for_sec != 0 {
        return Err(Error::invalid(format!(
            "Retention of protection group {group}: all_for_sec must be at least 60 seconds."
        )));
    }
    if let Some(g) = world.protection_groups.get_mut(&array_key(array, group)) {
        if target {
            g.target_retention = Some(retention);
        } else {
            g.source_retention = Some(retention);
        }
    }
    Ok(())
}

/// Whether `volume` is a member of the source group `group` on `array`.
pub(crate) fn is_member(world: &World, array: &str, group: &str, volume: &str) -> bool {
    world
        .protection_groups
        .get(&array_key(array, group))
        .is_some_and(|g| g.volumes.iter().any(|v| v == volume))
}

/// `DELETE /protection-groups/targets`: the group stops replicating to `target`; queued
/// transfers to it are dropped. The replica group and the snapshots already there stay on the
/// target. `Ok(false)` when it was not a target.
pub(crate) fn remove_target(
    world: &mut World,
    array: &str,
    group: &str,
    target: &str,
) -> Result<bool> {
    let pg = source_group(world, array, group)?;
    if !pg.targets.iter().any(|t| t == target) {
        return Ok(false);
    }
    if let Some(g) = world.protection_groups.get_mut(&array_key(array, group)) {
        g.targets.retain(|t| t != target);
    }
    for key in world.pg_snapshots.keys_where(|s| {
        s.array == array && s.group == group && s.pending_targets.iter().any(|t| t == target)
    }) {
        if let Some(s) = world.pg_snapshots.get_mut(&key) {
            s.pending_targets.retain(|t| t != target);
        }
    }
    Ok(true)
}

/// `PATCH /protection-groups {"destroyed": false}`: recovers the group and the snapshots that
/// were destroyed with it. `Ok(false)` when it is not destroyed.
pub(crate) fn recover_group(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let key = array_key(array, name);
    let group = world
        .protection_groups
        .get(&key)
        .ok_or_else(|| group_missing(name))?;
    if !group.destroyed {
        return Ok(false);
    }
    let destroyed_at = group.destroyed_at;
    if let Some(g) = world.protection_groups.get_mut(&key) {
        g.destroyed = false;
        g.destroyed_at = None;
    }
    for snap in world.pg_snapshots.keys_where(|s| {
        s.array == array && s.group == name && s.destroyed && s.destroyed_at == destroyed_at
    }) {
        if let Some(s) = world.pg_snapshots.get_mut(&snap) {
            s.destroyed = false;
            s.destroyed_at = None;
        }
    }
    Ok(true)
}

/// `DELETE /protection-groups`: eradicates a destroyed group and its snapshots.
pub(crate) fn eradicate_destroyed_group(world: &mut World, array: &str, name: &str) -> Result<()> {
    let group = world
        .protection_groups
        .get(&array_key(array, name))
        .ok_or_else(|| group_missing(name))?;
    if !group.destroyed {
        return Err(Error::conflict(format!(
            "Protection group {name} is not destroyed; destroy it before eradicating it."
        )));
    }
    eradicate_group(world, array, name);
    Ok(())
}

/// Removes a group and its snapshots for good.
pub(crate) fn eradicate_group(world: &mut World, array: &str, name: &str) {
    world.protection_groups.remove(&array_key(array, name));
    for snap in world
        .pg_snapshots
        .keys_where(|s| s.array == array && s.group == name)
    {
        if let Some(s) = world.pg_snapshots.get(&snap).cloned() {
            eradicate_snapshot_internal(world, array, &s.name);
        }
    }
}
