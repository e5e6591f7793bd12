//! Keystone, as seen through one cloud's credentials.

use std::sync::Arc;

use async_trait::async_trait;
use protector_core::api::{AuthInfo, IdentityApi};
use protector_core::Result;

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
    /// or it is about to expire. A 401 is `Unauthenticated`; an unreachable Keystone is
    /// `Unavailable` (after retries).
    async fn authenticate(&self) -> Result<AuthInfo> {
        Ok(self.session.token().await?.auth_info())
    }
}
