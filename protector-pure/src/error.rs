//! From HTTP answers and transport failures to [`protector_core::Error`].
//!
//! [`parse_error`] is the only place where an HTTP status and Purity's message become an
//! [`ErrorKind`] and a retry status. Every error carries context: `array`, `operation`,
//! `object`, `http_status`, `request_id` (the `X-Request-ID` of the exchange) and
//! `array_error` (Purity's own messages, which the calls match for "already done" cases).

use protector_core::error::RetryStatus;
use protector_core::{Error, ErrorKind};
use protector_http::transport::certificate_error;
use protector_http::{
    may_have_run, request_id, retry_after, retry_status, Failure, TransportError, TransportFailure,
};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::Deserialize;

/// What a failed exchange was about, for messages and context.
#[derive(Debug, Clone, Copy)]
pub struct ErrorContext<'a> {
    /// The array as the user named it (host of its URL).
    pub array: &'a str,
    /// What was being done, in words (`destroy volume`).
    pub operation: &'a str,
    /// The object(s) concerned, if any.
    pub object: Option<&'a str>,
    /// The `X-Request-ID` this client sent.
    pub request_id: &'a str,
    /// Whether running the request twice is harmless.
    pub idempotent: bool,
    /// Whether the request was the login itself (a refused login is always `Unauthenticated`).
    pub login: bool,
}

impl ErrorContext<'_> {
    fn what(&self) -> String {
        match self.object {
            Some(object) => format!("{} {object}", self.operation),
            None => self.operation.to_string(),
        }
    }

    fn decorate(&self, error: Error) -> Error {
        let error = error
            .with_context("array", self.array)
            .with_context("operation", self.operation);
        match self.object {
            Some(object) => error.with_context("object", object),
            None => error,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Option<Vec<ErrorItem>>,
    /// The gateway style used for 403 and 429.
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    context: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Purity's messages in an error body, `context: message` each, joined by `; `.
fn array_messages(body: &[u8]) -> Option<String> {
    let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
    let mut messages: Vec<String> = parsed
        .errors
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| match (e.context, e.message) {
            (Some(c), Some(m)) if !c.is_empty() && !m.contains(c.as_str()) => {
                Some(format!("{c}: {m}"))
            }
            (_, Some(m)) => Some(m),
            (Some(c), None) => Some(c),
            (None, None) => None,
        })
        .collect();
    if let Some(m) = parsed.message {
        messages.push(m);
    }
    (!messages.is_empty()).then(|| messages.join("; "))
}

/// Kind of a 400 answer, from Purity's message (the substrings the Cinder driver matches).
fn kind_of_bad_request(message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if any(&["has been destroyed", "is destroyed", "pending eradication"]) {
        ErrorKind::Conflict
    } else if any(&["does not exist", "could not be found", "no such"]) {
        ErrorKind::NotFound
    } else if any(&[
        "already exists",
        "already includes",
        "already allowed",
        "already belongs",
        "already in use",
    ]) {
        ErrorKind::AlreadyExists
    } else if any(&[
        "limit reached",
        "existing connections",
        "not destroyed",
        "in progress",
    ]) {
        ErrorKind::Conflict
    } else {
        ErrorKind::InvalidInput
    }
}

fn hint(kind: ErrorKind, status: u16, may_have_run: bool) -> &'static str {
    match kind {
        _ if may_have_run => {
            "; the request may have run on the array: check the object's state before trying again"
        }
        ErrorKind::Unauthenticated => {
            "; check the array's API token (it may be wrong, expired or disabled)"
        }
        ErrorKind::PermissionDenied => {
            "; the API token's user lacks the role for this call (storage_admin or array_admin)"
        }
        ErrorKind::RateLimited => "; the array is throttling requests: try again later",
        ErrorKind::Unavailable => "; the array is busy or unreachable: try again later",
        ErrorKind::NotFound if status == 404 => {
            "; the array does not offer this endpoint at the negotiated REST version"
        }
        _ => "",
    }
}

/// Turns an HTTP error answer of the array into a protector error.
///
/// | status | kind | retryable |
/// |---|---|---|
/// | 400 "has been destroyed" | `Conflict` | no |
/// | 400 "does not exist", "could not be found", "no such" | `NotFound` | no |
/// | 400 "already exists/includes/allowed/belongs/in use" | `AlreadyExists` | no |
/// | 400 "limit reached", "existing connections" | `Conflict` | no |
/// | other 400, 422 | `InvalidInput` | no |
/// | 401 (and any refusal of the login itself) | `Unauthenticated` | no |
/// | 403 | `PermissionDenied` | no |
/// | 404 | `NotFound` | no |
/// | 408 | `Timeout` | yes |
/// | 409 | `Conflict` | no |
/// | 429 | `RateLimited`, `retry_after_secs` in context | yes |
/// | 501, 505 | `Unsupported` | no |
/// | 503 | `Unavailable` | yes |
/// | other 5xx | `Unavailable` | only if idempotent (else it may have run) |
///
/// Retryability is the shared policy's ([`protector_http::classify`]).
/// | anything else | `Unexpected` | no |
///
/// The message names the operation, the object and the array, and quotes Purity's message. The
/// request id is the array's `x-request-id` when it sent one, else the one this client sent.
pub fn parse_error(
    context: &ErrorContext<'_>,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let code = status.as_u16();
    let array_message = array_messages(body);
    let detail = array_message.clone().unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() || text.len() > 300 {
            status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            text.to_string()
        }
    });
    let kind = match code {
        400 | 401 | 403 if context.login => ErrorKind::Unauthenticated,
        400 => kind_of_bad_request(&detail),
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::Timeout,
        409 => ErrorKind::Conflict,
        422 => ErrorKind::InvalidInput,
        429 => ErrorKind::RateLimited,
        501 | 505 => ErrorKind::Unsupported,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Unexpected,
    };
    let failure = Failure::Status(code);
    let may_have_run = may_have_run(failure, context.idempotent);
    let retry = retry_status(failure, context.idempotent);
    let message = format!(
        "{} on FlashArray {} failed (HTTP {code}): {detail}{}",
        context.what(),
        context.array,
        hint(kind, code, may_have_run)
    );
    let request_id = request_id::from_headers(headers, &[request_id::FLASHARRAY_HEADER])
        .unwrap_or_else(|| context.request_id.to_string());
    let mut error = context
        .decorate(Error::new(kind, message).with_retry(retry))
        .with_context("http_status", code.to_string())
        .with_context("request_id", request_id);
    if let Some(m) = array_message {
        error = error.with_context("array_error", m);
    }
    if let Some(after) = retry_after(headers) {
        error = error.with_context("retry_after_secs", after.as_secs().to_string());
    }
    if may_have_run {
        error = error.with_context("may_have_run", "true");
    }
    error
}

/// Turns a failure without an answer into a protector error. Timeouts of non-idempotent
/// requests are not retryable: the request may have run, and only observing the array can tell.
/// An untrusted certificate is `ConfigInvalid`, named as such: no retry can help.
pub(crate) fn transport_error(context: &ErrorContext<'_>, failed: TransportError) -> Error {
    let TransportError {
        failure,
        origin,
        source,
    } = failed;
    if let (TransportFailure::Untrusted, Some(cause)) = (failure, certificate_error(&source)) {
        let url = origin.unwrap_or_else(|| format!("https://{}", context.array));
        let message = format!(
            "{} on FlashArray {}: the certificate of array {url} is not trusted ({cause}): \
             give the CA bundle that signed it as the array's CA file (ca_file), or add that CA \
             to the system trust store",
            context.what(),
            context.array,
        );
        return context
            .decorate(
                Error::new(ErrorKind::ConfigInvalid, message).with_retry(RetryStatus::Permanent),
            )
            .with_context("request_id", context.request_id)
            .with_source(source);
    }
    let what = match failure {
        TransportFailure::Connect => {
            "could not connect (check the URL, the network and the certificate)"
        }
        TransportFailure::Timeout => "got no answer in time",
        TransportFailure::Interrupted | TransportFailure::Untrusted => {
            "lost the connection before the answer arrived"
        }
    };
    let may_have_run = failure.may_have_run(context.idempotent);
    let message = format!(
        "{} on FlashArray {}: {what}{}",
        context.what(),
        context.array,
        if may_have_run {
            "; the request may have run on the array: check the object's state before trying again"
        } else {
            ""
        }
    );
    let kind = match failure {
        // Without the certificate error in its causes, treated as a broken connection.
        TransportFailure::Untrusted => ErrorKind::Unavailable,
        other => other.kind(),
    };
    let mut error = context
        .decorate(Error::new(kind, message).with_retry(failure.retry_status(context.idempotent)))
        .with_context("request_id", context.request_id)
        .with_source(source);
    if may_have_run {
        error = error.with_context("may_have_run", "true");
    }
    error
}

/// An answer that arrived but could not be understood.
pub fn decode_error(
    context: &ErrorContext<'_>,
    request_id: &str,
    source: serde_json::Error,
) -> Error {
    context
        .decorate(Error::unexpected(format!(
            "{} on FlashArray {}: could not read the array's answer ({source}); the REST version may not be supported",
            context.what(),
            context.array
        )))
        .with_context("request_id", request_id)
}

/// Whether Purity's message (or the error message) contains one of `needles`, ignoring case.
pub(crate) fn array_says(error: &Error, needles: &[&str]) -> bool {
    let text = error
        .context_value("array_error")
        .unwrap_or(error.message())
        .to_ascii_lowercase();
    needles
        .iter()
        .any(|n| text.contains(&n.to_ascii_lowercase()))
}

/// Whether the error says the object itself is missing (400 "does not exist"), as opposed to an
/// endpoint missing (404).
pub(crate) fn is_missing(error: &Error) -> bool {
    error.kind() == ErrorKind::NotFound && error.context_value("http_status") != Some("404")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn context(idempotent: bool) -> ErrorContext<'static> {
        ErrorContext {
            array: "array-a.example.com",
            operation: "destroy volume",
            object: Some("vol-1"),
            request_id: "sent-id",
            idempotent,
            login: false,
        }
    }

    fn body(message: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "errors": [{"context": "vol-1", "message": message}]
        }))
        .unwrap()
    }

    #[test]
    fn maps_status_and_message_to_kind_and_retry() {
        let headers = HeaderMap::new();
        let cases: Vec<(u16, &str, bool, ErrorKind, bool)> = vec![
            (
                400,
                "Volume does not exist.",
                true,
                ErrorKind::NotFound,
                false,
            ),
            (
                400,
                "Volume already exists.",
                true,
                ErrorKind::AlreadyExists,
                false,
            ),
            (
                400,
                "Volume has been destroyed.",
                true,
                ErrorKind::Conflict,
                false,
            ),
            (
                400,
                "Target already includes array-b.",
                false,
                ErrorKind::AlreadyExists,
                false,
            ),
            (400, "Pod limit reached.", false, ErrorKind::Conflict, false),
            (400, "Invalid name.", false, ErrorKind::InvalidInput, false),
            (401, "", true, ErrorKind::Unauthenticated, false),
            (403, "", true, ErrorKind::PermissionDenied, false),
            (404, "", true, ErrorKind::NotFound, false),
            (408, "", false, ErrorKind::Timeout, true),
            (409, "", true, ErrorKind::Conflict, false),
            (429, "", false, ErrorKind::RateLimited, true),
            (500, "Server is busy", true, ErrorKind::Unavailable, true),
            (500, "Server is busy", false, ErrorKind::Unavailable, false),
            (503, "", false, ErrorKind::Unavailable, true),
            (302, "", true, ErrorKind::Unexpected, false),
        ];
        for (status, message, idempotent, kind, retryable) in cases {
            let e = parse_error(
                &context(idempotent),
                StatusCode::from_u16(status).unwrap(),
                &headers,
                &body(message),
            );
            assert_eq!(
                (status, message, e.kind(), e.is_retryable()),
                (status, message, kind, retryable),
                "{e:?}"
            );
        }
    }

    #[test]
    fn message_names_array_object_and_request_id() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_static("array-id"));
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let e = parse_error(
            &context(true),
            StatusCode::BAD_REQUEST,
            &headers,
            &body("Volume does not exist."),
        );
        assert_eq!(
            e.message(),
            "destroy volume vol-1 on FlashArray array-a.example.com failed (HTTP 400): vol-1: Volume does not exist."
        );
        assert_eq!(e.context_value("request_id"), Some("array-id"));
        assert_eq!(e.context_value("retry_after_secs"), Some("7"));
        assert_eq!(e.context_value("object"), Some("vol-1"));
        assert!(array_says(&e, &["DOES NOT EXIST"]));
        assert!(is_missing(&e));
    }

    #[test]
    fn gateway_style_and_plain_bodies() {
        let headers = HeaderMap::new();
        let e = parse_error(
            &context(true),
            StatusCode::FORBIDDEN,
            &headers,
            br#"{"message":"Forbidden for this user"}"#,
        );
        assert!(e.message().contains("Forbidden for this user"), "{e}");
        assert_eq!(e.context_value("request_id"), Some("sent-id"));
        let e = parse_error(&context(true), StatusCode::BAD_GATEWAY, &headers, b"");
        assert!(e.message().contains("Bad Gateway"), "{e}");
        assert!(!is_missing(&parse_error(
            &context(true),
            StatusCode::NOT_FOUND,
            &headers,
            b""
        )));
    }

    #[test]
    fn non_idempotent_server_error_may_have_run() {
        let e = parse_error(
            &context(false),
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            b"",
        );
        assert_eq!(e.context_value("may_have_run"), Some("true"));
        assert!(e.message().contains("may have run"), "{e}");
    }

    #[test]
    fn refused_login_is_unauthenticated() {
        let login = ErrorContext {
            login: true,
            ..context(true)
        };
        let e = parse_error(&login, StatusCode::BAD_REQUEST, &HeaderMap::new(), b"");
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        assert!(e.message().contains("API token"), "{e}");
    }
}
