//! # protector-connect
//!
//! A protector engine against real clouds in one line: from clouds.yaml names and a state
//! directory ([`from_clouds`], what the `protector` CLI does) or from a Keystone token the
//! caller already holds ([`from_token`], what Horizon and the OSC plugin do).
//!
//! `protector-core` holds the engine and every default; it has no HTTP, and the HTTP clients
//! (`protector-openstack`, `protector-pure`) depend on it, so these constructors cannot live
//! in it without a dependency cycle. This crate joins them: it hands
//! [`StateDir::open_site`](protector_core::store::StateDir::open_site) the HTTP connector.
//! For tests and the embedded simulator, `protector_core::Protector::in_memory` needs no
//! network and no extra crate.
//!
//! ```no_run
//! # async fn demo() -> protector_core::Result<()> {
//! // The clouds.yaml entry `site-a`, the state in $PROTECTOR_STATE_DIR or ~/.local/share/protector.
//! let engine = protector_connect::from_clouds("site-a", None).await?.protector;
//! for group in engine.groups().await? {
//!     println!("{} on {}", group.name, group.current_primary_site);
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use protector_core::api::{CombinedConnector, Connector, WithHookCaller};
use protector_core::store::{LocalEngine, StateDir};
use protector_core::Result;
use protector_openstack::{ConfigLoader, HttpHookCaller, OpenStackConnector};
use protector_pure::FlashArrayConnector;

pub use protector_core;
pub use protector_openstack::CloudConfig;

/// The engine standing on `site`, a clouds.yaml entry (found as the openstack CLI finds it:
/// `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
/// `/etc/openstack/clouds.yaml`, plus `OS_*`), with its state in `state_dir` (`None`:
/// [`StateDir::resolve`]). Each site is reached with the credentials of its clouds.yaml
/// entry, each FlashArray with its group's policy. What the `protector` CLI opens.
///
/// Polls start at 2 s and back off to 15 s (`PROTECTOR_POLL_INTERVAL_MS` shortens them for a
/// served simulator). Errors: `ConfigInvalid` when clouds.yaml cannot be read or the state
/// directory cannot be created; `NotFound` when `site` is neither a clouds.yaml entry nor a
/// site registered in the state directory.
pub async fn from_clouds(site: &str, state_dir: Option<PathBuf>) -> Result<LocalEngine> {
    let configured = knows_cloud(site)?;
    StateDir::resolve(state_dir)?
        .open_site(site, configured, clouds_connector())
        .await
}

/// The engine standing on `site` with `config`, a Keystone token the caller already holds
/// (`CloudConfig::from_token`, optionally with its service catalog, region, interface and CA):
/// the peer site's credentials still come from its clouds.yaml entry. The token lives in the
/// engine only; nothing is stored. State and errors as for [`from_clouds`].
pub async fn from_token(
    site: &str,
    config: CloudConfig,
    state_dir: Option<PathBuf>,
) -> Result<LocalEngine> {
    StateDir::resolve(state_dir)?
        .open_site(site, true, token_connector(site, config))
        .await
}

/// The HTTP connector of [`from_clouds`]: each site's clouds.yaml entry, each FlashArray's
/// endpoint, and URL hooks.
pub fn clouds_connector() -> Arc<dyn Connector> {
    with_url_hooks(Arc::new(CombinedConnector {
        sites: Arc::new(OpenStackConnector::from_process()),
        arrays: Arc::new(FlashArrayConnector::new()),
    }))
}

/// The HTTP connector of [`from_token`]: `site` with `config`, the other sites with their
/// clouds.yaml entries.
pub fn token_connector(site: &str, config: CloudConfig) -> Arc<dyn Connector> {
    with_url_hooks(Arc::new(CombinedConnector {
        sites: Arc::new(OpenStackConnector::from_process().with_site(site.to_string(), config)),
        arrays: Arc::new(FlashArrayConnector::new()),
    }))
}

/// `connector` with protector-openstack's HTTP client for URL hooks. Without it (when that
/// client cannot be built) a URL hook fails with `Unsupported`, naming the hook.
pub fn with_url_hooks(connector: Arc<dyn Connector>) -> Arc<dyn Connector> {
    match HttpHookCaller::new() {
        Ok(caller) => Arc::new(WithHookCaller {
            inner: connector,
            caller: Arc::new(caller),
        }),
        Err(_) => connector,
    }
}

/// Whether `name` is an entry of the clouds.yaml this process finds. `ConfigInvalid` when
/// that clouds.yaml cannot be read.
pub fn knows_cloud(name: &str) -> Result<bool> {
    Ok(ConfigLoader::from_process()
        .cloud_names()?
        .iter()
        .any(|c| c == name))
}

#[cfg(test)]
mod tests {
    use protector_core::ErrorKind;

    /// One test: it sets the process's `OS_CLIENT_CONFIG_FILE`.
    #[tokio::test]
    async fn from_clouds_stands_on_a_clouds_yaml_entry_and_refuses_an_unknown_site() {
        let dir = tempfile::tempdir().unwrap();
        let clouds = dir.path().join("clouds.yaml");
        // A Keystone that refuses connections at once: opening does not need it.
        std::fs::write(
            &clouds,
            "clouds:\n  site-a:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n      \
             username: admin\n      password: secret\n      project_name: admin\n      \
             user_domain_name: Default\n      project_domain_name: Default\n",
        )
        .unwrap();
        std::env::set_var("OS_CLIENT_CONFIG_FILE", &clouds);
        assert!(super::knows_cloud("site-a").unwrap());

        let state = dir.path().join("state");
        let opened = super::from_clouds("site-a", Some(state.clone()))
            .await
            .unwrap();
        assert_eq!(opened.protector.local_site(), "site-a");
        assert!(state.join("site-a.db").is_file());

        let empty = dir.path().join("empty");
        let err = super::from_clouds("site-z", Some(empty)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.message().contains("'site-z'"), "{}", err.message());
    }
}
