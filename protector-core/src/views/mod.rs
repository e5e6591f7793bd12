//! What each resource looks like to a person: which fields, in which order, under which
//! headings, with which values. Field names and order follow the spec's tables.
//!
//! A view turns model values into plain data — a [`Record`] for one resource (the Field/Value
//! table of `show`) or a [`List`] for several — and never prints: the CLI's printer renders
//! them as table/json/yaml/value, and the Python module hands the same columns and values to
//! the OpenStack client plugin, so the two front-ends cannot drift apart.

mod data;
mod groups;
mod hooks;
mod operations;
mod overview;
mod recovery_points;
mod sites;
mod sync;
mod tenants;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

pub use data::{Column, List, Record};
pub use groups::{
    consistency_group, group, groups, mappings, member, member_added, members, policy,
    GROUP_SHOW_SPEC_FIELDS,
};
pub use hooks::{hook, hooks};
pub use operations::{
    group_results, operation, operation_id, operation_with_results, operations,
    OPERATION_SHOW_SPEC_FIELDS,
};
pub use overview::{group_overviews, lag, member_candidates};
pub use recovery_points::{failover_committed, recovery_points, recovery_points_heading};
pub use sites::{site, site_validation, sites, volume_types};
pub use sync::{sync_force, sync_log, sync_status};
pub use tenants::{tenant_mapping, tenant_mappings};

/// A timestamp as every view shows it: `2025-06-01T09:00:00Z`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// How long before `now` `t` was: "5 seconds ago", "4 hours ago"; "just now" for a `t` after
/// `now` (clocks of two sites disagree).
pub fn ago(t: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let secs = (*now - *t).num_seconds();
    if secs < 0 {
        return "just now".to_string();
    }
    let (n, unit) = match secs {
        0..=59 => (secs, "second"),
        60..=3599 => (secs / 60, "minute"),
        3600..=86_399 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// A timestamp, or `null`.
fn opt_time(t: Option<&DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::from(time(t)))
}

/// A string, or `null`.
fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_whole_seconds_in_utc() {
        let t = Utc.with_ymd_and_hms(2025, 6, 1, 9, 0, 0).unwrap()
            + chrono::Duration::milliseconds(750);
        assert_eq!(time(&t), "2025-06-01T09:00:00Z");
        assert_eq!(opt_time(None), Value::Null);
    }

    #[test]
    fn ago_picks_the_largest_whole_unit() {
        let now = Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap();
        let before = |secs: i64| ago(&(now - chrono::Duration::seconds(secs)), &now);
        assert_eq!(before(1), "1 second ago");
        assert_eq!(before(59), "59 seconds ago");
        assert_eq!(before(60), "1 minute ago");
        assert_eq!(before(4 * 3600 + 59), "4 hours ago");
        assert_eq!(before(2 * 86_400), "2 days ago");
        assert_eq!(before(-5), "just now");
    }
}
