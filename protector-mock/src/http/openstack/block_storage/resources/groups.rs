//! Cinder's generic volume groups and group types: group types and their specs (read),
//! groups (list, detail, show, create, update) and the group actions.

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
    bool_like, cinder_call, from_core, param, parse_body, validate, views, Params, F,
};
use crate::cloud::block_storage::{self as cinder, CreateGroup};
use crate::cloud::{policy_denied, Caller};
use crate::state::World;

// ------------------------------------------------------------------ group types

fn find_group_type<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Result<&'w crate::state::records::GroupTypeRec, ApiError> {
    cinder::find_group_type(world, &caller.site, id)
        .ok_or_else(|| ApiError::not_found(F, format!("Group type {id} could not be found.")))
}

pub(super) async fn list_group_types(
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

pub(super) async fn show_group_type(
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

pub(super) async fn group_specs(
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

pub(super) async fn list_groups(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    groups(ctx, params, query, headers, false).await
}

pub(super) async fn list_groups_detail(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    groups(ctx, params, query, headers, true).await
}

pub(super) async fn show_group(
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

pub(super) async fn create_group(
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

pub(super) async fn update_group(
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

pub(super) async fn group_action(
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
