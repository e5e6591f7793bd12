//! The client: one FlashArray, one API token, one session shared by clones. Sending, retries,
//! the 401 re-login and pagination live here; the calls are in `calls/`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use protector_core::api::ArrayInfo;
use protector_core::model::Secret;
use protector_core::{Error, Result};
use protector_http::redact;
use protector_http::request_id::new_request_id;
use protector_http::{is_idempotent, Call, RetryConfig};
use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::auth::{ApiVersion, Session, SessionState};
use crate::builder::FlashArrayClientBuilder;
use crate::error::{decode_error, parse_error, transport_error, ErrorContext};
use crate::request::{resource_url, Request};

/// Pages followed at most in one listing; a guard against an array that never stops paging.
const MAX_PAGES: usize = 10_000;

/// A FlashArray REST 2.x client implementing [`protector_core::api::ArrayApi`].
///
/// Cheap to clone: clones share the HTTP connection pool and the session. The session is opened
/// on the first call (version negotiation, then login with the API token), reopened once when
/// the array answers 401, and closed by [`FlashArrayClient::close`]. Dropping the client does not
/// log out (it cannot wait for the array); the session then expires on the array.
///
/// ```no_run
/// # async fn demo() -> protector_core::Result<()> {
/// use protector_core::api::ArrayApi;
/// use protector_core::model::Secret;
/// use protector_pure::FlashArrayClient;
///
/// let array = FlashArrayClient::builder("https://flasharray-a.example.com")
///     .with_api_token(Secret::new("0f2e2884-9486-c6c2-438c-f50418f2aac3"))
///     .with_ca_file("/etc/protector/array-ca.pem")
///     .build()?;
/// let info = array.array_info().await?;
/// println!("{} runs Purity {}", info.name, info.version);
/// array.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FlashArrayClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) base: Url,
    /// `host[:port]`, the array's name in messages until its real name is known.
    pub(crate) label: String,
    pub(crate) http: reqwest::Client,
    pub(crate) api_token: Secret,
    pub(crate) retry: RetryConfig,
    pub(crate) timeout: Duration,
    pub(crate) insecure: bool,
    pub(crate) page_size: u32,
    pub(crate) pinned_version: Option<ApiVersion>,
    pub(crate) session: Mutex<SessionState>,
    pub(crate) array_info: Mutex<Option<ArrayInfo>>,
}

impl fmt::Debug for FlashArrayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlashArrayClient")
            .field("url", &self.inner.base.as_str())
            .field("api_version", &self.inner.pinned_version)
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .field("insecure", &self.inner.insecure)
            .field("page_size", &self.inner.page_size)
            .finish_non_exhaustive()
    }
}

/// One HTTP exchange as sent: a [`Request`] resolved to a URL and credentials, or one of the
/// session calls.
pub(crate) struct Exchange {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) operation: String,
    pub(crate) object: Option<String>,
    pub(crate) idempotent: bool,
    pub(crate) login: bool,
    /// Header name and secret value (`api-token` for the login, `x-auth-token` after).
    pub(crate) token: Option<(&'static str, Secret)>,
    pub(crate) body: Option<serde_json::Value>,
    pub(crate) request_id: String,
}

impl Exchange {
    pub(crate) fn new(method: Method, url: Url, operation: impl Into<String>) -> Exchange {
        Exchange {
            idempotent: is_idempotent(&method),
            method,
            url,
            operation: operation.into(),
            object: None,
            login: false,
            token: None,
            body: None,
            request_id: new_request_id(),
        }
    }

    pub(crate) fn idempotent(mut self, idempotent: bool) -> Exchange {
        self.idempotent = idempotent;
        self
    }
}

/// An answer with its body read.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) request_id: String,
    /// Retries spent before this answer.
    pub(crate) retries: u32,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    continuation_token: Option<String>,
    #[serde(default)]
    more_items_remaining: Option<bool>,
}

impl FlashArrayClient {
    /// A builder for the array at `url` (`https://array.example.com`, or a bare host name).
    pub fn builder(url: impl Into<String>) -> FlashArrayClientBuilder {
        FlashArrayClientBuilder::new(url)
    }

    /// A client for an array endpoint of a replication policy: its URL, API token and CA bundle,
    /// with default retries and timeouts.
    pub fn from_endpoint(endpoint: &protector_core::model::ArrayEndpoint) -> Result<Self> {
        let mut builder = Self::builder(endpoint.url.clone())
            .with_api_token(endpoint.api_token.clone())
            .with_allow_insecure_http(endpoint.allow_insecure_http);
        if let Some(ca) = &endpoint.ca_file {
            builder = builder.with_ca_file(ca);
        }
        builder.build()
    }

    /// The array's URL.
    pub fn url(&self) -> &str {
        self.inner.base.as_str()
    }

    pub(crate) fn versions_url(&self) -> Url {
        resource_url(&self.inner.base, "/api/api_version", &[])
    }

    pub(crate) fn url_for(&self, version: ApiVersion, path: &str) -> Url {
        resource_url(&self.inner.base, &format!("/api/{version}/{path}"), &[])
    }

    pub(crate) fn context<'a>(&'a self, exchange: &'a Exchange) -> ErrorContext<'a> {
        ErrorContext {
            array: &self.inner.label,
            operation: &exchange.operation,
            object: exchange.object.as_deref(),
            request_id: &exchange.request_id,
            idempotent: exchange.idempotent,
            login: exchange.login,
        }
    }

    /// One attempt, body read to the end.
    async fn attempt(
        &self,
        exchange: &Exchange,
    ) -> std::result::Result<protector_http::Answer, reqwest::Error> {
        let mut builder = self
            .inner
            .http
            .request(exchange.method.clone(), exchange.url.clone())
            .header(ACCEPT, "application/json")
            .header("X-Request-ID", exchange.request_id.as_str());
        if let Some((name, secret)) = &exchange.token {
            // Checked when the token was accepted (builder, login answer); an invalid one is
            // simply not sent and the array answers 401.
            if let Ok(value) = redact::sensitive_header(secret.expose()) {
                builder = builder.header(*name, value);
            }
        }
        if let Some(body) = &exchange.body {
            builder = builder.json(body);
        }
        let answer = protector_http::Answer::read(builder).await?;
        tracing::debug!(
            array = %self.inner.label,
            method = %exchange.method,
            path = exchange.url.path(),
            status = answer.status.as_u16(),
            request_id = %exchange.request_id,
            "FlashArray answered"
        );
        Ok(answer)
    }

    /// Sends `exchange`, retrying per the shared policy ([`protector_http::classify`]). Returns
    /// the final answer whatever its status; fails only when no answer came.
    pub(crate) async fn send(&self, exchange: &Exchange) -> Result<Answer> {
        let call = Call {
            service: "FlashArray",
            operation: &exchange.operation,
            idempotent: exchange.idempotent,
        };
        let sent = self.inner.retry.send(call, || self.attempt(exchange)).await;
        match sent.result {
            Ok(answer) => Ok(Answer {
                status: answer.status,
                headers: answer.headers,
                body: answer.body,
                request_id: exchange.request_id.clone(),
                retries: sent.retries,
            }),
            Err(failed) => {
                let error = transport_error(&self.context(exchange), failed);
                Err(if sent.retries > 0 {
                    error.set_persistent()
                } else {
                    error
                })
            }
        }
    }

    /// The error for a non-success answer, with secrets scrubbed from the body first.
    pub(crate) fn fail(
        &self,
        exchange: &Exchange,
        answer: Answer,
        session: Option<&Secret>,
    ) -> Error {
        let secrets: Vec<&str> = [Some(&self.inner.api_token), session]
            .into_iter()
            .flatten()
            .map(Secret::expose)
            .collect();
        let error = parse_error(
            &self.context(exchange),
            answer.status,
            &answer.headers,
            &redact::redact_body(&answer.body, &secrets),
        );
        if answer.retries > 0 {
            error.set_persistent()
        } else {
            error
        }
    }

    /// Decodes a JSON answer.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        exchange: &Exchange,
        answer: &Answer,
    ) -> Result<T> {
        serde_json::from_slice(&answer.body)
            .map_err(|e| decode_error(&self.context(exchange), &answer.request_id, e))
    }

    fn exchange_for(&self, request: &Request, session: &Session, request_id: &str) -> Exchange {
        Exchange {
            method: request.method.clone(),
            url: request.url(&self.inner.base, session.version),
            operation: request.operation.to_string(),
            object: request.object.clone(),
            idempotent: request.idempotent,
            login: false,
            token: Some(("x-auth-token", session.token.clone())),
            body: request.body.clone(),
            request_id: request_id.to_string(),
        }
    }

    /// Sends an authenticated request: opens the session if needed, logs in again once on 401.
    async fn execute(&self, request: &Request, request_id: &str) -> Result<(Exchange, Answer)> {
        let mut session = self.session().await?;
        let mut relogged = false;
        loop {
            let exchange = self.exchange_for(request, &session, request_id);
            let answer = self.send(&exchange).await?;
            if answer.status.is_success() {
                return Ok((exchange, answer));
            }
            if answer.status == StatusCode::UNAUTHORIZED && !relogged {
                relogged = true;
                session = self.relogin(&session).await?;
                continue;
            }
            return Err(self.fail(&exchange, answer, Some(&session.token)));
        }
    }

    /// Sends a request whose answer does not matter beyond success.
    pub(crate) async fn run(&self, request: &Request) -> Result<()> {
        self.execute(request, &new_request_id()).await.map(drop)
    }

    /// Sends a request and returns the `items` of its one answer (POST and PATCH).
    pub(crate) async fn items<T: DeserializeOwned>(&self, request: &Request) -> Result<Vec<T>> {
        let (exchange, answer) = self.execute(request, &new_request_id()).await?;
        let page: Page<T> = self.decode(&exchange, &answer)?;
        Ok(page.items)
    }

    /// Sends a GET and follows its pages: `continuation_token` while the array returns one,
    /// `offset` when the array pages a sorted listing without tokens. One `X-Request-ID` for
    /// all pages.
    pub(crate) async fn list<T: DeserializeOwned>(&self, request: &Request) -> Result<Vec<T>> {
        let request_id = new_request_id();
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        let mut offset = 0usize;
        for _ in 0..MAX_PAGES {
            let mut page_request = request.clone();
            page_request = page_request.param("limit", self.inner.page_size.to_string());
            if let Some(t) = &token {
                page_request = page_request.param("continuation_token", t.clone());
            } else if offset > 0 {
                page_request = page_request.param("offset", offset.to_string());
            }
            let (exchange, answer) = self.execute(&page_request, &request_id).await?;
            let page: Page<T> = self.decode(&exchange, &answer)?;
            let count = page.items.len();
            all.extend(page.items);
            let next = page
                .continuation_token
                .filter(|t| !t.is_empty())
                .or_else(|| {
                    answer
                        .headers
                        .get("x-next-token")
                        .and_then(|v| v.to_str().ok())
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                });
            match next {
                Some(next) if page.more_items_remaining != Some(false) && count > 0 => {
                    if token.as_deref() == Some(next.as_str()) {
                        return Err(Error::unexpected(format!(
                            "{} on FlashArray {}: the array returned the same continuation token twice",
                            request.operation, self.inner.label
                        ))
                        .with_context("request_id", request_id));
                    }
                    token = Some(next);
                }
                None if token.is_none() && page.more_items_remaining == Some(true) && count > 0 => {
                    offset += count;
                }
                _ => return Ok(all),
            }
        }
        Err(Error::unexpected(format!(
            "{} on FlashArray {}: more than {MAX_PAGES} pages; narrow the listing",
            request.operation, self.inner.label
        )))
    }
}
