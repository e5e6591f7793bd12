//! Who calls: the caller's Keystone token, validated as keystonemiddleware does, and the
//! project of the URL checked against the token's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use protector_core::access::ADMIN_ROLE;
use protector_core::api::AuthInfo;
use protector_core::model::Secret;
use protector_core::store::remote::{API_VERSION, AUTH_TOKEN_HEADER};
use protector_core::{Error, ErrorKind, Result};
use protector_openstack::TokenValidator;
use sha2::{Digest, Sha256};

use super::frame::{ApiError, Who};
use super::ApiState;

/// Entries kept before expired ones are swept.
const CACHE_SWEEP_AT: usize = 10_000;

/// Validates callers' tokens against the site's Keystone and caches the answers.
///
/// A token Keystone vouched for is trusted, without asking again, for `token_cache_time` or
/// until it expires, whichever comes first (keystonemiddleware's `token_cache_time`). The cache
/// is keyed by the token's SHA-256: tokens are never kept.
pub struct Authenticator {
    validator: TokenValidator,
    cache_time: Duration,
    www_authenticate_uri: String,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("www_authenticate_uri", &self.www_authenticate_uri)
            .field("cache_time", &self.cache_time)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Cached {
    auth: AuthInfo,
    until: Instant,
}

impl Authenticator {
    /// Validates with `validator`, caches for `cache_time`, and names `www_authenticate_uri`
    /// (where clients get tokens) in every 401.
    pub fn new(
        validator: TokenValidator,
        cache_time: Duration,
        www_authenticate_uri: impl Into<String>,
    ) -> Authenticator {
        Authenticator {
            validator,
            cache_time,
            www_authenticate_uri: www_authenticate_uri.into(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Where clients authenticate (the `WWW-Authenticate` challenge's `uri`).
    pub fn www_authenticate_uri(&self) -> &str {
        &self.www_authenticate_uri
    }

    /// Who `token` authenticates. `Unauthenticated` when Keystone does not know it or it has
    /// expired; `Unavailable` when Keystone cannot be asked (down, or the service's own
    /// credentials refused).
    pub async fn check(&self, token: &str) -> Result<AuthInfo> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        if let Some(hit) = self.entries().get(&key).filter(|c| c.until > now) {
            return Ok(hit.auth.clone());
        }
        let found = self
            .validator
            .validate(&Secret::new(token))
            .await
            .map_err(|e| {
                let why = match e.kind() {
                    ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => {
                        "the service's own Keystone credentials ([keystone_authtoken]) were refused or lack the right to validate tokens"
                    }
                    _ => "Keystone cannot be reached",
                };
                Error::unavailable(format!(
                    "protector-api cannot validate the token: {why} ({}); retry later, or ask the operator to check [keystone_authtoken]",
                    e.message()
                ))
                .with_context("service", "keystone")
            })?;
        let refused = || {
            Error::new(
                ErrorKind::Unauthenticated,
                "the token was refused: Keystone does not know it, or it has expired or was revoked; authenticate again",
            )
        };
        let auth = found.ok_or_else(refused)?;
        let remaining = match auth.expires_at {
            Some(expires_at) => (expires_at - chrono::Utc::now())
                .to_std()
                .map_err(|_| refused())?,
            None => self.cache_time,
        };
        if remaining.is_zero() {
            return Err(refused());
        }
        let until = now + self.cache_time.min(remaining);
        let mut entries = self.entries();
        if entries.len() >= CACHE_SWEEP_AT {
            entries.retain(|_, c| c.until > now);
        }
        entries.insert(
            key,
            Cached {
                auth: auth.clone(),
                until,
            },
        );
        Ok(auth)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The authenticated caller of a `/v1/{project_id}/…` request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) auth: AuthInfo,
}

impl Caller {
    /// Whether the caller sees every project's groups.
    pub(crate) fn is_admin(&self) -> bool {
        self.auth.has_role(ADMIN_ROLE)
    }
}

/// The layer of every `/v1/{project_id}/…` route: `X-Auth-Token` validated (401 missing or
/// refused, 503 when Keystone cannot be asked) and the URL's project the token's unless the
/// token has the `admin` role (403).
pub(crate) async fn authenticate(
    State(state): State<Arc<ApiState>>,
    mut request: Request,
    next: Next,
) -> std::result::Result<Response, ApiError> {
    let token = request
        .headers()
        .get(AUTH_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Unauthenticated,
                "the request has no X-Auth-Token header: authenticate with Keystone and send the token",
            )
        })?;
    let auth = state.auth.check(token).await?;
    let who = Who {
        user_id: auth.user_id.clone(),
        project_id: auth.project_id.clone(),
    };
    let project = url_project(request.uri().path()).unwrap_or_default();
    let caller = Caller { auth };
    if project != caller.auth.project_id && !caller.is_admin() {
        let mut response: Response = axum::response::IntoResponse::into_response(ApiError(
            Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "the token is scoped to project {}, not to project {project} of the URL: use a token of that project, or the URL of your own",
                    caller.auth.project_id
                ),
            ),
        ));
        response.extensions_mut().insert(who);
        return Ok(response);
    }
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    response.extensions_mut().insert(who);
    Ok(response)
}

/// The `{project_id}` of `/v1/{project_id}/…`.
fn url_project(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    (segments.next()? == API_VERSION).then_some(())?;
    segments.next().filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_is_the_second_segment() {
        assert_eq!(url_project("/v1/p1/protection-groups"), Some("p1"));
        assert_eq!(url_project("/v1/p1"), Some("p1"));
        assert_eq!(url_project("/v1/"), None);
        assert_eq!(url_project("/v2/p1/x"), None);
    }
}
