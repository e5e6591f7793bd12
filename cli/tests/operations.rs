//! Long operations through the `protector` binary: the background run without `--wait`, the
//! pending record a refused background run leaves failed, and the command lines of failback,
//! fence, DR drills and site failover (their behaviour is tested with the engine).

#[macro_use]
mod common;

use common::{stderr_of, with_stores, Env};
use protector_core::model::{Operation, OperationStatus, OperationType};
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
        let log =
            std::fs::read_to_string(env.state_dir().join("operations").join(format!("{id}.log")))
                .unwrap();
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

/// `operation show ID -f json` from site-a's store, without opening the simulator (a
/// background run may be using it).
fn show_from_store(env: &Env, id: &str) -> Value {
    let out = env
        .bare()
        .arg("--state-dir")
        .arg(env.state_dir())
        .args(["operation", "show", id, "-f", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
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
    for option in [
        "planned",
        "unplanned",
        "--force",
        "--concurrency <CONCURRENCY>",
        "[default: 4]",
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
