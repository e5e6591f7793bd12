//! The engine: protection-group lifecycle, metadata sync, and DR operations
//! (plan → validate → execute).
//!
//! [`Protector`] is the entry point. It is built over one [`Store`] per site and a
//! [`Connector`] that hands out clients for sites and arrays. The *local* site is where the
//! caller stands (the `--os-cloud` of the CLI): metadata is read from its store and every
//! modification is pushed to the peer's store before it counts.
//!
//! The modules come in two layers. The shared one is what operations run on and depends on no
//! operation: `runner` (a run's record, steps, journal, compensation; the steps failover and
//! failback share; the drill's tracker; bounded concurrency), `resources` and `copies`
//! (servers, ports, volumes and array volumes, one by one and as sets), `clients` (per-group
//! clients), `access`, `ownership`, `sync`, `pods`, `report`, `validate`, `wait`, `progress`
//! and `text`. The operations build on it (and on `planner`): `failover`, `failback`, `drill`,
//! `recover`, `site_failover`, `lifecycle`, `mappings`, `admission` (what `submit` checks) and
//! `runs`, the lifecycle API over all
//! of them. No module imports another in a circle; `layers` checks it.

pub mod access;
mod admission;
mod admitted;
mod boot_order;
mod bulk_wait;
mod capacity;
mod clients;
mod commit_window;
mod copies;
mod critical_path;
mod drill;
mod drill_report;
mod estimate;
mod failback;
mod failover;
mod hooks;
mod inventory;
#[cfg(test)]
mod layers;
mod leak_scan;
mod lifecycle;
pub mod limiter;
mod mappings;
mod overview;
mod ownership;
mod planner;
mod pods;
mod progress;
mod recover;
mod recovery_points;
mod report;
mod resources;
mod runner;
mod runs;
mod site_failover;
mod sync;
#[cfg(test)]
mod test_plans;
mod text;
mod validate;
pub mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

pub use access::{ADMIN_ROLE, DR_SITE_ADMIN_ROLE};
pub use commit_window::{FailoverCommitted, FailoverRollbackRequest};
pub use critical_path::{critical_path, CriticalPath, Link, PathKind};
pub use drill::TestFailoverRequest;
pub use drill_report::{
    Check, CheckOutcome, CleanupReport, DrillReport, InstanceReport, RecoveryPointUsed, RtoReport,
    TimelineStep,
};
pub use failback::FailbackRequest;
pub use leak_scan::{Leak, LeakKind, LeakScan, NotScanned, ScanPlace};
pub use lifecycle::{
    AddMember, CreateGroup, CreatePolicy, HookSpec, MemberCandidate, MemberOrder, RegisterSite,
    SiteValidation,
};
pub use limiter::{ApiCalls, ApiService, CallLimits};
pub use overview::{GroupOverview, OverviewSync};
pub use planner::FailoverRequest;
pub use progress::{
    progress_channel, NoProgress, ProgressObserver, ProgressReceiver, ProgressSender,
};
pub use recover::RecoverMode;
pub use recovery_points::{RecoveryPointEntry, RecoveryPoints, DEFAULT_COMMIT_WINDOW_SECS};
pub use report::{ConsistencyGroupReport, LagClock, ReplicationHealth};
pub use runs::{OperationRequest, RunningOperation, Submitted};
pub use site_failover::{SiteFailoverRequest, DEFAULT_SITE_FAILOVER_CONCURRENCY};
pub use sync::{SyncForceReport, SyncStatusReport};
pub use validate::{Finding, Severity, ValidationReport};
pub use wait::PollPolicy;

use crate::api::{Connector, SiteClients};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{Operation, OperationStatus, OperationType, ProtectionGroup, Site};
use crate::store::{OperationQuery, Store};
use access::Access;

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How long-running waits poll.
    pub poll: PollPolicy,
    /// At most this many members are worked on at once within a phase (each member's chain
    /// counts once). The default, 1,000, lets a site of a thousand VMs go at once: the calls
    /// themselves are bounded by the clients (per-service limits), not by this.
    pub member_concurrency: usize,
    /// How many calls at once (and how fast) go to each service of each site and to each
    /// array, across every group and operation of the engine (see [`limiter`]).
    pub call_limits: CallLimits,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            poll: PollPolicy::default(),
            member_concurrency: 1000,
            call_limits: CallLimits::default(),
        }
    }
}

/// Builds a [`Protector`].
#[derive(Debug, Default)]
pub struct ProtectorBuilder {
    local_site: Option<String>,
    stores: BTreeMap<String, Arc<dyn Store>>,
    connector: Option<Arc<dyn Connector>>,
    options: EngineOptions,
    /// `None`: the default, `true`.
    allow_command_hooks: Option<bool>,
}

impl ProtectorBuilder {
    /// The site the caller stands on (required).
    pub fn with_local_site(mut self, site: impl Into<String>) -> Self {
        self.local_site = Some(site.into());
        self
    }

    /// The metadata store of `site` (one per site; the local one is required).
    pub fn with_store(mut self, site: impl Into<String>, store: Arc<dyn Store>) -> Self {
        self.stores.insert(site.into(), store);
        self
    }

    /// The transport (required).
    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connector = Some(connector);
        self
    }

    /// Engine tunables.
    pub fn with_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Whether command hooks run (default `true`: the CLI and embedded engines run on the
    /// operator's own machine). A site's protector-engine sets it from protector.conf
    /// `[hooks] allow_commands` (default `false`), as its tenants define hooks: when `false`,
    /// a plan with a command hook has a blocking finding and a command hook run anyway
    /// fails with `PermissionDenied`. Adding command hooks is not restricted: the group may
    /// fail over from a site that runs them.
    pub fn with_command_hooks(mut self, allow: bool) -> Self {
        self.allow_command_hooks = Some(allow);
        self
    }

    /// Checks the configuration and builds the engine.
    pub fn build(self) -> Result<Protector> {
        let local = self.local_site.ok_or_else(|| {
            Error::new(ErrorKind::ConfigInvalid, "no local site given")
                .with_hint(Hint::UseSite { site: None })
        })?;
        if !self.stores.contains_key(&local) {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("no metadata store configured for the local site '{local}'"),
            ));
        }
        let connector = self.connector.ok_or_else(|| {
            Error::new(ErrorKind::ConfigInvalid, "no connector given to the engine")
        })?;
        self.options.call_limits.check()?;
        let limiter = Arc::new(limiter::Limiter::new(self.options.call_limits));
        let connector: Arc<dyn Connector> = Arc::new(limiter::LimitedConnector {
            inner: connector,
            limiter: limiter.clone(),
        });
        Ok(Protector {
            inner: Arc::new(Inner {
                local_site: local,
                stores: self.stores,
                connector,
                limiter,
                options: self.options,
                allow_command_hooks: self.allow_command_hooks.unwrap_or(true),
                admitted: admitted::Admitted::default(),
            }),
            access: Access::Caller,
            reached: None,
        })
    }
}

#[derive(Debug)]
struct Inner {
    local_site: String,
    stores: BTreeMap<String, Arc<dyn Store>>,
    connector: Arc<dyn Connector>,
    /// The gates every client of `connector` goes through.
    limiter: Arc<limiter::Limiter>,
    options: EngineOptions,
    allow_command_hooks: bool,
    /// What operations admitted by this process prepared for their runs.
    admitted: admitted::Admitted,
}

/// The DR engine. Cheap to clone; all clones share state.
///
/// Every protection group it reads or changes (and every operation of one) is limited to
/// the caller's: who the local site's credentials authenticate as (see [`Protector::group`]).
#[derive(Debug, Clone)]
pub struct Protector {
    inner: Arc<Inner>,
    access: Access,
    /// Within one operation, the sites whose Keystone answered (`clients.rs`).
    reached: Option<Arc<clients::Reached>>,
}

impl Protector {
    /// Starts building an engine.
    pub fn builder() -> ProtectorBuilder {
        ProtectorBuilder::default()
    }

    /// The site the caller stands on.
    pub fn local_site(&self) -> &str {
        &self.inner.local_site
    }

    /// A copy of this engine that stands on `site` (same stores and connector).
    pub fn on_site(&self, site: &str) -> Result<Protector> {
        if !self.inner.stores.contains_key(site) {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("no metadata store configured for site '{site}'"),
            ));
        }
        Ok(Protector {
            inner: Arc::new(Inner {
                local_site: site.to_string(),
                stores: self.inner.stores.clone(),
                connector: self.inner.connector.clone(),
                limiter: self.inner.limiter.clone(),
                options: self.inner.options.clone(),
                allow_command_hooks: self.inner.allow_command_hooks,
                admitted: admitted::Admitted::default(),
            }),
            access: self.access,
            reached: self.reached.clone(),
        })
    }

    /// Engine tunables.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// How many calls this engine (and every copy of it) sent to each service of each site
    /// and to each array (by its URL) since it was built, in (place, service) order.
    pub fn api_calls(&self) -> Vec<ApiCalls> {
        self.inner.limiter.calls()
    }

    /// The local site's store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.stores[&self.inner.local_site]
    }

    /// The store of `site`. A site whose store this engine was not given (a site's service
    /// that has no way to its peer's metadata) is treated like a peer whose store does not
    /// answer: [`ErrorKind::Unavailable`], so metadata pushes to it are refused or marked out
    /// of sync exactly as when it is unreachable.
    fn store_of(&self, site: &str) -> Result<&Arc<dyn Store>> {
        self.inner.stores.get(site).ok_or_else(|| {
            Error::unavailable(format!(
                "the metadata store of site '{site}' is not reachable from here (none is \
                 configured for it)"
            ))
            .with_context("site", site)
        })
    }

    /// A registered site by name.
    pub async fn site(&self, name: &str) -> Result<Site> {
        self.store().get_site(name).await?.ok_or_else(|| {
            Error::not_found(format!("site '{name}' is not registered")).with_hint(
                Hint::RegisterSite {
                    site: name.to_string(),
                },
            )
        })
    }

    /// Every registered site.
    pub async fn sites(&self) -> Result<Vec<Site>> {
        self.store().list_sites().await
    }

    /// OpenStack clients of a registered site.
    pub async fn clients(&self, site: &str) -> Result<SiteClients> {
        let site = self.site(site).await?;
        self.inner.connector.site(&site).await
    }

    /// Checks that `site`'s Keystone answers; the reachability test before any cross-site change.
    /// Within an operation, once per site (see `clients.rs`).
    pub(crate) async fn ensure_reachable(&self, site: &str) -> Result<SiteClients> {
        let clients = self.clients(site).await?;
        self.reach(&clients).await?;
        Ok(clients)
    }

    /// A protection group by name or id, from the local store, if the caller may see it: a
    /// group of another project is `NotFound` with the same message as one that does not
    /// exist. The one place a group a caller names is resolved (`engine/access.rs`): the
    /// caller is who the local site's credentials authenticate as; the [`ADMIN_ROLE`] sees
    /// every group, any other caller those of its own project (on the group's other site the
    /// project a tenant mapping pairs with it, without one the project of the same name).
    pub async fn group(&self, name_or_id: &str) -> Result<ProtectionGroup> {
        let caller = self.caller().await?;
        if let Ok(id) = Uuid::parse_str(name_or_id) {
            if let Some(g) = self.store().get_group(&id).await? {
                if caller.sees(&g) {
                    return Ok(g);
                }
            }
        }
        let matches: Vec<_> = self
            .store()
            .list_groups()
            .await?
            .into_iter()
            .filter(|g| g.name == name_or_id && caller.sees(g))
            .collect();
        match matches.len() {
            0 => Err(self.group_not_found(name_or_id)),
            1 => Ok(matches.into_iter().next().expect("one match")),
            _ => Err(Error::invalid(format!(
                "protection group name '{name_or_id}' is ambiguous across tenants: use its id"
            ))),
        }
    }

    fn group_not_found(&self, name_or_id: &str) -> Error {
        Error::not_found(format!(
            "protection group '{name_or_id}' not found on site '{}'",
            self.local_site()
        ))
        .with_hint(Hint::ListGroups)
    }

    /// The protection groups in the local store the caller may see (all with the `admin` role).
    pub async fn groups(&self) -> Result<Vec<ProtectionGroup>> {
        let caller = self.caller().await?;
        let mut groups = self.store().list_groups().await?;
        groups.retain(|g| caller.sees(g));
        Ok(groups)
    }

    /// An operation by id, if the caller may see it: one of a group it sees ([`Protector::group`]),
    /// a site failover with the `admin` or `dr_site_admin` role. Any other is `NotFound` like
    /// one that does not exist.
    pub async fn operation(&self, id: &str) -> Result<Operation> {
        let parsed = Uuid::parse_str(id.trim_start_matches("op-"))
            .map_err(|_| Error::invalid(format!("'{id}' is not an operation id")))?;
        let caller = self.caller().await?;
        let not_found = || {
            Error::not_found(format!(
                "operation '{id}' not found on site '{}'",
                self.local_site()
            ))
            .with_hint(Hint::ListOperations)
        };
        let op = self
            .store()
            .get_operation(&parsed)
            .await?
            .ok_or_else(not_found)?;
        let group = match op.group_id {
            Some(group_id) => self.store().get_group(&group_id).await?,
            None => None,
        };
        if caller.sees_operation(&op, group.as_ref()) {
            Ok(op)
        } else {
            Err(not_found())
        }
    }

    /// The operations the caller may see, newest first.
    pub async fn operations(&self) -> Result<Vec<Operation>> {
        self.operations_where(&OperationFilter::default()).await
    }

    /// The operations the caller may see that `filter` selects, newest first; its limit
    /// counts what the caller sees. A group it names is resolved as [`Protector::group`]
    /// resolves one (`NotFound` when the caller does not see it).
    pub async fn operations_where(&self, filter: &OperationFilter) -> Result<Vec<Operation>> {
        let caller = self.caller().await?;
        let mut query = OperationQuery::default()
            .of_types(&filter.types)
            .in_statuses(&filter.statuses);
        if let Some(group) = &filter.group {
            query.group_id = Some(self.group(group).await?.id);
        }
        if caller.is_admin() {
            query.limit = filter.limit;
            return self.store().query_operations(&query).await;
        }
        let groups: BTreeMap<Uuid, ProtectionGroup> = self
            .store()
            .list_groups()
            .await?
            .into_iter()
            .map(|g| (g.id, g))
            .collect();
        let operations = self.store().query_operations(&query).await?;
        Ok(operations
            .into_iter()
            .filter(|op| {
                let group = op.group_id.and_then(|id| groups.get(&id));
                caller.sees_operation(op, group)
            })
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect())
    }
}

/// Which operations [`Protector::operations_where`] lists: every one the caller sees by
/// default; each condition given narrows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationFilter {
    /// Of this protection group (name or id).
    pub group: Option<String>,
    /// In one of these statuses.
    pub statuses: Vec<OperationStatus>,
    /// Of one of these types.
    pub types: Vec<OperationType>,
    /// At most this many, the newest.
    pub limit: Option<usize>,
}

impl OperationFilter {
    /// The filter of a front-end's words: statuses and types as the operations spell them
    /// (`running`, `test_failover`), each entry possibly a comma-separated list.
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) names an unknown one and
    /// the values there are; a limit of 0 is refused.
    pub fn parse(
        group: Option<String>,
        statuses: &[String],
        types: &[String],
        limit: Option<usize>,
    ) -> Result<Self> {
        use crate::model::parse_words;
        if limit == Some(0) {
            return Err(Error::invalid(
                "an operation list limit of 0 lists nothing: give 1 or more, or no limit",
            ));
        }
        Ok(OperationFilter {
            group: group.filter(|g| !g.is_empty()),
            statuses: parse_words(statuses.iter().map(String::as_str))?,
            types: parse_words(types.iter().map(String::as_str))?,
            limit,
        })
    }
}
