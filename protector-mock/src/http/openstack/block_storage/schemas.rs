//! Cinder's request schemas, written after `cinder/api/schemas/{volumes,volume_manage,
//! volume_actions,volume_unmanage,groups,snapshots}.py`: volume create (lenient before 3.53,
//! strict from 3.53), manage (3.0–3.15 and 3.16+ with `cluster`), unmanage, set-bootable,
//! group create / update / delete, snapshot create.

use serde_json::{json, Value};

use super::super::microversion::Microversion;
use super::super::schema::types;

fn nullable_name() -> Value {
    json!({"type": ["string", "null"], "minLength": 0, "maxLength": 255})
}

fn nullable_uuid() -> Value {
    json!({"oneOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]})
}

/// Cinder's `metadata_allows_null` (its key pattern has no `/`, unlike Nova's).
fn metadata_allows_null() -> Value {
    json!({"type": ["object", "null"], "patternProperties": {
        "^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}
    }, "additionalProperties": false})
}

/// The name of the volume-create schema in force at `v`.
pub(crate) fn volume_create_range(v: Microversion) -> &'static str {
    match v.minor {
        0..=12 => "volume_create",
        13..=46 => "volume_create_v313",
        47..=52 => "volume_create_v347",
        _ => "volume_create_v353",
    }
}

/// `POST /volumes` at `v`.
pub(crate) fn volume_create(v: Microversion) -> Value {
    let mut properties = json!({
        "name": nullable_name(),
        "description": types::description(),
        "display_name": nullable_name(),
        "display_description": types::description(),
        "size": {"type": ["integer", "string", "null"], "pattern": "^[0-9]+$", "minimum": 1, "maximum": 2147483647},
        "availability_zone": nullable_name(),
        "source_volid": nullable_uuid(),
        "snapshot_id": nullable_uuid(),
        "volume_type": nullable_name(),
        "metadata": metadata_allows_null(),
        "imageRef": {"type": ["string", "null"]},
        "image_id": {"type": ["string", "null"]},
        "consistencygroup_id": nullable_uuid(),
        "multiattach": types::boolean(),
    });
    if v.at_least(13) {
        properties["group_id"] = nullable_uuid();
    }
    if v.at_least(47) {
        properties["backup_id"] = nullable_uuid();
    }
    json!({
        "type": "object",
        "properties": {
            "volume": {
                "type": "object",
                "properties": properties,
                "additionalProperties": !v.at_least(53)
            },
            "OS-SCH-HNT:scheduler_hints": {"type": ["object", "null"]},
        },
        "required": ["volume"],
        "additionalProperties": !v.at_least(53)
    })
}

/// The name of the manage schema in force at `v`.
pub(crate) fn manage_range(v: Microversion) -> &'static str {
    if v.at_least(16) {
        "volume_manage_create_v316"
    } else {
        "volume_manage_create"
    }
}

/// `POST /os-volume-manage` and `POST /manageable_volumes` at `v`.
pub(crate) fn manage(v: Microversion) -> Value {
    let mut properties = json!({
        "description": types::description(),
        "availability_zone": nullable_name(),
        "bootable": types::boolean(),
        "volume_type": nullable_name(),
        "name": nullable_name(),
        "host": {"type": ["string", "null"], "maxLength": 255, "pattern": "^[a-zA-Z0-9-._#@:/+\\[\\]]*$"},
        "ref": {"type": ["object", "string"]},
        "metadata": metadata_allows_null(),
    });
    if v.at_least(16) {
        properties["cluster"] = json!({"type": ["string", "null"], "maxLength": 255, "pattern": "^[a-zA-Z0-9-._#@:/+\\[\\]]*$"});
    }
    json!({
        "type": "object",
        "properties": {"volume": {
            "type": "object",
            "properties": properties,
            "required": ["ref"],
            "additionalProperties": false
        }},
        "required": ["volume"],
        "additionalProperties": false
    })
}

/// `{"os-unmanage": null}`.
pub(crate) fn unmanage() -> Value {
    json!({
        "type": "object",
        "properties": {"os-unmanage": {"type": ["null", "object"]}},
        "required": ["os-unmanage"],
        "additionalProperties": false
    })
}

/// `{"os-set_bootable": {"bootable": …}}`.
pub(crate) fn set_bootable() -> Value {
    json!({
        "type": "object",
        "properties": {"os-set_bootable": {
            "type": "object",
            "properties": {"bootable": types::boolean()},
            "required": ["bootable"],
            "additionalProperties": false
        }},
        "required": ["os-set_bootable"],
        "additionalProperties": false
    })
}

/// `POST /groups`.
pub(crate) fn group_create() -> Value {
    json!({
        "type": "object",
        "properties": {"group": {
            "type": "object",
            "properties": {
                "description": types::description(),
                "group_type": {"type": "string", "minLength": 1, "maxLength": 255},
                "name": nullable_name(),
                "volume_types": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": true,
                    "items": {"type": "string", "maxLength": 255}
                },
                "availability_zone": nullable_name(),
            },
            "required": ["group_type", "volume_types"],
            "additionalProperties": false
        }},
        "required": ["group"],
        "additionalProperties": false
    })
}

/// `PUT /groups/{id}`.
pub(crate) fn group_update() -> Value {
    json!({
        "type": "object",
        "properties": {"group": {
            "type": "object",
            "properties": {
                "description": types::description(),
                "name": nullable_name(),
                "add_volumes": {"type": ["string", "null"]},
                "remove_volumes": {"type": ["string", "null"]},
            },
            "additionalProperties": false
        }},
        "required": ["group"],
        "additionalProperties": false
    })
}

/// `POST /groups/{id}/action {"delete": …}`.
pub(crate) fn group_delete() -> Value {
    json!({
        "type": "object",
        "properties": {"delete": {
            "type": "object",
            "properties": {"delete-volumes": types::boolean()},
            "additionalProperties": false
        }},
        "required": ["delete"],
        "additionalProperties": false
    })
}

/// `POST /snapshots`.
pub(crate) fn snapshot_create() -> Value {
    json!({
        "type": "object",
        "properties": {"snapshot": {
            "type": "object",
            "properties": {
                "name": nullable_name(),
                "display_name": nullable_name(),
                "description": types::description(),
                "display_description": types::description(),
                "volume_id": types::uuid(),
                "force": types::boolean(),
                "metadata": metadata_allows_null(),
            },
            "required": ["volume_id"],
            "additionalProperties": false
        }},
        "required": ["snapshot"],
        "additionalProperties": false
    })
}
