//! The JSON items of the REST face, with the field names of the FA2.56 OpenAPI spec
//! (`Volume`, `VolumeSnapshot`, `ProtectionGroup`, `ProtectionGroupSnapshot`,
//! `ProtectionGroupSnapshotTransfer`, `Pod`, `Arrays`, `ArrayConnection`,
//! `TargetProtectionGroup`, `ProtectionGroupsVolumes`, `Member`, `VolumeDiff`).
//!
//! Times are milliseconds since the epoch, sizes bytes, ids stable UUIDs derived from the
//! objects. Fields a client reads are never `null` unless Purity leaves them unset too (no pod,
//! no source, not destroyed). Volume fingerprints are the simulator's and never appear here.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::array::{self, pgroups, pods, retention, snapshots};
use crate::state::records::{
    array_key, ArrayRec, ArrayVolumeRec, PgRec, PgSnapshotRec, PodRec, RetentionRec,
    VolumeSnapshotRec,
};
use crate::state::World;
use crate::tick::ERADICATION_DELAY_SECS;

fn ms(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// Renders the objects of one array.
pub(crate) struct View<'a> {
    pub world: &'a World,
    pub array: &'a str,
}

fn space(provisioned: u64) -> Value {
    json!({
        "data_reduction": 1.0,
        "footprint": 0,
        "shared": 0,
        "snapshots": 0,
        "system": 0,
        "thin_provisioning": 1.0,
        "total_physical": 0,
        "total_provisioned": provisioned,
        "total_reduction": 1.0,
        "total_used": 0,
        "unique": 0,
        "used_provisioned": provisioned,
        "virtual": 0,
        "snapshots_effective": 0,
        "total_effective": 0,
        "unique_effective": 0,
    })
}

fn retention_json(r: RetentionRec) -> Value {
    json!({"all_for_sec": r.all_for_sec, "per_day": r.per_day, "days": r.days})
}

/// A 24-hex-digit serial derived from what identifies an object without one of its own.
fn derived_serial(parts: &[&str]) -> String {
    array::object_id(parts)
        .replace('-', "")
        .to_uppercase()
        .chars()
        .take(24)
        .collect()
}

impl View<'_> {
    fn array_rec(&self, name: &str) -> Option<&ArrayRec> {
        self.world.arrays.get(name)
    }

    fn array_id(&self, name: &str) -> Option<String> {
        self.array_rec(name).map(|a| a.id.clone())
    }

    /// `context`: the array that answered.
    fn context(&self) -> Value {
        json!({"id": self.array_id(self.array), "name": self.array, "resource_type": "arrays"})
    }

    /// A `VolumeDiff` item: one extent that differs from the base.
    pub(crate) fn volume_diff(&self, offset: u64, length: u64) -> Value {
        json!({"context": self.context(), "offset": offset, "length": length})
    }

    fn time_remaining(&self, destroyed_at: Option<DateTime<Utc>>) -> Value {
        json!(array::time_remaining_ms(self.world, destroyed_at))
    }

    fn pod_ref(&self, pod: Option<&str>) -> Value {
        match pod {
            Some(name) => json!({
                "id": self.world.pods.get(name).map(pods::pod_id),
                "name": name,
            }),
            None => Value::Null,
        }
    }

    fn local_volume_id(&self, name: &str) -> Option<String> {
        self.world
            .array_volumes
            .get(&array_key(self.array, name))
            .map(array::volume_id)
    }

    /// `Volume`.
    pub(crate) fn volume(&self, v: &ArrayVolumeRec) -> Value {
        let promotion = v
            .pod
            .as_deref()
            .and_then(|p| self.world.pods.get(p))
            .and_then(|p| p.member(self.array))
            .map_or("promoted", |m| m.promotion.as_str());
        json!({
            "id": array::volume_id(v),
            "name": v.name,
            "connection_count": v.hosts.len(),
            "created": ms(v.created),
            "destroyed": v.destroyed,
            "host_encryption_key_status": "none",
            "priority_adjustment": {"priority_adjustment_operator": "+", "priority_adjustment_value": 0},
            "provisioned": v.provisioned_bytes,
            "qos": {"bandwidth_limit": null, "iops_limit": null},
            "serial": v.serial,
            "space": space(v.provisioned_bytes),
            "time_remaining": self.time_remaining(v.destroyed_at),
            "context": self.context(),
            "pod": self.pod_ref(v.pod.as_deref()),
            "priority": 0,
            "promotion_status": promotion,
            "requested_promotion_state": promotion,
            "source": v.source.as_deref().map(|s| json!({"id": self.local_volume_id(s), "name": s})),
            "subtype": "regular",
            "volume_group": null,
        })
    }

    /// `VolumeSnapshot` (the member snapshots of pg snapshots).
    pub(crate) fn volume_snapshot(
        &self,
        s: &VolumeSnapshotRec,
        pg: Option<&PgSnapshotRec>,
    ) -> Value {
        let source = snapshots::snapshot_source_volume(s);
        let local = s
            .name
            .split_once(':')
            .map_or(s.name.as_str(), |(_, rest)| rest);
        let suffix = local.split_once('.').map_or("", |(_, rest)| rest);
        let created = s.created.to_rfc3339();
        json!({
            "id": array::object_id(&["volume-snapshot", self.array, &s.name, &created]),
            "name": s.name,
            "created": ms(s.created),
            "destroyed": pg.is_some_and(|p| p.destroyed),
            "pod": null,
            "provisioned": s.provisioned_bytes,
            "serial": derived_serial(&["volume-snapshot", self.array, &s.name, &created]),
            "source": {"id": self.local_volume_id(&source), "name": source},
            "suffix": suffix,
            "time_remaining": self.time_remaining(pg.and_then(|p| p.destroyed_at)),
            "volume_group": null,
            "space": space(s.provisioned_bytes),
            "context": self.context(),
        })
    }

    /// `ProtectionGroup`.
    pub(crate) fn protection_group(&self, g: &PgRec) -> Value {
        let view = pgroups::pg_view(self.world, g);
        let (source_retention, target_retention) = retention::shown(self.world, g);
        json!({
            "id": pgroups::group_id(g),
            "name": g.name,
            "context": self.context(),
            "destroyed": g.destroyed,
            "eradication_config": {"manual_eradication": "enabled"},
            "host_count": 0,
            "host_group_count": 0,
            "is_local": !g.replica,
            "pod": null,
            "replication_schedule": {
                "at": null,
                "enabled": view.replication_enabled,
                "frequency": view.replication_frequency_secs * 1000,
                "blackout": {"start": null, "end": null},
            },
            "retention_lock": "unlocked",
            "snapshot_schedule": {"at": null, "enabled": false, "frequency": 3_600_000},
            "source": {"id": self.array_id(&g.source), "name": g.source},
            "source_retention": retention_json(source_retention),
            "space": space(0),
            "target_count": view.targets.len(),
            "target_retention": retention_json(target_retention),
            "time_remaining": self.time_remaining(g.destroyed_at),
            "volume_count": view.volumes.len(),
        })
    }

    fn group_ref(&self, name: &str) -> Value {
        json!({
            "id": self.world.protection_groups.get(&array_key(self.array, name)).map(pgroups::group_id),
            "name": name,
        })
    }

    /// `ProtectionGroupsVolumes`: one member of one group.
    pub(crate) fn group_member(&self, group: &str, volume: &str) -> Value {
        let local = self.world.array_volumes.get(&array_key(self.array, volume));
        json!({
            "context": self.context(),
            "group": self.group_ref(group),
            "member": {
                "id": local.map(array::volume_id),
                "name": volume,
                "destroyed": local.is_some_and(|v| v.destroyed),
            },
        })
    }

    /// `TargetProtectionGroup`.
    pub(crate) fn group_target(&self, group: &str, target: &str, allowed: bool) -> Value {
        json!({
            "context": self.context(),
            "group": self.group_ref(group),
            "member": {"id": self.array_id(target), "name": target, "resource_type": "remote-arrays"},
            "allowed": allowed,
            "status": if allowed { "replicating" } else { "disallowed" },
        })
    }

    /// `ProtectionGroupSnapshot`.
    pub(crate) fn pg_snapshot(&self, s: &PgSnapshotRec) -> Value {
        let suffix = s
            .name
            .strip_prefix(&s.group)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or("");
        json!({
            "id": pg_snapshot_id(s),
            "name": s.name,
            "context": self.context(),
            "created": ms(s.created),
            "destroyed": s.destroyed,
            "eradication_config": {"manual_eradication": "enabled"},
            "pod": null,
            "source": self.group_ref(&s.group),
            "space": space(0),
            "suffix": suffix,
            "time_remaining": self.time_remaining(s.destroyed_at),
        })
    }

    /// `ProtectionGroupSnapshotTransfer`.
    pub(crate) fn transfer(&self, s: &PgSnapshotRec) -> Value {
        let t = snapshots::transfer_view(self.world, s);
        json!({
            "id": pg_snapshot_id(s),
            "name": s.name,
            "context": self.context(),
            "completed": t.completed.map(ms),
            "data_transferred": t.data_transferred,
            "destroyed": s.destroyed,
            "physical_bytes_written": t.data_transferred,
            "progress": t.progress,
            "started": t.started.map(ms),
        })
    }

    fn array_member(&self, name: &str) -> Value {
        json!({"id": self.array_id(name), "name": name, "resource_type": "arrays"})
    }

    /// `Pod`, as this array sees it.
    pub(crate) fn pod(&self, p: &PodRec) -> Value {
        let promotion = p
            .member(self.array)
            .map_or("demoted", |m| m.promotion.as_str());
        let arrays: Vec<Value> = p
            .members
            .iter()
            .map(|m| {
                json!({
                    "id": self.array_id(&m.array),
                    "name": m.array,
                    "frozen_at": null,
                    "mediator_status": "online",
                    "member": self.array_member(&m.array),
                    "pre_elected": false,
                    "progress": if m.status == "resyncing" { json!(0.0) } else { Value::Null },
                    "status": m.status,
                })
            })
            .collect();
        json!({
            "id": pods::pod_id(p),
            "name": p.name,
            "context": self.context(),
            "array_count": p.members.len(),
            "arrays": arrays,
            "destroyed": p.destroyed,
            "eradication_config": {"manual_eradication": "all-enabled"},
            "failover_preferences": [],
            "footprint": 0,
            "link_source_count": 0,
            "link_target_count": 0,
            "mediator": "purestorage",
            "mediator_version": "1.0",
            "members": p.members.iter().map(|m| self.array_member(&m.array)).collect::<Vec<_>>(),
            "promotion_status": promotion,
            "quota_limit": null,
            "requested_promotion_state": promotion,
            "source": null,
            "space": space(0),
            "time_remaining": self.time_remaining(p.destroyed_at),
        })
    }

    /// `Member` of `pods/arrays`.
    pub(crate) fn pod_member(&self, p: &PodRec, member: &str) -> Value {
        json!({
            "context": self.context(),
            "group": {"id": pods::pod_id(p), "name": p.name},
            "member": {"id": self.array_id(member), "name": member},
        })
    }

    /// `Arrays`.
    pub(crate) fn array(&self, a: &ArrayRec) -> Value {
        let delay_ms = ERADICATION_DELAY_SECS * 1000;
        json!({
            "id": a.id,
            "name": a.name,
            "context": self.context(),
            "_as_of": ms(self.world.now()),
            "banner": "",
            "capacity": 10_995_116_277_760_u64,
            "console_lock_enabled": false,
            "encryption": {
                "data_at_rest": {"algorithm": "AES-256-CTR", "enabled": true},
                "module_version": "FA-1.3",
            },
            "eradication_config": {
                "disabled_delay": delay_ms,
                "enabled_delay": delay_ms,
                "eradication_delay": delay_ms,
                "manual_eradication": "all-enabled",
            },
            "idle_timeout": 0,
            "ntp_servers": [],
            "os": "Purity//FA",
            "parity": 1.0,
            "scsi_timeout": 60,
            "space": space(0),
            "time_zone": "UTC",
            "version": a.version,
        })
    }

    /// `ArrayConnection` to `peer`.
    pub(crate) fn connection(&self, peer: &ArrayRec) -> Value {
        let host = peer
            .url
            .split_once("://")
            .map_or(peer.url.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_string();
        let mut pair = [self.array, peer.name.as_str()];
        pair.sort();
        json!({
            "id": array::object_id(&["array-connection", pair[0], pair[1]]),
            "name": peer.name,
            "context": self.context(),
            "encryption": "unencrypted",
            "encryption_mode": "",
            "management_address": host,
            "os": "Purity//FA",
            "remote": {"id": peer.id, "name": peer.name, "resource_type": "remote-arrays"},
            "replication_addresses": [host],
            "replication_transport": "ip",
            "status": array::connection_status(self.world, self.array, &peer.name),
            "throttle": {"default_limit": null, "window": null, "window_limit": null},
            // A synchronous connection carries asynchronous replication too.
            "type": "sync-replication",
            "version": peer.version,
        })
    }
}

fn pg_snapshot_id(s: &PgSnapshotRec) -> String {
    array::object_id(&["pg-snapshot", &s.array, &s.name, &s.seq.to_string()])
}
