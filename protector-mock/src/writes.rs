//! The guests' writes (step 4 of a tick) without a save per running volume per call.
//!
//! Every tick, each volume attached to an ACTIVE server takes one write, numbered in a fixed
//! order (servers by site and creation, volumes in attachment order), mirrored through
//! stretched pods. Which volumes are written, in what order and where they are mirrored (the
//! *writers*) changes only when something else changes: a server's status or volumes, an array
//! volume's name, pod or size, a pod's state, an array's power, the replication link. Between
//! such changes, the writes follow a formula: in an *epoch* starting at tick `t0` with
//! `write_seq = w0` and `K` writers, writer `r` holds, after tick `t`, fingerprint
//! `w0 + (t - t0) * K + r + 1`.
//!
//! So the world applies the writes in memory without marking rows dirty, and persists only the
//! epoch (`Meta::write_epoch`, saved with every call): a process loading the state recomputes
//! the writers from the saved records and replays the epoch's writes ([`replay`]). When the
//! writers change, the epoch closes: the rows of its writers are marked dirty (the next save
//! writes them, fully written up to then) and a new epoch starts. The rows a call saves are
//! then what it changed, not every running volume.

use serde::{Deserialize, Serialize};

use crate::array::diff::{record_write, HOT_BLOCKS, WRITE_BLOCK_BYTES};
use crate::array::pods;
use crate::state::records::array_key;
use crate::state::World;

/// The writes since tick `t0`: saved with the state so another process can replay them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WriteEpoch {
    /// The first tick whose writes belong to the epoch.
    pub t0: u64,
    /// `write_seq` before the writes of `t0`.
    pub w0: u64,
}

/// One writer: the array volumes (keys) that take its writes, the written one first, then its
/// pod mirrors, each with its number of hot blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Writer {
    targets: Vec<(String, u64)>,
}

/// The writers of the current epoch and what they were computed from (in memory only).
#[derive(Debug, Clone, Default)]
pub(crate) struct WriterCache {
    generation: Option<Generation>,
    writers: Vec<Writer>,
}

/// Everything the writers depend on, cheaply comparable: the tracked mutation counts of the
/// tables involved and the faults that gate writes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Generation {
    mutations: [u64; 4],
    arrays_down: Vec<String>,
    partition: bool,
}

fn generation(world: &World) -> Generation {
    Generation {
        mutations: [
            world.servers.mutations(),
            world.volumes.mutations(),
            world.array_volumes.mutations(),
            world.pods.mutations(),
        ],
        arrays_down: world.faults.arrays_down.iter().cloned().collect(),
        partition: world.faults.partition,
    }
}

fn hot_blocks(provisioned: u64) -> u64 {
    provisioned.div_ceil(WRITE_BLOCK_BYTES).min(HOT_BLOCKS)
}

/// The writers of `world` now, in write order.
fn compute_writers(world: &World) -> Vec<Writer> {
    let mut active: Vec<_> = world
        .servers
        .values()
        .filter(|s| s.status == "ACTIVE")
        .collect();
    active.sort_by(|a, b| (&a.site, a.seq).cmp(&(&b.site, b.seq)));
    let mut writers = Vec::new();
    for server in active {
        let array = world.array_name_of_site(&server.site);
        if !world.array_up(&array) {
            continue;
        }
        for attached in &server.volumes {
            let Some(name) = world
                .volumes
                .get(&attached.volume_id)
                .and_then(|v| v.array_volume.as_ref())
            else {
                continue;
            };
            let key = array_key(&array, name);
            let Some(target) = world.array_volumes.get(&key) else {
                continue;
            };
            if target.destroyed {
                continue;
            }
            let mut targets = vec![(key, hot_blocks(target.provisioned_bytes))];
            if let Some(pod) = &target.pod {
                if !pods::accepts_writes(world, &array, pod) {
                    continue;
                }
                if let Some(p) = world.pods.get(pod) {
                    for m in &p.members {
                        if m.array != array
                            && m.status == "online"
                            && world.link_up(&array, &m.array)
                        {
                            let mirror = array_key(&m.array, name);
                            if let Some(v) = world.array_volumes.get(&mirror) {
                                targets.push((mirror, hot_blocks(v.provisioned_bytes)));
                            }
                        }
                    }
                }
            }
            writers.push(Writer { targets });
        }
    }
    writers
}

/// Makes the epoch match the writers of `world` after a change (before a save): a new epoch
/// starts with the next tick's writes.
pub(crate) fn settle(world: &mut World) {
    let next_tick = world.meta.tick + 1;
    settle_at(world, next_tick);
}

/// Makes the epoch match the writers of `world` now; a new epoch's first writes are those of
/// tick `next_tick`. When the writers changed, the old ones' rows are marked dirty (they hold
/// every write so far in memory) so that the next save writes them.
fn settle_at(world: &mut World, next_tick: u64) {
    let now = generation(world);
    if world.meta.write_epoch.is_some() && world.writers.generation.as_ref() == Some(&now) {
        return;
    }
    let writers = compute_writers(world);
    world.writers.generation = Some(now);
    if world.meta.write_epoch.is_some() && writers == world.writers.writers {
        return;
    }
    let old = std::mem::replace(&mut world.writers.writers, writers);
    for writer in &old {
        for (key, _) in &writer.targets {
            world.array_volumes.mark_dirty(key);
        }
    }
    world.meta.write_epoch = Some(WriteEpoch {
        t0: next_tick,
        w0: world.meta.write_seq,
    });
}

/// The writes of the current tick: one per writer, in order, mirrored, in memory.
pub(crate) fn write_tick(world: &mut World) {
    let tick = world.meta.tick;
    settle_at(world, tick);
    let writers = std::mem::take(&mut world.writers.writers);
    for writer in &writers {
        let seq = world.next_write();
        for (key, _) in &writer.targets {
            if let Some(v) = world.array_volumes.get_mut_untracked(key) {
                record_write(v, seq);
            }
        }
    }
    world.writers.writers = writers;
}

/// Brings a freshly loaded world's written volumes up to its tick: the saved rows hold the
/// writes up to when each was last saved, the epoch says what happened since.
pub(crate) fn replay(world: &mut World) {
    let Some(epoch) = world.meta.write_epoch else {
        return;
    };
    let writers = compute_writers(world);
    let tick = world.meta.tick;
    if tick >= epoch.t0 {
        let writes = tick - epoch.t0 + 1;
        let k = writers.len() as u64;
        for (rank, writer) in writers.iter().enumerate() {
            let first = epoch.w0 + rank as u64 + 1;
            for (key, hot) in &writer.targets {
                let Some(v) = world.array_volumes.get_mut_untracked(key) else {
                    continue;
                };
                // Blocks repeat with a period of at most `hot` writes: the last `hot` writes
                // set every block the epoch reached.
                for j in writes.saturating_sub((*hot).max(1))..writes {
                    record_write(v, first + j * k);
                }
            }
        }
    }
    world.writers = WriterCache {
        generation: Some(generation(world)),
        writers,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The epoch formula and the replay of blocks give exactly what writing tick by tick gave.
    #[test]
    fn replay_equals_writing_every_tick() {
        let mut written = crate::seed::default_world(crate::state::DEFAULT_SEED);
        settle(&mut written);
        let saved = written.clone();
        // More ticks than a volume has hot blocks, so blocks wrap.
        for _ in 0..300 {
            crate::tick::advance(&mut written);
        }
        assert!(written.meta.write_seq > saved.meta.write_seq + 300);

        let mut loaded = saved;
        loaded.meta = written.meta.clone();
        replay(&mut loaded);
        let mut compared = 0;
        for v in written.array_volumes.values() {
            let other = loaded
                .array_volumes
                .get(&array_key(&v.array, &v.name))
                .unwrap();
            assert_eq!(other.fingerprint, v.fingerprint, "{}", v.name);
            assert_eq!(other.written_blocks, v.written_blocks, "{}", v.name);
            compared += 1;
        }
        // Every seeded volume (the sync ones on both arrays) was compared.
        assert_eq!(compared, written.array_volumes.values().count());
        assert!(compared >= 9);
    }

    /// Writes mark nothing dirty; a change of writers marks the old ones' rows.
    #[test]
    fn writes_are_untracked_until_the_writers_change() {
        let mut world = crate::seed::default_world(crate::state::DEFAULT_SEED);
        settle(&mut world);
        use crate::state::table::PersistTable;
        world.array_volumes.drain_dirty().unwrap();
        crate::tick::advance(&mut world);
        assert!(world.array_volumes.drain_dirty().unwrap().is_empty());
        let epoch = world.meta.write_epoch;

        let id = world
            .servers
            .keys_where(|s| s.name == "web-server-1")
            .pop()
            .unwrap();
        world.servers.get_mut(&id).unwrap().status = "SHUTOFF".to_string();
        settle(&mut world);
        assert_ne!(world.meta.write_epoch, epoch);
        let dirty = world.array_volumes.drain_dirty().unwrap();
        assert!(
            dirty.len() >= 9,
            "every old writer is saved: {}",
            dirty.len()
        );
    }
}
