//! A member's place in the boot order: its priority and the members it depends on.
//!
//! Removing a member that others depend on is refused (`Conflict`, naming the dependents):
//! dropping the edge silently would let "app" boot before a "db" that is gone from the
//! group; the operator removes the dependency first (`set_member_order`).

use serde::{Deserialize, Serialize};

use super::members::{answers_to, member_not_found};
use crate::engine::boot_order::check_order;
use crate::engine::sync::PeerPolicy;
use crate::engine::Protector;
use crate::error::{Error, Result};
use crate::model::Member;

/// A member's place in the boot order; `None` leaves that part as it is (priority 3 and no
/// dependencies for a new member).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberOrder {
    /// 1 (boots first) to 5 (boots last).
    #[serde(default)]
    pub priority: Option<u8>,
    /// The members it depends on, each by instance name, member id or instance id; they
    /// must be ACTIVE before it boots. `Some(vec![])` removes every dependency.
    #[serde(default)]
    pub depends_on: Option<Vec<String>>,
}

impl Protector {
    /// Sets the priority and/or the dependencies of `member` (instance name, member id or
    /// instance id) of `group` and syncs (the
    /// metadata version goes up). Refused with `InvalidInput`, nothing changed, for a
    /// priority outside 1-5, an unknown or ambiguous dependency, a dependency on itself, on a
    /// member with a later priority, or a cycle; `NotFound` for an unknown member; `Conflict`
    /// while an operation runs on the group.
    pub async fn set_member_order(
        &self,
        group: &str,
        member: &str,
        order: MemberOrder,
    ) -> Result<Member> {
        let group = self.group(group).await?;
        Self::refuse_in_flight(&group, "modify")?;
        self.ensure_peer_in_sync(&group).await?;
        let mut document = self.document(group.clone()).await?;
        let id = resolve(&group.name, &document.members, member)
            .map_err(|_| member_not_found(member, &group.name))?;
        let index = document
            .members
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| member_not_found(member, &group.name))?;
        apply_order(&group.name, &mut document.members, index, &order)?;
        let committed = self
            .commit(document, "member-order", PeerPolicy::Required)
            .await?;
        committed
            .members
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| member_not_found(member, &group.name))
    }
}

/// Applies `order` to `members[index]` and checks the whole group's order; `Err`
/// (`InvalidInput`) leaves the caller's document to be dropped.
pub(super) fn apply_order(
    group: &str,
    members: &mut [Member],
    index: usize,
    order: &MemberOrder,
) -> Result<()> {
    if let Some(references) = &order.depends_on {
        let mut ids = Vec::new();
        for reference in references {
            let id = resolve(group, members, reference)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        members[index].depends_on = ids;
    }
    if let Some(priority) = order.priority {
        members[index].priority = priority;
    }
    check_order(group, members)
}

/// The member `reference` names: instance name first, else member or instance id.
fn resolve(group: &str, members: &[Member], reference: &str) -> Result<uuid::Uuid> {
    let by_name: Vec<&Member> = members
        .iter()
        .filter(|m| m.instance_name == reference)
        .collect();
    match by_name.as_slice() {
        [one] => return Ok(one.id),
        [] => {}
        several => {
            return Err(Error::invalid(format!(
                "dependency '{reference}': {} members of protection group '{group}' are named so: give the member id ({})",
                several.len(),
                several
                    .iter()
                    .map(|m| m.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
    members
        .iter()
        .find(|m| answers_to(m, reference))
        .map(|m| m.id)
        .ok_or_else(|| {
            Error::invalid(format!(
                "dependency '{reference}' is not a member of protection group '{group}': name a member by instance name or id (member-list shows them)"
            ))
        })
}

/// Refuses (`Conflict`) to remove `members[index]` while other members depend on it.
pub(super) fn refuse_depended_on(group: &str, members: &[Member], index: usize) -> Result<()> {
    let removed = &members[index];
    let mut dependents: Vec<&str> = members
        .iter()
        .filter(|m| m.depends_on.contains(&removed.id))
        .map(|m| m.instance_name.as_str())
        .collect();
    dependents.sort_unstable();
    if dependents.is_empty() {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "member {} of protection group '{group}' cannot be removed: {} depend{} on it; remove {} dependency on it first",
        removed.instance_name,
        dependents.join(", "),
        if dependents.len() == 1 { "s" } else { "" },
        if dependents.len() == 1 { "that" } else { "those" },
    )))
}
