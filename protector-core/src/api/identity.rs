//! Keystone.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Who the site's credentials authenticate as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthInfo {
    /// User id.
    pub user_id: String,
    /// User name.
    pub user_name: String,
    /// Scoped project id.
    pub project_id: String,
    /// Scoped project name.
    pub project_name: String,
    /// Role names in the project.
    pub roles: Vec<String>,
    /// Token expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

impl AuthInfo {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A site's Keystone, as seen through one set of credentials.
#[async_trait]
pub trait IdentityApi: Send + Sync + std::fmt::Debug + 'static {
    /// Authenticates (or reuses a valid token) and describes the scope.
    ///
    /// # Behavior
    /// - Fails with `Unavailable` when Keystone cannot be reached; this is the site reachability
    ///   check used before every cross-site modification.
    /// - Fails with `Unauthenticated` when the credentials are refused.
    async fn authenticate(&self) -> Result<AuthInfo>;

    /// Like [`IdentityApi::authenticate`], but guaranteed to reach Keystone even when a valid
    /// token is cached: the reachability check before cross-site changes and DR operations.
    /// The default is `authenticate` (right for clients that contact Keystone every time).
    async fn probe(&self) -> Result<AuthInfo> {
        self.authenticate().await
    }
}
