//! Crash injection over real processes: `protector … --wait` is killed with SIGKILL after each
//! step it reports, in turn, and `protector operation recover` (another process) brings the
//! operation to its normal end. The state directory (SQLite stores) and the simulator file
//! are the ones the killed process had open.
//!
//! The in-process suite (protector-core's `crash` tests) kills after every journal write;
//! this one shows the same holds for a process the kernel kills, between and inside steps.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::Env;

const MEMBERS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];

#[derive(Clone, Copy, Debug)]
enum Kind {
    Failover,
    Failback,
    Drill,
}

impl Kind {
    fn args(self) -> Vec<&'static str> {
        match self {
            Kind::Failover => vec!["protection-group", "failover", "prod-web-app", "--wait"],
            Kind::Failback => vec!["protection-group", "failback", "prod-web-app", "--wait"],
            Kind::Drill => vec![
                "dr",
                "test",
                "failover",
                "prod-web-app",
                "--network-mapping",
                "net-primary-web=dr-test-net",
                "net-primary-db=dr-test-net",
                "--flavor-mapping",
                "m1.large=m2.large",
                "--wait",
            ],
        }
    }

    /// Where each member runs at the end: (site-a, site-b) running copies; and the group's
    /// status.
    fn end(self) -> ((usize, usize), &'static str) {
        match self {
            Kind::Failover => ((0, 1), "failed_over"),
            Kind::Failback | Kind::Drill => ((1, 0), "active"),
        }
    }
}

/// The state every run of `kind` starts from, prepared once.
fn template(kind: Kind) -> Env {
    let env = Env::new().with_sites().with_group();
    env.ok(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--network-mapping",
        "net-primary-web=net-secondary-web",
        "net-primary-db=net-secondary-db",
        "--flavor-mapping",
        "m1.large=m2.large",
    ]);
    env.ok(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--from-site",
        "site-b",
        "--network-mapping",
        "net-secondary-web=net-primary-web net-secondary-db=net-primary-db",
        "--flavor-mapping",
        "m2.large=m1.large",
    ]);
    match kind {
        Kind::Failback => {
            env.ok(&["protection-group", "failover", "prod-web-app", "--wait"]);
        }
        Kind::Drill => env.simulator().tick(320).unwrap(),
        Kind::Failover => {}
    }
    env
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of `template` in a fresh directory.
fn copy_of(template: &Env) -> Env {
    let env = Env::new();
    copy_dir(template.dir.path(), env.dir.path());
    env
}

/// Runs `kind` in `env` and kills it with SIGKILL once it has reported `after` steps (never:
/// to its end). Returns how many steps it reported.
fn run_killed(env: &Env, kind: Kind, after: Option<usize>) -> usize {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("protector"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.dir.path())
        .env("XDG_DATA_HOME", env.dir.path().join("xdg"))
        .arg("--state-dir")
        .arg(env.state_dir())
        .arg("--sim-state")
        .arg(env.sim_path())
        .args(kind.args())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut steps = 0;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.starts_with('[') && line.contains("%]") && !line.ends_with("FAILED") {
            steps += 1;
            if Some(steps) == after {
                child.kill().unwrap();
                break;
            }
        }
    }
    let status = child.wait().unwrap();
    if after.is_none() {
        assert!(status.success(), "{kind:?} failed without a crash");
    }
    steps
}

fn running(inventory: &protector_mock::Inventory, site: &str, vm: &str) -> usize {
    inventory.sites[site]
        .servers
        .iter()
        .filter(|s| s.name == vm && s.status == "ACTIVE")
        .count()
}

/// Recovers whatever operation of `kind` the killed process left, and checks the end state.
fn recover_and_check(env: &Env, kind: Kind, at: &str) {
    let ops = env.json(&["operation", "list"]);
    let wanted = match kind {
        Kind::Failover => "failover",
        Kind::Failback => "failback",
        Kind::Drill => "test_failover",
    };
    let op = ops
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation_type"] == wanted)
        .unwrap_or_else(|| panic!("{at}: no {wanted} record in {ops}"));
    let id = op["id"].as_str().unwrap().to_string();
    let recovered = env.json(&["operation", "recover", &id]);
    assert_eq!(recovered["status"], "completed", "{at}: {recovered}");
    let ((a, b), status) = kind.end();
    for record in env.group_lists() {
        assert_eq!(record[0]["status"], status, "{at}: {record}");
        assert!(record[0]["active_operation_id"].is_null(), "{at}: {record}");
    }
    let inventory = env.simulator().inspect();
    for vm in MEMBERS {
        assert_eq!(
            (
                running(&inventory, "site-a", vm),
                running(&inventory, "site-b", vm)
            ),
            (a, b),
            "{at}: running copies of {vm} on (site-a, site-b)"
        );
    }
    let site_b = &inventory.sites["site-b"];
    let expected = if b == 1 || matches!(kind, Kind::Drill) {
        (3, 4)
    } else {
        (0, 0)
    };
    assert_eq!(
        (site_b.servers.len(), site_b.volumes.len()),
        expected,
        "{at}: servers and volumes on site-b (nothing leaked, nothing twice)"
    );
    for array in inventory.arrays.values() {
        for volume in array.volumes.iter().filter(|v| !v.destroyed) {
            assert!(
                !volume.name.starts_with("protector-") && !volume.name.starts_with("test-"),
                "{at}: stray copy {} on {}",
                volume.name,
                array.name
            );
        }
    }
    // The operation's record is final on both sites' views.
    let shown: Value = env.json(&["operation", "show", &id]);
    assert_eq!(shown["status"], "completed", "{at}");
}

fn every_step(kind: Kind) {
    let template = template(kind);
    let total = run_killed(&copy_of(&template), kind, None);
    assert!(total >= 5, "{kind:?} reported {total} steps");
    // The last step's report comes after the operation is recorded finished: killing there
    // leaves nothing to recover, so the points are the steps before it.
    for after in 1..total {
        let env = copy_of(&template);
        run_killed(&env, kind, Some(after));
        recover_and_check(
            &env,
            kind,
            &format!("{kind:?} killed after step {after} of {total}"),
        );
    }
    eprintln!(
        "crash injection (SIGKILL): {kind:?}: {} crash points covered",
        total - 1
    );
}

#[test]
fn a_failover_process_killed_after_any_step_is_finished_by_recover() {
    every_step(Kind::Failover);
}

#[test]
fn a_failback_process_killed_after_any_step_is_finished_by_recover() {
    every_step(Kind::Failback);
}

#[test]
fn a_drill_process_killed_after_any_step_is_finished_by_recover() {
    every_step(Kind::Drill);
}
