//! Cinder v3 under `/volume`, with microversions 3.0–3.71: every resource is served both
//! under `/volume/v3/{project_id}/…` and, as Cinder does from Yoga (3.67), under
//! `/volume/v3/…`. Volumes (create, list, detail, show, update, delete, `os-unmanage`,
//! `os-set_bootable`) are here; types, services, manage, groups and snapshots in
//! `resources/`.

mod resources;
mod schemas;
mod views;

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde_json::{json, Value};

use super::common::{
    empty_response, json_response, parse_query, truthy, ApiError, Family, Query, Reply, SiteContext,
};
use super::microversion::{Microversion, VOLUME};
use super::schema;
use crate::cloud::block_storage::{self as cinder, CreateVolume};
use crate::cloud::Caller;
use crate::state::records::VolumeRec;
use crate::state::World;

const F: Family = Family::Volume;

/// Path parameters (`project_id` when the URL has one, `id`, …).
type Params = HashMap<String, String>;

/// Registers `path` under `/volume/v3` and `/volume/v3/{project_id}`.
fn both(
    router: Router<SiteContext>,
    path: &str,
    method: MethodRouter<SiteContext>,
) -> Router<SiteContext> {
    router
        .route(&format!("/volume/v3{path}"), method.clone())
        .route(&format!("/volume/v3/{{project_id}}{path}"), method)
}

/// Cinder's routes.
pub(crate) fn router() -> Router<SiteContext> {
    let mut router = Router::new()
        .route("/volume", get(versions))
        .route("/volume/", get(versions))
        .route("/volume/v3", get(v3_versions))
        .route("/volume/v3/", get(v3_versions));
    router = both(router, "/volumes", get(list_volumes).post(create_volume));
    router = both(router, "/volumes/detail", get(list_volumes_detail));
    router = both(
        router,
        "/volumes/{id}",
        get(show_volume).put(update_volume).delete(delete_volume),
    );
    router = both(router, "/volumes/{id}/action", post(volume_action));
    resources::routes(router)
}

// ------------------------------------------------------------------ plumbing

/// One Cinder call: token, the URL's project id (must be the token's), the microversion (and
/// the method's minimum), then `f`; the answer carries the microversion.
async fn cinder_call(
    ctx: &SiteContext,
    operation: &'static str,
    headers: &HeaderMap,
    params: &Params,
    min_minor: u32,
    f: impl FnOnce(&mut World, &Caller, Microversion) -> Reply,
) -> Response {
    let version = VOLUME.requested(headers);
    let stamp = version.as_ref().ok().copied();
    let url_project = params.get("project_id").cloned();
    let mut response = ctx
        .call(F, operation, headers, move |world, caller| {
            if url_project.is_some_and(|p| p != caller.project_id) {
                return Err(ApiError::bad_request(F, "Malformed request url"));
            }
            let v = version?;
            if !v.at_least(min_minor) {
                return Err(ApiError::not_found(
                    F,
                    format!("API version {v} is not supported on this method."),
                ));
            }
            f(world, caller, v)
        })
        .await;
    if let Some(v) = stamp {
        VOLUME.stamp(&mut response, v);
    }
    response
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::bad_request(F, "Malformed request body"))
}

fn validate(name: &str, schema: impl FnOnce() -> Value, body: &Value) -> Result<(), ApiError> {
    let validator = schema::validator(&format!("cinder/{name}"), schema);
    match schema::first_violation(&validator, body) {
        Some(violation) => Err(ApiError::bad_request(F, violation.openstack_message())),
        None => Ok(()),
    }
}

/// A service-layer error as Cinder answers it: its `Invalid…` exceptions are 400.
fn from_core(error: protector_core::Error) -> ApiError {
    let mut api = ApiError::from_error(F, &error);
    if api.status == StatusCode::CONFLICT && api.message.starts_with("Invalid ") {
        api.status = StatusCode::BAD_REQUEST;
    }
    api
}

fn volume_not_found(id: &str) -> ApiError {
    ApiError::not_found(F, format!("Volume {id} could not be found."))
}

fn param<'p>(params: &'p Params, key: &str) -> &'p str {
    params.get(key).map(String::as_str).unwrap_or_default()
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

fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

// ------------------------------------------------------------------ versions

fn v3_doc(ctx: &SiteContext) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "version": VOLUME.max.to_string(),
        "min_version": VOLUME.min.to_string(),
        "updated": "2023-08-31T00:00:00Z",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": format!("{}/volume/v3/", ctx.base_url)},
        ],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.volume+json;version=3",
        }],
    })
}

async fn versions(State(ctx): State<SiteContext>) -> Response {
    let body = json!({ "versions": [v3_doc(&ctx)] });
    ctx.call_open(F, "volume_versions", |_| {
        Ok(json_response(StatusCode::MULTIPLE_CHOICES, &body))
    })
    .await
}

async fn v3_versions(State(ctx): State<SiteContext>) -> Response {
    let body = json!({ "versions": [v3_doc(&ctx)] });
    ctx.call_open(F, "volume_versions", |_| {
        Ok(json_response(StatusCode::OK, &body))
    })
    .await
}

// ------------------------------------------------------------------ volumes

/// Cinder's `metadata` filter: a Python dict literal (`{'k': 'v'}`) or JSON.
fn metadata_filter(text: &str) -> BTreeMap<String, String> {
    let json_text = text.replace('\'', "\"");
    serde_json::from_str::<Value>(&json_text)
        .map(|v| string_map(&v))
        .unwrap_or_default()
}

fn listed<'w>(
    world: &'w World,
    caller: &Caller,
    query: &Query,
) -> Result<Vec<&'w VolumeRec>, ApiError> {
    let all = caller.is_admin()
        && (truthy(query.get("all_tenants")) || truthy(query.get("all_projects")));
    let project = query.get("project_id").filter(|_| caller.is_admin() && all);
    let metadata = query
        .get("metadata")
        .map(|m| metadata_filter(m))
        .unwrap_or_default();
    let mut volumes: Vec<&VolumeRec> = world
        .volumes
        .values()
        .filter(|v| v.site == caller.site)
        .filter(|v| match project {
            Some(p) => &v.project_id == p,
            None => all || v.project_id == caller.project_id,
        })
        .filter(|v| query.get("name").is_none_or(|n| &v.name == n))
        .filter(|v| query.get("status").is_none_or(|s| &v.status == s))
        .filter(|v| {
            query
                .get("group_id")
                .is_none_or(|g| v.group_id.as_ref() == Some(g))
        })
        .filter(|v| {
            query
                .get("bootable")
                .is_none_or(|b| truthy(Some(b)) == v.bootable)
        })
        .filter(|v| {
            metadata
                .iter()
                .all(|(k, val)| v.metadata.get(k) == Some(val))
        })
        .collect();
    volumes.sort_by_key(|v| std::cmp::Reverse(v.seq));
    if let Some(marker) = query.get("marker") {
        let position = volumes
            .iter()
            .position(|v| &v.id == marker)
            .ok_or_else(|| {
                ApiError::not_found(F, format!("Marker {marker} could not be found."))
            })?;
        volumes.drain(..=position);
    }
    if let Some(limit) = query.get("limit") {
        let limit: usize = limit.parse().map_err(|_| {
            ApiError::bad_request(
                F,
                format!("Invalid input received: limit must be an integer, got {limit}"),
            )
        })?;
        volumes.truncate(limit);
    }
    Ok(volumes)
}

async fn list_volumes(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    cinder_call(
        &ctx,
        "list_volumes",
        &headers,
        &params,
        0,
        move |world, caller, v| {
            let items: Vec<Value> = listed(world, caller, &query)?
                .into_iter()
                .map(|vol| views::volume_summary(&context, vol))
                .collect();
            let mut body = json!({ "volumes": items });
            if v.at_least(45) && truthy(query.get("with_count")) {
                body["count"] = json!(body["volumes"].as_array().map_or(0, Vec::len));
            }
            Ok(json_response(StatusCode::OK, &body))
        },
    )
    .await
}

async fn list_volumes_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    cinder_call(
        &ctx,
        "list_volumes",
        &headers,
        &params,
        0,
        move |world, caller, v| {
            let items: Vec<Value> = listed(world, caller, &query)?
                .into_iter()
                .map(|vol| views::volume(&context, world, caller, vol, v))
                .collect();
            let mut body = json!({ "volumes": items });
            if v.at_least(45) && truthy(query.get("with_count")) {
                body["count"] = json!(body["volumes"].as_array().map_or(0, Vec::len));
            }
            Ok(json_response(StatusCode::OK, &body))
        },
    )
    .await
}

async fn show_volume(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "get_volume",
        &headers,
        &params,
        0,
        move |world, caller, v| {
            let volume =
                cinder::visible(world, caller, &id).ok_or_else(|| volume_not_found(&id))?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"volume": views::volume(&context, world, caller, volume, v)}),
            ))
        },
    )
    .await
}

async fn create_volume(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let context = ctx.clone();
    cinder_call(&ctx, "create_volume", &headers, &params, 0, move |world, caller, v| {
        let body = parse_body(&body)?;
        validate(
            schemas::volume_create_range(v),
            || schemas::volume_create(v),
            &body,
        )?;
        let volume = &body["volume"];
        for source in ["source_volid", "snapshot_id", "imageRef", "image_id", "backup_id"] {
            if volume.get(source).is_some_and(|s| !s.is_null()) {
                return Err(ApiError::bad_request(
                    F,
                    format!(
                        "Invalid input received: creating a volume from {source} is not simulated; create blank volumes."
                    ),
                ));
            }
        }
        let size = match &volume["size"] {
            Value::Number(n) => n.as_u64().unwrap_or(0),
            Value::String(s) => s.parse().unwrap_or(0),
            _ => {
                return Err(ApiError::bad_request(
                    F,
                    "Invalid input received: Volume size '' must be an integer and greater than 0",
                ))
            }
        };
        let text = |keys: [&str; 2]| {
            keys.iter()
                .find_map(|k| volume[*k].as_str())
                .unwrap_or_default()
                .to_string()
        };
        let request = CreateVolume {
            size_gb: size,
            name: text(["name", "display_name"]),
            description: text(["description", "display_description"]),
            volume_type: volume["volume_type"].as_str().unwrap_or_default().to_string(),
            availability_zone: volume["availability_zone"].as_str().map(str::to_string),
            metadata: string_map(&volume["metadata"]),
        };
        let created = cinder::create_volume(world, caller, &request).map_err(from_core)?;
        if let Some(group) = volume["group_id"].as_str() {
            cinder::update_volume_group(world, caller, group, std::slice::from_ref(&created.id), &[])
                .map_err(from_core)?;
        }
        let record = world.volumes.get(&created.id).cloned().unwrap_or(created);
        Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({"volume": views::volume(&context, world, caller, &record, v)}),
        ))
    })
    .await
}

async fn update_volume(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let context = ctx.clone();
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "update_volume",
        &headers,
        &params,
        0,
        move |world, caller, v| {
            let body = parse_body(&body)?;
            let update = body
                .get("volume")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    ApiError::bad_request(F, "Missing required element 'volume' in request body.")
                })?
                .clone();
            if cinder::visible(world, caller, &id).is_none() {
                return Err(volume_not_found(&id));
            }
            let now = world.now();
            if let Some(volume) = world.volumes.get_mut(&id) {
                if let Some(name) = update.get("name").or_else(|| update.get("display_name")) {
                    volume.name = name.as_str().unwrap_or_default().to_string();
                }
                if let Some(text) = update
                    .get("description")
                    .or_else(|| update.get("display_description"))
                {
                    volume.description = text.as_str().unwrap_or_default().to_string();
                }
                if let Some(metadata) = update.get("metadata") {
                    volume.metadata = string_map(metadata);
                }
                volume.updated = Some(now);
            }
            let volume =
                cinder::visible(world, caller, &id).ok_or_else(|| volume_not_found(&id))?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"volume": views::volume(&context, world, caller, volume, v)}),
            ))
        },
    )
    .await
}

async fn delete_volume(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "delete_volume",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            if cinder::visible(world, caller, &id).is_none() {
                return Err(volume_not_found(&id));
            }
            if truthy(query.get("cascade")) {
                for snapshot in world.cinder_snapshots.keys_where(|s| s.volume_id == id) {
                    world.cinder_snapshots.remove(&snapshot);
                }
            }
            cinder::delete_volume(world, caller, &id).map_err(from_core)?;
            Ok(empty_response(StatusCode::ACCEPTED))
        },
    )
    .await
}

async fn volume_action(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "volume_action",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            let body = parse_body(&body)?;
            let action = body
                .as_object()
                .and_then(|m| m.keys().next().cloned())
                .unwrap_or_default();
            if cinder::visible(world, caller, &id).is_none() {
                return Err(volume_not_found(&id));
            }
            match action.as_str() {
                "os-unmanage" => {
                    validate("volume_unmanage", schemas::unmanage, &body)?;
                    cinder::unmanage_volume(world, caller, &id).map_err(from_core)?;
                    Ok(empty_response(StatusCode::ACCEPTED))
                }
                "os-set_bootable" => {
                    validate("volume_set_bootable", schemas::set_bootable, &body)?;
                    let bootable = bool_like(&body["os-set_bootable"]["bootable"]);
                    cinder::set_bootable(world, caller, &id, bootable).map_err(from_core)?;
                    Ok(empty_response(StatusCode::OK))
                }
                other => Err(ApiError::bad_request(
                    F,
                    format!("There is no such action: {other}"),
                )),
            }
        },
    )
    .await
}
