//! [`OpenStackConnector`]: OpenStack clients for the engine's registered sites.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use protector_core::api::{SiteClients, SiteConnector};
use protector_core::model::Site;
use protector_core::Result;

use crate::cloud::OpenStackCloud;
use crate::config::ConfigLoader;
use crate::transport::ClientOptions;

/// Cloud entry, region, and the project scope when it is not the entry's own.
type CloudKey = (String, String, Option<String>);

/// The engine's [`SiteConnector`] over clouds.yaml: each registered site gets the clients of
/// its clouds.yaml entry ([`Site::cloud_name`]), built once and kept, so the engine's many
/// `site()` calls share one token per site.
///
/// Pair it with `protector-pure`'s array connector in a
/// [`CombinedConnector`](protector_core::api::CombinedConnector).
pub struct OpenStackConnector {
    loader: ConfigLoader,
    options: ClientOptions,
    clouds: Mutex<HashMap<CloudKey, OpenStackCloud>>,
}

impl fmt::Debug for OpenStackConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clouds = self.clouds.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("OpenStackConnector")
            .field("loader", &self.loader)
            .field("clouds", &clouds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl OpenStackConnector {
    /// A connector reading clouds.yaml with `loader`.
    pub fn new(loader: ConfigLoader, options: ClientOptions) -> Self {
        OpenStackConnector {
            loader,
            options,
            clouds: Mutex::new(HashMap::new()),
        }
    }

    /// A connector over this process's environment, as the openstack CLI would read it.
    pub fn from_process() -> Self {
        Self::new(ConfigLoader::from_process(), ClientOptions::default())
    }
}

#[async_trait]
impl SiteConnector for OpenStackConnector {
    /// Clients for `site`; reads clouds.yaml the first time only. Does not contact the site.
    /// `ConfigInvalid` when the site's clouds.yaml entry is missing or wrong.
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        self.clients(site, None)
    }

    /// The site's clouds.yaml user and password scoped to `project_id` (one token per project,
    /// kept like the site's own). `ConfigInvalid` for an application credential, which cannot
    /// act outside its project. Does not contact the site.
    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        self.clients(site, Some(project_id))
    }
}

impl OpenStackConnector {
    fn clients(&self, site: &Site, project_id: Option<&str>) -> Result<SiteClients> {
        let key = (
            site.cloud_name().to_string(),
            site.region_name.clone(),
            project_id.map(str::to_string),
        );
        let mut clouds = self.clouds.lock().unwrap_or_else(PoisonError::into_inner);
        let cloud = match clouds.get(&key) {
            Some(cloud) => cloud.clone(),
            None => {
                let cloud = self
                    .build(site, project_id)
                    .map_err(|e| e.with_context("site", site.name.clone()))?;
                clouds.insert(key, cloud.clone());
                cloud
            }
        };
        Ok(cloud.site_clients(site.name.clone()))
    }

    fn build(&self, site: &Site, project_id: Option<&str>) -> Result<OpenStackCloud> {
        let cloud = OpenStackCloud::for_site(site, &self.loader, self.options.clone())?;
        match project_id {
            None => Ok(cloud),
            Some(project_id) => OpenStackCloud::with_options(
                cloud.config().scoped_to_project(project_id)?,
                self.options.clone(),
            ),
        }
    }
}
