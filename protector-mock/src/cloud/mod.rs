//! The simulated OpenStack services of one site (Keystone, Nova, Cinder, Neutron). Each function
//! takes the world and the authenticated [`Caller`] and implements one API call with the real
//! service's rules and messages; the trait adapters in `adapters.rs` only forward to them.

pub(crate) mod block_storage;
pub(crate) mod capacity;
pub(crate) mod compute;
pub(crate) mod identity;
pub(crate) mod keypairs;
pub(crate) mod network;
pub(crate) mod network_create;
pub(crate) mod routers;
pub(crate) mod security_groups;

use protector_core::{Error, ErrorKind, Result};

use crate::state::World;

/// A set of credentials (a clouds.yaml entry, in the simulation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    /// User name.
    pub user: String,
    /// Project the token is scoped to.
    pub project: ProjectScope,
    /// Whether the password is right.
    pub valid: bool,
}

/// The project a credential asks for, as Keystone's `scope.project` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProjectScope {
    /// `project_name` (in the one domain).
    Name(String),
    /// `project_id`.
    Id(String),
}

impl ProjectScope {
    fn matches(&self, project: &crate::state::records::ProjectRec) -> bool {
        match self {
            ProjectScope::Name(name) => &project.name == name,
            ProjectScope::Id(id) => &project.id == id,
        }
    }
}

/// Who is calling: a token's user, project and roles on one site.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub site: String,
    pub user_id: String,
    pub user_name: String,
    pub project_id: String,
    pub project_name: String,
    pub roles: Vec<String>,
}

impl Caller {
    pub(crate) fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }

    /// Whether the caller may see a resource of `project_id` (admins see every project).
    pub(crate) fn can_see(&self, project_id: &str) -> bool {
        self.is_admin() || self.project_id == project_id
    }
}

/// Keystone's answer to a refused password.
pub(crate) fn unauthenticated() -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        "The request you have made requires authentication.",
    )
}

/// Authenticates `credential` on `site` (Keystone's password method, project scope).
pub(crate) fn authenticate(world: &World, site: &str, credential: &Credential) -> Result<Caller> {
    if !credential.valid {
        return Err(unauthenticated());
    }
    let user = world
        .users
        .find(|u| u.site == site && u.name == credential.user)
        .ok_or_else(unauthenticated)?;
    let project = world
        .projects
        .find(|p| p.site == site && credential.project.matches(p))
        .ok_or_else(unauthenticated)?;
    let roles = user.roles.get(&project.id).cloned().unwrap_or_default();
    if roles.is_empty() {
        // Keystone refuses a project scope the user has no role on.
        return Err(unauthenticated());
    }
    Ok(Caller {
        site: site.to_string(),
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        project_id: project.id.clone(),
        project_name: project.name.clone(),
        roles,
    })
}

/// Cinder's policy refusal.
pub(crate) fn policy_denied(rule: &str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        format!("Policy doesn't allow {rule} to be performed."),
    )
}
