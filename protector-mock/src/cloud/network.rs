//! Neutron v2.0: networks, subnets, ports (fixed-IP allocation) and security groups.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;

use protector_core::api::{
    CreatePort, ListPorts, Network, Port, PortFixedIp, SecurityGroup, Subnet,
};
use protector_core::{Error, Result};

use super::Caller;
use crate::state::records::{NetworkRec, PortRec, SecurityGroupRec, SubnetRec};
use crate::state::World;

/// An IPv4 CIDR.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cidr {
    pub(crate) network: u32,
    prefix: u32,
}

impl Cidr {
    pub(crate) fn parse(cidr: &str) -> Option<Cidr> {
        let (addr, prefix) = cidr.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u32 = prefix.parse().ok()?;
        if !(8..=30).contains(&prefix) {
            return None;
        }
        let mask = u32::MAX << (32 - prefix);
        Some(Cidr {
            network: u32::from(addr) & mask,
            prefix,
        })
    }

    fn mask(self) -> u32 {
        u32::MAX << (32 - self.prefix)
    }

    fn broadcast(self) -> u32 {
        self.network | !self.mask()
    }

    /// Whether `ip` is a usable host address (not the network or broadcast address).
    pub(crate) fn contains_host(self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        ip & self.mask() == self.network && ip != self.network && ip != self.broadcast()
    }

    /// The first and last usable host address.
    pub(crate) fn host_range(self) -> (Ipv4Addr, Ipv4Addr) {
        (
            Ipv4Addr::from(self.network + 1),
            Ipv4Addr::from(self.broadcast() - 1),
        )
    }

    /// Whether the two networks share an address.
    pub(crate) fn overlaps(self, other: Cidr) -> bool {
        self.network <= other.broadcast() && other.network <= self.broadcast()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

fn network_visible(caller: &Caller, n: &NetworkRec) -> bool {
    n.site == caller.site && (n.shared || caller.can_see(&n.project_id))
}

fn network_view(world: &World, n: &NetworkRec) -> Network {
    Network {
        id: n.id.clone(),
        name: n.name.clone(),
        project_id: n.project_id.clone(),
        subnets: n
            .subnet_ids
            .iter()
            .filter_map(|id| world.subnets.get(id))
            .map(|s| Subnet {
                id: s.id.clone(),
                name: s.name.clone(),
                network_id: s.network_id.clone(),
                cidr: s.cidr.clone(),
            })
            .collect(),
    }
}

/// A network by id, or by name among the networks the project sees.
pub(crate) fn find_network(world: &World, caller: &Caller, id_or_name: &str) -> Option<Network> {
    world
        .networks
        .get(id_or_name)
        .filter(|n| network_visible(caller, n))
        .or_else(|| {
            let mut matches: Vec<&NetworkRec> = world
                .networks
                .values()
                .filter(|n| network_visible(caller, n) && n.name == id_or_name)
                .collect();
            // The project's own network wins over a shared one of the same name.
            matches.sort_by_key(|n| n.project_id != caller.project_id);
            matches.into_iter().next()
        })
        .map(|n| network_view(world, n))
}

/// `GET /networks`: the project's and shared networks, by name.
pub(crate) fn list_networks(world: &World, caller: &Caller) -> Vec<Network> {
    let mut nets: Vec<Network> = world
        .networks
        .values()
        .filter(|n| network_visible(caller, n))
        .map(|n| network_view(world, n))
        .collect();
    nets.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    nets
}

/// The network `id` as the wire shows it: admins see every network, others their project's
/// and shared ones.
pub(crate) fn visible_network<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Option<&'w NetworkRec> {
    world
        .networks
        .get(id)
        .filter(|n| n.site == caller.site && (n.shared || caller.can_see(&n.project_id)))
}

/// `GET /networks` on the wire: every network the caller sees, by name then id.
pub(crate) fn list_network_records<'w>(world: &'w World, caller: &Caller) -> Vec<&'w NetworkRec> {
    let mut nets: Vec<&NetworkRec> = world
        .networks
        .values()
        .filter(|n| n.site == caller.site && (n.shared || caller.can_see(&n.project_id)))
        .collect();
    nets.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    nets
}

/// The subnet `id` if the caller sees its network.
pub(crate) fn visible_subnet<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Option<&'w SubnetRec> {
    world
        .subnets
        .get(id)
        .filter(|s| visible_network(world, caller, &s.network_id).is_some())
}

/// `GET /subnets`: the subnets of the networks the caller sees, by name then id.
pub(crate) fn list_subnets<'w>(world: &'w World, caller: &Caller) -> Vec<&'w SubnetRec> {
    let mut subnets: Vec<&SubnetRec> = world
        .subnets
        .values()
        .filter(|s| {
            s.site == caller.site && visible_network(world, caller, &s.network_id).is_some()
        })
        .collect();
    subnets.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    subnets
}

/// What `POST /ports` can set beyond [`CreatePort`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PortExtras {
    pub device_id: Option<String>,
    pub device_owner: Option<String>,
    /// Admin only (Neutron's default policy).
    pub mac_address: Option<String>,
}

/// `POST /ports` on the wire: [`create_port`] plus device and MAC address.
pub(crate) fn create_port_with(
    world: &mut World,
    caller: &Caller,
    request: &CreatePort,
    extras: &PortExtras,
    in_use: &mut InUse,
) -> Result<PortRec> {
    if let Some(mac) = &extras.mac_address {
        if !caller.is_admin() {
            return Err(Error::new(
                protector_core::ErrorKind::PermissionDenied,
                "(rule:create_port and rule:create_port:mac_address) is disallowed by policy",
            ));
        }
        let mac = mac.to_ascii_lowercase();
        if let Some(other) = world
            .ports
            .find(|p| p.network_id == request.network_id && p.mac_address == mac)
        {
            return Err(Error::conflict(format!(
                "Unable to complete operation for network {}. The mac address {mac} is in use.",
                other.network_id
            )));
        }
    }
    let port = create_port_in(world, caller, request, in_use)?;
    let record = world
        .ports
        .get_mut(&port.id)
        .ok_or_else(|| Error::unexpected("the new port vanished"))?;
    if let Some(device_id) = &extras.device_id {
        record.device_id = device_id.clone();
    }
    if let Some(device_owner) = &extras.device_owner {
        record.device_owner = device_owner.clone();
    }
    if let Some(mac) = &extras.mac_address {
        record.mac_address = mac.to_ascii_lowercase();
    }
    Ok(record.clone())
}

pub(crate) fn port_view(p: &PortRec) -> Port {
    Port {
        id: p.id.clone(),
        name: p.name.clone(),
        network_id: p.network_id.clone(),
        device_id: p.device_id.clone(),
        mac_address: p.mac_address.clone(),
        fixed_ips: p
            .fixed_ips
            .iter()
            .map(|(subnet_id, ip_address)| PortFixedIp {
                subnet_id: subnet_id.clone(),
                ip_address: ip_address.clone(),
            })
            .collect(),
        security_group_ids: p.security_group_ids.clone(),
        project_id: p.project_id.clone(),
        description: p.description.clone(),
    }
}

/// `GET /ports`: admins see every project's ports, others their project's.
pub(crate) fn list_ports(world: &World, caller: &Caller, filter: &ListPorts) -> Vec<Port> {
    let mut ports: Vec<&PortRec> = world
        .ports
        .values()
        .filter(|p| p.site == caller.site && caller.can_see(&p.project_id))
        .filter(|p| filter.device_id.as_ref().is_none_or(|d| &p.device_id == d))
        .filter(|p| {
            filter
                .network_id
                .as_ref()
                .is_none_or(|n| &p.network_id == n)
        })
        .filter(|p| {
            filter
                .description
                .as_ref()
                .is_none_or(|d| &p.description == d)
        })
        .collect();
    ports.sort_by_key(|p| p.seq);
    ports.into_iter().map(port_view).collect()
}

/// `GET /ports/{id}`.
pub(crate) fn get_port(world: &World, caller: &Caller, id: &str) -> Option<Port> {
    world
        .ports
        .get(id)
        .filter(|p| p.site == caller.site && caller.can_see(&p.project_id))
        .map(port_view)
}

/// The subnet of `network_id` whose CIDR holds `address` (a usable host address).
pub(crate) fn subnet_for_address(world: &World, network_id: &str, address: &str) -> Option<String> {
    let ip: Ipv4Addr = address.parse().ok()?;
    world
        .subnets
        .values()
        .filter(|s| s.network_id == network_id)
        .find(|s| Cidr::parse(&s.cidr).is_some_and(|c| c.contains_host(ip)))
        .map(|s| s.id.clone())
}

/// The addresses held in each subnet, as far as one request has needed them: a bulk create
/// reads every port of the world once per subnet, not once per port it makes (each port
/// made adds its own).
pub(crate) type InUse = HashMap<String, HashSet<Ipv4Addr>>;

/// The addresses the ports of `subnet_id` hold.
fn allocated(world: &World, subnet_id: &str) -> HashSet<Ipv4Addr> {
    world
        .ports
        .values()
        .flat_map(|p| p.fixed_ips.iter())
        .filter(|(s, _)| s == subnet_id)
        .filter_map(|(_, ip)| ip.parse().ok())
        .collect()
}

/// `POST /ports`.
pub(crate) fn create_port(
    world: &mut World,
    caller: &Caller,
    request: &CreatePort,
) -> Result<Port> {
    create_port_in(world, caller, request, &mut InUse::new())
}

/// [`create_port`], with the addresses in use known so far in this request (`in_use`, which
/// gets the new port's).
fn create_port_in(
    world: &mut World,
    caller: &Caller,
    request: &CreatePort,
    in_use: &mut InUse,
) -> Result<Port> {
    let site = caller.site.clone();
    let network = world
        .networks
        .get(&request.network_id)
        .filter(|n| network_visible(caller, n))
        .cloned()
        .ok_or_else(|| {
            Error::not_found(format!(
                "Network {} could not be found.",
                request.network_id
            ))
        })?;

    // Fixed IPs: requested addresses first, then automatic ones, all checked before creating.
    let wanted: Vec<(String, Option<String>)> = if request.fixed_ips.is_empty() {
        match network.subnet_ids.first() {
            Some(subnet) => vec![(subnet.clone(), None)],
            None => Vec::new(),
        }
    } else {
        request.fixed_ips.clone()
    };
    let mut fixed_ips: Vec<(String, String)> = Vec::new();
    let mut taken: BTreeSet<(String, Ipv4Addr)> = BTreeSet::new();
    for (subnet_id, address) in &wanted {
        let subnet: SubnetRec = world
            .subnets
            .get(subnet_id)
            .filter(|s| s.site == site && s.network_id == network.id)
            .cloned()
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Invalid input for operation: Failed to create port on network {}, because fixed_ips included invalid subnet {subnet_id}.",
                    network.id
                ))
            })?;
        let cidr = Cidr::parse(&subnet.cidr)
            .ok_or_else(|| Error::unexpected(format!("subnet {} has a bad CIDR", subnet.id)))?;
        let in_use: &HashSet<Ipv4Addr> = in_use
            .entry(subnet.id.clone())
            .or_insert_with(|| allocated(world, &subnet.id));
        let gateway = subnet.gateway_ip.parse::<Ipv4Addr>().ok();
        let busy = |ip: Ipv4Addr, taken: &BTreeSet<(String, Ipv4Addr)>| {
            Some(ip) == gateway || in_use.contains(&ip) || taken.contains(&(subnet.id.clone(), ip))
        };
        let ip = match address {
            Some(address) => {
                let parsed: Ipv4Addr = address.parse().map_err(|_| {
                    Error::invalid(format!(
                        "Invalid input for operation: '{address}' is not a valid IP address."
                    ))
                })?;
                if !cidr.contains_host(parsed) {
                    return Err(Error::invalid(format!(
                        "IP address {address} is not a valid IP for the specified subnet."
                    )));
                }
                if busy(parsed, &taken) {
                    return Err(Error::conflict(format!(
                        "IP address {address} already allocated in subnet {}",
                        subnet.id
                    )));
                }
                parsed
            }
            None => super::network_create::allocation_ranges(&subnet)
                .into_iter()
                .flat_map(|(first, last)| u32::from(first)..=u32::from(last))
                .map(Ipv4Addr::from)
                .find(|ip| !busy(*ip, &taken))
                .ok_or_else(|| {
                    Error::conflict(format!(
                        "No more IP addresses available on network {}.",
                        network.id
                    ))
                })?,
        };
        taken.insert((subnet.id.clone(), ip));
        fixed_ips.push((subnet.id.clone(), ip.to_string()));
    }

    let security_group_ids = if request.security_group_ids.is_empty() {
        // Neutron applies the project's default group when none is given.
        world
            .security_groups
            .find(|g| g.site == site && g.project_id == caller.project_id && g.name == "default")
            .map(|g| vec![g.id.clone()])
            .unwrap_or_default()
    } else {
        for id in &request.security_group_ids {
            let ok = world
                .security_groups
                .get(id)
                .is_some_and(|g| g.site == site && caller.can_see(&g.project_id));
            if !ok {
                return Err(Error::not_found(format!(
                    "Security group {id} does not exist"
                )));
            }
        }
        request.security_group_ids.clone()
    };

    let id = world.new_uuid();
    let mac_address = crate::seed::new_mac(world);
    let seq = world.next_seq();
    let port = PortRec {
        id: id.clone(),
        site,
        seq,
        name: request.name.clone(),
        network_id: network.id.clone(),
        project_id: caller.project_id.clone(),
        device_id: String::new(),
        device_owner: String::new(),
        mac_address,
        fixed_ips,
        security_group_ids,
        description: request.description.clone(),
        status: "DOWN".to_string(),
    };
    let view = port_view(&port);
    world.ports.insert(id, port);
    for (subnet, ip) in &taken {
        if let Some(addresses) = in_use.get_mut(subnet) {
            addresses.insert(*ip);
        }
    }
    Ok(view)
}

/// `PUT /ports/{id}`: name, description and security groups (of the project).
pub(crate) fn update_port(
    world: &mut World,
    caller: &Caller,
    id: &str,
    name: Option<&str>,
    description: Option<&str>,
    security_group_ids: Option<&[String]>,
) -> Result<PortRec> {
    let port = world
        .ports
        .get(id)
        .filter(|p| p.site == caller.site && caller.can_see(&p.project_id))
        .cloned()
        .ok_or_else(|| Error::not_found(format!("Port {id} could not be found.")))?;
    if let Some(groups) = security_group_ids {
        for group in groups {
            let ok = world
                .security_groups
                .get(group)
                .is_some_and(|g| g.site == port.site && g.project_id == port.project_id);
            if !ok {
                return Err(Error::not_found(format!(
                    "Security group {group} does not exist"
                )));
            }
        }
    }
    let record = world
        .ports
        .get_mut(id)
        .ok_or_else(|| Error::not_found(format!("Port {id} could not be found.")))?;
    if let Some(name) = name {
        record.name = name.to_string();
    }
    if let Some(description) = description {
        record.description = description.to_string();
    }
    if let Some(groups) = security_group_ids {
        record.security_group_ids = groups.to_vec();
    }
    Ok(record.clone())
}

/// `DELETE /ports/{id}`; a bound port is detached from its server. Missing succeeds.
pub(crate) fn delete_port(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let Some(port) = world
        .ports
        .get(id)
        .filter(|p| p.site == caller.site && caller.can_see(&p.project_id))
        .cloned()
    else {
        return Ok(());
    };
    if port.device_owner == super::routers::ROUTER_INTERFACE {
        return Err(Error::conflict(format!(
            "Port {id} cannot be deleted directly via the port API: has device owner {}.",
            port.device_owner
        )));
    }
    if !port.device_id.is_empty() {
        if let Some(server) = world.servers.get_mut(&port.device_id) {
            server.port_ids.retain(|p| p != id);
        }
    }
    world.ports.remove(id);
    Ok(())
}

fn sg_view(g: &SecurityGroupRec) -> SecurityGroup {
    SecurityGroup {
        id: g.id.clone(),
        name: g.name.clone(),
        project_id: g.project_id.clone(),
    }
}

/// A security group by id, or by name within the project.
pub(crate) fn find_security_group(
    world: &World,
    caller: &Caller,
    id_or_name: &str,
) -> Option<SecurityGroup> {
    world
        .security_groups
        .get(id_or_name)
        .filter(|g| g.site == caller.site && caller.can_see(&g.project_id))
        .or_else(|| {
            world.security_groups.find(|g| {
                g.site == caller.site && g.project_id == caller.project_id && g.name == id_or_name
            })
        })
        .map(sg_view)
}

/// Security groups of the project, by name.
pub(crate) fn list_security_groups(world: &World, caller: &Caller) -> Vec<SecurityGroup> {
    let mut groups: Vec<SecurityGroup> = world
        .security_groups
        .values()
        .filter(|g| g.site == caller.site && g.project_id == caller.project_id)
        .map(sg_view)
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_hosts_exclude_network_and_broadcast() {
        let cidr = Cidr::parse("10.20.1.0/24").unwrap();
        assert!(cidr.contains_host("10.20.1.1".parse().unwrap()));
        assert!(cidr.contains_host("10.20.1.254".parse().unwrap()));
        assert!(!cidr.contains_host("10.20.1.0".parse().unwrap()));
        assert!(!cidr.contains_host("10.20.1.255".parse().unwrap()));
        assert!(!cidr.contains_host("10.20.2.1".parse().unwrap()));
        assert_eq!(
            cidr.host_range(),
            ("10.20.1.1".parse().unwrap(), "10.20.1.254".parse().unwrap())
        );
        assert_eq!(cidr.to_string(), "10.20.1.0/24");
        assert!(cidr.overlaps(Cidr::parse("10.20.0.0/16").unwrap()));
        assert!(!cidr.overlaps(Cidr::parse("10.20.2.0/24").unwrap()));
        assert!(Cidr::parse("10.20.1.0").is_none());
        assert!(Cidr::parse("10.20.1.0/31").is_none());
    }
}
