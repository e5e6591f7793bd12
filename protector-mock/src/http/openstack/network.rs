//! Neutron v2.0 under `/network`: versions, extensions, networks and subnets (read), ports
//! (create, list, show, update, delete), security groups and rules. Request bodies are checked
//! against the attribute maps of `neutron_lib/api/definitions` (unknown attributes refused as
//! Neutron does); errors are `{"NeutronError": {"type", "message", "detail"}}`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::common::{
    empty_response, iso_seconds, json_response, parse_query, python_repr, ApiError, Family, Query,
    Reply, SiteContext,
};
use super::schema;
use crate::cloud::network::{self as neutron, PortExtras};
use crate::cloud::{security_groups, Caller};
use crate::state::records::{
    NetworkRec, PortRec, SecurityGroupRec, SecurityGroupRuleRec, SubnetRec,
};
use crate::state::World;
use protector_core::api::CreatePort;

const F: Family = Family::Network;

/// Neutron's routes.
pub(crate) fn router() -> Router<SiteContext> {
    Router::new()
        .route("/network", get(versions))
        .route("/network/", get(versions))
        .route("/network/v2.0", get(resources))
        .route("/network/v2.0/", get(resources))
        .route("/network/v2.0/extensions", get(list_extensions))
        .route("/network/v2.0/extensions/{alias}", get(show_extension))
        .route("/network/v2.0/availability_zones", get(availability_zones))
        .route("/network/v2.0/networks", get(list_networks))
        .route("/network/v2.0/networks/{id}", get(show_network))
        .route("/network/v2.0/subnets", get(list_subnets))
        .route("/network/v2.0/subnets/{id}", get(show_subnet))
        .route("/network/v2.0/ports", get(list_ports).post(create_port))
        .route(
            "/network/v2.0/ports/{id}",
            get(show_port).put(update_port).delete(delete_port),
        )
        .route(
            "/network/v2.0/security-groups",
            get(list_security_groups).post(create_security_group),
        )
        .route(
            "/network/v2.0/security-groups/{id}",
            get(show_security_group).delete(delete_security_group),
        )
        .route(
            "/network/v2.0/security-group-rules",
            get(list_rules).post(create_rule),
        )
        .route(
            "/network/v2.0/security-group-rules/{id}",
            get(show_rule).delete(delete_rule),
        )
}

// ------------------------------------------------------------------ plumbing

fn from_core(error: protector_core::Error) -> ApiError {
    ApiError::from_error(F, &error)
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            F,
            "Failed to parse request. Malformed JSON in request body.",
        )
        .with_type("HTTPBadRequest")
    })
}

/// Neutron's words for a body that breaks `resource`'s attribute map.
fn validate(resource: &str, schema: impl FnOnce() -> Value, body: &Value) -> Result<(), ApiError> {
    let validator = schema::validator(&format!("neutron/{resource}"), schema);
    let Some(violation) = schema::first_violation(&validator, body) else {
        return Ok(());
    };
    let message = match violation.path.as_slice() {
        [] if !violation.unexpected.is_empty() => format!(
            "Unrecognized attribute(s) '{}'",
            violation.unexpected.join(", ")
        ),
        [] => format!("Unable to find '{resource}' in request body"),
        [_] if !violation.unexpected.is_empty() => format!(
            "Unrecognized attribute(s) '{}'",
            violation.unexpected.join(", ")
        ),
        [_] if violation.message.ends_with("is a required property") => {
            let attribute = violation
                .message
                .trim_end_matches(" is a required property")
                .trim_matches('\'');
            format!("Failed to parse request. Required attribute '{attribute}' not specified")
        }
        [_] => format!("Invalid format for {resource}: {}", violation.message),
        [_, attribute, ..] => {
            let reason = if violation.message.contains("is not a 'uuid'") {
                format!("{} is not a valid UUID", python_repr(&violation.value))
            } else if violation.message.contains("is not of type 'boolean'") {
                format!(
                    "{} is not a valid boolean value",
                    python_repr(&violation.value)
                )
            } else {
                violation.message.clone()
            };
            format!("Invalid input for {attribute}. Reason: {reason}.")
        }
    };
    Err(ApiError::bad_request(F, message).with_type("HTTPBadRequest"))
}

fn not_found(kind: &str, id: &str) -> ApiError {
    let (name, label) = match kind {
        "network" => ("NetworkNotFound", "Network"),
        "subnet" => ("SubnetNotFound", "Subnet"),
        "port" => ("PortNotFound", "Port"),
        _ => ("HTTPNotFound", kind),
    };
    ApiError::not_found(F, format!("{label} {id} could not be found.")).with_type(name)
}

/// Every value of a repeated query parameter (`fields=a&fields=b`).
fn query_all(raw: Option<&str>, key: &str) -> Vec<String> {
    raw.unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| parse_query(Some(&format!("x={v}")))["x"].clone())
        .collect()
}

/// Neutron's generic list filters: every query parameter naming a scalar attribute must
/// match it; `fields` narrows the attributes returned.
fn filter_and_narrow(items: Vec<Value>, query: &Query, fields: &[String]) -> Vec<Value> {
    items
        .into_iter()
        .filter(|item| {
            query.iter().all(|(key, wanted)| {
                if matches!(
                    key.as_str(),
                    "fields" | "limit" | "marker" | "sort_key" | "sort_dir" | "page_reverse"
                ) {
                    return true;
                }
                match item.get(key) {
                    Some(Value::String(s)) => s == wanted,
                    Some(Value::Bool(b)) => b.to_string() == wanted.to_ascii_lowercase(),
                    Some(Value::Number(n)) => &n.to_string() == wanted,
                    Some(Value::Null) => wanted.is_empty(),
                    // Lists and objects are not filterable this way; unknown keys are ignored.
                    _ => true,
                }
            })
        })
        .map(|item| {
            if fields.is_empty() {
                return item;
            }
            let narrowed: Map<String, Value> = item
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| fields.contains(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default();
            Value::Object(narrowed)
        })
        .collect()
}

fn list_reply(key: &str, items: Vec<Value>, raw: Option<&str>) -> Reply {
    let query = parse_query(raw);
    let fields = query_all(raw, "fields");
    let mut items = filter_and_narrow(items, &query, &fields);
    if let Some(limit) = query.get("limit").and_then(|l| l.parse::<usize>().ok()) {
        items.truncate(limit);
    }
    let mut body = Map::new();
    body.insert(key.to_string(), Value::Array(items));
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}

fn standard(world: &World, body: &mut Value) {
    let at = iso_seconds(world.meta.epoch);
    body["created_at"] = json!(at);
    body["updated_at"] = json!(at);
    body["revision_number"] = json!(1);
    body["tags"] = json!([]);
}

// ------------------------------------------------------------------ views

fn network_view(world: &World, caller: &Caller, n: &NetworkRec) -> Value {
    let mut body = json!({
        "id": n.id,
        "name": n.name,
        "tenant_id": n.project_id,
        "project_id": n.project_id,
        "admin_state_up": true,
        "status": "ACTIVE",
        "subnets": n.subnet_ids,
        "shared": n.shared,
        "router:external": false,
        "mtu": 1450,
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": null,
        "ipv6_address_scope": null,
        "port_security_enabled": true,
        "qos_policy_id": null,
        "description": "",
        "l2_adjacency": true,
        "is_default": false,
    });
    if caller.is_admin() {
        let segment = world
            .networks
            .values()
            .position(|other| other.id == n.id)
            .unwrap_or(0)
            + 100;
        body["provider:network_type"] = json!("vxlan");
        body["provider:physical_network"] = Value::Null;
        body["provider:segmentation_id"] = json!(segment);
    }
    standard(world, &mut body);
    body
}

fn subnet_view(world: &World, s: &SubnetRec) -> Value {
    let pools: Vec<Value> = neutron::allocation_pool(&s.cidr)
        .map(|(start, end)| vec![json!({"start": start, "end": end})])
        .unwrap_or_default();
    let mut body = json!({
        "id": s.id,
        "name": s.name,
        "network_id": s.network_id,
        "tenant_id": s.project_id,
        "project_id": s.project_id,
        "ip_version": 4,
        "cidr": s.cidr,
        "gateway_ip": s.gateway_ip,
        "allocation_pools": pools,
        "enable_dhcp": true,
        "dns_nameservers": [],
        "host_routes": [],
        "ipv6_ra_mode": null,
        "ipv6_address_mode": null,
        "subnetpool_id": null,
        "service_types": [],
        "description": "",
        "dns_publish_fixed_ip": false,
    });
    standard(world, &mut body);
    body
}

fn port_view(world: &World, caller: &Caller, p: &PortRec) -> Value {
    let bound = !p.device_id.is_empty() && p.device_owner.starts_with("compute:");
    let mut body = json!({
        "id": p.id,
        "name": p.name,
        "network_id": p.network_id,
        "tenant_id": p.project_id,
        "project_id": p.project_id,
        "mac_address": p.mac_address,
        "admin_state_up": true,
        "status": p.status,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "fixed_ips": p.fixed_ips.iter().map(|(subnet, ip)| json!({"subnet_id": subnet, "ip_address": ip})).collect::<Vec<_>>(),
        "security_groups": p.security_group_ids,
        "description": p.description,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "binding:vnic_type": "normal",
        "port_security_enabled": true,
        "qos_policy_id": null,
        "qos_network_policy_id": null,
        "propagate_uplink_status": false,
    });
    if caller.is_admin() {
        let host = if bound {
            crate::seed::compute_host(&p.site)
        } else {
            String::new()
        };
        body["binding:host_id"] = json!(host);
        body["binding:profile"] = json!({});
        body["binding:vif_type"] = json!(if bound { "ovs" } else { "unbound" });
        body["binding:vif_details"] = json!({});
    }
    standard(world, &mut body);
    body
}

fn rule_view(world: &World, r: &SecurityGroupRuleRec) -> Value {
    let mut body = json!({
        "id": r.id,
        "tenant_id": r.project_id,
        "project_id": r.project_id,
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "normalized_cidr": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id,
        "remote_address_group_id": null,
        "description": r.description,
    });
    standard(world, &mut body);
    body
}

fn group_view(world: &World, g: &SecurityGroupRec) -> Value {
    let rules: Vec<Value> = security_groups::rules_of(world, &g.id)
        .into_iter()
        .map(|r| rule_view(world, r))
        .collect();
    let mut body = json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "tenant_id": g.project_id,
        "project_id": g.project_id,
        "stateful": true,
        "shared": false,
        "security_group_rules": rules,
    });
    standard(world, &mut body);
    body
}

// ------------------------------------------------------------------ discovery

async fn versions(State(ctx): State<SiteContext>) -> Response {
    let body = json!({"versions": [{
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"href": format!("{}/network/v2.0/", ctx.base_url), "rel": "self"}],
    }]});
    ctx.call_open(F, "network_versions", |_| {
        Ok(json_response(StatusCode::OK, &body))
    })
    .await
}

async fn resources(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let base = format!("{}/network/v2.0", ctx.base_url);
    ctx.call(F, "network_resources", &headers, move |_, _| {
        let items: Vec<Value> = [
            ("subnet", "subnets"),
            ("network", "networks"),
            ("port", "ports"),
            ("security_group", "security-groups"),
            ("security_group_rule", "security-group-rules"),
        ]
        .iter()
        .map(|(name, collection)| {
            json!({
                "name": name,
                "collection": collection,
                "links": [{"href": format!("{base}/{collection}"), "rel": "self"}],
            })
        })
        .collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({ "resources": items }),
        ))
    })
    .await
}

const EXTENSIONS: [(&str, &str, &str); 14] = [
    ("security-group", "security-group", "The security groups extension."),
    ("port-security", "Port Security", "Provides port security"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
];

fn extension_view(alias: &str, name: &str, description: &str) -> Value {
    json!({
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2017-01-01T10:00:00-00:00",
        "links": [],
    })
}

async fn list_extensions(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    ctx.call(F, "list_extensions", &headers, move |_, _| {
        let items: Vec<Value> = EXTENSIONS
            .iter()
            .map(|(a, n, d)| extension_view(a, n, d))
            .collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({ "extensions": items }),
        ))
    })
    .await
}

async fn show_extension(
    State(ctx): State<SiteContext>,
    Path(alias): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "show_extension", &headers, move |_, _| {
        let (a, n, d) = EXTENSIONS
            .iter()
            .find(|(a, _, _)| *a == alias)
            .ok_or_else(|| not_found("Extension", &alias))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"extension": extension_view(a, n, d)}),
        ))
    })
    .await
}

async fn availability_zones(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_availability_zones", &headers, move |_, _| {
        let items = ["network", "router"]
            .iter()
            .map(|resource| json!({"name": "nova", "resource": resource, "state": "available"}))
            .collect();
        list_reply("availability_zones", items, raw.as_deref())
    })
    .await
}

// ------------------------------------------------------------------ networks and subnets

async fn list_networks(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_networks", &headers, move |world, caller| {
        let items = neutron::list_network_records(world, caller)
            .into_iter()
            .map(|n| network_view(world, caller, n))
            .collect();
        list_reply("networks", items, raw.as_deref())
    })
    .await
}

async fn show_network(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "find_network", &headers, move |world, caller| {
        let network = neutron::visible_network(world, caller, &id)
            .ok_or_else(|| not_found("network", &id))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"network": network_view(world, caller, network)}),
        ))
    })
    .await
}

async fn list_subnets(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_subnets", &headers, move |world, caller| {
        let items = neutron::list_subnets(world, caller)
            .into_iter()
            .map(|s| subnet_view(world, s))
            .collect();
        list_reply("subnets", items, raw.as_deref())
    })
    .await
}

async fn show_subnet(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "get_subnet", &headers, move |world, caller| {
        let subnet =
            neutron::visible_subnet(world, caller, &id).ok_or_else(|| not_found("subnet", &id))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"subnet": subnet_view(world, subnet)}),
        ))
    })
    .await
}

// ------------------------------------------------------------------ ports

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

async fn list_ports(
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

async fn show_port(
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

async fn create_port(State(ctx): State<SiteContext>, headers: HeaderMap, body: Bytes) -> Response {
    ctx.call(F, "create_port", &headers, move |world, caller| {
        let body = parse_body(&body)?;
        validate("port", port_schema, &body)?;
        let port = &body["port"];
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
        let created = neutron::create_port_with(world, caller, &request, &extras).map_err(from_core)?;
        if port.get("security_groups").is_some_and(|g| g.as_array().is_some_and(Vec::is_empty)) {
            // An explicit empty list means no groups (the service applies `default` otherwise).
            if let Some(record) = world.ports.get_mut(&created.id) {
                record.security_group_ids.clear();
            }
        }
        let record = visible_port(world, caller, &created.id)?;
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"port": port_view(world, caller, record)}),
        ))
    })
    .await
}

async fn update_port(
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

async fn delete_port(
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

// ------------------------------------------------------------------ security groups

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

async fn list_security_groups(
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

async fn show_security_group(
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

async fn create_security_group(
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

async fn delete_security_group(
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

async fn list_rules(
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

async fn show_rule(
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

async fn create_rule(State(ctx): State<SiteContext>, headers: HeaderMap, body: Bytes) -> Response {
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

async fn delete_rule(
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
