//! Keystone: token requests, token reuse and renewal, catalog selection.

use chrono::Duration as TimeDelta;
use protector_core::api::{BlockStorageApi, ComputeApi, IdentityApi};
use protector_core::model::Secret;
use protector_core::ErrorKind;
use protector_openstack::config::{ApplicationCredentialRef, AuthMethod, Interface, UserRef};
use protector_openstack::{CloudConfig, OpenStackCloud, ServiceType};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::support::*;

fn keypair_body() -> serde_json::Value {
    json!({"keypair": {"name": "ops", "public_key": "ssh-ed25519 AAA", "fingerprint": "fp", "type": "ssh"}})
}

#[tokio::test]
async fn password_auth_sends_user_and_project_scope_and_reuses_the_token() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .and(header("Content-Type", "application/json"))
        .and(body_json(json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"name": "Default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}})))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .expect(1)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&uri), fast_options()).unwrap();

    let info = cloud.identity().authenticate().await.unwrap();
    assert_eq!(info.user_id, USER);
    assert_eq!(info.user_name, "admin");
    assert_eq!(info.project_id, PROJECT);
    assert_eq!(info.project_name, "demo");
    assert_eq!(info.roles, ["admin", "member"]);
    assert!(info.expires_at.is_some());
    assert!(info.has_role("admin"));
    // The second call reuses the token: the mock expects exactly one POST.
    cloud.identity().authenticate().await.unwrap();
}

async fn expect_token_body(auth: AuthMethod, expected: serde_json::Value) {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .and(body_json(expected))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .expect(1)
        .mount(&server)
        .await;
    let config = CloudConfig::new("test", format!("{uri}/identity/v3/"), auth);
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    cloud.identity().authenticate().await.unwrap();
}

#[tokio::test]
async fn application_credential_by_id_sends_no_scope() {
    expect_token_body(
        AuthMethod::ApplicationCredential {
            credential: ApplicationCredentialRef::Id("6d0b".into()),
            secret: Secret::new("app-secret"),
        },
        json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": "6d0b", "secret": "app-secret"}}}}),
    )
    .await;
}

#[tokio::test]
async fn application_credential_by_name_names_its_user_with_domain() {
    expect_token_body(
        AuthMethod::ApplicationCredential {
            credential: ApplicationCredentialRef::Name {
                name: "dr".into(),
                user: UserRef::Name {
                    name: "admin".into(),
                    domain: protector_openstack::config::DomainRef::Name("Default".into()),
                },
            },
            secret: Secret::new("app-secret"),
        },
        json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"name": "dr", "secret": "app-secret",
                "user": {"name": "admin", "domain": {"name": "Default"}}}}}}),
    )
    .await;
}

#[tokio::test]
async fn password_auth_by_ids() {
    expect_token_body(
        AuthMethod::Password {
            user: UserRef::Id("u-1".into()),
            password: Secret::new("pw"),
            project: Some(protector_openstack::config::ProjectRef::Id("p-1".into())),
        },
        json!({"auth": {"identity": {"methods": ["password"],
            "password": {"user": {"id": "u-1", "password": "pw"}}},
            "scope": {"project": {"id": "p-1"}}}}),
    )
    .await;
}

#[tokio::test]
async fn refused_credentials_are_unauthenticated_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-openstack-request-id", "req-ks-401")
                .set_body_json(json!({"error": {"code": 401,
                    "message": "The request you have made requires authentication.",
                    "title": "Unauthorized"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&server.uri()), fast_options()).unwrap();
    let err = cloud.identity().authenticate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        "authenticate to cloud 'test' failed: Keystone answered 401 Unauthorized: The request you have made requires authentication.; check the cloud's credentials in clouds.yaml/secure.yaml"
    );
    assert_eq!(err.context_value("request_id"), Some("req-ks-401"));
    assert_eq!(err.context_value("cloud"), Some("test"));
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
}

#[tokio::test]
async fn refused_credentials_on_the_reachability_probe_are_unauthenticated_not_unavailable() {
    // The engine's reachability check (`probe`) must not turn a wrong password into an outage.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"code": 401,
            "message": "The request you have made requires authentication.",
            "title": "Unauthorized"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&server.uri()), fast_options()).unwrap();
    let err = cloud.identity().probe().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!err.is_retryable());
    assert!(
        err.message().contains("check the cloud's credentials"),
        "{err}"
    );
}

#[tokio::test]
async fn a_probe_checks_a_cached_token_but_not_one_it_just_had_issued() {
    // Issuing the token is a round trip to Keystone already: no HEAD right after it. A cached
    // token is checked with Keystone (HEAD /v3/auth/tokens) on every probe.
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("HEAD"))
        .and(path(TOKENS_PATH))
        .and(header("X-Subject-Token", TOKEN))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&uri), fast_options()).unwrap();
    for _ in 0..3 {
        let info = cloud.identity().probe().await.unwrap();
        assert_eq!(info.project_id, PROJECT);
    }
}

#[tokio::test]
async fn unreachable_keystone_is_unavailable_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let cloud =
        OpenStackCloud::with_options(config(&format!("http://127.0.0.1:{port}")), fast_options())
            .unwrap();
    let err = cloud.identity().authenticate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        err.retry_status(),
        protector_core::error::RetryStatus::Persistent
    );
    assert!(
        err.message()
            .starts_with("authenticate to cloud 'test' failed: cannot connect to Keystone"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_near_expiry_is_renewed_before_use() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(
            TOKEN,
            token_body_expiring(catalog(&uri), TimeDelta::seconds(60)),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN_2, token_body(catalog(&uri))))
        .with_priority(2)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/os-keypairs/ops"))
        .and(header("X-Auth-Token", TOKEN_2))
        .respond_with(json_response(200, keypair_body()))
        .expect(1)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&uri), fast_options()).unwrap();
    cloud.identity().authenticate().await.unwrap();
    assert!(cloud.compute().get_keypair("ops").await.unwrap().is_some());
    cloud.identity().authenticate().await.unwrap();
    let posts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == TOKENS_PATH)
        .count();
    assert_eq!(posts, 2);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN_2, token_body(catalog(&uri))))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    mount_versions(&server, "2.100", "3.71").await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/os-keypairs/ops"))
        .and(header("X-Auth-Token", TOKEN))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/os-keypairs/ops"))
        .and(header("X-Auth-Token", TOKEN_2))
        .respond_with(json_response(200, keypair_body()))
        .expect(1)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&uri), fast_options()).unwrap();
    let keypair = cloud.compute().get_keypair("ops").await.unwrap().unwrap();
    assert_eq!(keypair.public_key, "ssh-ed25519 AAA");
}

#[tokio::test]
async fn a_second_401_is_unauthenticated() {
    let fixture = Fixture::start().await;
    Mock::given(method("GET"))
        .and(path("/compute/v2.1/os-keypairs/ops"))
        .respond_with(nova_fault(401, "unauthorized", "Authentication required"))
        .expect(2)
        .mount(&fixture.server)
        .await;
    let err = fixture
        .cloud
        .compute()
        .get_keypair("ops")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(fixture.requests_to(TOKENS_PATH).await, 2);
}

#[tokio::test]
async fn the_configured_interface_picks_the_endpoint() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/internal/compute/v2.1/"))
        .respond_with(json_response(
            200,
            json!({"version": {"id": "v2.1", "version": "2.90"}}),
        ))
        // Not read: the service took the call's microversion.
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/internal/compute/v2.1/os-keypairs/ops"))
        .and(header("X-OpenStack-Nova-API-Version", "2.2"))
        .respond_with(json_response(200, keypair_body()))
        .expect(1)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(
        config(&uri).with_interface(Interface::Internal),
        fast_options(),
    )
    .unwrap();
    assert!(cloud.compute().get_keypair("ops").await.unwrap().is_some());
}

#[tokio::test]
async fn an_unknown_region_is_a_configuration_error() {
    let fixture = Fixture::start().await;
    let cloud = OpenStackCloud::with_options(
        config(&fixture.server.uri()).with_region("RegionTwo"),
        fast_options(),
    )
    .unwrap();
    let err = cloud.compute().get_server("s1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(
        err.message().contains(
            "no public compute endpoint in region RegionTwo (available: public in RegionOne, internal in RegionOne)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_endpoint_override_replaces_the_catalog_and_expands_the_project() {
    let fixture = Fixture::start().await;
    let uri = fixture.server.uri();
    // No version document at the override: the preferred microversion is used.
    Mock::given(method("GET"))
        .and(path(format!("/override/v3/{PROJECT}/volumes/v1")))
        .and(header("OpenStack-API-Version", "volume 3.21"))
        .respond_with(json_response(
            200,
            json!({"volume": {"id": "v1", "status": "available", "size": 1}}),
        ))
        .expect(1)
        .mount(&fixture.server)
        .await;
    let cloud = OpenStackCloud::with_options(
        config(&uri).with_endpoint_override(
            ServiceType::BlockStorage,
            format!("{uri}/override/v3/$(project_id)s"),
        ),
        fast_options(),
    )
    .unwrap();
    let volume = cloud
        .block_storage()
        .get_volume("v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(volume.project_id, PROJECT);
}

#[tokio::test]
async fn an_unscoped_token_has_no_catalog_to_use() {
    let server = MockServer::start().await;
    let mut body = token_body(json!([]));
    body["token"].as_object_mut().unwrap().remove("project");
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, body))
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&server.uri()), fast_options()).unwrap();
    let info = cloud.identity().authenticate().await.unwrap();
    assert_eq!(info.project_id, "");
    let err = cloud.compute().list_flavors().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(
        err.message().contains("scope the credentials to a project"),
        "{err}"
    );
}

#[tokio::test]
async fn a_keystone_that_does_not_answer_in_time_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(
            token_response(TOKEN, token_body(catalog(&server.uri())))
                .set_delay(std::time::Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let options = protector_openstack::ClientOptions::default()
        .with_retry(protector_openstack::RetryConfig::disabled())
        .with_timeout(std::time::Duration::from_millis(200));
    let cloud = OpenStackCloud::with_options(config(&server.uri()), options).unwrap();
    let err = cloud.identity().authenticate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(
        err.message(),
        "authenticate to cloud 'test' failed: Keystone did not answer in time"
    );
    assert_eq!(err.context_value("cloud"), Some("test"));
}
