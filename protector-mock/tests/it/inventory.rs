//! The seeded inventory, determinism and persistence.

use protector_core::api::{Connector, ListPorts, ListServers, ServerStatus};
use protector_core::ErrorKind;
use protector_mock::{InjectedError, Service, Simulator};

use crate::common::*;

#[test]
fn seeded_inventory_has_the_documented_shape() {
    let sim = Simulator::in_memory().unwrap();
    let inv = sim.inspect();
    assert_eq!(inv.sites.keys().collect::<Vec<_>>(), ["site-a", "site-b"]);
    let a = &inv.sites["site-a"];
    let names: Vec<&str> = a.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "web-server-1",
            "web-server-2",
            "db-server-1",
            "legacy-app",
            "ledger-db",
            "t2-app"
        ]
    );
    assert!(a.servers.iter().all(|s| s.status == "ACTIVE"));
    assert!(inv.sites["site-b"].servers.is_empty());
    assert!(inv.sites["site-b"].volumes.is_empty());

    let db = a.servers.iter().find(|s| s.name == "db-server-1").unwrap();
    assert_eq!(db.volumes.len(), 2);
    let db_ports: Vec<_> = a.ports.iter().filter(|p| p.device_id == db.id).collect();
    assert_eq!(db_ports.len(), 2);
    assert_eq!(db_ports[0].fixed_ips[0].ip_address, "10.10.2.21");
    assert_eq!(db_ports[1].fixed_ips[0].ip_address, "10.10.1.21");

    // Every Cinder volume is in use and backed by volume-<id>-cinder (sync ones in the pod).
    for volume in &a.volumes {
        assert_eq!(volume.status, "in-use");
        let array_volume = volume.array_volume.as_deref().unwrap();
        let plain = format!("volume-{}-cinder", volume.id);
        if volume.name.starts_with("ledger-db") {
            assert_eq!(array_volume, format!("cinder-pod::{plain}"));
        } else {
            assert_eq!(array_volume, plain);
        }
        assert!(volume.fingerprint.unwrap() > 0);
    }
    let production = sim.project_id("site-a", "production-project").unwrap();
    let tenant2 = sim.project_id("site-a", "tenant2").unwrap();
    assert_ne!(
        production,
        sim.project_id("site-b", "production-project").unwrap()
    );
    let t2 = a.servers.iter().find(|s| s.name == "t2-app").unwrap();
    assert_eq!(t2.project_id, tenant2);
    assert_eq!(db.project_id, production);

    assert_eq!(inv.arrays["site-a"].name, "flasharray-a");
    assert_eq!(inv.arrays["site-b"].name, "flasharray-b");
    // The sync volumes exist on both arrays; nothing else is on flasharray-b.
    let b_volumes: Vec<&str> = inv.arrays["site-b"]
        .volumes
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(b_volumes.len(), 2);
    assert!(b_volumes.iter().all(|n| n.starts_with("cinder-pod::")));
    assert_eq!(inv.arrays["site-a"].volumes.len(), 8);
    assert_eq!(inv.arrays["site-a"].pods[0].name, "cinder-pod");
    assert_eq!(inv.arrays["site-a"].pods[0].arrays.len(), 2);
}

#[test]
fn inventory_serializes_with_the_agreed_keys() {
    let sim = Simulator::in_memory().unwrap();
    let json = serde_json::to_value(sim.inspect()).unwrap();
    let server = &json["sites"]["site-a"]["servers"][0];
    for key in ["id", "name", "status", "project_id", "volumes"] {
        assert!(server.get(key).is_some(), "server has no {key}");
    }
    let volume = &json["sites"]["site-a"]["volumes"][0];
    for key in [
        "id",
        "name",
        "status",
        "project_id",
        "array_volume",
        "fingerprint",
    ] {
        assert!(volume.get(key).is_some(), "volume has no {key}");
    }
    let port = &json["sites"]["site-a"]["ports"][0];
    for key in [
        "id",
        "name",
        "network_id",
        "device_id",
        "fixed_ips",
        "security_group_ids",
    ] {
        assert!(port.get(key).is_some(), "port has no {key}");
    }
    assert!(port["fixed_ips"][0].get("subnet_id").is_some());
    assert!(port["fixed_ips"][0].get("ip_address").is_some());
    let array = &json["arrays"]["site-a"];
    for key in ["name", "volumes", "protection_groups", "snapshots"] {
        assert!(array.get(key).is_some(), "array has no {key}");
    }
    for key in ["name", "fingerprint", "destroyed"] {
        assert!(
            array["volumes"][0].get(key).is_some(),
            "array volume has no {key}"
        );
    }
}

#[tokio::test]
async fn each_site_has_its_own_catalog() {
    let sim = Simulator::in_memory().unwrap();
    let a = clients(&sim, "site-a").await;
    let b = clients(&sim, "site-b").await;

    let flavors_a: Vec<String> = a
        .compute
        .list_flavors()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    let flavors_b: Vec<String> = b
        .compute
        .list_flavors()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(flavors_a, ["m1.large", "m1.small"]);
    assert_eq!(flavors_b, ["m2.large", "m2.small"]);
    let large_a = a.compute.find_flavor("m1.large").await.unwrap().unwrap();
    let large_b = b.compute.find_flavor("m2.large").await.unwrap().unwrap();
    assert_ne!(large_a.id, large_b.id);
    assert_eq!(
        (large_a.vcpus, large_a.ram_mb, large_a.disk_gb),
        (large_b.vcpus, large_b.ram_mb, large_b.disk_gb)
    );
    assert!(b.compute.find_flavor("m1.large").await.unwrap().is_none());

    let nets_b: Vec<String> = b
        .network
        .list_networks()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(
        nets_b,
        ["dr-test-net", "net-secondary-db", "net-secondary-web"]
    );
    let web_b = b
        .network
        .find_network("net-secondary-web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(web_b.subnets[0].cidr, "10.20.1.0/24");
    assert!(b
        .network
        .find_network("net-primary-web")
        .await
        .unwrap()
        .is_none());

    let sgs_a: Vec<String> = a
        .network
        .list_security_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(sgs_a, ["db", "default", "web"]);
    let web_sg_a = a.network.find_security_group("web").await.unwrap().unwrap();
    let web_sg_b = b.network.find_security_group("web").await.unwrap().unwrap();
    assert_ne!(web_sg_a.id, web_sg_b.id);

    let key_a = a.compute.get_keypair("ops-key").await.unwrap().unwrap();
    let key_b = b.compute.get_keypair("ops-key").await.unwrap().unwrap();
    assert_eq!(key_a.public_key, key_b.public_key);

    let types: Vec<String> = b
        .block_storage
        .list_volume_types()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(types, ["replicated-ssd", "replicated-sync", "standard"]);
    let ssd = b
        .block_storage
        .find_volume_type("replicated-ssd")
        .await
        .unwrap()
        .unwrap();
    assert!(ssd.replication_enabled());
    assert_eq!(ssd.replication_type().as_deref(), Some("async"));
    assert_eq!(ssd.extra_specs["volume_backend_name"], "pure");
    let sync = b
        .block_storage
        .find_volume_type("replicated-sync")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sync.replication_type().as_deref(), Some("sync"));
    let standard = b
        .block_storage
        .find_volume_type("standard")
        .await
        .unwrap()
        .unwrap();
    assert!(!standard.replication_enabled());

    let services = b.block_storage.list_volume_services().await.unwrap();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].host, "site-b-controller@pure");
    assert!(services[0].is_usable());
    assert_eq!(services[0].zone, "nova");

    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    let root = a
        .block_storage
        .get_volume(&web1.attached_volumes[0].volume_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(root.host.as_deref(), Some("site-a-controller@pure#pure"));
    assert_eq!(root.volume_type, "replicated-ssd");
    assert_eq!(root.size_gb, 20);
    assert!(root.bootable);
    assert_eq!(root.attachments[0].device, "/dev/vda");
    assert_eq!(web1.flavor_name, "m1.large");
    assert_eq!(web1.key_name.as_deref(), Some("ops-key"));
    assert_eq!(web1.security_groups, ["default", "web"]);
    let ports = a
        .network
        .list_ports(&ListPorts {
            device_id: Some(web1.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ports.len(), 1);
    assert!(ports[0].mac_address.starts_with("fa:16:3e:"));
    assert_eq!(ports[0].fixed_ips[0].ip_address, "10.10.1.11");
}

#[tokio::test]
async fn credentials_carry_the_documented_roles() {
    let sim = Simulator::in_memory().unwrap();
    let admin = clients(&sim, "site-a")
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
    assert_eq!(admin.user_name, "admin");
    assert_eq!(admin.project_name, "production-project");
    for role in ["admin", "member", "reader", "dr_site_admin"] {
        assert!(admin.has_role(role), "admin lacks {role}");
    }
    assert!(admin.expires_at.unwrap() > sim.now());

    let member = clients_as(&sim, "site-b", Some("site-b-member"))
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
    assert_eq!(member.user_name, "member-user");
    assert!(member.has_role("member") && !member.has_role("admin"));

    let tenant2 = clients_as(&sim, "site-a", Some("site-a-tenant2"))
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
    assert_eq!(tenant2.project_name, "tenant2");
    assert_eq!(
        Some(tenant2.project_id),
        sim.project_id("site-a", "tenant2")
    );

    let dradmin = clients_as(&sim, "site-b", Some("site-b-dradmin"))
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
    assert!(dradmin.has_role("dr_site_admin"));

    let refused = clients_as(&sim, "site-a", Some("site-a-badpassword"))
        .await
        .identity
        .authenticate()
        .await
        .unwrap_err();
    assert_error(
        &refused,
        ErrorKind::Unauthenticated,
        "requires authentication",
    );
    let refused = clients_as(&sim, "site-a", Some("site-a-badpassword"))
        .await
        .compute
        .list_flavors()
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unauthenticated);

    let unknown = sim
        .connector()
        .site(&site_model(&sim, "site-a", Some("elsewhere")))
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::ConfigInvalid);

    // A site registered under another name is recognised by its auth_url.
    let mut renamed = site_model(&sim, "site-b", None);
    renamed.name = "dr-datacenter".to_string();
    let renamed = sim.connector().site(&renamed).await.unwrap();
    assert_eq!(renamed.site, "dr-datacenter");
    let info = renamed.identity.authenticate().await.unwrap();
    assert_eq!(
        Some(info.project_id),
        sim.project_id("site-b", "production-project")
    );
}

#[tokio::test]
async fn array_endpoints_need_their_token() {
    let sim = Simulator::in_memory().unwrap();
    let a = array(&sim, "site-a").await;
    let info = a.array_info().await.unwrap();
    assert_eq!(info.name, "flasharray-a");
    let endpoint = sim.array_endpoint("site-b").unwrap();
    assert_eq!(endpoint.url, "https://flasharray-b.sim.invalid");
    assert_eq!(format!("{:?}", endpoint.api_token), "[redacted]");
    let mut wrong = endpoint.clone();
    wrong.api_token = "not-the-token".into();
    let b = sim.connector().array(&wrong).await.unwrap();
    let error = b.array_info().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthenticated);
    assert_eq!(error.context_value("array"), Some("flasharray-b"));
    let mut elsewhere = endpoint;
    elsewhere.url = "https://flasharray-z.example.com".to_string();
    let error = sim
        .connector()
        .array(&elsewhere)
        .await
        .map(|_| ())
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
}

/// Drives a fixed sequence of calls that touches every kind of state.
async fn scenario(sim: &Simulator) {
    let a = clients(sim, "site-a").await;
    let b = clients(sim, "site-b").await;
    let web2 = sim.find_server("site-a", "web-server-2").unwrap();
    a.compute.stop_server(&web2.id).await.unwrap();
    let net = b
        .network
        .find_network("net-secondary-web")
        .await
        .unwrap()
        .unwrap();
    b.network
        .create_port(&protector_core::api::CreatePort {
            network_id: net.id.clone(),
            name: "p1".into(),
            fixed_ips: vec![(net.subnets[0].id.clone(), None)],
            security_group_ids: vec![],
            description: "scenario".into(),
        })
        .await
        .unwrap();
    let arr = array(sim, "site-a").await;
    arr.create_protection_group("pg1").await.unwrap();
    arr.add_protection_group_target("pg1", "flasharray-b")
        .await
        .unwrap();
    array(sim, "site-b")
        .await
        .set_protection_group_allowed("flasharray-a:pg1", true)
        .await
        .unwrap();
    let volume = a
        .block_storage
        .get_volume(&web2.attached_volumes[0].volume_id)
        .await
        .unwrap()
        .unwrap();
    arr.add_protection_group_volumes("pg1", &[volume.array_volume.unwrap()])
        .await
        .unwrap();
    arr.set_replication_schedule("pg1", true, 30).await.unwrap();
    sim.set_error_rate(
        "site-b",
        Service::Compute,
        0.5,
        InjectedError::ServiceUnavailable,
    )
    .unwrap();
    for _ in 0..6 {
        let _ = b.compute.list_servers(&ListServers::default()).await;
    }
    sim.tick(100).unwrap();
}

#[tokio::test]
async fn two_fresh_simulators_are_identical() {
    let one = Simulator::in_memory().unwrap();
    let two = Simulator::in_memory().unwrap();
    assert_eq!(one.inspect(), two.inspect());
    scenario(&one).await;
    scenario(&two).await;
    assert_eq!(one.inspect(), two.inspect());
    assert_eq!(one.now(), two.now());
    assert_eq!(one.last_write(), two.last_write());
    assert!(!one.inspect().arrays["site-b"].snapshots.is_empty());
}

#[tokio::test]
async fn a_reopened_simulator_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let (inventory, now, last_write) = {
        let sim = Simulator::open(&path).unwrap();
        scenario(&sim).await;
        sim.set_site_down("site-b", true).unwrap();
        (sim.inspect(), sim.now(), sim.last_write())
    };
    let sim = Simulator::open(&path).unwrap();
    assert_eq!(sim.inspect(), inventory);
    assert_eq!(sim.now(), now);
    assert_eq!(sim.last_write(), last_write);
    // Faults are state too.
    let b = clients(&sim, "site-b").await;
    assert_eq!(
        b.identity.authenticate().await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    sim.clear().unwrap();
    b.identity.authenticate().await.unwrap();

    // The reopened simulator keeps going the same way as one that never stopped.
    let reference = Simulator::in_memory().unwrap();
    scenario(&reference).await;
    reference.set_site_down("site-b", true).unwrap();
    clients(&reference, "site-b")
        .await
        .identity
        .authenticate()
        .await
        .unwrap_err();
    reference.clear().unwrap();
    clients(&reference, "site-b")
        .await
        .identity
        .authenticate()
        .await
        .unwrap();
    assert_eq!(reference.inspect(), sim.inspect());
    assert_eq!(reference.now(), sim.now());
    let web1 = sim.find_server("site-a", "web-server-1").unwrap();
    assert_eq!(web1.status, ServerStatus::Active);
}

#[tokio::test]
async fn two_processes_on_one_file_see_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let first = Simulator::open(&path).unwrap();
    let second = Simulator::open(&path).unwrap();
    assert_eq!(first.inspect(), second.inspect());

    let web1 = first.find_server("site-a", "web-server-1").unwrap();
    clients(&first, "site-a")
        .await
        .compute
        .stop_server(&web1.id)
        .await
        .unwrap();
    // The second handle reloads before it answers or acts.
    assert_eq!(second.now(), first.now());
    clients(&second, "site-a")
        .await
        .compute
        .get_server(&web1.id)
        .await
        .unwrap();
    assert_eq!(
        second.find_server("site-a", "web-server-1").unwrap().status,
        ServerStatus::Shutoff
    );
    assert_eq!(
        first.find_server("site-a", "web-server-1").unwrap().status,
        ServerStatus::Shutoff
    );
    second.set_site_down("site-b", true).unwrap();
    let b = clients(&first, "site-b").await;
    assert_eq!(
        b.identity.authenticate().await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    first.clear().unwrap();
    assert_eq!(first.inspect(), second.inspect());
    assert_eq!(first.last_write(), second.last_write());
    drop((first, second));
    let third = Simulator::open(&path).unwrap();
    assert_eq!(
        third.find_server("site-a", "web-server-1").unwrap().status,
        ServerStatus::Shutoff
    );
}
