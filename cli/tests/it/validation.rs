//! Input the CLI refuses, and what it never prints (issue 10, defect 6): a refused password is
//! an authentication error (exit 6), not an outage; a name with a line break is refused in one
//! line with nothing created; control characters from stores never reach the terminal raw;
//! plain-http array URLs and schedules out of range are refused unless allowed.

use crate::common::{stderr_of, Env};
use serde_json::Value;

/// site-a registered as usual, site-b under the clouds.yaml entry `site-b-badpassword` (the
/// seeded admin with a wrong password).
fn wrong_password_on_site_b() -> Env {
    let env = Env::new();
    let sim = env.simulator();
    for (site, role, cloud) in [
        ("site-a", "primary", None),
        ("site-b", "secondary", Some("site-b-badpassword")),
    ] {
        let r = sim.site_registration(site).unwrap();
        let mut args = vec![
            "site",
            "create",
            "--name",
            &r.name,
            "--site-type",
            role,
            "--auth-url",
            &r.auth_url,
            "--region-name",
            &r.region_name,
        ];
        if let Some(cloud) = cloud {
            args.extend(["--cloud", cloud]);
        }
        env.ok(&args);
    }
    drop(sim);
    env
}

fn create_group(env: &Env, name: &str) -> std::process::Output {
    env.cli(&[
        "protection-group",
        "create",
        "--name",
        name,
        "--replication-type",
        "async",
        "--primary-site",
        "site-a",
        "--secondary-site",
        "site-b",
        "--volume-type",
        "replicated-ssd",
    ])
    .output()
    .unwrap()
}

#[test]
fn a_wrong_password_exits_6_and_is_not_called_unreachable() {
    let env = wrong_password_on_site_b();
    let out = env.cli(&["site", "validate", "site-b"]).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr
            .starts_with("Error: site 'site-b' refused the credentials of its clouds.yaml entry: "),
        "{stderr}"
    );
    assert!(!stderr.contains("unreachable"), "{stderr}");

    let before = env.group_lists();
    let out = create_group(&env, "prod-web-app");
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("Error: cannot create protection group 'prod-web-app': site 'site-b'"),
        "{stderr}"
    );
    assert!(!stderr.contains("unreachable"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(env.group_lists(), before);
    assert_eq!(before, vec![Value::Array(vec![]), Value::Array(vec![])]);
}

#[test]
fn a_group_name_with_a_line_break_is_refused_in_one_line_and_nothing_is_created() {
    let env = Env::new().with_sites();
    for (name, shown) in [
        ("prod\nweb", "contains the character '\\n'"),
        ("prod\u{1b}[2Jweb", "contains the character '\\u{1b}'"),
        ("../prod", "contains the character '/'"),
    ] {
        let out = create_group(&env, name);
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(4), "{name:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name:?}: {stderr}");
        assert!(stderr.contains(shown), "{name:?}: {stderr}");
        assert!(!stderr.contains('\u{1b}'), "{name:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(
        env.group_lists(),
        vec![Value::Array(vec![]), Value::Array(vec![])]
    );
    let inventory = env.simulator().inspect();
    let groups = serde_json::to_value(&inventory).unwrap().to_string();
    assert!(!groups.contains("protector-prod"), "{groups}");
}

#[test]
fn control_characters_from_the_store_are_escaped_in_every_format() {
    let env = Env::new().with_sites();
    // A description is free text: it reaches the store as given.
    let hostile = "web tier\u{1b}]0;owned\u{7}\u{1b}[2J\r\nforged line\u{202e}";
    let out = env
        .cli(&[
            "protection-group",
            "create",
            "--name",
            "prod-web-app",
            "--description",
            hostile,
            "--replication-type",
            "async",
            "--primary-site",
            "site-a",
            "--secondary-site",
            "site-b",
            "--volume-type",
            "replicated-ssd",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let raw = |c: char| c.is_control() && c != '\n' || c == '\u{202e}';
    for format in ["table", "json", "yaml", "value"] {
        for args in [
            vec!["protection-group", "show", "prod-web-app", "-f", format],
            vec!["protection-group", "list", "-f", format],
        ] {
            let out = env.cli(&args).output().unwrap();
            assert!(out.status.success(), "{}", stderr_of(&out));
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert!(!stdout.chars().any(raw), "{args:?}: {stdout:?}");
            assert!(!stdout.contains("\nforged line"), "{args:?}: {stdout:?}");
        }
    }
    // JSON escapes it and keeps the value.
    let shown = env.json(&["protection-group", "show", "prod-web-app"]);
    assert_eq!(shown["description"], hostile);
    let table = env.ok(&["protection-group", "show", "prod-web-app"]);
    assert!(
        table.contains("web tier\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\r"),
        "{table}"
    );
}

#[test]
fn plain_http_array_urls_are_refused_unless_allowed_and_schedules_are_bounded() {
    let env = Env::new().with_sites();
    let out = create_group(&env, "prod-web-app");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let sim = env.simulator();
    let a = sim.array_endpoint("site-a").unwrap();
    let b = sim.array_endpoint("site-b").unwrap();
    drop(sim);
    let http = |url: &str| url.replacen("https://", "http://", 1);
    let (url_a, url_b) = (http(&a.url), http(&b.url));
    let policy = |extra: &[&str]| {
        let mut args = vec![
            "protection-group",
            "policy-create",
            "prod-web-app",
            "--primary-fa-url",
            &url_a,
            "--secondary-fa-url",
            &url_b,
            "--pure-pg-name",
            "pg-prod-web-app",
        ];
        args.extend_from_slice(extra);
        env.cli(&args)
            .env("PROTECTOR_PRIMARY_FA_TOKEN", a.api_token.expose())
            .env("PROTECTOR_SECONDARY_FA_TOKEN", b.api_token.expose())
            .output()
            .unwrap()
    };
    let before = env.records("prod-web-app");
    let out = policy(&[]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("uses plain http"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // The RPO of the report: clap refuses what does not fit, core what is out of range.
    let out = policy(&[
        "--allow-insecure-http",
        "--rpo-minutes",
        "18446744073709551615",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let out = policy(&["--allow-insecure-http", "--rpo-minutes", "4000000000"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("RPO of 4000000000 minutes is out of range"),
        "{stderr}"
    );
    let out = policy(&["--allow-insecure-http", "--replication-interval", "5"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("replication interval 5 s"), "{stderr}");
    assert_eq!(env.records("prod-web-app"), before);

    let out = policy(&["--allow-insecure-http", "-f", "json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
}
