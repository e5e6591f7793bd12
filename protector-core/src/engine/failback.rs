//! Failback (spec/001) and fencing of an old primary after an unplanned failover.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::progress::ProgressObserver;
use super::Protector;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Operation, ProtectionGroup, ResourceMappings};

/// Ask for a failback to the group's original primary site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailbackRequest {
    /// Mappings from the current active site back to the original primary (merged over stored
    /// ones); needed only for members that must be rebuilt there.
    pub mappings: ResourceMappings,
    /// Re-enable replication original primary → secondary once the failback is done.
    pub reverse_replication: bool,
    /// Skip the preflight findings that allow it (not reachability of both sites).
    pub force: bool,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
}

impl Protector {
    /// Returns the workload of `group` to its original primary site.
    pub async fn failback(
        &self,
        group: &str,
        request: FailbackRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let _ = (group, request, observer);
        Err(Error::new(
            ErrorKind::Unsupported,
            "failback is not implemented yet",
        ))
    }

    /// Confirms that the VMs left on the old primary by an unplanned failover are stopped,
    /// stopping them if they run, and clears the group's fence.
    pub async fn fence(&self, group: &str) -> Result<ProtectionGroup> {
        let _ = group;
        Err(Error::new(
            ErrorKind::Unsupported,
            "fence is not implemented yet",
        ))
    }
}
