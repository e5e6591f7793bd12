//! Neutron ports: the create and update attribute maps, and list, show, create, update and
//! delete, each limited to the ports the caller may see.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::common::{empty_response, json_response, ApiError, SiteContext};
use super::views::port_view;
use super::{from_core, list_reply, not_found, parse_body, validate, F};
use crate::cloud::network::{self as neutron, InUse, PortExtras};
use crate::cloud::Caller;
use crate::state::records::PortRec;
use crate::state::World;
use protector_core::api::CreatePort;

fn port_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"port": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 255},
                "network_id": {"type": "string", "format": "uuid"},
                "admin_state_up": {"type": "boolean"},
                "mac_address": {"type": "string", "pattern": "^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$"},
                "fixed_ips": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "subnet_id": {"type": "string", "format": "uuid"},
                        "ip_address": {"type": "string"}
                    },
                    "additionalProperties": false
                }},
                "device_id": {"type": "string", "maxLength": 255},
                "device_owner": {"type": "string", "maxLength": 255},
                "tenant_id": {"type": "string", "maxLength": 255},
                "project_id": {"type": "string", "maxLength": 255},
                "security_groups": {"type": ["array", "null"], "items": {"type": "string", "format": "uuid"}},
                "port_security_enabled": {"type": "boolean"},
                "binding:vnic_type": {"type": "string", "enum": [
                    "normal", "direct", "macvtap", "baremetal", "direct-physical",
                    "virtio-forwarder", "smart-nic", "vdpa", "accelerator-direct",
                    "accelerator-direct-physical", "remote-managed"
                ]},
                "binding:host_id": {"type": "string"},
                "binding:profile": {"type": ["object", "null"]},
                "allowed_address_pairs": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"ip_address": {"type": "string"}, "mac_address": {"type": "string"}},
                    "required": ["ip_address"],
                    "additionalProperties": false
                }},
                "extra_dhcp_opts": {"type": "array"},
                "description": {"type": "string", "maxLength": 255},
                "qos_policy_id": {"type": ["string", "null"]},
                "propagate_uplink_status": {"type": "boolean"},
            },
            "required": ["network_id"],
            "additionalProperties": false
        }},
        "required": ["port"],
        "additionalProperties": false
    })
}

fn port_update_schema() -> Value {
    let mut schema = port_schema();
    let port = &mut schema["properties"]["port"];
    port["required"] = json!([]);
    if let Some(properties) = port["properties"].as_object_mut() {
        // Not updatable (`allow_put: False`).
        properties.remove("network_id");
    }
    schema
}

pub(super) async fn list_ports(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_ports", &headers, move |world, caller| {
        let mut ports: Vec<&PortRec> = world
            .ports
            .values()
            .filter(|p| p.site == caller.site && caller.can_see(&p.project_id))
            .collect();
        ports.sort_by_key(|p| p.seq);
        let items = ports
            .into_iter()
            .map(|p| port_view(world, caller, p))
            .collect();
        list_reply("ports", items, raw.as_deref())
    })
    .await
}

fn visible_port<'w>(world: &'w World, caller: &Caller, id: &str) -> Result<&'w PortRec, ApiError> {
    world
        .ports
        .get(id)
        .filter(|p| p.site == caller.site && caller.can_see(&p.project_id))
        .ok_or_else(|| not_found("port", id))
}

pub(super) async fn show_port(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "get_port", &headers, move |world, caller| {
        let port = visible_port(world, caller, &id)?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"port": port_view(world, caller, port)}),
        ))
    })
    .await
}

/// `POST /v2.0/ports`: one port (`{"port": {…}}`) or several (`{"ports": [{…}, …]}`, Neutron's
/// bulk create: atomic, all the ports or none, answered in the request's order).
pub(super) async fn create_port(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(F, "create_port", &headers, move |world, caller| {
        let body = parse_body(&body)?;
        let Some(ports) = body.get("ports") else {
            validate("port", port_schema, &body)?;
            let record = create_one(world, caller, &body["port"], &mut InUse::new())?;
            return Ok(json_response(
                StatusCode::CREATED,
                &json!({"port": port_view(world, caller, &record)}),
            ));
        };
        let ports = match ports.as_array() {
            Some(ports) if !ports.is_empty() && body.as_object().is_some_and(|b| b.len() == 1) => ports,
            _ => {
                return Err(ApiError::bad_request(
                    F,
                    "Invalid input for operation: a bulk request needs a non-empty 'ports' list and nothing else.",
                )
                .with_type("InvalidInput"))
            }
        };
        for port in ports {
            validate("port", port_schema, &json!({ "port": port }))?;
        }
        let mut made: Vec<PortRec> = Vec::new();
        let mut in_use = InUse::new();
        for port in ports {
            match create_one(world, caller, port, &mut in_use) {
                Ok(record) => made.push(record),
                Err(e) => {
                    // All or none: the ports made so far go again.
                    for record in &made {
                        world.ports.remove(&record.id);
                    }
                    return Err(e);
                }
            }
        }
        let views: Vec<Value> = made
            .iter()
            .map(|record| port_view(world, caller, record))
            .collect();
        Ok(json_response(StatusCode::CREATED, &json!({ "ports": views })))
    })
    .await
}

/// Makes the port one (validated) `port` object of a create request asks for.
fn create_one(
    world: &mut World,
    caller: &Caller,
    port: &Value,
    in_use: &mut InUse,
) -> Result<PortRec, ApiError> {
    let network_id = port["network_id"].as_str().unwrap_or_default().to_string();
    if neutron::visible_network(world, caller, &network_id).is_none() {
        return Err(not_found("network", &network_id));
    }
    let mut fixed_ips = Vec::new();
    for entry in port["fixed_ips"].as_array().into_iter().flatten() {
        let address = entry["ip_address"].as_str().map(str::to_string);
        let subnet = match (entry["subnet_id"].as_str(), &address) {
            (Some(subnet), _) => subnet.to_string(),
            (None, Some(ip)) => neutron::subnet_for_address(world, &network_id, ip)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        F,
                        format!(
                            "Invalid input for operation: IP address {ip} is not a valid IP for any of the subnets on the specified network."
                        ),
                    )
                    .with_type("InvalidInput")
                })?,
            (None, None) => {
                return Err(ApiError::bad_request(
                    F,
                    "Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '{}'.",
                )
                .with_type("HTTPBadRequest"))
            }
        };
        fixed_ips.push((subnet, address));
    }
    let security_group_ids: Vec<String> = port["security_groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_string))
        .collect();
    if let Some(project) = port["project_id"].as_str().or(port["tenant_id"].as_str()) {
        if project != caller.project_id && !caller.is_admin() {
            return Err(ApiError::forbidden(
                F,
                "(rule:create_port and rule:create_port:tenant_id) is disallowed by policy",
            )
            .with_type("PolicyNotAuthorized"));
        }
    }
    let request = CreatePort {
        network_id,
        name: port["name"].as_str().unwrap_or_default().to_string(),
        fixed_ips,
        security_group_ids,
        description: port["description"].as_str().unwrap_or_default().to_string(),
    };
    let extras = PortExtras {
        device_id: port["device_id"].as_str().map(str::to_string),
        device_owner: port["device_owner"].as_str().map(str::to_string),
        mac_address: port["mac_address"].as_str().map(str::to_string),
    };
    let created =
        neutron::create_port_with(world, caller, &request, &extras, in_use).map_err(from_core)?;
    if port
        .get("security_groups")
        .is_some_and(|g| g.as_array().is_some_and(Vec::is_empty))
    {
        // An explicit empty list means no groups (the service applies `default` otherwise).
        if let Some(record) = world.ports.get_mut(&created.id) {
            record.security_group_ids.clear();
        }
    }
    Ok(visible_port(world, caller, &created.id)?.clone())
}

pub(super) async fn update_port(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(F, "update_port", &headers, move |world, caller| {
        let body = parse_body(&body)?;
        validate("port_update", port_update_schema, &body)?;
        let port = &body["port"];
        visible_port(world, caller, &id)?;
        let groups: Option<Vec<String>> = port.get("security_groups").map(|g| {
            g.as_array()
                .into_iter()
                .flatten()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect()
        });
        let updated = neutron::update_port(
            world,
            caller,
            &id,
            port["name"].as_str(),
            port["description"].as_str(),
            groups.as_deref(),
        )
        .map_err(from_core)?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"port": port_view(world, caller, &updated)}),
        ))
    })
    .await
}

pub(super) async fn delete_port(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "delete_port", &headers, move |world, caller| {
        visible_port(world, caller, &id)?;
        neutron::delete_port(world, caller, &id).map_err(from_core)?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}
