//! REST version negotiation (`GET /api/api_version`) and the session: login with the API token
//! (`POST /api/<v>/login`, `api-token` header, session token back in `x-auth-token`), one
//! re-login when the array answers 401, and logout.

use std::fmt;

use protector_core::model::Secret;
use protector_core::{Error, ErrorKind, Result};
use serde::Deserialize;

use crate::client::{Exchange, FlashArrayClient};

/// A FlashArray REST API version (`2.56`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    major: u16,
    minor: u16,
}

impl ApiVersion {
    /// `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Self {
        ApiVersion { major, minor }
    }

    /// Parses `2.56`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.trim().split_once('.')?;
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }

    /// Whether this version is at least `major.minor`.
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= ApiVersion::new(major, minor)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The oldest version the client speaks: 2.4 added `replicate_now` on pg snapshots.
pub const MIN_API_VERSION: ApiVersion = ApiVersion::new(2, 4);

/// The newest version the client was written against (the FA2.56 OpenAPI spec).
pub const MAX_API_VERSION: ApiVersion = ApiVersion::new(2, 56);

/// The versions the client knows, oldest first: 2.4 to 2.56, less 2.12 and 2.18, which Pure
/// never published.
pub fn supported_api_versions() -> Vec<ApiVersion> {
    (MIN_API_VERSION.minor..=MAX_API_VERSION.minor)
        .filter(|minor| *minor != 12 && *minor != 18)
        .map(|minor| ApiVersion::new(2, minor))
        .collect()
}

/// Picks the highest version both the array (`offered`) and the client support, or the pinned
/// one if the array offers it. The error explains what the array offers.
pub fn negotiate(
    offered: &[String],
    pinned: Option<ApiVersion>,
) -> std::result::Result<ApiVersion, String> {
    let offered: Vec<ApiVersion> = offered
        .iter()
        .filter_map(|v| ApiVersion::parse(v))
        .collect();
    let known = supported_api_versions();
    if let Some(pin) = pinned {
        return if offered.contains(&pin) && known.contains(&pin) {
            Ok(pin)
        } else {
            Err(format!(
                "REST version {pin} was requested but the array offers {} and this client supports {MIN_API_VERSION} to {MAX_API_VERSION}",
                describe(&offered)
            ))
        };
    }
    offered
        .iter()
        .filter(|v| known.contains(v))
        .max()
        .copied()
        .ok_or_else(|| {
            format!(
                "the array offers REST {} but this client needs one of {MIN_API_VERSION} to {MAX_API_VERSION}: upgrade Purity//FA",
                describe(&offered)
            )
        })
}

fn describe(offered: &[ApiVersion]) -> String {
    match (offered.iter().min(), offered.iter().max()) {
        (Some(low), Some(high)) if low != high => format!("{low} to {high}"),
        (Some(only), _) => only.to_string(),
        _ => "no version".to_string(),
    }
}

/// A logged-in session: the version in every path and the token in every header.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) version: ApiVersion,
    pub(crate) token: Secret,
    /// Increases with every login, so that concurrent 401s cause one re-login, not many.
    pub(crate) generation: u64,
}

/// What the client remembers between calls.
#[derive(Default)]
pub(crate) struct SessionState {
    version: Option<ApiVersion>,
    token: Option<Secret>,
    generation: u64,
}

#[derive(Deserialize)]
struct VersionList {
    #[serde(default)]
    version: Vec<String>,
}

impl FlashArrayClient {
    /// The REST version in use, negotiating it first if needed (`GET /api/api_version`, which
    /// needs no authentication).
    pub async fn api_version(&self) -> Result<ApiVersion> {
        let mut state = self.inner.session.lock().await;
        self.negotiated(&mut state).await
    }

    async fn negotiated(&self, state: &mut SessionState) -> Result<ApiVersion> {
        if let Some(version) = state.version {
            return Ok(version);
        }
        let version = self.negotiate_version().await?;
        state.version = Some(version);
        Ok(version)
    }

    /// `GET /api/api_version` and the version both sides support.
    async fn negotiate_version(&self) -> Result<ApiVersion> {
        let exchange = Exchange::new(
            reqwest::Method::GET,
            self.versions_url(),
            "list REST versions",
        )
        .idempotent(true);
        let answer = self.send(&exchange).await?;
        if !answer.status.is_success() {
            return Err(self.fail(&exchange, answer, None));
        }
        let list: VersionList = self.decode(&exchange, &answer)?;
        let version = negotiate(&list.version, self.inner.pinned_version).map_err(|why| {
            Error::new(
                ErrorKind::Unsupported,
                format!("FlashArray {}: {why}", self.inner.label),
            )
            .with_context("array", self.inner.label.clone())
        })?;
        tracing::debug!(array = %self.inner.label, %version, "negotiated FlashArray REST version");
        Ok(version)
    }

    /// The current session, logging in first if there is none.
    ///
    /// The first login goes out together with the version list, at the version the client
    /// expects (the pinned one, else the newest it knows): an array that offers it is logged in
    /// after one round trip instead of two. On an older array that login is answered with an
    /// error and left aside, and the session is opened at the version negotiated.
    pub(crate) async fn session(&self) -> Result<Session> {
        let mut state = self.inner.session.lock().await;
        if state.version.is_none() {
            let expected = self.inner.pinned_version.unwrap_or(MAX_API_VERSION);
            let (version, login) = tokio::join!(self.negotiate_version(), self.login(expected));
            let version = version?;
            state.version = Some(version);
            if version == expected {
                state.token = Some(login?);
                state.generation += 1;
                tracing::debug!(array = %self.inner.label, %version, "logged in to FlashArray");
            } else if let Err(e) = login {
                tracing::debug!(array = %self.inner.label, tried = %expected, %version, error = %e, "the array does not offer the expected REST version");
            }
        }
        let version = self.negotiated(&mut state).await?;
        if state.token.is_none() {
            let token = self.login(version).await?;
            state.token = Some(token);
            state.generation += 1;
            tracing::debug!(array = %self.inner.label, %version, "logged in to FlashArray");
        }
        Ok(Session {
            version,
            token: state.token.clone().unwrap_or_else(|| Secret::new("")),
            generation: state.generation,
        })
    }

    async fn login(&self, version: ApiVersion) -> Result<Secret> {
        let mut exchange = Exchange::new(
            reqwest::Method::POST,
            self.url_for(version, "login"),
            "log in with the API token",
        )
        .idempotent(true);
        exchange.login = true;
        exchange.token = Some(("api-token", self.inner.api_token.clone()));
        let answer = self.send(&exchange).await?;
        if !answer.status.is_success() {
            return Err(self.fail(&exchange, answer, None));
        }
        answer
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(Secret::new)
            .ok_or_else(|| {
                Error::unexpected(format!(
                    "log in to FlashArray {}: the array accepted the API token but sent no x-auth-token header; is this a FlashArray?",
                    self.inner.label
                ))
                .with_context("array", self.inner.label.clone())
                .with_context("request_id", answer.request_id.clone())
            })
    }

    /// Drops the session that got a 401 and logs in again, unless another call already did.
    pub(crate) async fn relogin(&self, stale: &Session) -> Result<Session> {
        {
            let mut state = self.inner.session.lock().await;
            if state.generation == stale.generation {
                tracing::debug!(array = %self.inner.label, "session refused (401); logging in again");
                state.token = None;
            }
        }
        self.session().await
    }

    /// Ends the session (`POST /api/<v>/logout`). The next call logs in again. Does nothing when
    /// no session is open.
    pub async fn close(&self) -> Result<()> {
        let (version, token) = {
            let mut state = self.inner.session.lock().await;
            match (state.version, state.token.take()) {
                (Some(version), Some(token)) => (version, token),
                _ => return Ok(()),
            }
        };
        let mut exchange = Exchange::new(
            reqwest::Method::POST,
            self.url_for(version, "logout"),
            "log out",
        )
        .idempotent(true);
        exchange.token = Some(("x-auth-token", token.clone()));
        let answer = self.send(&exchange).await?;
        if !answer.status.is_success() {
            return Err(self.fail(&exchange, answer, Some(&token)));
        }
        tracing::debug!(array = %self.inner.label, "logged out of FlashArray");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn known_versions() {
        let known = supported_api_versions();
        assert_eq!(known.first(), Some(&ApiVersion::new(2, 4)));
        assert_eq!(known.last(), Some(&ApiVersion::new(2, 56)));
        assert!(!known.contains(&ApiVersion::new(2, 12)));
        assert!(!known.contains(&ApiVersion::new(2, 18)));
        assert_eq!(known.len(), 51);
    }

    #[test]
    fn picks_highest_common_version() {
        let offered = strings(&["1.0", "1.19", "2.0", "2.21", "2.56", "2.58", "x"]);
        assert_eq!(negotiate(&offered, None), Ok(ApiVersion::new(2, 56)));
        let offered = strings(&["1.0", "1.19", "2.0", "2.21"]);
        assert_eq!(negotiate(&offered, None), Ok(ApiVersion::new(2, 21)));
        assert_eq!(
            negotiate(&offered, Some(ApiVersion::new(2, 21))),
            Ok(ApiVersion::new(2, 21))
        );
    }

    #[test]
    fn explains_when_nothing_matches() {
        let err = negotiate(&strings(&["1.0", "1.19", "2.0", "2.3"]), None).unwrap_err();
        assert_eq!(
            err,
            "the array offers REST 1.0 to 2.3 but this client needs one of 2.4 to 2.56: upgrade Purity//FA"
        );
        let err = negotiate(&strings(&["2.20"]), Some(ApiVersion::new(2, 36))).unwrap_err();
        assert!(err.contains("2.36 was requested"), "{err}");
        assert_eq!(ApiVersion::parse("2.x"), None);
        assert!(ApiVersion::new(2, 36).at_least(2, 36));
    }
}
