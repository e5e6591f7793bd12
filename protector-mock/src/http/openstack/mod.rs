//! Keystone v3, Nova v2.1, Cinder v3 and Neutron v2.0 of one simulated site over HTTP, under
//! path prefixes of one listener: `/identity`, `/compute`, `/volume`, `/network`. Every call
//! goes through the simulator's pipeline and the same service functions as the in-process
//! face; this layer parses requests, validates bodies, negotiates microversions and renders
//! each service's views and errors.

mod block_storage;
mod common;
mod compute;
mod identity;
mod microversion;
mod network;
mod schema;
mod text;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;

pub(crate) use common::SiteContext;
use common::{ApiError, Family};

/// The router of one site's four services.
pub(crate) fn router(ctx: SiteContext) -> Router {
    Router::new()
        .merge(identity::router())
        .merge(compute::router())
        .merge(block_storage::router())
        .merge(network::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(common::request_id_layer))
        .with_state(ctx)
}

async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    let path = uri.path();
    let family = if path.starts_with("/compute") {
        Family::Compute
    } else if path.starts_with("/volume") {
        Family::Volume
    } else if path.starts_with("/network") {
        Family::Network
    } else {
        Family::Identity
    };
    ApiError::new(
        family,
        StatusCode::NOT_FOUND,
        "The resource could not be found.",
    )
    .into_response()
}
