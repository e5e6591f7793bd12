//! `protection-group-snapshots` and `protection-group-snapshots/transfer`.
//!
//! - `GET …` (both): `names=` takes snapshot names, group names (every snapshot of the group,
//!   as Pure's own tools use it) and `*` globs; `source_names=` takes group names.
//! - `POST protection-group-snapshots?source_names=&replicate_now=&replicate=&apply_retention=`
//!   with an optional `{"suffix": …}`: one snapshot `pg.N` (or `pg.suffix`) per group, sent to
//!   every allowed target when replicating (it appears there as `src:pg.N` and arrives over
//!   three ticks while the link is up). `replicate` queues like `replicate_now` here;
//!   `for_replication` is not simulated.
//! - `PATCH …?names= {"destroyed": …}`: destroy / recover. `DELETE …?names=`: eradicate a
//!   destroyed snapshot and its volume snapshots.
//! - `GET …/transfer`: `progress` (0–1), `started`, `completed` (null until done),
//!   `data_transferred`, `physical_bytes_written`. On the source, the slowest of its targets.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

use protector_core::api::CreatePgSnapshot;
use protector_core::Error;

use super::filter::glob_match;
use super::query::{self, Listing, Naming, Params};
use super::reply::{self, Batch, RestError};
use super::views::View;
use super::{check_body, field, Body, Face, Session};
use crate::array::{self, snapshots};
use crate::state::records::{array_key, PgSnapshotRec};
use crate::state::World;

const SNAPSHOT: Naming = Naming {
    noun: "Protection group snapshot",
    group_of: Some(|item| item["source"]["name"].as_str().map(str::to_string)),
};

/// Transfer items have no `source`: the group is the name without its suffix.
fn group_of_name(item: &Value) -> Option<String> {
    item["name"]
        .as_str()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(group, _)| group.to_string())
}

const TRANSFER: Naming = Naming {
    noun: "Protection group snapshot",
    group_of: Some(group_of_name),
};

/// Whether a listing's `names` can select snapshot `s` (by its name or its group, globs
/// included; all when none are given): views are built of those alone, not of every snapshot
/// of the array, and the listing pipeline selects among them as it would among all.
fn may_select(names: &[String], s: &PgSnapshotRec) -> bool {
    let derived = s.name.rsplit_once('.').map(|(group, _)| group);
    names.is_empty()
        || names.iter().any(|n| {
            glob_match(n, &s.name)
                || glob_match(n, &s.group)
                || derived.is_some_and(|g| glob_match(n, g))
        })
}

/// The snapshots of `array` whose group matches one of `sources` (all when empty) and that
/// `names` may select ([`may_select`]), oldest first; every source must match a group.
fn of_sources<'a>(
    world: &'a World,
    array: &str,
    sources: &[String],
    names: &[String],
) -> protector_core::Result<Vec<&'a PgSnapshotRec>> {
    Ok(candidates(world, array, sources, names)?
        .into_iter()
        .filter(|s| may_select(names, s))
        .collect())
}

/// Named groups, or snapshots named without a pattern: the snapshots of those groups alone
/// (a range of the table each); otherwise every snapshot of `array` whose group matches one
/// of `sources`.
fn candidates<'a>(
    world: &'a World,
    array: &str,
    sources: &[String],
    names: &[String],
) -> protector_core::Result<Vec<&'a PgSnapshotRec>> {
    for source in sources {
        let found = if source.contains('*') {
            crate::array::pgroups::groups(world, array).any(|g| glob_match(source, &g.name))
        } else {
            world
                .protection_groups
                .contains_key(&array_key(array, source))
        };
        if !found {
            return Err(array::does_not_exist("Protection group", source));
        }
    }
    // Named groups (what a client polling its groups asks): each group's own snapshots.
    // Without sources, exact names (what a client polling its own snapshots asks) select
    // snapshots of a group they name: the group itself (`pg`) or the snapshot's
    // (`pg.suffix`, `src:pg.suffix`), as a snapshot is named after its group.
    let literal = |list: &[String]| !list.is_empty() && list.iter().all(|s| !s.contains('*'));
    let named: Option<Vec<&str>> = if literal(sources) {
        Some(sources.iter().map(String::as_str).collect())
    } else if sources.is_empty() && literal(names) {
        Some(
            names
                .iter()
                .flat_map(|n| [Some(n.as_str()), n.rsplit_once('.').map(|(g, _)| g)])
                .flatten()
                .collect(),
        )
    } else {
        None
    };
    if let Some(mut named) = named {
        named.sort_unstable();
        named.dedup();
        let mut snaps: Vec<&PgSnapshotRec> = named
            .into_iter()
            .flat_map(|group| snapshots::pg_snapshots_of(world, array, group))
            .collect();
        snaps.sort_by_key(|s| s.seq);
        return Ok(snaps);
    }
    Ok(snapshots::pg_snapshots(world, array)
        .into_iter()
        .filter(|s| sources.is_empty() || sources.iter().any(|p| glob_match(p, &s.group)))
        .collect())
}

pub(crate) async fn get_snapshots(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["source_ids"])?;
    let listing = Listing::parse(&params)?;
    let sources = params.list("source_names");
    let names = listing.names.clone();
    let items = face
        .call(&session, "list_pg_snapshots", move |world, array| {
            let view = View { world, array };
            Ok(of_sources(world, array, &sources, &names)?
                .into_iter()
                .map(|s| view.pg_snapshot(s))
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &SNAPSHOT)?.into_response())
}

pub(crate) async fn get_transfers(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["source_ids"])?;
    let listing = Listing::parse(&params)?;
    let sources = params.list("source_names");
    let names = listing.names.clone();
    let items = face
        .call(
            &session,
            "list_pg_snapshot_transfers",
            move |world, array| {
                let view = View { world, array };
                Ok(of_sources(world, array, &sources, &names)?
                    .into_iter()
                    .map(|s| view.transfer(s))
                    .collect::<Vec<Value>>())
            },
        )
        .await?;
    Ok(query::list(items, &listing, &TRANSFER)?.into_response())
}

pub(crate) async fn post_snapshots(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&["source_ids"])?;
    if params.flag("for_replication")? {
        return Err(RestError::bad_request(
            Some("for_replication"),
            "The simulated FlashArray does not support for_replication snapshots.",
        ));
    }
    let groups = params.required_list("source_names")?;
    let replicate = params.flag("replicate")?;
    let replicate_now = params.flag("replicate_now")?;
    if replicate && replicate_now {
        return Err(RestError::bad_request(
            None,
            "The replicate and replicate_now parameters cannot be used together.",
        ));
    }
    let apply_retention = params.flag("apply_retention")?;
    check_body(&body, &["suffix"], &["tags"])?;
    let request = CreatePgSnapshot {
        replicate_now: replicate || replicate_now,
        apply_retention,
        suffix: field(&body, "suffix")?,
    };
    let batch = face
        .call(&session, "create_pg_snapshot", move |world, array| {
            let mut batch = Batch::default();
            for group in &groups {
                let result = snapshots::create_snapshot(world, array, group, &request).map(|s| {
                    world
                        .pg_snapshots
                        .get(&array_key(array, &s.name))
                        .map(|rec| View { world, array }.pg_snapshot(rec))
                });
                batch.record(group, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn patch_snapshots(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&["ids"])?;
    let names = params.required_list("names")?;
    check_body(&body, &["destroyed"], &["name"])?;
    let destroyed: bool = field(&body, "destroyed")?.ok_or_else(|| {
        RestError::bad_request(Some("destroyed"), "The request body needs destroyed.")
    })?;
    let operation = if destroyed {
        "destroy_pg_snapshot"
    } else {
        "recover_pg_snapshot"
    };
    let batch = face
        .call(&session, operation, move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                let changed = if destroyed {
                    snapshots::destroy_snapshot(world, array, name)
                } else {
                    snapshots::recover_snapshot(world, array, name)
                };
                let result = changed.and_then(|changed| match (changed, destroyed) {
                    (false, true) => Err(array::destroyed_error("Protection group snapshot", name)),
                    (false, false) => Err(Error::conflict(format!(
                        "Protection group snapshot {name} is not destroyed."
                    ))),
                    _ => Ok(world
                        .pg_snapshots
                        .get(&array_key(array, name))
                        .map(|s| View { world, array }.pg_snapshot(s))),
                });
                batch.record(name, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn delete_snapshots(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["ids"])?;
    let names = params.required_list("names")?;
    let batch = face
        .call(&session, "eradicate_pg_snapshot", move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                batch.record(
                    name,
                    snapshots::eradicate_destroyed_snapshot(world, array, name).map(|()| None),
                );
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
