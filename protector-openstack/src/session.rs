//! One authenticated session per cloud: the token, reused until it nears expiry or is refused.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::Utc;
use protector_core::model::Secret;
use protector_core::{Error, ErrorKind, Result};
use reqwest::{Method, Url};

use crate::auth::{token_request, tokens_url, Token};
use crate::config::{AuthMethod, CloudConfig, ProjectRef};
use crate::error::{recast, Family};
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

    /// Keystone's word on someone else's token (`GET /v3/auth/tokens?nocatalog` with
    /// `X-Subject-Token`, sent with the session's own token): its user, scope, roles and
    /// expiry, or `None` when Keystone does not know it (404: unknown, expired or revoked).
    /// keystonemiddleware's check, for a service that authenticates its callers.
    pub(crate) async fn validate_subject(&self, subject: &Secret) -> Result<Option<Token>> {
        let request = Request::new(
            Family::Identity,
            Method::GET,
            self.tokens_url.clone(),
            format!(
                "validate a caller's token with cloud '{}'",
                self.config.name()
            ),
        )
        .header("X-Subject-Token", subject.expose())
        .query("nocatalog", "")
        .idempotent(true);
        match self.send(&request).await {
            Ok(response) => {
                let header = response
                    .headers
                    .get("x-subject-token")
                    .and_then(|v| v.to_str().ok())
                    // Some Keystones do not repeat the subject token on GET.
                    .unwrap_or(subject.expose());
                Token::from_response(Some(header), &response.body)
                    .map(Some)
                    .map_err(|e| response.decode_error(e))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
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
        let now = Utc::now();
        // A token protector was given cannot be renewed: use it to its last second rather than
        // asking Keystone for the same token again and again near its end.
        let renewable = !matches!(self.config.auth(), AuthMethod::Token { .. });
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|t| match renewable {
                true => !t.needs_refresh(now),
                false => !t.has_expired(now),
            })
            .cloned()
    }

    async fn authenticate(&self) -> Result<Arc<Token>> {
        let cloud = self.config.name();
        let token = match self.config.auth() {
            AuthMethod::Token { token, project } => self
                .adopt(token, project.as_ref())
                .await
                .map_err(|e| self.token_refused(e, project.as_ref()))?,
            method => self.issue(token_request(method)).await?,
        };
        tracing::info!(
            cloud,
            user_id = %token.user_id,
            project_id = token.project_id.as_deref().unwrap_or(""),
            expires_at = ?token.expires_at,
            "authenticated to Keystone"
        );
        Ok(Arc::new(token))
    }

    /// `POST /v3/auth/tokens` with `body`.
    async fn issue(&self, body: serde_json::Value) -> Result<Token> {
        let request = Request::new(
            Family::Identity,
            Method::POST,
            self.tokens_url.clone(),
            format!("authenticate to cloud '{}'", self.config.name()),
        )
        .json(body)
        // Issuing a token twice is harmless.
        .idempotent(true)
        .anonymous();
        self.token_call(&request).await
    }

    /// The token given in the configuration: as it is when it is unscoped by request or
    /// already scoped to the project asked for, otherwise rescoped to that project.
    async fn adopt(&self, given: &Secret, project: Option<&ProjectRef>) -> Result<Token> {
        if let None | Some(ProjectRef::Id(_)) = project {
            let token = self.validate(given).await?;
            let as_is = match project {
                Some(ProjectRef::Id(id)) => token.project_id.as_deref() == Some(id),
                _ => true,
            };
            if as_is {
                return Ok(token);
            }
        }
        self.issue(token_request(self.config.auth())).await
    }

    /// `GET /v3/auth/tokens` for `given` itself: its user, scope, roles, expiry, and its
    /// catalog unless the caller gave one.
    async fn validate(&self, given: &Secret) -> Result<Token> {
        let mut request = Request::new(
            Family::Identity,
            Method::GET,
            self.tokens_url.clone(),
            format!(
                "validate the token given for cloud '{}'",
                self.config.name()
            ),
        )
        .header("X-Auth-Token", given.expose())
        .header("X-Subject-Token", given.expose())
        .anonymous();
        let given_catalog = self.config.catalog();
        if given_catalog.is_some() {
            request = request.query("nocatalog", "");
        }
        let mut token = self.token_call(&request).await?;
        if let Some(catalog) = given_catalog {
            token.catalog = catalog.clone();
        }
        Ok(token)
    }

    /// Sends a tokens request and reads the token it answers.
    async fn token_call(&self, request: &Request) -> Result<Token> {
        let cloud = self.config.name();
        let response = self
            .transport
            .execute(request, None)
            .await
            .map_err(|e| e.with_context("cloud", cloud))?;
        let subject = response
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok());
        Token::from_response(subject, &response.body)
            .map_err(|e| response.decode_error(e).with_context("cloud", cloud))
    }

    /// Keystone refusing a given token (401, or 404 "could not find token") means the caller
    /// must log in again: protector holds nothing to get a new token with.
    fn token_refused(&self, error: Error, project: Option<&ProjectRef>) -> Error {
        if !matches!(
            error.kind(),
            ErrorKind::Unauthenticated | ErrorKind::NotFound
        ) {
            return error;
        }
        let cloud = self.config.name();
        let why = match project {
            Some(ProjectRef::Id(id)) => {
                format!("it has expired or was revoked, or its user has no role in project {id}")
            }
            Some(ProjectRef::Name { name, .. }) => {
                format!("it has expired or was revoked, or its user has no role in project {name}")
            }
            None => "it has expired or was revoked".to_string(),
        };
        recast(
            &error,
            ErrorKind::Unauthenticated,
            format!(
                "cloud '{cloud}': Keystone refused the token protector was given ({why}); protector cannot renew a token it did not issue: log in again and pass the new token"
            ),
        )
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
