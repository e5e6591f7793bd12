//! One authenticated session per cloud: the token, reused until it nears expiry or is refused.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::Utc;
use protector_core::{ErrorKind, Result};
use reqwest::{Method, Url};

use crate::auth::{token_request, tokens_url, Token};
use crate::config::CloudConfig;
use crate::error::Family;
use crate::transport::{ClientOptions, Request, Response, TokenSource, Transport};

/// Credentials, HTTP client and the current token of one cloud, shared by its four clients.
pub(crate) struct Session {
    config: CloudConfig,
    transport: Transport,
    tokens_url: Url,
    current: Mutex<Option<Arc<Token>>>,
    /// Held while authenticating, so concurrent callers wait for one token instead of each
    /// asking Keystone.
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("cloud", &self.config.name())
            .field("tokens_url", &self.tokens_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Checks the configuration and builds the HTTP client; does not contact the cloud.
    pub(crate) fn new(config: CloudConfig, options: ClientOptions) -> Result<Self> {
        let tokens_url = tokens_url(&config)?;
        let transport = Transport::new(&config, options)?;
        Ok(Session {
            config,
            transport,
            tokens_url,
            current: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn config(&self) -> &CloudConfig {
        &self.config
    }

    /// Sends a request with the session's token; errors carry the cloud's name.
    pub(crate) async fn send(&self, request: &Request) -> Result<Response> {
        self.transport
            .execute(request, Some(self))
            .await
            .map_err(|e| e.with_context("cloud", self.config.name()))
    }

    /// A round trip to Keystone with the session's token (`HEAD /v3/auth/tokens`), so that a
    /// cached token does not hide a site that stopped answering. A token Keystone no longer
    /// knows is dropped and a new one issued. A token issued by this call is answer enough:
    /// Keystone was just reached.
    pub(crate) async fn probe(&self) -> Result<Arc<Token>> {
        let (token, issued) = self.current_or_issue().await?;
        if issued {
            return Ok(token);
        }
        let request = Request::new(
            Family::Identity,
            Method::HEAD,
            self.tokens_url.clone(),
            format!("check the token of cloud '{}'", self.config.name()),
        )
        .header("X-Subject-Token", token.secret().expose())
        .query("nocatalog", "")
        .idempotent(true);
        match self.send(&request).await {
            Ok(_) => Ok(token),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.invalidate(&token);
                self.token().await
            }
            Err(e) => Err(e),
        }
    }

    /// The cached token, or a new one; `true` when this call had Keystone issue it.
    async fn current_or_issue(&self) -> Result<(Arc<Token>, bool)> {
        if let Some(token) = self.cached() {
            return Ok((token, false));
        }
        let _guard = self.refresh.lock().await;
        if let Some(token) = self.cached() {
            return Ok((token, false));
        }
        let token = self.authenticate().await?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&token));
        Ok((token, true))
    }

    fn cached(&self) -> Option<Arc<Token>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|t| !t.needs_refresh(Utc::now()))
            .cloned()
    }

    async fn authenticate(&self) -> Result<Arc<Token>> {
        let cloud = self.config.name();
        let request = Request::new(
            Family::Identity,
            Method::POST,
            self.tokens_url.clone(),
            format!("authenticate to cloud '{cloud}'"),
        )
        .json(token_request(self.config.auth()))
        // Issuing a token twice is harmless.
        .idempotent(true)
        .anonymous();
        let response = self
            .transport
            .execute(&request, None)
            .await
            .map_err(|e| e.with_context("cloud", cloud))?;
        let subject = response
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok());
        let token = Token::from_response(subject, &response.body)
            .map_err(|e| response.decode_error(e).with_context("cloud", cloud))?;
        tracing::info!(
            cloud,
            user_id = %token.user_id,
            project_id = token.project_id.as_deref().unwrap_or(""),
            expires_at = ?token.expires_at,
            "authenticated to Keystone"
        );
        Ok(Arc::new(token))
    }
}

#[async_trait]
impl TokenSource for Session {
    async fn token(&self) -> Result<Arc<Token>> {
        Ok(self.current_or_issue().await?.0)
    }

    fn invalidate(&self, token: &Arc<Token>) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, token)) {
            *current = None;
        }
    }
}
