//! Additions beyond the seeded inventory, for tests and demos: a project on every site with
//! the seeded projects' security groups and rules, extra roles for a user, and a running VM
//! described by names (`NewServer`), checked against the site's inventory before it is
//! inserted the way the seeded ones are.

use std::collections::BTreeMap;

use protector_core::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

use super::servers::{insert_server, ServerPlacement};
use super::wire::seed_security_group_rules;
use crate::state::records::*;
use crate::state::World;

/// A running VM to add to a simulated site beyond the seeded inventory (tests, demos), made the
/// way the seeded ones are: ports with fixed addresses, volumes attached and holding one write,
/// their array volumes on the site's FlashArray (in the stretched pod for sync types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewServer {
    /// Site (`site-a`, `site-b`).
    pub site: String,
    /// Server name.
    pub name: String,
    /// Owning project, by name.
    pub project: String,
    /// Owning user, by name (the owner of `key_name`).
    pub user: String,
    /// Flavor name.
    pub flavor: String,
    /// A keypair of `user`, if any.
    pub key_name: Option<String>,
    /// NICs in order: network name (shared or the project's) and fixed IPv4 address.
    pub nics: Vec<(String, String)>,
    /// Security groups of the project, by name, on every port.
    pub security_groups: Vec<String>,
    /// Volumes, root first: role (the volume is named `<server>-<role>`), size in GiB and
    /// volume type name.
    pub volumes: Vec<(String, u64, String)>,
}

/// Adds project `name` on every site, with the security groups every seeded project has
/// (`default`, `web`, `db`, and their rules). Returns the project id of each site.
pub(crate) fn add_project(w: &mut World, name: &str) -> Result<BTreeMap<String, String>> {
    if crate::state::SITES.iter().any(|site| {
        w.projects
            .find(|p| p.site == *site && p.name == name)
            .is_some()
    }) {
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            format!("project '{name}' already exists"),
        ));
    }
    let ids = insert_project(w, name);
    seed_security_group_rules(w);
    Ok(ids)
}

/// Inserts project `name` on every site with the `default`, `web` and `db` security groups
/// (without their rules: `seed_security_group_rules` adds those) and returns the project id of
/// each site. The caller checks the name is free.
pub(super) fn insert_project(w: &mut World, name: &str) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for site in crate::state::SITES {
        let id = w.new_uuid();
        w.projects.insert(
            id.clone(),
            ProjectRec {
                id: id.clone(),
                site: site.to_string(),
                name: name.to_string(),
                domain_id: "default".to_string(),
            },
        );
        for (group, description) in [
            ("default", "Default security group"),
            ("web", "HTTP and HTTPS from anywhere"),
            ("db", "Database traffic from the web tier"),
        ] {
            let group_id = w.new_uuid();
            w.security_groups.insert(
                group_id.clone(),
                SecurityGroupRec {
                    id: group_id,
                    site: site.to_string(),
                    project_id: id.clone(),
                    name: group.to_string(),
                    description: description.to_string(),
                },
            );
        }
        ids.insert(site.to_string(), id);
    }
    ids
}

/// Gives user `user` of `site` the roles `roles` on project `project` (both by name), on top of
/// those it has.
pub(crate) fn grant_roles(
    w: &mut World,
    site: &str,
    user: &str,
    project: &str,
    roles: &[&str],
) -> Result<()> {
    let project_id = w
        .projects
        .find(|p| p.site == site && p.name == project)
        .map(|p| p.id.clone())
        .ok_or_else(|| Error::not_found(format!("project '{project}' not found on {site}")))?;
    let key = w
        .users
        .keys_where(|u| u.site == site && u.name == user)
        .into_iter()
        .next()
        .ok_or_else(|| Error::not_found(format!("user '{user}' not found on {site}")))?;
    let record = w.users.get_mut(&key).expect("found by key");
    let granted = record.roles.entry(project_id).or_default();
    for role in roles {
        if !granted.iter().any(|r| r == role) {
            granted.push(role.to_string());
        }
    }
    Ok(())
}

/// Checks `spec` against the site's inventory and inserts the server. Returns its id.
pub(crate) fn add_server(w: &mut World, spec: &NewServer) -> Result<String> {
    let site = spec.site.as_str();
    if !crate::state::SITES.contains(&site) {
        return Err(Error::invalid(format!("unknown simulated site '{site}'")));
    }
    let missing =
        |what: &str, name: &str| Error::not_found(format!("{what} '{name}' not found on {site}"));
    let project_id = w
        .projects
        .find(|p| p.site == site && p.name == spec.project)
        .map(|p| p.id.clone())
        .ok_or_else(|| missing("project", &spec.project))?;
    let user_id = w
        .users
        .find(|u| u.site == site && u.name == spec.user)
        .map(|u| u.id.clone())
        .ok_or_else(|| missing("user", &spec.user))?;
    let flavor_id = w
        .flavors
        .find(|f| f.site == site && f.name == spec.flavor)
        .map(|f| f.id.clone())
        .ok_or_else(|| missing("flavor", &spec.flavor))?;
    if let Some(key) = &spec.key_name {
        if !w.keypairs.contains_key(&format!("{site}/{user_id}/{key}")) {
            return Err(missing("keypair of the user", key));
        }
    }
    let mut nics = Vec::new();
    for (network, ip) in &spec.nics {
        let net_id = w
            .networks
            .find(|n| {
                n.site == site && n.name == *network && (n.shared || n.project_id == project_id)
            })
            .map(|n| n.id.clone())
            .ok_or_else(|| missing("network", network))?;
        let subnet_id =
            crate::cloud::network::subnet_for_address(w, &net_id, ip).ok_or_else(|| {
                Error::invalid(format!(
                    "{ip} is in no subnet of network '{network}' on {site}"
                ))
            })?;
        let taken = w.ports.values().any(|p| {
            p.fixed_ips
                .iter()
                .any(|(subnet, address)| *subnet == subnet_id && address == ip)
        }) || nics
            .iter()
            .any(|(_, s, a): &(String, String, String)| *s == subnet_id && a == ip);
        if taken {
            return Err(Error::conflict(format!(
                "{ip} is already in use on network '{network}' of {site}"
            )));
        }
        nics.push((net_id, subnet_id, ip.clone()));
    }
    let mut security_group_ids = Vec::new();
    for name in &spec.security_groups {
        let id = w
            .security_groups
            .find(|g| g.site == site && g.project_id == project_id && g.name == *name)
            .map(|g| g.id.clone())
            .ok_or_else(|| missing("security group of the project", name))?;
        security_group_ids.push(id);
    }
    if spec.volumes.is_empty() {
        return Err(Error::invalid(format!(
            "server {} needs a root volume",
            spec.name
        )));
    }
    let mut volumes = Vec::new();
    for (role, size_gb, type_name) in &spec.volumes {
        let type_id = w
            .volume_types
            .find(|t| t.site == site && t.name == *type_name)
            .map(|t| t.id.clone())
            .ok_or_else(|| missing("volume type", type_name))?;
        volumes.push((role.clone(), *size_gb, type_name.clone(), type_id));
    }
    let placement = ServerPlacement {
        site,
        name: &spec.name,
        project_id: &project_id,
        user_id: &user_id,
        flavor_id: &flavor_id,
        flavor_name: &spec.flavor,
        key_name: spec.key_name.as_deref(),
        nics,
        security_group_ids,
        volumes,
    };
    Ok(insert_server(w, &placement))
}
