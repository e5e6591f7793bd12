//! [`OpenStackCloud`]: one cloud's session and its four clients.

use std::fmt;
use std::sync::Arc;

use protector_core::api::SiteClients;
use protector_core::model::Site;
use protector_core::Result;

use crate::block_storage::BlockStorageClient;
use crate::compute::ComputeClient;
use crate::config::{CloudConfig, ConfigLoader};
use crate::identity::IdentityClient;
use crate::network::NetworkClient;
use crate::session::Session;
use crate::transport::ClientOptions;

/// One OpenStack cloud: its credentials, one HTTP client, one token shared by its Keystone,
/// Nova, Cinder and Neutron clients.
///
/// Building it checks the configuration and the TLS settings but does not contact the cloud;
/// the first call authenticates. Cloning is cheap and shares the token.
///
/// ```no_run
/// # async fn run() -> protector_core::Result<()> {
/// use protector_openstack::OpenStackCloud;
///
/// let cloud = OpenStackCloud::from_clouds_yaml(Some("site-b"))?;
/// let clients = cloud.site_clients("site-b");
/// let me = clients.identity.authenticate().await?;
/// println!("{} in {}", me.user_name, me.project_name);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct OpenStackCloud {
    session: Arc<Session>,
    identity: Arc<IdentityClient>,
    compute: Arc<ComputeClient>,
    block_storage: Arc<BlockStorageClient>,
    network: Arc<NetworkClient>,
}

impl fmt::Debug for OpenStackCloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenStackCloud")
            .field("cloud", &self.session.config().name())
            .field("auth_url", &self.session.config().auth_url())
            .finish_non_exhaustive()
    }
}

impl OpenStackCloud {
    /// Clients for `config` with the default [`ClientOptions`].
    pub fn new(config: CloudConfig) -> Result<Self> {
        Self::with_options(config, ClientOptions::default())
    }

    /// Clients for `config`.
    ///
    /// Fails with `ConfigInvalid` for a bad `auth_url` or an unreadable `cacert`.
    pub fn with_options(config: CloudConfig, options: ClientOptions) -> Result<Self> {
        let session = Arc::new(Session::new(config, options)?);
        Ok(OpenStackCloud {
            identity: Arc::new(IdentityClient::new(Arc::clone(&session))),
            compute: Arc::new(ComputeClient::new(Arc::clone(&session))),
            block_storage: Arc::new(BlockStorageClient::new(Arc::clone(&session))),
            network: Arc::new(NetworkClient::new(Arc::clone(&session))),
            session,
        })
    }

    /// Clients for the clouds.yaml entry `cloud` (or `$OS_CLOUD`, or the `OS_*` variables),
    /// read from this process's environment as the openstack CLI would.
    pub fn from_clouds_yaml(cloud: Option<&str>) -> Result<Self> {
        Self::new(ConfigLoader::from_process().load(cloud)?)
    }

    /// Clients for a registered site: its clouds.yaml entry ([`Site::cloud_name`]), with the
    /// site's region when the entry names none.
    pub fn for_site(site: &Site, loader: &ConfigLoader, options: ClientOptions) -> Result<Self> {
        let mut config = loader.load(Some(site.cloud_name()))?;
        if config.region_name().is_none() && !site.region_name.trim().is_empty() {
            config = config.with_region(site.region_name.clone());
        }
        Self::with_options(config, options)
    }

    /// The session its clients share (token, HTTP client).
    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// The configuration in use.
    pub fn config(&self) -> &CloudConfig {
        self.session.config()
    }

    /// Keystone.
    pub fn identity(&self) -> Arc<IdentityClient> {
        Arc::clone(&self.identity)
    }

    /// Nova.
    pub fn compute(&self) -> Arc<ComputeClient> {
        Arc::clone(&self.compute)
    }

    /// Cinder.
    pub fn block_storage(&self) -> Arc<BlockStorageClient> {
        Arc::clone(&self.block_storage)
    }

    /// Neutron.
    pub fn network(&self) -> Arc<NetworkClient> {
        Arc::clone(&self.network)
    }

    /// The four clients as the engine takes them, for the site named `site`.
    pub fn site_clients(&self, site: impl Into<String>) -> SiteClients {
        SiteClients {
            site: site.into(),
            identity: self.identity(),
            compute: self.compute(),
            block_storage: self.block_storage(),
            network: self.network(),
        }
    }
}
