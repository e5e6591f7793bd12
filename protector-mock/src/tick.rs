//! Simulated time. Every API call, and every [`crate::Simulator::tick`], runs one step of the
//! world (a tick) and, with the default [`Clock`], advances the clock by one second (with
//! [`Clock::Wall`], time follows real time instead). A step runs, in this order:
//!
//! 1. servers finish what they were doing (BUILD → ACTIVE/ERROR, powering off/on);
//! 2. Cinder's volume manager finishes manage / unmanage / delete;
//! 3. pods settle who is online and resync;
//! 4. every volume attached to an ACTIVE server takes one write, once a simulated second
//!    (`fingerprint = ++write_seq`, changing one block: [`crate::array::diff`]), mirrored
//!    through stretched pods;
//! 5. replication transfers progress, queued transfers start, schedules fire;
//! 6. objects destroyed longer than the eradication delay (volumes, protection groups and their
//!    snapshots, pods) are eradicated.

use crate::array::{pgroups, pods, snapshots};
use crate::cloud::{block_storage, compute};
use crate::state::due::DueIndexes;
use crate::state::records::{array_key, ServerTask, VolumeTask};
use crate::state::World;

/// Ticks a replicated snapshot takes to arrive while the link is up ([`Pace::Realistic`]).
pub(crate) const TRANSFER_STEPS: u32 = 3;

/// How long the services' transitions take, in ticks.
///
/// Time advances one tick per call, so a transition that takes several ticks completes only
/// after as many calls of whoever is waiting for it: with nothing else running, a client that
/// polls more often sees it sooner. A benchmark that measures a client against the bound of
/// "one poll sees the change" wants every transition to complete at the next tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// As the services report them: a boot takes two ticks (BUILD is seen once), a replicated
    /// snapshot arrives over three (its progress is seen), the rest takes one.
    #[default]
    Realistic,
    /// Every transition (boot, power, manage, transfer, …) completes at the next tick: the
    /// first call after the one that asked for it sees it done.
    Prompt,
}

impl Pace {
    /// Whether this is the default pace.
    pub(crate) fn is_realistic(&self) -> bool {
        *self == Pace::Realistic
    }

    /// Ticks a boot takes.
    pub(crate) fn boot_ticks(self) -> u64 {
        match self {
            Pace::Realistic => crate::cloud::compute::BOOT_TICKS,
            Pace::Prompt => 1,
        }
    }

    /// Steps a transfer makes in one tick.
    pub(crate) fn transfer_step(self) -> u32 {
        match self {
            Pace::Realistic => 1,
            Pace::Prompt => TRANSFER_STEPS,
        }
    }
}

/// What simulated time follows. The services' transitions (boots, power, manage, transfers)
/// count ticks whatever the clock; time is what the arrays' replication schedules, snapshot
/// retention and eradication, and every timestamp the services report, follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Every call is one simulated second: deterministic, and a long scenario passes hours
    /// of the arrays' schedules in a few thousand calls.
    #[default]
    Calls,
    /// Simulated time passes as real time does, from the moment the clock was set: a
    /// benchmark's thousands of calls in a few seconds see a few seconds of the arrays'
    /// schedules, as a real failover of that length would.
    Wall,
}

/// Where simulated time stood when the clock was last set: it goes on from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ClockOrigin {
    pub clock: Clock,
    /// The tick at which it was set.
    pub tick: u64,
    /// The simulated time then.
    pub time: chrono::DateTime<chrono::Utc>,
    /// The real time then.
    pub real: chrono::DateTime<chrono::Utc>,
}

impl ClockOrigin {
    /// The simulated time at `tick`, `real` being the real time now.
    pub(crate) fn time_at(
        &self,
        tick: u64,
        real: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        match self.clock {
            Clock::Calls => {
                let ticks = i64::try_from(tick.saturating_sub(self.tick)).unwrap_or(i64::MAX);
                self.time + chrono::Duration::seconds(ticks)
            }
            Clock::Wall => self.time + (real - self.real).max(chrono::Duration::zero()),
        }
    }
}

/// Seconds a destroyed object waits before the array eradicates it.
pub(crate) const ERADICATION_DELAY_SECS: i64 = 24 * 3600;

/// Advances the world by one tick.
pub(crate) fn advance(world: &mut World) {
    world.meta.tick += 1;
    servers_step(world);
    volumes_step(world);
    pods::pod_tick(world);
    writes_step(world);
    snapshots::replication_tick(world);
    eradication_step(world);
    debug_assert!(
        DueIndexes::consistent(world),
        "the due indexes differ from a scan of their tables"
    );
}

fn servers_step(world: &mut World) {
    DueIndexes::refresh(world);
    let due = world.due.servers.due(due_tick(world));
    for id in due {
        let Some(server) = world.servers.get(&id).cloned() else {
            continue;
        };
        match server.task.clone() {
            Some(ServerTask::Spawning { fault, .. }) => {
                let fault = fault.or_else(|| unattachable_volume(world, &server.site, &server));
                match fault {
                    Some(fault) => {
                        compute::release_server_resources(world, &server);
                        if let Some(s) = world.servers.get_mut(&id) {
                            s.status = "ERROR".to_string();
                            s.fault = Some(fault);
                            s.task = None;
                        }
                    }
                    None => {
                        compute::attach_server_resources(world, &server);
                        if let Some(s) = world.servers.get_mut(&id) {
                            s.status = "ACTIVE".to_string();
                            s.task = None;
                        }
                    }
                }
            }
            Some(ServerTask::PoweringOff { .. }) => {
                if let Some(s) = world.servers.get_mut(&id) {
                    s.status = "SHUTOFF".to_string();
                    s.fault = None;
                    s.task = None;
                }
            }
            Some(ServerTask::PoweringOn { .. }) => {
                if let Some(s) = world.servers.get_mut(&id) {
                    s.status = "ACTIVE".to_string();
                    s.task = None;
                }
            }
            None => {}
        }
    }
}

/// Why a booting server cannot attach one of its volumes (backend gone or unreachable).
fn unattachable_volume(
    world: &World,
    site: &str,
    server: &crate::state::records::ServerRec,
) -> Option<String> {
    let array = world.array_name_of_site(site);
    for attached in &server.volumes {
        let backend_ok = world
            .volumes
            .get(&attached.volume_id)
            .and_then(|v| v.array_volume.as_ref())
            .and_then(|name| world.array_volumes.get(&array_key(&array, name)))
            .is_some_and(|v| !v.destroyed)
            && world.array_up(&array);
        if !backend_ok {
            return Some(format!(
                "Build of instance {} aborted: Volume {} could not be attached: its backend volume is unavailable.",
                server.id, attached.volume_id
            ));
        }
    }
    None
}

fn volumes_step(world: &mut World) {
    DueIndexes::refresh(world);
    let due = world.due.volumes.due(due_tick(world));
    for id in due {
        let Some(task) = world.volumes.get(&id).and_then(|v| v.task.clone()) else {
            continue;
        };
        match task {
            VolumeTask::Manage { source_name, .. } => {
                block_storage::finish_manage(world, &id, &source_name)
            }
            VolumeTask::Unmanage { .. } => block_storage::finish_unmanage(world, &id),
            VolumeTask::Delete { .. } => block_storage::finish_delete(world, &id),
            VolumeTask::Create { .. } => block_storage::finish_create(world, &id),
        }
    }
    block_storage::snapshots_step(world);
}

/// Step 4: one write per volume attached to an ACTIVE server, applied in memory and saved as
/// an epoch rather than row by row (`crate::writes`).
fn writes_step(world: &mut World) {
    crate::writes::write_tick(world);
}

/// The current tick as the due indexes count it.
pub(crate) fn due_tick(world: &World) -> i64 {
    i64::try_from(world.meta.tick).unwrap_or(i64::MAX)
}

fn eradication_step(world: &mut World) {
    // Pods are few: a scan.
    let pod_cutoff = world.now() - chrono::Duration::seconds(ERADICATION_DELAY_SECS);
    let now = world.now().timestamp_millis();
    DueIndexes::refresh(world);
    for key in world.due.array_volume_eradication.due(now) {
        if let Some(v) = world.array_volumes.get(&key).cloned() {
            crate::array::eradicate_internal(world, &v.array, &v.name);
        }
    }
    DueIndexes::refresh(world);
    for key in world.due.group_eradication.due(now) {
        if let Some(g) = world.protection_groups.get(&key).cloned() {
            pgroups::eradicate_group(world, &g.array, &g.name);
        }
    }
    DueIndexes::refresh(world);
    for key in world.due.pg_snapshot_eradication.due(now) {
        if let Some(s) = world.pg_snapshots.get(&key).cloned() {
            snapshots::eradicate_snapshot_internal(world, &s.array, &s.name);
        }
    }
    for name in world
        .pods
        .keys_where(|p| p.destroyed && p.destroyed_at.is_some_and(|t| t <= pod_cutoff))
    {
        pods::eradicate_pod_internal(world, &name);
    }
}
