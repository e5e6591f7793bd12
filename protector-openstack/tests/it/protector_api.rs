//! RemoteStore against a wiremock protector-api: the endpoint from the catalog's `protector`
//! service or `protector_endpoint_override`, the server's errors back as the same core kinds
//! and messages, and a server out of reach named by its URL, never with the token.

use protector_core::store::remote::{status_of, ErrorBody, ErrorEnvelope};
use protector_core::store::{GroupDocument, Store, VersionCheck};
use protector_core::{Error, ErrorKind};
use protector_openstack::{OpenStackCloud, RemoteStore, ServiceType};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    catalog, config, fast_options, token_body, token_response, PROJECT, TOKEN, TOKENS_PATH,
};

/// Keystone whose catalog has protector-api at `{uri}/protector/v1/{PROJECT}`.
async fn keystone() -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    let mut entries = catalog(&uri);
    entries.as_array_mut().unwrap().push(json!({
        "type": "protector", "name": "protector", "endpoints": [
            {"interface": "public", "region_id": "RegionOne", "region": "RegionOne",
             "url": format!("{uri}/protector/v1/{PROJECT}")}]}));
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, token_body(entries)))
        .mount(&server)
        .await;
    server
}

fn error_body(error: &Error) -> ResponseTemplate {
    ResponseTemplate::new(status_of(error.kind()))
        .insert_header("x-openstack-request-id", "req-api-1")
        .set_body_json(ErrorEnvelope {
            error: ErrorBody::from_error(error, "req-api-1"),
        })
}

fn document(version: u64) -> GroupDocument {
    let mut group = protector_core::store::fixtures::group(1, "web");
    group.metadata.version = version;
    GroupDocument {
        group,
        members: Vec::new(),
        policy: None,
        mappings: Vec::new(),
    }
}

#[tokio::test]
async fn the_catalog_names_the_endpoint_and_the_token_goes_in_its_header() {
    let server = keystone().await;
    Mock::given(method("GET"))
        .and(path(format!("/protector/v1/{PROJECT}/protection-groups")))
        .and(header("X-Auth-Token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"protection_groups": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/protector/v1/{PROJECT}/protection-groups/{}/sync-log",
            Uuid::from_u128(1)
        )))
        .and(query_param("limit", "7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sync_log": []})))
        .expect(1)
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&server.uri()), fast_options()).unwrap();
    let store = RemoteStore::new(&cloud, "site-a");
    assert!(store.list_groups().await.unwrap().is_empty());
    assert!(store
        .list_sync_log(&Uuid::from_u128(1), 7)
        .await
        .unwrap()
        .is_empty());
    let shown = format!("{store:?}");
    assert!(
        shown.contains("site-a") && !shown.contains(TOKEN),
        "{shown}"
    );
}

#[tokio::test]
async fn protector_endpoint_override_replaces_the_catalog_with_the_project_substituted() {
    let server = keystone().await;
    Mock::given(method("GET"))
        .and(path(format!("/elsewhere/v1/{PROJECT}/sites")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sites": []})))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let config = config(&uri).with_endpoint_override(
        ServiceType::Protector,
        format!("{uri}/elsewhere/v1/%(tenant_id)s"),
    );
    let cloud = OpenStackCloud::with_options(config, fast_options()).unwrap();
    assert!(RemoteStore::new(&cloud, "site-a")
        .list_sites()
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ServiceType::from_config_key("protector"),
        Some(ServiceType::Protector)
    );
}

#[tokio::test]
async fn the_servers_errors_come_back_as_the_same_kinds_and_messages() {
    let server = keystone().await;
    let doc = document(3);
    let refused = Error::conflict("protection group web is at version 4, not 2: read it again")
        .with_context("stored_version", "4");
    Mock::given(method("PUT"))
        .and(path(format!(
            "/protector/v1/{PROJECT}/protection-groups/{}/document",
            doc.group.id
        )))
        .respond_with(error_body(&refused))
        .expect(1) // a compare-and-set is never re-sent
        .mount(&server)
        .await;
    let clash = Error::new(
        ErrorKind::AlreadyExists,
        "project-a already has a group named web",
    );
    Mock::given(method("POST"))
        .and(path(format!(
            "/protector/v1/{PROJECT}/operations/{}/journal",
            Uuid::from_u128(9)
        )))
        .respond_with(error_body(&clash))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/protector/v1/{PROJECT}/operations/{}",
            Uuid::from_u128(9)
        )))
        .respond_with(error_body(&Error::not_found("operation op-9 not found")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/protector/v1/{PROJECT}/operations")))
        .respond_with(
            ResponseTemplate::new(502).set_body_string("<html><h1>502 Bad Gateway</h1></html>"),
        )
        .mount(&server)
        .await;
    let cloud = OpenStackCloud::with_options(config(&server.uri()), fast_options()).unwrap();
    let store = RemoteStore::new(&cloud, "site-a");

    let err = store
        .apply_document_if(&doc, VersionCheck::Exactly(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(err.message(), refused.message());
    assert_eq!(err.context_value("stored_version"), Some("4"));
    assert_eq!(err.context_value("request_id"), Some("req-api-1"));

    let entry = protector_core::store::fixtures::journal(
        Uuid::from_u128(9),
        "step",
        protector_core::store::JournalKind::Intent,
    );
    let err = store.append_journal(&entry).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert_eq!(err.message(), clash.message());

    assert_eq!(
        store.get_operation(&Uuid::from_u128(9)).await.unwrap(),
        None
    );

    let err = store.list_operations().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("502 Bad Gateway"), "{err}");
}

#[tokio::test]
async fn a_protector_api_out_of_reach_is_unavailable_named_by_its_url() {
    let server = keystone().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let cloud = OpenStackCloud::with_options(config(&server.uri()), fast_options()).unwrap();
    let store = RemoteStore::with_endpoint(&cloud, "site-b", url.clone());
    let err = store.list_groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.message().starts_with(&format!(
            "the protector-api of site 'site-b' at {url}/v1/{PROJECT}/ cannot be reached"
        )),
        "{err}"
    );
    assert_eq!(err.context_value("site"), Some("site-b"));
    for shown in [err.to_string(), format!("{err:?}"), format!("{store:?}")] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }
}

/// Keystone whose catalog has no protector service.
async fn keystone_without_protector() -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("POST"))
        .and(path(TOKENS_PATH))
        .respond_with(token_response(TOKEN, token_body(catalog(&uri))))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn the_connector_finds_a_sites_protector_api_in_its_catalog_or_none() {
    use protector_core::api::SiteConnector;
    use protector_openstack::OpenStackConnector;

    let with = keystone().await;
    let without = keystone_without_protector().await;
    let connector = OpenStackConnector::for_sites(fast_options())
        .with_site("site-a", config(&with.uri()))
        .with_site("site-b", config(&without.uri()));
    // The root before `/v1/<project>`, the proxy prefix kept.
    assert_eq!(
        connector.metadata_service("site-a").await.unwrap(),
        Some(format!("{}/protector", with.uri()))
    );
    assert_eq!(connector.metadata_service("site-b").await.unwrap(), None);
    // A site this connector has no credentials for keeps its embedded store.
    assert_eq!(connector.metadata_service("site-c").await.unwrap(), None);
    // The store at that root talks to `<root>/v1/<token's project>`.
    Mock::given(method("GET"))
        .and(path(format!("/protector/v1/{PROJECT}/sites")))
        .and(header("X-Auth-Token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"sites": []})))
        .expect(1)
        .mount(&with)
        .await;
    let store = connector
        .metadata_store("site-a", &format!("{}/protector", with.uri()))
        .await
        .unwrap();
    assert!(store.list_sites().await.unwrap().is_empty());
    assert!(store.resumes_operations());
    let missing = connector
        .metadata_store("site-c", "http://nowhere:8788")
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::ConfigInvalid);
    assert!(missing.to_string().contains("clouds.yaml"), "{missing}");
}
