//! [`OpenStackConnector`]: OpenStack clients for the engine's registered sites.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use protector_core::api::{SiteClients, SiteConnector};
use protector_core::model::Site;
use protector_core::store::Store;
use protector_core::Result;

use crate::cloud::OpenStackCloud;
use crate::config::{config_error, CloudConfig, ConfigLoader};
use crate::protector_api::RemoteStore;
use crate::transport::ClientOptions;

/// Where a site's credentials come from, its region, and the project scope when it is not
/// the credentials' own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CloudKey {
    source: Source,
    region: String,
    project_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    /// Given with [`OpenStackConnector::with_site`], by site name.
    Given(String),
    /// A clouds.yaml entry, by cloud name.
    CloudsYaml(String),
}

/// The engine's [`SiteConnector`] over clouds.yaml, or over credentials given per site: each
/// registered site gets the clients of its clouds.yaml entry ([`Site::cloud_name`]) or of the
/// [`CloudConfig`] given for it with [`OpenStackConnector::with_site`], built once and kept,
/// so the engine's many `site()` calls share one token per site.
///
/// Pair it with `protector-pure`'s array connector in a
/// [`CombinedConnector`](protector_core::api::CombinedConnector).
///
/// A front-end that holds a Keystone token and no clouds.yaml (Horizon, an OSC plugin):
///
/// ```no_run
/// use protector_openstack::{ClientOptions, CloudConfig, OpenStackConnector};
///
/// # fn run(token: String, catalog: serde_json::Value) -> protector_core::Result<()> {
/// let site_a = CloudConfig::from_token("site-a", "https://keystone-a:5000/v3", token, Some("5f8c0d6c"))
///     .with_region("RegionOne")
///     .with_catalog(catalog)?;
/// let connector = OpenStackConnector::for_sites(ClientOptions::default()).with_site("site-a", site_a);
/// # Ok(())
/// # }
/// ```
pub struct OpenStackConnector {
    loader: Option<ConfigLoader>,
    given: BTreeMap<String, CloudConfig>,
    options: ClientOptions,
    clouds: Mutex<HashMap<CloudKey, OpenStackCloud>>,
}

impl fmt::Debug for OpenStackConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clouds = self.clouds.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("OpenStackConnector")
            .field("loader", &self.loader)
            .field("given_sites", &self.given.keys().collect::<Vec<_>>())
            .field("clouds", &clouds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl OpenStackConnector {
    /// A connector reading clouds.yaml with `loader`.
    pub fn new(loader: ConfigLoader, options: ClientOptions) -> Self {
        OpenStackConnector {
            loader: Some(loader),
            given: BTreeMap::new(),
            options,
            clouds: Mutex::new(HashMap::new()),
        }
    }

    /// A connector over this process's environment, as the openstack CLI would read it.
    pub fn from_process() -> Self {
        Self::new(ConfigLoader::from_process(), ClientOptions::default())
    }

    /// A connector that reads no clouds.yaml: it knows only the sites given with
    /// [`with_site`](Self::with_site); any other site is `ConfigInvalid`.
    pub fn for_sites(options: ClientOptions) -> Self {
        OpenStackConnector {
            loader: None,
            given: BTreeMap::new(),
            options,
            clouds: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `config` for the site named `site` (its [`Site::name`]) instead of clouds.yaml.
    /// When `config` names no region the site's registered region is used. For
    /// [`site_for_project`](SiteConnector::site_for_project) the same credentials are scoped
    /// to the tenant's project ([`CloudConfig::scoped_to_project`]).
    #[must_use]
    pub fn with_site(mut self, site: impl Into<String>, config: CloudConfig) -> Self {
        self.given.insert(site.into(), config);
        self
    }
}

#[async_trait]
impl SiteConnector for OpenStackConnector {
    /// Clients for `site`; reads clouds.yaml the first time only. Does not contact the site.
    /// `ConfigInvalid` when the site's clouds.yaml entry is missing or wrong.
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        self.clients(site, None)
    }

    /// The site's clouds.yaml user and password (or given token) scoped to `project_id` (one
    /// token per project, kept like the site's own). `ConfigInvalid` for an application
    /// credential, which cannot act outside its project. Does not contact the site.
    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        self.clients(site, Some(project_id))
    }

    /// The protector-api of the clouds.yaml entry named `site`: its catalog's `protector`
    /// service or its `protector_endpoint_override`, as a root URL. `None` for a site with no
    /// entry, or whose catalog has no protector service. Contacts the site's Keystone.
    async fn metadata_service(&self, site: &str) -> Result<Option<String>> {
        match self.cloud_named(site)? {
            Some(cloud) => RemoteStore::new(&cloud, site).discover().await,
            None => Ok(None),
        }
    }

    /// A [`RemoteStore`] of `site` at `endpoint`, with the credentials of the clouds.yaml
    /// entry named `site`. Does not contact the site.
    async fn metadata_store(&self, site: &str, endpoint: &str) -> Result<Arc<dyn Store>> {
        let cloud = self.cloud_named(site)?.ok_or_else(|| {
            config_error(format!(
                "site '{site}' keeps its metadata in its protector-api ({endpoint}), but no clouds.yaml entry is named '{site}': add one with your credentials on that site"
            ))
        })?;
        Ok(Arc::new(RemoteStore::with_endpoint(&cloud, site, endpoint)))
    }
}

impl OpenStackConnector {
    /// The cloud of the clouds.yaml entry (or given site) named `name` with its own scope and
    /// region, built once and kept; `None` when there is no such entry.
    fn cloud_named(&self, name: &str) -> Result<Option<OpenStackCloud>> {
        let config = match (self.given.get(name), &self.loader) {
            (Some(config), _) => config.clone(),
            (None, Some(loader)) => {
                if !loader.cloud_names()?.iter().any(|c| c == name) {
                    return Ok(None);
                }
                loader.load(Some(name))?
            }
            (None, None) => return Ok(None),
        };
        let key = CloudKey {
            source: match self.given.contains_key(name) {
                true => Source::Given(name.to_string()),
                false => Source::CloudsYaml(name.to_string()),
            },
            region: config.region_name().unwrap_or_default().to_string(),
            project_id: None,
        };
        let mut clouds = self.clouds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cloud) = clouds.get(&key) {
            return Ok(Some(cloud.clone()));
        }
        let cloud = OpenStackCloud::with_options(config, self.options.clone())?;
        clouds.insert(key, cloud.clone());
        Ok(Some(cloud))
    }

    fn clients(&self, site: &Site, project_id: Option<&str>) -> Result<SiteClients> {
        let source = match self.given.contains_key(&site.name) {
            true => Source::Given(site.name.clone()),
            false => Source::CloudsYaml(site.cloud_name().to_string()),
        };
        let key = CloudKey {
            source,
            region: site.region_name.clone(),
            project_id: project_id.map(str::to_string),
        };
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
        let config = match (self.given.get(&site.name), &self.loader) {
            (Some(config), _) => with_site_region(config.clone(), site),
            (None, Some(loader)) => with_site_region(loader.load(Some(site.cloud_name()))?, site),
            (None, None) => {
                let known: Vec<&str> = self.given.keys().map(String::as_str).collect();
                return Err(config_error(format!(
                    "site '{}' has no credentials: this connector reads no clouds.yaml and was given credentials for {} only; give the site's credentials too",
                    site.name,
                    if known.is_empty() { "no site".to_string() } else { known.join(", ") }
                )));
            }
        };
        let config = match project_id {
            None => config,
            Some(project_id) => config.scoped_to_project(project_id)?,
        };
        OpenStackCloud::with_options(config, self.options.clone())
    }
}

/// The site's registered region when the configuration names none.
fn with_site_region(config: CloudConfig, site: &Site) -> CloudConfig {
    if config.region_name().is_none() && !site.region_name.trim().is_empty() {
        config.with_region(site.region_name.clone())
    } else {
        config
    }
}
