//! Cinder's `GET /limits` and `GET /os-quota-sets/{project_id}[/defaults][?usage=true]`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::super::super::common::{json_response, parse_query, truthy, ApiError, SiteContext};
use super::super::{cinder_call, Params, F};
use crate::cloud::capacity::{default_quota, quota, usage, Usage};

/// `GET /v3/{project_id}/limits`: the caller's project.
pub(super) async fn limits(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    headers: HeaderMap,
) -> Response {
    cinder_call(
        &ctx,
        "get_limits",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            let q = quota(world, &caller.site, &caller.project_id);
            let u = usage(world, &caller.site, &caller.project_id);
            Ok(json_response(
                StatusCode::OK,
                &json!({"limits": {"rate": [], "absolute": {
                    "maxTotalVolumes": q.volumes, "totalVolumesUsed": u.volumes,
                    "maxTotalVolumeGigabytes": q.gigabytes, "totalGigabytesUsed": u.gigabytes,
                    "maxTotalSnapshots": 10, "totalSnapshotsUsed": 0,
                    "maxTotalBackups": 10, "totalBackupsUsed": 0,
                    "maxTotalBackupGigabytes": 1000, "totalBackupGigabytesUsed": 0,
                }}}),
            ))
        },
    )
    .await
}

/// `GET /os-quota-sets/{target}` (`?usage=true` for limit, in use and reserved) and
/// `/os-quota-sets/{target}/defaults`. Others than admins see only their own project.
pub(super) async fn quota_set(
    State(ctx): State<SiteContext>,
    Path(params): Path<Params>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let target = params.get("target").cloned().unwrap_or_default();
    let defaults = params.get("view").map(String::as_str) == Some("defaults");
    let unknown_view = params.contains_key("view") && !defaults;
    cinder_call(
        &ctx,
        "show_quota_set",
        &headers,
        &params,
        0,
        move |world, caller, _| {
            if unknown_view {
                return Err(ApiError::not_found(F, "The resource could not be found."));
            }
            if target != caller.project_id && !caller.is_admin() {
                return Err(ApiError::forbidden(
                    F,
                    "Policy doesn't allow volume_extension:quotas:show to be performed.",
                ));
            }
            let with_usage = truthy(parse_query(raw.as_deref()).get("usage"));
            let (q, u) = if defaults {
                (default_quota(&caller.site, &target), Usage::default())
            } else {
                (
                    quota(world, &caller.site, &target),
                    usage(world, &caller.site, &target),
                )
            };
            let mut items: Vec<(String, i64, i64)> = vec![
                ("volumes".into(), q.volumes, u.volumes),
                ("gigabytes".into(), q.gigabytes, u.gigabytes),
                ("snapshots".into(), 10, 0),
                ("backups".into(), 10, 0),
                ("backup_gigabytes".into(), 1000, 0),
                ("groups".into(), 10, 0),
                ("per_volume_gigabytes".into(), -1, 0),
            ];
            for t in world
                .volume_types
                .values()
                .filter(|t| t.site == caller.site)
            {
                for resource in ["volumes", "gigabytes", "snapshots"] {
                    items.push((format!("{resource}_{}", t.name), -1, 0));
                }
            }
            let mut set = Map::new();
            set.insert("id".into(), json!(target));
            for (name, limit, in_use) in items {
                let value: Value = if with_usage && !defaults {
                    json!({"limit": limit, "in_use": in_use, "reserved": 0, "allocated": 0})
                } else {
                    json!(limit)
                };
                set.insert(name, value);
            }
            Ok(json_response(StatusCode::OK, &json!({ "quota_set": set })))
        },
    )
    .await
}
