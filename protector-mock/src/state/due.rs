//! What a tick has to do, indexed by when (in memory only), so that a tick costs the work that
//! is due rather than a scan of every server, volume, snapshot and group.
//!
//! Each index maps the key of a row to the time its work falls due (a tick, or a time in
//! milliseconds) and keeps the keys ordered by it. The tables it follows remember which keys
//! changed or were loaded ([`Table::take_touched`]); [`DueIndexes::refresh`] recomputes those
//! keys only. A step refreshes before it asks, so it sees exactly the rows a scan with the same
//! predicate would find at that moment, in the same (key) order.
//!
//! One index here is not about time: [`Usage`], what runs where, follows the servers the same
//! way so that placing a server does not scan every server of both sites.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// Where a server's capacity counts: the hypervisor it runs on, or, without one, the zone on
/// whose first hypervisor it counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Place {
    Host(String),
    Zone(String),
}

/// A server that uses capacity: its site, where it counts and its flavor.
type Placement = (String, Place, String);

/// What runs where: the servers that use capacity (every one not `DELETED`), counted by site,
/// place and flavor.
#[derive(Debug, Clone, Default)]
pub(crate) struct Usage {
    by_key: HashMap<String, Placement>,
    counts: BTreeMap<Placement, u64>,
}

impl Usage {
    fn placement(server: &ServerRec) -> Option<Placement> {
        (server.status != "DELETED").then(|| {
            let place = match &server.host {
                Some(host) => Place::Host(host.clone()),
                None => Place::Zone(server.availability_zone.clone()),
            };
            (server.site.clone(), place, server.flavor_id.clone())
        })
    }

    fn set(&mut self, key: String, server: Option<&ServerRec>) {
        let old = match server.and_then(Usage::placement) {
            Some(new) => {
                if self.by_key.get(&key) == Some(&new) {
                    return;
                }
                *self.counts.entry(new.clone()).or_default() += 1;
                self.by_key.insert(key, new)
            }
            None => self.by_key.remove(&key),
        };
        if let Some(old) = old {
            if let Some(count) = self.counts.get_mut(&old) {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(&old);
                }
            }
        }
    }

    /// The servers of `site` that use capacity: (place, flavor id, how many).
    pub(crate) fn of_site<'a>(
        &'a self,
        site: &str,
    ) -> impl Iterator<Item = (&'a Place, &'a str, u64)> + 'a {
        let site = site.to_string();
        let from = (site.clone(), Place::Host(String::new()), String::new());
        self.counts
            .range(from..)
            .take_while(move |((s, _, _), _)| *s == site)
            .map(|((_, place, flavor), count)| (place, flavor.as_str(), *count))
    }
}

/// When the work of a row falls due, `None` when it has none.
type Rule<T> = fn(&T) -> Option<i64>;

/// Refreshes `indexes` from the keys of `table` that changed, each with its own rule, and
/// gives those keys to `also`.
fn refresh_table<T>(
    table: &mut Table<T>,
    indexes: &mut [(&mut DueIndex, Rule<T>)],
    mut also: impl FnMut(&str, Option<&T>),
) {
    let mut touched = table.take_touched();
    if touched.is_empty() {
        return;
    }
    touched.sort_unstable();
    touched.dedup();
    for key in touched {
        let row = table.get(&key);
        also(&key, row);
        for (index, rule) in indexes.iter_mut() {
            index.set(key.clone(), row.and_then(*rule));
        }
    }
}

fn nothing<T>(_: &str, _: Option<&T>) {}

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
    /// What runs where (not a time: placement reads it).
    pub usage: Usage,
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
        let usage = &mut due.usage;
        refresh_table(
            &mut world.servers,
            &mut [(&mut due.servers, server_due)],
            |key, row| usage.set(key.to_string(), row),
        );
        refresh_table(
            &mut world.volumes,
            &mut [(&mut due.volumes, volume_due)],
            nothing,
        );
        refresh_table(
            &mut world.cinder_snapshots,
            &mut [(&mut due.cinder_snapshots, cinder_snapshot_due)],
            nothing,
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
            nothing,
        );
        refresh_table(
            &mut world.protection_groups,
            &mut [
                (&mut due.schedules, schedule_due),
                (&mut due.group_eradication, group_eradication_due),
            ],
            nothing,
        );
        refresh_table(
            &mut world.array_volumes,
            &mut [(
                &mut due.array_volume_eradication,
                array_volume_eradication_due,
            )],
            nothing,
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
            && usage_consistent(&world.servers, &due.usage)
    }
}

/// Whether `usage` holds exactly the servers a scan finds, counted right.
fn usage_consistent(servers: &Table<ServerRec>, usage: &Usage) -> bool {
    let mut by_key = HashMap::new();
    let mut counts: BTreeMap<Placement, u64> = BTreeMap::new();
    for key in servers.keys_where(|_| true) {
        if let Some(placement) = servers.get(&key).and_then(Usage::placement) {
            *counts.entry(placement.clone()).or_default() += 1;
            by_key.insert(key, placement);
        }
    }
    usage.by_key == by_key && usage.counts == counts
}

fn tick(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}
