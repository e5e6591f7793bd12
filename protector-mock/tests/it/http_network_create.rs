//! Neutron networks and subnets created and deleted over the wire, as `openstack network
//! create` / `openstack subnet create` send them: Neutron's defaults, policy, validation and
//! in-use refusals, and the result in `sim inspect`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::http_openstack_support::{env, Answer, Session};

async fn delete(session: &Session, path: &str) -> Answer {
    session.call(Method::DELETE, path, None, None).await
}

fn neutron_error(answer: &Answer) -> (&str, &str) {
    let error = &answer.body["NeutronError"];
    (
        error["type"].as_str().unwrap_or_default(),
        error["message"].as_str().unwrap_or_default(),
    )
}

fn id(answer: &Answer, key: &str) -> String {
    answer.body[key]["id"].as_str().unwrap().to_string()
}

async fn create_network(session: &Session, body: Value) -> Answer {
    session.post("/network/v2.0/networks", None, body).await
}

async fn create_subnet(session: &Session, body: Value) -> Answer {
    session.post("/network/v2.0/subnets", None, body).await
}

#[tokio::test]
async fn a_drill_network_is_created_with_neutron_s_defaults_used_and_deleted() {
    let env = env().await;
    let member = env.login("site-b-member").await;

    // What `openstack network create acc-drill-net` sends.
    let network = create_network(
        &member,
        json!({"network": {"name": "acc-drill-net", "admin_state_up": true}}),
    )
    .await;
    assert_eq!(network.status, StatusCode::CREATED, "{}", network.body);
    let net = &network.body["network"];
    assert_eq!(net["status"], "ACTIVE");
    assert_eq!(net["admin_state_up"], true);
    assert_eq!(net["shared"], false);
    assert_eq!(net["mtu"], 1450);
    assert_eq!(net["subnets"], json!([]));
    assert_eq!(net["project_id"], member.project_id.as_str());
    assert_eq!(net["tenant_id"], member.project_id.as_str());
    assert!(
        net.get("provider:network_type").is_none(),
        "provider attributes are admin-only"
    );
    let network_id = id(&network, "network");

    // What `openstack subnet create --network acc-drill-net --subnet-range 10.77.0.0/24` sends.
    let subnet = create_subnet(
        &member,
        json!({"subnet": {"name": "acc-drill-subnet", "network_id": network_id,
               "ip_version": 4, "cidr": "10.77.0.0/24"}}),
    )
    .await;
    assert_eq!(subnet.status, StatusCode::CREATED, "{}", subnet.body);
    let sub = &subnet.body["subnet"];
    assert_eq!(sub["cidr"], "10.77.0.0/24");
    assert_eq!(sub["ip_version"], 4);
    assert_eq!(sub["gateway_ip"], "10.77.0.1");
    assert_eq!(
        sub["allocation_pools"],
        json!([{"start": "10.77.0.2", "end": "10.77.0.254"}])
    );
    assert_eq!(sub["enable_dhcp"], true);
    assert_eq!(sub["project_id"], member.project_id.as_str());
    let subnet_id = id(&subnet, "subnet");
    let shown = member
        .get(&format!("/network/v2.0/networks/{network_id}"), None)
        .await;
    assert_eq!(shown.body["network"]["subnets"], json!([subnet_id]));

    // Visible in the inventory with its subnet.
    let inventory = env.sim.inspect();
    let listed = inventory.sites["site-b"]
        .networks
        .iter()
        .find(|n| n.id == network_id)
        .expect("the new network in sim inspect");
    assert_eq!(listed.name, "acc-drill-net");
    assert!(!listed.shared);
    assert_eq!(listed.subnets.len(), 1);
    assert_eq!(listed.subnets[0].cidr, "10.77.0.0/24");
    assert_eq!(listed.subnets[0].gateway_ip.as_deref(), Some("10.77.0.1"));
    assert!(inventory.sites["site-a"]
        .networks
        .iter()
        .all(|n| n.id != network_id));

    // A port on it gets the first address of the pool; the network and subnet are in use.
    let port = member
        .post(
            "/network/v2.0/ports",
            None,
            json!({"port": {"network_id": network_id, "name": "drill-eth0"}}),
        )
        .await;
    assert_eq!(port.status, StatusCode::CREATED, "{}", port.body);
    assert_eq!(port.body["port"]["fixed_ips"][0]["ip_address"], "10.77.0.2");
    let port_id = id(&port, "port");
    let refused = delete(&member, &format!("/network/v2.0/networks/{network_id}")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let (kind, message) = neutron_error(&refused);
    assert_eq!(kind, "NetworkInUse");
    assert!(message.contains(&network_id), "{message}");
    let refused = delete(&member, &format!("/network/v2.0/subnets/{subnet_id}")).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(neutron_error(&refused).0, "SubnetInUse");
    assert!(env.sim.inspect().sites["site-b"]
        .networks
        .iter()
        .any(|n| n.id == network_id && n.subnets.len() == 1));

    // Once the port is gone the network goes, with its subnet.
    let gone = delete(&member, &format!("/network/v2.0/ports/{port_id}")).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    let gone = delete(&member, &format!("/network/v2.0/networks/{network_id}")).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    let missing = member
        .get(&format!("/network/v2.0/subnets/{subnet_id}"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(neutron_error(&missing).0, "SubnetNotFound");
    let again = delete(&member, &format!("/network/v2.0/networks/{network_id}")).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(neutron_error(&again).0, "NetworkNotFound");
    assert!(env.sim.inspect().sites["site-b"]
        .networks
        .iter()
        .all(|n| n.id != network_id));
}

#[tokio::test]
async fn ownership_sharing_and_policy() {
    let env = env().await;
    let admin = env.login("site-b").await;
    let member = env.login("site-b-member").await;
    let other = env.login("site-b-tenant2").await;

    // Only admins share a network or create one in another project.
    let refused = create_network(
        &member,
        json!({"network": {"name": "wide", "shared": true}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(neutron_error(&refused).0, "PolicyNotAuthorized");
    let refused = create_network(
        &member,
        json!({"network": {"name": "theirs", "project_id": other.project_id}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    let shared = create_network(
        &admin,
        json!({"network": {"name": "shared-drill", "shared": true, "mtu": 1400,
               "description": "for every project"}}),
    )
    .await;
    assert_eq!(shared.status, StatusCode::CREATED, "{}", shared.body);
    assert_eq!(shared.body["network"]["mtu"], 1400);
    assert_eq!(shared.body["network"]["description"], "for every project");
    assert_eq!(shared.body["network"]["provider:network_type"], "vxlan");
    let shared_id = id(&shared, "network");
    let private = create_network(&member, json!({"network": {"name": "private-drill"}})).await;
    assert_eq!(private.status, StatusCode::CREATED, "{}", private.body);
    let private_id = id(&private, "network");

    // tenant2 sees the shared one, not the private one, and may not change either.
    let names = |answer: &Answer| -> Vec<String> {
        answer.body["networks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    };
    let seen = other.get("/network/v2.0/networks", None).await;
    assert!(
        names(&seen).contains(&"shared-drill".to_string()),
        "{seen:?}",
        seen = seen.body
    );
    assert!(!names(&seen).contains(&"private-drill".to_string()));
    let hidden = other
        .get(&format!("/network/v2.0/networks/{private_id}"), None)
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let refused = delete(&other, &format!("/network/v2.0/networks/{private_id}")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let refused = delete(&other, &format!("/network/v2.0/networks/{shared_id}")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let refused = create_subnet(
        &other,
        json!({"subnet": {"network_id": shared_id, "ip_version": 4, "cidr": "10.5.0.0/24"}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    // The admin's subnet on the shared network, and tenant2's port on it.
    let subnet = create_subnet(
        &admin,
        json!({"subnet": {"network_id": shared_id, "ip_version": 4, "cidr": "10.5.0.0/24",
               "gateway_ip": null, "enable_dhcp": false,
               "allocation_pools": [{"start": "10.5.0.100", "end": "10.5.0.110"}]}}),
    )
    .await;
    assert_eq!(subnet.status, StatusCode::CREATED, "{}", subnet.body);
    assert_eq!(subnet.body["subnet"]["gateway_ip"], Value::Null);
    assert_eq!(subnet.body["subnet"]["enable_dhcp"], false);
    let port = other
        .post(
            "/network/v2.0/ports",
            None,
            json!({"port": {"network_id": shared_id}}),
        )
        .await;
    assert_eq!(port.status, StatusCode::CREATED, "{}", port.body);
    assert_eq!(
        port.body["port"]["fixed_ips"][0]["ip_address"], "10.5.0.100",
        "from the pool"
    );
}

#[tokio::test]
async fn bad_bodies_and_conflicts_get_neutron_s_answers() {
    let env = env().await;
    let member = env.login("site-b-member").await;
    let state_before = env.sim.inspect();

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"network": {"name": "x", "color": "red"}}),
            "Unrecognized attribute(s) 'color'",
        ),
        (
            json!({"network": {"name": "x", "shared": "yes"}}),
            "is not a valid boolean value",
        ),
        (
            json!({"net": {"name": "x"}}),
            "Unable to find 'network' in request body",
        ),
        (
            json!({"network": {"mtu": 9000}}),
            "Requested MTU is too big, maximum is 1450",
        ),
        (
            json!({"network": {"router:external": true}}),
            "(rule:create_network and rule:create_network:router:external) is disallowed by policy",
        ),
    ];
    for (body, expected) in cases {
        let answer = create_network(&member, body.clone()).await;
        assert!(
            answer.status == StatusCode::BAD_REQUEST || answer.status == StatusCode::FORBIDDEN,
            "{body}: {} {}",
            answer.status,
            answer.body
        );
        let (_, message) = neutron_error(&answer);
        assert!(message.contains(expected), "{body}: {message}");
    }
    let malformed = member
        .http
        .post(format!("{}/network/v2.0/networks", member.base))
        .header("x-auth-token", &member.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    let network = create_network(&member, json!({"network": {"name": "checks"}})).await;
    let network_id = id(&network, "network");
    let first = create_subnet(
        &member,
        json!({"subnet": {"network_id": network_id, "ip_version": 4, "cidr": "10.60.0.0/24"}}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let subnet_cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (
            json!({"network_id": network_id, "ip_version": 4, "cidr": "10.60.0.0/16"}),
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "overlaps with another subnet",
        ),
        (
            json!({"network_id": network_id, "ip_version": 4, "cidr": "10.61.0.5/24"}),
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "'10.61.0.0/24' is recommended",
        ),
        (
            json!({"network_id": network_id, "ip_version": 4, "cidr": "banana"}),
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "is not a valid IP subnet",
        ),
        (
            json!({"network_id": network_id, "ip_version": 6, "cidr": "fd00::/64"}),
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "IPv4 subnets only",
        ),
        (
            json!({"network_id": network_id, "ip_version": 4}),
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "a cidr must be specified",
        ),
        (
            json!({"network_id": network_id, "cidr": "10.62.0.0/24"}),
            StatusCode::BAD_REQUEST,
            "HTTPBadRequest",
            "Required attribute 'ip_version' not specified",
        ),
        (
            json!({"network_id": network_id, "ip_version": 4, "cidr": "10.63.0.0/24",
                   "gateway_ip": "10.64.0.1"}),
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "is not valid on subnet",
        ),
        (
            json!({"network_id": network_id, "ip_version": 4, "cidr": "10.63.0.0/24",
                   "allocation_pools": [{"start": "10.63.0.1", "end": "10.63.0.9"}]}),
            StatusCode::CONFLICT,
            "GatewayConflictWithAllocationPools",
            "Gateway ip 10.63.0.1 conflicts with allocation pool 10.63.0.1-10.63.0.9",
        ),
        (
            json!({"network_id": network_id, "ip_version": 4, "cidr": "10.63.0.0/24",
                   "allocation_pools": [{"start": "10.63.0.10", "end": "10.63.1.9"}]}),
            StatusCode::BAD_REQUEST,
            "OutOfBoundsAllocationPool",
            "spans beyond the subnet cidr 10.63.0.0/24",
        ),
        (
            json!({"network_id": network_id, "ip_version": 4, "cidr": "10.63.0.0/24",
                   "allocation_pools": [{"start": "10.63.0.10", "end": "10.63.0.20"},
                                        {"start": "10.63.0.15", "end": "10.63.0.30"}]}),
            StatusCode::BAD_REQUEST,
            "OverlappingAllocationPools",
            "Found overlapping allocation pools",
        ),
        (
            json!({"network_id": "0b1e5c2c-1111-4222-8333-944445555666", "ip_version": 4,
                   "cidr": "10.65.0.0/24"}),
            StatusCode::NOT_FOUND,
            "NetworkNotFound",
            "Network 0b1e5c2c-1111-4222-8333-944445555666 could not be found.",
        ),
    ];
    for (body, status, kind, expected) in subnet_cases {
        let answer = create_subnet(&member, json!({ "subnet": body })).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        let (found_kind, message) = neutron_error(&answer);
        assert_eq!(found_kind, kind, "{body}: {message}");
        assert!(message.contains(expected), "{body}: {message}");
    }
    // Nothing half-made: one network and one subnet more than before, no more.
    let after = env.sim.inspect();
    assert_eq!(
        after.sites["site-b"].networks.len(),
        state_before.sites["site-b"].networks.len() + 1
    );
    let checks = after.sites["site-b"]
        .networks
        .iter()
        .find(|n| n.id == network_id)
        .unwrap();
    assert_eq!(checks.subnets.len(), 1);
}

#[tokio::test]
async fn a_router_joins_drill_subnets_and_holds_them_until_removed() {
    let env = env().await;
    let member = env.login("site-b-member").await;
    let network = create_network(&member, json!({"network": {"name": "drill-app"}})).await;
    let network_id = id(&network, "network");
    let subnet = create_subnet(
        &member,
        json!({"subnet": {"network_id": network_id, "ip_version": 4, "cidr": "10.78.0.0/24"}}),
    )
    .await;
    let subnet_id = id(&subnet, "subnet");

    // What `openstack router create drill-router` sends.
    let router = member
        .post(
            "/network/v2.0/routers",
            None,
            json!({"router": {"name": "drill-router", "admin_state_up": true}}),
        )
        .await;
    assert_eq!(router.status, StatusCode::CREATED, "{}", router.body);
    assert_eq!(router.body["router"]["status"], "ACTIVE");
    assert_eq!(router.body["router"]["external_gateway_info"], Value::Null);
    assert_eq!(
        router.body["router"]["project_id"],
        member.project_id.as_str()
    );
    let router_id = id(&router, "router");
    let gateway = member
        .post(
            "/network/v2.0/routers",
            None,
            json!({"router": {"name": "out", "external_gateway_info": {"network_id": network_id}}}),
        )
        .await;
    assert_eq!(gateway.status, StatusCode::BAD_REQUEST, "{}", gateway.body);

    // `openstack router add subnet drill-router SUBNET`: a port holding the gateway address.
    let add_path = format!("/network/v2.0/routers/{router_id}/add_router_interface");
    let add = |body: Value| member.call(Method::PUT, &add_path, None, Some(body));
    let added = add(json!({"subnet_id": subnet_id})).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(added.body["subnet_id"], subnet_id.as_str());
    assert_eq!(added.body["network_id"], network_id.as_str());
    let port_id = added.body["port_id"].as_str().unwrap().to_string();
    let port = member
        .get(&format!("/network/v2.0/ports/{port_id}"), None)
        .await;
    assert_eq!(
        port.body["port"]["device_owner"],
        "network:router_interface"
    );
    assert_eq!(port.body["port"]["device_id"], router_id.as_str());
    assert_eq!(port.body["port"]["fixed_ips"][0]["ip_address"], "10.78.0.1");
    let twice = add(json!({"subnet_id": subnet_id})).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.body);
    assert!(
        twice.body["NeutronError"]["message"]
            .as_str()
            .unwrap()
            .contains("already has a port on subnet"),
        "{}",
        twice.body
    );
    let inventory = env.sim.inspect();
    let listed = inventory.sites["site-b"]
        .routers
        .iter()
        .find(|r| r.id == router_id)
        .expect("the router in sim inspect");
    assert_eq!(listed.subnet_ids, vec![subnet_id.clone()]);

    // Held: the router, the subnet, the network and the interface port are all in use.
    for (path, kind) in [
        (format!("/network/v2.0/routers/{router_id}"), "RouterInUse"),
        (format!("/network/v2.0/subnets/{subnet_id}"), "SubnetInUse"),
        (
            format!("/network/v2.0/networks/{network_id}"),
            "NetworkInUse",
        ),
        (format!("/network/v2.0/ports/{port_id}"), "HTTPConflict"),
    ] {
        let refused = delete(&member, &path).await;
        assert_eq!(
            refused.status,
            StatusCode::CONFLICT,
            "{path}: {}",
            refused.body
        );
        assert_eq!(neutron_error(&refused).0, kind, "{path}: {}", refused.body);
    }

    // `openstack router remove subnet`, then everything goes.
    let removed = member
        .call(
            Method::PUT,
            &format!("/network/v2.0/routers/{router_id}/remove_router_interface"),
            None,
            Some(json!({"subnet_id": subnet_id})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(removed.body["port_id"], port_id.as_str());
    let again = member
        .call(
            Method::PUT,
            &format!("/network/v2.0/routers/{router_id}/remove_router_interface"),
            None,
            Some(json!({"subnet_id": subnet_id})),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    assert_eq!(neutron_error(&again).0, "RouterInterfaceNotFoundForSubnet");
    for path in [
        format!("/network/v2.0/routers/{router_id}"),
        format!("/network/v2.0/networks/{network_id}"),
    ] {
        let gone = delete(&member, &path).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{path}: {}", gone.body);
    }
    let missing = member
        .get(&format!("/network/v2.0/routers/{router_id}"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(neutron_error(&missing).0, "RouterNotFound");
    assert!(env.sim.inspect().sites["site-b"].routers.is_empty());
}

#[tokio::test]
async fn a_bulk_port_create_makes_all_the_ports_in_order_or_none() {
    let env = env().await;
    let member = env.login("site-b-member").await;
    let network = create_network(&member, json!({"network": {"name": "bulk-net"}})).await;
    let network_id = id(&network, "network");
    let subnet = create_subnet(
        &member,
        json!({"subnet": {"network_id": network_id, "ip_version": 4, "cidr": "10.78.0.0/24"}}),
    )
    .await;
    assert_eq!(subnet.status, StatusCode::CREATED, "{}", subnet.body);
    let subnet_id = id(&subnet, "subnet");
    let ports_on_it = |env: &crate::http_openstack_support::Env| {
        env.sim.inspect().sites.get("site-b").map_or(0, |s| {
            s.ports
                .iter()
                .filter(|p| p.network_id == network_id)
                .count()
        })
    };

    // Two ports in one request: answered in the request's order.
    let made = member
        .post(
            "/network/v2.0/ports",
            None,
            json!({"ports": [
                {"network_id": network_id, "name": "bulk-0",
                 "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.78.0.50"}]},
                {"network_id": network_id, "name": "bulk-1"}
            ]}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let ports = made.body["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2);
    assert_eq!(ports[0]["name"], "bulk-0");
    assert_eq!(ports[0]["fixed_ips"][0]["ip_address"], "10.78.0.50");
    assert_eq!(ports[1]["name"], "bulk-1");
    assert_eq!(ports_on_it(&env), 2);

    // One port of a request refused: none of it is made.
    let refused = member
        .post(
            "/network/v2.0/ports",
            None,
            json!({"ports": [
                {"network_id": network_id, "name": "bulk-2"},
                {"network_id": network_id, "name": "bulk-3",
                 "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.78.0.50"}]}
            ]}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(neutron_error(&refused).0, "IpAddressAlreadyAllocated");
    assert_eq!(
        ports_on_it(&env),
        2,
        "the first port of the refused request stays unmade"
    );

    // Within one request, each port sees the addresses of the ports made before it: automatic
    // addresses are all different, and a port asking for an earlier one's is refused.
    let many = member
        .post(
            "/network/v2.0/ports",
            None,
            json!({"ports": [
                {"network_id": network_id, "name": "auto-0"},
                {"network_id": network_id, "name": "auto-1",
                 "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.78.0.60"}]},
                {"network_id": network_id, "name": "auto-2"},
                {"network_id": network_id, "name": "auto-3"}
            ]}),
        )
        .await;
    assert_eq!(many.status, StatusCode::CREATED, "{}", many.body);
    let mut addresses: Vec<String> = many.body["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["fixed_ips"][0]["ip_address"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    addresses.push("10.78.0.50".to_string());
    let distinct: std::collections::BTreeSet<&String> = addresses.iter().collect();
    assert_eq!(distinct.len(), addresses.len(), "{addresses:?}");
    let clash = member
        .post(
            "/network/v2.0/ports",
            None,
            json!({"ports": [
                {"network_id": network_id, "name": "clash-0",
                 "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.78.0.70"}]},
                {"network_id": network_id, "name": "clash-1",
                 "fixed_ips": [{"subnet_id": subnet_id, "ip_address": "10.78.0.70"}]}
            ]}),
        )
        .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert_eq!(neutron_error(&clash).0, "IpAddressAlreadyAllocated");
    assert_eq!(ports_on_it(&env), 6);

    // A bulk request with anything beside its list, or an empty list, is refused.
    for body in [
        json!({"ports": []}),
        json!({"ports": [{"network_id": network_id}], "port": {"network_id": network_id}}),
        json!({"ports": [{"network_id": network_id, "colour": "red"}]}),
    ] {
        let bad = member.post("/network/v2.0/ports", None, body).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    }
    assert_eq!(ports_on_it(&env), 6);
}
