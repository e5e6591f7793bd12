//! `pods` and `pods/arrays` (ActiveCluster).
//!
//! - `GET pods`: the pods this array is a member of, with `arrays[].status` (`online`,
//!   `offline`, `resyncing`) and its own `promotion_status`.
//! - `POST pods?names=` with `{}`: a new pod on this array.
//! - `PATCH pods?names=`: `requested_promotion_state` `promoted` / `demoted` on this array
//!   (`quiesce`, `skip_quiesce` and `abort_quiesce` are accepted: nothing is in flight to
//!   drain); `destroyed` (destroy with `destroy_contents`, recover). Demoting creates no
//!   `undo-demote` pod, so `promote_from` is refused.
//! - `DELETE pods?names=&eradicate_contents=`: eradicates a destroyed pod.
//! - `pods/arrays` (`group_names` = pods, `member_names` = arrays; what Cinder calls) and its
//!   successor `pods/members` (`pod_names`): list, stretch (the new member resyncs on a later
//!   tick), unstretch (`with_unknown` to drop an unreachable array).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

use protector_core::{Error, ErrorKind};

use super::query::{self, Listing, Naming, Params};
use super::reply::{self, Batch, RestError};
use super::views::View;
use super::{check_body, field, Body, Face, Session};
use crate::array::{self, pods};
use crate::state::World;

const POD: Naming = Naming {
    noun: "Pod",
    group_of: None,
};

const MEMBER: Naming = Naming {
    noun: "Member",
    group_of: None,
};

fn pod_item(world: &World, array: &str, name: &str) -> Option<Value> {
    world.pods.get(name).map(|p| View { world, array }.pod(p))
}

pub(crate) async fn get_pods(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let listing = Listing::parse(&params)?;
    let items = face
        .call(&session, "get_pod", |world, array| {
            let view = View { world, array };
            Ok(pods::pods_of(world, array)
                .map(|p| view.pod(p))
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &POD)?.into_response())
}

pub(crate) async fn post_pods(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    let names = params.required_list("names")?;
    check_body(
        &body,
        &[],
        &["failover_preferences", "quota_limit", "source", "tags"],
    )?;
    let batch = face
        .call(&session, "create_pod", move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                let result =
                    pods::create_pod(world, array, name).map(|_| pod_item(world, array, name));
                batch.record(name, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn patch_pods(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    Body(body): Body,
) -> Result<Response, RestError> {
    params.refuse(&[
        "ids",
        "promote_from",
        "to_member_names",
        "to_member_ids",
        "from_member_names",
        "from_member_ids",
        "move_with_host_names",
        "move_with_host_group_names",
    ])?;
    let names = params.required_list("names")?;
    for flag in ["quiesce", "skip_quiesce", "abort_quiesce"] {
        params.bool(flag)?;
    }
    let destroy_contents = params.flag("destroy_contents")?;
    check_body(
        &body,
        &["requested_promotion_state", "destroyed"],
        &[
            "name",
            "mediator",
            "failover_preferences",
            "quota_limit",
            "ignore_usage",
        ],
    )?;
    let promotion: Option<String> = field(&body, "requested_promotion_state")?;
    let promote = match promotion.as_deref() {
        None => None,
        Some("promoted") => Some(true),
        Some("demoted") => Some(false),
        Some(other) => {
            return Err(RestError::bad_request(
                Some("requested_promotion_state"),
                format!("Invalid requested_promotion_state {other}: use promoted or demoted."),
            ))
        }
    };
    let destroyed: Option<bool> = field(&body, "destroyed")?;
    let operation = match (promote, destroyed) {
        (Some(true), _) => "promote_pod",
        (Some(false), _) => "demote_pod",
        (None, Some(true)) => "destroy_pod",
        (None, Some(false)) => "recover_pod",
        (None, None) => "update_pod",
    };
    let batch = face
        .call(&session, operation, move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                let result = (|| {
                    if pods::get_pod(world, array, name).is_none() {
                        return Err(array::does_not_exist("Pod", name));
                    }
                    if destroyed == Some(false) && !pods::recover_pod(world, array, name)? {
                        return Err(Error::conflict(format!("Pod {name} is not destroyed.")));
                    }
                    match promote {
                        Some(true) => {
                            pods::promote_pod(world, array, name)?;
                        }
                        Some(false) => {
                            pods::demote_pod(world, array, name)?;
                        }
                        None => {}
                    }
                    if destroyed == Some(true)
                        && !pods::destroy_pod(world, array, name, destroy_contents)?
                    {
                        return Err(array::destroyed_error("Pod", name));
                    }
                    Ok(pod_item(world, array, name))
                })();
                batch.record(name, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn delete_pods(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["ids"])?;
    let names = params.required_list("names")?;
    let eradicate_contents = params.flag("eradicate_contents")?;
    let batch = face
        .call(&session, "eradicate_pod", move |world, array| {
            let mut batch = Batch::default();
            for name in &names {
                batch.record(
                    name,
                    pods::eradicate_destroyed_pod(world, array, name, eradicate_contents)
                        .map(|()| None),
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

/// `pods/arrays` (deprecated, what Cinder calls) names pods `group_names` and answers
/// `Member` items; `pods/members` names them `pod_names` and answers `PodMember` items.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Arrays,
    Members,
}

impl Shape {
    fn pods_param(self) -> &'static str {
        match self {
            Shape::Arrays => "group_names",
            Shape::Members => "pod_names",
        }
    }

    fn item(self, view: &View<'_>, pod: &crate::state::records::PodRec, member: &str) -> Value {
        let item = view.pod_member(pod, member);
        match self {
            Shape::Arrays => item,
            Shape::Members => serde_json::json!({
                "context": item["context"],
                "pod": {"id": item["group"]["id"], "name": pod.name, "resource_type": "pods"},
                "member": {"id": item["member"]["id"], "name": member, "resource_type": "arrays"},
            }),
        }
    }
}

pub(crate) async fn get_pod_arrays(
    face: State<Face>,
    session: Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    get_membership(face, session, params, Shape::Arrays).await
}

pub(crate) async fn get_pod_members(
    face: State<Face>,
    session: Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    get_membership(face, session, params, Shape::Members).await
}

async fn get_membership(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    shape: Shape,
) -> Result<Response, RestError> {
    params.refuse(&["group_ids", "pod_ids", "member_ids"])?;
    let listing = Listing::parse(&params)?;
    let groups = params.list(shape.pods_param());
    let members = params.list("member_names");
    let items = face
        .call(&session, "get_pod", move |world, array| {
            for group in &groups {
                if pods::get_pod(world, array, group).is_none() {
                    return Err(array::does_not_exist("Pod", group));
                }
            }
            let view = View { world, array };
            let mut items = Vec::new();
            for pod in pods::pods_of(world, array) {
                if !groups.is_empty() && !groups.contains(&pod.name) {
                    continue;
                }
                for member in &pod.members {
                    if members.is_empty() || members.contains(&member.array) {
                        items.push(shape.item(&view, pod, &member.array));
                    }
                }
            }
            Ok(items)
        })
        .await?;
    Ok(query::list(items, &listing, &MEMBER)?.into_response())
}

fn pod_arrays(params: &Params, shape: Shape) -> Result<Vec<(String, String)>, RestError> {
    params.refuse(&["group_ids", "pod_ids", "member_ids"])?;
    let groups = params.required_list(shape.pods_param())?;
    let members = params.required_list("member_names")?;
    Ok(groups
        .iter()
        .flat_map(|g| members.iter().map(move |m| (g.clone(), m.clone())))
        .collect())
}

pub(crate) async fn post_pod_arrays(
    face: State<Face>,
    session: Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    stretch(face, session, params, Shape::Arrays).await
}

pub(crate) async fn post_pod_members(
    face: State<Face>,
    session: Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    stretch(face, session, params, Shape::Members).await
}

async fn stretch(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    shape: Shape,
) -> Result<Response, RestError> {
    let pairs = pod_arrays(&params, shape)?;
    let batch = face
        .call(&session, "add_pod_array", move |world, array| {
            let mut batch = Batch::default();
            for (pod, member) in &pairs {
                let result = pods::add_pod_array(world, array, pod, member).and_then(|added| {
                    if !added {
                        return Err(Error::new(
                            ErrorKind::AlreadyExists,
                            format!("Pod {pod} already exists on array {member}."),
                        ));
                    }
                    Ok(world
                        .pods
                        .get(pod)
                        .map(|p| shape.item(&View { world, array }, p, member)))
                });
                batch.record(member, result);
            }
            Ok(batch)
        })
        .await?;
    Ok(batch.into_response())
}

pub(crate) async fn delete_pod_arrays(
    face: State<Face>,
    session: Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    unstretch(face, session, params, Shape::Arrays).await
}

pub(crate) async fn delete_pod_members(
    face: State<Face>,
    session: Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    unstretch(face, session, params, Shape::Members).await
}

async fn unstretch(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
    shape: Shape,
) -> Result<Response, RestError> {
    let pairs = pod_arrays(&params, shape)?;
    let with_unknown = params.flag("with_unknown")?;
    let batch = face
        .call(&session, "remove_pod_array", move |world, array| {
            let mut batch = Batch::default();
            for (pod, member) in &pairs {
                let result = pods::remove_pod_array(world, array, pod, member, with_unknown)
                    .and_then(|removed| {
                        if removed {
                            Ok(None)
                        } else {
                            Err(Error::not_found(format!(
                                "Array {member} could not be found in pod {pod}."
                            )))
                        }
                    });
                batch.record(member, result);
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
