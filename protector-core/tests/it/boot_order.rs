//! Boot order (issue 16 item 1): members get a priority (1-5) and dependencies; failover,
//! failback and drills boot their servers wave by wave, each wave ACTIVE on the target before
//! the next one's first server is created; a member whose dependency failed is not started;
//! orders the group cannot boot in are refused and change nothing.

use std::sync::Mutex;

use crate::common::{groups, mappings, planned_failover, setup, sites_only, Env};
use protector_core::engine::{
    AddMember, CreateGroup, FailbackRequest, MemberOrder, NoProgress, ProgressObserver,
    TestFailoverRequest,
};
use protector_core::model::{
    GroupStatus, MemberStatus, Operation, OperationStatus, ReplicationType, ResourceMappings,
};
use protector_core::store::JournalKind;
use protector_core::ErrorKind;

pub const GROUP: &str = "prod-web-app";

/// The tiers every test here uses: db first, web-server-1 after it (and depending on it),
/// web-server-2 last.
pub const TIERS: [(&str, u8); 3] = [("db-server-1", 1), ("web-server-1", 2), ("web-server-2", 3)];

fn order(priority: u8, depends_on: &[&str]) -> MemberOrder {
    MemberOrder {
        priority: Some(priority),
        depends_on: Some(depends_on.iter().map(|d| (*d).to_string()).collect()),
    }
}

/// Sets [`TIERS`] on the group, web-server-1 depending on db-server-1.
pub async fn tier(env: &Env) {
    for (name, priority) in TIERS {
        let depends_on: &[&str] = if name == "web-server-1" {
            &["db-server-1"]
        } else {
            &[]
        };
        env.engine
            .set_member_order(GROUP, name, order(priority, depends_on))
            .await
            .unwrap();
    }
}

/// The waves of `op`, as (priority, members).
fn waves(op: &Operation) -> Vec<(u8, Vec<String>)> {
    op.boot_waves
        .iter()
        .map(|w| (w.priority, w.members.clone()))
        .collect()
}

fn expected_waves() -> Vec<(u8, Vec<String>)> {
    TIERS
        .iter()
        .map(|(name, priority)| (*priority, vec![(*name).to_string()]))
        .collect()
}

/// Watches a run: whenever a wave starts, every server of the earlier waves must already be
/// ACTIVE on `site` and none of this wave's may exist yet (`prefix` + instance name).
struct WaveWatcher<'a> {
    env: &'a Env,
    site: &'static str,
    prefix: &'static str,
    seen: Mutex<Vec<String>>,
    violations: Mutex<Vec<String>>,
}

impl<'a> WaveWatcher<'a> {
    fn new(env: &'a Env, site: &'static str, prefix: &'static str) -> Self {
        WaveWatcher {
            env,
            site,
            prefix,
            seen: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
        }
    }

    /// The checks made (one per wave start) and what they found wrong.
    fn result(&self) -> (Vec<String>, Vec<String>) {
        (
            self.seen.lock().unwrap().clone(),
            self.violations.lock().unwrap().clone(),
        )
    }
}

impl ProgressObserver for WaveWatcher<'_> {
    fn on_update(&self, op: &Operation) {
        let Some((index, wave)) = op
            .boot_waves
            .iter()
            .enumerate()
            .find(|(_, w)| w.finished_at.is_none())
        else {
            return;
        };
        let key = format!("{}.{}", wave.priority, wave.level);
        if self.seen.lock().unwrap().contains(&key) {
            return;
        }
        self.seen.lock().unwrap().push(key.clone());
        let inventory = self.env.sim.inspect();
        let servers = &inventory.sites[self.site].servers;
        let mut violations = self.violations.lock().unwrap();
        for earlier in &op.boot_waves[..index] {
            for name in &earlier.members {
                let wanted = format!("{}{name}", self.prefix);
                if !servers
                    .iter()
                    .any(|s| s.name == wanted && s.status == "ACTIVE")
                {
                    violations.push(format!(
                        "wave {key} started before {wanted} was ACTIVE on {}",
                        self.site
                    ));
                }
            }
        }
        for name in &wave.members {
            let wanted = format!("{}{name}", self.prefix);
            // A failback starts the stopped original again: it exists, but is not ACTIVE.
            if servers
                .iter()
                .any(|s| s.name == wanted && s.status == "ACTIVE")
            {
                violations.push(format!(
                    "{wanted} was ACTIVE on {} before its wave {key} started",
                    self.site
                ));
            }
        }
    }
}

/// In the journal of `op`, each server's create (or start) comes after the previous wave
/// ended (`boot_wave:<p>.<l>` done).
async fn assert_journal_order(env: &Env, op: &Operation, step_prefix: &str, name_prefix: &str) {
    let journal = env.store_a.list_journal(&op.id).await.unwrap();
    let seq_of = |step: &str, kind: JournalKind| {
        journal
            .iter()
            .find(|e| e.step == step && e.kind == kind)
            .map(|e| e.seq)
            .unwrap_or_else(|| panic!("no {kind:?} entry for {step} in the journal"))
    };
    for pair in op.boot_waves.windows(2) {
        let done = seq_of(
            &format!("boot_wave:{}.{}", pair[0].priority, pair[0].level + 1),
            JournalKind::Done,
        );
        for name in &pair[1].members {
            let created = seq_of(
                &format!("{step_prefix}:{name_prefix}{name}"),
                JournalKind::Intent,
            );
            assert!(
                created > done,
                "{name} was requested (seq {created}) before the wave before it ended (seq {done})"
            );
        }
    }
}

#[tokio::test]
async fn a_failover_boots_tier_by_tier_each_active_before_the_next() {
    let env = setup().await;
    tier(&env).await;
    let plan = env
        .engine
        .plan_failover(
            GROUP,
            &protector_core::engine::FailoverRequest::planned(mappings()),
        )
        .await
        .unwrap();
    let planned: Vec<(u8, Vec<String>)> = plan
        .boot_order
        .iter()
        .map(|w| (w.priority, w.members.clone()))
        .collect();
    assert_eq!(planned, expected_waves());
    let web1 = plan
        .members
        .iter()
        .find(|m| m.instance_name == "web-server-1")
        .unwrap();
    let db = plan
        .members
        .iter()
        .find(|m| m.instance_name == "db-server-1")
        .unwrap();
    assert_eq!(
        (web1.priority, web1.depends_on.clone()),
        (2, vec![db.member_id])
    );

    let watcher = WaveWatcher::new(&env, "site-b", "");
    let op = env
        .engine
        .failover(
            GROUP,
            protector_core::engine::FailoverRequest::planned(mappings()),
            &watcher,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:#?}");
    assert_eq!(waves(&op), expected_waves());
    let (seen, violations) = watcher.result();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(violations.is_empty(), "{violations:#?}");
    assert_journal_order(&env, &op, "create_server", "").await;
    // The step names of the spec stay.
    for step in ["create_instances_site_b", "verify_instances"] {
        assert!(op.steps_completed.iter().any(|s| s == step), "{step}");
    }
    // Every server runs on site-b; the simulator lists them in creation order: by tier.
    let inventory = env.sim.inspect();
    let names: Vec<&str> = inventory.sites["site-b"]
        .servers
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["db-server-1", "web-server-1", "web-server-2"]);
}

#[tokio::test]
async fn a_member_whose_dependency_failed_is_not_started_and_later_tiers_still_boot() {
    let env = setup().await;
    tier(&env).await;
    env.sim
        .fail_server_boot("site-b", "db-server-1", "No valid host was found")
        .unwrap();
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Partial, "{op:#?}");
    assert_eq!(op.boot_waves[0].failed, ["db-server-1"]);
    assert_eq!(op.boot_waves[1].not_started, ["web-server-1"]);
    assert!(op.boot_waves[1].members.is_empty());
    assert_eq!(op.boot_waves[2].members, ["web-server-2"]);

    let members = env.engine.members(GROUP).await.unwrap();
    let web1 = members
        .iter()
        .find(|m| m.instance_name == "web-server-1")
        .unwrap();
    assert_eq!(web1.status, MemberStatus::Error);
    let why = web1.error_message.clone().unwrap();
    assert!(
        why.starts_with(
            "not started: it depends on db-server-1, which failed: instance went to ERROR"
        ),
        "{why}"
    );
    // Never created on site-b, restored on site-a; the tier after it runs on site-b.
    let inventory = env.sim.inspect();
    let on = |site: &str, name: &str| {
        inventory.sites[site]
            .servers
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.status.clone())
            .collect::<Vec<_>>()
    };
    assert!(on("site-b", "web-server-1").is_empty());
    assert!(on("site-b", "db-server-1").is_empty());
    assert_eq!(on("site-a", "web-server-1"), ["ACTIVE"]);
    assert_eq!(on("site-a", "db-server-1"), ["ACTIVE"]);
    assert_eq!(on("site-b", "web-server-2"), ["ACTIVE"]);
    let (a, b) = groups(&env).await;
    assert_eq!(a.status, GroupStatus::FailedOverPartial);
    assert_eq!(b.status, GroupStatus::FailedOverPartial);
}

#[tokio::test]
async fn a_drill_and_a_failback_follow_the_boot_order() {
    let env = setup().await;
    tier(&env).await;
    // The drill: test copies on site-b's isolated network, from the replicated snapshot.
    env.sim.tick(320).unwrap();
    let request = TestFailoverRequest {
        mappings: ResourceMappings {
            networks: ResourceMappings::parse_pairs(
                "network",
                ["net-primary-web=dr-test-net net-primary-db=dr-test-net"],
            )
            .unwrap(),
            flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
            ..ResourceMappings::default()
        },
        operation_id: None,
        recovery_point: None,
    };
    let plan = env
        .engine
        .plan_test_failover(GROUP, &request)
        .await
        .unwrap();
    assert_eq!(plan.boot_order.len(), 3);
    let watcher = WaveWatcher::new(&env, "site-b", "test-");
    let drill = env
        .engine
        .test_failover(GROUP, request, &watcher)
        .await
        .unwrap();
    assert_eq!(drill.status, OperationStatus::Completed, "{drill:#?}");
    assert_eq!(waves(&drill), expected_waves());
    let (seen, violations) = watcher.result();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(violations.is_empty(), "{violations:#?}");
    assert_journal_order(&env, &drill, "create_server", "test-").await;
    env.engine
        .test_failover_cleanup(GROUP, None, &NoProgress)
        .await
        .unwrap();

    // The failback, after a failover: the originals on site-a start tier by tier.
    planned_failover(&env).await.unwrap();
    let request = FailbackRequest::default();
    let plan = env.engine.plan_failback(GROUP, &request).await.unwrap();
    let planned: Vec<(u8, Vec<String>)> = plan
        .boot_order
        .iter()
        .map(|w| (w.priority, w.members.clone()))
        .collect();
    assert_eq!(planned, expected_waves());
    let watcher = WaveWatcher::new(&env, "site-a", "");
    let op = env.engine.failback(GROUP, request, &watcher).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:#?}");
    assert_eq!(waves(&op), expected_waves());
    let (seen, violations) = watcher.result();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(violations.is_empty(), "{violations:#?}");
    assert_journal_order(&env, &op, "start_server", "").await;
}

/// The group on both sites: members and metadata version.
async fn both_sites(env: &Env) -> serde_json::Value {
    let (a, b) = groups(env).await;
    let members_a = env.store_a.list_members(&a.id).await.unwrap();
    let members_b = env.store_b.list_members(&b.id).await.unwrap();
    serde_json::json!({
        "versions": [a.metadata.version, b.metadata.version],
        "members": [members_a, members_b],
    })
}

#[tokio::test]
async fn orders_the_group_cannot_boot_in_are_refused_and_change_nothing() {
    let env = setup().await;
    tier(&env).await;
    let before = both_sites(&env).await;
    let refused: [(&str, MemberOrder, ErrorKind, &str); 7] = [
        (
            "db-server-1",
            order(0, &[]),
            ErrorKind::InvalidInput,
            "outside 1-5",
        ),
        (
            "db-server-1",
            order(6, &[]),
            ErrorKind::InvalidInput,
            "outside 1-5",
        ),
        (
            "web-server-2",
            order(3, &["no-such-vm"]),
            ErrorKind::InvalidInput,
            "'no-such-vm' is not a member",
        ),
        (
            "web-server-2",
            order(3, &["web-server-2"]),
            ErrorKind::InvalidInput,
            "cannot depend on itself",
        ),
        // db boots first: depending on the last tier would have it wait for a later wave.
        (
            "db-server-1",
            order(1, &["web-server-2"]),
            ErrorKind::InvalidInput,
            "raise the priority of web-server-2",
        ),
        // web-server-1 (priority 2) depends on db; db depending on web-server-1 at the same
        // priority closes a cycle.
        (
            "db-server-1",
            order(2, &["web-server-1"]),
            ErrorKind::InvalidInput,
            "form a cycle",
        ),
        (
            "no-such-member",
            order(1, &[]),
            ErrorKind::NotFound,
            "not found",
        ),
    ];
    for (member, order, kind, needle) in refused {
        let err = env
            .engine
            .set_member_order(GROUP, member, order.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{member} {order:?}: {err}");
        assert!(err.message().contains(needle), "'{err}' lacks '{needle}'");
        assert_eq!(
            both_sites(&env).await,
            before,
            "{member} {order:?} changed something"
        );
    }
    // Lowering db-server-1 to priority 3 leaves web-server-1 (priority 2) depending on a
    // later tier: refused too.
    let err = env
        .engine
        .set_member_order(
            GROUP,
            "db-server-1",
            MemberOrder {
                priority: Some(3),
                depends_on: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.message().contains("web-server-1 (priority 2)"), "{err}");
    // Removing a member another depends on: refused, naming the dependent.
    let err = env
        .engine
        .remove_member(GROUP, &db_id(&env).await)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(
        err.message().contains("web-server-1 depends on it"),
        "{err}"
    );
    assert_eq!(both_sites(&env).await, before);

    // A valid change bumps the version once, on both sites alike.
    let member = env
        .engine
        .set_member_order(
            GROUP,
            "web-server-1",
            MemberOrder {
                priority: None,
                depends_on: Some(Vec::new()),
            },
        )
        .await
        .unwrap();
    assert!(member.depends_on.is_empty());
    assert_eq!(member.priority, 2);
    let after = both_sites(&env).await;
    let version = before["versions"][0].as_u64().unwrap();
    assert_eq!(
        after["versions"],
        serde_json::json!([version + 1, version + 1])
    );
    assert_eq!(after["members"][0], after["members"][1]);
    // Now nothing depends on db-server-1: it can leave.
    env.engine
        .remove_member(GROUP, &db_id(&env).await)
        .await
        .unwrap();
}

async fn db_id(env: &Env) -> String {
    env.engine
        .members(GROUP)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.instance_name == "db-server-1")
        .unwrap()
        .id
        .to_string()
}

#[tokio::test]
async fn member_add_takes_an_order_and_refuses_a_bad_one_before_anything_changes() {
    let env = sites_only().await;
    env.engine
        .create_group(CreateGroup {
            name: GROUP.into(),
            description: String::new(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    let id = |name: &str| env.sim.find_server("site-a", name).unwrap().id;
    let db = env
        .engine
        .add_member_ordered(
            GROUP,
            AddMember {
                instance_id: id("db-server-1"),
            },
            order(1, &[]),
        )
        .await
        .unwrap();
    assert_eq!(db.priority, 1);
    let before = both_sites(&env).await;
    let world = crate::common::shape(&env.sim.inspect());
    for (bad, needle) in [
        (order(2, &["web-server-9"]), "not a member"),
        (order(7, &[]), "outside 1-5"),
    ] {
        let err = env
            .engine
            .add_member_ordered(
                GROUP,
                AddMember {
                    instance_id: id("web-server-1"),
                },
                bad,
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains(needle), "{err}");
        assert_eq!(both_sites(&env).await, before);
        assert_eq!(crate::common::shape(&env.sim.inspect()), world);
    }
    let web = env
        .engine
        .add_member_ordered(
            GROUP,
            AddMember {
                instance_id: id("web-server-1"),
            },
            order(2, &["db-server-1"]),
        )
        .await
        .unwrap();
    assert_eq!((web.priority, web.depends_on.clone()), (2, vec![db.id]));
    // Without an order: SRM's middle priority, no dependencies.
    let plain = env
        .engine
        .add_member(
            GROUP,
            AddMember {
                instance_id: id("web-server-2"),
            },
        )
        .await
        .unwrap();
    assert_eq!((plain.priority, plain.depends_on.len()), (3, 0));
}

#[tokio::test]
async fn records_written_before_priorities_load_with_priority_three() {
    let env = setup().await;
    let (group, _) = groups(&env).await;
    let mut member =
        serde_json::to_value(env.store_a.list_members(&group.id).await.unwrap().remove(0)).unwrap();
    let object = member.as_object_mut().unwrap();
    object.remove("priority");
    object.remove("depends_on");
    let old: protector_core::model::Member = serde_json::from_value(member).unwrap();
    assert_eq!((old.priority, old.depends_on.len()), (3, 0));
}
