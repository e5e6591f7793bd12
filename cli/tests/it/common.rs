//! What the CLI test binaries share: an isolated environment (state directory and simulator in
//! a temporary directory) with helpers to run `protector` in it, and the snapshot filters.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use assert_cmd::Command;
use protector_core::model::{GroupStatus, Operation, OperationType};
use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_mock::Simulator;
use serde_json::Value;

/// A state directory and a simulator state file in a fresh temporary directory.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn sim_path(&self) -> PathBuf {
        self.dir.path().join("sim.db")
    }

    /// `protector` isolated from the caller's environment, with no global options.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::cargo_bin("protector").unwrap();
        for var in [
            "OS_CLOUD",
            "PROTECTOR_STATE_DIR",
            "PROTECTOR_SIM_STATE",
            "PROTECTOR_LOG",
            "PROTECTOR_PRIMARY_FA_TOKEN",
            "PROTECTOR_SECONDARY_FA_TOKEN",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("xdg"));
        cmd
    }

    /// `protector --state-dir … --sim-state … ARGS`.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        cmd.arg("--state-dir")
            .arg(self.state_dir())
            .arg("--sim-state")
            .arg(self.sim_path())
            .args(args);
        cmd
    }

    /// Runs and returns stdout, asserting success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args).output().unwrap();
        assert!(
            out.status.success(),
            "protector {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-f", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    pub fn simulator(&self) -> Simulator {
        Simulator::open(&self.sim_path()).unwrap()
    }

    /// Both sites registered from the simulator's own registration data, as a person would.
    pub fn with_sites(self) -> Env {
        let sim = self.simulator();
        for (site, role) in [("site-a", "primary"), ("site-b", "secondary")] {
            let r = sim.site_registration(site).unwrap();
            self.ok(&[
                "site",
                "create",
                "--name",
                &r.name,
                "--site-type",
                role,
                "--auth-url",
                &r.auth_url,
                "--region-name",
                &r.region_name,
                "--description",
                &r.description,
            ]);
        }
        self
    }

    /// `prod-web-app` with the three seeded VMs and a replication policy.
    pub fn with_group(self) -> Env {
        self.ok(&[
            "protection-group",
            "create",
            "--name",
            "prod-web-app",
            "--description",
            "Production web application",
            "--replication-type",
            "async",
            "--primary-site",
            "site-a",
            "--secondary-site",
            "site-b",
            "--volume-type",
            "replicated-ssd",
        ]);
        for vm in ["web-server-1", "web-server-2", "db-server-1"] {
            self.ok(&[
                "protection-group",
                "member-add",
                "prod-web-app",
                "--instance-id",
                vm,
            ]);
        }
        let sim = self.simulator();
        let a = sim.array_endpoint("site-a").unwrap();
        let b = sim.array_endpoint("site-b").unwrap();
        drop(sim);
        self.cli(&[
            "protection-group",
            "policy-create",
            "prod-web-app",
            "--primary-fa-url",
            &a.url,
            "--secondary-fa-url",
            &b.url,
            "--pure-pg-name",
            "pg-prod-web-app",
            "--replication-interval",
            "300",
            "--rpo-minutes",
            "15",
        ])
        // Tokens through the environment, as the help recommends.
        .env("PROTECTOR_PRIMARY_FA_TOKEN", a.api_token.expose())
        .env("PROTECTOR_SECONDARY_FA_TOKEN", b.api_token.expose())
        .assert()
        .success();
        self
    }
}

impl Env {
    /// `protector --os-cloud CLOUD ...`.
    pub fn on(&self, cloud: &str, args: &[&str]) -> Command {
        let mut all = vec!["--os-cloud", cloud];
        all.extend_from_slice(args);
        self.cli(&all)
    }

    /// Runs a command expected to fail; returns its exit code and stderr, and checks that
    /// nothing was printed on stdout.
    pub fn fails(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = self.cli(args).output().unwrap();
        assert!(!out.status.success(), "protector {args:?} succeeded");
        assert!(
            out.stdout.is_empty(),
            "protector {args:?} printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (out.status.code(), stderr_of(&out))
    }

    /// `protector sim ARGS --dir <the simulator's directory>` (faults on the simulator the
    /// other commands use), asserting success.
    pub fn sim_fault(&self, args: &[&str]) {
        let mut cmd = self.bare();
        cmd.args(["sim", "fault", "--dir"])
            .arg(self.dir.path())
            .args(args)
            .assert()
            .success();
    }

    /// What both sites' stores say about `group`: the group and its members, as JSON, per
    /// site (`[group on site-a, members on site-a, group on site-b, members on site-b]`). Read
    /// from the store files directly, so it works while a site (and its Keystone, which the
    /// CLI needs to authorize a read) is down.
    pub fn records(&self, group: &str) -> Vec<Value> {
        let group = group.to_string();
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        with_stores(self, |stores| async move {
            for store in &stores {
                let found = store
                    .list_groups()
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|g| g.name == group);
                let members = match &found {
                    Some(g) => store.list_members(&g.id).await.unwrap(),
                    None => Vec::new(),
                };
                let mut sink = sink.lock().unwrap();
                sink.push(serde_json::to_value(&found).unwrap());
                sink.push(serde_json::to_value(&members).unwrap());
            }
        });
        let records = out.lock().unwrap().clone();
        records
    }

    /// The groups in both sites' stores, as JSON arrays (site-a, site-b). Read from the store
    /// files directly, so it works whatever the sites' Keystones say.
    pub fn group_lists(&self) -> Vec<Value> {
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        with_stores(self, |stores| async move {
            for store in &stores {
                let groups = store.list_groups().await.unwrap();
                sink.lock()
                    .unwrap()
                    .push(serde_json::to_value(&groups).unwrap());
            }
        });
        let lists = out.lock().unwrap().clone();
        lists
    }

    /// `sync-status -f json` from both sites.
    pub fn sync_status(&self, group: &str) -> Vec<Value> {
        ["site-a", "site-b"]
            .iter()
            .map(|site| {
                let out = self
                    .on(
                        site,
                        &["protection-group", "sync-status", group, "-f", "json"],
                    )
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", stderr_of(&out));
                serde_json::from_slice::<Value>(&out.stdout).unwrap()
            })
            .collect()
    }
}

/// Runs `f` with the stores of site-a and site-b (in that order).
pub fn with_stores<F, Fut>(env: &Env, f: F)
where
    F: FnOnce(Vec<Arc<dyn Store>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let key = SecretKey::load_or_create(&env.state_dir().join("secret.key")).unwrap();
    let stores: Vec<Arc<dyn Store>> = ["site-a", "site-b"]
        .iter()
        .map(|site| {
            let path = env.state_dir().join(format!("{site}.db"));
            Arc::new(SqliteStore::open(&path, key.clone()).unwrap()) as Arc<dyn Store>
        })
        .collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f(stores));
}

/// Leaves `group` as a failover in flight leaves it on both sites: status failing_over, the
/// operation recorded as running.
pub fn put_running_failover(env: &Env, group: &str) -> uuid::Uuid {
    let shown = env.json(&["protection-group", "show", group]);
    let group_id = uuid::Uuid::parse_str(shown["id"].as_str().unwrap()).unwrap();
    let op = Operation::start(
        OperationType::Failover,
        Some((&group_id, group)),
        "site-a",
        "site-b",
        chrono::Utc::now(),
    );
    let op_id = op.id;
    with_stores(env, |stores| async move {
        for store in &stores {
            let mut g = store.get_group(&group_id).await.unwrap().unwrap();
            g.status = GroupStatus::FailingOver;
            g.active_operation_id = Some(op_id);
            store.put_group(&g).await.unwrap();
            store.put_operation(&op).await.unwrap();
        }
    });
    op_id
}

/// Snapshot settings that hide what changes from run to run: ids, times, durations.
pub fn filters() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        // Same width as what it hides, so tables stay aligned.
        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    );
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "YYYY-MM-DDTHH:MM:SSZ");
    settings.add_filter(r"\(\d+ \w+ ago\)", "([ago])");
    settings.add_filter(r"Duration: \d+ms", "Duration: [ms]");
    // An operation's actual recovery time (`rto`), with the padding of its table cell.
    settings.add_filter(
        r"actual [0-9hms. ]+? to the last server ACTIVE, [0-9hms. ]+? in total *\|",
        "actual [t] to the last server ACTIVE, [t] in total |",
    );
    settings
}

/// `insta::assert_snapshot!` under [`filters`].
// Not every test binary takes snapshots.
#[allow(unused_macros)]
macro_rules! snapshot {
    ($name:expr, $value:expr) => {{
        let value = $value;
        $crate::common::filters().bind(|| insta::assert_snapshot!($name, value));
    }};
}

/// `| field | value |` rows of a Field/Value table.
pub fn table_value(table: &str, field: &str) -> Option<String> {
    table.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        (cells.len() == 4 && cells[1] == field).then(|| cells[2].to_string())
    })
}

pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}
