//! Nova: writes while ACTIVE, boot validation, power actions, delete.

use std::collections::BTreeMap;

use protector_core::api::{
    BlockDevice, CopyVolume, CreatePort, CreateServer, ListPorts, ListServers, ManageVolume,
    Server, ServerStatus, SiteClients,
};
use protector_core::ErrorKind;
use protector_mock::Simulator;

use crate::common::*;

#[tokio::test]
async fn fingerprints_advance_only_while_active() {
    let sim = Simulator::in_memory().unwrap();
    let a = clients(&sim, "site-a").await;
    let web2 = sim.find_server("site-a", "web-server-2").unwrap();
    let root = web2.attached_volumes[0].volume_id.clone();
    let db = sim.find_server("site-a", "db-server-1").unwrap();
    let db_data = db.attached_volumes[1].volume_id.clone();

    let start = sim.volume_fingerprint("site-a", &root).unwrap();
    sim.tick(3).unwrap();
    let running = sim.volume_fingerprint("site-a", &root).unwrap();
    assert!(running > start, "an ACTIVE server writes every tick");
    assert_eq!(
        running,
        sim.volume_fingerprint("site-a", &root).unwrap(),
        "reading does not write"
    );

    a.compute.stop_server(&web2.id).await.unwrap();
    wait_server(&a, &web2.id, ServerStatus::Shutoff).await;
    let stopped = sim.volume_fingerprint("site-a", &root).unwrap();
    let db_before = sim.volume_fingerprint("site-a", &db_data).unwrap();
    sim.tick(10).unwrap();
    assert_eq!(
        sim.volume_fingerprint("site-a", &root),
        Some(stopped),
        "SHUTOFF writes nothing"
    );
    assert!(
        sim.volume_fingerprint("site-a", &db_data).unwrap() > db_before,
        "others keep writing"
    );
    assert!(stopped <= sim.last_write());

    // Stopping again is a no-op; starting resumes the writes.
    a.compute.stop_server(&web2.id).await.unwrap();
    a.compute.start_server(&web2.id).await.unwrap();
    wait_server(&a, &web2.id, ServerStatus::Active).await;
    sim.tick(1).unwrap();
    assert!(sim.volume_fingerprint("site-a", &root).unwrap() > stopped);
    a.compute.start_server(&web2.id).await.unwrap();
}

#[tokio::test]
async fn power_actions_follow_nova_states() {
    let sim = Simulator::in_memory().unwrap();
    let a = clients(&sim, "site-a").await;
    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    a.compute.stop_server(&web1.id).await.unwrap();
    // The next call's tick completes the stop: stopping again is a no-op.
    a.compute.stop_server(&web1.id).await.unwrap();
    wait_server(&a, &web1.id, ServerStatus::Shutoff).await;
    let missing = a
        .compute
        .stop_server("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert_error(&missing, ErrorKind::NotFound, "could not be found");
    // Another project's server is invisible to a member of tenant2.
    let t2 = clients_as(&sim, "site-a", Some("site-a-tenant2")).await;
    assert!(t2.compute.get_server(&web1.id).await.unwrap().is_none());
    let names: Vec<String> = t2
        .compute
        .list_servers(&ListServers::default())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["t2-app"]);
}

/// Copies web-server-1's root volume to site-b through the arrays and manages it there: a
/// bootable, available volume on site-b.
async fn volume_on_site_b(sim: &Simulator, b: &SiteClients, name: &str) -> String {
    let a = clients(sim, "site-a").await;
    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    let root = a
        .block_storage
        .get_volume(&web1.attached_volumes[0].volume_id)
        .await
        .unwrap()
        .unwrap();
    let arr_a = array(sim, "site-a").await;
    let arr_b = array(sim, "site-b").await;
    let pg = format!("pg-{name}");
    arr_a.create_protection_group(&pg).await.unwrap();
    arr_a
        .add_protection_group_volumes(&pg, &[root.array_volume.clone().unwrap()])
        .await
        .unwrap();
    arr_a
        .add_protection_group_target(&pg, "flasharray-b")
        .await
        .unwrap();
    arr_b
        .set_protection_group_allowed(&format!("flasharray-a:{pg}"), true)
        .await
        .unwrap();
    let snap = arr_a
        .create_pg_snapshot(
            &pg,
            &protector_core::api::CreatePgSnapshot {
                replicate_now: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let replica = format!("flasharray-a:{}", snap.name);
    wait_transfer(&arr_b, &replica).await;
    arr_b
        .copy_volume(&CopyVolume {
            name: format!("copy-{name}"),
            source: format!("{replica}.{}", root.array_volume.unwrap()),
            overwrite: false,
        })
        .await
        .unwrap();
    let managed = b
        .block_storage
        .manage_volume(&ManageVolume {
            host: "site-b-controller@pure#pure".into(),
            source_name: format!("copy-{name}"),
            name: name.into(),
            volume_type: "replicated-ssd".into(),
            bootable: true,
            description: String::new(),
            metadata: BTreeMap::new(),
        })
        .await
        .unwrap();
    wait_volume(b, &managed.id, "available").await;
    managed.id
}

async fn port_on(b: &SiteClients, net: &str, ip: &str, project_sg: bool) -> String {
    let net = b.network.find_network(net).await.unwrap().unwrap();
    let sg = b.network.find_security_group("web").await.unwrap().unwrap();
    b.network
        .create_port(&CreatePort {
            network_id: net.id.clone(),
            name: format!("port-{ip}"),
            fixed_ips: vec![(net.subnets[0].id.clone(), Some(ip.into()))],
            security_group_ids: if project_sg { vec![sg.id] } else { vec![] },
            description: String::new(),
        })
        .await
        .unwrap()
        .id
}

fn boot_request(name: &str, flavor: &str, volume: &str, port: &str) -> CreateServer {
    let mut metadata = BTreeMap::new();
    metadata.insert("protector:member".to_string(), name.to_string());
    CreateServer {
        name: name.into(),
        flavor_id: flavor.into(),
        key_name: Some("ops-key".into()),
        availability_zone: Some("nova".into()),
        block_devices: vec![BlockDevice {
            volume_id: volume.into(),
            boot_index: 0,
            device_name: None,
            delete_on_termination: false,
        }],
        port_ids: vec![port.into()],
        metadata,
    }
}

/// Boots web-server-1 on site-b from a root volume and a port made for it: site-b's clients,
/// the volume, the port and the server as created.
async fn boot_web_server_1(sim: &Simulator) -> (SiteClients, String, String, Server) {
    let b = clients(sim, "site-b").await;
    let volume = volume_on_site_b(sim, &b, "web-server-1-root").await;
    let port = port_on(&b, "net-secondary-web", "10.20.1.11", true).await;
    let flavor = b.compute.find_flavor("m2.large").await.unwrap().unwrap();
    let created = b
        .compute
        .create_server(&boot_request("web-server-1", &flavor.id, &volume, &port))
        .await
        .unwrap();
    (b, volume, port, created)
}

#[tokio::test]
async fn a_valid_boot_goes_build_then_active_and_binds_everything() {
    let sim = Simulator::in_memory().unwrap();
    let (b, volume, port, created) = boot_web_server_1(&sim).await;
    assert_eq!(created.status, ServerStatus::Build);
    assert_eq!(created.flavor_name, "m2.large");
    assert_eq!(
        b.network.get_port(&port).await.unwrap().unwrap().device_id,
        created.id
    );
    wait_server(&b, &created.id, ServerStatus::Active).await;

    let server = b.compute.get_server(&created.id).await.unwrap().unwrap();
    assert_eq!(server.security_groups, ["web"]);
    assert_eq!(server.attached_volumes[0].volume_id, volume);
    let attached = b.block_storage.get_volume(&volume).await.unwrap().unwrap();
    assert_eq!(attached.status, "in-use");
    assert_eq!(attached.attachments[0].server_id, created.id);
    assert_eq!(attached.attachments[0].device, "/dev/vda");
    let by_meta = b
        .compute
        .list_servers(&ListServers {
            metadata: Some(("protector:member".into(), "web-server-1".into())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_meta.len(), 1);
    let by_name = b
        .compute
        .list_servers(&ListServers {
            name: Some("web-server-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name[0].id, created.id);

    // The recovered VM writes to its own volume.
    let before = sim.volume_fingerprint("site-b", &volume).unwrap();
    sim.tick(2).unwrap();
    assert!(sim.volume_fingerprint("site-b", &volume).unwrap() > before);

    // Delete: volume detached and kept, port unbound and kept.
    b.compute.delete_server(&created.id).await.unwrap();
    assert!(b.compute.get_server(&created.id).await.unwrap().is_none());
    let kept = b.block_storage.get_volume(&volume).await.unwrap().unwrap();
    assert_eq!(kept.status, "available");
    assert!(kept.attachments.is_empty());
    let unbound = b.network.get_port(&port).await.unwrap().unwrap();
    assert!(unbound.device_id.is_empty());
    b.compute.delete_server(&created.id).await.unwrap();
    let written = sim.volume_fingerprint("site-b", &volume).unwrap();
    sim.tick(3).unwrap();
    assert_eq!(sim.volume_fingerprint("site-b", &volume), Some(written));
}

#[tokio::test]
async fn boot_validation_answers_like_nova() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    let volume = volume_on_site_b(&sim, &b, "root").await;
    let port = port_on(&b, "net-secondary-web", "10.20.1.20", false).await;
    let flavor = b.compute.find_flavor("m2.small").await.unwrap().unwrap().id;
    let good = boot_request("vm", &flavor, &volume, &port);

    let mut bad = good.clone();
    bad.flavor_id = "m1.small".into();
    assert_error(
        &b.compute.create_server(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        "Invalid flavorRef provided.",
    );

    let mut bad = good.clone();
    bad.key_name = Some("no-such-key".into());
    assert_error(
        &b.compute.create_server(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        "Invalid key_name provided.",
    );

    let mut bad = good.clone();
    bad.block_devices[0].volume_id = "00000000-0000-4000-8000-000000000000".into();
    assert_error(
        &b.compute.create_server(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        "failed to get volume",
    );

    let mut bad = good.clone();
    bad.block_devices[0].boot_index = -1;
    assert_error(
        &b.compute.create_server(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        "Boot sequence",
    );

    let mut bad = good.clone();
    bad.port_ids = vec!["00000000-0000-4000-8000-000000000000".into()];
    assert_error(
        &b.compute.create_server(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        "could not be found",
    );

    // A port of another project.
    let t2 = clients_as(&sim, "site-b", Some("site-b-tenant2")).await;
    let net = t2
        .network
        .find_network("net-secondary-web")
        .await
        .unwrap()
        .unwrap();
    let foreign = t2
        .network
        .create_port(&CreatePort {
            network_id: net.id,
            name: "t2".into(),
            fixed_ips: vec![],
            security_group_ids: vec![],
            description: String::new(),
        })
        .await
        .unwrap();
    let mut bad = good.clone();
    bad.port_ids = vec![foreign.id.clone()];
    assert_error(
        &b.compute.create_server(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        "not usable for instance",
    );

    // A non-bootable root volume.
    let data = volume_on_site_b(&sim, &b, "data").await;
    let not_bootable = {
        let v = b.block_storage.get_volume(&data).await.unwrap().unwrap();
        assert!(v.bootable);
        // Manage a second copy without the bootable flag.
        let copy_source = v.array_volume.unwrap();
        array(&sim, "site-b")
            .await
            .copy_volume(&CopyVolume {
                name: "nb".into(),
                source: copy_source,
                overwrite: false,
            })
            .await
            .unwrap();
        let m = b
            .block_storage
            .manage_volume(&ManageVolume {
                host: "site-b-controller@pure".into(),
                source_name: "nb".into(),
                name: "nb".into(),
                volume_type: "replicated-ssd".into(),
                bootable: false,
                description: String::new(),
                metadata: BTreeMap::new(),
            })
            .await
            .unwrap();
        wait_volume(&b, &m.id, "available").await;
        m.id
    };
    let mut bad = good.clone();
    bad.block_devices[0].volume_id = not_bootable.clone();
    assert_error(
        &b.compute.create_server(&bad).await.unwrap_err(),
        ErrorKind::InvalidInput,
        &format!("Block Device {not_bootable} is not bootable."),
    );

    // Nothing above changed anything; the good request boots, and then its port and volume
    // are taken.
    assert!(b
        .network
        .get_port(&port)
        .await
        .unwrap()
        .unwrap()
        .device_id
        .is_empty());
    let vm = b.compute.create_server(&good).await.unwrap();
    assert_error(
        &b.compute.stop_server(&vm.id).await.unwrap_err(),
        ErrorKind::Conflict,
        "while it is in task_state spawning",
    );
    let again = b.compute.create_server(&good).await.unwrap_err();
    assert_eq!(
        again.kind(),
        ErrorKind::InvalidInput,
        "volume is reserved: {again:?}"
    );
    assert!(again.message().contains("status must be available"));
    let mut other_volume = good.clone();
    other_volume.block_devices[0].volume_id = data;
    assert_error(
        &b.compute.create_server(&other_volume).await.unwrap_err(),
        ErrorKind::Conflict,
        &format!("Port {port} is still in use."),
    );
    wait_server(&b, &vm.id, ServerStatus::Active).await;
}

#[tokio::test]
async fn an_injected_boot_failure_ends_in_error_and_releases_resources() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    let volume = volume_on_site_b(&sim, &b, "root").await;
    let port = port_on(&b, "net-secondary-web", "10.20.1.30", true).await;
    let flavor = b.compute.find_flavor("m2.small").await.unwrap().unwrap().id;
    sim.fail_server_boot(
        "site-b",
        "doomed",
        "No valid host was found. There are not enough hosts available.",
    )
    .unwrap();
    let vm = b
        .compute
        .create_server(&boot_request("doomed", &flavor, &volume, &port))
        .await
        .unwrap();
    wait_server(&b, &vm.id, ServerStatus::Error).await;
    let failed = b.compute.get_server(&vm.id).await.unwrap().unwrap();
    assert_eq!(
        failed.fault.as_deref(),
        Some("No valid host was found. There are not enough hosts available.")
    );
    assert_eq!(
        b.block_storage
            .get_volume(&volume)
            .await
            .unwrap()
            .unwrap()
            .status,
        "available"
    );
    assert!(b
        .network
        .get_port(&port)
        .await
        .unwrap()
        .unwrap()
        .device_id
        .is_empty());
    // Only the next boot of that name fails.
    b.compute.delete_server(&vm.id).await.unwrap();
    let vm = b
        .compute
        .create_server(&boot_request("doomed", &flavor, &volume, &port))
        .await
        .unwrap();
    wait_server(&b, &vm.id, ServerStatus::Active).await;
    let ports = b
        .network
        .list_ports(&ListPorts {
            device_id: Some(vm.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ports.len(), 1);
}

#[tokio::test]
async fn at_prompt_pace_a_boot_is_active_at_the_next_call() {
    let sim = Simulator::in_memory().unwrap();
    sim.set_pace(protector_mock::Pace::Prompt).unwrap();
    let (b, _, _, created) = boot_web_server_1(&sim).await;
    assert_eq!(created.status, ServerStatus::Build);
    let seen = b.compute.get_server(&created.id).await.unwrap().unwrap();
    assert_eq!(seen.status, ServerStatus::Active);
}
