//! How many calls planning makes, counted by the engine's per-service gates
//! (`Protector::api_calls`): a failover plan's reads of Nova, Cinder and Neutron do not grow
//! with the group's members (one listing of the source servers, one read of each keypair and
//! of the target's inventory), and a site failover plan reads each site's inventory once,
//! whatever the number of groups. (Keystone round trips are counted over the wire in
//! `examples/tests/it/round_trips.rs`.)

use std::collections::BTreeMap;

use protector_core::engine::{
    AddMember, ApiService, CreateGroup, CreatePolicy, FailoverRequest, SiteFailoverRequest,
};
use protector_core::model::ReplicationType;
use protector_core::plan::FailoverMode;
use protector_core::Protector;
use protector_mock::NewServer;

use crate::common::{mappings, sites_only, Env};

/// Calls per (place, service) since the engine was built.
fn calls(engine: &Protector) -> BTreeMap<(String, ApiService), u64> {
    engine
        .api_calls()
        .into_iter()
        .map(|c| ((c.place, c.service), c.calls))
        .collect()
}

/// What happened between `before` and `after`: the calls to Nova, Cinder and Neutron of
/// each site, and to Keystone.
fn openstack_delta(
    before: &BTreeMap<(String, ApiService), u64>,
    after: &BTreeMap<(String, ApiService), u64>,
    services: &[ApiService],
) -> BTreeMap<(String, ApiService), u64> {
    after
        .iter()
        .filter(|((_, service), _)| services.contains(service))
        .map(|(key, n)| (key.clone(), n - before.get(key).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// A group `name` of `vms` new VMs on site-a (each with the seeded keypair), with its policy.
async fn group_of(env: &Env, name: &str, vms: usize, first_ip: usize) {
    env.engine
        .create_group(CreateGroup {
            name: name.into(),
            description: String::new(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    for i in 0..vms {
        let server = env
            .sim
            .add_server(&NewServer {
                site: "site-a".into(),
                name: format!("{name}-vm-{i}"),
                project: "production-project".into(),
                user: "admin".into(),
                flavor: "m1.large".into(),
                key_name: Some("ops-key".into()),
                nics: vec![(
                    "net-primary-web".into(),
                    format!("10.10.1.{}", first_ip + i),
                )],
                security_groups: vec!["default".into(), "web".into()],
                volumes: vec![("root".into(), 20, "replicated-ssd".into())],
            })
            .unwrap();
        env.engine
            .add_member(
                name,
                AddMember {
                    instance_id: server.id,
                },
            )
            .await
            .unwrap();
    }
    env.engine
        .create_policy(
            name,
            CreatePolicy {
                primary_array: env.sim.array_endpoint("site-a").unwrap(),
                secondary_array: env.sim.array_endpoint("site-b").unwrap(),
                pure_pg_name: format!("pg-{name}"),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await
        .unwrap();
}

const OPENSTACK: [ApiService; 3] = [
    ApiService::Compute,
    ApiService::BlockStorage,
    ApiService::Network,
];

/// The Nova, Cinder and Neutron calls of one failover plan of `group`.
async fn plan_calls(env: &Env, group: &str) -> BTreeMap<(String, ApiService), u64> {
    let before = calls(&env.engine);
    let plan = env
        .engine
        .plan_failover(group, &FailoverRequest::planned(mappings()))
        .await
        .unwrap();
    assert!(
        plan.findings
            .iter()
            .all(|f| f.severity != protector_core::engine::Severity::Error),
        "{:?}",
        plan.findings
    );
    openstack_delta(&before, &calls(&env.engine), &OPENSTACK)
}

#[tokio::test]
async fn a_failover_plan_reads_the_same_whatever_the_number_of_members() {
    let env = sites_only().await;
    group_of(&env, "two", 2, 150).await;
    group_of(&env, "six", 6, 160).await;
    let two = plan_calls(&env, "two").await;
    let six = plan_calls(&env, "six").await;
    assert_eq!(
        two, six,
        "calls per service of a plan of 2 and of 6 members"
    );
    // One listing of the source servers, nothing else on the source.
    assert_eq!(
        two.get(&("site-a".to_string(), ApiService::Compute)),
        Some(&1),
        "{two:?}"
    );
}

#[tokio::test]
async fn a_site_failover_plan_reads_each_inventory_once_for_all_its_groups() {
    let env = sites_only().await;
    group_of(&env, "g1", 2, 150).await;
    group_of(&env, "g2", 2, 160).await;
    group_of(&env, "g3", 2, 170).await;
    let site_plan = |groups: Vec<String>| {
        let engine = env.engine.clone();
        async move {
            let before = calls(&engine);
            let plan = engine
                .plan_site_failover_groups(
                    "site-a",
                    &SiteFailoverRequest {
                        mode: FailoverMode::Planned,
                        concurrency: 3,
                        groups,
                        operation_id: None,
                    },
                )
                .await
                .unwrap();
            (plan, openstack_delta(&before, &calls(&engine), &OPENSTACK))
        }
    };
    // One group alone, as the reference.
    let (one, single) = site_plan(vec!["g1".into()]).await;
    assert_eq!(one.groups.len(), 1);
    let (plan, site) = site_plan(Vec::new()).await;
    assert_eq!(plan.groups.len(), 3);
    // The target's inventory, quotas and zones once for the three groups: only the members'
    // own reads (none: keypairs and servers are read once per name and per project) repeat.
    assert_eq!(
        site, single,
        "a site failover plan of three groups reads like one group's plan"
    );
}
