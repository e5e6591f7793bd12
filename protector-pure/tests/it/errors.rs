//! Error mapping and the retry policy over the wire.

use std::time::Duration;

use protector_core::api::{CopyVolume, CreatePgSnapshot};
use protector_core::ErrorKind;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

fn volume() -> serde_json::Value {
    json!([{"name": "vol-1", "provisioned": 1024, "serial": "S1", "destroyed": false, "created": 0}])
}

async fn mount_get_volumes(fake: &Fake, answer: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .and(authed())
        .respond_with(answer)
        .up_to_n_times(times)
        .with_priority(1)
        .expect(times)
        .mount(&fake.server)
        .await;
}

#[tokio::test]
async fn forbidden_is_permission_denied_naming_array_object_and_request_id() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path(api("volumes")))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-request-id", "req-from-array")
                .set_body_json(json!({"message": "Forbidden: read-only user"})),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .rename_volume("vol-1", "vol-2")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(!err.is_retryable());
    let host = fake.server.address().to_string();
    assert_eq!(
        err.message(),
        format!("rename volume vol-1 to vol-2 on FlashArray {host} failed (HTTP 403): Forbidden: read-only user; the API token's user lacks the role for this call (storage_admin or array_admin)")
    );
    assert_eq!(err.context_value("request_id"), Some("req-from-array"));
    assert_eq!(err.context_value("array"), Some(host.as_str()));
    assert_eq!(err.context_value("object"), Some("vol-1 to vol-2"));
}

#[tokio::test]
async fn request_id_defaults_to_the_one_sent() {
    let fake = Fake::start().await;
    Mock::given(method("PATCH"))
        .and(path(api("volumes")))
        .respond_with(ResponseTemplate::new(409))
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .rename_volume("vol-1", "vol-2")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let sent = fake.requests_to("PATCH", &api("volumes")).await;
    let sent_id = sent[0]
        .headers
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(err.context_value("request_id"), Some(sent_id));
}

#[tokio::test]
async fn not_found_status_is_an_error_not_a_missing_object() {
    let fake = Fake::start().await;
    mount_get_volumes(&fake, ResponseTemplate::new(404), 1).await;
    let err = fake.array().get_volume("vol-1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.message().contains("does not offer this endpoint"),
        "{err}"
    );
}

#[tokio::test]
async fn does_not_exist_is_none_for_reads_and_not_found_for_writes() {
    let fake = Fake::start().await;
    mount_get_volumes(&fake, pure_error(400, "vol-1", "Volume does not exist."), 1).await;
    assert_eq!(fake.array().get_volume("vol-1").await.unwrap(), None);
    Mock::given(method("PATCH"))
        .and(path(api("volumes")))
        .respond_with(pure_error(400, "vol-1", "Volume does not exist."))
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .rename_volume("vol-1", "vol-2")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(
        err.context_value("array_error"),
        Some("vol-1: Volume does not exist.")
    );
}

#[tokio::test]
async fn rate_limited_waits_retry_after_then_succeeds() {
    let fake = Fake::start().await;
    mount_get_volumes(
        &fake,
        ResponseTemplate::new(429)
            .insert_header("retry-after", "0")
            .set_body_json(json!({"message": "Too many requests"})),
        1,
    )
    .await;
    mount_get_volumes(&fake, items(volume()), 1).await;
    assert!(fake.array().get_volume("vol-1").await.unwrap().is_some());
}

#[tokio::test]
async fn rate_limited_with_a_long_retry_after_fails_at_once() {
    let fake = Fake::start().await;
    mount_get_volumes(
        &fake,
        ResponseTemplate::new(429).insert_header("retry-after", "3600"),
        1,
    )
    .await;
    let err = fake.array().get_volume("vol-1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable());
    assert_eq!(err.context_value("retry_after_secs"), Some("3600"));
}

#[tokio::test]
async fn unavailable_is_retried_then_succeeds_even_for_post() {
    let fake = Fake::start().await;
    mount_get_volumes(&fake, ResponseTemplate::new(503), 2).await;
    mount_get_volumes(&fake, items(volume()), 1).await;
    assert!(fake.array().get_volume("vol-1").await.unwrap().is_some());
    // 503 means the array did not run it: a POST is sent again too.
    Mock::given(method("POST"))
        .and(path(api("volumes")))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("volumes")))
        .respond_with(items(volume()))
        .mount(&fake.server)
        .await;
    let copy = CopyVolume {
        name: "vol-1".into(),
        source: "snap".into(),
        overwrite: false,
    };
    fake.array().copy_volume(&copy).await.unwrap();
    assert_eq!(fake.requests_to("POST", &api("volumes")).await.len(), 2);
}

#[tokio::test]
async fn persistent_unavailability_gives_up_after_the_retries() {
    let fake = Fake::start().await;
    mount_get_volumes(&fake, pure_error(503, "", "Server is busy"), 4).await;
    let err = fake.array().get_volume("vol-1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_retryable(), "retries ran out: persistent");
    assert_eq!(
        err.retry_status(),
        protector_core::error::RetryStatus::Persistent
    );
}

#[tokio::test]
async fn server_error_is_retried_for_get_but_not_for_post() {
    let fake = Fake::start().await;
    mount_get_volumes(&fake, ResponseTemplate::new(500), 1).await;
    mount_get_volumes(&fake, items(volume()), 1).await;
    assert!(fake.array().get_volume("vol-1").await.unwrap().is_some());
    Mock::given(method("POST"))
        .and(path(api("protection-group-snapshots")))
        .respond_with(pure_error(500, "", "Internal error"))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .create_pg_snapshot("pg", &CreatePgSnapshot::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_retryable());
    assert_eq!(err.context_value("may_have_run"), Some("true"));
}

#[tokio::test]
async fn timeout_on_get_is_retried() {
    let fake = Fake::bare(|b| b.with_timeout(Duration::from_millis(250))).await;
    mount_versions(&fake.server, VERSIONS).await;
    mount_login(&fake.server, VERSION, SESSION).await;
    mount_get_volumes(&fake, items(volume()).set_delay(Duration::from_secs(5)), 1).await;
    mount_get_volumes(&fake, items(volume()), 1).await;
    assert!(fake.array().get_volume("vol-1").await.unwrap().is_some());
}

#[tokio::test]
async fn timeout_on_post_is_not_retried() {
    let fake = Fake::bare(|b| b.with_timeout(Duration::from_millis(250))).await;
    mount_versions(&fake.server, VERSIONS).await;
    mount_login(&fake.server, VERSION, SESSION).await;
    Mock::given(method("POST"))
        .and(path(api("protection-group-snapshots")))
        .respond_with(items(json!([])).set_delay(Duration::from_secs(5)))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake
        .array()
        .create_pg_snapshot("pg", &CreatePgSnapshot::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!err.is_retryable());
    assert_eq!(err.context_value("may_have_run"), Some("true"));
    assert!(err.message().contains("check the object's state"), "{err}");
}

#[tokio::test]
async fn unreachable_array_is_unavailable_after_retries() {
    // A port nothing listens on (wiremock keeps stopped servers alive in a pool).
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let client = protector_pure::FlashArrayClient::builder(address)
        .with_allow_insecure_http(true)
        .with_api_token(protector_core::model::Secret::new(API_TOKEN))
        .with_retry(fast_retry())
        .build()
        .unwrap();
    let err = client.array_info().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        err.retry_status(),
        protector_core::error::RetryStatus::Persistent
    );
    assert!(err.message().contains("could not connect"), "{err}");
}
