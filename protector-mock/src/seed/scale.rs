//! Inventories at scale: `N` running VMs in `M` projects, each VM made exactly like the seeded
//! ones (ACTIVE on a flavor, boot volume attached, ports, an array volume with a fingerprint
//! behind every Cinder volume, in the stretched pod for sync types), created in one pass over
//! the world: one lock, one transaction, no call through the API pipeline per VM.
//!
//! What a scale seed adds, on top of the default inventory:
//! - projects `<project_prefix>-1` .. `<project_prefix>-M` on **both** sites (like `tenant2`:
//!   the `default`, `web` and `db` security groups and their rules), with the seeded `admin`
//!   granted `admin`, `member` and `reader` in each on both sites, so that protector's DR admin
//!   acts in them (re-scoped by the connector, or through the `<site>-<project>` entries `sim
//!   serve` writes to clouds.yaml). `M = 0` puts the VMs in `production-project` instead;
//! - a shared network per site sized for thousands of ports (`net-primary-bench`
//!   10.100.0.0/16 on site-a, `net-secondary-bench` 10.200.0.0/16 on site-b): the seeded /24
//!   networks hold 253 addresses, fewer than a large failover needs on the target;
//! - quotas of the projects on both sites and the zone-`nova` compute node of both sites raised
//!   so that twice the seeded VMs (a failover and a drill) fit on either site.
//!
//! Volume types: `volume_types` in order, or every replicated type of the site (`<is> True`
//! replication: the async protection-group type and the sync pod type), assigned round-robin
//! per VM (all volumes of one VM share a type: a protection group replicates one type).
//! Names: VM `i` of project `p` is `<name_prefix>-<p>-<i>` (`<name_prefix>-<i>` when `M = 0`),
//! numbers zero-padded to a common width; its volumes are `<vm>-root`, `<vm>-data-1`, ...

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use protector_core::{Error, ErrorKind, Result};

use super::servers::{insert_server, ServerPlacement};
use super::wire::seed_security_group_rules;
use crate::state::records::*;
use crate::state::{World, SITES};

/// Roles the seeded `admin` gets in every scale-seeded project, on both sites.
const ADMIN_ROLES: [&str; 3] = ["admin", "member", "reader"];

/// Largest number of volumes or NICs per VM (device names `/dev/vda` .. `/dev/vdp`).
pub const MAX_PER_VM: usize = 16;

/// What [`crate::Simulator::seed_scale`] creates: `projects` × `vms_per_project` running VMs on
/// `site`. Start from [`ScaleSeed::new`] or [`ScaleSeed::default`] and set fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScaleSeed {
    /// Site the VMs run on (default `site-a`).
    pub site: String,
    /// Number of projects `M` (named `<project_prefix>-1` .. `-M`, created on both sites);
    /// 0 puts every VM in `production-project`.
    pub projects: usize,
    /// Prefix of the project names (default `bench`).
    pub project_prefix: String,
    /// VMs per project (or in `production-project` when `projects` is 0); at least 1.
    pub vms_per_project: usize,
    /// Volumes per VM, the first bootable (1 to [`MAX_PER_VM`]; default 1).
    pub volumes_per_vm: usize,
    /// Size of each volume in GiB (default 10).
    pub volume_size_gb: u64,
    /// NICs per VM, each a port on the site's bench network (1 to [`MAX_PER_VM`]; default 1).
    pub nics_per_vm: usize,
    /// Prefix of the VM names (default `bench`).
    pub name_prefix: String,
    /// Volume types assigned round-robin per VM; empty (default) = every replicated type of the
    /// site, in name order (`replicated-ssd`, then `replicated-sync` in the default seed).
    pub volume_types: Vec<String>,
    /// Flavor of every VM; `None` (default) = the site's flavor with the fewest vCPUs.
    pub flavor: Option<String>,
}

impl Default for ScaleSeed {
    fn default() -> Self {
        ScaleSeed {
            site: "site-a".to_string(),
            projects: 0,
            project_prefix: "bench".to_string(),
            vms_per_project: 1,
            volumes_per_vm: 1,
            volume_size_gb: 10,
            nics_per_vm: 1,
            name_prefix: "bench".to_string(),
            volume_types: Vec::new(),
            flavor: None,
        }
    }
}

impl ScaleSeed {
    /// `projects` projects of `vms_per_project` VMs each on site-a, the other fields at their
    /// defaults.
    pub fn new(projects: usize, vms_per_project: usize) -> ScaleSeed {
        ScaleSeed {
            projects,
            vms_per_project,
            ..ScaleSeed::default()
        }
    }

    /// Total number of VMs.
    pub fn total_vms(&self) -> usize {
        self.projects.max(1) * self.vms_per_project
    }

    /// The project names this seed creates (none when `projects` is 0).
    pub fn project_names(&self) -> Vec<String> {
        (1..=self.projects)
            .map(|p| format!("{}-{p}", self.project_prefix))
            .collect()
    }

    fn check(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::invalid(message));
        if !SITES.contains(&self.site.as_str()) {
            return invalid(format!(
                "scale seed: unknown simulated site '{}'; use {}",
                self.site,
                SITES.join(" or ")
            ));
        }
        if self.vms_per_project == 0 {
            return invalid("scale seed: vms_per_project is 0; give at least 1 VM".to_string());
        }
        for (what, value) in [
            ("volumes_per_vm", self.volumes_per_vm),
            ("nics_per_vm", self.nics_per_vm),
        ] {
            if !(1..=MAX_PER_VM).contains(&value) {
                return invalid(format!(
                    "scale seed: {what} is {value}; give 1 to {MAX_PER_VM}"
                ));
            }
        }
        if self.volume_size_gb == 0 {
            return invalid("scale seed: volume_size_gb is 0; give at least 1 GiB".to_string());
        }
        for (what, prefix) in [
            ("name_prefix", &self.name_prefix),
            ("project_prefix", &self.project_prefix),
        ] {
            let ok = !prefix.is_empty()
                && prefix.len() <= 32
                && prefix.starts_with(|c: char| c.is_ascii_alphabetic())
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return invalid(format!(
                    "scale seed: {what} '{prefix}' is not a valid name prefix; use 1 to 32 letters, digits and '-', starting with a letter"
                ));
            }
        }
        let ports = self.total_vms().saturating_mul(self.nics_per_vm);
        if ports > MAX_PORTS {
            return invalid(format!(
                "scale seed: {} VMs x {} NICs need {ports} addresses, more than the {MAX_PORTS} of the bench network; seed fewer VMs or NICs",
                self.total_vms(),
                self.nics_per_vm
            ));
        }
        Ok(())
    }
}

/// What [`crate::Simulator::seed_scale`] created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleSeeded {
    /// The site the VMs run on.
    pub site: String,
    /// The bench network of each site (site → network name): map the seeding site's to the
    /// other's in a failover.
    pub networks: BTreeMap<String, String>,
    /// Per project, in order.
    pub projects: Vec<SeededProject>,
}

impl ScaleSeeded {
    /// Every seeded server, project by project.
    pub fn servers(&self) -> impl Iterator<Item = &SeededServer> {
        self.projects.iter().flat_map(|p| p.servers.iter())
    }
}

/// A project of a scale seed and its VMs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededProject {
    /// Project name (`bench-1`, or `production-project` when the seed made no projects).
    pub name: String,
    /// Its id on the seeding site.
    pub id: String,
    /// Its id on every site (site → id; each site has its own Keystone).
    pub site_ids: BTreeMap<String, String>,
    /// Its VMs, in creation order.
    pub servers: Vec<SeededServer>,
}

/// One VM of a scale seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededServer {
    /// Server name.
    pub name: String,
    /// Server id.
    pub id: String,
    /// The volume type of all its volumes.
    pub volume_type: String,
}

/// The bench network of `site`: its name and the first two octets of its /16.
pub(crate) fn bench_network(site: &str) -> (String, &'static str) {
    if site == "site-a" {
        ("net-primary-bench".to_string(), "10.100")
    } else {
        ("net-secondary-bench".to_string(), "10.200")
    }
}

/// Addresses a scale seed hands out on the bench network (a /16 from .0.10, gateway at .0.1).
const MAX_PORTS: usize = 65_000;

/// The `index`-th seeded address of a /16 network `base` (the first two octets).
fn bench_address(base: &str, index: usize) -> String {
    let n = index + 10;
    format!("{base}.{}.{}", n / 256, n % 256)
}

/// Creates the inventory `spec` describes in `w`, refusing before any change when the spec is
/// invalid or the world already holds a scale seed. The caller saves `w` once.
pub(crate) fn seed_scale(w: &mut World, spec: &ScaleSeed) -> Result<ScaleSeeded> {
    spec.check()?;
    if let Some(existing) = &w.meta.scale_seed {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!(
                "the simulator already holds a scale seed ({} VMs in {} project(s) on {}); a state takes one scale seed: start from a fresh state",
                existing.total_vms(),
                existing.projects,
                existing.site
            ),
        ));
    }
    let site = spec.site.as_str();
    let resolved = Resolved::new(w, spec)?;

    // Everything is checked: from here on nothing fails.
    let networks = ensure_bench_networks(w);
    let projects: Vec<(String, BTreeMap<String, String>)> = if spec.projects == 0 {
        let name = "production-project".to_string();
        let ids = project_ids(w, &name);
        vec![(name, ids)]
    } else {
        let created = spec
            .project_names()
            .into_iter()
            .map(|name| {
                let ids = super::additions::insert_project(w, &name);
                (name, ids)
            })
            .collect();
        seed_security_group_rules(w);
        created
    };
    let admin_of: BTreeMap<&str, String> = SITES
        .iter()
        .filter_map(|s| {
            w.users
                .find(|u| u.site == *s && u.name == "admin")
                .map(|u| (*s, u.id.clone()))
        })
        .collect();
    for (_, ids) in &projects {
        for (s, project_id) in ids {
            if let Some(admin) = admin_of.get(s.as_str()) {
                if let Some(user) = w.users.get_mut(admin) {
                    let granted = user.roles.entry(project_id.clone()).or_default();
                    for role in ADMIN_ROLES {
                        if !granted.iter().any(|r| r == role) {
                            granted.push(role.to_string());
                        }
                    }
                }
            }
        }
    }

    let (network_id, subnet_id) = networks[site].clone();
    let cidr_base = bench_network(site).1;
    let mut next_address = first_free_address(w, &subnet_id, cidr_base);
    let vm_width = spec.vms_per_project.to_string().len();
    let project_width = spec.projects.to_string().len();
    let mut seeded = Vec::new();
    let mut type_index = 0;
    for (p, (project_name, ids)) in projects.iter().enumerate() {
        let project_id = ids[site].clone();
        let default_sg = w
            .security_groups
            .find(|g| g.site == site && g.project_id == project_id && g.name == "default")
            .map(|g| g.id.clone())
            .into_iter()
            .collect::<Vec<_>>();
        let mut servers = Vec::new();
        for i in 1..=spec.vms_per_project {
            let name = if spec.projects == 0 {
                format!("{}-{i:0vm_width$}", spec.name_prefix)
            } else {
                format!(
                    "{}-{:0project_width$}-{i:0vm_width$}",
                    spec.name_prefix,
                    p + 1
                )
            };
            let (type_name, type_id) = resolved.types[type_index % resolved.types.len()].clone();
            type_index += 1;
            let nics = (0..spec.nics_per_vm)
                .map(|_| {
                    let address = bench_address(cidr_base, next_address);
                    next_address += 1;
                    (network_id.clone(), subnet_id.clone(), address)
                })
                .collect();
            let volumes = (0..spec.volumes_per_vm)
                .map(|v| {
                    let role = if v == 0 {
                        "root".to_string()
                    } else {
                        format!("data-{v}")
                    };
                    (
                        role,
                        spec.volume_size_gb,
                        type_name.clone(),
                        type_id.clone(),
                    )
                })
                .collect();
            let placement = ServerPlacement {
                site,
                name: &name,
                project_id: &project_id,
                user_id: &resolved.admin,
                flavor_id: &resolved.flavor_id,
                flavor_name: &resolved.flavor_name,
                key_name: resolved.key_name.as_deref(),
                nics,
                security_group_ids: default_sg.clone(),
                volumes,
            };
            let id = insert_server(w, &placement);
            servers.push(SeededServer {
                name,
                id,
                volume_type: type_name,
            });
        }
        seeded.push(SeededProject {
            name: project_name.clone(),
            id: project_id,
            site_ids: ids.clone(),
            servers,
        });
    }

    raise_capacity(w, spec, &resolved, &projects);
    w.meta.scale_seed = Some(spec.clone());
    Ok(ScaleSeeded {
        site: site.to_string(),
        networks: SITES
            .iter()
            .map(|s| (s.to_string(), bench_network(s).0))
            .collect(),
        projects: seeded,
    })
}

/// Names of the spec resolved against the seeding site, checked before any change.
struct Resolved {
    admin: String,
    flavor_id: String,
    flavor_name: String,
    vcpus: u32,
    ram_mb: u64,
    key_name: Option<String>,
    /// (name, id) in round-robin order.
    types: Vec<(String, String)>,
}

impl Resolved {
    fn new(w: &World, spec: &ScaleSeed) -> Result<Resolved> {
        let site = spec.site.as_str();
        let admin = w
            .users
            .find(|u| u.site == site && u.name == "admin")
            .map(|u| u.id.clone())
            .ok_or_else(|| Error::not_found(format!("scale seed: no user 'admin' on {site}")))?;
        let flavor = match &spec.flavor {
            Some(name) => w.flavors.find(|f| f.site == site && f.name == *name),
            None => w
                .flavors
                .values()
                .filter(|f| f.site == site)
                .min_by_key(|f| (f.vcpus, f.ram_mb, f.name.clone())),
        }
        .ok_or_else(|| {
            let known = w
                .flavors
                .values()
                .filter(|f| f.site == site)
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
                .join(", ");
            Error::not_found(format!(
                "scale seed: flavor '{}' not found on {site}; it has: {known}",
                spec.flavor.as_deref().unwrap_or("(any)")
            ))
        })?;
        let key_name = w
            .keypairs
            .contains_key(&format!("{site}/{admin}/ops-key"))
            .then(|| "ops-key".to_string());
        let site_types: Vec<&VolumeTypeRec> = {
            let mut types: Vec<&VolumeTypeRec> =
                w.volume_types.values().filter(|t| t.site == site).collect();
            types.sort_by(|a, b| a.name.cmp(&b.name));
            types
        };
        let types: Vec<(String, String)> = if spec.volume_types.is_empty() {
            site_types
                .iter()
                .filter(|t| {
                    t.extra_specs
                        .get("replication_enabled")
                        .is_some_and(|v| v == "<is> True")
                })
                .map(|t| (t.name.clone(), t.id.clone()))
                .collect()
        } else {
            let mut out = Vec::new();
            for name in &spec.volume_types {
                let found = site_types.iter().find(|t| t.name == *name).ok_or_else(|| {
                    Error::not_found(format!(
                        "scale seed: volume type '{name}' not found on {site}; it has: {}",
                        site_types
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                out.push((found.name.clone(), found.id.clone()));
            }
            out
        };
        if types.is_empty() {
            return Err(Error::not_found(format!(
                "scale seed: {site} has no replicated volume type; name one in volume_types"
            )));
        }
        for name in spec.project_names() {
            if SITES.iter().any(|s| {
                w.projects
                    .find(|p| p.site == *s && p.name == name)
                    .is_some()
            }) {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "scale seed: project '{name}' already exists; choose another project_prefix"
                    ),
                ));
            }
        }
        if spec.projects == 0
            && SITES.iter().any(|s| {
                w.projects
                    .find(|p| p.site == *s && p.name == "production-project")
                    .is_none()
            })
        {
            return Err(Error::not_found(
                "scale seed: production-project is missing on a site; give projects >= 1",
            ));
        }
        Ok(Resolved {
            admin,
            flavor_id: flavor.id.clone(),
            flavor_name: flavor.name.clone(),
            vcpus: flavor.vcpus,
            ram_mb: flavor.ram_mb,
            key_name,
            types,
        })
    }
}

fn project_ids(w: &World, name: &str) -> BTreeMap<String, String> {
    SITES
        .iter()
        .filter_map(|s| {
            w.projects
                .find(|p| p.site == *s && p.name == name)
                .map(|p| (s.to_string(), p.id.clone()))
        })
        .collect()
}

/// The bench network and subnet of every site (site → (network id, subnet id)), created
/// (shared, owned by `production-project`) where missing.
fn ensure_bench_networks(w: &mut World) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for site in SITES {
        let (name, base) = bench_network(site);
        if let Some(net) = w.networks.find(|n| n.site == site && n.name == name) {
            let subnet = net.subnet_ids.first().cloned().unwrap_or_default();
            out.insert(site.to_string(), (net.id.clone(), subnet));
            continue;
        }
        let owner = w
            .projects
            .find(|p| p.site == site && p.name == "production-project")
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let net_id = w.new_uuid();
        let subnet_id = w.new_uuid();
        w.subnets.insert(
            subnet_id.clone(),
            SubnetRec {
                id: subnet_id.clone(),
                site: site.to_string(),
                name: format!("{name}-subnet"),
                network_id: net_id.clone(),
                project_id: owner.clone(),
                cidr: format!("{base}.0.0/16"),
                gateway_ip: format!("{base}.0.1"),
                allocation_pools: Vec::new(),
                enable_dhcp: true,
                dns_nameservers: Vec::new(),
                description: String::new(),
            },
        );
        w.networks.insert(
            net_id.clone(),
            NetworkRec {
                id: net_id.clone(),
                site: site.to_string(),
                name,
                project_id: owner,
                shared: true,
                subnet_ids: vec![subnet_id.clone()],
                admin_state_up: true,
                mtu: None,
                description: String::new(),
            },
        );
        out.insert(site.to_string(), (net_id, subnet_id));
    }
    out
}

/// The first seeded-address index above every address already taken on `subnet_id`.
fn first_free_address(w: &World, subnet_id: &str, base: &str) -> usize {
    let taken: std::collections::BTreeSet<&str> = w
        .ports
        .values()
        .flat_map(|p| p.fixed_ips.iter())
        .filter(|(subnet, _)| subnet == subnet_id)
        .map(|(_, address)| address.as_str())
        .collect();
    (0..)
        .find(|i| !taken.contains(bench_address(base, *i).as_str()))
        .unwrap_or(0)
}

/// Raises the quotas of the seeded projects on both sites and the zone-`nova` compute node of
/// both sites so that twice the seeded VMs fit (a failover and a drill on the same site).
fn raise_capacity(
    w: &mut World,
    spec: &ScaleSeed,
    resolved: &Resolved,
    projects: &[(String, BTreeMap<String, String>)],
) {
    let per_project = 2 * spec.vms_per_project as i64;
    let vcpus = i64::from(resolved.vcpus);
    let ram = resolved.ram_mb as i64;
    let volumes = spec.volumes_per_vm as i64;
    let gigabytes = volumes * spec.volume_size_gb as i64;
    let nics = spec.nics_per_vm as i64;
    for (_, ids) in projects {
        for (site, project_id) in ids {
            let key = format!("{site}/{project_id}");
            let mut quota = crate::cloud::capacity::quota(w, site, project_id);
            let base = crate::cloud::capacity::default_quota(site, project_id);
            let raise = |limit: &mut i64, base: i64, need: i64| {
                if *limit >= 0 {
                    *limit = (*limit).max(base + need);
                }
            };
            raise(&mut quota.instances, base.instances, per_project);
            raise(&mut quota.cores, base.cores, per_project * vcpus);
            raise(&mut quota.ram, base.ram, per_project * ram);
            raise(&mut quota.volumes, base.volumes, per_project * volumes);
            raise(
                &mut quota.gigabytes,
                base.gigabytes,
                per_project * gigabytes,
            );
            raise(&mut quota.ports, base.ports, per_project * nics);
            w.quotas.insert(key, quota);
        }
    }
    let total = 2 * spec.total_vms() as u64;
    for site in SITES {
        let Some(key) = w
            .hypervisors
            .keys_where(|h| {
                h.site == site && h.availability_zone == crate::cloud::capacity::DEFAULT_ZONE
            })
            .into_iter()
            .next()
        else {
            continue;
        };
        if let Some(h) = w.hypervisors.get_mut(&key) {
            h.vcpus += total * u64::from(resolved.vcpus);
            h.memory_mb += total * resolved.ram_mb;
        }
    }
}
