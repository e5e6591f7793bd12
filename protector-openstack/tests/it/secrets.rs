//! Passwords, secrets and tokens appear in no log line, error, Debug output or URL.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use protector_core::api::ComputeApi;
use protector_core::model::Secret;
use protector_openstack::config::{ApplicationCredentialRef, AuthMethod};
use protector_openstack::{ClientOptions, CloudConfig, ConfigLoader, OpenStackCloud};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::support::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

static LOGS: OnceLock<Capture> = OnceLock::new();

/// Installs (once) a global subscriber that keeps every log line of this test binary, at
/// every level. A thread-local subscriber (`set_default`) is not enough here: tracing caches
/// each callsite's interest process-wide, and a callsite first reached by a test running in
/// parallel without a subscriber could be cached as "never" while this test's subscriber is
/// being set up, so the capture missed lines under load. With a global subscriber interested in
/// everything, no callsite can be cached as "never"; the interest cache is rebuilt once more
/// after the flow's set-up, for a callsite that was registering while the subscriber came.
fn capture_logs() -> &'static Capture {
    LOGS.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(capture.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        capture
    })
}

const APP_SECRET: &str = "app-cred-secret-value";
/// A Keystone token handed to protector (token auth).
const GIVEN_TOKEN: &str = "gAAAAABgiven-token-value";

fn assert_clean(what: &str, text: &str) {
    for secret in [PASSWORD, TOKEN, TOKEN_2, APP_SECRET, GIVEN_TOKEN] {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

#[tokio::test]
async fn no_secret_in_logs_errors_debug_or_urls() {
    let capture = capture_logs();

    // A flow with a token refused once, a failing call, and a refused login.
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN_2, token_body(catalog(&uri))))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": 401, "message": "The request you have made requires authentication.",
            "title": "Unauthorized"}})))
        .with_priority(3)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/servers/s1"))
        .and(header("X-Auth-Token", TOKEN))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/servers/s1"))
        .and(header("X-Auth-Token", TOKEN_2))
        .respond_with(nova_fault(503, "serviceUnavailable", "try later"))
        .mount(&server)
        .await;

    tracing::callsite::rebuild_interest_cache();
    let cloud = OpenStackCloud::with_options(config(&uri), fast_options()).unwrap();
    let error = cloud.compute().get_server("s1").await.unwrap_err();
    assert_clean("a service error", &format!("{error} {error:?}"));

    let app_credential = CloudConfig::new(
        "appcred",
        format!("{uri}/identity/v3"),
        AuthMethod::ApplicationCredential {
            credential: ApplicationCredentialRef::Id("id".into()),
            secret: Secret::new(APP_SECRET),
        },
    )
    .with_insecure(true);
    let refused = OpenStackCloud::with_options(app_credential.clone(), fast_options())
        .unwrap()
        .compute()
        .get_server("s1")
        .await
        .unwrap_err();
    assert_clean("a refused login", &format!("{refused} {refused:?}"));

    // A given token that Keystone no longer knows: its 404 quotes the token.
    let keystone = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TOKENS_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": 404, "message": format!("Could not find token: {GIVEN_TOKEN}"),
            "title": "Not Found"}})))
        .mount(&keystone)
        .await;
    let given = CloudConfig::from_token(
        "horizon-site",
        format!("{}/identity/v3", keystone.uri()),
        GIVEN_TOKEN,
        Some("p1"),
    );
    let expired = OpenStackCloud::with_options(given.clone(), fast_options())
        .unwrap()
        .compute()
        .get_server("s1")
        .await
        .unwrap_err();
    assert_eq!(expired.kind(), protector_core::ErrorKind::Unauthenticated);
    assert_clean("a refused token", &format!("{expired} {expired:?}"));
    for request in keystone.received_requests().await.unwrap() {
        assert_clean("a URL", request.url.as_str());
    }

    // Every test of this binary logs into the same buffer: none may have logged a secret.
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.contains("authenticated to Keystone"), "{logs}");
    assert!(logs.contains("token refused (401)"), "{logs}");
    assert!(logs.contains("retrying OpenStack request"), "{logs}");
    assert!(
        logs.contains("TLS certificate verification is disabled"),
        "{logs}"
    );
    assert_clean("the logs", &logs);

    let loader = ConfigLoader::new([("OS_PASSWORD", PASSWORD), ("OS_AUTH_URL", "https://k/v3")]);
    let token_loader = ConfigLoader::new([
        ("OS_AUTH_TYPE", "v3token"),
        ("OS_TOKEN", GIVEN_TOKEN),
        ("OS_AUTH_URL", "https://k/v3"),
    ]);
    for (what, debug) in [
        ("CloudConfig", format!("{:?}", config(&uri))),
        (
            "an app credential CloudConfig",
            format!("{app_credential:?}"),
        ),
        ("a token CloudConfig", format!("{given:?}")),
        (
            "a token CloudConfig loaded from OS_TOKEN",
            format!("{:?}", token_loader.load(None).unwrap()),
        ),
        ("OpenStackCloud", format!("{cloud:?}")),
        ("ConfigLoader", format!("{loader:?}")),
        ("a ConfigLoader with OS_TOKEN", format!("{token_loader:?}")),
        ("ClientOptions", format!("{:?}", ClientOptions::default())),
        ("a compute client", format!("{:?}", cloud.compute())),
    ] {
        assert_clean(what, &debug);
    }

    for request in server.received_requests().await.unwrap() {
        assert_clean("a URL", request.url.as_str());
        if request.url.path() == TOKENS_PATH {
            assert!(!request.headers.contains_key("x-auth-token"));
        }
    }
}
