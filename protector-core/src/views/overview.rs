//! The dashboard's lists: protection groups with their health at a glance, and the instances
//! that could join a group.

use serde_json::{json, Value};

use super::operation_id;
use super::{Column, List};
use crate::engine::{GroupOverview, MemberCandidate};

/// A replication lag as a person reads it: `42s`, `5m 03s`, `2h 07m`, `3d 4h`.
pub fn lag(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// The Protection Groups table (Horizon): one row per group with members, replication lag
/// against the RPO, metadata sync and the last operation (`failover completed`,
/// `failback running 40%`).
pub fn group_overviews(overviews: &[GroupOverview]) -> List {
    let mut list = List::new(vec![
        Column::new("id", "ID"),
        Column::new("name", "Name"),
        Column::new("status", "Status"),
        Column::new("replication_type", "Replication"),
        Column::new("primary_site", "Primary Site"),
        Column::new("current_primary_site", "Current Site"),
        Column::new("member_count", "Members"),
        Column::new("replication_lag", "Replication Lag"),
        Column::new("replication_status", "RPO State"),
        Column::new("sync_status", "Metadata Sync"),
        Column::new("last_operation", "Last Operation"),
    ]);
    for o in overviews {
        let g = &o.group;
        list.push(vec![
            json!(g.id.to_string()),
            json!(g.name),
            json!(g.status.as_str()),
            json!(g.replication_type.as_str()),
            json!(g.primary_site),
            json!(g.current_primary_site),
            json!(o.member_count),
            o.replication_lag_seconds
                .map_or(Value::Null, |s| Value::from(lag(s))),
            json!(o.replication_status),
            json!(o.sync_status.as_str()),
            o.last_operation.as_ref().map_or(Value::Null, |op| {
                let running = op.completed_at.is_none();
                Value::from(if running {
                    format!(
                        "{} {} {}% ({})",
                        op.operation_type.as_str(),
                        op.status.as_str(),
                        op.progress,
                        operation_id(&op.id)
                    )
                } else {
                    format!(
                        "{} {} ({})",
                        op.operation_type.as_str(),
                        op.status.as_str(),
                        operation_id(&op.id)
                    )
                })
            }),
        ]);
    }
    list
}

/// The instance picker of a group: eligible instances first, each by name.
pub fn member_candidates(candidates: &[MemberCandidate]) -> List {
    let mut candidates: Vec<&MemberCandidate> = candidates.iter().collect();
    candidates.sort_by(|a, b| {
        (!a.eligible, &a.name, &a.instance_id).cmp(&(!b.eligible, &b.name, &b.instance_id))
    });
    let mut list = List::new(vec![
        Column::new("instance_id", "Instance ID"),
        Column::new("name", "Name"),
        Column::new("status", "Status"),
        Column::new("eligible", "Eligible"),
        Column::new("reason", "Reason"),
    ]);
    for c in candidates {
        list.push(vec![
            json!(c.instance_id),
            json!(c.name),
            json!(c.status),
            json!(c.eligible),
            c.reason.as_deref().map_or(Value::Null, Value::from),
        ]);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_read_in_the_largest_units() {
        assert_eq!(lag(-3), "0s");
        assert_eq!(lag(42), "42s");
        assert_eq!(lag(303), "5m 03s");
        assert_eq!(lag(7620), "2h 07m");
        assert_eq!(lag(3 * 86_400 + 4 * 3600 + 59), "3d 4h");
    }

    #[test]
    fn eligible_candidates_come_first_by_name() {
        let c = |id: &str, name: &str, reason: Option<&str>| MemberCandidate {
            instance_id: id.to_string(),
            name: name.to_string(),
            status: "ACTIVE".to_string(),
            eligible: reason.is_none(),
            reason: reason.map(str::to_string),
        };
        let list = member_candidates(&[
            c("3", "alpha", Some("no volumes")),
            c("2", "web", None),
            c("1", "db", None),
        ]);
        let rows: Vec<(&str, bool)> = list
            .rows()
            .iter()
            .map(|r| (r[1].as_str().unwrap(), r[3].as_bool().unwrap()))
            .collect();
        assert_eq!(rows, [("db", true), ("web", true), ("alpha", false)]);
        assert_eq!(list.rows()[2][4], json!("no volumes"));
    }
}
