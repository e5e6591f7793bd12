//! Neutron v2.0 under `/network`: versions, extensions, networks and subnets (list, show,
//! create, delete), ports (create, list, show, update, delete), security groups and rules,
//! routers (list, show, create, delete, add and remove interfaces). Request bodies are checked
//! against the attribute maps of `neutron_lib/api/definitions` (unknown attributes refused as
//! Neutron does); errors are `{"NeutronError": {"type", "message", "detail"}}`. This module
//! holds the routes and the plumbing the resources share (body parsing and validation, list
//! filters, not-found errors); the resources live in the submodules.

mod discovery;
mod lifecycle;
mod networks;
mod ports;
mod quotas;
mod routers;
mod security_groups;
mod views;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use serde_json::{Map, Value};

use super::common::{
    json_response, parse_query, python_repr, ApiError, Family, Query, Reply, SiteContext,
};
use super::schema;
use discovery::{availability_zones, list_extensions, resources, show_extension, versions};
use networks::{list_networks, list_subnets, show_network, show_subnet};
use ports::{create_port, delete_port, list_ports, show_port, update_port};
use security_groups::{
    create_rule, create_security_group, delete_rule, delete_security_group, list_rules,
    list_security_groups, show_rule, show_security_group,
};

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
        .route(
            "/network/v2.0/networks",
            get(list_networks).post(lifecycle::create_network),
        )
        .route(
            "/network/v2.0/networks/{id}",
            get(show_network).delete(lifecycle::delete_network),
        )
        .route(
            "/network/v2.0/subnets",
            get(list_subnets).post(lifecycle::create_subnet),
        )
        .route(
            "/network/v2.0/subnets/{id}",
            get(show_subnet).delete(lifecycle::delete_subnet),
        )
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
        .route(
            "/network/v2.0/routers",
            get(routers::list_routers).post(routers::create_router),
        )
        .route(
            "/network/v2.0/routers/{id}",
            get(routers::show_router).delete(routers::delete_router),
        )
        .route(
            "/network/v2.0/routers/{id}/add_router_interface",
            put(routers::add_interface),
        )
        .route(
            "/network/v2.0/routers/{id}/remove_router_interface",
            put(routers::remove_interface),
        )
        .route("/network/v2.0/quotas/{project_id}", get(quotas::show_quota))
        .route(
            "/network/v2.0/quotas/{project_id}/details",
            get(quotas::show_quota_details),
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
