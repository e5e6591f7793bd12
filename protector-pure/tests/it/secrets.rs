//! The API token and the session token never reach Debug output, errors, logs or URLs.

use protector_core::Error;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(API_TOKEN), "API token in {what}: {text}");
    assert!(!text.contains(SESSION), "session token in {what}: {text}");
}

fn assert_error_clean(error: &Error) {
    assert_clean("error Display", &error.to_string());
    assert_clean("error Debug", &format!("{error:?}"));
    for (key, value) in error.context() {
        assert_clean(key, value);
    }
}

#[tokio::test]
async fn tokens_never_appear_in_debug_errors_logs_or_urls() {
    let fake = Fake::start().await;
    assert_clean("client Debug", &format!("{:?}", fake.client));

    // An array that echoes the secrets back in its error bodies.
    let echo = json!({"errors": [{"context": SESSION, "message": format!("bad token {API_TOKEN} / {SESSION}")}]});
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .respond_with(ResponseTemplate::new(401).set_body_json(echo.clone()))
        .mount(&fake.server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(api("volumes")))
        .respond_with(ResponseTemplate::new(403).set_body_json(echo))
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("volumes")))
        .respond_with(ResponseTemplate::new(500).set_body_string(format!("{API_TOKEN} {SESSION}")))
        .mount(&fake.server)
        .await;
    assert_error_clean(&fake.array().get_volume("vol-1").await.unwrap_err());
    assert_error_clean(&fake.array().rename_volume("a", "b").await.unwrap_err());
    let copy = protector_core::api::CopyVolume {
        name: "a".into(),
        source: "b".into(),
        overwrite: false,
    };
    assert_error_clean(&fake.array().copy_volume(&copy).await.unwrap_err());
    fake.client.close().await.unwrap_or(());
    assert_clean("client Debug after use", &format!("{:?}", fake.client));

    // A login refused with the token echoed back.
    let refused = Fake::bare(|b| b).await;
    mount_versions(&refused.server, VERSIONS).await;
    Mock::given(method("POST"))
        .and(path(api("login")))
        .and(header("api-token", API_TOKEN))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"errors": [{"context": API_TOKEN, "message": format!("bad token {API_TOKEN}")}]}),
        ))
        .mount(&refused.server)
        .await;
    let err = refused.array().array_info().await.unwrap_err();
    assert_eq!(err.kind(), protector_core::ErrorKind::Unauthenticated);
    assert_error_clean(&err);

    for request in fake
        .requests()
        .await
        .iter()
        .chain(&refused.requests().await)
    {
        assert_clean("URL", request.url.as_str());
    }
    // Every test of this binary logs into the same buffer: none may have logged a secret.
    let logs = captured_logs();
    assert!(
        logs.contains("FlashArray answered"),
        "logging was captured: {logs}"
    );
    assert_clean("logs", &logs);
}
