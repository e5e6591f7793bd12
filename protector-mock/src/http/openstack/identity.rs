//! Keystone v3 under `/identity`: version discovery, tokens (password, application credential,
//! token rescoping; project scope), token validation and revocation, the catalog, and the
//! read calls clients make around them (projects, users, roles, domains, role assignments,
//! application credentials).

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::common::{
    auth_token, empty_response, iso_micros, json_response, parse_query, ApiError, Family,
    SiteContext,
};
use super::schema;
use crate::cloud::identity::{
    self as keystone, AuthRequest, DomainRef, NamedRef, Proof, Scope, ValidToken,
    DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME,
};
use crate::cloud::Caller;
use crate::state::records::{ApplicationCredentialRec, ProjectRec, UserRec};
use crate::state::World;

const F: Family = Family::Identity;

/// Keystone's routes.
pub(crate) fn router() -> Router<SiteContext> {
    Router::new()
        .route("/identity", get(versions))
        .route("/identity/", get(versions))
        .route("/identity/v3", get(version))
        .route("/identity/v3/", get(version))
        .route(
            "/identity/v3/auth/tokens",
            get(validate_token)
                .head(validate_token)
                .post(issue_token)
                .delete(revoke_token),
        )
        .route("/identity/v3/auth/catalog", get(auth_catalog))
        .route("/identity/v3/auth/projects", get(auth_projects))
        .route("/identity/v3/projects", get(list_projects))
        .route("/identity/v3/projects/{id}", get(show_project))
        .route("/identity/v3/users", get(list_users))
        .route("/identity/v3/users/{id}", get(show_user))
        .route("/identity/v3/users/{id}/projects", get(user_projects))
        .route(
            "/identity/v3/users/{id}/application_credentials",
            get(list_app_credentials).post(create_app_credential),
        )
        .route(
            "/identity/v3/users/{id}/application_credentials/{credential}",
            get(show_app_credential).delete(delete_app_credential),
        )
        .route("/identity/v3/roles", get(list_roles))
        .route("/identity/v3/roles/{id}", get(show_role))
        .route("/identity/v3/role_assignments", get(role_assignments))
        .route("/identity/v3/domains", get(list_domains))
        .route("/identity/v3/domains/{id}", get(show_domain))
}

/// The roles every simulated Keystone has.
pub(crate) const ROLES: [&str; 4] = ["admin", "member", "reader", "dr_site_admin"];

fn hex_id(world: &World, parts: &[&str]) -> String {
    hex::encode(world.derived_digest(parts))[..32].to_string()
}

fn role_id(world: &World, site: &str, role: &str) -> String {
    hex_id(world, &["keystone-role", site, role])
}

fn domain_json() -> Value {
    json!({"id": DEFAULT_DOMAIN_ID, "name": DEFAULT_DOMAIN_NAME})
}

fn version_body(ctx: &SiteContext) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/v3/", ctx.identity_url())}],
        "media-types": [{
            "base": "application/json",
            "type": "application/vnd.openstack.identity-v3+json"
        }]
    })
}

async fn versions(State(ctx): State<SiteContext>) -> Response {
    let body = json!({"versions": {"values": [version_body(&ctx)]}});
    ctx.call_open(F, "identity_versions", |_| {
        Ok(json_response(StatusCode::MULTIPLE_CHOICES, &body))
    })
    .await
}

async fn version(State(ctx): State<SiteContext>) -> Response {
    let body = json!({"version": version_body(&ctx)});
    ctx.call_open(F, "identity_version", |_| {
        Ok(json_response(StatusCode::OK, &body))
    })
    .await
}

// ------------------------------------------------------------------ tokens

fn auth_schema() -> Value {
    let domain = json!({
        "type": "object",
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        "additionalProperties": false
    });
    let named = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "domain": domain,
        },
        "additionalProperties": false
    });
    json!({
        "type": "object",
        "properties": {
            "auth": {
                "type": "object",
                "properties": {
                    "identity": {
                        "type": "object",
                        "properties": {
                            "methods": {"type": "array", "items": {"type": "string"}},
                            "password": {
                                "type": "object",
                                "properties": {"user": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string"},
                                        "name": {"type": "string"},
                                        "password": {"type": "string"},
                                        "domain": domain,
                                    }
                                }}
                            },
                            "token": {
                                "type": "object",
                                "properties": {"id": {"type": "string"}},
                                "required": ["id"]
                            },
                            "application_credential": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "name": {"type": "string"},
                                    "secret": {"type": "string"},
                                    "user": named,
                                },
                                "required": ["secret"]
                            }
                        },
                        "required": ["methods"]
                    },
                    "scope": {
                        "type": ["object", "string"],
                        "properties": {
                            "project": named,
                            "domain": domain,
                            "system": {"type": "object"},
                            "OS-TRUST:trust": {"type": "object"}
                        }
                    }
                },
                "required": ["identity"]
            }
        },
        "required": ["auth"]
    })
}

fn domain_ref(value: &Value) -> DomainRef {
    match (
        value.get("id").and_then(Value::as_str),
        value.get("name").and_then(Value::as_str),
    ) {
        (Some(id), _) => DomainRef::Id(id.to_string()),
        (None, Some(name)) => DomainRef::Name(name.to_string()),
        (None, None) => DomainRef::Id(String::new()),
    }
}

fn named_ref(value: &Value) -> Option<NamedRef> {
    if let Some(id) = value.get("id").and_then(Value::as_str) {
        return Some(NamedRef::Id(id.to_string()));
    }
    let name = value.get("name").and_then(Value::as_str)?;
    Some(NamedRef::Name {
        name: name.to_string(),
        domain: domain_ref(value.get("domain").unwrap_or(&Value::Null)),
    })
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(F, StatusCode::UNAUTHORIZED, message)
}

fn generic_unauthorized() -> ApiError {
    unauthorized("The request you have made requires authentication.")
}

/// Parses a validated `{"auth": …}` body.
fn parse_auth(body: &Value) -> Result<AuthRequest, ApiError> {
    let auth = &body["auth"];
    let identity = &auth["identity"];
    let methods: Vec<&str> = identity["methods"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let proof = if methods.contains(&"password") {
        let user = &identity["password"]["user"];
        let password = user
            .get("password")
            .and_then(Value::as_str)
            .ok_or_else(generic_unauthorized)?;
        Proof::Password {
            user: named_ref(user).ok_or_else(generic_unauthorized)?,
            password: password.to_string(),
        }
    } else if methods.contains(&"application_credential") {
        let credential = &identity["application_credential"];
        Proof::ApplicationCredential {
            id: credential
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string),
            name: credential
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string),
            user: credential.get("user").and_then(named_ref),
            secret: credential["secret"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    } else if methods.contains(&"token") {
        Proof::Token {
            token: identity["token"]["id"]
                .as_str()
                .ok_or_else(generic_unauthorized)?
                .to_string(),
        }
    } else {
        return Err(unauthorized(
            "Attempted to authenticate with an unsupported method.",
        ));
    };
    let scope = match auth.get("scope") {
        None | Some(Value::Null) => Scope::Unscoped,
        Some(Value::String(s)) if s == "unscoped" => Scope::Unscoped,
        Some(scope) => match scope.get("project").and_then(named_ref) {
            Some(project) => Scope::Project(project),
            None => Scope::Other,
        },
    };
    Ok(AuthRequest { proof, scope })
}

fn endpoint(world: &World, site: &str, service: &str, interface: &str, url: &str) -> Value {
    json!({
        "id": hex_id(world, &["keystone-endpoint", site, service, interface]),
        "interface": interface,
        "region_id": "RegionOne",
        "region": "RegionOne",
        "url": url,
    })
}

/// The catalog of a project-scoped token: identity, compute, volumev3 and block-storage (the
/// project id expanded), network; public, internal and admin endpoints in RegionOne.
fn catalog(ctx: &SiteContext, world: &World, project_id: &str) -> Value {
    let base = &ctx.base_url;
    let volume = format!("{base}/volume/v3/{project_id}");
    let services = [
        ("identity", "keystone", ctx.identity_url()),
        ("compute", "nova", format!("{base}/compute/v2.1")),
        ("volumev3", "cinderv3", volume.clone()),
        ("block-storage", "cinder", volume),
        ("network", "neutron", format!("{base}/network")),
    ];
    Value::Array(
        services
            .iter()
            .map(|(kind, name, url)| {
                let endpoints: Vec<Value> = ["public", "internal", "admin"]
                    .iter()
                    .map(|i| endpoint(world, &ctx.site, kind, i, url))
                    .collect();
                json!({
                    "type": kind,
                    "name": name,
                    "id": hex_id(world, &["keystone-service", &ctx.site, kind]),
                    "endpoints": endpoints,
                })
            })
            .collect(),
    )
}

fn token_body(ctx: &SiteContext, world: &World, token: &ValidToken, with_catalog: bool) -> Value {
    let mut body = json!({
        "methods": token.claims.methods,
        "user": {
            "domain": domain_json(),
            "id": token.user.id,
            "name": token.user.name,
            "password_expires_at": null,
        },
        "audit_ids": token.claims.audit_ids,
        "expires_at": iso_micros(token.claims.expires_at()) + "Z",
        "issued_at": iso_micros(token.claims.issued_at()) + "Z",
    });
    if let Some(project) = &token.project {
        body["project"] = json!({"domain": domain_json(), "id": project.id, "name": project.name});
        body["is_domain"] = json!(false);
        body["roles"] = Value::Array(
            token
                .roles
                .iter()
                .map(|r| json!({"id": role_id(world, &ctx.site, r), "name": r}))
                .collect(),
        );
        if with_catalog {
            body["catalog"] = catalog(ctx, world, &project.id);
        }
    }
    if let Some(credential) = &token.application_credential {
        body["application_credential"] = json!({
            "id": credential.id,
            "name": credential.name,
            "restricted": !credential.unrestricted,
        });
    }
    json!({ "token": body })
}

fn subject_token_response(status: StatusCode, body: &Value, token: &str) -> Response {
    let mut response = json_response(status, body);
    if let Ok(value) = HeaderValue::from_str(token) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-subject-token"), value);
    }
    response
}

async fn issue_token(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let with_catalog = !parse_query(query.as_deref()).contains_key("nocatalog");
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let context = ctx.clone();
    ctx.call_open(F, "authenticate", move |world| {
        let body = parsed.map_err(|_| {
            ApiError::bad_request(F, "Expecting to find valid JSON in request body.")
        })?;
        let validator = schema::validator("keystone/auth", auth_schema);
        if let Some(violation) = schema::first_violation(&validator, &body) {
            // Keystone validates the `auth` object: paths are relative to it.
            let mut violation = violation;
            if violation.path.first().is_some_and(|p| p == "auth") {
                violation.path.remove(0);
            }
            return Err(ApiError::bad_request(F, violation.keystone_message()));
        }
        let request = parse_auth(&body)?;
        let (token, valid) =
            keystone::issue_token(world, &context.site, &request, chrono::Utc::now())
                .map_err(|e| ApiError::from_error(F, &e))?;
        let body = token_body(&context, world, &valid, with_catalog);
        Ok(subject_token_response(StatusCode::CREATED, &body, &token))
    })
    .await
}

fn subject_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
}

/// The caller of any valid token (scoped or not) and the token itself.
fn any_token(world: &World, site: &str, headers: &HeaderMap) -> Result<ValidToken, ApiError> {
    let token = auth_token(headers).ok_or_else(generic_unauthorized)?;
    keystone::validate_token(world, site, &token, chrono::Utc::now())
        .map_err(|_| generic_unauthorized())
}

async fn validate_token(
    State(ctx): State<SiteContext>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let with_catalog = !parse_query(query.as_deref()).contains_key("nocatalog");
    let context = ctx.clone();
    ctx.call_open(F, "validate_token", move |world| {
        let caller = any_token(world, &context.site, &headers)?;
        let subject = subject_token(&headers).unwrap_or_default();
        let valid = keystone::validate_token(world, &context.site, &subject, chrono::Utc::now())
            .map_err(|_| ApiError::not_found(F, format!("Could not find token: {subject}")))?;
        let allowed = caller.user.id == valid.user.id || caller.roles.iter().any(|r| r == "admin");
        if !allowed {
            return Err(forbidden("identity:validate_token"));
        }
        if method == Method::HEAD {
            return Ok(subject_token_response(
                StatusCode::OK,
                &Value::Null,
                &subject,
            ));
        }
        let body = token_body(&context, world, &valid, with_catalog);
        Ok(subject_token_response(StatusCode::OK, &body, &subject))
    })
    .await
}

async fn revoke_token(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    ctx.call_open(F, "revoke_token", move |world| {
        let caller = any_token(world, &context.site, &headers)?;
        let subject = subject_token(&headers).unwrap_or_default();
        let valid = keystone::validate_token(world, &context.site, &subject, chrono::Utc::now())
            .map_err(|_| ApiError::not_found(F, format!("Could not find token: {subject}")))?;
        if caller.user.id != valid.user.id && !caller.roles.iter().any(|r| r == "admin") {
            return Err(forbidden("identity:revoke_token"));
        }
        keystone::revoke_token(world, &context.site, &subject, chrono::Utc::now())
            .map_err(|e| ApiError::from_error(F, &e))?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}

async fn auth_catalog(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    ctx.call(F, "auth_catalog", &headers, move |world, caller| {
        let links = json!({"self": format!("{}/v3/auth/catalog", context.identity_url())});
        Ok(json_response(
            StatusCode::OK,
            &json!({"catalog": catalog(&context, world, &caller.project_id), "links": links}),
        ))
    })
    .await
}

// ------------------------------------------------------------------ read calls

fn forbidden(rule: &str) -> ApiError {
    ApiError::forbidden(
        F,
        format!("You are not authorized to perform the requested action: {rule}."),
    )
}

fn require_admin(caller: &Caller, rule: &str) -> Result<(), ApiError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(forbidden(rule))
    }
}

fn collection_links(ctx: &SiteContext, path: &str) -> Value {
    json!({"self": format!("{}/v3/{path}", ctx.identity_url()), "previous": null, "next": null})
}

fn project_json(ctx: &SiteContext, p: &ProjectRec) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "domain_id": p.domain_id,
        "description": "",
        "enabled": true,
        "parent_id": p.domain_id,
        "is_domain": false,
        "tags": [],
        "options": {},
        "links": {"self": format!("{}/v3/projects/{}", ctx.identity_url(), p.id)},
    })
}

fn user_json(ctx: &SiteContext, u: &UserRec) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "domain_id": DEFAULT_DOMAIN_ID,
        "enabled": true,
        "password_expires_at": null,
        "options": {},
        "links": {"self": format!("{}/v3/users/{}", ctx.identity_url(), u.id)},
    })
}

fn projects_of<'w>(world: &'w World, site: &str, user: &UserRec) -> Vec<&'w ProjectRec> {
    let mut projects: Vec<&ProjectRec> = world
        .projects
        .values()
        .filter(|p| p.site == site && user.roles.get(&p.id).is_some_and(|r| !r.is_empty()))
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    projects
}

fn list_json(
    ctx: &SiteContext,
    key: &str,
    items: Vec<Value>,
    path: &str,
) -> Result<Response, ApiError> {
    let mut body = json!({ "links": collection_links(ctx, path) });
    body[key] = Value::Array(items);
    Ok(json_response(StatusCode::OK, &body))
}

async fn auth_projects(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    ctx.call_open(F, "auth_projects", move |world| {
        let token = any_token(world, &context.site, &headers)?;
        let items = projects_of(world, &context.site, &token.user)
            .into_iter()
            .map(|p| project_json(&context, p))
            .collect();
        list_json(&context, "projects", items, "auth/projects")
    })
    .await
}

async fn list_projects(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    ctx.call(F, "list_projects", &headers, move |world, caller| {
        require_admin(caller, "identity:list_projects")?;
        let mut projects: Vec<&ProjectRec> = world
            .projects
            .values()
            .filter(|p| p.site == context.site)
            .filter(|p| query.get("name").is_none_or(|n| &p.name == n))
            .collect();
        projects.sort_by(|a, b| a.name.cmp(&b.name));
        let items = projects
            .into_iter()
            .map(|p| project_json(&context, p))
            .collect();
        list_json(&context, "projects", items, "projects")
    })
    .await
}

async fn show_project(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_project", &headers, move |world, caller| {
        let project = world
            .projects
            .get(&id)
            .filter(|p| p.site == context.site)
            .ok_or_else(|| ApiError::not_found(F, format!("Could not find project: {id}.")))?;
        if !caller.is_admin() && caller.project_id != project.id {
            return Err(forbidden("identity:get_project"));
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"project": project_json(&context, project)}),
        ))
    })
    .await
}

async fn list_users(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    ctx.call(F, "list_users", &headers, move |world, caller| {
        require_admin(caller, "identity:list_users")?;
        let mut users: Vec<&UserRec> = world
            .users
            .values()
            .filter(|u| u.site == context.site)
            .filter(|u| query.get("name").is_none_or(|n| &u.name == n))
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        let items = users.into_iter().map(|u| user_json(&context, u)).collect();
        list_json(&context, "users", items, "users")
    })
    .await
}

fn visible_user<'w>(
    world: &'w World,
    site: &str,
    caller: &Caller,
    id: &str,
    rule: &str,
) -> Result<&'w UserRec, ApiError> {
    let user = world
        .users
        .get(id)
        .filter(|u| u.site == site)
        .ok_or_else(|| ApiError::not_found(F, format!("Could not find user: {id}.")))?;
    if !caller.is_admin() && caller.user_id != user.id {
        return Err(forbidden(rule));
    }
    Ok(user)
}

async fn show_user(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_user", &headers, move |world, caller| {
        let user = visible_user(world, &context.site, caller, &id, "identity:get_user")?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"user": user_json(&context, user)}),
        ))
    })
    .await
}

async fn user_projects(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "list_user_projects", &headers, move |world, caller| {
        let user = visible_user(
            world,
            &context.site,
            caller,
            &id,
            "identity:list_user_projects",
        )?;
        let items = projects_of(world, &context.site, user)
            .into_iter()
            .map(|p| project_json(&context, p))
            .collect();
        list_json(&context, "projects", items, &format!("users/{id}/projects"))
    })
    .await
}

fn role_json(ctx: &SiteContext, world: &World, name: &str) -> Value {
    let id = role_id(world, &ctx.site, name);
    json!({
        "id": id,
        "name": name,
        "domain_id": null,
        "description": null,
        "options": {},
        "links": {"self": format!("{}/v3/roles/{id}", ctx.identity_url())},
    })
}

async fn list_roles(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    ctx.call(F, "list_roles", &headers, move |world, caller| {
        require_admin(caller, "identity:list_roles")?;
        let items = ROLES
            .iter()
            .filter(|r| query.get("name").is_none_or(|n| n == *r))
            .map(|r| role_json(&context, world, r))
            .collect();
        list_json(&context, "roles", items, "roles")
    })
    .await
}

async fn show_role(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_role", &headers, move |world, caller| {
        require_admin(caller, "identity:get_role")?;
        let role = ROLES
            .iter()
            .find(|r| role_id(world, &context.site, r) == id)
            .ok_or_else(|| ApiError::not_found(F, format!("Could not find role: {id}.")))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"role": role_json(&context, world, role)}),
        ))
    })
    .await
}

async fn role_assignments(
    State(ctx): State<SiteContext>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = parse_query(query.as_deref());
    let context = ctx.clone();
    ctx.call(
        F,
        "list_role_assignments",
        &headers,
        move |world, caller| {
            require_admin(caller, "identity:list_role_assignments")?;
            let names = query.contains_key("include_names");
            let mut items = Vec::new();
            let mut users: Vec<&UserRec> = world
                .users
                .values()
                .filter(|u| u.site == context.site)
                .collect();
            users.sort_by(|a, b| a.name.cmp(&b.name));
            for user in users {
                if query.get("user.id").is_some_and(|u| u != &user.id) {
                    continue;
                }
                for (project_id, roles) in &user.roles {
                    if query
                        .get("scope.project.id")
                        .is_some_and(|p| p != project_id)
                    {
                        continue;
                    }
                    let project = world.projects.get(project_id);
                    for role in roles {
                        let role_id = role_id(world, &context.site, role);
                        if query.get("role.id").is_some_and(|r| r != &role_id) {
                            continue;
                        }
                        let mut entry = json!({
                            "role": {"id": role_id},
                            "user": {"id": user.id},
                            "scope": {"project": {"id": project_id}},
                            "links": {"assignment": format!(
                                "{}/v3/projects/{project_id}/users/{}/roles/{role_id}",
                                context.identity_url(), user.id
                            )},
                        });
                        if names {
                            entry["role"]["name"] = json!(role);
                            entry["user"]["name"] = json!(user.name);
                            entry["user"]["domain"] = domain_json();
                            if let Some(project) = project {
                                entry["scope"]["project"]["name"] = json!(project.name);
                                entry["scope"]["project"]["domain"] = domain_json();
                            }
                        }
                        items.push(entry);
                    }
                }
            }
            list_json(&context, "role_assignments", items, "role_assignments")
        },
    )
    .await
}

fn default_domain(ctx: &SiteContext) -> Value {
    json!({
        "id": DEFAULT_DOMAIN_ID,
        "name": DEFAULT_DOMAIN_NAME,
        "description": "The default domain",
        "enabled": true,
        "tags": [],
        "options": {},
        "links": {"self": format!("{}/v3/domains/{DEFAULT_DOMAIN_ID}", ctx.identity_url())},
    })
}

async fn list_domains(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    ctx.call(F, "list_domains", &headers, move |_, caller| {
        require_admin(caller, "identity:list_domains")?;
        list_json(
            &context,
            "domains",
            vec![default_domain(&context)],
            "domains",
        )
    })
    .await
}

async fn show_domain(
    State(ctx): State<SiteContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_domain", &headers, move |_, _| {
        if id != DEFAULT_DOMAIN_ID {
            return Err(ApiError::not_found(
                F,
                format!("Could not find domain: {id}."),
            ));
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"domain": default_domain(&context)}),
        ))
    })
    .await
}

// ------------------------------------------------------------------ application credentials

fn credential_json(
    ctx: &SiteContext,
    world: &World,
    c: &ApplicationCredentialRec,
    secret: Option<&str>,
) -> Value {
    let roles: Vec<Value> = c
        .roles
        .iter()
        .map(|r| json!({"id": role_id(world, &ctx.site, r), "name": r, "domain_id": null}))
        .collect();
    let mut body = json!({
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "user_id": c.user_id,
        "project_id": c.project_id,
        "roles": roles,
        "unrestricted": c.unrestricted,
        "expires_at": c.expires_at.map(iso_micros),
        "access_rules": [],
        "links": {"self": format!("{}/v3/users/{}/application_credentials/{}", ctx.identity_url(), c.user_id, c.id)},
    });
    if let Some(secret) = secret {
        body["secret"] = json!(secret);
    }
    body
}

fn own_user(caller: &Caller, user_id: &str, rule: &str) -> Result<(), ApiError> {
    if caller.user_id == user_id {
        Ok(())
    } else {
        Err(forbidden(rule))
    }
}

async fn list_app_credentials(
    State(ctx): State<SiteContext>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(
        F,
        "list_application_credentials",
        &headers,
        move |world, caller| {
            if !caller.is_admin() {
                own_user(caller, &user_id, "identity:list_application_credentials")?;
            }
            let mut items: Vec<&ApplicationCredentialRec> = world
                .application_credentials
                .values()
                .filter(|c| c.site == context.site && c.user_id == user_id)
                .collect();
            items.sort_by(|a, b| a.name.cmp(&b.name));
            let items = items
                .into_iter()
                .map(|c| credential_json(&context, world, c, None))
                .collect();
            list_json(
                &context,
                "application_credentials",
                items,
                &format!("users/{user_id}/application_credentials"),
            )
        },
    )
    .await
}

async fn show_app_credential(
    State(ctx): State<SiteContext>,
    Path((user_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(F, "get_application_credential", &headers, move |world, caller| {
        if !caller.is_admin() {
            own_user(caller, &user_id, "identity:get_application_credential")?;
        }
        let credential = world
            .application_credentials
            .get(&id)
            .filter(|c| c.site == context.site && c.user_id == user_id)
            .ok_or_else(|| {
                ApiError::not_found(F, format!("Could not find Application Credential: {id}."))
            })?;
        Ok(json_response(
            StatusCode::OK,
            &json!({"application_credential": credential_json(&context, world, credential, None)}),
        ))
    })
    .await
}

fn app_credential_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"application_credential": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": {"type": ["string", "null"]},
                "secret": {"type": ["string", "null"]},
                "expires_at": {"type": ["string", "null"]},
                "roles": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": false
                }},
                "unrestricted": {"type": ["boolean", "null"]},
                "access_rules": {"type": "array"}
            },
            "required": ["name"],
            "additionalProperties": true
        }},
        "required": ["application_credential"]
    })
}

async fn create_app_credential(
    State(ctx): State<SiteContext>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let context = ctx.clone();
    ctx.call(F, "create_application_credential", &headers, move |world, caller| {
        own_user(caller, &user_id, "identity:create_application_credential")?;
        let body = parsed.map_err(|_| {
            ApiError::bad_request(F, "Expecting to find valid JSON in request body.")
        })?;
        let validator = schema::validator("keystone/application_credential", app_credential_schema);
        if let Some(violation) = schema::first_violation(&validator, &body) {
            return Err(ApiError::bad_request(F, violation.keystone_message()));
        }
        let request = &body["application_credential"];
        let name = request["name"].as_str().unwrap_or_default().to_string();
        if world.application_credentials.values().any(|c| {
            c.site == context.site && c.user_id == caller.user_id && c.name == name
        }) {
            return Err(ApiError::new(
                F,
                StatusCode::CONFLICT,
                format!("Conflict occurred attempting to store application_credential - Duplicate entry found with name {name}."),
            ));
        }
        let mut roles = caller.roles.clone();
        if let Some(wanted) = request["roles"].as_array() {
            let mut chosen = Vec::new();
            for role in wanted {
                let name = role["name"].as_str().map(str::to_string).or_else(|| {
                    role["id"].as_str().and_then(|id| {
                        ROLES
                            .iter()
                            .find(|r| role_id(world, &context.site, r) == id)
                            .map(|r| r.to_string())
                    })
                });
                match name {
                    Some(name) if caller.roles.contains(&name) => {
                        // Keystone adds the roles a granted role implies.
                        for implied in implied_roles(&name) {
                            if caller.roles.iter().any(|r| r == implied) && !chosen.contains(&implied.to_string()) {
                                chosen.push(implied.to_string());
                            }
                        }
                        if !chosen.contains(&name) {
                            chosen.push(name);
                        }
                    }
                    _ => {
                        return Err(ApiError::forbidden(
                            F,
                            "You are not authorized to perform the requested action: Cannot create an application credential with unassigned role.",
                        ))
                    }
                }
            }
            roles = chosen;
        }
        let secret = match request["secret"].as_str() {
            Some(secret) => secret.to_string(),
            None => keystone::base64url(uuid::Uuid::new_v4().as_bytes(), false)
                + &keystone::base64url(uuid::Uuid::new_v4().as_bytes(), false),
        };
        let expires_at = match request["expires_at"].as_str() {
            None => None,
            Some(text) => Some(
                chrono::DateTime::parse_from_rfc3339(text)
                    .or_else(|_| chrono::DateTime::parse_from_rfc3339(&format!("{text}Z")))
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|_| ApiError::bad_request(F, format!("Invalid input for field 'expires_at': '{text}' is not a valid date")))?,
            ),
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let record = ApplicationCredentialRec {
            id: id.clone(),
            site: context.site.clone(),
            user_id: caller.user_id.clone(),
            project_id: caller.project_id.clone(),
            name,
            description: request["description"].as_str().unwrap_or_default().to_string(),
            secret_hash: keystone::secret_hash(&secret),
            roles,
            unrestricted: request["unrestricted"].as_bool().unwrap_or(false),
            expires_at,
        };
        let view = credential_json(&context, world, &record, Some(&secret));
        world.application_credentials.insert(id, record);
        Ok(json_response(
            StatusCode::CREATED,
            &json!({ "application_credential": view }),
        ))
    })
    .await
}

/// Keystone's default implied roles: admin → member → reader.
fn implied_roles(role: &str) -> &'static [&'static str] {
    match role {
        "admin" => &["member", "reader"],
        "member" => &["reader"],
        _ => &[],
    }
}

async fn delete_app_credential(
    State(ctx): State<SiteContext>,
    Path((user_id, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let context = ctx.clone();
    ctx.call(
        F,
        "delete_application_credential",
        &headers,
        move |world, caller| {
            own_user(caller, &user_id, "identity:delete_application_credential")?;
            let exists = world
                .application_credentials
                .get(&id)
                .is_some_and(|c| c.site == context.site && c.user_id == user_id);
            if !exists {
                return Err(ApiError::not_found(
                    F,
                    format!("Could not find Application Credential: {id}."),
                ));
            }
            world.application_credentials.remove(&id);
            Ok(empty_response(StatusCode::NO_CONTENT))
        },
    )
    .await
}
