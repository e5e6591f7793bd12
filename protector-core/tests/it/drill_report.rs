//! The report of a real DR drill on the in-process simulator: JSON with every test instance's
//! boot time, the timeline in order, the checks and the recovery point; the same as HTML
//! (escaped, well-formed); still available after the cleanup; `NotFound` without a drill.

use crate::common::{assert_completed, setup, Env};

use protector_core::engine::{CheckOutcome, DrillReport, NoProgress, TestFailoverRequest};
use protector_core::model::{OperationStatus, ResourceMappings};
use protector_core::ErrorKind;

const GROUP: &str = "prod-web-app";

fn request() -> TestFailoverRequest {
    TestFailoverRequest {
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
    }
}

async fn drilled() -> (Env, uuid::Uuid) {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let op = env
        .engine
        .test_failover(GROUP, request(), &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    (env, op.id)
}

/// Every element opened is closed, in order (void elements aside), and no raw `<`/`&` is left
/// in text: enough to say a page is well-formed.
pub fn assert_well_formed(html: &str) {
    const VOID: [&str; 2] = ["meta", "br"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = html.strip_prefix("<!DOCTYPE html>").expect("a doctype");
    while let Some(start) = rest.find('<') {
        let text = &rest[..start];
        assert!(!text.contains('>'), "a raw '>' in text: {text}");
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "a raw '&' in text: {text}"
            );
        }
        let end = rest[start..].find('>').expect("a tag is closed") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "closing {name}");
        } else {
            let name = tag.split_whitespace().next().unwrap().to_string();
            if !VOID.contains(&name.as_str()) {
                open.push(name);
            }
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

fn assert_complete(report: &DrillReport) {
    assert_eq!(report.group, GROUP);
    assert_eq!(report.source_site, "site-a");
    assert_eq!(report.drill_site, "site-b");
    assert_eq!(report.run_from_site.as_deref(), Some("site-a"));
    assert_eq!(report.status, OperationStatus::Completed);
    // Every member, each with a boot time.
    assert_eq!(report.instances.len(), 3, "{:#?}", report.instances);
    for instance in &report.instances {
        assert_eq!(instance.status, "ACTIVE");
        assert_eq!(
            instance.server_name,
            format!("test-{}", instance.instance_name)
        );
        assert!(instance.server_id.is_some());
        let boot = instance.boot_secs.expect("a boot time");
        assert!(boot >= 0.0);
        assert!(instance.boot_requested_at.unwrap() <= instance.active_at.unwrap());
    }
    // Every step of the drill, in order, each ending after it began.
    let steps: Vec<&str> = report.timeline.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        steps,
        [
            "validate_sites",
            "create_test_record",
            "identify_snapshot",
            "create_volumes_site_b",
            "manage_volumes_site_b",
            "create_ports_site_b",
            "create_instances_site_b",
            "verify_instances",
            "update_protection_group"
        ]
    );
    let mut previous = report.started_at;
    for step in &report.timeline {
        assert_eq!(step.status, "done", "{step:?}");
        let end = step.completed_at.unwrap();
        assert!(
            previous <= step.started_at && step.started_at <= end,
            "{step:?}"
        );
        previous = step.started_at;
    }
    let point = report.recovery_point.as_ref().expect("a recovery point");
    assert!(point.snapshot.contains("pg"), "{point:?}");
    assert!(point.created_at.is_some());
    assert!(point.age_secs.unwrap() >= 0);
    let checks: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    for wanted in [
        "group_state",
        "networks_isolated",
        "recovery_point_complete",
        "recorded_on_both_sites",
        "instances_active",
    ] {
        assert!(checks.contains(&wanted), "{wanted} in {checks:?}");
    }
    assert!(report
        .checks
        .iter()
        .all(|c| c.outcome != CheckOutcome::Failed));
    let rto = report.rto.achieved_secs.expect("an RTO");
    assert!(rto >= 0.0);
    // The drill's plan estimated its recovery time (defaults: no earlier drill into site-b).
    let estimate = report.rto.estimated_secs.expect("the plan's estimate");
    assert!(estimate > 0);
    assert!(
        report
            .rto
            .summary
            .contains(&format!("the estimate of {estimate} s")),
        "{}",
        report.rto.summary
    );
    assert_eq!(report.notes, Vec::<String>::new());
}

#[tokio::test]
async fn a_real_drill_is_reported_in_json_and_html_also_after_its_cleanup() {
    let (env, drill_id) = drilled().await;
    let report = env.engine.drill_report(GROUP, None).await.unwrap();
    assert_eq!(report.operation_id, drill_id);
    assert_complete(&report);
    assert!(report.resources_present);
    assert_eq!(report.cleanup, None);

    let html = report.to_html();
    assert_well_formed(&html);
    for instance in &report.instances {
        assert!(html.contains(&instance.server_name));
        assert!(html.contains(instance.server_id.as_deref().unwrap()));
    }
    for step in &report.timeline {
        assert!(html.contains(&format!("<td>{}</td>", step.step)));
    }
    let estimate = report.rto.estimated_secs.unwrap();
    assert!(html.contains(&format!("the estimate of {estimate} s")));
    assert!(html.contains(&report.recovery_point.as_ref().unwrap().snapshot));
    assert!(!html.contains("<script") && !html.contains("http"));

    // Values are escaped wherever they come from.
    let mut hostile = report.clone();
    hostile.group = "<b>&".into();
    hostile.error_message = Some("fault <script>alert('x')</script> & more".into());
    let html = hostile.to_html();
    assert_well_formed(&html);
    assert!(html.contains("&lt;b&gt;&amp;"));
    assert!(!html.contains("<b>&") && !html.contains("<script"));

    // The JSON round-trips.
    let json = serde_json::to_value(&report).unwrap();
    let back: DrillReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);

    // After the cleanup: the same drill, with its cleanup.
    let cleaned = env
        .engine
        .test_failover_cleanup(GROUP, None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(cleaned.status, OperationStatus::Completed);
    let after = env
        .engine
        .drill_report(GROUP, Some(drill_id))
        .await
        .unwrap();
    assert_complete(&after);
    assert!(!after.resources_present);
    let cleanup = after.cleanup.as_ref().expect("the cleanup is reported");
    assert_eq!(cleanup.operation_id, cleaned.id);
    assert_eq!(cleanup.status, OperationStatus::Completed);
    let servers = cleanup
        .removed
        .iter()
        .filter(|r| r.starts_with("server "))
        .count();
    assert_eq!(servers, 3, "{:?}", cleanup.removed);
    assert_well_formed(&after.to_html());

    // From the other site: the operation record is there, its journal is not; said so.
    let from_b = env.engine.on_site("site-b").unwrap();
    let there = from_b.drill_report(GROUP, None).await.unwrap();
    assert_eq!(there.operation_id, drill_id);
    assert!(there.timeline.is_empty());
    assert_eq!(there.notes.len(), 1, "{:?}", there.notes);
    assert!(there.notes[0].contains("ask for the report there"));
    assert_well_formed(&there.to_html());
}

#[tokio::test]
async fn a_group_without_a_drill_has_no_report() {
    let env = setup().await;
    let e = env.engine.drill_report(GROUP, None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.message().contains(GROUP), "{e}");
    assert!(e.message().contains("run a drill"), "{e}");
    // Nor an operation that is not one of its drills.
    let e = env
        .engine
        .drill_report(GROUP, Some(uuid::Uuid::new_v4()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    // Nor a group that does not exist.
    let e = env
        .engine
        .drill_report("no-such-group", None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
}

#[tokio::test]
async fn a_failed_drill_is_reported_with_the_step_that_failed() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    env.sim
        .fail_next(
            "site-b",
            protector_mock::Service::Compute,
            "create_server",
            ErrorKind::InvalidInput,
            "Invalid block device mapping (simulated).",
            1,
        )
        .unwrap();
    let op = env
        .engine
        .test_failover(GROUP, request(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let report = env.engine.drill_report(GROUP, None).await.unwrap();
    assert_eq!(report.operation_id, op.id);
    assert_eq!(report.status, OperationStatus::Failed);
    assert!(report
        .error_message
        .as_deref()
        .unwrap()
        .contains("simulated"));
    let last = report.timeline.last().unwrap();
    assert_eq!(
        (last.step.as_str(), last.status.as_str()),
        ("create_instances_site_b", "failed")
    );
    assert!(last.started_at <= last.completed_at.unwrap());
    // No instance became ACTIVE: no RTO achieved, and the rollback removed everything.
    assert!(report.instances.iter().all(|i| i.active_at.is_none()));
    assert!(report
        .instances
        .iter()
        .any(|i| i.error.as_deref().is_some_and(|e| e.contains("simulated"))));
    assert_eq!(report.rto.achieved_secs, None);
    assert!(report.rto.summary.contains("not achieved"));
    assert!(!report.resources_present);
    assert_well_formed(&report.to_html());
}
