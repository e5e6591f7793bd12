//! Neutron's discovery resources: the version document at `/network`, the resource index at
//! `/network/v2.0`, the extensions the simulator claims (list and show by alias) and the
//! availability zones.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::super::common::{json_response, SiteContext};
use super::{list_reply, not_found, F};

pub(super) async fn versions(State(ctx): State<SiteContext>) -> Response {
    let body = json!({"versions": [{
        "id": "v2.0",
        "status": "CURRENT",
        "links": [{"href": format!("{}/network/v2.0/", ctx.base_url), "rel": "self"}],
    }]});
    ctx.call_open(F, "network_versions", |_| {
        Ok(json_response(StatusCode::OK, &body))
    })
    .await
}

pub(super) async fn resources(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let base = format!("{}/network/v2.0", ctx.base_url);
    ctx.call(F, "network_resources", &headers, move |_, _| {
        let items: Vec<Value> = [
            ("subnet", "subnets"),
            ("network", "networks"),
            ("port", "ports"),
            ("security_group", "security-groups"),
            ("security_group_rule", "security-group-rules"),
            ("router", "routers"),
        ]
        .iter()
        .map(|(name, collection)| {
            json!({
                "name": name,
                "collection": collection,
                "links": [{"href": format!("{base}/{collection}"), "rel": "self"}],
            })
        })
        .collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({ "resources": items }),
        ))
    })
    .await
}

const EXTENSIONS: [(&str, &str, &str); 17] = [
    ("security-group", "security-group", "The security groups extension."),
    ("port-security", "Port Security", "Provides port security"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("quotas", "Quota management support", "Expose functions for quotas management per project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas usage statistics per project"),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
];

fn extension_view(alias: &str, name: &str, description: &str) -> Value {
    json!({
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2017-01-01T10:00:00-00:00",
        "links": [],
    })
}

pub(super) async fn list_extensions(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_extensions", &headers, move |_, _| {
        let items: Vec<Value> = EXTENSIONS
            .iter()
            .map(|(a, n, d)| extension_view(a, n, d))
            .collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({ "extensions": items }),
        ))
    })
    .await
}

pub(super) async fn show_extension(
    State(ctx): State<SiteContext>,
    Path(alias): Path<String>,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "show_extension", &headers, move |_, _| {
        let (a, n, d) = EXTENSIONS
            .iter()
            .find(|(a, _, _)| *a == alias)
            .ok_or_else(|| not_found("Extension", &alias))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"extension": extension_view(a, n, d)}),
        ))
    })
    .await
}

pub(super) async fn availability_zones(
    State(ctx): State<SiteContext>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    ctx.call(F, "list_availability_zones", &headers, move |_, _| {
        let items = ["network", "router"]
            .iter()
            .map(|resource| json!({"name": "nova", "resource": resource, "state": "available"}))
            .collect();
        list_reply("availability_zones", items, raw.as_deref())
    })
    .await
}
