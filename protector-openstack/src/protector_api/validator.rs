//! A service's check of its callers' Keystone tokens, as keystonemiddleware does it.

use std::sync::Arc;

use protector_core::api::AuthInfo;
use protector_core::model::Secret;
use protector_core::{ErrorKind, Result};

use crate::config::CloudConfig;
use crate::error::recast;
use crate::session::Session;
use crate::transport::ClientOptions;

/// Validates callers' tokens against a Keystone with the service's own credentials (its
/// `[keystone_authtoken]` user), whose token it keeps and renews as every session does.
///
/// No cache here: the service keeps one (keyed by a digest of the token).
#[derive(Debug, Clone)]
pub struct TokenValidator {
    session: Arc<Session>,
}

impl TokenValidator {
    /// A validator logging in with `config` (usually password credentials). Does not contact
    /// Keystone.
    pub fn new(config: CloudConfig, options: ClientOptions) -> Result<Self> {
        Ok(TokenValidator {
            session: Arc::new(Session::new(config, options)?),
        })
    }

    /// Who `token` authenticates: `Ok(None)` when Keystone does not know it (unknown, expired,
    /// revoked). `Unavailable` when Keystone cannot be reached; `Unauthenticated` when the
    /// service's own credentials are refused (its configuration is wrong, not the caller).
    pub async fn validate(&self, token: &Secret) -> Result<Option<AuthInfo>> {
        match self.session.validate_subject(token).await {
            Ok(found) => Ok(found.map(|t| t.auth_info())),
            Err(e) if e.kind() == ErrorKind::Timeout => {
                Err(recast(&e, ErrorKind::Unavailable, e.message().to_string())
                    .with_retry(e.retry_status()))
            }
            Err(e) => Err(e),
        }
    }
}
