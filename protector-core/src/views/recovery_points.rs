//! Recovery points (`protection-group recovery-points`) and the point a failed-over group runs
//! on (`protection-group show`).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{opt_time, time, Column, List, Record};
use crate::engine::{FailoverCommitted, RecoveryPoints};
use crate::model::ProtectionGroup;

/// The columns of `recovery-points`, defined once for every front-end.
const COLUMNS: [(&str, &str); 7] = [
    ("name", "Name"),
    ("created_at", "Created"),
    ("age", "Age"),
    ("age_secs", "Age (s)"),
    ("replicated", "Replicated"),
    ("usable", "Usable"),
    ("current", "Current"),
];

/// `3725` → `1h 2m 5s`, as the engine words ages in its messages.
fn human_age(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// `protection-group recovery-points`: newest first.
pub fn recovery_points(listed: &RecoveryPoints) -> List {
    let mut list = List::new(COLUMNS.iter().map(|(k, h)| Column::new(k, h)).collect());
    for p in &listed.points {
        list.push(vec![
            json!(p.name),
            json!(time(&p.created_at)),
            json!(human_age(p.age_secs)),
            json!(p.age_secs),
            json!(match p.replicated_at {
                Some(at) => format!("complete {}", time(&at)),
                None => format!("in progress {:.0} %", p.progress * 100.0),
            }),
            json!(p.usable),
            json!(p.current),
        ]);
    }
    list
}

/// The line said above the list: where the points are and by which clock their age is.
pub fn recovery_points_heading(listed: &RecoveryPoints) -> String {
    let mut line = format!(
        "Recovery points of protection group '{}' on {}'s FlashArray {} (ages by its clock, {})",
        listed.group,
        listed.site,
        listed.array,
        time(&listed.array_time)
    );
    if let Some(note) = &listed.note {
        line.push_str(": ");
        line.push_str(note);
    }
    line
}

/// The fields `protection-group show` adds for a group that runs on a recovery point.
pub(super) fn with_running_point(
    record: Record,
    g: &ProtectionGroup,
    now: DateTime<Utc>,
) -> Record {
    let Some(p) = &g.recovery_point else {
        return record;
    };
    record
        .field("recovery_point", p.snapshot.as_str())
        .field("recovery_point_created_at", time(&p.created_at))
        .field("failover_commit", p.commit_state(now))
        .field("commit_deadline", opt_time(p.commit_deadline.as_ref()))
        .field("recovered_by", format!("op-{}", p.operation_id))
}

/// `protection-group failover-commit`: the group, and whether it replicates back.
pub fn failover_committed(committed: &FailoverCommitted) -> Record {
    super::group(&committed.group).field(
        "reverse_replication",
        committed
            .replication_note
            .clone()
            .unwrap_or_else(|| "set up".to_string()),
    )
}
