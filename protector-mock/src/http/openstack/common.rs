//! What every OpenStack service of the wire face shares: the site a router serves, the call
//! into the simulator's pipeline, errors in each service's own shape, request ids, and the
//! translation of simulated faults into wire behaviour.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use protector_core::{Error, ErrorKind};

use crate::cloud::Caller;
use crate::faults::Service;
use crate::http::connection::{ConnectionInfo, DropConnection};
use crate::state::World;
use crate::Simulator;

pub(crate) use super::text::{
    iso_micros, iso_seconds, parse_query, python_repr, regex_search, truthy, Query,
};

/// The site one router serves, and the URL clients reach it at.
#[derive(Clone)]
pub(crate) struct SiteContext {
    pub sim: Simulator,
    pub site: String,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
}

impl std::fmt::Debug for SiteContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteContext")
            .field("site", &self.site)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Which service answers: each has its own error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Identity,
    Compute,
    Volume,
    Network,
}

impl Family {
    pub(crate) fn service(self) -> Service {
        match self {
            Family::Identity => Service::Identity,
            Family::Compute => Service::Compute,
            Family::Volume => Service::Volume,
            Family::Network => Service::Network,
        }
    }
}

/// An error answer of one service.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub family: Family,
    pub status: StatusCode,
    pub message: String,
    /// Neutron's exception class name (`PortNotFound`, …).
    pub neutron_type: Option<String>,
    pub retry_after: Option<u64>,
    /// Send nothing and close the connection (a lost answer, a site that is down).
    pub drop_connection: bool,
    /// Where to authenticate, for a 401 (`WWW-Authenticate: Keystone uri=…`).
    pub auth_uri: Option<String>,
}

impl ApiError {
    pub(crate) fn new(family: Family, status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            family,
            status,
            message: message.into(),
            neutron_type: None,
            retry_after: None,
            drop_connection: false,
            auth_uri: None,
        }
    }

    pub(crate) fn bad_request(family: Family, message: impl Into<String>) -> ApiError {
        ApiError::new(family, StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(family: Family, message: impl Into<String>) -> ApiError {
        ApiError::new(family, StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn forbidden(family: Family, message: impl Into<String>) -> ApiError {
        ApiError::new(family, StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn with_type(mut self, neutron_type: &str) -> ApiError {
        self.neutron_type = Some(neutron_type.to_string());
        self
    }

    /// The answer to a simulator error: its kind decides the status; simulated faults become
    /// what a client would see on the wire.
    pub(crate) fn from_error(family: Family, error: &Error) -> ApiError {
        if let Some(fault) = wire_fault(error) {
            let mut api = ApiError::new(family, fault.status, fault.message);
            api.retry_after = fault.retry_after;
            api.drop_connection = fault.drop_connection;
            return api;
        }
        let status = match error.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AlreadyExists | ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::InvalidInput | ErrorKind::ValidationFailed => StatusCode::BAD_REQUEST,
            ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut api = ApiError::new(family, status, error.message());
        if status == StatusCode::TOO_MANY_REQUESTS {
            api.retry_after = error
                .context_value("retry_after_secs")
                .and_then(|s| s.parse().ok());
        }
        api
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }
}

/// How a simulated fault shows on the wire.
struct WireFault {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
    drop_connection: bool,
}

/// Recognises the simulator's injected faults (`faults.rs`) by kind and message: site down and
/// timeouts get no answer at all, the error rates their status code.
fn wire_fault(error: &Error) -> Option<WireFault> {
    let message = error.message();
    let fault = |status, retry_after, drop_connection| {
        Some(WireFault {
            status,
            message: message.to_string(),
            retry_after,
            drop_connection,
        })
    };
    match error.kind() {
        ErrorKind::Timeout if message.ends_with("(simulated)") => {
            fault(StatusCode::GATEWAY_TIMEOUT, None, true)
        }
        ErrorKind::Unavailable if message.ends_with("connection refused (simulated)") => {
            fault(StatusCode::SERVICE_UNAVAILABLE, None, true)
        }
        ErrorKind::Unavailable if message.contains(" returned 500 Internal Server Error ") => {
            fault(StatusCode::INTERNAL_SERVER_ERROR, None, false)
        }
        ErrorKind::Unavailable if message.contains(" returned 503 Service Unavailable ") => {
            fault(StatusCode::SERVICE_UNAVAILABLE, None, false)
        }
        ErrorKind::RateLimited if message.ends_with("(simulated)") => fault(
            StatusCode::TOO_MANY_REQUESTS,
            error
                .context_value("retry_after_secs")
                .and_then(|s| s.parse().ok()),
            false,
        ),
        _ => None,
    }
}

/// Nova's and Cinder's fault names by status (`wsgi.Fault._fault_names`).
fn fault_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        409 => "conflictingRequest",
        413 | 429 => "overLimit",
        415 => "badMediaType",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

/// Neutron's exception class for an error that did not name one.
fn neutron_type(status: StatusCode, message: &str) -> String {
    let by_message = [
        ("Network ", " could not be found.", "NetworkNotFound"),
        ("Subnet ", " could not be found.", "SubnetNotFound"),
        ("Port ", " could not be found.", "PortNotFound"),
        (
            "Security group rule ",
            " does not exist",
            "SecurityGroupRuleNotFound",
        ),
        (
            "Security group ",
            " does not exist",
            "SecurityGroupNotFound",
        ),
        (
            "IP address ",
            "already allocated in subnet",
            "IpAddressAlreadyAllocated",
        ),
        ("No more IP addresses", "", "IpAddressGenerationFailure"),
        (
            "IP address ",
            "is not a valid IP for the specified subnet.",
            "InvalidIpForSubnet",
        ),
        ("Security Group ", " in use.", "SecurityGroupInUse"),
        (
            "Security group rule already exists",
            "",
            "SecurityGroupRuleExists",
        ),
        (
            "Insufficient rights for removing default",
            "",
            "SecurityGroupCannotRemoveDefault",
        ),
        (
            "Unable to complete operation for network",
            "is in use.",
            "MacAddressInUse",
        ),
        ("Invalid input for operation", "", "InvalidInput"),
    ];
    for (prefix, suffix, name) in by_message {
        if message.starts_with(prefix) && message.contains(suffix) {
            return name.to_string();
        }
    }
    match status.as_u16() {
        400 => "HTTPBadRequest",
        401 => "HTTPUnauthorized",
        403 => "PolicyNotAuthorized",
        404 => "HTTPNotFound",
        409 => "HTTPConflict",
        429 => "HTTPTooManyRequests",
        503 => "HTTPServiceUnavailable",
        _ => "HTTPInternalServerError",
    }
    .to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.drop_connection {
            let mut response = StatusCode::GATEWAY_TIMEOUT.into_response();
            response.extensions_mut().insert(DropConnection);
            return response;
        }
        let code = self.status.as_u16();
        // keystonemiddleware answers 401 for every service, in Keystone's shape.
        let keystone_shape = self.family == Family::Identity || code == 401;
        let body = if keystone_shape {
            json!({"error": {"code": code, "message": self.message, "title": self.title()}})
        } else if self.family == Family::Network {
            let kind = self
                .neutron_type
                .clone()
                .unwrap_or_else(|| neutron_type(self.status, &self.message));
            json!({"NeutronError": {"type": kind, "message": self.message, "detail": ""}})
        } else {
            json!({ fault_name(self.status): {"code": code, "message": self.message} })
        };
        let mut response = json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        if code == 401 {
            if let Some(uri) = &self.auth_uri {
                if let Ok(value) = HeaderValue::from_str(&format!("Keystone uri=\"{uri}\"")) {
                    response.headers_mut().insert(WWW_AUTHENTICATE, value);
                }
            }
        }
        response
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_string());
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A JSON response `{"<key>": [items…]}`, byte for byte what [`json_response`] gives for it,
/// without holding every item's view at once: each is serialized as soon as it is built and
/// dropped, so a list of thousands stays cheap.
pub(crate) fn json_list_response(
    status: StatusCode,
    key: &str,
    items: impl ExactSizeIterator<Item = Value>,
) -> Response {
    // About the size of a server's full view.
    let mut text = Vec::with_capacity(64 + items.len() * 2048);
    text.extend_from_slice(b"{");
    let _ = serde_json::to_writer(&mut text, key);
    text.extend_from_slice(b":[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            text.push(b',');
        }
        let _ = serde_json::to_writer(&mut text, &item);
    }
    text.extend_from_slice(b"]}");
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An empty response (202, 204).
pub(crate) fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    if status != StatusCode::NO_CONTENT {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

/// The `X-Auth-Token` of a request.
pub(crate) fn auth_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A handler's outcome.
pub(crate) type Reply = std::result::Result<Response, ApiError>;

impl SiteContext {
    /// Keystone's public URL (for `WWW-Authenticate` and the catalog).
    pub(crate) fn identity_url(&self) -> String {
        format!("{}/identity", self.base_url)
    }

    /// One authenticated call through the simulator's pipeline (latency, tick, faults, token,
    /// `f`, save). `f` answers in the service's own terms.
    pub(crate) async fn call(
        &self,
        family: Family,
        operation: &'static str,
        headers: &HeaderMap,
        f: impl FnOnce(&mut World, &Caller) -> Reply,
    ) -> Response {
        let token = auth_token(headers);
        let outcome = self
            .sim
            .call_with_token(
                &self.site,
                token.as_deref(),
                family.service(),
                operation,
                |world, caller| Ok(f(world, caller)),
            )
            .await;
        self.finish(family, outcome)
    }

    /// One call without a token (version documents, token issue).
    pub(crate) async fn call_open(
        &self,
        family: Family,
        operation: &'static str,
        f: impl FnOnce(&mut World) -> Reply,
    ) -> Response {
        let outcome = self
            .sim
            .call_site(&self.site, family.service(), operation, |world| {
                Ok(f(world))
            })
            .await;
        self.finish(family, outcome)
    }

    fn finish(&self, family: Family, outcome: protector_core::Result<Reply>) -> Response {
        match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => self.error_response(error),
            Err(error) => self.error_response(ApiError::from_error(family, &error)),
        }
    }

    fn error_response(&self, mut error: ApiError) -> Response {
        if error.status == StatusCode::UNAUTHORIZED && error.auth_uri.is_none() {
            error.auth_uri = Some(self.identity_url());
        }
        error.into_response()
    }
}

/// Adds `x-openstack-request-id` (and Nova's `x-compute-request-id`) to every answer, and closes
/// the connection instead of answering when a handler asked for it.
pub(crate) async fn request_id_layer(request: Request, next: Next) -> Response {
    let compute = request.uri().path().starts_with("/compute");
    let connection = request
        .extensions()
        .get::<ConnectInfo<ConnectionInfo>>()
        .cloned();
    let mut response = next.run(request).await;
    if response.extensions().get::<DropConnection>().is_some() {
        if let Some(ConnectInfo(connection)) = connection {
            connection.kill();
        }
        return response;
    }
    let id = format!("req-{}", uuid::Uuid::new_v4());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(
            HeaderName::from_static("x-openstack-request-id"),
            value.clone(),
        );
        if compute {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-compute-request-id"), value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::InjectedError;

    #[test]
    fn injected_faults_map_to_their_wire_form() {
        let site_down = crate::faults::site_down_error("site-a");
        assert!(wire_fault(&site_down).unwrap().drop_connection);
        for (injected, status) in [
            (InjectedError::InternalServerError, 500),
            (InjectedError::ServiceUnavailable, 503),
            (
                InjectedError::TooManyRequests {
                    retry_after_secs: 7,
                },
                429,
            ),
        ] {
            let error = injected.to_error("site-a", Service::Compute, "list_servers");
            let fault = wire_fault(&error).expect("recognised");
            assert_eq!(fault.status.as_u16(), status);
            assert!(!fault.drop_connection);
        }
        let error = InjectedError::TooManyRequests {
            retry_after_secs: 7,
        }
        .to_error("site-a", Service::Volume, "x");
        assert_eq!(wire_fault(&error).unwrap().retry_after, Some(7));
        let timeout = InjectedError::Timeout.to_error("site-a", Service::Network, "x");
        assert!(wire_fault(&timeout).unwrap().drop_connection);
        assert!(wire_fault(&Error::unavailable("Service is unavailable at this time.")).is_none());
    }

    /// A streamed list is byte for byte the body of the whole document, empty or not.
    #[tokio::test]
    async fn a_streamed_list_is_the_whole_document() {
        let items = vec![
            serde_json::json!({"id": "b", "name": "x\"y", "a": [1, {"z": null}]}),
            serde_json::json!({"id": "a", "metadata": {}}),
        ];
        for items in [items.clone(), Vec::new()] {
            let whole = json_response(StatusCode::OK, &serde_json::json!({ "servers": items }));
            let streamed = json_list_response(StatusCode::OK, "servers", items.into_iter());
            assert_eq!(streamed.status(), whole.status());
            assert_eq!(streamed.headers(), whole.headers());
            let body = |r: Response| async move {
                axum::body::to_bytes(r.into_body(), usize::MAX)
                    .await
                    .unwrap()
            };
            assert_eq!(body(streamed).await, body(whole).await);
        }
    }
}
