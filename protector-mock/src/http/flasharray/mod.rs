//! FlashArray REST 2.x over HTTPS, as py-pure-client and the Cinder Pure driver use it, over the
//! same state and service layer (`crate::array`) as the in-process face.
//!
//! - `GET /api/api_version` lists `2.0` … `2.56`; every other path is `/api/<version>/…` with
//!   one of them.
//! - `POST /api/<v>/login` takes the `api-token` header and answers a session token in the
//!   `x-auth-token` header; every other call needs it (401 otherwise). Sessions live in memory:
//!   they end at logout, when the serving process stops, and when the simulated array restarts
//!   (powered off and on again).
//! - Every call goes through the simulator's pipeline (latency, one tick, faults, save). A
//!   powered-off array refuses new connections at the TLS acceptor ([`acceptor`]) and answers
//!   503 with `Connection: close` on connections already open; injected error rates answer
//!   500, 503 or 429 with `Retry-After`; an injected timeout holds the answer for
//!   [`TIMEOUT_HOLD`] (the change is applied) and then answers 504.
//! - Answers carry `x-request-id` (the client's `X-Request-ID`, or a new one).
//!
//! The endpoints, their parameters and what is not simulated are listed in the modules:
//! `volumes.rs`, `pgroups.rs`, `snapshots.rs`, `pods.rs`, `arrays.rs`.

mod arrays;
mod filter;
mod pgroups;
mod pods;
mod query;
mod reply;
mod snapshots;
mod views;
mod volumes;

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use serde_json::{json, Map, Value};

use protector_core::model::Secret;
use protector_core::ErrorKind;

use crate::faults::Service;
use crate::simulator::Simulator;
use crate::state::World;
use reply::RestError;

/// How long an injected timeout holds the answer before giving up with 504 (clients with a
/// shorter timeout see a timeout; the change was applied either way).
pub(crate) const TIMEOUT_HOLD: Duration = Duration::from_secs(30);

/// The REST versions the simulated arrays serve (Purity 6.7 serves up to 2.3x; py-pure-client
/// 1.96 knows up to 2.58 and uses the highest both sides know).
fn supported_versions() -> Vec<String> {
    (0..=56).map(|minor| format!("2.{minor}")).collect()
}

fn version_supported(version: &str) -> bool {
    version
        .strip_prefix("2.")
        .and_then(|minor| minor.parse::<u32>().ok())
        .is_some_and(|minor| minor <= 56 && version == format!("2.{minor}"))
}

/// A logged-in session.
#[derive(Clone)]
pub(crate) struct Session {
    api_token: Secret,
    /// The array's power cycle it was opened in.
    power_cycles: u64,
}

struct FaceInner {
    sim: Simulator,
    site: String,
    sessions: Mutex<HashMap<String, Session>>,
}

/// The REST face of the array of one site.
#[derive(Clone)]
pub(crate) struct Face {
    inner: Arc<FaceInner>,
}

impl Face {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One simulated call to this array as `session`: latency, tick, faults, `f`, save.
    pub(crate) async fn call<T: Send>(
        &self,
        session: &Session,
        operation: &'static str,
        f: impl FnOnce(&mut World, &str) -> protector_core::Result<T> + Send,
    ) -> Result<T, RestError> {
        self.call_with(&session.api_token, operation, f).await
    }

    async fn call_with<T: Send>(
        &self,
        token: &Secret,
        operation: &'static str,
        f: impl FnOnce(&mut World, &str) -> protector_core::Result<T> + Send,
    ) -> Result<T, RestError> {
        let outcome = self
            .inner
            .sim
            .call_array(&self.inner.site, token, operation, f)
            .await;
        answer(outcome).await
    }

    /// A call made outside any session (version discovery, logout): it goes through the
    /// pipeline all the same (latency, tick, faults).
    async fn call_anonymous(&self, operation: &'static str) -> Result<(), RestError> {
        let outcome = self
            .inner
            .sim
            .call_site(&self.inner.site, Service::Array, operation, |_| Ok(()))
            .await;
        answer(outcome).await
    }

    /// Checks power, version and session before a request reaches its handler: `Break` is
    /// the answer instead.
    fn admit(&self, request: &mut Request) -> ControlFlow<Response> {
        let (down, power_cycles) = self.inner.sim.array_power(&self.inner.site);
        if down {
            // A powered-off array forgets its sessions.
            self.sessions().clear();
            let array = self
                .inner
                .sim
                .array_name(&self.inner.site)
                .unwrap_or_default();
            let mut response =
                RestError::from_service(&crate::faults::array_down_error(&array), None)
                    .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return ControlFlow::Break(response);
        }
        let path = request.uri().path().to_string();
        let Some(rest) = path.strip_prefix("/api/") else {
            return ControlFlow::Continue(());
        };
        if rest == "api_version" {
            return ControlFlow::Continue(());
        }
        let (version, endpoint) = rest.split_once('/').unwrap_or((rest, ""));
        if !version_supported(version) {
            return ControlFlow::Break(RestError::new(
                StatusCode::NOT_FOUND,
                Some(version),
                format!("REST API version {version} is not supported; GET /api/api_version lists the supported versions."),
            )
            .into_response());
        }
        if endpoint == "login" || endpoint == "logout" {
            return ControlFlow::Continue(());
        }
        let token = request
            .headers()
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let session = {
            let mut sessions = self.sessions();
            match sessions.get(&token) {
                Some(s) if s.power_cycles == power_cycles => Some(s.clone()),
                Some(_) => {
                    sessions.remove(&token);
                    None
                }
                None => None,
            }
        };
        match session {
            Some(session) => {
                request.extensions_mut().insert(session);
                ControlFlow::Continue(())
            }
            None => ControlFlow::Break(
                RestError::new(
                    StatusCode::UNAUTHORIZED,
                    None,
                    if token.is_empty() {
                        "Authentication required: send the x-auth-token header from POST /login."
                    } else {
                        "Session expired or unknown: log in again with POST /login."
                    },
                )
                .into_response(),
            ),
        }
    }
}

/// The REST answer to a simulated call's outcome; an injected timeout is held first (the
/// change was applied, the client sees no answer in time).
async fn answer<T>(outcome: protector_core::Result<T>) -> Result<T, RestError> {
    match outcome {
        Ok(value) => Ok(value),
        Err(error) => {
            if error.kind() == ErrorKind::Timeout {
                tokio::time::sleep(TIMEOUT_HOLD).await;
            }
            Err(RestError::from_service(&error, None))
        }
    }
}

/// Power, version, session and `x-request-id` around every request.
async fn gate(State(face): State<Face>, mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut response = match face.admit(&mut request) {
        ControlFlow::Continue(()) => next.run(request).await,
        ControlFlow::Break(refusal) => refusal,
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The request body as a JSON object; an empty body is `{}`.
pub(crate) struct Body(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = RestError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            RestError::bad_request(None, format!("Cannot read the request body: {e}"))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            Ok(_) => Err(RestError::bad_request(
                None,
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(RestError::bad_request(
                None,
                format!("The request body is not valid JSON: {e}."),
            )),
        }
    }
}

/// Refuses body fields the simulated array does not model, and fields that are not in the
/// spec's body schema at all.
pub(crate) fn check_body(
    body: &Map<String, Value>,
    modeled: &[&str],
    known_unmodeled: &[&str],
) -> Result<(), RestError> {
    for key in body.keys() {
        if modeled.contains(&key.as_str()) {
            continue;
        }
        let message = if known_unmodeled.contains(&key.as_str()) {
            format!("The simulated FlashArray does not support setting {key}.")
        } else {
            format!("Unknown field {key} in the request body.")
        };
        return Err(RestError::bad_request(Some(key), message));
    }
    Ok(())
}

/// A typed body field: `None` when absent or null, 400 when of the wrong type.
pub(crate) fn field<T: serde::de::DeserializeOwned>(
    body: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, RestError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| {
                RestError::bad_request(Some(key), format!("Invalid value for {key}: {e}."))
            }),
    }
}

async fn api_version(State(face): State<Face>) -> Result<Response, RestError> {
    face.call_anonymous("api_version").await?;
    let body = json!({ "version": supported_versions() });
    Ok(axum::Json(body).into_response())
}

async fn login(State(face): State<Face>, headers: HeaderMap) -> Result<Response, RestError> {
    let Some(token) = headers
        .get("api-token")
        .and_then(|v| v.to_str().ok())
        .filter(|t| !t.is_empty())
    else {
        return Err(RestError::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Login needs the api-token header (username and password logins are not simulated).",
        ));
    };
    let api_token = Secret::new(token);
    face.call_with(&api_token, "login", |_, _| Ok(())).await?;
    let (_, power_cycles) = face.inner.sim.array_power(&face.inner.site);
    let session_token = uuid::Uuid::new_v4().to_string();
    face.sessions().insert(
        session_token.clone(),
        Session {
            api_token,
            power_cycles,
        },
    );
    let mut response = axum::Json(json!({"items": [{"username": "pureuser"}]})).into_response();
    if let Ok(value) = HeaderValue::from_str(&session_token) {
        response.headers_mut().insert("x-auth-token", value);
    }
    Ok(response)
}

async fn logout(State(face): State<Face>, headers: HeaderMap) -> Result<Response, RestError> {
    if let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        face.sessions().remove(token);
    }
    face.call_anonymous("logout").await?;
    Ok(reply::empty())
}

async fn not_found() -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        None,
        "The requested endpoint does not exist on the simulated FlashArray.",
    )
}

async fn method_not_allowed() -> RestError {
    RestError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "This method is not allowed on this endpoint.",
    )
}

/// The whole REST surface of the array of `site`.
pub(crate) fn router(sim: Simulator, site: String) -> Router {
    let face = Face {
        inner: Arc::new(FaceInner {
            sim,
            site,
            sessions: Mutex::new(HashMap::new()),
        }),
    };
    Router::new()
        .route("/api/api_version", get(api_version))
        .route("/api/{version}/login", post(login))
        .route("/api/{version}/logout", post(logout))
        .route("/api/{version}/arrays", get(arrays::get_arrays))
        .route(
            "/api/{version}/array-connections",
            get(arrays::get_connections),
        )
        .route(
            "/api/{version}/volumes",
            get(volumes::get_volumes)
                .post(volumes::post_volumes)
                .patch(volumes::patch_volumes)
                .delete(volumes::delete_volumes),
        )
        .route(
            "/api/{version}/volumes/diff",
            get(volumes::get_volumes_diff),
        )
        .route(
            "/api/{version}/volume-snapshots",
            get(volumes::get_volume_snapshots)
                .post(volumes::volume_snapshots_unsupported)
                .patch(volumes::volume_snapshots_unsupported)
                .delete(volumes::volume_snapshots_unsupported),
        )
        .route(
            "/api/{version}/protection-groups",
            get(pgroups::get_groups)
                .post(pgroups::post_groups)
                .patch(pgroups::patch_groups)
                .delete(pgroups::delete_groups),
        )
        .route(
            "/api/{version}/protection-groups/volumes",
            get(pgroups::get_members)
                .post(pgroups::post_members)
                .delete(pgroups::delete_members),
        )
        .route(
            "/api/{version}/protection-groups/targets",
            get(pgroups::get_targets)
                .post(pgroups::post_targets)
                .patch(pgroups::patch_targets)
                .delete(pgroups::delete_targets),
        )
        .route(
            "/api/{version}/protection-group-snapshots",
            get(snapshots::get_snapshots)
                .post(snapshots::post_snapshots)
                .patch(snapshots::patch_snapshots)
                .delete(snapshots::delete_snapshots),
        )
        .route(
            "/api/{version}/protection-group-snapshots/transfer",
            get(snapshots::get_transfers),
        )
        .route(
            "/api/{version}/pods",
            get(pods::get_pods)
                .post(pods::post_pods)
                .patch(pods::patch_pods)
                .delete(pods::delete_pods),
        )
        .route(
            "/api/{version}/pods/arrays",
            get(pods::get_pod_arrays)
                .post(pods::post_pod_arrays)
                .delete(pods::delete_pod_arrays),
        )
        .route(
            "/api/{version}/pods/members",
            get(pods::get_pod_members)
                .post(pods::post_pod_members)
                .delete(pods::delete_pod_members),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(face.clone(), gate))
        .with_state(face)
}

/// Refuses connections (before TLS) while the array of its site is powered off.
#[derive(Clone)]
pub(crate) struct PowerGate {
    sim: Simulator,
    site: String,
}

impl<I, S> Accept<I, S> for PowerGate {
    type Stream = I;
    type Service = S;
    type Future = Ready<std::io::Result<(I, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let (down, _) = self.sim.array_power(&self.site);
        ready(if down {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                format!("the array of {} is powered off (simulated)", self.site),
            ))
        } else {
            Ok((stream, service))
        })
    }
}

/// The TLS acceptor of the array of `site`: `config` from [`super::tls::server_config`], and
/// connections dropped before the handshake while the array is powered off. Use it with
/// `axum_server::bind(addr).acceptor(…)`.
pub(crate) fn acceptor(
    sim: Simulator,
    site: &str,
    config: Arc<rustls::ServerConfig>,
) -> RustlsAcceptor<PowerGate> {
    RustlsAcceptor::new(RustlsConfig::from_config(config)).acceptor(PowerGate {
        sim,
        site: site.to_string(),
    })
}

/// Serves one simulated array alone, for this crate's tests. The supported way to serve the
/// simulator is the HTTP face's server, which mounts [`router`] next to the OpenStack APIs.
#[doc(hidden)]
pub mod testing {
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};

    use axum_server::Handle;

    use crate::Simulator;

    /// A running simulated array; stops when dropped.
    #[derive(Debug)]
    pub struct ArrayServer {
        /// `https://127.0.0.1:PORT`.
        pub url: String,
        /// `127.0.0.1:PORT`, what py-pure-client takes as `target`.
        pub address: SocketAddr,
        /// The CA certificate that verifies the server.
        pub ca_file: PathBuf,
        /// The array's API token.
        pub api_token: String,
        handle: Handle<SocketAddr>,
    }

    impl Drop for ArrayServer {
        fn drop(&mut self) {
            self.handle.shutdown();
        }
    }

    /// Serves the array of `site` on an ephemeral port of 127.0.0.1, with its certificate in
    /// `dir` (created or reused). Needs a Tokio runtime.
    pub async fn serve(
        sim: Simulator,
        site: &str,
        dir: &Path,
    ) -> protector_core::Result<ArrayServer> {
        let (config, ca_file) = super::super::tls::server_config(dir)?;
        let api_token = sim
            .array_endpoint(site)
            .map(|e| e.api_token.expose().to_string())
            .ok_or_else(|| protector_core::Error::invalid(format!("unknown site {site}")))?;
        let handle = Handle::new();
        let server = axum_server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .acceptor(super::acceptor(sim.clone(), site, config))
            .handle(handle.clone());
        let app = super::router(sim, site.to_string());
        tokio::spawn(async move {
            if let Err(e) = server.serve(app.into_make_service()).await {
                tracing::warn!(error = %e, "simulated array server stopped");
            }
        });
        let address = handle.listening().await.ok_or_else(|| {
            protector_core::Error::unavailable("the simulated array could not listen on 127.0.0.1")
        })?;
        Ok(ArrayServer {
            url: format!("https://{address}"),
            address,
            ca_file,
            api_token,
            handle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(version_supported("2.0"));
        assert!(version_supported("2.56"));
        assert!(!version_supported("2.57"));
        assert!(!version_supported("1.19"));
        assert!(!version_supported("2.05"));
        assert!(!version_supported("2."));
        assert_eq!(supported_versions().len(), 57);
    }
}
