//! The in-process face: core's traits implemented by forwarding each call to the simulated
//! services through [`Simulator`]'s call pipeline. No behaviour lives here beyond what
//! protector's own HTTP clients do on top of the wire APIs (treating "already done" as done).

use std::sync::Arc;

use async_trait::async_trait;

use protector_core::api::{ArrayApi, Connector, SiteClients};
use protector_core::model::{ArrayEndpoint, Site};
use protector_core::{Error, ErrorKind, Result};

mod array;
mod openstack;

use crate::cloud::{Credential, ProjectScope};
use crate::faults::Service;
use crate::simulator::Simulator;
use crate::state::SITES;
use array::SimArray;
use openstack::{SimBlockStorage, SimCompute, SimIdentity, SimNetwork};

/// Hands out clients of a [`Simulator`]: [`Connector::site`] recognises the simulated site by
/// the host of the site's `auth_url` (`site-a.sim.invalid`) or else by its name, and picks the
/// credentials by the site's cloud name:
///
/// | cloud name | user | project | roles |
/// |---|---|---|---|
/// | `<site>`, `<site>-dradmin` | `admin` | `production-project` | admin, member, reader, dr_site_admin |
/// | `<site>-member` | `member-user` | `production-project` | member, reader |
/// | `<site>-tenant2` | `tenant2-user` | `tenant2` | member, reader |
/// | `<site>-badpassword` | `admin` with a wrong password | | (refused) |
///
/// `<site>` is the simulated site name or the name the site was registered under.
///
/// [`Connector::site_for_project`] keeps the user and password of that entry and scopes the
/// token to the given project id, as a Keystone password login with `project_id` does: the
/// user needs a role in that project (see [`Simulator::grant_roles`]), or every call is
/// refused with `Unauthenticated`.
#[derive(Debug, Clone)]
pub struct SimConnector {
    sim: Simulator,
}

impl SimConnector {
    pub(crate) fn new(sim: Simulator) -> SimConnector {
        SimConnector { sim }
    }

    /// The simulator behind this connector.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Whether `cloud` is an entry of the simulated clouds.yaml (the table above, with
    /// `<site>` a simulated site's name).
    pub fn has_cloud(cloud: &str) -> bool {
        SITES
            .into_iter()
            .any(|site| credential_for(site, site, cloud).is_some())
    }
}

/// The simulated site a registered site points at.
fn simulated_site(site: &Site) -> Option<&'static str> {
    let host = site
        .auth_url
        .split("://")
        .nth(1)
        .unwrap_or(&site.auth_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    SITES
        .into_iter()
        .find(|s| host == format!("{s}.sim.invalid"))
        .or_else(|| SITES.into_iter().find(|s| *s == site.name))
}

fn credential_for(sim_site: &str, registered: &str, cloud: &str) -> Option<Credential> {
    let owner = |rest: &str| rest == sim_site || rest == registered;
    let make = |user: &str, project: &str, valid: bool| Credential {
        user: user.to_string(),
        project: ProjectScope::Name(project.to_string()),
        valid,
    };
    if owner(cloud) {
        return Some(make("admin", "production-project", true));
    }
    for (suffix, user, project, valid) in [
        ("-dradmin", "admin", "production-project", true),
        ("-member", "member-user", "production-project", true),
        ("-tenant2", "tenant2-user", "tenant2", true),
        ("-badpassword", "admin", "production-project", false),
    ] {
        if cloud.strip_suffix(suffix).is_some_and(owner) {
            return Some(make(user, project, valid));
        }
    }
    None
}

impl SimConnector {
    /// The clients of `site` as its cloud entry's user, scoped to `project_id` when given.
    fn clients(&self, site: &Site, project_id: Option<&str>) -> Result<SiteClients> {
        let sim_site = simulated_site(site).ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "site {} ({}) is not a simulated site; register it with the auth_url of site-a or site-b from the simulator",
                    site.name, site.auth_url
                ),
            )
        })?;
        let cloud = site.cloud_name();
        let mut credential = credential_for(sim_site, &site.name, cloud).ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cloud '{cloud}' not found in the simulated clouds.yaml; use {sim_site}, {sim_site}-member, {sim_site}-tenant2 or {sim_site}-dradmin"
                ),
            )
        })?;
        if let Some(project_id) = project_id {
            credential.project = ProjectScope::Id(project_id.to_string());
        }
        let client = SimCloud {
            sim: self.sim.clone(),
            site: sim_site.to_string(),
            credential,
        };
        Ok(SiteClients {
            site: site.name.clone(),
            identity: Arc::new(SimIdentity(client.clone())),
            compute: Arc::new(SimCompute(client.clone())),
            block_storage: Arc::new(SimBlockStorage(client.clone())),
            network: Arc::new(SimNetwork(client)),
        })
    }
}

#[async_trait]
impl Connector for SimConnector {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        self.clients(site, None)
    }

    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        self.clients(site, Some(project_id))
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        // As protector-pure's client: plain http only when the endpoint allows it.
        endpoint
            .check_url()
            .map_err(|e| Error::new(ErrorKind::ConfigInvalid, e.message()))?;
        // The array answers on either scheme (a lab array reached over http).
        let host = |url: &str| {
            let url = url.trim_end_matches('/');
            url.split_once("://")
                .map_or(url, |(_, rest)| rest)
                .to_string()
        };
        let wanted = endpoint.url.trim_end_matches('/');
        let site = SITES
            .into_iter()
            .find(|s| {
                self.sim
                    .array_endpoint(s)
                    .is_some_and(|e| host(&e.url) == host(wanted))
            })
            // The same array as published by this simulator's wire face (`arrays.json`): a
            // loopback URL with the array's own token.
            .or_else(|| {
                SITES.into_iter().find(|s| {
                    wanted.starts_with("https://127.0.0.1:")
                        && self
                            .sim
                            .array_endpoint(s)
                            .is_some_and(|e| e.api_token == endpoint.api_token)
                })
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!("{} is not a simulated FlashArray", endpoint.url),
                )
            })?;
        Ok(Arc::new(SimArray::new(
            self.sim.clone(),
            site,
            endpoint.api_token.clone(),
        )))
    }
}

/// One site's clients share this: which site, as whom.
#[derive(Clone)]
pub(crate) struct SimCloud {
    sim: Simulator,
    site: String,
    credential: Credential,
}

impl std::fmt::Debug for SimCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCloud")
            .field("site", &self.site)
            .field("user", &self.credential.user)
            .field("project", &self.credential.project)
            .finish()
    }
}

impl SimCloud {
    pub(crate) async fn call<T>(
        &self,
        service: Service,
        operation: &'static str,
        f: impl FnOnce(&mut crate::state::World, &crate::cloud::Caller) -> Result<T>,
    ) -> Result<T> {
        self.sim
            .call_cloud(&self.site, &self.credential, service, operation, f)
            .await
    }
}
