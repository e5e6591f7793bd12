//! Neutron routers, the basics a drill network may want (`openstack router create`, `router
//! add subnet`, `router remove subnet`, `router delete`): a router in the caller's project, an
//! interface per subnet (a port holding the subnet's gateway address, `device_owner`
//! `network:router_interface`), no external gateway (the simulator has no external networks).
//! A router with interfaces cannot be deleted; a network or subnet with an interface cannot be
//! either.

use protector_core::{Error, ErrorKind, Result};

use super::network::visible_network;
use super::Caller;
use crate::state::records::{PortRec, RouterRec};
use crate::state::World;

/// The device owner of a router's interface ports.
pub(crate) const ROUTER_INTERFACE: &str = "network:router_interface";

/// Neutron's default quota of routers per project.
pub(crate) const ROUTER_QUOTA: usize = 10;

fn router_not_found(id: &str) -> Error {
    Error::not_found(format!("Router {id} could not be found."))
}

/// The router `id` if the caller may see it (its project's, or any for admins).
pub(crate) fn visible_router<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Option<&'w RouterRec> {
    world
        .routers
        .get(id)
        .filter(|r| r.site == caller.site && caller.can_see(&r.project_id))
}

/// `GET /routers`, by name then id.
pub(crate) fn list_routers<'w>(world: &'w World, caller: &Caller) -> Vec<&'w RouterRec> {
    let mut routers: Vec<&RouterRec> = world
        .routers
        .values()
        .filter(|r| r.site == caller.site && caller.can_see(&r.project_id))
        .collect();
    routers.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    routers
}

/// The interface ports of router `id`, oldest first.
pub(crate) fn interfaces<'w>(world: &'w World, id: &str) -> Vec<&'w PortRec> {
    let mut ports: Vec<&PortRec> = world
        .ports
        .values()
        .filter(|p| p.device_id == id && p.device_owner == ROUTER_INTERFACE)
        .collect();
    ports.sort_by_key(|p| p.seq);
    ports
}

/// `POST /routers`: in the caller's project (or another, for an admin).
pub(crate) fn create_router(
    world: &mut World,
    caller: &Caller,
    name: &str,
    description: &str,
    admin_state_up: bool,
    project_id: Option<&str>,
) -> Result<RouterRec> {
    let project_id = match project_id {
        Some(p) if p != caller.project_id && !caller.is_admin() => {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "(rule:create_router and rule:create_router:tenant_id) is disallowed by policy",
            ))
        }
        Some(p) => p.to_string(),
        None => caller.project_id.clone(),
    };
    let owned = world
        .routers
        .values()
        .filter(|r| r.site == caller.site && r.project_id == project_id)
        .count();
    if owned >= ROUTER_QUOTA {
        return Err(Error::conflict("Quota exceeded for resources: ['router']."));
    }
    let id = world.new_uuid();
    let router = RouterRec {
        id: id.clone(),
        site: caller.site.clone(),
        name: name.to_string(),
        project_id,
        admin_state_up,
        description: description.to_string(),
    };
    world.routers.insert(id, router.clone());
    Ok(router)
}

/// `DELETE /routers/{id}`: refused (409, `RouterInUse`) while it has interfaces.
pub(crate) fn delete_router(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let router = visible_router(world, caller, id)
        .cloned()
        .ok_or_else(|| router_not_found(id))?;
    let attached = interfaces(world, &router.id).len();
    if attached > 0 {
        return Err(Error::conflict(format!(
            "Router {} still has ports ({attached} interfaces); remove them with remove_router_interface first.",
            router.id
        )));
    }
    world.routers.remove(&router.id);
    Ok(())
}

/// What an interface change answers: the router, the subnet and the interface port.
#[derive(Debug, Clone)]
pub(crate) struct RouterInterface {
    pub router: RouterRec,
    pub subnet_id: String,
    pub port_id: String,
    pub network_id: String,
}

/// `PUT /routers/{id}/add_router_interface {"subnet_id"}`: a port on the subnet's network
/// holding its gateway address.
pub(crate) fn add_interface(
    world: &mut World,
    caller: &Caller,
    id: &str,
    subnet_id: &str,
) -> Result<RouterInterface> {
    let router = visible_router(world, caller, id)
        .cloned()
        .ok_or_else(|| router_not_found(id))?;
    let subnet = world
        .subnets
        .get(subnet_id)
        .filter(|s| visible_network(world, caller, &s.network_id).is_some())
        .cloned()
        .ok_or_else(|| Error::not_found(format!("Subnet {subnet_id} could not be found.")))?;
    if subnet.gateway_ip.is_empty() {
        return Err(Error::invalid(format!(
            "Bad router request: Subnet {subnet_id} does not have a gateway IP."
        )));
    }
    let on_router = interfaces(world, &router.id)
        .iter()
        .any(|p| p.fixed_ips.iter().any(|(s, _)| s == subnet_id));
    if on_router {
        return Err(Error::invalid(format!(
            "Bad router request: Router already has a port on subnet {subnet_id}."
        )));
    }
    let taken = world.ports.values().any(|p| {
        p.fixed_ips
            .iter()
            .any(|(s, ip)| s == subnet_id && ip == &subnet.gateway_ip)
    });
    if taken {
        return Err(Error::conflict(format!(
            "IP address {} already allocated in subnet {subnet_id}",
            subnet.gateway_ip
        )));
    }
    let port_id = world.new_uuid();
    let mac_address = crate::seed::new_mac(world);
    let seq = world.next_seq();
    world.ports.insert(
        port_id.clone(),
        PortRec {
            id: port_id.clone(),
            site: router.site.clone(),
            seq,
            name: String::new(),
            network_id: subnet.network_id.clone(),
            project_id: router.project_id.clone(),
            device_id: router.id.clone(),
            device_owner: ROUTER_INTERFACE.to_string(),
            mac_address,
            fixed_ips: vec![(subnet.id.clone(), subnet.gateway_ip.clone())],
            security_group_ids: Vec::new(),
            description: String::new(),
            status: "ACTIVE".to_string(),
        },
    );
    Ok(RouterInterface {
        router,
        subnet_id: subnet.id,
        port_id,
        network_id: subnet.network_id,
    })
}

/// `PUT /routers/{id}/remove_router_interface {"subnet_id"} or {"port_id"}`: deletes the
/// interface port.
pub(crate) fn remove_interface(
    world: &mut World,
    caller: &Caller,
    id: &str,
    subnet_id: Option<&str>,
    port_id: Option<&str>,
) -> Result<RouterInterface> {
    let router = visible_router(world, caller, id)
        .cloned()
        .ok_or_else(|| router_not_found(id))?;
    let port = interfaces(world, &router.id)
        .into_iter()
        .find(|p| {
            port_id.is_none_or(|wanted| p.id == wanted)
                && subnet_id.is_none_or(|wanted| p.fixed_ips.iter().any(|(s, _)| s == wanted))
        })
        .cloned()
        .ok_or_else(|| match (subnet_id, port_id) {
            (Some(subnet), _) => Error::not_found(format!(
                "Router {} has no interface on subnet {subnet}",
                router.id
            )),
            (None, Some(port)) => Error::not_found(format!(
                "Router {} does not have an interface with id {port}",
                router.id
            )),
            (None, None) => Error::invalid("Bad router request: Must specify subnet_id or port_id"),
        })?;
    world.ports.remove(&port.id);
    Ok(RouterInterface {
        router,
        subnet_id: port
            .fixed_ips
            .first()
            .map(|(s, _)| s.clone())
            .unwrap_or_default(),
        port_id: port.id,
        network_id: port.network_id,
    })
}
