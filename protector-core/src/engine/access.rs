//! Whose protection groups an engine call may see and change.
//!
//! The caller is who the local site's credentials authenticate as. A caller with the
//! [`ADMIN_ROLE`] sees every group; any other caller sees the groups of its own project: on
//! the group's primary site the project that created it, elsewhere the project a tenant
//! mapping pairs with it, or without a mapping the project of the same name. A group of
//! another project reads as not found, so that its existence does not leak.
//!
//! [`Protector::group`] and [`Protector::groups`] apply this to every group a caller names;
//! [`Protector::operation`] and [`Protector::operations`] to operations. Engine-internal
//! paths that must reach any group re-read by id (`group_by_id`, a group this call already
//! resolved or an operation recorded) or run on `Protector::unscoped` (a site failover, once
//! its own `dr_site_admin` check passed).

use super::Protector;
use crate::api::AuthInfo;
use crate::error::Result;
use crate::model::{Operation, ProtectionGroup, TenantMapping};

/// The role that sees and acts on the groups of every project.
pub const ADMIN_ROLE: &str = "admin";

/// The role a site failover requires.
pub const DR_SITE_ADMIN_ROLE: &str = "dr_site_admin";

/// Whose groups an engine may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The caller's (see the module documentation).
    Caller,
    /// Every group: engine-internal paths that decided by their own rules.
    All,
}

/// The caller of one engine call, resolved once (one authentication, one read of the tenant
/// mappings) and applied to every group the call looks at.
#[derive(Debug)]
pub(crate) struct Caller {
    /// `None`: every group ([`Access::All`]).
    auth: Option<AuthInfo>,
    local_site: String,
    mappings: Vec<TenantMapping>,
}

impl Caller {
    /// Whether the caller sees every group.
    pub(crate) fn is_admin(&self) -> bool {
        self.auth.as_ref().is_none_or(|a| a.has_role(ADMIN_ROLE))
    }

    /// Who the caller is; `None` on an unscoped engine.
    pub(crate) fn auth(&self) -> Option<&AuthInfo> {
        self.auth.as_ref()
    }

    /// Whether the caller may see (and so act on) `group`.
    pub(crate) fn sees(&self, group: &ProtectionGroup) -> bool {
        self.auth
            .as_ref()
            .is_none_or(|auth| sees(auth, &self.local_site, &self.mappings, group))
    }

    /// Whether the caller may see `op` (see [`sees_operation`]).
    pub(crate) fn sees_operation(&self, op: &Operation, group: Option<&ProtectionGroup>) -> bool {
        self.auth
            .as_ref()
            .is_none_or(|auth| sees_operation(auth, &self.local_site, &self.mappings, op, group))
    }

    /// Whether `mapping` pairs projects the caller sees (see [`sees_mapping`]).
    pub(crate) fn sees_mapping(&self, mapping: &TenantMapping) -> bool {
        self.auth
            .as_ref()
            .is_none_or(|auth| sees_mapping(auth, &self.local_site, mapping))
    }
}

/// Whether `auth` (a caller on `local_site`, whose tenant mappings are `mappings`) may see,
/// and so act on, `group`: always with the [`ADMIN_ROLE`]; otherwise when the group belongs
/// to the caller's project on this site (see the module documentation). The rule of every
/// front-end: the engine's calls and protector-api's resources apply this same function.
pub fn sees(
    auth: &AuthInfo,
    local_site: &str,
    mappings: &[TenantMapping],
    group: &ProtectionGroup,
) -> bool {
    if auth.has_role(ADMIN_ROLE) {
        return true;
    }
    match project_on(mappings, group, local_site) {
        Some(project) => auth.project_id == project,
        // No mapping pairs the group's project with one here: the project of the same
        // name, unless a mapping pairs the caller's project with another one there.
        None => {
            !group.project_name.is_empty()
                && auth.project_name == group.project_name
                && project_on_site(mappings, local_site, &auth.project_id, &group.primary_site)
                    .is_none()
        }
    }
}

/// Whether `auth` may see `op`: an operation of a group when it sees the group (`group`,
/// `None` when it no longer exists: then only an admin), a site operation (no group) with the
/// [`ADMIN_ROLE`] or [`DR_SITE_ADMIN_ROLE`] role.
pub fn sees_operation(
    auth: &AuthInfo,
    local_site: &str,
    mappings: &[TenantMapping],
    op: &Operation,
    group: Option<&ProtectionGroup>,
) -> bool {
    if auth.has_role(ADMIN_ROLE) {
        return true;
    }
    match (op.group_id, group) {
        (Some(_), Some(group)) => sees(auth, local_site, mappings, group),
        (Some(_), None) => false,
        (None, _) => auth.has_role(DR_SITE_ADMIN_ROLE),
    }
}

/// Whether `mapping` pairs projects `auth` sees: its own on `local_site` (or any, with the
/// [`ADMIN_ROLE`]). A caller may record the mappings of its own project.
pub fn sees_mapping(auth: &AuthInfo, local_site: &str, mapping: &TenantMapping) -> bool {
    auth.has_role(ADMIN_ROLE)
        || (mapping.local_site == local_site && mapping.local_tenant == auth.project_id)
        || (mapping.remote_site == local_site && mapping.remote_tenant == auth.project_id)
}

/// The project of `group` on `site` by `mappings`: its own project on the group's primary
/// site, elsewhere the project a tenant mapping pairs with it (either direction); `None` when
/// no mapping names it.
pub(crate) fn project_on(
    mappings: &[TenantMapping],
    group: &ProtectionGroup,
    site: &str,
) -> Option<String> {
    if site == group.primary_site {
        return Some(group.project_id.clone());
    }
    project_on_site(mappings, &group.primary_site, &group.project_id, site)
}

/// The project a tenant mapping pairs `project` of `from` with on `site`.
fn project_on_site(
    mappings: &[TenantMapping],
    from: &str,
    project: &str,
    site: &str,
) -> Option<String> {
    mappings.iter().find_map(|m| {
        if m.local_site == from && m.local_tenant == project && m.remote_site == site {
            Some(m.remote_tenant.clone())
        } else if m.remote_site == from && m.remote_tenant == project && m.local_site == site {
            Some(m.local_tenant.clone())
        } else {
            None
        }
    })
}

impl Protector {
    /// The caller of this engine call: who the local site's credentials authenticate as
    /// (a cached token does; no Keystone round trip per group; within an operation, the
    /// operation's check of the local site), with the tenant mappings.
    /// `Unavailable` when the local site does not answer: nobody is authorized then.
    pub(crate) async fn caller(&self) -> Result<Caller> {
        let local = self.local_site().to_string();
        if self.access == Access::All {
            return Ok(Caller {
                auth: None,
                local_site: local,
                mappings: Vec::new(),
            });
        }
        let clients = self.clients(&local).await?;
        let auth = self.identify(&clients).await?;
        Ok(Caller {
            auth: Some(auth),
            mappings: self.store().list_tenant_mappings().await?,
            local_site: local,
        })
    }

    /// This engine without the caller's scope: it sees every group. Only for engine-internal
    /// paths that have authorized by their own rules (a site failover by a `dr_site_admin`).
    pub(crate) fn unscoped(&self) -> Protector {
        Protector {
            inner: self.inner.clone(),
            access: Access::All,
            reached: self.reached.clone(),
        }
    }
}
