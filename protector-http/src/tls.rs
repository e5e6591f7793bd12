//! One way to build the `reqwest` client of an HTTP client: rustls (ring), trusted roots,
//! verification off only on request, timeouts, no redirects.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::verify::{self, Anchors, NoVerification, Verifier};

/// Which certificate authorities are trusted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrustedRoots {
    /// The built-in Mozilla roots and the system's trust store.
    #[default]
    BuiltIn,
    /// The built-in and system roots, and the CA certificates of this PEM bundle (FlashArray's
    /// `ca_file`).
    BuiltInAnd(PathBuf),
    /// Only the CA certificates of this PEM bundle (clouds.yaml's `cacert`, as the OpenStack
    /// tools read it).
    Only(PathBuf),
}

/// Why the HTTP client could not be built.
#[derive(Debug)]
pub enum TlsError {
    /// The CA bundle could not be read.
    Read {
        /// The bundle.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CA bundle holds no PEM certificate (or a broken one).
    NoCertificate {
        /// The bundle.
        path: PathBuf,
    },
    /// A certificate of the CA bundle cannot be a trust root.
    Unusable {
        /// The bundle.
        path: PathBuf,
        /// Why, as rustls says it.
        reason: String,
    },
    /// rustls refused the settings.
    Setup(String),
    /// reqwest refused the settings.
    Build(reqwest::Error),
}

impl TlsError {
    /// The message, naming the bundle the way the client's configuration calls it (`cacert`,
    /// `CA bundle`): `cannot read cacert /etc/ca.pem: ...`, `cacert /etc/ca.pem holds no PEM
    /// certificate`, `cannot build the HTTP client: ...`.
    pub fn describe(&self, bundle: &str) -> String {
        match self {
            TlsError::Read { path, source } => {
                format!("cannot read {bundle} {}: {source}", path.display())
            }
            TlsError::NoCertificate { path } => {
                format!("{bundle} {} holds no PEM certificate", path.display())
            }
            TlsError::Unusable { path, reason } => format!(
                "{bundle} {} holds a certificate that cannot be a trust root: {reason}",
                path.display()
            ),
            TlsError::Setup(reason) => format!("cannot set up TLS: {reason}"),
            TlsError::Build(e) => format!("cannot build the HTTP client: {e}"),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("CA bundle"))
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Read { source, .. } => Some(source),
            TlsError::NoCertificate { .. } | TlsError::Unusable { .. } | TlsError::Setup(_) => None,
            TlsError::Build(e) => Some(e),
        }
    }
}

/// Builds the `reqwest::Client` of one HTTP client.
///
/// Always: rustls with ring (no OpenSSL), redirects not followed (a redirect would carry the
/// token header to wherever it points). Defaults: [`TrustedRoots::BuiltIn`], verification on,
/// 60 s per attempt, 10 s to connect, no `User-Agent`.
#[derive(Debug, Clone)]
pub struct HttpClientBuilder {
    roots: TrustedRoots,
    insecure: bool,
    timeout: Duration,
    connect_timeout: Duration,
    user_agent: Option<String>,
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        HttpClientBuilder {
            roots: TrustedRoots::BuiltIn,
            insecure: false,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            user_agent: None,
        }
    }
}

impl HttpClientBuilder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which certificate authorities are trusted.
    #[must_use]
    pub fn with_roots(mut self, roots: TrustedRoots) -> Self {
        self.roots = roots;
        self
    }

    /// Skips certificate verification. Only for labs: anyone on the path can then read the
    /// tokens. The caller logs a warning naming its site or array.
    #[must_use]
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Time limit of one attempt, from sending to the end of the body.
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

    /// The `User-Agent` of every request.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Reads the CA bundle, if any, and builds the client. Each call builds a client of its
    /// own: a client's pooled connections belong to the runtime that opened them, and a
    /// process may run several (tests, the Python module, a forked child).
    pub fn build(self) -> Result<reqwest::Client, TlsError> {
        let bundle = match &self.roots {
            TrustedRoots::BuiltIn => Vec::new(),
            TrustedRoots::BuiltInAnd(path) | TrustedRoots::Only(path) => {
                let pem = std::fs::read(path).map_err(|source| TlsError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                parse_bundle(path, &pem)?
            }
        };
        let verifier: Arc<dyn ServerCertVerifier> = if self.insecure {
            Arc::new(NoVerification)
        } else {
            let anchors = match &self.roots {
                TrustedRoots::BuiltIn => Anchors::System,
                TrustedRoots::BuiltInAnd(_) => Anchors::SystemAnd(bundle),
                TrustedRoots::Only(_) => Anchors::Only(bundle),
            };
            let verifier = Verifier::new(anchors).map_err(|e| TlsError::Unusable {
                path: self.bundle_path().to_path_buf(),
                reason: e.to_string(),
            })?;
            Arc::new(verifier)
        };
        // rustls' defaults (TLS 1.2 and 1.3, ring), HTTP/1.1 by ALPN, as reqwest's own
        // configuration has them; its certificate checks are the verifier's.
        let mut tls = rustls::ClientConfig::builder_with_provider(verify::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(user_agent) = &self.user_agent {
            builder = builder.user_agent(user_agent.as_str());
        }
        builder.build().map_err(TlsError::Build)
    }

    /// The CA bundle's path, or an empty one.
    fn bundle_path(&self) -> &Path {
        match &self.roots {
            TrustedRoots::BuiltInAnd(path) | TrustedRoots::Only(path) => path,
            TrustedRoots::BuiltIn => Path::new(""),
        }
    }
}

/// The certificates of the PEM bundle read from `path`; at least one.
fn parse_bundle(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|certificates| !certificates.is_empty())
        .ok_or_else(|| TlsError::NoCertificate {
            path: path.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_must_exist_and_hold_certificates() {
        let missing = HttpClientBuilder::new()
            .with_roots(TrustedRoots::Only("/nonexistent/ca.pem".into()))
            .build()
            .unwrap_err();
        assert!(
            missing
                .describe("cacert")
                .starts_with("cannot read cacert /nonexistent/ca.pem: "),
            "{missing}"
        );
        let junk =
            std::env::temp_dir().join(format!("protector-http-junk-{}.pem", std::process::id()));
        std::fs::write(&junk, "not a certificate").unwrap();
        let err = HttpClientBuilder::new()
            .with_roots(TrustedRoots::BuiltInAnd(junk.clone()))
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("CA bundle {} holds no PEM certificate", junk.display())
        );
        std::fs::remove_file(&junk).ok();
        assert!(HttpClientBuilder::new().with_insecure(true).build().is_ok());
    }
}
