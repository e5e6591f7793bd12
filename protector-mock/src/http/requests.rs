//! The log of requests the HTTP face served, in arrival order: per request its sequence number,
//! site, service, method and route template (`POST /v3/auth/tokens`, `GET /v2.1/servers/{id}`).
//! It counts round trips, so that a test can say how many Keystone calls an operation makes
//! before its first side effect ([`RequestLog::keystone_before_first_side_effect`]). It records
//! no timing, no bodies, no headers and no ids: nothing secret, nothing that varies by run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::faults::Service;

/// One request the HTTP face answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedRequest {
    /// Arrival order across both sites and every service, from 1.
    pub seq: u64,
    /// `site-a` or `site-b`.
    pub site: String,
    /// Which service answered.
    pub service: Service,
    /// `GET`, `POST`, …
    pub method: String,
    /// The route template below the service's prefix (`/v3/auth/tokens`,
    /// `/v3/{project_id}/volumes/{id}/action`, `/api/{version}/volumes`); the request's own path
    /// when no route matched.
    pub template: String,
    /// The HTTP status of the answer (0 when the connection was dropped instead).
    pub status: u16,
}

impl ServedRequest {
    /// `METHOD template`, e.g. `POST /v3/auth/tokens`.
    pub fn call(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// Whether the request changes something on a site: a mutating call (POST, PUT, PATCH,
    /// DELETE) to Nova, Cinder, Neutron or an array, server actions included. Keystone calls
    /// and an array's login and logout (sessions, not state) are not.
    pub fn is_side_effect(&self) -> bool {
        let mutating = matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
        let session = self.service == Service::Array
            && (self.template.ends_with("/login") || self.template.ends_with("/logout"));
        mutating && self.service != Service::Identity && !session
    }
}

/// The requests of one served simulator (both sites), shared by every listener.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    inner: Arc<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    next: AtomicU64,
    served: Mutex<Vec<ServedRequest>>,
}

impl RequestLog {
    /// Every request served since the start (or the last [`RequestLog::clear`]), in arrival order.
    pub fn requests(&self) -> Vec<ServedRequest> {
        let mut served = self
            .inner
            .served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        served.sort_by_key(|r| r.seq);
        served
    }

    /// Forgets what was served so far (sequence numbers go on).
    pub fn clear(&self) {
        self.inner
            .served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The requests before the first side effect ([`ServedRequest::is_side_effect`]); all of
    /// them when none changed anything.
    pub fn before_first_side_effect(&self) -> Vec<ServedRequest> {
        self.requests()
            .into_iter()
            .take_while(|r| !r.is_side_effect())
            .collect()
    }

    /// How many Keystone requests arrived before the first side effect.
    pub fn keystone_before_first_side_effect(&self) -> usize {
        self.before_first_side_effect()
            .iter()
            .filter(|r| r.service == Service::Identity)
            .count()
    }

    fn record(&self, request: ServedRequest) {
        self.inner
            .served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }

    fn next_seq(&self) -> u64 {
        self.inner.next.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What the recording layer of one listener needs.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    pub log: RequestLog,
    pub site: String,
    /// The array's listener (all one service); else the service comes from the path prefix.
    pub array: bool,
}

/// Records each request in the log: its sequence number on arrival, its status on answer.
/// Routed as a `Router::layer`, so the matched route template is known.
pub(crate) async fn record(
    State(recorder): State<Recorder>,
    request: Request,
    next: Next,
) -> Response {
    let seq = recorder.log.next_seq();
    let path = request.uri().path().to_string();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let method = request.method().to_string();
    let (service, template) = if recorder.array {
        (Service::Array, template)
    } else {
        split_service(&template)
    };
    let response = next.run(request).await;
    let dropped = response
        .extensions()
        .get::<super::connection::DropConnection>()
        .is_some();
    recorder.log.record(ServedRequest {
        seq,
        site: recorder.site.clone(),
        service,
        method,
        template,
        status: if dropped {
            0
        } else {
            response.status().as_u16()
        },
    });
    response
}

/// The service of an OpenStack path by its prefix, and the path below it.
fn split_service(path: &str) -> (Service, String) {
    for (prefix, service) in [
        ("/identity", Service::Identity),
        ("/compute", Service::Compute),
        ("/volume", Service::Volume),
        ("/network", Service::Network),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') {
                let rest = if rest.is_empty() { "/" } else { rest };
                return (service, rest.to_string());
            }
        }
    }
    (Service::Identity, path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seq: u64, service: Service, method: &str, template: &str) -> ServedRequest {
        ServedRequest {
            seq,
            site: "site-a".into(),
            service,
            method: method.into(),
            template: template.into(),
            status: 200,
        }
    }

    #[test]
    fn services_come_from_the_prefix() {
        assert_eq!(
            split_service("/identity/v3/auth/tokens"),
            (Service::Identity, "/v3/auth/tokens".to_string())
        );
        assert_eq!(
            split_service("/volume/v3/{project_id}/volumes"),
            (Service::Volume, "/v3/{project_id}/volumes".to_string())
        );
        assert_eq!(split_service("/compute"), (Service::Compute, "/".into()));
    }

    #[test]
    fn side_effects_are_mutations_outside_keystone_and_array_sessions() {
        assert!(!request(1, Service::Identity, "POST", "/v3/auth/tokens").is_side_effect());
        assert!(!request(1, Service::Array, "POST", "/api/{version}/login").is_side_effect());
        assert!(!request(1, Service::Compute, "GET", "/v2.1/servers/{id}").is_side_effect());
        assert!(request(1, Service::Compute, "POST", "/v2.1/servers/{id}/action").is_side_effect());
        assert!(request(1, Service::Array, "PATCH", "/api/{version}/volumes").is_side_effect());
    }

    #[test]
    fn keystone_calls_are_counted_up_to_the_first_side_effect() {
        let log = RequestLog::default();
        for (service, method, template) in [
            (Service::Identity, "POST", "/v3/auth/tokens"),
            (Service::Compute, "GET", "/v2.1/servers/{id}"),
            (Service::Identity, "HEAD", "/v3/auth/tokens"),
            (Service::Compute, "POST", "/v2.1/servers/{id}/action"),
            (Service::Identity, "HEAD", "/v3/auth/tokens"),
        ] {
            let seq = log.next_seq();
            log.record(request(seq, service, method, template));
        }
        assert_eq!(log.before_first_side_effect().len(), 3);
        assert_eq!(log.keystone_before_first_side_effect(), 2);
        log.clear();
        assert!(log.requests().is_empty());
        assert_eq!(log.next_seq(), 6);
    }
}
