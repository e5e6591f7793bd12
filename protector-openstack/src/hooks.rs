//! [`HttpHookCaller`]: the HTTP client of URL hooks ([`protector_core::api::HookCaller`]).

use std::time::Duration;

use async_trait::async_trait;
use protector_core::api::{HookCaller, HookRequest, HookResponse};
use protector_core::model::{redact_url, HookMethod};
use protector_core::{Error, ErrorKind, Result};
use protector_http::{HttpClientBuilder, TransportFailure};

/// The part of an answer's body kept for messages and the journal.
const BODY_TAIL: usize = 4096;

/// Calls URL hooks over reqwest: rustls with the built-in and system roots, no redirects
/// followed, one attempt (the engine decides about retries), the hook's timeout per call.
/// URLs appear in errors and logs without their query string or credentials.
#[derive(Debug, Clone)]
pub struct HttpHookCaller {
    client: reqwest::Client,
}

impl HttpHookCaller {
    /// A caller with the default trust settings.
    ///
    /// # Errors
    /// `ConfigInvalid` when the TLS client cannot be built.
    pub fn new() -> Result<Self> {
        let client = HttpClientBuilder::new()
            // The hook's own timeout bounds each call (`HookRequest::timeout`).
            .with_timeout(Duration::from_secs(3600))
            .with_user_agent(concat!("protector-hooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("building the HTTP client of URL hooks: {e}"),
                )
            })?;
        Ok(HttpHookCaller { client })
    }
}

#[async_trait]
impl HookCaller for HttpHookCaller {
    async fn call(&self, request: &HookRequest) -> Result<HookResponse> {
        let shown = format!("{} {}", request.method.as_str(), redact_url(&request.url));
        let builder = match request.method {
            HookMethod::Get => self.client.get(&request.url),
            HookMethod::Post => self.client.post(&request.url).json(&request.body),
        };
        let failed = |e: reqwest::Error| {
            let failure = TransportFailure::of(&e);
            // reqwest's Display names the URL, query included: only the kind is kept.
            let why = match failure {
                TransportFailure::Connect => "could not connect",
                TransportFailure::Timeout => "no answer in time",
                TransportFailure::Interrupted => "the connection broke",
                TransportFailure::Untrusted => "its TLS certificate is not trusted",
            };
            Error::new(failure.kind(), format!("calling {shown}: {why}"))
        };
        let response = builder
            .timeout(request.timeout)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(failed)?;
        let start = body.len().saturating_sub(BODY_TAIL);
        Ok(HookResponse {
            status,
            body_tail: String::from_utf8_lossy(&body[start..]).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn request(method: HookMethod, url: String) -> HookRequest {
        HookRequest {
            method,
            url,
            body: serde_json::json!({"PROTECTOR_OPERATION_ID": "op-1", "PROTECTOR_TARGET_SITE": "site-b"}),
            timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn posts_the_variables_as_json_and_returns_any_status() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hooks/failover"))
            .and(query_param("token", "s3cret"))
            .and(header("content-type", "application/json"))
            .and(body_json(serde_json::json!({"PROTECTOR_OPERATION_ID": "op-1", "PROTECTOR_TARGET_SITE": "site-b"})))
            .respond_with(ResponseTemplate::new(409).set_body_string("change freeze"))
            .expect(1)
            .mount(&server)
            .await;
        let caller = HttpHookCaller::new().unwrap();
        let answer = caller
            .call(&request(
                HookMethod::Post,
                format!("{}/hooks/failover?token=s3cret", server.uri()),
            ))
            .await
            .unwrap();
        assert_eq!(answer.status, 409);
        assert_eq!(answer.body_tail, "change freeze");
    }

    #[tokio::test]
    async fn gets_without_a_body() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/ready"))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        let answer = HttpHookCaller::new()
            .unwrap()
            .call(&request(HookMethod::Get, format!("{}/ready", server.uri())))
            .await
            .unwrap();
        assert_eq!(answer.status, 204);
    }

    #[tokio::test]
    async fn a_late_answer_is_a_timeout_and_the_query_stays_secret() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
            .mount(&server)
            .await;
        let mut slow = request(
            HookMethod::Post,
            format!("{}/slow?token=s3cret", server.uri()),
        );
        slow.timeout = Duration::from_millis(200);
        let e = HttpHookCaller::new()
            .unwrap()
            .call(&slow)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.message().contains("/slow?…"), "{e}");
    }

    #[tokio::test]
    async fn a_closed_port_is_unavailable() {
        // A port nothing listens on any more.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let e = HttpHookCaller::new()
            .unwrap()
            .call(&request(HookMethod::Post, url))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }
}
