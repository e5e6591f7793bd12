//! Requests as data, and the one loop that sends them: token, retries, re-authentication.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protector_core::model::Secret;
use protector_core::{Error, Result};
use protector_http::redact::{self, redact_json};
use protector_http::{is_idempotent, Answer, Call, HttpClientBuilder, RetryConfig, TrustedRoots};
use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::Token;
use crate::config::{config_error, CloudConfig};
use crate::error::{request_id, Family};
use crate::service::{Microversion, Versions};

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

/// One API call, built before it is sent. `Debug` shows credential headers and body fields
/// (passwords, secrets, subject tokens) as `[redacted]`.
#[derive(Clone)]
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
    /// The microversions it works with, to ask again at another one when the service refuses
    /// this one (406).
    pub(crate) versions: Option<Versions>,
    /// Its body at a given microversion, where the body depends on it (a server's create).
    pub(crate) body_at: Option<BodyAt>,
}

/// A request body written for one microversion.
pub(crate) type BodyAt = Arc<dyn Fn(Microversion) -> Value + Send + Sync>;

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &redact::Headers(&self.headers))
            .field("body", &self.body.as_ref().map(redact_json))
            .field("idempotent", &self.idempotent)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A request; GET, HEAD, PUT, DELETE and OPTIONS are idempotent unless said otherwise.
    pub(crate) fn new(family: Family, method: Method, url: Url, operation: String) -> Self {
        let idempotent = is_idempotent(&method);
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
            versions: None,
            body_at: None,
        }
    }

    /// The body written by `body_at` for the request's microversion, and again for another
    /// one if the request is sent again at it.
    pub(crate) fn json_at(mut self, body_at: BodyAt) -> Self {
        if let Some(version) = self.microversion {
            self.body = Some(body_at(version));
        }
        self.body_at = Some(body_at);
        self
    }

    /// The same request at microversion `version`: its version headers and, where it depends
    /// on the version, its body.
    pub(crate) fn at_microversion(&self, version: Microversion) -> Self {
        let mut again = self.clone();
        for (name, value) in &mut again.headers {
            match *name {
                "OpenStack-API-Version" => {
                    let service = value.split_once(' ').map(|(s, _)| s.to_string());
                    *value = match service {
                        Some(service) => format!("{service} {version}"),
                        None => version.to_string(),
                    };
                }
                "X-OpenStack-Nova-API-Version" => *value = version.to_string(),
                _ => {}
            }
        }
        if let Some(body_at) = &self.body_at {
            again.body = Some(body_at(version));
        }
        again.microversion = Some(version);
        again
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
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    /// The microversion the request was answered at (Nova, Cinder).
    pub(crate) microversion: Option<Microversion>,
    family: Family,
    operation: String,
}

impl Response {
    /// The body as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| self.decode_error(e))
    }

    /// The body read by `seed` (a typed reader that needs more than the type).
    pub(crate) fn json_seed<'de, S: serde::de::DeserializeSeed<'de>>(
        &'de self,
        seed: S,
    ) -> Result<S::Value> {
        let mut deserializer = serde_json::Deserializer::from_slice(&self.body);
        seed.deserialize(&mut deserializer)
            .and_then(|value| deserializer.end().map(|()| value))
            .map_err(|e| self.decode_error(e))
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
    /// The cloud's password, application credential secret or given token, scrubbed from every answer
    /// quoted in an error.
    credential: Secret,
}

impl Transport {
    /// Builds the client: TLS verified with the built-in and system roots, or only the `cacert`
    /// bundle; verification off only with `verify: false`, logged. Redirects are not followed,
    /// so the token header is never sent to another host.
    pub(crate) fn new(config: &CloudConfig, options: ClientOptions) -> Result<Self> {
        let roots = match config.cacert() {
            Some(path) => TrustedRoots::Only(path.clone()),
            None => TrustedRoots::BuiltIn,
        };
        if !config.verify() {
            tracing::warn!(
                cloud = config.name(),
                "TLS certificate verification is disabled for this cloud (verify: false / OS_INSECURE); use only in a lab"
            );
        }
        let client = HttpClientBuilder::new()
            .with_roots(roots)
            .with_insecure(!config.verify())
            .with_timeout(options.timeout)
            .with_connect_timeout(options.connect_timeout)
            .with_user_agent(concat!("protector-openstack/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| match e {
                protector_http::TlsError::Build(_) => config_error(format!(
                    "cloud '{}': {}",
                    config.name(),
                    e.describe("cacert")
                )),
                _ => config.invalid(e.describe("cacert")),
            })?;
        let credential = config.auth().secret().clone();
        Ok(Transport {
            client,
            options,
            credential,
        })
    }

    /// Sends `request`, retrying per the shared policy ([`protector_http::classify`]) and
    /// re-authenticating once after a 401.
    pub(crate) async fn execute(
        &self,
        request: &Request,
        tokens: Option<&dyn TokenSource>,
    ) -> Result<Response> {
        let mut reauthenticated = false;
        loop {
            let token = match tokens {
                Some(source) if request.authenticated => Some(source.token().await?),
                _ => None,
            };
            let call = Call {
                service: "OpenStack",
                operation: &request.operation,
                idempotent: request.idempotent,
            };
            let sent = self
                .options
                .retry
                .send(call, || self.send_once(request, token.as_deref()))
                .await;
            let error = match sent.result {
                Ok(answer) if answer.is_success() => {
                    return Ok(Response {
                        headers: answer.headers,
                        body: answer.body,
                        microversion: request.microversion,
                        family: request.family,
                        operation: request.operation.clone(),
                    })
                }
                Ok(answer) => {
                    let status = answer.status.as_u16();
                    if status == 401 && !reauthenticated {
                        if let (Some(source), Some(token)) = (tokens, &token) {
                            tracing::info!(operation = %request.operation, "token refused (401); authenticating again");
                            source.invalidate(token);
                            reauthenticated = true;
                            continue;
                        }
                    }
                    let mut secrets = vec![self.credential.expose()];
                    if let Some(token) = &token {
                        secrets.push(token.secret().expose());
                    }
                    request.family.parse_error(
                        &request.operation,
                        status,
                        &answer.headers,
                        &redact::redact_body(&answer.body, &secrets),
                        request.idempotent,
                    )
                }
                Err(failed) => {
                    request
                        .family
                        .transport_error(&request.operation, failed, request.idempotent)
                }
            };
            return Err(if sent.retries > 0 {
                error.set_persistent()
            } else {
                error
            });
        }
    }

    /// One attempt, body read to the end.
    async fn send_once(
        &self,
        request: &Request,
        token: Option<&Token>,
    ) -> std::result::Result<Answer, reqwest::Error> {
        let mut builder = self
            .client
            .request(request.method.clone(), request.url.clone())
            .header(ACCEPT, "application/json");
        for (name, value) in &request.headers {
            builder = match redact::is_sensitive_header(name) {
                // Marked sensitive, out of reqwest's and hyper's Debug output; a value that
                // cannot be a header is not sent and the service answers 401.
                true => match redact::sensitive_header(value) {
                    Ok(value) => builder.header(*name, value),
                    Err(_) => builder,
                },
                false => builder.header(*name, value.as_str()),
            };
        }
        if let Some(token) = token {
            // A token that came out of a header is a valid header value.
            if let Ok(value) = redact::sensitive_header(token.secret().expose()) {
                builder = builder.header("X-Auth-Token", value);
            }
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        tracing::debug!(method = %request.method, url = %request.url, operation = %request.operation, "sending OpenStack request");
        let answer = Answer::read(builder).await?;
        tracing::debug!(
            method = %request.method,
            url = %request.url,
            status = answer.status.as_u16(),
            request_id = request_id(&answer.headers).as_deref().unwrap_or(""),
            "OpenStack answered"
        );
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use protector_core::ErrorKind;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::TlsAcceptor;

    use super::*;
    use crate::config::{ApplicationCredentialRef, AuthMethod};
    use crate::session::Session;

    /// Keystone behind a self-signed certificate: answers `200 {}` to whoever trusts it.
    /// Returns its URL, the certificate's PEM and the count of TCP connections.
    async fn self_signed_keystone() -> (String, String, Arc<AtomicUsize>) {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let key = PrivateKeyDer::from_pem_slice(certified.signing_key.serialize_pem().as_bytes())
            .unwrap();
        let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = tls.read(&mut [0u8; 8192]).await;
                    let answer =
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (url, certified.cert.pem(), connections)
    }

    fn cloud(url: &str) -> CloudConfig {
        CloudConfig::new(
            "tls",
            format!("{url}/v3"),
            AuthMethod::ApplicationCredential {
                credential: ApplicationCredentialRef::Id("id".into()),
                secret: Secret::new("s"),
            },
        )
    }

    #[tokio::test]
    async fn an_untrusted_certificate_is_named_never_retried_and_fixed_by_cacert() {
        let (url, pem, connections) = self_signed_keystone().await;
        let session = Session::new(cloud(&url), ClientOptions::default()).unwrap();
        let err = session.token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
        assert!(!err.is_retryable());
        assert_eq!(connections.load(Ordering::SeqCst), 1, "not retried");
        assert!(
            err.message().starts_with(&format!(
                "authenticate to cloud 'tls' failed: the certificate of Keystone at {url} is not trusted (invalid peer certificate: "
            )),
            "{err}"
        );
        assert!(
            err.message()
                .contains("as the cloud's cacert in clouds.yaml"),
            "{err}"
        );
        assert_eq!(err.context_value("cloud"), Some("tls"));

        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, pem).unwrap();
        let trusted = Session::new(cloud(&url).with_cacert(&ca), ClientOptions::default()).unwrap();
        // Past the handshake: Keystone's (fake) answer lacks the token header.
        let err = trusted.token().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unexpected, "{err}");
        assert!(err.message().contains("X-Subject-Token"), "{err}");
    }
}
