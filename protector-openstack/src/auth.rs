//! Keystone v3 tokens: the request body for each auth method and the token it yields.

use std::fmt;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use protector_core::api::AuthInfo;
use protector_core::model::Secret;
use protector_core::Result;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::Catalog;
use crate::config::{
    config_error, parse_url, ApplicationCredentialRef, AuthMethod, CloudConfig, DomainRef,
    ProjectRef, UserRef,
};

/// A Keystone token with what it was issued for. `Debug` never shows the token.
pub(crate) struct Token {
    value: Secret,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    issued_at: Option<DateTime<Utc>>,
    pub(crate) user_id: String,
    user_name: String,
    pub(crate) project_id: Option<String>,
    project_name: Option<String>,
    roles: Vec<String>,
    pub(crate) catalog: Catalog,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &self.value)
            .field("expires_at", &self.expires_at)
            .field("user_id", &self.user_id)
            .field("project_id", &self.project_id)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The token, for the `X-Auth-Token` header only.
    pub(crate) fn secret(&self) -> &Secret {
        &self.value
    }

    /// Whether to get a new token before using this one: it expires within two minutes, or
    /// within a quarter of its lifetime when that is shorter.
    pub(crate) fn needs_refresh(&self, now: DateTime<Utc>) -> bool {
        let Some(expires_at) = self.expires_at else {
            return false;
        };
        let mut margin = TimeDelta::minutes(2);
        if let Some(issued_at) = self.issued_at {
            margin = margin.min((expires_at - issued_at) / 4);
        }
        now + margin >= expires_at
    }

    /// Whether the token has expired: the limit for a token protector cannot renew.
    pub(crate) fn has_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|expires_at| now >= expires_at)
    }

    /// The scope, as `IdentityApi::authenticate` reports it.
    pub(crate) fn auth_info(&self) -> AuthInfo {
        AuthInfo {
            user_id: self.user_id.clone(),
            user_name: self.user_name.clone(),
            project_id: self.project_id.clone().unwrap_or_default(),
            project_name: self.project_name.clone().unwrap_or_default(),
            roles: self.roles.clone(),
            expires_at: self.expires_at,
        }
    }

    /// Reads a `POST` or `GET /v3/auth/tokens` answer: the token from `X-Subject-Token`, the
    /// rest from the body.
    pub(crate) fn from_response(subject_token: Option<&str>, body: &[u8]) -> Result<Self, String> {
        let value = subject_token
            .filter(|t| !t.is_empty())
            .ok_or("the X-Subject-Token header is missing")?;
        let body: TokenBody = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let token = body.token;
        let time = |t: Option<String>| -> Result<Option<DateTime<Utc>>, String> {
            t.map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|e| format!("bad timestamp {t}: {e}"))
            })
            .transpose()
        };
        Ok(Token {
            value: Secret::new(value),
            expires_at: time(token.expires_at)?,
            issued_at: time(token.issued_at)?,
            user_id: token.user.id,
            user_name: token.user.name,
            project_id: token.project.as_ref().map(|p| p.id.clone()),
            project_name: token.project.map(|p| p.name),
            roles: token.roles.into_iter().map(|r| r.name).collect(),
            catalog: token.catalog,
        })
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenWire,
}

#[derive(Deserialize)]
struct TokenWire {
    expires_at: Option<String>,
    issued_at: Option<String>,
    user: Named,
    project: Option<Named>,
    #[serde(default)]
    roles: Vec<Named>,
    #[serde(default)]
    catalog: Catalog,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

/// `{auth_url}/auth/tokens`. A URL that does not end in `/v3` gets `v3` appended (Keystone's
/// root, or a path prefix such as `/identity`); `/v2.0` is replaced, v2 being long gone.
pub(crate) fn tokens_url(config: &CloudConfig) -> Result<reqwest::Url> {
    let mut url = parse_url(config.name(), "auth_url", config.auth_url())?;
    let mut segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    if segments.last().is_some_and(|s| s == "v2.0") {
        segments.pop();
    }
    if segments.last().is_none_or(|s| s != "v3") {
        segments.push("v3".into());
    }
    segments.extend(["auth".to_string(), "tokens".to_string()]);
    url.path_segments_mut()
        .map_err(|()| config.invalid("auth_url cannot have a path"))?
        .clear()
        .extend(&segments);
    url.set_query(None);
    Ok(url)
}

/// The body of `POST /v3/auth/tokens`. It carries the password, secret or token: never log it.
pub(crate) fn token_request(method: &AuthMethod) -> Value {
    match method {
        AuthMethod::Password {
            user,
            password,
            project,
        } => {
            let mut user = user_json(user);
            user["password"] = json!(password.expose());
            let auth = json!({"identity": {"methods": ["password"], "password": {"user": user}}});
            with_scope(auth, project.as_ref())
        }
        // Exchanges the token for one scoped to the project (Keystone "rescoping").
        AuthMethod::Token { token, project } => {
            let auth = json!({"identity": {"methods": ["token"], "token": {"id": token.expose()}}});
            with_scope(auth, project.as_ref())
        }
        AuthMethod::ApplicationCredential { credential, secret } => {
            let mut credential = match credential {
                ApplicationCredentialRef::Id(id) => json!({"id": id}),
                ApplicationCredentialRef::Name { name, user } => {
                    json!({"name": name, "user": user_json(user)})
                }
            };
            credential["secret"] = json!(secret.expose());
            json!({"auth": {"identity": {
                "methods": ["application_credential"],
                "application_credential": credential}}})
        }
    }
}

/// `{"auth": auth}`, with `auth.scope.project` when a project is given.
fn with_scope(mut auth: Value, project: Option<&ProjectRef>) -> Value {
    if let Some(project) = project {
        let project = match project {
            ProjectRef::Id(id) => json!({"id": id}),
            ProjectRef::Name { name, domain } => {
                json!({"name": name, "domain": domain_json(domain)})
            }
        };
        auth["scope"] = json!({"project": project});
    }
    json!({"auth": auth})
}

fn user_json(user: &UserRef) -> Value {
    match user {
        UserRef::Id(id) => json!({"id": id}),
        UserRef::Name { name, domain } => json!({"name": name, "domain": domain_json(domain)}),
    }
}

fn domain_json(domain: &DomainRef) -> Value {
    match domain {
        DomainRef::Id(id) => json!({"id": id}),
        DomainRef::Name(name) => json!({"name": name}),
    }
}

/// The token's catalog, or why it has none.
pub(crate) fn require_catalog(token: &Token, cloud: &str) -> Result<()> {
    if token.catalog.is_empty() {
        return Err(config_error(format!(
            "cloud '{cloud}': the token has no service catalog; scope the credentials to a project (project_name or project_id)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> CloudConfig {
        CloudConfig::new(
            "c",
            url,
            AuthMethod::ApplicationCredential {
                credential: ApplicationCredentialRef::Id("id".into()),
                secret: Secret::new("s"),
            },
        )
    }

    #[test]
    fn tokens_url_appends_v3_where_needed() {
        for (auth_url, expected) in [
            ("https://k:5000/v3", "https://k:5000/v3/auth/tokens"),
            ("https://k:5000/v3/", "https://k:5000/v3/auth/tokens"),
            ("https://k:5000", "https://k:5000/v3/auth/tokens"),
            ("https://k/identity", "https://k/identity/v3/auth/tokens"),
            (
                "https://k/identity/v2.0",
                "https://k/identity/v3/auth/tokens",
            ),
        ] {
            assert_eq!(tokens_url(&config(auth_url)).unwrap().as_str(), expected);
        }
    }

    #[test]
    fn token_debug_hides_the_value_and_refresh_keeps_a_margin() {
        let body = br#"{"token": {"expires_at": "2026-01-01T01:00:00.000000Z",
            "issued_at": "2026-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "admin"}, "project": {"id": "p1", "name": "demo"},
            "roles": [{"id": "r", "name": "admin"}]}}"#;
        let token = Token::from_response(Some("gAAAA-token"), body).unwrap();
        assert!(!format!("{token:?}").contains("gAAAA"));
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(!token.needs_refresh(at("2026-01-01T00:57:59Z")));
        assert!(token.needs_refresh(at("2026-01-01T00:58:00Z")));
        assert_eq!(token.auth_info().project_name, "demo");
        assert!(Token::from_response(None, body).is_err());
    }
}
