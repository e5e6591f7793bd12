//! What every response goes through: its request id, the error body, the log line, and a
//! panic turned into a 500.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use protector_core::store::remote::{status_of, ErrorBody, ErrorEnvelope, REQUEST_ID_HEADER};
use protector_core::{Error, ErrorKind};

use super::ApiState;

/// How long a client is asked to wait before trying again after a 503.
const RETRY_AFTER_SECONDS: &str = "5";

/// A failed request: the core error, rendered (with the request id) by [`frame`].
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

/// The error travels to [`frame`] in the response's extensions, which writes its body.
#[derive(Clone)]
struct Failed(Arc<Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(status_of(self.0.kind()))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(Failed(Arc::new(self.0)));
        response
    }
}

/// Who made the request, for the log line (set by the authentication).
#[derive(Debug, Clone, Default)]
pub(crate) struct Who {
    pub(crate) user_id: String,
    pub(crate) project_id: String,
}

/// The outermost layer: gives the request its id, catches a panic (500), writes the error body
/// of a failure, sets the headers (`x-openstack-request-id`, `WWW-Authenticate` on 401,
/// `Retry-After` on 503) and logs one line.
pub(crate) async fn frame(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    let method = request.method().clone();
    // The path only: queries carry nothing worth logging.
    let path = request.uri().path().to_string();
    let mut response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(request_id = %request_id, method = %method, path = %path, "a request handler panicked");
            ApiError(Error::unexpected(
                "protector-api failed on an internal error: report it with the request id",
            ))
            .into_response()
        }
    };
    if let Some(Failed(error)) = response.extensions_mut().remove::<Failed>() {
        let recast = from_the_database(&state, &error);
        render(
            &state,
            &mut response,
            recast.as_ref().unwrap_or(&error),
            &request_id,
        );
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let who = response
        .extensions()
        .get::<Who>()
        .cloned()
        .unwrap_or_default();
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        request_id = %request_id,
        user_id = %who.user_id,
        project_id = %who.project_id,
        "request"
    );
    response
}

/// The store's `Unavailable` (no other service named): the message names the site's database
/// and says that the service recovers by itself.
fn from_the_database(state: &ApiState, error: &Error) -> Option<Error> {
    if error.kind() != ErrorKind::Unavailable || error.context_value("service").is_some() {
        return None;
    }
    let mut recast = Error::unavailable(format!(
        "the database of site '{}' cannot be reached ({}): retry later; protector-api serves again as soon as it is back",
        state.site(),
        error.message()
    ));
    for (key, value) in error.context() {
        recast = recast.with_context(key, value.clone());
    }
    Some(recast.with_context("site", state.site().to_string()))
}

/// Writes the OpenStack-style error body of `error`.
fn render(state: &ApiState, response: &mut Response, error: &Error, request_id: &str) {
    let body = ErrorEnvelope {
        error: ErrorBody::from_error(error, request_id),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    *response.body_mut() = axum::body::Body::from(bytes);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match error.kind() {
        ErrorKind::Unauthenticated => {
            let challenge = format!("Keystone uri=\"{}\"", state.auth.www_authenticate_uri());
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(WWW_AUTHENTICATE, value);
            }
        }
        ErrorKind::Unavailable => {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        _ => {}
    }
    if response.status().is_server_error() {
        tracing::warn!(request_id = %request_id, kind = %error.kind(), error = %error, "request failed");
    }
}
