//! Cinder's JSON views of volumes, types, services, groups, group types, snapshots and
//! manageable volumes, per microversion and per role.

use serde_json::{json, Value};

use super::super::common::{iso_micros, SiteContext};
use super::super::microversion::Microversion;
use crate::cloud::block_storage::{ManageableVolume, USER_VISIBLE_SPECS};
use crate::cloud::Caller;
use crate::state::records::{
    CinderSnapshotRec, GroupTypeRec, VolumeGroupRec, VolumeRec, VolumeServiceRec, VolumeTypeRec,
};
use crate::state::World;

fn links(ctx: &SiteContext, project_id: &str, path: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/volume/v3/{project_id}/{path}", ctx.base_url)},
        {"rel": "bookmark", "href": format!("{}/volume/{project_id}/{path}", ctx.base_url)},
    ])
}

/// `GET /volumes` (summary).
pub(crate) fn volume_summary(ctx: &SiteContext, v: &VolumeRec) -> Value {
    json!({
        "id": v.id,
        "name": v.name,
        "links": links(ctx, &v.project_id, &format!("volumes/{}", v.id)),
    })
}

fn replication_status(world: &World, v: &VolumeRec) -> &'static str {
    let replicated = world
        .volume_types
        .get(&v.volume_type_id)
        .and_then(|t| t.extra_specs.get("replication_enabled"))
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("<is> true"));
    if replicated {
        "enabled"
    } else {
        "disabled"
    }
}

/// `GET /volumes/{id}` and `/volumes/detail`.
pub(crate) fn volume(
    ctx: &SiteContext,
    world: &World,
    caller: &Caller,
    v: &VolumeRec,
    version: Microversion,
) -> Value {
    let attachments: Vec<Value> = v
        .attachments
        .iter()
        .map(|a| {
            let id = world.derived_uuid(&["cinder-attachment", &v.id, &a.server_id]);
            json!({
                "id": id,
                "attachment_id": id,
                "volume_id": v.id,
                "server_id": a.server_id,
                "host_name": null,
                "device": a.device,
                "attached_at": iso_micros(v.updated.unwrap_or(v.created)),
            })
        })
        .collect();
    let mut body = json!({
        "id": v.id,
        "name": v.name,
        "description": v.description,
        "status": crate::cloud::block_storage::api_status(&v.status),
        "size": v.size_gb,
        "availability_zone": v.availability_zone,
        "created_at": iso_micros(v.created),
        "updated_at": v.updated.map(iso_micros),
        "attachments": attachments,
        "links": links(ctx, &v.project_id, &format!("volumes/{}", v.id)),
        "volume_type": v.volume_type,
        "snapshot_id": null,
        "source_volid": null,
        "metadata": v.metadata,
        "user_id": v.user_id,
        "bootable": if v.bootable { "true" } else { "false" },
        "encrypted": false,
        "replication_status": replication_status(world, v),
        "consistencygroup_id": null,
        "multiattach": false,
        "migration_status": null,
        "os-vol-tenant-attr:tenant_id": v.project_id,
    });
    if caller.is_admin() {
        body["os-vol-host-attr:host"] = json!(v.host);
        body["os-vol-mig-status-attr:migstat"] = Value::Null;
        body["os-vol-mig-status-attr:name_id"] = Value::Null;
    }
    if version.at_least(13) {
        body["group_id"] = json!(v.group_id);
    }
    if version.at_least(21) && caller.is_admin() {
        body["provider_id"] = json!(v.array_volume);
    }
    if version.at_least(48) {
        body["shared_targets"] = json!(false);
        body["service_uuid"] = json!(world.derived_uuid(&["cinder-service", &v.site]));
    }
    if version.at_least(61) && caller.is_admin() {
        body["cluster_name"] = Value::Null;
    }
    if version.at_least(63) {
        body["volume_type_id"] = json!(v.volume_type_id);
    }
    if version.at_least(65) {
        body["consumes_quota"] = json!(true);
    }
    body
}

/// A volume type; non-admins see only the user-visible extra specs.
pub(crate) fn volume_type(caller: &Caller, t: &VolumeTypeRec) -> Value {
    let specs: serde_json::Map<String, Value> = t
        .extra_specs
        .iter()
        .filter(|(k, _)| caller.is_admin() || USER_VISIBLE_SPECS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": true,
        "os-volume-type-access:is_public": true,
        "qos_specs_id": null,
        "extra_specs": specs,
    })
}

/// One `cinder-volume` service.
pub(crate) fn service(s: &VolumeServiceRec, updated: &str, version: Microversion) -> Value {
    let mut body = json!({
        "binary": s.binary,
        "host": s.host,
        "zone": s.zone,
        "status": s.status,
        "state": s.state,
        "updated_at": updated,
        "disabled_reason": null,
        "replication_status": "enabled",
        "active_backend_id": null,
        "frozen": false,
    });
    if version.at_least(7) {
        body["cluster"] = Value::Null;
    }
    if version.at_least(49) {
        body["backend_state"] = json!(if s.state == "up" { "up" } else { "down" });
    }
    body
}

/// A manageable volume; the detail view adds the reasons and the Cinder id.
pub(crate) fn manageable(m: &ManageableVolume, detail: bool) -> Value {
    let mut body = json!({
        "reference": {"name": m.name},
        "size": m.size_gb,
        "safe_to_manage": m.safe_to_manage,
    });
    if detail {
        body["reason_not_safe"] = json!(m.reason_not_safe);
        body["cinder_id"] = json!(m.cinder_id);
        body["extra_info"] = Value::Null;
    }
    body
}

/// A group (detail view).
pub(crate) fn group(
    world: &World,
    g: &VolumeGroupRec,
    version: Microversion,
    list_volumes: bool,
) -> Value {
    let group_type = if g.group_type_id.is_empty() {
        crate::cloud::block_storage::default_group_type(world, &g.site)
    } else {
        g.group_type_id.clone()
    };
    let mut body = json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "status": g.status,
        "availability_zone": "nova",
        "created_at": iso_micros(g.created.unwrap_or(world.meta.epoch)),
        "group_type": group_type,
        "volume_types": g.volume_type_ids,
    });
    if version.at_least(14) {
        body["group_snapshot_id"] = Value::Null;
        body["source_group_id"] = Value::Null;
    }
    if version.at_least(25) && list_volumes {
        body["volumes"] = json!(crate::cloud::block_storage::group_members(world, &g.id));
    }
    if version.at_least(38) {
        body["replication_status"] = json!("disabled");
    }
    if version.at_least(58) {
        body["project_id"] = json!(g.project_id);
    }
    body
}

/// A group type; only admins see its group specs.
pub(crate) fn group_type(caller: &Caller, t: &GroupTypeRec) -> Value {
    let mut body = json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": true,
    });
    if caller.is_admin() {
        body["group_specs"] = json!(t.group_specs);
    }
    body
}

/// A snapshot (detail view).
pub(crate) fn snapshot(s: &CinderSnapshotRec, version: Microversion) -> Value {
    let mut body = json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "status": s.status,
        "size": s.size_gb,
        "volume_id": s.volume_id,
        "created_at": iso_micros(s.created),
        "updated_at": null,
        "metadata": s.metadata,
        "os-extended-snapshot-attributes:progress": if s.status == "creating" { "0%" } else { "100%" },
        "os-extended-snapshot-attributes:project_id": s.project_id,
    });
    if version.at_least(14) {
        body["group_snapshot_id"] = Value::Null;
    }
    if version.at_least(65) {
        body["consumes_quota"] = json!(true);
    }
    body
}
