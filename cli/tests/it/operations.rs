//! Long operations through the `protector` binary: the background run without `--wait`, the
//! pending record a refused background run leaves failed, stored mappings and the failover that
//! relies on them, recovery of an operation whose process died, and the command lines of
//! failback, fence, DR drills and site failover (their behaviour is tested with the engine).

use std::sync::{Arc, Mutex};

use crate::common::{put_running_failover, stderr_of, with_stores, Env};
use protector_core::api::ServerStatus;
use protector_core::engine::{
    EngineOptions, FailoverRequest, OperationRequest, PollPolicy, ProgressObserver,
};
use protector_core::model::{Operation, OperationStatus, OperationType, ResourceMappings};
use protector_core::store::{
    JournalEntry, JournalKind, LockAttempt, SecretKey, SqliteStore, Store,
};
use protector_core::Protector;
use serde_json::Value;

const MAPPINGS: [&str; 5] = [
    "--network-mapping",
    "net-primary-web=net-secondary-web",
    "net-primary-db=net-secondary-db",
    "--flavor-mapping",
    "m1.large=m2.large",
];

/// `protector ARGS --help` on stdout, asserting success.
fn help(args: &[&str]) -> String {
    let env = Env::new();
    let out = env.bare().args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------- background

#[test]
fn without_wait_the_operation_is_recorded_and_runs_in_the_background() {
    let env = Env::new().with_sites().with_group();
    let mut args = vec!["protection-group", "failover", "prod-web-app", "-f", "json"];
    args.extend(MAPPINGS);
    let out = env.cli(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let op: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = op["operation_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("op-"), "{id}");
    assert_eq!(op["status"], "pending");
    assert_eq!(op["operation_type"], "failover");
    assert_eq!(op["protection_group"], "prod-web-app");
    assert_eq!(op["source_site"], "site-a");
    assert_eq!(op["target_site"], "site-b");
    assert_eq!(op["progress"], 0);

    // The record is there for `operation show`, and the background run logs next to it.
    let shown = show_from_store(&env, &id);
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["operation_type"], "failover");
    assert!(env
        .state_dir()
        .join("operations")
        .join(format!("{id}.log"))
        .is_file());

    // Not an assertion on time: only so that the background run does not outlive the test's
    // directory. When it has ended, it ended well.
    if let Some(done) = (0..600)
        .map(|_| show_from_store(&env, &id))
        .find(|op| !matches!(op["status"].as_str(), Some("pending" | "running")))
    {
        assert_eq!(done["status"], "completed", "{done}");
        // The worker writes its last progress lines just after the final record.
        let path = env.state_dir().join("operations").join(format!("{id}.log"));
        let read = || std::fs::read_to_string(&path).unwrap();
        let log = (0..600)
            .map(|_| read())
            .find(|log| log.contains("[100%] finalization: sync_metadata"))
            .unwrap_or_else(read);
        assert!(log.contains("[100%] finalization: sync_metadata"), "{log}");
    }
}

#[test]
fn without_wait_a_refusal_comes_back_at_once_and_records_nothing() {
    let env = Env::new().with_sites().with_group();
    // No network mapping: the plan has blocking findings.
    let (code, stderr) = env.fails(&["protection-group", "failover", "prod-web-app"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("net-primary-web"), "{stderr}");
    // Unknown groups, for every long command.
    for args in [
        &["protection-group", "failover", "nope"][..],
        &["protection-group", "failback", "nope"],
        &["dr", "test", "failover", "nope"],
        &["dr", "test", "failover", "cleanup", "nope"],
        &[
            "dr",
            "site",
            "failover",
            "site-a",
            "--failover-type",
            "planned",
            "--group",
            "nope",
        ],
    ] {
        let (code, stderr) = env.fails(args);
        assert_eq!(code, Some(3), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("'nope' not found"), "{stderr}");
    }
    let (code, stderr) = env.fails(&[
        "dr",
        "site",
        "failover",
        "site-x",
        "--failover-type",
        "planned",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("site 'site-x' is not registered"),
        "{stderr}"
    );

    // A failback of a group that never failed over (spec/001 issue 3).
    let (code, stderr) = env.fails(&["protection-group", "failback", "prod-web-app"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("is not in a failed_over state"), "{stderr}");

    let ops = env.json(&["operation", "list"]);
    assert_eq!(ops, serde_json::json!([]));
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(group["status"], "active");
}

#[test]
fn a_background_run_refused_by_the_engine_marks_its_pending_record_failed() {
    let env = Env::new().with_sites().with_group();
    // The submission's checks are passed by, as when the group changed between the
    // submission and the run.
    let id = put_submitted_failover(&env);

    // What the background run does, run here: the plan is refused (no network mapping).
    let out = env
        .cli(&[
            "protection-group",
            "failover",
            "prod-web-app",
            "--wait",
            "--operation-id",
            &id,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));

    let op = show_from_store(&env, &id);
    assert_eq!(op["status"], "failed");
    let message = op["error_message"].as_str().unwrap();
    assert!(message.contains("net-primary-web"), "{message}");
    assert!(op["completed_at"].is_string(), "{op}");
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(group["status"], "active");
}

#[test]
fn operation_cancel_ends_a_submitted_failover_its_worker_then_refuses_and_wait_reports_it() {
    let env = Env::new().with_sites().with_group();
    // Its background run has not begun.
    let id = put_submitted_failover(&env);
    let inventory = shape(&env);

    let op = env.json(&["operation", "cancel", &id]);
    assert_eq!(op["status"], "failed", "{op}");
    assert_eq!(
        op["error_message"],
        "cancelled before the failover started: nothing was changed"
    );
    // The background run starts late: refused, nothing changes.
    let (code, stderr) = env.fails(&[
        "protection-group",
        "failover",
        "prod-web-app",
        "--wait",
        "--operation-id",
        &id,
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("not pending"), "{stderr}");
    // Waiting reports how it ended (exit 8: not completed); cancelling again is refused.
    let out = env
        .cli(&["operation", "wait", &id, "-f", "json"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert!(stderr.contains("ended failed"), "{stderr}");
    let waited: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(waited, op);
    let (code, stderr) = env.fails(&["operation", "cancel", &id]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("has already ended (failed): nothing to cancel"),
        "{stderr}"
    );

    assert_eq!(shape(&env), inventory);
    for record in env.group_lists() {
        assert_eq!(record[0]["status"], "active", "{record}");
    }
}

/// Records a planned failover of `prod-web-app` (no mappings) as the engine's submission
/// records it (what to run in its journal, then the `pending` record), without its checks and
/// without running it. Returns its id as displayed.
fn put_submitted_failover(env: &Env) -> String {
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    let group_id = uuid::Uuid::parse_str(group["id"].as_str().unwrap()).unwrap();
    let mut pending = Operation::start(
        OperationType::Failover,
        Some((&group_id, "prod-web-app")),
        "site-a",
        "site-b",
        chrono::Utc::now(),
    );
    pending.status = OperationStatus::Pending;
    let id = format!("op-{}", pending.id);
    let request = OperationRequest::Failover {
        group: group_id.to_string(),
        request: FailoverRequest::planned(ResourceMappings::default()),
    };
    let submitted = JournalEntry {
        operation_id: pending.id,
        seq: 0,
        step: "submitted".into(),
        kind: JournalKind::Submitted,
        idempotency_key: String::new(),
        detail: serde_json::json!({ "request": request }),
        at: chrono::Utc::now(),
    };
    with_stores(env, |stores| async move {
        stores[0].append_journal(&submitted).await.unwrap();
        stores[0].put_operation(&pending).await.unwrap();
    });
    id
}

/// The record of operation `id` (`op-<uuid>`) in site-a's store, read from the file without
/// opening the simulator (a background run may be using it) and without credentials (showing
/// it through the CLI needs the caller's Keystone). `id` is as displayed.
fn show_from_store(env: &Env, id: &str) -> Value {
    let uuid = uuid::Uuid::parse_str(id.trim_start_matches("op-")).unwrap();
    let found = std::sync::Arc::new(std::sync::Mutex::new(None));
    let sink = found.clone();
    with_stores(env, |stores| async move {
        *sink.lock().unwrap() = stores[0].get_operation(&uuid).await.unwrap();
    });
    let op = found
        .lock()
        .unwrap()
        .take()
        .expect("the operation is recorded");
    let mut value = serde_json::to_value(&op).unwrap();
    value["id"] = Value::String(format!("op-{}", op.id));
    value
}

// ---------------------------------------------------------------------------------- mappings

/// Stores the mappings of both directions of prod-web-app: site-a → site-b as [`MAPPINGS`]
/// plus a security group, site-b → site-a the reverse networks and flavor.
fn store_mappings(env: &Env) {
    let mut args = vec!["protection-group", "mapping-set", "prod-web-app"];
    args.extend(MAPPINGS);
    args.extend(["--security-group-mapping", "web=web"]);
    let stored = env.json(&args);
    assert_eq!(stored.as_array().unwrap().len(), 4, "{stored}");
    assert!(stored
        .as_array()
        .unwrap()
        .iter()
        .all(|row| row["from_site"] == "site-a" && row["to_site"] == "site-b"));
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
}

#[test]
fn stored_mappings_are_listed_and_a_failover_without_mapping_options_uses_them() {
    let env = Env::new().with_sites().with_group();
    store_mappings(&env);
    // Both sites hold them.
    let listed = env.json(&["protection-group", "mapping-list", "prod-web-app"]);
    assert_eq!(listed.as_array().unwrap().len(), 7, "{listed}");
    assert_eq!(
        env.json(&[
            "--os-cloud",
            "site-b",
            "protection-group",
            "mapping-list",
            "prod-web-app"
        ]),
        listed
    );
    snapshot!(
        "mapping_list",
        env.ok(&["protection-group", "mapping-list", "prod-web-app"])
    );
    // Merged by default; --replace replaces the direction.
    let stored = env.json(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--from-site",
        "site-b",
        "--flavor-mapping",
        "m2.small=m1.small",
    ]);
    assert_eq!(stored.as_array().unwrap().len(), 4, "{stored}");
    let stored = env.json(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--from-site",
        "site-b",
        "--replace",
        "--flavor-mapping",
        "m2.large=m1.large",
    ]);
    assert_eq!(
        stored,
        serde_json::json!([{"from_site": "site-b", "to_site": "site-a", "kind": "flavor",
            "source": "m2.large", "target": "m1.large"}])
    );

    // The failover takes no mapping option: the stored ones map every network and flavor.
    let out = env
        .cli(&[
            "protection-group",
            "failover",
            "prod-web-app",
            "--wait",
            "-f",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let op: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(op["status"], "completed", "{op}");
    assert_eq!(op["instances_created"], 3);
    let sim = env.simulator();
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        let server = sim.find_server("site-b", vm).unwrap();
        assert_eq!(server.status, ServerStatus::Active, "{vm}");
    }
    drop(sim);

    // Recovering a finished operation prints it unchanged.
    let id = op["operation_id"].as_str().unwrap();
    let shown = env.json(&["operation", "show", id]);
    assert_eq!(env.json(&["operation", "recover", id]), shown);
    assert_eq!(env.json(&["operation", "show", id]), shown);
}

#[test]
fn a_mapping_to_a_missing_network_is_refused_and_nothing_is_stored() {
    let env = Env::new().with_sites().with_group();
    let before = env.records("prod-web-app");
    let (code, stderr) = env.fails(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--network-mapping",
        "net-primary-web=net-secondary-web",
        "net-primary-db=no-such-net",
        "--flavor-mapping",
        "m1.large=m2.large",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(
        stderr,
        "Error: network 'no-such-net' not found on site-b: map to resources that exist there (nothing was stored)\n"
    );
    // A site that is not one of the group's, and no mapping at all.
    let (code, stderr) = env.fails(&[
        "protection-group",
        "mapping-set",
        "prod-web-app",
        "--from-site",
        "site-x",
        "--flavor-mapping",
        "m1.large=m2.large",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("site 'site-x' is not a site of protection group 'prod-web-app'"),
        "{stderr}"
    );
    let (code, stderr) = env.fails(&["protection-group", "mapping-set", "prod-web-app"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("no mapping given"), "{stderr}");

    assert_eq!(env.records("prod-web-app"), before);
    for site in ["site-a", "site-b"] {
        assert_eq!(
            env.json(&[
                "--os-cloud",
                site,
                "protection-group",
                "mapping-list",
                "prod-web-app"
            ]),
            serde_json::json!([])
        );
    }
}

// ---------------------------------------------------------------------------------- recover

#[test]
fn recover_of_an_unknown_operation_is_not_found() {
    let env = Env::new().with_sites();
    let (code, stderr) = env.fails(&[
        "operation",
        "recover",
        "op-1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(
        stderr,
        "Error: operation 'op-1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed' not found on site 'site-a': list them with `protector operation list`\n"
    );
    let (code, stderr) = env.fails(&["operation", "recover", "op-42"]);
    assert_eq!(code, Some(4), "{stderr}");
}

/// The engine the CLI builds for `--sim-state`, standing on site-a, built here so that the test
/// can stop an operation mid-way.
fn engine(env: &Env) -> Protector {
    let key = SecretKey::load_or_create(&env.state_dir().join("secret.key")).unwrap();
    let mut builder = Protector::builder()
        .with_local_site("site-a")
        .with_connector(Arc::new(env.simulator().connector()))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(2000),
            member_concurrency: 8,
            ..EngineOptions::default()
        });
    for site in ["site-a", "site-b"] {
        let path = env.state_dir().join(format!("{site}.db"));
        let store = Arc::new(SqliteStore::open(&path, key.clone()).unwrap()) as Arc<dyn Store>;
        builder = builder.with_store(site, store);
    }
    builder.build().unwrap()
}

/// The panic payload that stops the operation in [`kill_failover_after`].
struct Killed;

/// Runs a planned failover of prod-web-app and stops it dead the moment `step` is done: the
/// progress observer panics, which unwinds out of the engine without any of its compensation,
/// the way a killed process stops. Returns the operation id.
fn kill_failover_after(env: &Env, step: &'static str) -> String {
    kill_after(env, step, |engine, observer| async move {
        engine
            .failover(
                "prod-web-app",
                FailoverRequest::planned(ResourceMappings::default()),
                observer,
            )
            .await
    })
}

/// Runs `start` with the engine of [`engine`] and stops it dead the moment `step` is done (see
/// [`kill_failover_after`]). Returns the operation id.
fn kill_after<F, Fut>(env: &Env, step: &'static str, start: F) -> String
where
    F: FnOnce(Protector, &'static dyn ProgressObserver) -> Fut,
    Fut: std::future::Future<Output = protector_core::Result<Operation>>,
{
    let id = Arc::new(Mutex::new(None));
    let seen = id.clone();
    let observer: &'static dyn ProgressObserver = Box::leak(Box::new(move |op: &Operation| {
        *seen.lock().unwrap() = Some(op.id);
        if op.steps_completed.iter().any(|s| s == step) {
            std::panic::panic_any(Killed);
        }
    }));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engine = engine(env);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(start(engine.clone(), observer))
    }));
    match outcome {
        Err(payload) if payload.is::<Killed>() => {}
        other => panic!(
            "the operation was not stopped after {step}: {:?}",
            other.map(|r| r.map(|op| op.status))
        ),
    }
    drop(engine);
    drop(runtime);
    let id = id.lock().unwrap().expect("the operation reported progress");
    format!("op-{id}")
}

/// Both simulated sites and arrays, without what changes while VMs run (write fingerprints,
/// array snapshots).
fn shape(env: &Env) -> Value {
    let mut v = serde_json::to_value(env.simulator().inspect()).unwrap();
    for site in v["sites"].as_object_mut().unwrap().values_mut() {
        for volume in site["volumes"].as_array_mut().unwrap() {
            volume.as_object_mut().unwrap().remove("fingerprint");
        }
    }
    for array in v["arrays"].as_object_mut().unwrap().values_mut() {
        let array = array.as_object_mut().unwrap();
        array.remove("snapshots");
        for volume in array["volumes"].as_array_mut().unwrap() {
            let volume = volume.as_object_mut().unwrap();
            volume.remove("fingerprint");
            // Which snapshot a volume's data was last copied from moves with the data.
            volume.remove("copied_from");
        }
    }
    v
}

/// [`shape`] without the statuses the simulator advances on its own as simulated time passes
/// (a boot requested before finishes on the next call, whoever makes it): what exists.
fn resources(env: &Env) -> Value {
    let mut v = shape(env);
    for site in v["sites"].as_object_mut().unwrap().values_mut() {
        for kind in ["servers", "volumes"] {
            for item in site[kind].as_array_mut().unwrap() {
                item.as_object_mut().unwrap().remove("status");
            }
        }
    }
    v
}

#[test]
fn recover_rolls_back_a_failover_whose_process_died() {
    let env = Env::new().with_sites().with_group();
    store_mappings(&env);
    let before = shape(&env);
    let id = kill_failover_after(&env, "create_instances_site_b");
    // The dead process left the group in flight and the source VMs stopped.
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(group["status"], "failing_over");
    assert_eq!(env.json(&["operation", "show", &id])["status"], "running");
    let server = env
        .simulator()
        .find_server("site-a", "web-server-1")
        .unwrap();
    assert_eq!(server.status, ServerStatus::Shutoff);

    let out = env
        .cli(&["operation", "recover", &id, "--rollback"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("| id "), "{table}");
    let op = env.json(&["operation", "show", &id]);
    assert_eq!(op["status"], "failed", "{op}");
    assert_eq!(op["steps_failed"], serde_json::json!(["interrupted"]));
    let message = op["error_message"].as_str().unwrap();
    assert!(message.contains("recovered by rolling back"), "{message}");
    assert!(!message.contains("by hand"), "{message}");

    // Nothing of the failover is left on site-b, the VMs run on site-a again, and the group
    // is active there on both sites.
    assert_eq!(shape(&env), before, "the rollback left something behind");
    for record in env.group_lists() {
        assert_eq!(record[0]["status"], "active", "{record}");
        assert_eq!(record[0]["current_primary_site"], "site-a", "{record}");
    }
    // Recovering again prints the same record; the failover can run now.
    assert_eq!(env.json(&["operation", "recover", &id, "--rollback"]), op);
    let out = env
        .cli(&["protection-group", "failover", "prod-web-app", "--wait"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn recover_continues_a_failover_whose_process_died_to_its_end() {
    let env = Env::new().with_sites().with_group();
    store_mappings(&env);
    let id = kill_failover_after(&env, "create_instances_site_b");
    assert_eq!(env.json(&["operation", "show", &id])["status"], "running");

    let op = env.json(&["operation", "recover", &id]);
    assert_eq!(op["status"], "completed", "{op}");
    let message = op["error_message"].as_str().unwrap();
    assert!(
        message.contains("the process ended after step 'create_instances_site_b': recovered by continuing it to its end"),
        "{message}"
    );
    // Each VM runs once, on site-b, from what the dead process had made there.
    let sim = env.simulator();
    let inventory = sim.inspect();
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        let running = |site: &str| {
            inventory.sites[site]
                .servers
                .iter()
                .filter(|s| s.name == vm && s.status == "ACTIVE")
                .count()
        };
        assert_eq!((running("site-a"), running("site-b")), (0, 1), "{vm}");
    }
    assert_eq!(inventory.sites["site-b"].servers.len(), 3, "no second copy");
    for record in env.group_lists() {
        assert_eq!(record[0]["status"], "failed_over", "{record}");
        assert_eq!(record[0]["current_primary_site"], "site-b", "{record}");
    }
    assert_eq!(env.json(&["operation", "recover", &id]), op);
}

#[test]
fn recover_ends_a_pending_record_whose_background_run_died_before_it_started() {
    let env = Env::new().with_sites().with_group();
    // Another failover is in flight when the record is recovered: it must stay untouched.
    let running = put_running_failover(&env, "prod-web-app");
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    let group_id = uuid::Uuid::parse_str(group["id"].as_str().unwrap()).unwrap();
    let mut pending = Operation::start(
        OperationType::Failover,
        Some((&group_id, "prod-web-app")),
        "site-a",
        "site-b",
        chrono::Utc::now(),
    );
    pending.status = OperationStatus::Pending;
    let id = format!("op-{}", pending.id);
    with_stores(&env, |stores| async move {
        stores[0].put_operation(&pending).await.unwrap();
    });
    let before = env.records("prod-web-app");
    let inventory = shape(&env);

    let op = env.json(&["operation", "recover", &id]);
    assert_eq!(op["id"], id.as_str());
    assert_eq!(op["status"], "failed", "{op}");
    assert!(op["completed_at"].is_string(), "{op}");
    let message = op["error_message"].as_str().unwrap();
    assert_eq!(
        message,
        "the process that was to run it ended before the failover started: nothing was changed; recovered by marking it failed: start it again"
    );
    assert_eq!(env.json(&["operation", "show", &id]), op);
    assert_eq!(env.records("prod-web-app"), before);
    assert_eq!(shape(&env), inventory);
    let group = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(group["status"], "failing_over");
    let shown = env.json(&["operation", "show", &running.to_string()]);
    assert_eq!(shown["status"], "running");
}

/// The environment variable that makes [`hold_operation_lock`] hold a lock: `<store path> <id>`.
const HOLD_LOCK: &str = "PROTECTOR_TEST_HOLD_OPERATION_LOCK";

/// Not a test of its own: the other process of
/// [`recover_is_refused_while_another_process_holds_the_operation`]. With [`HOLD_LOCK`] set, it
/// takes the lock of that operation in that store, says so on stdout and holds it until it is
/// killed (or its stdin closes).
#[test]
#[ignore = "run as a child process by recover_is_refused_while_another_process_holds_the_operation"]
fn hold_operation_lock() {
    let Ok(what) = std::env::var(HOLD_LOCK) else {
        return;
    };
    let (path, id) = what.split_once(' ').unwrap();
    let path = std::path::Path::new(path);
    let key = SecretKey::load_or_create(&path.with_file_name("secret.key")).unwrap();
    let store = SqliteStore::open(path, key).unwrap();
    let id = uuid::Uuid::parse_str(id).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let LockAttempt::Acquired(_lock) = runtime.block_on(store.lock_operation(&id)).unwrap() else {
        panic!("the lock of op-{id} is held already");
    };
    println!("holding the lock of op-{id}");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn recover_is_refused_while_another_process_holds_the_operation() {
    use std::io::BufRead;

    let env = Env::new().with_sites().with_group();
    store_mappings(&env);
    let before = shape(&env);
    let id = kill_failover_after(&env, "create_instances_site_b");
    let uuid = id.trim_start_matches("op-");
    // Another process runs it, as far as anyone can tell: it holds the operation's lock.
    let mut holder = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "operations::hold_operation_lock",
            "--ignored",
            "--nocapture",
        ])
        .env(
            HOLD_LOCK,
            format!("{} {uuid}", env.state_dir().join("site-a.db").display()),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(holder.stdout.take().unwrap()).lines();
    let holding = format!("holding the lock of {id}");
    assert!(
        lines.by_ref().map(Result::unwrap).any(|l| l == holding),
        "the holder did not take the lock"
    );
    let records = env.records("prod-web-app");
    let inventory = resources(&env);
    let shown = env.json(&["operation", "show", &id]);

    let (code, stderr) = env.fails(&["operation", "recover", &id]);
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "Error: operation {id} is still running in another process (pid {}): wait for it to finish or stop that process first; nothing was changed\n",
            holder.id()
        )
    );
    assert_eq!(env.records("prod-web-app"), records);
    assert_eq!(resources(&env), inventory);
    assert_eq!(env.json(&["operation", "show", &id]), shown);
    let out = env.cli(&["operation", "show", &id]).output().unwrap();
    assert_eq!(stderr_of(&out), "", "a live run is not reported orphaned");

    // The holder is killed (SIGKILL): the kernel releases its lock, recovery goes ahead.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = env.cli(&["operation", "show", &id]).output().unwrap();
    assert!(
        stderr_of(&out).contains(&format!("`protector operation recover {id}`")),
        "{}",
        stderr_of(&out)
    );
    let op = env.json(&["operation", "recover", &id, "--rollback"]);
    assert_eq!(op["status"], "failed", "{op}");
    assert_eq!(shape(&env), before, "the rollback left something behind");
}

#[test]
fn a_killed_drill_cleanup_is_recovered_and_the_group_can_be_deleted() {
    let env = Env::new().with_sites().with_group();
    env.simulator().tick(320).unwrap();
    let before = shape(&env);
    env.ok(&[
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
    ]);
    let id = kill_after(
        &env,
        "delete_instances_site_b",
        |engine, observer| async move {
            engine
                .test_failover_cleanup("prod-web-app", None, observer)
                .await
        },
    );
    let (code, stderr) = env.fails(&["protection-group", "delete", "prod-web-app"]);
    assert_eq!(code, Some(4), "{stderr}");

    let op = env.json(&["operation", "recover", &id]);
    assert_eq!(op["status"], "completed", "{op}");
    assert_eq!(op["operation_type"], "test_cleanup", "{op}");
    assert_eq!(shape(&env), before, "drill resources left");
    env.ok(&["protection-group", "delete", "prod-web-app"]);
    assert_eq!(
        env.json(&["protection-group", "list"]),
        serde_json::json!([])
    );
}

// ---------------------------------------------------------------------------------- command lines

#[test]
fn failback_and_fence_command_lines() {
    let text = help(&["protection-group", "failback"]);
    assert!(
        text.contains("Usage: protector protection-group failback [OPTIONS] <GROUP>"),
        "{text}"
    );
    for option in [
        "--reverse-replication",
        "--network-mapping <SOURCE=TARGET>...",
        "--flavor-mapping <SOURCE=TARGET>...",
        "--security-group-mapping <SOURCE=TARGET>...",
        "--force",
        "--wait",
    ] {
        assert!(text.contains(option), "{option}: {text}");
    }
    assert!(!text.contains("--operation-id"), "{text}");
    let text = help(&["protection-group", "fence"]);
    assert!(
        text.contains("Usage: protector protection-group fence [OPTIONS] <GROUP>"),
        "{text}"
    );
}

#[test]
fn recover_and_mapping_command_lines() {
    let text = help(&["operation", "recover"]);
    assert!(
        text.contains("Usage: protector operation recover [OPTIONS] <ID>")
            && text.contains("--rollback"),
        "{text}"
    );
    assert!(
        text.contains("Run it only once the process that ran the operation is gone"),
        "{text}"
    );
    let text = help(&["protection-group", "mapping-set"]);
    assert!(
        text.contains("Usage: protector protection-group mapping-set [OPTIONS] <GROUP>"),
        "{text}"
    );
    for option in [
        "--from-site <SITE>",
        "--network-mapping <SOURCE=TARGET>...",
        "--flavor-mapping <SOURCE=TARGET>...",
        "--security-group-mapping <SOURCE=TARGET>...",
        "--replace",
    ] {
        assert!(text.contains(option), "{option}: {text}");
    }
    let text = help(&["protection-group", "mapping-list"]);
    assert!(
        text.contains("Usage: protector protection-group mapping-list [OPTIONS] <GROUP>"),
        "{text}"
    );
}

#[test]
fn test_failover_and_cleanup_command_lines_as_in_the_spec() {
    let text = help(&["dr", "test", "failover"]);
    assert!(
        text.contains("Usage: protector dr test failover [OPTIONS] <GROUP>"),
        "{text}"
    );
    assert!(
        text.contains("protector dr test failover <COMMAND>"),
        "{text}"
    );
    assert!(text.contains("cleanup"), "{text}");
    assert!(
        text.contains("--network-mapping <SOURCE=TARGET>..."),
        "{text}"
    );
    assert!(text.contains("--all-projects"), "{text}");
    let text = help(&["dr", "test", "failover", "cleanup"]);
    assert!(
        text.contains("Usage: protector dr test failover cleanup [OPTIONS] <GROUP>"),
        "{text}"
    );
    let env = Env::new();
    env.bare().args(["dr", "test", "failover"]).assert().code(2);
    env.bare()
        .args(["dr", "test", "failover", "cleanup"])
        .assert()
        .code(2);
}

#[test]
fn site_failover_command_line() {
    let text = help(&["dr", "site", "failover"]);
    assert!(
        text.contains(
            "Usage: protector dr site failover [OPTIONS] --failover-type <FAILOVER_TYPE> <SITE>"
        ),
        "{text}"
    );
    // The default shown is the engine's.
    let default = format!(
        "[default: {}]",
        protector_core::engine::DEFAULT_SITE_FAILOVER_CONCURRENCY
    );
    for option in [
        "planned",
        "unplanned",
        "--force",
        "--concurrency <CONCURRENCY>",
        default.as_str(),
        "--group <NAME>",
        "--wait",
    ] {
        assert!(text.contains(option), "{option}: {text}");
    }
    let env = Env::new();
    for bad in [
        &["dr", "site", "failover", "site-a"][..],
        &[
            "dr",
            "site",
            "failover",
            "site-a",
            "--failover-type",
            "sideways",
        ],
        &[
            "dr",
            "site",
            "failover",
            "site-a",
            "--failover-type",
            "planned",
            "--concurrency",
            "0",
        ],
    ] {
        env.bare().args(bad).assert().code(2);
    }
}

#[test]
fn unplanned_site_failover_needs_force() {
    let env = Env::new().with_sites().with_group();
    let before = env.records("prod-web-app");
    let (code, stderr) = env.fails(&[
        "--os-cloud",
        "site-b",
        "dr",
        "site",
        "failover",
        "site-a",
        "--failover-type",
        "unplanned",
        "--wait",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(
        stderr,
        "Error: an unplanned failover of site 'site-a' recovers every group from its last replicated snapshot and does not stop the VMs there: confirm with --force\n"
    );
    assert_eq!(env.records("prod-web-app"), before);
    assert_eq!(
        env.json(&["--os-cloud", "site-b", "operation", "list"]),
        serde_json::json!([])
    );
}

#[test]
fn consistency_group_show_command_line() {
    let text = help(&["consistency-group", "show"]);
    assert!(
        text.contains("Usage: protector consistency-group show [OPTIONS] <GROUP>"),
        "{text}"
    );
    assert!(text.contains("-f, --format <FORMAT>"), "{text}");
}

#[test]
fn a_planned_failover_during_a_replication_outage_is_refused_and_nothing_stops() {
    let env = Env::new().with_sites().with_group();
    let sim = env.simulator();
    // One replicated snapshot reaches site-b, then the array link is cut (`sim fault --partition`).
    sim.tick(320).unwrap();
    sim.set_partition(true).unwrap();
    drop(sim);
    let mut args = vec!["protection-group", "failover", "prod-web-app", "--wait"];
    args.extend(MAPPINGS);
    let (code, stderr) = env.fails(&args);
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("'prod-web-app'")
            && stderr.contains("replication link")
            && stderr.contains("unplanned (forced) failover"),
        "{stderr}"
    );
    let sim = env.simulator();
    for vm in ["web-server-1", "web-server-2", "db-server-1"] {
        assert_eq!(
            sim.find_server("site-a", vm).unwrap().status,
            ServerStatus::Active
        );
    }
    assert!(sim.inspect().sites["site-b"].servers.is_empty());
}
