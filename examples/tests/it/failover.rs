//! Planned failover end to end, against both faces of the simulator (in process, and the
//! engine with protector-openstack and protector-pure over HTTP(S) against its wire face): end
//! states on both sites, invariants (one running copy of each VM, nothing leaked) and zero data
//! loss.

use crate::common::{assert_completed, failover_mappings, setup, Face, GROUP, MEMBERS};

use protector_core::api::{ListPorts, ServerStatus};
use protector_core::engine::{FailoverRequest, NoProgress};
use protector_core::model::GroupStatus;

on_both_faces!(planned_failover_moves_every_member_with_zero_data_loss);

async fn planned_failover_moves_every_member_with_zero_data_loss(face: Face) {
    let env = setup(face).await;
    for site in ["site-a", "site-b"] {
        let validation = env.engine.validate_site(site).await.unwrap();
        assert_eq!(validation.status.as_str(), "active", "{validation:?}");
    }
    let members_before = env.engine.members(GROUP).await.unwrap();
    let source_volumes: Vec<(String, String, String)> = members_before
        .iter()
        .flat_map(|m| {
            m.recovery
                .volumes
                .iter()
                .map(|v| {
                    (
                        m.instance_name.clone(),
                        v.name.clone(),
                        v.array_volume.clone(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();

    let op = env
        .engine
        .failover(
            GROUP,
            FailoverRequest::planned(failover_mappings()),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.progress, 100);
    assert_eq!(op.instances_created, 3);
    assert_eq!(op.instances_failed, 0);
    assert!(op.steps_failed.is_empty());
    assert_eq!(op.steps_completed.len(), 13);

    // Group record, equal on both sites.
    let a = env.store_a.list_groups().await.unwrap().remove(0);
    let b = env.store_b.list_groups().await.unwrap().remove(0);
    assert_eq!(a, b, "both sites hold the same metadata");
    assert_eq!(a.status, GroupStatus::FailedOver);
    assert_eq!(a.current_primary_site, "site-b");
    assert_eq!(a.failover_count, 1);
    assert!(a.last_failover_at.is_some());
    assert!(a.active_operation_id.is_none());
    assert_eq!(env.engine.group(GROUP).await.unwrap(), a);
    let status = env.engine.sync_status(GROUP).await.unwrap();
    assert!(status.in_sync, "{status:?}");

    // Target site: every member ACTIVE with the mapped flavor, networks and volume type.
    let clients_b = env.engine.clients("site-b").await.unwrap();
    let clients_a = env.engine.clients("site-a").await.unwrap();
    let networks_b = clients_b.network.list_networks().await.unwrap();
    let net_name = |id: &str| {
        networks_b
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.name.clone())
            .unwrap()
    };
    let members = env.engine.members(GROUP).await.unwrap();
    for member in &members {
        assert_eq!(member.current.site, "site-b");
        let server = clients_b
            .compute
            .get_server(&member.current.instance_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            server.status,
            ServerStatus::Active,
            "{}",
            member.instance_name
        );
        assert_eq!(server.name, member.instance_name);
        assert_eq!(server.flavor_name, "m2.large");
        let ports = clients_b
            .network
            .list_ports(&ListPorts {
                device_id: Some(server.id.clone()),
                ..ListPorts::default()
            })
            .await
            .unwrap();
        assert_eq!(ports.len(), member.recovery.networks.len());
        // A VM's ports are created at once: Neutron lists them in creation order, not in the
        // order of the VM's NICs, so the networks are compared as a multiset.
        let mut networks: Vec<String> = ports.iter().map(|p| net_name(&p.network_id)).collect();
        let mut expected: Vec<String> = member
            .recovery
            .networks
            .iter()
            .map(|nic| nic.network_name.replace("primary", "secondary"))
            .collect();
        networks.sort();
        expected.sort();
        assert_eq!(networks, expected);
        for port in &ports {
            assert!(
                !port.security_group_ids.is_empty(),
                "security groups are set on the port"
            );
        }
        for volume_id in &member.current.volume_ids {
            let volume = clients_b
                .block_storage
                .get_volume(volume_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(volume.volume_type, "replicated-ssd");
            assert_eq!(volume.status, "in-use");
        }
        // Source: stopped, still there for the failback.
        let standby = member.standby.as_ref().unwrap();
        assert_eq!(standby.site, "site-a");
        let old = clients_a
            .compute
            .get_server(&standby.instance_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(old.status, ServerStatus::Shutoff);
    }

    // Zero data loss: each imported volume started from the source's last write. The source
    // stopped writing when it was shut off, so its fingerprint is final; the target keeps
    // writing once it boots, so its lineage (what it was adopted from and the write it held
    // then) is what shows where it started.
    let inventory = env.sim.inspect();
    let site_b = &inventory.sites["site-b"];
    for (instance, volume_name, array_volume) in &source_volumes {
        let source_fp = env
            .sim
            .array_volume_fingerprint("site-a", array_volume)
            .unwrap();
        let target = site_b
            .volumes
            .iter()
            .find(|v| &v.name == volume_name)
            .unwrap_or_else(|| panic!("{instance}: volume {volume_name} missing on site-b"));
        let snapshot_fp = inventory.arrays["site-b"]
            .snapshots
            .iter()
            .rev()
            .find_map(|s| s.fingerprints.get(array_volume).copied())
            .unwrap();
        assert_eq!(
            snapshot_fp, source_fp,
            "{instance}: the replicated snapshot holds the last write"
        );
        let started = inventory
            .check_started_from_last_write("site-b", &target.id, "site-a", array_volume)
            .unwrap_or_else(|e| panic!("{instance}: {e}"));
        assert_eq!(started, source_fp);
        let lineage = target.lineage.as_ref().unwrap();
        assert!(
            lineage
                .copied_from
                .as_deref()
                .is_some_and(|from| from.starts_with("flasharray-a:")),
            "{instance}: copied from a replicated snapshot: {lineage:?}"
        );
    }

    // Member by member: each current volume on site-b started from its source's last write.
    for (before, after) in members_before.iter().zip(&members) {
        for (array_volume, volume_id) in before
            .current
            .array_volumes
            .iter()
            .zip(&after.current.volume_ids)
        {
            if let Err(e) =
                inventory.check_started_from_last_write("site-b", volume_id, "site-a", array_volume)
            {
                panic!("{}: data lost: {e}", before.instance_name);
            }
        }
    }

    // One running copy of each VM, nothing leaked.
    let running_a = inventory.sites["site-a"]
        .servers
        .iter()
        .filter(|s| MEMBERS.contains(&s.name.as_str()) && s.status == "ACTIVE")
        .count();
    let running_b = site_b
        .servers
        .iter()
        .filter(|s| s.status == "ACTIVE")
        .count();
    assert_eq!(running_a, 0);
    assert_eq!(running_b, 3);
    assert_eq!(site_b.servers.len(), 3);
    assert_eq!(site_b.volumes.len(), 4);
    assert_eq!(site_b.ports.len(), 4, "web×2 one NIC each, db two NICs");
    assert!(
        site_b.ports.iter().all(|p| !p.device_id.is_empty()),
        "no orphan port"
    );
    let leftovers: Vec<_> = inventory.arrays["site-b"]
        .volumes
        .iter()
        .filter(|v| v.name.starts_with("protector-"))
        .collect();
    assert!(leftovers.is_empty(), "copies not managed: {leftovers:?}");
    env.shutdown().await;
}
