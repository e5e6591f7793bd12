//! `volumes` and `volume-snapshots`.
//!
//! - `GET volumes`: every volume of the array, destroyed ones included (`destroyed=` selects).
//! - `POST volumes?names=&overwrite=&add_to_protection_group_names=`: with `provisioned` (default
//!   1 MB) a new volume, with `source {name | id}` a copy of a volume or snapshot (the copy
//!   carries the source's data; an existing target needs `overwrite=true`). `pod::vol` names
//!   create in a pod. `with_default_protection` is accepted and has no effect, as on an array
//!   without default protections.
//! - `PATCH volumes?names=&truncate=`: `destroyed` (destroy / recover), `name` (rename),
//!   `provisioned` (resize; shrinking needs `truncate=true`).
//! - `DELETE volumes?names=`: eradicates destroyed volumes.
//! - `GET volumes/diff?names=&base_name=&block_size=&segment_offset=&segment_length=` (REST
//!   2.9 and later): the extents of one volume (or volume snapshot) in the segment that differ
//!   from the base (`base_name` or `base_id`, a volume or volume snapshot), at `block_size`
//!   granularity, adjacent ones merged, paged like every listing. The simulator knows what
//!   changed in 4 MiB blocks (`crate::array::diff`), so a finer `block_size` reports whole
//!   4 MiB blocks. `next_allocated_block_hint` (only meaningful without a base, and a base is
//!   required) answers 400.
//! - `GET volume-snapshots`: the volume snapshots inside pg snapshots (`pg.N.vol`, and
//!   `src:pg.N.vol` on a target); `source_names=` selects by volume. Stand-alone volume
//!   snapshots are not simulated: `POST`, `PATCH` and `DELETE` answer 400.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::Value;

use protector_core::api::CopyVolume;

use super::query::{self, Listing, Naming, Params};
use super::reply::{Batch, RestError};
use super::views::View;
use super::{check_body, field, Body, Face, Session};
use crate::array::{self, diff, pgroups, snapshots};
use crate::state::records::array_key;
use crate::state::World;

const VOLUME: Naming = Naming {
    noun: "Volume",
    group_of: None,
};

const VOLUME_SNAPSHOT: Naming = Naming {
    noun: "Volume snapshot",
    group_of: None,
};

const VOLUME_DIFF: Naming = Naming {
    noun: "Volume diff",
    group_of: None,
};

/// `{"name": …}` or `{"id": …}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Reference {
    name: Option<String>,
    id: Option<String>,
}

/// Resolves a volume or snapshot id to its name on `array`.
fn name_of_id(world: &World, array: &str, id: &str) -> Option<String> {
    let view = View { world, array };
    array::volumes(world, array)
        .find(|v| array::volume_id(v) == id)
        .map(|v| v.name.clone())
        .or_else(|| {
            snapshots::volume_snapshots(world, array)
                .into_iter()
                .find(|(s, pg)| view.volume_snapshot(s, *pg)["id"] == id)
                .map(|(s, _)| s.name.clone())
        })
}

pub(crate) async fn get_volumes(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let listing = Listing::parse(&params)?;
    let items = face
        .call(&session, "get_volume", |world, array| {
            let view = View { world, array };
            Ok(array::volumes(world, array)
                .filter(|v| listing.may_name(&v.name))
                .map(|v| view.volume(v))
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &VOLUME)?.into_response())
}

pub(crate) async fn post_volumes(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&["add_to_protection_group_ids"])?;
    let names = params.required_list("names")?;
    let overwrite = params.flag("overwrite")?;
    let add_to = params.list("add_to_protection_group_names");
    if overwrite && !add_to.is_empty() {
        return Err(RestError::bad_request(
            None,
            "add_to_protection_group_names cannot be used with overwrite=true.",
        ));
    }
    check_body(
        &body,
        &["provisioned", "source"],
        &[
            "destroyed",
            "priority_adjustment",
            "protocol_endpoint",
            "qos",
            "subtype",
            "tags",
            "workload",
        ],
    )?;
    let provisioned: Option<u64> = field(&body, "provisioned")?;
    let source: Option<Reference> = field(&body, "source")?;
    if let Some(r) = &source {
        if r.name.is_none() && r.id.is_none() {
            return Err(RestError::bad_request(
                Some("source"),
                "source needs a name or an id.",
            ));
        }
    }
    let operation = if source.is_some() {
        "copy_volume"
    } else {
        "create_volume"
    };
    let batch = face
        .call(&session, operation, move |world, array| {
            let mut batch = Batch::default();
            let source_name = match &source {
                Some(Reference {
                    name: Some(name), ..
                }) => Some(name.clone()),
                Some(Reference { id: Some(id), .. }) => match name_of_id(world, array, id) {
                    Some(name) => Some(name),
                    None => {
                        batch.reject(id, format!("No volume or snapshot has id {id}."));
                        return Ok(batch);
                    }
                },
                _ => None,
            };
            for name in &names {
                let created = match &source_name {
                    Some(source) => array::copy_volume(
                        world,
                        array,
                        &CopyVolume {
                            name: name.clone(),
                            source: source.clone(),
                            overwrite,
                        },
                    ),
                    None => array::create_volume(
                        world,
                        array,
                        name,
                        provisioned.unwrap_or(array::DEFAULT_VOLUME_BYTES),
                    ),
                };
                if let Err(e) = created {
                    batch.fail(name, &e);
                    continue;
                }
                for group in &add_to {
                    if let Err(e) =
                        pgroups::add_volumes(world, array, group, std::slice::from_ref(name))
                    {
                        batch.fail(group, &e);
                    }
                }
                if let Some(v) = world.array_volumes.get(&array_key(array, name)) {
                    batch.push(View { world, array }.volume(v));
                }
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn patch_volumes(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&[
        "ids",
        "add_to_protection_group_names",
        "add_to_protection_group_ids",
        "remove_from_protection_group_names",
        "remove_from_protection_group_ids",
    ])?;
    let names = params.required_list("names")?;
    let truncate = params.flag("truncate")?;
    check_body(
        &body,
        &["destroyed", "name", "provisioned"],
        &[
            "pod",
            "priority_adjustment",
            "protocol_endpoint",
            "qos",
            "requested_promotion_state",
            "volume_group",
            "workload",
        ],
    )?;
    let destroyed: Option<bool> = field(&body, "destroyed")?;
    let new_name: Option<String> = field(&body, "name")?;
    let provisioned: Option<u64> = field(&body, "provisioned")?;
    if new_name.is_some() && names.len() > 1 {
        return Err(RestError::bad_request(
            None,
            "Renaming takes exactly one volume in names.",
        ));
    }
    let operation = match (destroyed, &new_name, provisioned) {
        (Some(true), _, _) => "destroy_volume",
        (Some(false), _, _) => "recover_volume",
        (_, Some(_), _) => "rename_volume",
        _ => "resize_volume",
    };
    let batch = face
        .call(&session, operation, move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                let result = (|| {
                    if array::get_volume(world, array, name).is_none() {
                        return Err(array::does_not_exist("Volume", name));
                    }
                    if destroyed == Some(false) && !array::recover_volume(world, array, name)? {
                        return Err(protector_core::Error::conflict(format!(
                            "Volume {name} is not destroyed."
                        )));
                    }
                    let mut current = name.clone();
                    if let Some(new_name) = &new_name {
                        array::rename_volume(world, array, name, new_name)?;
                        current = new_name.clone();
                    }
                    if let Some(bytes) = provisioned {
                        array::resize_volume(world, array, &current, bytes, truncate)?;
                    }
                    if destroyed == Some(true) && !array::destroy_volume(world, array, &current)? {
                        return Err(array::destroyed_error("Volume", &current));
                    }
                    Ok(world
                        .array_volumes
                        .get(&array_key(array, &current))
                        .map(|v| View { world, array }.volume(v)))
                })();
                batch.record(name, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn delete_volumes(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["ids"])?;
    let names = params.required_list("names")?;
    let batch = face
        .call(&session, "eradicate_volume", move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                let result = array::eradicate_volume(world, array, name).and_then(|found| {
                    if found {
                        Ok(None)
                    } else {
                        Err(array::does_not_exist("Volume", name))
                    }
                });
                batch.record(name, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(if batch.failed() {
        batch.into_response()
    } else {
        super::reply::empty()
    })
}

/// A required byte count of `volumes/diff`.
fn required_bytes(params: &Params, key: &str) -> Result<u64, RestError> {
    params.number(key)?.map(|n| n as u64).ok_or_else(|| {
        RestError::bad_request(None, format!("Missing required query parameter {key}."))
    })
}

/// `[start, end)` intervals rounded out to `block` granularity, clipped to `[low, high)`,
/// adjacent and overlapping ones merged; as (offset, length).
fn coarsen(extents: &[(u64, u64)], block: u64, low: u64, high: u64) -> Vec<(u64, u64)> {
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (offset, length) in extents {
        let start = (offset / block * block).max(low);
        let end = (offset + length)
            .div_ceil(block)
            .saturating_mul(block)
            .min(high);
        if start >= end {
            continue;
        }
        match merged.last_mut() {
            Some((_, last_end)) if start <= *last_end => *last_end = (*last_end).max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
        .into_iter()
        .map(|(start, end)| (start, end - start))
        .collect()
}

pub(crate) async fn get_volumes_diff(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    Path(version): Path<String>,
    params: Params,
) -> Result<Response, RestError> {
    let minor = version
        .strip_prefix("2.")
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if minor < 9 {
        return Err(RestError::new(
            axum::http::StatusCode::NOT_FOUND,
            None,
            format!("GET /volumes/diff needs REST API version 2.9 or later, not {version}."),
        ));
    }
    params.refuse(&["ids"])?;
    let mut listing = Listing::parse(&params)?;
    let names = params.required_list("names")?;
    let [name] = names.as_slice() else {
        return Err(RestError::bad_request(
            None,
            "volumes/diff compares one volume at a time: give exactly one name in names.",
        ));
    };
    let name = name.clone();
    // The base by name, or (Err) by id, resolved on the array.
    let base: Result<String, String> = match (params.get("base_name"), params.get("base_id")) {
        (Some(name), None) => Ok(name.to_string()),
        (None, Some(id)) => Err(id.to_string()),
        _ => {
            return Err(RestError::bad_request(
                None,
                "Give exactly one of base_name and base_id.",
            ))
        }
    };
    if params.flag("next_allocated_block_hint")? {
        return Err(RestError::bad_request(
            Some("next_allocated_block_hint"),
            "next_allocated_block_hint cannot be used with base_name or base_id.",
        ));
    }
    let block = required_bytes(&params, "block_size")?;
    if block == 0 || block % 512 != 0 {
        return Err(RestError::bad_request(
            Some("block_size"),
            format!("Invalid block_size {block}: use a positive multiple of 512."),
        ));
    }
    let segment_length = required_bytes(&params, "segment_length")?;
    let segment_offset = params.number("segment_offset")?.unwrap_or(0) as u64;
    if segment_offset % block != 0 {
        return Err(RestError::bad_request(
            Some("segment_offset"),
            format!(
                "Invalid segment_offset {segment_offset}: use a multiple of block_size ({block})."
            ),
        ));
    }
    // The items carry no names: selecting by name does not apply to them.
    listing.names.clear();
    let items = face
        .call(&session, "changed_bytes_since", move |world, array| {
            let base = base.or_else(|id| {
                name_of_id(world, array, &id).ok_or_else(|| {
                    protector_core::Error::not_found(format!("No volume or snapshot has id {id}."))
                })
            })?;
            let (provisioned, _) = diff::resolve(world, array, &name)?;
            let extents = diff::diff(world, array, &name, &base)?;
            let end = segment_offset
                .saturating_add(segment_length)
                .min(provisioned);
            let view = View { world, array };
            Ok(coarsen(&extents, block, segment_offset, end)
                .into_iter()
                .map(|(offset, length)| view.volume_diff(offset, length))
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &VOLUME_DIFF)?.into_response())
}

pub(crate) async fn get_volume_snapshots(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["source_ids"])?;
    let listing = Listing::parse(&params)?;
    let sources = params.list("source_names");
    let items = face
        .call(&session, "list_volume_snapshots", move |world, array| {
            for source in &sources {
                let known = array::get_volume(world, array, source).is_some()
                    || snapshots::volume_snapshots(world, array)
                        .iter()
                        .any(|(s, _)| snapshots::snapshot_source_volume(s) == *source);
                if !known {
                    return Err(array::does_not_exist("Volume", source));
                }
            }
            let view = View { world, array };
            Ok(snapshots::volume_snapshots(world, array)
                .into_iter()
                .filter(|(s, _)| {
                    sources.is_empty() || sources.contains(&snapshots::snapshot_source_volume(s))
                })
                .map(|(s, pg)| view.volume_snapshot(s, pg))
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &VOLUME_SNAPSHOT)?.into_response())
}

pub(crate) async fn volume_snapshots_unsupported() -> RestError {
    RestError::bad_request(
        None,
        "The simulated FlashArray has no stand-alone volume snapshots: take protection-group snapshots (POST /protection-group-snapshots) instead.",
    )
}
