//! The simulated FlashArrays (Purity REST 2.x semantics): volumes here, protection groups in
//! `pgroups.rs`, their snapshots and replication in `snapshots.rs`, ActiveCluster pods in
//! `pods.rs`.
//!
//! Errors carry the substrings the Cinder Pure driver matches ("already exists", "does not
//! exist", "has been destroyed", …). Calls whose REST form fails when already done (adding a
//! member twice, destroying a destroyed volume) return `Ok(false)` here instead; the trait
//! adapter treats that as success, and a REST face can turn it into Purity's 400.

pub(crate) mod diff;
pub(crate) mod pgroups;
pub(crate) mod pods;
pub(crate) mod retention;
pub(crate) mod snapshots;

use crate::lineage::ArrayCopyRec;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use protector_core::api::{ArrayConnection, ArrayInfo, ArrayVolume, CopyVolume};
use protector_core::{Error, ErrorKind, Result};

use crate::state::records::{array_key, ArrayVolumeRec};
use crate::state::World;

/// Longest volume name (without the pod prefix).
pub(crate) const MAX_VOLUME_NAME: usize = 63;

/// Size of a volume created without `provisioned` (Purity's default, 1 MB).
pub(crate) const DEFAULT_VOLUME_BYTES: u64 = 1 << 20;

/// Largest volume Purity creates (4 PB).
pub(crate) const MAX_VOLUME_BYTES: u64 = 4 << 50;

/// A stable id in UUID form derived from what identifies an object (REST's `id`). Records
/// carry no ids of their own, and drawing them from the seeded generator would shift every id
/// the simulator hands out after them.
pub(crate) fn object_id(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The REST id of a volume: it follows the serial, so it survives renames and is the same on
/// every array of a stretched pod.
pub(crate) fn volume_id(volume: &ArrayVolumeRec) -> String {
    object_id(&["volume", &volume.serial])
}

/// Milliseconds until a destroyed object is eradicated (REST's `time_remaining`).
pub(crate) fn time_remaining_ms(world: &World, destroyed_at: Option<DateTime<Utc>>) -> Option<i64> {
    destroyed_at.map(|at| {
        let delay = chrono::Duration::seconds(crate::tick::ERADICATION_DELAY_SECS);
        (at + delay - world.now()).num_milliseconds().max(0)
    })
}

/// Every volume of `array`, destroyed ones included, by name.
pub(crate) fn volumes<'a>(
    world: &'a World,
    array: &'a str,
) -> impl Iterator<Item = &'a ArrayVolumeRec> + 'a {
    world
        .array_volumes
        .values()
        .filter(move |v| v.array == array)
}

pub(crate) fn does_not_exist(what: &str, name: &str) -> Error {
    Error::not_found(format!("{what} {name} does not exist."))
}

pub(crate) fn destroyed_error(what: &str, name: &str) -> Error {
    Error::conflict(format!(
        "{what} {name} has been destroyed. Recover or eradicate it first."
    ))
}

/// Splits `pod::vol` into (`Some(pod)`, `vol`).
pub(crate) fn split_pod(name: &str) -> (Option<&str>, &str) {
    match name.split_once("::") {
        Some((pod, rest)) => (Some(pod), rest),
        None => (None, name),
    }
}

/// Purity's name rule: letters, digits, `-` and `_`, starting and ending with a letter or
/// digit.
pub(crate) fn valid_object_name(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

fn check_volume_name(name: &str) -> Result<()> {
    let (pod, base) = split_pod(name);
    let pod_ok = pod.is_none_or(|p| valid_object_name(p, MAX_VOLUME_NAME));
    if !pod_ok || !valid_object_name(base, MAX_VOLUME_NAME) {
        return Err(Error::invalid(format!(
            "Volume name {name} is invalid: use 1 to {MAX_VOLUME_NAME} letters, digits, '-' or '_', beginning and ending with a letter or digit."
        )));
    }
    Ok(())
}

pub(crate) fn volume_view(v: &ArrayVolumeRec) -> ArrayVolume {
    ArrayVolume {
        name: v.name.clone(),
        provisioned_bytes: v.provisioned_bytes,
        serial: v.serial.clone(),
        destroyed: v.destroyed,
        pod: v.pod.clone(),
        created: v.created,
    }
}

/// `GET /arrays`.
pub(crate) fn array_info(world: &World, array: &str) -> Result<ArrayInfo> {
    let a = world
        .arrays
        .get(array)
        .ok_or_else(|| does_not_exist("Array", array))?;
    Ok(ArrayInfo {
        id: a.id.clone(),
        name: a.name.clone(),
        version: a.version.clone(),
        as_of: Some(world.now()),
    })
}

/// `GET /array-connections`: every peer of `array`, `connected` while the link is up and
/// `connecting` while partitioned or the peer is down.
pub(crate) fn array_connections(world: &World, array: &str) -> Result<Vec<ArrayConnection>> {
    let a = world
        .arrays
        .get(array)
        .ok_or_else(|| does_not_exist("Array", array))?;
    Ok(a.connections
        .iter()
        .map(|peer| ArrayConnection {
            name: peer.clone(),
            status: connection_status(world, array, peer).to_string(),
        })
        .collect())
}

/// The status of the connection between `array` and `peer`, as Purity spells it.
pub(crate) fn connection_status(world: &World, array: &str, peer: &str) -> &'static str {
    if world.link_up(array, peer) {
        "connected"
    } else {
        "connecting"
    }
}

/// `GET /volumes?names=`, destroyed or not.
pub(crate) fn get_volume(world: &World, array: &str, name: &str) -> Option<ArrayVolume> {
    world
        .array_volumes
        .get(&array_key(array, name))
        .map(volume_view)
}

/// `GET /volumes?filter=name='<prefix>*'`, destroyed or not, by name.
pub(crate) fn list_volumes(world: &World, array: &str, name_prefix: &str) -> Vec<ArrayVolume> {
    let mut out: Vec<ArrayVolume> = volumes(world, array)
        .filter(|v| v.name.starts_with(name_prefix))
        .map(volume_view)
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Whether an array volume is connected to a host (its Cinder volume is attached).
pub(crate) fn is_connected(world: &World, array: &str, name: &str) -> bool {
    world
        .array_volumes
        .get(&array_key(array, name))
        .is_some_and(|v| !v.hosts.is_empty())
}

/// Connects (or disconnects) the array volume behind a Cinder volume of `site` to the site's
/// compute host.
pub(crate) fn set_connected(world: &mut World, site: &str, name: &str, connected: bool) {
    let array = world.array_name_of_site(site);
    let host = crate::seed::compute_host(site);
    if let Some(v) = world.array_volumes.get_mut(&array_key(&array, name)) {
        v.hosts.retain(|h| *h != host);
        if connected {
            v.hosts.push(host);
        }
    }
}

/// The arrays that hold a copy of `name`: the pod members when it lives in a stretched pod and
/// the pod is online there, else just `array`.
fn copies_of(world: &World, array: &str, name: &str) -> Vec<String> {
    let (pod, _) = split_pod(name);
    let mut arrays = vec![array.to_string()];
    if let Some(pod) = pod.and_then(|p| world.pods.get(p)) {
        for member in &pod.members {
            if member.array != array
                && member.status == "online"
                && world.link_up(array, &member.array)
            {
                arrays.push(member.array.clone());
            }
        }
    }
    arrays
}

/// What a copy reads.
struct CopySource {
    provisioned: u64,
    fingerprint: u64,
    written_blocks: diff::WrittenBlocks,
    /// The volume the data comes from.
    volume: String,
}

fn copy_source(world: &World, array: &str, source: &str) -> Result<CopySource> {
    if let Some(v) = world.array_volumes.get(&array_key(array, source)) {
        if v.destroyed {
            return Err(destroyed_error("Volume", source));
        }
        return Ok(CopySource {
            provisioned: v.provisioned_bytes,
            fingerprint: v.fingerprint,
            written_blocks: v.written_blocks.clone(),
            volume: source.to_string(),
        });
    }
    if let Some(snap) = world.volume_snapshots.get(&array_key(array, source)) {
        let pg_snap = world.pg_snapshots.get(&array_key(array, &snap.pg_snapshot));
        if let Some(pg_snap) = pg_snap {
            if pg_snap.destroyed {
                return Err(destroyed_error("Snapshot", source));
            }
            if let Some(transfer) = &pg_snap.transfer {
                if transfer.completed.is_none() {
                    return Err(Error::conflict(format!(
                        "Snapshot {source} is still being replicated ({}% transferred); wait until its transfer completes.",
                        transfer.steps * 100 / crate::tick::TRANSFER_STEPS
                    )));
                }
            }
        }
        return Ok(CopySource {
            provisioned: snap.provisioned_bytes,
            fingerprint: snap.fingerprint,
            written_blocks: snap.written_blocks.clone(),
            volume: snapshots::snapshot_source_volume(snap),
        });
    }
    Err(Error::not_found(format!(
        "Volume or snapshot {source} does not exist."
    )))
}

/// `POST /volumes?names=&overwrite=` with a source: a new volume (or an overwritten one)
/// holding the source's data.
pub(crate) fn copy_volume(
    world: &mut World,
    array: &str,
    request: &CopyVolume,
) -> Result<ArrayVolume> {
    check_volume_name(&request.name)?;
    let source = copy_source(world, array, &request.source)?;
    let (pod, _) = split_pod(&request.name);
    if let Some(pod) = pod {
        pods::check_writable(world, array, pod)?;
    }
    let key = array_key(array, &request.name);
    if let Some(existing) = world.array_volumes.get(&key) {
        if existing.destroyed {
            return Err(destroyed_error("Volume", &request.name));
        }
        if !request.overwrite {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("Volume {} already exists.", request.name),
            ));
        }
    }
    let (serial, hosts) = match world.array_volumes.get(&key) {
        Some(existing) => (existing.serial.clone(), existing.hosts.clone()),
        None => (crate::seed::new_serial(world), Vec::new()),
    };
    let now = world.now();
    for on in copies_of(world, array, &request.name) {
        let k = array_key(&on, &request.name);
        let created = world
            .array_volumes
            .get(&k)
            .map(|v| v.created)
            .unwrap_or(now);
        let hosts = if on == array {
            hosts.clone()
        } else {
            Vec::new()
        };
        world.array_volumes.insert(
            k,
            ArrayVolumeRec {
                array: on,
                name: request.name.clone(),
                provisioned_bytes: source.provisioned,
                serial: serial.clone(),
                destroyed: false,
                destroyed_at: None,
                pod: pod.map(str::to_string),
                created,
                fingerprint: source.fingerprint,
                hosts,
                source: Some(source.volume.clone()),
                written_blocks: source.written_blocks.clone(),
                copied_from: Some(ArrayCopyRec {
                    from: request.source.clone(),
                    source_volume: source.volume.clone(),
                    fingerprint: source.fingerprint,
                }),
            },
        );
    }
    Ok(volume_view(
        &world.array_volumes.get(&key).cloned().ok_or_else(|| {
            Error::unexpected(format!("volume {} vanished while copying", request.name))
        })?,
    ))
}

fn check_size(name: &str, bytes: u64) -> Result<()> {
    if bytes == 0 || bytes % 512 != 0 || bytes > MAX_VOLUME_BYTES {
        return Err(Error::invalid(format!(
            "Volume {name} cannot be {bytes} bytes: the size must be a multiple of 512 bytes, at least 512 bytes and at most 4 PB."
        )));
    }
    Ok(())
}

/// `POST /volumes?names=` with `provisioned` (no source): a new empty volume, on every online
/// array of its pod when it is created in one.
pub(crate) fn create_volume(
    world: &mut World,
    array: &str,
    name: &str,
    provisioned: u64,
) -> Result<ArrayVolume> {
    check_volume_name(name)?;
    check_size(name, provisioned)?;
    let (pod, _) = split_pod(name);
    if let Some(pod) = pod {
        pods::check_writable(world, array, pod)?;
    }
    let key = array_key(array, name);
    if let Some(existing) = world.array_volumes.get(&key) {
        if existing.destroyed {
            return Err(destroyed_error("Volume", name));
        }
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("Volume {name} already exists."),
        ));
    }
    let serial = crate::seed::new_serial(world);
    let now = world.now();
    for on in copies_of(world, array, name) {
        world.array_volumes.insert(
            array_key(&on, name),
            ArrayVolumeRec {
                array: on,
                name: name.to_string(),
                provisioned_bytes: provisioned,
                serial: serial.clone(),
                destroyed: false,
                destroyed_at: None,
                pod: pod.map(str::to_string),
                created: now,
                fingerprint: 0,
                hosts: Vec::new(),
                source: None,
                written_blocks: diff::WrittenBlocks::new(),
                copied_from: None,
            },
        );
    }
    get_volume(world, array, name)
        .ok_or_else(|| Error::unexpected(format!("volume {name} vanished while creating it")))
}

/// `PATCH /volumes?names= {"destroyed": false}`: recovers a destroyed volume (and its pod
/// copies). `Ok(false)` when it is not destroyed.
pub(crate) fn recover_volume(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let volume = world
        .array_volumes
        .get(&array_key(array, name))
        .ok_or_else(|| does_not_exist("Volume", name))?;
    if !volume.destroyed {
        return Ok(false);
    }
    for on in copies_of(world, array, name) {
        if let Some(v) = world.array_volumes.get_mut(&array_key(&on, name)) {
            v.destroyed = false;
            v.destroyed_at = None;
        }
    }
    Ok(true)
}

/// `PATCH /volumes?names=&truncate= {"provisioned": n}`: grows a volume, or shrinks it when
/// `truncate` allows losing the data past the new end. `Ok(false)` when the size is unchanged.
pub(crate) fn resize_volume(
    world: &mut World,
    array: &str,
    name: &str,
    provisioned: u64,
    truncate: bool,
) -> Result<bool> {
    let volume = world
        .array_volumes
        .get(&array_key(array, name))
        .ok_or_else(|| does_not_exist("Volume", name))?;
    if volume.destroyed {
        return Err(destroyed_error("Volume", name));
    }
    check_size(name, provisioned)?;
    if provisioned == volume.provisioned_bytes {
        return Ok(false);
    }
    if provisioned < volume.provisioned_bytes && !truncate {
        return Err(Error::invalid(format!(
            "Volume {name} cannot shrink from {} to {provisioned} bytes without truncate=true (the data past the new end is lost).",
            volume.provisioned_bytes
        )));
    }
    for on in copies_of(world, array, name) {
        if let Some(v) = world.array_volumes.get_mut(&array_key(&on, name)) {
            v.provisioned_bytes = provisioned;
            diff::truncate(v, provisioned);
        }
    }
    Ok(true)
}

/// `PATCH /volumes?names= {"name": new}`.
pub(crate) fn rename_volume(
    world: &mut World,
    array: &str,
    name: &str,
    new_name: &str,
) -> Result<()> {
    let source = world
        .array_volumes
        .get(&array_key(array, name))
        .ok_or_else(|| does_not_exist("Volume", name))?;
    if source.destroyed {
        return Err(destroyed_error("Volume", name));
    }
    if name == new_name {
        return Ok(());
    }
    check_volume_name(new_name)?;
    if split_pod(name).0 != split_pod(new_name).0 {
        return Err(Error::invalid(format!(
            "Cannot rename {name} to {new_name}: moving a volume into or out of a pod is a pod change, not a rename."
        )));
    }
    if world
        .array_volumes
        .contains_key(&array_key(array, new_name))
    {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("Volume {new_name} already exists."),
        ));
    }
    rename_internal(world, array, name, new_name);
    Ok(())
}

/// Renames a volume (and its pod copies) and its protection-group memberships; returns its
/// provisioned size. The caller has checked the names.
pub(crate) fn rename_internal(world: &mut World, array: &str, name: &str, new_name: &str) -> u64 {
    let mut provisioned = 0;
    let (pod, _) = split_pod(name);
    let mut arrays = vec![array.to_string()];
    if let Some(pod) = pod.and_then(|p| world.pods.get(p)) {
        arrays.extend(
            pod.members
                .iter()
                .filter(|m| m.array != array)
                .map(|m| m.array.clone()),
        );
    }
    for on in arrays {
        let Some(mut volume) = world.array_volumes.remove(&array_key(&on, name)) else {
            continue;
        };
        if on == array {
            provisioned = volume.provisioned_bytes;
        }
        volume.name = new_name.to_string();
        world.array_volumes.insert(array_key(&on, new_name), volume);
        for key in world
            .protection_groups
            .keys_where(|g| g.array == on && g.volumes.iter().any(|v| v == name))
        {
            if let Some(group) = world.protection_groups.get_mut(&key) {
                for v in group.volumes.iter_mut().filter(|v| *v == name) {
                    *v = new_name.to_string();
                }
            }
        }
    }
    provisioned
}

/// `PATCH /volumes?names= {"destroyed": true}`. `Ok(false)` when missing or already
/// destroyed.
pub(crate) fn destroy_volume(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let Some(volume) = world.array_volumes.get(&array_key(array, name)) else {
        return Ok(false);
    };
    if volume.destroyed {
        return Ok(false);
    }
    if is_connected(world, array, name) {
        return Err(Error::conflict(format!(
            "Volume {name} cannot be deleted due to existing connections."
        )));
    }
    let now = world.now();
    for on in copies_of(world, array, name) {
        if let Some(v) = world.array_volumes.get_mut(&array_key(&on, name)) {
            v.destroyed = true;
            v.destroyed_at = Some(now);
        }
    }
    Ok(true)
}

/// `DELETE /volumes?names=`: only destroyed volumes. `Ok(false)` when missing.
pub(crate) fn eradicate_volume(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let Some(volume) = world.array_volumes.get(&array_key(array, name)) else {
        return Ok(false);
    };
    if !volume.destroyed {
        return Err(Error::conflict(format!(
            "Volume {name} is not destroyed; destroy it before eradicating it."
        )));
    }
    eradicate_internal(world, array, name);
    Ok(true)
}

/// Removes a volume (and its pod copies) and its protection-group memberships.
pub(crate) fn eradicate_internal(world: &mut World, array: &str, name: &str) {
    let (pod, _) = split_pod(name);
    let mut arrays = vec![array.to_string()];
    if let Some(pod) = pod.and_then(|p| world.pods.get(p)) {
        arrays.extend(
            pod.members
                .iter()
                .filter(|m| m.array != array && world.link_up(array, &m.array))
                .map(|m| m.array.clone()),
        );
    }
    for on in arrays {
        world.array_volumes.remove(&array_key(&on, name));
        for key in world
            .protection_groups
            .keys_where(|g| g.array == on && g.volumes.iter().any(|v| v == name))
        {
            if let Some(group) = world.protection_groups.get_mut(&key) {
                group.volumes.retain(|v| v != name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purity_names() {
        assert!(valid_object_name("volume-1-cinder", 63));
        assert!(valid_object_name("a_b", 63));
        assert!(!valid_object_name("-a", 63));
        assert!(!valid_object_name("a.b", 63));
        assert!(!valid_object_name("", 63));
        assert!(!valid_object_name(&"a".repeat(64), 63));
        assert!(check_volume_name("pod::vol").is_ok());
        assert!(check_volume_name("pod::").is_err());
        assert_eq!(split_pod("pod::vol"), (Some("pod"), "vol"));
        assert_eq!(split_pod("vol"), (None, "vol"));
    }
}
