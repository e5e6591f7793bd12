//! Boot order and RTO estimate through the `protector` binary: members get priorities and
//! dependencies (`member-add`, `member-set`), `member-list` shows them, `--dry-run` states
//! the order and the estimated recovery time, the failover boots tier by tier and its record
//! reports the estimate against the actual time.

use crate::common::{stderr_of, Env};
use serde_json::{json, Value};

const NETWORKS: &str = "net-primary-web=net-secondary-web net-primary-db=net-secondary-db";

fn member<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["instance_name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

#[test]
fn tiers_set_on_the_command_line_order_the_failover_and_its_estimate() {
    let env = Env::new().with_sites().with_group();
    let g = "prod-web-app";
    env.ok(&[
        "protection-group",
        "member-set",
        g,
        "db-server-1",
        "--priority",
        "1",
    ]);
    let web1 = env.json(&[
        "protection-group",
        "member-set",
        g,
        "web-server-1",
        "--priority",
        "2",
        "--depends-on",
        "db-server-1",
    ]);
    assert_eq!(web1["priority"], 2);
    // web-server-2 leaves and comes back last, after the database.
    let list = env.json(&["protection-group", "member-list", g]);
    let web2_id = member(&list, "web-server-2")["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&[
        "protection-group",
        "member-remove",
        g,
        "--member-id",
        &web2_id,
    ]);
    env.ok(&[
        "protection-group",
        "member-add",
        g,
        "--instance-id",
        "web-server-2",
        "--priority",
        "5",
        "--depends-on",
        "db-server-1",
    ]);
    let list = env.json(&["protection-group", "member-list", g]);
    let got: Vec<(Value, Value)> = ["db-server-1", "web-server-1", "web-server-2"]
        .iter()
        .map(|n| {
            (
                member(&list, n)["priority"].clone(),
                member(&list, n)["depends_on"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (json!(1), json!([])),
            (json!(2), json!(["db-server-1"])),
            (json!(5), json!(["db-server-1"])),
        ]
    );

    // Refused, nothing changed: the database cannot boot after what depends on it; the
    // database cannot leave while others depend on it.
    let (code, stderr) = env.fails(&[
        "protection-group",
        "member-set",
        g,
        "db-server-1",
        "--priority",
        "3",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("raise the priority of db-server-1"),
        "{stderr}"
    );
    let db_id = member(&list, "db-server-1")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, stderr) = env.fails(&[
        "protection-group",
        "member-remove",
        g,
        "--member-id",
        &db_id,
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("web-server-1, web-server-2 depend on it"),
        "{stderr}"
    );
    let (code, stderr) = env.fails(&["protection-group", "member-set", g, "db-server-1"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("changes nothing without --priority"),
        "{stderr}"
    );
    assert_eq!(env.json(&["protection-group", "member-list", g]), list);

    // The dry run states the order and the (default) estimate.
    let failover = [
        "protection-group",
        "failover",
        g,
        "--network-mapping",
        NETWORKS,
        "--flavor-mapping",
        "m1.large=m2.large",
    ];
    let mut args = failover.to_vec();
    args.push("--dry-run");
    let out = env.cli(&args).output().unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        plan["boot_order"],
        json!([
            {"priority": 1, "level": 0, "members": ["db-server-1"]},
            {"priority": 2, "level": 0, "members": ["web-server-1"]},
            {"priority": 5, "level": 0, "members": ["web-server-2"]},
        ])
    );
    assert!(
        plan["estimate"]["basis"]
            .as_str()
            .unwrap()
            .starts_with("default"),
        "{plan}"
    );
    assert!(
        stderr.contains("  1. priority 1: db-server-1\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  3. priority 5: web-server-2\n"),
        "{stderr}"
    );
    assert!(stderr.contains("Estimated recovery time:"), "{stderr}");

    // The failover boots in that order and reports its estimate against the actual time.
    let mut args = failover.to_vec();
    args.extend(["--wait", "-f", "json"]);
    let op: Value = serde_json::from_str(&env.ok(&args)).unwrap();
    assert_eq!(op["status"], "completed", "{op}");
    assert_eq!(
        op["boot_order"],
        json!([
            "priority 1 wave 1: db-server-1",
            "priority 2 wave 1: web-server-1",
            "priority 5 wave 1: web-server-2",
        ])
    );
    let id = op["operation_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no operation id in {op:#}"));
    let shown = env.json(&["operation", "show", id]);
    assert_eq!(shown["rto"], op["rto"]);
    let rto = shown["rto"].as_str().unwrap();
    assert!(
        rto.starts_with("RTO: estimated 16m 0s to the last server ACTIVE"),
        "{rto}"
    );
    assert!(rto.contains("; actual "), "{rto}");
    let servers: Vec<String> = env.simulator().inspect().sites["site-b"]
        .servers
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(servers, ["db-server-1", "web-server-1", "web-server-2"]);
}
