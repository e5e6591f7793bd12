//! Nova v2.1 under `/compute`: version discovery, servers (create with boot from volume on
//! ports or networks, list, detail, show, `os-stop`, `os-start`, delete), flavors, keypairs and
//! availability zones, limits, quota sets and hypervisors (in `capacity`), with microversions
//! 2.1–2.96.

mod capacity;
mod schemas;
mod views;

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{HeaderValue, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::common::{
    empty_response, json_list_response, json_response, parse_query, regex_search, truthy, ApiError,
    Family, Query, Reply, SiteContext,
};
use super::microversion::{Microversion, COMPUTE};
use super::schema;
use crate::cloud::compute::{self as nova, Nic, ServerExtras};
use crate::cloud::{keypairs, Caller};
use crate::state::records::ServerRec;
use crate::state::World;
use protector_core::api::{BlockDevice, CreateServer};

const F: Family = Family::Compute;

/// Nova's routes.
pub(crate) fn router() -> Router<SiteContext> {
    Router::new()
        .route("/compute", get(versions))
        .route("/compute/", get(versions))
        .route("/compute/v2.1", get(version))
        .route("/compute/v2.1/", get(version))
        .route(
            "/compute/v2.1/servers",
            get(list_servers).post(create_server),
        )
        .route("/compute/v2.1/servers/detail", get(list_servers_detail))
        .route(
            "/compute/v2.1/servers/{id}",
            get(show_server).delete(delete_server),
        )
        .route("/compute/v2.1/servers/{id}/action", post(server_action))
        .route("/compute/v2.1/flavors", get(list_flavors))
        .route("/compute/v2.1/flavors/detail", get(list_flavors_detail))
        .route("/compute/v2.1/flavors/{id}", get(show_flavor))
        .route(
            "/compute/v2.1/flavors/{id}/os-extra_specs",
            get(flavor_extra_specs),
        )
        .route(
            "/compute/v2.1/os-keypairs",
            get(list_keypairs).post(create_keypair),
        )
        .route(
            "/compute/v2.1/os-keypairs/{name}",
            get(show_keypair).delete(delete_keypair),
        )
        .route(
            "/compute/v2.1/os-availability-zone",
            get(|s, h| capacity::availability_zones(s, h, false)),
        )
        .route(
            "/compute/v2.1/os-availability-zone/detail",
            get(|s, h| capacity::availability_zones(s, h, true)),
        )
        .route("/compute/v2.1/limits", get(capacity::limits))
        .route("/compute/v2.1/os-aggregates", get(capacity::aggregates))
        .route(
            "/compute/v2.1/os-quota-sets/{project_id}",
            get(capacity::quota_set),
        )
        .route(
            "/compute/v2.1/os-quota-sets/{project_id}/{view}",
            get(capacity::quota_set),
        )
        .route(
            "/compute/v2.1/os-hypervisors",
            get(|s, h| capacity::hypervisors(s, h, false)),
        )
        .route(
            "/compute/v2.1/os-hypervisors/detail",
            get(|s, h| capacity::hypervisors(s, h, true)),
        )
        .route(
            "/compute/v2.1/os-hypervisors/{id}",
            get(capacity::show_hypervisor),
        )
}

// ------------------------------------------------------------------ plumbing

/// One Nova call: the token is checked first, then the microversion, then `f`; the answer
/// carries the microversion it was produced at.
async fn nova_call(
    ctx: &SiteContext,
    operation: &'static str,
    headers: &HeaderMap,
    f: impl FnOnce(&mut World, &Caller, Microversion) -> Reply,
) -> Response {
    let version = COMPUTE.requested(headers);
    let stamp = version.as_ref().ok().copied();
    let mut response = ctx
        .call(F, operation, headers, move |world, caller| {
            let v = version?;
            f(world, caller, v)
        })
        .await;
    if let Some(v) = stamp {
        COMPUTE.stamp(&mut response, v);
    }
    response
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::bad_request(F, "Malformed request body"))
}

fn validate(name: &str, schema: impl FnOnce() -> Value, body: &Value) -> Result<(), ApiError> {
    let validator = schema::validator(&format!("nova/{name}"), schema);
    match schema::first_violation(&validator, body) {
        Some(violation) => Err(ApiError::bad_request(F, violation.openstack_message())),
        None => Ok(()),
    }
}

fn from_core(error: protector_core::Error) -> ApiError {
    ApiError::from_error(F, &error)
}

fn instance_not_found(id: &str) -> ApiError {
    ApiError::not_found(F, format!("Instance {id} could not be found."))
}

// ------------------------------------------------------------------ versions

fn v21(ctx: &SiteContext) -> Value {
    json!({
        "id": "v2.1",
        "status": "CURRENT",
        "version": COMPUTE.max.to_string(),
        "min_version": COMPUTE.min.to_string(),
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": format!("{}/compute/v2.1/", ctx.base_url)}],
    })
}

async fn versions(State(ctx): State<SiteContext>) -> Response {
    let body = json!({"versions": [
        {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": format!("{}/compute/v2/", ctx.base_url)}],
        },
        v21(&ctx),
    ]});
    ctx.call_open(F, "compute_versions", |_| {
        Ok(json_response(StatusCode::OK, &body))
    })
    .await
}

async fn version(State(ctx): State<SiteContext>) -> Response {
    let mut doc = v21(&ctx);
    doc["links"] = json!([
        {"rel": "self", "href": format!("{}/compute/v2.1/", ctx.base_url)},
        {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
    ]);
    doc["media-types"] = json!([{
        "base": "application/json",
        "type": "application/vnd.openstack.compute+json;version=2.1",
    }]);
    let body = json!({ "version": doc });
    ctx.call_open(F, "compute_version", |_| {
        Ok(json_response(StatusCode::OK, &body))
    })
    .await
}

// ------------------------------------------------------------------ servers

/// The servers a listing returns: the token's project (every project with `all_tenants` for
/// admins), filtered by `name` (a regular expression), `status`, `project_id`, metadata-free.
fn listed<'w>(
    world: &'w World,
    caller: &Caller,
    query: &Query,
) -> Result<Vec<&'w ServerRec>, ApiError> {
    let all = caller.is_admin()
        && (truthy(query.get("all_tenants"))
            || query.get("all_tenants").is_some_and(|v| v.is_empty()));
    let project = query
        .get("project_id")
        .or_else(|| query.get("tenant_id"))
        .filter(|_| caller.is_admin());
    if truthy(query.get("deleted")) {
        // Deleted servers are gone from the simulation.
        return Ok(Vec::new());
    }
    let mut servers: Vec<&ServerRec> = world
        .servers
        .values()
        .filter(|s| s.site == caller.site)
        .filter(|s| match project {
            Some(p) => &s.project_id == p,
            None => all || s.project_id == caller.project_id,
        })
        .filter(|s| query.get("name").is_none_or(|n| regex_search(n, &s.name)))
        .filter(|s| {
            query
                .get("status")
                .is_none_or(|st| s.status.eq_ignore_ascii_case(st))
        })
        .filter(|s| query.get("flavor").is_none_or(|f| &s.flavor_id == f))
        .collect();
    servers.sort_by_key(|s| std::cmp::Reverse(s.seq));
    if let Some(marker) = query.get("marker") {
        let position = servers
            .iter()
            .position(|s| &s.id == marker)
            .ok_or_else(|| ApiError::bad_request(F, format!("marker [{marker}] not found")))?;
        servers.drain(..=position);
    }
    if let Some(limit) = query.get("limit") {
        let limit: usize = limit
            .parse()
            .map_err(|_| ApiError::bad_request(F, format!("Invalid input for query parameters limit. Value: {limit}. '{limit}' does not match '^[0-9]*$'")))?;
        servers.truncate(limit);
    }
    Ok(servers)
}

async fn list_servers(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    nova_call(&ctx, "list_servers", &headers, move |world, caller, _| {
        let servers = listed(world, caller, &query)?;
        Ok(json_list_response(
            StatusCode::OK,
            "servers",
            servers
                .into_iter()
                .map(|s| views::server_summary(&context, s)),
        ))
    })
    .await
}

async fn list_servers_detail(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    nova_call(&ctx, "list_servers", &headers, move |world, caller, v| {
        let servers = listed(world, caller, &query)?;
        Ok(json_list_response(
            StatusCode::OK,
            "servers",
            servers
                .into_iter()
                .map(|s| views::server(&context, world, caller, s, v)),
        ))
    })
    .await
}

async fn show_server(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    nova_call(&ctx, "get_server", &headers, move |world, caller, v| {
        let server = nova::visible(world, caller, &id).ok_or_else(|| instance_not_found(&id))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"server": views::server(&context, world, caller, server, v)}),
        ))
    })
    .await
}

async fn delete_server(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    nova_call(&ctx, "delete_server", &headers, move |world, caller, _| {
        if nova::visible(world, caller, &id).is_none() {
            return Err(instance_not_found(&id));
        }
        nova::delete_server(world, caller, &id).map_err(from_core)?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}

fn bool_like(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "1" | "on" | "yes" | "y" | "t"
        ),
        _ => false,
    }
}

fn int_like(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The last path segment of a flavor reference (an id or a flavor URL).
fn flavor_id(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.rsplit('/').next().unwrap_or_default().to_string()
}

/// A validated `{"server": …}` body as the service layer's request.
fn parse_server(
    world: &World,
    caller: &Caller,
    body: &Value,
    v: Microversion,
) -> Result<(CreateServer, ServerExtras), ApiError> {
    let server = &body["server"];
    if server
        .get("imageRef")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(ApiError::bad_request(
            F,
            "Can not find requested image (the simulator has no Glance: boot from a volume)",
        ));
    }
    if server.get("block_device_mapping").is_some() {
        return Err(ApiError::bad_request(
            F,
            "Block Device Mapping is Invalid: the legacy block_device_mapping is not simulated; use block_device_mapping_v2.",
        ));
    }
    let count = |key: &str| server.get(key).and_then(int_like).unwrap_or(1);
    if count("min_count") > 1 || count("max_count") > 1 {
        return Err(ApiError::bad_request(
            F,
            "The simulator boots one server per request (min_count and max_count must be 1).",
        ));
    }
    let mut block_devices = Vec::new();
    for device in server["block_device_mapping_v2"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let source = device["source_type"].as_str().unwrap_or("volume");
        let destination = device["destination_type"].as_str().unwrap_or("volume");
        if source != "volume" || destination != "volume" {
            return Err(ApiError::bad_request(
                F,
                format!(
                    "Block Device Mapping is Invalid: source_type {source} with destination_type {destination} is not simulated; boot from existing volumes (source_type and destination_type volume)."
                ),
            ));
        }
        let volume_id = device["uuid"]
            .as_str()
            .or_else(|| device["volume_id"].as_str())
            .ok_or_else(|| {
                ApiError::bad_request(F, "Block Device Mapping is Invalid: Missing device UUID.")
            })?;
        block_devices.push(BlockDevice {
            volume_id: volume_id.to_string(),
            boot_index: device
                .get("boot_index")
                .and_then(int_like)
                .map_or(-1, |i| i as i32),
            device_name: device["device_name"].as_str().map(str::to_string),
            delete_on_termination: device.get("delete_on_termination").is_some_and(bool_like),
        });
    }
    let mut nics = Vec::new();
    match server.get("networks") {
        Some(Value::Array(items)) => {
            for item in items {
                match item.get("port").and_then(Value::as_str) {
                    Some(port) => nics.push(Nic::Port(port.to_string())),
                    None => {
                        let network_id = item["uuid"].as_str().ok_or_else(|| {
                            ApiError::bad_request(
                                F,
                                "Bad networks format: network uuid is not in proper format",
                            )
                        })?;
                        nics.push(Nic::Network {
                            network_id: network_id.to_string(),
                            fixed_ip: item["fixed_ip"].as_str().map(str::to_string),
                        });
                    }
                }
            }
        }
        Some(Value::String(s)) if s == "none" => {}
        Some(Value::String(_)) => {
            return Err(ApiError::bad_request(
                F,
                format!(
                    "Unable to automatically allocate a network for project {}",
                    caller.project_id
                ),
            ))
        }
        _ => {
            // Before 2.37 Nova picks the only network the project can use, if there is one.
            let usable = crate::cloud::network::list_network_records(world, caller);
            match usable.as_slice() {
                [] => {}
                [only] => nics.push(Nic::Network {
                    network_id: only.id.clone(),
                    fixed_ip: None,
                }),
                _ => {
                    return Err(ApiError::new(
                        F,
                        StatusCode::CONFLICT,
                        "Multiple possible networks found, use a Network ID to be more specific.",
                    ))
                }
            }
        }
    }
    let metadata: BTreeMap<String, String> = server["metadata"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let request = CreateServer {
        name: server["name"].as_str().unwrap_or_default().to_string(),
        flavor_id: flavor_id(&server["flavorRef"]),
        key_name: server["key_name"].as_str().map(str::to_string),
        availability_zone: server["availability_zone"].as_str().map(str::to_string),
        block_devices,
        port_ids: Vec::new(),
        metadata,
    };
    let extras = ServerExtras {
        nics,
        security_groups: server["security_groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["name"].as_str().map(str::to_string))
            .collect(),
        description: if v.at_least(19) {
            server["description"].as_str().map(str::to_string)
        } else {
            None
        },
    };
    Ok((request, extras))
}

fn admin_password(world: &mut World) -> String {
    let alphabet = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut value = world.next_random();
    (0..12)
        .map(|_| {
            let c = alphabet[(value % alphabet.len() as u64) as usize] as char;
            value /= alphabet.len() as u64;
            c
        })
        .collect()
}

async fn create_server(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let context = ctx.clone();
    nova_call(&ctx, "create_server", &headers, move |world, caller, v| {
        let body = parse_body(&body)?;
        validate(
            schemas::server_create_range(v),
            || schemas::server_create(v),
            &body,
        )?;
        let (request, extras) = parse_server(world, caller, &body, v)?;
        let groups: Vec<Value> = if extras.security_groups.is_empty() {
            vec![json!({"name": "default"})]
        } else {
            extras
                .security_groups
                .iter()
                .map(|g| json!({ "name": g }))
                .collect()
        };
        let server =
            nova::create_server_with(world, caller, &request, &extras).map_err(from_core)?;
        let password = admin_password(world);
        let body = json!({"server": {
            "id": server.id,
            "links": views::links(&context, &format!("servers/{}", server.id)),
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": groups,
            "adminPass": password,
        }});
        let mut response = json_response(StatusCode::ACCEPTED, &body);
        let location = format!("{}/compute/v2.1/servers/{}", context.base_url, server.id);
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(LOCATION, value);
        }
        Ok(response)
    })
    .await
}

async fn server_action(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    nova_call(&ctx, "server_action", &headers, move |world, caller, _| {
        let body = parse_body(&body)?;
        let action = body
            .as_object()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default();
        let status = nova::visible(world, caller, &id)
            .map(|s| (s.status.clone(), s.task.is_none()))
            .ok_or_else(|| instance_not_found(&id))?;
        // Nova's `check_instance_state`: stop from active or error, start from stopped. The
        // service layer treats a repeated action as done (what protector's client does on a
        // 409); the wire answers 409 as Nova does.
        let refuse = |verb: &str, vm_state: &str| {
            ApiError::new(
                F,
                StatusCode::CONFLICT,
                format!("Cannot '{verb}' instance {id} while it is in vm_state {vm_state}"),
            )
        };
        match action.as_str() {
            "os-stop" => {
                validate("stop_server", || schemas::power_action("os-stop"), &body)?;
                if status == ("SHUTOFF".to_string(), true) {
                    return Err(refuse("stop", "stopped"));
                }
                nova::stop_server(world, caller, &id).map_err(from_core)?;
            }
            "os-start" => {
                validate("start_server", || schemas::power_action("os-start"), &body)?;
                if status == ("ACTIVE".to_string(), true) {
                    return Err(refuse("start", "active"));
                }
                nova::start_server(world, caller, &id).map_err(from_core)?;
            }
            other => {
                return Err(ApiError::bad_request(
                    F,
                    format!("There is no such action: {other}"),
                ))
            }
        }
        Ok(empty_response(StatusCode::ACCEPTED))
    })
    .await
}

// ------------------------------------------------------------------ flavors

fn flavors<'w>(world: &'w World, caller: &Caller) -> Vec<&'w crate::state::records::FlavorRec> {
    let mut flavors: Vec<_> = world
        .flavors
        .values()
        .filter(|f| f.site == caller.site)
        .collect();
    flavors.sort_by(|a, b| a.ram_mb.cmp(&b.ram_mb).then(a.id.cmp(&b.id)));
    flavors
}

async fn list_flavors(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    nova_call(&ctx, "list_flavors", &headers, move |world, caller, v| {
        let items: Vec<Value> = flavors(world, caller)
            .into_iter()
            .map(|f| views::flavor_view(&context, f, false, v))
            .collect();
        Ok(json_response(StatusCode::OK, &json!({ "flavors": items })))
    })
    .await
}

async fn list_flavors_detail(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    nova_call(&ctx, "list_flavors", &headers, move |world, caller, v| {
        let items: Vec<Value> = flavors(world, caller)
            .into_iter()
            .map(|f| views::flavor_view(&context, f, true, v))
            .collect();
        Ok(json_response(StatusCode::OK, &json!({ "flavors": items })))
    })
    .await
}

fn find_flavor<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Result<&'w crate::state::records::FlavorRec, ApiError> {
    world
        .flavors
        .get(id)
        .filter(|f| f.site == caller.site)
        .ok_or_else(|| ApiError::not_found(F, format!("Flavor {id} could not be found.")))
}

async fn show_flavor(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    nova_call(&ctx, "find_flavor", &headers, move |world, caller, v| {
        let flavor = find_flavor(world, caller, &id)?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"flavor": views::flavor_view(&context, flavor, true, v)}),
        ))
    })
    .await
}

async fn flavor_extra_specs(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    nova_call(
        &ctx,
        "flavor_extra_specs",
        &headers,
        move |world, caller, _| {
            find_flavor(world, caller, &id)?;
            Ok(json_response(StatusCode::OK, &json!({"extra_specs": {}})))
        },
    )
    .await
}

// ------------------------------------------------------------------ keypairs

async fn list_keypairs(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    nova_call(&ctx, "list_keypairs", &headers, move |world, caller, v| {
        let user_id = query.get("user_id").filter(|_| v.at_least(10));
        let items: Vec<Value> = keypairs::list_keypairs(world, caller, user_id.map(String::as_str))
            .map_err(from_core)?
            .into_iter()
            .map(|k| views::keypair_in_list(k, v))
            .collect();
        Ok(json_response(StatusCode::OK, &json!({ "keypairs": items })))
    })
    .await
}

async fn show_keypair(
    State(ctx): State<SiteContext>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    nova_call(&ctx, "get_keypair", &headers, move |world, caller, v| {
        let user_id = query.get("user_id").filter(|_| v.at_least(10));
        let keypair = keypairs::show_keypair(world, caller, &name, user_id.map(String::as_str))
            .map_err(from_core)?;
        Ok(json_response(
            StatusCode::OK,
            &views::keypair_show(world, keypair, v),
        ))
    })
    .await
}

async fn create_keypair(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    nova_call(&ctx, "create_keypair", &headers, move |world, caller, v| {
        let body = parse_body(&body)?;
        validate(
            schemas::keypair_create_range(v),
            || schemas::keypair_create(v),
            &body,
        )?;
        let request = &body["keypair"];
        let (keypair, private_key) = keypairs::create_keypair(
            world,
            caller,
            request["name"].as_str().unwrap_or_default(),
            request["public_key"].as_str(),
            request["type"].as_str().unwrap_or("ssh"),
            request["user_id"].as_str(),
        )
        .map_err(from_core)?;
        let status = if v.at_least(2) {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(json_response(
            status,
            &views::keypair_created(&keypair, private_key.as_deref(), v),
        ))
    })
    .await
}

async fn delete_keypair(
    State(ctx): State<SiteContext>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    nova_call(&ctx, "delete_keypair", &headers, move |world, caller, v| {
        let user_id = query.get("user_id").filter(|_| v.at_least(10));
        keypairs::delete_keypair(world, caller, &name, user_id.map(String::as_str))
            .map_err(from_core)?;
        let status = if v.at_least(2) {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::ACCEPTED
        };
        Ok(empty_response(status))
    })
    .await
}
