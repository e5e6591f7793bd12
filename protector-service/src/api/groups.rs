//! `protection-groups[/{id}]` and what hangs off a group: its document, members, policy,
//! mappings, sync state and sync log; `members/{id}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Extension;
use protector_core::model::{Member, ProtectionGroup, ReplicationPolicy};
use protector_core::store::remote::{keys, DocumentWrite, SyncLogQuery};
use protector_core::store::{GroupMappings, SyncLogEntry, SyncState};
use protector_core::Error;

use super::auth::Caller;
use super::reply::{
    body, no_content, path_error, query_error, same_id, unwrap_body, uuid, wrapped, Reply,
};
use super::scope::{group_not_found, Scope};
use super::ApiState;

type GroupPath = Result<Path<(String, String)>, PathRejection>;

/// The group id of the path.
fn group_id(path: GroupPath) -> Result<uuid::Uuid, super::frame::ApiError> {
    let Path((_, id)) = path.map_err(path_error)?;
    Ok(uuid(&id, "protection group")?)
}

/// `GET protection-groups`: the caller's groups (every group for an admin), by name.
pub(crate) async fn list(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
) -> Reply {
    let scope = Scope::of(&state, &caller).await?;
    let groups: Vec<ProtectionGroup> = state
        .store()
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| scope.sees(g))
        .collect();
    wrapped(keys::GROUPS, &groups)
}

/// `GET protection-groups/{id}`.
pub(crate) async fn show(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
) -> Reply {
    let id = group_id(path)?;
    let scope = Scope::of(&state, &caller).await?;
    match scope.group(&id).await? {
        Some(group) => wrapped(keys::GROUP, &group),
        None => Err(group_not_found(&id).into()),
    }
}

/// `PUT protection-groups/{id}`.
pub(crate) async fn put(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
    bytes: Bytes,
) -> Reply {
    let id = group_id(path)?;
    let group: ProtectionGroup = unwrap_body(&bytes, keys::GROUP, "protection group")?;
    same_id(&id, &group.id, "protection group id")?;
    Scope::of(&state, &caller)
        .await?
        .require_group_write(&group)
        .await?;
    state.store().put_group(&group).await?;
    wrapped(keys::GROUP, &group)
}

/// `DELETE protection-groups/{id}`: the group with its members, policy, mappings and sync
/// state. A missing group (or another project's) is 204, as the store's delete.
pub(crate) async fn delete(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
) -> Reply {
    let id = group_id(path)?;
    let scope = Scope::of(&state, &caller).await?;
    if caller.is_admin() || scope.group(&id).await?.is_some() {
        state.store().delete_group(&id).await?;
    }
    no_content()
}

/// `PUT protection-groups/{id}/document`: the whole group, unconditionally or as a
/// compare-and-set (`check`).
pub(crate) async fn put_document(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
    bytes: Bytes,
) -> Reply {
    let id = group_id(path)?;
    let write: DocumentWrite = body(&bytes, "document write ({document, check})")?;
    same_id(&id, &write.document.group.id, "protection group id")?;
    let scope = Scope::of(&state, &caller).await?;
    scope.require_group_write(&write.document.group).await?;
    let member_ids: Vec<uuid::Uuid> = write.document.members.iter().map(|m| m.id).collect();
    scope.require_own_members(&member_ids).await?;
    match write.check {
        Some(check) => {
            state
                .store()
                .apply_document_if(&write.document, check)
                .await?
        }
        None => state.store().apply_document(&write.document).await?,
    }
    no_content()
}

/// `GET protection-groups/{id}/members`.
pub(crate) async fn list_members(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
) -> Reply {
    let id = group_id(path)?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    wrapped(keys::MEMBERS, &state.store().list_members(&id).await?)
}

/// `PUT members/{id}`: the member's group must be the caller's.
pub(crate) async fn put_member(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    bytes: Bytes,
) -> Reply {
    let Path((_, id)) = path.map_err(path_error)?;
    let id = uuid(&id, "member")?;
    let member: Member = unwrap_body(&bytes, keys::MEMBER, "member")?;
    same_id(&id, &member.id, "member id")?;
    let scope = Scope::of(&state, &caller).await?;
    scope.require_group(&member.group_id).await?;
    scope.require_own_members(&[member.id]).await?;
    state.store().put_member(&member).await?;
    wrapped(keys::MEMBER, &member)
}

/// `DELETE members/{id}`: for a caller who is not admin, only a member of one of its groups
/// (any other is left alone, answered as a missing one: 204).
pub(crate) async fn delete_member(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Reply {
    let Path((_, id)) = path.map_err(path_error)?;
    let id = uuid(&id, "member")?;
    if !caller.is_admin() {
        let scope = Scope::of(&state, &caller).await?;
        let mut owned = false;
        for group in state.store().list_groups().await? {
            if scope.sees(&group)
                && state
                    .store()
                    .list_members(&group.id)
                    .await?
                    .iter()
                    .any(|m| m.id == id)
            {
                owned = true;
                break;
            }
        }
        if !owned {
            return no_content();
        }
    }
    state.store().delete_member(&id).await?;
    no_content()
}

/// `GET protection-groups/{id}/policy`.
pub(crate) async fn show_policy(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
) -> Reply {
    let id = group_id(path)?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    match state.store().get_policy(&id).await? {
        Some(policy) => wrapped(keys::POLICY, &policy),
        None => Err(Error::not_found(format!(
            "protection group {id} has no replication policy: create one"
        ))
        .with_context("group", id.to_string())
        .into()),
    }
}

/// `PUT protection-groups/{id}/policy`.
pub(crate) async fn put_policy(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
    bytes: Bytes,
) -> Reply {
    let id = group_id(path)?;
    let policy: ReplicationPolicy = unwrap_body(&bytes, keys::POLICY, "replication policy")?;
    same_id(&id, &policy.group_id, "protection group id")?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    state.store().put_policy(&policy).await?;
    no_content()
}

/// `GET protection-groups/{id}/mappings`.
pub(crate) async fn list_mappings(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
) -> Reply {
    let id = group_id(path)?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    wrapped(keys::MAPPINGS, &state.store().list_mappings(&id).await?)
}

/// `PUT protection-groups/{id}/mappings`: one direction's, replaced.
pub(crate) async fn put_mappings(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
    bytes: Bytes,
) -> Reply {
    let id = group_id(path)?;
    let mappings: GroupMappings = unwrap_body(&bytes, keys::MAPPING, "group mappings")?;
    same_id(&id, &mappings.group_id, "protection group id")?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    state.store().put_mappings(&mappings).await?;
    wrapped(keys::MAPPING, &mappings)
}

/// `GET protection-groups/{id}/sync-state`.
pub(crate) async fn show_sync_state(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
) -> Reply {
    let id = group_id(path)?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    match state.store().get_sync_state(&id).await? {
        Some(sync) => wrapped(keys::SYNC_STATE, &sync),
        None => Err(Error::not_found(format!(
            "protection group {id} has no sync state yet: it has not been pushed to its peer"
        ))
        .with_context("group", id.to_string())
        .into()),
    }
}

/// `PUT protection-groups/{id}/sync-state`.
pub(crate) async fn put_sync_state(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
    bytes: Bytes,
) -> Reply {
    let id = group_id(path)?;
    let sync: SyncState = unwrap_body(&bytes, keys::SYNC_STATE, "sync state")?;
    same_id(&id, &sync.group_id, "protection group id")?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    state.store().put_sync_state(&sync).await?;
    wrapped(keys::SYNC_STATE, &sync)
}

/// `GET protection-groups/{id}/sync-log?limit=`: newest first.
pub(crate) async fn list_sync_log(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
    query: Result<Query<SyncLogQuery>, QueryRejection>,
) -> Reply {
    let id = group_id(path)?;
    let Query(query) = query.map_err(query_error)?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    wrapped(
        keys::SYNC_LOG,
        &state.store().list_sync_log(&id, query.limit).await?,
    )
}

/// `POST protection-groups/{id}/sync-log`: appends `{"entry": SyncLogEntry}`.
pub(crate) async fn append_sync_log(
    State(state): State<Arc<ApiState>>,
    Extension(caller): Extension<Caller>,
    path: GroupPath,
    bytes: Bytes,
) -> Reply {
    let id = group_id(path)?;
    let entry: SyncLogEntry = unwrap_body(&bytes, keys::ENTRY, "sync log entry")?;
    same_id(&id, &entry.group_id, "protection group id")?;
    Scope::of(&state, &caller).await?.require_group(&id).await?;
    state.store().append_sync_log(&entry).await?;
    no_content()
}
