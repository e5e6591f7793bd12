//! A wiremock "cloud": Keystone answering tokens with a catalog pointing back at the server,
//! and the Nova and Cinder version documents. Each test mounts the calls it is about.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Duration as TimeDelta, Utc};
use protector_core::model::Secret;
use protector_openstack::config::{AuthMethod, DomainRef, ProjectRef, UserRef};
use protector_openstack::{ClientOptions, CloudConfig, OpenStackCloud, RetryConfig, RetryEvent};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const TOKEN: &str = "gAAAAABtoken-one";
pub const TOKEN_2: &str = "gAAAAABtoken-two";
pub const PASSWORD: &str = "pa55-w0rd-never-shown";
pub const PROJECT: &str = "5f8c0d6c0e7e4ad5";
pub const USER: &str = "d8f1a2b3";
pub const TOKENS_PATH: &str = "/identity/v3/auth/tokens";

/// The catalog of the fake cloud: Cinder under its `volumev3` alias with the project id.
pub fn catalog(uri: &str) -> Value {
    json!([
        {"type": "identity", "name": "keystone", "endpoints": [
            {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{uri}/identity/v3/")}]},
        {"type": "compute", "name": "nova", "endpoints": [
            {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{uri}/compute/v2.1")},
            {"interface": "internal", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{uri}/internal/compute/v2.1")}]},
        {"type": "volumev3", "name": "cinderv3", "endpoints": [
            {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{uri}/volume/v3/{PROJECT}")}]},
        {"type": "network", "name": "neutron", "endpoints": [
            {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{uri}/network")}]}
    ])
}

/// A token body valid for an hour.
pub fn token_body(catalog: Value) -> Value {
    token_body_expiring(catalog, TimeDelta::hours(1))
}

/// A token issued an hour before it expires, `remaining` from now.
pub fn token_body_expiring(catalog: Value, remaining: TimeDelta) -> Value {
    let now = Utc::now();
    json!({"token": {
        "methods": ["password"],
        "user": {"domain": {"id": "default", "name": "Default"}, "id": USER, "name": "admin"},
        "expires_at": (now + remaining).to_rfc3339(),
        "issued_at": (now + remaining - TimeDelta::hours(1)).to_rfc3339(),
        "project": {"domain": {"id": "default", "name": "Default"}, "id": PROJECT, "name": "demo"},
        "roles": [{"id": "r1", "name": "admin"}, {"id": "r2", "name": "member"}],
        "catalog": catalog
    }})
}

pub fn token_response(token: &str, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(201)
        .insert_header("X-Subject-Token", token)
        .insert_header("x-openstack-request-id", "req-keystone")
        .set_body_json(body)
}

/// Options for tests: fast backoff, generous per-attempt timeout.
pub fn fast_options() -> ClientOptions {
    ClientOptions::default()
        .with_retry(
            RetryConfig::default()
                .with_max_retries(3)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .with_timeout(Duration::from_secs(10))
}

/// Password credentials: user and project by name.
pub fn password_auth() -> AuthMethod {
    AuthMethod::Password {
        user: UserRef::Name {
            name: "admin".into(),
            domain: DomainRef::Name("Default".into()),
        },
        password: Secret::new(PASSWORD),
        project: Some(ProjectRef::Name {
            name: "demo".into(),
            domain: DomainRef::Id("default".into()),
        }),
    }
}

pub fn config(uri: &str) -> CloudConfig {
    CloudConfig::new("test", format!("{uri}/identity/v3"), password_auth()).with_region("RegionOne")
}

/// Records retries seen by the client.
pub fn recording_options(events: &Arc<Mutex<Vec<RetryEvent>>>) -> ClientOptions {
    let sink = Arc::clone(events);
    let mut options = fast_options();
    options.retry = options
        .retry
        .with_observer(move |e| sink.lock().unwrap().push(e.clone()));
    options
}

pub struct Fixture {
    pub server: MockServer,
    pub cloud: OpenStackCloud,
}

impl Fixture {
    /// Nova at 2.100, Cinder at 3.71.
    pub async fn start() -> Self {
        Self::with(fast_options(), "2.100", "3.71").await
    }

    pub async fn with_options(options: ClientOptions) -> Self {
        Self::with(options, "2.100", "3.71").await
    }

    pub async fn with_versions(nova: &str, cinder: &str) -> Self {
        Self::with(fast_options(), nova, cinder).await
    }

    async fn with(options: ClientOptions, nova: &str, cinder: &str) -> Self {
        let server = MockServer::start().await;
        let uri = server.uri();
        Mock::given(method("POST"))
            .and(path(TOKENS_PATH))
            .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
            .named("keystone token")
            .mount(&server)
            .await;
        mount_versions(&server, nova, cinder).await;
        let cloud = OpenStackCloud::with_options(config(&uri), options).unwrap();
        Fixture { server, cloud }
    }

    pub async fn requests_to(&self, wanted: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == wanted)
            .count()
    }
}

/// Matches a call whose microversion header (`OpenStack-API-Version: <service> X.Y`) is above
/// `max`: the calls a real service refuses with 406.
struct AboveMax {
    service: &'static str,
    max: (u16, u16),
}

impl wiremock::Match for AboveMax {
    fn matches(&self, request: &wiremock::Request) -> bool {
        let parse = |text: &str| -> Option<(u16, u16)> {
            let (major, minor) = text.trim().split_once('.')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        };
        request
            .headers
            .get("OpenStack-API-Version")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(self.service))
            .and_then(|v| parse(v.strip_prefix(' ')?))
            .is_some_and(|asked| asked > self.max)
    }
}

/// The version documents of Nova (`nova` is its maximum microversion) and Cinder, and their
/// refusal (406, as the services word it) of any call asking for a newer microversion.
pub async fn mount_versions(server: &MockServer, nova: &str, cinder: &str) {
    for (service, max, min) in [("compute", nova, "2.1"), ("volume", cinder, "3.0")] {
        let (major, minor) = max.split_once('.').unwrap();
        let max = max.to_string();
        Mock::given(AboveMax {
            service,
            max: (major.parse().unwrap(), minor.parse().unwrap()),
        })
        .respond_with(move |request: &wiremock::Request| {
            let asked = request.headers["OpenStack-API-Version"]
                .to_str()
                .unwrap()
                .split_once(' ')
                .unwrap()
                .1
                .to_string();
            ResponseTemplate::new(406).set_body_json(json!({"computeFault": {
                "code": 406,
                "message": format!("Version {asked} is not supported by the API. Minimum is {min} and maximum is {max}.")
            }}))
        })
        .with_priority(1)
        .named(format!("{service} refuses newer microversions"))
        .mount(server)
        .await;
    }
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": {
            "id": "v2.1", "status": "CURRENT", "version": nova, "min_version": "2.1", "links": []}})))
        .named("nova versions")
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/volume/v3/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"versions": [{
            "id": "v3.0", "status": "CURRENT", "version": cinder, "min_version": "3.0", "links": []}]})))
        .named("cinder versions")
        .mount(server)
        .await;
}

/// A Nova call at `microversion`, with the token.
pub fn nova(verb: &str, tail: &str, microversion: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("/compute/v2.1/{tail}")))
        .and(header("X-Auth-Token", TOKEN))
        .and(header(
            "OpenStack-API-Version",
            format!("compute {microversion}").as_str(),
        ))
        .and(header("X-OpenStack-Nova-API-Version", microversion))
}

/// A Cinder call at `microversion`, under the project id, with the token.
pub fn cinder(verb: &str, tail: &str, microversion: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("/volume/v3/{PROJECT}/{tail}")))
        .and(header("X-Auth-Token", TOKEN))
        .and(header(
            "OpenStack-API-Version",
            format!("volume {microversion}").as_str(),
        ))
}

/// A Neutron call, with the token.
pub fn neutron(verb: &str, tail: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(path(format!("/network/v2.0/{tail}")))
        .and(header("X-Auth-Token", TOKEN))
}

pub fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-openstack-request-id", "req-0001")
        .set_body_json(body)
}

pub fn nova_fault(status: u16, name: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-openstack-request-id", "req-nova")
        .insert_header("x-compute-request-id", "req-nova")
        .set_body_json(json!({ name: {"message": message, "code": status} }))
}
