//! Keystone v3 under `/identity`: version discovery, tokens (password, application credential,
//! token rescoping; project scope), token validation and revocation and the catalog. The read
//! calls clients make around them are in [`directory`] (projects, users, roles, domains, role
//! assignments), [`app_credentials`] and [`catalog`] (the service catalog: the simulator's own
//! services and those registered with `openstack service create` / `endpoint create`).

use axum::extract::{RawQuery, State};
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
use crate::state::World;

mod app_credentials;
mod catalog;
mod directory;

use catalog::catalog;

pub(super) const F: Family = Family::Identity;

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
        .merge(directory::router())
        .merge(app_credentials::router())
        .merge(catalog::router())
}

/// The roles every simulated Keystone has.
pub(crate) const ROLES: [&str; 4] = ["admin", "member", "reader", "dr_site_admin"];

pub(super) fn hex_id(world: &World, parts: &[&str]) -> String {
    hex::encode(world.derived_digest(parts))[..32].to_string()
}

pub(super) fn role_id(world: &World, site: &str, role: &str) -> String {
    hex_id(world, &["keystone-role", site, role])
}

pub(super) fn domain_json() -> Value {
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

pub(super) fn forbidden(rule: &str) -> ApiError {
    ApiError::forbidden(
        F,
        format!("You are not authorized to perform the requested action: {rule}."),
    )
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
pub(super) fn any_token(
    world: &World,
    site: &str,
    headers: &HeaderMap,
) -> Result<ValidToken, ApiError> {
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
