//! Secrets stay out of what the plumbing hands to errors and logs.

use std::sync::{Arc, Mutex};

use protector_core::{Error, ErrorKind};
use protector_http::redact::{redact_body, sensitive_header};
use protector_http::{Answer, Call, RetryConfig};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const TOKEN: &str = "gAAAA-secret-token-value";
const PASSWORD: &str = "correct horse battery staple";

fn assert_clean(what: &str, text: &str) {
    for secret in [TOKEN, PASSWORD] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

#[tokio::test]
async fn secrets_never_reach_the_error_display_or_debug() {
    // A service that echoes the token and the password back, in a header and the body.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-auth-token", TOKEN))
        .respond_with(
            ResponseTemplate::new(500)
                .insert_header("x-echo", TOKEN)
                .set_body_string(format!(
                    r#"{{"error": "bad token {TOKEN} for password {PASSWORD}"}}"#
                )),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client();
    let call = Call {
        service: "Test",
        operation: "create thing",
        idempotent: false,
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let sent = fast_retry(&events)
        .send(call, || {
            Answer::read(
                client
                    .post(server.uri())
                    .header("x-auth-token", sensitive_header(TOKEN).unwrap())
                    .json(&serde_json::json!({"password": PASSWORD})),
            )
        })
        .await;
    assert_clean("the call's Debug", &format!("{sent:?}"));
    let answer = sent.result.unwrap();
    let quoted = redact_body(&answer.body, &[TOKEN, PASSWORD]);
    let error = Error::new(
        ErrorKind::Unavailable,
        format!(
            "create thing failed: HTTP 500: {}",
            String::from_utf8_lossy(&quoted)
        ),
    );
    assert!(error.message().contains("bad token [redacted]"), "{error}");
    assert_clean("the error", &format!("{error} {error:?}"));

    // A failure without an answer: the URL (and a query an old API might carry) is dropped from
    // the cause before it reaches an error.
    let url = format!("{}?api_token={TOKEN}", closed_port_url());
    let sent = send(
        &RetryConfig::disabled(),
        &client,
        reqwest::Method::GET,
        &url,
    )
    .await;
    let failed = sent.result.unwrap_err();
    assert_clean("the transport failure", &format!("{failed:?}"));
    let error = Error::new(failed.failure.kind(), "cannot connect").with_source(failed.source);
    assert_clean("the error", &format!("{error} {error:?}"));
}
