//! The guests' writes (step 4 of a tick) without a save per running volume per call.
//!
//! Every round (a tick that starts a simulated second: with the default clock, every tick),
//! each volume attached to an ACTIVE server takes one write, numbered in a fixed
//! order (servers by site and creation, volumes in attachment order), mirrored through
//! stretched pods. Which volumes are written, in what order and where they are mirrored (the
//! *writers*) changes only when something else changes: a server's status or volumes, an array
//! volume's name, pod or size, a pod's state, an array's power, the replication link. Between
//! such changes, the writes follow a formula: in an *epoch* starting at round `t0` with
//! `write_seq = w0` and `K` writers, writer `r` holds, after round `t`, fingerprint
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
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::array::diff::{record_write, HOT_BLOCKS, WRITE_BLOCK_BYTES};
use crate::array::pods;
use crate::state::records::{array_key, ServerRec};
use crate::state::table::Slot;
use crate::state::World;

/// Changes of writers kept before the chain is folded into a new first epoch.
const MAX_CHANGES: usize = 64;

/// Ranks (stopped plus started) the chain of changes holds at most before it is folded.
const MAX_CHANGED_RANKS: usize = 1024;

/// The writes since round `t0`: saved with the state so another process can replay them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WriteEpoch {
    /// The first round whose writes belong to the epoch.
    pub t0: u64,
    /// `write_seq` before the writes of `t0`.
    pub w0: u64,
}

/// A change of writers: a new epoch starts at round `t0` with `write_seq = w0`; the writers
/// at ranks `stopped` of the previous epoch stopped writing, those at ranks `started` of the
/// new one start (their saved rows hold every write before `t0`), the others keep their order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WriterChange {
    /// The first round whose writes belong to the new epoch.
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
/// pod mirrors, each with its number of hot blocks. Writers are the same when their targets
/// are.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    targets: Arc<[(String, u64)]>,
    /// Where each target's row lives, taken when the writer was computed: a tick's writes
    /// reach the rows without a search. A row removed since makes the writers change
    /// (its key is one they read), so they are computed again before the next writes.
    slots: Arc<[Slot]>,
}

impl PartialEq for Writer {
    fn eq(&self, other: &Writer) -> bool {
        self.targets == other.targets
    }
}

impl Eq for Writer {}

impl std::hash::Hash for Writer {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.targets.hash(state);
    }
}

/// The writers of one ACTIVE server, a run of consecutive ranks.
#[derive(Debug, Clone)]
struct Span {
    site: String,
    seq: u64,
    server: String,
    len: usize,
    /// What its writers were computed from.
    keys: ServerKeys,
}

/// The writers of the current epoch and what they were computed from (in memory only).
#[derive(Debug, Clone, Default)]
pub(crate) struct WriterCache {
    generation: Option<Generation>,
    /// The volumes and array volumes (keys) the writers were computed from, found or not: a
    /// change to any other row of those tables leaves the writers as they are.
    consulted: Consulted,
    writers: Vec<Writer>,
    /// The servers `writers` come from, in write order.
    spans: Vec<Span>,
    /// How many times the writers were computed (in memory only; tests).
    computed: u64,
}

impl WriterCache {
    fn set(&mut self, writers: Vec<Writer>, spans: Vec<Span>) {
        self.writers = writers;
        self.spans = spans;
    }

    /// Whether the writers computed at `self.generation` are still those of `world`: nothing
    /// they depend on changed (see [`Consulted`]).
    fn current(&self, world: &World, now: &Generation) -> bool {
        self.generation
            .as_ref()
            .is_some_and(|then| then.mutations[0] == now.mutations[0])
            && self.only_servers_changed(world, now)
    }

    /// Whether, of what the writers computed at `self.generation` depend on, at most the
    /// servers changed: then only the writers of the servers changed since need computing.
    fn only_servers_changed(&self, world: &World, now: &Generation) -> bool {
        let Some(then) = &self.generation else {
            return false;
        };
        if then == now {
            return true;
        }
        let [_, volumes, array_volumes, pods] = then.mutations;
        // Rows changed since the last save are dirty; the writers are settled before every
        // save (`Store::transact`), so every row changed since they were computed is dirty.
        // A volume's row matters to the writers only by the array volume it names; an array
        // volume's by all of it (a call that changed a target's data restarts its writer).
        // Array volumes only marked for saving (the writers' own restarts, earlier in the
        // same call) did not change.
        let volume_unchanged = |id: &String| {
            self.consulted.volumes.get(id).is_none_or(|(named, _)| {
                world.volumes.get(id).and_then(|v| v.array_volume.as_ref()) == named.as_ref()
            })
        };
        pods == now.mutations[3]
            && then.arrays_down == now.arrays_down
            && then.partition == now.partition
            && (volumes == now.mutations[1] || world.volumes.dirty_keys().all(volume_unchanged))
            && (array_volumes == now.mutations[2]
                || world
                    .array_volumes
                    .changed_keys()
                    .all(|k| !self.consulted.array_volumes.contains_key(k)))
    }
}

/// What [`compute_writers`] looked up besides the servers, pods and faults (any change to
/// those recomputes the writers): the volumes attached to ACTIVE servers and the array volumes
/// they and their pod mirrors name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Consulted {
    /// Volume ids, each with the array volume it named and the number of servers that read it.
    volumes: HashMap<String, (Option<String>, u32)>,
    /// Array volume keys, each with the number of servers that read it.
    array_volumes: HashMap<String, u32>,
}

impl Consulted {
    fn add(&mut self, keys: &ServerKeys) {
        for (id, named) in &keys.volumes {
            self.volumes
                .entry(id.clone())
                .or_insert_with(|| (named.clone(), 0))
                .1 += 1;
        }
        for k in &keys.array_volumes {
            *self.array_volumes.entry(k.clone()).or_default() += 1;
        }
    }

    fn remove(&mut self, keys: &ServerKeys) {
        for (id, _) in &keys.volumes {
            forget(&mut self.volumes, id, |(_, n)| n);
        }
        for k in &keys.array_volumes {
            forget(&mut self.array_volumes, k, |n| n);
        }
    }
}

/// Takes one reader off `key` in `counts` (its count from `count`), and the key with its last.
fn forget<V>(counts: &mut HashMap<String, V>, key: &str, count: impl Fn(&mut V) -> &mut u32) {
    if let Some(n) = counts.get_mut(key).map(count) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// What the writers of one server were computed from: its volumes and the array volumes they
/// and their pod mirrors name, found or not.
#[derive(Debug, Clone, Default)]
struct ServerKeys {
    /// Volume ids, each with the array volume it named then.
    volumes: Vec<(String, Option<String>)>,
    array_volumes: Vec<String>,
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

/// The writers of `world` now, in write order, the servers they come from, and what they were
/// computed from.
fn compute_writers(world: &World) -> (Vec<Writer>, Vec<Span>, Consulted) {
    let mut consulted = Consulted::default();
    let mut active: Vec<_> = world
        .servers
        .values()
        .filter(|s| s.status == "ACTIVE")
        .collect();
    active.sort_by(|a, b| (&a.site, a.seq).cmp(&(&b.site, b.seq)));
    let mut writers = Vec::new();
    let mut spans = Vec::new();
    for server in active {
        let span = server_span(world, server, &mut writers);
        consulted.add(&span.keys);
        spans.push(span);
    }
    (writers, spans, consulted)
}

/// Appends the writers of `server` (ACTIVE) to `writers`; their span.
fn server_span(world: &World, server: &ServerRec, writers: &mut Vec<Writer>) -> Span {
    let before = writers.len();
    let mut keys = ServerKeys::default();
    server_writers(world, server, &mut keys, writers);
    Span {
        site: server.site.clone(),
        seq: server.seq,
        server: server.id.clone(),
        len: writers.len() - before,
        keys,
    }
}

/// Appends the writers of `server` (ACTIVE) to `writers`, noting what they read.
fn server_writers(
    world: &World,
    server: &ServerRec,
    consulted: &mut ServerKeys,
    writers: &mut Vec<Writer>,
) {
    let array = world.array_name_of_site(&server.site);
    if !world.array_up(&array) {
        return;
    }
    for attached in &server.volumes {
        let named = world
            .volumes
            .get(&attached.volume_id)
            .and_then(|v| v.array_volume.as_ref());
        consulted
            .volumes
            .push((attached.volume_id.clone(), named.cloned()));
        let Some(name) = named else {
            continue;
        };
        let key = array_key(&array, name);
        consulted.array_volumes.push(key.clone());
        let Some((slot, target)) = world.array_volumes.get_with_slot(&key) else {
            continue;
        };
        if target.destroyed {
            continue;
        }
        let mut slots = vec![slot];
        let mut targets = vec![(key, hot_blocks(target.provisioned_bytes))];
        if let Some(pod) = &target.pod {
            if !pods::accepts_writes(world, &array, pod) {
                continue;
            }
            if let Some(p) = world.pods.get(pod) {
                for m in &p.members {
                    if m.array != array && m.status == "online" && world.link_up(&array, &m.array) {
                        let mirror = array_key(&m.array, name);
                        consulted.array_volumes.push(mirror.clone());
                        if let Some((slot, v)) = world.array_volumes.get_with_slot(&mirror) {
                            slots.push(slot);
                            targets.push((mirror, hot_blocks(v.provisioned_bytes)));
                        }
                    }
                }
            }
        }
        writers.push(Writer {
            targets: targets.into(),
            slots: slots.into(),
        });
    }
}

/// The writers after a change of servers only (see [`WriterCache::only_servers_changed`]):
/// those of the servers changed since the last save are computed again, the others moved
/// over, in order (not copied: a change of one server costs no reference count per writer).
/// Also the ranks that stopped and started, as [`changed_ranks`] would find them (a server
/// whose writers came out the same keeps them), and the writers that stopped.
fn respliced(world: &mut World) -> Settled {
    // The servers changed, in write order: (site, seq, id).
    let mut changed: Vec<(String, u64, String)> = world
        .servers
        .dirty_keys()
        .map(|id| match world.servers.get(id) {
            Some(s) => (s.site.clone(), s.seq, id.clone()),
            None => world
                .writers
                .spans
                .iter()
                .find(|s| &s.server == id)
                .map_or((String::new(), 0, id.clone()), |s| {
                    (s.site.clone(), s.seq, id.clone())
                }),
        })
        .collect();
    changed.sort();
    let mut consulted = std::mem::take(&mut world.writers.consulted);
    let old_spans = std::mem::take(&mut world.writers.spans);
    let old_writers = std::mem::take(&mut world.writers.writers);
    let mut settled = Settled {
        writers: Vec::with_capacity(old_writers.len()),
        spans: Vec::with_capacity(old_spans.len()),
        ..Settled::default()
    };
    let mut old_writers = old_writers.into_iter();
    let mut old_rank = 0usize;
    let mut old_spans = old_spans.into_iter().peekable();
    for (site, seq, id) in &changed {
        // The unchanged servers before this one.
        while let Some(s) = old_spans.next_if(|s| (&s.site, s.seq) < (site, *seq)) {
            settled.writers.extend(old_writers.by_ref().take(s.len));
            old_rank += s.len;
            settled.spans.push(s);
        }
        let old: Vec<Writer> = match old_spans.next_if(|s| &s.server == id) {
            Some(s) => {
                consulted.remove(&s.keys);
                old_rank += s.len;
                old_writers.by_ref().take(s.len).collect()
            }
            None => Vec::new(),
        };
        let first = settled.writers.len();
        if let Some(server) = world.servers.get(id).filter(|s| s.status == "ACTIVE") {
            let span = server_span(world, server, &mut settled.writers);
            consulted.add(&span.keys);
            settled.spans.push(span);
        }
        if settled.writers[first..] != *old {
            let old_first = old_rank - old.len();
            settled
                .stopped
                .extend((old_first..old_rank).map(|r| r as u32));
            settled
                .started
                .extend((first..settled.writers.len()).map(|r| r as u32));
            settled.stopped_writers.extend(old);
        }
    }
    for s in old_spans {
        settled.writers.extend(old_writers.by_ref().take(s.len));
        settled.spans.push(s);
    }
    world.writers.consulted = consulted;
    settled
}

/// The writers of a new epoch, as [`settle_at`] makes them.
#[derive(Default)]
struct Settled {
    writers: Vec<Writer>,
    spans: Vec<Span>,
    /// Ranks in the previous epoch of the writers that stopped.
    stopped: Vec<u32>,
    /// Ranks in the new epoch of the writers that started.
    started: Vec<u32>,
    /// The writers that stopped, in rank order.
    stopped_writers: Vec<Writer>,
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
/// starts with the next round's writes.
pub(crate) fn settle(world: &mut World) {
    let next_round = world.meta.write_round() + 1;
    settle_at(world, next_round);
}

fn mark_targets_dirty<'a>(world: &mut World, writers: impl IntoIterator<Item = &'a Writer>) {
    for writer in writers {
        for (key, _) in writer.targets.iter() {
            world.array_volumes.mark_dirty(key);
        }
    }
}

/// Makes the epochs match the writers of `world` now; a new epoch's first writes are those of
/// round `next_round`. When writers stopped or started, their rows are marked dirty (they hold
/// every write so far in memory) so that the next save writes them, and the change is added
/// to the chain, or the chain is folded into a new first epoch.
fn settle_at(world: &mut World, next_round: u64) {
    let now = generation(world);
    let epoch = world.meta.write_epoch.is_some();
    if epoch && world.writers.current(world, &now) {
        world.writers.generation = Some(now);
        return;
    }
    let new_epoch = WriteEpoch {
        t0: next_round,
        w0: world.meta.write_seq,
    };
    let settled = if epoch && world.writers.only_servers_changed(world, &now) {
        respliced(world)
    } else {
        let (writers, spans, consulted) = compute_writers(world);
        world.writers.consulted = consulted;
        world.writers.computed += 1;
        if !epoch {
            mark_targets_dirty(world, &writers);
            world.meta.write_epoch = Some(new_epoch);
            world.meta.writer_changes.clear();
            world.writers.generation = Some(now);
            world.writers.set(writers, spans);
            return;
        }
        // A writer whose row a call changed is saved now: it starts again from here.
        let (stopped, started) = changed_ranks(&world.writers.writers, &writers, |w| {
            w.targets
                .iter()
                .any(|(key, _)| world.array_volumes.is_dirty(key))
        });
        let old = std::mem::take(&mut world.writers.writers);
        let stopped_writers = stopped.iter().map(|r| old[*r as usize].clone()).collect();
        Settled {
            writers,
            spans,
            stopped,
            started,
            stopped_writers,
        }
    };
    world.writers.generation = Some(now);
    let Settled {
        writers,
        spans,
        stopped,
        started,
        stopped_writers,
    } = settled;
    if stopped.is_empty() && started.is_empty() {
        world.writers.set(writers, spans);
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
        // Fold: every writer's row is saved, the chain starts over (the writers that went
        // on are among the new ones).
        mark_targets_dirty(world, &stopped_writers);
        mark_targets_dirty(world, &writers);
        world.meta.write_epoch = Some(new_epoch);
        world.meta.writer_changes.clear();
    } else {
        mark_targets_dirty(world, &stopped_writers);
        mark_targets_dirty(world, started.iter().map(|r| &writers[*r as usize]));
        world.meta.writer_changes.push(WriterChange {
            t0: new_epoch.t0,
            w0: new_epoch.w0,
            stopped,
            started,
        });
    }
    world.writers.set(writers, spans);
}

/// The writes of this tick when it starts a simulated second (at most one round a second: with
/// the default clock every tick does): one per writer, in order, mirrored, in memory.
pub(crate) fn write_tick(world: &mut World) {
    let second = world.now().timestamp();
    if world.meta.write_second.is_some_and(|last| second <= last) {
        return;
    }
    world.meta.write_second = Some(second);
    let round = world.meta.write_round() + 1;
    world.meta.write_round = Some(round);
    settle_at(world, round);
    apply_writes(world);
}

/// One write per writer, in rank order, to every target of the writer, reached by its slot.
fn apply_writes(world: &mut World) {
    let base = world.meta.write_seq;
    let writers = &world.writers.writers;
    world.meta.write_seq += writers.len() as u64;
    for (rank, writer) in writers.iter().enumerate() {
        // The writer at rank r writes `base + r + 1`.
        let seq = base + rank as u64 + 1;
        for (slot, (key, _)) in writer.slots.iter().zip(writer.targets.iter()) {
            let row = match world.array_volumes.get_slot_mut_untracked(*slot) {
                Some(row) => row,
                None => {
                    // The writers change before a row they write is gone (`Writer::slots`).
                    debug_assert!(false, "the slot of {key} is stale");
                    match world.array_volumes.get_mut_untracked(key) {
                        Some(row) => row,
                        None => continue,
                    }
                }
            };
            record_write(row, seq);
        }
    }
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

/// Brings a freshly loaded world's written volumes up to its last round: the saved rows hold the
/// writes up to when each writer last started (or its row was last saved), the epochs say
/// what happened since.
pub(crate) fn replay(world: &mut World) {
    let Some(base) = world.meta.write_epoch else {
        return;
    };
    let (writers, spans, consulted) = compute_writers(world);
    let tick = world.meta.write_round();
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
            for (key, hot) in writer.targets.iter() {
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
        consulted,
        writers,
        spans,
        computed: 1,
    };
}

#[cfg(test)]
mod tests;
