//! The `protector` binary end to end: the demo, a whole failover driven command by command
//! against the simulator, output formats, and error paths with their exit codes.

use crate::common::{stderr_of, table_value, Env};
use serde_json::Value;

// ---------------------------------------------------------------------------------- demo

#[test]
fn demo_fails_over_and_proves_no_data_lost() {
    let env = Env::new();
    let out = env.bare().arg("demo").output().unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        stderr_of(&out)
    );
    assert_eq!(table_value(&stdout, "status").as_deref(), Some("active"));
    assert!(
        stdout.contains("| status               | failed_over"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| current_primary_site | site-b"),
        "{stdout}"
    );
    assert!(stdout.contains("| failover_count       | 1"), "{stdout}");
    assert!(
        stdout.contains("| status            | completed"),
        "{stdout}"
    );
    assert!(stdout.contains("| progress          | 100"), "{stdout}");
    assert!(stdout.contains("Sync Status: ✅ IN SYNC"), "{stdout}");
    assert_eq!(stdout.matches("| no data lost |").count(), 4, "{stdout}");
    assert!(stdout.contains("site-b started from"), "{stdout}");
    assert!(
        stdout.contains("PASS: 3 VMs run on site-b and are stopped on site-a; 4 volumes on site-b started from the last write of their site-a sources: no data lost."),
        "{stdout}"
    );
    // Progress went to stderr, one line per step when stderr is not a terminal.
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("[ 60%] storage: manage_volumes_site_b"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[100%] finalization: sync_metadata"),
        "{stderr}"
    );
}

#[test]
fn demo_keep_leaves_state_for_the_other_commands() {
    let env = Env::new();
    let keep = env.dir.path().join("kept");
    env.bare()
        .args(["demo", "--keep"])
        .arg(&keep)
        .assert()
        .success();
    let group: Value = serde_json::from_slice(
        &env.bare()
            .arg("--state-dir")
            .arg(keep.join("state"))
            .arg("--sim-state")
            .arg(keep.join("sim.db"))
            .args(["--os-cloud", "site-b"])
            .args(["protection-group", "show", "prod-web-app", "-f", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(group["status"], "failed_over");
    // The kept state works with the other commands: delete the group on both sites.
    let on_kept = |cloud: &str| {
        let mut cmd = env.bare();
        cmd.arg("--state-dir")
            .arg(keep.join("state"))
            .arg("--sim-state")
            .arg(keep.join("sim.db"))
            .args(["--os-cloud", cloud]);
        cmd
    };
    on_kept("site-b")
        .args(["protection-group", "delete", "prod-web-app"])
        .assert()
        .success();
    for cloud in ["site-a", "site-b"] {
        on_kept(cloud)
            .args(["protection-group", "list", "-f", "json"])
            .assert()
            .success()
            .stdout("[]\n");
    }
    // A second demo into the same directory is refused rather than mixed in.
    env.bare()
        .args(["demo", "--keep"])
        .arg(&keep)
        .assert()
        .code(4);
}

// ---------------------------------------------------------------------------------- flow

#[test]
fn failover_command_by_command() {
    let env = Env::new().with_sites().with_group();

    let members = env.json(&["protection-group", "member-list", "prod-web-app"]);
    let mut names: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["instance_name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["db-server-1", "web-server-1", "web-server-2"]);

    let sync = env.ok(&["protection-group", "sync-status", "prod-web-app"]);
    snapshot!("sync_status_in_sync", sync);

    let plan = env.ok(&[
        "protection-group",
        "failover",
        "prod-web-app",
        "--network-mapping",
        "net-primary-web=net-secondary-web",
        "net-primary-db=net-secondary-db",
        "--flavor-mapping",
        "m1.large=m2.large",
        "--dry-run",
    ]);
    let plan: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["mode"], "planned");
    assert_eq!(plan["target_site"], "site-b");
    assert_eq!(plan["members"].as_array().unwrap().len(), 3);

    let out = env
        .cli(&[
            "protection-group",
            "failover",
            "prod-web-app",
            "--network-mapping",
            "net-primary-web=net-secondary-web net-primary-db=net-secondary-db",
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
    assert_eq!(op["status"], "completed");
    assert_eq!(op["progress"], 100);
    assert_eq!(op["instances_created"], 3);
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("[ 10%] preparation: validate_sites\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("[100%] finalization: sync_metadata\n"),
        "{stderr}"
    );

    // The group as site-b sees it (spec/000 example 4).
    let show = env.ok(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "show",
        "prod-web-app",
        "-c",
        "name",
        "-c",
        "status",
        "-c",
        "current_primary_site",
        "-c",
        "primary_site",
        "-c",
        "secondary_site",
        "-c",
        "failover_count",
        "-c",
        "replication_type",
    ]);
    snapshot!("group_after_failover", show);

    let id = op["operation_id"].as_str().unwrap();
    assert!(id.starts_with("op-"), "{id}");
    let shown = env.json(&["operation", "show", id]);
    assert_eq!(shown["id"], id);
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["steps_failed"], serde_json::json!([]));
    // The bare uuid works too.
    let bare = env.json(&["operation", "show", id.trim_start_matches("op-")]);
    assert_eq!(bare["id"], id);
    let listed = env.json(&["--os-cloud", "site-b", "operation", "list"]);
    assert_eq!(listed[0]["id"], id);
    snapshot!(
        "operation_show",
        env.ok(&["--os-cloud", "site-b", "operation", "show", id])
    );

    // Members now run on site-b under new instance ids; the list shows both.
    let members = env.json(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "member-list",
        "prod-web-app",
    ]);
    for m in members.as_array().unwrap() {
        assert_eq!(m["current_site"], "site-b", "{m}");
        assert_ne!(m["current_instance_id"], m["instance_id"], "{m}");
        let server = env
            .simulator()
            .find_server("site-b", m["instance_name"].as_str().unwrap())
            .unwrap();
        assert_eq!(m["current_instance_id"], server.id.as_str());
    }
    let current = members[0]["current_instance_id"].as_str().unwrap();
    let member = env.json(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "member-show",
        "prod-web-app",
        current,
    ]);
    assert_eq!(member["current_instance_id"], current);
    assert_eq!(member["current_site"], "site-b");

    // A second failover is refused: the workload already runs on site-b.
    let out = env
        .cli(&[
            "protection-group",
            "failover",
            "prod-web-app",
            "--network-mapping",
            "net-primary-web=net-secondary-web",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("is not active (status: failed_over)"));
}

// ---------------------------------------------------------------------------------- output

#[test]
fn site_list_json_has_the_spec_fields() {
    let env = Env::new().with_sites();
    let sites = env.json(&["site", "list"]);
    let sites = sites.as_array().unwrap();
    assert_eq!(sites.len(), 2);
    for site in sites {
        let keys: Vec<&str> = site
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = [
            "id",
            "name",
            "site_type",
            "auth_url",
            "region_name",
            "status",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
    }
    assert_eq!(sites[0]["name"], "site-a");
    assert_eq!(sites[0]["site_type"], "primary");
    assert_eq!(sites[1]["status"], "active");

    // The same list as the spec's table, ids filtered.
    let table = env.ok(&["site", "list"]);
    snapshot!("site_list_table", table);
    let yaml = env.ok(&["site", "list", "-f", "yaml", "-c", "name", "-c", "type"]);
    assert_eq!(
        yaml,
        "- name: site-a\n  site_type: primary\n- name: site-b\n  site_type: secondary\n"
    );
    let values = env.ok(&["site", "list", "-f", "value", "-c", "name", "-c", "status"]);
    assert_eq!(values, "site-a active\nsite-b active\n");
}

#[test]
fn volume_types_as_in_spec() {
    let env = Env::new().with_sites();
    let table = env.ok(&["site", "list-volume-types", "site-b"]);
    snapshot!("volume_types_site_b", table);
}

#[test]
fn unknown_column_names_the_valid_ones() {
    let env = Env::new().with_sites();
    let out = env.cli(&["site", "list", "-c", "colour"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr_of(&out),
        "Error: unknown column 'colour': choose from id, name, site_type, auth_url, region_name, status\n"
    );
    assert!(out.stdout.is_empty());
}

// ---------------------------------------------------------------------------------- errors

#[test]
fn unknown_group_is_not_found_in_one_line() {
    let env = Env::new().with_sites();
    let out = env
        .cli(&["protection-group", "show", "no-such-group"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    snapshot!("unknown_group", stderr);
}

#[test]
fn bad_mapping_syntax_is_invalid_input() {
    let env = Env::new().with_sites().with_group();
    let out = env
        .cli(&[
            "protection-group",
            "failover",
            "prod-web-app",
            "--network-mapping",
            "net-primary-web:net-secondary-web",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr_of(&out),
        "Error: network mapping 'net-primary-web:net-secondary-web' is not SOURCE=TARGET: write it as <source>=<target>\n"
    );
    // Nothing ran: the group is still active on site-a.
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(group["status"], "active");
    assert_eq!(group["current_primary_site"], "site-a");
}

#[test]
fn unmapped_network_lists_every_finding() {
    let env = Env::new().with_sites().with_group();
    let out = env
        .cli(&["protection-group", "failover", "prod-web-app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(
        stderr.lines().skip(1).all(|l| l.starts_with("  - ")),
        "{stderr}"
    );
    assert!(stderr.contains("net-primary-web"), "{stderr}");
}

#[test]
fn without_clouds_yaml_openstack_commands_fail_clearly() {
    let env = Env::new();
    let missing = env.dir.path().join("no-clouds.yaml");
    // Registering a site is protector's own record: no cloud is contacted.
    env.bare()
        .arg("--state-dir")
        .arg(env.state_dir())
        .env("OS_CLIENT_CONFIG_FILE", &missing)
        .args([
            "site",
            "create",
            "--name",
            "site-a",
            "--site-type",
            "primary",
        ])
        .args([
            "--auth-url",
            "http://127.0.0.1:9/v3",
            "--region-name",
            "RegionOne",
        ])
        .assert()
        .success();
    // Validating it needs its credentials: over the wire by default, from clouds.yaml.
    let out = env
        .bare()
        .arg("--state-dir")
        .arg(env.state_dir())
        .env("OS_CLIENT_CONFIG_FILE", &missing)
        .args(["site", "validate", "site-a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("clouds.yaml"), "{stderr}");
    // Reading protector's records is limited to the caller's project: that needs the
    // credentials too, and says so the same way.
    let out = env
        .bare()
        .arg("--state-dir")
        .arg(env.state_dir())
        .env("OS_CLIENT_CONFIG_FILE", &missing)
        .args(["protection-group", "list", "-f", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("clouds.yaml"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let env = Env::new();
    env.bare().args(["site", "frobnicate"]).assert().code(2);
    env.bare()
        .args(["protection-group", "failover"])
        .assert()
        .code(2);
    env.bare()
        .args(["site", "list", "-f", "xml"])
        .assert()
        .code(2);
    env.bare()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicates::str::contains("protector demo"));
}

#[test]
fn unknown_operation_and_bad_operation_id() {
    let env = Env::new().with_sites();
    env.cli(&[
        "operation",
        "show",
        "op-1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
    ])
    .assert()
    .code(3);
    env.cli(&["operation", "show", "not-an-id"])
        .assert()
        .code(4);
}

#[test]
fn completion_scripts_are_generated() {
    let env = Env::new();
    env.bare()
        .args(["completion", "bash"])
        .assert()
        .success()
        .stdout(predicates::str::contains("protection-group"));
    env.bare()
        .args(["completion", "zsh"])
        .assert()
        .success()
        .stdout(predicates::str::contains("#compdef protector"));
}
