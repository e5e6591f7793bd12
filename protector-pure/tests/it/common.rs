//! A fake FlashArray on wiremock: version list and login mounted, helpers for answers and for
//! checking what the client sent.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use protector_core::api::ArrayApi;
use protector_core::model::Secret;
use protector_pure::{FlashArrayClient, FlashArrayClientBuilder, RetryConfig};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Captured> = OnceLock::new();

/// Installs (once) a global subscriber that keeps every log line of this test binary.
fn capture_logs() -> &'static Captured {
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        captured
    })
}

/// Everything logged so far by the tests of this binary.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&capture_logs().0.lock().unwrap()).into_owned()
}

/// The API token the tests give the client.
pub const API_TOKEN: &str = "apitok-0f2e2884-9486-c6c2-438c-f50418f2aac3";
/// The session token the fake array hands out.
pub const SESSION: &str = "sesstok-3be3d489-55c6-4643-90ac-a476dbc98812";
/// The REST version negotiated against the default version list.
pub const VERSION: &str = "2.56";

/// `/api/2.56/<resource>`.
pub fn api(resource: &str) -> String {
    format!("/api/{VERSION}/{resource}")
}

/// A GET/POST/PATCH answer: `{"items": [...]}` with the paging fields of a last page.
pub fn items(items: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "continuation_token": null,
        "more_items_remaining": false,
        "total_item_count": null,
        "items": items,
    }))
}

/// A Purity error answer.
pub fn pure_error(status: u16, context: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "errors": [{"context": context, "message": message, "location_context": null}]
    }))
}

/// Matches when the query holds exactly these pairs (any order), nothing more.
pub struct ExactQuery(Vec<(String, String)>);

/// The query must be exactly `pairs`.
pub fn exact_query(pairs: &[(&str, &str)]) -> ExactQuery {
    let mut pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pairs.sort();
    ExactQuery(pairs)
}

impl Match for ExactQuery {
    fn matches(&self, request: &Request) -> bool {
        let mut got: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        got.sort();
        got == self.0
    }
}

/// The session header.
pub fn authed() -> impl Match {
    header("x-auth-token", SESSION)
}

/// Fast retries for tests: 3 retries, 1–5 ms backoff.
pub fn fast_retry() -> RetryConfig {
    RetryConfig::default()
        .with_max_retries(3)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// A fake array and a client for it.
pub struct Fake {
    pub server: MockServer,
    pub client: FlashArrayClient,
}

/// A builder for the fake array at `server` (plain http, allowed explicitly) with the test
/// token and fast retries.
pub fn builder(server: &MockServer) -> FlashArrayClientBuilder {
    capture_logs();
    FlashArrayClient::builder(server.uri())
        .with_allow_insecure_http(true)
        .with_api_token(Secret::new(API_TOKEN))
        .with_retry(fast_retry())
        .with_timeout(Duration::from_secs(10))
}

/// Mounts `GET /api/api_version` offering `versions`.
pub async fn mount_versions(server: &MockServer, versions: &[&str]) {
    Mock::given(method("GET"))
        .and(path("/api/api_version"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": versions})))
        .mount(server)
        .await;
}

/// Mounts the login at `version`, answering `session`.
pub async fn mount_login(server: &MockServer, version: &str, session: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/api/{version}/login")))
        .and(header("api-token", API_TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-auth-token", session)
                .set_body_json(json!({"items": [{"username": "pureuser"}]})),
        )
        .mount(server)
        .await;
}

/// The versions a current array offers.
pub const VERSIONS: &[&str] = &["1.0", "1.19", "2.0", "2.21", "2.36", "2.55", "2.56", "2.58"];

impl Fake {
    /// An array offering [`VERSIONS`], accepting [`API_TOKEN`], handing out [`SESSION`].
    pub async fn start() -> Fake {
        let server = MockServer::start().await;
        mount_versions(&server, VERSIONS).await;
        mount_login(&server, VERSION, SESSION).await;
        let client = builder(&server).build().expect("client builds");
        Fake { server, client }
    }

    /// An array without mounts, and a client for it built from `configure(builder)`.
    pub async fn bare(
        configure: impl FnOnce(FlashArrayClientBuilder) -> FlashArrayClientBuilder,
    ) -> Fake {
        let server = MockServer::start().await;
        let client = configure(builder(&server)).build().expect("client builds");
        Fake { server, client }
    }

    /// The client as the engine sees it.
    pub fn array(&self) -> &dyn ArrayApi {
        &self.client
    }

    /// Requests received, in order.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.expect("recording on")
    }

    /// Requests received for `method` and `path`.
    pub async fn requests_to(&self, verb: &str, resource_path: &str) -> Vec<Request> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == resource_path)
            .collect()
    }

    /// Checks what every request carried: `api-token` only on the login, `x-auth-token` on
    /// every call but the version list and the login, a request id, JSON accepted, no secret
    /// in any URL. Returns the requests.
    pub async fn check_headers(&self) -> Vec<Request> {
        let requests = self.requests().await;
        for r in &requests {
            let p = r.url.path();
            let login = p.ends_with("/login");
            let open = p == "/api/api_version";
            assert_eq!(
                r.headers.contains_key("api-token"),
                login,
                "api-token on {p}"
            );
            assert_eq!(
                r.headers.contains_key("x-auth-token"),
                !login && !open,
                "x-auth-token on {p}"
            );
            assert!(r.headers.contains_key("x-request-id"), "request id on {p}");
            assert_eq!(
                r.headers.get("accept").map(|v| v.to_str().unwrap()),
                Some("application/json"),
                "accept on {p}"
            );
            assert!(!r.url.as_str().contains(API_TOKEN) && !r.url.as_str().contains(SESSION));
            if login {
                assert!(r.body.is_empty(), "login body must be empty");
            }
            if !r.body.is_empty() {
                assert_eq!(
                    r.headers.get("content-type").map(|v| v.to_str().unwrap()),
                    Some("application/json"),
                    "content type on {p}"
                );
            }
        }
        requests
    }
}
