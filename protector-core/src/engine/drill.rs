//! Test failover (DR drill, spec/002) and its cleanup.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::progress::ProgressObserver;
use super::Protector;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Operation, ResourceMappings};

/// Ask for a DR drill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFailoverRequest {
    /// Mappings from the current primary to the isolated test networks of the secondary
    /// (merged over stored ones).
    pub mappings: ResourceMappings,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
}

impl Protector {
    /// Runs a DR drill of `group` on its current secondary site.
    pub async fn test_failover(
        &self,
        group: &str,
        request: TestFailoverRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let _ = (group, request, observer);
        Err(Error::new(
            ErrorKind::Unsupported,
            "test failover is not implemented yet",
        ))
    }

    /// Removes exactly what the drill of `group` created; safe to run again.
    pub async fn test_failover_cleanup(
        &self,
        group: &str,
        operation_id: Option<Uuid>,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let _ = (group, operation_id, observer);
        Err(Error::new(
            ErrorKind::Unsupported,
            "test failover cleanup is not implemented yet",
        ))
    }
}
