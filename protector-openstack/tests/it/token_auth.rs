//! Keystone token auth (`auth_type: token` / `v3token`, `OS_TOKEN`, `CloudConfig::from_token`):
//! a token used as it is, rescoped to a project, given with its catalog, and refused.

use chrono::Duration as TimeDelta;
use protector_core::api::{ComputeApi, IdentityApi, SiteConnector};
use protector_core::model::{Secret, Site, SiteStatus, SiteType};
use protector_core::ErrorKind;
use protector_openstack::config::{AuthMethod, DomainRef, ProjectRef};
use protector_openstack::{
    ClientOptions, CloudConfig, ConfigLoader, OpenStackCloud, OpenStackConnector,
};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::support::*;

/// The token a front-end (Horizon, OSC) holds; protector must never show it.
const GIVEN: &str = "gAAAAABgiven-token-never-shown";

fn keypair_body() -> Value {
    json!({"keypair": {"name": "ops", "public_key": "ssh-ed25519 AAA", "fingerprint": "fp", "type": "ssh"}})
}

fn site(name: &str) -> Site {
    Site {
        id: uuid::Uuid::new_v4(),
        name: name.into(),
        description: String::new(),
        site_type: SiteType::Primary,
        auth_url: "ignored: the connector was given it".into(),
        region_name: "RegionOne".into(),
        status: SiteStatus::Active,
        cloud: None,
        created_at: chrono::Utc::now(),
    }
}

/// `GET /v3/auth/tokens` validating the given token with itself; answers `body`.
/// Keystone validates the given token once, then rescopes it once to `tenant-project-id`
/// (answering with TOKEN_2).
async fn mount_validated_then_rescoped(server: &MockServer) {
    let uri = server.uri();
    validate_given()
        .respond_with(validated(token_body(catalog(&uri))))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .and(body_json(rescope_body(json!({"id": "tenant-project-id"}))))
        .respond_with(token_response(TOKEN_2, token_body(catalog(&uri))))
        .expect(1)
        .mount(server)
        .await;
}

fn validate_given() -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(TOKENS_PATH))
        .and(header("X-Auth-Token", GIVEN))
        .and(header("X-Subject-Token", GIVEN))
}

fn validated(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("X-Subject-Token", GIVEN)
        .insert_header("x-openstack-request-id", "req-validate")
        .set_body_json(body)
}

/// A Nova keypair call that succeeds only with `token`.
async fn mount_keypair(server: &MockServer, token: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/os-keypairs/ops"))
        .and(header("X-Auth-Token", token))
        .respond_with(json_response(200, keypair_body()))
        .expect(times)
        .mount(server)
        .await;
}

/// The rescoping request: the given token exchanged for one scoped to `project`.
fn rescope_body(project: Value) -> Value {
    json!({"auth": {
        "identity": {"methods": ["token"], "token": {"id": GIVEN}},
        "scope": {"project": project}}})
}

fn keystone_401() -> ResponseTemplate {
    ResponseTemplate::new(401)
        .insert_header("x-openstack-request-id", "req-refused")
        .set_body_json(json!({"error": {"code": 401, "title": "Unauthorized",
            "message": "The request you have made requires authentication."}}))
}

fn clouds_dir(uri: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clouds.yaml"),
        format!(
            "clouds:
  as-is:
    auth_type: token
    auth: {{auth_url: '{uri}/identity/v3'}}
    region_name: RegionOne
  rescoped:
    auth_type: v3token
    auth: {{auth_url: '{uri}/identity/v3', project_name: tenant, project_domain_id: default}}
    region_name: RegionOne
"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("secure.yaml"),
        format!("clouds:\n  as-is:\n    auth: {{token: '{GIVEN}'}}\n  rescoped:\n    auth: {{token: '{GIVEN}'}}\n"),
    )
    .unwrap();
    dir
}

fn loader_in(dir: &std::path::Path, env: &[(&str, &str)]) -> ConfigLoader {
    ConfigLoader::new(env.iter().copied().chain([("HOME", "/nonexistent")]))
        .with_current_dir(dir)
        .with_system_dir(dir.join("etc"))
}

#[tokio::test]
async fn clouds_yaml_token_without_a_project_is_validated_and_used_as_it_is() {
    let server = MockServer::start().await;
    let uri = server.uri();
    validate_given()
        .respond_with(validated(token_body(catalog(&uri))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN_2, token_body(catalog(&uri))))
        .expect(0)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    mount_keypair(&server, GIVEN, 2).await;
    let dir = clouds_dir(&uri);
    let config = loader_in(dir.path(), &[]).load(Some("as-is")).unwrap();
    assert_eq!(config.auth(), &AuthMethod::token(GIVEN, None));

    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    let me = cloud.identity().authenticate().await.unwrap();
    assert_eq!(
        (me.user_id.as_str(), me.project_id.as_str()),
        (USER, PROJECT)
    );
    assert_eq!(me.roles, ["admin", "member"]);
    assert!(me.expires_at.is_some());
    cloud.compute().get_keypair("ops").await.unwrap().unwrap();
    // The validated token is kept: one GET for both calls (the mock expects one).
    cloud.compute().get_keypair("ops").await.unwrap().unwrap();
}

#[tokio::test]
async fn clouds_yaml_v3token_with_a_project_is_exchanged_for_a_scoped_token() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .and(body_json(rescope_body(
            json!({"name": "tenant", "domain": {"id": "default"}}),
        )))
        .respond_with(token_response(TOKEN_2, token_body(catalog(&uri))))
        .expect(1)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    mount_keypair(&server, TOKEN_2, 1).await;
    let dir = clouds_dir(&uri);
    let config = loader_in(dir.path(), &[]).load(Some("rescoped")).unwrap();
    assert_eq!(
        config.auth(),
        &AuthMethod::token(
            GIVEN,
            Some(ProjectRef::Name {
                name: "tenant".into(),
                domain: DomainRef::Id("default".into()),
            })
        )
    );
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    cloud.compute().get_keypair("ops").await.unwrap().unwrap();
    // A project by name is never compared with the token's own scope: no validation call.
    assert_eq!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method == wiremock::http::Method::GET && r.url.path() == TOKENS_PATH)
            .count(),
        0
    );
}

#[tokio::test]
async fn os_token_and_os_auth_type_describe_a_token_cloud() {
    let server = MockServer::start().await;
    let uri = server.uri();
    // The token is scoped to PROJECT: checked, then rescoped to the project asked for.
    mount_validated_then_rescoped(&server).await;
    let auth_url = format!("{uri}/identity/v3");
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("OS_AUTH_URL", auth_url.as_str()),
        ("OS_AUTH_TYPE", "v3token"),
        ("OS_TOKEN", GIVEN),
        ("OS_PROJECT_ID", "tenant-project-id"),
        ("OS_REGION_NAME", "RegionOne"),
    ];
    let config = loader_in(dir.path(), &env).load(None).unwrap();
    assert_eq!(config.name(), "envvars");
    assert_eq!(
        config.auth(),
        &AuthMethod::token(GIVEN, Some(ProjectRef::Id("tenant-project-id".into())))
    );
    assert_eq!(config.region_name(), Some("RegionOne"));
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    let me = cloud.identity().authenticate().await.unwrap();
    assert_eq!(me.user_name, "admin");

    // Without OS_AUTH_TYPE a token and no password mean token auth, as in osc-lib; with a
    // password too, password auth wins.
    let env = [("OS_AUTH_URL", auth_url.as_str()), ("OS_TOKEN", GIVEN)];
    let config = loader_in(dir.path(), &env).load(None).unwrap();
    assert_eq!(config.auth(), &AuthMethod::token(GIVEN, None));
    let env = [
        ("OS_AUTH_URL", auth_url.as_str()),
        ("OS_TOKEN", GIVEN),
        ("OS_USER_ID", "u"),
        ("OS_PASSWORD", PASSWORD),
    ];
    let config = loader_in(dir.path(), &env).load(None).unwrap();
    assert!(matches!(config.auth(), AuthMethod::Password { .. }));

    // token auth without a token names the variable to set.
    let env = [
        ("OS_AUTH_URL", auth_url.as_str()),
        ("OS_AUTH_TYPE", "token"),
    ];
    let err = loader_in(dir.path(), &env).load(None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(err.message().contains("auth.token is missing"), "{err}");
    assert!(err.message().contains("OS_TOKEN"), "{err}");
}

#[tokio::test]
async fn the_programmatic_constructor_uses_the_callers_token_and_catalog_as_they_are() {
    let server = MockServer::start().await;
    let uri = server.uri();
    // Already scoped to the project asked for: validated without a catalog, never rescoped.
    validate_given()
        .and(query_param("nocatalog", ""))
        .respond_with(validated(token_body(json!([]))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN_2, token_body(catalog(&uri))))
        .expect(0)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    mount_keypair(&server, GIVEN, 1).await;

    let config =
        CloudConfig::from_token("site-a", format!("{uri}/identity/v3"), GIVEN, Some(PROJECT))
            .with_region("RegionOne")
            .with_catalog(catalog(&uri))
            .unwrap();
    let connector = OpenStackConnector::for_sites(fast_options()).with_site("site-a", config);
    let clients = connector.site(&site("site-a")).await.unwrap();
    assert_eq!(clients.site, "site-a");
    assert_eq!(
        clients.identity.authenticate().await.unwrap().project_id,
        PROJECT
    );
    clients.compute.get_keypair("ops").await.unwrap().unwrap();

    // A site it was not given is a configuration error naming the sites it knows.
    let err = connector.site(&site("site-b")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert_eq!(err.context_value("site"), Some("site-b"));
    assert!(
        err.message()
            .contains("site 'site-b' has no credentials: this connector reads no clouds.yaml and was given credentials for site-a only"),
        "{err}"
    );

    // A catalog that is not one is refused when given.
    let err = CloudConfig::from_token("site-a", "https://k/v3", GIVEN, None)
        .with_catalog(json!({"not": "a list"}))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(
        err.message()
            .starts_with("cloud 'site-a': the service catalog given is not a Keystone v3 catalog"),
        "{err}"
    );
}

#[tokio::test]
async fn site_for_project_rescopes_the_given_token_once_per_project() {
    let server = MockServer::start().await;
    let uri = server.uri();
    // The given token is scoped to PROJECT; the tenant's project needs a rescoped token.
    mount_validated_then_rescoped(&server).await;
    mount_versions(&server, "2.100", "3.71").await;
    mount_keypair(&server, TOKEN_2, 2).await;
    let config =
        CloudConfig::from_token("site-a", format!("{uri}/identity/v3"), GIVEN, Some(PROJECT));
    let connector = OpenStackConnector::for_sites(fast_options()).with_site("site-a", config);
    let scoped = connector
        .site_for_project(&site("site-a"), "tenant-project-id")
        .await
        .unwrap();
    scoped.compute.get_keypair("ops").await.unwrap().unwrap();
    // Kept: the second use shares the rescoped token (each mock expects one request).
    let again = connector
        .site_for_project(&site("site-a"), "tenant-project-id")
        .await
        .unwrap();
    again.compute.get_keypair("ops").await.unwrap().unwrap();
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated_naming_the_site_and_asking_for_a_new_login() {
    let server = MockServer::start().await;
    let uri = server.uri();
    validate_given()
        .respond_with(keystone_401())
        .expect(1)
        .mount(&server)
        .await;
    let config = CloudConfig::from_token("site-a", format!("{uri}/identity/v3"), GIVEN, None);
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    let err = cloud.identity().authenticate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        "cloud 'site-a': Keystone refused the token protector was given (it has expired or was revoked); protector cannot renew a token it did not issue: log in again and pass the new token"
    );
    assert_eq!(err.context_value("cloud"), Some("site-a"));
    assert_eq!(err.context_value("request_id"), Some("req-refused"));
    assert!(!format!("{err} {err:?}").contains(GIVEN));

    // Rescoping refused: the project is named, as a missing role is the other cause.
    let server = MockServer::start().await;
    let uri = server.uri();
    validate_given()
        .respond_with(validated(token_body(catalog(&uri))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(keystone_401())
        .expect(1)
        .mount(&server)
        .await;
    let config = CloudConfig::from_token(
        "site-b",
        format!("{uri}/identity/v3"),
        GIVEN,
        Some("other-project"),
    );
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    let err = cloud.identity().authenticate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(
        err.message().starts_with("cloud 'site-b': Keystone refused the token protector was given (it has expired or was revoked, or its user has no role in project other-project)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_that_expires_while_in_use_fails_after_one_check_without_a_loop() {
    let server = MockServer::start().await;
    let uri = server.uri();
    // Valid at first, then Keystone no longer knows it ("Could not find token: <token>").
    validate_given()
        .respond_with(validated(token_body(catalog(&uri))))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    validate_given()
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": {"code": 404,
                "title": "Not Found", "message": format!("Could not find token: {GIVEN}")}})),
        )
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/os-keypairs/ops"))
        .respond_with(nova_fault(401, "unauthorized", "Authentication required"))
        .expect(1)
        .mount(&server)
        .await;
    let config = CloudConfig::from_token("site-a", format!("{uri}/identity/v3"), GIVEN, None);
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    cloud.identity().authenticate().await.unwrap();
    let err = cloud.compute().get_keypair("ops").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.message().contains("log in again"), "{err}");
    assert!(!format!("{err} {err:?}").contains(GIVEN));
    // One Nova call and two validations (the first, and the one after the 401), as the mocks
    // expect: no loop.
}

#[tokio::test]
async fn a_given_token_near_its_end_is_used_to_its_last_second() {
    let server = MockServer::start().await;
    let uri = server.uri();
    // A renewable token would be replaced a minute before its end; a given one cannot be.
    validate_given()
        .respond_with(validated(token_body_expiring(
            catalog(&uri),
            TimeDelta::seconds(60),
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    mount_keypair(&server, GIVEN, 2).await;
    let config = CloudConfig::from_token("site-a", format!("{uri}/identity/v3"), GIVEN, None);
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    cloud.compute().get_keypair("ops").await.unwrap().unwrap();
    cloud.compute().get_keypair("ops").await.unwrap().unwrap();
}

#[test]
fn the_token_is_in_no_debug_output() {
    let config = CloudConfig::from_token("site-a", "https://k/v3", GIVEN, Some("p"));
    let method = AuthMethod::token(Secret::new(GIVEN), None);
    let connector =
        OpenStackConnector::for_sites(ClientOptions::default()).with_site("site-a", config.clone());
    let cloud = OpenStackCloud::new(config.clone()).unwrap();
    let scoped = config.scoped_to_project("q").unwrap();
    for shown in [
        format!("{config:?}"),
        format!("{method:?}"),
        format!("{connector:?}"),
        format!("{cloud:?}"),
        format!("{scoped:?}"),
    ] {
        assert!(!shown.contains(GIVEN), "{shown}");
    }
    assert_eq!(
        scoped.auth(),
        &AuthMethod::token(GIVEN, Some(ProjectRef::Id("q".into())))
    );
}
