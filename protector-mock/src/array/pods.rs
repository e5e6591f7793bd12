//! ActiveCluster pods: one pod object stretched over arrays, its `pod::vol` volumes present and
//! equal on every member that is online.
//!
//! Rules kept small but honest:
//! - a write to a pod volume lands only where the pod is online and promoted, and is mirrored
//!   at once to every other online member;
//! - when members lose each other (partition, array down) the first member that is up stays
//!   online (the mediator's preferred array) and the others go offline;
//! - an offline or newly added member resyncs from the online one when the link is back.

use protector_core::api::{Pod, PodArray};
use protector_core::{Error, ErrorKind, Result};

use super::{destroy_volume, destroyed_error, does_not_exist, object_id, valid_object_name};
use crate::state::records::{array_key, PodMemberRec, PodRec};
use crate::state::World;

fn pod_view(array: &str, pod: &PodRec) -> Pod {
    Pod {
        name: pod.name.clone(),
        arrays: pod
            .members
            .iter()
            .map(|m| PodArray {
                name: m.array.clone(),
                status: m.status.clone(),
            })
            .collect(),
        promotion_status: pod
            .member(array)
            .map(|m| m.promotion.clone())
            .unwrap_or_else(|| "demoted".to_string()),
        destroyed: pod.destroyed,
    }
}

/// The pod as seen by `array` (only its members see it).
fn member_pod(world: &World, array: &str, name: &str) -> Result<PodRec> {
    world
        .pods
        .get(name)
        .filter(|p| p.member(array).is_some())
        .cloned()
        .ok_or_else(|| does_not_exist("Pod", name))
}

/// `GET /pods?names=`.
pub(crate) fn get_pod(world: &World, array: &str, name: &str) -> Option<Pod> {
    world
        .pods
        .get(name)
        .filter(|p| p.member(array).is_some())
        .map(|p| pod_view(array, p))
}

/// `POST /pods?names=`.
pub(crate) fn create_pod(world: &mut World, array: &str, name: &str) -> Result<Pod> {
    if !valid_object_name(name, 63) {
        return Err(Error::invalid(format!(
            "Pod name {name} is invalid: use 1 to 63 letters, digits or '-', beginning and ending with a letter or digit."
        )));
    }
    if let Some(existing) = world.pods.get(name) {
        if existing.destroyed {
            return Err(destroyed_error("Pod", name));
        }
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("Pod {name} already exists."),
        ));
    }
    let pod = PodRec {
        name: name.to_string(),
        members: vec![PodMemberRec {
            array: array.to_string(),
            status: "online".to_string(),
            promotion: "promoted".to_string(),
        }],
        destroyed: false,
        created: world.now(),
        destroyed_at: None,
    };
    let view = pod_view(array, &pod);
    world.pods.insert(name, pod);
    Ok(view)
}

/// `POST /pods/arrays`: stretch to `other`, which resyncs on a later tick. `Ok(false)` when
/// already a member.
pub(crate) fn add_pod_array(
    world: &mut World,
    array: &str,
    name: &str,
    other: &str,
) -> Result<bool> {
    let pod = member_pod(world, array, name)?;
    if pod.destroyed {
        return Err(destroyed_error("Pod", name));
    }
    if pod.member(other).is_some() {
        return Ok(false);
    }
    let connected = world
        .arrays
        .get(array)
        .is_some_and(|a| a.connections.iter().any(|c| c == other));
    if !connected || !world.arrays.contains_key(other) {
        return Err(Error::not_found(format!(
            "Array {other} does not exist or is not connected to {array}."
        )));
    }
    if let Some(p) = world.pods.get_mut(name) {
        p.members.push(PodMemberRec {
            array: other.to_string(),
            status: "resyncing".to_string(),
            promotion: "promoted".to_string(),
        });
    }
    Ok(true)
}

fn set_promotion(world: &mut World, array: &str, name: &str, promotion: &str) -> Result<bool> {
    let pod = member_pod(world, array, name)?;
    if pod.destroyed {
        return Err(destroyed_error("Pod", name));
    }
    if pod.member(array).is_some_and(|m| m.promotion == promotion) {
        return Ok(false);
    }
    if let Some(m) = world.pods.get_mut(name).and_then(|p| p.member_mut(array)) {
        m.promotion = promotion.to_string();
    }
    Ok(true)
}

/// `PATCH /pods {"requested_promotion_state": "promoted"}` on this array.
pub(crate) fn promote_pod(world: &mut World, array: &str, name: &str) -> Result<bool> {
    set_promotion(world, array, name, "promoted")
}

/// `PATCH /pods {"requested_promotion_state": "demoted"}` on this array: it stops taking
/// writes.
pub(crate) fn demote_pod(world: &mut World, array: &str, name: &str) -> Result<bool> {
    set_promotion(world, array, name, "demoted")
}

/// The pods `array` is a member of, destroyed ones included, by name.
pub(crate) fn pods_of<'a>(
    world: &'a World,
    array: &'a str,
) -> impl Iterator<Item = &'a PodRec> + 'a {
    world
        .pods
        .values()
        .filter(move |p| p.member(array).is_some())
}

/// The REST id of a pod: one object, the same on every array it is stretched over.
pub(crate) fn pod_id(pod: &PodRec) -> String {
    object_id(&["pod", &pod.name, &pod.created.to_rfc3339()])
}

fn pod_volume_names(world: &World, array: &str, pod: &str, live_only: bool) -> Vec<String> {
    world
        .array_volumes
        .values()
        .filter(|v| v.array == array && v.pod.as_deref() == Some(pod))
        .filter(|v| !live_only || !v.destroyed)
        .map(|v| v.name.clone())
        .collect()
}

/// `PATCH /pods?destroy_contents= {"destroyed": true}`: only a pod on one array; its volumes
/// must be destroyed first, or with it (`destroy_contents`). `Ok(false)` when already
/// destroyed.
pub(crate) fn destroy_pod(
    world: &mut World,
    array: &str,
    name: &str,
    destroy_contents: bool,
) -> Result<bool> {
    let pod = member_pod(world, array, name)?;
    if pod.destroyed {
        return Ok(false);
    }
    if pod.members.len() > 1 {
        return Err(Error::conflict(format!(
            "Pod {name} is stretched over {} arrays; remove the other arrays (DELETE pods/arrays) before destroying it.",
            pod.members.len()
        )));
    }
    let volumes = pod_volume_names(world, array, name, true);
    if !volumes.is_empty() && !destroy_contents {
        return Err(Error::conflict(format!(
            "Pod {name} contains {} volumes; destroy them first or set destroy_contents=true.",
            volumes.len()
        )));
    }
    for volume in &volumes {
        destroy_volume(world, array, volume)?;
    }
    let now = world.now();
    if let Some(p) = world.pods.get_mut(name) {
        p.destroyed = true;
        p.destroyed_at = Some(now);
    }
    Ok(true)
}

/// `PATCH /pods {"destroyed": false}`. `Ok(false)` when not destroyed.
pub(crate) fn recover_pod(world: &mut World, array: &str, name: &str) -> Result<bool> {
    let pod = member_pod(world, array, name)?;
    if !pod.destroyed {
        return Ok(false);
    }
    if let Some(p) = world.pods.get_mut(name) {
        p.destroyed = false;
        p.destroyed_at = None;
    }
    Ok(true)
}

/// `DELETE /pods?eradicate_contents=`: eradicates a destroyed pod, and its (destroyed) volumes
/// with `eradicate_contents`.
pub(crate) fn eradicate_destroyed_pod(
    world: &mut World,
    array: &str,
    name: &str,
    eradicate_contents: bool,
) -> Result<()> {
    let pod = member_pod(world, array, name)?;
    if !pod.destroyed {
        return Err(Error::conflict(format!(
            "Pod {name} is not destroyed; destroy it before eradicating it."
        )));
    }
    let volumes = pod_volume_names(world, array, name, false);
    if !volumes.is_empty() && !eradicate_contents {
        return Err(Error::conflict(format!(
            "Pod {name} still contains {} destroyed volumes; eradicate them first or set eradicate_contents=true.",
            volumes.len()
        )));
    }
    eradicate_pod_internal(world, name);
    Ok(())
}

/// Removes a pod and every volume in it, on every array.
pub(crate) fn eradicate_pod_internal(world: &mut World, name: &str) {
    world.pods.remove(name);
    for key in world
        .array_volumes
        .keys_where(|v| v.pod.as_deref() == Some(name))
    {
        if let Some(v) = world.array_volumes.remove(&key) {
            forget_memberships(world, &v.array, &v.name);
        }
    }
}

fn forget_memberships(world: &mut World, array: &str, volume: &str) {
    for key in world
        .protection_groups
        .keys_where(|g| g.array == array && g.volumes.iter().any(|v| v == volume))
    {
        if let Some(group) = world.protection_groups.get_mut(&key) {
            group.volumes.retain(|v| v != volume);
        }
    }
}

/// `DELETE /pods/arrays` (unstretch): `other` leaves the pod and its copies of the pod's
/// volumes go. An unreachable array leaves only `with_unknown`. `Ok(false)` when it is not a
/// member.
pub(crate) fn remove_pod_array(
    world: &mut World,
    array: &str,
    name: &str,
    other: &str,
    with_unknown: bool,
) -> Result<bool> {
    let pod = member_pod(world, array, name)?;
    if pod.destroyed {
        return Err(destroyed_error("Pod", name));
    }
    if pod.member(other).is_none() {
        return Ok(false);
    }
    if pod.members.len() == 1 {
        return Err(Error::conflict(format!(
            "Array {other} is the last array of pod {name}; destroy the pod instead."
        )));
    }
    if other != array && !world.link_up(array, other) && !with_unknown {
        return Err(Error::conflict(format!(
            "Array {other} is unreachable from {array}; set with_unknown=true to remove it from pod {name} anyway."
        )));
    }
    if let Some(p) = world.pods.get_mut(name) {
        p.members.retain(|m| m.array != other);
    }
    for key in world
        .array_volumes
        .keys_where(|v| v.array == other && v.pod.as_deref() == Some(name))
    {
        if let Some(v) = world.array_volumes.remove(&key) {
            forget_memberships(world, other, &v.name);
        }
    }
    Ok(true)
}

/// Whether `array` takes writes into `pod`.
pub(crate) fn accepts_writes(world: &World, array: &str, pod: &str) -> bool {
    world.array_up(array)
        && world.pods.get(pod).is_some_and(|p| {
            !p.destroyed
                && p.member(array)
                    .is_some_and(|m| m.status == "online" && m.promotion == "promoted")
        })
}

/// Refuses a write into `pod` on `array` unless it takes writes there.
pub(crate) fn check_writable(world: &World, array: &str, pod: &str) -> Result<()> {
    let p = member_pod(world, array, pod)?;
    if p.destroyed {
        return Err(destroyed_error("Pod", pod));
    }
    if !accepts_writes(world, array, pod) {
        let m = p.member(array);
        return Err(Error::conflict(format!(
            "Pod {pod} is {} and {} on {array} and does not accept writes.",
            m.map_or("unknown", |m| m.status.as_str()),
            m.map_or("unknown", |m| m.promotion.as_str()),
        )));
    }
    Ok(())
}

/// Makes `to`'s copy of the pod equal to `from`'s.
fn resync(world: &mut World, pod: &str, from: &str, to: &str) {
    let source: Vec<_> = world
        .array_volumes
        .values()
        .filter(|v| v.array == from && v.pod.as_deref() == Some(pod))
        .cloned()
        .collect();
    for key in world
        .array_volumes
        .keys_where(|v| v.array == to && v.pod.as_deref() == Some(pod))
    {
        let name = key.split_once('/').map_or("", |(_, n)| n).to_string();
        if !source.iter().any(|v| v.name == name) {
            world.array_volumes.remove(&key);
        }
    }
    for mut v in source {
        let key = array_key(to, &v.name);
        // Host connections belong to each array, not to the data.
        v.hosts = world
            .array_volumes
            .get(&key)
            .map(|existing| existing.hosts.clone())
            .unwrap_or_default();
        v.array = to.to_string();
        world.array_volumes.insert(key, v);
    }
}

/// One tick of pod membership: who is online, who resyncs.
pub(crate) fn pod_tick(world: &mut World) {
    for name in world
        .pods
        .keys_where(|p| !p.destroyed && p.members.len() > 1)
    {
        let Some(pod) = world.pods.get(&name).cloned() else {
            continue;
        };
        let leader = pod
            .members
            .iter()
            .find(|m| m.status == "online" && world.array_up(&m.array))
            .or_else(|| pod.members.iter().find(|m| world.array_up(&m.array)))
            .map(|m| m.array.clone());
        let mut statuses = Vec::new();
        for m in &pod.members {
            let status = match &leader {
                _ if !world.array_up(&m.array) => "offline",
                Some(l) if *l == m.array => "online",
                Some(l) if world.link_up(l, &m.array) => {
                    if m.status != "online" {
                        resync(world, &name, l, &m.array);
                    }
                    "online"
                }
                _ => "offline",
            };
            statuses.push(status);
        }
        let changed = pod
            .members
            .iter()
            .zip(&statuses)
            .any(|(m, s)| m.status != *s);
        if changed {
            if let Some(p) = world.pods.get_mut(&name) {
                for (m, s) in p.members.iter_mut().zip(statuses) {
                    m.status = s.to_string();
                }
            }
        }
    }
}
