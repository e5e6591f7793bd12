//! Sites, protection groups, members, policies and tenant mappings: everything before and
//! around a failover.

mod candidates;
mod groups;
mod hooks;
mod members;
mod order;
mod policy;
mod sites;
mod tenants;

pub use candidates::MemberCandidate;
pub use groups::CreateGroup;
pub use hooks::HookSpec;
pub use members::AddMember;
pub use order::MemberOrder;
pub use policy::CreatePolicy;
pub use sites::{RegisterSite, SiteValidation};

use super::Protector;
use crate::error::{Error, Hint, Result};
use crate::model::ProtectionGroup;
use crate::store::OperationQuery;

impl Protector {
    fn refuse_in_flight(group: &ProtectionGroup, what: &str) -> Result<()> {
        if group.status.is_in_flight() {
            return Err(Error::conflict(format!(
                "cannot {what} protection group '{}' while it is {}: wait for the running operation{} to finish",
                group.name,
                group.status,
                group.active_operation_id.map(|id| format!(" op-{id}")).unwrap_or_default()
            )));
        }
        Ok(())
    }

    /// Refuses when an operation on `group` is recorded as pending or running: one started
    /// without `--wait` has its record before the group changes status.
    async fn refuse_pending_operation(&self, group: &ProtectionGroup, what: &str) -> Result<()> {
        let unfinished = OperationQuery::of_group(group.id).unfinished();
        let operations = self.store().query_operations(&unfinished).await?;
        if let Some(op) = operations.first() {
            return Err(Error::conflict(format!(
                "cannot {what} protection group '{}' while its {} operation op-{} is {}: wait for it to finish",
                group.name,
                op.operation_type.as_str(),
                op.id,
                op.status.as_str(),
            ))
            .with_hint(Hint::FollowOperation {
                operation: format!("op-{}", op.id),
            }));
        }
        Ok(())
    }
}
