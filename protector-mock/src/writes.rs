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
//! epochs (`Meta::write_epoch`, the first, and `Meta::writer_changes`, one per change of
//! writers since, saved with every call): a process loading the state recomputes the writers
//! from the saved records, follows each one back through the changes to the epoch it started
//! writing in, and replays its writes since ([`replay`]). A change records only the ranks of
//! the writers that stopped (in the old epoch) and started (in the new one); the other writers
//! keep their order, so their ranks follow. The rows of the writers that stopped or started
//! are marked dirty (the next save writes them, fully written up to then), and so is every
//! writer whose row a call changed (it starts again: its saved row holds its writes). The rows
//! a call saves are then what it changed, not every running volume. When the chain of changes
//! grows long, it is folded: every writer's row is saved and a new first epoch starts.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::array::diff::{record_write, HOT_BLOCKS, WRITE_BLOCK_BYTES};
use crate::array::pods;
use crate::state::records::array_key;
use crate::state::World;

/// Changes of writers kept before the chain is folded into a new first epoch.
const MAX_CHANGES: usize = 64;

/// Ranks (stopped plus started) the chain of changes holds at most before it is folded.
const MAX_CHANGED_RANKS: usize = 1024;

/// The writes since tick `t0`: saved with the state so another process can replay them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WriteEpoch {
    /// The first tick whose writes belong to the epoch.
    pub t0: u64,
    /// `write_seq` before the writes of `t0`.
    pub w0: u64,
}

/// A change of writers: a new epoch starts at tick `t0` with `write_seq = w0`; the writers
/// at ranks `stopped` of the previous epoch stopped writing, those at ranks `started` of the
/// new one start (their saved rows hold every write before `t0`), the others keep their order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WriterChange {
    /// The first tick whose writes belong to the new epoch.
    pub t0: u64,
    /// `write_seq` before the writes of `t0`.
    pub w0: u64,
    /// Ranks in the previous epoch of the writers that stopped, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<u32>,
    /// Ranks in the new epoch of the writers that started, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub started: Vec<u32>,
}

/// One writer: the array volumes (keys) that take its writes, the written one first, then its
/// pod mirrors, each with its number of hot blocks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// Matches the writers of two epochs, keeping their order: the ranks of `old` that stopped
/// and of `new` that started. A writer for which `restart` holds starts again even if it
/// continues.
fn changed_ranks(
    old: &[Writer],
    new: &[Writer],
    restart: impl Fn(&Writer) -> bool,
) -> (Vec<u32>, Vec<u32>) {
    let mut old_ranks: HashMap<&Writer, Vec<usize>> = HashMap::new();
    for (rank, writer) in old.iter().enumerate() {
        old_ranks.entry(writer).or_default().push(rank);
    }
    let mut matched = vec![false; old.len()];
    let mut started = Vec::new();
    // The next old rank a continuing writer may take: matches never cross.
    let mut next = 0;
    for (rank, writer) in new.iter().enumerate() {
        let old_rank = if restart(writer) {
            None
        } else {
            old_ranks
                .get(writer)
                .and_then(|ranks| ranks.iter().copied().find(|r| *r >= next))
        };
        match old_rank {
            Some(r) => {
                matched[r] = true;
                next = r + 1;
            }
            None => started.push(rank as u32),
        }
    }
    let stopped = (0..old.len())
        .filter(|r| !matched[*r])
        .map(|r| r as u32)
        .collect();
    (stopped, started)
}

/// Makes the epoch match the writers of `world` after a change (before a save): a new epoch
/// starts with the next tick's writes.
pub(crate) fn settle(world: &mut World) {
    let next_tick = world.meta.tick + 1;
    settle_at(world, next_tick);
}

fn mark_targets_dirty<'a>(world: &mut World, writers: impl IntoIterator<Item = &'a Writer>) {
    for writer in writers {
        for (key, _) in &writer.targets {
            world.array_volumes.mark_dirty(key);
        }
    }
}

/// Makes the epochs match the writers of `world` now; a new epoch's first writes are those of
/// tick `next_tick`. When writers stopped or started, their rows are marked dirty (they hold
/// every write so far in memory) so that the next save writes them, and the change is added
/// to the chain, or the chain is folded into a new first epoch.
fn settle_at(world: &mut World, next_tick: u64) {
    let now = generation(world);
    if world.meta.write_epoch.is_some() && world.writers.generation.as_ref() == Some(&now) {
        return;
    }
    let writers = compute_writers(world);
    world.writers.generation = Some(now);
    let old = std::mem::take(&mut world.writers.writers);
    let new_epoch = WriteEpoch {
        t0: next_tick,
        w0: world.meta.write_seq,
    };
    if world.meta.write_epoch.is_none() {
        mark_targets_dirty(world, &writers);
        world.meta.write_epoch = Some(new_epoch);
        world.meta.writer_changes.clear();
        world.writers.writers = writers;
        return;
    }
    // A writer whose row a call changed is saved now: it starts again from here.
    let (stopped, started) = changed_ranks(&old, &writers, |w| {
        w.targets
            .iter()
            .any(|(key, _)| world.array_volumes.is_dirty(key))
    });
    if stopped.is_empty() && started.is_empty() {
        world.writers.writers = writers;
        return;
    }
    let held: usize = world
        .meta
        .writer_changes
        .iter()
        .map(|c| c.stopped.len() + c.started.len())
        .sum();
    if world.meta.writer_changes.len() >= MAX_CHANGES
        || held + stopped.len() + started.len() > MAX_CHANGED_RANKS
    {
        // Fold: every writer's row is saved, the chain starts over.
        mark_targets_dirty(world, &old);
        mark_targets_dirty(world, &writers);
        world.meta.write_epoch = Some(new_epoch);
        world.meta.writer_changes.clear();
    } else {
        mark_targets_dirty(world, stopped.iter().map(|r| &old[*r as usize]));
        mark_targets_dirty(world, started.iter().map(|r| &writers[*r as usize]));
        world.meta.writer_changes.push(WriterChange {
            t0: new_epoch.t0,
            w0: new_epoch.w0,
            stopped,
            started,
        });
    }
    world.writers.writers = writers;
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

/// One epoch of the chain, as replay walks it.
struct Epoch {
    w0: u64,
    /// Writers in the epoch.
    k: u64,
    /// Ticks of the epoch written so far.
    ticks: u64,
}

/// The rank in the previous epoch of the writer at `rank` after `change`, or `None` when it
/// started with the change.
fn previous_rank(change: &WriterChange, rank: u32) -> Option<u32> {
    if change.started.binary_search(&rank).is_ok() {
        return None;
    }
    // Its place among the writers that continued, then the old rank with that place.
    let place = rank - change.started.iter().filter(|r| **r < rank).count() as u32;
    let mut old = place;
    for stopped in &change.stopped {
        if *stopped <= old {
            old += 1;
        }
    }
    Some(old)
}

/// Brings a freshly loaded world's written volumes up to its tick: the saved rows hold the
/// writes up to when each writer last started (or its row was last saved), the epochs say
/// what happened since.
pub(crate) fn replay(world: &mut World) {
    let Some(base) = world.meta.write_epoch else {
        return;
    };
    let writers = compute_writers(world);
    let tick = world.meta.tick;
    let changes = &world.meta.writer_changes;
    // The epochs, oldest first, with their writer counts (known for the last one, derived
    // backwards through the changes) and how many of their ticks have passed.
    let mut starts: Vec<(u64, u64)> = vec![(base.t0, base.w0)];
    starts.extend(changes.iter().map(|c| (c.t0, c.w0)));
    let mut counts = vec![0u64; starts.len()];
    let mut k = writers.len() as u64;
    for (i, change) in changes.iter().enumerate().rev() {
        counts[i + 1] = k;
        k = (k + change.stopped.len() as u64).saturating_sub(change.started.len() as u64);
    }
    counts[0] = k;
    let epochs: Vec<Epoch> = starts
        .iter()
        .enumerate()
        .map(|(i, (t0, w0))| {
            let end = starts.get(i + 1).map_or(tick + 1, |(next, _)| *next);
            Epoch {
                w0: *w0,
                k: counts[i],
                ticks: end.min(tick + 1).saturating_sub(*t0),
            }
        })
        .collect();
    let changes = changes.clone();
    for (rank, writer) in writers.iter().enumerate() {
        // The writer's rank in each epoch it wrote in, newest first.
        let mut ranks = Vec::new();
        let mut r = rank as u32;
        let mut i = epochs.len() - 1;
        loop {
            ranks.push((i, r));
            if i == 0 {
                break;
            }
            match previous_rank(&changes[i - 1], r) {
                Some(previous) => r = previous,
                None => break,
            }
            i -= 1;
        }
        for (i, r) in ranks.into_iter().rev() {
            let epoch = &epochs[i];
            let first = epoch.w0 + u64::from(r) + 1;
            for (key, hot) in &writer.targets {
                let Some(v) = world.array_volumes.get_mut_untracked(key) else {
                    continue;
                };
                // Blocks repeat with a period of at most `hot` writes: the last `hot` writes
                // of an epoch set every block the epoch reached.
                for j in epoch.ticks.saturating_sub((*hot).max(1))..epoch.ticks {
                    record_write(v, first + j * epoch.k);
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

    fn server_id(world: &World, name: &str) -> String {
        world.servers.keys_where(|s| s.name == name).pop().unwrap()
    }

    fn set_status(world: &mut World, name: &str, status: &str) {
        let id = server_id(world, name);
        world.servers.get_mut(&id).unwrap().status = status.to_string();
    }

    /// The array volume keys `server` writes to (its volumes, and their pod mirrors).
    fn targets_of(world: &World, name: &str) -> Vec<String> {
        let id = server_id(world, name);
        let server = world.servers.get(&id).unwrap();
        let mut keys = Vec::new();
        for attached in &server.volumes {
            let name = world
                .volumes
                .get(&attached.volume_id)
                .unwrap()
                .array_volume
                .clone();
            for v in world.array_volumes.values() {
                if Some(&v.name) == name.as_ref() && !v.destroyed {
                    keys.push(array_key(&v.array, &v.name));
                }
            }
        }
        keys.sort();
        keys
    }

    /// Writes mark nothing dirty; a change of writers marks only the rows of the writers that
    /// stopped or started.
    #[test]
    fn writes_are_untracked_and_a_change_saves_only_its_writers() {
        use crate::state::table::PersistTable;
        let mut world = crate::seed::default_world(crate::state::DEFAULT_SEED);
        settle(&mut world);
        world.array_volumes.drain_dirty().unwrap();
        crate::tick::advance(&mut world);
        assert!(world.array_volumes.drain_dirty().unwrap().is_empty());
        let epoch = world.meta.write_epoch;

        set_status(&mut world, "web-server-1", "SHUTOFF");
        settle(&mut world);
        assert_eq!(world.meta.write_epoch, epoch, "the first epoch stays");
        assert_eq!(world.meta.writer_changes.len(), 1);
        let mut dirty: Vec<String> = world
            .array_volumes
            .drain_dirty()
            .unwrap()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        dirty.sort();
        let expected = targets_of(&world, "web-server-1");
        assert!(!expected.is_empty());
        assert_eq!(dirty, expected, "only the stopped writer is saved");

        set_status(&mut world, "web-server-1", "ACTIVE");
        settle(&mut world);
        assert_eq!(world.meta.writer_changes.len(), 2);
        let change = &world.meta.writer_changes[1];
        assert_eq!(change.stopped, Vec::<u32>::new());
        assert!(!change.started.is_empty());
    }

    /// What a file-backed store holds after each call (the rows saved when dirty), loaded and
    /// replayed, equals the world that wrote tick by tick, through stops, starts, a row a
    /// call changed (an overwrite) and a fold of the chain.
    #[test]
    fn replay_through_changes_equals_writing_every_tick() {
        use crate::state::table::PersistTable;
        use std::collections::BTreeMap;

        let mut world = crate::seed::default_world(crate::state::DEFAULT_SEED);
        let mut saved: BTreeMap<String, crate::state::records::ArrayVolumeRec> = BTreeMap::new();
        let mut save = |world: &mut World| {
            settle(world);
            for (key, _) in world.array_volumes.drain_dirty().unwrap() {
                match world.array_volumes.get(&key) {
                    Some(v) => saved.insert(key, v.clone()),
                    None => saved.remove(&key),
                };
            }
            let mut loaded = world.clone();
            for (key, v) in &saved {
                *loaded.array_volumes.get_mut_untracked(key).unwrap() = v.clone();
            }
            loaded.writers = WriterCache::default();
            replay(&mut loaded);
            for v in world.array_volumes.values() {
                let other = loaded
                    .array_volumes
                    .get(&array_key(&v.array, &v.name))
                    .unwrap();
                assert_eq!(
                    other.fingerprint, v.fingerprint,
                    "tick {} {}",
                    world.meta.tick, v.name
                );
                assert_eq!(
                    other.written_blocks, v.written_blocks,
                    "tick {} {}",
                    world.meta.tick, v.name
                );
            }
        };
        // The seeded rows are all new, so the first save writes every one.
        save(&mut world);
        let ticks = |world: &mut World, n: usize| {
            for _ in 0..n {
                crate::tick::advance(world);
            }
        };
        ticks(&mut world, 40);
        save(&mut world);
        set_status(&mut world, "web-server-1", "SHUTOFF");
        save(&mut world);
        ticks(&mut world, 7);
        save(&mut world);
        set_status(&mut world, "db-server-1", "SHUTOFF");
        ticks(&mut world, 1);
        save(&mut world);
        ticks(&mut world, 300);
        save(&mut world);
        set_status(&mut world, "web-server-1", "ACTIVE");
        save(&mut world);
        ticks(&mut world, 5);
        // A call overwrites a written volume (as a copy does): it starts again from its row.
        let key = targets_of(&world, "web-server-2")[0].clone();
        {
            let v = world.array_volumes.get_mut(&key).unwrap();
            v.fingerprint = 1;
            v.written_blocks.clear();
        }
        save(&mut world);
        ticks(&mut world, 3);
        save(&mut world);
        assert!(world.meta.writer_changes.len() >= 3);
        // Enough changes to fold the chain, with writes in between.
        for i in 0..MAX_CHANGES + 2 {
            let status = if i % 2 == 0 { "SHUTOFF" } else { "ACTIVE" };
            set_status(&mut world, "db-server-1", status);
            ticks(&mut world, i % 3);
            save(&mut world);
        }
        assert!(world.meta.writer_changes.len() < MAX_CHANGES);
        ticks(&mut world, 20);
        save(&mut world);
    }
}
