//! `arrays` (the array itself: `name`, `id`, `version` ≥ 6.1 as Cinder requires, `os`,
//! eradication delays) and `array-connections` (the replication link to the peer array:
//! `connected` while the link is up, `connecting` while partitioned or the peer is down).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

use super::query::{self, Listing, Naming, Params};
use super::reply::RestError;
use super::views::View;
use super::{Face, Session};

const ARRAY: Naming = Naming {
    noun: "Array",
    group_of: None,
};

const CONNECTION: Naming = Naming {
    noun: "Array connection",
    group_of: None,
};

pub(crate) async fn get_arrays(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    let listing = Listing::parse(&params)?;
    let items = face
        .call(&session, "array_info", |world, array| {
            let view = View { world, array };
            Ok(world
                .arrays
                .get(array)
                .map(|a| view.array(a))
                .into_iter()
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &ARRAY)?.into_response())
}

pub(crate) async fn get_connections(
    State(face): State<Face>,
    Extension(session): Extension<Session>,
    params: Params,
) -> Result<Response, RestError> {
    params.refuse(&["remote_ids"])?;
    let listing = Listing::parse(&params)?;
    let remotes = params.list("remote_names");
    let items = face
        .call(&session, "list_array_connections", move |world, array| {
            let view = View { world, array };
            let peers = world
                .arrays
                .get(array)
                .map(|a| a.connections.clone())
                .unwrap_or_default();
            Ok(peers
                .iter()
                .filter(|p| remotes.is_empty() || remotes.contains(p))
                .filter_map(|p| world.arrays.get(p))
                .map(|p| view.connection(p))
                .collect::<Vec<Value>>())
        })
        .await?;
    Ok(query::list(items, &listing, &CONNECTION)?.into_response())
}
