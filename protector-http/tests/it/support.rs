//! Servers and settings the tests share.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protector_http::{Answer, Call, RetryConfig, RetryEvent, Sent};
use reqwest::Method;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Fast retries: 3 retries, 1-5 ms backoff, every retry recorded.
pub fn fast_retry(events: &Arc<Mutex<Vec<RetryEvent>>>) -> RetryConfig {
    let events = Arc::clone(events);
    RetryConfig::default()
        .with_max_retries(3)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .with_observer(move |event| events.lock().unwrap().push(event.clone()))
}

pub fn client() -> reqwest::Client {
    protector_http::HttpClientBuilder::new()
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Sends `method url` through `retry`'s loop, `idempotent` as the method says.
pub async fn send(
    retry: &RetryConfig,
    client: &reqwest::Client,
    method: Method,
    url: &str,
) -> Sent {
    let call = Call {
        service: "Test",
        operation: "test call",
        idempotent: protector_http::is_idempotent(&method),
    };
    retry
        .send(call, || {
            Answer::read(
                client
                    .request(method.clone(), url)
                    .json(&serde_json::json!({"x": 1})),
            )
        })
        .await
}

/// A server on 127.0.0.1 that reads each request and closes the connection without an answer,
/// as a server that crashed mid-request does. Returns its URL and the count of connections.
pub async fn hang_up_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/resource", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                // Read the whole request (headers and the small body), then hang up.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = tcp.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                    if request.windows(4).any(|w| w == b"\r\n\r\n") && request.ends_with(b"}") {
                        break;
                    }
                }
                drop(tcp);
            });
        }
    });
    (url, connections)
}

/// A local address nothing listens on.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/resource", listener.local_addr().unwrap())
}
