//! Issue 5 end to end through the `protector` binary against the simulator: the outputs of the
//! lifecycle commands (snapshots), and the failure cases, each refused with one line on stderr,
//! its exit code, and no change on either site.

use crate::common;

use crate::common::{put_running_failover, with_stores, Env};
use protector_core::api::Connector;
use protector_core::model::{Operation, OperationStatus, OperationType};
use serde_json::Value;

// ---------------------------------------------------------------------------------- outputs

#[test]
fn site_outputs() {
    let env = Env::new().with_sites();
    snapshot!("site_show", env.ok(&["site", "show", "site-a"]));
    snapshot!("site_validate", env.ok(&["site", "validate", "site-b"]));
}

#[test]
fn group_outputs() {
    let env = Env::new().with_sites().with_group();
    snapshot!(
        "group_show",
        env.ok(&["protection-group", "show", "prod-web-app"])
    );
    snapshot!("group_list", env.ok(&["protection-group", "list"]));
    snapshot!(
        "member_list",
        env.ok(&["protection-group", "member-list", "prod-web-app"])
    );
}

#[test]
fn member_candidates_give_the_reason_each_vm_cannot_join() {
    let env = Env::new().with_sites().with_group();
    let list = env.json(&["protection-group", "member-candidates", "prod-web-app"]);
    let reasons: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["eligible"], Value::Bool(false), "{c}");
            (
                c["name"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: Vec<&str> = reasons.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "db-server-1",
            "ledger-db",
            "legacy-app",
            "web-server-1",
            "web-server-2"
        ]
    );
    for (name, reason) in &reasons {
        let expected = match name.as_str() {
            "legacy-app" | "ledger-db" => "volume type mismatch",
            _ => "is already a member of protection group 'prod-web-app'",
        };
        assert!(reason.contains(expected), "{name}: {reason}");
    }
    let (code, stderr) = env.fails(&["protection-group", "member-candidates", "nope"]);
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("protection group 'nope' not found"),
        "{stderr}"
    );
}

#[test]
fn consistency_group_shows_the_spec_fields_and_the_replication_lag() {
    let env = Env::new().with_sites().with_group();

    // Before the schedule fires nothing has reached site-b's array.
    let cg = env.json(&["consistency-group", "show", "prod-web-app"]);
    assert_eq!(cg["replication_status"], "no_replicated_snapshot");
    assert_eq!(cg["replication_lag_seconds"], Value::Null);

    // Let simulated time run past one replication interval and the transfer.
    env.simulator().tick(320).unwrap();
    let table = env.ok(&["consistency-group", "show", "prod-web-app"]);
    // The lag depends on how many calls the commands before made (each advances the simulated
    // clock); it is checked below against the array's clock instead.
    let mut settings = common::filters();
    settings.add_filter(
        r"\| replication_lag_seconds  \| \d+ +\|",
        "| replication_lag_seconds  | [seconds]                            |",
    );
    settings.bind(|| insta::assert_snapshot!("consistency_group_show", table));

    let text = env.ok(&["consistency-group", "show", "prod-web-app", "-f", "json"]);
    let cg: Value = serde_json::from_str(&text).unwrap();
    // The keys as printed (serde_json's map would sort them).
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  \"")?.split('"').next())
        .collect();
    // spec/003 example 6, in its order, first.
    assert_eq!(
        keys[..8],
        [
            "id",
            "protection_group_id",
            "volume_type_name",
            "backend_name",
            "primary_cg_id",
            "secondary_cg_id",
            "status",
            "volume_count"
        ]
    );
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(cg["id"], group["consistency_group_id"]);
    assert_eq!(cg["protection_group_id"], group["id"]);
    assert_eq!(cg["status"], "active");
    // web-server-1, web-server-2: one volume each; db-server-1: two.
    assert_eq!(cg["volume_count"], 4);
    assert_eq!(cg["replication_status"], "ok");
    assert_eq!(cg["lag_clock"], "array");
    // The lag is measured against the array's clock: the snapshot's age on the simulated clock.
    let lag = cg["replication_lag_seconds"].as_i64().unwrap();
    let at =
        chrono::DateTime::parse_from_rfc3339(cg["last_replicated_at"].as_str().unwrap()).unwrap();
    let array_time =
        chrono::DateTime::parse_from_rfc3339(cg["array_time"].as_str().unwrap()).unwrap();
    assert_eq!(lag, (array_time - at).num_seconds());
    assert!((0..=15 * 60).contains(&lag), "{lag}");
}

#[test]
fn consistency_group_of_a_sync_group_reports_the_pod() {
    let env = Env::new().with_sites();
    env.ok(&[
        "protection-group",
        "create",
        "--name",
        "ledger",
        "--replication-type",
        "sync",
        "--primary-site",
        "site-a",
        "--secondary-site",
        "site-b",
        "--volume-type",
        "replicated-sync",
    ]);
    env.ok(&[
        "protection-group",
        "member-add",
        "ledger",
        "--instance-id",
        "ledger-db",
    ]);
    let sim = env.simulator();
    let (a, b) = (
        sim.array_endpoint("site-a").unwrap(),
        sim.array_endpoint("site-b").unwrap(),
    );
    drop(sim);
    env.cli(&[
        "protection-group",
        "policy-create",
        "ledger",
        "--primary-fa-url",
        &a.url,
        "--secondary-fa-url",
        &b.url,
        "--pure-pg-name",
        "cinder-pod",
    ])
    .env("PROTECTOR_PRIMARY_FA_TOKEN", a.api_token.expose())
    .env("PROTECTOR_SECONDARY_FA_TOKEN", b.api_token.expose())
    .assert()
    .success();

    let cg = env.json(&["consistency-group", "show", "ledger"]);
    assert_eq!(cg["replication_type"], "sync");
    assert_eq!(cg["pure_pg_name"], "cinder-pod");
    assert_eq!(cg["volume_count"], 2);
    assert_eq!(cg["replication_status"], "synchronous", "{cg}");
    assert_eq!(cg["replication_lag_seconds"], 0);
    assert_eq!(cg["replication_error"], Value::Null);

    // The array of site-b cannot be asked: the record still shows, the replication is unknown.
    env.sim_fault(&["--site", "site-b", "--array-down"]);
    let cg = env.json(&["consistency-group", "show", "ledger"]);
    assert_eq!(cg["replication_status"], "unknown", "{cg}");
    assert_eq!(cg["replication_lag_seconds"], Value::Null);
    let error = cg["replication_error"].as_str().unwrap();
    assert!(error.contains("of site-b"), "{error}");
    assert_eq!(cg["volume_count"], 2);
}

// ---------------------------------------------------------------------------------- refusals

#[test]
fn member_with_a_non_replicated_volume_is_refused_and_nothing_changes() {
    let env = Env::new().with_sites().with_group();
    let before = env.records("prod-web-app");
    let sync_before = env.sync_status("prod-web-app");

    let (code, stderr) = env.fails(&[
        "protection-group",
        "member-add",
        "prod-web-app",
        "--instance-id",
        "legacy-app",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("Error: volume type mismatch: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("instance legacy-app has type 'standard'"),
        "{stderr}"
    );
    assert!(stderr.contains("uses 'replicated-ssd'"), "{stderr}");

    assert_eq!(env.records("prod-web-app"), before);
    assert_eq!(env.sync_status("prod-web-app"), sync_before);
}

#[test]
fn unknown_group_is_refused_and_nothing_changes() {
    let env = Env::new().with_sites().with_group();
    let before = env.records("prod-web-app");
    let lists = env.group_lists();

    let (code, stderr) = env.fails(&[
        "protection-group",
        "member-add",
        "no-such-group",
        "--instance-id",
        "legacy-app",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stderr,
        "Error: protection group 'no-such-group' not found on site 'site-a': list groups with `protector protection-group list`\n"
    );
    let (code, _) = env.fails(&["consistency-group", "show", "no-such-group"]);
    assert_eq!(code, Some(3));

    assert_eq!(env.group_lists(), lists);
    assert_eq!(env.records("prod-web-app"), before);
}

/// Points both registered sites at the clouds.yaml entries `<site><suffix>`: whose
/// credentials the commands run with (`-tenant2`: a member of another project; `""`: back to
/// the admin of production-project).
fn sites_as(env: &Env, suffix: &str) {
    let suffix = suffix.to_string();
    with_stores(env, |stores| async move {
        for store in &stores {
            for mut site in store.list_sites().await.unwrap() {
                site.cloud = (!suffix.is_empty()).then(|| format!("{}{suffix}", site.name));
                store.put_site(&site).await.unwrap();
            }
        }
    });
}

#[test]
fn another_projects_user_sees_no_group_and_cannot_change_it() {
    let env = Env::new().with_sites().with_group();
    let before = env.records("prod-web-app");
    let lists = env.group_lists();

    sites_as(&env, "-tenant2");
    for site in ["site-a", "site-b"] {
        let out = env
            .on(site, &["protection-group", "list", "-f", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::stderr_of(&out));
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(listed, serde_json::json!([]), "{site}");
        for args in [
            &["protection-group", "show", "prod-web-app"][..],
            &[
                "protection-group",
                "mapping-set",
                "prod-web-app",
                "--network-mapping",
                "net-primary-web=net-secondary-db",
            ],
            &["protection-group", "sync-force", "prod-web-app"],
            &["protection-group", "fence", "prod-web-app"],
            &["protection-group", "delete", "prod-web-app"],
        ] {
            let out = env.on(site, args).output().unwrap();
            assert_eq!(out.status.code(), Some(3), "{args:?} on {site}");
            assert_eq!(
                common::stderr_of(&out),
                format!(
                    "Error: protection group 'prod-web-app' not found on site '{site}': list groups with `protector protection-group list`\n"
                ),
                "{args:?} on {site}"
            );
        }
    }
    sites_as(&env, "");

    assert_eq!(env.group_lists(), lists);
    assert_eq!(env.records("prod-web-app"), before);
}

#[test]
fn duplicate_group_name_is_refused_and_nothing_changes() {
    let env = Env::new().with_sites().with_group();
    let before = env.records("prod-web-app");
    let lists = env.group_lists();
    let volume_groups = cinder_groups(&env);

    let (code, stderr) = env.fails(&[
        "protection-group",
        "create",
        "--name",
        "prod-web-app",
        "--replication-type",
        "async",
        "--primary-site",
        "site-a",
        "--secondary-site",
        "site-b",
        "--volume-type",
        "replicated-ssd",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(
        stderr,
        "Error: protection group 'prod-web-app' already exists in project production-project: choose another name\n"
    );

    assert_eq!(env.group_lists(), lists);
    assert_eq!(env.records("prod-web-app"), before);
    // No Cinder consistency group was created on either site.
    assert_eq!(cinder_groups(&env), volume_groups);
}

#[test]
fn peer_down_refuses_member_add_then_recovery_sync_force_and_retry_succeed() {
    let env = Env::new().with_sites().with_group();
    env.ok(&[
        "protection-group",
        "member-remove",
        "prod-web-app",
        "--member-id",
        &member_id(&env, "web-server-2"),
    ]);
    let before = env.records("prod-web-app");
    let version = before[0]["metadata"]["version"].as_u64().unwrap();

    env.sim_fault(&["--site", "site-b", "--down"]);
    let (code, stderr) = env.fails(&[
        "protection-group",
        "member-add",
        "prod-web-app",
        "--instance-id",
        "web-server-2",
    ]);
    assert_eq!(code, Some(5), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("site-b"), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    // Nothing changed in either site's records.
    assert_eq!(env.records("prod-web-app"), before);

    env.sim_fault(&["--site", "site-b", "--up"]);
    let out = env.ok(&["protection-group", "sync-force", "prod-web-app"]);
    assert!(out.contains("Both sites now at version"), "{out}");
    env.ok(&[
        "protection-group",
        "member-add",
        "prod-web-app",
        "--instance-id",
        "web-server-2",
    ]);
    for status in env.sync_status("prod-web-app") {
        assert_eq!(status["sync_status"], "IN SYNC", "{status}");
        assert_eq!(status["local_version"], version + 1);
        assert_eq!(status["remote_version"], version + 1);
    }
    let members = env.json(&[
        "--os-cloud",
        "site-b",
        "protection-group",
        "member-list",
        "prod-web-app",
    ]);
    assert_eq!(members.as_array().unwrap().len(), 3);
}

#[test]
fn delete_is_refused_while_an_operation_runs_and_nothing_changes() {
    let env = Env::new().with_sites().with_group();
    let op_id = put_running_failover(&env, "prod-web-app");
    let before = env.records("prod-web-app");
    let volume_groups = cinder_groups(&env);

    let (code, stderr) = env.fails(&["protection-group", "delete", "prod-web-app"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "Error: cannot delete protection group 'prod-web-app' while it is failing_over: wait for the running operation op-{op_id} to finish\n"
        )
    );
    assert_eq!(env.records("prod-web-app"), before);
    assert_eq!(cinder_groups(&env), volume_groups);
    // The operation shows with the same id, prefixed or not.
    let shown = env.json(&["operation", "show", &op_id.to_string()]);
    assert_eq!(shown["id"], format!("op-{op_id}"));
    assert_eq!(shown["status"], "running");
}

#[test]
fn delete_is_refused_while_an_operation_of_the_group_is_pending() {
    let env = Env::new().with_sites().with_group();
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    let group_id = uuid::Uuid::parse_str(group["id"].as_str().unwrap()).unwrap();
    let mut op = Operation::start(
        OperationType::Failover,
        Some((&group_id, "prod-web-app")),
        "site-a",
        "site-b",
        chrono::Utc::now(),
    );
    op.status = OperationStatus::Pending;
    with_stores(&env, |stores| async move {
        stores[0].put_operation(&op).await.unwrap();
    });
    let before = env.records("prod-web-app");

    let (code, stderr) = env.fails(&["protection-group", "delete", "prod-web-app"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("while its failover operation op-") && stderr.contains(" is pending"),
        "{stderr}"
    );
    assert_eq!(env.records("prod-web-app"), before);
}

// ---------------------------------------------------------------------------------- helpers

/// The member id of `vm` in prod-web-app.
fn member_id(env: &Env, vm: &str) -> String {
    let members = env.json(&["protection-group", "member-list", "prod-web-app"]);
    members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["instance_name"] == vm)
        .map(|m| m["id"].as_str().unwrap().to_string())
        .unwrap()
}

/// The Cinder consistency groups of prod-web-app on both simulated sites, with their volumes.
fn cinder_groups(env: &Env) -> Vec<(String, Vec<String>)> {
    let cg = env.json(&["consistency-group", "show", "prod-web-app"]);
    let ids: Vec<String> = ["primary_cg_id", "secondary_cg_id"]
        .iter()
        .map(|k| cg[*k].as_str().unwrap().to_string())
        .collect();
    let connector = env.simulator().connector();
    let mut found = Vec::new();
    let (connector, ids, out) = (&connector, &ids, &mut found);
    with_stores(env, |stores| async move {
        for ((store, id), site_name) in stores.iter().zip(ids).zip(["site-a", "site-b"]) {
            let site = store.get_site(site_name).await.unwrap().unwrap();
            let clients = connector.site(&site).await.unwrap();
            let group = clients.block_storage.get_volume_group(id).await.unwrap();
            let mut volumes = group.map(|g| g.volume_ids).unwrap_or_default();
            volumes.sort();
            out.push((id.clone(), volumes));
        }
    });
    found
}
