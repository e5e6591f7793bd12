//! Keystone's service catalog: the simulator's own services (identity, compute, volumev3,
//! block-storage, network; always there, not removable) and the services and endpoints an
//! operator registers (`openstack service create --name protector protector`, `openstack
//! endpoint create protector public http://controller:8788/v1/%(tenant_id)s`), as
//! `/v3/services` and `/v3/endpoints`. A project-scoped token's catalog lists both, with
//! `%(tenant_id)s` / `%(project_id)s` (or `$(...)s`) expanded to the token's project, as
//! Keystone does. Registering needs the `admin` role; listing any valid token.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::directory::list_json;
use super::{forbidden, hex_id, F};
use crate::cloud::Caller;
use crate::http::openstack::common::{
    empty_response, json_response, parse_query, ApiError, SiteContext,
};
use crate::state::records::{KeystoneEndpointRec, KeystoneServiceRec};
use crate::state::World;

pub(super) fn router() -> Router<SiteContext> {
    Router::new()
        .route(
            "/identity/v3/services",
            get(list_services).post(create_service),
        )
        .route(
            "/identity/v3/services/{id}",
            get(show_service).delete(delete_service),
        )
        .route(
            "/identity/v3/endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/identity/v3/endpoints/{id}",
            get(show_endpoint).delete(delete_endpoint),
        )
        .route("/identity/v3/regions", get(list_regions))
        .route("/identity/v3/regions/{id}", get(show_region))
}

fn region_json(ctx: &SiteContext) -> Value {
    json!({
        "id": REGION,
        "description": "",
        "parent_region_id": null,
        "links": {"self": format!("{}/v3/regions/{REGION}", ctx.identity_url())},
    })
}

/// The one region every simulated site has (`openstack endpoint create --region` looks it up).
async fn list_regions(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    ctx.call(F, "list_regions", &headers, move |_world, _caller| {
        list_json(&context, "regions", vec![region_json(&context)], "regions")
    })
    .await
}

async fn show_region(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_region", &headers, move |_world, _caller| {
        if id != REGION {
            return Err(ApiError::not_found(
                F,
                format!("Could not find region: {id}."),
            ));
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"region": region_json(&context)}),
        ))
    })
    .await
}

const INTERFACES: [&str; 3] = ["public", "internal", "admin"];
const REGION: &str = "RegionOne";

/// A service of the catalog with its endpoints (URLs not yet expanded).
struct Service {
    id: String,
    kind: String,
    name: String,
    description: String,
    enabled: bool,
    builtin: bool,
    endpoints: Vec<KeystoneEndpointRec>,
}

/// The simulator's own services, with ids derived from the world's seed.
fn builtin(ctx: &SiteContext, world: &World) -> Vec<Service> {
    let base = &ctx.base_url;
    let volume = format!("{base}/volume/v3/%(project_id)s");
    [
        ("identity", "keystone", ctx.identity_url()),
        ("compute", "nova", format!("{base}/compute/v2.1")),
        ("volumev3", "cinderv3", volume.clone()),
        ("block-storage", "cinder", volume),
        ("network", "neutron", format!("{base}/network")),
    ]
    .into_iter()
    .map(|(kind, name, url)| {
        let id = hex_id(world, &["keystone-service", &ctx.site, kind]);
        let endpoints = INTERFACES
            .iter()
            .map(|interface| KeystoneEndpointRec {
                id: hex_id(world, &["keystone-endpoint", &ctx.site, kind, interface]),
                site: ctx.site.clone(),
                service_id: id.clone(),
                interface: interface.to_string(),
                url: url.clone(),
                region_id: REGION.to_string(),
                enabled: true,
            })
            .collect();
        Service {
            id,
            kind: kind.to_string(),
            name: name.to_string(),
            description: String::new(),
            enabled: true,
            builtin: true,
            endpoints,
        }
    })
    .collect()
}

/// Every service of the site: the simulator's own, then the registered ones by creation.
fn services(ctx: &SiteContext, world: &World) -> Vec<Service> {
    let mut all = builtin(ctx, world);
    all.extend(
        world
            .keystone_services
            .values()
            .filter(|s| s.site == ctx.site)
            .map(|s| Service {
                id: s.id.clone(),
                kind: s.kind.clone(),
                name: s.name.clone(),
                description: s.description.clone(),
                enabled: s.enabled,
                builtin: false,
                endpoints: world
                    .keystone_endpoints
                    .values()
                    .filter(|e| e.site == ctx.site && e.service_id == s.id)
                    .cloned()
                    .collect(),
            }),
    );
    all
}

/// `url` with the project substitutions Keystone makes in a token's catalog.
fn expand(url: &str, project_id: &str) -> String {
    [
        "%(tenant_id)s",
        "$(tenant_id)s",
        "%(project_id)s",
        "$(project_id)s",
    ]
    .iter()
    .fold(url.to_string(), |url, pattern| {
        url.replace(pattern, project_id)
    })
}

/// The catalog of a token scoped to `project_id`: services with at least one enabled
/// endpoint, public, internal and admin endpoints in RegionOne.
pub(super) fn catalog(ctx: &SiteContext, world: &World, project_id: &str) -> Value {
    Value::Array(
        services(ctx, world)
            .into_iter()
            .filter(|s| s.enabled)
            .filter_map(|s| {
                let endpoints: Vec<Value> = s
                    .endpoints
                    .iter()
                    .filter(|e| e.enabled)
                    .map(|e| {
                        json!({
                            "id": e.id,
                            "interface": e.interface,
                            "region_id": e.region_id,
                            "region": e.region_id,
                            "url": expand(&e.url, project_id),
                        })
                    })
                    .collect();
                (!endpoints.is_empty()).then(|| {
                    json!({
                        "type": s.kind,
                        "name": s.name,
                        "id": s.id,
                        "endpoints": endpoints,
                    })
                })
            })
            .collect(),
    )
}

fn service_json(ctx: &SiteContext, s: &Service) -> Value {
    json!({
        "id": s.id,
        "type": s.kind,
        "name": s.name,
        "description": s.description,
        "enabled": s.enabled,
        "links": {"self": format!("{}/v3/services/{}", ctx.identity_url(), s.id)},
    })
}

fn endpoint_json(ctx: &SiteContext, e: &KeystoneEndpointRec) -> Value {
    json!({
        "id": e.id,
        "service_id": e.service_id,
        "interface": e.interface,
        "url": e.url,
        "region_id": e.region_id,
        "region": e.region_id,
        "enabled": e.enabled,
        "links": {"self": format!("{}/v3/endpoints/{}", ctx.identity_url(), e.id)},
    })
}

fn require_admin(caller: &Caller, rule: &str) -> Result<(), ApiError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(forbidden(rule))
    }
}

fn json_body(body: &[u8], key: &str) -> Result<Value, ApiError> {
    let parsed: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request(F, "Expecting to find valid JSON in request body."))?;
    let inner = parsed
        .get(key)
        .filter(|v| v.is_object())
        .ok_or_else(|| ApiError::bad_request(F, format!("'{key}' is a required property")))?;
    Ok(inner.clone())
}

fn string_field(body: &Value, key: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::bad_request(
            F,
            format!("Invalid input for field '{key}': {other} is not of type 'string'"),
        )),
    }
}

fn bool_field(body: &Value, key: &str) -> Result<bool, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::bad_request(
            F,
            format!("Invalid input for field '{key}': {other} is not of type 'boolean'"),
        )),
    }
}

async fn list_services(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    ctx.call(F, "list_services", &headers, move |world, _caller| {
        let kind = query.get("type").cloned();
        let name = query.get("name").cloned();
        let items = services(&context, world)
            .iter()
            .filter(|s| kind.as_ref().is_none_or(|k| &s.kind == k))
            .filter(|s| name.as_ref().is_none_or(|n| &s.name == n))
            .map(|s| service_json(&context, s))
            .collect();
        list_json(&context, "services", items, "services")
    })
    .await
}

fn find_service(ctx: &SiteContext, world: &World, id: &str) -> Result<Service, ApiError> {
    services(ctx, world)
        .into_iter()
        .find(|s| s.id == id)
        .ok_or_else(|| ApiError::not_found(F, format!("Could not find service: {id}.")))
}

async fn show_service(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_service", &headers, move |world, _caller| {
        let service = find_service(&context, world, &id)?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"service": service_json(&context, &service)}),
        ))
    })
    .await
}

async fn create_service(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "create_service", &headers, move |world, caller| {
        require_admin(caller, "identity:create_service")?;
        let request = json_body(&body, "service")?;
        let kind = string_field(&request, "type")?
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::bad_request(F, "'type' is a required property"))?;
        let record = KeystoneServiceRec {
            id: world.new_uuid().replace('-', ""),
            site: context.site.clone(),
            kind,
            name: string_field(&request, "name")?.unwrap_or_default(),
            description: string_field(&request, "description")?.unwrap_or_default(),
            enabled: bool_field(&request, "enabled")?,
        };
        world
            .keystone_services
            .insert(record.id.clone(), record.clone());
        let service = find_service(&context, world, &record.id)?;
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"service": service_json(&context, &service)}),
        ))
    })
    .await
}

async fn delete_service(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "delete_service", &headers, move |world, caller| {
        require_admin(caller, "identity:delete_service")?;
        let service = find_service(&context, world, &id)?;
        if service.builtin {
            return Err(forbidden("identity:delete_service"));
        }
        world.keystone_services.remove(&id);
        // Keystone deletes a service's endpoints with it.
        for endpoint in service.endpoints {
            world.keystone_endpoints.remove(&endpoint.id);
        }
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}

fn all_endpoints(ctx: &SiteContext, world: &World) -> Vec<KeystoneEndpointRec> {
    services(ctx, world)
        .into_iter()
        .flat_map(|s| s.endpoints)
        .collect()
}

async fn list_endpoints(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    ctx.call(F, "list_endpoints", &headers, move |world, _caller| {
        let service = query.get("service_id").cloned();
        let interface = query.get("interface").cloned();
        let items = all_endpoints(&context, world)
            .iter()
            .filter(|e| service.as_ref().is_none_or(|s| &e.service_id == s))
            .filter(|e| interface.as_ref().is_none_or(|i| &e.interface == i))
            .map(|e| endpoint_json(&context, e))
            .collect();
        list_json(&context, "endpoints", items, "endpoints")
    })
    .await
}

async fn show_endpoint(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_endpoint", &headers, move |world, _caller| {
        let endpoint = all_endpoints(&context, world)
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| ApiError::not_found(F, format!("Could not find endpoint: {id}.")))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"endpoint": endpoint_json(&context, &endpoint)}),
        ))
    })
    .await
}

async fn create_endpoint(
    State(ctx): State<SiteContext>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "create_endpoint", &headers, move |world, caller| {
        require_admin(caller, "identity:create_endpoint")?;
        let request = json_body(&body, "endpoint")?;
        let service_id = string_field(&request, "service_id")?
            .ok_or_else(|| ApiError::bad_request(F, "'service_id' is a required property"))?;
        let service = find_service(&context, world, &service_id).map_err(|_| {
            ApiError::bad_request(F, format!("Could not find service: {service_id}."))
        })?;
        if service.builtin {
            return Err(forbidden("identity:create_endpoint"));
        }
        let interface = string_field(&request, "interface")?
            .ok_or_else(|| ApiError::bad_request(F, "'interface' is a required property"))?;
        if !INTERFACES.contains(&interface.as_str()) {
            return Err(ApiError::bad_request(
                F,
                format!("Invalid input for field 'interface': '{interface}' is not one of ['admin', 'internal', 'public']"),
            ));
        }
        let url = string_field(&request, "url")?
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .ok_or_else(|| {
                ApiError::bad_request(F, "Invalid input for field 'url': give an http(s) URL")
            })?;
        let region_id = match string_field(&request, "region_id")? {
            Some(region) => region,
            None => string_field(&request, "region")?.unwrap_or_else(|| REGION.to_string()),
        };
        let record = KeystoneEndpointRec {
            id: world.new_uuid().replace('-', ""),
            site: context.site.clone(),
            service_id,
            interface,
            url,
            region_id,
            enabled: bool_field(&request, "enabled")?,
        };
        world.keystone_endpoints.insert(record.id.clone(), record.clone());
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"endpoint": endpoint_json(&context, &record)}),
        ))
    })
    .await
}

async fn delete_endpoint(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "delete_endpoint", &headers, move |world, caller| {
        require_admin(caller, "identity:delete_endpoint")?;
        let registered = world
            .keystone_endpoints
            .get(&id)
            .is_some_and(|e| e.site == context.site);
        if !registered {
            let builtin = all_endpoints(&context, world).iter().any(|e| e.id == id);
            return Err(if builtin {
                forbidden("identity:delete_endpoint")
            } else {
                ApiError::not_found(F, format!("Could not find endpoint: {id}."))
            });
        }
        world.keystone_endpoints.remove(&id);
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn project_placeholders_are_expanded_as_keystone_does() {
        assert_eq!(
            expand("http://c:8788/v1/%(tenant_id)s", "p1"),
            "http://c:8788/v1/p1"
        );
        assert_eq!(expand("http://c/v3/$(project_id)s", "p2"), "http://c/v3/p2");
        assert_eq!(expand("http://c:9696", "p3"), "http://c:9696");
    }
}
