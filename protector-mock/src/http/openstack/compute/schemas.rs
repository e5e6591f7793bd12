//! Nova's request schemas, written after `nova/api/openstack/compute/schemas/{servers,
//! keypairs}.py`: server create per microversion range (2.1–2.18, 2.19–2.31, 2.32, 2.33–2.36,
//! 2.37–2.41, 2.42–2.51, 2.52–2.56, 2.57–2.62, 2.63–2.66, 2.67–2.73, 2.74–2.89, 2.90–2.93,
//! 2.94+), `os-stop` / `os-start`, and keypair create (2.1, 2.2, 2.10, 2.92).

use serde_json::{json, Map, Value};

use super::super::microversion::Microversion;
use super::super::schema::types;

/// The name of the server-create schema in force at `v` (for the validator cache).
pub(crate) fn server_create_range(v: Microversion) -> &'static str {
    match v.minor {
        0..=18 => "create",
        19..=31 => "create_v219",
        32 => "create_v232",
        33..=36 => "create_v233",
        37..=41 => "create_v237",
        42..=51 => "create_v242",
        52..=56 => "create_v252",
        57..=62 => "create_v257",
        63..=66 => "create_v263",
        67..=73 => "create_v267",
        74..=89 => "create_v274",
        90..=93 => "create_v290",
        _ => "create_v294",
    }
}

fn device_tag() -> Value {
    json!({"type": "string", "pattern": "^[^,/]*$", "maxLength": 60})
}

fn networks(v: Microversion) -> Value {
    let tagged = v.minor == 32 || v.at_least(42);
    let mut item = json!({
        "type": "object",
        "properties": {
            "fixed_ip": types::ip_address(),
            "port": {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
            "uuid": if v.at_least(37) { types::uuid() } else { json!({"type": "string"}) },
        },
        "additionalProperties": false
    });
    if tagged {
        item["properties"]["tag"] = device_tag();
    }
    let list = json!({"type": "array", "items": item});
    if v.at_least(37) {
        json!({"oneOf": [list, {"type": "string", "enum": ["none", "auto"]}]})
    } else {
        list
    }
}

fn block_device_mapping_v2(v: Microversion) -> Value {
    let tagged = v.minor == 32 || v.at_least(42);
    let mut properties = json!({
        "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
        "uuid": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9._-]*$"},
        "image_id": types::uuid(),
        "destination_type": {"type": "string", "enum": ["local", "volume"]},
        "guest_format": {"type": "string", "maxLength": 255},
        "device_type": {"type": "string", "maxLength": 255},
        "disk_bus": {"type": "string", "maxLength": 255},
        "boot_index": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$"},
        "device_name": {"type": "string", "maxLength": 255},
        "delete_on_termination": types::boolean(),
        "snapshot_id": types::uuid(),
        "volume_id": types::uuid(),
        "volume_size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1, "maximum": 2147483647},
        "no_device": {},
        "connection_info": {"type": "string", "maxLength": 16777215},
    });
    if tagged {
        properties["tag"] = device_tag();
    }
    if v.at_least(67) {
        properties["volume_type"] =
            json!({"type": ["string", "null"], "minLength": 0, "maxLength": 255});
    }
    json!({
        "type": "array",
        "items": {"type": "object", "properties": properties, "additionalProperties": false}
    })
}

/// `POST /servers` at `v`.
pub(crate) fn server_create(v: Microversion) -> Value {
    let mut server = Map::new();
    let mut put = |key: &str, value: Value| {
        server.insert(key.to_string(), value);
    };
    put("name", types::name());
    put(
        "imageRef",
        json!({"oneOf": [types::uuid(), {"type": "string", "maxLength": 0}]}),
    );
    put(
        "flavorRef",
        json!({"type": ["string", "integer"], "minLength": 1}),
    );
    put("adminPass", json!({"type": "string"}));
    put("metadata", types::metadata());
    put("networks", networks(v));
    put(
        "OS-DCF:diskConfig",
        json!({"type": "string", "enum": ["AUTO", "MANUAL"]}),
    );
    put("accessIPv4", json!({"type": "string", "format": "ipv4"}));
    put("accessIPv6", json!({"type": "string", "format": "ipv6"}));
    if !v.at_least(57) {
        put(
            "personality",
            json!({"type": "array", "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "contents": {"type": "string"}},
                "additionalProperties": false
            }}),
        );
    }
    put(
        "availability_zone",
        json!({"type": "string", "minLength": 1, "maxLength": 255}),
    );
    put(
        "block_device_mapping",
        json!({"type": "array", "items": {"type": "object"}}),
    );
    put("block_device_mapping_v2", block_device_mapping_v2(v));
    put("config_drive", types::boolean());
    put(
        "key_name",
        json!({"type": "string", "minLength": 1, "maxLength": 255}),
    );
    put(
        "min_count",
        json!({"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1}),
    );
    put(
        "max_count",
        json!({"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1}),
    );
    put("return_reservation_id", types::boolean());
    put(
        "security_groups",
        json!({"type": "array", "items": {
            "type": "object",
            "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255}},
            "additionalProperties": false
        }}),
    );
    put(
        "user_data",
        json!({"type": "string", "format": "base64", "maxLength": 65535}),
    );
    if v.at_least(19) {
        put("description", types::description());
    }
    if v.at_least(52) {
        put(
            "tags",
            json!({"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}, "maxItems": 50}),
        );
    }
    if v.at_least(63) {
        put(
            "trusted_image_certificates",
            json!({"type": ["array", "null"], "minItems": 1, "maxItems": 50, "uniqueItems": true,
                   "items": {"type": "string", "minLength": 1}}),
        );
    }
    if v.at_least(74) {
        put(
            "host",
            json!({"type": "string", "minLength": 1, "maxLength": 255}),
        );
        put(
            "hypervisor_hostname",
            json!({"type": "string", "minLength": 1, "maxLength": 255}),
        );
    }
    if v.at_least(90) {
        let hostname = if v.at_least(94) {
            json!({"type": "string", "minLength": 1, "maxLength": 255,
                   "pattern": "^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$"})
        } else {
            json!({"type": "string", "minLength": 2, "maxLength": 63,
                   "pattern": "^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$"})
        };
        put("hostname", hostname);
    }
    let mut required = vec!["name", "flavorRef"];
    if v.at_least(37) {
        required.push("networks");
    }
    let hints = json!({"type": "object", "additionalProperties": true});
    json!({
        "type": "object",
        "properties": {
            "server": {
                "type": "object",
                "properties": Value::Object(server),
                "required": required,
                "additionalProperties": false
            },
            "os:scheduler_hints": hints,
            "OS-SCH-HNT:scheduler_hints": hints,
        },
        "required": ["server"],
        "additionalProperties": false
    })
}

/// `{"os-stop": null}` / `{"os-start": null}`.
pub(crate) fn power_action(action: &str) -> Value {
    json!({
        "type": "object",
        "properties": { action: {"type": "null"} },
        "required": [action],
        "additionalProperties": false
    })
}

/// The name of the keypair-create schema in force at `v`.
pub(crate) fn keypair_create_range(v: Microversion) -> &'static str {
    match v.minor {
        0..=1 => "keypair_create",
        2..=9 => "keypair_create_v22",
        10..=91 => "keypair_create_v210",
        _ => "keypair_create_v292",
    }
}

/// `POST /os-keypairs` at `v`.
pub(crate) fn keypair_create(v: Microversion) -> Value {
    let name = if v.at_least(92) {
        json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[a-zA-Z0-9 @._-]+$"})
    } else {
        json!({"type": "string", "minLength": 1, "maxLength": 255, "format": "name_with_leading_trailing_spaces"})
    };
    let mut properties = json!({
        "name": name,
        "public_key": {"type": "string"},
    });
    if v.at_least(2) {
        properties["type"] = json!({"type": "string", "enum": ["ssh", "x509"]});
    }
    if v.at_least(10) {
        properties["user_id"] = json!({"type": "string"});
    }
    let required = if v.at_least(92) {
        json!(["name", "public_key"])
    } else {
        json!(["name"])
    };
    json!({
        "type": "object",
        "properties": {"keypair": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false
        }},
        "required": ["keypair"],
        "additionalProperties": false
    })
}
