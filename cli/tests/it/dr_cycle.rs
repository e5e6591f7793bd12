//! Issue 6's cycle through the `protector` binary, command by command as an operator types it:
//! planned failover → failback with reverse replication → drill → cleanup → unplanned failover
//! with site-a down (its data at risk printed first) → site-a back → sync-force → failback
//! (fencing first). After each step the simulator is read back: one running copy of each VM.

use crate::common::{stderr_of, Env};
use serde_json::Value;

const VMS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];
const NETWORKS: &str = "net-primary-web=net-secondary-web net-primary-db=net-secondary-db";
const DRILL_NETWORKS: &str = "net-primary-web=dr-test-net net-primary-db=dr-test-net";

/// Where each VM runs (ACTIVE), per the simulator.
fn running(env: &Env, vm: &str) -> Vec<String> {
    let inventory = env.simulator().inspect();
    inventory
        .sites
        .iter()
        .filter(|(_, s)| {
            s.servers
                .iter()
                .any(|v| v.name == vm && v.status == "ACTIVE")
        })
        .map(|(site, _)| site.clone())
        .collect()
}

fn assert_runs_on(env: &Env, site: &str, step: &str) {
    for vm in VMS {
        assert_eq!(running(env, vm), vec![site], "after {step}: {vm}");
    }
}

/// Runs a long command with `--wait`; returns its final record.
fn wait(env: &Env, cloud: &str, args: &[&str]) -> (Value, String) {
    let mut all = args.to_vec();
    all.extend(["--wait", "-f", "json"]);
    let out = env.on(cloud, &all).output().unwrap();
    let stderr = stderr_of(&out);
    assert!(
        out.status.success(),
        "protector {all:?} failed: {stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

#[test]
fn the_whole_dr_cycle_from_the_command_line() {
    let env = Env::new().with_sites().with_group();

    let (op, _) = wait(
        &env,
        "site-a",
        &[
            "protection-group",
            "failover",
            "prod-web-app",
            "--network-mapping",
            NETWORKS,
            "--flavor-mapping",
            "m1.large=m2.large",
        ],
    );
    assert_eq!(op["status"], "completed", "{op}");
    assert_runs_on(&env, "site-b", "planned failover");

    let (op, _) = wait(
        &env,
        "site-b",
        &[
            "protection-group",
            "failback",
            "prod-web-app",
            "--reverse-replication",
        ],
    );
    assert_eq!(op["status"], "completed", "{op}");
    assert_eq!(op["operation_type"], "failback");
    assert_eq!(op["instances_created"], 3);
    assert_runs_on(&env, "site-a", "failback");
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(group["status"], "active");
    assert_eq!(group["current_primary_site"], "site-a");

    env.simulator().tick(320).unwrap();
    let (op, _) = wait(
        &env,
        "site-a",
        &[
            "dr",
            "test",
            "failover",
            "prod-web-app",
            "--network-mapping",
            DRILL_NETWORKS,
            "--flavor-mapping",
            "m1.large=m2.large",
        ],
    );
    assert_eq!(op["status"], "completed", "{op}");
    assert_runs_on(&env, "site-a", "drill");
    for vm in VMS {
        assert_eq!(running(&env, &format!("test-{vm}")), vec!["site-b"], "{vm}");
    }
    let (op, _) = wait(
        &env,
        "site-a",
        &["dr", "test", "failover", "cleanup", "prod-web-app"],
    );
    assert_eq!(op["status"], "completed", "{op}");
    for vm in VMS {
        assert!(running(&env, &format!("test-{vm}")).is_empty(), "{vm}");
    }

    env.simulator().tick(320).unwrap();
    env.sim_fault(&["--site", "site-a", "--down"]);
    let (op, stderr) = wait(
        &env,
        "site-b",
        &[
            "protection-group",
            "failover",
            "prod-web-app",
            "--force",
            "--commit-window",
            "0",
            "--network-mapping",
            NETWORKS,
            "--flavor-mapping",
            "m1.large=m2.large",
        ],
    );
    assert_eq!(op["status"], "completed", "{op}");
    let reported = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Data at risk: "))
        .unwrap_or_else(|| panic!("no data at risk reported: {stderr}"));
    assert_eq!(op["data_loss"], reported, "the loss is the one reported");
    let group = env.json(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "show",
        "prod-web-app",
    ]);
    assert_eq!(group["status"], "failed_over");
    assert_eq!(group["fence_required_on"], "site-a", "{group}");

    env.sim_fault(&["--site", "site-a", "--up"]);
    env.on(
        "site-b",
        &["protection-group", "sync-force", "prod-web-app"],
    )
    .assert()
    .success();
    let (op, _) = wait(
        &env,
        "site-b",
        &[
            "protection-group",
            "failback",
            "prod-web-app",
            "--reverse-replication",
        ],
    );
    assert_eq!(op["status"], "completed", "{op}");
    let steps: Vec<&str> = op["steps_completed"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(steps.contains(&"fence_old_vms"), "{op}");
    assert_runs_on(&env, "site-a", "fenced failback");

    // The operations of the cycle, selected: the newest of the group is the failback.
    let list = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["--os-cloud", "site-b", "operation", "list"];
        all.extend_from_slice(args);
        env.json(&all).as_array().cloned().unwrap_or_default()
    };
    let every = list(&[]);
    let newest = list(&["--group", "prod-web-app", "--limit", "1"]);
    assert_eq!(newest.len(), 1, "{newest:?}");
    assert_eq!(newest[0]["id"], op["operation_id"], "{newest:?}");
    let failovers = list(&["--type", "failover,test_failover", "--status", "completed"]);
    let expected: Vec<&Value> = every
        .iter()
        .filter(|o| {
            ["failover", "test_failover"].contains(&o["operation_type"].as_str().unwrap_or(""))
                && o["status"] == "completed"
        })
        .collect();
    assert!(!failovers.is_empty(), "{every:?}");
    assert_eq!(failovers.iter().collect::<Vec<_>>(), expected);
    let (code, stderr) = env.fails(&["operation", "list", "--status", "finished"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("unknown operation status 'finished': use one of pending, running"),
        "{stderr}"
    );
    let (code, stderr) = env.fails(&["operation", "list", "--group", "nope"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("'nope' not found"), "{stderr}");
}

/// Issue 16, item 5: an unplanned site failover states each group's recovery point and its age
/// before anything runs, like a single group's unplanned failover, and recovers from it.
#[test]
fn an_unplanned_site_failover_reports_each_groups_data_at_risk_first() {
    let env = Env::new().with_sites().with_group();
    env.on(
        "site-a",
        &[
            "protection-group",
            "mapping-set",
            "prod-web-app",
            "--network-mapping",
            NETWORKS,
            "--flavor-mapping",
            "m1.large=m2.large",
        ],
    )
    .assert()
    .success();
    env.simulator().tick(320).unwrap();
    env.sim_fault(&["--site", "site-a", "--down"]);
    let (op, stderr) = wait(
        &env,
        "site-b",
        &[
            "dr",
            "site",
            "failover",
            "site-a",
            "--failover-type",
            "unplanned",
            "--force",
        ],
    );
    assert_eq!(op["status"], "completed", "{op}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Data at risk for prod-web-app: "))
        .unwrap_or_else(|| panic!("no data at risk reported per group: {stderr}"));
    assert!(
        line.contains("recovery point ") && line.ends_with(" s old)"),
        "{line}"
    );
    // Reported before the run's progress: the first line of stderr that names the group.
    let first = stderr
        .lines()
        .find(|l| l.contains("prod-web-app"))
        .unwrap_or_default();
    assert_eq!(first, line, "{stderr}");
    // Each VM now runs on site-b; the copies on site-a (down) wait to be fenced.
    for vm in VMS {
        assert!(running(&env, vm).contains(&"site-b".to_string()), "{vm}");
    }
    let group = env.json(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "show",
        "prod-web-app",
    ]);
    assert_eq!(group["status"], "failed_over", "{group}");
    assert_eq!(group["fence_required_on"], "site-a", "{group}");
}
