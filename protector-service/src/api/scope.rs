//! Which records a caller may read and write: protector-core's own rule
//! (`protector_core::access`), applied server side to every resource.

use protector_core::access;
use protector_core::model::{Operation, ProtectionGroup, TenantMapping};
use protector_core::{Error, ErrorKind, Result};
use uuid::Uuid;

use super::auth::Caller;
use super::ApiState;

/// The caller's view of the site's store for one request.
pub(crate) struct Scope<'a> {
    pub(crate) state: &'a ApiState,
    pub(crate) caller: &'a Caller,
    /// The tenant mappings, read once, for a caller who is not admin.
    mappings: Option<Vec<TenantMapping>>,
}

impl<'a> Scope<'a> {
    /// The scope of `caller`; reads the tenant mappings unless it is admin.
    pub(crate) async fn of(state: &'a ApiState, caller: &'a Caller) -> Result<Scope<'a>> {
        let mappings = match caller.is_admin() {
            true => None,
            false => Some(state.store().list_tenant_mappings().await?),
        };
        Ok(Scope {
            state,
            caller,
            mappings,
        })
    }

    fn mappings(&self) -> &[TenantMapping] {
        self.mappings.as_deref().unwrap_or_default()
    }

    /// Whether the caller sees `group`.
    pub(crate) fn sees(&self, group: &ProtectionGroup) -> bool {
        self.caller.is_admin()
            || access::sees(&self.caller.auth, self.state.site(), self.mappings(), group)
    }

    /// Whether the caller sees `op` (of `group`, when it still exists).
    pub(crate) fn sees_operation(&self, op: &Operation, group: Option<&ProtectionGroup>) -> bool {
        self.caller.is_admin()
            || access::sees_operation(
                &self.caller.auth,
                self.state.site(),
                self.mappings(),
                op,
                group,
            )
    }

    /// Whether the caller may write `mapping` (its own project's, or any as admin).
    pub(crate) fn may_write_mapping(&self, mapping: &TenantMapping) -> bool {
        access::sees_mapping(&self.caller.auth, self.state.site(), mapping)
    }

    /// Group `id` when the caller sees it (another project's group is `None`, as a missing one).
    pub(crate) async fn group(&self, id: &Uuid) -> Result<Option<ProtectionGroup>> {
        Ok(self
            .state
            .store()
            .get_group(id)
            .await?
            .filter(|g| self.sees(g)))
    }

    /// That the caller may act on the records of group `id`: an admin always (the group need
    /// not exist), anyone else when it exists and is theirs (else `NotFound`).
    pub(crate) async fn require_group(&self, id: &Uuid) -> Result<()> {
        if self.caller.is_admin() || self.group(id).await?.is_some() {
            return Ok(());
        }
        Err(group_not_found(id))
    }

    /// That the caller may write `group`: the stored group, if any, is one it sees (else
    /// `NotFound`) and the group it writes is its own project's (else `PermissionDenied`).
    pub(crate) async fn require_group_write(&self, group: &ProtectionGroup) -> Result<()> {
        if self.caller.is_admin() {
            return Ok(());
        }
        if let Some(stored) = self.state.store().get_group(&group.id).await? {
            if !self.sees(&stored) {
                return Err(group_not_found(&group.id));
            }
        }
        if !self.sees(group) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "protection group '{}' belongs to project {} ({}), not to project {} of the token: a member writes only its own project's groups",
                    group.name, group.project_id, group.project_name, self.caller.auth.project_id
                ),
            ));
        }
        Ok(())
    }

    /// That none of `member_ids` is the id of a member of a group the caller does not see: a
    /// write by id must not take over another project's record (`PermissionDenied`). Nothing
    /// to check for an admin.
    pub(crate) async fn require_own_members(&self, member_ids: &[Uuid]) -> Result<()> {
        if self.caller.is_admin() || member_ids.is_empty() {
            return Ok(());
        }
        for group in self.state.store().list_groups().await? {
            if self.sees(&group) {
                continue;
            }
            let members = self.state.store().list_members(&group.id).await?;
            if let Some(taken) = members.iter().find(|m| member_ids.contains(&m.id)) {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "member {} belongs to a protection group of another project: give the member a new id",
                        taken.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Operation `id` when the caller sees it.
    pub(crate) async fn operation(&self, id: &Uuid) -> Result<Option<Operation>> {
        let Some(op) = self.state.store().get_operation(id).await? else {
            return Ok(None);
        };
        if self.caller.is_admin() {
            return Ok(Some(op));
        }
        let group = match op.group_id {
            Some(group_id) => self.state.store().get_group(&group_id).await?,
            None => None,
        };
        Ok(self.sees_operation(&op, group.as_ref()).then_some(op))
    }

    /// That the caller may act on the records of operation `id` (journal, lease): an admin
    /// always, anyone else when it exists and is one it sees (else `NotFound`).
    pub(crate) async fn require_operation(&self, id: &Uuid) -> Result<()> {
        if self.caller.is_admin() || self.operation(id).await?.is_some() {
            return Ok(());
        }
        Err(operation_not_found(id))
    }

    /// That the caller may write `op`: the stored one, if any, is one it sees (else
    /// `NotFound`) and the one it writes too (else `PermissionDenied`: another project's
    /// group, or a site operation without `dr_site_admin`).
    pub(crate) async fn require_operation_write(&self, op: &Operation) -> Result<()> {
        if self.caller.is_admin() {
            return Ok(());
        }
        if self.state.store().get_operation(&op.id).await?.is_some()
            && self.operation(&op.id).await?.is_none()
        {
            return Err(operation_not_found(&op.id));
        }
        let group = match op.group_id {
            Some(group_id) => self.state.store().get_group(&group_id).await?,
            None => None,
        };
        if !self.sees_operation(op, group.as_ref()) {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "operation op-{} is not the token's to record: its protection group is another project's (or gone), or a site operation needs the role {} or {}",
                    op.id,
                    access::ADMIN_ROLE,
                    access::DR_SITE_ADMIN_ROLE
                ),
            ));
        }
        Ok(())
    }
}

/// A group the caller does not see, worded as a missing one.
pub(crate) fn group_not_found(id: &Uuid) -> Error {
    Error::not_found(format!(
        "protection group {id} not found: list the protection groups of your project"
    ))
    .with_context("group", id.to_string())
}

/// An operation the caller does not see, worded as a missing one.
pub(crate) fn operation_not_found(id: &Uuid) -> Error {
    Error::not_found(format!(
        "operation op-{id} not found: list the operations of your project"
    ))
    .with_context("operation", format!("op-{id}"))
}
