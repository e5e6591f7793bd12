//! The OpenStack wire face of `SimServer` (Keystone, Nova, Cinder, Neutron) driven with reqwest:
//! tokens and the catalog, microversions, a server's life, manage and its policy, strict
//! bodies, faults on the wire, and state kept across a restart on the same directory.

use std::collections::BTreeMap;
use std::path::Path;

use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::{InjectedError, Service, Simulator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

// ------------------------------------------------------------------ helpers

/// One `clouds.yaml` entry: `auth` keys and the rest.
type Cloud = BTreeMap<String, String>;

/// Reads the simulator's clouds.yaml (its own, regular layout: two-space indents, quoted
/// scalars).
fn clouds(path: &Path) -> BTreeMap<String, Cloud> {
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

struct Env {
    server: SimServer,
    sim: Simulator,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

async fn start_in(dir: &Path) -> (SimServer, Simulator) {
    let sim = Simulator::open(&ServeOptions::state_file(dir)).expect("state");
    let server = SimServer::start(sim.clone(), ServeOptions::new(dir))
        .await
        .expect("server starts");
    (server, sim)
}

async fn env() -> Env {
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
struct Session {
    http: reqwest::Client,
    base: String,
    token: String,
    project_id: String,
    body: Value,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
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

fn password_body(user: &str, password: &str, project: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password
        }}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}
    }})
}

impl Env {
    fn base(&self, site: &str) -> String {
        self.server.base_url(site).expect("site")
    }

    async fn login(&self, cloud: &str) -> Session {
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
    async fn call(
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

    async fn get(&self, path: &str, version: Option<&str>) -> Answer {
        self.call(Method::GET, path, version, None).await
    }

    async fn post(&self, path: &str, version: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, version, Some(body)).await
    }

    fn volume_path(&self, rest: &str) -> String {
        format!("/volume/v3/{}{rest}", self.project_id)
    }

    /// Polls `path` until `done` holds on its body (each call is a simulated second).
    async fn until(
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

    async fn create_volume(&self, name: &str, bootable: bool) -> String {
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

// ------------------------------------------------------------------ Keystone

#[tokio::test]
async fn keystone_issues_tokens_with_the_catalog_and_validates_them() {
    let env = env().await;
    let base = env.base("site-a");
    let root = send(env.http.get(format!("{base}/identity"))).await;
    assert_eq!(root.status, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(root.body["versions"]["values"][0]["id"], "v3.14");
    let v3 = send(env.http.get(env.server.auth_url("site-a").unwrap())).await;
    assert_eq!(v3.status, StatusCode::OK);
    assert_eq!(v3.body["version"]["status"], "stable");

    let admin = env.login("site-a").await;
    let token = &admin.body["token"];
    assert!(admin.token.starts_with("gAAAAA"), "Fernet-looking token");
    assert_eq!(token["methods"], json!(["password"]));
    assert_eq!(token["project"]["name"], "production-project");
    assert_eq!(token["user"]["name"], "admin");
    let mut roles: Vec<&str> = token["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    roles.sort();
    assert_eq!(roles, ["admin", "dr_site_admin", "member", "reader"]);
    let catalog = token["catalog"].as_array().unwrap();
    let mut types: Vec<&str> = catalog
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "block-storage",
            "compute",
            "identity",
            "network",
            "volumev3"
        ]
    );
    for service in catalog {
        let interfaces: Vec<&str> = service["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["region_id"], "RegionOne");
                e["interface"].as_str().unwrap()
            })
            .collect();
        assert_eq!(interfaces, ["public", "internal", "admin"]);
    }
    let volume = catalog.iter().find(|s| s["type"] == "volumev3").unwrap();
    assert_eq!(
        volume["endpoints"][0]["url"],
        format!("{base}/volume/v3/{}", admin.project_id)
    );
    let compute = catalog.iter().find(|s| s["type"] == "compute").unwrap();
    assert_eq!(
        compute["endpoints"][0]["url"],
        format!("{base}/compute/v2.1")
    );

    // Validation: GET and HEAD with the subject token; ?nocatalog drops the catalog.
    let validate = |method: Method| {
        env.http
            .request(method, format!("{base}/identity/v3/auth/tokens?nocatalog"))
            .header("x-auth-token", &admin.token)
            .header("x-subject-token", &admin.token)
    };
    let shown = send(validate(Method::GET)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.header("x-subject-token"), Some(admin.token.as_str()));
    assert!(shown.body["token"].get("catalog").is_none());
    assert_eq!(send(validate(Method::HEAD)).await.status, StatusCode::OK);
    let bogus = send(
        env.http
            .get(format!("{base}/identity/v3/auth/tokens"))
            .header("x-auth-token", &admin.token)
            .header("x-subject-token", "gAAAAAnotatoken"),
    )
    .await;
    assert_eq!(bogus.status, StatusCode::NOT_FOUND);
    assert_eq!(
        bogus.body["error"]["message"],
        "Could not find token: gAAAAAnotatoken"
    );

    // A token of site-a means nothing to site-b's services.
    let other = send(
        env.http
            .get(format!("{}/compute/v2.1/servers", env.base("site-b")))
            .header("x-auth-token", &admin.token),
    )
    .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn keystone_refuses_bad_credentials_like_keystone() {
    let env = env().await;
    let base = env.base("site-a");
    let refused = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&password_body("admin", "wrong", "production-project")),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.body,
        json!({"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}})
    );
    // A project the user has no role on is refused the same way.
    let clouds = clouds(&env.server.clouds_yaml());
    let admin = &clouds["site-a"];
    let foreign = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&password_body("admin", &admin["password"], "tenant2")),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::UNAUTHORIZED);

    // Every other service wants a token: keystonemiddleware's 401, with where to get one.
    let anonymous = send(env.http.get(format!("{base}/volume/v3/volumes"))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"]["code"], 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some(format!("Keystone uri=\"{base}/identity\"").as_str())
    );

    // Application credentials: by id works; asking for a scope is refused as Keystone does.
    let appcred = &clouds["site-a-appcred"];
    let body = |scope: Option<Value>| {
        let mut body = json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {
                "id": appcred["application_credential_id"],
                "secret": appcred["application_credential_secret"],
            }
        }}});
        if let Some(scope) = scope {
            body["auth"]["scope"] = scope;
        }
        body
    };
    let issued = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&body(None)),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    assert_eq!(
        issued.body["token"]["methods"],
        json!(["application_credential"])
    );
    assert_eq!(
        issued.body["token"]["application_credential"]["restricted"],
        true
    );
    let scoped = send(
        env.http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&body(Some(
                json!({"project": {"name": "production-project", "domain": {"id": "default"}}}),
            ))),
    )
    .await;
    assert_eq!(scoped.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        scoped.body["error"]["message"],
        "Error authenticating with application credential: Application credentials cannot request a scope."
    );

    // A revoked token stops working.
    let member = env.login("site-a-member").await;
    let revoke = send(
        env.http
            .delete(format!("{base}/identity/v3/auth/tokens"))
            .header("x-auth-token", &member.token)
            .header("x-subject-token", &member.token),
    )
    .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(
        member.get("/compute/v2.1/servers", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn clouds_yaml_and_arrays_json_describe_the_running_server() {
    let env = env().await;
    let clouds = clouds(&env.server.clouds_yaml());
    let names: Vec<&str> = clouds.keys().map(String::as_str).collect();
    for expected in [
        "site-a",
        "site-a-member",
        "site-a-tenant2",
        "site-b",
        "site-b-member",
        "site-b-tenant2",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    for (name, user, project) in [
        ("site-a", "admin", "production-project"),
        ("site-b-member", "member-user", "production-project"),
        ("site-a-tenant2", "tenant2-user", "tenant2"),
    ] {
        let cloud = &clouds[name];
        let site = &name[..6];
        assert_eq!(cloud["auth_url"], env.server.auth_url(site).unwrap());
        assert_eq!(cloud["username"], user);
        assert_eq!(cloud["project_name"], project);
        assert_eq!(cloud["user_domain_name"], "Default");
        assert_eq!(cloud["project_domain_name"], "Default");
        assert_eq!(cloud["region_name"], "RegionOne");
        assert_eq!(cloud["interface"], "public");
        assert_eq!(cloud["identity_api_version"], "3");
        // Every entry logs in, with the roles it is meant to have.
        let session = env.login(name).await;
        let roles: Vec<&str> = session.body["token"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles.contains(&"admin"),
            name == "site-a",
            "{name}: {roles:?}"
        );
        assert!(roles.contains(&"member"));
    }
    let arrays: Value =
        serde_json::from_str(&std::fs::read_to_string(env.server.arrays_json()).unwrap()).unwrap();
    for site in ["site-a", "site-b"] {
        assert_eq!(arrays[site]["url"], env.server.array_url(site).unwrap());
        assert_eq!(
            arrays[site]["api_token"].as_str().unwrap(),
            env.sim.array_endpoint(site).unwrap().api_token.expose()
        );
        assert!(Path::new(arrays[site]["ca_file"].as_str().unwrap()).exists());
    }
    assert!(env.server.dir().join("ports.json").exists());
}

// ------------------------------------------------------------------ microversions

#[tokio::test]
async fn microversions_are_negotiated_and_shape_the_views() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let discovery = send(
        env.http
            .get(format!("{}/compute/v2.1/", env.base("site-a"))),
    )
    .await;
    assert_eq!(discovery.body["version"]["version"], "2.96");
    assert_eq!(discovery.body["version"]["min_version"], "2.1");
    let cinder = send(env.http.get(format!("{}/volume/v3/", env.base("site-a")))).await;
    assert_eq!(cinder.body["versions"][0]["version"], "3.71");

    let old = admin.get("/compute/v2.1/servers/detail", None).await;
    assert_eq!(old.header("openstack-api-version"), Some("compute 2.1"));
    assert_eq!(old.header("x-openstack-nova-api-version"), Some("2.1"));
    let flavor = &old.body["servers"][0]["flavor"];
    assert!(flavor["id"].is_string() && flavor.get("original_name").is_none());

    let new = admin
        .get("/compute/v2.1/servers/detail", Some("compute 2.47"))
        .await;
    assert_eq!(new.header("openstack-api-version"), Some("compute 2.47"));
    let server = &new.body["servers"][0];
    assert!(server["flavor"]["original_name"]
        .as_str()
        .unwrap()
        .starts_with("m1."));
    assert!(server["flavor"].get("id").is_none());
    assert_eq!(server["OS-EXT-AZ:availability_zone"], "nova");
    assert_eq!(
        server["os-extended-volumes:volumes_attached"][0]["delete_on_termination"],
        false
    );

    // The legacy header alone is honoured.
    let legacy = admin
        .call(Method::GET, "/compute/v2.1/flavors/detail", None, None)
        .await;
    assert_eq!(legacy.header("x-openstack-nova-api-version"), Some("2.1"));
    let legacy = send(
        env.http
            .get(format!(
                "{}/compute/v2.1/flavors/detail",
                env.base("site-a")
            ))
            .header("x-auth-token", &admin.token)
            .header("x-openstack-nova-api-version", "2.61"),
    )
    .await;
    assert_eq!(legacy.header("openstack-api-version"), Some("compute 2.61"));
    assert!(legacy.body["flavors"][0]["extra_specs"].is_object());

    let too_new = admin
        .get("/compute/v2.1/servers", Some("compute 2.97"))
        .await;
    assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        too_new.body["computeFault"]["message"],
        "Version 2.97 is not supported by the API. Minimum is 2.1 and maximum is 2.96."
    );
    let malformed = admin
        .get("/compute/v2.1/servers", Some("compute 2.x"))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let cinder_new = admin
        .get(&admin.volume_path("/volumes"), Some("volume 3.72"))
        .await;
    assert_eq!(cinder_new.status, StatusCode::NOT_ACCEPTABLE);

    // Cinder: provider_id from 3.21 (admin), group_id from 3.13, bootable as a string.
    let volumes = admin
        .get(&admin.volume_path("/volumes/detail"), Some("volume 3.21"))
        .await;
    assert_eq!(volumes.header("openstack-api-version"), Some("volume 3.21"));
    let volume = &volumes.body["volumes"][0];
    assert!(volume["provider_id"].as_str().unwrap().ends_with("-cinder"));
    assert!(volume["bootable"] == "true" || volume["bootable"] == "false");
    assert!(volume.get("group_id").is_some());
    let base = admin.get(&admin.volume_path("/volumes/detail"), None).await;
    assert!(base.body["volumes"][0].get("provider_id").is_none());
    assert!(base.body["volumes"][0].get("group_id").is_none());
    // Cinder from Yoga: the same resources without the project id.
    let no_project = admin.get("/volume/v3/volumes", Some("volume 3.67")).await;
    assert_eq!(no_project.status, StatusCode::OK);
    assert_eq!(
        no_project.body["volumes"].as_array().unwrap().len(),
        base.body["volumes"].as_array().unwrap().len()
    );
    // A project id in the URL that is not the token's is refused.
    let foreign = admin.get("/volume/v3/not-my-project/volumes", None).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        foreign.body["badRequest"]["message"],
        "Malformed request url"
    );
}

// ------------------------------------------------------------------ Nova

#[tokio::test]
async fn a_server_boots_from_a_volume_stops_and_is_deleted() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let root = admin.create_volume("wire-root", true).await;
    let networks = admin
        .get("/network/v2.0/networks?name=net-primary-web", None)
        .await;
    let network = networks.body["networks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let flavors = admin.get("/compute/v2.1/flavors/detail", None).await;
    let flavor = flavors.body["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "m1.small")
        .unwrap()["id"]
        .clone();

    let created = admin
        .post(
            "/compute/v2.1/servers",
            Some("compute 2.74"),
            json!({"server": {
                "name": "wire-vm",
                "flavorRef": flavor,
                "key_name": "ops-key",
                "block_device_mapping_v2": [{
                    "boot_index": "0", "uuid": root, "source_type": "volume",
                    "destination_type": "volume", "delete_on_termination": false
                }],
                "networks": [{"uuid": network, "fixed_ip": "10.10.1.77"}],
                "security_groups": [{"name": "web"}],
                "metadata": {"protector:source_server": "abc"}
            }}),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    assert!(created.body["server"]["adminPass"].is_string());
    assert!(created
        .header("location")
        .unwrap()
        .ends_with(&format!("/compute/v2.1/servers/{id}")));
    assert!(created
        .header("x-compute-request-id")
        .unwrap()
        .starts_with("req-"));
    assert!(created
        .header("x-openstack-request-id")
        .unwrap()
        .starts_with("req-"));

    let path = format!("/compute/v2.1/servers/{id}");
    let first = admin.get(&path, Some("compute 2.47")).await;
    assert_eq!(first.body["server"]["status"], "BUILD");
    assert_eq!(first.body["server"]["OS-EXT-STS:task_state"], "spawning");
    let active = admin
        .until(&path, Some("compute 2.47"), |a| {
            a.body["server"]["status"] != "BUILD"
        })
        .await;
    let server = &active.body["server"];
    assert_eq!(server["status"], "ACTIVE");
    assert_eq!(
        server["addresses"]["net-primary-web"][0]["addr"],
        "10.10.1.77"
    );
    assert_eq!(server["security_groups"], json!([{"name": "web"}]));
    assert_eq!(server["key_name"], "ops-key");
    assert_eq!(server["metadata"]["protector:source_server"], "abc");
    assert_eq!(
        server["os-extended-volumes:volumes_attached"][0]["id"],
        root
    );
    let volume = admin
        .get(&admin.volume_path(&format!("/volumes/{root}")), None)
        .await;
    assert_eq!(volume.body["volume"]["status"], "in-use");
    assert_eq!(volume.body["volume"]["attachments"][0]["server_id"], id);
    let ports = admin
        .get(&format!("/network/v2.0/ports?device_id={id}"), None)
        .await;
    assert_eq!(ports.body["ports"].as_array().unwrap().len(), 1);
    assert_eq!(ports.body["ports"][0]["device_owner"], "compute:nova");

    // Power: 202, then SHUTOFF; stopping again is a 409 as in Nova.
    let action = format!("{path}/action");
    let stop = admin.post(&action, None, json!({"os-stop": null})).await;
    assert_eq!(stop.status, StatusCode::ACCEPTED);
    admin
        .until(&path, None, |a| a.body["server"]["status"] == "SHUTOFF")
        .await;
    let again = admin.post(&action, None, json!({"os-stop": null})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.body["conflictingRequest"]["message"],
        format!("Cannot 'stop' instance {id} while it is in vm_state stopped")
    );
    let start = admin.post(&action, None, json!({"os-start": null})).await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    admin
        .until(&path, None, |a| a.body["server"]["status"] == "ACTIVE")
        .await;

    // Delete: 204, then 404; the volume is kept and detached, Nova's own port is gone.
    let deleted = admin.call(Method::DELETE, &path, None, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = admin.get(&path, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body["itemNotFound"]["message"],
        format!("Instance {id} could not be found.")
    );
    let volume = admin
        .get(&admin.volume_path(&format!("/volumes/{root}")), None)
        .await;
    assert_eq!(volume.body["volume"]["status"], "available");
    let ports = admin
        .get(&format!("/network/v2.0/ports?device_id={id}"), None)
        .await;
    assert_eq!(ports.body["ports"], json!([]));
}

#[tokio::test]
async fn nova_refuses_what_nova_refuses_and_reports_boot_faults() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let plain = admin.create_volume("not-bootable", false).await;
    let network = admin
        .get("/network/v2.0/networks?name=net-primary-db", None)
        .await;
    let network = network.body["networks"][0]["id"].clone();
    let flavors = admin.get("/compute/v2.1/flavors", None).await;
    let flavor = flavors.body["flavors"][0]["id"].clone();
    let body = |volume: &str, name: &str| {
        json!({"server": {
            "name": name, "flavorRef": flavor, "networks": [{"uuid": network}],
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": volume,
                "source_type": "volume", "destination_type": "volume"}]
        }})
    };
    let refused = admin
        .post(
            "/compute/v2.1/servers",
            Some("compute 2.74"),
            body(&plain, "vm"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body["badRequest"]["message"],
        format!("Block Device {plain} is not bootable.")
    );

    let root = admin.create_volume("boot-fails", true).await;
    env.sim
        .fail_server_boot("site-a", "doomed", "No valid host was found.")
        .unwrap();
    let created = admin
        .post(
            "/compute/v2.1/servers",
            Some("compute 2.74"),
            body(&root, "doomed"),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED);
    let id = created.body["server"]["id"].as_str().unwrap().to_string();
    let failed = admin
        .until(&format!("/compute/v2.1/servers/{id}"), None, |a| {
            a.body["server"]["status"] == "ERROR"
        })
        .await;
    assert_eq!(failed.body["server"]["fault"]["code"], 500);
    assert_eq!(
        failed.body["server"]["fault"]["message"],
        "No valid host was found."
    );
    // A member does not see another user's keypair; keypairs are per user.
    let member = env.login("site-a-member").await;
    let keys = member.get("/compute/v2.1/os-keypairs", None).await;
    assert_eq!(keys.body["keypairs"], json!([]));
    let imported = member
        .post(
            "/compute/v2.1/os-keypairs",
            Some("compute 2.92"),
            json!({"keypair": {"name": "member-key", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMemberKeyForTheSimulatorTests member"}}),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.body);
    assert_eq!(imported.body["keypair"]["type"], "ssh");
    let duplicate = member
        .post(
            "/compute/v2.1/os-keypairs",
            Some("compute 2.92"),
            json!({"keypair": {"name": "member-key", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMemberKeyForTheSimulatorTests member"}}),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
}

// ------------------------------------------------------------------ Cinder

#[tokio::test]
async fn manage_is_admin_only_and_follows_the_pure_driver() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let member = env.login("site-a-member").await;
    // An array volume Cinder does not know: unmanage one of Cinder's.
    let id = admin.create_volume("to-unmanage", false).await;
    let unmanage = admin
        .post(
            &admin.volume_path(&format!("/volumes/{id}/action")),
            None,
            json!({"os-unmanage": null}),
        )
        .await;
    assert_eq!(unmanage.status, StatusCode::ACCEPTED);
    admin
        .until(&admin.volume_path(&format!("/volumes/{id}")), None, |a| {
            a.status == StatusCode::NOT_FOUND
        })
        .await;
    let unmanaged = format!("volume-{id}-cinder-unmanaged");

    let host = "site-a-controller@pure#pure";
    let listing = format!("/manageable_volumes/detail?host={host}");
    let too_old = admin
        .get(&admin.volume_path(&listing), Some("volume 3.7"))
        .await;
    assert_eq!(too_old.status, StatusCode::NOT_FOUND);
    assert_eq!(
        too_old.body["itemNotFound"]["message"],
        "API version 3.7 is not supported on this method."
    );
    let listed = admin
        .get(&admin.volume_path(&listing), Some("volume 3.8"))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let entries = listed.body["manageable-volumes"].as_array().unwrap();
    let entry = entries
        .iter()
        .find(|e| e["reference"]["name"] == unmanaged.as_str())
        .expect("the unmanaged volume is manageable");
    assert_eq!(entry["safe_to_manage"], true);
    assert_eq!(entry["reason_not_safe"], "");
    assert_eq!(entry["size"], 1);
    let in_use = entries
        .iter()
        .find(|e| {
            e["reason_not_safe"]
                .as_str()
                .unwrap()
                .contains("connected to host")
        })
        .expect("a volume of a running VM");
    assert_eq!(in_use["safe_to_manage"], false);
    assert!(in_use["cinder_id"].is_string());
    assert_eq!(
        member
            .get(&member.volume_path(&listing), Some("volume 3.8"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let manage = |name: &str| {
        json!({"volume": {
            "host": host, "ref": {"name": unmanaged}, "name": name,
            "volume_type": "replicated-ssd", "bootable": true,
            "description": null, "availability_zone": null, "metadata": null
        }})
    };
    let refused = member
        .post(
            &member.volume_path("/manageable_volumes"),
            Some("volume 3.71"),
            manage("by-member"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        refused.body["forbidden"]["message"],
        "Policy doesn't allow volume_extension:volume_manage to be performed."
    );
    let managed = admin
        .post(
            &admin.volume_path("/manageable_volumes"),
            Some("volume 3.71"),
            manage("managed"),
        )
        .await;
    assert_eq!(managed.status, StatusCode::ACCEPTED, "{}", managed.body);
    assert_eq!(managed.body["volume"]["status"], "creating");
    let new_id = managed.body["volume"]["id"].as_str().unwrap().to_string();
    let available = admin
        .until(
            &admin.volume_path(&format!("/volumes/{new_id}")),
            Some("volume 3.21"),
            |a| a.body["volume"]["status"] != "creating",
        )
        .await;
    let volume = &available.body["volume"];
    assert_eq!(volume["status"], "available");
    assert_eq!(volume["bootable"], "true");
    assert_eq!(volume["size"], 1);
    assert_eq!(volume["provider_id"], format!("volume-{new_id}-cinder"));
    assert_eq!(volume["os-vol-tenant-attr:tenant_id"], admin.project_id);

    // The Pure driver knows array volumes by {"name": ...}; another reference fails in the
    // driver, after the API accepted it.
    let wrong_key = admin
        .post(
            &admin.volume_path("/os-volume-manage"),
            None,
            json!({"volume": {"host": host, "ref": {"source-name": unmanaged}, "name": "wrong-key"}}),
        )
        .await;
    assert_eq!(wrong_key.status, StatusCode::ACCEPTED);
    let wrong_id = wrong_key.body["volume"]["id"].as_str().unwrap().to_string();
    admin
        .until(
            &admin.volume_path(&format!("/volumes/{wrong_id}")),
            None,
            |a| a.body["volume"]["status"] == "error_managing",
        )
        .await;
    // An unknown host is Cinder's 503.
    let unknown = admin
        .post(
            &admin.volume_path("/os-volume-manage"),
            None,
            json!({"volume": {"host": "nowhere@pure#pure", "ref": {"name": "x"}}}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        unknown.body["serviceUnavailable"]["message"],
        "Host 'nowhere@pure#pure' not found."
    );
}

#[tokio::test]
async fn types_services_groups_and_snapshots_follow_cinder_policy() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let member = env.login("site-a-member").await;
    async fn specs(session: &Session) -> Value {
        let types = session.get(&session.volume_path("/types"), None).await;
        types.body["volume_types"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "replicated-ssd")
            .unwrap()["extra_specs"]
            .clone()
    }
    assert_eq!(
        specs(&admin).await,
        json!({"replication_enabled": "<is> True", "replication_type": "<in> async", "volume_backend_name": "pure"})
    );
    assert_eq!(
        specs(&member).await,
        json!({"replication_enabled": "<is> True"})
    );

    let services = admin
        .get(
            &admin.volume_path("/os-services?binary=cinder-volume"),
            Some("volume 3.49"),
        )
        .await;
    let service = &services.body["services"][0];
    assert_eq!(service["host"], "site-a-controller@pure");
    assert_eq!(service["state"], "up");
    assert_eq!(service["backend_state"], "up");
    assert_eq!(
        member
            .get(&member.volume_path("/os-services"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Groups need 3.13, group types 3.11.
    assert_eq!(
        admin
            .get(&admin.volume_path("/groups"), Some("volume 3.12"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let group_types = admin
        .get(&admin.volume_path("/group_types"), Some("volume 3.11"))
        .await;
    let names: Vec<&str> = group_types.body["group_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["consistent-replication", "default_group_type"]);
    let volume = admin.create_volume("grouped", false).await;
    let created = admin
        .post(
            &admin.volume_path("/groups"),
            Some("volume 3.13"),
            json!({"group": {"name": "cg", "group_type": "consistent-replication", "volume_types": ["replicated-ssd"]}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    let group = created.body["group"]["id"].as_str().unwrap().to_string();
    let added = admin
        .call(
            Method::PUT,
            &admin.volume_path(&format!("/groups/{group}")),
            Some("volume 3.13"),
            Some(json!({"group": {"add_volumes": volume}})),
        )
        .await;
    assert_eq!(added.status, StatusCode::ACCEPTED, "{}", added.body);
    let shown = admin
        .get(
            &admin.volume_path(&format!("/groups/{group}?list_volume=True")),
            Some("volume 3.25"),
        )
        .await;
    assert_eq!(shown.body["group"]["volumes"], json!([volume]));
    // Cinder refuses to unmanage a volume that is in a group: 400 InvalidVolume.
    let refused = admin
        .post(
            &admin.volume_path(&format!("/volumes/{volume}/action")),
            None,
            json!({"os-unmanage": null}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid volume:"));

    // Snapshots block deletion until they are gone.
    let removed = admin
        .call(
            Method::PUT,
            &admin.volume_path(&format!("/groups/{group}")),
            Some("volume 3.13"),
            Some(json!({"group": {"remove_volumes": volume}})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::ACCEPTED);
    let snapshot = admin
        .post(
            &admin.volume_path("/snapshots"),
            None,
            json!({"snapshot": {"volume_id": volume, "name": "snap"}}),
        )
        .await;
    assert_eq!(snapshot.status, StatusCode::ACCEPTED, "{}", snapshot.body);
    let snapshot_id = snapshot.body["snapshot"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    admin
        .until(
            &admin.volume_path(&format!("/snapshots/{snapshot_id}")),
            None,
            |a| a.body["snapshot"]["status"] == "available",
        )
        .await;
    let blocked = admin
        .call(
            Method::DELETE,
            &admin.volume_path(&format!("/volumes/{volume}")),
            None,
            None,
        )
        .await;
    assert_eq!(blocked.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        blocked.body["badRequest"]["message"],
        "Invalid volume: Volume still has 1 dependent snapshots."
    );
    let deleted = admin
        .call(
            Method::DELETE,
            &admin.volume_path(&format!("/snapshots/{snapshot_id}")),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    admin
        .until(
            &admin.volume_path(&format!("/snapshots/{snapshot_id}")),
            None,
            |a| a.status == StatusCode::NOT_FOUND,
        )
        .await;
    let deleted = admin
        .call(
            Method::DELETE,
            &admin.volume_path(&format!("/volumes/{volume}")),
            None,
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
}

// ------------------------------------------------------------------ strict bodies

#[tokio::test]
async fn invalid_bodies_get_400_in_each_service_s_words() {
    let env = env().await;
    let admin = env.login("site-a").await;
    let nova = |v: &'static str, body: Value| {
        let admin = &admin;
        async move { admin.post("/compute/v2.1/servers", Some(v), body).await }
    };
    let missing = nova(
        "compute 2.74",
        json!({"server": {"name": "s", "networks": "none"}}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body["badRequest"],
        json!({"code": 400, "message": "Invalid input for field/attribute server. Value: {'name': 's', 'networks': 'none'}. 'flavorRef' is a required property"})
    );
    let unknown = nova(
        "compute 2.74",
        json!({"server": {"name": "s", "flavorRef": "1", "networks": "none", "bogus": 1}}),
    )
    .await;
    assert!(unknown.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('bogus' was unexpected)"));
    // `networks` is required from 2.37; `description` exists from 2.19.
    let no_networks = nova(
        "compute 2.37",
        json!({"server": {"name": "s", "flavorRef": "1"}}),
    )
    .await;
    assert!(no_networks.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'networks' is a required property"));
    let early = nova(
        "compute 2.18",
        json!({"server": {"name": "s", "flavorRef": "1", "description": "d"}}),
    )
    .await;
    assert!(early.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('description' was unexpected)"));
    let bad_uuid = nova(
        "compute 2.74",
        json!({"server": {"name": "s", "flavorRef": "1", "networks": [{"uuid": "not-a-uuid"}]}}),
    )
    .await;
    assert_eq!(bad_uuid.status, StatusCode::BAD_REQUEST);
    let stop = admin
        .post(
            "/compute/v2.1/servers/00000000-0000-4000-8000-000000000000/action",
            None,
            json!({"os-stop": {}}),
        )
        .await;
    assert_eq!(stop.status, StatusCode::NOT_FOUND, "missing server first");
    let servers = admin.get("/compute/v2.1/servers", None).await;
    let server = servers.body["servers"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stop = admin
        .post(
            &format!("/compute/v2.1/servers/{server}/action"),
            None,
            json!({"os-stop": {}}),
        )
        .await;
    assert_eq!(
        stop.body["badRequest"]["message"],
        "Invalid input for field/attribute os-stop. Value: {}. {} is not of type 'null'"
    );
    let key = admin
        .post(
            "/compute/v2.1/os-keypairs",
            Some("compute 2.92"),
            json!({"keypair": {"name": "k"}}),
        )
        .await;
    assert!(key.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'public_key' is a required property"));

    // Cinder: manage before 3.16 has no `cluster`; host pattern; bootable values.
    let manage = |v: &'static str, volume: Value| {
        let admin = &admin;
        async move {
            admin
                .post(
                    &admin.volume_path("/manageable_volumes"),
                    Some(v),
                    json!({ "volume": volume }),
                )
                .await
        }
    };
    let cluster = manage(
        "volume 3.15",
        json!({"ref": {"name": "x"}, "host": "h@b#p", "cluster": "c"}),
    )
    .await;
    assert_eq!(cluster.status, StatusCode::BAD_REQUEST);
    assert!(cluster.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('cluster' was unexpected)"));
    let both = manage(
        "volume 3.16",
        json!({"ref": {"name": "x"}, "host": "h@b#p", "cluster": "c"}),
    )
    .await;
    assert_eq!(
        both.body["badRequest"]["message"],
        "Invalid input received: One and only one of cluster and host must be set."
    );
    let host = manage(
        "volume 3.16",
        json!({"ref": {"name": "x"}, "host": "bad host"}),
    )
    .await;
    assert!(host.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid input for field/attribute host. Value: 'bad host'."));
    let bootable = manage(
        "volume 3.16",
        json!({"ref": {"name": "x"}, "host": "h", "bootable": "yes-please"}),
    )
    .await;
    assert!(bootable.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .contains("'yes-please' is not one of"));
    let no_ref = manage("volume 3.8", json!({"host": "h"})).await;
    assert!(no_ref.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'ref' is a required property"));
    let unmanage = admin
        .post(
            &admin.volume_path("/volumes/00000000-0000-4000-8000-000000000000/action"),
            None,
            json!({"os-unmanage": 1}),
        )
        .await;
    assert_eq!(unmanage.status, StatusCode::NOT_FOUND);
    let volumes = admin.get(&admin.volume_path("/volumes"), None).await;
    let volume = volumes.body["volumes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unmanage = admin
        .post(
            &admin.volume_path(&format!("/volumes/{volume}/action")),
            None,
            json!({"os-unmanage": 1}),
        )
        .await;
    assert_eq!(unmanage.status, StatusCode::BAD_REQUEST);
    // Volume create is strict from 3.53.
    let strict = admin
        .post(
            &admin.volume_path("/volumes"),
            Some("volume 3.53"),
            json!({"volume": {"size": 1, "bootable": true}}),
        )
        .await;
    assert!(strict.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("Additional properties are not allowed ('bootable' was unexpected)"));
    let group = admin
        .post(
            &admin.volume_path("/groups"),
            Some("volume 3.13"),
            json!({"group": {"group_type": "default_group_type"}}),
        )
        .await;
    assert!(group.body["badRequest"]["message"]
        .as_str()
        .unwrap()
        .ends_with("'volume_types' is a required property"));
    let malformed = admin
        .call(Method::POST, &admin.volume_path("/volumes"), None, None)
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    // Neutron: unknown attributes, missing ones, bad values.
    let networks = admin.get("/network/v2.0/networks", None).await;
    let network = networks.body["networks"][0]["id"].clone();
    let port = |body: Value| {
        let admin = &admin;
        async move { admin.post("/network/v2.0/ports", None, body).await }
    };
    let unknown = port(json!({"port": {"network_id": network, "bogus": 1}})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.body,
        json!({"NeutronError": {"type": "HTTPBadRequest", "message": "Unrecognized attribute(s) 'bogus'", "detail": ""}})
    );
    let missing = port(json!({"port": {"name": "p"}})).await;
    assert_eq!(
        missing.body["NeutronError"]["message"],
        "Failed to parse request. Required attribute 'network_id' not specified"
    );
    let bad = port(json!({"port": {"network_id": "nope"}})).await;
    assert_eq!(
        bad.body["NeutronError"]["message"],
        "Invalid input for network_id. Reason: 'nope' is not a valid UUID."
    );

    // Keystone's own words.
    let auth = send(
        env.http
            .post(format!("{}/identity/v3/auth/tokens", env.base("site-a")))
            .json(&json!({"auth": {"identity": {}}})),
    )
    .await;
    assert_eq!(auth.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        auth.body["error"],
        json!({"code": 400, "title": "Bad Request", "message": "Invalid input for field 'identity': 'methods' is a required property"})
    );
}

// ------------------------------------------------------------------ Neutron

#[tokio::test]
async fn neutron_ports_and_security_groups() {
    let env = env().await;
    let admin = env.login("site-b").await;
    let extensions = admin.get("/network/v2.0/extensions", None).await;
    assert!(extensions.body["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["alias"] == "security-group"));
    let networks = admin
        .get("/network/v2.0/networks?name=net-secondary-web", None)
        .await;
    let network = &networks.body["networks"][0];
    assert_eq!(networks.body["networks"].as_array().unwrap().len(), 1);
    let subnet = network["subnets"][0].as_str().unwrap().to_string();
    let subnets = admin
        .get(
            &format!(
                "/network/v2.0/subnets?network_id={}",
                network["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(subnets.body["subnets"][0]["cidr"], "10.20.1.0/24");

    let group = admin
        .post(
            "/network/v2.0/security-groups",
            None,
            json!({"security_group": {"name": "dr-web", "description": "from site-a's web"}}),
        )
        .await;
    assert_eq!(group.status, StatusCode::CREATED, "{}", group.body);
    let group_id = group.body["security_group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        group.body["security_group"]["security_group_rules"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "Neutron's two egress rules"
    );
    let rule = admin
        .post(
            "/network/v2.0/security-group-rules",
            None,
            json!({"security_group_rule": {"security_group_id": group_id, "direction": "ingress",
                   "protocol": "tcp", "port_range_min": 443, "port_range_max": 443,
                   "remote_ip_prefix": "0.0.0.0/0"}}),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.body);

    let port = admin
        .post(
            "/network/v2.0/ports",
            None,
            json!({"port": {"network_id": network["id"], "name": "web-01-dr-eth0",
                   "fixed_ips": [{"subnet_id": subnet, "ip_address": "10.20.1.11"}],
                   "security_groups": [group_id], "description": "protector"}}),
        )
        .await;
    assert_eq!(port.status, StatusCode::CREATED, "{}", port.body);
    let port_id = port.body["port"]["id"].as_str().unwrap().to_string();
    assert_eq!(port.body["port"]["status"], "DOWN");
    assert_eq!(port.body["port"]["device_id"], "");
    assert_eq!(
        port.body["port"]["fixed_ips"][0]["ip_address"],
        "10.20.1.11"
    );
    let taken = admin
        .post(
            "/network/v2.0/ports",
            None,
            json!({"port": {"network_id": network["id"],
                   "fixed_ips": [{"subnet_id": subnet, "ip_address": "10.20.1.11"}]}}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(
        taken.body["NeutronError"]["type"],
        "IpAddressAlreadyAllocated"
    );
    let in_use = admin
        .call(
            Method::DELETE,
            &format!("/network/v2.0/security-groups/{group_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert_eq!(in_use.body["NeutronError"]["type"], "SecurityGroupInUse");
    let listed = admin
        .get(
            "/network/v2.0/ports?name=web-01-dr-eth0&fields=id&fields=name",
            None,
        )
        .await;
    assert_eq!(
        listed.body["ports"],
        json!([{"id": port_id, "name": "web-01-dr-eth0"}])
    );
    assert_eq!(
        admin
            .call(
                Method::DELETE,
                &format!("/network/v2.0/ports/{port_id}"),
                None,
                None
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let gone = admin
        .get(&format!("/network/v2.0/ports/{port_id}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body["NeutronError"],
        json!({"type": "PortNotFound", "message": format!("Port {port_id} could not be found."), "detail": ""})
    );
    assert_eq!(
        admin
            .call(
                Method::DELETE,
                &format!("/network/v2.0/security-groups/{group_id}"),
                None,
                None
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

// ------------------------------------------------------------------ faults

#[tokio::test]
async fn faults_show_on_the_wire() {
    let env = env().await;
    let admin = env.login("site-a").await;

    env.sim
        .set_error_rate(
            "site-a",
            Service::Compute,
            1.0,
            InjectedError::InternalServerError,
        )
        .unwrap();
    let broken = admin.get("/compute/v2.1/servers", None).await;
    assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(broken.body["computeFault"]["message"].is_string());
    assert!(broken.header("x-compute-request-id").is_some());
    env.sim
        .set_error_rate(
            "site-a",
            Service::Volume,
            1.0,
            InjectedError::TooManyRequests {
                retry_after_secs: 7,
            },
        )
        .unwrap();
    let limited = admin.get(&admin.volume_path("/volumes"), None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert!(limited.body["overLimit"]["message"].is_string());
    env.sim
        .set_error_rate(
            "site-a",
            Service::Network,
            1.0,
            InjectedError::ServiceUnavailable,
        )
        .unwrap();
    let unavailable = admin.get("/network/v2.0/networks", None).await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        unavailable.body["NeutronError"]["type"],
        "HTTPServiceUnavailable"
    );

    // A timeout applies the request and loses the answer: the connection closes unanswered.
    env.sim
        .set_error_rate("site-a", Service::Volume, 1.0, InjectedError::Timeout)
        .unwrap();
    let lost = admin
        .http
        .post(format!("{}{}", admin.base, admin.volume_path("/volumes")))
        .header("x-auth-token", &admin.token)
        .json(&json!({"volume": {"size": 1, "name": "in-doubt"}}))
        .send()
        .await;
    assert!(lost.is_err(), "no answer: {lost:?}");
    env.sim.clear().unwrap();
    let volumes = admin
        .get(&admin.volume_path("/volumes?name=in-doubt"), None)
        .await;
    assert_eq!(
        volumes.body["volumes"].as_array().unwrap().len(),
        1,
        "the lost request was applied"
    );

    // A site that is down refuses connections; the other site answers.
    env.sim.set_site_down("site-a", true).unwrap();
    env.server.sync_faults().await;
    let refused = env
        .http
        .get(format!("{}/identity/v3", env.base("site-a")))
        .send()
        .await;
    let error = refused.expect_err("connection refused");
    assert!(error.is_connect(), "{error:?}");
    let other = send(env.http.get(format!("{}/identity/v3", env.base("site-b")))).await;
    assert_eq!(other.status, StatusCode::OK);
    env.sim.set_site_down("site-a", false).unwrap();
    env.server.sync_faults().await;
    let back = send(env.http.get(format!("{}/identity/v3", env.base("site-a")))).await;
    assert_eq!(back.status, StatusCode::OK);
    // Tokens issued before the outage still work (they are self-contained).
    assert_eq!(
        admin.get("/compute/v2.1/servers", None).await.status,
        StatusCode::OK
    );

    // The array's listener closes while the array is down.
    env.sim.set_array_down("site-b", true).unwrap();
    env.server.sync_faults().await;
    let array = env.server.array_url("site-b").unwrap();
    let insecure = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let down = insecure
        .get(format!("{array}/api/api_version"))
        .send()
        .await;
    assert!(down.expect_err("array down").is_connect());
    env.sim.set_array_down("site-b", false).unwrap();
    env.server.sync_faults().await;
    let up = insecure
        .get(format!("{array}/api/api_version"))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::OK);
}

// ------------------------------------------------------------------ restart

#[tokio::test]
async fn a_restart_on_the_same_directory_keeps_state_ports_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (server, sim) = start_in(dir.path()).await;
    let first = Env {
        server,
        sim,
        http: http.clone(),
        _dir: None,
    };
    let admin = first.login("site-a").await;
    let volume = admin.create_volume("survivor", false).await;
    let ports = first.server.ports();
    let clouds_before = std::fs::read_to_string(first.server.clouds_yaml()).unwrap();
    let Env { server, sim, .. } = first;
    server.shutdown().await;
    drop(sim);
    let refused = http.get(format!("{}/identity/v3", admin.base)).send().await;
    assert!(refused.expect_err("stopped").is_connect());

    let (server, sim) = start_in(dir.path()).await;
    assert_eq!(server.ports(), ports, "the previous ports are reused");
    assert_eq!(
        std::fs::read_to_string(server.clouds_yaml()).unwrap(),
        clouds_before
    );
    let again = Env {
        server,
        sim,
        http,
        _dir: None,
    };
    // The token from before the restart is still valid, and the volume is still there.
    let shown = admin
        .get(&admin.volume_path(&format!("/volumes/{volume}")), None)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["volume"]["name"], "survivor");
    assert_eq!(shown.body["volume"]["status"], "available");
    let fresh = again.login("site-a").await;
    let listed = fresh
        .get(&fresh.volume_path("/volumes?name=survivor"), None)
        .await;
    assert_eq!(listed.body["volumes"][0]["id"], volume);
    again.server.shutdown().await;
}
