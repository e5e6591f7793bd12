//! Requests as data, and the one loop that sends them: token, retries, re-authentication.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use protector_core::{Error, Result};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::Token;
use crate::config::{config_error, CloudConfig};
use crate::error::{request_id, Family};
use crate::retry::{classify, parse_retry_after, Decision, Outcome, RetryConfig, RetryEvent};
use crate::service::Microversion;

/// HTTP settings of the clients of one cloud.
///
/// Defaults: 60 s per attempt, 10 s to connect, [`RetryConfig::default`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Retry policy.
    pub retry: RetryConfig,
    /// Time limit of one attempt, from sending to the end of the body.
    pub timeout: Duration,
    /// Time limit to open a connection.
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            retry: RetryConfig::default(),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl ClientOptions {
    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the time limit of one attempt.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the time limit to open a connection.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// One API call, built before it is sent. `Debug` leaves the body out (it may hold a password).
pub(crate) struct Request {
    pub(crate) family: Family,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Value>,
    /// Whether sending it twice is harmless; decides retries after a timeout or a 5xx.
    pub(crate) idempotent: bool,
    /// Whether it carries the token (version documents and token requests do not).
    pub(crate) authenticated: bool,
    /// What it does, for messages: `show server 1234`.
    pub(crate) operation: String,
    /// The microversion it asks for (Nova, Cinder).
    pub(crate) microversion: Option<Microversion>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request; GET, HEAD, PUT and DELETE are idempotent unless said otherwise.
    pub(crate) fn new(family: Family, method: Method, url: Url, operation: String) -> Self {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        Request {
            family,
            method,
            url,
            headers: Vec::new(),
            body: None,
            idempotent,
            authenticated: true,
            operation,
            microversion: None,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn query(mut self, key: &str, value: &str) -> Self {
        self.url.query_pairs_mut().append_pair(key, value);
        self
    }

    pub(crate) fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    pub(crate) fn anonymous(mut self) -> Self {
        self.authenticated = false;
        self
    }
}

/// A successful answer.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    family: Family,
    operation: String,
}

impl Response {
    /// The body as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| self.decode_error(e))
    }

    pub(crate) fn decode_error(&self, what: impl fmt::Display) -> Error {
        self.family
            .decode_error(&self.operation, &self.headers, what)
    }
}

/// Supplies tokens to [`Transport::execute`] and drops one the service refused.
#[async_trait]
pub(crate) trait TokenSource: Send + Sync {
    /// A valid token, authenticating if needed.
    async fn token(&self) -> Result<Arc<Token>>;
    /// Forgets `token` (a 401 said it is no longer valid).
    fn invalidate(&self, token: &Arc<Token>);
}

/// The HTTP client of one cloud.
pub(crate) struct Transport {
    client: reqwest::Client,
    options: ClientOptions,
}

impl Transport {
    /// Builds the client: TLS verified with the built-in roots, or only the `cacert` bundle;
    /// verification off only with `verify: false`, logged. Redirects are not followed, so the
    /// token header is never sent to another host.
    pub(crate) fn new(config: &CloudConfig, options: ClientOptions) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("protector-openstack/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = config.cacert() {
            let pem = std::fs::read(path).map_err(|e| {
                config.invalid(format!("cannot read cacert {}: {e}", path.display()))
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    config.invalid(format!(
                        "cacert {} holds no PEM certificate",
                        path.display()
                    ))
                })?;
            builder = builder.tls_built_in_root_certs(false);
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if !config.verify() {
            tracing::warn!(
                cloud = config.name(),
                "TLS certificate verification is disabled for this cloud (verify: false / OS_INSECURE); use only in a lab"
            );
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder.build().map_err(|e| {
            config_error(format!(
                "cloud '{}': cannot build the HTTP client: {e}",
                config.name()
            ))
        })?;
        Ok(Transport { client, options })
    }

    /// Sends `request`, retrying per [`classify`] and re-authenticating once after a 401.
    pub(crate) async fn execute(
        &self,
        request: &Request,
        tokens: Option<&dyn TokenSource>,
    ) -> Result<Response> {
        let retry = &self.options.retry;
        let started = Instant::now();
        let mut retries = 0u32;
        let mut reauthenticated = false;
        loop {
            let token = match tokens {
                Some(source) if request.authenticated => Some(source.token().await?),
                _ => None,
            };
            let (outcome, error, retry_after) =
                match self.send_once(request, token.as_deref()).await {
                    Ok(response) => {
                        let outcome = Outcome::Status(response.status);
                        if classify(outcome, request.idempotent) == Decision::Done {
                            return Ok(response);
                        }
                        let retry_after = response
                            .headers
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| parse_retry_after(v, Utc::now()));
                        let error = request.family.parse_error(
                            &request.operation,
                            response.status,
                            &response.headers,
                            &response.body,
                            request.idempotent,
                        );
                        (outcome, error, retry_after)
                    }
                    Err((outcome, source)) => {
                        let error = request.family.transport_error(
                            &request.operation,
                            outcome,
                            source,
                            request.idempotent,
                        );
                        (outcome, error, None)
                    }
                };
            match classify(outcome, request.idempotent) {
                Decision::Reauthenticate => match (tokens, token) {
                    (Some(source), Some(token)) if !reauthenticated => {
                        tracing::info!(operation = %request.operation, "token refused (401); authenticating again");
                        source.invalidate(&token);
                        reauthenticated = true;
                    }
                    _ => return Err(error),
                },
                Decision::Retry => {
                    let delay = (retries < retry.max_retries)
                        .then(|| retry.delay(retries, retry_after))
                        .flatten()
                        .filter(|d| started.elapsed() + *d <= retry.retry_timeout);
                    let Some(delay) = delay else {
                        return Err(if retries > 0 {
                            error.set_persistent()
                        } else {
                            error
                        });
                    };
                    retries += 1;
                    let event = RetryEvent {
                        operation: request.operation.clone(),
                        retry: retries,
                        delay,
                        reason: match outcome {
                            Outcome::Status(s) => format!("HTTP {s}"),
                            Outcome::Connect => "connection failed".into(),
                            Outcome::Timeout => "timed out".into(),
                            Outcome::Interrupted => "connection broken".into(),
                        },
                    };
                    tracing::warn!(
                        operation = %event.operation,
                        retry = event.retry,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        reason = %event.reason,
                        "retrying OpenStack request"
                    );
                    retry.notify(&event);
                    tokio::time::sleep(delay).await;
                }
                Decision::Done | Decision::Fail => return Err(error),
            }
        }
    }

    async fn send_once(
        &self,
        request: &Request,
        token: Option<&Token>,
    ) -> Result<Response, (Outcome, reqwest::Error)> {
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone())
            .header(ACCEPT, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        if let Some(token) = token {
            // A token that came out of a header is a valid header value; marking it sensitive
            // keeps it out of reqwest's and hyper's Debug output.
            if let Ok(mut value) = HeaderValue::from_str(token.secret().expose()) {
                value.set_sensitive(true);
                builder = builder.header("X-Auth-Token", value);
            }
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        tracing::debug!(method = %request.method, url = %request.url, operation = %request.operation, "sending OpenStack request");
        let response = builder.send().await.map_err(|e| {
            let outcome = if e.is_connect() {
                Outcome::Connect
            } else if e.is_timeout() {
                Outcome::Timeout
            } else {
                Outcome::Interrupted
            };
            (outcome, e)
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| {
            let outcome = if e.is_timeout() {
                Outcome::Timeout
            } else {
                Outcome::Interrupted
            };
            (outcome, e)
        })?;
        tracing::debug!(
            method = %request.method,
            url = %request.url,
            status,
            request_id = request_id(&headers).as_deref().unwrap_or(""),
            "OpenStack answered"
        );
        Ok(Response {
            status,
            headers,
            body: body.to_vec(),
            family: request.family,
            operation: request.operation.clone(),
        })
    }
}
