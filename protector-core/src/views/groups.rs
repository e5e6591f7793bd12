//! Protection groups, their members, mappings, consistency group and replication policy.

use serde_json::{json, Value};

use super::{opt_str, opt_time, time, Column, List, Record};
use crate::engine::{ConsistencyGroupReport, LagClock};
use crate::model::{Member, ProtectionGroup, ReplicationPolicy};
use crate::store::GroupMappings;

/// `protection-group show` / `create`: spec/000 example 4's fields first, then the rest.
pub fn group(g: &ProtectionGroup) -> Record {
    let record = Record::new()
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
        .field("updated_at", time(&g.updated_at));
    super::recovery_points::with_running_point(record, g, chrono::Utc::now())
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

/// `member-show`: the member with its recovery metadata and where it runs now. Networks show
/// as `name=ip,ip` (the network id when it has no name), volumes as `id (size GiB, device)`.
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
        .field("priority", m.priority)
        .field(
            "depends_on",
            m.depends_on
                .iter()
                .map(|id| json!(id.to_string()))
                .collect::<Vec<_>>(),
        )
}

/// `member-list` (spec/003 example 3), by instance name (then id).
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
        Column::new("priority", "Priority"),
        Column::new("depends_on", "Depends On"),
    ]);
    // Dependencies by instance name: what an operator reads and gives to --depends-on.
    let names: std::collections::BTreeMap<uuid::Uuid, &str> = members
        .iter()
        .map(|m| (m.id, m.instance_name.as_str()))
        .collect();
    for m in &members {
        list.push(vec![
            json!(m.id.to_string()),
            json!(m.instance_name),
            json!(m.instance_id),
            json!(m.status.as_str()),
            json!(m.recovery.volumes.len()),
            json!(m.current.site),
            json!(m.current.instance_id),
            json!(m.priority),
            json!(m
                .depends_on
                .iter()
                .map(|id| names
                    .get(id)
                    .map_or_else(|| id.to_string(), |n| (*n).to_string()))
                .collect::<Vec<_>>()),
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
            ("availability_zone", &m.availability_zones),
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

/// `policy-create` / `policy-show` of `group`: never the tokens.
pub fn policy(group: &ProtectionGroup, p: &ReplicationPolicy) -> Record {
    Record::new()
        .field("protection_group", group.name.as_str())
        .field("primary_fa_url", p.primary_array.url.as_str())
        .field("secondary_fa_url", p.secondary_array.url.as_str())
        .field("pure_pg_name", p.pure_pg_name.as_str())
        .field("replication_interval", p.replication_interval_secs)
        .field("rpo_minutes", p.rpo_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ResourceMappings;
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn member(id: u128, name: &str, volumes: usize) -> Member {
        let volume = |i: usize| {
            json!({
                "volume_id": format!("vol-{i}"), "name": "", "size_gb": 10, "bootable": i == 0,
                "device": format!("/dev/vd{}", char::from(b'a' + u8::try_from(i).unwrap())),
                "boot_index": null, "array_volume": "", "volume_type": "replicated-ssd"
            })
        };
        serde_json::from_value(json!({
            "id": Uuid::from_u128(id), "group_id": Uuid::from_u128(99),
            "instance_id": format!("i-{name}"), "instance_name": name,
            "status": "protected", "error_message": null,
            "recovery": {
                "flavor": {"id": "f1", "name": "m1.large"},
                "networks": [
                    {"network_id": "n-1", "network_name": "net-web", "port_id": "p-1",
                     "mac_address": "", "security_group_ids": [],
                     "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"},
                                   {"subnet_id": "s", "ip_address": "10.0.0.6"}]},
                    {"network_id": "n-2", "network_name": "", "port_id": "p-2",
                     "mac_address": "", "security_group_ids": [], "fixed_ips": []}
                ],
                "security_groups": [{"id": "sg-1", "name": "web"}],
                "key_name": null, "availability_zone": null,
                "volumes": (0..volumes).map(volume).collect::<Vec<_>>()
            },
            "current": {"site": "site-a", "instance_id": format!("i-{name}"),
                        "volume_ids": [], "array_volumes": [], "port_ids": []}
        }))
        .unwrap()
    }

    #[test]
    fn members_are_listed_by_instance_name_then_id() {
        let list = members(&[
            member(3, "web-2", 1),
            member(2, "db-1", 2),
            member(1, "web-2", 0),
        ]);
        let keys: Vec<&str> = list.columns().iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "id",
                "instance_name",
                "instance_id",
                "status",
                "volumes",
                "current_site",
                "current_instance_id",
                "priority",
                "depends_on"
            ]
        );
        let order: Vec<(&Value, &Value, &Value)> =
            list.rows().iter().map(|r| (&r[1], &r[0], &r[4])).collect();
        assert_eq!(
            order,
            [
                (
                    &json!("db-1"),
                    &json!(Uuid::from_u128(2).to_string()),
                    &json!(2)
                ),
                (
                    &json!("web-2"),
                    &json!(Uuid::from_u128(1).to_string()),
                    &json!(0)
                ),
                (
                    &json!("web-2"),
                    &json!(Uuid::from_u128(3).to_string()),
                    &json!(1)
                ),
            ]
        );
    }

    #[test]
    fn member_shows_networks_volumes_and_placement() {
        let shown = member(1, "web-1", 2);
        let record = super::member(&shown);
        let field = |name: &str| {
            record
                .fields()
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(
            field("networks"),
            json!(["net-web=10.0.0.5,10.0.0.6", "n-2="])
        );
        assert_eq!(
            field("volumes"),
            json!(["vol-0 (10 GiB, /dev/vda)", "vol-1 (10 GiB, /dev/vdb)"])
        );
        assert_eq!(field("security_groups"), json!(["web"]));
        assert_eq!(field("standby_site"), Value::Null);
        assert_eq!(
            member_added(&shown).fields()[4],
            ("volumes_added".into(), json!(2))
        );
    }

    #[test]
    fn mappings_are_one_row_per_direction_kind_and_source() {
        let entry = |from: &str, to: &str, networks: &[(&str, &str)], flavors: &[(&str, &str)]| {
            let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
                pairs
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect()
            };
            GroupMappings {
                group_id: Uuid::from_u128(1),
                from_site: from.into(),
                to_site: to.into(),
                mappings: ResourceMappings {
                    networks: map(networks),
                    flavors: map(flavors),
                    security_groups: BTreeMap::new(),
                    availability_zones: Default::default(),
                },
            }
        };
        let list = mappings(&[
            entry("site-b", "site-a", &[("net-b", "net-a")], &[]),
            entry(
                "site-a",
                "site-b",
                &[("net-2", "net-y"), ("net-1", "net-x")],
                &[("m1", "m2")],
            ),
        ]);
        let rows: Vec<Vec<&str>> = list
            .rows()
            .iter()
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["site-a", "site-b", "network", "net-1", "net-x"],
                ["site-a", "site-b", "network", "net-2", "net-y"],
                ["site-a", "site-b", "flavor", "m1", "m2"],
                ["site-b", "site-a", "network", "net-b", "net-a"],
            ]
        );
    }
}
