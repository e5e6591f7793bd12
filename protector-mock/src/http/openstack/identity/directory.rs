//! Keystone's read calls around tokens: the caller's projects (`/v3/auth/projects`,
//! `/v3/users/{id}/projects`), projects, users, roles, role assignments, the one domain, and
//! the (empty) lists of groups and credentials.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::{any_token, domain_json, forbidden, role_id, F, ROLES};
use crate::cloud::identity::{DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME};
use crate::cloud::Caller;
use crate::http::openstack::common::{json_response, parse_query, ApiError, SiteContext};
use crate::state::records::{ProjectRec, UserRec};
use crate::state::World;

pub(super) fn router() -> Router<SiteContext> {
    Router::new()
        .route("/identity/v3/auth/projects", get(auth_projects))
        .route("/identity/v3/projects", get(list_projects))
        .route("/identity/v3/projects/{id}", get(show_project))
        .route("/identity/v3/users", get(list_users))
        .route("/identity/v3/users/{id}", get(show_user))
        .route("/identity/v3/users/{id}/projects", get(user_projects))
        .route("/identity/v3/roles", get(list_roles))
        .route("/identity/v3/roles/{id}", get(show_role))
        .route("/identity/v3/role_assignments", get(role_assignments))
        .route("/identity/v3/domains", get(list_domains))
        .route("/identity/v3/domains/{id}", get(show_domain))
        .route("/identity/v3/groups", get(list_groups))
        .route("/identity/v3/credentials", get(list_credentials))
}

pub(super) fn require_admin(caller: &Caller, rule: &str) -> Result<(), ApiError> {
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

pub(super) fn list_json(
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
    // Any valid token, unscoped included: Horizon's login lists the user's projects with the
    // unscoped password token before it scopes one (policy `identity:list_user_projects`:
    // admin, or the user's own id).
    ctx.call_open(F, "list_user_projects", move |world| {
        let token = any_token(world, &context.site, &headers)?;
        let user = world
            .users
            .get(&id)
            .filter(|u| u.site == context.site)
            .ok_or_else(|| ApiError::not_found(F, format!("Could not find user: {id}.")))?;
        let admin = token.roles.iter().any(|r| r == "admin");
        if token.user.id != user.id && !admin {
            return Err(forbidden("identity:list_user_projects"));
        }
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

/// `GET /v3/groups`: the simulated Keystone has no groups (Horizon's Identity → Groups panel
/// lists them).
async fn list_groups(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    ctx.call(F, "list_groups", &headers, move |_, caller| {
        require_admin(caller, "identity:list_groups")?;
        list_json(&context, "groups", Vec::new(), "groups")
    })
    .await
}

/// `GET /v3/credentials`: Keystone lists an admin every credential and anyone else their own;
/// the simulated Keystone holds none (Horizon's Identity → User Credentials panel).
async fn list_credentials(State(ctx): State<SiteContext>, headers: HeaderMap) -> Response {
    let context = ctx.clone();
    ctx.call(F, "list_credentials", &headers, move |_, _| {
        list_json(&context, "credentials", Vec::new(), "credentials")
    })
    .await
}
