//! Cinder's volume types (list, show, extra specs), `os-services` and
//! `os-availability-zone`: the read-only description of what the block storage site offers.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::super::common::{iso_micros, json_response, parse_query, ApiError, SiteContext};
use super::super::{cinder_call, from_core, param, views, Params, F};
use crate::cloud::block_storage as cinder;
use crate::cloud::Caller;
use crate::state::World;

// ------------------------------------------------------------------ types

fn find_type<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Result<&'w crate::state::records::VolumeTypeRec, ApiError> {
    let id = if id == "default" {
        crate::seed::TYPE_STANDARD
    } else {
        id
    };
    cinder::resolve_type(world, &caller.site, id)
        .ok_or_else(|| ApiError::not_found(F, format!("Volume type {id} could not be found.")))
}

pub(super) async fn list_types(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    cinder_call(
        &ctx,
        "list_volume_types",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            let mut types: Vec<_> = world
                .volume_types
                .values()
                .filter(|t| t.site == caller.site)
                .collect();
            types.sort_by(|a, b| a.name.cmp(&b.name));
            let items: Vec<Value> = types
                .into_iter()
                .map(|t| views::volume_type(caller, t))
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "volume_types": items }),
            ))
        },
    )
    .await
}

pub(super) async fn show_type(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "find_volume_type",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            let t = find_type(world, caller, &id)?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"volume_type": views::volume_type(caller, t)}),
            ))
        },
    )
    .await
}

pub(super) async fn type_extra_specs(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "type_extra_specs",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            let t = find_type(world, caller, &id)?;
            let view = views::volume_type(caller, t);
            Ok(json_response(
                StatusCode::OK,
                &json!({"extra_specs": view["extra_specs"]}),
            ))
        },
    )
    .await
}

pub(super) async fn type_extra_spec(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let id = param(&params, "id").to_string();
    let key = param(&params, "key").to_string();
    cinder_call(
        &ctx,
        "type_extra_spec",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            let t = find_type(world, caller, &id)?;
            let view = views::volume_type(caller, t);
            let value = view["extra_specs"].get(&key).cloned().ok_or_else(|| {
                ApiError::not_found(
                    F,
                    format!("Volume Type {id} has no extra specs with key {key}."),
                )
            })?;
            let mut body = serde_json::Map::new();
            body.insert(key, value);
            Ok(json_response(StatusCode::OK, &Value::Object(body)))
        },
    )
    .await
}

// ------------------------------------------------------------------ services

pub(super) async fn list_services(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    cinder_call(
        &ctx,
        "list_volume_services",
        &headers,
        &params,
        0,
        move |world, caller, v| {
            // The policy check and the service list come from the service layer.
            cinder::list_volume_services(world, caller).map_err(from_core)?;
            let updated = iso_micros(world.now());
            let items: Vec<Value> = world
                .volume_services
                .values()
                .filter(|s| s.site == caller.site)
                .filter(|s| query.get("binary").is_none_or(|b| &s.binary == b))
                .filter(|s| query.get("host").is_none_or(|h| &s.host == h))
                .map(|s| views::service(s, &updated, v))
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "services": items })))
        },
    )
    .await
}

pub(super) async fn availability_zones(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    cinder_call(&ctx, "list_availability_zones", &headers, &params, 0, move |_, _, _| {
        Ok(json_response(
            StatusCode::OK,
            &json!({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": true}}]}),
        ))
    })
    .await
}
