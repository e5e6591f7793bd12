//! Neutron's `GET /v2.0/quotas/{project_id}` and `/v2.0/quotas/{project_id}/details`
//! (`quotas` and `quota_details` extensions): limits from the simulator's quota of the project
//! (ports) or Neutron's defaults, usage counted from its records.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map};

use super::{ApiError, F};
use crate::cloud::capacity::quota;
use crate::http::openstack::common::{json_response, SiteContext};
use crate::state::World;

/// Each quota of `project` on `site`: (resource, limit, used).
fn quotas(world: &World, site: &str, project: &str) -> Vec<(&'static str, i64, i64)> {
    let count = |n: usize| n as i64;
    let mine = |s: &str, p: &str| s == site && p == project;
    vec![
        (
            "network",
            crate::cloud::network_create::NETWORK_QUOTA as i64,
            count(
                world
                    .networks
                    .values()
                    .filter(|n| mine(&n.site, &n.project_id))
                    .count(),
            ),
        ),
        (
            "subnet",
            crate::cloud::network_create::NETWORK_QUOTA as i64,
            count(
                world
                    .subnets
                    .values()
                    .filter(|n| mine(&n.site, &n.project_id))
                    .count(),
            ),
        ),
        (
            "port",
            quota(world, site, project).ports,
            count(
                world
                    .ports
                    .values()
                    .filter(|p| mine(&p.site, &p.project_id))
                    .count(),
            ),
        ),
        (
            "router",
            crate::cloud::routers::ROUTER_QUOTA as i64,
            count(
                world
                    .routers
                    .values()
                    .filter(|r| mine(&r.site, &r.project_id))
                    .count(),
            ),
        ),
        ("floatingip", 50, 0),
        (
            "security_group",
            10,
            count(
                world
                    .security_groups
                    .values()
                    .filter(|g| mine(&g.site, &g.project_id))
                    .count(),
            ),
        ),
        (
            "security_group_rule",
            100,
            count(
                world
                    .security_group_rules
                    .values()
                    .filter(|r| mine(&r.site, &r.project_id))
                    .count(),
            ),
        ),
        ("rbac_policy", 10, 0),
        ("subnetpool", -1, 0),
    ]
}

async fn show(ctx: SiteContext, project: String, headers: HeaderMap, details: bool) -> Response {
    ctx.call(F, "get_quota", &headers, move |world, caller| {
        if !caller.can_see(&project) {
            return Err(
                ApiError::forbidden(F, "rule:get_quota is disallowed by policy")
                    .with_type("PolicyNotAuthorized"),
            );
        }
        let mut quota = Map::new();
        for (resource, limit, used) in quotas(world, &caller.site, &project) {
            let value = if details {
                json!({"limit": limit, "used": used, "reserved": 0})
            } else {
                json!(limit)
            };
            quota.insert(resource.into(), value);
        }
        Ok(json_response(StatusCode::OK, &json!({ "quota": quota })))
    })
    .await
}

pub(super) async fn show_quota(
    State(ctx): State<SiteContext>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Response {
    show(ctx, project, headers, false).await
}

pub(super) async fn show_quota_details(
    State(ctx): State<SiteContext>,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> Response {
    show(ctx, project, headers, true).await
}
