//! `POST`/`DELETE` of Neutron networks and subnets: the create attribute maps of
//! `neutron_lib/api/definitions/{network,subnet}.py` (unknown attributes refused), Neutron's
//! answers (201 with the resource, 204 on delete) and its error types.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::common::{empty_response, json_response, ApiError, SiteContext};
use super::views::{network_view, subnet_view};
use super::{from_core, parse_body, validate, F};
use crate::cloud::network_create::{self, CreateNetwork, CreateSubnet, Gateway};

fn network_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"network": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 255},
                "admin_state_up": {"type": "boolean"},
                "shared": {"type": "boolean"},
                "tenant_id": {"type": "string", "maxLength": 255},
                "project_id": {"type": "string", "maxLength": 255},
                "description": {"type": "string", "maxLength": 255},
                "mtu": {"type": "integer"},
                "port_security_enabled": {"type": "boolean"},
                "router:external": {"type": "boolean"},
                "availability_zone_hints": {"type": "array", "items": {"type": "string"}},
                "qos_policy_id": {"type": "null"},
                "is_default": {"type": "boolean"},
            },
            "additionalProperties": false
        }},
        "required": ["network"],
        "additionalProperties": false
    })
}

fn subnet_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"subnet": {
            "type": "object",
            "properties": {
                "network_id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "maxLength": 255},
                "ip_version": {"type": "integer", "enum": [4, 6]},
                "cidr": {"type": "string"},
                "gateway_ip": {"type": ["string", "null"]},
                "allocation_pools": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
                    "required": ["start", "end"],
                    "additionalProperties": false
                }},
                "enable_dhcp": {"type": "boolean"},
                "dns_nameservers": {"type": "array", "items": {"type": "string"}},
                "tenant_id": {"type": "string", "maxLength": 255},
                "project_id": {"type": "string", "maxLength": 255},
                "description": {"type": "string", "maxLength": 255},
                "subnetpool_id": {"type": "null"},
                "ipv6_ra_mode": {"type": "null"},
                "ipv6_address_mode": {"type": "null"},
                "service_types": {"type": "array", "maxItems": 0},
                "dns_publish_fixed_ip": {"type": "boolean"},
            },
            "required": ["network_id", "ip_version"],
            "additionalProperties": false
        }},
        "required": ["subnet"],
        "additionalProperties": false
    })
}

/// Neutron's exception class for the refusals of [`network_create`].
fn typed(error: protector_core::Error) -> ApiError {
    let message = error.message().to_string();
    let api = from_core(error);
    let kind = [
        ("There are one or more ports still in use", "NetworkInUse"),
        ("One or more ports have an IP allocation", "SubnetInUse"),
        ("Quota exceeded for resources", "OverQuota"),
        (
            "conflicts with allocation pool",
            "GatewayConflictWithAllocationPools",
        ),
        ("spans beyond the subnet cidr", "OutOfBoundsAllocationPool"),
        (
            "Found overlapping allocation pools",
            "OverlappingAllocationPools",
        ),
        ("The allocation pool ", "InvalidAllocationPool"),
        ("Invalid input for", "InvalidInput"),
    ]
    .iter()
    .find(|(needle, _)| message.contains(needle))
    .map(|(_, kind)| *kind);
    match kind {
        Some(kind) => api.with_type(kind),
        None => api,
    }
}

fn unsupported(attribute: &str, why: &str) -> ApiError {
    ApiError::bad_request(F, format!("Invalid input for {attribute}. Reason: {why}."))
        .with_type("InvalidInput")
}

pub(super) async fn create_network(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(F, "create_network", &headers, move |world, caller| {
        let body = parse_body(&body)?;
        validate("network", network_schema, &body)?;
        let network = &body["network"];
        if network["router:external"].as_bool() == Some(true) {
            if !caller.is_admin() {
                return Err(ApiError::forbidden(
                    F,
                    "(rule:create_network and rule:create_network:router:external) is disallowed by policy",
                )
                .with_type("PolicyNotAuthorized"));
            }
            return Err(unsupported(
                "router:external",
                "the simulator has no external networks (no routers, no floating IPs)",
            ));
        }
        if network["port_security_enabled"].as_bool() == Some(false) {
            return Err(unsupported(
                "port_security_enabled",
                "the simulator applies security groups to every port; leave port security on",
            ));
        }
        let request = CreateNetwork {
            name: network["name"].as_str().unwrap_or_default().to_string(),
            admin_state_up: network["admin_state_up"].as_bool().unwrap_or(true),
            shared: network["shared"].as_bool().unwrap_or(false),
            mtu: network["mtu"].as_u64().map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
            description: network["description"].as_str().unwrap_or_default().to_string(),
            project_id: network["project_id"]
                .as_str()
                .or(network["tenant_id"].as_str())
                .map(str::to_string),
        };
        if network["mtu"].as_i64().is_some_and(|m| m < 0) {
            return Err(unsupported("mtu", "'mtu' must be a positive integer"));
        }
        let created = network_create::create_network(world, caller, &request).map_err(typed)?;
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"network": network_view(world, caller, &created)}),
        ))
    })
    .await
}

pub(super) async fn delete_network(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "delete_network", &headers, move |world, caller| {
        network_create::delete_network(world, caller, &id).map_err(typed)?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}

pub(super) async fn create_subnet(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(F, "create_subnet", &headers, move |world, caller| {
        let body = parse_body(&body)?;
        validate("subnet", subnet_schema, &body)?;
        let subnet = &body["subnet"];
        let Some(cidr) = subnet["cidr"].as_str() else {
            return Err(ApiError::bad_request(
                F,
                "Bad subnets request: a cidr must be specified in the absence of a subnet pool.",
            )
            .with_type("BadRequest"));
        };
        let gateway = match subnet.get("gateway_ip") {
            None => Gateway::Default,
            Some(Value::Null) => Gateway::Disabled,
            Some(value) => Gateway::Address(value.as_str().unwrap_or_default().to_string()),
        };
        let strings = |key: &str| -> Vec<String> {
            subnet[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let request = CreateSubnet {
            network_id: subnet["network_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name: subnet["name"].as_str().unwrap_or_default().to_string(),
            ip_version: subnet["ip_version"].as_u64().unwrap_or(4),
            cidr: cidr.to_string(),
            gateway,
            allocation_pools: subnet["allocation_pools"].as_array().map(|pools| {
                pools
                    .iter()
                    .map(|p| {
                        (
                            p["start"].as_str().unwrap_or_default().to_string(),
                            p["end"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            }),
            enable_dhcp: subnet["enable_dhcp"].as_bool().unwrap_or(true),
            dns_nameservers: strings("dns_nameservers"),
            description: subnet["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            project_id: subnet["project_id"]
                .as_str()
                .or(subnet["tenant_id"].as_str())
                .map(str::to_string),
        };
        let created = network_create::create_subnet(world, caller, &request).map_err(typed)?;
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"subnet": subnet_view(world, &created)}),
        ))
    })
    .await
}

pub(super) async fn delete_subnet(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "delete_subnet", &headers, move |world, caller| {
        network_create::delete_subnet(world, caller, &id).map_err(typed)?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}
