//! Site mode (issue 15): a site whose Keystone catalog lists its protector-api keeps its
//! metadata there, not in the caller's state directory; the state directory remembers the
//! API, and a site that already has a store file there keeps it.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use protector_core::api::{ArrayApi, Connector, SiteClients};
use protector_core::engine::{EngineOptions, PollPolicy, RegisterSite};
use protector_core::model::{ArrayEndpoint, Site, SiteType};
use protector_core::store::{OpenState, SecretKey, SqliteStore, StateDir, Store};
use protector_core::{Error, ErrorKind, Result};
use protector_mock::{SimConnector, Simulator};

const API_A: &str = "http://site-a.example:8788/v1/project-a";

/// The simulator's clients, with a protector-api on site-a only: its "API" is a store of its
/// own, standing for the service (the HTTP path has its own tests in protector-service).
#[derive(Debug)]
struct WithApi {
    inner: SimConnector,
    api_store: Arc<dyn Store>,
    /// Sites whose catalog was looked at.
    asked: Mutex<Vec<String>>,
    /// Whether site-a's Keystone answers the catalog lookup.
    keystone_up: bool,
}

#[async_trait]
impl Connector for WithApi {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        self.inner.site(site).await
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        self.inner.array(endpoint).await
    }

    async fn metadata_service(&self, site: &str) -> Result<Option<String>> {
        self.asked.lock().unwrap().push(site.to_string());
        if !self.keystone_up {
            return Err(Error::unavailable("site-a's Keystone does not answer"));
        }
        Ok((site == "site-a").then(|| API_A.to_string()))
    }

    async fn metadata_store(&self, site: &str, endpoint: &str) -> Result<Arc<dyn Store>> {
        assert_eq!((site, endpoint), ("site-a", API_A));
        Ok(self.api_store.clone())
    }
}

fn request(local: &str) -> OpenState {
    OpenState {
        local_site: local.to_string(),
        extra_sites: Vec::new(),
        local_site_configured: true,
        skip: None,
        options: EngineOptions {
            poll: PollPolicy::immediate(100),
            member_concurrency: 4,
            ..EngineOptions::default()
        },
    }
}

#[tokio::test]
async fn a_site_with_a_protector_api_keeps_its_metadata_there() {
    let sim = Simulator::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let api_store: Arc<dyn Store> =
        Arc::new(SqliteStore::in_memory(SecretKey::generate()).unwrap());
    let connector = Arc::new(WithApi {
        inner: sim.connector(),
        api_store: api_store.clone(),
        asked: Mutex::new(Vec::new()),
        keystone_up: true,
    });
    let state = StateDir::new(dir.path());
    let engine = state
        .open(request("site-a"), connector.clone())
        .await
        .unwrap();
    assert!(engine.services.contains_key("site-a"));
    assert_eq!(
        engine.services.get("site-a").map(String::as_str),
        Some(API_A)
    );
    // A registration made through the engine lands in the API's store, not in a file here.
    let reg = sim.site_registration("site-a").unwrap();
    engine
        .protector
        .register_site(RegisterSite {
            name: reg.name,
            description: reg.description,
            site_type: SiteType::Primary,
            auth_url: reg.auth_url,
            region_name: reg.region_name,
            cloud: None,
        })
        .await
        .unwrap();
    assert_eq!(api_store.list_sites().await.unwrap().len(), 1);
    assert!(!dir.path().join("site-a.db").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("site-a.api")).unwrap(),
        format!("{API_A}\n")
    );

    // The next run remembers the API without asking Keystone, even while it is down.
    let offline = Arc::new(WithApi {
        inner: sim.connector(),
        api_store: api_store.clone(),
        asked: Mutex::new(Vec::new()),
        keystone_up: false,
    });
    let again = state
        .open(request("site-a"), offline.clone())
        .await
        .unwrap();
    assert!(again.services.contains_key("site-a"));
    assert!(!offline
        .asked
        .lock()
        .unwrap()
        .contains(&"site-a".to_string()));
    assert_eq!(again.protector.sites().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_site_with_a_store_file_here_stays_embedded() {
    let sim = Simulator::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An embedded store of site-a made before the site had a protector-api.
    let key = SecretKey::load_or_create(&dir.path().join("secret.key")).unwrap();
    drop(SqliteStore::open(&dir.path().join("site-a.db"), key).unwrap());
    let connector = Arc::new(WithApi {
        inner: sim.connector(),
        api_store: Arc::new(SqliteStore::in_memory(SecretKey::generate()).unwrap()),
        asked: Mutex::new(Vec::new()),
        keystone_up: true,
    });
    let engine = StateDir::new(dir.path())
        .open(request("site-a"), connector.clone())
        .await
        .unwrap();
    assert!(!engine.operations_run_on_site());
    assert!(engine.services.is_empty());
    assert!(connector.asked.lock().unwrap().is_empty());
    assert!(!dir.path().join("site-a.api").exists());
}

#[tokio::test]
async fn a_keystone_that_cannot_be_asked_leaves_a_new_site_embedded() {
    let sim = Simulator::in_memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(WithApi {
        inner: sim.connector(),
        api_store: Arc::new(SqliteStore::in_memory(SecretKey::generate()).unwrap()),
        asked: Mutex::new(Vec::new()),
        keystone_up: false,
    });
    let engine = StateDir::new(dir.path())
        .open(request("site-a"), connector.clone())
        .await
        .unwrap();
    assert!(!engine.operations_run_on_site());
    assert_eq!(*connector.asked.lock().unwrap(), ["site-a"]);
    assert!(!dir.path().join("site-a.api").exists());
    let refused = connector.metadata_service("site-a").await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable);
}
