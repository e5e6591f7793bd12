//! What each resource looks like on screen: field names and order follow the spec's tables.

use chrono::{DateTime, SecondsFormat, Utc};
use protector_core::api::VolumeType;
use protector_core::engine::{
    ConsistencyGroupReport, LagClock, SiteValidation, SyncForceReport, SyncStatusReport,
};
use protector_core::model::{
    Member, Operation, OperationType, ProtectionGroup, ReplicationPolicy, Site, TenantMapping,
};
use protector_core::store::{GroupMappings, SyncLogEntry};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::args::Format;
use crate::error::{CliError, CliResult};
use crate::output::{Column, List, Printer, Record};

/// `2025-06-01T09:00:00Z`.
pub fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn opt_time(t: Option<&DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::from(time(t)))
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

// ---------------------------------------------------------------------------------- sites

/// `site show` / `site create`.
pub fn site(site: &Site) -> Record {
    Record::new()
        .field("id", site.id.to_string())
        .field("name", site.name.as_str())
        .field("description", site.description.as_str())
        .field("site_type", site.site_type.as_str())
        .field("auth_url", site.auth_url.as_str())
        .field("region_name", site.region_name.as_str())
        .field("status", site.status.as_str())
        .field("cloud", site.cloud_name())
        .field("created_at", time(&site.created_at))
}

/// `site list` (spec/004 example 1; the `type` heading holds `site_type`).
pub fn sites(sites: &[Site]) -> List {
    let mut list = List::new(vec![
        Column::new("id", "id"),
        Column::new("name", "name"),
        Column::new("site_type", "type"),
        Column::new("auth_url", "auth_url"),
        Column::new("region_name", "region_name"),
        Column::new("status", "status"),
    ]);
    for s in sites {
        list.push(vec![
            json!(s.id.to_string()),
            json!(s.name),
            json!(s.site_type.as_str()),
            json!(s.auth_url),
            json!(s.region_name),
            json!(s.status.as_str()),
        ]);
    }
    list
}

/// `site validate`.
pub fn site_validation(v: &SiteValidation) -> Record {
    Record::new()
        .field("name", v.name.as_str())
        .field("status", v.status.as_str())
        .field("keystone", v.keystone.as_str())
        .field("nova", v.nova.as_str())
        .field("cinder", v.cinder.as_str())
        .field("neutron", v.neutron.as_str())
        .field("volume_manage", v.volume_manage.as_str())
}

/// `site list-volume-types` (spec/004 example 2).
pub fn volume_types(types: &[VolumeType]) -> List {
    let mut list = List::with_keys(&["id", "name", "replication_enabled", "replication_type"]);
    for t in types {
        let spec = |k: &str| t.extra_specs.get(k).cloned().unwrap_or_default();
        list.push(vec![
            json!(t.id),
            json!(t.name),
            json!(spec("replication_enabled")),
            json!(spec("replication_type")),
        ]);
    }
    list
}

// ---------------------------------------------------------------------------------- groups

/// `protection-group show` / `create`: spec/000 example 4's fields first, then the rest.
pub fn group(g: &ProtectionGroup) -> Record {
    Record::new()
        .field("id", g.id.to_string())
        .field("name", g.name.as_str())
        .field("status", g.status.as_str())
        .field("current_primary_site", g.current_primary_site.as_str())
        .field("primary_site", g.primary_site.as_str())
        .field("secondary_site", g.secondary_site.as_str())
        .field("failover_count", g.failover_count)
        .field("last_failover_at", opt_time(g.last_failover_at.as_ref()))
        .field("replication_type", g.replication_type.as_str())
        .field("description", g.description.as_str())
        .field("volume_type", g.volume_type.as_str())
        .field("consistency_group_id", g.consistency_group.id.to_string())
        .field("pure_pg_name", g.consistency_group.array_group.as_str())
        .field("metadata_version", g.metadata.version)
        .field(
            "fence_required_on",
            g.fence_required_on.as_deref().unwrap_or(""),
        )
        .field(
            "test_failover",
            g.test_failover
                .as_ref()
                .map(|d| format!("{} on {} (op-{})", d.status, d.site, d.operation_id))
                .unwrap_or_default(),
        )
        .field(
            "active_operation_id",
            g.active_operation_id
                .map(|id| format!("op-{id}"))
                .unwrap_or_default(),
        )
        .field("created_at", time(&g.created_at))
        .field("updated_at", time(&g.updated_at))
}

/// The fields of spec/000 example 4.
pub const GROUP_SHOW_SPEC_FIELDS: [&str; 9] = [
    "id",
    "name",
    "status",
    "current_primary_site",
    "primary_site",
    "secondary_site",
    "failover_count",
    "last_failover_at",
    "replication_type",
];

/// `protection-group list`.
pub fn groups(groups: &[ProtectionGroup]) -> List {
    let mut list = List::with_keys(&[
        "id",
        "name",
        "status",
        "replication_type",
        "primary_site",
        "secondary_site",
        "current_primary_site",
        "failover_count",
    ]);
    for g in groups {
        list.push(vec![
            json!(g.id.to_string()),
            json!(g.name),
            json!(g.status.as_str()),
            json!(g.replication_type.as_str()),
            json!(g.primary_site),
            json!(g.secondary_site),
            json!(g.current_primary_site),
            json!(g.failover_count),
        ]);
    }
    list
}

/// `member-add` (spec/003 example 2).
pub fn member_added(m: &Member) -> Record {
    Record::new()
        .field("id", m.id.to_string())
        .field("instance_id", m.instance_id.as_str())
        .field("instance_name", m.instance_name.as_str())
        .field("status", m.status.as_str())
        .field("volumes_added", m.recovery.volumes.len())
}

/// `member-show`: the member with its recovery metadata and where it runs now.
pub fn member(m: &Member) -> Record {
    let networks: Vec<Value> = m
        .recovery
        .networks
        .iter()
        .map(|n| {
            let name = if n.network_name.is_empty() {
                &n.network_id
            } else {
                &n.network_name
            };
            let ips: Vec<&str> = n
                .fixed_ips
                .iter()
                .map(|ip| ip.ip_address.as_str())
                .collect();
            json!(format!("{name}={}", ips.join(",")))
        })
        .collect();
    let security_groups: Vec<Value> = m
        .recovery
        .security_groups
        .iter()
        .map(|s| json!(s.name))
        .collect();
    let volumes: Vec<Value> = m
        .recovery
        .volumes
        .iter()
        .map(|v| json!(format!("{} ({} GiB, {})", v.volume_id, v.size_gb, v.device)))
        .collect();
    Record::new()
        .field("id", m.id.to_string())
        .field("instance_id", m.instance_id.as_str())
        .field("instance_name", m.instance_name.as_str())
        .field("status", m.status.as_str())
        .field("current_site", m.current.site.as_str())
        .field("current_instance_id", m.current.instance_id.as_str())
        .field("flavor", m.recovery.flavor.name.as_str())
        .field("key_name", opt_str(m.recovery.key_name.as_deref()))
        .field("networks", networks)
        .field("security_groups", security_groups)
        .field("volumes", volumes)
        .field(
            "standby_site",
            opt_str(m.standby.as_ref().map(|p| p.site.as_str())),
        )
        .field("error_message", opt_str(m.error_message.as_deref()))
}

/// `member-list` (spec/003 example 3), by instance name.
pub fn members(members: &[Member]) -> List {
    let mut members: Vec<&Member> = members.iter().collect();
    members.sort_by(|a, b| (&a.instance_name, a.id).cmp(&(&b.instance_name, b.id)));
    let mut list = List::new(vec![
        Column::new("id", "ID"),
        Column::new("instance_name", "Instance Name"),
        Column::new("instance_id", "Instance ID"),
        Column::new("status", "Status"),
        Column::new("volumes", "Volumes"),
        Column::new("current_site", "Current Site"),
        Column::new("current_instance_id", "Current Instance ID"),
    ]);
    for m in members {
        list.push(vec![
            json!(m.id.to_string()),
            json!(m.instance_name),
            json!(m.instance_id),
            json!(m.status.as_str()),
            json!(m.recovery.volumes.len()),
            json!(m.current.site),
            json!(m.current.instance_id),
        ]);
    }
    list
}

/// `mapping-list` / `mapping-set`: one row per direction, kind (`network`, `flavor`,
/// `security_group`) and source, by direction then kind then source.
pub fn mappings(entries: &[GroupMappings]) -> List {
    let mut entries: Vec<&GroupMappings> = entries.iter().collect();
    entries.sort_by(|a, b| (&a.from_site, &a.to_site).cmp(&(&b.from_site, &b.to_site)));
    let mut list = List::new(vec![
        Column::new("from_site", "From Site"),
        Column::new("to_site", "To Site"),
        Column::new("kind", "Kind"),
        Column::new("source", "Source"),
        Column::new("target", "Target"),
    ]);
    for entry in entries {
        let m = &entry.mappings;
        for (kind, pairs) in [
            ("network", &m.networks),
            ("flavor", &m.flavors),
            ("security_group", &m.security_groups),
        ] {
            for (source, target) in pairs {
                list.push(vec![
                    json!(entry.from_site),
                    json!(entry.to_site),
                    json!(kind),
                    json!(source),
                    json!(target),
                ]);
            }
        }
    }
    list
}

// ---------------------------------------------------------------------------------- consistency groups

/// `consistency-group show`: spec/003 example 6's fields first, then the replication state.
pub fn consistency_group(r: &ConsistencyGroupReport) -> Record {
    Record::new()
        .field("id", r.id.to_string())
        .field("protection_group_id", r.protection_group_id.to_string())
        .field("volume_type_name", r.volume_type_name.as_str())
        .field("backend_name", opt_str(r.backend_name.as_deref()))
        .field("primary_cg_id", opt_str(r.primary_cg_id.as_deref()))
        .field("secondary_cg_id", opt_str(r.secondary_cg_id.as_deref()))
        .field("status", r.status.as_str())
        .field("volume_count", r.volume_count)
        .field("protection_group", r.protection_group.as_str())
        .field("replication_type", r.replication_type.as_str())
        .field("pure_pg_name", r.pure_pg_name.as_str())
        .field(
            "replication_source_site",
            r.replication_source_site.as_str(),
        )
        .field(
            "replication_target_site",
            r.replication_target_site.as_str(),
        )
        .field("replication_status", r.replication_status.as_str())
        .field(
            "last_replicated_snapshot",
            opt_str(r.last_replicated_snapshot.as_deref()),
        )
        .field(
            "last_replicated_at",
            opt_time(r.last_replicated_at.as_ref()),
        )
        .field("array_time", opt_time(r.array_time.as_ref()))
        .field(
            "replication_lag_seconds",
            r.replication_lag_seconds.map_or(Value::Null, Value::from),
        )
        .field(
            "lag_clock",
            opt_str(r.lag_clock.map(|c| match c {
                LagClock::Array => "array",
                LagClock::Local => "local",
            })),
        )
        .field(
            "replication_interval",
            r.replication_interval.map_or(Value::Null, Value::from),
        )
        .field(
            "rpo_minutes",
            r.rpo_minutes.map_or(Value::Null, Value::from),
        )
        .field("replication_error", opt_str(r.replication_error.as_deref()))
}

/// `policy-create`: never the tokens.
pub fn policy(group: &ProtectionGroup, p: &ReplicationPolicy) -> Record {
    Record::new()
        .field("protection_group", group.name.as_str())
        .field("primary_fa_url", p.primary_array.url.as_str())
        .field("secondary_fa_url", p.secondary_array.url.as_str())
        .field("pure_pg_name", p.pure_pg_name.as_str())
        .field("replication_interval", p.replication_interval_secs)
        .field("rpo_minutes", p.rpo_minutes)
}

// ---------------------------------------------------------------------------------- sync

/// `sync-status` as a record (`-f json|yaml|value`, or `-c`).
pub fn sync_status(r: &SyncStatusReport) -> Record {
    Record::new()
        .field("protection_group", r.group.as_str())
        .field(
            "sync_status",
            if r.in_sync { "IN SYNC" } else { "OUT OF SYNC" },
        )
        .field("in_sync", r.in_sync)
        .field("local_site", r.local_site.as_str())
        .field("local_version", r.local_version)
        .field("current_site", r.current_site.as_str())
        .field("last_modified", opt_time(r.last_modified.as_ref()))
        .field("remote_site", r.remote_site.as_str())
        .field("remote_status", r.remote_status.as_str())
        .field(
            "remote_version",
            r.remote_version.map_or(Value::Null, Value::from),
        )
        .field("last_sync", opt_time(r.last_sync.as_ref()))
        .field("error", opt_str(r.error.as_deref()))
}

/// "5 seconds ago", "4 hours ago".
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

/// `sync-status` as text: spec/003 example 4 (in sync) and spec/001 (out of sync).
pub fn sync_status_text(r: &SyncStatusReport, now: &DateTime<Utc>) -> String {
    let mark = |ok: bool| if ok { "✅" } else { "❌" };
    let mut s = String::new();
    s.push_str(&format!(
        "Sync Status: {} {}\n\n",
        mark(r.in_sync),
        if r.in_sync { "IN SYNC" } else { "OUT OF SYNC" }
    ));
    s.push_str("Local Metadata:\n");
    s.push_str(&format!("  Version: {}\n", r.local_version));
    s.push_str(&format!("  Current Site: {}\n", r.current_site));
    s.push_str(&format!(
        "  Last Modified: {}\n\n",
        r.last_modified.as_ref().map_or("never".to_string(), time)
    ));
    s.push_str("Remote Sync:\n");
    s.push_str(&format!("  Status: {}\n", r.remote_status.as_str()));
    let remote = r
        .remote_version
        .map_or_else(|| "unknown".to_string(), |v| v.to_string());
    s.push_str(&format!("  Remote Version: {remote}\n"));
    s.push_str(&format!(
        "  Last Sync: {}\n",
        r.last_sync
            .as_ref()
            .map_or("never".to_string(), |t| format!(
                "{} ({})",
                time(t),
                ago(t, now)
            ))
    ));
    if let Some(error) = r.error.as_deref().filter(|_| !r.in_sync) {
        s.push_str(&format!("  Error: {error}\n"));
    }
    s.push('\n');

    let versions_match = r.remote_version == Some(r.local_version);
    let synced = r.remote_status.as_str() == "SYNCED";
    // The last sync is recent when it covers the last local change.
    let recent = match (&r.last_sync, &r.last_modified) {
        (Some(sync), Some(modified)) => sync >= modified,
        (Some(_), None) => true,
        (None, _) => false,
    };
    s.push_str("Validation:\n");
    s.push_str(&format!(
        "  {} Versions {} ({} {} {remote})\n",
        mark(versions_match),
        if versions_match { "match" } else { "differ" },
        r.local_version,
        if versions_match { "=" } else { "≠" },
    ));
    s.push_str(&format!(
        "  {} Sync status is '{}'\n",
        mark(synced),
        r.remote_status.as_str().to_ascii_lowercase()
    ));
    s.push_str(&format!(
        "  {} Last sync is {}\n\n",
        mark(recent),
        if recent {
            "recent"
        } else {
            "older than the last change"
        }
    ));
    if r.in_sync {
        s.push_str("Both sites have identical metadata.\n");
    } else {
        s.push_str("Action Required:\n");
        s.push_str(&format!(
            "  1. Check remote site connectivity: protector site validate {}\n",
            r.remote_site
        ));
        s.push_str(&format!(
            "  2. Force sync once remote site is available: protector protection-group sync-force {}\n",
            r.group
        ));
    }
    s
}

/// `sync-force` as a record.
pub fn sync_force(r: &SyncForceReport) -> Record {
    Record::new()
        .field("protection_group", r.group.as_str())
        .field("status", "success")
        .field("source_site", r.source_site.as_str())
        .field("pushed_to", r.pushed_to.as_str())
        .field("version", r.version)
        .field("checksum", r.checksum.as_str())
        .field("duration_ms", r.duration_ms)
}

/// `sync-force` as text (spec/003 example 5). `peer` is the site that was checked for
/// reachability (the other site of the group).
pub fn sync_force_text(r: &SyncForceReport, peer: &str) -> String {
    format!(
        "Force Sync Initiated...\n\n\
         Checking remote site connectivity...\n  ✅ {peer} is reachable\n\n\
         Syncing metadata (version {v})...\n  Gathering current metadata... ✓\n  Calculating checksum... ✓\n  Pushing to {to}... ✓\n\n\
         Remote Site Response:\n  Status: success\n  Version: {v}\n  Duration: {d}ms\n\n\
         ✅ Sync completed successfully\nBoth sites now at version {v}\n",
        v = r.version,
        to = r.pushed_to,
        d = r.duration_ms,
    )
}

/// `sync-log`.
pub fn sync_log(entries: &[SyncLogEntry]) -> List {
    let mut list = List::with_keys(&["at", "version", "peer_site", "result", "reason", "error"]);
    for e in entries {
        list.push(vec![
            json!(time(&e.at)),
            json!(e.version),
            json!(e.peer_site),
            json!(e.result),
            json!(e.reason),
            opt_str(e.error.as_deref()),
        ]);
    }
    list
}

// ---------------------------------------------------------------------------------- operations

/// `operation show` (spec/000 example 3), with the sites and instance counts.
/// `id_field` is `id` for `operation show` and `operation_id` for `failover` (spec/000
/// example 1).
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
    record
}

/// An operation id as displayed and accepted everywhere: `op-<uuid>`.
pub fn operation_id(id: &Uuid) -> String {
    format!("op-{id}")
}

/// The groups of a site failover, one row each (`Operation.group_results`).
pub fn group_results(op: &Operation) -> List {
    let mut list = List::with_keys(&[
        "protection_group",
        "group_id",
        "project_id",
        "status",
        "operation_id",
        "error_message",
    ]);
    for r in &op.group_results {
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

/// Prints an operation: its record, and for a site failover its per-group table after it
/// (`-f table` without `-c`) or as the `group_results` field (every other form).
pub fn print_operation(printer: &mut Printer, op: &Operation, id_field: &str) -> CliResult<()> {
    let record = operation(op, id_field);
    if op.operation_type != OperationType::SiteFailover {
        return printer.show(&record);
    }
    let results = group_results(op);
    if printer.format() == Format::Table && !printer.has_column_filter() {
        printer.show(&record)?;
        if !op.group_results.is_empty() {
            printer.text("\n")?;
            printer.list(&results)?;
        }
        Ok(())
    } else {
        let rows = serde_json::to_value(&results)
            .map_err(|e| CliError::unexpected(format!("cannot render the group results: {e}")))?;
        printer.show(&record.field("group_results", rows))
    }
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

// ---------------------------------------------------------------------------------- tenants

/// `dr tenant mapping create`.
pub fn tenant_mapping(m: &TenantMapping) -> Record {
    Record::new()
        .field("id", m.id.to_string())
        .field("local_site", m.local_site.as_str())
        .field("local_tenant", m.local_tenant.as_str())
        .field("remote_site", m.remote_site.as_str())
        .field("remote_tenant", m.remote_tenant.as_str())
        .field("description", m.description.as_str())
}

/// `dr tenant mapping list`.
pub fn tenant_mappings(mappings: &[TenantMapping]) -> List {
    let mut list = List::with_keys(&[
        "id",
        "local_site",
        "local_tenant",
        "remote_site",
        "remote_tenant",
        "description",
    ]);
    for m in mappings {
        list.push(vec![
            json!(m.id.to_string()),
            json!(m.local_site),
            json!(m.local_tenant),
            json!(m.remote_site),
            json!(m.remote_tenant),
            json!(m.description),
        ]);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use protector_core::store::RemoteSyncStatus;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 15, h, m, s).unwrap()
    }

    #[test]
    fn in_sync_text_matches_the_spec_layout() {
        let report = SyncStatusReport {
            group: "prod-web-app".into(),
            in_sync: true,
            local_version: 4,
            local_site: "site-a".into(),
            current_site: "site-a".into(),
            last_modified: Some(at(9, 15, 0)),
            remote_site: "site-b".into(),
            remote_status: RemoteSyncStatus::Synced,
            remote_version: Some(4),
            last_sync: Some(at(9, 15, 5)),
            error: None,
        };
        assert_eq!(
            sync_status_text(&report, &at(9, 15, 10)),
            "\
Sync Status: ✅ IN SYNC

Local Metadata:
  Version: 4
  Current Site: site-a
  Last Modified: 2025-01-15T09:15:00Z

Remote Sync:
  Status: SYNCED
  Remote Version: 4
  Last Sync: 2025-01-15T09:15:05Z (5 seconds ago)

Validation:
  ✅ Versions match (4 = 4)
  ✅ Sync status is 'synced'
  ✅ Last sync is recent

Both sites have identical metadata.
"
        );
    }

    #[test]
    fn out_of_sync_text_names_the_error_and_the_fix() {
        let report = SyncStatusReport {
            group: "prod-web-app".into(),
            in_sync: false,
            local_version: 4,
            local_site: "site-b".into(),
            current_site: "site-b".into(),
            last_modified: Some(at(14, 35, 0)),
            remote_site: "site-a".into(),
            remote_status: RemoteSyncStatus::Failed,
            remote_version: Some(3),
            last_sync: Some(at(10, 0, 0)),
            error: Some("Connection timeout".into()),
        };
        let text = sync_status_text(&report, &at(14, 36, 0));
        assert!(text.starts_with("Sync Status: ❌ OUT OF SYNC\n"), "{text}");
        assert!(text.contains("  Last Sync: 2025-01-15T10:00:00Z (4 hours ago)\n"));
        assert!(text.contains("  Error: Connection timeout\n"));
        assert!(text.contains("  ❌ Versions differ (4 ≠ 3)\n"));
        assert!(text.contains("Action Required:\n"));
        assert!(text.contains("protector protection-group sync-force prod-web-app"));
    }
}
