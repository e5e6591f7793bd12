//! Neutron networks and subnets made and removed by operators (`openstack network create`,
//! `openstack subnet create`): Neutron's defaults, its policy (a non-admin creates in its own
//! project and cannot share), its quota of 100 each per project, and its refusals: a subnet
//! that overlaps another of its network, a gateway or allocation pool outside the CIDR, a
//! network or subnet still used by ports. IPv4 only, as the rest of the simulator.

use std::net::Ipv4Addr;

use protector_core::{Error, ErrorKind, Result};

use super::network::{visible_network, Cidr};
use super::Caller;
use crate::state::records::{NetworkRec, SubnetRec};
use crate::state::World;

/// Neutron's default quota of networks and of subnets per project.
pub(crate) const NETWORK_QUOTA: usize = 100;

/// The MTU of a network created without one (VXLAN over a 1500-byte underlay).
pub(crate) const DEFAULT_MTU: u32 = 1450;

/// `POST /v2.0/networks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreateNetwork {
    pub name: String,
    pub admin_state_up: bool,
    pub shared: bool,
    pub mtu: Option<u32>,
    pub description: String,
    /// Another project than the caller's (admins only).
    pub project_id: Option<String>,
}

impl Default for CreateNetwork {
    fn default() -> Self {
        CreateNetwork {
            name: String::new(),
            admin_state_up: true,
            shared: false,
            mtu: None,
            description: String::new(),
            project_id: None,
        }
    }
}

/// The gateway a subnet is created with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Gateway {
    /// Not given: the first host of the CIDR.
    #[default]
    Default,
    /// `gateway_ip: null`: no gateway.
    Disabled,
    /// This address.
    Address(String),
}

/// `POST /v2.0/subnets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreateSubnet {
    pub network_id: String,
    pub name: String,
    pub ip_version: u64,
    pub cidr: String,
    pub gateway: Gateway,
    /// `None`: every host of the CIDR but the gateway.
    pub allocation_pools: Option<Vec<(String, String)>>,
    pub enable_dhcp: bool,
    pub dns_nameservers: Vec<String>,
    pub description: String,
    pub project_id: Option<String>,
}

fn policy(rule: &str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        format!("({rule}) is disallowed by policy"),
    )
}

fn over_quota(resource: &str) -> Error {
    Error::conflict(format!("Quota exceeded for resources: ['{resource}']."))
}

/// The project a resource is created in: the caller's, or another for an admin.
fn owner(caller: &Caller, asked: Option<&str>, rule: &str) -> Result<String> {
    match asked {
        Some(project) if project != caller.project_id && !caller.is_admin() => {
            Err(policy(&format!("rule:{rule} and rule:{rule}:tenant_id")))
        }
        Some(project) => Ok(project.to_string()),
        None => Ok(caller.project_id.clone()),
    }
}

/// Creates a network: `ACTIVE`, no subnets, in the caller's project. Only admins share one.
pub(crate) fn create_network(
    world: &mut World,
    caller: &Caller,
    request: &CreateNetwork,
) -> Result<NetworkRec> {
    let project_id = owner(caller, request.project_id.as_deref(), "create_network")?;
    if request.shared && !caller.is_admin() {
        return Err(policy("rule:create_network and rule:create_network:shared"));
    }
    if let Some(mtu) = request.mtu {
        if mtu > DEFAULT_MTU {
            return Err(Error::invalid(format!(
                "Invalid input for operation: Requested MTU is too big, maximum is {DEFAULT_MTU}."
            )));
        }
        if mtu < 68 {
            return Err(Error::invalid(format!(
                "Invalid input for mtu. Reason: '{mtu}' is too small - must be at least '68'."
            )));
        }
    }
    let owned = world
        .networks
        .values()
        .filter(|n| n.site == caller.site && n.project_id == project_id)
        .count();
    if owned >= NETWORK_QUOTA {
        return Err(over_quota("network"));
    }
    let id = world.new_uuid();
    let network = NetworkRec {
        id: id.clone(),
        site: caller.site.clone(),
        name: request.name.clone(),
        project_id,
        shared: request.shared,
        subnet_ids: Vec::new(),
        admin_state_up: request.admin_state_up,
        mtu: request.mtu,
        description: request.description.clone(),
    };
    world.networks.insert(id, network.clone());
    Ok(network)
}

fn network_not_found(id: &str) -> Error {
    Error::not_found(format!("Network {id} could not be found."))
}

fn subnet_not_found(id: &str) -> Error {
    Error::not_found(format!("Subnet {id} could not be found."))
}

/// The network `id` if the caller may change it (its owner or an admin); a network it sees
/// but does not own (shared) is refused by policy, one it does not see is not found.
fn owned_network<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
    rule: &str,
) -> Result<&'w NetworkRec> {
    let network = visible_network(world, caller, id).ok_or_else(|| network_not_found(id))?;
    if !caller.can_see(&network.project_id) {
        return Err(policy(rule));
    }
    Ok(network)
}

/// Deletes a network and its subnets. Refused (409, `NetworkInUse`) while any port is on it,
/// router interfaces included; only DHCP ports would go with it (the simulator makes none).
pub(crate) fn delete_network(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let network = owned_network(world, caller, id, "delete_network")?.clone();
    let in_use = world
        .ports
        .values()
        .any(|p| p.network_id == network.id && p.device_owner != "network:dhcp");
    if in_use {
        return Err(Error::conflict(format!(
            "Unable to complete operation on network {}. There are one or more ports still in use on the network.",
            network.id
        )));
    }
    let own_ports = world.ports.keys_where(|p| p.network_id == network.id);
    for port in own_ports {
        world.ports.remove(&port);
    }
    for subnet in &network.subnet_ids {
        world.subnets.remove(subnet);
    }
    world.networks.remove(&network.id);
    Ok(())
}

fn parse_ip(text: &str, attribute: &str) -> Result<Ipv4Addr> {
    text.parse().map_err(|_| {
        Error::invalid(format!(
            "Invalid input for {attribute}. Reason: '{text}' is not a valid IP address."
        ))
    })
}

fn pool_text(start: Ipv4Addr, end: Ipv4Addr) -> String {
    format!("{start}-{end}")
}

/// The CIDR of a subnet request: a valid IPv4 network address with its prefix.
fn subnet_cidr(cidr: &str) -> Result<Cidr> {
    let parsed = Cidr::parse(cidr).ok_or_else(|| {
        Error::invalid(format!(
            "Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet (the simulator takes IPv4 networks from /8 to /30)."
        ))
    })?;
    let canonical = parsed.to_string();
    if canonical != cidr {
        return Err(Error::invalid(format!(
            "Invalid input for cidr. Reason: '{cidr}' isn't a recognized IP subnet cidr, '{canonical}' is recommended."
        )));
    }
    Ok(parsed)
}

/// The pools of a subnet request, checked against the CIDR, the gateway and each other.
fn checked_pools(
    cidr: Cidr,
    gateway: Option<Ipv4Addr>,
    pools: &[(String, String)],
) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>> {
    let mut parsed: Vec<(Ipv4Addr, Ipv4Addr)> = Vec::new();
    for (start, end) in pools {
        let (first, last) = (
            parse_ip(start, "allocation_pools")?,
            parse_ip(end, "allocation_pools")?,
        );
        if first > last {
            return Err(Error::invalid(format!(
                "The allocation pool {} is not valid.",
                pool_text(first, last)
            )));
        }
        if !cidr.contains_host(first) || !cidr.contains_host(last) {
            return Err(Error::invalid(format!(
                "The allocation pool {} spans beyond the subnet cidr {cidr}.",
                pool_text(first, last)
            )));
        }
        if let Some(gateway) = gateway {
            if (first..=last).contains(&gateway) {
                return Err(Error::conflict(format!(
                    "Gateway ip {gateway} conflicts with allocation pool {}",
                    pool_text(first, last)
                )));
            }
        }
        if let Some((a, b)) = parsed.iter().find(|(a, b)| first <= *b && *a <= last) {
            return Err(Error::invalid(format!(
                "Found overlapping allocation pools: {} and {}",
                pool_text(*a, *b),
                pool_text(first, last)
            )));
        }
        parsed.push((first, last));
    }
    Ok(parsed)
}

/// Creates a subnet on a network the caller owns (or any, for an admin). The gateway defaults
/// to the CIDR's first host, the pool to every other host.
pub(crate) fn create_subnet(
    world: &mut World,
    caller: &Caller,
    request: &CreateSubnet,
) -> Result<SubnetRec> {
    if request.ip_version != 4 {
        return Err(Error::invalid(format!(
            "Invalid input for ip_version. Reason: the simulator serves IPv4 subnets only, not IPv{}.",
            request.ip_version
        )));
    }
    let project_id = owner(caller, request.project_id.as_deref(), "create_subnet")?;
    let network = owned_network(
        world,
        caller,
        &request.network_id,
        "rule:create_subnet and rule:create_subnet:network_id",
    )?
    .clone();
    let cidr = subnet_cidr(&request.cidr)?;
    let gateway = match &request.gateway {
        Gateway::Default => Some(Ipv4Addr::from(cidr.network + 1)),
        Gateway::Disabled => None,
        Gateway::Address(text) => {
            let ip = parse_ip(text, "gateway_ip")?;
            if !cidr.contains_host(ip) {
                return Err(Error::invalid(format!(
                    "Invalid input for operation: Gateway IP {ip} is not valid on subnet {cidr}."
                )));
            }
            Some(ip)
        }
    };
    let pools = checked_pools(
        cidr,
        gateway,
        request.allocation_pools.as_deref().unwrap_or_default(),
    )?;
    for server in &request.dns_nameservers {
        parse_ip(server, "dns_nameservers")?;
    }
    let overlapping = network
        .subnet_ids
        .iter()
        .filter_map(|id| world.subnets.get(id))
        .find(|s| Cidr::parse(&s.cidr).is_some_and(|other| other.overlaps(cidr)));
    if let Some(other) = overlapping {
        return Err(Error::invalid(format!(
            "Invalid input for operation: Requested subnet with cidr: {cidr} for network: {} overlaps with another subnet ({}, {}).",
            network.id, other.id, other.cidr
        )));
    }
    let owned = world
        .subnets
        .values()
        .filter(|s| s.site == caller.site && s.project_id == project_id)
        .count();
    if owned >= NETWORK_QUOTA {
        return Err(over_quota("subnet"));
    }
    let id = world.new_uuid();
    let subnet = SubnetRec {
        id: id.clone(),
        site: caller.site.clone(),
        name: request.name.clone(),
        network_id: network.id.clone(),
        project_id,
        cidr: cidr.to_string(),
        gateway_ip: gateway.map(|g| g.to_string()).unwrap_or_default(),
        allocation_pools: pools
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        enable_dhcp: request.enable_dhcp,
        dns_nameservers: request.dns_nameservers.clone(),
        description: request.description.clone(),
    };
    world.subnets.insert(id.clone(), subnet.clone());
    if let Some(record) = world.networks.get_mut(&network.id) {
        record.subnet_ids.push(id);
    }
    Ok(subnet)
}

/// Deletes a subnet; refused (409, `SubnetInUse`) while a port has an address on it.
pub(crate) fn delete_subnet(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let subnet = world
        .subnets
        .get(id)
        .filter(|s| visible_network(world, caller, &s.network_id).is_some())
        .cloned()
        .ok_or_else(|| subnet_not_found(id))?;
    if !caller.can_see(&subnet.project_id) {
        return Err(policy("rule:delete_subnet"));
    }
    let in_use = world
        .ports
        .values()
        .any(|p| p.fixed_ips.iter().any(|(s, _)| s == &subnet.id));
    if in_use {
        return Err(Error::conflict(format!(
            "Unable to complete operation on subnet {}: One or more ports have an IP allocation from this subnet.",
            subnet.id
        )));
    }
    world.subnets.remove(&subnet.id);
    if let Some(network) = world.networks.get_mut(&subnet.network_id) {
        network.subnet_ids.retain(|s| s != &subnet.id);
    }
    Ok(())
}

/// The ranges a subnet hands addresses out from: its pools, or every host but the gateway.
pub(crate) fn allocation_ranges(subnet: &SubnetRec) -> Vec<(Ipv4Addr, Ipv4Addr)> {
    if !subnet.allocation_pools.is_empty() {
        return subnet
            .allocation_pools
            .iter()
            .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .collect();
    }
    let Some(cidr) = Cidr::parse(&subnet.cidr) else {
        return Vec::new();
    };
    let (first, last) = cidr.host_range();
    match subnet.gateway_ip.parse::<Ipv4Addr>() {
        Ok(gateway) if gateway == first => vec![(Ipv4Addr::from(u32::from(first) + 1), last)],
        Ok(gateway) if gateway == last => vec![(first, Ipv4Addr::from(u32::from(last) - 1))],
        Ok(gateway) if (first..=last).contains(&gateway) => vec![
            (first, Ipv4Addr::from(u32::from(gateway) - 1)),
            (Ipv4Addr::from(u32::from(gateway) + 1), last),
        ],
        _ => vec![(first, last)],
    }
}
