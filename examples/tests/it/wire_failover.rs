//! The whole stack over the wire: the engine with protector-openstack and protector-pure
//! talking HTTP(S) to the simulator's wire face, a planned failover with zero data loss.

use crate::common::{failover_mappings, protect_web_app, wire, Wire, GROUP};
use protector_core::engine::{FailoverRequest, NoProgress};
use protector_core::model::{GroupStatus, OperationStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planned_failover_over_http_with_zero_data_loss() {
    let w = wire().await;
    for site in ["site-a", "site-b"] {
        let validation = w.engine.validate_site(site).await.unwrap();
        assert_eq!(validation.status.as_str(), "active", "{validation:?}");
    }
    protect_web_app(&w).await;
    let Wire {
        sim,
        server,
        engine,
        store_b,
        dir: _dir,
        store_a: _,
    } = w;
    let mappings = failover_mappings();
    let members = engine.members(GROUP).await.unwrap();
    let op = engine
        .failover(GROUP, FailoverRequest::planned(mappings), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
    let group = engine.group(GROUP).await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.current_primary_site, "site-b");
    assert_eq!(store_b.list_groups().await.unwrap()[0], group);

    let inventory = sim.inspect();
    let after = engine.members(GROUP).await.unwrap();
    for (before, after) in members.iter().zip(&after) {
        let on_a = sim.find_server("site-a", &before.instance_name).unwrap();
        assert_eq!(on_a.status.as_str(), "SHUTOFF");
        let on_b = inventory.sites["site-b"]
            .servers
            .iter()
            .find(|s| s.id == after.current.instance_id)
            .unwrap();
        assert_eq!(on_b.status, "ACTIVE");
        for (i, array_volume) in before.current.array_volumes.iter().enumerate() {
            let source = sim
                .array_volume_fingerprint("site-a", array_volume)
                .unwrap();
            let target = sim
                .volume_fingerprint("site-b", &after.current.volume_ids[i])
                .unwrap();
            assert!(target >= source, "{}: data lost", before.instance_name);
        }
    }
    server.shutdown().await;
}
