//! Cinder's manage API: adopting an existing backend volume and listing the backend volumes
//! that could be managed, under `os-volume-manage` (any microversion) and
//! `manageable_volumes` (from 3.8).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::super::common::{json_response, parse_query, ApiError, SiteContext};
use super::super::super::microversion::Microversion;
use super::super::schemas;
use super::super::{
    bool_like, cinder_call, from_core, parse_body, string_map, validate, views, Params, F,
};
use crate::cloud::block_storage as cinder;
use crate::cloud::{policy_denied, Caller};
use crate::state::World;
use protector_core::api::ManageVolume;

/// Cinder's `get_cluster_host`: exactly one of cluster and host from 3.16, host before.
fn manage_target(volume: &Value, v: Microversion) -> Result<String, ApiError> {
    let host = volume["host"].as_str().filter(|s| !s.is_empty());
    let cluster = volume["cluster"].as_str().filter(|s| !s.is_empty());
    if v.at_least(16) {
        match (host, cluster) {
            (Some(host), None) => Ok(host.to_string()),
            (None, Some(cluster)) => Err(ApiError::not_found(
                F,
                format!("Cluster {cluster} could not be found."),
            )),
            _ => Err(ApiError::bad_request(
                F,
                "Invalid input received: One and only one of cluster and host must be set.",
            )),
        }
    } else {
        host.map(str::to_string).ok_or_else(|| {
            ApiError::bad_request(F, "Invalid input received: Host field is missing.")
        })
    }
}

/// The manage call shared by both URLs; the view ignores microversions, as Cinder's does.
fn do_manage(
    ctx: &SiteContext,
    world: &mut World,
    caller: &Caller,
    body: &Bytes,
    v: Microversion,
) -> Result<Response, ApiError> {
    // Cinder validates the body (a decorator) before the controller checks the policy.
    let body = parse_body(body)?;
    validate(schemas::manage_range(v), || schemas::manage(v), &body)?;
    if !cinder::may_administer(world, caller) {
        return Err(from_core(policy_denied("volume_extension:volume_manage")));
    }
    let volume = &body["volume"];
    let host = manage_target(volume, v)?;
    // The Pure driver identifies the array volume by `{"name": …}`; any other reference is
    // accepted by the API and refused by the driver (the volume ends in error_managing).
    let source_name = volume["ref"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(zone) = volume["availability_zone"].as_str() {
        if zone != "nova" {
            return Err(ApiError::bad_request(
                F,
                format!("Invalid input received: Availability zone '{zone}' is invalid."),
            ));
        }
    }
    let request = ManageVolume {
        host,
        source_name,
        name: volume["name"].as_str().unwrap_or_default().to_string(),
        volume_type: volume["volume_type"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        bootable: volume.get("bootable").is_some_and(bool_like),
        description: volume["description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        metadata: string_map(&volume["metadata"]),
    };
    let managed = cinder::manage_volume(world, caller, &request).map_err(from_core)?;
    let record = world.volumes.get(&managed.id).cloned().ok_or_else(|| {
        ApiError::new(
            F,
            StatusCode::INTERNAL_SERVER_ERROR,
            "managed volume vanished",
        )
    })?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({"volume": views::volume(ctx, world, caller, &record, Microversion::new(3, 0))}),
    ))
}

pub(super) async fn manage_legacy(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let context = ctx.clone();
    cinder_call(
        &ctx,
        "manage_volume",
        &headers,
        &params,
        0,
        move |world, caller, v| do_manage(&context, world, caller, &body, v),
    )
    .await
}

pub(super) async fn manage(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let context = ctx.clone();
    cinder_call(
        &ctx,
        "manage_volume",
        &headers,
        &params,
        8,
        move |world, caller, v| do_manage(&context, world, caller, &body, v),
    )
    .await
}

async fn manageable(
    ctx: SiteContext,
    params: Params,
    query: Option<String>,
    headers: HeaderMap,
    detail: bool,
    min_minor: u32,
) -> Response {
    let query = parse_query(query.as_deref());
    cinder_call(
        &ctx,
        "list_manageable_volumes",
        &headers,
        &params,
        min_minor,
        move |world, caller, v| {
            if !cinder::may_administer(world, caller) {
                return Err(from_core(policy_denied("volume_extension:list_manageable")));
            }
            let host = query.get("host").filter(|h| !h.is_empty());
            let cluster = query
                .get("cluster")
                .filter(|c| !c.is_empty() && v.at_least(17));
            let host =
                match (host, cluster) {
                    (Some(host), None) => host.clone(),
                    (None, Some(cluster)) => {
                        return Err(ApiError::not_found(
                            F,
                            format!("Cluster {cluster} could not be found."),
                        ))
                    }
                    _ => return Err(ApiError::bad_request(
                        F,
                        "Invalid input received: One and only one of cluster and host must be set.",
                    )),
                };
            let mut items =
                cinder::list_manageable_volumes(world, caller, &host).map_err(from_core)?;
            if query.get("sort_key").is_some_and(|k| k == "size") {
                items.sort_by_key(|m| m.size_gb);
            }
            if query.get("sort_dir").is_some_and(|d| d == "desc") {
                items.reverse();
            }
            let offset: usize = query
                .get("offset")
                .and_then(|o| o.parse().ok())
                .unwrap_or(0);
            let limit: usize = query
                .get("limit")
                .and_then(|o| o.parse().ok())
                .unwrap_or(usize::MAX);
            let items: Vec<Value> = items
                .iter()
                .skip(offset)
                .take(limit)
                .map(|m| views::manageable(m, detail))
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "manageable-volumes": items }),
            ))
        },
    )
    .await
}

pub(super) async fn list_manageable(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, false, 8).await
}

pub(super) async fn list_manageable_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, true, 8).await
}

pub(super) async fn list_manageable_legacy(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, false, 0).await
}

pub(super) async fn list_manageable_legacy_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, true, 0).await
}
