//! The engine's SiteConnector: a site's clouds.yaml entry, built once, one token per site.

use protector_core::api::SiteConnector;
use protector_core::model::{Site, SiteStatus, SiteType};
use protector_core::ErrorKind;
use protector_openstack::{ConfigLoader, OpenStackConnector};
use wiremock::matchers::{method, path};
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
