//! `protector sim ...` end to end: faults written by one process reach a simulator held open by
//! another, `inspect` prints what the simulator holds, and bad fault combinations are refused
//! with exit 4.

use std::path::{Path, PathBuf};

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
        SimDir {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
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
        cmd.env("HOME", self.path())
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
    ] {
        assert!(text.contains(heading), "missing {heading:?} in:\n{text}");
    }
    assert!(text.contains("| web-server-1 "), "{text}");
    assert!(text.contains("cinder-pod"), "{text}");
}
