//! The engine's SiteConnector: a site's clouds.yaml entry, built once, one token per site.

use protector_core::api::SiteConnector;
use protector_core::model::{Site, SiteStatus, SiteType};
use protector_core::ErrorKind;
use protector_openstack::{ConfigLoader, OpenStackConnector};
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer};

use super::support::*;

fn site(name: &str, cloud: Option<&str>) -> Site {
    Site {
        id: uuid::Uuid::new_v4(),
        name: name.into(),
        description: String::new(),
        site_type: SiteType::Secondary,
        auth_url: "ignored: clouds.yaml has it".into(),
        region_name: "RegionOne".into(),
        status: SiteStatus::Active,
        cloud: cloud.map(str::to_string),
        created_at: chrono::Utc::now(),
    }
}

#[tokio::test]
async fn sites_get_their_clouds_yaml_entry_and_share_one_token() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clouds.yaml"),
        format!(
            "clouds:\n  dr-cloud:\n    auth: {{auth_url: '{uri}/identity/v3', user_id: u, password: '{PASSWORD}', project_id: p}}\n"
        ),
    )
    .unwrap();
    let loader = ConfigLoader::new([("HOME", "/nonexistent")])
        .with_current_dir(dir.path())
        .with_system_dir(dir.path().join("etc"));
    let connector = OpenStackConnector::new(loader, fast_options());
    let site_b = site("site-b", Some("dr-cloud"));

    let first = connector.site(&site_b).await.unwrap();
    assert_eq!(first.site, "site-b");
    first.identity.authenticate().await.unwrap();
    let second = connector.site(&site_b).await.unwrap();
    second.identity.authenticate().await.unwrap();
    assert!(!format!("{connector:?}").contains(PASSWORD));

    let err = connector.site(&site("site-x", None)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(
        err.message().starts_with("cloud 'site-x' is not in "),
        "{err}"
    );
    assert_eq!(err.context_value("site"), Some("site-x"));
}

#[tokio::test]
async fn site_for_project_rescopes_the_password_and_refuses_an_application_credential() {
    let server = MockServer::start().await;
    let uri = server.uri();
    // Only a request scoped to the tenant's project by id gets a token.
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .and(body_partial_json(json!({"auth": {
            "identity": {"password": {"user": {"id": "u"}}},
            "scope": {"project": {"id": "tenant-project-id"}}}})))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clouds.yaml"),
        format!(
            "clouds:\n  dr-cloud:\n    auth: {{auth_url: '{uri}/identity/v3', user_id: u, password: '{PASSWORD}', project_id: p}}\n  dr-appcred:\n    auth_type: v3applicationcredential\n    auth: {{auth_url: '{uri}/identity/v3', application_credential_id: c1, application_credential_secret: s3cret}}\n"
        ),
    )
    .unwrap();
    let loader = ConfigLoader::new([("HOME", "/nonexistent")])
        .with_current_dir(dir.path())
        .with_system_dir(dir.path().join("etc"));
    let connector = OpenStackConnector::new(loader, fast_options());

    let site_b = site("site-b", Some("dr-cloud"));
    let scoped = connector
        .site_for_project(&site_b, "tenant-project-id")
        .await
        .unwrap();
    scoped.identity.authenticate().await.unwrap();
    // Kept: the second use shares the token (the mock expects one request).
    let again = connector
        .site_for_project(&site_b, "tenant-project-id")
        .await
        .unwrap();
    again.identity.authenticate().await.unwrap();

    let err = connector
        .site_for_project(&site("site-b", Some("dr-appcred")), "tenant-project-id")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert!(
        err.message()
            .contains("application credential, which is bound to its own project"),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret"));
}
