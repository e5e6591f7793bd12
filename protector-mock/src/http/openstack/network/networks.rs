//! Neutron networks and subnets, read-only: list (with Neutron's generic filters and `fields`)
//! and show, each limited to what the caller may see.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::super::common::{json_response, SiteContext};
use super::views::{network_view, subnet_view};
use super::{list_reply, not_found, F};
use crate::cloud::network as neutron;

pub(super) async fn list_networks(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_networks", &headers, move |world, caller| {
        let items = neutron::list_network_records(world, caller)
            .into_iter()
            .map(|n| network_view(world, caller, n))
            .collect();
        list_reply("networks", items, raw.as_deref())
    })
    .await
}

pub(super) async fn show_network(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "find_network", &headers, move |world, caller| {
        let network = neutron::visible_network(world, caller, &id)
            .ok_or_else(|| not_found("network", &id))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"network": network_view(world, caller, network)}),
        ))
    })
    .await
}

pub(super) async fn list_subnets(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_subnets", &headers, move |world, caller| {
        let items = neutron::list_subnets(world, caller)
            .into_iter()
            .map(|s| subnet_view(world, s))
            .collect();
        list_reply("subnets", items, raw.as_deref())
    })
    .await
}

pub(super) async fn show_subnet(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "get_subnet", &headers, move |world, caller| {
        let subnet =
            neutron::visible_subnet(world, caller, &id).ok_or_else(|| not_found("subnet", &id))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"subnet": subnet_view(world, subnet)}),
        ))
    })
    .await
}
