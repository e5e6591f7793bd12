//! Cinder group types (3.11+) and the group calls only the wire face makes: create with a group
//! type and several volume types, list, rename.

use protector_core::{Error, Result};

use super::{group_not_found, resolve_type, visible_group, Caller};
use crate::state::records::{GroupTypeRec, VolumeGroupRec};
use crate::state::World;

/// Name of the group type Cinder creates at install time.
pub(crate) const DEFAULT_GROUP_TYPE: &str = "default_group_type";

/// The id of the default group type of `site` (empty if the state has none).
pub(crate) fn default_group_type(world: &World, site: &str) -> String {
    world
        .group_types
        .find(|t| t.site == site && t.name == DEFAULT_GROUP_TYPE)
        .map(|t| t.id.clone())
        .unwrap_or_default()
}

/// A group type of `site` by id, else by name.
pub(crate) fn find_group_type<'w>(
    world: &'w World,
    site: &str,
    name_or_id: &str,
) -> Option<&'w GroupTypeRec> {
    world
        .group_types
        .get(name_or_id)
        .filter(|t| t.site == site)
        .or_else(|| {
            world
                .group_types
                .find(|t| t.site == site && t.name == name_or_id)
        })
}

/// `GET /group_types`, by name.
pub(crate) fn list_group_types<'w>(world: &'w World, site: &str) -> Vec<&'w GroupTypeRec> {
    let mut types: Vec<&GroupTypeRec> = world
        .group_types
        .values()
        .filter(|t| t.site == site)
        .collect();
    types.sort_by(|a, b| a.name.cmp(&b.name));
    types
}

/// `POST /groups` (3.13+).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CreateGroup {
    pub name: String,
    pub description: String,
    /// Name or id.
    pub group_type: String,
    /// Names or ids, at least one.
    pub volume_types: Vec<String>,
    pub availability_zone: Option<String>,
}

/// `POST /groups`: the group type and every volume type must exist.
pub(crate) fn create_group(
    world: &mut World,
    caller: &Caller,
    request: &CreateGroup,
) -> Result<VolumeGroupRec> {
    let site = caller.site.clone();
    let group_type = find_group_type(world, &site, &request.group_type)
        .map(|t| t.id.clone())
        .ok_or_else(|| {
            Error::not_found(format!(
                "Group type with name {} could not be found.",
                request.group_type
            ))
        })?;
    let mut volume_type_ids = Vec::new();
    for name in &request.volume_types {
        let id = resolve_type(world, &site, name)
            .map(|t| t.id.clone())
            .ok_or_else(|| {
                Error::not_found(format!("Volume type with name {name} could not be found."))
            })?;
        if !volume_type_ids.contains(&id) {
            volume_type_ids.push(id);
        }
    }
    if volume_type_ids.is_empty() {
        return Err(Error::invalid(
            "Invalid input received: volume_types must be provided to create group.",
        ));
    }
    if let Some(zone) = request.availability_zone.as_deref() {
        if !zone.is_empty() && zone != "nova" {
            return Err(Error::invalid(format!(
                "Invalid input received: Availability zone '{zone}' is invalid."
            )));
        }
    }
    let id = world.new_uuid();
    let seq = world.next_seq();
    let group = VolumeGroupRec {
        id: id.clone(),
        site,
        seq,
        project_id: caller.project_id.clone(),
        name: request.name.clone(),
        description: request.description.clone(),
        status: "available".to_string(),
        volume_type_ids,
        group_type_id: group_type,
        created: Some(world.now()),
    };
    world.volume_groups.insert(id, group.clone());
    Ok(group)
}

/// `GET /groups[/detail]`: the project's (every project's with `all_projects` for admins),
/// newest first.
pub(crate) fn list_groups<'w>(
    world: &'w World,
    caller: &Caller,
    all_projects: bool,
) -> Vec<&'w VolumeGroupRec> {
    let mut groups: Vec<&VolumeGroupRec> = world
        .volume_groups
        .values()
        .filter(|g| g.site == caller.site)
        .filter(|g| (all_projects && caller.is_admin()) || g.project_id == caller.project_id)
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.seq));
    groups
}

/// `PUT /groups/{id}` with `name` / `description`.
pub(crate) fn rename_group(
    world: &mut World,
    caller: &Caller,
    id: &str,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<()> {
    if visible_group(world, caller, id).is_none() {
        return Err(group_not_found(id));
    }
    if let Some(group) = world.volume_groups.get_mut(id) {
        if let Some(name) = name {
            group.name = name.to_string();
        }
        if let Some(description) = description {
            group.description = description.to_string();
        }
    }
    Ok(())
}
