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

use protector_core::api::CombinedConnector;
use protector_core::store::Store;
use protector_core::{Protector, Result};
use protector_openstack::{ClientOptions, OpenStackConnector};
use protector_pure::FlashArrayConnector;

pub use config::{EngineConfig, DEFAULT_CLOUDS_FILE};
pub use worker::{ShutdownReport, Worker, WorkerOptions};

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
    let connector = CombinedConnector {
        sites: Arc::new(OpenStackConnector::new(
            config.clouds(),
            ClientOptions::default(),
        )),
        arrays: Arc::new(FlashArrayConnector::new()),
    };
    let mut builder = Protector::builder()
        .with_local_site(&config.site_name)
        .with_store(&config.site_name, store)
        .with_connector(Arc::new(connector))
        .with_options(config.engine.clone());
    if let Some((site, peer)) = peer_store {
        builder = builder.with_store(site, peer);
    }
    builder.build()
}
