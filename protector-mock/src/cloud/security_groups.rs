//! Neutron security groups and their rules as the wire sees them: admins see every project's
//! groups, others their project's; a new group lets all traffic out; a group in use by a port
//! cannot be deleted.

use protector_core::{Error, Result};

use super::Caller;
use crate::state::records::{SecurityGroupRec, SecurityGroupRuleRec};
use crate::state::World;

fn group_not_found(id: &str) -> Error {
    Error::not_found(format!("Security group {id} does not exist"))
}

fn rule_not_found(id: &str) -> Error {
    Error::not_found(format!("Security group rule {id} does not exist"))
}

/// The group `id` if the caller may see it.
pub(crate) fn visible_group<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Option<&'w SecurityGroupRec> {
    world
        .security_groups
        .get(id)
        .filter(|g| g.site == caller.site && caller.can_see(&g.project_id))
}

/// `GET /security-groups`, by name then id.
pub(crate) fn list_groups<'w>(world: &'w World, caller: &Caller) -> Vec<&'w SecurityGroupRec> {
    let mut groups: Vec<&SecurityGroupRec> = world
        .security_groups
        .values()
        .filter(|g| g.site == caller.site && caller.can_see(&g.project_id))
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    groups
}

/// The rules of group `id`, in creation order of their ids.
pub(crate) fn rules_of<'w>(world: &'w World, group_id: &str) -> Vec<&'w SecurityGroupRuleRec> {
    world
        .security_group_rules
        .values()
        .filter(|r| r.security_group_id == group_id)
        .collect()
}

/// `GET /security-group-rules`: the rules of the groups the caller sees.
pub(crate) fn list_rules<'w>(world: &'w World, caller: &Caller) -> Vec<&'w SecurityGroupRuleRec> {
    world
        .security_group_rules
        .values()
        .filter(|r| r.site == caller.site && caller.can_see(&r.project_id))
        .collect()
}

/// The rule `id` if the caller may see it.
pub(crate) fn visible_rule<'w>(
    world: &'w World,
    caller: &Caller,
    id: &str,
) -> Option<&'w SecurityGroupRuleRec> {
    world
        .security_group_rules
        .get(id)
        .filter(|r| r.site == caller.site && caller.can_see(&r.project_id))
}

/// `POST /security-groups`: in the caller's project (or `project_id` for admins), with
/// Neutron's two egress rules.
pub(crate) fn create_group(
    world: &mut World,
    caller: &Caller,
    name: &str,
    description: &str,
    project_id: Option<&str>,
) -> Result<SecurityGroupRec> {
    let project_id = match project_id {
        Some(p) if p != caller.project_id && !caller.is_admin() => {
            return Err(Error::new(
                protector_core::ErrorKind::PermissionDenied,
                "(rule:create_security_group and rule:create_security_group:tenant_id) is disallowed by policy",
            ))
        }
        Some(p) => p.to_string(),
        None => caller.project_id.clone(),
    };
    if name == "default" {
        let exists = world
            .security_groups
            .values()
            .any(|g| g.site == caller.site && g.project_id == project_id && g.name == "default");
        if exists {
            return Err(Error::conflict("Default security group already exists."));
        }
    }
    let id = world.new_uuid();
    let group = SecurityGroupRec {
        id: id.clone(),
        site: caller.site.clone(),
        project_id: project_id.clone(),
        name: name.to_string(),
        description: description.to_string(),
    };
    world.security_groups.insert(id.clone(), group.clone());
    for ethertype in ["IPv4", "IPv6"] {
        let rule_id = world.new_uuid();
        world.security_group_rules.insert(
            rule_id.clone(),
            SecurityGroupRuleRec {
                id: rule_id,
                site: caller.site.clone(),
                security_group_id: id.clone(),
                project_id: project_id.clone(),
                direction: "egress".to_string(),
                ethertype: ethertype.to_string(),
                protocol: None,
                port_range_min: None,
                port_range_max: None,
                remote_ip_prefix: None,
                remote_group_id: None,
                description: String::new(),
            },
        );
    }
    Ok(group)
}

/// `DELETE /security-groups/{id}`: refused while a port uses it, and for `default` unless
/// admin.
pub(crate) fn delete_group(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    let group = visible_group(world, caller, id)
        .cloned()
        .ok_or_else(|| group_not_found(id))?;
    if group.name == "default" && !caller.is_admin() {
        return Err(Error::conflict(
            "Insufficient rights for removing default security group.",
        ));
    }
    if world
        .ports
        .values()
        .any(|p| p.security_group_ids.iter().any(|g| g == id))
    {
        return Err(Error::conflict(format!("Security Group {id} in use.")));
    }
    for key in world
        .security_group_rules
        .keys_where(|r| r.security_group_id == id)
    {
        world.security_group_rules.remove(&key);
    }
    world.security_groups.remove(id);
    Ok(())
}

/// `POST /security-group-rules`.
pub(crate) fn create_rule(
    world: &mut World,
    caller: &Caller,
    mut rule: SecurityGroupRuleRec,
) -> Result<SecurityGroupRuleRec> {
    let group = visible_group(world, caller, &rule.security_group_id)
        .cloned()
        .ok_or_else(|| group_not_found(&rule.security_group_id))?;
    if let Some(remote) = &rule.remote_group_id {
        if visible_group(world, caller, remote).is_none() {
            return Err(group_not_found(remote));
        }
    }
    let duplicate = world.security_group_rules.values().find(|r| {
        r.security_group_id == rule.security_group_id
            && r.direction == rule.direction
            && r.ethertype == rule.ethertype
            && r.protocol == rule.protocol
            && r.port_range_min == rule.port_range_min
            && r.port_range_max == rule.port_range_max
            && r.remote_ip_prefix == rule.remote_ip_prefix
            && r.remote_group_id == rule.remote_group_id
    });
    if let Some(existing) = duplicate {
        return Err(Error::conflict(format!(
            "Security group rule already exists. Rule id is {}.",
            existing.id
        )));
    }
    rule.id = world.new_uuid();
    rule.site = caller.site.clone();
    rule.project_id = group.project_id;
    world
        .security_group_rules
        .insert(rule.id.clone(), rule.clone());
    Ok(rule)
}

/// `DELETE /security-group-rules/{id}`.
pub(crate) fn delete_rule(world: &mut World, caller: &Caller, id: &str) -> Result<()> {
    if visible_rule(world, caller, id).is_none() {
        return Err(rule_not_found(id));
    }
    world.security_group_rules.remove(id);
    Ok(())
}
