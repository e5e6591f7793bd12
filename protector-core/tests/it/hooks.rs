//! Hooks on the in-process two-site simulator: commands and URL calls around the phases of a
//! failover and a drill, what their failure does, their undo at drill cleanup, their
//! validation, and their place in the synced metadata.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use protector_core::api::{HookCaller, HookRequest, HookResponse, ServerStatus, WithHookCaller};
use protector_core::engine::{
    EngineOptions, FailoverRequest, HookSpec, NoProgress, PollPolicy, TestFailoverRequest,
};
use protector_core::model::{
    GroupStatus, HookAction, HookAppliesTo, HookFailure, HookMethod, HookPoint, OperationStatus,
    ResourceMappings,
};
use protector_core::store::JournalKind;
use protector_core::{ErrorKind, Protector};

use crate::common::{groups, mappings, planned_failover, setup, Env, MEMBERS};

const GROUP: &str = "prod-web-app";

/// `/bin/sh -c script` with `args` as `$1`, `$2`…: an explicit argv, no shell parsing of ours.
fn sh(script: &str, args: &[&str]) -> HookAction {
    let mut argv = vec![
        "/bin/sh".to_string(),
        "-c".into(),
        script.into(),
        "sh".into(),
    ];
    argv.extend(args.iter().map(|a| a.to_string()));
    HookAction::Command { argv }
}

fn spec(name: &str, at: HookPoint, action: HookAction) -> HookSpec {
    HookSpec::new(name, at, action)
}

/// What site-b holds: (servers, Cinder volumes, ports).
fn on_site_b(env: &Env) -> (usize, usize, usize) {
    let inventory = env.sim.inspect();
    let site = &inventory.sites["site-b"];
    (site.servers.len(), site.volumes.len(), site.ports.len())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
async fn a_post_instances_command_gets_the_operation_in_its_environment_and_syncs_to_the_peer() {
    let env = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let hook = env
        .engine
        .add_hook(
            GROUP,
            spec(
                "notify",
                HookPoint::PostInstances,
                sh("env > \"$1\"", &[out.to_str().unwrap()]),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        hook.on_failure,
        HookFailure::Warn,
        "a group hook warns by default"
    );
    assert_eq!(hook.timeout_secs, 300);

    // Synced metadata: the peer holds the same hook, and the group is in sync.
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    assert_eq!(b.hooks, vec![hook.clone()]);
    let status = env.engine.sync_status(GROUP).await.unwrap();
    assert!(status.in_sync, "{status:?}");

    let plan = env
        .engine
        .plan_failover(GROUP, &FailoverRequest::planned(mappings()))
        .await
        .unwrap();
    assert_eq!(plan.hooks, vec![hook]);

    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let written = read(&out);
    assert!(
        written.contains(&format!("PROTECTOR_OPERATION_ID={}", op.id)),
        "{written}"
    );
    for line in [
        "PROTECTOR_OPERATION_TYPE=failover",
        "PROTECTOR_GROUP=prod-web-app",
        "PROTECTOR_PHASE=instances",
        "PROTECTOR_SOURCE_SITE=site-a",
        "PROTECTOR_TARGET_SITE=site-b",
    ] {
        assert!(written.lines().any(|l| l == line), "{line} in {written}");
    }
    assert!(
        !written.contains("OS_PASSWORD") && !written.contains("PROTECTOR_MEMBER"),
        "{written}"
    );
    let journal = env.store_a.list_journal(&op.id).await.unwrap();
    assert!(journal
        .iter()
        .any(|e| e.step == "hook:post-instances:notify" && e.kind == JournalKind::Done));
}

#[tokio::test]
async fn a_failing_stop_hook_before_the_instances_rolls_the_failover_back() {
    let env = setup().await;
    let before = on_site_b(&env);
    env.engine
        .add_hook(
            GROUP,
            HookSpec {
                on_failure: Some(HookFailure::Stop),
                ..spec(
                    "gate",
                    HookPoint::PreInstances,
                    sh(
                        "echo checking >&2; echo 'load balancer refused' >&2; exit 3",
                        &[],
                    ),
                )
            },
        )
        .await
        .unwrap();
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let message = op.error_message.clone().unwrap();
    assert!(
        message.contains("command hook 'gate' (pre-instances) failed: /bin/sh exited with code 3: load balancer refused"),
        "{message}"
    );
    // Rolled back: the group on its source with its VMs running there, nothing left on site-b.
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    assert_eq!(a.status, GroupStatus::Active);
    assert_eq!(a.current_primary_site, "site-a");
    for name in MEMBERS {
        assert_eq!(
            env.sim.find_server("site-a", name).unwrap().status,
            ServerStatus::Active,
            "{name}"
        );
    }
    assert_eq!(on_site_b(&env), before);
}

#[tokio::test]
async fn a_failing_warn_hook_lets_the_failover_complete_with_the_warning_recorded() {
    let env = setup().await;
    env.engine
        .add_hook(
            GROUP,
            HookSpec {
                on_failure: Some(HookFailure::Warn),
                ..spec(
                    "dns",
                    HookPoint::PreStorage,
                    sh("echo no dns >&2; exit 1", &[]),
                )
            },
        )
        .await
        .unwrap();
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    assert_eq!(op.warnings.len(), 1, "{:?}", op.warnings);
    assert!(
        op.warnings[0].contains("command hook 'dns' (pre-storage)")
            && op.warnings[0].contains("exited with code 1: no dns"),
        "{:?}",
        op.warnings
    );
    let (a, _) = groups(&env).await;
    assert_eq!(a.status, GroupStatus::FailedOver);
    // The stored record keeps the warning.
    let stored = env.engine.operation(&op.id.to_string()).await.unwrap();
    assert_eq!(stored.warnings, op.warnings);
}

#[tokio::test]
async fn a_hook_that_outlives_its_timeout_is_killed_and_stops_the_failover() {
    let env = setup().await;
    env.engine
        .add_hook(
            GROUP,
            HookSpec {
                timeout_secs: Some(1),
                on_failure: Some(HookFailure::Stop),
                // The background child holds the output pipe open: it must die with the
                // process group for the run to end.
                ..spec(
                    "slow",
                    HookPoint::PrePreparation,
                    sh("sleep 30 & sleep 30", &[]),
                )
            },
        )
        .await
        .unwrap();
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let message = op.error_message.clone().unwrap();
    assert!(
        message.contains("ran longer than its timeout of 1 s and was killed"),
        "{message}"
    );
    let journal = env.store_a.list_journal(&op.id).await.unwrap();
    let failed = journal
        .iter()
        .find(|e| e.step == "hook:pre-preparation:slow" && e.kind == JournalKind::Failed)
        .expect("the hook's failure is journaled");
    assert_eq!(failed.detail["kind"], "timeout");
    let (a, _) = groups(&env).await;
    assert_eq!(a.status, GroupStatus::Active);
}

#[tokio::test]
async fn a_drill_only_hook_is_skipped_by_a_failover_runs_in_a_drill_and_is_undone_by_its_cleanup() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ran = dir.path().join("ran");
    let undone = dir.path().join("undone");
    env.engine
        .add_hook(
            GROUP,
            HookSpec {
                applies_to: HookAppliesTo::Drill,
                undo: Some(sh(
                    "echo \"$PROTECTOR_OPERATION_TYPE\" >> \"$1\"",
                    &[undone.to_str().unwrap()],
                )),
                ..spec(
                    "register-test-vms",
                    HookPoint::PostInstances,
                    sh(
                        "echo \"$PROTECTOR_OPERATION_TYPE $PROTECTOR_TARGET_SITE\" >> \"$1\"",
                        &[ran.to_str().unwrap()],
                    ),
                )
            },
        )
        .await
        .unwrap();

    let drill = env
        .engine
        .test_failover(
            GROUP,
            TestFailoverRequest {
                mappings: ResourceMappings {
                    networks: ResourceMappings::parse_pairs(
                        "network",
                        ["net-primary-web=dr-test-net net-primary-db=dr-test-net"],
                    )
                    .unwrap(),
                    flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"])
                        .unwrap(),
                    ..ResourceMappings::default()
                },
                operation_id: None,
                recovery_point: None,
            },
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(drill.status, OperationStatus::Completed, "{drill:?}");
    assert_eq!(read(&ran), "test_failover site-b\n");
    let (a, b) = groups(&env).await;
    let record = a.test_failover.clone().unwrap();
    assert_eq!(record.hooks_to_undo.len(), 1);
    assert_eq!(b.test_failover, Some(record));

    let cleanup = env
        .engine
        .test_failover_cleanup(GROUP, None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(cleanup.status, OperationStatus::Completed, "{cleanup:?}");
    assert_eq!(read(&undone), "test_cleanup\n");

    // A failover does not run it.
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    assert_eq!(read(&ran), "test_failover site-b\n");
    assert!(op.warnings.is_empty());
}

#[tokio::test]
async fn an_after_boot_hook_that_keeps_failing_fails_its_member_only() {
    let env = setup().await;
    let db = env.sim.find_server("site-a", "db-server-1").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("web-ready");
    env.engine
        .add_hook(
            GROUP,
            HookSpec {
                member: Some("web-server-1".into()),
                ..spec(
                    "web-ready",
                    HookPoint::AfterBoot,
                    sh(
                        "echo \"$PROTECTOR_INSTANCE_NAME $PROTECTOR_INSTANCE_ID\" > \"$1\"",
                        &[ready.to_str().unwrap()],
                    ),
                )
            },
        )
        .await
        .unwrap();
    let hook = env
        .engine
        .add_hook(
            GROUP,
            HookSpec {
                member: Some(db.id.clone()),
                timeout_secs: Some(1),
                ..spec("db-ready", HookPoint::AfterBoot, sh("exit 1", &[]))
            },
        )
        .await
        .unwrap();
    assert_eq!(
        hook.on_failure,
        HookFailure::Stop,
        "a member hook stops its member"
    );

    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Partial, "{op:?}");
    assert_eq!(op.instances_failed, 1);
    let message = op.error_message.clone().unwrap();
    assert!(
        message.contains("db-server-1")
            && message
                .contains("command hook 'db-ready' (after-boot) of member db-server-1 failed"),
        "{message}"
    );
    // The failed member is back on site-a; the others run on site-b.
    assert_eq!(
        env.sim.find_server("site-a", "db-server-1").unwrap().status,
        ServerStatus::Active
    );
    let web = env.sim.find_server("site-b", "web-server-1").unwrap();
    assert_eq!(read(&ready), format!("web-server-1 {}\n", web.id));
}

#[tokio::test]
async fn invalid_hooks_are_refused_and_change_nothing() {
    let env = setup().await;
    let version = groups(&env).await.0.metadata.version;
    env.engine
        .add_hook(GROUP, spec("taken", HookPoint::PreStorage, sh("true", &[])))
        .await
        .unwrap();
    let refusals = [
        spec(
            "empty",
            HookPoint::PreStorage,
            HookAction::Command { argv: vec![] },
        ),
        spec(
            "ftp",
            HookPoint::PreStorage,
            HookAction::url("ftp://hooks.example/x"),
        ),
        HookSpec {
            timeout_secs: Some(0),
            ..spec("zero", HookPoint::PreStorage, sh("true", &[]))
        },
        HookSpec {
            timeout_secs: Some(3601),
            ..spec("long", HookPoint::PreStorage, sh("true", &[]))
        },
        spec("taken", HookPoint::PostStorage, sh("true", &[])),
        HookSpec {
            member: Some("no-such-vm".into()),
            ..spec("stranger", HookPoint::AfterBoot, sh("true", &[]))
        },
        spec("no-member", HookPoint::AfterBoot, sh("true", &[])),
        HookSpec {
            applies_to: HookAppliesTo::Failover,
            undo: Some(sh("true", &[])),
            ..spec("undo", HookPoint::PreStorage, sh("true", &[]))
        },
    ];
    for refused in refusals {
        let name = refused.name.clone();
        let e = env.engine.add_hook(GROUP, refused).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}: {e}");
        assert!(e.message().contains(&format!("'{name}'")), "{name}: {e}");
    }
    let (a, b) = groups(&env).await;
    assert_eq!(
        a.metadata.version,
        version + 1,
        "only the first hook was added"
    );
    assert_eq!(a, b);
    assert_eq!(
        env.engine
            .remove_hook(GROUP, "nope")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let removed = env.engine.remove_hook(GROUP, "taken").await.unwrap();
    assert_eq!(removed.name, "taken");
    assert!(env.engine.hooks(GROUP).await.unwrap().is_empty());
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    assert!(b.hooks.is_empty());
}

/// Records the URL calls and answers with `status`.
#[derive(Debug)]
struct Recorder {
    status: u16,
    calls: Mutex<Vec<(HookMethod, String, serde_json::Value)>>,
}

#[async_trait]
impl HookCaller for Recorder {
    async fn call(&self, request: &HookRequest) -> protector_core::Result<HookResponse> {
        self.calls.lock().unwrap().push((
            request.method,
            request.url.clone(),
            request.body.clone(),
        ));
        Ok(HookResponse {
            status: self.status,
            body_tail: "maintenance window closed".into(),
        })
    }
}

/// The engine of `env` with `caller` for URL hooks and command hooks allowed or not.
fn engine_with(env: &Env, caller: Arc<Recorder>, commands: bool) -> Protector {
    Protector::builder()
        .with_local_site("site-a")
        .with_store("site-a", env.store_a.clone())
        .with_store("site-b", env.store_b.clone())
        .with_connector(Arc::new(WithHookCaller {
            inner: Arc::new(env.sim.connector()),
            caller,
        }))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .with_command_hooks(commands)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_url_hook_posts_the_operation_and_its_status_decides() {
    let env = setup().await;
    let caller = Arc::new(Recorder {
        status: 503,
        calls: Mutex::new(Vec::new()),
    });
    let engine = engine_with(&env, caller.clone(), true);
    engine
        .add_hook(
            GROUP,
            HookSpec {
                on_failure: Some(HookFailure::Stop),
                ..spec(
                    "change-ticket",
                    HookPoint::PrePreparation,
                    HookAction::url("https://itsm.example/hooks?token=s3cret"),
                )
            },
        )
        .await
        .unwrap();
    let op = engine
        .failover(GROUP, FailoverRequest::planned(mappings()), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let message = op.error_message.clone().unwrap();
    assert!(
        message.contains("URL hook 'change-ticket' (pre-preparation) (POST https://itsm.example/hooks?…) answered status 503 (expected 200..=299): maintenance window closed"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    let calls = caller.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (method, url, body) = &calls[0];
    assert_eq!(*method, HookMethod::Post);
    assert_eq!(url, "https://itsm.example/hooks?token=s3cret");
    assert_eq!(body["PROTECTOR_OPERATION_ID"], op.id.to_string());
    assert_eq!(body["PROTECTOR_OPERATION_TYPE"], "failover");
    assert_eq!(body["PROTECTOR_TARGET_SITE"], "site-b");
    assert_eq!(body["PROTECTOR_PHASE"], "preparation");
}

#[tokio::test]
async fn an_engine_that_runs_no_commands_refuses_a_plan_with_a_command_hook() {
    let env = setup().await;
    let caller = Arc::new(Recorder {
        status: 200,
        calls: Mutex::new(Vec::new()),
    });
    let engine = engine_with(&env, caller, false);
    // Adding is allowed: the group may fail over from the other site's engine.
    engine
        .add_hook(GROUP, spec("cmd", HookPoint::PreStorage, sh("true", &[])))
        .await
        .unwrap();
    let e = engine
        .failover(GROUP, FailoverRequest::planned(mappings()), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        e.message()
            .contains("hook 'cmd' runs a command, but this engine does not run command hooks"),
        "{e}"
    );
    let (a, _) = groups(&env).await;
    assert_eq!(a.status, GroupStatus::Active);
    assert!(env.store_a.list_operations().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_hook_journaled_done_is_not_run_again_by_the_same_operation() {
    use protector_core::store::JournalEntry;

    let env = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let (done, started) = (dir.path().join("done"), dir.path().join("started"));
    for (name, file) in [("finished", &done), ("interrupted", &started)] {
        env.engine
            .add_hook(
                GROUP,
                spec(
                    name,
                    HookPoint::PostStorage,
                    sh("echo ran >> \"$1\"", &[file.to_str().unwrap()]),
                ),
            )
            .await
            .unwrap();
    }
    // What an interrupted run of this operation journaled: one hook finished, one started.
    let id = uuid::Uuid::new_v4();
    for (step, kind) in [
        ("hook:post-storage:finished", JournalKind::Intent),
        ("hook:post-storage:finished", JournalKind::Done),
        ("hook:post-storage:interrupted", JournalKind::Intent),
    ] {
        env.store_a
            .append_journal(&JournalEntry {
                operation_id: id,
                seq: 0,
                step: step.into(),
                kind,
                idempotency_key: format!("{id}:{step}"),
                detail: serde_json::json!({}),
                at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let plan = env
        .engine
        .plan_failover(
            GROUP,
            &FailoverRequest {
                operation_id: Some(id),
                ..FailoverRequest::planned(mappings())
            },
        )
        .await
        .unwrap();
    let op = env
        .engine
        .execute_failover(&plan, &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    assert_eq!(read(&done), "", "journaled done: not run again");
    assert_eq!(
        read(&started),
        "ran\n",
        "started but not finished: run again"
    );
}
