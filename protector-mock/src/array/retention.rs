//! Time-based retention of protection-group snapshots, as Purity applies it.
//!
//! A policy `{all_for_sec, per_day, days}` keeps every retained snapshot (one taken by the
//! replication schedule or with `apply_retention`) for `all_for_sec` seconds after it was
//! taken; past that it keeps `per_day` snapshots a day for `days` more days, and eradicates
//! the rest. A source group's snapshots on its own array follow its `source_retention`; their
//! replicas on a target follow the source group's `target_retention`; a group without one
//! follows Purity's default ([`DEFAULT_RETENTION`]). Snapshots taken without retention are
//! kept until someone destroys them.
//!
//! Thinning cuts each UTC day into `per_day` equal periods and keeps, of the snapshots past
//! `all_for_sec`, the oldest of each period. The choice is stable: a snapshot kept once stays
//! until it passes the `days` horizon, so thinning never runs twice over the same day.
//!
//! Retention runs for a group whenever it takes or receives a retained snapshot, and for
//! every group once a simulated minute ([`RETENTION_SWEEP_TICKS`]) so that snapshots age out
//! while none arrive. An array that is down prunes nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::snapshots::eradicate_snapshot_internal;
use crate::state::records::{array_key, PgRec, PgSnapshotRec, RetentionRec};
use crate::state::World;

/// Purity's retention of a new protection group, on its source and on its targets alike.
pub(crate) const DEFAULT_RETENTION: RetentionRec = RetentionRec {
    all_for_sec: 86_400,
    per_day: 4,
    days: 7,
};

/// Ticks (simulated seconds) between two retention sweeps over every group.
pub(crate) const RETENTION_SWEEP_TICKS: u64 = 60;

const DAY_SECS: u64 = 86_400;

/// The policy of group `group` as named on `array`: a source group's `source_retention`, a
/// replica's source group's `target_retention`, Purity's default when unset (or when the
/// source group is gone).
pub(crate) fn policy(world: &World, array: &str, group: &str) -> RetentionRec {
    let Some(g) = world.protection_groups.get(&array_key(array, group)) else {
        return DEFAULT_RETENTION;
    };
    if !g.replica {
        return g.source_retention.unwrap_or(DEFAULT_RETENTION);
    }
    let source_name = g.name.split_once(':').map_or("", |(_, name)| name);
    world
        .protection_groups
        .get(&array_key(&g.source, source_name))
        .and_then(|source| source.target_retention)
        .unwrap_or(DEFAULT_RETENTION)
}

/// The `(source_retention, target_retention)` a group shows over REST: its own, or for a
/// replica its source group's (what governs it), Purity's default where unset.
pub(crate) fn shown(world: &World, g: &PgRec) -> (RetentionRec, RetentionRec) {
    let owner = if g.replica {
        let source_name = g.name.split_once(':').map_or("", |(_, name)| name);
        world
            .protection_groups
            .get(&array_key(&g.source, source_name))
            .unwrap_or(g)
    } else {
        g
    };
    (
        owner.source_retention.unwrap_or(DEFAULT_RETENTION),
        owner.target_retention.unwrap_or(DEFAULT_RETENTION),
    )
}

/// A retained live snapshot as retention sees it.
struct Candidate {
    created: DateTime<Utc>,
    seq: u64,
    name: String,
}

fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The names of the snapshots `policy` eradicates at `now`, out of one group's retained live
/// snapshots on one array.
fn expired(policy: RetentionRec, now: DateTime<Utc>, mut snaps: Vec<Candidate>) -> Vec<String> {
    snaps.sort_by_key(|c| (c.created, c.seq));
    let all_for = seconds(policy.all_for_sec);
    let horizon = all_for.saturating_add(seconds(policy.days.saturating_mul(DAY_SECS)));
    // (day, period of the day) of the snapshots kept past `all_for_sec`.
    let mut kept_periods: BTreeSet<(i64, u128)> = BTreeSet::new();
    let mut out = Vec::new();
    for c in snaps {
        let age = (now - c.created).num_seconds();
        if age <= all_for {
            continue;
        }
        let stamp = c.created.timestamp();
        let day = stamp.div_euclid(DAY_SECS as i64);
        let second_of_day = stamp.rem_euclid(DAY_SECS as i64) as u128;
        let period = second_of_day * u128::from(policy.per_day) / u128::from(DAY_SECS);
        let keep = age <= horizon && policy.per_day > 0 && kept_periods.insert((day, period));
        if !keep {
            out.push(c.name);
        }
    }
    out
}

fn candidate(s: &PgSnapshotRec) -> Candidate {
    Candidate {
        created: s.created,
        seq: s.seq,
        name: s.name.clone(),
    }
}

/// Applies its policy to the retained snapshots of group `group` (as named on `array`).
pub(crate) fn apply_retention(world: &mut World, array: &str, group: &str) {
    // Keys are `array/group.N`: one range of the table, not a scan of every snapshot.
    let prefix = format!("{}.", array_key(array, group));
    let snaps: Vec<Candidate> = world
        .pg_snapshots
        .with_prefix(&prefix)
        .map(|(_, s)| s)
        .filter(|s| s.array == array && s.group == group && s.retained && !s.destroyed)
        .map(candidate)
        .collect();
    if snaps.is_empty() {
        return;
    }
    let policy = policy(world, array, group);
    for name in expired(policy, world.now(), snaps) {
        eradicate_snapshot_internal(world, array, &name);
    }
}

/// Applies retention to every group that holds a retained snapshot older than its policy's
/// `all_for_sec`, on the arrays that are up.
pub(crate) fn retention_sweep(world: &mut World) {
    let now = world.now();
    let mut oldest: BTreeMap<(&str, &str), DateTime<Utc>> = BTreeMap::new();
    for s in world.pg_snapshots.values() {
        if s.retained && !s.destroyed {
            oldest
                .entry((s.array.as_str(), s.group.as_str()))
                .and_modify(|t| *t = (*t).min(s.created))
                .or_insert(s.created);
        }
    }
    let due: Vec<(String, String)> = oldest
        .into_iter()
        .filter(|((array, group), created)| {
            world.array_up(array)
                && (now - *created).num_seconds() > seconds(policy(world, array, group).all_for_sec)
        })
        .map(|((array, group), _)| (array.to_string(), group.to_string()))
        .collect();
    for (array, group) in due {
        apply_retention(world, &array, &group);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn at(start: DateTime<Utc>, secs: i64, n: u64) -> Candidate {
        Candidate {
            created: start + Duration::seconds(secs),
            seq: n,
            name: format!("pg.{n}"),
        }
    }

    fn midnight() -> DateTime<Utc> {
        DateTime::from_timestamp(20_000 * DAY_SECS as i64, 0).unwrap()
    }

    #[test]
    fn everything_younger_than_all_for_sec_is_kept() {
        let start = midnight();
        let policy = RetentionRec {
            all_for_sec: 3600,
            per_day: 1,
            days: 1,
        };
        // One a minute for an hour, judged at the hour: none is past all_for_sec.
        let snaps = (0..=60).map(|i| at(start, i * 60, i as u64)).collect();
        assert!(expired(policy, start + Duration::seconds(3600), snaps).is_empty());
    }

    #[test]
    fn past_all_for_sec_the_oldest_of_each_period_is_kept_until_the_horizon() {
        let start = midnight();
        let policy = RetentionRec {
            all_for_sec: 3600,
            per_day: 4,
            days: 2,
        };
        // One an hour for three days and a half, judged at the end.
        let snaps: Vec<Candidate> = (0..84).map(|h| at(start, h * 3600, h as u64)).collect();
        let now = start + Duration::seconds(84 * 3600);
        let gone: BTreeSet<String> = expired(policy, now, snaps).into_iter().collect();
        let kept: Vec<u64> = (0..84)
            .filter(|h| !gone.contains(&format!("pg.{h}")))
            .collect();
        // Within the hour: pg.83 (age 1 h). Past it, up to 2 days + 1 h old (hours 35…82):
        // the first of each 6-hour period (hours 36, 42, … 78), and pg.35 alone in the period
        // of hours 30…35 as the only one of it still inside the horizon.
        let mut expected: Vec<u64> = vec![35];
        expected.extend((36..=78).step_by(6));
        expected.push(83);
        assert_eq!(kept, expected);
    }

    #[test]
    fn no_per_day_or_no_days_keeps_only_the_all_for_window() {
        let start = midnight();
        for policy in [
            RetentionRec {
                all_for_sec: 600,
                per_day: 0,
                days: 7,
            },
            RetentionRec {
                all_for_sec: 600,
                per_day: 4,
                days: 0,
            },
        ] {
            let snaps = (0..10).map(|i| at(start, i * 300, i as u64)).collect();
            let now = start + Duration::seconds(9 * 300);
            let gone = expired(policy, now, snaps);
            assert_eq!(
                gone,
                (0..7).map(|i| format!("pg.{i}")).collect::<Vec<_>>(),
                "{policy:?}"
            );
        }
    }
}
