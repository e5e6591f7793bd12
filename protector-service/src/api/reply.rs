//! Reading requests and writing answers, the same way for every resource.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protector_core::Error;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::frame::ApiError;

/// What a handler answers.
pub(crate) type Reply = std::result::Result<Response, ApiError>;

/// `200 {key: value}`.
pub(crate) fn wrapped<T: Serialize>(key: &str, value: &T) -> Reply {
    let value = serde_json::to_value(value)
        .map_err(|e| Error::unexpected(format!("a record cannot be written as JSON: {e}")))?;
    let mut body = Map::new();
    body.insert(key.to_string(), value);
    Ok((StatusCode::OK, Json(Value::Object(body))).into_response())
}

/// `200` with `value` as the body.
pub(crate) fn bare<T: Serialize>(value: &T) -> Reply {
    Ok((StatusCode::OK, Json(value)).into_response())
}

/// `204`.
pub(crate) fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The body as `T`.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid(format!(
            "the request body is not a valid {what}: {e}; see the API reference for its shape"
        ))
    })
}

/// `key` of the body as `T`.
pub(crate) fn unwrap_body<T: DeserializeOwned>(
    bytes: &[u8],
    key: &str,
    what: &str,
) -> Result<T, Error> {
    let mut value: Value = body(bytes, what)?;
    let inner = value.get_mut(key).map(Value::take).ok_or_else(|| {
        Error::invalid(format!(
            "the request body has no '{key}': send {{\"{key}\": <{what}>}}"
        ))
    })?;
    serde_json::from_value(inner)
        .map_err(|e| Error::invalid(format!("'{key}' is not a valid {what}: {e}")))
}

/// A path parameter as a uuid.
pub(crate) fn uuid(text: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(text)
        .map_err(|_| Error::invalid(format!("'{text}' is not a valid {what} id: give its uuid")))
}

/// That the id of the path and that of the record agree.
pub(crate) fn same_id<T: PartialEq + std::fmt::Display>(
    path: &T,
    record: &T,
    what: &str,
) -> Result<(), Error> {
    if path == record {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "the {what} of the URL ({path}) is not that of the body ({record}): send the record to its own URL"
    )))
}

/// A path that does not parse.
pub(crate) fn path_error(rejection: PathRejection) -> ApiError {
    ApiError(Error::invalid(format!("the URL is not valid: {rejection}")))
}

/// A query that does not parse.
pub(crate) fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError(Error::invalid(format!(
        "the query string is not valid: {rejection}"
    )))
}
