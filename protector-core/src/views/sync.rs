//! Metadata sync between the two sites of a group.

use serde_json::{json, Value};

use super::{opt_str, opt_time, time, List, Record};
use crate::engine::{SyncForceReport, SyncStatusReport};
use crate::store::SyncLogEntry;

/// `sync-status` as a record.
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
