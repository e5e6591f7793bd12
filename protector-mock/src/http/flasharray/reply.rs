//! What the simulated array answers: the items envelope of GETs (with paging), the
//! `{"items": …}` of changes, empty DELETE answers, and Purity's error shape with the status
//! the service layer's error maps to.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use protector_core::{Error, ErrorKind};

/// One entry of `errors[]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorItem {
    /// The object the error is about (`null` for general errors).
    pub context: Option<String>,
    pub message: String,
}

/// An error answer: `{"errors": [{"context", "message"}]}` with its status.
#[derive(Debug, Clone)]
pub(crate) struct RestError {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
    /// Seconds for `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

impl RestError {
    pub(crate) fn new(
        status: StatusCode,
        context: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        RestError {
            status,
            errors: vec![ErrorItem {
                context: context.map(str::to_string),
                message: message.into(),
            }],
            retry_after: None,
        }
    }

    /// A 400 about the request itself or a business rule.
    pub(crate) fn bad_request(context: Option<&str>, message: impl Into<String>) -> Self {
        RestError::new(StatusCode::BAD_REQUEST, context, message)
    }

    /// The answer to a service-layer error about `context`.
    pub(crate) fn from_service(error: &Error, context: Option<&str>) -> Self {
        let (status, retry_after) = status_of(error);
        RestError {
            status,
            errors: vec![ErrorItem {
                context: context.map(str::to_string),
                message: error.message().to_string(),
            }],
            retry_after,
        }
    }
}

/// The HTTP status of a service-layer error, and the `Retry-After` it carries.
///
/// Purity answers business-rule failures ("does not exist", "already exists", "has been
/// destroyed", …) with 400, which is what the Cinder driver branches on. Injected faults keep
/// their status: 500, 503 and 429 (with `Retry-After`); an injected timeout is held and then
/// answered 504 by the caller.
pub(crate) fn status_of(error: &Error) -> (StatusCode, Option<u64>) {
    match error.kind() {
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, None),
        ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, None),
        ErrorKind::RateLimited => {
            let after = error
                .context_value("retry_after_secs")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            (StatusCode::TOO_MANY_REQUESTS, Some(after))
        }
        // The simulator's injected 500 says so in its message (faults::InjectedError).
        ErrorKind::Unavailable if error.message().contains(" returned 500 ") => {
            (StatusCode::INTERNAL_SERVER_ERROR, None)
        }
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, Some(1)),
        ErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, None),
        ErrorKind::Unexpected => (StatusCode::INTERNAL_SERVER_ERROR, None),
        _ => (StatusCode::BAD_REQUEST, None),
    }
}

fn errors_json(errors: &[ErrorItem]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| json!({"context": e.context, "message": e.message}))
            .collect(),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let mut body = json!({"errors": errors_json(&self.errors)});
        // py-pure-client reads 403 and 429 messages from a top-level `message` (the API
        // gateway's shape); keep `errors` too for everyone else.
        if matches!(
            self.status,
            StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        ) {
            body["message"] = Value::String(
                self.errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_default(),
            );
        }
        let mut response = json_response(self.status, &body);
        if let Some(after) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// One page of a GET.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page {
    pub items: Vec<Value>,
    pub continuation_token: Option<String>,
    pub more_items_remaining: bool,
    pub total_item_count: Option<usize>,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let body = json!({
            "continuation_token": self.continuation_token,
            "more_items_remaining": self.more_items_remaining,
            "total_item_count": self.total_item_count,
            "items": self.items,
        });
        let mut response = json_response(StatusCode::OK, &body);
        if let Some(token) = self
            .continuation_token
            .as_deref()
            .and_then(|t| HeaderValue::from_str(t).ok())
        {
            response.headers_mut().insert("x-next-token", token);
        }
        response
    }
}

/// The outcome of a change applied name by name: the objects changed, and an error for each
/// name that failed (the others stay changed, as on Purity).
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub items: Vec<Value>,
    failures: Vec<(StatusCode, ErrorItem)>,
}

impl Batch {
    pub(crate) fn push(&mut self, item: Value) {
        self.items.push(item);
    }

    /// Records that the change failed for `context`.
    pub(crate) fn fail(&mut self, context: &str, error: &Error) {
        let (status, _) = status_of(error);
        self.failures.push((
            status,
            ErrorItem {
                context: Some(context.to_string()),
                message: error.message().to_string(),
            },
        ));
    }

    /// Whether some name failed.
    pub(crate) fn failed(&self) -> bool {
        !self.failures.is_empty()
    }

    /// Records a request error about `context`.
    pub(crate) fn reject(&mut self, context: &str, message: impl Into<String>) {
        self.failures.push((
            StatusCode::BAD_REQUEST,
            ErrorItem {
                context: Some(context.to_string()),
                message: message.into(),
            },
        ));
    }

    /// Keeps the item of `context` (if any) or its error.
    pub(crate) fn record(&mut self, context: &str, result: protector_core::Result<Option<Value>>) {
        match result {
            Ok(Some(item)) => self.push(item),
            Ok(None) => {}
            Err(error) => self.fail(context, &error),
        }
    }
}

impl IntoResponse for Batch {
    fn into_response(self) -> Response {
        match self.failures.first() {
            None => json_response(StatusCode::OK, &json!({"items": self.items})),
            Some((status, _)) => {
                let errors: Vec<ErrorItem> = self.failures.iter().map(|(_, e)| e.clone()).collect();
                let mut body = json!({"errors": errors_json(&errors)});
                if !self.items.is_empty() {
                    body["items"] = Value::Array(self.items);
                }
                json_response(*status, &body)
            }
        }
    }
}

/// `200` with an empty body (DELETE, logout).
pub(crate) fn empty() -> Response {
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{InjectedError, Service};

    #[test]
    fn injected_faults_keep_their_status() {
        let cases = [
            (InjectedError::InternalServerError, 500, None),
            (InjectedError::ServiceUnavailable, 503, Some(1)),
            (
                InjectedError::TooManyRequests {
                    retry_after_secs: 7,
                },
                429,
                Some(7),
            ),
            (InjectedError::Timeout, 504, None),
        ];
        for (injected, status, retry_after) in cases {
            let error = injected.to_error("site-a", Service::Array, "get_volume");
            assert_eq!(
                status_of(&error),
                (StatusCode::from_u16(status).unwrap(), retry_after),
                "{injected:?}"
            );
        }
    }

    #[test]
    fn business_rules_are_400() {
        for error in [
            crate::array::does_not_exist("Volume", "v"),
            Error::new(ErrorKind::AlreadyExists, "Volume v already exists."),
            Error::conflict("Volume v has been destroyed."),
            Error::invalid("bad name"),
        ] {
            assert_eq!(status_of(&error).0, StatusCode::BAD_REQUEST);
        }
        assert_eq!(
            status_of(&Error::new(ErrorKind::Unauthenticated, "no")).0,
            StatusCode::UNAUTHORIZED
        );
    }
}
