//! [`Simulator`]: the shared state, the call pipeline every simulated API call goes through
//! (latency, tick, faults, authentication, the service, save), test helpers and fault
//! injection.

mod capacity;

pub use capacity::{HypervisorChange, QuotaChange};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use protector_core::api::Server;
use protector_core::model::{ArrayEndpoint, Secret};
use protector_core::{Error, ErrorKind, Result};

use crate::adapters::SimConnector;
use crate::cloud::{self, Caller, Credential};
use crate::faults::{
    array_down_error, fault_key, site_down_error, ErrorRate, FailNext, Faults, InjectedError,
    Service,
};
use crate::inspect::{self, Inventory};
use crate::seed::{NewServer, ScaleSeed, ScaleSeeded};
use crate::state::records::array_key;
use crate::state::store::Store;
use crate::state::{World, DEFAULT_SEED, SITES};

/// What protector needs to register a simulated site (`protector site create …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRegistration {
    /// Site name (`site-a`, `site-b`); also the name of its admin cloud entry.
    pub name: String,
    /// Keystone URL; the connector recognises the site by its host.
    pub auth_url: String,
    /// Region.
    pub region_name: String,
    /// Free text.
    pub description: String,
}

struct Inner {
    world: World,
    store: Store,
    path: Option<PathBuf>,
}

/// Two simulated OpenStack sites with one FlashArray each, in one process.
///
/// Cheap to clone: clones share the same state. Every simulated API call advances simulated time
/// by one second (see `tick.rs`) and, in a simulator opened on a file, is saved to SQLite before
/// it returns. The state lock is a std mutex held only for the synchronous part of a call, never
/// across an await.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Simulator");
        // Never wait for the state lock just to print.
        match self.inner.try_lock() {
            Ok(inner) => d
                .field("path", &inner.path)
                .field("tick", &inner.world.meta.tick),
            Err(_) => d.field("state", &"<in use>"),
        };
        d.finish()
    }
}

fn unknown_site(site: &str) -> Error {
    Error::invalid(format!(
        "unknown simulated site '{site}'; the simulator has {}",
        SITES.join(" and ")
    ))
}

impl Simulator {
    /// Opens the state at `path`, creating and seeding it with the default inventory when the
    /// file is new; an existing file resumes exactly where it stopped.
    pub fn open(path: &Path) -> Result<Simulator> {
        let mut store = Store::open(path)?;
        let world = store.load_or_seed(|| crate::seed::default_world(DEFAULT_SEED))?;
        Ok(Simulator::from_parts(
            world,
            store,
            Some(path.to_path_buf()),
        ))
    }

    /// A seeded simulator whose state lives in memory only: nothing is saved, no other process
    /// can share it.
    pub fn in_memory() -> Result<Simulator> {
        let mut store = Store::in_memory()?;
        let world = store.load_or_seed(|| crate::seed::default_world(DEFAULT_SEED))?;
        Ok(Simulator::from_parts(world, store, None))
    }

    fn from_parts(world: World, store: Store, path: Option<PathBuf>) -> Simulator {
        Simulator {
            inner: Arc::new(Mutex::new(Inner { world, store, path })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, reloaded first if another process changed the file.
    fn read(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self.lock();
        let Inner { world, store, .. } = &mut *inner;
        if let Err(e) = store.refresh(world) {
            tracing::warn!(error = %e, "simulator state could not be reloaded; answering from memory");
        }
        inner
    }

    /// The [`protector_core::api::Connector`] that hands out clients of this simulator.
    pub fn connector(&self) -> SimConnector {
        SimConnector::new(self.clone())
    }

    /// Registration data of `site` (`site-a` or `site-b`).
    pub fn site_registration(&self, site: &str) -> Option<SiteRegistration> {
        if !SITES.contains(&site) {
            return None;
        }
        let role = if site == "site-a" {
            "primary"
        } else {
            "disaster-recovery"
        };
        Some(SiteRegistration {
            name: site.to_string(),
            auth_url: format!("http://{site}.sim.invalid:5000/v3"),
            region_name: "RegionOne".to_string(),
            description: format!("Simulated {role} site ({site})"),
        })
    }

    /// URL and API token of the FlashArray of `site`.
    pub fn array_endpoint(&self, site: &str) -> Option<ArrayEndpoint> {
        let inner = self.read();
        inner.world.array_of_site(site).map(|a| ArrayEndpoint {
            url: a.url.clone(),
            api_token: Secret::new(a.api_token.clone()),
            ca_file: None,
            allow_insecure_http: false,
        })
    }

    /// Both sites and arrays as they are now, whatever the faults. Does not advance time.
    pub fn inspect(&self) -> Inventory {
        inspect::inventory(&self.read().world)
    }

    /// The newest server named `name` on `site`, as an admin of its project sees it.
    pub fn find_server(&self, site: &str, name: &str) -> Option<Server> {
        let inner = self.read();
        let world = &inner.world;
        world
            .servers
            .values()
            .filter(|s| s.site == site && s.name == name)
            .max_by_key(|s| s.seq)
            .map(|s| cloud::compute::server_view(world, s))
    }

    /// The fingerprint of the array volume behind Cinder volume `volume_id` on `site`.
    pub fn volume_fingerprint(&self, site: &str, volume_id: &str) -> Option<u64> {
        let inner = self.read();
        let world = &inner.world;
        let volume = world.volumes.get(volume_id).filter(|v| v.site == site)?;
        let name = volume.array_volume.as_ref()?;
        let array = world.array_name_of_site(site);
        world
            .array_volumes
            .get(&array_key(&array, name))
            .map(|v| v.fingerprint)
    }

    /// The fingerprint of array volume `name` on the array of `site`.
    pub fn array_volume_fingerprint(&self, site: &str, name: &str) -> Option<u64> {
        let inner = self.read();
        let array = inner.world.array_name_of_site(site);
        inner
            .world
            .array_volumes
            .get(&array_key(&array, name))
            .map(|v| v.fingerprint)
    }

    /// The id of project `project_name` on `site`.
    pub fn project_id(&self, site: &str, project_name: &str) -> Option<String> {
        let inner = self.read();
        inner
            .world
            .projects
            .find(|p| p.site == site && p.name == project_name)
            .map(|p| p.id.clone())
    }

    /// The name of the FlashArray of `site`.
    pub fn array_name(&self, site: &str) -> Option<String> {
        let inner = self.read();
        inner.world.array_of_site(site).map(|a| a.name.clone())
    }

    /// Adds project `name` on both sites, with the `default`, `web` and `db` security groups
    /// (and rules) every seeded project has, and no users. Returns its id on each site (they
    /// differ: each site has its own Keystone). Does not advance time.
    ///
    /// `AlreadyExists` when a project of that name exists on either site.
    pub fn add_project(&self, name: &str) -> Result<std::collections::BTreeMap<String, String>> {
        self.update_world(|w| crate::seed::add_project(w, name))?
    }

    /// Gives user `user` of `site` the roles `roles` on project `project` (both by name), on
    /// top of those it has, as `openstack role add` does. Does not advance time.
    ///
    /// The seeded `admin` has roles only in `production-project`; a connector scoping it to
    /// another project ([`protector_core::api::Connector::site_for_project`]) needs this first.
    pub fn grant_roles(&self, site: &str, user: &str, project: &str, roles: &[&str]) -> Result<()> {
        Self::check_site(site)?;
        self.update_world(|w| crate::seed::grant_roles(w, site, user, project, roles))?
    }

    /// Adds a running VM like the seeded ones (see [`NewServer`]) and returns it as an admin
    /// of its project sees it. Does not advance time.
    ///
    /// `NotFound` for an unknown project, user, flavor, keypair, network, security group or
    /// volume type; `InvalidInput` for an address outside the network; `Conflict` for an
    /// address in use.
    pub fn add_server(&self, server: &NewServer) -> Result<Server> {
        let id = self.update_world(|w| crate::seed::add_server(w, server))??;
        let inner = self.read();
        let world = &inner.world;
        let record = world
            .servers
            .get(&id)
            .ok_or_else(|| Error::unexpected(format!("server {id} vanished after creation")))?;
        Ok(cloud::compute::server_view(world, record))
    }

    /// Adds the inventory `spec` describes (projects on both sites, running VMs on
    /// `spec.site`, raised quotas and compute capacity; see [`ScaleSeed`]) in one transaction,
    /// and lists what it created. Does not advance time. Fast: 1,000 VMs take well under a
    /// second in a release build.
    ///
    /// `InvalidInput` for a spec out of range (nothing is changed); `NotFound` for an unknown
    /// flavor or volume type; `AlreadyExists` when the state already holds a scale seed (one
    /// per state: start from a fresh one) or a project of that name exists.
    pub fn seed_scale(&self, spec: &ScaleSeed) -> Result<ScaleSeeded> {
        self.update_world(|w| crate::seed::scale::seed_scale(w, spec))?
    }

    /// The scale seed this state holds, if any ([`Simulator::seed_scale`]).
    pub fn scale_seed(&self) -> Option<ScaleSeed> {
        self.read().world.meta.scale_seed.clone()
    }

    /// Runs `ticks` world steps; with the default clock ([`crate::Clock::Calls`]) each is
    /// one simulated second.
    pub fn tick(&self, ticks: u64) -> Result<()> {
        let mut inner = self.lock();
        let Inner { world, store, .. } = &mut *inner;
        store.transact(world, |world| {
            for _ in 0..ticks {
                crate::tick::advance(world);
            }
        })
    }

    /// The simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.read().world.now()
    }

    /// The last write sequence number handed out (every fingerprint is at most this).
    pub fn last_write(&self) -> u64 {
        self.read().world.meta.write_seq
    }

    // ------------------------------------------------------------------ faults

    fn change_faults(&self, change: impl FnOnce(&mut Faults)) -> Result<()> {
        let mut inner = self.lock();
        let Inner { world, store, .. } = &mut *inner;
        store.transact(world, |world| change(&mut world.faults))
    }

    fn check_site(site: &str) -> Result<()> {
        if SITES.contains(&site) {
            Ok(())
        } else {
            Err(unknown_site(site))
        }
    }

    /// Takes every OpenStack service of `site` down (or back up): each call fails with
    /// `Unavailable` "`<site>` is unreachable: connection refused (simulated)". VMs keep running.
    pub fn set_site_down(&self, site: &str, down: bool) -> Result<()> {
        Self::check_site(site)?;
        self.change_faults(|f| {
            if down {
                f.sites_down.insert(site.to_string());
            } else {
                f.sites_down.remove(site);
            }
        })
    }

    /// Powers the FlashArray of `site` off (or on): its API fails with `Unavailable`, no write
    /// lands on it, and replication to and from it stalls.
    pub fn set_array_down(&self, site: &str, down: bool) -> Result<()> {
        Self::check_site(site)?;
        self.change_faults(|f| {
            if down {
                if f.arrays_down.insert(site.to_string()) {
                    *f.array_power_cycles.entry(site.to_string()).or_default() += 1;
                }
            } else {
                f.arrays_down.remove(site);
            }
        })
    }

    /// Whether the array of `site` is powered off, and how many times it was powered off so
    /// far (the REST face's sessions do not survive a restart).
    pub(crate) fn array_power(&self, site: &str) -> (bool, u64) {
        let inner = self.read();
        let faults = &inner.world.faults;
        (
            faults.arrays_down.contains(site),
            faults.array_power_cycles.get(site).copied().unwrap_or(0),
        )
    }

    /// Cuts (or restores) the replication link between the arrays: transfers stall and
    /// stretched pods split (the first array of a pod stays online).
    pub fn set_partition(&self, partitioned: bool) -> Result<()> {
        self.change_faults(|f| f.partition = partitioned)
    }

    /// Makes a fraction `rate` (0–1) of the calls to `service` of `site` fail with `error`,
    /// drawn from a seeded generator (deterministic for a given call sequence). A rate of 0
    /// removes it.
    pub fn set_error_rate(
        &self,
        site: &str,
        service: Service,
        rate: f64,
        error: InjectedError,
    ) -> Result<()> {
        Self::check_site(site)?;
        if !(0.0..=1.0).contains(&rate) {
            return Err(Error::invalid(format!(
                "error rate {rate} is outside 0..=1"
            )));
        }
        self.change_faults(|f| {
            let key = fault_key(site, service);
            if rate == 0.0 {
                f.error_rates.remove(&key);
            } else {
                f.error_rates.insert(key, ErrorRate { rate, error });
            }
        })
    }

    /// Fails the next `count` calls of `operation` (the trait method name, such as
    /// `manage_volume` or `create_pg_snapshot`) on `service` of `site` with `kind` and
    /// `message`, before they take effect.
    pub fn fail_next(
        &self,
        site: &str,
        service: Service,
        operation: &str,
        kind: ErrorKind,
        message: &str,
        count: u32,
    ) -> Result<()> {
        self.add_fail_next(site, service, operation, kind, message, count, false)
    }

    /// Like [`Simulator::fail_next`], but the calls take effect and only the answer is lost:
    /// the shape of a timeout after the server acted.
    pub fn fail_next_after_apply(
        &self,
        site: &str,
        service: Service,
        operation: &str,
        kind: ErrorKind,
        message: &str,
        count: u32,
    ) -> Result<()> {
        self.add_fail_next(site, service, operation, kind, message, count, true)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "private helper of two public twins"
    )]
    fn add_fail_next(
        &self,
        site: &str,
        service: Service,
        operation: &str,
        kind: ErrorKind,
        message: &str,
        count: u32,
        after_apply: bool,
    ) -> Result<()> {
        Self::check_site(site)?;
        if count == 0 {
            return Ok(());
        }
        self.change_faults(|f| {
            f.fail_next.push(FailNext {
                site: site.to_string(),
                service,
                operation: operation.to_string(),
                kind,
                message: message.to_string(),
                remaining: count,
                after_apply,
            })
        })
    }

    /// The next server created on `site` with `server_name` goes BUILD → ERROR with
    /// `fault_message`.
    pub fn fail_server_boot(
        &self,
        site: &str,
        server_name: &str,
        fault_message: &str,
    ) -> Result<()> {
        Self::check_site(site)?;
        self.change_faults(|f| {
            f.boot_failures
                .insert(format!("{site}/{server_name}"), fault_message.to_string());
        })
    }

    /// Whether manage, unmanage and `os-services` need the admin role on `site` (Cinder's
    /// default, `true`) or any project member may call them.
    pub fn set_manage_policy_admin_only(&self, site: &str, admin_only: bool) -> Result<()> {
        Self::check_site(site)?;
        self.change_faults(|f| {
            if admin_only {
                f.manage_policy_open.remove(site);
            } else {
                f.manage_policy_open.insert(site.to_string());
            }
        })
    }

    /// How many ticks the services' transitions take from now on ([`crate::Pace`]); kept in
    /// the state, so every process serving it follows.
    pub fn set_pace(&self, pace: crate::Pace) -> Result<()> {
        self.update_world(|world| world.meta.pace = pace)
    }

    /// The pace of the services' transitions.
    pub fn pace(&self) -> crate::Pace {
        self.read_world(|world| world.meta.pace)
    }

    /// What simulated time follows from now on ([`crate::Clock`]), going on from the time it
    /// shows now (it never goes back); kept in the state, so every process serving it
    /// follows. With [`crate::Clock::Wall`], [`Simulator::tick`] runs the services' steps
    /// without moving time.
    pub fn set_clock(&self, clock: crate::Clock) -> Result<()> {
        self.update_world(|world| world.set_clock(clock))
    }

    /// What simulated time follows.
    pub fn clock(&self) -> crate::Clock {
        self.read_world(|world| world.clock())
    }

    /// Adds `ms` milliseconds of real latency to every call of `service` on `site` (0 removes
    /// it). Simulated time is unaffected.
    pub fn set_latency_ms(&self, site: &str, service: Service, ms: u64) -> Result<()> {
        Self::check_site(site)?;
        self.change_faults(|f| {
            let key = fault_key(site, service);
            if ms == 0 {
                f.latency_ms.remove(&key);
            } else {
                f.latency_ms.insert(key, ms);
            }
        })
    }

    /// Removes every injected fault (sites and arrays up, no partition, no error rates,
    /// pending failures or latency, Cinder's default admin-only policy).
    pub fn clear(&self) -> Result<()> {
        self.change_faults(|f| {
            *f = Faults {
                array_power_cycles: std::mem::take(&mut f.array_power_cycles),
                ..Faults::default()
            }
        })
    }

    // ------------------------------------------------------------------ call pipeline

    async fn latency(&self, site: &str, service: Service) {
        let ms = {
            // Reloaded first if another process changed the state (`protector sim fault
            // --latency` while an engine runs in process), as the wire face's fault watcher
            // does: the transaction that follows reloads too late for the delay before it.
            let inner = self.read();
            inner
                .world
                .faults
                .latency_ms
                .get(&fault_key(site, service))
                .copied()
                .unwrap_or(0)
        };
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }

    /// One call to an OpenStack service of `site` as `credential`.
    pub(crate) async fn call_cloud<T>(
        &self,
        site: &str,
        credential: &Credential,
        service: Service,
        operation: &'static str,
        f: impl FnOnce(&mut World, &Caller) -> Result<T>,
    ) -> Result<T> {
        self.call_site(site, service, operation, |world| {
            let caller = cloud::authenticate(world, site, credential)?;
            f(world, &caller)
        })
        .await
    }

    /// One call to an OpenStack service of `site` over the wire, as the holder of the Keystone
    /// token `token` (`None`: the request had no `X-Auth-Token`). The token is checked after
    /// the faults, as keystonemiddleware runs inside the service.
    pub(crate) async fn call_with_token<T>(
        &self,
        site: &str,
        token: Option<&str>,
        service: Service,
        operation: &'static str,
        f: impl FnOnce(&mut World, &Caller) -> Result<T>,
    ) -> Result<T> {
        self.call_site(site, service, operation, |world| {
            let caller =
                cloud::identity::caller_from_token(world, site, token, chrono::Utc::now())?;
            f(world, &caller)
        })
        .await
    }

    /// One call to a service of `site` that authenticates by itself or not at all (version
    /// documents, `POST /v3/auth/tokens`): latency, tick, faults, `f`, save.
    pub(crate) async fn call_site<T>(
        &self,
        site: &str,
        service: Service,
        operation: &'static str,
        f: impl FnOnce(&mut World) -> Result<T>,
    ) -> Result<T> {
        Self::check_site(site)?;
        self.latency(site, service).await;
        let mut inner = self.lock();
        inner
            .call(site, service, operation, f)
            .map_err(|e| e.with_context("site", site))
    }

    /// Reads the state (reloaded first if another process changed it) without advancing time.
    pub(crate) fn read_world<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.read().world)
    }

    /// Changes the state outside any simulated API call (no tick, no faults) and saves it.
    pub(crate) fn update_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> Result<T> {
        let mut inner = self.lock();
        let Inner { world, store, .. } = &mut *inner;
        store.transact(world, f)
    }

    /// One call to the array of `site` with `token`.
    pub(crate) async fn call_array<T>(
        &self,
        site: &str,
        token: &Secret,
        operation: &'static str,
        f: impl FnOnce(&mut World, &str) -> Result<T>,
    ) -> Result<T> {
        self.latency(site, Service::Array).await;
        let mut inner = self.lock();
        let array = inner.world.array_name_of_site(site);
        inner
            .call(site, Service::Array, operation, |world| {
                let valid = world
                    .arrays
                    .get(&array)
                    .is_some_and(|a| a.api_token == token.expose());
                if !valid {
                    return Err(Error::new(
                        ErrorKind::Unauthenticated,
                        format!("{array} refused the API token: invalid credentials."),
                    ));
                }
                f(world, &array)
            })
            .map_err(|e| e.with_context("array", array.clone()))
    }
}

impl Inner {
    /// Tick, faults, the service call, save.
    fn call<T>(
        &mut self,
        site: &str,
        service: Service,
        operation: &str,
        f: impl FnOnce(&mut World) -> Result<T>,
    ) -> Result<T> {
        self.store.transact(&mut self.world, |world| {
            crate::tick::advance(world);
            run_with_faults(world, site, service, operation, f)
        })?
    }
}

fn run_with_faults<T>(
    world: &mut World,
    site: &str,
    service: Service,
    operation: &str,
    f: impl FnOnce(&mut World) -> Result<T>,
) -> Result<T> {
    if service == Service::Array {
        if world.faults.arrays_down.contains(site) {
            return Err(array_down_error(&world.array_name_of_site(site)));
        }
    } else if world.faults.sites_down.contains(site) {
        return Err(site_down_error(site));
    }

    let mut lost_answer: Option<Error> = None;
    if let Some(index) = world
        .faults
        .fail_next
        .iter()
        .position(|f| f.site == site && f.service == service && f.operation == operation)
    {
        let fault = &mut world.faults.fail_next[index];
        fault.remaining = fault.remaining.saturating_sub(1);
        let error = Error::new(fault.kind, fault.message.clone());
        let after_apply = fault.after_apply;
        if fault.remaining == 0 {
            world.faults.fail_next.remove(index);
        }
        if after_apply {
            lost_answer = Some(error);
        } else {
            return Err(error);
        }
    }
    if let Some(rate) = world
        .faults
        .error_rates
        .get(&fault_key(site, service))
        .copied()
    {
        if world.fault_draw() < rate.rate {
            let error = rate.error.to_error(site, service, operation);
            if rate.error.applies_request() {
                lost_answer.get_or_insert(error);
            } else {
                return Err(error);
            }
        }
    }
    let outcome = f(world);
    match lost_answer {
        Some(error) => Err(error),
        None => outcome,
    }
}
