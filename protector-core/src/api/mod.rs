//! One trait per external system. Each is object-safe, `#[async_trait]`, held as `Arc<dyn …>`,
//! and each method documents its contract: what an already-done call returns and whether a
//! missing resource is `Ok(None)` or `NotFound`.

mod array;
mod block_storage;
mod capacity;
mod compute;
mod hook;
mod identity;
mod network;

pub use array::{
    ArrayApi, ArrayCapabilities, ArrayConnection, ArrayInfo, ArrayProtectionGroup, ArrayVolume,
    CopyVolume, CreatePgSnapshot, PgParts, PgSnapshot, PgSnapshotTransfer, PgTarget, Pod, PodArray,
    VolumeSnapshot,
};
pub use block_storage::{
    BlockStorageApi, CreateVolumeGroup, ListVolumes, ManageVolume, Volume, VolumeAttachment,
    VolumeGroup, VolumeService, VolumeType,
};
pub use capacity::{AvailabilityZone, ComputeLimits, Hypervisor, QuotaUsage, VolumeLimits};
pub use compute::{
    AttachedVolume, BlockDevice, ComputeApi, CreateServer, Flavor, Keypair, ListServers, Server,
    ServerStatus,
};
pub use hook::{HookCaller, HookRequest, HookResponse, WithHookCaller};
pub use identity::{AuthInfo, IdentityApi};
pub use network::{
    CreatePort, ListPorts, Network, NetworkApi, Port, PortFixedIp, SecurityGroup, Subnet,
};

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{ArrayEndpoint, Site};
use crate::store::Store;

/// The OpenStack clients of one site.
#[derive(Debug, Clone)]
pub struct SiteClients {
    /// Site name.
    pub site: String,
    /// Keystone.
    pub identity: Arc<dyn IdentityApi>,
    /// Nova.
    pub compute: Arc<dyn ComputeApi>,
    /// Cinder.
    pub block_storage: Arc<dyn BlockStorageApi>,
    /// Neutron.
    pub network: Arc<dyn NetworkApi>,
}

/// Builds clients for registered sites and arrays: the seam between the engine and a
/// transport (HTTP clients, or the in-process simulator).
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug + 'static {
    /// Clients for `site`. Must not contact the site: reachability is checked by callers.
    async fn site(&self, site: &Site) -> Result<SiteClients>;

    /// Clients for `site` acting in project `project_id` (a Keystone project id of that site):
    /// the same user as [`Connector::site`], with tokens scoped to that project, so that what
    /// they create (volumes, ports, servers) belongs to it. Used for groups of other tenants,
    /// e.g. by a site failover.
    ///
    /// # Behavior
    /// - Must not contact the site. A user without a role in the project is refused when the
    ///   clients first authenticate (`Unauthenticated`, as Keystone refuses the scope).
    /// - `ConfigInvalid` when the credentials cannot be re-scoped (an application credential is
    ///   bound to its own project).
    /// - The default returns [`Connector::site`]'s clients unchanged: a transport that knows
    ///   only one project. Callers compare the project they authenticate into.
    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        let _ = project_id;
        self.site(site).await
    }

    /// A client for the array at `endpoint`. Must not contact the array.
    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>>;

    /// The protector-api of the site named `site` (a clouds.yaml entry of that name), when it
    /// has one: its endpoint URL (project substituted), from the site's Keystone catalog
    /// (service type `protector`) or the transport's configuration. `Ok(None)`: the site keeps
    /// its metadata in the caller's embedded store. May contact the site's Keystone.
    async fn metadata_service(&self, site: &str) -> Result<Option<String>> {
        let _ = site;
        Ok(None)
    }

    /// The metadata store of `site` served by its protector-api at `endpoint` (a URL that
    /// [`Connector::metadata_service`] returned, possibly on an earlier run): a `Store` whose
    /// every call goes to that API with the site's credentials. Must not contact the site.
    async fn metadata_store(&self, site: &str, endpoint: &str) -> Result<Arc<dyn Store>> {
        let _ = endpoint;
        Err(crate::error::Error::new(
            crate::error::ErrorKind::Unsupported,
            format!("this transport cannot reach site '{site}''s protector-api"),
        ))
    }

    /// What makes the HTTP calls of URL hooks, when this transport has one ([`WithHookCaller`]
    /// adds one to any connector). `None`: a URL hook fails with `Unsupported`.
    fn hook_caller(&self) -> Option<Arc<dyn HookCaller>> {
        None
    }
}

/// Hands out OpenStack clients for registered sites: one half of a [`Connector`].
#[async_trait]
pub trait SiteConnector: Send + Sync + std::fmt::Debug + 'static {
    /// Clients for `site`. Must not contact the site.
    async fn site(&self, site: &Site) -> Result<SiteClients>;

    /// Clients for `site` scoped to project `project_id`; see [`Connector::site_for_project`].
    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        let _ = project_id;
        self.site(site).await
    }

    /// The protector-api of the site named `site` (a clouds.yaml entry of that name), when it
    /// has one: its endpoint URL (project substituted), from the site's Keystone catalog
    /// (service type `protector`) or the transport's configuration. `Ok(None)`: the site keeps
    /// its metadata in the caller's embedded store. May contact the site's Keystone.
    async fn metadata_service(&self, site: &str) -> Result<Option<String>> {
        let _ = site;
        Ok(None)
    }

    /// The metadata store of `site` served by its protector-api at `endpoint` (a URL that
    /// [`SiteConnector::metadata_service`] returned, possibly on an earlier run): a `Store` whose
    /// every call goes to that API with the site's credentials. Must not contact the site.
    async fn metadata_store(&self, site: &str, endpoint: &str) -> Result<Arc<dyn Store>> {
        let _ = endpoint;
        Err(crate::error::Error::new(
            crate::error::ErrorKind::Unsupported,
            format!("this transport cannot reach site '{site}''s protector-api"),
        ))
    }
}

/// Hands out FlashArray clients: the other half of a [`Connector`].
#[async_trait]
pub trait ArrayConnector: Send + Sync + std::fmt::Debug + 'static {
    /// A client for the array at `endpoint`. Must not contact the array.
    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>>;
}

/// A [`Connector`] made of a site half and an array half, e.g. `protector-openstack`'s
/// clouds.yaml connector with `protector-pure`'s FlashArray connector.
#[derive(Debug, Clone)]
pub struct CombinedConnector {
    /// OpenStack clients.
    pub sites: Arc<dyn SiteConnector>,
    /// FlashArray clients.
    pub arrays: Arc<dyn ArrayConnector>,
}

#[async_trait]
impl Connector for CombinedConnector {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        self.sites.site(site).await
    }

    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        self.sites.site_for_project(site, project_id).await
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        self.arrays.array(endpoint).await
    }

    async fn metadata_service(&self, site: &str) -> Result<Option<String>> {
        self.sites.metadata_service(site).await
    }

    async fn metadata_store(&self, site: &str, endpoint: &str) -> Result<Arc<dyn Store>> {
        self.sites.metadata_store(site, endpoint).await
    }
}
