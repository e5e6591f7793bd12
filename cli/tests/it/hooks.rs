//! Hooks from the command line: `hook-add`, `hook-list`, `hook-remove`, a command hook and a
//! URL hook (against a wiremock server) run by a failover, the plan of `--dry-run` listing
//! them, and a refusal.

use crate::common::{stderr_of, Env};
use serde_json::Value;

const NETWORKS: &str = "net-primary-web=net-secondary-web net-primary-db=net-secondary-db";

fn json(env: &Env, args: &[&str]) -> Value {
    // Before the arguments: `--command` takes every word after it.
    let mut all = args[..2].to_vec();
    all.extend(["-f", "json"]);
    all.extend_from_slice(&args[2..]);
    let out = env.on("site-a", &all).output().unwrap();
    assert!(
        out.status.success(),
        "protector {all:?} failed: {}\n{}",
        stderr_of(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn failover(env: &Env, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "protection-group",
        "failover",
        "prod-web-app",
        "--network-mapping",
        NETWORKS,
        "--flavor-mapping",
        "m1.large=m2.large",
    ];
    args.extend_from_slice(extra);
    env.on("site-a", &args).output().unwrap()
}

#[test]
fn hooks_from_the_command_line_run_in_a_failover() {
    // The URL hook's server runs on its own runtime's threads while `protector` runs.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(wiremock::MockServer::start());
    runtime.block_on(
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/dr/started"))
            .and(wiremock::matchers::query_param("token", "s3cret"))
            .respond_with(wiremock::ResponseTemplate::new(202))
            .expect(1)
            .mount(&server),
    );
    let url = format!("{}/dr/started?token=s3cret", server.uri());

    let env = Env::new().with_sites().with_group();
    let out = env.dir.path().join("hook.out");
    let out_arg = out.to_str().unwrap().to_string();
    let added = json(
        &env,
        &[
            "protection-group",
            "hook-add",
            "prod-web-app",
            "--name",
            "record",
            "--at",
            "post-instances",
            "--on-failure",
            "stop",
            "--timeout",
            "30",
            "--command",
            "/bin/sh",
            "-c",
            "echo \"$PROTECTOR_OPERATION_ID $PROTECTOR_TARGET_SITE\" > \"$1\"",
            "sh",
            &out_arg,
        ],
    );
    assert_eq!(added["name"], "record");
    assert_eq!(added["at"], "post-instances");
    assert_eq!(added["on_failure"], "stop");
    assert_eq!(added["timeout_secs"], 30);
    json(
        &env,
        &[
            "protection-group",
            "hook-add",
            "prod-web-app",
            "--name",
            "announce",
            "--at",
            "pre-preparation",
            "--url",
            &url,
        ],
    );
    let listed = json(&env, &["protection-group", "hook-list", "prod-web-app"]);
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1]["action"],
        format!("POST {}/dr/started?…", server.uri())
    );
    assert_eq!(rows[1]["on_failure"], "warn");

    // Synced to site-b with the group.
    let sync = env
        .on(
            "site-a",
            &["protection-group", "sync-status", "prod-web-app"],
        )
        .output()
        .unwrap();
    assert!(sync.status.success(), "{}", stderr_of(&sync));
    let records = env.records("prod-web-app");
    assert_eq!(records[0]["hooks"], records[2]["hooks"]);
    assert_eq!(records[2]["hooks"].as_array().unwrap().len(), 2);

    // The dry run's plan lists them.
    let dry = failover(&env, &["--dry-run"]);
    assert!(dry.status.success(), "{}", stderr_of(&dry));
    let plan: Value = serde_json::from_slice(&dry.stdout).unwrap();
    let names: Vec<&str> = plan["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["announce", "record"],
        "in the order of their points"
    );

    let done = failover(&env, &["--wait", "-f", "json"]);
    assert!(done.status.success(), "{}", stderr_of(&done));
    let op: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(op["status"], "completed", "{op}");
    let id = op["operation_id"]
        .as_str()
        .unwrap()
        .trim_start_matches("op-");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("{id} site-b\n")
    );
    let received = runtime.block_on(server.received_requests()).unwrap();
    assert_eq!(received.len(), 1);
    let body: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["PROTECTOR_OPERATION_ID"], id);
    assert_eq!(body["PROTECTOR_PHASE"], "preparation");

    let removed = json(
        &env,
        &[
            "protection-group",
            "hook-remove",
            "prod-web-app",
            "--name",
            "announce",
        ],
    );
    assert_eq!(removed["name"], "announce");
}

#[test]
fn hook_add_refuses_a_url_that_is_not_http() {
    let env = Env::new().with_sites().with_group();
    let (code, stderr) = env.fails(&[
        "--os-cloud",
        "site-a",
        "protection-group",
        "hook-add",
        "prod-web-app",
        "--name",
        "bad",
        "--at",
        "pre-storage",
        "--url",
        "file:///etc/passwd",
    ]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains(
            "hook 'bad' has URL 'file:///etc/passwd': only http:// and https:// URLs can be called"
        ),
        "{stderr}"
    );
    let records = env.records("prod-web-app");
    assert!(records[0].get("hooks").is_none(), "nothing was added");
}
