//! What plans read of a site, read at once and once per operation: the target's flavors,
//! networks, security groups, availability zones, cinder-volume services and hypervisors; a
//! project's quotas; the servers of a project (one listing, not one read per member); each
//! keypair and volume type by name.
//!
//! Within an operation ([`Protector::for_operation`], e.g. a site failover that plans every
//! group) the reads are kept per (site, project): the groups of one project share one read of
//! each, and concurrent plans wait for the read under way rather than each sending its own. A
//! read that failed is not kept (the next plan reads again). Outside an operation (a dry run)
//! each call reads. Quotas and hypervisors are read once too: what the groups planned earlier
//! in the operation need is added to each later group's need ([`Reads::demand_before`]), so
//! that the groups together are checked against one reading.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;
use uuid::Uuid;

use super::Protector;
use crate::api::{
    AvailabilityZone, ComputeLimits, Flavor, Hypervisor, ListServers, Network, QuotaUsage,
    SecurityGroup, Server, SiteClients, VolumeLimits, VolumeService, VolumeType,
};
use crate::error::{Error, ErrorKind, Result};

/// A read whose failure does not stop the plan: `Err` says why the check cannot be made (the
/// service does not tell, or the credentials may not ask), by its kind and message.
pub(crate) type Checked<T> = std::result::Result<T, (ErrorKind, String)>;

/// Whether `e` means a check cannot be made (rather than that the site failed).
pub(crate) fn not_checkable(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Unsupported | ErrorKind::PermissionDenied | ErrorKind::NotFound
    )
}

/// `result`, with a failure that only means "cannot check" kept as a value.
fn checked<T>(result: Result<T>) -> Result<Checked<T>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(e) if not_checkable(&e) => Ok(Err((e.kind(), e.message().to_string()))),
        Err(e) => Err(e),
    }
}

/// The target site's inventory, as one project sees it.
#[derive(Debug)]
pub(crate) struct SiteInventory {
    pub(crate) flavors: Vec<Flavor>,
    pub(crate) networks: Vec<Network>,
    pub(crate) security_groups: Vec<SecurityGroup>,
    pub(crate) zones: Checked<Vec<AvailabilityZone>>,
    /// `cinder-volume` services; `Err` when they may not be listed (`PermissionDenied`).
    pub(crate) volume_services: Checked<Vec<VolumeService>>,
}

/// A project's quotas on a site with their usage, and the site's hypervisors.
#[derive(Debug)]
pub(crate) struct Capacity {
    pub(crate) compute: Checked<ComputeLimits>,
    pub(crate) volume: Checked<VolumeLimits>,
    pub(crate) ports: Checked<QuotaUsage>,
    pub(crate) hypervisors: Checked<Vec<Hypervisor>>,
}

/// What a plan adds on a site: in all, and per availability zone (`None`: Nova picks).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Demand {
    pub(crate) instances: u64,
    pub(crate) cores: u64,
    pub(crate) ram_mb: u64,
    pub(crate) volumes: u64,
    pub(crate) gigabytes: u64,
    pub(crate) ports: u64,
}

impl Demand {
    /// The sum of both.
    pub(crate) fn plus(&self, other: &Demand) -> Demand {
        Demand {
            instances: self.instances + other.instances,
            cores: self.cores + other.cores,
            ram_mb: self.ram_mb + other.ram_mb,
            volumes: self.volumes + other.volumes,
            gigabytes: self.gigabytes + other.gigabytes,
            ports: self.ports + other.ports,
        }
    }
}

/// One plan's demand, in all and per zone.
#[derive(Debug, Default, Clone)]
pub(crate) struct PlanDemand {
    pub(crate) total: Demand,
    pub(crate) per_zone: BTreeMap<Option<String>, Demand>,
}

type Site = String;
type Project = String;

/// One read shared by every plan of an operation.
#[derive(Debug)]
struct Memo<K, V>(Mutex<BTreeMap<K, Arc<OnceCell<V>>>>);

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo(Mutex::new(BTreeMap::new()))
    }
}

impl<K: Ord, V: Clone> Memo<K, V> {
    async fn get<F: Future<Output = Result<V>>>(
        &self,
        key: K,
        read: impl FnOnce() -> F,
    ) -> Result<V> {
        let cell = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_try_init(read).await.cloned()
    }
}

/// The reads of one operation (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct Reads {
    inventories: Memo<(Site, Project), Arc<SiteInventory>>,
    capacities: Memo<(Site, Project), Arc<Capacity>>,
    servers: Memo<(Site, Project), Arc<BTreeMap<String, Server>>>,
    keypairs: Memo<(Site, Project, String), bool>,
    volume_types: Memo<(Site, Project, String), Option<VolumeType>>,
    /// What each group planned in this operation needs, per (site, project).
    demand: Mutex<BTreeMap<(Site, Project), BTreeMap<Uuid, PlanDemand>>>,
}

impl Reads {
    /// What the other groups planned in this operation need on `site` in `project`; records
    /// `group`'s own demand (replacing an earlier plan of it).
    pub(crate) fn demand_before(
        &self,
        site: &str,
        project: &str,
        group: Uuid,
        own: &PlanDemand,
    ) -> PlanDemand {
        let mut all = self.demand.lock().unwrap_or_else(PoisonError::into_inner);
        let plans = all
            .entry((site.to_string(), project.to_string()))
            .or_default();
        let mut before = PlanDemand::default();
        for (_, plan) in plans.iter().filter(|(id, _)| **id != group) {
            before.total = before.total.plus(&plan.total);
            for (zone, demand) in &plan.per_zone {
                let entry = before.per_zone.entry(zone.clone()).or_default();
                *entry = entry.plus(demand);
            }
        }
        plans.insert(group, own.clone());
        before
    }
}

async fn read_inventory(clients: &SiteClients) -> Result<Arc<SiteInventory>> {
    let (flavors, networks, security_groups, zones, volume_services) = futures::try_join!(
        clients.compute.list_flavors(),
        clients.network.list_networks(),
        clients.network.list_security_groups(),
        async { checked(clients.compute.list_availability_zones().await) },
        async {
            match clients.block_storage.list_volume_services().await {
                Ok(services) => Ok(Ok(services)),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    Ok(Err((e.kind(), e.message().to_string())))
                }
                Err(e) => Err(e),
            }
        },
    )?;
    Ok(Arc::new(SiteInventory {
        flavors,
        networks,
        security_groups,
        zones,
        volume_services,
    }))
}

async fn read_capacity(clients: &SiteClients, project: &str) -> Result<Arc<Capacity>> {
    let (compute, volume, ports, hypervisors) = futures::try_join!(
        async { checked(clients.compute.get_limits().await) },
        async { checked(clients.block_storage.get_limits().await) },
        async { checked(clients.network.get_port_quota(project).await) },
        async { checked(clients.compute.list_hypervisors().await) },
    )?;
    Ok(Arc::new(Capacity {
        compute,
        volume,
        ports,
        hypervisors,
    }))
}

async fn read_servers(clients: &SiteClients) -> Result<Arc<BTreeMap<String, Server>>> {
    let servers = clients
        .compute
        .list_servers(&ListServers::default())
        .await?;
    Ok(Arc::new(
        servers.into_iter().map(|s| (s.id.clone(), s)).collect(),
    ))
}

impl Protector {
    /// The operation's reads, with the project `clients` act in; `None` outside an operation.
    async fn reads(&self, clients: &SiteClients) -> Result<Option<(&Reads, String)>> {
        let Some(reached) = self.reached.as_deref() else {
            return Ok(None);
        };
        let project = self.identify(clients).await?.project_id;
        Ok(Some((reached.reads(), project)))
    }

    /// The inventory of `clients`' site as their project sees it.
    pub(crate) async fn site_inventory(&self, clients: &SiteClients) -> Result<Arc<SiteInventory>> {
        match self.reads(clients).await? {
            Some((reads, project)) => {
                reads
                    .inventories
                    .get((clients.site.clone(), project), || read_inventory(clients))
                    .await
            }
            None => read_inventory(clients).await,
        }
    }

    /// The quotas of `clients`' project on their site, and the site's hypervisors, with what
    /// the other groups planned in this operation need there; records `own` as `group`'s.
    pub(crate) async fn capacity(
        &self,
        clients: &SiteClients,
        project: &str,
    ) -> Result<Arc<Capacity>> {
        match self.reads(clients).await? {
            Some((reads, key)) => {
                reads
                    .capacities
                    .get((clients.site.clone(), key), || {
                        read_capacity(clients, project)
                    })
                    .await
            }
            None => read_capacity(clients, project).await,
        }
    }

    /// What the other groups planned in this operation need on `clients`' site in their
    /// project (nothing outside an operation); records `own` as `group`'s.
    pub(crate) async fn demand_before(
        &self,
        clients: &SiteClients,
        group: Uuid,
        own: &PlanDemand,
    ) -> Result<PlanDemand> {
        Ok(match self.reads(clients).await? {
            Some((reads, project)) => reads.demand_before(&clients.site, &project, group, own),
            None => PlanDemand::default(),
        })
    }

    /// The servers `ids` of `clients`' project: one listing of the project's servers (kept for
    /// the operation), and a read of each id the listing lacks (a server of another project
    /// that admin credentials see). A server that does not exist is absent.
    pub(crate) async fn servers_by_id(
        &self,
        clients: &SiteClients,
        ids: &[&str],
    ) -> Result<BTreeMap<String, Server>> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let listed = match self.reads(clients).await? {
            Some((reads, project)) => {
                reads
                    .servers
                    .get((clients.site.clone(), project), || read_servers(clients))
                    .await?
            }
            None => read_servers(clients).await?,
        };
        let missing: BTreeSet<&str> = ids
            .iter()
            .copied()
            .filter(|id| !listed.contains_key(*id))
            .collect();
        let found = futures::future::try_join_all(
            missing.into_iter().map(|id| clients.compute.get_server(id)),
        )
        .await?;
        let mut out: BTreeMap<String, Server> = ids
            .iter()
            .filter_map(|id| listed.get(*id).map(|s| (id.to_string(), s.clone())))
            .collect();
        out.extend(found.into_iter().flatten().map(|s| (s.id.clone(), s)));
        Ok(out)
    }

    /// Whether keypair `name` exists for the user of `clients`.
    pub(crate) async fn keypair_exists(&self, clients: &SiteClients, name: &str) -> Result<bool> {
        let read = || async { Ok(clients.compute.get_keypair(name).await?.is_some()) };
        match self.reads(clients).await? {
            Some((reads, project)) => {
                reads
                    .keypairs
                    .get((clients.site.clone(), project, name.to_string()), read)
                    .await
            }
            None => read().await,
        }
    }

    /// Volume type `name` as `clients` see it.
    pub(crate) async fn volume_type(
        &self,
        clients: &SiteClients,
        name: &str,
    ) -> Result<Option<VolumeType>> {
        let read = || clients.block_storage.find_volume_type(name);
        match self.reads(clients).await? {
            Some((reads, project)) => {
                reads
                    .volume_types
                    .get((clients.site.clone(), project, name.to_string()), read)
                    .await
            }
            None => read().await,
        }
    }
}
