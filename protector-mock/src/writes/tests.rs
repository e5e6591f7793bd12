//! The guests' writes: the epoch formula, replay, the writers kept up to date.

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
    // Every seeded volume (the sync ones on both arrays) was compared.
    let (compared, _) = assert_same_data(&written, &loaded, "replayed");
    assert!(compared >= 9);
}

/// A tick's writes reaching the rows by their slots equal those by a search per target
/// key, through a stopped writer, pod mirrors and rows removed and added around them.
#[test]
fn writes_by_slot_equal_writes_by_key() {
    let mut world = crate::seed::default_world(crate::state::DEFAULT_SEED);
    set_status(&mut world, "web-server-1", "SHUTOFF");
    settle(&mut world);
    assert!(world.writers.writers.iter().any(|w| w.targets.len() > 1));
    // Another row goes and one comes: the writers' slots stay theirs.
    let stopped = targets_of(&world, "web-server-1")[0].clone();
    let mut row = world.array_volumes.remove(&stopped).unwrap();
    row.name = "moved".into();
    world
        .array_volumes
        .insert(array_key(&row.array, &row.name), row);
    settle(&mut world);
    let mut by_key = world.clone();
    for _ in 0..5 {
        apply_writes(&mut world);
        let base = by_key.meta.write_seq;
        by_key.meta.write_seq += by_key.writers.writers.len() as u64;
        for (rank, writer) in by_key.writers.writers.clone().iter().enumerate() {
            for (key, _) in writer.targets.iter() {
                let v = by_key.array_volumes.get_mut_untracked(key).unwrap();
                record_write(v, base + rank as u64 + 1);
            }
        }
    }
    assert_eq!(world.meta.write_seq, by_key.meta.write_seq);
    let (_, written) = assert_same_data(&world, &by_key, "by key");
    assert!(written >= 4, "only {written} volumes were written");
}

/// A change to a row the writers were not computed from leaves them as they are without
/// computing them again; a change to one of their targets is seen.
#[test]
fn only_a_change_to_what_the_writers_read_recomputes_them() {
    use crate::state::table::PersistTable;
    let mut world = crate::seed::default_world(crate::state::DEFAULT_SEED);
    // A stopped server's volumes are no writer's.
    set_status(&mut world, "db-server-1", "SHUTOFF");
    settle(&mut world);
    world.array_volumes.drain_dirty().unwrap();
    let computed = world.writers.computed;
    let writers = world.writers.writers.clone();
    let changes = world.meta.writer_changes.len();
    let stopped = targets_of(&world, "db-server-1").remove(0);
    world
        .array_volumes
        .get_mut(&stopped)
        .unwrap()
        .provisioned_bytes += 1 << 30;
    settle(&mut world);
    assert_eq!(
        world.writers.computed, computed,
        "an unrelated row recomputed them"
    );
    assert_eq!(world.writers.writers, writers);
    assert_eq!(world.meta.writer_changes.len(), changes);
    world.array_volumes.drain_dirty().unwrap();

    // A running server's volume changed in what does not name its array volume.
    let id = server_id(&world, "web-server-1");
    let volume = world.servers.get(&id).unwrap().volumes[0].volume_id.clone();
    world
        .volumes
        .get_mut(&volume)
        .unwrap()
        .name
        .push_str("-renamed");
    settle(&mut world);
    assert_eq!(
        world.writers.computed, computed,
        "a volume's name recomputed them"
    );
    assert_eq!(world.writers.writers, writers);
    world.volumes.drain_dirty().unwrap();

    let target = targets_of(&world, "web-server-1").remove(0);
    world.array_volumes.get_mut(&target).unwrap().destroyed = true;
    settle(&mut world);
    assert_eq!(world.writers.computed, computed + 1);
    assert!(world.writers.writers.len() < writers.len());
    assert_eq!(world.meta.writer_changes.len(), changes + 1);
    world.array_volumes.drain_dirty().unwrap();

    // A running server's volume that names another array volume (none) is seen.
    let left = world.writers.writers.len();
    let id = server_id(&world, "web-server-2");
    let volume = world.servers.get(&id).unwrap().volumes[0].volume_id.clone();
    world.volumes.get_mut(&volume).unwrap().array_volume = None;
    settle(&mut world);
    assert_eq!(world.writers.computed, computed + 2);
    assert!(world.writers.writers.len() < left);
}

/// Writers kept up to date server by server equal those computed from scratch, and the
/// ranks recorded as stopped and started are those a comparison of the two lists finds,
/// through stops, starts and a server deleted.
#[test]
fn writers_respliced_per_server_equal_a_full_computation() {
    use crate::state::table::PersistTable;
    let mut world = crate::seed::default_world(crate::state::DEFAULT_SEED);
    let save = |world: &mut World| {
        world.servers.drain_dirty().unwrap();
        world.array_volumes.drain_dirty().unwrap();
    };
    settle(&mut world);
    save(&mut world);
    let computed = world.writers.computed;
    let steps = [
        ("web-server-1", Some("SHUTOFF")),
        ("db-server-1", Some("SHUTOFF")),
        ("web-server-1", Some("ACTIVE")),
        ("legacy-app", Some("SHUTOFF")),
        ("db-server-1", Some("ACTIVE")),
        ("web-server-1", None),
    ];
    for (name, status) in steps {
        let old = world.writers.writers.clone();
        match status {
            Some(status) => set_status(&mut world, name, status),
            None => {
                let id = server_id(&world, name);
                world.servers.remove(&id);
            }
        }
        let changes = world.meta.writer_changes.len();
        settle(&mut world);
        let (full, _, consulted) = compute_writers(&world);
        assert_eq!(world.writers.writers, full, "after {name} {status:?}");
        assert_eq!(
            world.writers.consulted, consulted,
            "after {name} {status:?}"
        );
        let (stopped, started) = changed_ranks(&old, &full, |_| false);
        assert!(!stopped.is_empty() || !started.is_empty());
        assert_eq!(world.meta.writer_changes.len(), changes + 1);
        let last = world.meta.writer_changes.last().unwrap();
        assert_eq!((&last.stopped, &last.started), (&stopped, &started));
        save(&mut world);
    }
    assert_eq!(world.writers.computed, computed, "computed from scratch");
}

/// Asserts that every array volume of `expected` holds the same data in `actual` (its
/// fingerprint and written blocks); how many were compared, and how many of them were
/// written.
fn assert_same_data(expected: &World, actual: &World, what: &str) -> (usize, usize) {
    let (mut compared, mut written) = (0, 0);
    for v in expected.array_volumes.values() {
        let other = actual
            .array_volumes
            .get(&array_key(&v.array, &v.name))
            .unwrap_or_else(|| panic!("{what}: {} is missing", v.name));
        assert_eq!(other.fingerprint, v.fingerprint, "{what}: {}", v.name);
        assert_eq!(other.written_blocks, v.written_blocks, "{what}: {}", v.name);
        compared += 1;
        written += usize::from(!v.written_blocks.is_empty());
    }
    (compared, written)
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
        assert_same_data(world, &loaded, &format!("tick {}", world.meta.tick));
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

/// Rows the writers only marked for saving (a server started: its writers' rows are saved
/// from then on) are no change of what they read: a call that then adds an array volume
/// nobody reads keeps the writers without computing them again (at 1,000 VMs every volume
/// copy after a boot did). A tracked change to such a row is still seen.
#[test]
fn rows_the_writers_marked_for_saving_are_no_change_of_what_they_read() {
    use crate::state::table::PersistTable;
    let mut world = crate::seed::default_world(crate::state::DEFAULT_SEED);
    set_status(&mut world, "db-server-1", "SHUTOFF");
    settle(&mut world);
    world.servers.drain_dirty().unwrap();
    world.array_volumes.drain_dirty().unwrap();
    let computed = world.writers.computed;

    // The server starts: its writers start, their rows marked for saving.
    set_status(&mut world, "db-server-1", "ACTIVE");
    settle(&mut world);
    let started = targets_of(&world, "db-server-1");
    assert!(!started.is_empty());
    assert!(started.iter().all(|k| world.array_volumes.is_dirty(k)));
    assert_eq!(world.array_volumes.changed_keys().count(), 0);

    // Before the next save, a new array volume (a copy) nobody reads.
    let mut copy = world.array_volumes.get(&started[0]).unwrap().clone();
    copy.name = "protector-copy-1".into();
    world
        .array_volumes
        .insert(array_key(&copy.array, &copy.name), copy);
    settle(&mut world);
    assert_eq!(
        world.writers.computed, computed,
        "a row the writers marked themselves counted as a change"
    );

    // A tracked change to a marked row they read is a change.
    world.array_volumes.get_mut(&started[0]).unwrap().destroyed = true;
    settle(&mut world);
    assert_eq!(world.writers.computed, computed + 1);
}
