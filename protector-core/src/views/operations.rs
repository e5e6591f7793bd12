//! DR operations and the per-group results of a site failover.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{opt_str, opt_time, time, List, Record};
use crate::model::{GroupResult, Operation, OperationType};

/// `operation show` (spec/000 example 3), with the sites and instance counts; a site failover
/// adds its group counts. `id_field` is `id` for `operation show` and `operation_id` for
/// `failover` (spec/000 example 1).
pub fn operation(op: &Operation, id_field: &str) -> Record {
    let steps = |v: &[String]| Value::from(v.iter().map(|s| json!(s)).collect::<Vec<_>>());
    let mut record = Record::new()
        .field(id_field, operation_id(&op.id))
        .field("operation_type", op.operation_type.as_str())
        .field("protection_group", opt_str(op.group_name.as_deref()))
        .field("status", op.status.as_str())
        .field("progress", op.progress)
        .field("phase", op.phase.as_str())
        .field("steps_completed", steps(&op.steps_completed))
        .field("steps_failed", steps(&op.steps_failed))
        .field("started_at", time(&op.started_at))
        .field("completed_at", opt_time(op.completed_at.as_ref()))
        .field("error_message", opt_str(op.error_message.as_deref()))
        .field("source_site", op.source_site.as_str())
        .field("target_site", op.target_site.as_str())
        .field("instances_created", op.instances_created)
        .field("instances_failed", op.instances_failed)
        .field("data_loss", opt_str(op.data_loss.as_deref()));
    if op.total_protection_groups.is_some() || op.operation_type == OperationType::SiteFailover {
        record = record
            .field(
                "total_protection_groups",
                op.total_protection_groups.unwrap_or(0),
            )
            .field("completed_count", op.completed_count.unwrap_or(0))
            .field("failed_count", op.failed_count.unwrap_or(0));
    }
    if !op.boot_waves.is_empty() {
        record = record.field("boot_order", boot_order(op));
    }
    if let (Some(at), Some(secs)) = (&op.recovered_at, op.recovery_seconds()) {
        record = record.field("recovered_at", format!("{} (RTO {secs} s)", time(at)));
    }
    if let Some(rto) = op.rto_summary() {
        record = record.field("rto", rto);
    }
    if !op.warnings.is_empty() {
        record = record.field(
            "warnings",
            Value::from(op.warnings.iter().map(|w| json!(w)).collect::<Vec<_>>()),
        );
    }
    record
}

/// The boot waves as they ran: `priority 1 wave 1: db-server-1` plus who failed or did not
/// start.
fn boot_order(op: &Operation) -> Value {
    op.boot_waves
        .iter()
        .map(|w| {
            let mut line = format!(
                "priority {} wave {}: {}",
                w.priority,
                w.level + 1,
                if w.members.is_empty() {
                    "-".to_string()
                } else {
                    w.members.join(", ")
                }
            );
            if !w.failed.is_empty() {
                line.push_str(&format!("; failed: {}", w.failed.join(", ")));
            }
            if !w.not_started.is_empty() {
                line.push_str(&format!("; not started: {}", w.not_started.join(", ")));
            }
            json!(line)
        })
        .collect::<Vec<_>>()
        .into()
}

/// [`operation`] as one record: a site failover's per-group results follow as the
/// `group_results` field, a list of objects keyed like [`group_results`]' columns. What every
/// form but a table shows (a table prints the results as a second table instead).
pub fn operation_with_results(op: &Operation, id_field: &str) -> Record {
    let record = operation(op, id_field);
    if op.operation_type != OperationType::SiteFailover {
        return record;
    }
    let (columns, rows) = group_results(&op.group_results).into_parts();
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            let object: Map<String, Value> =
                columns.iter().map(|c| c.key.clone()).zip(row).collect();
            Value::Object(object)
        })
        .collect();
    record.field("group_results", rows)
}

/// An operation id as displayed and accepted everywhere: `op-<uuid>`.
pub fn operation_id(id: &Uuid) -> String {
    format!("op-{id}")
}

/// The groups of a site failover, one row each (`Operation.group_results`).
pub fn group_results(results: &[GroupResult]) -> List {
    let mut list = List::with_keys(&[
        "protection_group",
        "group_id",
        "project_id",
        "status",
        "operation_id",
        "error_message",
    ]);
    for r in results {
        list.push(vec![
            json!(r.group_name),
            json!(r.group_id.to_string()),
            json!(r.project_id),
            json!(r.status.as_str()),
            r.operation_id
                .as_ref()
                .map_or(Value::Null, |id| json!(operation_id(id))),
            opt_str(r.error_message.as_deref()),
        ]);
    }
    list
}

/// The fields of spec/000 example 3 plus sites and instance counts (what the demo shows).
pub const OPERATION_SHOW_SPEC_FIELDS: [&str; 14] = [
    "id",
    "operation_type",
    "status",
    "progress",
    "steps_completed",
    "steps_failed",
    "started_at",
    "completed_at",
    "error_message",
    "source_site",
    "target_site",
    "instances_created",
    "instances_failed",
    "data_loss",
];

/// `operation list`.
pub fn operations(ops: &[Operation]) -> List {
    let mut list = List::with_keys(&[
        "id",
        "operation_type",
        "protection_group",
        "status",
        "progress",
        "source_site",
        "target_site",
        "started_at",
    ]);
    for op in ops {
        list.push(vec![
            json!(operation_id(&op.id)),
            json!(op.operation_type.as_str()),
            opt_str(op.group_name.as_deref()),
            json!(op.status.as_str()),
            json!(op.progress),
            json!(op.source_site),
            json!(op.target_site),
            json!(time(&op.started_at)),
        ]);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_failover(results: Value) -> Operation {
        serde_json::from_value(json!({
            "id": Uuid::from_u128(7), "operation_type": "site_failover",
            "group_id": null, "group_name": null, "status": "partial", "progress": 100,
            "phase": "finalization", "steps_completed": [], "steps_failed": [],
            "error_message": null, "source_site": "site-a", "target_site": "site-b",
            "started_at": "2025-06-01T09:00:00.250Z", "completed_at": null,
            "instances_created": 3, "instances_failed": 1,
            "total_protection_groups": 2, "completed_count": 1, "failed_count": 1,
            "group_results": results
        }))
        .unwrap()
    }

    #[test]
    fn a_site_failover_shows_its_counts_and_its_groups() {
        let op = site_failover(json!([
            {"group_id": Uuid::from_u128(1), "group_name": "web", "project_id": "p1",
             "operation_id": Uuid::from_u128(8), "status": "completed", "error_message": null},
            {"group_id": Uuid::from_u128(2), "group_name": "db", "project_id": "p1",
             "operation_id": null, "status": "failed", "error_message": "array unreachable"}
        ]));
        let record = operation(&op, "id");
        let names: Vec<&str> = record.names().collect();
        assert_eq!(names[0], "id");
        assert_eq!(
            names[names.len() - 3..],
            ["total_protection_groups", "completed_count", "failed_count"]
        );
        assert_eq!(
            record.fields()[0].1,
            json!(format!("op-{}", Uuid::from_u128(7)))
        );
        assert_eq!(record.fields()[8].1, json!("2025-06-01T09:00:00Z"));

        let with_results = operation_with_results(&op, "operation_id");
        let (last, value) = with_results.fields().last().unwrap();
        assert_eq!(last, "group_results");
        assert_eq!(
            *value,
            json!([
                {"protection_group": "web", "group_id": Uuid::from_u128(1).to_string(),
                 "project_id": "p1", "status": "completed",
                 "operation_id": format!("op-{}", Uuid::from_u128(8)), "error_message": null},
                {"protection_group": "db", "group_id": Uuid::from_u128(2).to_string(),
                 "project_id": "p1", "status": "failed", "operation_id": null,
                 "error_message": "array unreachable"}
            ])
        );
        assert_eq!(with_results.fields()[0].0, "operation_id");
    }

    #[test]
    fn other_operations_have_no_group_fields() {
        let mut op = site_failover(json!([]));
        op.operation_type = OperationType::Failover;
        op.total_protection_groups = None;
        let record = operation_with_results(&op, "id");
        assert_eq!(record, operation(&op, "id"));
        assert!(!record.names().any(|n| n == "total_protection_groups"));
        assert_eq!(
            record.names().last(),
            Some("data_loss"),
            "{:?}",
            record.names().collect::<Vec<_>>()
        );
    }
}
