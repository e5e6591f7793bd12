//! `protection-groups`, `protection-groups/volumes` and `protection-groups/targets`.
//!
//! - `GET protection-groups`: the array's own groups (`is_local`) and the replicas it receives
//!   (`src:pg`, `is_local: false`).
//! - `POST protection-groups?names=`: new empty groups (copies from `source_names` are not
//!   simulated).
//! - `PATCH protection-groups?names=`: `replication_schedule` (`enabled`, `frequency` in ms),
//!   `source_retention` / `target_retention` (enforced: `crate::array::retention`; a replica
//!   shows its source group's), `destroyed` (destroy / recover, with the group's snapshots),
//!   `snapshot_schedule` only disabled, `retention_lock` only `unlocked`.
//! - `DELETE protection-groups?names=`: eradicates destroyed groups.
//! - `protection-groups/volumes` (`group_names`, `member_names`; GET also `include_remote`,
//!   `member_destroyed`): list, add and remove members.
//! - `protection-groups/targets` (`group_names`, `member_names`): list, add (on the source) and
//!   remove targets; `PATCH {"allowed": …}` on the target for the replica group `src:pg`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::{Map, Value};

use protector_core::{Error, Result};

use super::query::{self, Listing, Naming, Params};
use super::reply::{self, Batch, RestError};
use super::views::View;
use super::{check_body, field, Body, Face, Session};
use crate::array::{self, pgroups};
use crate::state::records::{array_key, RetentionRec};
use crate::state::World;

const GROUP: Naming = Naming {
    noun: "Protection group",
    group_of: None,
};

const MEMBER: Naming = Naming {
    noun: "Member",
    group_of: None,
};

fn group_exists(world: &World, array: &str, name: &str) -> Result<()> {
    if world
        .protection_groups
        .contains_key(&array_key(array, name))
    {
        Ok(())
    } else {
        Err(array::does_not_exist("Protection group", name))
    }
}

pub(crate) async fn get_groups(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let listing = Listing::parse(&params)?;
    let items = face
        .call(&session, "get_protection_group", |world, array| {
            let view = View { world, array };
            Ok(pgroups::groups(world, array)
                .filter(|g| listing.may_name(&g.name))
                .map(|g| view.protection_group(g))
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &GROUP)?.into_response())
}

pub(crate) async fn post_groups(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&["source_names", "source_ids"])?;
    let names = params.required_list("names")?;
    check_body(&body, &[], &["tags"])?;
    let batch = face
        .call(&session, "create_protection_group", move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                let result = pgroups::create_protection_group(world, array, name).map(|_| {
                    world
                        .protection_groups
                        .get(&array_key(array, name))
                        .map(|g| View { world, array }.protection_group(g))
                });
                batch.record(name, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

#[derive(Debug, Deserialize)]
struct Schedule {
    enabled: Option<bool>,
    frequency: Option<u64>,
    at: Option<Value>,
    blackout: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct SnapshotSchedule {
    enabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct Retention {
    all_for_sec: Option<u64>,
    per_day: Option<u64>,
    days: Option<u64>,
    per_period: Option<u64>,
    period_length_ms: Option<u64>,
}

impl Retention {
    fn apply(self, current: Option<RetentionRec>) -> RetentionRec {
        let base = current.unwrap_or(crate::array::retention::DEFAULT_RETENTION);
        // `per_period` over whole days is `per_day` under its newer name.
        let per_day = self
            .per_day
            .or(match (self.per_period, self.period_length_ms) {
                (Some(n), Some(86_400_000) | None) => Some(n),
                _ => None,
            });
        RetentionRec {
            all_for_sec: self.all_for_sec.unwrap_or(base.all_for_sec),
            per_day: per_day.unwrap_or(base.per_day),
            days: self.days.unwrap_or(base.days),
        }
    }
}

/// What a `PATCH protection-groups` changes, validated before anything is applied.
struct GroupPatch {
    destroyed: Option<bool>,
    schedule: Option<(Option<bool>, Option<u64>)>,
    source_retention: Option<Retention>,
    target_retention: Option<Retention>,
}

impl GroupPatch {
    fn parse(body: &Map<String, Value>) -> std::result::Result<GroupPatch, RestError> {
        check_body(
            body,
            &[
                "destroyed",
                "replication_schedule",
                "source_retention",
                "target_retention",
                "snapshot_schedule",
                "retention_lock",
            ],
            &["name", "eradication_config", "workload"],
        )?;
        let schedule = match field::<Schedule>(body, "replication_schedule")? {
            None => None,
            Some(s) => {
                if s.at.is_some_and(|v| !v.is_null()) || s.blackout.is_some_and(|v| !v.is_null()) {
                    return Err(RestError::bad_request(
                        Some("replication_schedule"),
                        "The simulated FlashArray replicates on a plain frequency: at and blackout are not supported.",
                    ));
                }
                let frequency = match s.frequency {
                    Some(ms) if ms == 0 || ms % 1000 != 0 => {
                        return Err(RestError::bad_request(
                            Some("replication_schedule"),
                            format!("Invalid replication frequency {ms} ms: use a positive number of whole seconds, in milliseconds."),
                        ))
                    }
                    other => other.map(|ms| ms / 1000),
                };
                Some((s.enabled, frequency))
            }
        };
        if field::<SnapshotSchedule>(body, "snapshot_schedule")?
            .is_some_and(|s| s.enabled == Some(true))
        {
            return Err(RestError::bad_request(
                Some("snapshot_schedule"),
                "The simulated FlashArray does not take local scheduled snapshots: use replication_schedule.",
            ));
        }
        if let Some(lock) = field::<String>(body, "retention_lock")? {
            if lock != "unlocked" {
                return Err(RestError::bad_request(
                    Some("retention_lock"),
                    "The simulated FlashArray does not support SafeMode retention locks.",
                ));
            }
        }
        Ok(GroupPatch {
            destroyed: field(body, "destroyed")?,
            schedule,
            source_retention: field(body, "source_retention")?,
            target_retention: field(body, "target_retention")?,
        })
    }

    fn apply(&self, world: &mut World, array: &str, name: &str) -> Result<Option<Value>> {
        group_exists(world, array, name)?;
        if self.destroyed == Some(false) && !pgroups::recover_group(world, array, name)? {
            return Err(Error::conflict(format!(
                "Protection group {name} is not destroyed."
            )));
        }
        if let Some((enabled, frequency)) = self.schedule {
            pgroups::update_schedule(world, array, name, enabled, frequency)?;
        }
        for (target, retention) in [
            (false, self.source_retention),
            (true, self.target_retention),
        ] {
            if let Some(retention) = retention {
                let current = world
                    .protection_groups
                    .get(&array_key(array, name))
                    .and_then(|g| {
                        if target {
                            g.target_retention
                        } else {
                            g.source_retention
                        }
                    });
                pgroups::set_retention(world, array, name, target, retention.apply(current))?;
            }
        }
        if self.destroyed == Some(true) && !pgroups::destroy_group(world, array, name)? {
            return Err(array::destroyed_error("Protection group", name));
        }
        Ok(world
            .protection_groups
            .get(&array_key(array, name))
            .map(|g| View { world, array }.protection_group(g)))
    }
}

pub(crate) async fn patch_groups(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&["ids"])?;
    let names = params.required_list("names")?;
    let patch = GroupPatch::parse(&body)?;
    let operation = match (patch.destroyed, patch.schedule.is_some()) {
        (Some(true), _) => "destroy_protection_group",
        (Some(false), _) => "recover_protection_group",
        (None, true) => "set_replication_schedule",
        (None, false) => "update_protection_group",
    };
    let batch = face
        .call(&session, operation, move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                batch.record(name, patch.apply(world, array, name));
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn delete_groups(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["ids"])?;
    let names = params.required_list("names")?;
    let batch = face
        .call(
            &session,
            "eradicate_protection_group",
            move |world, array| {
                let mut batch = Batch::default();
                for name in &names {
                    batch.record(
                        name,
                        pgroups::eradicate_destroyed_group(world, array, name).map(|()| None),
                    );
                }
                Ok(batch)
            },
        )
        .await?;
    Ok(if batch.failed() {
        batch.into_response()
    } else {
        reply::empty()
    })
}

/// `group_names` × `member_names` of a relationship call, both required.
fn pairs(params: &Params) -> std::result::Result<Vec<(String, String)>, RestError> {
    params.refuse(&["group_ids", "member_ids"])?;
    let groups = params.required_list("group_names")?;
    let members = params.required_list("member_names")?;
    Ok(groups
        .iter()
        .flat_map(|g| members.iter().map(move |m| (g.clone(), m.clone())))
        .collect())
}

pub(crate) async fn get_members(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["group_ids", "member_ids"])?;
    let listing = Listing::parse(&params)?;
    let groups = params.list("group_names");
    let members = params.list("member_names");
    let include_remote = params.flag("include_remote")?;
    let member_destroyed = params.bool("member_destroyed")?;
    let items = face
        .call(&session, "get_protection_group", move |world, array| {
            for group in &groups {
                group_exists(world, array, group)?;
            }
            let view = View { world, array };
            let mut items = Vec::new();
            for g in pgroups::groups(world, array) {
                if g.replica && !include_remote {
                    continue;
                }
                if !groups.is_empty() && !groups.contains(&g.name) {
                    continue;
                }
                for volume in pgroups::pg_view(world, g).volumes {
                    if members.is_empty() || members.contains(&volume) {
                        items.push(view.group_member(&g.name, &volume));
                    }
                }
            }
            for member in &members {
                let known = array::get_volume(world, array, member).is_some()
                    || items.iter().any(|i| i["member"]["name"] == member.as_str());
                if !known {
                    return Err(array::does_not_exist("Volume", member));
                }
            }
            if let Some(want) = member_destroyed {
                items.retain(|i| i["member"]["destroyed"].as_bool() == Some(want));
            }
            Ok(items)
        })
        .await?;
    Ok(query::list(items, &listing, &MEMBER)?.into_response())
}

pub(crate) async fn post_members(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let pairs = pairs(&params)?;
    let batch = face
        .call(
            &session,
            "add_protection_group_volumes",
            move |world, array| {
                let mut batch = Batch::default();
                for (group, volume) in &pairs {
                    let result = if pgroups::is_member(world, array, group, volume) {
                        Err(Error::new(
                            protector_core::ErrorKind::AlreadyExists,
                            format!("Protection group {group} already includes volume {volume}."),
                        ))
                    } else {
                        pgroups::add_volumes(world, array, group, std::slice::from_ref(volume))
                            .map(|_| Some(View { world, array }.group_member(group, volume)))
                    };
                    batch.record(volume, result);
                }
                Ok(batch)
            },
        )
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn delete_members(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let pairs = pairs(&params)?;
    let batch = face
        .call(
            &session,
            "remove_protection_group_volumes",
            move |world, array| {
                let mut batch = Batch::default();
                for (group, volume) in &pairs {
                    let result =
                        pgroups::remove_volumes(world, array, group, std::slice::from_ref(volume))
                            .and_then(|removed| {
                                if removed {
                                    Ok(None)
                                } else {
                                    Err(Error::not_found(format!(
                                "Volume {volume} could not be found in protection group {group}."
                            )))
                                }
                            });
                    batch.record(volume, result);
                }
                Ok(batch)
            },
        )
        .await?;
    Ok(if batch.failed() {
        batch.into_response()
    } else {
        reply::empty()
    })
}

pub(crate) async fn get_targets(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["group_ids", "member_ids"])?;
    let listing = Listing::parse(&params)?;
    let groups = params.list("group_names");
    let members = params.list("member_names");
    let items = face
        .call(&session, "get_protection_group", move |world, array| {
            for group in &groups {
                group_exists(world, array, group)?;
            }
            let view = View { world, array };
            let mut items = Vec::new();
            for g in pgroups::groups(world, array) {
                if !groups.is_empty() && !groups.contains(&g.name) {
                    continue;
                }
                for target in pgroups::pg_view(world, g).targets {
                    if members.is_empty() || members.contains(&target.name) {
                        items.push(view.group_target(&g.name, &target.name, target.allowed));
                    }
                }
            }
            Ok(items)
        })
        .await?;
    Ok(query::list(items, &listing, &MEMBER)?.into_response())
}

fn target_item(world: &World, array: &str, group: &str, target: &str) -> Option<Value> {
    let g = world.protection_groups.get(&array_key(array, group))?;
    pgroups::pg_view(world, g)
        .targets
        .into_iter()
        .find(|t| t.name == target)
        .map(|t| View { world, array }.group_target(group, &t.name, t.allowed))
}

pub(crate) async fn post_targets(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let pairs = pairs(&params)?;
    let batch = face
        .call(
            &session,
            "add_protection_group_target",
            move |world, array| {
                let mut batch = Batch::default();
                for (group, target) in &pairs {
                    let result =
                        pgroups::add_target(world, array, group, target).and_then(|added| {
                            if added {
                                Ok(target_item(world, array, group, target))
                            } else {
                                Err(Error::new(
                                    protector_core::ErrorKind::AlreadyExists,
                                    format!(
                                        "Protection group {group} already includes array {target}."
                                    ),
                                ))
                            }
                        });
                    batch.record(target, result);
                }
                Ok(batch)
            },
        )
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn patch_targets(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&["group_ids", "member_ids"])?;
    let groups = params.required_list("group_names")?;
    let members = params.list("member_names");
    check_body(&body, &["allowed"], &["protection_group", "target"])?;
    let allowed: bool = field(&body, "allowed")?.ok_or_else(|| {
        RestError::bad_request(Some("allowed"), "The request body needs allowed.")
    })?;
    let batch = face
        .call(&session, "set_protection_group_allowed", move |world, array| {
            let mut batch = Batch::default();
            if let Some(other) = members.iter().find(|m| m.as_str() != array) {
                batch.reject(
                    other,
                    format!("allowed is set on the target array: call {other} for its replica groups."),
                );
                return Ok(batch);
            }
            for group in &groups {
                let result = pgroups::set_allowed(world, array, group, allowed).and_then(|changed| {
                    if changed {
                        Ok(target_item(world, array, group, array))
                    } else {
                        Err(Error::conflict(format!(
                            "Protection group {group} is already {} on array {array}.",
                            if allowed { "allowed" } else { "disallowed" }
                        )))
                    }
                });
                batch.record(group, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn delete_targets(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let pairs = pairs(&params)?;
    let batch = face
        .call(&session, "remove_protection_group_target", move |world, array| {
            let mut batch = Batch::default();
            for (group, target) in &pairs {
                let result = pgroups::remove_target(world, array, group, target).and_then(|removed| {
                    if removed {
                        Ok(None)
                    } else {
                        Err(Error::not_found(format!(
                            "Array {target} could not be found among the targets of protection group {group}."
                        )))
                    }
                });
                batch.record(target, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(if batch.failed() {
        batch.into_response()
    } else {
        reply::empty()
    })
}
