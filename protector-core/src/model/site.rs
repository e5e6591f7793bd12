//! Registered OpenStack sites.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The role a site was registered with. Informational: a group's primary and secondary are
/// workload-relative and swap on failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteType {
    /// Registered as the primary datacenter.
    Primary,
    /// Registered as the DR datacenter.
    Secondary,
}

impl SiteType {
    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteType::Primary => "primary",
            SiteType::Secondary => "secondary",
        }
    }
}

/// Protector's last known connectivity state of a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteStatus {
    /// Every service answered at the last validation.
    Active,
    /// The site could not be reached at the last validation.
    Unreachable,
    /// The site answered but something is wrong (rights, missing service).
    Error,
}

impl SiteStatus {
    /// The spelling used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteStatus::Active => "active",
            SiteStatus::Unreachable => "unreachable",
            SiteStatus::Error => "error",
        }
    }
}

/// A registered OpenStack cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Protector's id of the site.
    pub id: Uuid,
    /// Unique name, such as `site-a`.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Registered role.
    pub site_type: SiteType,
    /// Keystone v3 URL.
    pub auth_url: String,
    /// Region of the site's endpoints.
    pub region_name: String,
    /// Last known state.
    pub status: SiteStatus,
    /// The clouds.yaml entry holding the credentials; `None` means the entry named like the site.
    pub cloud: Option<String>,
    /// When the site was registered.
    pub created_at: DateTime<Utc>,
}

impl Site {
    /// The clouds.yaml entry to authenticate with.
    pub fn cloud_name(&self) -> &str {
        self.cloud.as_deref().unwrap_or(&self.name)
    }
}
