//! Keystone, as seen through one cloud's credentials.

use std::sync::Arc;

use async_trait::async_trait;
use protector_core::api::{AuthInfo, IdentityApi};
use protector_core::{ErrorKind, Result};

use crate::error::recast;
use crate::session::Session;
use crate::transport::TokenSource;

/// Keystone of one cloud, implementing [`IdentityApi`].
#[derive(Debug)]
pub struct IdentityClient {
    session: Arc<Session>,
}

impl IdentityClient {
    pub(crate) fn new(session: Arc<Session>) -> Self {
        IdentityClient { session }
    }
}

#[async_trait]
impl IdentityApi for IdentityClient {
    /// Returns the scope of the session's token, authenticating first when there is no token
    /// or it is about to expire. A 401 is `Unauthenticated`; a Keystone that refuses
    /// connections or does not answer in time is `Unavailable` (after retries).
    async fn authenticate(&self) -> Result<AuthInfo> {
        match self.session.token().await {
            Ok(token) => Ok(token.auth_info()),
            // The contract's reachability check: a Keystone that does not answer in time is as
            // unreachable as one refusing connections.
            Err(e) if e.kind() == ErrorKind::Timeout => {
                Err(recast(&e, ErrorKind::Unavailable, e.message().to_string())
                    .with_retry(e.retry_status()))
            }
            Err(e) => Err(e),
        }
    }

    /// Like `authenticate`, but always a round trip to Keystone (`HEAD /v3/auth/tokens` with
    /// the cached token), so that a cached token does not hide a site that stopped answering.
    async fn probe(&self) -> Result<AuthInfo> {
        match self.session.probe().await {
            Ok(token) => Ok(token.auth_info()),
            Err(e) if e.kind() == ErrorKind::Timeout => {
                Err(recast(&e, ErrorKind::Unavailable, e.message().to_string())
                    .with_retry(e.retry_status()))
            }
            Err(e) => Err(e),
        }
    }
}
