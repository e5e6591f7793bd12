//! Replication policy: how to reach the two FlashArrays and what RPO to hold.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ProtectionGroup, Secret};
use crate::error::{Error, Result};

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
    /// Accepts a plain `http://` URL, over which the API token travels unencrypted. Off by
    /// default: only for a lab array that cannot serve HTTPS.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
}

impl ArrayEndpoint {
    /// Checks the URL's scheme before anything is sent: `https://`, or a bare host (which
    /// means https); `http://` only with [`ArrayEndpoint::allow_insecure_http`], since the API
    /// token would be readable by anyone on the path.
    ///
    /// # Errors
    /// `InvalidInput` for another scheme, or for `http://` without the explicit allowance.
    pub fn check_url(&self) -> Result<()> {
        let url = self.url.trim();
        let shown = url.escape_debug();
        let Some((scheme, _)) = url.split_once("://") else {
            return Ok(());
        };
        if scheme.eq_ignore_ascii_case("https") {
            return Ok(());
        }
        if scheme.eq_ignore_ascii_case("http") {
            if self.allow_insecure_http {
                return Ok(());
            }
            return Err(Error::invalid(format!(
                "FlashArray URL \"{shown}\" uses plain http, which would send the API token unencrypted: \
                 give the array's https:// URL (and its CA bundle if its certificate is from a private CA), \
                 or allow insecure http explicitly for a lab array"
            )));
        }
        Err(Error::invalid(format!(
            "FlashArray URL \"{shown}\" must use https"
        )))
    }
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
