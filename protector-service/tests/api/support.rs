//! What the protector-api tests share: an API server over a store on a loopback port, the
//! simulator's Keystone (real tokens) or a wiremock one, and plain HTTP calls.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::Simulator;
use protector_openstack::config::AuthMethod;
use protector_openstack::{
    ClientOptions, CloudConfig, ConfigLoader, OpenStackCloud, RemoteStore, RetryConfig,
    TokenValidator,
};
use protector_service::api::{serve, Api, Authenticator};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// Fast retries: tests do not wait for backoff.
pub fn fast_options() -> ClientOptions {
    ClientOptions::default()
        .with_retry(
            RetryConfig::default()
                .with_max_retries(2)
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .with_timeout(Duration::from_secs(20))
        .with_connect_timeout(Duration::from_secs(5))
}

/// A protector-api serving on a loopback port until dropped (or the runtime ends).
pub struct ApiServer {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl ApiServer {
    /// Serves `store` as site `site` with `auth`.
    pub async fn start(site: &str, store: Arc<dyn Store>, auth: Authenticator) -> ApiServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let router = Api::new(site, store, auth).router();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, async move {
            let _ = stopped.await;
        }));
        ApiServer {
            url,
            stop: Some(stop),
        }
    }

    /// `{url}/v1/{project}/{path}`.
    pub fn at(&self, project: &str, path: &str) -> String {
        format!("{}/v1/{project}/{path}", self.url)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Both simulated sites served over HTTP, with their clouds.yaml.
pub struct Sim {
    pub sim: Simulator,
    pub server: SimServer,
    pub dir: tempfile::TempDir,
}

impl Sim {
    pub async fn start() -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let sim = Simulator::in_memory().unwrap();
        let server = SimServer::start(sim.clone(), ServeOptions::new(dir.path()))
            .await
            .unwrap();
        Sim { sim, server, dir }
    }

    /// The clouds.yaml entry `cloud` (`site-a`: admin of production-project, `site-a-member`,
    /// `site-a-tenant2`).
    pub fn config(&self, cloud: &str) -> CloudConfig {
        ConfigLoader::new([(
            "OS_CLIENT_CONFIG_FILE",
            self.server.clouds_yaml().display().to_string(),
        )])
        .load(Some(cloud))
        .unwrap()
    }

    pub fn cloud(&self, cloud: &str) -> OpenStackCloud {
        OpenStackCloud::with_options(self.config(cloud), fast_options()).unwrap()
    }

    /// An authenticator of `site` whose service user is the site's admin.
    pub fn authenticator(&self, site: &str) -> Authenticator {
        let validator = TokenValidator::new(self.config(site), fast_options()).unwrap();
        Authenticator::new(
            validator,
            Duration::from_secs(300),
            self.server.auth_url(site).unwrap(),
        )
    }

    /// A token of `cloud` and its project id, by a password login.
    pub async fn token(&self, cloud: &str) -> (String, String) {
        let config = self.config(cloud);
        let AuthMethod::Password { password, .. } = config.auth() else {
            panic!("{cloud} is not a password cloud");
        };
        let (user, project) = match cloud.split_once('-').map(|(_, s)| s) {
            Some("a-member") | Some("b-member") => ("member-user", "production-project"),
            Some("a-tenant2") | Some("b-tenant2") => ("tenant2-user", "tenant2"),
            _ => ("admin", "production-project"),
        };
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "Default"}, "password": password.expose()}}},
            "scope": {"project": {"name": project, "domain": {"name": "Default"}}}
        }});
        let response = reqwest::Client::new()
            .post(format!(
                "{}/auth/tokens",
                config.auth_url().trim_end_matches('/')
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "login of {cloud}");
        let token = response.headers()["x-subject-token"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = response.json().await.unwrap();
        let project_id = body["token"]["project"]["id"].as_str().unwrap().to_string();
        (token, project_id)
    }
}

/// A SQLite store in a file of `dir`.
pub fn sqlite(dir: &std::path::Path, name: &str) -> Arc<SqliteStore> {
    let path: PathBuf = dir.join(format!("{name}.db"));
    Arc::new(SqliteStore::open(&path, SecretKey::from_bytes([7; 32])).unwrap())
}

/// A site's API over SQLite, on the simulator's Keystone of that site, and a RemoteStore of
/// `cloud` on it.
pub async fn remote(
    sim: &Sim,
    site: &str,
    store: Arc<dyn Store>,
    cloud: &str,
) -> (ApiServer, RemoteStore) {
    let api = ApiServer::start(site, store, sim.authenticator(site)).await;
    let remote = RemoteStore::with_endpoint(&sim.cloud(cloud), site, api.url.clone());
    (api, remote)
}

/// A plain HTTP call: status, headers, JSON body (`Null` when empty).
pub async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.header("X-Auth-Token", token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, headers, body)
}

/// Asserts the OpenStack error body of a failure and that its request id is the header's.
pub fn assert_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
    code: u16,
    kind: &str,
) {
    assert_eq!(status, code, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert_eq!(error["kind"], kind, "{body}");
    assert!(
        error["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let header = headers["x-openstack-request-id"].to_str().unwrap();
    assert!(header.starts_with("req-"), "{header}");
    assert_eq!(error["request_id"], header, "{body}");
}
