//! protector-engine against the simulator's wire face (served in this process on loopback),
//! each site's store a SQLite file: workers share work, a worker killed mid-failover is
//! resumed by another once its lease lapses, SIGTERM leaves everything resumable, and bad
//! configurations are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, FailoverRequest, OperationRequest, PollPolicy,
    RegisterSite,
};
use protector_core::model::{
    ArrayEndpoint, GroupStatus, Operation, OperationStatus, ReplicationType, ResourceMappings,
    Secret, SiteType,
};
use protector_core::plan::FailoverMode;
use protector_core::store::{JournalKind, MySqlStore, SecretKey, Store};
use protector_core::Protector;
use protector_mock::http::{ServeOptions, SimServer};
use protector_mock::{Inventory, Service, Simulator};
use protector_service::config::ServiceConfig;
use protector_service::engine::{build_protector, EngineConfig, Worker, WorkerOptions};
use sqlx::Connection;
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

const ENGINE: &str = env!("CARGO_BIN_EXE_protector-engine");

/// Where the sites' stores live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// A SQLite file per site.
    Sqlite,
    /// A database per site on the MariaDB server of `PROTECTOR_TEST_MYSQL_URL`.
    MariaDb,
}

/// The simulator served on loopback, and where each site's store and configuration live.
struct Lab {
    dir: tempfile::TempDir,
    sim: Simulator,
    server: SimServer,
    /// `[database] connection` by site.
    connections: BTreeMap<&'static str, String>,
}

impl Lab {
    /// A lab on `backend`; `None` (having said why) when MariaDB is asked for and not given.
    async fn start(backend: Backend) -> Option<Lab> {
        // The workers of this process log to the test's output (shown when it fails).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        let mut connections = BTreeMap::new();
        for site in ["site-a", "site-b"] {
            let connection = match backend {
                Backend::Sqlite => format!(
                    "sqlite:///{}",
                    dir.path().join(format!("{site}.db")).display()
                ),
                Backend::MariaDb => fresh_mariadb_database().await?,
            };
            connections.insert(site, connection);
        }
        let sim = Simulator::in_memory().unwrap();
        let server = SimServer::start(sim.clone(), ServeOptions::new(dir.path().join("sim")))
            .await
            .unwrap();
        Some(Lab {
            dir,
            sim,
            server,
            connections,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// protector.conf of an engine of `site`, with `engine` lines under `[engine]`.
    fn config_text(&self, site: &str, engine: &str) -> String {
        format!(
            "[DEFAULT]\nsite_name = {site}\nstate_path = {state}\n[database]\n\
             connection = {db}\n[engine]\nclouds_file = {clouds}\n{engine}\n",
            state = self.dir.path().display(),
            db = self.connections[site],
            clouds = self.server.clouds_yaml().display(),
        )
    }

    /// Writes `<name>.conf` for an engine process of `site` (written once: the process reads it).
    fn write_config(&self, name: &str, site: &str, engine: &str) -> PathBuf {
        let path = self.path(&format!("{name}.conf"));
        std::fs::write(&path, self.config_text(site, engine)).unwrap();
        path
    }

    /// The engine configuration of `site` in this process, polling the simulator back to back.
    fn config(&self, site: &str, engine: &str) -> EngineConfig {
        let text = self.config_text(site, engine);
        let conf = ServiceConfig::from_text(&self.path(&format!("{site}.conf")), &text).unwrap();
        let mut config = EngineConfig::from_config(&conf).unwrap();
        config.engine.poll = PollPolicy::immediate(2000);
        config
    }

    /// A new handle on `site`'s store, as another process opens it.
    async fn store(&self, site: &str) -> Arc<dyn Store> {
        let config = self.config(site, "");
        config.database.open(config.secret_key).await.unwrap()
    }

    /// An engine standing on `site`, with the peer's store when `with_peer`.
    async fn protector(&self, site: &str, with_peer: bool) -> Protector {
        let store = self.store(site).await;
        build_protector(
            &self.config(site, ""),
            store,
            self.peer(site, with_peer).await,
        )
        .unwrap()
    }

    async fn peer(&self, site: &str, with_peer: bool) -> Option<(String, Arc<dyn Store>)> {
        let peer = if site == "site-a" { "site-b" } else { "site-a" };
        match with_peer {
            true => Some((peer.to_string(), self.store(peer).await)),
            false => None,
        }
    }

    /// A worker of `site` in this process.
    async fn worker(&self, site: &str, with_peer: bool, holder: &str) -> Worker {
        let store = self.store(site).await;
        let peer_store = self.peer(site, with_peer).await;
        let protector = build_protector(&self.config(site, ""), store.clone(), peer_store).unwrap();
        Worker::new(
            protector,
            store,
            WorkerOptions {
                workers: 1,
                lease: Duration::from_secs(2),
                poll_interval: Duration::from_millis(100),
                shutdown_timeout: Duration::from_secs(60),
                holder: holder.to_string(),
            },
        )
    }

    fn arrays(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.server.arrays_json()).unwrap()).unwrap()
    }

    fn array(&self, site: &str) -> ArrayEndpoint {
        let v = &self.arrays()[site];
        ArrayEndpoint {
            url: v["url"].as_str().unwrap().to_string(),
            api_token: Secret::new(v["api_token"].as_str().unwrap()),
            ca_file: v["ca_file"].as_str().map(str::to_string),
            allow_insecure_http: false,
        }
    }

    /// Both sites registered, and one protection group per `(name, members)`, each with a
    /// policy, made from site-a.
    async fn seed(&self, groups: &[(&str, &[&str])]) {
        let engine = self.protector("site-a", true).await;
        for (site, site_type) in [
            ("site-a", SiteType::Primary),
            ("site-b", SiteType::Secondary),
        ] {
            let reg = self.sim.site_registration(site).unwrap();
            engine
                .register_site(RegisterSite {
                    name: reg.name,
                    description: reg.description,
                    site_type,
                    auth_url: self.server.auth_url(site).unwrap(),
                    region_name: reg.region_name,
                    cloud: None,
                })
                .await
                .unwrap();
        }
        for (name, members) in groups {
            engine
                .create_group(CreateGroup {
                    name: name.to_string(),
                    description: String::new(),
                    replication_type: ReplicationType::Async,
                    primary_site: "site-a".into(),
                    secondary_site: "site-b".into(),
                    volume_type: "replicated-ssd".into(),
                })
                .await
                .unwrap();
            for member in *members {
                let id = self.sim.find_server("site-a", member).unwrap().id;
                engine
                    .add_member(name, AddMember { instance_id: id })
                    .await
                    .unwrap();
            }
            engine
                .create_policy(
                    name,
                    CreatePolicy {
                        primary_array: self.array("site-a"),
                        secondary_array: self.array("site-b"),
                        pure_pg_name: format!("pg-{name}"),
                        replication_interval_secs: 300,
                        rpo_minutes: 15,
                    },
                )
                .await
                .unwrap();
        }
    }

    /// The lab's site down (or up), at once on the wire too.
    async fn site_down(&self, site: &str, down: bool) {
        self.sim.set_site_down(site, down).unwrap();
        self.server.sync_faults().await;
    }
}

/// A new, migrated database on the server of `PROTECTOR_TEST_MYSQL_URL` (its connection URL);
/// `None`, having said so, without one.
async fn fresh_mariadb_database() -> Option<String> {
    let url = match std::env::var("PROTECTOR_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!(
                "real MariaDB test skipped: set PROTECTOR_TEST_MYSQL_URL \
                 (scripts/mariadb.sh start DIR PORT prints one)"
            );
            return None;
        }
    };
    let name = format!("protector_engine_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::MySqlConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let server = url
        .rsplit_once('/')
        .map_or(url.as_str(), |(server, _)| server);
    let url = format!("{server}/{name}");
    // What `protector-manage db sync` does.
    MySqlStore::connect_unchecked(&url, SecretKey::generate())
        .await
        .unwrap()
        .migrate()
        .await
        .unwrap();
    Some(url)
}

fn mappings() -> ResourceMappings {
    ResourceMappings {
        networks: ResourceMappings::parse_pairs(
            "network",
            ["net-primary-web=net-secondary-web net-primary-db=net-secondary-db"],
        )
        .unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
        security_groups: Default::default(),
        availability_zones: Default::default(),
    }
}

fn failover(group: &str, mode: FailoverMode) -> OperationRequest {
    OperationRequest::Failover {
        group: group.to_string(),
        request: FailoverRequest {
            mode,
            ..FailoverRequest::planned(mappings())
        },
    }
}

/// Polls `store` until operation `id` satisfies `done` (a generous deadline fails the test).
async fn wait_for(
    store: &dyn Store,
    id: Uuid,
    what: &str,
    done: impl Fn(&Operation) -> bool,
    context: impl Fn() -> String,
) -> Operation {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        if let Some(op) = store.get_operation(&id).await.unwrap() {
            if done(&op) {
                return op;
            }
            assert!(
                Instant::now() < deadline,
                "op-{id} never {what}: {op:?}\n{}",
                context()
            );
        }
        // Polling interval, not a synchronisation.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn running(inventory: &Inventory, site: &str, name: &str) -> usize {
    inventory.sites[site]
        .servers
        .iter()
        .filter(|s| s.name == name && s.status == "ACTIVE")
        .count()
}

/// Runs `worker` until `stop` is sent; its report once stopped.
fn spawn_worker(
    worker: Worker,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<protector_service::engine::ShutdownReport>,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        worker
            .run_until(async {
                let _ = stopped.await;
            })
            .await
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_share_the_queue_and_run_each_operation_exactly_once() {
    two_workers_share_the_queue(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_mariadb_two_workers_share_the_queue_and_run_each_operation_exactly_once() {
    two_workers_share_the_queue(Backend::MariaDb).await;
}

async fn two_workers_share_the_queue(backend: Backend) {
    let Some(lab) = Lab::start(backend).await else {
        return;
    };
    lab.seed(&[
        ("prod-web", &["web-server-1", "web-server-2"]),
        ("prod-db", &["db-server-1"]),
    ])
    .await;
    let submitter = lab.protector("site-a", true).await;
    let mut ids = Vec::new();
    for group in ["prod-web", "prod-db"] {
        let submitted = submitter
            .submit(failover(group, FailoverMode::Planned))
            .await
            .unwrap();
        assert_eq!(submitted.operation.status, OperationStatus::Pending);
        ids.push(submitted.operation.id);
    }

    let workers = [
        spawn_worker(lab.worker("site-a", true, "host-1:1:one").await),
        spawn_worker(lab.worker("site-a", true, "host-2:2:two").await),
    ];
    let store = lab.store("site-a").await;
    for id in &ids {
        let op = wait_for(
            &*store,
            *id,
            "ended",
            |op| op.status.is_terminal(),
            String::new,
        )
        .await;
        assert_eq!(op.status, OperationStatus::Completed, "{op:#?}");
    }
    let mut finished = 0;
    for (stop, task) in workers {
        stop.send(()).unwrap();
        let report = task.await.unwrap();
        assert!(report.abandoned.is_empty(), "{report:?}");
        finished += report.finished;
    }
    assert_eq!(finished, 2, "each operation was taken once");

    for id in &ids {
        // One run: one plan executed, no recovery, and the lease given back.
        let journal = store.list_journal(id).await.unwrap();
        let runs = journal
            .iter()
            .filter(|e| e.kind == JournalKind::Planned)
            .count();
        assert_eq!(runs, 1, "op-{id}: {journal:#?}");
        assert_eq!(store.get_lease(id).await.unwrap(), None);
    }
    let inventory = lab.sim.inspect();
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        assert_eq!(
            (
                running(&inventory, "site-a", vm),
                running(&inventory, "site-b", vm)
            ),
            (0, 1),
            "running copies of {vm} on (site-a, site-b)"
        );
    }
    for group in store.list_groups().await.unwrap() {
        assert_eq!(group.status, GroupStatus::FailedOver, "{}", group.name);
        assert_eq!(group.active_operation_id, None, "{}", group.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_does_not_answer_is_waited_for_and_nothing_is_lost() {
    let lab = Lab::start(Backend::Sqlite).await.unwrap();
    lab.seed(&[("prod-db", &["db-server-1"])]).await;
    let id = lab
        .protector("site-a", true)
        .await
        .submit(failover("prod-db", FailoverMode::Planned))
        .await
        .unwrap()
        .operation
        .id;
    // Another process holds the database's write lock longer than the store waits for it
    // (5 s): every claim fails with `Unavailable` until it lets go.
    let worker = lab.worker("site-a", true, "host-4:4:patient").await;
    let store = lab.store("site-a").await;
    let blocker = rusqlite::Connection::open(lab.path("site-a.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (stop, task) = spawn_worker(worker);
    // Long enough for the worker's first claim to give up (not a synchronisation: the report
    // below says whether it did).
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        store.get_operation(&id).await.unwrap().unwrap().status,
        OperationStatus::Pending
    );
    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);

    let op = wait_for(
        &*store,
        id,
        "ended",
        |op| op.status.is_terminal(),
        String::new,
    )
    .await;
    assert_eq!(op.status, OperationStatus::Completed, "{op:#?}");
    stop.send(()).unwrap();
    let report = task.await.unwrap();
    assert!(report.store_errors >= 1, "{report:?}");
    assert_eq!(report.finished, 1, "{report:?}");
}

/// A `protector-engine` child process, killed when dropped.
struct EngineProcess {
    child: Child,
    log: PathBuf,
}

impl EngineProcess {
    fn start(config: &Path, log: PathBuf) -> EngineProcess {
        let child = Command::new(ENGINE)
            .args(["--config-file", config.to_str().unwrap()])
            .env("PROTECTOR_POLL_INTERVAL_MS", "0")
            .env_remove("PROTECTOR_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        EngineProcess { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the engine process is stopped in the middle of a failover.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Kill,
    Terminate,
}

/// An unplanned failover of `prod-web-app` run by site-b's `protector-engine` (site-a is
/// lost), stopped by `stop` once it runs and made progress, then finished by a worker of this
/// process once the dead one's lease lapsed.
async fn failover_survives_its_engine(backend: Backend, stop: Stop) {
    let Some(lab) = Lab::start(backend).await else {
        return;
    };
    lab.seed(&[(
        "prod-web-app",
        &["web-server-1", "web-server-2", "db-server-1"],
    )])
    .await;
    // A replicated snapshot to recover from, then site-a is lost. Site-b's Nova answers slowly,
    // so the failover is still running when the engine is stopped.
    lab.sim.tick(320).unwrap();
    lab.site_down("site-a", true).await;
    lab.sim
        .set_latency_ms("site-b", Service::Compute, 100)
        .unwrap();

    let config = lab.write_config(
        "engine-process",
        "site-b",
        "workers = 1\nlease_seconds = 2\npoll_interval = 0.1\nshutdown_timeout = 0.2",
    );
    let engine = EngineProcess::start(&config, lab.path("engine.log"));
    let store = lab.store("site-b").await;
    let id = lab
        .protector("site-b", false)
        .await
        .submit(failover("prod-web-app", FailoverMode::Unplanned))
        .await
        .unwrap()
        .operation
        .id;
    let seen = wait_for(
        &*store,
        id,
        "ran",
        |op| op.status.is_terminal() || (op.status == OperationStatus::Running && op.progress > 0),
        || format!("engine log:\n{}", engine.log()),
    )
    .await;
    assert_eq!(
        seen.status,
        OperationStatus::Running,
        "the engine should still be running it: {seen:#?}\n{}",
        engine.log()
    );
    let lease = store
        .get_lease(&id)
        .await
        .unwrap()
        .expect("a lease while it runs");
    assert!(
        lease.holder.contains(&format!(":{}:", engine.child.id())),
        "{lease:?}"
    );

    let mut engine = engine;
    match stop {
        Stop::Kill => engine.child.kill().unwrap(),
        Stop::Terminate => {
            let sent = Command::new("kill")
                .args(["-TERM", &engine.child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
        }
    }
    let status = engine.child.wait().unwrap();
    match stop {
        Stop::Kill => assert!(!status.success()),
        Stop::Terminate => assert_eq!(status.code(), Some(0), "{}", engine.log()),
    }
    let log = engine.log();
    assert!(!log.contains("password"), "{log}");

    let (stop_worker, task) = spawn_worker(lab.worker("site-b", false, "host-3:3:resumer").await);
    let op = wait_for(
        &*store,
        id,
        "ended",
        |op| op.status.is_terminal(),
        || format!("killed engine's log:\n{log}"),
    )
    .await;
    stop_worker.send(()).unwrap();
    task.await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:#?}\n{log}");
    assert_eq!(store.get_lease(&id).await.unwrap(), None);

    // One running copy of each VM on site-b (site-a's are fenced once it answers), nothing
    // leaked there.
    let inventory = lab.sim.inspect();
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        assert_eq!(
            running(&inventory, "site-b", vm),
            1,
            "copies of {vm} on site-b"
        );
    }
    let site_b = &inventory.sites["site-b"];
    assert_eq!(site_b.servers.len(), 3, "servers on site-b");
    assert_eq!(site_b.volumes.len(), 4, "volumes on site-b");
    assert_eq!(site_b.ports.len(), 4, "ports on site-b");
    let group = store.list_groups().await.unwrap().remove(0);
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.active_operation_id, None);
    assert_eq!(group.fence_required_on.as_deref(), Some("site-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_failover_is_resumed_by_another_once_its_lease_lapses() {
    failover_survives_its_engine(Backend::Sqlite, Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_mariadb_a_worker_killed_mid_failover_is_resumed_by_another_once_its_lease_lapses() {
    failover_survives_its_engine(Backend::MariaDb, Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_exits_zero_and_leaves_the_running_operation_resumable() {
    failover_survives_its_engine(Backend::Sqlite, Stop::Terminate).await;
}

#[test]
fn configuration_errors_exit_2_naming_file_section_and_key() {
    let dir = tempfile::tempdir().unwrap();
    // A configuration that is accepted starts the engine: killed after a while, so the test
    // fails instead of hanging.
    let run = |args: &[&str]| {
        let mut child = Command::new(ENGINE)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let missing = dir.path().join("nope.conf");
    let (code, err) = run(&["--config-file", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("not found: give it with --config-file"),
        "{err}"
    );

    let conf = dir.path().join("protector.conf");
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        "clouds:\n  site-a:\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n      username: u\n      password: hunter2-secret\n",
    )
    .unwrap();
    let clouds_line = format!("clouds_file = {}", clouds.display());
    for (engine, expected) in [
        (
            format!("{clouds_line}\nworkers = none"),
            "[engine] workers = none is not valid",
        ),
        (
            format!("{clouds_line}\nlease_seconds = 0"),
            "[engine] lease_seconds = 0 is out of range",
        ),
        (
            format!("{clouds_line}\nleases = 3"),
            "[engine] leases is not a setting of protector-engine",
        ),
        (
            "clouds_file = /nonexistent/clouds.yaml".to_string(),
            "[engine] clouds_file /nonexistent/clouds.yaml does not exist",
        ),
    ] {
        std::fs::write(
            &conf,
            format!(
                "[DEFAULT]\nsite_name = site-a\nstate_path = {state}\n[database]\n\
                 connection = sqlite:///{state}/site-a.db\n[engine]\n{engine}\n",
                state = dir.path().display(),
            ),
        )
        .unwrap();
        let (code, err) = run(&["--config-file", conf.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{engine}: {err}");
        assert!(
            err.contains(&format!("{}: {expected}", conf.display())),
            "{engine}: {err}"
        );
        assert!(!err.contains("hunter2-secret"), "{err}");
    }
}
