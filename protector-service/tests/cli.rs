//! `protector-manage` as an operator runs it: the configuration file, its errors, and `db sync`
//! on the embedded store. (On MariaDB it runs in scripts/test-all against a real server.)

use assert_cmd::Command;

fn manage() -> Command {
    let mut cmd = Command::cargo_bin("protector-manage").unwrap();
    cmd.env_remove("PROTECTOR_DATABASE_CONNECTION");
    cmd
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn db_sync_reads_the_connection_from_protector_conf() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("protector.db");
    let conf = dir.path().join("protector.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\ndebug = False\n\n[api]\nbind_port = 8788\n\n[database]\nconnection = sqlite:///{}\n",
            db.display()
        ),
    )
    .unwrap();
    let out = manage()
        .args(["--config-file", conf.to_str().unwrap(), "db", "sync"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db.exists(), "db sync made no store");
    let again = manage()
        .args(["--config-file", conf.to_str().unwrap(), "db", "sync"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
}

#[test]
fn a_missing_file_or_setting_is_a_configuration_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.conf");
    let out = manage()
        .args(["--config-file", missing.to_str().unwrap(), "db", "sync"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not found: give it with --config-file"),
        "{}",
        stderr(&out)
    );

    let conf = dir.path().join("protector.conf");
    std::fs::write(&conf, "[DEFAULT]\ndebug = False\n").unwrap();
    let out = manage()
        .args(["--config-file", conf.to_str().unwrap(), "db", "version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no [database] connection"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_database_is_reported_without_its_password() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = manage()
        .env(
            "PROTECTOR_DATABASE_CONNECTION",
            format!("mysql+pymysql://protector:hunter2-secret@127.0.0.1:{port}/protector"),
        )
        .args(["db", "sync"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

/// The sample configuration the README installs is read by every service as shipped (only
/// the paths of this machine changed).
#[test]
fn the_sample_protector_conf_is_read_by_every_service() {
    use protector_service::api::ApiSettings;
    use protector_service::config::ServiceConfig;
    use protector_service::engine::EngineConfig;

    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/etc/protector.conf.sample"
    ))
    .unwrap();
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        "clouds:\n  site-a:\n    auth:\n      auth_url: http://controller:5000/v3\n      username: protector\n      password: x\n      project_name: service\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n",
    )
    .unwrap();
    let text = sample
        .replace("/var/lib/protector", &dir.path().display().to_string())
        .replace("/etc/protector/clouds.yaml", &clouds.display().to_string());
    let path = dir.path().join("protector.conf");
    std::fs::write(&path, &text).unwrap();
    let config = ServiceConfig::load(&path).unwrap();
    let api = ApiSettings::from_config(&config).unwrap();
    let shown = format!("{api:?}");
    assert!(!shown.contains("PROTECTOR_PASS"), "{shown}");
    let engine = EngineConfig::from_config(&config).unwrap();
    assert_eq!(engine.site_name, "site-a");
    assert!(
        !engine.allow_command_hooks,
        "tenants' command hooks are off as shipped"
    );
    assert!(matches!(
        config.database().unwrap(),
        protector_service::config::Database::MySql(_)
    ));
}
