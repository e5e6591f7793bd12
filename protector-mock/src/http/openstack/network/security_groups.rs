//! Neutron security groups and security group rules: the create attribute maps, and list,
//! show, create and delete for both.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::common::{empty_response, json_response, ApiError, SiteContext};
use super::views::{group_view, rule_view};
use super::{from_core, list_reply, parse_body, validate, F};
use crate::cloud::security_groups;
use crate::state::records::SecurityGroupRuleRec;

fn group_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"security_group": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 255},
                "description": {"type": "string", "maxLength": 255},
                "tenant_id": {"type": "string", "maxLength": 255},
                "project_id": {"type": "string", "maxLength": 255},
                "stateful": {"type": "boolean"},
            },
            "additionalProperties": false
        }},
        "required": ["security_group"],
        "additionalProperties": false
    })
}

fn rule_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"security_group_rule": {
            "type": "object",
            "properties": {
                "security_group_id": {"type": "string", "format": "uuid"},
                "direction": {"type": "string", "enum": ["ingress", "egress"]},
                "ethertype": {"type": "string", "enum": ["IPv4", "IPv6"]},
                "protocol": {"type": ["string", "integer", "null"]},
                "port_range_min": {"type": ["integer", "null"], "minimum": 0, "maximum": 65535},
                "port_range_max": {"type": ["integer", "null"], "minimum": 0, "maximum": 65535},
                "remote_ip_prefix": {"type": ["string", "null"]},
                "remote_group_id": {"oneOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
                "remote_address_group_id": {"type": "null"},
                "description": {"type": "string", "maxLength": 255},
                "tenant_id": {"type": "string"},
                "project_id": {"type": "string"},
            },
            "required": ["security_group_id", "direction"],
            "additionalProperties": false
        }},
        "required": ["security_group_rule"],
        "additionalProperties": false
    })
}

pub(super) async fn list_security_groups(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_security_groups", &headers, move |world, caller| {
        let items = security_groups::list_groups(world, caller)
            .into_iter()
            .map(|g| group_view(world, g))
            .collect();
        list_reply("security_groups", items, raw.as_deref())
    })
    .await
}

fn group_not_found(id: &str) -> ApiError {
    ApiError::not_found(F, format!("Security group {id} does not exist"))
        .with_type("SecurityGroupNotFound")
}

pub(super) async fn show_security_group(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "find_security_group", &headers, move |world, caller| {
        let group = security_groups::visible_group(world, caller, &id)
            .ok_or_else(|| group_not_found(&id))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"security_group": group_view(world, group)}),
        ))
    })
    .await
}

pub(super) async fn create_security_group(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(
        F,
        "create_security_group",
        &headers,
        move |world, caller| {
            let body = parse_body(&body)?;
            validate("security_group", group_schema, &body)?;
            let group = &body["security_group"];
            let created = security_groups::create_group(
                world,
                caller,
                group["name"].as_str().unwrap_or_default(),
                group["description"].as_str().unwrap_or_default(),
                group["project_id"].as_str().or(group["tenant_id"].as_str()),
            )
            .map_err(from_core)?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"security_group": group_view(world, &created)}),
            ))
        },
    )
    .await
}

pub(super) async fn delete_security_group(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(
        F,
        "delete_security_group",
        &headers,
        move |world, caller| {
            security_groups::delete_group(world, caller, &id).map_err(from_core)?;
            Ok(empty_response(StatusCode::NO_CONTENT))
        },
    )
    .await
}

pub(super) async fn list_rules(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(
        F,
        "list_security_group_rules",
        &headers,
        move |world, caller| {
            let items = security_groups::list_rules(world, caller)
                .into_iter()
                .map(|r| rule_view(world, r))
                .collect();
            list_reply("security_group_rules", items, raw.as_deref())
        },
    )
    .await
}

pub(super) async fn show_rule(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(
        F,
        "get_security_group_rule",
        &headers,
        move |world, caller| {
            let rule = security_groups::visible_rule(world, caller, &id).ok_or_else(|| {
                ApiError::not_found(F, format!("Security group rule {id} does not exist"))
                    .with_type("SecurityGroupRuleNotFound")
            })?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"security_group_rule": rule_view(world, rule)}),
            ))
        },
    )
    .await
}

pub(super) async fn create_rule(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(
        F,
        "create_security_group_rule",
        &headers,
        move |world, caller| {
            let body = parse_body(&body)?;
            validate("security_group_rule", rule_schema, &body)?;
            let rule = &body["security_group_rule"];
            let protocol = match &rule["protocol"] {
                Value::String(s) => Some(s.to_ascii_lowercase()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            let port = |key: &str| rule[key].as_u64().map(|p| p as u32);
            let (min, max) = (port("port_range_min"), port("port_range_max"));
            if min.is_some() && protocol.is_none() {
                return Err(ApiError::bad_request(
                    F,
                    "Must also specify protocol if port range is given.",
                )
                .with_type("SecurityGroupProtocolRequiredWithPorts"));
            }
            if let (Some(min), Some(max)) = (min, max) {
                if min > max {
                    return Err(ApiError::bad_request(
                        F,
                        "For TCP/UDP protocols, port_range_min must be <= port_range_max",
                    )
                    .with_type("SecurityGroupInvalidPortRange"));
                }
            }
            let record = SecurityGroupRuleRec {
                id: String::new(),
                site: String::new(),
                security_group_id: rule["security_group_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                project_id: String::new(),
                direction: rule["direction"].as_str().unwrap_or_default().to_string(),
                ethertype: rule["ethertype"].as_str().unwrap_or("IPv4").to_string(),
                protocol,
                port_range_min: min,
                port_range_max: max.or(min),
                remote_ip_prefix: rule["remote_ip_prefix"].as_str().map(str::to_string),
                remote_group_id: rule["remote_group_id"].as_str().map(str::to_string),
                description: rule["description"].as_str().unwrap_or_default().to_string(),
            };
            let created = security_groups::create_rule(world, caller, record).map_err(from_core)?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"security_group_rule": rule_view(world, &created)}),
            ))
        },
    )
    .await
}

pub(super) async fn delete_rule(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(
        F,
        "delete_security_group_rule",
        &headers,
        move |world, caller| {
            security_groups::delete_rule(world, caller, &id).map_err(from_core)?;
            Ok(empty_response(StatusCode::NO_CONTENT))
        },
    )
    .await
}
