//! The ready-made engines (`protector_core::connect`): in memory for the simulator, and over a
//! state directory as the CLI and the Python module open it.

use std::sync::Arc;

use protector_core::api::Connector;
use protector_core::engine::RegisterSite;
use protector_core::model::SiteType;
use protector_core::store::{OpenState, StateDir};
use protector_core::{ErrorKind, Protector};
use protector_mock::Simulator;

#[test]
fn in_memory_refuses_a_site_name_that_cannot_name_a_store() {
    let sim = Simulator::in_memory().unwrap();
    let err = Protector::in_memory("site-a", ["../b"], sim.connector()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("'../b'"), "{}", err.message());
}

#[tokio::test]
async fn a_state_directory_keeps_what_was_registered_for_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::in_memory().unwrap();
    let connector: Arc<dyn Connector> = Arc::new(sim.connector());
    let state = StateDir::resolve(Some(dir.path().to_path_buf())).unwrap();
    for (site, kind) in [
        ("site-a", SiteType::Primary),
        ("site-b", SiteType::Secondary),
    ] {
        let auth_url = sim.site_registration(site).unwrap().auth_url;
        state
            .register_site(
                OpenState::new("site-a").configured(true),
                RegisterSite::new(site, kind, auth_url),
                connector.clone(),
            )
            .await
            .unwrap();
    }

    // site-b has no clouds.yaml entry here, but site-a's store knows it.
    let opened = state
        .open_site("site-b", false, connector.clone())
        .await
        .unwrap();
    assert_eq!(opened.protector.local_site(), "site-b");
    let mut sites: Vec<String> = opened
        .protector
        .sites()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    sites.sort();
    assert_eq!(sites, ["site-a", "site-b"]);

    let err = state
        .open_site("site-z", false, connector)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.message().contains("'site-z'"), "{}", err.message());
}
