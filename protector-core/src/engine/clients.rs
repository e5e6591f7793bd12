//! The tenant scoping every per-group operation needs: a group's VMs, volumes and ports
//! belong to the group's project, on each site the project that a tenant mapping pairs with it
//! (each site has its own Keystone, so project ids differ). [`Protector::group_clients`] hands
//! out clients acting in that project.
//!
//! And how often an operation asks Keystone whether a site answers: once per site, at its
//! start. [`Protector::for_operation`] gives the engine of one operation a record of the
//! sites whose Keystone answered ([`Reached`]); every later reachability check of the same
//! site in that operation (`ensure_reachable`, `group_clients`, the caller's authentication)
//! reuses the token the connector keeps, without a round trip. A site that stops answering
//! later fails the operation's next call to it with `Unavailable` all the same; a check per
//! step would only add a Keystone round trip to each.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::inventory::Reads;
use super::Protector;
use crate::api::{AuthInfo, SiteClients};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::ProtectionGroup;

impl Protector {
    /// The project of `group` on `site`: its own project on the group's primary site, elsewhere
    /// the project a tenant mapping pairs with it (either direction). `None` when no mapping
    /// names it: the site's credentials then act in their own project, which is what a
    /// single-tenant deployment wants and needs no mapping for.
    pub async fn group_project_on(
        &self,
        group: &ProtectionGroup,
        site: &str,
    ) -> Result<Option<String>> {
        let mappings = self.store().list_tenant_mappings().await?;
        Ok(super::access::project_on(&mappings, group, site))
    }

    /// OpenStack clients of `site` acting in the project that owns `group` there (see
    /// [`Protector::group_project_on`]), checked: they authenticate into that project. What
    /// they create (volumes, ports, servers) belongs to the group's tenant.
    ///
    /// The site's own clients when they already act in that project (or no project is known
    /// there); otherwise the same credentials re-scoped by the connector
    /// ([`crate::api::Connector::site_for_project`]).
    ///
    /// A drop-in for `Protector::ensure_reachable` in per-group operations: `Unavailable`
    /// ("site X is unreachable") when the site does not answer; `PermissionDenied` when the
    /// credentials have no role in the group's project there (with the command that grants
    /// one); `ConfigInvalid` when they cannot be re-scoped (an application credential).
    pub async fn group_clients(&self, site: &str, group: &ProtectionGroup) -> Result<SiteClients> {
        let clients = self.clients(site).await?;
        let own = self.reach(&clients).await?;
        let Some(project) = self.group_project_on(group, site).await? else {
            return Ok(clients);
        };
        if own.project_id == project {
            return Ok(clients);
        }
        let registered = self.site(site).await?;
        let scoped = self
            .inner
            .connector
            .site_for_project(&registered, &project)
            .await
            .map_err(|e| {
                e.with_prefix(format!(
                    "clients of {site} for project {project} of protection group '{}'",
                    group.name
                ))
            })?;
        let no_role = || {
            Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "the credentials of {site} (user '{}') cannot act in project {project}, which owns protection group '{}' there: \
                     grant the user a role in it (`openstack role add --user {} --project {project} admin` on {site}) \
                     or fix the tenant mapping",
                    own.user_name, group.name, own.user_name
                ),
            )
            .with_hint(Hint::ListTenantMappings)
            .with_context("site", site)
            .with_context("group", group.name.clone())
        };
        match scoped.identity.authenticate().await {
            Ok(auth) if auth.project_id == project => Ok(scoped),
            // A connector that cannot re-scope hands back its one project.
            Ok(_) => Err(no_role()),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
                ) =>
            {
                Err(no_role())
            }
            Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) => Err(
                Error::unavailable(format!("site '{site}' is unreachable: {}", e.message()))
                    .with_context("site", site),
            ),
            Err(e) => Err(e.with_prefix(format!("site '{site}'"))),
        }
    }
}

/// The sites whose Keystone answered during one operation (see the module documentation),
/// and what the operation's plans read of them (`inventory.rs`).
#[derive(Debug, Default)]
pub(crate) struct Reached(Mutex<BTreeMap<String, Check>>, Reads);

/// Where the operation's check of one site stands.
#[derive(Debug, Clone)]
enum Check {
    /// Keystone answered.
    Answered,
    /// A check is under way; it sends whether Keystone answered. Concurrent checks of the
    /// site (a site failover's groups) wait for it instead of each asking Keystone.
    Asking(watch::Receiver<Option<bool>>),
}

impl Reached {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Check>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What this operation's plans read.
    pub(crate) fn reads(&self) -> &Reads {
        &self.1
    }
}

impl Protector {
    /// This engine for one operation: each site's reachability is checked with Keystone the
    /// first time the operation needs it, and trusted for the rest of the operation.
    pub(crate) fn for_operation(&self) -> Protector {
        Protector {
            inner: self.inner.clone(),
            access: self.access,
            reached: Some(Arc::new(Reached::default())),
        }
    }

    /// This engine if it already runs one operation, else [`Protector::for_operation`].
    pub(crate) fn within_operation(&self) -> Protector {
        if self.reached.is_some() {
            self.clone()
        } else {
            self.for_operation()
        }
    }

    /// Who `clients` authenticate as, with `Unavailable` ("site X is unreachable") when the
    /// site does not answer. A round trip to Keystone even with a cached token
    /// ([`crate::api::IdentityApi::probe`]), unless this engine's operation has reached the
    /// site already.
    pub(crate) async fn reach(&self, clients: &SiteClients) -> Result<AuthInfo> {
        let Some(reached) = self.reached.as_deref() else {
            return identify(clients, true).await;
        };
        let site = clients.site.as_str();
        let mut ask = None;
        let check = {
            let mut checks = reached.lock();
            let check = checks.get(site).cloned();
            if check.is_none() {
                let (tell, answer) = watch::channel(None);
                checks.insert(site.to_string(), Check::Asking(answer));
                ask = Some(tell);
            }
            check
        };
        let answered = match (check, ask) {
            (Some(Check::Answered), _) => true,
            // Another check of the site is under way: its answer, or (when it failed or
            // was abandoned) a check of our own, so that failures are not serialised.
            (Some(Check::Asking(mut answer)), _) => answer
                .wait_for(Option::is_some)
                .await
                .is_ok_and(|answer| *answer == Some(true)),
            (None, tell) => {
                let auth = identify(clients, true).await;
                if auth.is_ok() {
                    reached.lock().insert(site.to_string(), Check::Answered);
                } else {
                    reached.lock().remove(site);
                }
                if let Some(tell) = tell {
                    let _ = tell.send(Some(auth.is_ok()));
                }
                return auth;
            }
        };
        if answered {
            return identify(clients, false).await;
        }
        let auth = identify(clients, true).await?;
        reached.lock().insert(site.to_string(), Check::Answered);
        Ok(auth)
    }

    /// Who `clients` authenticate as: within an operation, the operation's reachability check
    /// of their site ([`Protector::reach`]); otherwise the cached token when there is one.
    pub(crate) async fn identify(&self, clients: &SiteClients) -> Result<AuthInfo> {
        if self.reached.is_some() {
            self.reach(clients).await
        } else {
            identify(clients, false).await
        }
    }
}

/// Authenticates, with a round trip to Keystone (probe) or with the cached token, an
/// unreachable site reported like `Protector::ensure_reachable` does.
async fn identify(clients: &SiteClients, probe: bool) -> Result<AuthInfo> {
    let site = clients.site.as_str();
    let auth = if probe {
        clients.identity.probe().await
    } else {
        clients.identity.authenticate().await
    };
    match auth {
        Ok(auth) => Ok(auth),
        Err(e) if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout) => Err(
            Error::unavailable(format!("site '{site}' is unreachable: {}", e.message()))
                .with_context("site", site),
        ),
        Err(e) => Err(e.with_prefix(format!("site '{site}'"))),
    }
}

/// What [`Protector::warm_groups`] reaches besides each group's target site and array.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Warm {
    /// Both sites' Keystones and arrays (a failback needs both).
    pub(crate) both_sites: bool,
    /// The source arrays, and the source Keystones that are not the local site (a planned
    /// failover needs its source; never an unplanned one's, which may be the site lost).
    pub(crate) source_array: bool,
}

impl Protector {
    /// Reaches, ahead of the calls that need them, the Keystones and arrays an operation on
    /// `groups` needs in any case: each group's target site and array, and what `warm` adds.
    /// Read-only (tokens, array sessions): the answers land in this engine's sessions and in
    /// the operation's record of the sites reached. Errors are left to the calls that need
    /// the answer.
    pub(crate) async fn warm_groups(&self, groups: &[&ProtectionGroup], warm: Warm) {
        let mut keystones = std::collections::BTreeSet::new();
        let mut arrays = BTreeMap::new();
        for group in groups {
            let target = group.current_secondary_site().to_string();
            let source = group.current_primary_site.clone();
            let policy = self.store().get_policy(&group.id).await.ok().flatten();
            if let Some(policy) = &policy {
                let target_array = policy.array_on(group, &target);
                arrays.insert(target_array.url.clone(), target_array.clone());
                if warm.both_sites || warm.source_array {
                    let source_array = policy.array_on(group, &source);
                    arrays.insert(source_array.url.clone(), source_array.clone());
                }
            }
            keystones.insert(target);
            // The local site is being asked already (who the caller is).
            if warm.both_sites || (warm.source_array && source != self.local_site()) {
                keystones.insert(source);
            }
        }
        let keystones = keystones.iter().map(|site| async move {
            if let Ok(clients) = self.clients(site).await {
                let _ = self.reach(&clients).await;
            }
        });
        // The arrays' version and login, ahead of the plan's reads (which read each array).
        let arrays = arrays.values().map(|endpoint| async move {
            if let Ok(array) = self.inner.connector.array(endpoint).await {
                let _ = array.connect().await;
            }
        });
        futures::join!(
            futures::future::join_all(keystones),
            futures::future::join_all(arrays)
        );
    }
}
