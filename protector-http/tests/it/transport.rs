//! Failures without an answer: a connection broken mid-request, a timeout, an untrusted
//! certificate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protector_core::ErrorKind;
use protector_http::transport::certificate_error;
use protector_http::{HttpClientBuilder, RetryConfig, TransportFailure, TrustedRoots};
use reqwest::Method;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn a_post_is_not_sent_again_after_the_connection_broke_mid_request() {
    let (url, connections) = hang_up_server().await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let retry = fast_retry(&events);
    let post = send(&retry, &client(), Method::POST, &url).await;
    let failed = post.result.unwrap_err();
    assert_eq!(failed.failure, TransportFailure::Interrupted, "{failed:?}");
    assert_eq!(post.retries, 0);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert!(failed.failure.may_have_run(false));
    assert_eq!(failed.failure.kind(), ErrorKind::Unavailable);
    assert!(!protector_core::Error::unavailable("x")
        .with_retry(failed.failure.retry_status(false))
        .is_retryable());

    // The same failure on a GET is retried: reading twice is harmless.
    let get = send(&retry, &client(), Method::GET, &url).await;
    assert_eq!(
        get.result.unwrap_err().failure,
        TransportFailure::Interrupted
    );
    assert_eq!(get.retries, 3);
    assert_eq!(connections.load(Ordering::SeqCst), 1 + 4);
}

#[tokio::test]
async fn a_post_that_timed_out_is_not_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(5)))
        .expect(1)
        .mount(&server)
        .await;
    let client = HttpClientBuilder::new()
        .with_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sent = send(&fast_retry(&events), &client, Method::POST, &server.uri()).await;
    let failed = sent.result.unwrap_err();
    assert_eq!(failed.failure, TransportFailure::Timeout);
    assert_eq!(failed.failure.kind(), ErrorKind::Timeout);
    assert!(failed.failure.may_have_run(false));
    assert_eq!(sent.retries, 0);
    assert!(events.lock().unwrap().is_empty());
}

/// An HTTPS server on 127.0.0.1 with a self-signed certificate, answering `200 {}`. Returns its
/// URL, the PEM of its certificate and the count of TCP connections.
async fn self_signed_server() -> (String, String, Arc<AtomicUsize>) {
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
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here; that is the point of one test.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, cert_pem, connections)
}

#[tokio::test]
async fn an_untrusted_certificate_is_named_and_never_retried() {
    let (url, _, connections) = self_signed_server().await;
    let sent = send(&RetryConfig::default(), &client(), Method::GET, &url).await;
    let failed = sent.result.unwrap_err();
    assert_eq!(failed.failure, TransportFailure::Untrusted);
    assert_eq!(failed.failure.kind(), ErrorKind::ConfigInvalid);
    assert!(!failed.failure.may_have_run(false));
    assert_eq!(sent.retries, 0);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert_eq!(failed.origin.as_deref(), Some(url.as_str()));
    let cause = certificate_error(&failed.source).unwrap();
    assert!(cause.starts_with("invalid peer certificate: "), "{cause}");
}

#[tokio::test]
async fn a_ca_bundle_or_insecure_makes_the_certificate_accepted() {
    let (url, pem, _) = self_signed_server().await;
    let ca = std::env::temp_dir().join(format!(
        "protector-http-ca-{}-{}.pem",
        std::process::id(),
        url.rsplit(':').next().unwrap()
    ));
    std::fs::write(&ca, pem).unwrap();
    for builder in [
        HttpClientBuilder::new().with_roots(TrustedRoots::Only(ca.clone())),
        HttpClientBuilder::new().with_roots(TrustedRoots::BuiltInAnd(ca.clone())),
        HttpClientBuilder::new().with_insecure(true),
    ] {
        let described = format!("{builder:?}");
        let client = builder.build().unwrap();
        let sent = send(&RetryConfig::disabled(), &client, Method::GET, &url).await;
        assert_eq!(sent.result.unwrap().status, 200, "{described}");
    }
    std::fs::remove_file(&ca).ok();
}
