//! Neutron: every NetworkApi call's request line, headers, body and decoding.

use protector_core::api::{CreatePort, ListPorts, NetworkApi, Port, PortFixedIp, SecurityGroup};
use protector_core::ErrorKind;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, query_param, query_param_is_missing};
use wiremock::ResponseTemplate;

use super::support::*;

fn neutron_error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-openstack-request-id", "req-neutron")
        .set_body_json(json!({"NeutronError": {"type": kind, "message": message, "detail": ""}}))
}

fn network_json(id: &str, name: &str, project: &str, subnets: &[&str]) -> Value {
    json!({"id": id, "name": name, "status": "ACTIVE", "subnets": subnets,
           "admin_state_up": true, "shared": false, "project_id": project, "tenant_id": project})
}

fn subnet_json(id: &str, network: &str, cidr: &str) -> Value {
    json!({"id": id, "name": format!("sub-{id}"), "network_id": network, "cidr": cidr,
           "ip_version": 4, "project_id": PROJECT})
}

fn port_json(id: &str, device: &str, description: &str) -> Value {
    json!({"id": id, "name": format!("port-{id}"), "network_id": "n1", "device_id": device,
           "mac_address": "fa:16:3e:00:00:01", "status": "DOWN",
           "fixed_ips": [{"subnet_id": "sn1", "ip_address": "10.0.0.15"}],
           "security_groups": ["sg1", "sg2"], "tenant_id": PROJECT, "description": description})
}

#[tokio::test]
async fn find_network_by_id_brings_its_subnets_in_order() {
    let f = Fixture::start().await;
    neutron("GET", "networks/n1")
        .respond_with(json_response(
            200,
            json!({"network": network_json("n1", "web", PROJECT, &["sn2", "sn1"])}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("GET", "subnets")
        .and(query_param("network_id", "n1"))
        .respond_with(json_response(
            200,
            json!({"subnets": [
            subnet_json("sn1", "n1", "10.0.0.0/24"), subnet_json("sn2", "n1", "10.0.1.0/24")]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let network = f.cloud.network().find_network("n1").await.unwrap().unwrap();
    assert_eq!(network.name, "web");
    assert_eq!(network.project_id, PROJECT);
    let cidrs: Vec<&str> = network.subnets.iter().map(|s| s.cidr.as_str()).collect();
    assert_eq!(cidrs, ["10.0.1.0/24", "10.0.0.0/24"]);
}

#[tokio::test]
async fn find_network_by_name_prefers_the_project_s_own() {
    let f = Fixture::start().await;
    for name in ["web", "shared", "dup", "none"] {
        neutron("GET", &format!("networks/{name}"))
            .respond_with(neutron_error(
                404,
                "NetworkNotFound",
                "Network could not be found.",
            ))
            .mount(&f.server)
            .await;
    }
    let by_name = |name: &str, body: Value| {
        neutron("GET", "networks")
            .and(query_param("name", name))
            .respond_with(json_response(200, body))
    };
    by_name(
        "web",
        json!({"networks": [
        network_json("n-other", "web", "someone-else", &[]),
        network_json("n-own", "web", PROJECT, &[])]}),
    )
    .mount(&f.server)
    .await;
    by_name(
        "shared",
        json!({"networks": [network_json("n-pub", "shared", "admin-project", &[])]}),
    )
    .mount(&f.server)
    .await;
    by_name(
        "dup",
        json!({"networks": [
        network_json("n-a", "dup", PROJECT, &[]), network_json("n-b", "dup", PROJECT, &[])]}),
    )
    .mount(&f.server)
    .await;
    by_name("none", json!({"networks": []}))
        .mount(&f.server)
        .await;
    neutron("GET", "subnets")
        .respond_with(json_response(200, json!({"subnets": []})))
        .mount(&f.server)
        .await;
    let network = f.cloud.network();
    assert_eq!(
        network.find_network("web").await.unwrap().unwrap().id,
        "n-own"
    );
    assert_eq!(
        network.find_network("shared").await.unwrap().unwrap().id,
        "n-pub"
    );
    let err = network.find_network("dup").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.message().contains("(n-a, n-b)"), "{err}");
    assert_eq!(network.find_network("none").await.unwrap(), None);
}

#[tokio::test]
async fn list_networks_joins_all_subnets() {
    let f = Fixture::start().await;
    neutron("GET", "networks")
        .respond_with(json_response(200, json!({"networks": [
            network_json("n1", "a", PROJECT, &["sn1"]), network_json("n2", "b", PROJECT, &["sn2"])]})))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("GET", "subnets")
        .and(query_param_is_missing("network_id"))
        .respond_with(json_response(
            200,
            json!({"subnets": [
            subnet_json("sn1", "n1", "10.0.0.0/24"), subnet_json("sn2", "n2", "10.0.1.0/24")]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let networks = f.cloud.network().list_networks().await.unwrap();
    assert_eq!(networks.len(), 2);
    assert_eq!(networks[1].subnets[0].id, "sn2");
}

#[tokio::test]
async fn list_ports_sends_the_filters_and_checks_them_again() {
    let f = Fixture::start().await;
    neutron("GET", "ports")
        .and(query_param("device_id", "s1"))
        .and(query_param("description", "protector step 3"))
        .and(query_param_is_missing("network_id"))
        .and(query_param_is_missing("marker"))
        .respond_with(json_response(200, json!({
            "ports": [port_json("p1", "s1", "protector step 3"), port_json("p2", "s1", "other")],
            "ports_links": [{"rel": "next", "href": "http://neutron.invalid/v2.0/ports?device_id=s1&description=protector+step+3&marker=p2"}]
        })))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("GET", "ports")
        .and(query_param("marker", "p2"))
        .respond_with(json_response(200, json!({"ports": []})))
        .expect(1)
        .mount(&f.server)
        .await;
    let filter = ListPorts {
        device_id: Some("s1".into()),
        network_id: None,
        description: Some("protector step 3".into()),
    };
    let ports = f.cloud.network().list_ports(&filter).await.unwrap();
    assert_eq!(
        ports,
        [Port {
            id: "p1".into(),
            name: "port-p1".into(),
            network_id: "n1".into(),
            device_id: "s1".into(),
            mac_address: "fa:16:3e:00:00:01".into(),
            fixed_ips: vec![PortFixedIp {
                subnet_id: "sn1".into(),
                ip_address: "10.0.0.15".into(),
            }],
            security_group_ids: vec!["sg1".into(), "sg2".into()],
            project_id: PROJECT.into(),
            description: "protector step 3".into(),
        }]
    );
}

#[tokio::test]
async fn get_port_and_a_missing_one() {
    let f = Fixture::start().await;
    neutron("GET", "ports/p1")
        .respond_with(json_response(200, json!({"port": port_json("p1", "", "")})))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("GET", "ports/gone")
        .respond_with(neutron_error(
            404,
            "PortNotFound",
            "Port gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let port = f.cloud.network().get_port("p1").await.unwrap().unwrap();
    assert_eq!(port.device_id, "");
    assert_eq!(f.cloud.network().get_port("gone").await.unwrap(), None);
}

fn create_request(security_groups: &[&str]) -> CreatePort {
    CreatePort {
        network_id: "n1".into(),
        name: "web-01-dr-eth0".into(),
        fixed_ips: vec![
            ("sn1".into(), Some("10.0.0.15".into())),
            ("sn2".into(), None),
        ],
        security_group_ids: security_groups.iter().map(|s| s.to_string()).collect(),
        description: "protector op-1 step-4".into(),
    }
}

#[tokio::test]
async fn create_port_puts_security_groups_on_the_port() {
    let f = Fixture::start().await;
    neutron("POST", "ports")
        .and(body_json(json!({"port": {
            "network_id": "n1", "name": "web-01-dr-eth0", "admin_state_up": true,
            "description": "protector op-1 step-4",
            "fixed_ips": [{"subnet_id": "sn1", "ip_address": "10.0.0.15"}, {"subnet_id": "sn2"}],
            "security_groups": ["sg1", "sg2"]}})))
        .respond_with(json_response(
            201,
            json!({"port": port_json("p-new", "", "protector op-1 step-4")}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let port = f
        .cloud
        .network()
        .create_port(&create_request(&["sg1", "sg2"]))
        .await
        .unwrap();
    assert_eq!(port.id, "p-new");
    assert_eq!(port.security_group_ids, ["sg1", "sg2"]);
}

#[tokio::test]
async fn create_port_without_groups_leaves_neutron_s_default() {
    let f = Fixture::start().await;
    neutron("POST", "ports")
        .and(body_json(json!({"port": {
            "network_id": "n1", "name": "web-01-dr-eth0", "admin_state_up": true,
            "description": "protector op-1 step-4",
            "fixed_ips": [{"subnet_id": "sn1", "ip_address": "10.0.0.15"}, {"subnet_id": "sn2"}]}})))
        .respond_with(json_response(201, json!({"port": port_json("p-new", "", "")})))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud
        .network()
        .create_port(&create_request(&[]))
        .await
        .unwrap();
}

/// Neutron refusing the next port create (one request, alone or in bulk) with an IP in use.
async fn ip_in_use_once(f: &Fixture) {
    neutron("POST", "ports")
        .respond_with(neutron_error(
            409,
            "IpAddressAlreadyAllocated",
            "IP address 10.0.0.15 already allocated in subnet sn1",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
}

#[tokio::test]
async fn an_ip_in_use_is_a_conflict_sent_once() {
    let f = Fixture::start().await;
    ip_in_use_once(&f).await;
    let err = f
        .cloud
        .network()
        .create_port(&create_request(&[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(
        err.message(),
        "create port 'web-01-dr-eth0' failed: Neutron answered 409 Conflict: IP address 10.0.0.15 already allocated in subnet sn1"
    );
    assert_eq!(
        err.context_value("fault"),
        Some("IpAddressAlreadyAllocated")
    );
    assert_eq!(err.context_value("request_id"), Some("req-neutron"));
}

#[tokio::test]
async fn a_missing_security_group_is_not_found() {
    let f = Fixture::start().await;
    neutron("POST", "ports")
        .respond_with(neutron_error(
            404,
            "SecurityGroupNotFound",
            "Security group sg9 does not exist",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f
        .cloud
        .network()
        .create_port(&create_request(&["sg9"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn create_ports_sends_one_bulk_request_and_answers_in_its_order() {
    let f = Fixture::start().await;
    let mut second = create_request(&[]);
    second.name = "web-02-dr-eth0".into();
    second.fixed_ips = vec![("sn1".into(), None)];
    neutron("POST", "ports")
        .and(body_json(json!({"ports": [
            {"network_id": "n1", "name": "web-01-dr-eth0", "admin_state_up": true,
             "description": "protector op-1 step-4",
             "fixed_ips": [{"subnet_id": "sn1", "ip_address": "10.0.0.15"}, {"subnet_id": "sn2"}],
             "security_groups": ["sg1"]},
            {"network_id": "n1", "name": "web-02-dr-eth0", "admin_state_up": true,
             "description": "protector op-1 step-4",
             "fixed_ips": [{"subnet_id": "sn1"}]}
        ]})))
        .respond_with(json_response(
            201,
            json!({"ports": [port_json("p-1", "", "a"), port_json("p-2", "", "b")]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let answers = f
        .cloud
        .network()
        .create_ports(&[create_request(&["sg1"]), second])
        .await
        .unwrap();
    let ids: Vec<String> = answers.into_iter().map(|a| a.unwrap().id).collect();
    assert_eq!(ids, ["p-1", "p-2"]);
}

#[tokio::test]
async fn a_refused_bulk_create_is_an_error_for_the_whole_request() {
    let f = Fixture::start().await;
    ip_in_use_once(&f).await;
    let err = f
        .cloud
        .network()
        .create_ports(&[create_request(&[]), create_request(&[])])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.message().starts_with("create 2 ports failed"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn delete_port_and_a_missing_one() {
    let f = Fixture::start().await;
    neutron("DELETE", "ports/p1")
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("DELETE", "ports/gone")
        .respond_with(neutron_error(
            404,
            "PortNotFound",
            "Port gone could not be found.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    f.cloud.network().delete_port("p1").await.unwrap();
    f.cloud.network().delete_port("gone").await.unwrap();
}

fn group_json(id: &str, name: &str, project: &str) -> Value {
    json!({"id": id, "name": name, "description": "", "project_id": project,
           "tenant_id": project, "stateful": true, "security_group_rules": []})
}

#[tokio::test]
async fn security_groups_by_id_by_name_within_the_project_and_listed() {
    let f = Fixture::start().await;
    neutron("GET", "security-groups/sg1")
        .respond_with(json_response(
            200,
            json!({"security_group": group_json("sg1", "web", PROJECT)}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("GET", "security-groups/default")
        .respond_with(neutron_error(
            404,
            "SecurityGroupNotFound",
            "Security group default does not exist",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("GET", "security-groups")
        .and(query_param("name", "default"))
        .and(query_param("project_id", PROJECT))
        .respond_with(json_response(
            200,
            json!({"security_groups": [
            group_json("sg-d", "default", PROJECT)]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    neutron("GET", "security-groups")
        .and(query_param_is_missing("name"))
        .and(query_param("project_id", PROJECT))
        .respond_with(json_response(
            200,
            json!({"security_groups": [
            group_json("sg1", "web", PROJECT), group_json("sg-x", "default", "other")]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let network = f.cloud.network();
    assert_eq!(
        network.find_security_group("sg1").await.unwrap(),
        Some(SecurityGroup {
            id: "sg1".into(),
            name: "web".into(),
            project_id: PROJECT.into(),
        })
    );
    assert_eq!(
        network
            .find_security_group("default")
            .await
            .unwrap()
            .unwrap()
            .id,
        "sg-d"
    );
    let listed = network.list_security_groups().await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, ["sg1"]);
}
