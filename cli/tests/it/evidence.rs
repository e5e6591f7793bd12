//! `protector dr test report` on a real drill (JSON and HTML) and `protector leak-scan`
//! finding what a drill whose record was lost left on site-b.

use crate::common::{stderr_of, with_stores, Env};
use serde_json::Value;

const DRILL_NETWORKS: &str = "net-primary-web=dr-test-net net-primary-db=dr-test-net";

fn leak_scan(env: &Env, format: &str) -> (Option<i32>, String, String) {
    let out = env.cli(&["leak-scan", "-f", format]).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout.clone()).unwrap(),
        stderr_of(&out),
    )
}

#[test]
fn a_drill_report_and_a_leak_found_from_the_command_line() {
    let env = Env::new().with_sites().with_group();

    let (code, stderr) = env.fails(&["dr", "test", "report", "prod-web-app"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("no DR drill recorded"), "{stderr}");

    let (code, stdout, stderr) = leak_scan(&env, "table");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("No leaked resource found."), "{stdout}");

    env.simulator().tick(320).unwrap();
    let out = env
        .cli(&[
            "dr",
            "test",
            "failover",
            "prod-web-app",
            "--network-mapping",
            DRILL_NETWORKS,
            "--flavor-mapping",
            "m1.large=m2.large",
            "--wait",
            "-f",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let op: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Printed as `op-<id>`; reports and scans carry the bare id.
    let op_id = Value::from(
        op["operation_id"]
            .as_str()
            .and_then(|id| id.strip_prefix("op-"))
            .expect("an operation id"),
    );

    // The drill's resources are owned by its record.
    let (code, _, stderr) = leak_scan(&env, "json");
    assert_eq!(code, Some(0), "{stderr}");

    let report: Value =
        serde_json::from_str(&env.ok(&["dr", "test", "report", "prod-web-app"])).unwrap();
    assert_eq!(report["operation_id"], op_id);
    assert_eq!(report["status"], "completed");
    let instances = report["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 3, "{report:#}");
    for instance in instances {
        assert_eq!(instance["status"], "ACTIVE");
        assert!(instance["boot_secs"].as_f64().unwrap() >= 0.0, "{instance}");
    }
    assert!(report["recovery_point"]["age_secs"].as_i64().unwrap() >= 0);
    assert!(
        report["rto"]["estimated_secs"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    assert!(!report["checks"].as_array().unwrap().is_empty());
    assert!(report["timeline"].as_array().unwrap().len() >= 8);

    let page = env.dir.path().join("drill.html");
    let id = format!("op-{}", op_id.as_str().unwrap());
    let printed = env.ok(&[
        "dr",
        "test",
        "report",
        "prod-web-app",
        "--operation",
        &id,
        "--format",
        "html",
        "--output",
        page.to_str().unwrap(),
    ]);
    assert_eq!(printed, "");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for name in ["test-web-server-1", "test-web-server-2", "test-db-server-1"] {
        assert!(html.contains(name), "{name}");
    }
    assert!(html.contains("the estimate of"));

    // The drill's record is lost on both sites: what it created on site-b is leaked.
    with_stores(&env, |stores| async move {
        for store in stores {
            let mut group = store.list_groups().await.unwrap().remove(0);
            group.test_failover = None;
            store.put_group(&group).await.unwrap();
        }
    });
    let (code, stdout, stderr) = leak_scan(&env, "json");
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("leaked resource(s) found"), "{stderr}");
    let scan: Value = serde_json::from_str(&stdout).unwrap();
    let servers: Vec<&Value> = scan["leaks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "server")
        .collect();
    assert_eq!(servers.len(), 3, "{scan:#}");
    for server in servers {
        assert_eq!(server["place"]["site"], "site-b");
        assert_eq!(server["operation_id"], op_id);
    }
    let (code, stdout, _) = leak_scan(&env, "table");
    assert_eq!(code, Some(4));
    assert!(stdout.contains("openstack server delete"), "{stdout}");
    // Read-only: the scan removed nothing.
    assert_eq!(leak_scan(&env, "json").0, Some(4));
}
