//! Neutron routers (the `router` extension, without external gateways): list, show, create,
//! delete, and `add_router_interface` / `remove_router_interface` by subnet (or port, to
//! remove).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::common::{empty_response, iso_seconds, json_response, ApiError, SiteContext};
use super::{from_core, list_reply, parse_body, validate, F};
use crate::cloud::routers::{self, RouterInterface};
use crate::state::records::RouterRec;
use crate::state::World;

fn router_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"router": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 255},
                "admin_state_up": {"type": "boolean"},
                "description": {"type": "string", "maxLength": 255},
                "tenant_id": {"type": "string", "maxLength": 255},
                "project_id": {"type": "string", "maxLength": 255},
                "external_gateway_info": {"type": ["object", "null"]},
                "availability_zone_hints": {"type": "array", "items": {"type": "string"}},
                "flavor_id": {"type": "null"},
            },
            "additionalProperties": false
        }},
        "required": ["router"],
        "additionalProperties": false
    })
}

fn interface_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "subnet_id": {"type": "string", "format": "uuid"},
            "port_id": {"type": "string", "format": "uuid"},
        },
        "additionalProperties": false
    })
}

/// Neutron's exception classes for the refusals of [`routers`].
fn typed(error: protector_core::Error) -> ApiError {
    let message = error.message().to_string();
    let api = from_core(error);
    let kind = [
        ("still has ports", "RouterInUse"),
        (
            "has no interface on subnet",
            "RouterInterfaceNotFoundForSubnet",
        ),
        (
            "does not have an interface with id",
            "RouterInterfaceNotFound",
        ),
        ("Router ", "RouterNotFound"),
        ("Bad router request", "BadRequest"),
    ]
    .iter()
    .find(|(needle, _)| message.contains(needle))
    .map(|(_, kind)| *kind);
    match kind {
        Some(kind) => api.with_type(kind),
        None => api,
    }
}

fn router_view(world: &World, r: &RouterRec) -> Value {
    let at = iso_seconds(world.meta.epoch);
    json!({
        "id": r.id,
        "name": r.name,
        "tenant_id": r.project_id,
        "project_id": r.project_id,
        "admin_state_up": r.admin_state_up,
        "status": "ACTIVE",
        "external_gateway_info": null,
        "description": r.description,
        "availability_zones": ["nova"],
        "availability_zone_hints": [],
        "routes": [],
        "flavor_id": null,
        "created_at": at,
        "updated_at": at,
        "revision_number": 1,
        "tags": [],
    })
}

fn interface_view(interface: &RouterInterface) -> Value {
    json!({
        "id": interface.router.id,
        "tenant_id": interface.router.project_id,
        "project_id": interface.router.project_id,
        "subnet_id": interface.subnet_id,
        "subnet_ids": [interface.subnet_id],
        "port_id": interface.port_id,
        "network_id": interface.network_id,
    })
}

pub(super) async fn list_routers(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_routers", &headers, move |world, caller| {
        let items = routers::list_routers(world, caller)
            .into_iter()
            .map(|r| router_view(world, r))
            .collect();
        list_reply("routers", items, raw.as_deref())
    })
    .await
}

pub(super) async fn show_router(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "get_router", &headers, move |world, caller| {
        let router = routers::visible_router(world, caller, &id).ok_or_else(|| {
            ApiError::not_found(F, format!("Router {id} could not be found."))
                .with_type("RouterNotFound")
        })?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"router": router_view(world, router)}),
        ))
    })
    .await
}

pub(super) async fn create_router(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(F, "create_router", &headers, move |world, caller| {
        let body = parse_body(&body)?;
        validate("router", router_schema, &body)?;
        let router = &body["router"];
        if router["external_gateway_info"].is_object() {
            return Err(ApiError::bad_request(
                F,
                "Invalid input for external_gateway_info. Reason: the simulator has no external networks; create the router without a gateway.",
            )
            .with_type("InvalidInput"));
        }
        let created = routers::create_router(
            world,
            caller,
            router["name"].as_str().unwrap_or_default(),
            router["description"].as_str().unwrap_or_default(),
            router["admin_state_up"].as_bool().unwrap_or(true),
            router["project_id"].as_str().or(router["tenant_id"].as_str()),
        )
        .map_err(typed)?;
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"router": router_view(world, &created)}),
        ))
    })
    .await
}

pub(super) async fn delete_router(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "delete_router", &headers, move |world, caller| {
        routers::delete_router(world, caller, &id).map_err(typed)?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}

pub(super) async fn add_interface(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(F, "add_interface_to_router", &headers, move |world, caller| {
        let body = parse_body(&body)?;
        validate("router_interface", interface_schema, &body)?;
        let Some(subnet_id) = body["subnet_id"].as_str() else {
            return Err(ApiError::bad_request(
                F,
                "Bad router request: the simulator adds interfaces by subnet_id (a port_id is not supported).",
            )
            .with_type("BadRequest"));
        };
        let added = routers::add_interface(world, caller, &id, subnet_id).map_err(typed)?;
        Ok(json_response(StatusCode::OK, &interface_view(&added)))
    })
    .await
}

pub(super) async fn remove_interface(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    ctx.call(
        F,
        "remove_interface_from_router",
        &headers,
        move |world, caller| {
            let body = parse_body(&body)?;
            validate("router_interface", interface_schema, &body)?;
            let removed = routers::remove_interface(
                world,
                caller,
                &id,
                body["subnet_id"].as_str(),
                body["port_id"].as_str(),
            )
            .map_err(typed)?;
            Ok(json_response(StatusCode::OK, &interface_view(&removed)))
        },
    )
    .await
}
