//! Neutron's resource views: the JSON bodies of networks, subnets, ports, security groups and
//! their rules as Neutron returns them (standard attributes included), shared by the list,
//! show and create handlers.

use serde_json::{json, Value};

use super::super::common::iso_seconds;

use crate::cloud::{network_create, security_groups, Caller};
use crate::state::records::{
    NetworkRec, PortRec, SecurityGroupRec, SecurityGroupRuleRec, SubnetRec,
};
use crate::state::World;

/// Neutron's standard attributes, the same on every resource the simulator serves.
fn standard(world: &World, body: &mut Value) {
    let at = iso_seconds(world.meta.epoch);
    body["created_at"] = json!(at);
    body["updated_at"] = json!(at);
    body["revision_number"] = json!(1);
    body["tags"] = json!([]);
}

pub(super) fn network_view(world: &World, caller: &Caller, n: &NetworkRec) -> Value {
    let mut body = json!({
        "id": n.id,
        "name": n.name,
        "tenant_id": n.project_id,
        "project_id": n.project_id,
        "admin_state_up": n.admin_state_up,
        "status": "ACTIVE",
        "subnets": n.subnet_ids,
        "shared": n.shared,
        "router:external": false,
        "mtu": n.mtu.unwrap_or(network_create::DEFAULT_MTU),
        "availability_zone_hints": [],
        "availability_zones": ["nova"],
        "ipv4_address_scope": null,
        "ipv6_address_scope": null,
        "port_security_enabled": true,
        "qos_policy_id": null,
        "description": n.description,
        "l2_adjacency": true,
        "is_default": false,
    });
    if caller.is_admin() {
        let segment = world
            .networks
            .values()
            .position(|other| other.id == n.id)
            .unwrap_or(0)
            + 100;
        body["provider:network_type"] = json!("vxlan");
        body["provider:physical_network"] = Value::Null;
        body["provider:segmentation_id"] = json!(segment);
    }
    standard(world, &mut body);
    body
}

pub(super) fn subnet_view(world: &World, s: &SubnetRec) -> Value {
    let pools: Vec<Value> = network_create::allocation_ranges(s)
        .into_iter()
        .map(|(start, end)| json!({"start": start.to_string(), "end": end.to_string()}))
        .collect();
    let gateway = (!s.gateway_ip.is_empty()).then_some(&s.gateway_ip);
    let mut body = json!({
        "id": s.id,
        "name": s.name,
        "network_id": s.network_id,
        "tenant_id": s.project_id,
        "project_id": s.project_id,
        "ip_version": 4,
        "cidr": s.cidr,
        "gateway_ip": gateway,
        "allocation_pools": pools,
        "enable_dhcp": s.enable_dhcp,
        "dns_nameservers": s.dns_nameservers,
        "host_routes": [],
        "ipv6_ra_mode": null,
        "ipv6_address_mode": null,
        "subnetpool_id": null,
        "service_types": [],
        "description": s.description,
        "dns_publish_fixed_ip": false,
    });
    standard(world, &mut body);
    body
}

pub(super) fn port_view(world: &World, caller: &Caller, p: &PortRec) -> Value {
    let bound = !p.device_id.is_empty() && p.device_owner.starts_with("compute:");
    let mut body = json!({
        "id": p.id,
        "name": p.name,
        "network_id": p.network_id,
        "tenant_id": p.project_id,
        "project_id": p.project_id,
        "mac_address": p.mac_address,
        "admin_state_up": true,
        "status": p.status,
        "device_id": p.device_id,
        "device_owner": p.device_owner,
        "fixed_ips": p.fixed_ips.iter().map(|(subnet, ip)| json!({"subnet_id": subnet, "ip_address": ip})).collect::<Vec<_>>(),
        "security_groups": p.security_group_ids,
        "description": p.description,
        "allowed_address_pairs": [],
        "extra_dhcp_opts": [],
        "binding:vnic_type": "normal",
        "port_security_enabled": true,
        "qos_policy_id": null,
        "qos_network_policy_id": null,
        "propagate_uplink_status": false,
    });
    if caller.is_admin() {
        let host = if bound {
            crate::seed::compute_host(&p.site)
        } else {
            String::new()
        };
        body["binding:host_id"] = json!(host);
        body["binding:profile"] = json!({});
        body["binding:vif_type"] = json!(if bound { "ovs" } else { "unbound" });
        body["binding:vif_details"] = json!({});
    }
    standard(world, &mut body);
    body
}

pub(super) fn rule_view(world: &World, r: &SecurityGroupRuleRec) -> Value {
    let mut body = json!({
        "id": r.id,
        "tenant_id": r.project_id,
        "project_id": r.project_id,
        "security_group_id": r.security_group_id,
        "direction": r.direction,
        "ethertype": r.ethertype,
        "protocol": r.protocol,
        "port_range_min": r.port_range_min,
        "port_range_max": r.port_range_max,
        "remote_ip_prefix": r.remote_ip_prefix,
        "normalized_cidr": r.remote_ip_prefix,
        "remote_group_id": r.remote_group_id,
        "remote_address_group_id": null,
        "description": r.description,
    });
    standard(world, &mut body);
    body
}

pub(super) fn group_view(world: &World, g: &SecurityGroupRec) -> Value {
    let rules: Vec<Value> = security_groups::rules_of(world, &g.id)
        .into_iter()
        .map(|r| rule_view(world, r))
        .collect();
    let mut body = json!({
        "id": g.id,
        "name": g.name,
        "description": g.description,
        "tenant_id": g.project_id,
        "project_id": g.project_id,
        "stateful": true,
        "shared": false,
        "security_group_rules": rules,
    });
    standard(world, &mut body);
    body
}
