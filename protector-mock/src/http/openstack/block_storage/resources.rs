//! Cinder resources beside volumes: types and extra specs, `os-services`, manage
//! (`os-volume-manage`, `manageable_volumes`), groups and group types, snapshots,
//! availability zones.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::super::common::{
    empty_response, iso_micros, json_response, parse_query, truthy, ApiError, SiteContext,
};
use super::super::microversion::Microversion;
use super::schemas;
use super::{
    bool_like, both, cinder_call, from_core, param, parse_body, string_map, validate, views,
    Params, F,
};
use crate::cloud::block_storage::{self as cinder, CreateGroup, CreateSnapshot};
use crate::cloud::{policy_denied, Caller};
use crate::state::World;
use protector_core::api::ManageVolume;

pub(super) fn routes(mut router: Router<super::SiteContext>) -> Router<super::SiteContext> {
    router = both(router, "/types", get(list_types));
    router = both(router, "/types/{id}", get(show_type));
    router = both(router, "/types/{id}/extra_specs", get(type_extra_specs));
    router = both(
        router,
        "/types/{id}/extra_specs/{key}",
        get(type_extra_spec),
    );
    router = both(router, "/os-services", get(list_services));
    router = both(
        router,
        "/os-volume-manage",
        get(list_manageable_legacy).post(manage_legacy),
    );
    router = both(
        router,
        "/os-volume-manage/detail",
        get(list_manageable_legacy_detail),
    );
    router = both(
        router,
        "/manageable_volumes",
        get(list_manageable).post(manage),
    );
    router = both(
        router,
        "/manageable_volumes/detail",
        get(list_manageable_detail),
    );
    router = both(router, "/group_types", get(list_group_types));
    router = both(router, "/group_types/{id}", get(show_group_type));
    router = both(router, "/group_types/{id}/group_specs", get(group_specs));
    router = both(router, "/groups", get(list_groups).post(create_group));
    router = both(router, "/groups/detail", get(list_groups_detail));
    router = both(router, "/groups/{id}", get(show_group).put(update_group));
    router = both(router, "/groups/{id}/action", post(group_action));
    router = both(
        router,
        "/snapshots",
        get(list_snapshots).post(create_snapshot),
    );
    router = both(router, "/snapshots/detail", get(list_snapshots_detail));
    router = both(
        router,
        "/snapshots/{id}",
        get(show_snapshot).delete(delete_snapshot),
    );
    router = both(router, "/consistencygroups", get(legacy_consistency_groups));
    router = both(
        router,
        "/consistencygroups/detail",
        get(legacy_consistency_groups),
    );
    both(router, "/os-availability-zone", get(availability_zones))
}

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

async fn list_types(
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

async fn show_type(
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

async fn type_extra_specs(
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

async fn type_extra_spec(
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

async fn list_services(
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

// ------------------------------------------------------------------ manage

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

async fn manage_legacy(
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

async fn manage(
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

async fn list_manageable(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, false, 8).await
}

async fn list_manageable_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, true, 8).await
}

async fn list_manageable_legacy(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, false, 0).await
}

async fn list_manageable_legacy_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    manageable(ctx, params, query, headers, true, 0).await
}

// ------------------------------------------------------------------ group types

fn find_group_type<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Result<&'w crate::state::records::GroupTypeRec, ApiError> {
    cinder::find_group_type(world, &caller.site, id)
        .ok_or_else(|| ApiError::not_found(F, format!("Group type {id} could not be found.")))
}

async fn list_group_types(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    cinder_call(
        &ctx,
        "list_group_types",
        &headers,
        &params,
        11,
        move |world, caller, _| {
            let items: Vec<Value> = cinder::list_group_types(world, &caller.site)
                .into_iter()
                .map(|t| views::group_type(caller, t))
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "group_types": items }),
            ))
        },
    )
    .await
}

async fn show_group_type(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "get_group_type",
        &headers,
        &params,
        11,
        move |world, caller, _| {
            let t = find_group_type(world, caller, &id)?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"group_type": views::group_type(caller, t)}),
            ))
        },
    )
    .await
}

async fn group_specs(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "group_specs",
        &headers,
        &params,
        11,
        move |world, caller, _| {
            let t = find_group_type(world, caller, &id)?;
            if !caller.is_admin() {
                return Err(from_core(policy_denied("group:group_types_specs")));
            }
            Ok(json_response(
                StatusCode::OK,
                &json!({"group_specs": t.group_specs}),
            ))
        },
    )
    .await
}

// ------------------------------------------------------------------ groups

fn group_not_found(id: &str) -> ApiError {
    ApiError::not_found(F, format!("Group {id} could not be found."))
}

async fn groups(
    ctx: SiteContext,
    params: Params,
    query: Option<String>,
    headers: HeaderMap,
    detail: bool,
) -> Response {
    let query = parse_query(query.as_deref());
    cinder_call(
        &ctx,
        "list_volume_groups",
        &headers,
        &params,
        13,
        move |world, caller, v| {
            let all = truthy(query.get("all_tenants")) || truthy(query.get("all_projects"));
            let list_volumes = truthy(query.get("list_volume"));
            let items: Vec<Value> = cinder::list_groups(world, caller, all)
                .into_iter()
                .map(|g| {
                    if detail {
                        views::group(world, g, v, list_volumes)
                    } else {
                        json!({"id": g.id, "name": g.name})
                    }
                })
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "groups": items })))
        },
    )
    .await
}

async fn list_groups(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    groups(ctx, params, query, headers, false).await
}

async fn list_groups_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    groups(ctx, params, query, headers, true).await
}

async fn show_group(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let id = param(&params, "id").to_string();
    cinder_call(
        &ctx,
        "get_volume_group",
        &headers,
        &params,
        13,
        move |world, caller, v| {
            let group =
                cinder::visible_group(world, caller, &id).ok_or_else(|| group_not_found(&id))?;
            Ok(json_response(
                StatusCode::OK,
                &json!({"group": views::group(world, group, v, truthy(query.get("list_volume")))}),
            ))
        },
    )
    .await
}

async fn create_group(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    cinder_call(
        &ctx,
        "create_volume_group",
        &headers,
        &params,
        13,
        move |world, caller, _| {
            let body = parse_body(&body)?;
            validate("group_create", schemas::group_create, &body)?;
            let group = &body["group"];
            let request = CreateGroup {
                name: group["name"].as_str().unwrap_or_default().to_string(),
                description: group["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                group_type: group["group_type"].as_str().unwrap_or_default().to_string(),
                volume_types: group["volume_types"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
                availability_zone: group["availability_zone"].as_str().map(str::to_string),
            };
            let created = cinder::create_group(world, caller, &request).map_err(from_core)?;
            Ok(json_response(
                StatusCode::ACCEPTED,
                &json!({"group": {"id": created.id, "name": created.name}}),
            ))
        },
    )
    .await
}

fn id_list(value: &Value) -> Vec<String> {
    value
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

async fn update_group(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(&ctx, "update_volume_group", &headers, &params, 13, move |world, caller, _| {
        let body = parse_body(&body)?;
        validate("group_update", schemas::group_update, &body)?;
        let group = &body["group"];
        let name = group["name"].as_str();
        let description = group["description"].as_str();
        let add = id_list(&group["add_volumes"]);
        let remove = id_list(&group["remove_volumes"]);
        if name.is_none() && description.is_none() && add.is_empty() && remove.is_empty() {
            return Err(ApiError::bad_request(
                F,
                "Invalid input received: Name, description, add_volumes, and remove_volumes can not be all empty in the request body.",
            ));
        }
        if cinder::visible_group(world, caller, &id).is_none() {
            return Err(group_not_found(&id));
        }
        if !add.is_empty() || !remove.is_empty() {
            cinder::update_volume_group(world, caller, &id, &add, &remove).map_err(from_core)?;
        }
        cinder::rename_group(world, caller, &id, name, description).map_err(from_core)?;
        Ok(empty_response(StatusCode::ACCEPTED))
    })
    .await
}

async fn group_action(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = param(&params, "id").to_string();
    cinder_call(&ctx, "group_action", &headers, &params, 13, move |world, caller, _| {
        let body = parse_body(&body)?;
        let action = body
            .as_object()
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_default();
        if cinder::visible_group(world, caller, &id).is_none() {
            return Err(group_not_found(&id));
        }
        match action.as_str() {
            "delete" => {
                validate("group_delete", schemas::group_delete, &body)?;
                if body["delete"].get("delete-volumes").is_some_and(bool_like) {
                    let members = cinder::group_members(world, &id);
                    for volume in &members {
                        let deletable = world.volumes.get(volume).is_some_and(|v| {
                            cinder::DELETABLE.contains(&v.status.as_str()) && v.attachments.is_empty()
                        });
                        if !deletable {
                            return Err(ApiError::bad_request(
                                F,
                                format!("Invalid group: Volume {volume} in group {id} cannot be deleted: it is attached or busy."),
                            ));
                        }
                    }
                    cinder::update_volume_group(world, caller, &id, &[], &members)
                        .map_err(from_core)?;
                    for volume in &members {
                        cinder::delete_volume(world, caller, volume).map_err(from_core)?;
                    }
                }
                cinder::delete_volume_group(world, caller, &id).map_err(from_core)?;
                Ok(empty_response(StatusCode::ACCEPTED))
            }
            other => Err(ApiError::bad_request(
                F,
                format!("There is no such action: {other}"),
            )),
        }
    })
    .await
}

// ------------------------------------------------------------------ snapshots

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

async fn list_snapshots(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    snapshots(ctx, params, query, headers, false).await
}

async fn list_snapshots_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    snapshots(ctx, params, query, headers, true).await
}

async fn show_snapshot(
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

async fn create_snapshot(
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

async fn delete_snapshot(
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
async fn legacy_consistency_groups(
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

async fn availability_zones(
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
