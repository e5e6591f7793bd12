//! `protector sim ...` end to end: faults written by one process reach a simulator held open by
//! another, `inspect` prints what the simulator holds, and bad fault combinations are refused
//! with exit 4.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use protector_core::api::Connector;
use protector_core::ErrorKind;
use protector_mock::Simulator;
use serde_json::Value;

/// A simulator directory in a fresh temporary directory.
struct SimDir {
    dir: tempfile::TempDir,
}

impl SimDir {
    fn new() -> SimDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sim")).unwrap();
        SimDir { dir }
    }

    /// The simulator directory (a subdirectory, so that logs stay outside it).
    fn path(&self) -> PathBuf {
        self.dir.path().join("sim")
    }

    fn state(&self) -> PathBuf {
        self.path().join("sim.db")
    }

    /// Creates the seeded state the way `sim serve` does, and keeps a simulator open on it, as
    /// a running server would.
    fn open(&self) -> Simulator {
        let sim = Simulator::open(&self.state()).unwrap();
        // A freshly opened simulator only notices other processes' commits after its first
        // read (protector-mock's store records `data_version` lazily); `sim serve` primes it
        // the same way.
        sim.inspect();
        sim
    }

    /// `protector sim VERB --dir DIR ARGS`, isolated from the caller's environment.
    fn sim(&self, verb: &str, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("protector").unwrap();
        for var in [
            "OS_CLOUD",
            "PROTECTOR_STATE_DIR",
            "PROTECTOR_SIM_STATE",
            "PROTECTOR_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.dir.path())
            .args(["sim", verb, "--dir"])
            .arg(self.path())
            .args(args);
        cmd
    }

    /// Runs `sim fault ARGS`, asserting success; returns stdout.
    fn fault(&self, args: &[&str]) -> String {
        let out = self.sim("fault", args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }
}

async fn array_reachable(sim: &Simulator, site: &str) -> Result<(), ErrorKind> {
    let array = sim
        .connector()
        .array(&sim.array_endpoint(site).unwrap())
        .await
        .unwrap();
    array.array_info().await.map(|_| ()).map_err(|e| e.kind())
}

#[tokio::test]
async fn faults_reach_a_simulator_held_open_by_another_process() {
    let dir = SimDir::new();
    let sim = dir.open();
    assert_eq!(array_reachable(&sim, "site-a").await, Ok(()));

    let out = dir.fault(&["--site", "site-a", "--array-down"]);
    assert_eq!(out, "site-a: array down\n");
    assert_eq!(
        array_reachable(&sim, "site-a").await,
        Err(ErrorKind::Unavailable)
    );
    assert_eq!(array_reachable(&sim, "site-b").await, Ok(()));

    dir.fault(&["--site", "site-a", "--array-up"]);
    assert_eq!(array_reachable(&sim, "site-a").await, Ok(()));

    // `--service array --down` is the same fault.
    dir.fault(&["--site", "site-b", "--service", "array", "--down"]);
    assert_eq!(
        array_reachable(&sim, "site-b").await,
        Err(ErrorKind::Unavailable)
    );

    let out = dir.fault(&["--clear"]);
    assert_eq!(out, "every fault cleared\n");
    assert_eq!(array_reachable(&sim, "site-b").await, Ok(()));
}

#[tokio::test]
async fn error_rate_one_fails_every_call_with_the_chosen_error() {
    let dir = SimDir::new();
    let sim = dir.open();
    let out = dir.fault(&[
        "--site",
        "site-a",
        "--service",
        "array",
        "--error-rate",
        "1",
        "--error",
        "429",
        "--retry-after",
        "7",
    ]);
    assert_eq!(out, "site-a/array: error rate 1 (429, Retry-After 7 s)\n");
    assert_eq!(
        array_reachable(&sim, "site-a").await,
        Err(ErrorKind::RateLimited)
    );
    dir.fault(&[
        "--site",
        "site-a",
        "--service",
        "array",
        "--error-rate",
        "0",
    ]);
    assert_eq!(array_reachable(&sim, "site-a").await, Ok(()));

    // Without --service, every service of the site; the default error is 503.
    let out = dir.fault(&["--site", "site-b", "--error-rate", "1"]);
    assert_eq!(
        out,
        "site-b/identity: error rate 1 (503)\nsite-b/compute: error rate 1 (503)\n\
         site-b/volume: error rate 1 (503)\nsite-b/network: error rate 1 (503)\n\
         site-b/array: error rate 1 (503)\n"
    );
    assert_eq!(
        array_reachable(&sim, "site-b").await,
        Err(ErrorKind::Unavailable)
    );
}

#[test]
fn latency_and_partition_are_reported_per_change() {
    let dir = SimDir::new();
    dir.open();
    let out = dir.fault(&[
        "--site",
        "site-a",
        "--service",
        "volume",
        "--latency-ms",
        "50",
    ]);
    assert_eq!(out, "site-a/volume: latency 50 ms\n");
    assert_eq!(
        dir.fault(&["--partition"]),
        "replication link cut (partition)\n"
    );
    assert_eq!(dir.fault(&["--heal"]), "replication link restored\n");
    let out = dir.fault(&["--site", "site-b", "--down", "--array-down"]);
    assert_eq!(
        out,
        "site-b: OpenStack services down (calls are refused)\nsite-b: array down\n"
    );
}

#[test]
fn bad_fault_combinations_are_refused_with_exit_4() {
    let dir = SimDir::new();
    dir.open();
    let cases: &[(&[&str], &str)] = &[
        (&[], "nothing to change"),
        (&["--down"], "which site? give --site (site-a or site-b)"),
        (
            &["--site", "site-c", "--down"],
            "unknown simulated site 'site-c'",
        ),
        (
            &["--site", "site-a", "--down", "--up"],
            "--down and --up contradict",
        ),
        (
            &["--site", "site-a", "--array-down", "--array-up"],
            "contradict",
        ),
        (
            &["--partition", "--heal"],
            "--partition and --heal contradict",
        ),
        (&["--site", "site-a", "--partition"], "take no --site"),
        (
            &["--clear", "--site", "site-a"],
            "takes no other option (got --site)",
        ),
        (
            &["--site", "site-a", "--service", "compute", "--down"],
            "a single OpenStack service cannot be taken down",
        ),
        (
            &["--site", "site-a", "--error-rate", "1.5"],
            "not a fraction",
        ),
        (
            &["--site", "site-a", "--error", "500"],
            "give --error-rate too",
        ),
        (
            &[
                "--site",
                "site-a",
                "--error-rate",
                "0.5",
                "--retry-after",
                "3",
            ],
            "--retry-after applies to --error 429 only",
        ),
        (
            &["--site", "site-a", "--service", "volume", "--array-down"],
            "take no --service",
        ),
        (&["--site", "site-a"], "nothing to change"),
    ];
    for (args, message) in cases {
        dir.sim("fault", args)
            .assert()
            .code(4)
            .stderr(predicate::str::contains(*message));
    }
    // An error value clap does not know is a usage error.
    dir.sim(
        "fault",
        &["--site", "site-a", "--error-rate", "1", "--error", "404"],
    )
    .assert()
    .code(2);
    // Nothing was applied by the refused commands.
    let sim = Simulator::open(&dir.state()).unwrap();
    assert_eq!(sim.inspect(), Simulator::in_memory().unwrap().inspect());
}

#[test]
fn fault_and_inspect_need_an_existing_state() {
    let dir = SimDir::new();
    for verb in ["fault", "inspect"] {
        let args: &[&str] = if verb == "fault" { &["--clear"] } else { &[] };
        dir.sim(verb, args)
            .assert()
            .code(7)
            .stderr(predicate::str::contains("sim.db does not exist"))
            .stderr(predicate::str::contains("protector sim serve --dir"));
    }
    assert!(!dir.state().exists(), "a mistyped DIR must not be seeded");
}

#[test]
fn inspect_json_is_the_simulators_inventory_whatever_the_faults() {
    let dir = SimDir::new();
    let sim = dir.open();
    dir.fault(&["--site", "site-a", "--down", "--array-down"]);
    let out = dir.sim("inspect", &["-f", "json"]).assert().success();
    let printed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(printed, serde_json::to_value(sim.inspect()).unwrap());

    let web1 = &printed["sites"]["site-a"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "web-server-1")
        .unwrap();
    for key in ["id", "name", "status", "project_id", "volumes"] {
        assert!(web1.get(key).is_some(), "server field {key}");
    }
    let volume = &printed["sites"]["site-a"]["volumes"][0];
    for key in [
        "id",
        "name",
        "status",
        "project_id",
        "array_volume",
        "fingerprint",
    ] {
        assert!(volume.get(key).is_some(), "volume field {key}");
    }
    assert_eq!(volume["lineage"]["kind"], "seeded", "{volume}");
    assert!(
        volume["lineage"]["fingerprint"].as_u64().unwrap()
            <= volume["fingerprint"].as_u64().unwrap(),
        "{volume}"
    );
    let networks = printed["sites"]["site-b"]["networks"].as_array().unwrap();
    let drill = networks
        .iter()
        .find(|n| n["name"] == "dr-test-net")
        .unwrap();
    assert_eq!(drill["subnets"][0]["cidr"], "10.99.0.0/24");
    let array = &printed["arrays"]["site-a"];
    assert_eq!(array["name"], "flasharray-a");
    for key in ["volumes", "protection_groups", "snapshots"] {
        assert!(array[key].is_array(), "array field {key}");
    }
    let array_volume = &array["volumes"][0];
    for key in ["name", "fingerprint", "destroyed"] {
        assert!(array_volume.get(key).is_some(), "array volume field {key}");
    }
}

#[test]
fn inspect_table_summarises_sites_and_arrays() {
    let dir = SimDir::new();
    dir.open();
    let out = dir.sim("inspect", &[]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for heading in [
        "site-a: servers (6)",
        "site-a: volumes (8)",
        "site-a: ports (7)",
        "site-b: servers (0)",
        "site-a: array flasharray-a volumes",
        "site-a: array flasharray-a protection groups (0)",
        "site-b: array flasharray-b pods (1)",
        "site-b: networks (3)",
    ] {
        assert!(text.contains(heading), "missing {heading:?} in:\n{text}");
    }
    assert!(text.contains("| web-server-1 "), "{text}");
    assert!(text.contains("cinder-pod"), "{text}");
    assert!(text.contains("| dr-test-net "), "{text}");
    assert!(
        text.contains("dr-test-net-subnet 10.99.0.0/24 (10.99.0.1)"),
        "{text}"
    );
    assert!(text.contains("| seeded (write "), "{text}");
}

// ---------------------------------------------------------------------------------- serve

/// A running `protector sim serve --dir DIR`, killed when dropped.
struct Server {
    child: std::process::Child,
    stderr: PathBuf,
}

impl Server {
    /// Starts the server and returns once it printed `ready`.
    fn start(dir: &SimDir, args: &[&str]) -> Server {
        let stderr = dir
            .path()
            .with_extension(format!("serve-{}.log", std::process::id()));
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("protector"))
            .env_remove("PROTECTOR_LOG")
            .args(["sim", "serve", "--dir"])
            .arg(dir.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        let server = Server { child, stderr };
        assert_eq!(line, "ready\n", "serve stderr:\n{}", server.log());
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, and the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }

    /// SIGKILL: a crash, no shutdown at all.
    fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One clouds.yaml entry.
struct Cloud {
    auth_url: String,
    username: String,
    password: String,
    project_name: String,
}

fn clouds(dir: &SimDir) -> yaml_rust2::Yaml {
    let text = std::fs::read_to_string(dir.path().join("clouds.yaml")).unwrap();
    yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap()
        .remove(0)
}

fn cloud(dir: &SimDir, name: &str) -> Cloud {
    let auth = &clouds(dir)["clouds"][name]["auth"];
    let field = |key: &str| {
        auth[key]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no {key}"))
            .to_string()
    };
    Cloud {
        auth_url: field("auth_url"),
        username: field("username"),
        password: field("password"),
        project_name: field("project_name"),
    }
}

fn arrays_json(dir: &SimDir) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.path().join("arrays.json")).unwrap()).unwrap()
}

/// `POST {auth_url}/auth/tokens` with a password, scoped to the entry's project.
async fn token_request(cloud: &Cloud, password: &str) -> reqwest::Result<reqwest::Response> {
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": cloud.username, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": cloud.project_name, "domain": {"name": "Default"}}}
    }});
    reqwest::Client::new()
        .post(format!("{}/auth/tokens", cloud.auth_url))
        .json(&body)
        .send()
        .await
}

/// A token and the catalog of `cloud`.
async fn issue_token(cloud: &Cloud) -> (String, Value) {
    let response = token_request(cloud, &cloud.password).await.unwrap();
    assert_eq!(response.status(), 201);
    let token = response.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_string();
    (token, response.json().await.unwrap())
}

/// The public endpoint of `service_type` in a token body.
fn endpoint(body: &Value, service_type: &str) -> String {
    let service = body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == service_type)
        .unwrap_or_else(|| panic!("no {service_type} in the catalog"));
    let endpoint = service["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["interface"] == "public")
        .unwrap();
    endpoint["url"].as_str().unwrap().to_string()
}

/// Runs `check` until it returns true: the server applies fault changes made by another
/// process on its own schedule. Bounded, so a server that never does fails the test.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what}: not after 10 s");
}

#[tokio::test]
async fn serve_writes_its_config_files_and_speaks_keystone_and_flasharray() {
    let dir = SimDir::new();
    let server = Server::start(&dir, &[]);

    let clouds = clouds(&dir);
    let names: Vec<&str> = clouds["clouds"]
        .as_hash()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    for entry in [
        "site-a",
        "site-b",
        "site-a-member",
        "site-b-member",
        "site-a-tenant2",
        "site-b-tenant2",
    ] {
        assert!(names.contains(&entry), "{entry} not in {names:?}");
    }
    let admin = cloud(&dir, "site-a");
    assert!(
        admin.auth_url.starts_with("http://127.0.0.1:"),
        "{}",
        admin.auth_url
    );
    assert_eq!(admin.project_name, "production-project");

    let version: Value = reqwest::get(&admin.auth_url)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        version["version"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("v3")),
        "{version}"
    );
    let (_, body) = issue_token(&admin).await;
    let roles: Vec<&str> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(roles.contains(&"admin"), "{roles:?}");
    let refused = token_request(&admin, "wrong").await.unwrap();
    assert_eq!(refused.status(), 401);

    let arrays = arrays_json(&dir);
    for site in ["site-a", "site-b"] {
        let array = &arrays[site];
        let url = array["url"].as_str().unwrap();
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        assert!(!array["api_token"].as_str().unwrap().is_empty());
        let pem = std::fs::read(array["ca_file"].as_str().unwrap()).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        // Verified TLS with the written CA file.
        let versions: Value = client
            .get(format!("{url}/api/api_version"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            versions["version"]
                .as_array()
                .is_some_and(|v| !v.is_empty()),
            "{versions}"
        );
    }

    let status = server.terminate();
    assert!(status.success(), "SIGTERM ended the server with {status}");
}

#[tokio::test]
async fn a_site_taken_down_refuses_keystone_until_it_is_up_again() {
    let dir = SimDir::new();
    let server = Server::start(&dir, &[]);
    let site_a = cloud(&dir, "site-a");
    let site_b = cloud(&dir, "site-b");
    issue_token(&site_a).await;

    dir.fault(&["--site", "site-a", "--down"]);
    // The very next request already fails: the simulator reloads the state on every call.
    assert!(
        token_request(&site_a, &site_a.password).await.is_err(),
        "site-a answered while down"
    );
    eventually("site-a's listener closed", async || {
        reqwest::get(&site_a.auth_url)
            .await
            .is_err_and(|e| e.is_connect())
    })
    .await;
    issue_token(&site_b).await;

    dir.fault(&["--site", "site-a", "--up"]);
    eventually("site-a back", async || {
        token_request(&site_a, &site_a.password)
            .await
            .is_ok_and(|r| r.status() == 201)
    })
    .await;
    assert!(server.terminate().success());
}

#[tokio::test]
async fn a_restart_on_the_same_dir_keeps_state_ports_and_faults() {
    let dir = SimDir::new();
    let server = Server::start(&dir, &[]);
    let admin = cloud(&dir, "site-a");
    let (token, body) = issue_token(&admin).await;
    let volumes = endpoint(&body, "volumev3");
    let created: Value = reqwest::Client::new()
        .post(format!("{volumes}/volumes"))
        .header("X-Auth-Token", &token)
        .json(&serde_json::json!({"volume": {"size": 1, "name": "persisted"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["volume"]["id"].as_str().unwrap().to_string();
    dir.fault(&["--site", "site-b", "--down"]);
    server.crash();

    let server = Server::start(&dir, &[]);
    assert!(server.log().contains("(resumed)"), "{}", server.log());
    let again = cloud(&dir, "site-a");
    assert_eq!(
        again.auth_url, admin.auth_url,
        "the ports of the last run are reused"
    );
    let (token, _) = issue_token(&again).await;
    let shown: Value = reqwest::Client::new()
        .get(format!("{volumes}/volumes/{id}"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["volume"]["name"], "persisted", "{shown}");
    // site-b was down when the server crashed: it starts down.
    let site_b = cloud(&dir, "site-b");
    assert!(reqwest::get(&site_b.auth_url)
        .await
        .is_err_and(|e| e.is_connect()));
    assert!(server.terminate().success());
}

/// A port N such that N..N+3 are free now (held briefly to check, then released).
fn free_port_base() -> u16 {
    for _ in 0..50 {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        if base > 65_000 {
            continue;
        }
        let rest: Vec<_> = (1..4)
            .map_while(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if rest.len() == 3 {
            return base;
        }
    }
    panic!("no four consecutive free ports");
}

#[test]
fn port_base_fixes_the_ports() {
    let dir = SimDir::new();
    let base = free_port_base();
    let server = Server::start(&dir, &["--port-base", &base.to_string()]);
    assert_eq!(
        cloud(&dir, "site-a").auth_url,
        format!("http://127.0.0.1:{base}/identity/v3")
    );
    assert_eq!(
        arrays_json(&dir)["site-b"]["url"],
        format!("https://127.0.0.1:{}", base + 3)
    );
    assert!(server.terminate().success());
}

// ------------------------------------------------------------------------------ scale seed

const SEED_FLAGS: [&str; 6] = [
    "--seed-vms",
    "6",
    "--seed-projects",
    "2",
    "--seed-volumes-per-vm",
    "2",
];

#[tokio::test]
async fn serve_seeds_vms_in_projects_and_resumes_only_the_same_seed() {
    let dir = SimDir::new();
    let server = Server::start(&dir, &SEED_FLAGS);
    assert!(
        server
            .log()
            .contains("seeded 6 VMs in 2 projects bench-1..bench-2"),
        "{}",
        server.log()
    );
    let listing: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("scale-seed.json")).unwrap())
            .unwrap();
    let projects = listing["projects"].as_array().unwrap();
    assert_eq!(projects.len(), 2);
    assert_eq!(projects[1]["name"], "bench-2");
    assert_eq!(listing["networks"]["site-b"], "net-secondary-bench");

    // Each seeded project has an admin entry per site; over the wire it sees its own VMs.
    for site in ["site-a", "site-b"] {
        let entry = cloud(&dir, &format!("{site}-bench-2"));
        assert_eq!(entry.project_name, "bench-2");
        let (token, body) = issue_token(&entry).await;
        assert_eq!(
            body["token"]["project"]["id"],
            projects[1]["site_ids"][site]
        );
        let servers: Value = reqwest::Client::new()
            .get(format!("{}/servers/detail", endpoint(&body, "compute")))
            .header("X-Auth-Token", &token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut names: Vec<&str> = servers["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        names.sort();
        let expected: Vec<&str> = if site == "site-a" {
            vec!["bench-2-1", "bench-2-2", "bench-2-3"]
        } else {
            Vec::new()
        };
        assert_eq!(names, expected, "{site}");
        if site == "site-a" {
            let first = &servers["servers"][0];
            assert_eq!(first["status"], "ACTIVE");
            assert_eq!(
                first["os-extended-volumes:volumes_attached"]
                    .as_array()
                    .unwrap()
                    .len(),
                2
            );
        }
    }
    assert!(server.terminate().success());

    // The same flags resume; other ones are refused and leave the state as it was.
    let server = Server::start(&dir, &SEED_FLAGS);
    assert!(
        server.log().contains("already in place"),
        "{}",
        server.log()
    );
    assert!(server.terminate().success());
    dir.sim("serve", &["--seed-vms", "8"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains(
            "already holds another scale seed (6 VMs in 2 projects bench-1..bench-2",
        ))
        .stderr(predicate::str::contains("use a new --dir"));
    let inventory: Value = serde_json::from_slice(
        &dir.sim("inspect", &["-f", "json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    let servers = inventory["sites"]["site-a"]["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 6 + 6, "the seeded six and the scale seed's");
}

#[test]
fn serve_refuses_bad_seed_flags_and_leaves_no_state_behind() {
    let dir = SimDir::new();
    dir.sim("serve", &["--seed-vms", "5", "--seed-projects", "2"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "--seed-vms 5 is not a multiple of --seed-projects 2",
        ));
    assert!(!dir.state().exists());
    dir.sim("serve", &["--seed-vms", "4", "--seed-volume-type", "gold"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "volume type 'gold' not found on site-a",
        ));
    assert!(!dir.state().exists(), "a failed seed leaves no state");
    dir.sim("serve", &["--seed-projects", "2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--seed-vms"));
}

/// `--clock wall` is kept in the state (a restart without it keeps it); `--clock calls` puts
/// it back; a clock the simulator does not know is refused before anything is made.
#[test]
fn serve_keeps_the_clock_it_was_given() {
    let dir = SimDir::new();
    let server = Server::start(&dir, &["--clock", "wall"]);
    assert!(server.terminate().success());
    assert_eq!(
        Simulator::open(&dir.state()).unwrap().clock(),
        protector_mock::Clock::Wall
    );
    let server = Server::start(&dir, &[]);
    assert!(server.terminate().success());
    assert_eq!(
        Simulator::open(&dir.state()).unwrap().clock(),
        protector_mock::Clock::Wall
    );
    let server = Server::start(&dir, &["--clock", "calls"]);
    assert!(server.terminate().success());
    assert_eq!(
        Simulator::open(&dir.state()).unwrap().clock(),
        protector_mock::Clock::Calls
    );

    let fresh = SimDir::new();
    fresh
        .sim("serve", &["--clock", "sideways"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value 'sideways' for '--clock <CLOCK>'",
        ));
    assert!(!fresh.state().exists());
}
