//! Cinder's volume snapshots (list, detail, show, create, delete) and the deprecated
//! consistency groups, served read-only and empty.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::super::common::{
    empty_response, json_response, parse_query, truthy, ApiError, SiteContext,
};
use super::super::schemas;
use super::super::{
    bool_like, cinder_call, from_core, param, parse_body, string_map, validate, views, Params, F,
};
use crate::cloud::block_storage::{self as cinder, CreateSnapshot};

fn snapshot_not_found(id: &str) -> ApiError {
    ApiError::not_found(F, format!("Snapshot {id} could not be found."))
}

async fn snapshots(
    ctx: SiteContext,
    params: Params,
    query: Option<String>,
    headers: HeaderMap,
    detail: bool,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    cinder_call(&ctx, "list_snapshots", &headers, &params, 0, move |world, caller, v| {
        let all = truthy(query.get("all_tenants")) || truthy(query.get("all_projects"));
        let items: Vec<Value> = cinder::list_snapshots(world, caller, all)
            .into_iter()
            .filter(|s| query.get("volume_id").is_none_or(|id| &s.volume_id == id))
            .filter(|s| query.get("name").is_none_or(|n| &s.name == n))
            .filter(|s| query.get("status").is_none_or(|st| &s.status == st))
            .map(|s| {
                if detail {
                    views::snapshot(s, v)
                } else {
                    json!({
                        "id": s.id,
                        "name": s.name,
                        "status": s.status,
                        "size": s.size_gb,
                        "volume_id": s.volume_id,
                        "links": [{"rel": "self", "href": format!("{}/volume/v3/{}/snapshots/{}", context.base_url, s.project_id, s.id)}],
                    })
                }
            })
            .collect();
        Ok(json_response(StatusCode::OK, &json!({ "snapshots": items })))
    })
    .await
}

pub(super) async fn list_snapshots(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    snapshots(ctx, params, query, headers, false).await
}

pub(super) async fn list_snapshots_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    snapshots(ctx, params, query, headers, true).await
}

pub(super) async fn show_snapshot(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "get_snapshot",
        &headers,
        &params,
        0,
        move |world, caller, v| {
            let snapshot = cinder::visible_snapshot(world, caller, &id)
                .ok_or_else(|| snapshot_not_found(&id))?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"snapshot": views::snapshot(snapshot, v)}),
            ))
        },
    )
    .await
}

pub(super) async fn create_snapshot(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    cinder_call(
        &ctx,
        "create_snapshot",
        &headers,
        &params,
        0,
        move |world, caller, v| {
            let body = parse_body(&body)?;
            validate("snapshot_create", schemas::snapshot_create, &body)?;
            let snapshot = &body["snapshot"];
            let text = |keys: [&str; 2]| {
                keys.iter()
                    .find_map(|k| snapshot[*k].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let request = CreateSnapshot {
                volume_id: snapshot["volume_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                name: text(["name", "display_name"]),
                description: text(["description", "display_description"]),
                force: snapshot.get("force").is_some_and(bool_like),
                metadata: string_map(&snapshot["metadata"]),
            };
            let created = cinder::create_snapshot(world, caller, &request).map_err(from_core)?;
            Ok(json_response(
                StatusCode::ACCEPTED,
                &json!({"snapshot": views::snapshot(&created, v)}),
            ))
        },
    )
    .await
}

pub(super) async fn delete_snapshot(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "delete_snapshot",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            cinder::delete_snapshot(world, caller, &id).map_err(from_core)?;
            Ok(empty_response(StatusCode::ACCEPTED))
        },
    )
    .await
}

/// The deprecated consistency groups, read-only: the simulator creates none (generic groups
/// with a consistent-snapshot group type replace them), so the list is empty.
pub(super) async fn legacy_consistency_groups(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    cinder_call(
        &ctx,
        "list_consistency_groups",
        &headers,
        &params,
        0,
        move |_, _, _| {
            Ok(json_response(
                StatusCode::OK,
                &json!({"consistencygroups": []}),
            ))
        },
    )
    .await
}
