//! protector-api: REST over a site's store (spec/004, port 8788), authenticated by Keystone
//! tokens and scoped to the caller's project.
//!
//! Front-ends keep running protector-core in-process; in site mode their store of each site
//! is a `RemoteStore` (protector-openstack) talking to that site's protector-api, whose
//! resources are the [`Store`]'s nouns (the wire contract: `protector_core::store::remote`).
//!
//! - `GET /` and `GET /v1/`: version documents, without authentication.
//! - Everything else is under `/v1/{project_id}/` and needs `X-Auth-Token`, validated against
//!   the site's Keystone and cached ([`Authenticator`]); the URL's project must be the token's
//!   unless it has the `admin` role.
//! - Authorization is core's own rule (`protector_core::access`), applied to every record: a
//!   member sees and writes only its own project's groups (another project's group reads as
//!   missing), an admin sees all; sites are written by admins; tenant mappings by admins and
//!   by a member for its own project; operations follow their group (a site operation needs
//!   `admin` or `dr_site_admin`).
//! - Errors are OpenStack-style bodies with protector's error kind; a database that cannot be
//!   reached is 503 with `Retry-After`; every response has `x-openstack-request-id`. One log
//!   line per request; tokens and passwords are never logged.

mod auth;
mod frame;
mod groups;
mod operations;
mod reply;
mod scope;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use protector_core::model::Secret;
use protector_core::store::remote::{routes, API_VERSION, DEFAULT_PORT};
use protector_core::store::Store;
use protector_core::{Error, ErrorKind, Result};
use protector_openstack::config::{AuthMethod, DomainRef, ProjectRef, UserRef};
use protector_openstack::{ClientOptions, CloudConfig, TokenValidator};
use serde_json::json;

pub use auth::Authenticator;

use crate::config::ServiceConfig;
use frame::ApiError;

/// protector-api's settings, from `protector.conf`.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// `[DEFAULT] site_name`: the site this service keeps the store of.
    pub site_name: String,
    /// `[api] bind_host` (default `0.0.0.0`).
    pub bind_host: String,
    /// `[api] bind_port` (default 8788).
    pub bind_port: u16,
    /// `[api] workers`: threads serving requests (default 4).
    pub workers: usize,
    /// `[DEFAULT] debug`: debug logging.
    pub debug: bool,
    /// `[keystone_authtoken]`.
    pub keystone: KeystoneSettings,
}

/// `[keystone_authtoken]`: how protector-api validates tokens (keystonemiddleware's keys).
#[derive(Clone)]
pub struct KeystoneSettings {
    /// `auth_url`: the Keystone the service logs in to and validates tokens with.
    pub auth_url: String,
    /// `www_authenticate_uri` (default `auth_url`): where clients get tokens, named in 401s.
    pub www_authenticate_uri: String,
    /// `username` of the service user.
    pub username: String,
    /// `password` of the service user.
    pub password: Secret,
    /// `project_name` of the service user (default `service`).
    pub project_name: String,
    /// `user_domain_name` (default `Default`).
    pub user_domain_name: String,
    /// `project_domain_name` (default `Default`).
    pub project_domain_name: String,
    /// `token_cache_time` in seconds (default 300): how long a validated token is trusted.
    pub token_cache_time: Duration,
    /// `cafile`: the CA bundle Keystone's certificate is checked with.
    pub cafile: Option<PathBuf>,
    /// `insecure`: no TLS verification (a lab only).
    pub insecure: bool,
}

impl std::fmt::Debug for KeystoneSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeystoneSettings")
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("project_name", &self.project_name)
            .field("token_cache_time", &self.token_cache_time)
            .finish_non_exhaustive()
    }
}

impl ApiSettings {
    /// Reads `config`; `ConfigInvalid` naming the file, section and key of what is missing.
    pub fn from_config(config: &ServiceConfig) -> Result<ApiSettings> {
        let site_name = config
            .require("DEFAULT", "site_name", "site-a")?
            .to_string();
        let auth_url = config
            .require("keystone_authtoken", "auth_url", "http://controller:5000")?
            .to_string();
        let keystone = KeystoneSettings {
            www_authenticate_uri: config
                .get("keystone_authtoken", "www_authenticate_uri")
                .unwrap_or(&auth_url)
                .to_string(),
            username: config
                .require("keystone_authtoken", "username", "protector")?
                .to_string(),
            password: Secret::new(config.require("keystone_authtoken", "password", "PASSWORD")?),
            project_name: config
                .get("keystone_authtoken", "project_name")
                .unwrap_or("service")
                .to_string(),
            user_domain_name: config
                .get("keystone_authtoken", "user_domain_name")
                .unwrap_or("Default")
                .to_string(),
            project_domain_name: config
                .get("keystone_authtoken", "project_domain_name")
                .unwrap_or("Default")
                .to_string(),
            token_cache_time: Duration::from_secs(config.parse_or(
                "keystone_authtoken",
                "token_cache_time",
                300u64,
            )?),
            cafile: config
                .get("keystone_authtoken", "cafile")
                .map(PathBuf::from),
            insecure: config.bool_or("keystone_authtoken", "insecure", false)?,
            auth_url,
        };
        Ok(ApiSettings {
            site_name,
            bind_host: config
                .get("api", "bind_host")
                .unwrap_or("0.0.0.0")
                .to_string(),
            bind_port: config.parse_or("api", "bind_port", DEFAULT_PORT)?,
            workers: config.parse_or("api", "workers", 4usize)?.max(1),
            debug: config.bool_or("DEFAULT", "debug", false)?,
            keystone,
        })
    }
}

impl KeystoneSettings {
    /// The validator logging in as the service user (password, project scope).
    pub fn validator(&self, options: ClientOptions) -> Result<TokenValidator> {
        let auth = AuthMethod::Password {
            user: UserRef::Name {
                name: self.username.clone(),
                domain: DomainRef::Name(self.user_domain_name.clone()),
            },
            password: self.password.clone(),
            project: Some(ProjectRef::Name {
                name: self.project_name.clone(),
                domain: DomainRef::Name(self.project_domain_name.clone()),
            }),
        };
        let mut cloud = CloudConfig::new("keystone_authtoken", self.auth_url.clone(), auth)
            .with_insecure(self.insecure);
        if let Some(cafile) = &self.cafile {
            cloud = cloud.with_cacert(cafile.clone());
        }
        TokenValidator::new(cloud, options)
    }

    /// The authenticator of these settings.
    pub fn authenticator(&self, options: ClientOptions) -> Result<Authenticator> {
        Ok(Authenticator::new(
            self.validator(options)?,
            self.token_cache_time,
            self.www_authenticate_uri.clone(),
        ))
    }
}

/// What every request of one protector-api shares.
#[derive(Debug)]
pub struct ApiState {
    site: String,
    store: Arc<dyn Store>,
    auth: Authenticator,
}

impl ApiState {
    /// The site whose store this is.
    pub fn site(&self) -> &str {
        &self.site
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &*self.store
    }
}

/// protector-api over `store`, the store of site `site`, authenticating with `auth`.
#[derive(Debug, Clone)]
pub struct Api {
    state: Arc<ApiState>,
}

impl Api {
    /// The API of site `site` over `store`.
    pub fn new(site: impl Into<String>, store: Arc<dyn Store>, auth: Authenticator) -> Api {
        Api {
            state: Arc::new(ApiState {
                site: site.into(),
                store,
                auth,
            }),
        }
    }

    /// The routes, with authentication on every `/v1/{project_id}/…` one and the request
    /// frame (request id, errors, log line) around all.
    pub fn router(&self) -> Router {
        let state = Arc::clone(&self.state);
        let resources = Router::new()
            .route(routes::SITES, get(operations::list_sites))
            .route(
                routes::SITE,
                get(operations::show_site)
                    .put(operations::put_site)
                    .delete(operations::delete_site),
            )
            .route(routes::GROUPS, get(groups::list))
            .route(
                routes::GROUP,
                get(groups::show).put(groups::put).delete(groups::delete),
            )
            .route(routes::DOCUMENT, put(groups::put_document))
            .route(routes::MEMBERS, get(groups::list_members))
            .route(
                routes::MEMBER,
                put(groups::put_member).delete(groups::delete_member),
            )
            .route(
                routes::POLICY,
                get(groups::show_policy).put(groups::put_policy),
            )
            .route(
                routes::MAPPINGS,
                get(groups::list_mappings).put(groups::put_mappings),
            )
            .route(
                routes::SYNC_STATE,
                get(groups::show_sync_state).put(groups::put_sync_state),
            )
            .route(
                routes::SYNC_LOG,
                get(groups::list_sync_log).post(groups::append_sync_log),
            )
            .route(
                routes::TENANT_MAPPINGS,
                get(operations::list_tenant_mappings).post(operations::put_tenant_mapping),
            )
            .route(routes::OPERATIONS, get(operations::list))
            .route(
                routes::OPERATION,
                get(operations::show).put(operations::put),
            )
            .route(
                routes::JOURNAL,
                get(operations::list_journal).post(operations::append_journal),
            )
            .route(
                routes::LEASE,
                get(operations::show_lease)
                    .post(operations::acquire_lease)
                    .put(operations::renew_lease)
                    .delete(operations::release_lease),
            )
            .route_layer(middleware::from_fn_with_state(
                Arc::clone(&state),
                auth::authenticate,
            ));
        Router::new()
            .route("/", get(versions))
            .route("/v1", get(version))
            .route("/v1/", get(version))
            .merge(resources)
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(middleware::from_fn_with_state(
                Arc::clone(&state),
                frame::frame,
            ))
            .with_state(state)
    }
}

/// `http://<Host>/v1/`.
fn self_link(request: &Request) -> String {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}/{API_VERSION}/")
}

fn version_body(request: &Request) -> serde_json::Value {
    json!({
        "id": "v1.0",
        "status": "CURRENT",
        "links": [{"rel": "self", "href": self_link(request)}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.protector-v1+json"}]
    })
}

/// `GET /`: the versions offered.
async fn versions(request: Request) -> Response {
    Json(json!({"versions": [version_body(&request)]})).into_response()
}

/// `GET /v1/`: this version.
async fn version(request: Request) -> Response {
    Json(json!({"version": version_body(&request)})).into_response()
}

async fn not_found(State(_): State<Arc<ApiState>>, request: Request) -> ApiError {
    ApiError(Error::not_found(format!(
        "{} is not a protector-api resource: see GET / for the versions and the API reference for the resources",
        request.uri().path()
    )))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError(Error::new(
        ErrorKind::Unsupported,
        format!(
            "{} does not accept {}: see the API reference for its methods",
            request.uri().path(),
            request.method()
        ),
    ))
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in
/// flight (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::unavailable(format!("protector-api stopped serving: {e}")))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn settings_are_read_with_their_defaults_and_required_keys_named() {
        let conf = ServiceConfig::from_text(
            Path::new("protector.conf"),
            "[DEFAULT]\nsite_name = site-a\n[keystone_authtoken]\nauth_url = http://controller:5000\nusername = protector\npassword = s3cret-pw\n",
        )
        .unwrap();
        let settings = ApiSettings::from_config(&conf).unwrap();
        assert_eq!(settings.site_name, "site-a");
        assert_eq!(settings.bind_host, "0.0.0.0");
        assert_eq!(settings.bind_port, 8788);
        assert_eq!(settings.workers, 4);
        assert!(!settings.debug);
        let keystone = &settings.keystone;
        assert_eq!(keystone.www_authenticate_uri, "http://controller:5000");
        assert_eq!(keystone.project_name, "service");
        assert_eq!(keystone.token_cache_time, Duration::from_secs(300));
        assert!(!format!("{settings:?}").contains("s3cret-pw"));

        let missing = ServiceConfig::from_text(
            Path::new("protector.conf"),
            "[DEFAULT]\nsite_name = site-a\n[keystone_authtoken]\nauth_url = http://k:5000\nusername = protector\n",
        )
        .unwrap();
        let err = ApiSettings::from_config(&missing).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(
            err.message().contains("[keystone_authtoken] password"),
            "{err}"
        );
    }
}
