//! `protector.Protector`: the engine, standing on one site, for Python.
//!
//! Every call has a blocking form, which releases the GIL while the engine works, and an
//! `_async` twin returning an awaitable; both run on the process's one runtime
//! ([`crate::runtime`]). Each method parses its arguments into the core's request, calls the
//! core and converts the result: no orchestration happens here.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use pyo3::prelude::*;
use serde::Serialize;

use std::sync::RwLock;

use protector_core::api::Connector;
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, FailbackRequest, FailoverRequest,
    FailoverRollbackRequest, MemberOrder, OperationFilter, OperationRequest, RecoverMode,
    RegisterSite, SiteFailoverRequest, TestFailoverRequest,
};
use protector_core::model::{
    ArrayEndpoint, ReplicationType, ResourceMappings, Secret, Site, SiteType,
};
use protector_core::plan::FailoverMode;
use protector_core::store::{OpenState, StateDir};
use protector_core::{Error, Result};
use protector_openstack::config::Interface;
use protector_openstack::CloudConfig;

use crate::convert::to_record;
use crate::errors::{engine_error, panic_error};
use crate::names::NameList;
use crate::operation::OperationHandle;
use crate::runtime::{awaitable, block_on, detached};

/// The engine standing on one site.
#[pyclass(frozen, name = "Protector", module = "protector._protector")]
pub struct PyProtector {
    inner: Arc<Inner>,
}

struct Inner {
    /// Replaced when a site is registered (the engine then holds its store too).
    engine: RwLock<protector_core::Protector>,
    opener: Opener,
}

/// How the engine was opened: to open it again with a newly registered site's store.
#[derive(Clone)]
struct Opener {
    dir: PathBuf,
    site: String,
    /// Whether the connector has credentials for `site` (a clouds.yaml entry or a token).
    configured: bool,
    options: EngineOptions,
    connector: Arc<dyn Connector>,
}

impl Opener {
    fn request(&self) -> OpenState {
        OpenState {
            local_site: self.site.clone(),
            extra_sites: Vec::new(),
            local_site_configured: self.configured,
            skip: None,
            options: self.options.clone(),
        }
    }

    async fn open(self) -> Result<PyProtector> {
        let engine = StateDir::new(&self.dir)
            .open(self.request(), self.connector.clone())
            .await?
            .protector;
        Ok(PyProtector {
            inner: Arc::new(Inner {
                engine: RwLock::new(engine),
                opener: self,
            }),
        })
    }
}

impl PyProtector {
    fn engine(&self) -> protector_core::Protector {
        // A panic while the lock was held cannot leave the engine half-replaced.
        self.inner
            .engine
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Registers a site and puts the engine reopened with its store into `inner`.
async fn register(inner: Arc<Inner>, request: RegisterSite) -> Result<Site> {
    let opener = &inner.opener;
    let (site, opened) = StateDir::new(&opener.dir)
        .register_site(opener.request(), request, opener.connector.clone())
        .await?;
    *inner
        .engine
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = opened.protector;
    Ok(site)
}

/// The registration `create_site` asks for.
fn site_request(
    name: String,
    site_type: &str,
    auth_url: String,
    region_name: String,
    cloud: Option<String>,
    description: String,
) -> Result<RegisterSite> {
    let site_type = match site_type {
        "primary" => SiteType::Primary,
        "secondary" => SiteType::Secondary,
        other => {
            return Err(Error::invalid(format!(
                "site_type '{other}' is not one of 'primary', 'secondary'"
            )))
        }
    };
    Ok(RegisterSite {
        name,
        description,
        site_type,
        auth_url,
        region_name,
        cloud,
    })
}

/// `future`, with a panic turned into an `unexpected` error.
async fn guarded<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(panic_error(panic)),
    }
}

/// Converts results into records of `protector.types`.
fn record<T: Serialize>(name: &'static str) -> impl Fn(Python<'_>, T) -> PyResult<Py<PyAny>> {
    move |py, value| to_record(py, name, &value)
}

fn started(py: Python<'_>, handle: OperationHandle) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, handle)?.into_any())
}

fn finish<T>(
    py: Python<'_>,
    result: Result<T>,
    convert: impl Fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    match result {
        Ok(value) => convert(py, value),
        Err(e) => Err(engine_error(py, &e)),
    }
}

fn mappings(
    networks: Option<BTreeMap<String, String>>,
    flavors: Option<BTreeMap<String, String>>,
    security_groups: Option<BTreeMap<String, String>>,
) -> ResourceMappings {
    ResourceMappings {
        networks: networks.unwrap_or_default(),
        flavors: flavors.unwrap_or_default(),
        security_groups: security_groups.unwrap_or_default(),
        availability_zones: Default::default(),
    }
}

fn failover_mode(unplanned: bool) -> FailoverMode {
    if unplanned {
        FailoverMode::Unplanned
    } else {
        FailoverMode::Planned
    }
}

fn parse_replication_type(value: &str) -> Result<ReplicationType> {
    match value {
        "async" => Ok(ReplicationType::Async),
        "sync" => Ok(ReplicationType::Sync),
        other => Err(Error::invalid(format!(
            "replication_type '{other}' is not one of 'async', 'sync'"
        ))),
    }
}

/// Submits `request` and runs it on the runtime: the handle comes back at once.
async fn start(
    engine: protector_core::Protector,
    request: OperationRequest,
) -> Result<OperationHandle> {
    let submitted = engine.submit(request).await?;
    if engine.operations_run_on_site() {
        // Site mode: the site's protector-engine workers run it; the handle follows it.
        return Ok(OperationHandle::follow_submitted(engine, submitted));
    }
    Ok(OperationHandle::run(engine, submitted))
}

/// The engine's options: the defaults, with `poll_interval` (seconds) when given.
fn options(poll_interval: Option<f64>) -> PyResult<EngineOptions> {
    let options = EngineOptions::default();
    let Some(seconds) = poll_interval else {
        return Ok(options);
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "poll_interval must be a positive number of seconds, got {seconds}"
        )));
    }
    Ok(options.with_poll_interval(Duration::from_secs_f64(seconds)))
}

/// Opens the engine like the CLI: the stores in `state_dir`, the credentials of each site
/// from clouds.yaml and `OS_*`, the FlashArrays through each policy's endpoints.
async fn open(site: String, dir: PathBuf, options: EngineOptions) -> Result<PyProtector> {
    let configured = protector_connect::knows_cloud(&site)?;
    let connector = protector_connect::clouds_connector();
    Opener {
        dir,
        site,
        configured,
        options,
        connector,
    }
    .open()
    .await
}

/// What `Protector.from_token` was given for the site it stands on.
struct TokenLogin {
    site: String,
    auth_url: String,
    token: Secret,
    project_id: Option<String>,
    catalog: Option<serde_json::Value>,
    region_name: Option<String>,
    interface: Option<String>,
    cacert: Option<PathBuf>,
    insecure: bool,
}

/// Opens the engine with a Keystone token for the site it stands on (the peer site's
/// credentials still come from clouds.yaml, as for the CLI).
async fn open_with_token(
    login: TokenLogin,
    dir: PathBuf,
    options: EngineOptions,
) -> Result<PyProtector> {
    let mut config = CloudConfig::from_token(
        login.site.clone(),
        login.auth_url,
        login.token,
        login.project_id.as_deref(),
    );
    if let Some(catalog) = login.catalog {
        config = config.with_catalog(catalog)?;
    }
    if let Some(region) = login.region_name {
        config = config.with_region(region);
    }
    if let Some(interface) = login.interface {
        let parsed = Interface::parse(&interface).ok_or_else(|| {
            Error::invalid(format!(
                "interface '{interface}' is not one of 'public', 'internal', 'admin'"
            ))
        })?;
        config = config.with_interface(parsed);
    }
    if let Some(cacert) = login.cacert {
        config = config.with_cacert(cacert);
    }
    config = config.with_insecure(login.insecure);
    let connector = protector_connect::token_connector(&login.site, config);
    Opener {
        dir,
        site: login.site,
        configured: true,
        options,
        connector,
    }
    .open()
    .await
}

use crate::locations::{json_value, state_dir_or_error};

type Names = Option<BTreeMap<String, String>>;

engine_calls! {
    {
    /// The engine standing on `site` (the clouds.yaml entry whose credentials it uses), with
    /// its state in `state_dir` (default: `$PROTECTOR_STATE_DIR`, else
    /// `$XDG_DATA_HOME/protector`, else `~/.local/share/protector`). `poll_interval` (seconds)
    /// shortens the engine's polling, for simulators.
    #[new]
    #[pyo3(signature = (site, state_dir=None, *, poll_interval=None))]
    fn new(
        py: Python<'_>,
        site: String,
        state_dir: Option<PathBuf>,
        poll_interval: Option<f64>,
    ) -> PyResult<Self> {
        let options = options(poll_interval)?;
        let dir = state_dir_or_error(py, state_dir)?;
        let opened = block_on(py, guarded(open(site, dir, options)))?;
        opened.map_err(|e| engine_error(py, &e))
    }

    /// The engine standing on `site` with a Keystone token the caller already holds (Horizon's
    /// `request.user.token.id`, an OSC plugin's session token) instead of clouds.yaml
    /// credentials: `auth_url` is the site's Keystone v3, `project_id` the project to act in
    /// (default: the token's own scope), `catalog` the token's service catalog (then Keystone
    /// is only asked to validate the token). The peer site's credentials come from its
    /// clouds.yaml entry. Nothing is stored: the token lives in this object only.
    #[staticmethod]
    #[pyo3(signature = (site, *, token, auth_url, project_id=None, catalog=None, region_name=None, interface=None, cacert=None, insecure=false, state_dir=None, poll_interval=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_token(
        py: Python<'_>,
        site: String,
        token: String,
        auth_url: String,
        project_id: Option<String>,
        catalog: Option<Bound<'_, PyAny>>,
        region_name: Option<String>,
        interface: Option<String>,
        cacert: Option<PathBuf>,
        insecure: bool,
        state_dir: Option<PathBuf>,
        poll_interval: Option<f64>,
    ) -> PyResult<Self> {
        let options = options(poll_interval)?;
        let dir = state_dir_or_error(py, state_dir)?;
        let catalog = catalog.map(|c| json_value(py, &c)).transpose()?;
        let login = TokenLogin {
            site,
            auth_url,
            token: Secret::new(token),
            project_id,
            catalog,
            region_name,
            interface,
            cacert,
            insecure,
        };
        let opened = block_on(py, guarded(open_with_token(login, dir, options)))?;
        opened.map_err(|e| engine_error(py, &e))
    }

    /// Registers a site (`site create`) in the stores of this engine's state directory;
    /// the engine then holds the new site's store too.
    #[pyo3(signature = (name, *, site_type, auth_url, region_name="RegionOne".to_string(), cloud=None, description=String::new()))]
    #[allow(clippy::too_many_arguments)]
    fn create_site(
        &self,
        py: Python<'_>,
        name: String,
        site_type: String,
        auth_url: String,
        region_name: String,
        cloud: Option<String>,
        description: String,
    ) -> PyResult<Py<PyAny>> {
        let request = site_request(name, &site_type, auth_url, region_name, cloud, description)
            .map_err(|e| engine_error(py, &e))?;
        let result = block_on(py, detached(guarded(register(self.inner.clone(), request))))?;
        finish(py, result, record("Site"))
    }

    /// Awaitable twin of `create_site`.
    #[pyo3(signature = (name, *, site_type, auth_url, region_name="RegionOne".to_string(), cloud=None, description=String::new()))]
    #[allow(clippy::too_many_arguments)]
    fn create_site_async<'py>(
        &self,
        py: Python<'py>,
        name: String,
        site_type: String,
        auth_url: String,
        region_name: String,
        cloud: Option<String>,
        description: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = site_request(name, &site_type, auth_url, region_name, cloud, description)
            .map_err(|e| engine_error(py, &e))?;
        let inner = self.inner.clone();
        awaitable(py, async move {
            let result = detached(guarded(register(inner, request))).await;
            Python::attach(|py| finish(py, result, record("Site")))
        })
    }

    /// The site this engine stands on.
    #[getter]
    fn local_site(&self) -> &str {
        &self.inner.opener.site
    }

    fn __repr__(&self) -> String {
        format!("<Protector site={:?}>", self.inner.opener.site)
    }
    }

    /// Every registered site.
    fn sites / sites_async () signature () -> record("Site"), |e| e.sites().await;
    /// One site by name.
    fn site / site_async (name: String) signature (name) -> record("Site"),
        |e| e.site(&name).await;
    /// Checks a site's endpoints and credentials (Keystone, Nova, Cinder, Neutron, rights).
    fn validate_site / validate_site_async (name: String) signature (name)
        -> record("SiteValidation"), |e| e.validate_site(&name).await;
    /// The volume types of `site` eligible for replication.
    fn volume_types / volume_types_async (site: String) signature (site)
        -> record("VolumeType"), |e| e.list_replication_volume_types(&site).await;

    /// The protection groups the caller sees.
    fn groups / groups_async () signature () -> record("ProtectionGroup"), |e| e.groups().await;
    /// The groups the caller sees, each with its member count, replication health and lag,
    /// metadata sync state and last operation (a dashboard's table).
    fn group_overviews / group_overviews_async () signature () -> record("GroupOverview"),
        |e| e.group_overviews().await;
    /// One group's overview, by name or id.
    fn group_overview / group_overview_async (group: String) signature (group)
        -> record("GroupOverview"), |e| e.group_overview(&group).await;
    /// One protection group by name or id.
    fn group / group_async (group: String) signature (group) -> record("ProtectionGroup"),
        |e| e.group(&group).await;
    /// Creates a protection group (and its consistency group on both sites).
    fn create_group / create_group_async (
        name: String, primary_site: String, secondary_site: String, volume_type: String,
        replication_type: String, description: String
    ) signature (name, *, primary_site, secondary_site, volume_type, replication_type="async".to_string(), description=String::new())
        -> record("ProtectionGroup"),
        |e| {
            let request = CreateGroup {
                name,
                description,
                replication_type: parse_replication_type(&replication_type)?,
                primary_site,
                secondary_site,
                volume_type,
            };
            e.create_group(request).await
        };
    /// Deletes a protection group with no members left.
    fn delete_group / delete_group_async (group: String) signature (group)
        -> record("ProtectionGroup"), |e| e.delete_group(&group).await;

    /// Adds a VM (Nova id) to the group; `priority` (1-5, default 3) and `depends_on` (member
    /// names or ids) place it in the boot order.
    fn add_member / add_member_async (group: String, instance_id: String, priority: Option<u8>,
        depends_on: Option<Vec<String>>) signature (group, instance_id, *, priority=None,
        depends_on=None) -> record("Member"), |e| e.add_member_ordered(&group,
        AddMember { instance_id }, MemberOrder { priority, depends_on }).await;
    /// Sets a member's boot priority and/or dependencies (`[]` removes them).
    fn set_member_order / set_member_order_async (group: String, member: String, priority:
        Option<u8>, depends_on: Option<Vec<String>>) signature (group, member, *, priority=None,
        depends_on=None) -> record("Member"), |e| e.set_member_order(&group, &member,
        MemberOrder { priority, depends_on }).await;
    /// The group's members.
    fn members / members_async (group: String) signature (group) -> record("Member"),
        |e| e.members(&group).await;
    /// This project's instances on the group's current primary site, each eligible or not
    /// with the reason `add_member` would refuse it for.
    fn member_candidates / member_candidates_async (group: String) signature (group)
        -> record("MemberCandidate"), |e| e.member_candidates(&group).await;
    /// One member (member id, original instance id or the instance id it runs as now).
    fn member / member_async (group: String, member: String) signature (group, member)
        -> record("Member"), |e| e.member(&group, &member).await;
    /// Removes a member (member id or instance id).
    fn remove_member / remove_member_async (group: String, member: String)
        signature (group, member) -> record("Member"),
        |e| e.remove_member(&group, &member).await;
    /// Adds a hook: `command` (argv, no shell) or `url`, run `at` a point (`pre-storage`,
    /// `after-boot`, ...) of failovers, drills or both; synced to the other site.
    fn add_hook / add_hook_async (group: String, name: String, at: String,
        command: Option<Vec<String>>, url: Option<String>, method: String, member: Option<String>,
        timeout: Option<u64>, on_failure: Option<String>, applies_to: String,
        undo_command: Option<Vec<String>>, undo_url: Option<String>
    ) signature (group, name, *, at, command=None, url=None, method="POST".to_string(),
        member=None, timeout=None, on_failure=None, applies_to="both".to_string(),
        undo_command=None, undo_url=None) -> record("Hook"),
        |e| e.add_hook(&group, crate::hooks::spec(name, &at, command, url, &method, member,
            timeout, on_failure, &applies_to, undo_command, undo_url)?).await;
    /// The group's hooks.
    fn hooks / hooks_async (group: String) signature (group) -> record("Hook"),
        |e| e.hooks(&group).await;
    /// Removes hook `name`.
    fn remove_hook / remove_hook_async (group: String, name: String) signature (group, name)
        -> record("Hook"), |e| e.remove_hook(&group, &name).await;

    /// Creates the group's replication policy (the FlashArray protection group, its target
    /// and schedule on both arrays). API tokens are kept encrypted and never returned.
    fn create_policy / create_policy_async (
        group: String, pure_pg_name: String,
        primary_array_url: String, primary_array_token: String,
        secondary_array_url: String, secondary_array_token: String,
        primary_array_ca_file: Option<String>, secondary_array_ca_file: Option<String>,
        allow_insecure_http: bool, replication_interval: u64, rpo_minutes: u64
    ) signature (group, *, pure_pg_name, primary_array_url, primary_array_token,
        secondary_array_url, secondary_array_token, primary_array_ca_file=None,
        secondary_array_ca_file=None, allow_insecure_http=false, replication_interval=300,
        rpo_minutes=15)
        -> record("ReplicationPolicy"),
        |e| {
            let request = CreatePolicy {
                primary_array: ArrayEndpoint {
                    url: primary_array_url,
                    api_token: Secret::new(primary_array_token),
                    ca_file: primary_array_ca_file,
                    allow_insecure_http,
                },
                secondary_array: ArrayEndpoint {
                    url: secondary_array_url,
                    api_token: Secret::new(secondary_array_token),
                    ca_file: secondary_array_ca_file,
                    allow_insecure_http,
                },
                pure_pg_name,
                replication_interval_secs: replication_interval,
                rpo_minutes,
            };
            e.create_policy(&group, request).await
        };
    /// The group's replication policy, or `None`.
    fn policy / policy_async (group: String) signature (group)
        -> record("ReplicationPolicy"), |e| e.policy(&group).await;

    /// Stores resource mappings of the group for the direction from `from_site` (default:
    /// its current primary), merged over the stored ones (`replace=True` replaces them).
    fn set_mappings / set_mappings_async (
        group: String, from_site: Option<String>, networks: Names, flavors: Names,
        security_groups: Names, availability_zones: Names, replace: bool
    ) signature (group, *, from_site=None, networks=None, flavors=None, security_groups=None, availability_zones=None, replace=false)
        -> record("GroupMappings"),
        |e| {
            let from_site = match from_site {
                Some(site) => site,
                None => e.group(&group).await?.current_primary_site,
            };
            let given = ResourceMappings { availability_zones: availability_zones.unwrap_or_default(), ..mappings(networks, flavors, security_groups) };
            e.set_mappings(&group, &from_site, given, replace).await
        };
    /// The group's stored mappings, per direction.
    fn mappings / mappings_async (group: String) signature (group)
        -> record("GroupMappings"), |e| e.mappings(&group).await;

    /// Maps a tenant (project) of this site to one on `remote_site`.
    fn create_tenant_mapping / create_tenant_mapping_async (
        local_tenant: String, remote_site: String, remote_tenant: String, description: String
    ) signature (local_tenant, remote_site, remote_tenant, *, description=String::new())
        -> record("TenantMapping"),
        |e| e.create_tenant_mapping(&local_tenant, &remote_site, &remote_tenant, &description).await;
    /// Every tenant mapping.
    fn tenant_mappings / tenant_mappings_async () signature () -> record("TenantMapping"),
        |e| e.tenant_mappings().await;

    /// Whether the group's metadata is the same on both sites.
    fn sync_status / sync_status_async (group: String) signature (group)
        -> record("SyncStatus"), |e| e.sync_status(&group).await;
    /// Pushes the group's metadata from this site to the other.
    fn sync_force / sync_force_async (group: String) signature (group)
        -> record("SyncForceResult"), |e| e.sync_force(&group).await;
    /// The group's latest metadata pushes.
    fn sync_log / sync_log_async (group: String, limit: usize) signature (group, *, limit=10)
        -> record("SyncLogEntry"), |e| e.sync_log(&group, limit).await;

    /// The group's consistency group, with replication health and lag.
    fn consistency_group / consistency_group_async (group: String) signature (group)
        -> record("ConsistencyGroup"), |e| e.consistency_group(&group).await;

    /// The plan of a failover (nothing runs). Its `recovery_point` is the data at risk of an
    /// unplanned one.
    fn plan_failover / plan_failover_async (
        group: String, unplanned: bool, networks: Names, flavors: Names, security_groups: Names,
        recovery_point: Option<String>
    ) signature (group, *, unplanned=false, networks=None, flavors=None, security_groups=None,
        recovery_point=None)
        -> record("Plan"),
        |e| {
            let request = FailoverRequest {
                mode: failover_mode(unplanned),
                mappings: mappings(networks, flavors, security_groups),
                operation_id: None,
                recovery_point,
                commit_window_secs: None,
            };
            e.plan_failover(&group, &request).await
        };
    /// Plans a failover and validates the plan: every finding at once (nothing runs).
    fn validate_failover / validate_failover_async (
        group: String, unplanned: bool, networks: Names, flavors: Names, security_groups: Names
    ) signature (group, *, unplanned=false, networks=None, flavors=None, security_groups=None)
        -> record("ValidationReport"),
        |e| {
            let request = FailoverRequest {
                mode: failover_mode(unplanned),
                mappings: mappings(networks, flavors, security_groups),
                operation_id: None,
                recovery_point: None,
                commit_window_secs: None,
            };
            let plan = e.plan_failover(&group, &request).await?;
            e.validate_plan(&plan).await
        };
    /// The plan of a failback (nothing runs).
    fn plan_failback / plan_failback_async (
        group: String, reverse_replication: bool, force: bool,
        networks: Names, flavors: Names, security_groups: Names
    ) signature (group, *, reverse_replication=true, force=false, networks=None, flavors=None, security_groups=None)
        -> record("Plan"),
        |e| {
            let request = FailbackRequest {
                mappings: mappings(networks, flavors, security_groups),
                reverse_replication,
                force,
                operation_id: None,
            };
            e.plan_failback(&group, &request).await
        };

    /// Fails the group over to its other site; returns its `OperationHandle` at once.
    /// `unplanned=True` recovers from the last replicated snapshot without the source (the
    /// handle's `plan.recovery_point` is the data at risk) and fences the group.
    /// `recovery_point` (unplanned): an older snapshot `recovery_points` lists; the failover
    /// then awaits `failover_commit` for `commit_window` seconds (default 3600, 0: at once).
    fn failover / failover_async (
        group: String, unplanned: bool, networks: Names, flavors: Names, security_groups: Names,
        recovery_point: Option<String>, commit_window: Option<u64>
    ) signature (group, *, unplanned=false, networks=None, flavors=None, security_groups=None,
        recovery_point=None, commit_window=None)
        -> started,
        |e| {
            let request = FailoverRequest {
                mode: failover_mode(unplanned),
                mappings: mappings(networks, flavors, security_groups),
                operation_id: None,
                recovery_point,
                commit_window_secs: commit_window,
            };
            start(e, OperationRequest::Failover { group, request }).await
        };
    /// Fails the group back to its original primary; returns its `OperationHandle`.
    fn failback / failback_async (
        group: String, reverse_replication: bool, force: bool,
        networks: Names, flavors: Names, security_groups: Names
    ) signature (group, *, reverse_replication=true, force=false, networks=None, flavors=None, security_groups=None)
        -> started,
        |e| {
            let request = FailbackRequest {
                mappings: mappings(networks, flavors, security_groups),
                reverse_replication,
                force,
                operation_id: None,
            };
            start(e, OperationRequest::Failback { group, request }).await
        };
    /// Confirms the group's VMs are stopped on the site that came back after an unplanned
    /// failover (stops them when they run).
    fn fence / fence_async (group: String) signature (group) -> record("ProtectionGroup"),
        |e| e.fence(&group).await;
    /// A DR drill: `test-` copies of the latest replicated snapshot; returns its handle.
    fn test_failover / test_failover_async (
        group: String, networks: Names, flavors: Names, security_groups: Names,
        recovery_point: Option<String>
    ) signature (group, *, networks=None, flavors=None, security_groups=None, recovery_point=None)
        -> started,
        |e| {
            let request = TestFailoverRequest {
                mappings: mappings(networks, flavors, security_groups),
                operation_id: None,
                recovery_point,
            };
            start(e, OperationRequest::TestFailover { group, request }).await
        };
    /// The replicated snapshots the group can recover from, newest first, with their age.
    fn recovery_points / recovery_points_async (group: String) signature (group)
        -> record("RecoveryPoints"), |e| e.recovery_points(&group).await;
    /// Commits the group's unplanned failover: reverse replication starts.
    fn failover_commit / failover_commit_async (group: String) signature (group)
        -> record("FailoverCommitted"), |e| e.failover_commit(&group).await;
    /// Rolls the uncommitted failover back to an older point (default: the next older one)
    /// and recovers from it; runs to its end and returns the operation record.
    fn failover_rollback / failover_rollback_async (
        group: String, recovery_point: Option<String>, commit_window: Option<u64>
    ) signature (group, *, recovery_point=None, commit_window=None) -> record("Operation"),
        |e| {
            let request = FailoverRollbackRequest { recovery_point, commit_window_secs: commit_window, operation_id: None };
            e.failover_rollback(&group, request, &protector_core::engine::NoProgress).await
        };
    /// Removes a drill's copies; returns its handle.
    fn test_failover_cleanup / test_failover_cleanup_async (group: String) signature (group)
        -> started,
        |e| start(e, OperationRequest::TestFailoverCleanup { group }).await;
    /// Fails over every group whose current primary is the failed `site` (role
    /// `dr_site_admin`); returns its handle.
    fn site_failover / site_failover_async (
        site: String, unplanned: bool, concurrency: usize, groups: NameList
    ) signature (site, *, unplanned=false, concurrency=protector_core::engine::DEFAULT_SITE_FAILOVER_CONCURRENCY, groups=NameList::default())
        -> started,
        |e| {
            let request = SiteFailoverRequest {
                mode: failover_mode(unplanned),
                concurrency,
                groups: groups.into_vec(),
                operation_id: None,
            };
            start(e, OperationRequest::SiteFailover { site, request }).await
        };

    /// The operations the caller sees, newest first: those of `group` (name or id), in one of
    /// `status`, of one of `operation_type`, at most `limit` when given.
    fn operations / operations_async (
        group: Option<String>, status: NameList, operation_type: NameList,
        limit: Option<usize>
    ) signature (*, group=None, status=NameList::default(), operation_type=NameList::default(), limit=None)
        -> record("Operation"),
        |e| {
            let filter = OperationFilter::parse(group, &status, &operation_type, limit)?;
            e.operations_where(&filter).await
        };
    /// One operation (`op-<uuid>` or the uuid).
    fn operation / operation_async (id: String) signature (id) -> record("Operation"),
        |e| e.operation(&id).await;
    /// A handle following operation `id`, run by this or any other process.
    fn follow / follow_async (id: String) signature (id) -> started,
        |e| {
            let current = e.operation(&id).await?;
            Ok(OperationHandle::follow(e, current))
        };
    /// Waits until operation `id` ends (`timeout` in seconds) and returns its final record.
    fn wait_operation / wait_operation_async (id: String, timeout: Option<f64>)
        signature (id, *, timeout=None) -> record("Operation"),
        |e| {
            let timeout = match timeout {
                Some(t) if !t.is_finite() || t < 0.0 => {
                    return Err(Error::invalid(format!("timeout must be a non-negative number of seconds, got {t}")));
                }
                Some(t) => Some(Duration::from_secs_f64(t)),
                None => None,
            };
            e.wait(&id, timeout).await
        };
    /// The report of the group's latest DR drill (or of drill `operation`) as a dict, or as
    /// one self-contained HTML page (`html=True`); also after the drill's cleanup.
    fn drill_report / drill_report_async (group: String, operation: Option<String>, html: bool)
        signature (group, *, operation=None, html=false) -> record("raw"),
        |e| crate::evidence::drill_report(&e, &group, operation.as_deref(), html).await;
    /// Every resource protector tagged on `sites` (default: all) and their FlashArrays that
    /// no group and no unfinished operation owns, as a dict. Read-only: removes nothing.
    fn leak_scan / leak_scan_async (sites: NameList) signature (*, sites=NameList::default())
        -> record("raw"), |e| e.leak_scan(&sites).await;
    /// Asks operation `id` to stop.
    fn cancel_operation / cancel_operation_async (id: String) signature (id)
        -> record("Operation"), |e| e.cancel(&id).await;
    /// Finishes (or, with `roll_back=True`, rolls back) an operation whose process died.
    fn recover_operation / recover_operation_async (id: String, roll_back: bool)
        signature (id, *, roll_back=false) -> record("Operation"),
        |e| {
            let mode = if roll_back { RecoverMode::RollBack } else { RecoverMode::Continue };
            e.recover_operation_with(&id, mode).await
        };
}
