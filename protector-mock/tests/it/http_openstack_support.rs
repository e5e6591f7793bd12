//! Shared by the wire tests (`http_openstack*.rs`): a served simulator in a temporary
//! directory, logged-in sessions per clouds.yaml entry, and calls with microversions.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::Simulator;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// One `clouds.yaml` entry: `auth` keys and the rest.
pub type Cloud = BTreeMap<String, String>;

/// Reads the simulator's clouds.yaml (its own, regular layout: two-space indents, quoted
/// scalars).
pub fn clouds(path: &Path) -> BTreeMap<String, Cloud> {
    let text = std::fs::read_to_string(path).expect("clouds.yaml");
    let mut out: BTreeMap<String, Cloud> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let unquote = |s: &str| s.trim().trim_matches('"').to_string();
        if let Some(name) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            current = unquote(name.trim_end_matches(':'));
            out.insert(current.clone(), Cloud::new());
        } else if let Some((key, value)) = line.trim().split_once(": ") {
            if let Some(cloud) = out.get_mut(&current) {
                cloud.insert(key.to_string(), unquote(value));
            }
        }
    }
    out
}

pub struct Env {
    pub server: SimServer,
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub _dir: Option<tempfile::TempDir>,
}

pub async fn start_in(dir: &Path) -> (SimServer, Simulator) {
    let sim = Simulator::open(&ServeOptions::state_file(dir)).expect("state");
    let server = SimServer::start(sim.clone(), ServeOptions::new(dir))
        .await
        .expect("server starts");
    (server, sim)
}

pub async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, sim) = start_in(dir.path()).await;
    Env {
        server,
        sim,
        http: reqwest::Client::new(),
        _dir: Some(dir),
    }
}

/// A logged-in client of one site.
pub struct Session {
    pub http: reqwest::Client,
    pub base: String,
    pub token: String,
    pub project_id: String,
    pub body: Value,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("an HTTP answer");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        headers,
        body,
    }
}

pub fn password_body(user: &str, password: &str, project: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password
        }}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}
    }})
}

impl Env {
    pub fn base(&self, site: &str) -> String {
        self.server.base_url(site).expect("site")
    }

    pub async fn login(&self, cloud: &str) -> Session {
        let clouds = clouds(&self.server.clouds_yaml());
        let entry = &clouds[cloud];
        let site = if cloud.starts_with("site-a") {
            "site-a"
        } else {
            "site-b"
        };
        let answer = send(
            self.http
                .post(format!("{}/auth/tokens", entry["auth_url"]))
                .json(&password_body(
                    &entry["username"],
                    &entry["password"],
                    &entry["project_name"],
                )),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        Session {
            http: self.http.clone(),
            base: self.base(site),
            token: answer.header("x-subject-token").expect("token").to_string(),
            project_id: answer.body["token"]["project"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
            body: answer.body,
        }
    }
}

impl Session {
    /// `method` on `path` (below the site's root) with an optional microversion header
    /// (`compute 2.47`, `volume 3.8`) and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        version: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-auth-token", &self.token);
        if let Some(version) = version {
            request = request.header("openstack-api-version", version);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(request).await
    }

    pub async fn get(&self, path: &str, version: Option<&str>) -> Answer {
        self.call(Method::GET, path, version, None).await
    }

    pub async fn post(&self, path: &str, version: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, version, Some(body)).await
    }

    pub fn volume_path(&self, rest: &str) -> String {
        format!("/volume/v3/{}{rest}", self.project_id)
    }

    /// Polls `path` until `done` holds on its body (each call is a simulated second).
    pub async fn until(
        &self,
        path: &str,
        version: Option<&str>,
        done: impl Fn(&Answer) -> bool,
    ) -> Answer {
        for _ in 0..20 {
            let answer = self.get(path, version).await;
            if done(&answer) {
                return answer;
            }
        }
        panic!("{path} never reached the expected state");
    }

    pub async fn create_volume(&self, name: &str, bootable: bool) -> String {
        let created = self
            .post(
                &self.volume_path("/volumes"),
                Some("volume 3.71"),
                json!({"volume": {"size": 1, "name": name, "volume_type": "replicated-ssd"}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
        assert_eq!(created.body["volume"]["status"], "creating");
        let id = created.body["volume"]["id"].as_str().unwrap().to_string();
        self.until(&self.volume_path(&format!("/volumes/{id}")), None, |a| {
            a.body["volume"]["status"] == "available"
        })
        .await;
        if bootable {
            let set = self
                .post(
                    &self.volume_path(&format!("/volumes/{id}/action")),
                    None,
                    json!({"os-set_bootable": {"bootable": true}}),
                )
                .await;
            assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        }
        id
    }
}
