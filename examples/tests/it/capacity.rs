//! Issue 16, item 6, against both faces of the simulator: the target project's quotas are
//! checked when a failover is planned (a shortfall refuses it before anything changes,
//! unlimited passes), hypervisor capacity the credentials may not read is a warning, and the
//! members boot in their mapped availability zone.

use crate::common::{
    assert_completed, failover_mappings, setup, shape, Credentials, Face, GROUP, MEMBERS,
};

use protector_core::engine::{FailoverRequest, NoProgress, Severity};
use protector_core::model::GroupStatus;
use protector_core::ErrorKind;
use protector_mock::QuotaChange;

on_both_faces!(capacity_and_placement_are_checked_when_planning);

async fn capacity_and_placement_are_checked_when_planning(face: Face) {
    let env = setup(face).await;
    let project = env.sim.project_id("site-b", "production-project").unwrap();
    let limited = QuotaChange {
        instances: Some(2),
        ..QuotaChange::default()
    };
    env.sim
        .set_quota("site-b", "production-project", &limited)
        .unwrap();
    let request = FailoverRequest::planned(failover_mappings());

    let plan = env.engine.plan_failover(GROUP, &request).await.unwrap();
    let errors: Vec<_> = plan
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", plan.findings);
    assert_eq!(errors[0].code, "quota_exceeded");
    assert_eq!(
        errors[0].message,
        format!(
            "instances quota of project production-project ({project}) on site-b is too small: \
             the plan needs 3, 2 free (0 used of 2); raise it on site-b with \
             `openstack quota set --instances 3 {project}`"
        )
    );
    // The seeded admin may read the hypervisors: their capacity is enough, so no warning.
    assert!(
        !plan
            .findings
            .iter()
            .any(|f| f.code.starts_with("hypervisor")),
        "{:?}",
        plan.findings
    );

    let before = shape(&env.sim.inspect());
    let err = env
        .engine
        .failover(GROUP, request.clone(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.message()
            .contains("instances quota of project production-project"),
        "{err}"
    );
    assert_eq!(
        shape(&env.sim.inspect()),
        before,
        "a refused failover changed something"
    );
    for store in [&env.store_a, &env.store_b] {
        let group = store.list_groups().await.unwrap().remove(0);
        assert_eq!(group.status, GroupStatus::Active);
        assert!(group.active_operation_id.is_none());
        assert!(store.list_operations().await.unwrap().is_empty());
    }

    // A member of the project (not admin) cannot read the hypervisors: a warning, not a failure.
    let member = env.engine_as(Credentials::Cloud("member"));
    let plan = member.plan_failover(GROUP, &request).await.unwrap();
    let warning = plan
        .findings
        .iter()
        .find(|f| f.code == "hypervisor_capacity_not_checked")
        .unwrap_or_else(|| panic!("{:?}", plan.findings));
    assert_eq!(warning.severity, Severity::Warning);
    assert!(
        warning
            .message
            .starts_with("hypervisor capacity not checked: ")
            && warning.message.contains("os-hypervisors"),
        "{}",
        warning.message
    );

    // Unlimited passes; the members boot in the zone they are mapped to.
    let unlimited = QuotaChange {
        instances: Some(-1),
        ..QuotaChange::default()
    };
    env.sim
        .set_quota("site-b", "production-project", &unlimited)
        .unwrap();
    let mut mappings = failover_mappings();
    mappings
        .availability_zones
        .insert("nova".into(), "az-2".into());
    let op = env
        .engine
        .failover(GROUP, FailoverRequest::planned(mappings), &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    let clients_b = env.engine.clients("site-b").await.unwrap();
    for member in env.engine.members(GROUP).await.unwrap() {
        let server = clients_b
            .compute
            .get_server(&member.current.instance_id)
            .await
            .unwrap()
            .unwrap();
        assert!(MEMBERS.contains(&server.name.as_str()));
        assert_eq!(
            server.availability_zone.as_deref(),
            Some("az-2"),
            "{}",
            server.name
        );
    }
    env.shutdown().await;
}
