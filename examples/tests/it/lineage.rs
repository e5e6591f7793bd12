//! The zero-loss check from volume lineage catches a recovery that lost data: an unplanned
//! failover told to recover from an older snapshot than the source's last write, against
//! both faces of the simulator. The weaker check the suites used before ("the target holds a
//! later write than the source") passes for it, since the recovered VMs write once they boot.

use protector_core::api::ServerStatus;
use protector_core::engine::{FailoverRequest, NoProgress};
use protector_core::plan::FailoverMode;

use crate::common::{assert_completed, failover_mappings, setup, Face, GROUP, MEMBERS};
use protector_mock::LineageKind;

on_both_faces!(lineage_check_catches_a_recovery_from_an_older_snapshot);

async fn lineage_check_catches_a_recovery_from_an_older_snapshot(face: Face) {
    let env = setup(face).await;
    // Two replicated snapshots taken while the VMs write.
    env.sim.tick(320).unwrap();
    env.sim.tick(300).unwrap();

    // The VMs stop: their volumes' fingerprints are final; one more snapshot holds them.
    let clients_a = env.engine.clients("site-a").await.unwrap();
    for name in MEMBERS {
        let id = env.sim.find_server("site-a", name).unwrap().id;
        clients_a.compute.stop_server(&id).await.unwrap();
        let mut status = ServerStatus::Active;
        for _ in 0..30 {
            status = clients_a
                .compute
                .get_server(&id)
                .await
                .unwrap()
                .unwrap()
                .status;
            if status == ServerStatus::Shutoff {
                break;
            }
        }
        assert_eq!(status, ServerStatus::Shutoff, "{name} stops");
    }
    env.sim.tick(320).unwrap();

    let members = env.engine.members(GROUP).await.unwrap();
    let sources: Vec<(String, String)> = members
        .iter()
        .flat_map(|m| {
            m.current
                .array_volumes
                .iter()
                .map(|v| (m.instance_name.clone(), v.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let last_writes: Vec<u64> = sources
        .iter()
        .map(|(_, v)| env.sim.array_volume_fingerprint("site-a", v).unwrap())
        .collect();
    let points = env.engine.recovery_points(GROUP).await.unwrap();
    let usable: Vec<&str> = points
        .points
        .iter()
        .filter(|p| p.usable)
        .map(|p| p.name.as_str())
        .collect();
    assert!(usable.len() >= 2, "{points:?}");
    // Newest first: the newest holds the last writes, the next one does not.
    let older = usable[1].to_string();

    env.set_site_down("site-a", true).await;
    let engine_b = env.engine.on_site("site-b").unwrap();
    let op = engine_b
        .failover(
            GROUP,
            FailoverRequest {
                mode: FailoverMode::Unplanned,
                mappings: failover_mappings(),
                operation_id: None,
                recovery_point: Some(older.clone()),
                commit_window_secs: None,
            },
            &NoProgress,
        )
        .await
        .unwrap();
    assert_completed(&op);
    assert!(
        op.data_loss.as_deref().is_some_and(|l| l.contains(&older)),
        "{op:?}"
    );
    // The recovered VMs boot and write.
    env.sim.tick(5).unwrap();

    let inventory = env.sim.inspect();
    let recovered = engine_b.members(GROUP).await.unwrap();
    let targets: Vec<String> = recovered
        .iter()
        .flat_map(|m| m.current.volume_ids.clone())
        .collect();
    assert_eq!(targets.len(), sources.len());
    for (((instance, source), last_write), target) in sources.iter().zip(&last_writes).zip(&targets)
    {
        let now = env.sim.volume_fingerprint("site-b", target).unwrap();
        assert!(
            now >= *last_write,
            "{instance}: the weak check (target >= source) passes: {now} >= {last_write}"
        );
        let caught = inventory
            .check_started_from_last_write("site-b", target, "site-a", source)
            .expect_err("the lineage check must catch a recovery from an older snapshot");
        assert!(caught.contains("data lost"), "{instance}: {caught}");
        let volume = inventory.sites["site-b"]
            .volumes
            .iter()
            .find(|v| &v.id == target)
            .unwrap();
        let lineage = volume.lineage.as_ref().unwrap();
        assert_eq!(lineage.kind, LineageKind::Managed);
        let copied_from = lineage.copied_from.as_deref().unwrap();
        assert!(
            copied_from.starts_with(&format!("{older}.")),
            "{instance}: copied from {copied_from}, not from {older}"
        );
        // The lineage tells the truth: it held what the older snapshot captured.
        let captured = inventory.arrays["site-b"]
            .snapshots
            .iter()
            .find(|s| s.name == older)
            .and_then(|s| s.fingerprints.get(source).copied())
            .unwrap();
        assert_eq!(lineage.fingerprint, captured, "{instance}");
        assert_eq!(lineage.copied_fingerprint, Some(captured), "{instance}");
        assert!(
            captured < *last_write,
            "{instance}: the older point misses writes"
        );
    }
}
