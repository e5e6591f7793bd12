//! Tenant isolation (issue 10): a user of another project cannot see or touch a protection
//! group, from either site, through any group command of the engine; a refusal reads like a
//! group that does not exist and changes nothing on either site or either store. An admin
//! sees every group; the owning project keeps working.

use std::sync::Arc;

use crate::common::{mappings, planned_failover, setup, shape, Env};
use async_trait::async_trait;

use protector_core::api::{ArrayApi, Connector, SiteClients};
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, EngineOptions, FailbackRequest, FailoverRequest,
    NoProgress, PollPolicy, SiteFailoverRequest, TestFailoverRequest,
};
use protector_core::model::{ArrayEndpoint, Operation, ReplicationType, ResourceMappings, Site};
use protector_core::plan::FailoverMode;
use protector_core::store::Store;
use protector_core::{Error, ErrorKind, Protector, Result};
use protector_mock::SimConnector;

const GROUP: &str = "prod-web-app";

/// Clients of the simulator with the clouds.yaml entry `<site>-<suffix>` for every site.
#[derive(Debug)]
struct AsCloud {
    inner: SimConnector,
    suffix: &'static str,
}

#[async_trait]
impl Connector for AsCloud {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        let mut site = site.clone();
        site.cloud = Some(format!("{}-{}", site.name, self.suffix));
        self.inner.site(&site).await
    }

    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        let mut site = site.clone();
        site.cloud = Some(format!("{}-{}", site.name, self.suffix));
        self.inner.site_for_project(&site, project_id).await
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        self.inner.array(endpoint).await
    }
}

/// An engine standing on `local` over the same stores, as the clouds.yaml entries
/// `<site>-<suffix>` (`tenant2`: tenant2-user, member of tenant2; `member`: member-user of
/// production-project, not admin).
fn engine_as(env: &Env, local: &str, suffix: &'static str) -> Protector {
    Protector::builder()
        .with_local_site(local)
        .with_store("site-a", env.store_a.clone())
        .with_store("site-b", env.store_b.clone())
        .with_connector(Arc::new(AsCloud {
            inner: env.sim.connector(),
            suffix,
        }))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap()
}

/// Everything a store holds about groups: each group with its members, policy, mappings,
/// sync state and sync log; the operations with their journals; the tenant mappings.
async fn store_state(store: &Arc<dyn Store>) -> serde_json::Value {
    let mut groups = Vec::new();
    for g in store.list_groups().await.unwrap() {
        groups.push(serde_json::json!({
            "group": g,
            "members": store.list_members(&g.id).await.unwrap(),
            "policy": store.get_policy(&g.id).await.unwrap(),
            "mappings": store.list_mappings(&g.id).await.unwrap(),
            "sync_state": store.get_sync_state(&g.id).await.unwrap(),
            "sync_log": store.list_sync_log(&g.id, 1000).await.unwrap(),
        }));
    }
    let mut operations = Vec::new();
    for op in store.list_operations().await.unwrap() {
        operations.push(serde_json::json!({
            "journal": store.list_journal(&op.id).await.unwrap(),
            "operation": op,
        }));
    }
    serde_json::json!({
        "groups": groups,
        "operations": operations,
        "tenant_mappings": store.list_tenant_mappings().await.unwrap(),
    })
}

/// Both sites (without what moves on its own) and both stores.
async fn world(env: &Env) -> serde_json::Value {
    serde_json::json!({
        "sim": shape(&env.sim.inspect()),
        "site-a": store_state(&env.store_a).await,
        "site-b": store_state(&env.store_b).await,
    })
}

/// Asserts that `result` is the refusal of a group that does not exist: `NotFound` with the
/// very message a missing group named `name` gets from `engine`.
async fn assert_hidden<T: std::fmt::Debug>(
    engine: &Protector,
    what: &str,
    name: &str,
    result: std::result::Result<T, Error>,
) {
    let missing = engine
        .group("no-such-group")
        .await
        .expect_err("no such group")
        .message()
        .replace("no-such-group", name);
    match result {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::NotFound, "{what}: {e}");
            assert_eq!(e.message(), missing, "{what}");
        }
        Ok(v) => panic!("{what} was allowed for another project's group: {v:?}"),
    }
}

/// The production group failed over by its admin (an operation exists, a failback is due),
/// and tenant2's own group on its seeded VM, created by tenant2-user.
async fn two_tenants() -> (Env, Operation) {
    let env = setup().await;
    let op = planned_failover(&env).await.unwrap();
    let tenant2 = engine_as(&env, "site-a", "tenant2");
    tenant2
        .create_group(CreateGroup {
            name: "t2-app-group".into(),
            description: "tenant2's app".into(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    let vm = env.sim.find_server("site-a", "t2-app").unwrap().id;
    tenant2
        .add_member("t2-app-group", AddMember { instance_id: vm })
        .await
        .unwrap();
    (env, op)
}

fn names(groups: &[protector_core::model::ProtectionGroup]) -> Vec<&str> {
    let mut names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn every_group_command_of_a_tenant2_user_on_the_production_group_reads_not_found_and_changes_nothing(
) {
    let (env, failover_op) = two_tenants().await;
    let prod = env.engine.group(GROUP).await.unwrap();
    let id = prod.id.to_string();
    let prod_vm = env.sim.find_server("site-b", "web-server-1").unwrap().id;
    let member_id = env.engine.members(GROUP).await.unwrap()[0].id.to_string();
    // Plans the admin may make, handed to tenant2's engine.
    let failback_plan = env
        .engine
        .plan_failback(GROUP, &FailbackRequest::default())
        .await
        .unwrap();
    let before = world(&env).await;

    for local in ["site-a", "site-b"] {
        let t2 = engine_as(&env, local, "tenant2");
        assert_eq!(
            names(&t2.groups().await.unwrap()),
            ["t2-app-group"],
            "{local}"
        );
        for name in [GROUP, id.as_str()] {
            let h = |what: &str| format!("{what} {name} from {local}");
            assert_hidden(&t2, &h("show"), name, t2.group(name).await).await;
            assert_hidden(&t2, &h("member-list"), name, t2.members(name).await).await;
            let add = AddMember {
                instance_id: prod_vm.clone(),
            };
            assert_hidden(&t2, &h("member-add"), name, t2.add_member(name, add).await).await;
            let removed = t2.remove_member(name, &member_id).await;
            assert_hidden(&t2, &h("member-remove"), name, removed).await;
            let policy = CreatePolicy {
                primary_array: env.sim.array_endpoint("site-a").unwrap(),
                secondary_array: env.sim.array_endpoint("site-b").unwrap(),
                pure_pg_name: "pg-stolen".into(),
                replication_interval_secs: 60,
                rpo_minutes: 5,
            };
            let created = t2.create_policy(name, policy).await;
            assert_hidden(&t2, &h("policy-create"), name, created).await;
            assert_hidden(&t2, &h("policy show"), name, t2.policy(name).await).await;
            for replace in [false, true] {
                for from in ["site-a", "site-b"] {
                    // The production web tier onto the db network: what the issue saw.
                    let wrong = ResourceMappings {
                        networks: ResourceMappings::parse_pairs(
                            "network",
                            ["net-primary-web=net-secondary-db"],
                        )
                        .unwrap(),
                        ..ResourceMappings::default()
                    };
                    let set = t2.set_mappings(name, from, wrong, replace).await;
                    assert_hidden(&t2, &h("mapping-set"), name, set).await;
                }
            }
            assert_hidden(&t2, &h("mapping-list"), name, t2.mappings(name).await).await;
            let status = t2.sync_status(name).await;
            assert_hidden(&t2, &h("sync-status"), name, status).await;
            assert_hidden(&t2, &h("sync-force"), name, t2.sync_force(name).await).await;
            assert_hidden(&t2, &h("sync-log"), name, t2.sync_log(name, 10).await).await;
            let cg = t2.consistency_group(name).await;
            assert_hidden(&t2, &h("consistency-group"), name, cg).await;
            assert_hidden(&t2, &h("fence"), name, t2.fence(name).await).await;
            let planned = FailoverRequest::planned(mappings());
            let plan = t2.plan_failover(name, &planned).await;
            assert_hidden(&t2, &h("failover plan"), name, plan).await;
            let failover = t2.failover(name, planned, &NoProgress).await;
            assert_hidden(&t2, &h("failover"), name, failover).await;
            let unplanned = FailoverRequest {
                mode: FailoverMode::Unplanned,
                ..FailoverRequest::planned(mappings())
            };
            let failover = t2.failover(name, unplanned, &NoProgress).await;
            assert_hidden(&t2, &h("unplanned failover"), name, failover).await;
            let plan = t2.plan_failback(name, &FailbackRequest::default()).await;
            assert_hidden(&t2, &h("failback plan"), name, plan).await;
            let failback = t2
                .failback(name, FailbackRequest::default(), &NoProgress)
                .await;
            assert_hidden(&t2, &h("failback"), name, failback).await;
            let drill = TestFailoverRequest {
                mappings: mappings(),
                operation_id: None,
                recovery_point: None,
            };
            let drill = t2.test_failover(name, drill, &NoProgress).await;
            assert_hidden(&t2, &h("test failover"), name, drill).await;
            let cleanup = t2.test_failover_cleanup(name, None, &NoProgress).await;
            assert_hidden(&t2, &h("test failover cleanup"), name, cleanup).await;
            assert_hidden(&t2, &h("delete"), name, t2.delete_group(name).await).await;
        }
        // Adding a production VM to tenant2's own group does not name the production group.
        let add = AddMember {
            instance_id: prod_vm.clone(),
        };
        let e = t2.add_member("t2-app-group", add).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
        assert!(!e.message().contains(GROUP), "{e}");

        // A plan made by someone who may is still refused when tenant2 runs it.
        let plan_id = failback_plan.group_id.to_string();
        let validated = t2.validate_plan(&failback_plan).await;
        assert_hidden(&t2, "validate a plan", &plan_id, validated).await;
        let executed = t2.execute_failover(&failback_plan, &NoProgress).await;
        assert_hidden(&t2, "execute a plan", &plan_id, executed).await;

        // Operations of the production group: not listed, not shown, not recovered.
        let listed = t2.operations().await.unwrap();
        assert!(
            listed.iter().all(|op| op.group_id != Some(prod.id)),
            "{local}: {listed:?}"
        );
        let op_id = format!("op-{}", failover_op.id);
        let missing_id = format!("op-{}", uuid::Uuid::new_v4());
        let missing = t2.operation(&missing_id).await.unwrap_err();
        for result in [
            t2.operation(&op_id).await,
            t2.recover_operation(&op_id).await,
        ] {
            let e = result.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
            assert_eq!(e.message(), missing.message().replace(&missing_id, &op_id));
        }

        // Site failover keeps its own rule: the dr_site_admin role.
        let site = t2
            .site_failover(
                "site-a",
                SiteFailoverRequest {
                    mode: FailoverMode::Planned,
                    concurrency: 2,
                    groups: vec![GROUP.into()],
                    operation_id: None,
                },
                &NoProgress,
            )
            .await
            .unwrap_err();
        assert_eq!(site.kind(), ErrorKind::PermissionDenied, "{site}");

        // A tenant mapping that would hand tenant2 the production project's groups.
        let prod_a = env.sim.project_id("site-a", "production-project").unwrap();
        let prod_b = env.sim.project_id("site-b", "production-project").unwrap();
        let t2_a = env.sim.project_id("site-a", "tenant2").unwrap();
        let t2_b = env.sim.project_id("site-b", "tenant2").unwrap();
        // Production's project here onto tenant2's there, and tenant2's own here onto
        // production's there: both need the admin role.
        let (remote, attempts) = if local == "site-a" {
            ("site-b", [(&prod_a, &t2_b), (&t2_a, &prod_b)])
        } else {
            ("site-a", [(&prod_b, &t2_a), (&t2_b, &prod_a)])
        };
        for (local_tenant, remote_tenant) in attempts {
            let e = t2
                .create_tenant_mapping(local_tenant, remote, remote_tenant, "stolen")
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        }
    }

    assert_eq!(
        world(&env).await,
        before,
        "a refused command changed something"
    );
}

#[tokio::test]
async fn an_admin_sees_every_group_and_each_tenant_sees_and_uses_its_own() {
    let (env, failover_op) = two_tenants().await;
    let t2_group = env.engine.group("t2-app-group").await.unwrap();
    assert_eq!(
        t2_group.project_id,
        env.sim.project_id("site-a", "tenant2").unwrap()
    );
    assert_eq!(t2_group.project_name, "tenant2");

    // The admin (the seeded `admin` of production-project, with the admin role), both sites.
    for local in ["site-a", "site-b"] {
        let admin = env.engine.on_site(local).unwrap();
        assert_eq!(
            names(&admin.groups().await.unwrap()),
            ["prod-web-app", "t2-app-group"],
            "{local}"
        );
        admin.group("t2-app-group").await.unwrap();
        admin.sync_status("t2-app-group").await.unwrap();
        assert!(admin
            .operations()
            .await
            .unwrap()
            .iter()
            .any(|op| op.id == failover_op.id));
    }
    env.engine
        .operation(&failover_op.id.to_string())
        .await
        .unwrap();

    // production-project's member (no admin role): its group, not tenant2's, from both sites
    // (site-b knows the project by its name: no tenant mapping pairs it).
    for local in ["site-a", "site-b"] {
        let member = engine_as(&env, local, "member");
        assert_eq!(names(&member.groups().await.unwrap()), [GROUP], "{local}");
        member.members(GROUP).await.unwrap();
        assert!(member.sync_status(GROUP).await.unwrap().in_sync);
        member.operation(&failover_op.id.to_string()).await.unwrap();
        let e = member.group("t2-app-group").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    }

    // tenant2 uses its own group from both sites, and may map its own project.
    for local in ["site-a", "site-b"] {
        let t2 = engine_as(&env, local, "tenant2");
        assert_eq!(t2.members("t2-app-group").await.unwrap().len(), 1);
        assert!(t2.sync_status("t2-app-group").await.unwrap().in_sync);
    }
    let t2 = engine_as(&env, "site-a", "tenant2");
    t2.set_mappings(
        "t2-app-group",
        "site-a",
        ResourceMappings {
            networks: ResourceMappings::parse_pairs(
                "network",
                ["net-primary-web=net-secondary-web"],
            )
            .unwrap(),
            ..ResourceMappings::default()
        },
        false,
    )
    .await
    .unwrap();
    let t2_a = env.sim.project_id("site-a", "tenant2").unwrap();
    let t2_b = env.sim.project_id("site-b", "tenant2").unwrap();
    t2.create_tenant_mapping(&t2_a, "site-b", &t2_b, "tenant2 on both sites")
        .await
        .unwrap();
    assert_eq!(t2.tenant_mappings().await.unwrap().len(), 1);
    // Mapped now: on site-b tenant2's group belongs to the mapped project.
    let on_b = engine_as(&env, "site-b", "tenant2");
    assert_eq!(names(&on_b.groups().await.unwrap()), ["t2-app-group"]);
    // production-project's member does not see tenant2's mapping.
    let member = engine_as(&env, "site-a", "member");
    assert!(member.tenant_mappings().await.unwrap().is_empty());
    t2.delete_group("t2-app-group").await.unwrap();
    assert!(env.store_b.get_group(&t2_group.id).await.unwrap().is_none());
}
