//! Neutron: fixed-IP allocation and port validation.

use protector_core::api::{CreatePort, ListPorts};
use protector_core::ErrorKind;
use protector_mock::Simulator;

use crate::common::*;

fn port(network: &str, subnet: &str, ip: Option<&str>) -> CreatePort {
    CreatePort {
        network_id: network.into(),
        name: "p".into(),
        fixed_ips: vec![(subnet.into(), ip.map(str::to_string))],
        security_group_ids: vec![],
        description: "protector:op:create_port:web-server-1:0".into(),
    }
}

#[tokio::test]
async fn a_taken_ip_is_a_conflict() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    let net = b
        .network
        .find_network("net-secondary-web")
        .await
        .unwrap()
        .unwrap();
    let subnet = net.subnets[0].id.clone();
    let first = b
        .network
        .create_port(&port(&net.id, &subnet, Some("10.20.1.5")))
        .await
        .unwrap();
    assert_eq!(first.fixed_ips[0].ip_address, "10.20.1.5");
    assert!(first.device_id.is_empty());
    let default_sg = b
        .network
        .find_security_group("default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.security_group_ids,
        [default_sg.id],
        "Neutron applies the default group"
    );

    let taken = b
        .network
        .create_port(&port(&net.id, &subnet, Some("10.20.1.5")))
        .await
        .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::Conflict);
    assert_eq!(
        taken.message(),
        format!("IP address 10.20.1.5 already allocated in subnet {subnet}")
    );
    assert_eq!(taken.context_value("site"), Some("site-b"));
    // The gateway is taken by the router.
    assert_error(
        &b.network
            .create_port(&port(&net.id, &subnet, Some("10.20.1.1")))
            .await
            .unwrap_err(),
        ErrorKind::Conflict,
        "already allocated",
    );

    // Deleting frees the address.
    b.network.delete_port(&first.id).await.unwrap();
    b.network.delete_port(&first.id).await.unwrap();
    b.network
        .create_port(&port(&net.id, &subnet, Some("10.20.1.5")))
        .await
        .unwrap();
}

#[tokio::test]
async fn addresses_subnets_and_groups_are_checked() {
    let sim = Simulator::in_memory().unwrap();
    let b = clients(&sim, "site-b").await;
    let web = b
        .network
        .find_network("net-secondary-web")
        .await
        .unwrap()
        .unwrap();
    let db = b
        .network
        .find_network("net-secondary-db")
        .await
        .unwrap()
        .unwrap();
    let web_subnet = web.subnets[0].id.clone();

    assert_error(
        &b.network
            .create_port(&port(&web.id, &web_subnet, Some("10.20.2.5")))
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "is not a valid IP for the specified subnet",
    );
    assert_error(
        &b.network
            .create_port(&port(&web.id, &web_subnet, Some("10.20.1.255")))
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "is not a valid IP",
    );
    assert_error(
        &b.network
            .create_port(&port(&web.id, &web_subnet, Some("ten")))
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "is not a valid IP address",
    );
    assert_error(
        &b.network
            .create_port(&port(&web.id, &db.subnets[0].id, None))
            .await
            .unwrap_err(),
        ErrorKind::InvalidInput,
        "because fixed_ips included invalid subnet",
    );
    assert_error(
        &b.network
            .create_port(&port("no-such-net", &web_subnet, None))
            .await
            .unwrap_err(),
        ErrorKind::NotFound,
        "could not be found",
    );
    let mut bad_sg = port(&web.id, &web_subnet, None);
    bad_sg.security_group_ids = vec!["no-such-group".into()];
    assert_error(
        &b.network.create_port(&bad_sg).await.unwrap_err(),
        ErrorKind::NotFound,
        "Security group no-such-group does not exist",
    );
    // Another project's group is not usable by a member.
    let t2 = clients_as(&sim, "site-b", Some("site-b-tenant2")).await;
    let mut foreign = port(&web.id, &web_subnet, None);
    foreign.security_group_ids = vec![
        b.network
            .find_security_group("web")
            .await
            .unwrap()
            .unwrap()
            .id,
    ];
    assert_eq!(
        t2.network.create_port(&foreign).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // Automatic addresses take the lowest free one; MACs are deterministic and distinct.
    let auto1 = b
        .network
        .create_port(&port(&web.id, &web_subnet, None))
        .await
        .unwrap();
    let auto2 = b
        .network
        .create_port(&port(&web.id, &web_subnet, None))
        .await
        .unwrap();
    assert_eq!(auto1.fixed_ips[0].ip_address, "10.20.1.2");
    assert_eq!(auto2.fixed_ips[0].ip_address, "10.20.1.3");
    assert_ne!(auto1.mac_address, auto2.mac_address);
    let mut no_ips = port(&db.id, "", None);
    no_ips.fixed_ips.clear();
    let on_db = b.network.create_port(&no_ips).await.unwrap();
    assert_eq!(on_db.fixed_ips[0].subnet_id, db.subnets[0].id);

    let described = b
        .network
        .list_ports(&ListPorts {
            description: Some("protector:op:create_port:web-server-1:0".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(described.len(), 3);
    let on_web = b
        .network
        .list_ports(&ListPorts {
            network_id: Some(web.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(on_web.len(), 2);
    // The isolated test network exists on site-b only.
    let test_net = b
        .network
        .find_network("dr-test-net")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(test_net.subnets[0].cidr, "10.99.0.0/24");
}
