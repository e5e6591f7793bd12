//! `--dry-run` of every operation command: the plan as JSON on stdout, nothing changed on
//! either site (stores and simulated clouds read back), blocking findings as a non-zero exit
//! after the plan, and the operation then runs the steps the plan listed.

use std::sync::{Arc, Mutex};

use crate::common::{stderr_of, with_stores, Env};
use serde_json::{json, Value};

const NETWORKS: &str = "net-primary-web=net-secondary-web net-primary-db=net-secondary-db";
const DRILL_NETWORKS: &str = "net-primary-web=dr-test-net net-primary-db=dr-test-net";

/// Both stores (groups with members, operations with journals) and what exists on both
/// simulated sites and arrays (ids and names, not the statuses simulated time moves).
pub(crate) fn world(env: &Env) -> Value {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    with_stores(env, |stores| async move {
        for store in &stores {
            let mut groups = Vec::new();
            for group in store.list_groups().await.unwrap() {
                let members = store.list_members(&group.id).await.unwrap();
                groups.push(json!({"group": group, "members": members}));
            }
            let mut operations = Vec::new();
            for op in store.list_operations().await.unwrap() {
                let journal = store.list_journal(&op.id).await.unwrap();
                operations.push(json!({"operation": op, "journal": journal}));
            }
            sink.lock()
                .unwrap()
                .push(json!({"groups": groups, "operations": operations}));
        }
    });
    let stores = out.lock().unwrap().clone();
    let inventory = env.simulator().inspect();
    let mut sites = serde_json::Map::new();
    for (name, site) in &inventory.sites {
        let ids = |items: Vec<(String, String)>| json!(items);
        sites.insert(
            name.clone(),
            json!({
                "servers": ids(site.servers.iter().map(|s| (s.id.clone(), s.name.clone())).collect()),
                "ports": ids(site.ports.iter().map(|p| (p.id.clone(), p.name.clone())).collect()),
                "volumes": ids(site.volumes.iter().map(|v| (v.id.clone(), v.name.clone())).collect()),
            }),
        );
    }
    let arrays: Vec<(String, Vec<(String, bool)>)> = inventory
        .arrays
        .iter()
        .map(|(name, array)| {
            let volumes = array.volumes.iter();
            (
                name.clone(),
                volumes.map(|v| (v.name.clone(), v.destroyed)).collect(),
            )
        })
        .collect();
    json!({"stores": stores, "sites": sites, "arrays": arrays})
}

/// Runs a `--dry-run` command that must succeed; returns the plan it printed, after checking
/// that nothing changed.
fn dry_run(env: &Env, cloud: &str, args: &[&str]) -> Value {
    let before = world(env);
    let mut all = args.to_vec();
    all.push("--dry-run");
    let out = env.on(cloud, &all).output().unwrap();
    assert!(
        out.status.success(),
        "protector {all:?} failed: {}\n{}",
        stderr_of(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(world(env), before, "protector {all:?} changed something");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs a long command with `--wait`; returns its final record.
fn wait(env: &Env, cloud: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--wait", "-f", "json"]);
    let out = env.on(cloud, &all).output().unwrap();
    assert!(
        out.status.success(),
        "protector {all:?} failed: {}",
        stderr_of(&out)
    );
    let op: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(op["status"], "completed", "{op}");
    op
}

fn step_names(plan: &Value) -> Vec<Value> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect()
}

fn member_names(plan: &Value) -> Vec<String> {
    let mut names: Vec<String> = plan["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["instance_name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

const MEMBERS: [&str; 3] = ["db-server-1", "web-server-1", "web-server-2"];

#[test]
fn every_dry_run_prints_the_plan_that_then_runs_and_changes_nothing() {
    let env = Env::new().with_sites().with_group();
    env.ok(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--network-mapping",
        NETWORKS,
        "--flavor-mapping",
        "m1.large=m2.large",
    ]);

    // Site failover: every group, its mode and its failover plan.
    let site = [
        "dr",
        "site",
        "failover",
        "site-a",
        "--failover-type",
        "planned",
    ];
    let plan = dry_run(&env, "site-b", &site);
    assert_eq!(plan["failed_site"], "site-a");
    assert_eq!(plan["target_site"], "site-b");
    assert_eq!(plan["mode"], "planned");
    let group = &plan["groups"][0];
    assert_eq!(plan["groups"].as_array().unwrap().len(), 1);
    assert_eq!(group["group_name"], "prod-web-app");
    assert_eq!(group["action"], "failover");
    assert_eq!(group["mode"], "planned");
    assert_eq!(group["plan"]["target_site"], "site-b");
    assert_eq!(member_names(&group["plan"]), MEMBERS);
    let group_steps = step_names(&group["plan"]);
    let op = wait(&env, "site-b", &site);
    let child = op["group_results"][0]["operation_id"].as_str().unwrap();
    let child = env.json(&["--os-cloud", "site-b", "operation", "show", child]);
    assert_eq!(child["steps_completed"], json!(group_steps));

    // Failback: the same output whichever format is asked for.
    let failback = ["protection-group", "failback", "prod-web-app"];
    let plan = dry_run(&env, "site-b", &failback);
    let as_json = dry_run(&env, "site-b", &[&failback[..], &["-f", "json"]].concat());
    assert_eq!(as_json["steps"], plan["steps"]);
    assert_eq!(plan["source_site"], "site-b");
    assert_eq!(plan["target_site"], "site-a");
    assert_eq!(member_names(&plan), MEMBERS);
    let op = wait(&env, "site-b", &failback);
    assert_eq!(op["steps_completed"], json!(step_names(&plan)));

    // Drill.
    env.simulator().tick(320).unwrap();
    let drill = [
        "dr",
        "test",
        "failover",
        "prod-web-app",
        "--network-mapping",
        DRILL_NETWORKS,
        "--flavor-mapping",
        "m1.large=m2.large",
    ];
    let plan = dry_run(&env, "site-a", &drill);
    assert_eq!(plan["target_site"], "site-b");
    assert_eq!(member_names(&plan), MEMBERS);
    assert_eq!(plan["steps"][1]["name"], "create_test_record");
    assert!(plan["source_snapshot"].is_string(), "{plan}");
    let op = wait(&env, "site-a", &drill);
    assert_eq!(op["steps_completed"], json!(step_names(&plan)));

    // Cleanup: what it removes, where.
    let cleanup = ["dr", "test", "failover", "cleanup", "prod-web-app"];
    let plan = dry_run(&env, "site-a", &cleanup);
    assert_eq!(plan["site"], "site-b");
    assert_eq!(
        plan["drill_operation_id"],
        op["operation_id"]
            .as_str()
            .unwrap()
            .trim_start_matches("op-")
    );
    let servers: Vec<&Value> = plan["removals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "server")
        .collect();
    let mut names: Vec<&str> = servers
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["test-db-server-1", "test-web-server-1", "test-web-server-2"]
    );
    let op = wait(&env, "site-a", &cleanup);
    assert_eq!(op["steps_completed"], json!(step_names(&plan)));
    let inventory = env.simulator().inspect();
    for server in servers {
        let id = server["id"].as_str().unwrap();
        assert!(!inventory.sites["site-b"].servers.iter().any(|s| s.id == id));
    }
}

#[test]
fn a_blocked_dry_run_prints_the_plan_then_fails_and_changes_nothing() {
    let env = Env::new().with_sites().with_group();
    env.simulator().tick(320).unwrap();
    let before = world(&env);
    let out = env
        .cli(&["dr", "test", "failover", "prod-web-app", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|c| *c == "drill_network_unmapped"),
        "{codes:?}"
    );
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("is not mapped to an isolated network on site-b"),
        "{stderr}"
    );

    // Not failed over: the failback plan says why, and the command fails.
    let out = env
        .cli(&["protection-group", "failback", "prod-web-app", "--dry-run"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["findings"][0]["code"], "group_not_failed_over");

    // No drill: the cleanup plan removes nothing and succeeds.
    let plan = dry_run(
        &env,
        "site-a",
        &["dr", "test", "failover", "cleanup", "prod-web-app"],
    );
    assert_eq!(plan["removals"], json!([]));
    assert_eq!(plan["steps"], json!([]));
    assert_eq!(world(&env), before);
}
