//! Replication policy: how to reach the two FlashArrays and what RPO to hold.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ProtectionGroup, Secret};

/// How to reach one FlashArray.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayEndpoint {
    /// Management URL (`https://flasharray-a.example.com`).
    pub url: String,
    /// REST API token. Encrypted at rest, never printed.
    pub api_token: Secret,
    /// CA bundle to verify the array's certificate, if not the system roots.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// The replication policy attached to a protection group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationPolicy {
    /// The group.
    pub group_id: Uuid,
    /// Array on the group's primary site.
    pub primary_array: ArrayEndpoint,
    /// Array on the group's secondary site.
    pub secondary_array: ArrayEndpoint,
    /// FlashArray protection group (async) or pod (sync) name.
    pub pure_pg_name: String,
    /// Seconds between replicated snapshots (async).
    pub replication_interval_secs: u64,
    /// Recovery point objective in minutes (async).
    pub rpo_minutes: u64,
    /// Name of the primary site's FlashArray, learned when the policy was checked. Replica
    /// objects on the other array are named after it (`array-a:pg`), which an unplanned
    /// failover needs while that array does not answer.
    #[serde(default)]
    pub primary_array_name: Option<String>,
    /// Name of the secondary site's FlashArray.
    #[serde(default)]
    pub secondary_array_name: Option<String>,
}

impl ReplicationPolicy {
    /// The array name of `site`, when known.
    pub fn array_name_on(&self, group: &ProtectionGroup, site: &str) -> Option<&str> {
        if site == group.primary_site {
            self.primary_array_name.as_deref()
        } else {
            self.secondary_array_name.as_deref()
        }
    }

    /// The array of `site`, one of the two sites of `group`.
    pub fn array_on(&self, group: &ProtectionGroup, site: &str) -> &ArrayEndpoint {
        if site == group.primary_site {
            &self.primary_array
        } else {
            &self.secondary_array
        }
    }
}
