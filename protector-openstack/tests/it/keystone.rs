//! Against a real Keystone when `PROTECTOR_TEST_KEYSTONE` holds its v3 URL (start one with
//! `scripts/keystone.sh`, admin / s3cret); skipped otherwise.

use protector_core::api::{BlockStorageApi, IdentityApi};
use protector_core::ErrorKind;
use protector_openstack::{ConfigLoader, OpenStackCloud};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

const PASSWORD: &str = "s3cret";

fn clouds_yaml(auth_url: &str) -> String {
    format!(
        "clouds:
  admin:
    auth: {{auth_url: '{auth_url}', username: admin, project_name: admin,
            user_domain_name: Default, project_domain_id: default}}
    region_name: RegionOne
  wrong:
    auth: {{auth_url: '{auth_url}', username: admin, password: not-the-password,
            project_name: admin, domain_id: default}}
  appcred-id:
    auth_type: v3applicationcredential
    auth: {{auth_url: '{auth_url}', application_credential_id: 'APP_ID'}}
  appcred-name:
    auth_type: v3applicationcredential
    auth: {{auth_url: '{auth_url}', application_credential_name: 'APP_NAME',
            username: admin, user_domain_name: Default}}
"
    )
}

/// The admin user over plain HTTP, for setup the crate has no call for.
struct Admin {
    http: reqwest::Client,
    base: String,
    token: String,
    user_id: String,
}

impl Admin {
    async fn login(auth_url: &str) -> Self {
        let http = reqwest::Client::new();
        let base = auth_url.trim_end_matches('/').to_string();
        let response = http
            .post(format!("{base}/auth/tokens"))
            .json(
                &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}),
            )
            .send()
            .await
            .unwrap();
        let token = response.headers()["x-subject-token"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = response.json().await.unwrap();
        let user_id = body["token"]["user"]["id"].as_str().unwrap().to_string();
        Admin {
            http,
            base,
            token,
            user_id,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/{path}", self.base))
            .header("X-Auth-Token", &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// A new application credential: (id, name, secret).
    async fn application_credential(&self) -> (String, String, String) {
        let name = format!(
            "protector-test-{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let created = self
            .call(
                reqwest::Method::POST,
                &format!("users/{}/application_credentials", self.user_id),
                Some(
                    json!({"application_credential": {"name": name, "roles": [{"name": "admin"}]}}),
                ),
            )
            .await;
        let credential = &created["application_credential"];
        (
            credential["id"].as_str().unwrap().to_string(),
            name,
            credential["secret"].as_str().unwrap().to_string(),
        )
    }

    /// Replaces the test's Cinder service with one at `url` (with `$(project_id)s`); returns
    /// its id. A leftover from an aborted run is removed first.
    async fn register_cinder(&self, url: &str) -> String {
        let services = self
            .call(reqwest::Method::GET, "services?type=volumev3", None)
            .await;
        for service in services["services"].as_array().into_iter().flatten() {
            if service["name"] == CINDER_NAME {
                self.delete_service(service["id"].as_str().unwrap()).await;
            }
        }
        let service = self
            .call(
                reqwest::Method::POST,
                "services",
                Some(json!({"service": {"type": "volumev3", "name": CINDER_NAME}})),
            )
            .await;
        let id = service["service"]["id"].as_str().unwrap().to_string();
        self.call(
            reqwest::Method::POST,
            "endpoints",
            Some(json!({"endpoint": {"service_id": id, "interface": "public",
                "region_id": "RegionOne", "url": url}})),
        )
        .await;
        id
    }

    async fn delete_service(&self, id: &str) {
        self.call(reqwest::Method::DELETE, &format!("services/{id}"), None)
            .await;
    }
}

const CINDER_NAME: &str = "protector-test-cinder";

#[tokio::test]
async fn keystone_password_and_application_credentials() {
    let Ok(auth_url) = std::env::var("PROTECTOR_TEST_KEYSTONE") else {
        eprintln!("PROTECTOR_TEST_KEYSTONE is not set: real Keystone test skipped");
        return;
    };
    let admin_http = Admin::login(&auth_url).await;
    let (app_id, app_name, app_secret) = admin_http.application_credential().await;
    let dir = tempfile::tempdir().unwrap();
    let clouds = clouds_yaml(&auth_url)
        .replace("APP_ID", &app_id)
        .replace("APP_NAME", &app_name);
    std::fs::write(dir.path().join("clouds.yaml"), clouds).unwrap();
    std::fs::write(
        dir.path().join("secure.yaml"),
        format!(
            "clouds:\n  admin: {{auth: {{password: {PASSWORD}}}}}\n  appcred-id: {{auth: {{application_credential_secret: '{app_secret}'}}}}\n  appcred-name: {{auth: {{application_credential_secret: '{app_secret}'}}}}\n"
        ),
    )
    .unwrap();
    let loader = ConfigLoader::new([("HOME", "/nonexistent")])
        .with_current_dir(dir.path())
        .with_system_dir(dir.path().join("etc"));
    let cloud = |name: &str| OpenStackCloud::new(loader.load(Some(name)).unwrap()).unwrap();

    let admin = cloud("admin").identity().authenticate().await.unwrap();
    assert_eq!(admin.user_name, "admin");
    assert_eq!(admin.project_name, "admin");
    assert!(admin.has_role("admin"), "{admin:?}");

    for name in ["appcred-id", "appcred-name"] {
        let info = cloud(name).identity().authenticate().await.unwrap();
        assert_eq!(info.project_id, admin.project_id, "{name}");
        assert_eq!(info.user_id, admin.user_id, "{name}");
    }

    let err = cloud("wrong").identity().authenticate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.message().contains("Keystone answered 401"), "{err}");
    assert!(!format!("{err:?}").contains("not-the-password"));
}

/// Keystone's catalog, with `$(project_id)s` expanded by Keystone, leads a Cinder call to the
/// project's URL; the version document is read without the project id.
#[tokio::test]
async fn keystone_catalog_leads_cinder_calls_to_the_project_url() {
    let Ok(auth_url) = std::env::var("PROTECTOR_TEST_KEYSTONE") else {
        eprintln!("PROTECTOR_TEST_KEYSTONE is not set: real Keystone test skipped");
        return;
    };
    let admin = Admin::login(&auth_url).await;
    let server = wiremock::MockServer::start().await;
    let service = admin
        .register_cinder(&format!("{}/volume/v3/$(project_id)s", server.uri()))
        .await;
    let loader = ConfigLoader::new([
        ("OS_AUTH_URL", auth_url.as_str()),
        ("OS_USERNAME", "admin"),
        ("OS_PASSWORD", PASSWORD),
        ("OS_PROJECT_NAME", "admin"),
        ("OS_DOMAIN_ID", "default"),
        ("OS_REGION_NAME", "RegionOne"),
    ]);
    let cloud = OpenStackCloud::new(loader.load(None).unwrap()).unwrap();
    let project = cloud.identity().authenticate().await.unwrap().project_id;
    super::support::mount_versions(&server, "2.1", "3.60").await;
    Mock::given(method("GET"))
        .and(path(format!("/volume/v3/{project}/volumes/v1")))
        .and(header("OpenStack-API-Version", "volume 3.21"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"volume": {"id": "v1", "status": "available", "size": 1}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let volume = cloud.block_storage().get_volume("v1").await;
    admin.delete_service(&service).await;
    assert_eq!(volume.unwrap().unwrap().project_id, project);
}
