//! Version negotiation, login, re-login on 401, logout.

use protector_core::ErrorKind;
use protector_pure::ApiVersion;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

fn arrays_answer() -> ResponseTemplate {
    items(json!([{"id": "id-a", "name": "array-a", "version": "6.7.3", "os": "Purity//FA"}]))
}

/// The requests `fake` received (headers checked), as `METHOD /path`.
async fn request_lines(fake: &Fake) -> Vec<String> {
    fake.check_headers()
        .await
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

#[tokio::test]
async fn negotiates_highest_common_version_and_logs_in_once() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("arrays")))
        .and(authed())
        .respond_with(arrays_answer())
        .expect(2)
        .mount(&fake.server)
        .await;
    assert_eq!(
        fake.client.api_version().await.unwrap(),
        ApiVersion::new(2, 56)
    );
    fake.array().array_info().await.unwrap();
    let info = fake.array().array_info().await.unwrap();
    assert_eq!(info.name, "array-a");
    let requests = fake.check_headers().await;
    let lines: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        lines,
        vec![
            "GET /api/api_version",
            "POST /api/2.56/login",
            "GET /api/2.56/arrays",
            "GET /api/2.56/arrays",
        ]
    );
    assert_eq!(
        requests[1]
            .headers
            .get("api-token")
            .unwrap()
            .to_str()
            .unwrap(),
        API_TOKEN
    );
}

#[tokio::test]
async fn connect_opens_the_session_without_a_read_and_only_once() {
    let fake = Fake::start().await;
    fake.array().connect().await.unwrap();
    fake.array().connect().await.unwrap();
    // The version list and the login at the newest version go out at once.
    let mut lines = request_lines(&fake).await;
    lines.sort();
    assert_eq!(lines, ["GET /api/api_version", "POST /api/2.56/login"]);
}

#[tokio::test]
async fn uses_an_older_arrays_highest_version() {
    let fake = Fake::bare(|b| b).await;
    mount_versions(&fake.server, &["1.0", "1.19", "2.0", "2.21"]).await;
    mount_login(&fake.server, "2.21", SESSION).await;
    Mock::given(method("GET"))
        .and(path("/api/2.21/arrays"))
        .and(authed())
        .respond_with(arrays_answer())
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array().array_info().await.unwrap();
    // The login at the newest version, sent with the version list, found no such version;
    // the session is opened at the one negotiated.
    let mut lines = request_lines(&fake).await;
    lines.sort();
    assert_eq!(
        lines,
        [
            "GET /api/2.21/arrays",
            "GET /api/api_version",
            "POST /api/2.21/login",
            "POST /api/2.56/login",
        ]
    );
}

#[tokio::test]
async fn pinned_version_is_used() {
    let fake = Fake::bare(|b| b.with_api_version("2.36")).await;
    mount_versions(&fake.server, VERSIONS).await;
    mount_login(&fake.server, "2.36", SESSION).await;
    Mock::given(method("GET"))
        .and(path("/api/2.36/arrays"))
        .respond_with(arrays_answer())
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.array().array_info().await.unwrap();
}

#[tokio::test]
async fn no_common_version_is_unsupported() {
    let fake = Fake::bare(|b| b).await;
    mount_versions(&fake.server, &["1.0", "1.19", "2.0", "2.3"]).await;
    let err = fake.array().array_info().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    let host = fake.server.address().to_string();
    assert_eq!(
        err.message(),
        format!("FlashArray {host}: the array offers REST 1.0 to 2.3 but this client needs one of 2.4 to 2.56: upgrade Purity//FA")
    );
}

#[tokio::test]
async fn refused_api_token_is_unauthenticated_without_retry() {
    let fake = Fake::bare(|b| b).await;
    mount_versions(&fake.server, VERSIONS).await;
    Mock::given(method("POST"))
        .and(path(api("login")))
        .respond_with(pure_error(401, "", "Invalid API token."))
        .expect(1)
        .mount(&fake.server)
        .await;
    let err = fake.array().array_info().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(!err.is_retryable());
    assert!(
        err.message()
            .starts_with("log in with the API token on FlashArray"),
        "{err}"
    );
    assert!(
        err.message().contains("check the array's API token"),
        "{err}"
    );
}

#[tokio::test]
async fn login_without_session_header_is_unexpected() {
    let fake = Fake::bare(|b| b).await;
    mount_versions(&fake.server, VERSIONS).await;
    Mock::given(method("POST"))
        .and(path(api("login")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .mount(&fake.server)
        .await;
    let err = fake.array().array_info().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unexpected);
    assert!(err.message().contains("no x-auth-token"), "{err}");
}

#[tokio::test]
async fn one_relogin_on_401_then_success() {
    let fake = Fake::bare(|b| b).await;
    mount_versions(&fake.server, VERSIONS).await;
    // First login hands out an old session, the second a fresh one.
    Mock::given(method("POST"))
        .and(path(api("login")))
        .respond_with(ResponseTemplate::new(200).insert_header("x-auth-token", "sesstok-old"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&fake.server)
        .await;
    mount_login(&fake.server, VERSION, SESSION).await;
    Mock::given(method("GET"))
        .and(path(api("arrays")))
        .and(header("x-auth-token", "sesstok-old"))
        .respond_with(pure_error(401, "", "Session expired."))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("arrays")))
        .and(authed())
        .respond_with(arrays_answer())
        .expect(1)
        .mount(&fake.server)
        .await;
    assert_eq!(fake.array().array_info().await.unwrap().name, "array-a");
    assert_eq!(fake.requests_to("POST", &api("login")).await.len(), 2);
}

#[tokio::test]
async fn second_401_is_unauthenticated() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("volumes")))
        .respond_with(pure_error(401, "", "Authentication failed."))
        .expect(2)
        .mount(&fake.server)
        .await;
    let err = fake.array().get_volume("vol-1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(err.context_value("http_status"), Some("401"));
    assert_eq!(fake.requests_to("POST", &api("login")).await.len(), 2);
    fake.check_headers().await;
}

#[tokio::test]
async fn concurrent_calls_share_one_login() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("arrays")))
        .and(authed())
        .respond_with(arrays_answer())
        .expect(8)
        .mount(&fake.server)
        .await;
    let calls = (0..8).map(|_| {
        let client = fake.client.clone();
        async move { client.array_info().await }
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    assert_eq!(fake.requests_to("POST", &api("login")).await.len(), 1);
    assert_eq!(fake.requests_to("GET", "/api/api_version").await.len(), 1);
}

#[tokio::test]
async fn close_logs_out_and_the_next_call_logs_in_again() {
    let fake = Fake::start().await;
    Mock::given(method("GET"))
        .and(path(api("arrays")))
        .and(authed())
        .respond_with(arrays_answer())
        .mount(&fake.server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("logout")))
        .and(authed())
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.client.close().await.unwrap(); // no session yet: nothing sent
    assert!(fake.requests().await.is_empty());
    fake.array().array_info().await.unwrap();
    fake.client.close().await.unwrap();
    fake.client.close().await.unwrap();
    fake.array().array_info().await.unwrap();
    let mut lines = request_lines(&fake).await;
    // The first two go out at once, in either order.
    lines[..2].sort();
    assert_eq!(
        lines,
        vec![
            "GET /api/api_version",
            "POST /api/2.56/login",
            "GET /api/2.56/arrays",
            "POST /api/2.56/logout",
            "POST /api/2.56/login",
            "GET /api/2.56/arrays",
        ]
    );
}

#[tokio::test]
async fn capabilities_are_static() {
    let fake = Fake::bare(|b| b).await;
    let caps = fake.array().capabilities();
    assert!(caps.async_replication && caps.sync_replication);
    assert!(fake.requests().await.is_empty());
}
