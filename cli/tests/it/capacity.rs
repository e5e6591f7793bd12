//! Issue 16, item 6: capacity and placement at plan time. A failover the target project's
//! quota cannot take is refused (dry run and real run) before anything changes on either site
//! or array; unlimited quotas pass; low hypervisor capacity is a warning; members boot in
//! their mapped availability zone, and a mapping to a zone the target lacks is refused.

use crate::common::{stderr_of, Env};
use crate::dry_run::world;
use serde_json::Value;

const NETWORKS: &str = "net-primary-web=net-secondary-web net-primary-db=net-secondary-db";
const VMS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];

/// The seeded group with its failover mappings stored.
fn env() -> Env {
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
    env
}

/// `protector sim ARGS --dir <the simulator's directory>`, asserting success.
fn sim(env: &Env, args: &[&str]) {
    env.bare()
        .arg("sim")
        .args(args)
        .arg("--dir")
        .arg(env.dir.path())
        .assert()
        .success();
}

fn set_quota(env: &Env, quota: &[&str]) {
    let mut args = vec!["quota", "set", "site-b", "--project", "production-project"];
    args.extend_from_slice(quota);
    sim(env, &args);
}

/// Runs `args` (a failover) expected to be refused: returns the plan a dry run printed (if
/// any) and stderr, after checking the exit code (4: validation failed) and that nothing
/// changed on either site, array or store.
fn refused(env: &Env, args: &[&str]) -> (Option<Value>, String) {
    let before = world(env);
    let out = env.on("site-a", args).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "protector {args:?}: {stderr}");
    assert_eq!(world(env), before, "protector {args:?} changed something");
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(group["status"], "active");
    assert_eq!(group["current_primary_site"], "site-a");
    let plan = (!out.stdout.is_empty()).then(|| serde_json::from_slice(&out.stdout).unwrap());
    (plan, stderr)
}

fn codes(plan: &Value, severity: &str) -> Vec<String> {
    plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

fn failover(env: &Env, extra: &[&str]) -> Value {
    let mut args = vec!["protection-group", "failover", "prod-web-app"];
    args.extend_from_slice(extra);
    args.extend(["--wait", "-f", "json"]);
    let out = env.on("site-a", &args).output().unwrap();
    assert!(
        out.status.success(),
        "protector {args:?} failed: {}",
        stderr_of(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_failover_over_quota_is_refused_before_anything_changes() {
    let env = env();
    let project = env
        .simulator()
        .project_id("site-b", "production-project")
        .unwrap();
    // Three VMs to fail over, room for two.
    set_quota(&env, &["--instances", "2"]);

    let (plan, stderr) = refused(
        &env,
        &["protection-group", "failover", "prod-web-app", "--dry-run"],
    );
    let plan = plan.expect("a dry run prints its plan");
    assert_eq!(codes(&plan, "error"), ["quota_exceeded"], "{plan}");
    let expected = format!(
        "instances quota of project production-project ({project}) on site-b is too small: \
         the plan needs 3, 2 free (0 used of 2); raise it on site-b with \
         `openstack quota set --instances 3 {project}`"
    );
    assert!(stderr.contains(&expected), "{stderr}");

    for wait in [false, true] {
        let mut args = vec!["protection-group", "failover", "prod-web-app"];
        if wait {
            args.push("--wait");
        }
        let (plan, stderr) = refused(&env, &args);
        assert!(plan.is_none());
        assert!(stderr.contains(&expected), "{stderr}");
    }
    assert_eq!(env.json(&["operation", "list"]), Value::Array(Vec::new()));

    // Volume gigabytes: 20 + 20 + 40 + 100 GiB to import, 100 allowed.
    set_quota(&env, &["--instances", "-1", "--gigabytes", "100"]);
    let (_, stderr) = refused(
        &env,
        &["protection-group", "failover", "prod-web-app", "--dry-run"],
    );
    assert!(
        stderr.contains(&format!(
            "volume gigabytes quota of project production-project ({project}) on site-b is too small: \
             the plan needs 180 GiB, 100 GiB free (0 used of 100 GiB); raise it on site-b with \
             `openstack quota set --gigabytes 180 {project}`"
        )),
        "{stderr}"
    );

    // Ports: four NICs, three allowed.
    set_quota(&env, &["--gigabytes", "-1", "--ports", "3"]);
    let (_, stderr) = refused(
        &env,
        &["protection-group", "failover", "prod-web-app", "--dry-run"],
    );
    assert!(
        stderr.contains("ports quota of project production-project")
            && stderr.contains("--ports 4"),
        "{stderr}"
    );

    // Unlimited passes, and the failover then runs.
    set_quota(
        &env,
        &[
            "--instances",
            "-1",
            "--cores",
            "-1",
            "--ram",
            "-1",
            "--volumes",
            "-1",
            "--gigabytes",
            "-1",
            "--ports",
            "-1",
        ],
    );
    let op = failover(&env, &[]);
    assert_eq!(op["status"], "completed", "{op}");
    let sim = env.simulator();
    for vm in VMS {
        let server = sim.find_server("site-b", vm).expect(vm);
        assert_eq!(server.status.as_str(), "ACTIVE", "{vm}");
        // The seeded VMs ran in `nova`, which site-b has too.
        assert_eq!(server.availability_zone.as_deref(), Some("nova"), "{vm}");
    }
}

#[test]
fn low_hypervisor_capacity_is_a_warning() {
    let env = env();
    for host in ["site-b-compute", "site-b-compute-2"] {
        sim(&env, &["hypervisor", "set", "site-b", host, "--vcpus", "2"]);
    }
    let out = env
        .on(
            "site-a",
            &["protection-group", "failover", "prod-web-app", "--dry-run"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(codes(&plan, "error").is_empty(), "{plan}");
    let warning = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "hypervisor_capacity_low")
        .unwrap_or_else(|| panic!("{plan}"));
    // The members boot in `nova` (the zone they ran in), whose one host has 2 vCPUs.
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .starts_with("the enabled hypervisors of zone 'nova' of site-b have less free capacity than the plan needs (12 vCPUs needed, 2 free)"),
        "{warning}"
    );
}

#[test]
fn members_boot_in_their_mapped_availability_zone() {
    let env = env();
    // A zone site-b does not have is refused, for a stored mapping and for one given to a
    // failover, and nothing is stored or changed.
    let before = world(&env);
    let out = env
        .on(
            "site-a",
            &[
                "protection-group",
                "mapping-set",
                "prod-web-app",
                "--az-mapping",
                "nova=nowhere",
            ],
        )
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("availability zone 'nowhere' not found on site-b"),
        "{stderr}"
    );
    assert_eq!(world(&env), before);
    let (plan, stderr) = refused(
        &env,
        &[
            "protection-group",
            "failover",
            "prod-web-app",
            "--az-mapping",
            "nova=nowhere",
            "--dry-run",
        ],
    );
    let plan = plan.unwrap();
    assert_eq!(
        codes(&plan, "error"),
        ["availability_zone_mapping_target_missing"; 3],
        "{plan}"
    );
    assert!(
        stderr.contains("availability zone 'nowhere' (mapped from 'nova' for member"),
        "{stderr}"
    );

    // A disabled zone is not available either.
    sim(
        &env,
        &[
            "hypervisor",
            "set",
            "site-b",
            "site-b-compute-2",
            "--enabled",
            "false",
        ],
    );
    refused(
        &env,
        &[
            "protection-group",
            "failover",
            "prod-web-app",
            "--az-mapping",
            "nova=az-2",
            "--dry-run",
        ],
    );
    sim(
        &env,
        &[
            "hypervisor",
            "set",
            "site-b",
            "site-b-compute-2",
            "--enabled",
            "true",
        ],
    );

    env.ok(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--az-mapping",
        "nova=az-2",
    ]);
    let out = env
        .on(
            "site-a",
            &["protection-group", "failover", "prod-web-app", "--dry-run"],
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    for member in plan["members"].as_array().unwrap() {
        assert_eq!(member["availability_zone"], "az-2", "{member}");
    }
    let op = failover(&env, &[]);
    assert_eq!(op["status"], "completed", "{op}");
    let sim = env.simulator();
    for vm in VMS {
        let server = sim.find_server("site-b", vm).expect(vm);
        assert_eq!(server.availability_zone.as_deref(), Some("az-2"), "{vm}");
    }
}
