//! [`FlashArrayClientBuilder`]: URL, API token, TLS, retries and timeouts, validated by
//! `build()`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use protector_core::model::Secret;
use protector_core::{Error, ErrorKind, Result};
use protector_http::{HttpClientBuilder, RetryConfig, TlsError, TrustedRoots};
use reqwest::header::HeaderValue;
use reqwest::Url;
use tokio::sync::Mutex;

use crate::auth::ApiVersion;
use crate::client::{FlashArrayClient, Inner};

/// Default time limit of one HTTP exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default time limit to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default page size of listings.
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// Builds a [`FlashArrayClient`].
///
/// Defaults: certificates verified against the system and Mozilla roots, [`RetryConfig`]'s
/// defaults, [`DEFAULT_TIMEOUT`] per exchange, [`DEFAULT_CONNECT_TIMEOUT`], pages of
/// [`DEFAULT_PAGE_SIZE`], the highest REST version both sides support.
#[derive(Clone)]
pub struct FlashArrayClientBuilder {
    url: String,
    api_token: Option<Secret>,
    ca_file: Option<PathBuf>,
    insecure: bool,
    allow_insecure_http: bool,
    retry: RetryConfig,
    timeout: Duration,
    connect_timeout: Duration,
    page_size: u32,
    api_version: Option<String>,
    user_agent: String,
}

impl fmt::Debug for FlashArrayClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlashArrayClientBuilder")
            .field("url", &self.url)
            .field("api_token", &self.api_token.as_ref().map(|_| "[redacted]"))
            .field("ca_file", &self.ca_file)
            .field("insecure", &self.insecure)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl FlashArrayClientBuilder {
    /// A builder for the array at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        FlashArrayClientBuilder {
            url: url.into(),
            api_token: None,
            ca_file: None,
            insecure: false,
            allow_insecure_http: false,
            retry: RetryConfig::default(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            page_size: DEFAULT_PAGE_SIZE,
            api_version: None,
            user_agent: format!("protector-pure/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The REST API token of the array user (required).
    #[must_use]
    pub fn with_api_token(mut self, token: Secret) -> Self {
        self.api_token = Some(token);
        self
    }

    /// A PEM bundle of CA certificates to trust in addition to the system roots (for arrays
    /// with a certificate from a private CA, or self-signed).
    #[must_use]
    pub fn with_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Skips certificate verification. Only for labs: anyone on the path can then read the
    /// API token. Logged as a warning when the client is built.
    #[must_use]
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Accepts a plain `http://` URL, refused otherwise: the API token then travels
    /// unencrypted. Only for a lab array that cannot serve HTTPS (and for tests). Logged as a
    /// warning when the client is built.
    #[must_use]
    pub fn with_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Time limit of one HTTP exchange (each attempt of a retried call has its own).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time limit to open a connection.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Items per page in listings (the array may cap it).
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Uses exactly this REST version (`"2.36"`) instead of the highest common one.
    #[must_use]
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// The `User-Agent` header.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Validates the settings and builds the client. No request is sent yet.
    ///
    /// # Errors
    /// `ConfigInvalid` when the URL, the token, the CA bundle, the page size or the pinned
    /// version is unusable.
    pub fn build(self) -> Result<FlashArrayClient> {
        let invalid = |message: String| Error::new(ErrorKind::ConfigInvalid, message);
        let base = parse_base_url(&self.url, self.allow_insecure_http).map_err(invalid)?;
        let label = match base.port() {
            Some(port) => format!("{}:{port}", base.host_str().unwrap_or_default()),
            None => base.host_str().unwrap_or_default().to_string(),
        };
        let api_token = self
            .api_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid(format!("FlashArray {label}: no API token given; create one with `pureadmin create --api-token` and store it in the policy")))?;
        if HeaderValue::from_str(api_token.expose()).is_err() {
            return Err(invalid(format!(
                "FlashArray {label}: the API token contains characters that cannot be sent in a header; copy it again"
            )));
        }
        if self.page_size == 0 {
            return Err(invalid("page size must be at least 1".to_string()));
        }
        let pinned_version =
            match &self.api_version {
                Some(v) => Some(ApiVersion::parse(v).ok_or_else(|| {
                    invalid(format!("REST version {v:?} is not of the form 2.<n>"))
                })?),
                None => None,
            };
        if self.insecure {
            tracing::warn!(
                array = %label,
                "TLS certificate verification is OFF for this FlashArray: the API token can be intercepted; use a CA bundle instead"
            );
        }
        if base.scheme() == "http" {
            tracing::warn!(array = %label, "FlashArray URL is plain http: the API token travels unencrypted");
        }
        let roots = match &self.ca_file {
            Some(path) => TrustedRoots::BuiltInAnd(path.clone()),
            None => TrustedRoots::BuiltIn,
        };
        let http = HttpClientBuilder::new()
            .with_roots(roots)
            .with_insecure(self.insecure)
            .with_timeout(self.timeout)
            .with_connect_timeout(self.connect_timeout)
            .with_user_agent(self.user_agent)
            .build()
            .map_err(|e| match e {
                TlsError::Build(e) => {
                    invalid(format!("FlashArray {label}: cannot set up HTTPS: {e}"))
                }
                e => invalid(format!("FlashArray {label}: {}", e.describe("CA bundle"))),
            })?;
        Ok(FlashArrayClient {
            inner: Arc::new(Inner {
                base,
                label,
                http,
                api_token,
                retry: self.retry,
                timeout: self.timeout,
                insecure: self.insecure,
                page_size: self.page_size,
                pinned_version,
                session: Mutex::default(),
                array_info: Mutex::default(),
            }),
        })
    }
}

/// `https://host[:port]`; a bare host gets `https://`; `http://` only when `allow_http`.
/// Paths, queries and credentials in the URL are refused: the client owns the path, and
/// credentials belong in the API token.
fn parse_base_url(text: &str, allow_http: bool) -> std::result::Result<Url, String> {
    let text = text.trim().trim_end_matches('/');
    if text.is_empty() {
        return Err("FlashArray URL is empty".to_string());
    }
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("https://{text}")
    };
    let url = Url::parse(&with_scheme)
        .map_err(|e| format!("FlashArray URL {text:?} is not a URL: {e}"))?;
    if url.scheme() == "http" && !allow_http {
        return Err(format!(
            "FlashArray URL {text:?} uses plain http, which would send the API token unencrypted: use https, or allow insecure http explicitly for a lab array"
        ));
    }
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(format!("FlashArray URL {text:?} must use https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("FlashArray URL {text:?} has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "FlashArray URL must not contain credentials; give the API token instead".to_string(),
        );
    }
    if url.path() != "/" && !url.path().is_empty() || url.query().is_some() {
        return Err(format!(
            "FlashArray URL {text:?} must be just scheme, host and port (the client adds /api/...)"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("array-a.example.com", false)
                .unwrap()
                .as_str(),
            "https://array-a.example.com/"
        );
        assert_eq!(
            parse_base_url("https://10.0.0.1:8443/", false)
                .unwrap()
                .as_str(),
            "https://10.0.0.1:8443/"
        );
        assert!(parse_base_url("ftp://a", true).is_err());
        assert!(parse_base_url("", false).is_err());
        assert!(parse_base_url("https://user:pw@a", false).is_err());
        assert!(parse_base_url("https://a/api/2.0", false).is_err());
        // Plain http only when asked for: the API token would travel unencrypted.
        assert!(parse_base_url("http://a", false)
            .unwrap_err()
            .contains("uses plain http"));
        assert_eq!(
            parse_base_url("http://a:8080", true).unwrap().as_str(),
            "http://a:8080/"
        );
    }

    #[test]
    fn build_checks_settings() {
        let kind = |b: FlashArrayClientBuilder| b.build().unwrap_err().kind();
        assert_eq!(
            kind(FlashArrayClient::builder("a")),
            ErrorKind::ConfigInvalid
        );
        let with_token = || FlashArrayClient::builder("a").with_api_token(Secret::new("T"));
        assert_eq!(
            kind(with_token().with_page_size(0)),
            ErrorKind::ConfigInvalid
        );
        assert_eq!(
            kind(with_token().with_api_version("two")),
            ErrorKind::ConfigInvalid
        );
        assert_eq!(
            kind(with_token().with_ca_file("/nonexistent/ca.pem")),
            ErrorKind::ConfigInvalid
        );
        assert!(with_token().with_api_version("2.36").build().is_ok());
    }

    #[test]
    fn builder_debug_hides_token() {
        let b = FlashArrayClient::builder("a").with_api_token(Secret::new("T-very-secret"));
        assert!(!format!("{b:?}").contains("T-very-secret"));
    }
}
