//! What a tick has to do, indexed by when (in memory only), so that a tick costs the work that
//! is due rather than a scan of every server, volume, snapshot and group.
//!
//! Each index maps the key of a row to the time its work falls due (a tick, or a time in
//! milliseconds) and keeps the keys ordered by it. The tables it follows remember which keys
//! changed or were loaded ([`Table::take_touched`]); [`DueIndexes::refresh`] recomputes those
//! keys only. A step refreshes before it asks, so it sees exactly the rows a scan with the same
//! predicate would find at that moment, in the same (key) order.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::records::{
    ArrayVolumeRec, CinderSnapshotRec, PgRec, PgSnapshotRec, ServerRec, ServerTask, VolumeRec,
    VolumeTask,
};
use super::table::Table;
use super::World;
use crate::tick::ERADICATION_DELAY_SECS;

/// Keys of one table with the time their work falls due.
#[derive(Debug, Clone, Default)]
pub(crate) struct DueIndex {
    by_key: HashMap<String, i64>,
    queue: BTreeSet<(i64, String)>,
}

impl DueIndex {
    fn set(&mut self, key: String, due: Option<i64>) {
        let old = match due {
            Some(due) => {
                let old = self.by_key.insert(key.clone(), due);
                if old == Some(due) {
                    return;
                }
                self.queue.insert((due, key.clone()));
                old
            }
            None => self.by_key.remove(&key),
        };
        if let Some(old) = old {
            self.queue.remove(&(old, key));
        }
    }

    /// Keys due at or before `at`, in key order (the order of a scan of the table).
    pub(crate) fn due(&self, at: i64) -> Vec<String> {
        let mut keys: Vec<String> = self
            .queue
            .range(..(at.saturating_add(1), String::new()))
            .map(|(_, key)| key.clone())
            .collect();
        keys.sort_unstable();
        keys
    }
}

/// When the work of a row falls due, `None` when it has none.
type Rule<T> = fn(&T) -> Option<i64>;

/// Refreshes `indexes` from the keys of `table` that changed, each with its own rule.
fn refresh_table<T>(table: &mut Table<T>, indexes: &mut [(&mut DueIndex, Rule<T>)]) {
    let mut touched = table.take_touched();
    if touched.is_empty() {
        return;
    }
    touched.sort_unstable();
    touched.dedup();
    for key in touched {
        let row = table.get(&key);
        for (index, rule) in indexes.iter_mut() {
            index.set(key.clone(), row.and_then(*rule));
        }
    }
}

/// The work of a tick, by kind. Ticks are [`super::Meta::tick`]; times are milliseconds since
/// the Unix epoch.
#[derive(Debug, Clone, Default)]
pub(crate) struct DueIndexes {
    /// Servers by the tick their task ends.
    pub servers: DueIndex,
    /// Volumes by the tick their task ends.
    pub volumes: DueIndex,
    /// Cinder snapshots by the tick they finish creating or deleting.
    pub cinder_snapshots: DueIndex,
    /// Replica snapshots whose transfer is in flight (always due).
    pub transfers: DueIndex,
    /// Source snapshots still to be sent to a target (always due).
    pub pending_targets: DueIndex,
    /// Replicating source groups by the time their schedule fires next.
    pub schedules: DueIndex,
    /// Destroyed array volumes by the time they are eradicated.
    pub array_volume_eradication: DueIndex,
    /// Destroyed protection groups by the time they are eradicated.
    pub group_eradication: DueIndex,
    /// Destroyed pg snapshots by the time they are eradicated.
    pub pg_snapshot_eradication: DueIndex,
}

fn eradication_due(destroyed: bool, at: Option<DateTime<Utc>>) -> Option<i64> {
    match (destroyed, at) {
        (true, Some(at)) => {
            Some((at + Duration::seconds(ERADICATION_DELAY_SECS)).timestamp_millis())
        }
        _ => None,
    }
}

fn server_due(s: &ServerRec) -> Option<i64> {
    match &s.task {
        Some(ServerTask::Spawning { until_tick, .. })
        | Some(ServerTask::PoweringOff { until_tick })
        | Some(ServerTask::PoweringOn { until_tick }) => Some(tick(*until_tick)),
        None => None,
    }
}

fn volume_due(v: &VolumeRec) -> Option<i64> {
    match &v.task {
        Some(VolumeTask::Manage { until_tick, .. })
        | Some(VolumeTask::Unmanage { until_tick })
        | Some(VolumeTask::Delete { until_tick })
        | Some(VolumeTask::Create { until_tick }) => Some(tick(*until_tick)),
        None => None,
    }
}

fn cinder_snapshot_due(s: &CinderSnapshotRec) -> Option<i64> {
    s.until_tick.map(tick)
}

fn transfer_due(s: &PgSnapshotRec) -> Option<i64> {
    s.transfer
        .as_ref()
        .is_some_and(|t| t.completed.is_none())
        .then_some(i64::MIN)
}

fn pending_targets_due(s: &PgSnapshotRec) -> Option<i64> {
    (!s.pending_targets.is_empty()).then_some(i64::MIN)
}

fn pg_snapshot_eradication_due(s: &PgSnapshotRec) -> Option<i64> {
    eradication_due(s.destroyed, s.destroyed_at)
}

fn schedule_due(g: &PgRec) -> Option<i64> {
    let replicating =
        !g.replica && !g.destroyed && g.replication_enabled && g.replication_frequency_secs > 0;
    replicating.then(|| match g.last_scheduled {
        None => i64::MIN,
        Some(last) => last.timestamp_millis().saturating_add(
            i64::try_from(g.replication_frequency_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000),
        ),
    })
}

fn group_eradication_due(g: &PgRec) -> Option<i64> {
    eradication_due(g.destroyed, g.destroyed_at)
}

fn array_volume_eradication_due(v: &ArrayVolumeRec) -> Option<i64> {
    eradication_due(v.destroyed, v.destroyed_at)
}

impl DueIndexes {
    /// Brings every index up to date with the rows changed since the last refresh.
    pub(crate) fn refresh(world: &mut World) {
        let due = &mut world.due;
        refresh_table(&mut world.servers, &mut [(&mut due.servers, server_due)]);
        refresh_table(&mut world.volumes, &mut [(&mut due.volumes, volume_due)]);
        refresh_table(
            &mut world.cinder_snapshots,
            &mut [(&mut due.cinder_snapshots, cinder_snapshot_due)],
        );
        refresh_table(
            &mut world.pg_snapshots,
            &mut [
                (&mut due.transfers, transfer_due),
                (&mut due.pending_targets, pending_targets_due),
                (
                    &mut due.pg_snapshot_eradication,
                    pg_snapshot_eradication_due,
                ),
            ],
        );
        refresh_table(
            &mut world.protection_groups,
            &mut [
                (&mut due.schedules, schedule_due),
                (&mut due.group_eradication, group_eradication_due),
            ],
        );
        refresh_table(
            &mut world.array_volumes,
            &mut [(
                &mut due.array_volume_eradication,
                array_volume_eradication_due,
            )],
        );
    }

    /// Whether every index holds exactly what a scan of its table finds (after a refresh):
    /// checked at the end of every tick in debug builds, so every test that ticks checks it.
    pub(crate) fn consistent(world: &mut World) -> bool {
        fn scan<T>(table: &Table<T>, rule: Rule<T>) -> HashMap<String, i64> {
            table
                .keys_where(|_| true)
                .into_iter()
                .filter_map(|key| table.get(&key).and_then(rule).map(|due| (key, due)))
                .collect()
        }
        DueIndexes::refresh(world);
        let due = &world.due;
        [
            (&due.servers, scan(&world.servers, server_due)),
            (&due.volumes, scan(&world.volumes, volume_due)),
            (
                &due.cinder_snapshots,
                scan(&world.cinder_snapshots, cinder_snapshot_due),
            ),
            (&due.transfers, scan(&world.pg_snapshots, transfer_due)),
            (
                &due.pending_targets,
                scan(&world.pg_snapshots, pending_targets_due),
            ),
            (
                &due.pg_snapshot_eradication,
                scan(&world.pg_snapshots, pg_snapshot_eradication_due),
            ),
            (&due.schedules, scan(&world.protection_groups, schedule_due)),
            (
                &due.group_eradication,
                scan(&world.protection_groups, group_eradication_due),
            ),
            (
                &due.array_volume_eradication,
                scan(&world.array_volumes, array_volume_eradication_due),
            ),
        ]
        .into_iter()
        .all(|(index, scanned)| index.by_key == scanned && index.queue.len() == scanned.len())
    }
}

fn tick(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}
