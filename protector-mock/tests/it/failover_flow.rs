//! The whole planned-failover path through the simulated APIs, by hand, as the engine does it:
//! the evidence that the simulator can show zero data loss.

use std::collections::BTreeMap;

use protector_core::api::{
    BlockDevice, CopyVolume, CreatePgSnapshot, CreatePort, CreateServer, ListPorts, ManageVolume,
    ServerStatus,
};
use protector_mock::Simulator;

use crate::common::*;

#[tokio::test]
async fn planned_failover_of_db_server_1_loses_no_data() {
    let sim = Simulator::in_memory().unwrap();
    let a = clients(&sim, "site-a").await;
    let b = clients(&sim, "site-b").await;
    let array_a = array(&sim, "site-a").await;
    let array_b = array(&sim, "site-b").await;

    // What protector captures about the member.
    let source = sim.find_server("site-a", "db-server-1").unwrap();
    let mut volumes = Vec::new();
    for attached in &source.attached_volumes {
        let v = a
            .block_storage
            .get_volume(&attached.volume_id)
            .await
            .unwrap()
            .unwrap();
        volumes.push(v);
    }
    let ports = a
        .network
        .list_ports(&ListPorts {
            device_id: Some(source.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ports.len(), 2);

    // Replication set up (policy create).
    let pg = "protector-db";
    array_a.create_protection_group(pg).await.unwrap();
    array_a
        .add_protection_group_target(pg, "flasharray-b")
        .await
        .unwrap();
    array_b
        .set_protection_group_allowed(&format!("flasharray-a:{pg}"), true)
        .await
        .unwrap();
    array_a
        .set_replication_schedule(pg, true, 300)
        .await
        .unwrap();
    let names: Vec<String> = volumes
        .iter()
        .map(|v| v.array_volume.clone().unwrap())
        .collect();
    array_a
        .add_protection_group_volumes(pg, &names)
        .await
        .unwrap();
    sim.tick(900).unwrap();

    // Planned failover: quiesce, final snapshot, wait for it, copy, manage, ports, boot.
    a.compute.stop_server(&source.id).await.unwrap();
    wait_server(&a, &source.id, ServerStatus::Shutoff).await;
    let last: Vec<u64> = volumes
        .iter()
        .map(|v| sim.volume_fingerprint("site-a", &v.id).unwrap())
        .collect();
    let snap = array_a
        .create_pg_snapshot(
            pg,
            &CreatePgSnapshot {
                replicate_now: true,
                apply_retention: true,
                suffix: None,
            },
        )
        .await
        .unwrap();
    let replica = format!("flasharray-a:{}", snap.name);
    wait_transfer(&array_b, &replica).await;

    let host = b.block_storage.list_volume_services().await.unwrap()[0]
        .host
        .clone();
    let mut managed = Vec::new();
    for (i, v) in volumes.iter().enumerate() {
        let copy = format!("prot-op1-{i}");
        array_b
            .copy_volume(&CopyVolume {
                name: copy.clone(),
                source: format!("{replica}.{}", names[i]),
                overwrite: false,
            })
            .await
            .unwrap();
        let created = b
            .block_storage
            .manage_volume(&ManageVolume {
                host: host.clone(),
                source_name: copy,
                name: v.name.clone(),
                volume_type: v.volume_type.clone(),
                bootable: v.bootable,
                description: String::new(),
                metadata: BTreeMap::new(),
            })
            .await
            .unwrap();
        wait_volume(&b, &created.id, "available").await;
        managed.push(created.id);
    }
    // Zero data loss: every recovered volume holds the source's last write.
    for (i, id) in managed.iter().enumerate() {
        assert_eq!(
            sim.volume_fingerprint("site-b", id),
            Some(last[i]),
            "volume {i}"
        );
    }

    let mapping = [
        ("net-primary-db", "net-secondary-db"),
        ("net-primary-web", "net-secondary-web"),
    ];
    let mut port_ids = Vec::new();
    for port in &ports {
        let source_net = a
            .network
            .find_network(&port.network_id)
            .await
            .unwrap()
            .unwrap();
        let target_net_name = mapping
            .iter()
            .find(|(s, _)| *s == source_net.name)
            .unwrap()
            .1;
        let target_net = b
            .network
            .find_network(target_net_name)
            .await
            .unwrap()
            .unwrap();
        let sg = b.network.find_security_group("db").await.unwrap().unwrap();
        let ip = port.fixed_ips[0].ip_address.replacen("10.10.", "10.20.", 1);
        let created = b
            .network
            .create_port(&CreatePort {
                network_id: target_net.id.clone(),
                name: format!("{}-dr", port.name),
                fixed_ips: vec![(target_net.subnets[0].id.clone(), Some(ip))],
                security_group_ids: vec![sg.id],
                description: String::new(),
            })
            .await
            .unwrap();
        port_ids.push(created.id);
    }
    let flavor = b.compute.find_flavor("m2.large").await.unwrap().unwrap();
    let server = b
        .compute
        .create_server(&CreateServer {
            name: source.name.clone(),
            flavor_id: flavor.id,
            key_name: source.key_name.clone(),
            availability_zone: None,
            block_devices: managed
                .iter()
                .enumerate()
                .map(|(i, id)| BlockDevice {
                    volume_id: id.clone(),
                    boot_index: if i == 0 { 0 } else { -1 },
                    device_name: None,
                    delete_on_termination: false,
                })
                .collect(),
            port_ids: port_ids.clone(),
            metadata: BTreeMap::new(),
        })
        .await
        .unwrap();
    wait_server(&b, &server.id, ServerStatus::Active).await;

    let inventory = sim.inspect();
    let recovered = inventory.sites["site-b"]
        .servers
        .iter()
        .find(|s| s.id == server.id)
        .unwrap();
    assert_eq!(recovered.volumes, managed);
    let bound: Vec<_> = inventory.sites["site-b"]
        .ports
        .iter()
        .filter(|p| p.device_id == server.id)
        .collect();
    assert_eq!(bound.len(), 2);
    assert_eq!(bound[0].fixed_ips[0].ip_address, "10.20.2.21");
    assert_eq!(bound[1].fixed_ips[0].ip_address, "10.20.1.21");
    // The source stays stopped and unchanged; the recovered VM carries on from its last write.
    assert_eq!(
        inventory.sites["site-a"]
            .servers
            .iter()
            .find(|s| s.id == source.id)
            .unwrap()
            .status,
        "SHUTOFF"
    );
    sim.tick(1).unwrap();
    assert!(sim.volume_fingerprint("site-b", &managed[0]).unwrap() > last[0]);
    // Once it writes, only the lineage shows where it started: the final snapshot.
    let inventory = sim.inspect();
    for (i, id) in managed.iter().enumerate() {
        assert_eq!(
            inventory.check_started_from_last_write("site-b", id, "site-a", &names[i]),
            Ok(last[i]),
            "volume {i}"
        );
        let lineage = inventory.sites["site-b"]
            .volumes
            .iter()
            .find(|v| &v.id == id)
            .and_then(|v| v.lineage.clone())
            .unwrap();
        assert_eq!(
            lineage.array_volume.as_deref(),
            Some(format!("prot-op1-{i}").as_str())
        );
        assert_eq!(
            lineage.copied_from.as_deref(),
            Some(format!("{replica}.{}", names[i]).as_str())
        );
    }
    assert_eq!(
        sim.volume_fingerprint("site-a", &volumes[0].id),
        Some(last[0])
    );
}
