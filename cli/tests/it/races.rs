//! Two operators at once, as two `protector` processes on one state directory: the same-group
//! race of issue 10 over real processes and file stores, with latency injected into the
//! simulator so both runs plan and validate before either claims the group.

use std::process::{Output, Stdio};

use crate::common::{stderr_of, Env};
use serde_json::Value;

const MAPPINGS: [&str; 5] = [
    "--network-mapping",
    "net-primary-web=net-secondary-web",
    "net-primary-db=net-secondary-db",
    "--flavor-mapping",
    "m1.large=m2.large",
];

const MEMBERS: [&str; 3] = ["web-server-1", "web-server-2", "db-server-1"];

/// Member servers ACTIVE on `site`, from the simulator.
fn running(env: &Env, site: &str) -> usize {
    env.simulator().inspect().sites[site]
        .servers
        .iter()
        .filter(|s| s.status == "ACTIVE" && MEMBERS.contains(&s.name.as_str()))
        .count()
}

/// Runs `args` twice at the same time (as `Env::cli` would run them once); returns both
/// outputs.
fn twice(env: &Env, args: &[&str]) -> [Output; 2] {
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("protector"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", env.dir.path())
            .env("XDG_DATA_HOME", env.dir.path().join("xdg"))
            .arg("--state-dir")
            .arg(env.state_dir())
            .arg("--sim-state")
            .arg(env.sim_path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()]
}

#[test]
fn two_failover_processes_at_once_leave_one_running_copy_of_each_vm() {
    for round in 0..5 {
        let env = Env::new().with_sites().with_group();
        for site in ["site-a", "site-b"] {
            env.sim_fault(&["--site", site, "--latency-ms", "5"]);
        }
        let mut args = vec![
            "protection-group",
            "failover",
            "prod-web-app",
            "--wait",
            "-f",
            "json",
        ];
        args.extend(MAPPINGS);
        let outputs = twice(&env, &args);
        let won: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}: exactly one process runs the failover: {:?}",
            outputs.iter().map(stderr_of).collect::<Vec<_>>()
        );
        let op: Value = serde_json::from_slice(&won[0].stdout).unwrap();
        assert_eq!(op["status"], "completed", "round {round}: {op}");
        let lost = outputs.iter().find(|o| !o.status.success()).unwrap();
        let stderr = stderr_of(lost);
        // Progress lines of --wait may come first; the refusal is one error line.
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Error")).collect();
        assert_eq!(errors.len(), 1, "round {round}: {stderr:?}");
        assert!(
            errors[0].contains("op-") || errors[0].contains("failed_over"),
            "round {round}: the refusal names what holds the group: {stderr}"
        );

        env.sim_fault(&["--clear"]);
        assert_eq!(running(&env, "site-a"), 0, "round {round}");
        assert_eq!(running(&env, "site-b"), 3, "round {round}");
        let inventory = env.simulator().inspect();
        let site_b = &inventory.sites["site-b"];
        assert_eq!(
            (
                site_b.servers.len(),
                site_b.volumes.len(),
                site_b.ports.len()
            ),
            (3, 4, 4),
            "round {round}: one copy, nothing duplicated"
        );
        let records = env.records("prod-web-app");
        assert_eq!(records[0], records[2], "round {round}: both sites agree");
        assert_eq!(records[0]["status"], "failed_over", "round {round}");
    }
}
