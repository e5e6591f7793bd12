//! `protector-engine`: workers that claim the site's queued operations from its store, run
//! them with protector-core's runner, and resume the operations of workers that died.
//!
//! Any number of engine processes, on one host or several, share one site's store. A worker
//! claims an operation with a lease in the store ([`Store::acquire_lease`], judged by the
//! store's clock), renews it while the operation runs, and releases it at the end. A `pending`
//! operation is run ([`Protector::run`]); a `running` one whose lease lapsed (its worker died)
//! is continued from its journal ([`Protector::recover_operation`]). The operation's lock
//! ([`Store::lock_operation`]) still guards every run: a worker that lost its lease while its
//! operation runs is never joined by a second runner. SIGTERM stops claiming at once and waits
//! for the running operations up to `[engine] shutdown_timeout`; an operation still running then
//! is left to its lease, and another worker resumes it.
//!
//! [`Store::acquire_lease`]: protector_core::store::Store::acquire_lease
//! [`Store::lock_operation`]: protector_core::store::Store::lock_operation

mod config;
mod worker;

use std::sync::Arc;

use protector_core::api::{CombinedConnector, Connector};
use protector_core::store::Store;
use protector_core::{Protector, Result};
use protector_openstack::{ClientOptions, OpenStackConnector};
use protector_pure::FlashArrayConnector;

pub use config::{EngineConfig, DEFAULT_CLOUDS_FILE};
pub use worker::{EngineSource, ShutdownReport, Worker, WorkerOptions};

/// The engine of site `config.site_name` over `store` (its database) and, when given,
/// `peer_store` (the peer site's metadata). OpenStack and the FlashArrays are reached with the
/// clouds.yaml of `config` (cloud names are site names) and each group's array endpoints.
///
/// Without `peer_store` the peer is treated as unreachable for metadata: a change that needs
/// both sites is refused, an operation that must record what it did marks the peer out of
/// sync (`sync-force` catches it up).
pub fn build_protector(
    config: &EngineConfig,
    store: Arc<dyn Store>,
    peer_store: Option<(String, Arc<dyn Store>)>,
) -> Result<Protector> {
    let connector = connector(config);
    build_with(config, store, peer_store, connector)
}

/// The engine's transport: the clouds.yaml of `config` for OpenStack, each group's endpoints
/// for the FlashArrays.
fn connector(config: &EngineConfig) -> Arc<dyn Connector> {
    let inner: Arc<dyn Connector> = Arc::new(CombinedConnector {
        sites: Arc::new(OpenStackConnector::new(
            config.clouds(),
            ClientOptions::default(),
        )),
        arrays: Arc::new(FlashArrayConnector::new()),
    });
    // URL hooks; without their client they fail with `Unsupported`, naming the hook.
    match protector_openstack::HttpHookCaller::new() {
        Ok(caller) => Arc::new(protector_core::api::WithHookCaller {
            inner,
            caller: Arc::new(caller),
        }),
        Err(_) => inner,
    }
}

/// [`build_protector`] with the peer sites' metadata found the way a front-end finds it: every
/// other site registered in `store` whose Keystone catalog (read with the engine's clouds.yaml
/// credentials for that site) lists its protector-api. A peer whose catalog cannot be read now
/// is left out with a warning: the engine then marks that peer out of sync when an operation
/// ends (`sync-force` from a workstation catches it up), as for any unreachable peer.
pub async fn build_with_peers(config: &EngineConfig, store: Arc<dyn Store>) -> Result<Protector> {
    build_with_peers_over(config, store, connector(config)).await
}

/// An [`EngineSource`] that builds each claimed operation's engine with
/// [`build_with_peers`], over one connector (its tokens are kept between operations).
pub fn peer_discovery(config: &EngineConfig, store: Arc<dyn Store>) -> EngineSource {
    let config = Arc::new(config.clone());
    let connector = connector(&config);
    Arc::new(move || {
        let config = config.clone();
        let store = store.clone();
        let connector = connector.clone();
        Box::pin(async move { build_with_peers_over(&config, store, connector).await })
    })
}

async fn build_with_peers_over(
    config: &EngineConfig,
    store: Arc<dyn Store>,
    connector: Arc<dyn Connector>,
) -> Result<Protector> {
    let mut peers = Vec::new();
    for site in store.list_sites().await? {
        if site.name == config.site_name {
            continue;
        }
        let found = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            connector.metadata_service(&site.name),
        )
        .await;
        match found {
            Ok(Ok(Some(url))) => match connector.metadata_store(&site.name, &url).await {
                Ok(peer) => {
                    tracing::info!(peer = %site.name, api = %url, "peer site's metadata: its protector-api");
                    peers.push((site.name.clone(), peer));
                }
                Err(e) => {
                    tracing::warn!(peer = %site.name, error = %e, "cannot use the peer site's protector-api")
                }
            },
            Ok(Ok(None)) => {
                tracing::warn!(peer = %site.name, "the peer site's catalog lists no protector-api: its metadata is not updated by this engine")
            }
            Ok(Err(e)) => {
                tracing::warn!(peer = %site.name, error = %e, "cannot read the peer site's catalog: its metadata is marked out of sync when an operation ends")
            }
            Err(_) => {
                tracing::warn!(peer = %site.name, "the peer site's Keystone did not answer within 5 s: its metadata is marked out of sync when an operation ends")
            }
        }
    }
    let mut builder = Protector::builder()
        .with_local_site(&config.site_name)
        .with_store(&config.site_name, store)
        .with_connector(connector)
        .with_options(config.engine.clone())
        .with_command_hooks(config.allow_command_hooks);
    for (site, peer) in peers {
        builder = builder.with_store(site, peer);
    }
    builder.build()
}

fn build_with(
    config: &EngineConfig,
    store: Arc<dyn Store>,
    peer_store: Option<(String, Arc<dyn Store>)>,
    connector: Arc<dyn Connector>,
) -> Result<Protector> {
    let mut builder = Protector::builder()
        .with_local_site(&config.site_name)
        .with_store(&config.site_name, store)
        .with_connector(connector)
        .with_options(config.engine.clone())
        .with_command_hooks(config.allow_command_hooks);
    if let Some((site, peer)) = peer_store {
        builder = builder.with_store(site, peer);
    }
    builder.build()
}
