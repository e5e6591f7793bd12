//! Shared set-up of the over-the-wire tests: the simulator served on loopback and an engine that
//! reaches it only through protector-openstack and protector-pure, with both sites registered.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use protector_core::api::CombinedConnector;
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, PollPolicy, RegisterSite,
};
use protector_core::model::{ArrayEndpoint, ReplicationType, ResourceMappings, Secret, SiteType};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::Protector;
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::Simulator;
use protector_openstack::{ClientOptions, ConfigLoader, OpenStackConnector};
use protector_pure::FlashArrayConnector;

/// The seeded VMs of `prod-web-app`.
pub const MEMBERS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];
/// The group every wire test protects.
pub const GROUP: &str = "prod-web-app";

/// A served simulator and an engine over HTTP(S), local site `site-a`.
pub struct Wire {
    pub dir: tempfile::TempDir,
    pub sim: Simulator,
    pub server: SimServer,
    pub engine: Protector,
    pub store_a: Arc<dyn Store>,
    pub store_b: Arc<dyn Store>,
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

/// Serves a fresh simulator and registers both sites with an engine over the wire.
pub async fn wire() -> Wire {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::open(&ServeOptions::state_file(dir.path())).unwrap();
    let server = SimServer::start(sim.clone(), ServeOptions::new(dir.path()))
        .await
        .unwrap();
    let loader = ConfigLoader::new([(
        "OS_CLIENT_CONFIG_FILE",
        server.clouds_yaml().display().to_string(),
    )]);
    let connector = CombinedConnector {
        sites: Arc::new(OpenStackConnector::new(loader, ClientOptions::default())),
        arrays: Arc::new(FlashArrayConnector::new()),
    };
    let key = SecretKey::generate();
    let store_a: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key.clone()).unwrap());
    let store_b: Arc<dyn Store> = Arc::new(SqliteStore::in_memory(key).unwrap());
    let engine = Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", store_a.clone())
        .with_store("site-b", store_b.clone())
        .with_connector(Arc::new(connector))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(2_000),
            member_concurrency: 4,
        })
        .build()
        .unwrap();
    for (site, site_type) in [
        ("site-a", SiteType::Primary),
        ("site-b", SiteType::Secondary),
    ] {
        engine
            .register_site(RegisterSite {
                name: site.into(),
                description: String::new(),
                site_type,
                auth_url: server.auth_url(site).unwrap(),
                region_name: "RegionOne".into(),
                cloud: None,
            })
            .await
            .unwrap();
    }
    Wire {
        dir,
        sim,
        server,
        engine,
        store_a,
        store_b,
    }
}

/// Creates `prod-web-app` (async) with the three seeded VMs and its policy.
pub async fn protect_web_app(w: &Wire) {
    w.engine
        .create_group(CreateGroup {
            name: GROUP.into(),
            description: String::new(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    for vm in MEMBERS {
        let id = w.sim.find_server("site-a", vm).unwrap().id;
        w.engine
            .add_member(GROUP, AddMember { instance_id: id })
            .await
            .unwrap();
    }
    let arrays = arrays(&w.server.arrays_json());
    w.engine
        .create_policy(
            GROUP,
            CreatePolicy {
                primary_array: arrays["site-a"].clone(),
                secondary_array: arrays["site-b"].clone(),
                pure_pg_name: "pg-prod-web-app".into(),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await
        .unwrap();
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

/// Writes `file` in the server's directory: a clouds.yaml with, for each `(name, from,
/// project)`, the server's entry `from` named `name`, with its project name replaced by
/// `project` when given (the same user and password). The clouds.yaml another user's or
/// another tenant's engine would read.
pub fn write_clouds_yaml(
    w: &Wire,
    file: &str,
    entries: &[(&str, &str, Option<&str>)],
) -> std::path::PathBuf {
    let served = clouds_yaml_entries(&std::fs::read_to_string(w.server.clouds_yaml()).unwrap());
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
    let path = w.dir.path().join(file);
    std::fs::write(&path, out).unwrap();
    path
}

/// An engine on site-a over the same stores as `w.engine`, reaching the sites with the
/// credentials of `clouds_yaml` (entries `site-a`, `site-b`) and the arrays over HTTPS.
pub fn engine_with_clouds(w: &Wire, clouds_yaml: &std::path::Path) -> Protector {
    let loader = ConfigLoader::new([("OS_CLIENT_CONFIG_FILE", clouds_yaml.display().to_string())]);
    let connector = CombinedConnector {
        sites: Arc::new(OpenStackConnector::new(loader, ClientOptions::default())),
        arrays: Arc::new(FlashArrayConnector::new()),
    };
    Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", w.store_a.clone())
        .with_store("site-b", w.store_b.clone())
        .with_connector(Arc::new(connector))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(2_000),
            member_concurrency: 4,
        })
        .build()
        .unwrap()
}
