//! What the CLI adds to `protector_core::views` (which says what each resource looks like, for
//! every front-end): the hand-laid text reports of `sync-status` and `sync-force`, which name
//! protector commands, and how an operation is printed.

use chrono::{DateTime, Utc};
use protector_core::engine::{SyncForceReport, SyncStatusReport};
use protector_core::model::{Operation, OperationType};
pub use protector_core::views::{
    ago, consistency_group, group, group_results, groups, hook, hooks, mappings, member,
    member_added, member_candidates, members, operation, operation_with_results, operations,
    policy, site, site_validation, sites, sync_force, sync_log, sync_status, tenant_mapping,
    tenant_mappings, time, volume_types, GROUP_SHOW_SPEC_FIELDS, OPERATION_SHOW_SPEC_FIELDS,
};

use crate::args::Format;
use crate::error::CliResult;
use crate::output::Printer;

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

/// Prints an operation: its record, and for a site failover its per-group table after it
/// (`-f table` without `-c`) or as the `group_results` field (every other form).
pub fn print_operation(printer: &mut Printer, op: &Operation, id_field: &str) -> CliResult<()> {
    if op.operation_type == OperationType::SiteFailover
        && printer.format() == Format::Table
        && !printer.has_column_filter()
    {
        printer.show(&operation(op, id_field))?;
        if !op.group_results.is_empty() {
            printer.text("\n")?;
            printer.list(&group_results(&op.group_results))?;
        }
        return Ok(());
    }
    printer.show(&operation_with_results(op, id_field))
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
