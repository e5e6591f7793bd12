//! One run's world: a fresh simulator served on loopback by this process (so that every
//! request is counted), its VMs, and protector's state directory with the sites registered,
//! the groups protected and their mappings stored. Set-up goes through protector-core's
//! lifecycle API in process, over the simulator's in-process face: it is not measured, makes
//! no request on the wire and sleeps in no poll.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, FailoverRequest, NoProgress, PollPolicy,
    RegisterSite,
};
use protector_core::model::{
    ArrayEndpoint, OperationStatus, ReplicationType, ResourceMappings, Secret, SiteType,
};
use protector_core::store::{GroupMappings, LocalEngine, OpenState, StateDir};
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::{QuotaChange, ScaleSeed, Service, Simulator};

use crate::scenario::{Kind, Scenario};
use crate::Failure;

const SITES: [&str; 2] = ["site-a", "site-b"];
const PROJECT: &str = "production-project";

/// A served simulator with the scenario set up, ready for the measured command.
pub struct World {
    /// Removed when the world is dropped.
    _root: tempfile::TempDir,
    /// The simulator (the same state the server serves).
    pub sim: Simulator,
    /// Its wire face, with the request log.
    pub server: SimServer,
    /// protector's state directory (`--state-dir`).
    pub state_dir: PathBuf,
    /// The VM names of each group, in group order.
    pub groups: Vec<(String, Vec<String>)>,
}

fn failure(what: &str) -> impl Fn(protector_core::Error) -> Failure + '_ {
    move |e| Failure(format!("{what}: {e}"))
}

/// The mappings from `from` to the other site (flavors are `m1.*` on site-a, `m2.*` on
/// site-b).
fn mappings(from: &str) -> ResourceMappings {
    let (networks, flavors) = if from == "site-a" {
        (
            "net-primary-bench=net-secondary-bench net-primary-web=net-secondary-web",
            "m1.small=m2.small m1.large=m2.large",
        )
    } else {
        (
            "net-secondary-bench=net-primary-bench net-secondary-web=net-primary-web",
            "m2.small=m1.small m2.large=m1.large",
        )
    };
    ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", [networks]).expect("valid pairs"),
        flavors: ResourceMappings::parse_pairs("flavor", [flavors]).expect("valid pairs"),
        ..ResourceMappings::default()
    }
}

/// The arrays' endpoints as the server published them (`arrays.json`): URL, token, CA file.
fn arrays(path: &Path) -> Result<Vec<(String, ArrayEndpoint)>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure(format!("{} is not JSON: {e}", path.display())))?;
    SITES
        .iter()
        .map(|site| {
            let entry = &json[*site];
            let url = entry["url"]
                .as_str()
                .ok_or_else(|| Failure(format!("{} names no array for {site}", path.display())))?;
            Ok((
                site.to_string(),
                ArrayEndpoint {
                    url: url.to_string(),
                    api_token: Secret::new(entry["api_token"].as_str().unwrap_or_default()),
                    ca_file: entry["ca_file"].as_str().map(str::to_string),
                    allow_insecure_http: false,
                },
            ))
        })
        .collect()
}

/// Seeds the scenario's VMs on site-a in one transaction (the simulator's scale seed: each
/// with one NIC on the bench network and a root and a data volume of the async replicated
/// type), and splits them into the groups in order.
fn seed_vms(sim: &Simulator, scenario: &Scenario) -> Result<Vec<(String, Vec<String>)>, Failure> {
    let seeded = sim
        .seed_scale(&ScaleSeed {
            vms_per_project: scenario.vms(),
            volumes_per_vm: 2,
            volume_types: vec!["replicated-ssd".into()],
            flavor: Some("m1.small".into()),
            ..ScaleSeed::default()
        })
        .map_err(failure("cannot seed the VMs"))?;
    let names: Vec<String> = seeded.servers().map(|s| s.name.clone()).collect();
    Ok(names
        .chunks(scenario.vms_per_group.max(1))
        .enumerate()
        .map(|(g, vms)| (scenario.group_name(g), vms.to_vec()))
        .collect())
}

/// The engine of the set-up: over the state directory, standing on `local`, reaching the
/// simulator in process with polls that do not sleep (its clock moves with every call).
pub async fn open_engine(
    state_dir: &Path,
    local: &str,
    sim: &Simulator,
) -> Result<LocalEngine, Failure> {
    let request = OpenState {
        local_site: local.to_string(),
        extra_sites: SITES.iter().map(|s| s.to_string()).collect(),
        local_site_configured: true,
        skip: None,
        options: EngineOptions {
            poll: PollPolicy::immediate(2000),
            ..EngineOptions::default()
        },
    };
    StateDir::new(state_dir)
        .open(request, Arc::new(sim.connector()))
        .await
        .map_err(failure("cannot open the state directory"))
}

impl World {
    /// A fresh world for `scenario`: simulator, VMs, server, sites, groups, members, policies,
    /// stored mappings both ways; a failback's group failed over to site-b first; a drill's
    /// group with a replicated snapshot to recover from.
    pub async fn build(scenario: &Scenario) -> Result<World, Failure> {
        let root = tempfile::Builder::new()
            .prefix("protector-bench-")
            .tempdir()
            .map_err(|e| Failure(format!("cannot create a temporary directory: {e}")))?;
        let sim = Simulator::in_memory().map_err(failure("cannot start the simulator"))?;
        let unlimited = QuotaChange {
            instances: Some(-1),
            cores: Some(-1),
            ram: Some(-1),
            volumes: Some(-1),
            gigabytes: Some(-1),
            ports: Some(-1),
        };
        for site in SITES {
            sim.set_quota(site, PROJECT, &unlimited)
                .map_err(failure("cannot lift the quotas"))?;
        }
        let groups = seed_vms(&sim, scenario)?;
        let server = SimServer::start(sim.clone(), ServeOptions::new(root.path().join("wire")))
            .await
            .map_err(failure("cannot serve the simulator"))?;
        let state_dir = root.path().join("state");
        let world = World {
            sim,
            server,
            state_dir,
            groups,
            _root: root,
        };
        world.protect(scenario).await?;
        Ok(world)
    }

    async fn protect(&self, scenario: &Scenario) -> Result<(), Failure> {
        let engine = open_engine(&self.state_dir, "site-a", &self.sim).await?;
        let protector = &engine.protector;
        for (site, site_type) in [
            ("site-a", SiteType::Primary),
            ("site-b", SiteType::Secondary),
        ] {
            protector
                .register_site(RegisterSite {
                    name: site.into(),
                    description: format!("benchmark {site}"),
                    site_type,
                    auth_url: self.server.auth_url(site).unwrap_or_default(),
                    region_name: "RegionOne".into(),
                    cloud: None,
                })
                .await
                .map_err(failure(&format!("cannot register {site}")))?;
        }
        engine
            .share_site_registrations()
            .await
            .map_err(failure("cannot share the site registrations"))?;
        let arrays = arrays(&self.server.arrays_json())?;
        for (group, vms) in &self.groups {
            let created = protector
                .create_group(CreateGroup {
                    name: group.clone(),
                    description: format!("{scenario}"),
                    replication_type: ReplicationType::Async,
                    primary_site: "site-a".into(),
                    secondary_site: "site-b".into(),
                    volume_type: "replicated-ssd".into(),
                })
                .await
                .map_err(failure(&format!("cannot create group {group}")))?;
            for vm in vms {
                let id = self
                    .sim
                    .find_server("site-a", vm)
                    .ok_or_else(|| Failure(format!("VM {vm} vanished from site-a")))?
                    .id;
                protector
                    .add_member(group, AddMember { instance_id: id })
                    .await
                    .map_err(failure(&format!("cannot add {vm} to {group}")))?;
            }
            protector
                .create_policy(
                    group,
                    CreatePolicy {
                        primary_array: arrays[0].1.clone(),
                        secondary_array: arrays[1].1.clone(),
                        pure_pg_name: format!("pg-{group}"),
                        replication_interval_secs: 300,
                        rpo_minutes: 15,
                    },
                )
                .await
                .map_err(failure(&format!("cannot attach the policy of {group}")))?;
            for (from, to) in [("site-a", "site-b"), ("site-b", "site-a")] {
                let stored = GroupMappings {
                    group_id: created.id,
                    from_site: from.into(),
                    to_site: to.into(),
                    mappings: mappings(from),
                };
                for store in engine.stores.values() {
                    store
                        .put_mappings(&stored)
                        .await
                        .map_err(failure(&format!("cannot store the mappings of {group}")))?;
                }
            }
        }
        match scenario.kind {
            Kind::Failback => {
                let op = protector
                    .failover(
                        "bench",
                        FailoverRequest::planned(ResourceMappings::default()),
                        &NoProgress,
                    )
                    .await
                    .map_err(failure("the failover before the failback failed"))?;
                if op.status != OperationStatus::Completed {
                    return Err(Failure(format!(
                        "the failover before the failback ended {}: {}",
                        op.status.as_str(),
                        op.error_message.unwrap_or_default()
                    )));
                }
            }
            Kind::Drill => {
                // Past one replication interval: the scheduled snapshot has arrived on site-b.
                self.sim
                    .tick(330)
                    .map_err(failure("cannot advance the simulated clock"))?;
            }
            Kind::Failover | Kind::SiteFailover => {}
        }
        Ok(())
    }

    /// Injects `ms` of latency into every service of both sites and both arrays, and sets how
    /// many calls the services' transitions take and what simulated time follows.
    pub fn set_latency(
        &self,
        ms: u64,
        pace: protector_mock::Pace,
        clock: protector_mock::Clock,
    ) -> Result<(), Failure> {
        self.sim
            .set_pace(pace)
            .map_err(failure("cannot set the pace"))?;
        self.sim
            .set_clock(clock)
            .map_err(failure("cannot set the clock"))?;
        for site in SITES {
            for service in Service::ALL {
                self.sim
                    .set_latency_ms(site, service, ms)
                    .map_err(failure("cannot set the latency"))?;
            }
        }
        Ok(())
    }

    /// The clouds.yaml the measured command reads (`OS_CLIENT_CONFIG_FILE`).
    pub fn clouds_yaml(&self) -> PathBuf {
        self.server.clouds_yaml()
    }

    /// Every VM name of the scenario.
    pub fn vms(&self) -> impl Iterator<Item = &str> {
        self.groups
            .iter()
            .flat_map(|(_, vms)| vms.iter().map(String::as_str))
    }
}
