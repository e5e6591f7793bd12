//! Site failover (spec/002): every protection group whose current primary is the failed site.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::progress::ProgressObserver;
use super::Protector;
use crate::error::{Error, ErrorKind, Result};
use crate::model::Operation;
use crate::plan::FailoverMode;

/// The role a site failover requires.
pub const DR_SITE_ADMIN_ROLE: &str = "dr_site_admin";

/// Ask for a site failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFailoverRequest {
    /// Planned or unplanned (`--failover-type unplanned --force`).
    pub mode: FailoverMode,
    /// At most this many groups fail over at once.
    pub concurrency: usize,
    /// Only these groups (names or ids), e.g. to retry the ones that failed; all otherwise.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
}

impl Protector {
    /// Fails over every protection group whose current primary is `failed_site`.
    pub async fn site_failover(
        &self,
        failed_site: &str,
        request: SiteFailoverRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let _ = (failed_site, request, observer);
        Err(Error::new(
            ErrorKind::Unsupported,
            "site failover is not implemented yet",
        ))
    }
}
