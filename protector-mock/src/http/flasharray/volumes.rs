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
//! - `GET volume-snapshots`: the volume snapshots inside pg snapshots (`pg.N.vol`, and
//!   `src:pg.N.vol` on a target); `source_names=` selects by volume. Stand-alone volume
//!   snapshots are not simulated: `POST`, `PATCH` and `DELETE` answer 400.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;
use serde_json::Value;

use protector_core::api::CopyVolume;

use super::query::{self, Listing, Naming, Params};
use super::reply::{Batch, RestError};
use super::views::View;
use super::{check_body, field, Body, Face, Session};
use crate::array::{self, pgroups, snapshots};
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
