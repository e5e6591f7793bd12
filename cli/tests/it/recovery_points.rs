//! Issue 16, item 3 through the `protector` binary: list the recovery points, fail over
//! unplanned to an older one (uncommitted: failback refused), roll back to an even older one,
//! commit (reverse replication starts then), and the refusals once committed.

use crate::common::Env;
use serde_json::Value;

const NETWORKS: &str = "net-primary-web=net-secondary-web net-primary-db=net-secondary-db";

fn names(points: &Value) -> Vec<String> {
    points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn recovery_point_choice_commit_window_and_rollback_from_the_command_line() {
    let env = Env::new().with_sites().with_group();
    for ticks in [320, 300, 300] {
        env.simulator().tick(ticks).unwrap();
    }
    let points = env.json(&["protection-group", "recovery-points", "prod-web-app"]);
    let listed = names(&points);
    assert!(listed.len() >= 3, "{points}");
    let ages: Vec<i64> = points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["age_secs"].as_i64().unwrap())
        .collect();
    assert!(
        ages.windows(2).all(|w| w[0] < w[1]),
        "newest first: {points}"
    );
    assert!(points
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["usable"] == true));
    // The table names its columns once, with the array and its clock above it.
    let out = env
        .cli(&["protection-group", "recovery-points", "prod-web-app"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    for heading in ["Name", "Created", "Age", "Replicated", "Usable", "Current"] {
        assert!(table.contains(heading), "{table}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("ages by its clock"));

    // A planned failover with a point is refused (exit 4), nothing recorded.
    let (code, stderr) = env.fails(&[
        "--os-cloud",
        "site-a",
        "protection-group",
        "failover",
        "prod-web-app",
        "--recovery-point",
        &listed[1],
        "--network-mapping",
        NETWORKS,
        "--flavor-mapping",
        "m1.large=m2.large",
        "--wait",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("planned failover"), "{stderr}");
    env.sim_fault(&["--site", "site-a", "--down"]);

    let suffix = listed[1].rsplit_once('.').unwrap().1;
    let out = env
        .on(
            "site-b",
            &[
                "protection-group",
                "failover",
                "prod-web-app",
                "--force",
                "--recovery-point",
                suffix,
                "--network-mapping",
                NETWORKS,
                "--flavor-mapping",
                "m1.large=m2.large",
                "--wait",
                "-f",
                "json",
            ],
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let op: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(op["status"], "completed", "{op}");
    assert!(
        op["data_loss"].as_str().unwrap().contains(&listed[1]),
        "{op}"
    );

    let show = |env: &Env| {
        env.json(&[
            "--os-cloud",
            "site-b",
            "protection-group",
            "show",
            "prod-web-app",
        ])
    };
    let group = show(&env);
    assert_eq!(group["recovery_point"], listed[1].as_str(), "{group}");
    assert_eq!(group["failover_commit"], "uncommitted", "{group}");
    assert!(group["commit_deadline"].is_string(), "{group}");

    let (code, stderr) = env.fails(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "failback",
        "prod-web-app",
        "--wait",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("awaits its commit"), "{stderr}");
    assert!(stderr.contains("failover-commit prod-web-app"), "{stderr}");

    let op = env.json(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "failover-rollback",
        "prod-web-app",
    ]);
    assert_eq!(op["status"], "completed", "{op}");
    let group = show(&env);
    assert_eq!(group["recovery_point"], listed[2].as_str(), "{group}");
    assert_eq!(group["failover_commit"], "uncommitted", "{group}");
    let inventory = env.simulator().inspect();
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        let on_b = inventory.sites["site-b"]
            .servers
            .iter()
            .filter(|s| s.name == vm)
            .count();
        assert_eq!(on_b, 1, "{vm}: one copy on site-b");
    }

    let committed = env.json(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "failover-commit",
        "prod-web-app",
    ]);
    assert_eq!(committed["failover_commit"], "committed", "{committed}");
    assert_eq!(committed["reverse_replication"], "set up", "{committed}");

    let (code, stderr) = env.fails(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "failover-rollback",
        "prod-web-app",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("was committed"), "{stderr}");
}
