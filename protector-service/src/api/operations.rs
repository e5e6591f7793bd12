//! `operations[/{id}]`, `operations/{id}/journal` and `operations/{id}/lease`; `sites` and
//! `tenant-mappings`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Extension;
use protector_core::access::ADMIN_ROLE;
use protector_core::model::{Operation, ProtectionGroup, Site, TenantMapping};
use protector_core::store::remote::{
    keys, Appended, HolderQuery, LeaseRequest, OperationsQuery, Renewed,
};
use protector_core::store::{JournalEntry, OperationQuery};
use protector_core::{Error, ErrorKind};

use super::auth::Caller;
use super::reply::{
    bare, body, no_content, path_error, query_error, same_id, unwrap_body, uuid, wrapped, Reply,
};
use super::scope::{operation_not_found, Scope};
use super::ApiState;

type IdPath = Result<Path<(String, String)>, PathRejection>;

fn operation_id(path: IdPath) -> Result<uuid::Uuid, super::frame::ApiError> {
    let Path((_, id)) = path.map_err(path_error)?;
    Ok(uuid(id.trim_start_matches("op-"), "operation")?)
}

/// `GET operations[?group_id=&operation_type=&status=&target_site=&limit=]`: those the caller
/// sees and the query matches, newest first.
pub(crate) async fn list(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<OperationsQuery>, QueryRejection>,
) -> Reply {
    let Query(query) = query.map_err(query_error)?;
    let query = query.to_query()?;
    if caller.is_admin() {
        return wrapped(
            keys::OPERATIONS,
            &state.store().query_operations(&query).await?,
        );
    }
    // The limit counts what the caller sees: applied after the scope.
    let limit = query.limit;
    let operations = state
        .store()
        .query_operations(&OperationQuery {
            limit: None,
            ..query
        })
        .await?;
    let scope = Scope::of(&state, &caller).await?;
    let groups: std::collections::BTreeMap<uuid::Uuid, ProtectionGroup> = state
        .store()
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let visible: Vec<Operation> = operations
        .into_iter()
        .filter(|op| scope.sees_operation(op, op.group_id.and_then(|g| groups.get(&g))))
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    wrapped(keys::OPERATIONS, &visible)
}

/// `GET operations/{id}`.
pub(crate) async fn show(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
) -> Reply {
    let id = operation_id(path)?;
    match Scope::of(&state, &caller).await?.operation(&id).await? {
        Some(op) => wrapped(keys::OPERATION, &op),
        None => Err(operation_not_found(&id).into()),
    }
}

/// `PUT operations/{id}`.
pub(crate) async fn put(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
    bytes: Bytes,
) -> Reply {
    let id = operation_id(path)?;
    let op: Operation = unwrap_body(&bytes, keys::OPERATION, "operation")?;
    same_id(&id, &op.id, "operation id")?;
    Scope::of(&state, &caller)
        .await?
        .require_operation_write(&op)
        .await?;
    state.store().put_operation(&op).await?;
    wrapped(keys::OPERATION, &op)
}

/// `GET operations/{id}/journal`.
pub(crate) async fn list_journal(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
) -> Reply {
    let id = operation_id(path)?;
    Scope::of(&state, &caller)
        .await?
        .require_operation(&id)
        .await?;
    wrapped(keys::JOURNAL, &state.store().list_journal(&id).await?)
}

/// `POST operations/{id}/journal`: appends `{"entry": JournalEntry}`, answers its `seq`.
pub(crate) async fn append_journal(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
    bytes: Bytes,
) -> Reply {
    let id = operation_id(path)?;
    let entry: JournalEntry = unwrap_body(&bytes, keys::ENTRY, "journal entry")?;
    same_id(&id, &entry.operation_id, "operation id")?;
    Scope::of(&state, &caller)
        .await?
        .require_operation(&id)
        .await?;
    let seq = state.store().append_journal(&entry).await?;
    bare(&Appended { seq })
}

/// `GET operations/{id}/lease`.
pub(crate) async fn show_lease(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
) -> Reply {
    let id = operation_id(path)?;
    Scope::of(&state, &caller)
        .await?
        .require_operation(&id)
        .await?;
    match state.store().get_lease(&id).await? {
        Some(lease) => wrapped(keys::LEASE, &lease),
        None => Err(Error::not_found(format!(
            "operation op-{id} has no lease: nobody claimed it, or it was released"
        ))
        .with_context("operation", format!("op-{id}"))
        .into()),
    }
}

/// `POST operations/{id}/lease`: takes (or renews) the lease; answers a `LeaseAttempt`.
pub(crate) async fn acquire_lease(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
    bytes: Bytes,
) -> Reply {
    let id = operation_id(path)?;
    let request: LeaseRequest = body(&bytes, "lease request ({holder, ttl_seconds})")?;
    let ttl = request.ttl()?;
    Scope::of(&state, &caller)
        .await?
        .require_operation(&id)
        .await?;
    bare(
        &state
            .store()
            .acquire_lease(&id, &request.holder, ttl)
            .await?,
    )
}

/// `PUT operations/{id}/lease`: renews the holder's lease; `{"renewed": false}` when it is no
/// longer the holder's.
pub(crate) async fn renew_lease(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
    bytes: Bytes,
) -> Reply {
    let id = operation_id(path)?;
    let request: LeaseRequest = body(&bytes, "lease request ({holder, ttl_seconds})")?;
    let ttl = request.ttl()?;
    Scope::of(&state, &caller)
        .await?
        .require_operation(&id)
        .await?;
    let renewed = state.store().renew_lease(&id, &request.holder, ttl).await?;
    bare(&Renewed { renewed })
}

/// `DELETE operations/{id}/lease?holder=`: gives the holder's lease up.
pub(crate) async fn release_lease(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: IdPath,
    query: Result<Query<HolderQuery>, QueryRejection>,
) -> Reply {
    let id = operation_id(path)?;
    let Query(query) = query.map_err(query_error)?;
    Scope::of(&state, &caller)
        .await?
        .require_operation(&id)
        .await?;
    state.store().release_lease(&id, &query.holder).await?;
    no_content()
}

/// The `PermissionDenied` of a write reserved to admins.
fn admin_only(what: &str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        format!("{what} needs the role {ADMIN_ROLE}: ask the cloud's administrator"),
    )
}

/// `GET sites`.
pub(crate) async fn list_sites(State(state): State<Arc<ApiState>>) -> Reply {
    wrapped(keys::SITES, &state.store().list_sites().await?)
}

/// `GET sites/{name}`.
pub(crate) async fn show_site(
    State(state): State<Arc<ApiState>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply {
    let Path((_, name)) = path.map_err(path_error)?;
    match state.store().get_site(&name).await? {
        Some(site) => wrapped(keys::SITE, &site),
        None => Err(Error::not_found(format!(
            "site '{name}' is not registered: list the sites, or register it"
        ))
        .with_context("site", name)
        .into()),
    }
}

/// `PUT sites/{name}` (admin).
pub(crate) async fn put_site(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    bytes: Bytes,
) -> Reply {
    let Path((_, name)) = path.map_err(path_error)?;
    let site: Site = unwrap_body(&bytes, keys::SITE, "site")?;
    same_id(&name, &site.name, "site name")?;
    if !caller.is_admin() {
        return Err(admin_only(&format!("registering site '{name}'")).into());
    }
    state.store().put_site(&site).await?;
    wrapped(keys::SITE, &site)
}

/// `DELETE sites/{name}` (admin).
pub(crate) async fn delete_site(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply {
    let Path((_, name)) = path.map_err(path_error)?;
    if !caller.is_admin() {
        return Err(admin_only(&format!("removing site '{name}'")).into());
    }
    state.store().delete_site(&name).await?;
    no_content()
}

/// `GET tenant-mappings`.
pub(crate) async fn list_tenant_mappings(State(state): State<Arc<ApiState>>) -> Reply {
    wrapped(
        keys::TENANT_MAPPINGS,
        &state.store().list_tenant_mappings().await?,
    )
}

/// `POST tenant-mappings`: inserts or replaces one (admin, or a member for its own project).
pub(crate) async fn put_tenant_mapping(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> Reply {
    let mapping: TenantMapping = unwrap_body(&bytes, keys::TENANT_MAPPING, "tenant mapping")?;
    let scope = Scope::of(&state, &caller).await?;
    // A member may neither record another project's pairing nor replace one by its id.
    let replaced = match caller.is_admin() {
        true => None,
        false => state
            .store()
            .list_tenant_mappings()
            .await?
            .into_iter()
            .find(|m| m.id == mapping.id),
    };
    if !scope.may_write_mapping(&mapping)
        || replaced.is_some_and(|old| !scope.may_write_mapping(&old))
    {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "tenant mapping {} pairs projects other than the token's ({}) on site '{}': a member maps only its own project; ask an admin",
                mapping.id, caller.auth.project_id, state.site()
            ),
        )
        .into());
    }
    state.store().put_tenant_mapping(&mapping).await?;
    wrapped(keys::TENANT_MAPPING, &mapping)
}
