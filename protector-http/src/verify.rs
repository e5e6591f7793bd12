//! Server certificate verification of the HTTP clients: webpki's, with the system's store read
//! only when a certificate needs it, and a chain verified once per [`CACHE_WINDOW`].
//!
//! - The system's store is read and parsed (a tenth of a one-VM failover's CPU) the first time a
//!   certificate is checked against it: a client of plain-HTTP endpoints never reads it, and a
//!   FlashArray with a `ca_file` whose certificate that bundle answers for never does either
//!   (its bundle is tried first; a chain it does not validate is checked against the store and
//!   the bundle together, as before).
//! - A burst of requests opens many connections to one endpoint at the same moment (no TLS
//!   session to resume yet), each presenting the same chain. The chain is verified the first
//!   time, and once more at the end of the window: valid at both ends of a window, it is valid
//!   through it (validity periods are intervals; no revocation lists are configured), so the
//!   connections of that window that present exactly the same chain for the same name skip it.
//!   Each handshake's own signature (the server proving it holds the key) is always verified.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How long a verified chain is taken as verified (it must be valid at both ends).
pub(crate) const CACHE_WINDOW: Duration = Duration::from_secs(300);

/// Chains remembered at most (the cache is emptied when full).
const CACHE_ENTRIES: usize = 256;

/// The crypto provider of every client: ring.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

/// The system's trusted roots, read once per process, on first use. A certificate the store
/// holds but rustls cannot use as a root is left out, as reqwest leaves it out.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::debug!(%error, "a certificate of the system's store could not be read");
        }
        loaded
            .certs
            .into_iter()
            .filter(|der| RootCertStore::empty().add(der.clone()).is_ok())
            .collect()
    })
}

/// A webpki verifier of `roots`; `UnknownIssuer` for every chain when there are none (an empty
/// system store verifies nothing, it is not a configuration error).
fn webpki(roots: RootCertStore) -> Result<Arc<WebPkiServerVerifier>, rustls::Error> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))
}

/// The verifier of the system's roots alone, shared by every client that trusts only them.
fn system_verifier() -> Result<Arc<WebPkiServerVerifier>, rustls::Error> {
    static VERIFIER: OnceLock<Result<Arc<WebPkiServerVerifier>, rustls::Error>> = OnceLock::new();
    VERIFIER
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(system_roots().iter().cloned());
            webpki(roots)
        })
        .clone()
}

/// What a client trusts.
#[derive(Debug)]
pub(crate) enum Anchors {
    /// The system's store.
    System,
    /// The system's store and these roots (a FlashArray's `ca_file`).
    SystemAnd(Vec<CertificateDer<'static>>),
    /// Only these roots (clouds.yaml's `cacert`).
    Only(Vec<CertificateDer<'static>>),
}

/// A chain presented for a name: the cache's key (the exact bytes, never a hash of them).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Presented {
    name: String,
    chain: Vec<Vec<u8>>,
}

/// The server certificate verifier of one client (see the module documentation).
#[derive(Debug)]
pub(crate) struct Verifier {
    /// The bundle's verifier (`SystemAnd`, `Only`).
    bundle: Option<Arc<WebPkiServerVerifier>>,
    /// The bundle's roots, to join to the system's (`SystemAnd`).
    bundle_roots: Vec<CertificateDer<'static>>,
    /// Whether the system's store is trusted (`System`, `SystemAnd`).
    with_system: bool,
    /// The verifier of the system's roots and the bundle's, built on first use.
    full: OnceLock<Result<Arc<WebPkiServerVerifier>, rustls::Error>>,
    /// Chains verified, with the window they are valid through.
    verified: Mutex<HashMap<Presented, (UnixTime, UnixTime)>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Verifier {
    /// The verifier of `anchors`. Fails when a bundle holds no root rustls can use.
    pub(crate) fn new(anchors: Anchors) -> Result<Verifier, rustls::Error> {
        let (bundle_roots, with_system) = match anchors {
            Anchors::System => (Vec::new(), true),
            Anchors::SystemAnd(roots) => (roots, true),
            Anchors::Only(roots) => (roots, false),
        };
        let bundle = if bundle_roots.is_empty() {
            None
        } else {
            let mut roots = RootCertStore::empty();
            for root in &bundle_roots {
                roots.add(root.clone())?;
            }
            Some(webpki(roots)?)
        };
        Ok(Verifier {
            bundle,
            bundle_roots,
            with_system,
            full: OnceLock::new(),
            verified: Mutex::new(HashMap::new()),
            algorithms: provider().signature_verification_algorithms,
        })
    }

    /// The verifier of every root trusted.
    fn full(&self) -> Result<Arc<WebPkiServerVerifier>, rustls::Error> {
        if self.bundle_roots.is_empty() {
            return system_verifier();
        }
        self.full
            .get_or_init(|| {
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(system_roots().iter().cloned());
                roots.add_parsable_certificates(self.bundle_roots.iter().cloned());
                webpki(roots)
            })
            .clone()
    }

    /// Verifies the chain at `now`, without the cache: against the bundle first, then (when
    /// the system's store is trusted too) against both.
    fn verify_at(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(bundle) = &self.bundle {
            let verified = bundle.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
            if verified.is_ok() || !self.with_system {
                return verified;
            }
        }
        self.full()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Presented, (UnixTime, UnixTime)>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Presented {
            name: server_name.to_str().into_owned(),
            chain: std::iter::once(end_entity)
                .chain(intermediates)
                .map(|der| der.as_ref().to_vec())
                .collect(),
        };
        let at = now.as_secs();
        if let Some((from, until)) = self.lock().get(&presented) {
            if from.as_secs() <= at && at <= until.as_secs() {
                return Ok(ServerCertVerified::assertion());
            }
        }
        let verified =
            self.verify_at(end_entity, intermediates, server_name, ocsp_response, now)?;
        let until = UnixTime::since_unix_epoch(Duration::from_secs(at) + CACHE_WINDOW);
        if self
            .verify_at(end_entity, intermediates, server_name, ocsp_response, until)
            .is_ok()
        {
            let mut cache = self.lock();
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(presented, (now, until));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Accepts every certificate and signature (`insecure`: labs only; the caller warns).
#[derive(Debug)]
pub(crate) struct NoVerification;

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{
        date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa,
        Issuer, KeyPair,
    };

    use super::*;

    /// A CA (a name of its own) and a leaf it signed for `name`, valid from `from` to `until` (y, m, d).
    struct Pki {
        ca: CertificateDer<'static>,
        leaf: CertificateDer<'static>,
    }

    fn issue(name: &str, from: (i32, u8, u8), until: (i32, u8, u8)) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut dn = DistinguishedName::new();
        static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        dn.push(DnType::CommonName, format!("test CA {serial}"));
        ca_params.distinguished_name = dn;
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec![name.to_string()]).unwrap();
        leaf_params.not_before = date_time_ymd(from.0, from.1, from.2);
        leaf_params.not_after = date_time_ymd(until.0, until.1, until.2);
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        Pki {
            ca: ca.der().clone(),
            leaf: leaf.der().clone(),
        }
    }

    /// Noon UTC of (y, m, d), as rustls gives the time.
    fn at(y: i32, m: u8, d: u8) -> UnixTime {
        let secs = date_time_ymd(y, m, d).unix_timestamp() + 12 * 3600;
        UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(secs).unwrap()))
    }

    fn name(text: &str) -> ServerName<'static> {
        ServerName::try_from(text.to_string()).unwrap()
    }

    fn verify(
        verifier: &Verifier,
        leaf: &CertificateDer<'_>,
        host: &str,
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        verifier.verify_server_cert(leaf, &[], &name(host), &[], now)
    }

    fn cached(verifier: &Verifier) -> usize {
        verifier.lock().len()
    }

    #[test]
    fn a_chain_verified_is_taken_as_verified_through_its_window_only() {
        let pki = issue("array.example", (2030, 1, 1), (2030, 3, 1));
        let verifier = Verifier::new(Anchors::Only(vec![pki.ca.clone()])).unwrap();
        verify(&verifier, &pki.leaf, "array.example", at(2030, 2, 1)).unwrap();
        assert_eq!(cached(&verifier), 1);
        // Within the window: the same chain for the same name.
        verify(&verifier, &pki.leaf, "array.example", at(2030, 2, 1)).unwrap();
        // After the window, and after the leaf expired: verified again, and refused.
        let expired = verify(&verifier, &pki.leaf, "array.example", at(2030, 4, 1)).unwrap_err();
        assert!(
            matches!(
                expired,
                rustls::Error::InvalidCertificate(CertificateError::ExpiredContext { .. })
            ),
            "{expired:?}"
        );
        // Before the window (a clock set back): verified again, and refused.
        let early = verify(&verifier, &pki.leaf, "array.example", at(2029, 12, 1)).unwrap_err();
        assert!(
            matches!(
                early,
                rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext { .. })
            ),
            "{early:?}"
        );
    }

    #[test]
    fn a_chain_cached_for_one_name_is_verified_for_another_and_another_chain_is_not_taken() {
        let pki_a = issue("array-a.example", (2030, 1, 1), (2031, 1, 1));
        let stranger = issue("array-a.example", (2030, 1, 1), (2031, 1, 1));
        let verifier = Verifier::new(Anchors::Only(vec![pki_a.ca.clone()])).unwrap();
        verify(&verifier, &pki_a.leaf, "array-a.example", at(2030, 6, 1)).unwrap();
        let wrong_name = verify(&verifier, &pki_a.leaf, "array-b.example", at(2030, 6, 1));
        assert!(
            matches!(
                wrong_name,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{wrong_name:?}"
        );
        // Same name, a leaf of a CA not trusted: refused though the trusted one is cached.
        let untrusted = verify(&verifier, &stranger.leaf, "array-a.example", at(2030, 6, 1));
        assert!(
            matches!(
                untrusted,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{untrusted:?}"
        );
        assert_eq!(cached(&verifier), 1);
    }

    #[test]
    fn a_chain_that_expires_within_the_window_is_not_cached() {
        // Valid until midnight; verified at noon: not at noon plus the window... unless the
        // window is longer than twelve hours, which it is not.
        assert!(CACHE_WINDOW < Duration::from_secs(12 * 3600));
        let pki = issue("array.example", (2030, 1, 1), (2030, 2, 2));
        let verifier = Verifier::new(Anchors::Only(vec![pki.ca.clone()])).unwrap();
        let late = UnixTime::since_unix_epoch(Duration::from_secs(
            at(2030, 2, 1).as_secs() + 12 * 3600 - CACHE_WINDOW.as_secs() / 2,
        ));
        verify(&verifier, &pki.leaf, "array.example", late).unwrap();
        assert_eq!(cached(&verifier), 0);
        verify(&verifier, &pki.leaf, "array.example", at(2030, 1, 15)).unwrap();
        assert_eq!(cached(&verifier), 1);
    }

    #[test]
    fn a_bundle_that_answers_for_the_chain_spares_reading_the_system_store() {
        let pki = issue("array.example", (2030, 1, 1), (2031, 1, 1));
        let verifier = Verifier::new(Anchors::SystemAnd(vec![pki.ca.clone()])).unwrap();
        verify(&verifier, &pki.leaf, "array.example", at(2030, 6, 1)).unwrap();
        assert!(verifier.full.get().is_none());
        // A chain the bundle does not validate is checked against the store and the bundle.
        let stranger = issue("array.example", (2030, 1, 1), (2031, 1, 1));
        let untrusted = verify(&verifier, &stranger.leaf, "array.example", at(2030, 6, 1));
        assert!(
            matches!(
                untrusted,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{untrusted:?}"
        );
        assert!(verifier.full.get().is_some());
    }

    #[test]
    fn a_bundle_certificate_that_cannot_be_a_root_is_refused() {
        let junk = CertificateDer::from(b"not a certificate".to_vec());
        assert!(Verifier::new(Anchors::Only(vec![junk])).is_err());
    }
}
