//! Shared set-up of the scenario tests: the simulator reached through either of its faces
//! (the in-process implementations, or its HTTP(S) face served on loopback through
//! protector-openstack and protector-pure), an engine on site-a over two stores with both sites
//! registered, and [`on_both_faces!`] to run one scenario body against each face.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use protector_core::api::{ArrayApi, CombinedConnector, Connector, SiteClients};
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, PollPolicy, RegisterSite,
};
use protector_core::model::{
    ArrayEndpoint, Operation, OperationStatus, ReplicationType, ResourceMappings, Secret, Site,
    SiteType,
};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::{Protector, Result};
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::{Inventory, SimConnector, Simulator};
use protector_openstack::{ClientOptions, ConfigLoader, OpenStackConnector, RetryConfig};
use protector_pure::FlashArrayConnector;

/// Runs each scenario `async fn name(face: Face)` of the calling module against both faces of
/// the simulator, as the tests `name::in_process` and `name::over_http`: the same assertions
/// hold for the in-process implementations and for the HTTP clients against the wire face.
macro_rules! on_both_faces {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_process() {
                super::$name($crate::common::Face::InProcess).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn over_http() {
                super::$name($crate::common::Face::Wire).await
            }
        }
    )*};
}

/// The seeded VMs of `prod-web-app`.
pub const MEMBERS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];
/// The group the single-group scenarios protect.
pub const GROUP: &str = "prod-web-app";

/// How the engine reaches the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// protector-mock's in-process implementations of the client traits.
    InProcess,
    /// protector-openstack and protector-pure over HTTP(S) against the served simulator.
    Wire,
}

/// A simulator, reached through one face, and an engine on site-a with both sites registered.
pub struct Env {
    pub face: Face,
    pub dir: tempfile::TempDir,
    pub sim: Simulator,
    /// The wire face's server; `None` in process.
    pub server: Option<SimServer>,
    pub engine: Protector,
    pub store_a: Arc<dyn Store>,
    pub store_b: Arc<dyn Store>,
}

/// Whose credentials an engine's connector uses.
#[derive(Debug, Clone, Copy)]
pub enum Credentials<'a> {
    /// The sites' own (the seeded `admin` in `production-project`).
    Sites,
    /// The seeded `admin`, scoped to the project named `.0` on every site: how a tenant's own
    /// engine stands (its groups belong to that project).
    Project(&'a str),
    /// The clouds.yaml entry `<site>-<suffix>` for every site (`member` is `member-user`).
    Cloud(&'a str),
}

/// The endpoints `protector sim serve` wrote to arrays.json, by site.
pub fn arrays(path: &std::path::Path) -> BTreeMap<String, ArrayEndpoint> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json.as_object()
        .unwrap()
        .iter()
        .map(|(site, v)| {
            (
                site.clone(),
                ArrayEndpoint {
                    url: v["url"].as_str().unwrap().to_string(),
                    api_token: Secret::new(v["api_token"].as_str().unwrap()),
                    ca_file: v["ca_file"].as_str().map(str::to_string),
                    allow_insecure_http: false,
                },
            )
        })
        .collect()
}

/// protector-openstack with the credentials of `clouds_yaml` and protector-pure. The OpenStack
/// clients retry as often as by default but back off for milliseconds, not seconds: a scenario
/// with a site down would otherwise wait out every backoff of every call to it (protector-openstack's
/// own tests cover the backoff).
pub fn wire_connector(clouds_yaml: &std::path::Path) -> Arc<dyn Connector> {
    let loader = ConfigLoader::new([("OS_CLIENT_CONFIG_FILE", clouds_yaml.display().to_string())]);
    let retry =
        RetryConfig::default().with_backoff(Duration::from_millis(1), Duration::from_millis(5));
    let options = ClientOptions::default().with_retry(retry);
    Arc::new(CombinedConnector {
        sites: Arc::new(OpenStackConnector::new(loader, options)),
        arrays: Arc::new(FlashArrayConnector::new()),
    })
}

/// Network and flavor mappings site-a → site-b (`networks` as `a=b c=d`).
pub fn mappings(networks: &str) -> ResourceMappings {
    ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", [networks]).unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
        ..ResourceMappings::default()
    }
}

/// The production networks mapped to their site-b equivalents.
pub fn failover_mappings() -> ResourceMappings {
    mappings("net-primary-web=net-secondary-web net-primary-db=net-secondary-db")
}

/// The inventory without what moves on its own (write fingerprints, scheduled snapshots).
pub fn shape(inventory: &Inventory) -> serde_json::Value {
    let mut v = serde_json::to_value(inventory).unwrap();
    for site in v["sites"].as_object_mut().unwrap().values_mut() {
        for volume in site["volumes"].as_array_mut().unwrap() {
            volume.as_object_mut().unwrap().remove("fingerprint");
        }
    }
    for array in v["arrays"].as_object_mut().unwrap().values_mut() {
        let array = array.as_object_mut().unwrap();
        array.remove("snapshots");
        for volume in array["volumes"].as_array_mut().unwrap() {
            let volume = volume.as_object_mut().unwrap();
            volume.remove("fingerprint");
            // Which snapshot a volume's data was last copied from moves with the data.
            volume.remove("copied_from");
        }
    }
    v
}

/// The operation completed; its error message otherwise.
pub fn assert_completed(op: &Operation) {
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?} {}: {:?}",
        op.operation_type,
        op.id,
        op.error_message
    );
}

/// Clients of the in-process simulator as the seeded `admin` scoped to one project per site.
#[derive(Debug)]
struct AsProject {
    inner: SimConnector,
    /// site → project id there.
    projects: BTreeMap<String, String>,
}

#[async_trait]
impl Connector for AsProject {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        self.inner
            .site_for_project(site, &self.projects[&site.name])
            .await
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        self.inner.array(endpoint).await
    }
}

/// Clients of the in-process simulator with the clouds.yaml entry `<site>-<suffix>`.
#[derive(Debug)]
struct AsCloud {
    inner: SimConnector,
    suffix: String,
}

#[async_trait]
impl Connector for AsCloud {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        let mut site = site.clone();
        site.cloud = Some(format!("{}-{}", site.name, self.suffix));
        self.inner.site(&site).await
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        self.inner.array(endpoint).await
    }
}

/// A fresh simulator, reached through `face`, with both sites registered with an engine on
/// site-a.
pub async fn sites_only(face: Face) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (sim, server) = match face {
        Face::InProcess => (Simulator::in_memory().unwrap(), None),
        Face::Wire => {
            let sim = Simulator::open(&ServeOptions::state_file(dir.path())).unwrap();
            let server = SimServer::start(sim.clone(), ServeOptions::new(dir.path()))
                .await
                .unwrap();
            (sim, Some(server))
        }
    };
    let key = SecretKey::generate();
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key.clone()).unwrap());
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key).unwrap());
    let connector = match &server {
        None => Arc::new(sim.connector()) as Arc<dyn Connector>,
        Some(server) => wire_connector(&server.clouds_yaml()),
    };
    let engine = engine(face, &store_a, &store_b, connector);
    let env = Env {
        face,
        dir,
        sim,
        server,
        engine,
        store_a,
        store_b,
    };
    for (site, site_type) in [
        ("site-a", SiteType::Primary),
        ("site-b", SiteType::Secondary),
    ] {
        let reg = env.sim.site_registration(site).unwrap();
        let auth_url = match &env.server {
            None => reg.auth_url,
            Some(server) => server.auth_url(site).unwrap(),
        };
        env.engine
            .register_site(RegisterSite {
                name: site.into(),
                description: String::new(),
                site_type,
                auth_url,
                region_name: reg.region_name,
                cloud: None,
            })
            .await
            .unwrap();
    }
    env
}

/// An engine on site-a over `store_a` and `store_b` with `connector`, polling as fits the face.
fn engine(
    face: Face,
    store_a: &Arc<dyn Store>,
    store_b: &Arc<dyn Store>,
    connector: Arc<dyn Connector>,
) -> Protector {
    let max_polls = match face {
        Face::InProcess => 500,
        Face::Wire => 2_000,
    };
    Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store_a.clone())
        .with_store("site-b", store_b.clone())
        .with_connector(connector)
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(max_polls),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap()
}

/// [`sites_only`] plus `prod-web-app` (async) with the three seeded VMs and its policy.
pub async fn setup(face: Face) -> Env {
    let env = sites_only(face).await;
    env.engine
        .create_group(CreateGroup {
            name: GROUP.into(),
            description: "web tier".into(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    for vm in MEMBERS {
        let id = env.sim.find_server("site-a", vm).unwrap().id;
        env.engine
            .add_member(GROUP, AddMember { instance_id: id })
            .await
            .unwrap();
    }
    env.engine
        .create_policy(
            GROUP,
            CreatePolicy {
                primary_array: env.array("site-a"),
                secondary_array: env.array("site-b"),
                pure_pg_name: "pg-prod-web-app".into(),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await
        .unwrap();
    env
}

impl Env {
    /// The endpoint of `site`'s array as this face reaches it.
    pub fn array(&self, site: &str) -> ArrayEndpoint {
        match &self.server {
            None => self.sim.array_endpoint(site).unwrap(),
            Some(server) => arrays(&server.arrays_json()).remove(site).unwrap(),
        }
    }

    /// An engine on site-a over the same stores, reaching the sites with `credentials` and the
    /// arrays as [`Env::engine`] does.
    pub fn engine_as(&self, credentials: Credentials) -> Protector {
        let connector: Arc<dyn Connector> = match (&self.server, credentials) {
            (None, Credentials::Sites) => Arc::new(self.sim.connector()),
            (None, Credentials::Project(project)) => Arc::new(AsProject {
                inner: self.sim.connector(),
                projects: ["site-a", "site-b"]
                    .into_iter()
                    .map(|s| (s.into(), self.sim.project_id(s, project).unwrap()))
                    .collect(),
            }),
            (None, Credentials::Cloud(suffix)) => Arc::new(AsCloud {
                inner: self.sim.connector(),
                suffix: suffix.into(),
            }),
            (Some(server), Credentials::Sites) => wire_connector(&server.clouds_yaml()),
            (Some(_), Credentials::Project(project)) => wire_connector(&self.write_clouds_yaml(
                &format!("clouds-{project}.yaml"),
                &[
                    ("site-a", "site-a", Some(project)),
                    ("site-b", "site-b", Some(project)),
                ],
            )),
            (Some(_), Credentials::Cloud(suffix)) => wire_connector(&self.write_clouds_yaml(
                &format!("clouds-{suffix}.yaml"),
                &[
                    ("site-a", &format!("site-a-{suffix}"), None),
                    ("site-b", &format!("site-b-{suffix}"), None),
                ],
            )),
        };
        engine(self.face, &self.store_a, &self.store_b, connector)
    }

    /// Writes `file` in the server's directory: a clouds.yaml with, for each `(name, from,
    /// project)`, the server's entry `from` named `name`, with its project name replaced by
    /// `project` when given (the same user and password). The clouds.yaml another user's or
    /// another tenant's engine would read. Wire face only.
    pub fn write_clouds_yaml(
        &self,
        file: &str,
        entries: &[(&str, &str, Option<&str>)],
    ) -> std::path::PathBuf {
        let server = self.server.as_ref().expect("a served simulator");
        let served = clouds_yaml_entries(&std::fs::read_to_string(server.clouds_yaml()).unwrap());
        let mut out = String::from("clouds:\n");
        for (name, from, project) in entries {
            let lines = served
                .get(*from)
                .unwrap_or_else(|| panic!("no entry '{from}' in the served clouds.yaml"));
            out.push_str(&format!("  {}:\n", serde_json::to_string(name).unwrap()));
            let mut scoped = project.is_none();
            for line in lines {
                match project {
                    Some(project) if line.trim_start().starts_with("project_name:") => {
                        out.push_str(&format!(
                            "      project_name: {}\n",
                            serde_json::to_string(project).unwrap()
                        ));
                        scoped = true;
                    }
                    _ => {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
            assert!(scoped, "entry '{from}' has no project_name to replace");
        }
        let path = self.dir.path().join(file);
        std::fs::write(&path, out).unwrap();
        path
    }

    /// Takes `site`'s OpenStack services down (or back up), on the wire at once: its listener is
    /// closed (or listens again) when this returns.
    pub async fn set_site_down(&self, site: &str, down: bool) {
        self.sim.set_site_down(site, down).unwrap();
        if let Some(server) = &self.server {
            server.sync_faults().await;
        }
    }

    /// Powers `site`'s array off (or on), on the wire at once like [`Env::set_site_down`].
    pub async fn set_array_down(&self, site: &str, down: bool) {
        self.sim.set_array_down(site, down).unwrap();
        if let Some(server) = &self.server {
            server.sync_faults().await;
        }
    }

    /// Stops the wire face's server, if any.
    pub async fn shutdown(self) {
        if let Some(server) = self.server {
            server.shutdown().await;
        }
    }
}

/// The entries of a clouds.yaml as `protector sim serve` writes it, by name: each entry's
/// lines below its name (`    auth:`, `      username: ...`, ...).
fn clouds_yaml_entries(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("    ") {
            if let Some(name) = &current {
                entries.get_mut(name).unwrap().push(line.to_string());
            }
        } else if let Some(header) = line.strip_prefix("  ") {
            let name = header.trim_end_matches(':').trim_matches('"').to_string();
            entries.insert(name.clone(), Vec::new());
            current = Some(name);
        } else {
            current = None;
        }
    }
    entries
}
