//! Authentication against a wiremock Keystone: version documents, 401s with their challenge,
//! the validation cache, the project check, Keystone down, and no secret anywhere.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{Duration as TimeDelta, Utc};
use protector_core::model::Secret;
use protector_core::store::{SecretKey, SqliteStore};
use protector_openstack::config::{AuthMethod, DomainRef, ProjectRef, UserRef};
use protector_openstack::{CloudConfig, TokenValidator};
use protector_service::api::Authenticator;
use reqwest::Method;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{assert_error, call, fast_options, ApiServer};

pub(crate) const GOOD: &str = "gAAAA-good-token-1f2e3d";
const EXPIRED: &str = "gAAAA-expired-token-9a8b7c";
const SERVICE_TOKEN: &str = "gAAAA-service-token-4d5e6f";
const PASSWORD: &str = "service-pa55-never-shown";
pub(crate) const PROJECT: &str = "p-production";
const TOKENS: &str = "/identity/v3/auth/tokens";

fn token_body(user: &str, project: &str, roles: &[&str]) -> Value {
    let now = Utc::now();
    json!({"token": {
        "methods": ["password"],
        "user": {"id": user, "name": user, "domain": {"id": "default", "name": "Default"}},
        "project": {"id": project, "name": project, "domain": {"id": "default", "name": "Default"}},
        "roles": roles.iter().map(|r| json!({"id": r, "name": r})).collect::<Vec<_>>(),
        "issued_at": now.to_rfc3339(),
        "expires_at": (now + TimeDelta::hours(1)).to_rfc3339(),
        "catalog": []
    }})
}

/// Keystone: the service's login, the good token valid (member of PROJECT), anything else
/// unknown (404, as Keystone answers for an expired or revoked token).
pub(crate) async fn keystone() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKENS))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("X-Subject-Token", SERVICE_TOKEN)
                .set_body_json(token_body("protector", "service", &["admin", "service"])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TOKENS))
        .and(header("X-Auth-Token", SERVICE_TOKEN))
        .and(header("X-Subject-Token", GOOD))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Subject-Token", GOOD)
                .set_body_json(token_body("u-member", PROJECT, &["member", "reader"])),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TOKENS))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": 404, "title": "Not Found", "message": "Could not find token."}})))
        .with_priority(5)
        .mount(&server)
        .await;
    server
}

pub(crate) fn authenticator(auth_url: &str, www: &str) -> Authenticator {
    let auth = AuthMethod::Password {
        user: UserRef::Name {
            name: "protector".into(),
            domain: DomainRef::Name("Default".into()),
        },
        password: Secret::new(PASSWORD),
        project: Some(ProjectRef::Name {
            name: "service".into(),
            domain: DomainRef::Name("Default".into()),
        }),
    };
    let config = CloudConfig::new("keystone_authtoken", auth_url, auth);
    Authenticator::new(
        TokenValidator::new(config, fast_options()).unwrap(),
        Duration::from_secs(300),
        www,
    )
}

async fn api(keystone: &MockServer) -> ApiServer {
    let store = Arc::new(SqliteStore::in_memory(SecretKey::generate()).unwrap());
    let auth = authenticator(
        &format!("{}/identity/v3", keystone.uri()),
        "https://keystone.example:5000",
    );
    ApiServer::start("site-a", store, auth).await
}

async fn validations(keystone: &MockServer) -> usize {
    keystone
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path() == TOKENS)
        .count()
}

#[tokio::test]
async fn the_version_documents_need_no_token() {
    let keystone = keystone().await;
    let api = api(&keystone).await;
    let (status, headers, body) = call(Method::GET, &format!("{}/", api.url), None, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers["x-openstack-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req-"));
    let version = &body["versions"][0];
    assert_eq!(version["id"], "v1.0");
    assert_eq!(version["status"], "CURRENT");
    let href = version["links"][0]["href"].as_str().unwrap();
    assert_eq!(href, format!("{}/v1/", api.url));
    assert_eq!(version["links"][0]["rel"], "self");

    for path in ["/v1/", "/v1"] {
        let (status, _, body) = call(Method::GET, &format!("{}{path}", api.url), None, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["version"]["id"], "v1.0");
        assert_eq!(body["version"]["status"], "CURRENT");
    }
    assert_eq!(validations(&keystone).await, 0, "no token, no validation");
}

#[tokio::test]
async fn missing_garbage_and_expired_tokens_are_401_with_the_keystone_challenge() {
    let keystone = keystone().await;
    let api = api(&keystone).await;
    let url = api.at(PROJECT, "protection-groups");
    for token in [None, Some("garbage"), Some(EXPIRED)] {
        let (status, headers, body) = call(Method::GET, &url, token, None).await;
        assert_error(status, &headers, &body, 401, "unauthenticated");
        assert_eq!(
            headers["www-authenticate"], "Keystone uri=\"https://keystone.example:5000\"",
            "{token:?}"
        );
    }
    // The expired and garbage tokens were asked about; the missing one was not.
    assert_eq!(validations(&keystone).await, 2);
}

#[tokio::test]
async fn a_validated_token_is_not_validated_again_while_cached() {
    let keystone = keystone().await;
    let api = api(&keystone).await;
    let url = api.at(PROJECT, "protection-groups");
    for _ in 0..3 {
        let (status, _, body) = call(Method::GET, &url, Some(GOOD), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"protection_groups": []}));
    }
    assert_eq!(validations(&keystone).await, 1);
}

#[tokio::test]
async fn a_token_of_another_project_is_403_unless_admin() {
    let keystone = keystone().await;
    let api = api(&keystone).await;
    let (status, headers, body) = call(
        Method::GET,
        &api.at("p-other", "protection-groups"),
        Some(GOOD),
        None,
    )
    .await;
    assert_error(status, &headers, &body, 403, "permission_denied");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(PROJECT) && message.contains("p-other"),
        "{message}"
    );
}

#[tokio::test]
async fn keystone_out_of_reach_is_503_with_retry_after() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/identity/v3", closed.local_addr().unwrap());
    drop(closed);
    let store = Arc::new(SqliteStore::in_memory(SecretKey::generate()).unwrap());
    let api = ApiServer::start("site-a", store, authenticator(&url, &url)).await;
    let (status, headers, body) = call(
        Method::GET,
        &api.at(PROJECT, "protection-groups"),
        Some(GOOD),
        None,
    )
    .await;
    assert_error(status, &headers, &body, 503, "unavailable");
    assert_eq!(headers["retry-after"], "5");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot validate the token"),
        "{body}"
    );
}

/// A `Write` into a shared buffer, for the log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at debug level, from the first call on. A global
/// subscriber: a thread's default one misses the events of callsites another test's thread
/// registered first.
fn captured_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}

#[tokio::test]
async fn no_token_or_password_reaches_a_response_or_the_log() {
    let captured = captured_log();
    let keystone = keystone().await;
    let api = api(&keystone).await;
    let mut bodies = Vec::new();
    let mut request_ids = Vec::new();
    for (token, path) in [
        (Some(GOOD), "protection-groups"),
        (Some(GOOD), "protection-groups/not-a-uuid"),
        (Some(GOOD), "sites/nope"),
        (Some(EXPIRED), "protection-groups"),
        (Some("garbage"), "operations"),
        (None, "operations"),
    ] {
        let (_, headers, body) = call(Method::GET, &api.at(PROJECT, path), token, None).await;
        request_ids.push(
            headers["x-openstack-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
        );
        bodies.push(format!("{headers:?} {body}"));
    }
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // One line per request, with its method, path, status, time, request id and caller.
    for id in &request_ids {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("request_id={id}")) && l.contains(" request "))
            .unwrap_or_else(|| panic!("no log line of {id}:\n{log}"));
        assert!(
            line.contains("method=GET") && line.contains("ms="),
            "{line}"
        );
        assert!(line.contains(&format!("path=/v1/{PROJECT}/")), "{line}");
    }
    let first = log
        .lines()
        .find(|l| l.contains(&format!("request_id={}", request_ids[0])))
        .unwrap();
    assert!(
        first.contains("status=200") && first.contains("user_id=u-member"),
        "{first}"
    );
    assert!(first.contains(&format!("project_id={PROJECT}")), "{first}");
    for secret in [GOOD, EXPIRED, "garbage", SERVICE_TOKEN, PASSWORD] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        for body in &bodies {
            assert!(!body.contains(secret), "{secret} in a response: {body}");
        }
    }
}
