//! Keystone's application credentials: `/v3/users/{id}/application_credentials`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::directory::list_json;
use super::{forbidden, role_id, F, ROLES};
use crate::cloud::identity as keystone;
use crate::cloud::Caller;
use crate::http::openstack::common::{
    empty_response, iso_micros, json_response, ApiError, SiteContext,
};
use crate::http::openstack::schema;
use crate::state::records::ApplicationCredentialRec;
use crate::state::World;

pub(super) fn router() -> Router<SiteContext> {
    Router::new()
        .route(
            "/identity/v3/users/{id}/application_credentials",
            get(list_app_credentials).post(create_app_credential),
        )
        .route(
            "/identity/v3/users/{id}/application_credentials/{credential}",
            get(show_app_credential).delete(delete_app_credential),
        )
}

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
