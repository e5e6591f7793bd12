//! The hooks of a protection group: adding one, removing one, listing them. They are part of
//! the group's metadata, so every change goes through the commit path (version bump, pushed to
//! the peer before it counts) and is refused while an operation runs on the group.

use serde::{Deserialize, Serialize};

use crate::engine::sync::PeerPolicy;
use crate::engine::Protector;
use crate::error::{Error, Hint, Result};
use crate::model::{
    Hook, HookAction, HookAppliesTo, HookFailure, HookPoint, Member, DEFAULT_HOOK_TIMEOUT_SECS,
};

/// Add a hook to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    /// Unique within the group.
    pub name: String,
    /// The member it runs for (member id, instance id or instance name); `None`: the group.
    #[serde(default)]
    pub member: Option<String>,
    /// When it runs.
    pub at: HookPoint,
    /// What it does.
    pub action: HookAction,
    /// Seconds it may take; default 300 (5 minutes), at most 3600.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// What its failure does; default as SRM: `warn` for a group hook, `stop` (that member)
    /// for a member hook.
    #[serde(default)]
    pub on_failure: Option<HookFailure>,
    /// Which operations run it; default both.
    #[serde(default)]
    pub applies_to: HookAppliesTo,
    /// Drill hooks: what the drill cleanup runs when the hook ran in that drill.
    #[serde(default)]
    pub undo: Option<HookAction>,
}

impl HookSpec {
    /// A group hook at `at` doing `action`, with every default.
    pub fn new(name: impl Into<String>, at: HookPoint, action: HookAction) -> Self {
        HookSpec {
            name: name.into(),
            member: None,
            at,
            action,
            timeout_secs: None,
            on_failure: None,
            applies_to: HookAppliesTo::Both,
            undo: None,
        }
    }
}

fn answers_to(member: &Member, reference: &str) -> bool {
    member.id.to_string() == reference
        || member.instance_id == reference
        || member.current.instance_id == reference
        || member.instance_name == reference
}

impl Protector {
    /// Adds a hook to `group` and syncs it to the peer site.
    ///
    /// # Errors
    /// - `InvalidInput`, nothing changed: an empty command, a URL that is not http(s), a
    ///   timeout of 0 or over an hour, a name the group already has, a member not in the
    ///   group, `after_boot` without a member, an undo action on a failover-only hook.
    /// - `Conflict` while an operation runs on the group; the peer's errors as for any
    ///   metadata change (`OutOfSync`, `Unavailable`).
    pub async fn add_hook(&self, group: &str, spec: HookSpec) -> Result<Hook> {
        let group = self.group(group).await?;
        let document = self.document(group.clone()).await?;
        let member = match &spec.member {
            None => None,
            Some(reference) => Some(
                document
                    .members
                    .iter()
                    .find(|m| answers_to(m, reference))
                    .ok_or_else(|| {
                        Error::invalid(format!(
                            "hook '{}' names member '{reference}', which is not in protection group '{}': give a member id or instance name from its member list",
                            spec.name, group.name
                        ))
                        .with_hint(Hint::ListMembers {
                            group: group.name.clone(),
                        })
                    })?
                    .id,
            ),
        };
        let hook = Hook {
            name: spec.name.clone(),
            member,
            at: spec.at,
            action: spec.action,
            timeout_secs: spec.timeout_secs.unwrap_or(DEFAULT_HOOK_TIMEOUT_SECS),
            on_failure: spec.on_failure.unwrap_or(if member.is_some() {
                HookFailure::Stop
            } else {
                HookFailure::Warn
            }),
            applies_to: spec.applies_to,
            undo: spec.undo,
        };
        hook.check()?;
        if group.hooks.iter().any(|h| h.name == hook.name) {
            return Err(Error::invalid(format!(
                "protection group '{}' already has a hook named '{}': choose another name, or remove that hook first",
                group.name, hook.name
            )));
        }
        Self::refuse_in_flight(&group, "modify")?;
        self.refuse_pending_operation(&group, "modify").await?;
        self.ensure_peer_in_sync(&group).await?;
        let mut document = document;
        document.group.hooks.push(hook.clone());
        self.commit(document, "hook-add", PeerPolicy::Required)
            .await?;
        Ok(hook)
    }

    /// Removes hook `name` from `group` and syncs the change; returns the hook removed.
    ///
    /// # Errors
    /// `NotFound` when the group has no such hook; `Conflict` while an operation runs.
    pub async fn remove_hook(&self, group: &str, name: &str) -> Result<Hook> {
        let group = self.group(group).await?;
        let Some(position) = group.hooks.iter().position(|h| h.name == name) else {
            return Err(Error::not_found(format!(
                "protection group '{}' has no hook named '{name}'; its hooks: {}",
                group.name,
                if group.hooks.is_empty() {
                    "none".to_string()
                } else {
                    group
                        .hooks
                        .iter()
                        .map(|h| h.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
        };
        Self::refuse_in_flight(&group, "modify")?;
        self.refuse_pending_operation(&group, "modify").await?;
        self.ensure_peer_in_sync(&group).await?;
        let mut document = self.document(group).await?;
        let removed = document.group.hooks.remove(position);
        self.commit(document, "hook-remove", PeerPolicy::Required)
            .await?;
        Ok(removed)
    }

    /// The hooks of `group`, in the order they were added.
    pub async fn hooks(&self, group: &str) -> Result<Vec<Hook>> {
        Ok(self.group(group).await?.hooks)
    }
}
