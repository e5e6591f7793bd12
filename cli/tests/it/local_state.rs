//! What the CLI does with what it is given locally: FlashArray tokens from a file, stdin or the
//! environment (never needed on the command line); an unknown `--os-cloud`; a damaged state
//! directory (empty or damaged store, lost or binary key file), refused with exit 7 and left
//! byte for byte as it was; and output to a closed pipe, which must not panic.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use crate::common::{stderr_of, with_stores, Env};
use protector_core::model::ReplicationPolicy;

/// Every file under `dir` with its bytes (empty when `dir` does not exist).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return all;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for (inner, bytes) in files(&path) {
                all.insert(format!("{name}/{inner}"), bytes);
            }
        } else {
            all.insert(name, std::fs::read(&path).unwrap());
        }
    }
    all
}

/// Both sites and `prod-web-app` with one member, without a replication policy.
fn group_without_policy() -> Env {
    let env = Env::new().with_sites();
    env.ok(&[
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
    env.ok(&[
        "protection-group",
        "member-add",
        "prod-web-app",
        "--instance-id",
        "web-server-1",
    ]);
    env
}

/// The policy of `prod-web-app` as site-a's store holds it.
fn stored_policy(env: &Env) -> Option<ReplicationPolicy> {
    let shown = env.json(&["protection-group", "show", "prod-web-app"]);
    let group_id = uuid::Uuid::parse_str(shown["id"].as_str().unwrap()).unwrap();
    let policy = std::sync::Mutex::new(None);
    let slot = &policy;
    with_stores(env, |stores| async move {
        *slot.lock().unwrap() = stores[0].get_policy(&group_id).await.unwrap();
    });
    policy.into_inner().unwrap()
}

/// `protector ... protection-group policy-create prod-web-app` with both arrays' URLs and
/// `token_args` for the tokens, as a `std::process::Command` (for pipes and stdin).
fn policy_create(env: &Env, group: &str, token_args: &[&str]) -> std::process::Command {
    let sim = env.simulator();
    let (a, b) = (
        sim.array_endpoint("site-a").unwrap(),
        sim.array_endpoint("site-b").unwrap(),
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_protector"));
    for var in [
        "OS_CLOUD",
        "PROTECTOR_STATE_DIR",
        "PROTECTOR_SIM_STATE",
        "PROTECTOR_LOG",
        "PROTECTOR_PRIMARY_FA_TOKEN",
        "PROTECTOR_SECONDARY_FA_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", env.dir.path())
        .env("XDG_DATA_HOME", env.dir.path().join("xdg"))
        .arg("--state-dir")
        .arg(env.state_dir())
        .arg("--sim-state")
        .arg(env.sim_path())
        .args(["protection-group", "policy-create", group])
        .args(["--primary-fa-url", &a.url, "--secondary-fa-url", &b.url])
        .args(["--pure-pg-name", "pg-prod-web-app"])
        .args(token_args);
    cmd
}

fn tokens(env: &Env) -> (String, String) {
    let sim = env.simulator();
    (
        sim.array_endpoint("site-a")
            .unwrap()
            .api_token
            .expose()
            .to_string(),
        sim.array_endpoint("site-b")
            .unwrap()
            .api_token
            .expose()
            .to_string(),
    )
}

// ---------------------------------------------------------------------------------- tokens

#[test]
fn tokens_from_a_file_and_stdin_never_on_the_command_line() {
    let env = group_without_policy();
    let (token_a, token_b) = tokens(&env);
    let file = env.dir.path().join("primary.token");
    // Read whole and trimmed, as `echo TOKEN > file` writes it.
    std::fs::write(&file, format!("  {token_a}\n")).unwrap();

    let mut cmd = policy_create(
        &env,
        "prod-web-app",
        &[
            "--primary-fa-token-file",
            file.to_str().unwrap(),
            "--secondary-fa-token-file",
            "-",
        ],
    );
    // A wrong token in the environment: the file given on the command line wins.
    cmd.env("PROTECTOR_PRIMARY_FA_TOKEN", "T-wrong");
    let argv: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert!(
        !argv
            .iter()
            .any(|a| a.contains(&token_a) || a.contains(&token_b)),
        "{argv:?}"
    );
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{token_b}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    assert!(!printed.contains(&token_a) && !printed.contains(&token_b));

    let policy = stored_policy(&env).expect("the policy is stored");
    assert_eq!(policy.primary_array.api_token.expose(), token_a);
    assert_eq!(policy.secondary_array.api_token.expose(), token_b);
    // The arrays accept them: the replication is set up and readable.
    env.ok(&["consistency-group", "show", "prod-web-app"]);
}

#[test]
fn tokens_from_the_environment_only() {
    let env = group_without_policy();
    let (token_a, token_b) = tokens(&env);
    let out = policy_create(&env, "prod-web-app", &[])
        .env("PROTECTOR_PRIMARY_FA_TOKEN", &token_a)
        .env("PROTECTOR_SECONDARY_FA_TOKEN", &token_b)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let policy = stored_policy(&env).expect("the policy is stored");
    assert_eq!(policy.primary_array.api_token.expose(), token_a);
    assert_eq!(policy.secondary_array.api_token.expose(), token_b);
}

#[test]
fn a_bad_token_file_is_named_and_changes_nothing() {
    let env = group_without_policy();
    let (_, token_b) = tokens(&env);
    let empty = env.dir.path().join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    let missing = env.dir.path().join("missing.token");
    for (file, expected) in [(&empty, "is empty"), (&missing, "cannot read")] {
        let out = policy_create(
            &env,
            "prod-web-app",
            &["--primary-fa-token-file", file.to_str().unwrap()],
        )
        .env("PROTECTOR_SECONDARY_FA_TOKEN", &token_b)
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
        let stderr = stderr_of(&out);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // Both from stdin cannot be.
    let out = policy_create(
        &env,
        "prod-web-app",
        &[
            "--primary-fa-token-file",
            "-",
            "--secondary-fa-token-file",
            "-",
        ],
    )
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    // No token at all names the safe ways to give one.
    let out = policy_create(&env, "prod-web-app", &[])
        .env("PROTECTOR_SECONDARY_FA_TOKEN", &token_b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("--primary-fa-token-file") && stderr.contains("PROTECTOR_PRIMARY_FA_TOKEN"),
        "{stderr}"
    );
    assert!(stored_policy(&env).is_none());
}

// ---------------------------------------------------------------------------------- --os-cloud

#[test]
fn an_unknown_os_cloud_on_a_fresh_machine_creates_nothing() {
    let env = Env::new();
    let out = env
        .on("site-x", &["protection-group", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("Error: site 'site-x' is unknown: "),
        "{stderr}"
    );
    assert!(stderr.contains("--os-cloud"), "{stderr}");
    assert!(!env.state_dir().exists(), "the state directory was created");
}

#[test]
fn a_typo_in_os_cloud_changes_nothing() {
    let env = Env::new().with_sites();
    let before = files(&env.state_dir());
    for command in [
        &["protection-group", "list"][..],
        &["site", "list"],
        &["protection-group", "show", "prod-web-app"],
    ] {
        let out = env.on("stie-a", command).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
        let stderr = stderr_of(&out);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains("site 'stie-a' is unknown"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(files(&env.state_dir()), before);
    // The known sites still work, the peer included.
    env.on("site-b", &["site", "list"]).assert().success();
}

// ---------------------------------------------------------------------------------- damaged state

/// Runs a read and a write command on the damaged state: both exit 7 with one line naming
/// `what`, and the state directory is byte for byte as it was.
fn refused_with_nothing_changed(env: &Env, what: &str) -> String {
    let before = files(&env.state_dir());
    let mut messages = Vec::new();
    for command in [
        &["protection-group", "list"][..],
        &[
            "protection-group",
            "create",
            "--name",
            "other",
            "--replication-type",
            "async",
            "--primary-site",
            "site-a",
            "--secondary-site",
            "site-b",
            "--volume-type",
            "replicated-ssd",
        ],
    ] {
        let out = env.cli(command).output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(7), "{command:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(what), "{stderr}");
        assert!(out.stdout.is_empty());
        messages.push(stderr);
    }
    assert_eq!(
        files(&env.state_dir()),
        before,
        "the state directory changed"
    );
    messages.remove(0)
}

#[test]
fn an_empty_store_file_is_a_configuration_error() {
    let env = Env::new().with_sites();
    let store = env.state_dir().join("site-a.db");
    std::fs::write(&store, b"").unwrap();
    let stderr = refused_with_nothing_changed(&env, &store.display().to_string());
    assert!(stderr.contains("is empty (0 bytes)"), "{stderr}");
}

#[test]
fn a_damaged_store_page_is_a_configuration_error() {
    let env = Env::new().with_sites();
    env.ok(&[
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
    let store = env.state_dir().join("site-a.db");
    let mut bytes = std::fs::read(&store).unwrap();
    // Page 3 of the store holds the groups table.
    let page = 4096;
    assert!(bytes.len() > 3 * page);
    bytes[2 * page..3 * page].fill(0xA5);
    std::fs::write(&store, &bytes).unwrap();
    let stderr = refused_with_nothing_changed(&env, &store.display().to_string());
    assert!(stderr.contains("is damaged"), "{stderr}");
}

#[test]
fn a_lost_key_file_is_not_replaced_while_stores_exist() {
    let env = Env::new().with_sites().with_group();
    let key = env.state_dir().join("secret.key");
    std::fs::remove_file(&key).unwrap();
    let stderr = refused_with_nothing_changed(&env, &key.display().to_string());
    assert!(stderr.contains("is missing"), "{stderr}");
    assert!(stderr.contains("site-a.db, site-b.db"), "{stderr}");
    assert!(!key.exists());
}

#[test]
fn a_binary_key_file_does_not_blame_permissions() {
    let env = Env::new().with_sites();
    let key = env.state_dir().join("secret.key");
    let binary: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(37) | 0x80).collect();
    std::fs::write(&key, &binary).unwrap();
    let stderr = refused_with_nothing_changed(&env, &key.display().to_string());
    assert!(stderr.contains("does not hold a key"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("permission"), "{stderr}");
}

// ---------------------------------------------------------------------------------- closed pipes

/// Runs policy-create with the secondary token read from stdin: the command writes nothing
/// before it has read stdin, so the pipe `close` names is closed before anything is written.
fn with_closed_pipe(env: &Env, group: &str, close: &str) -> std::process::Output {
    let (token_a, token_b) = tokens(env);
    let mut child = policy_create(env, group, &["--secondary-fa-token-file", "-"])
        .env("PROTECTOR_PRIMARY_FA_TOKEN", &token_a)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    match close {
        "stdout" => drop(child.stdout.take()),
        _ => drop(child.stderr.take()),
    }
    writeln!(child.stdin.take().unwrap(), "{token_b}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn an_error_to_a_closed_stderr_pipe_does_not_panic() {
    let env = group_without_policy();
    let out = with_closed_pipe(&env, "no-such-group", "stderr");
    // Not found, as with an open stderr; not 101, the exit code of a panic.
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
}

#[test]
fn output_to_a_closed_stdout_pipe_is_quiet() {
    let env = group_without_policy();
    let out = with_closed_pipe(&env, "prod-web-app", "stdout");
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(stored_policy(&env).is_some());
}
