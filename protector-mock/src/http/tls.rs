//! The simulated arrays' TLS identity: a private CA and a server certificate for
//! `IP:127.0.0.1` and `DNS:localhost` signed by it, written to the simulator's directory on
//! first use and reused after.
//!
//! Why a CA and not one self-signed certificate: clients verify a server certificate against
//! a CA they are given (`ca_file`). rustls (webpki) refuses a certificate marked as a CA when
//! it is presented as the server's, and OpenSSL's strict mode (Python 3.13's default) wants
//! the usual CA extensions on the anchor; a CA plus a leaf satisfies both.
//!
//! Files in the directory: `array-ca.pem` (the CA certificate clients trust),
//! `array-cert.pem` (the server certificate followed by the CA), `array-key.pem` (the server
//! key, mode 0600). The CA's key is not kept: to renew, delete the three files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use protector_core::{Error, ErrorKind, Result};

/// The CA certificate clients use to verify the arrays.
pub(crate) const CA_FILE: &str = "array-ca.pem";
/// The server certificate chain (server certificate, then the CA).
pub(crate) const CERT_FILE: &str = "array-cert.pem";
/// The server's private key.
pub(crate) const KEY_FILE: &str = "array-key.pem";

fn config_error(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::ConfigInvalid,
        format!(
            "{what} {}: {e}; delete {CA_FILE}, {CERT_FILE} and {KEY_FILE} in that directory to make new ones",
            path.display()
        ),
    )
}

fn tls_error(e: impl std::fmt::Display) -> Error {
    Error::unexpected(format!(
        "cannot make the simulated arrays' certificate: {e}"
    ))
}

struct Identity {
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

/// A new CA and a server certificate signed by it.
fn generate() -> Result<Identity> {
    let ca_key = KeyPair::generate().map_err(tls_error)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name
        .push(DnType::CommonName, "protector simulator CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "protector-mock");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(tls_error)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(tls_error)?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(tls_error)?;
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "simulated FlashArray");
    leaf.distinguished_name
        .push(DnType::OrganizationName, "protector-mock");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf.signed_by(&key, &issuer).map_err(tls_error)?;

    Ok(Identity {
        ca_pem: ca_cert.pem(),
        chain_pem: format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        key_pem: key.serialize_pem(),
    })
}

/// Writes `contents` to `path` through a temporary file, `mode` on Unix.
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    let tmp = path.with_extension("pem.tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(&tmp)
        .map_err(|e| config_error("cannot write", &tmp, e))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| config_error("cannot write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| config_error("cannot write", path, e))
}

/// Loads the simulated arrays' certificate from `dir`, or makes one and writes it there
/// (`dir` is created if needed), and returns the rustls server configuration (ring provider,
/// HTTP/1.1) and the path of the CA file clients verify the arrays with.
pub(crate) fn server_config(dir: &Path) -> Result<(Arc<rustls::ServerConfig>, PathBuf)> {
    let ca_path = dir.join(CA_FILE);
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if !(ca_path.exists() && cert_path.exists() && key_path.exists()) {
        fs::create_dir_all(dir).map_err(|e| config_error("cannot create", dir, e))?;
        let identity = generate()?;
        write_file(&key_path, &identity.key_pem, 0o600)?;
        write_file(&cert_path, &identity.chain_pem, 0o644)?;
        write_file(&ca_path, &identity.ca_pem, 0o644)?;
    }
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| config_error("cannot read", &cert_path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_error("cannot read", &cert_path, e))?;
    if chain.is_empty() {
        return Err(config_error("no certificate in", &cert_path, "empty file"));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| config_error("cannot read", &key_path, e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(tls_error)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| config_error("unusable certificate or key in", dir, e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), ca_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, ca) = server_config(dir.path()).unwrap();
        assert_eq!(ca, dir.path().join(CA_FILE));
        let first = fs::read_to_string(&ca).unwrap();
        let chain = fs::read_to_string(dir.path().join(CERT_FILE)).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(chain.ends_with(&first));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        server_config(dir.path()).unwrap();
        assert_eq!(fs::read_to_string(&ca).unwrap(), first);
    }

    #[test]
    fn a_broken_key_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        server_config(dir.path()).unwrap();
        fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        let error = server_config(dir.path()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
        assert!(error.message().contains(KEY_FILE), "{error}");
    }
}
