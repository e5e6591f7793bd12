//! URL hooks: the one HTTP call the engine makes on the operator's behalf. Core has no HTTP
//! client; a transport crate implements [`HookCaller`] (protector-openstack's over reqwest)
//! and hands it to the engine through [`crate::api::Connector::hook_caller`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{ArrayApi, Connector, SiteClients};
use crate::error::Result;
use crate::model::{ArrayEndpoint, HookMethod, Site};
use crate::store::Store;

/// One call of a URL hook.
#[derive(Clone)]
pub struct HookRequest {
    /// GET or POST.
    pub method: HookMethod,
    /// The URL, query included. Never logged nor put into an error as is: use
    /// [`crate::model::redact_url`].
    pub url: String,
    /// POST: the JSON body (the operation's variables). GET sends no body.
    pub body: serde_json::Value,
    /// The call must have answered within this.
    pub timeout: Duration,
}

impl std::fmt::Debug for HookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookRequest")
            .field("method", &self.method)
            .field("url", &crate::model::redact_url(&self.url))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What a URL hook answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookResponse {
    /// HTTP status.
    pub status: u16,
    /// The last 4 KiB of its body, as text (lossy).
    pub body_tail: String,
}

/// Makes the HTTP call of a URL hook.
#[async_trait]
pub trait HookCaller: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `request` once (no retry: the engine decides) and returns its status, whatever it
    /// is.
    ///
    /// # Behavior
    /// - Any HTTP status is `Ok`: the engine compares it with the hook's expected range.
    /// - `Timeout` when no answer came within `request.timeout`; `Unavailable` when the host
    ///   could not be reached. Messages carry the URL redacted, never its query string.
    async fn call(&self, request: &HookRequest) -> Result<HookResponse>;
}

/// A [`Connector`] with a [`HookCaller`]: every call goes to `inner`, and
/// [`Connector::hook_caller`] returns `caller`.
#[derive(Debug, Clone)]
pub struct WithHookCaller {
    /// The transport.
    pub inner: Arc<dyn Connector>,
    /// What makes URL hooks' calls.
    pub caller: Arc<dyn HookCaller>,
}

#[async_trait]
impl Connector for WithHookCaller {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        self.inner.site(site).await
    }

    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        self.inner.site_for_project(site, project_id).await
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        self.inner.array(endpoint).await
    }

    async fn metadata_service(&self, site: &str) -> Result<Option<String>> {
        self.inner.metadata_service(site).await
    }

    async fn metadata_store(&self, site: &str, endpoint: &str) -> Result<Arc<dyn Store>> {
        self.inner.metadata_store(site, endpoint).await
    }

    fn hook_caller(&self) -> Option<Arc<dyn HookCaller>> {
        Some(self.caller.clone())
    }
}
