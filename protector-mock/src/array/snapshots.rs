//! Protection-group snapshots and async replication.
//!
//! A snapshot `pg.N` sent to target B becomes `A:pg.N` there (volume snapshots `A:pg.N.vol`)
//! and arrives over [`TRANSFER_STEPS`] ticks while the link is up; it stalls while the arrays
//! are partitioned or one is down, and resumes after. Snapshots taken by the schedule or with
//! `apply_retention` are pruned by the group's time-based retention (`retention.rs`).

use protector_core::api::{CreatePgSnapshot, PgSnapshot, PgSnapshotTransfer, VolumeSnapshot};
use protector_core::{Error, ErrorKind, Result};

use super::pgroups::{group_missing, replica_name, source_group};
use super::retention::{apply_retention, retention_sweep, RETENTION_SWEEP_TICKS};
use super::{does_not_exist, valid_object_name};
use crate::state::due::DueIndexes;
use crate::state::records::{array_key, PgSnapshotRec, TransferRec, VolumeSnapshotRec};
use crate::state::World;
use crate::tick::TRANSFER_STEPS;

fn snapshot_view(s: &PgSnapshotRec) -> PgSnapshot {
    PgSnapshot {
        name: s.name.clone(),
        source: s.group.clone(),
        created: s.created,
        destroyed: s.destroyed,
    }
}

/// `POST /protection-group-snapshots?source_names=&replicate_now=&apply_retention=`.
pub(crate) fn create_snapshot(
    world: &mut World,
    array: &str,
    group: &str,
    request: &CreatePgSnapshot,
) -> Result<PgSnapshot> {
    source_group(world, array, group)?;
    if let Some(suffix) = &request.suffix {
        if !valid_object_name(suffix, 63) {
            return Err(Error::invalid(format!(
                "Snapshot suffix {suffix} is invalid: use letters, digits and '-', beginning and ending with a letter or digit."
            )));
        }
        let name = format!("{group}.{suffix}");
        if world.pg_snapshots.contains_key(&array_key(array, &name)) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("Protection group snapshot {name} already exists."),
            ));
        }
    }
    let name = take_snapshot(
        world,
        array,
        group,
        request.suffix.as_deref(),
        request.replicate_now,
        request.apply_retention,
    );
    let snap = world
        .pg_snapshots
        .get(&array_key(array, &name))
        .ok_or_else(|| Error::unexpected(format!("snapshot {name} vanished")))?;
    Ok(snapshot_view(snap))
}

/// Takes `group.N` (or `group.suffix`) of the group's live volumes, queues it for every allowed
/// target when `replicate`, starts what can start, and applies retention. Returns its name.
pub(crate) fn take_snapshot(
    world: &mut World,
    array: &str,
    group: &str,
    suffix: Option<&str>,
    replicate: bool,
    retained: bool,
) -> String {
    let key = array_key(array, group);
    let Some(pg) = world.protection_groups.get(&key).cloned() else {
        return String::new();
    };
    let name = match suffix {
        Some(suffix) => format!("{group}.{suffix}"),
        None => {
            let n = pg.next_snapshot_number;
            if let Some(g) = world.protection_groups.get_mut(&key) {
                g.next_snapshot_number += 1;
            }
            format!("{group}.{n}")
        }
    };
    let now = world.now();
    for volume in &pg.volumes {
        // Only what the snapshot holds, not the whole row (names, hosts, lineage): the
        // schedules of a 1,000-VM run take thousands of snapshots.
        let Some((provisioned_bytes, fingerprint, written_blocks)) = world
            .array_volumes
            .get(&array_key(array, volume))
            .filter(|v| !v.destroyed)
            .map(|v| (v.provisioned_bytes, v.fingerprint, v.written_blocks.clone()))
        else {
            continue;
        };
        let snap_name = format!("{name}.{volume}");
        world.volume_snapshots.insert(
            array_key(array, &snap_name),
            VolumeSnapshotRec {
                array: array.to_string(),
                name: snap_name,
                pg_snapshot: name.clone(),
                source_volume: volume.clone(),
                created: now,
                provisioned_bytes,
                fingerprint,
                written_blocks,
            },
        );
    }
    let pending_targets = if replicate {
        pg.targets
            .iter()
            .filter(|t| {
                world
                    .protection_groups
                    .get(&array_key(t, &replica_name(array, group)))
                    .is_some_and(|r| r.allowed && !r.destroyed)
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    let seq = world.next_seq();
    world.pg_snapshots.insert(
        array_key(array, &name),
        PgSnapshotRec {
            array: array.to_string(),
            name: name.clone(),
            group: group.to_string(),
            seq,
            created: now,
            destroyed: false,
            destroyed_at: None,
            retained,
            pending_targets,
            transfer: None,
        },
    );
    start_pending(world, array, &name);
    if retained {
        apply_retention(world, array, group);
    }
    name
}

enum Start {
    Started,
    Wait,
    Drop,
}

/// Starts the queued transfers of one source snapshot whose link is up.
pub(crate) fn start_pending(world: &mut World, array: &str, name: &str) {
    let key = array_key(array, name);
    let Some(snap) = world.pg_snapshots.get(&key).cloned() else {
        return;
    };
    if snap.pending_targets.is_empty() {
        return;
    }
    let mut still = Vec::new();
    for target in &snap.pending_targets {
        match start_transfer(world, &snap, target) {
            Start::Wait => still.push(target.clone()),
            Start::Started | Start::Drop => {}
        }
    }
    if still != snap.pending_targets {
        if let Some(s) = world.pg_snapshots.get_mut(&key) {
            s.pending_targets = still;
        }
    }
}

fn start_transfer(world: &mut World, snap: &PgSnapshotRec, target: &str) -> Start {
    let source = &snap.array;
    let replica_group = replica_name(source, &snap.group);
    let allowed = world
        .protection_groups
        .get(&array_key(target, &replica_group))
        .is_some_and(|r| r.allowed && !r.destroyed);
    if snap.destroyed || !allowed {
        return Start::Drop;
    }
    if !world.link_up(source, target) {
        return Start::Wait;
    }
    let replica = replica_name(source, &snap.name);
    if world
        .pg_snapshots
        .contains_key(&array_key(target, &replica))
    {
        return Start::Drop;
    }
    let volume_snaps: Vec<VolumeSnapshotRec> = world
        .volume_snapshots
        .with_prefix(&volume_snapshot_prefix(source, &snap.name))
        .map(|(_, v)| v)
        .filter(|v| v.array == *source && v.pg_snapshot == snap.name)
        .cloned()
        .collect();
    let total_bytes = volume_snaps.iter().map(|v| v.provisioned_bytes).sum();
    for v in volume_snaps {
        let name = replica_name(source, &v.name);
        world.volume_snapshots.insert(
            array_key(target, &name),
            VolumeSnapshotRec {
                array: target.to_string(),
                name,
                pg_snapshot: replica.clone(),
                source_volume: v.source_volume,
                created: v.created,
                provisioned_bytes: v.provisioned_bytes,
                fingerprint: v.fingerprint,
                written_blocks: v.written_blocks,
            },
        );
    }
    let now = world.now();
    let seq = world.next_seq();
    world.pg_snapshots.insert(
        array_key(target, &replica),
        PgSnapshotRec {
            array: target.to_string(),
            name: replica,
            group: replica_group.clone(),
            seq,
            created: snap.created,
            destroyed: false,
            destroyed_at: None,
            retained: snap.retained,
            pending_targets: Vec::new(),
            transfer: Some(TransferRec {
                started: now,
                steps: 0,
                completed: None,
                total_bytes,
            }),
        },
    );
    if snap.retained {
        apply_retention(world, target, &replica_group);
    }
    Start::Started
}

/// The key prefix of the volume snapshots of pg snapshot `pg_snapshot` on `array`: theirs are
/// `array/pg_snapshot.volume`, and object names hold no '.', so a range of the table finds
/// them (callers still check `pg_snapshot`).
pub(crate) fn volume_snapshot_prefix(array: &str, pg_snapshot: &str) -> String {
    format!("{}.", array_key(array, pg_snapshot))
}

/// `GET /protection-group-snapshots?source_names=`: live snapshots, oldest first.
pub(crate) fn list_snapshots(world: &World, array: &str, group: &str) -> Result<Vec<PgSnapshot>> {
    if !world
        .protection_groups
        .contains_key(&array_key(array, group))
    {
        return Err(group_missing(group));
    }
    let mut snaps: Vec<&PgSnapshotRec> = world
        .pg_snapshots
        .values()
        .filter(|s| s.array == array && s.group == group && !s.destroyed)
        .collect();
    snaps.sort_by_key(|s| s.seq);
    Ok(snaps.into_iter().map(snapshot_view).collect())
}

/// The replication progress of one pg snapshot: its incoming transfer on a target, the
/// slowest of its outgoing ones on the source.
pub(crate) fn transfer_view(world: &World, s: &PgSnapshotRec) -> PgSnapshotTransfer {
    let steps = TRANSFER_STEPS as u64;
    if let Some(t) = &s.transfer {
        return PgSnapshotTransfer {
            name: s.name.clone(),
            progress: f64::from(t.steps) / f64::from(TRANSFER_STEPS),
            started: Some(t.started),
            completed: t.completed,
            data_transferred: t.total_bytes * u64::from(t.steps) / steps,
        };
    }
    // Source side: the slowest of the transfers to its targets.
    let targets = world
        .protection_groups
        .get(&array_key(&s.array, &s.group))
        .map(|g| g.targets.clone())
        .unwrap_or_default();
    let replicas: Vec<&TransferRec> = targets
        .iter()
        .filter_map(|t| {
            world
                .pg_snapshots
                .get(&array_key(t, &replica_name(&s.array, &s.name)))
        })
        .filter_map(|r| r.transfer.as_ref())
        .collect();
    let slowest = replicas.iter().min_by_key(|t| t.steps);
    match (s.pending_targets.is_empty(), slowest) {
        (true, Some(t)) => PgSnapshotTransfer {
            name: s.name.clone(),
            progress: f64::from(t.steps) / f64::from(TRANSFER_STEPS),
            started: replicas.iter().map(|t| t.started).min(),
            completed: if replicas.iter().all(|t| t.completed.is_some()) {
                replicas.iter().filter_map(|t| t.completed).max()
            } else {
                None
            },
            data_transferred: t.total_bytes * u64::from(t.steps) / steps,
        },
        _ => PgSnapshotTransfer {
            name: s.name.clone(),
            progress: 0.0,
            started: None,
            completed: None,
            data_transferred: 0,
        },
    }
}

/// `GET /protection-group-snapshots/transfer?names=`: a group's snapshots (or one snapshot),
/// newest first, with their replication progress.
pub(crate) fn list_transfers(
    world: &World,
    array: &str,
    group_or_snapshot: &str,
) -> Result<Vec<PgSnapshotTransfer>> {
    let mut snaps: Vec<&PgSnapshotRec> = if world
        .protection_groups
        .contains_key(&array_key(array, group_or_snapshot))
    {
        pg_snapshots_of(world, array, group_or_snapshot)
            .into_iter()
            .filter(|s| !s.destroyed)
            .collect()
    } else if let Some(s) = world
        .pg_snapshots
        .get(&array_key(array, group_or_snapshot))
        .filter(|s| !s.destroyed)
    {
        vec![s]
    } else {
        return Err(Error::not_found(format!(
            "Protection group or snapshot {group_or_snapshot} does not exist."
        )));
    };
    snaps.sort_by_key(|s| std::cmp::Reverse(s.seq));
    Ok(snaps.into_iter().map(|s| transfer_view(world, s)).collect())
}

/// `GET /volume-snapshots?filter=name='<pg snapshot>.*'`.
pub(crate) fn list_volume_snapshots(
    world: &World,
    array: &str,
    pg_snapshot: &str,
) -> Result<Vec<VolumeSnapshot>> {
    let exists = world
        .pg_snapshots
        .get(&array_key(array, pg_snapshot))
        .is_some_and(|s| !s.destroyed);
    if !exists {
        return Err(does_not_exist("Protection group snapshot", pg_snapshot));
    }
    let mut snaps: Vec<VolumeSnapshot> = world
        .volume_snapshots
        .with_prefix(&volume_snapshot_prefix(array, pg_snapshot))
        .map(|(_, v)| v)
        .filter(|v| v.array == array && v.pg_snapshot == pg_snapshot)
        .map(|v| VolumeSnapshot {
            name: v.name.clone(),
            source_volume: v.source_volume.clone(),
            created: v.created,
        })
        .collect();
    snaps.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(snaps)
}

/// The volume a volume snapshot was taken of, as named on the array holding the snapshot:
/// `vol` on the source, `src:vol` (the replica volume) on a target.
pub(crate) fn snapshot_source_volume(snap: &VolumeSnapshotRec) -> String {
    match snap.pg_snapshot.split_once(':') {
        Some((source, _)) => replica_name(source, &snap.source_volume),
        None => snap.source_volume.clone(),
    }
}

/// Every pg snapshot of `array`, destroyed ones included, oldest first.
pub(crate) fn pg_snapshots<'a>(world: &'a World, array: &str) -> Vec<&'a PgSnapshotRec> {
    let mut snaps: Vec<&PgSnapshotRec> = world
        .pg_snapshots
        .values()
        .filter(|s| s.array == array)
        .collect();
    snaps.sort_by_key(|s| s.seq);
    snaps
}

/// The snapshots of protection group `group` on `array` (its own, or a replica it receives:
/// `source:group`), destroyed ones included, oldest first. A snapshot is named after its
/// group (`group.suffix`), so they are a range of the table: this costs the group's
/// snapshots, not every snapshot of every group of both arrays.
pub(crate) fn pg_snapshots_of<'a>(
    world: &'a World,
    array: &str,
    group: &str,
) -> Vec<&'a PgSnapshotRec> {
    let prefix = array_key(array, &format!("{group}."));
    let mut snaps: Vec<&PgSnapshotRec> = world
        .pg_snapshots
        .with_prefix(&prefix)
        .map(|(_, s)| s)
        .filter(|s| s.array == array && s.group == group)
        .collect();
    snaps.sort_by_key(|s| s.seq);
    snaps
}

/// Every volume snapshot of `array` with the pg snapshot it belongs to, oldest first.
pub(crate) fn volume_snapshots<'a>(
    world: &'a World,
    array: &str,
) -> Vec<(&'a VolumeSnapshotRec, Option<&'a PgSnapshotRec>)> {
    let mut snaps: Vec<_> = world
        .volume_snapshots
        .values()
        .filter(|v| v.array == array)
        .map(|v| {
            let pg = world.pg_snapshots.get(&array_key(array, &v.pg_snapshot));
            (v, pg)
        })
        .collect();
    snaps.sort_by(|(a, pa), (b, pb)| {
        let seq = |p: &Option<&PgSnapshotRec>| p.map_or(0, |p| p.seq);
        (seq(pa), &a.name).cmp(&(seq(pb), &b.name))
    });
    snaps
}

fn snapshot_missing(name: &str) -> Error {
    does_not_exist("Protection group snapshot", name)
}

/// `PATCH /protection-group-snapshots {"destroyed": true}`: its transfers stop, and it is
/// eradicated after the eradication delay. `Ok(false)` when already destroyed.
pub(crate) fn destroy_snapshot(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let now = world.now();
    let snap = world
        .pg_snapshots
        .get_mut(&array_key(array, name))
        .ok_or_else(|| snapshot_missing(name))?;
    if snap.destroyed {
        return Ok(false);
    }
    snap.destroyed = true;
    snap.destroyed_at = Some(now);
    snap.pending_targets.clear();
    Ok(true)
}

/// `PATCH /protection-group-snapshots {"destroyed": false}`. `Ok(false)` when not destroyed.
pub(crate) fn recover_snapshot(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let snap = world
        .pg_snapshots
        .get(&array_key(array, name))
        .ok_or_else(|| snapshot_missing(name))?;
    if !snap.destroyed {
        return Ok(false);
    }
    let group = snap.group.clone();
    if world
        .protection_groups
        .get(&array_key(array, &group))
        .is_none_or(|g| g.destroyed)
    {
        return Err(Error::conflict(format!(
            "Protection group snapshot {name} cannot be recovered: protection group {group} has been destroyed. Recover the group first."
        )));
    }
    if let Some(s) = world.pg_snapshots.get_mut(&array_key(array, name)) {
        s.destroyed = false;
        s.destroyed_at = None;
    }
    Ok(true)
}

/// `DELETE /protection-group-snapshots`: eradicates a destroyed snapshot and its volume
/// snapshots.
pub(crate) fn eradicate_destroyed_snapshot(
    world: &mut World,
    array: &str,
    name: &str,
) -> Result<()> {
    let snap = world
        .pg_snapshots
        .get(&array_key(array, name))
        .ok_or_else(|| snapshot_missing(name))?;
    if !snap.destroyed {
        return Err(Error::conflict(format!(
            "Protection group snapshot {name} is not destroyed; destroy it before eradicating it."
        )));
    }
    eradicate_snapshot_internal(world, array, name);
    Ok(())
}

/// Destroys and eradicates a pg snapshot. `Ok(false)` when missing.
pub(crate) fn eradicate_snapshot(world: &mut World, array: &str, name: &str) -> Result<bool> {
    if !world.pg_snapshots.contains_key(&array_key(array, name)) {
        return Ok(false);
    }
    eradicate_snapshot_internal(world, array, name);
    Ok(true)
}

pub(crate) fn eradicate_snapshot_internal(world: &mut World, array: &str, name: &str) {
    world.pg_snapshots.remove(&array_key(array, name));
    let keys: Vec<String> = world
        .volume_snapshots
        .with_prefix(&volume_snapshot_prefix(array, name))
        .filter(|(_, v)| v.array == array && v.pg_snapshot == name)
        .map(|(key, _)| key.clone())
        .collect();
    for key in keys {
        world.volume_snapshots.remove(&key);
    }
}

/// One tick of replication: transfers progress, queued ones start, schedules fire, and once
/// a simulated minute retention thins every group.
pub(crate) fn replication_tick(world: &mut World) {
    let now = world.now();
    let step = world.meta.pace.transfer_step();
    DueIndexes::refresh(world);
    for key in world.due.transfers.due(i64::MIN) {
        let Some(snap) = world.pg_snapshots.get(&key) else {
            continue;
        };
        let source = snap
            .group
            .split_once(':')
            .map_or("", |(s, _)| s)
            .to_string();
        if snap.destroyed || !world.link_up(&source, &snap.array) {
            continue;
        }
        if let Some(s) = world.pg_snapshots.get_mut(&key) {
            if let Some(t) = s.transfer.as_mut() {
                t.steps = (t.steps + step).min(TRANSFER_STEPS);
                if t.steps == TRANSFER_STEPS {
                    t.completed = Some(now);
                }
            }
        }
    }
    DueIndexes::refresh(world);
    for key in world.due.pending_targets.due(i64::MIN) {
        if let Some(s) = world.pg_snapshots.get(&key).cloned() {
            start_pending(world, &s.array, &s.name);
        }
    }
    DueIndexes::refresh(world);
    for key in world.due.schedules.due(now.timestamp_millis()) {
        let Some(g) = world.protection_groups.get(&key).cloned() else {
            continue;
        };
        if !world.array_up(&g.array) {
            continue;
        }
        let due = g
            .last_scheduled
            .is_none_or(|last| (now - last).num_seconds() >= g.replication_frequency_secs as i64);
        if due {
            if let Some(pg) = world.protection_groups.get_mut(&key) {
                pg.last_scheduled = Some(now);
            }
            take_snapshot(world, &g.array, &g.name, None, true, true);
        }
    }
    if retention_due(world) {
        retention_sweep(world);
    }
}

/// Whether this tick sweeps every group's retention: once a simulated minute, at the ticks
/// that start one (with the wall clock, at the first tick of each minute).
fn retention_due(world: &mut World) -> bool {
    match world.clock() {
        crate::Clock::Calls => world.meta.tick % RETENTION_SWEEP_TICKS == 0,
        crate::Clock::Wall => {
            let minute = world
                .now()
                .timestamp()
                .div_euclid(RETENTION_SWEEP_TICKS as i64);
            world.retention_minute.replace(minute) != Some(minute)
        }
    }
}
