//! HTTP failures as [`protector_core::Error`]: the one `parse_error` of each service family.

use protector_core::{Error, ErrorKind};
use protector_http::transport::root_cause;
use protector_http::{classify, may_have_run, retry_status, Decision, Failure, TransportError};
use protector_http::{request_id as ids, TransportFailure};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The service families; each writes its error bodies its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Keystone: `{"error": {"code", "message", "title"}}`.
    Identity,
    /// Nova: `{"itemNotFound": {"message", "code"}}` and the like.
    Compute,
    /// Cinder: the same style as Nova.
    BlockStorage,
    /// Neutron: `{"NeutronError": {"type", "message", "detail"}}`.
    Network,
    /// protector-api: `{"error": {"code", "title", "kind", "message", ...}}`
    /// (`protector_core::store::remote`), read back into the core error it was made from.
    Protector,
}

impl Family {
    pub(crate) fn product(self) -> &'static str {
        match self {
            Family::Identity => "Keystone",
            Family::Compute => "Nova",
            Family::BlockStorage => "Cinder",
            Family::Network => "Neutron",
            Family::Protector => "protector-api",
        }
    }

    /// Maps a non-success response to an error: kind from the status (refined by the
    /// service's fault type), retry status from [`classify`], the service's own message, and
    /// the request id in the context.
    pub(crate) fn parse_error(
        self,
        operation: &str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        idempotent: bool,
    ) -> Error {
        if self == Family::Protector {
            return protector_error(status, headers, body, idempotent);
        }
        let fault = self.fault(body);
        let kind = match (self, status) {
            (_, 400) => ErrorKind::InvalidInput,
            (_, 401) => ErrorKind::Unauthenticated,
            (_, 403) => ErrorKind::PermissionDenied,
            (_, 404) => ErrorKind::NotFound,
            (_, 405 | 406 | 501 | 505) => ErrorKind::Unsupported,
            (_, 408) => ErrorKind::Timeout,
            // Keystone answers 409 only for duplicates; elsewhere 409 is a state conflict.
            (Family::Identity, 409) => ErrorKind::AlreadyExists,
            (Family::Network, 409) if fault.kind.as_deref().is_some_and(is_duplicate) => {
                ErrorKind::AlreadyExists
            }
            (_, 409) => ErrorKind::Conflict,
            (_, 413) if headers.contains_key(reqwest::header::RETRY_AFTER) => {
                ErrorKind::RateLimited
            }
            (_, 413) => ErrorKind::InvalidInput,
            (_, 429) => ErrorKind::RateLimited,
            (_, 500..=599) => ErrorKind::Unavailable,
            _ => ErrorKind::Unexpected,
        };
        let failure = Failure::Status(status);
        let decision = classify(failure, idempotent);
        let reason = reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let detail = fault.message.unwrap_or_else(|| reason.to_string());
        let mut message = format!(
            "{operation} failed: {} answered {status} {reason}: {detail}",
            self.product()
        );
        match kind {
            ErrorKind::Unauthenticated => {
                message.push_str("; check the cloud's credentials in clouds.yaml/secure.yaml")
            }
            ErrorKind::PermissionDenied => message
                .push_str("; the credentials' roles do not allow this (manage, unmanage and os-services need admin)"),
            ErrorKind::RateLimited | ErrorKind::Unavailable if decision == Decision::Retry => {
                message.push_str("; the service is busy or down, try again later")
            }
            _ => {}
        }
        if may_have_run(failure, idempotent) {
            message.push_str("; it may have been executed: check before sending it again");
        }
        let mut error = Error::new(kind, message)
            .with_retry(retry_status(failure, idempotent))
            .with_context("service", self.product())
            .with_context("http_status", status.to_string());
        if let Some(fault_type) = fault.kind {
            error = error.with_context("fault", fault_type);
        }
        with_request_id(error, headers)
    }

    /// A failure without a response: connection refused, timeout, connection broken, or a
    /// certificate that is not trusted (named as such, never retried: the cloud's `cacert` must
    /// change).
    pub(crate) fn transport_error(
        self,
        operation: &str,
        failed: TransportError,
        idempotent: bool,
    ) -> Error {
        let product = self.product();
        let cause = root_cause(&failed.source);
        let mut message = match failed.failure {
            TransportFailure::Connect => format!(
                "{operation} failed: cannot connect to {product} ({cause}); check that the site is reachable"
            ),
            TransportFailure::Timeout => {
                format!("{operation} failed: {product} did not answer in time")
            }
            TransportFailure::Interrupted => {
                format!("{operation} failed: the connection to {product} broke ({cause})")
            }
            TransportFailure::Untrusted => {
                let cause = protector_http::transport::certificate_error(&failed.source)
                    .unwrap_or(cause);
                let at = failed
                    .origin
                    .as_deref()
                    .map(|origin| format!(" at {origin}"))
                    .unwrap_or_default();
                format!(
                    "{operation} failed: the certificate of {product}{at} is not trusted ({cause}): \
                     give the CA bundle that signed it as the cloud's cacert in clouds.yaml, or add \
                     that CA to the system trust store"
                )
            }
        };
        if failed.failure.may_have_run(idempotent) {
            message.push_str("; it may have been executed: check before sending it again");
        }
        Error::new(failed.failure.kind(), message)
            .with_retry(failed.failure.retry_status(idempotent))
            .with_context("service", product)
            .with_source(failed.source)
    }

    /// A 2xx answer that is not what the API documents.
    pub(crate) fn decode_error(
        self,
        operation: &str,
        headers: &HeaderMap,
        what: impl std::fmt::Display,
    ) -> Error {
        let error = Error::unexpected(format!(
            "{operation}: {}'s answer could not be read: {what}",
            self.product()
        ))
        .with_context("service", self.product());
        with_request_id(error, headers)
    }

    fn fault(self, body: &[u8]) -> Fault {
        let Ok(json) = serde_json::from_slice::<Value>(body) else {
            return Fault::from_text(body);
        };
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(clean);
        match self {
            Family::Identity => {
                let error = json.get("error");
                Fault {
                    kind: text(error.and_then(|e| e.get("title"))),
                    message: text(error.and_then(|e| e.get("message"))),
                }
            }
            Family::Compute | Family::BlockStorage => {
                // One top-level key naming the fault: {"itemNotFound": {"message", "code"}}.
                let named = json.as_object().and_then(|o| {
                    o.iter()
                        .find(|(_, v)| v.get("message").is_some())
                        .map(|(k, v)| (k.clone(), v))
                });
                match named {
                    Some((name, inner)) => Fault {
                        kind: Some(name),
                        message: text(inner.get("message")),
                    },
                    None => Fault {
                        kind: None,
                        message: text(json.get("message")),
                    },
                }
            }
            Family::Protector => Fault {
                kind: text(json.get("error").and_then(|e| e.get("kind"))),
                message: text(json.get("error").and_then(|e| e.get("message"))),
            },
            Family::Network => match json.get("NeutronError") {
                Some(Value::String(s)) => Fault {
                    kind: None,
                    message: Some(clean(s)),
                },
                Some(inner) => Fault {
                    kind: text(inner.get("type")),
                    message: text(inner.get("message")),
                },
                None => Fault {
                    kind: None,
                    message: text(json.get("message")),
                },
            },
        }
    }
}

/// A failure of protector-api: the core error the server answered (kind, message, hint,
/// findings, context), or for a body that is not protector's (a proxy's page) the status's
/// kind with the page's text. Retry status from the status, as for every service.
fn protector_error(status: u16, headers: &HeaderMap, body: &[u8], idempotent: bool) -> Error {
    use protector_core::store::remote;
    let failure = Failure::Status(status);
    let error = match remote::parse_error_body(body) {
        Some(parsed) => parsed.into_error(status),
        None => {
            let detail = Fault::from_text(body).message.unwrap_or_default();
            let error = Error::new(
                remote::kind_of_status(status),
                format!("protector-api answered {status}: {detail}"),
            );
            with_request_id(error, headers)
        }
    };
    let mut error = error
        .with_retry(retry_status(failure, idempotent))
        .with_context("service", "protector-api")
        .with_context("http_status", status.to_string());
    if may_have_run(failure, idempotent) {
        error = error.with_context("may_have_run", "true");
    }
    error
}

/// The same failure under another kind and message, keeping its context (request id, …).
pub(crate) fn recast(error: &Error, kind: ErrorKind, message: String) -> Error {
    error
        .context()
        .iter()
        .fold(Error::new(kind, message), |e, (k, v)| {
            e.with_context(k, v.clone())
        })
}

/// Adds `x-openstack-request-id` (or Nova's `x-compute-request-id`) to the context.
pub(crate) fn with_request_id(error: Error, headers: &HeaderMap) -> Error {
    match request_id(headers) {
        Some(id) => error.with_context("request_id", id),
        None => error,
    }
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ids::from_headers(headers, ids::OPENSTACK_HEADERS)
}

/// Neutron's duplicate faults: `SecurityGroupRuleExists`, `…AlreadyExists`.
fn is_duplicate(fault_type: &str) -> bool {
    fault_type.ends_with("Exists")
}

struct Fault {
    kind: Option<String>,
    message: Option<String>,
}

impl Fault {
    /// A proxy's HTML or plain-text page: its text, tags dropped, shortened.
    fn from_text(body: &[u8]) -> Fault {
        let text = String::from_utf8_lossy(body);
        let mut plain = String::new();
        let mut in_tag = false;
        for c in text.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    plain.push(' ');
                }
                c if !in_tag => plain.push(c),
                _ => {}
            }
        }
        let message = clean(&plain);
        Fault {
            kind: None,
            message: (!message.is_empty()).then_some(message),
        }
    }
}

/// One line, at most 400 characters.
fn clean(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(400) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn parse(family: Family, status: u16, body: &str) -> Error {
        let mut headers = HeaderMap::new();
        headers.insert("x-openstack-request-id", HeaderValue::from_static("req-1"));
        family.parse_error("op", status, &headers, body.as_bytes(), true)
    }

    #[test]
    fn each_family_body_gives_its_message_and_fault() {
        let e = parse(
            Family::Compute,
            404,
            r#"{"itemNotFound": {"message": "Instance x could not be found.", "code": 404}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.message(),
            "op failed: Nova answered 404 Not Found: Instance x could not be found."
        );
        assert_eq!(e.context_value("fault"), Some("itemNotFound"));
        assert_eq!(e.context_value("request_id"), Some("req-1"));

        let e = parse(
            Family::Network,
            409,
            r#"{"NeutronError": {"type": "IpAddressAlreadyAllocated", "message": "IP 10.0.0.5 in use", "detail": ""}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(e.context_value("fault"), Some("IpAddressAlreadyAllocated"));
        assert!(e.message().ends_with("IP 10.0.0.5 in use"), "{e}");

        let e = parse(
            Family::Identity,
            401,
            r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        assert!(e.message().contains("requires authentication."), "{e}");
        assert!(!e.is_retryable());

        let e = parse(
            Family::Identity,
            409,
            r#"{"error": {"code": 409, "message": "Conflict occurred", "title": "Conflict"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    }

    #[test]
    fn html_bodies_are_reduced_to_text_and_5xx_is_retryable() {
        let e = parse(
            Family::BlockStorage,
            503,
            "<html><body><h1>503 Service Unavailable</h1>\nNo server is available</body></html>",
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_retryable());
        assert!(
            e.message()
                .contains("503 Service Unavailable No server is available"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_post_may_have_been_executed() {
        let e = Family::Compute.parse_error("create server", 500, &HeaderMap::new(), b"", false);
        assert!(!e.is_retryable());
        assert!(e.message().contains("may have been executed"), "{e}");
    }
}
