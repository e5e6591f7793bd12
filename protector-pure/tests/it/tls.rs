//! TLS: a self-signed array certificate is refused by default, accepted with its CA bundle or
//! with verification explicitly off.

use std::sync::Arc;
use std::time::Duration;

use protector_core::model::Secret;
use protector_core::ErrorKind;
use protector_pure::{FlashArrayClient, RetryConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::common::API_TOKEN;

/// An HTTPS server on 127.0.0.1 answering every request with a version list. Returns its URL and
/// the PEM of its self-signed certificate.
async fn https_array() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key =
        PrivateKeyDer::from_pem_slice(certified.signing_key.serialize_pem().as_bytes()).unwrap();
    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here; that is the point of some tests.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"version":["2.0","2.56"]}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, cert_pem)
}

fn builder(url: &str) -> protector_pure::FlashArrayClientBuilder {
    FlashArrayClient::builder(url)
        .with_api_token(Secret::new(API_TOKEN))
        .with_retry(RetryConfig::disabled())
        .with_timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn self_signed_certificate_is_refused_by_default_and_named_as_the_cause() {
    let (url, _) = https_array().await;
    let err = builder(&url)
        .with_retry(RetryConfig::default())
        .build()
        .unwrap()
        .api_version()
        .await
        .unwrap_err();
    // Not an outage: no retry helps, the client needs the CA.
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(!err.is_retryable());
    let message = err.message();
    assert!(
        message.contains(&format!(
            "the certificate of array {url} is not trusted (invalid peer certificate: "
        )),
        "{err}"
    );
    assert!(message.contains("CA file (ca_file)"), "{err}");
    assert!(!message.contains('\n'), "{err}");
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let err = builder("http://127.0.0.1:1").build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(err.message().contains("uses plain http"), "{err}");
    assert!(builder("http://127.0.0.1:1")
        .with_allow_insecure_http(true)
        .build()
        .is_ok());
    let endpoint = |allow| protector_core::model::ArrayEndpoint {
        url: "http://127.0.0.1:1".to_string(),
        api_token: Secret::new(API_TOKEN),
        ca_file: None,
        allow_insecure_http: allow,
    };
    assert_eq!(
        FlashArrayClient::from_endpoint(&endpoint(false))
            .unwrap_err()
            .kind(),
        ErrorKind::ConfigInvalid
    );
    assert!(FlashArrayClient::from_endpoint(&endpoint(true)).is_ok());
}

#[tokio::test]
async fn ca_bundle_makes_the_certificate_trusted() {
    let (url, pem) = https_array().await;
    let dir = std::env::temp_dir().join(format!("protector-pure-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join(format!("{}.pem", url.rsplit(':').next().unwrap()));
    std::fs::write(&ca, pem).unwrap();
    let client = builder(&url).with_ca_file(&ca).build().unwrap();
    assert_eq!(client.api_version().await.unwrap().to_string(), "2.56");
    std::fs::remove_file(&ca).ok();
}

#[tokio::test]
async fn insecure_skips_verification_only_when_asked() {
    let (url, _) = https_array().await;
    let client = builder(&url).with_insecure(true).build().unwrap();
    assert_eq!(client.api_version().await.unwrap().to_string(), "2.56");
}

#[tokio::test]
async fn a_ca_file_that_is_not_pem_is_a_config_error() {
    let path =
        std::env::temp_dir().join(format!("protector-pure-bad-ca-{}.pem", std::process::id()));
    std::fs::write(&path, "not a certificate").unwrap();
    let err = builder("https://127.0.0.1:1")
        .with_ca_file(&path)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    std::fs::remove_file(&path).ok();
}

#[tokio::test]
async fn from_endpoint_takes_url_token_and_ca_bundle() {
    let (url, pem) = https_array().await;
    let ca = std::env::temp_dir().join(format!(
        "protector-pure-endpoint-ca-{}-{}.pem",
        std::process::id(),
        url.rsplit(':').next().unwrap()
    ));
    std::fs::write(&ca, pem).unwrap();
    let endpoint = protector_core::model::ArrayEndpoint {
        url: url.clone(),
        api_token: Secret::new(API_TOKEN),
        ca_file: Some(ca.display().to_string()),
        allow_insecure_http: false,
    };
    let client = FlashArrayClient::from_endpoint(&endpoint).unwrap();
    assert_eq!(client.api_version().await.unwrap().to_string(), "2.56");
    assert!(!format!("{client:?}").contains(API_TOKEN));
    std::fs::remove_file(&ca).ok();
}
