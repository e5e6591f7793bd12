//! Keystone v3: the password and application-credential methods, project scope, and tokens.
//!
//! Tokens are self-contained and signed, as Keystone's Fernet tokens are: the token carries the
//! user, the project, the methods, the audit id and the expiry, signed with a key derived from
//! the world's seed and the site. Validation recomputes the roles from the current assignments,
//! so a token outlives neither its user nor its role. Tokens therefore survive a restart of the
//! simulator. Their lifetime is one hour of **real** time (`issued_at` and `expires_at` are wall
//! clock), because clients compare `expires_at` with their own clock to decide when to
//! re-authenticate; simulated time is unrelated.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use protector_core::api::AuthInfo;
use protector_core::{Error, ErrorKind, Result};

use super::{unauthenticated, Caller};
use crate::state::records::{ApplicationCredentialRec, ProjectRec, RevokedTokenRec, UserRec};
use crate::state::World;

/// Token lifetime (Keystone's `[token] expiration` default).
pub(crate) const TOKEN_LIFETIME_SECS: i64 = 3600;

/// The one domain of every simulated site.
pub(crate) const DEFAULT_DOMAIN_ID: &str = "default";
/// Its name.
pub(crate) const DEFAULT_DOMAIN_NAME: &str = "Default";

/// `POST /v3/auth/tokens`: what the token says (default lifetime one hour).
pub(crate) fn auth_info(world: &World, caller: &Caller) -> AuthInfo {
    AuthInfo {
        user_id: caller.user_id.clone(),
        user_name: caller.user_name.clone(),
        project_id: caller.project_id.clone(),
        project_name: caller.project_name.clone(),
        roles: caller.roles.clone(),
        expires_at: Some(world.now() + Duration::hours(1)),
    }
}

/// SHA-256 of an application-credential secret, hex.
pub(crate) fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A domain named in an auth request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DomainRef {
    Id(String),
    Name(String),
}

impl DomainRef {
    fn is_default(&self) -> bool {
        match self {
            DomainRef::Id(id) => id == DEFAULT_DOMAIN_ID,
            // Keystone's SQL backend compares names case-insensitively.
            DomainRef::Name(name) => name.eq_ignore_ascii_case(DEFAULT_DOMAIN_NAME),
        }
    }
}

/// A user or project named in an auth request: by id, or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamedRef {
    Id(String),
    Name { name: String, domain: DomainRef },
}

/// What the token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    Unscoped,
    Project(NamedRef),
    /// Domain or system scope: not simulated, refused.
    Other,
}

/// How the caller proves who it is.
#[derive(Debug, Clone)]
pub(crate) enum Proof {
    Password {
        user: NamedRef,
        password: String,
    },
    ApplicationCredential {
        id: Option<String>,
        name: Option<String>,
        user: Option<NamedRef>,
        secret: String,
    },
    Token {
        token: String,
    },
}

/// A parsed `POST /v3/auth/tokens` body.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub proof: Proof,
    pub scope: Scope,
}

/// What a token carries, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TokenClaims {
    #[serde(rename = "s")]
    pub site: String,
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "p")]
    pub project_id: Option<String>,
    #[serde(rename = "m")]
    pub methods: Vec<String>,
    #[serde(rename = "c")]
    pub application_credential_id: Option<String>,
    /// Unix seconds, real time.
    #[serde(rename = "i")]
    pub issued_at: i64,
    /// Unix seconds, real time.
    #[serde(rename = "e")]
    pub expires_at: i64,
    #[serde(rename = "a")]
    pub audit_ids: Vec<String>,
}

impl TokenClaims {
    pub(crate) fn issued_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.issued_at, 0)
            .single()
            .unwrap_or_default()
    }

    pub(crate) fn expires_at(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.expires_at, 0)
            .single()
            .unwrap_or_default()
    }
}

/// A valid token: its claims and, when project-scoped, the caller it makes.
#[derive(Debug, Clone)]
pub(crate) struct ValidToken {
    pub claims: TokenClaims,
    pub user: UserRec,
    pub project: Option<ProjectRec>,
    pub roles: Vec<String>,
    pub application_credential: Option<ApplicationCredentialRec>,
}

impl ValidToken {
    /// The simulator caller of a project-scoped token.
    pub(crate) fn caller(&self) -> Option<Caller> {
        let project = self.project.as_ref()?;
        Some(Caller {
            site: self.claims.site.clone(),
            user_id: self.user.id.clone(),
            user_name: self.user.name.clone(),
            project_id: project.id.clone(),
            project_name: project.name.clone(),
            roles: self.roles.clone(),
        })
    }
}

fn find_user<'w>(world: &'w World, site: &str, user: &NamedRef) -> Option<&'w UserRec> {
    match user {
        NamedRef::Id(id) => world.users.get(id).filter(|u| u.site == site),
        NamedRef::Name { name, domain } => {
            if !domain.is_default() {
                return None;
            }
            world.users.find(|u| u.site == site && &u.name == name)
        }
    }
}

fn find_project<'w>(world: &'w World, site: &str, project: &NamedRef) -> Option<&'w ProjectRec> {
    match project {
        NamedRef::Id(id) => world.projects.get(id).filter(|p| p.site == site),
        NamedRef::Name { name, domain } => {
            if !domain.is_default() {
                return None;
            }
            world.projects.find(|p| p.site == site && &p.name == name)
        }
    }
}

fn app_credential_error(reason: &str) -> Error {
    Error::new(
        ErrorKind::Unauthenticated,
        format!("Error authenticating with application credential: {reason}"),
    )
}

/// `POST /v3/auth/tokens`: checks the proof and the scope, and signs a token valid from `now`
/// (real time) for [`TOKEN_LIFETIME_SECS`].
pub(crate) fn issue_token(
    world: &World,
    site: &str,
    request: &AuthRequest,
    now: DateTime<Utc>,
) -> Result<(String, ValidToken)> {
    let issued_at = now.timestamp();
    let mut expires_at = issued_at + TOKEN_LIFETIME_SECS;
    let (user, methods, application_credential, rescoped_from) = match &request.proof {
        Proof::Password { user, password } => {
            let user = find_user(world, site, user).ok_or_else(unauthenticated)?;
            if user.password.is_empty() || &user.password != password {
                return Err(unauthenticated());
            }
            (user.clone(), vec!["password".to_string()], None, None)
        }
        Proof::ApplicationCredential {
            id,
            name,
            user,
            secret,
        } => {
            if request.scope != Scope::Unscoped {
                return Err(app_credential_error(
                    "Application credentials cannot request a scope.",
                ));
            }
            let credential = match (id, name, user) {
                (Some(id), _, _) => world
                    .application_credentials
                    .get(id)
                    .filter(|c| c.site == site),
                (None, Some(name), Some(user)) => {
                    let owner = find_user(world, site, user).ok_or_else(unauthenticated)?;
                    world
                        .application_credentials
                        .find(|c| c.site == site && c.user_id == owner.id && &c.name == name)
                }
                _ => None,
            }
            .ok_or_else(unauthenticated)?;
            if credential.secret_hash != secret_hash(secret) {
                return Err(unauthenticated());
            }
            if credential.expires_at.is_some_and(|e| e <= now) {
                return Err(unauthenticated());
            }
            let user = world
                .users
                .get(&credential.user_id)
                .ok_or_else(unauthenticated)?;
            (
                user.clone(),
                vec!["application_credential".to_string()],
                Some(credential.clone()),
                None,
            )
        }
        Proof::Token { token } => {
            let valid = validate_token(world, site, token, now)?;
            if valid.application_credential.is_some() {
                return Err(unauthenticated());
            }
            let mut methods = valid.claims.methods.clone();
            if !methods.iter().any(|m| m == "token") {
                methods.insert(0, "token".to_string());
            }
            // A rescoped token never outlives the one it came from.
            expires_at = valid.claims.expires_at;
            (valid.user, methods, None, Some(valid.claims.audit_ids))
        }
    };

    let project = match (&request.scope, &application_credential) {
        (_, Some(credential)) => Some(
            world
                .projects
                .get(&credential.project_id)
                .cloned()
                .ok_or_else(unauthenticated)?,
        ),
        (Scope::Unscoped, None) => None,
        (Scope::Project(project), None) => Some(
            find_project(world, site, project)
                .cloned()
                .ok_or_else(unauthenticated)?,
        ),
        (Scope::Other, None) => return Err(unauthenticated()),
    };
    let mut audit_ids = vec![new_audit_id(world, &user.id, now)];
    if let Some(parent) = rescoped_from.and_then(|ids| ids.into_iter().next()) {
        audit_ids.push(parent);
    }
    let claims = TokenClaims {
        site: site.to_string(),
        user_id: user.id.clone(),
        project_id: project.as_ref().map(|p| p.id.clone()),
        methods,
        application_credential_id: application_credential.as_ref().map(|c| c.id.clone()),
        issued_at,
        expires_at,
        audit_ids,
    };
    let valid = resolve(world, claims)?;
    let token = sign(world, &valid.claims)?;
    Ok((token, valid))
}

/// Checks a token's signature, expiry and revocation, and that its user still holds a role on
/// its project.
pub(crate) fn validate_token(
    world: &World,
    site: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<ValidToken> {
    let claims = verify(world, site, token).ok_or_else(unauthenticated)?;
    if claims.expires_at <= now.timestamp() {
        return Err(unauthenticated());
    }
    if claims
        .audit_ids
        .iter()
        .any(|a| world.revoked_tokens.contains_key(&format!("{site}/{a}")))
    {
        return Err(unauthenticated());
    }
    resolve(world, claims)
}

/// The caller behind an `X-Auth-Token` (project-scoped tokens only).
pub(crate) fn caller_from_token(
    world: &World,
    site: &str,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Caller> {
    let token = token.ok_or_else(unauthenticated)?;
    validate_token(world, site, token, now)?
        .caller()
        .ok_or_else(unauthenticated)
}

/// `DELETE /v3/auth/tokens`: revokes the token (and every token rescoped from it).
pub(crate) fn revoke_token(
    world: &mut World,
    site: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let valid = validate_token(world, site, token, now)?;
    for key in world
        .revoked_tokens
        .keys_where(|r| r.expires_at.timestamp() <= now.timestamp())
    {
        world.revoked_tokens.remove(&key);
    }
    if let Some(audit_id) = valid.claims.audit_ids.first() {
        world.revoked_tokens.insert(
            format!("{site}/{audit_id}"),
            RevokedTokenRec {
                site: site.to_string(),
                audit_id: audit_id.clone(),
                expires_at: valid.claims.expires_at(),
            },
        );
    }
    Ok(())
}

fn resolve(world: &World, claims: TokenClaims) -> Result<ValidToken> {
    let user = world
        .users
        .get(&claims.user_id)
        .filter(|u| u.site == claims.site)
        .cloned()
        .ok_or_else(unauthenticated)?;
    let application_credential = match &claims.application_credential_id {
        Some(id) => Some(
            world
                .application_credentials
                .get(id)
                .cloned()
                .ok_or_else(unauthenticated)?,
        ),
        None => None,
    };
    let (project, roles) = match &claims.project_id {
        None => (None, Vec::new()),
        Some(project_id) => {
            let project = world
                .projects
                .get(project_id)
                .cloned()
                .ok_or_else(unauthenticated)?;
            let mut roles = user.roles.get(project_id).cloned().unwrap_or_default();
            if let Some(credential) = &application_credential {
                roles.retain(|r| credential.roles.contains(r));
            }
            if roles.is_empty() {
                // Keystone refuses a project scope the user has no role on.
                return Err(unauthenticated());
            }
            (Some(project), roles)
        }
    };
    Ok(ValidToken {
        claims,
        user,
        project,
        roles,
        application_credential,
    })
}

/// A Keystone-style audit id: 22 characters of URL-safe base64.
fn new_audit_id(world: &World, user_id: &str, now: DateTime<Utc>) -> String {
    let nanos = now.timestamp_nanos_opt().unwrap_or_default().to_string();
    let random = uuid::Uuid::new_v4().to_string();
    let digest = world.derived_digest(&["audit", user_id, &nanos, &random]);
    base64url(&digest[..16], false)
}

fn token_key(world: &World, site: &str) -> [u8; 32] {
    world.derived_digest(&["keystone-token-key", site])
}

/// `0x80 ‖ issued (8 bytes) ‖ payload ‖ HMAC-SHA256(key, everything before)`, URL-safe base64
/// with padding: the layout of a Fernet token (which therefore starts `gAAAAA`), signed but not
/// encrypted.
fn sign(world: &World, claims: &TokenClaims) -> Result<String> {
    let payload = serde_json::to_vec(claims)
        .map_err(|e| Error::unexpected(format!("token claims cannot be encoded: {e}")))?;
    let mut bytes = Vec::with_capacity(payload.len() + 41);
    bytes.push(0x80);
    bytes.extend_from_slice(&claims.issued_at.to_be_bytes());
    bytes.extend_from_slice(&payload);
    let mac = hmac_sha256(&token_key(world, &claims.site), &bytes);
    bytes.extend_from_slice(&mac);
    Ok(base64url(&bytes, true))
}

fn verify(world: &World, site: &str, token: &str) -> Option<TokenClaims> {
    let bytes = base64url_decode(token.trim())?;
    if bytes.len() < 42 || bytes[0] != 0x80 {
        return None;
    }
    let (signed, mac) = bytes.split_at(bytes.len() - 32);
    let expected = hmac_sha256(&token_key(world, site), signed);
    // Not constant-time: a simulator has nothing to protect.
    if expected.as_slice() != mac {
        return None;
    }
    let claims: TokenClaims = serde_json::from_slice(&signed[9..]).ok()?;
    (claims.site == site).then_some(claims)
}

fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64, with `=` padding when `pad`.
pub(crate) fn base64url(bytes: &[u8], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let value = BASE64URL.iter().position(|b| *b == c)? as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        crate::seed::default_world(crate::state::DEFAULT_SEED)
    }

    fn admin_password(world: &World) -> String {
        world
            .users
            .find(|u| u.site == "site-a" && u.name == "admin")
            .unwrap()
            .password
            .clone()
    }

    fn password_request(password: String) -> AuthRequest {
        AuthRequest {
            proof: Proof::Password {
                user: NamedRef::Name {
                    name: "admin".into(),
                    domain: DomainRef::Name("Default".into()),
                },
                password,
            },
            scope: Scope::Project(NamedRef::Name {
                name: "production-project".into(),
                domain: DomainRef::Id("default".into()),
            }),
        }
    }

    #[test]
    fn base64url_round_trips() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 200) as u8).collect();
            assert_eq!(base64url_decode(&base64url(&bytes, true)).unwrap(), bytes);
            assert_eq!(base64url_decode(&base64url(&bytes, false)).unwrap(), bytes);
        }
        assert_eq!(base64url(b"\x80", true), "gA==");
    }

    #[test]
    fn password_tokens_validate_on_their_site_only() {
        let world = world();
        let now = Utc::now();
        let (token, valid) = issue_token(
            &world,
            "site-a",
            &password_request(admin_password(&world)),
            now,
        )
        .unwrap();
        assert!(token.starts_with("gAAAAA"));
        assert_eq!(valid.caller().unwrap().project_name, "production-project");
        let again = validate_token(&world, "site-a", &token, now).unwrap();
        assert_eq!(again.claims, valid.claims);
        assert!(validate_token(&world, "site-b", &token, now).is_err());
        let later = now + Duration::seconds(TOKEN_LIFETIME_SECS + 1);
        assert!(validate_token(&world, "site-a", &token, later).is_err());
        let mut tampered = token.clone();
        tampered.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
        assert!(validate_token(&world, "site-a", &tampered, now).is_err());
    }

    #[test]
    fn wrong_passwords_and_foreign_scopes_are_refused() {
        let world = world();
        let now = Utc::now();
        let error =
            issue_token(&world, "site-a", &password_request("nope".into()), now).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unauthenticated);
        let mut request = password_request(admin_password(&world));
        request.scope = Scope::Project(NamedRef::Name {
            name: "tenant2".into(),
            domain: DomainRef::Name("Default".into()),
        });
        assert!(issue_token(&world, "site-a", &request, now).is_err());
    }

    #[test]
    fn application_credentials_refuse_a_scope() {
        let world = world();
        let credential = world
            .application_credentials
            .find(|c| c.site == "site-a")
            .unwrap()
            .clone();
        let secret = crate::seed::app_credential_secret(&world, "site-a");
        let mut request = AuthRequest {
            proof: Proof::ApplicationCredential {
                id: Some(credential.id.clone()),
                name: None,
                user: None,
                secret,
            },
            scope: Scope::Unscoped,
        };
        let (_, valid) = issue_token(&world, "site-a", &request, Utc::now()).unwrap();
        assert_eq!(valid.claims.methods, vec!["application_credential"]);
        assert!(valid.caller().unwrap().is_admin());
        request.scope = Scope::Project(NamedRef::Id(credential.project_id));
        let error = issue_token(&world, "site-a", &request, Utc::now()).unwrap_err();
        assert_eq!(
            error.message(),
            "Error authenticating with application credential: Application credentials cannot request a scope."
        );
    }

    #[test]
    fn revoked_tokens_stop_validating() {
        let mut world = world();
        let now = Utc::now();
        let (token, _) = issue_token(
            &world,
            "site-a",
            &password_request(admin_password(&world)),
            now,
        )
        .unwrap();
        revoke_token(&mut world, "site-a", &token, now).unwrap();
        assert!(validate_token(&world, "site-a", &token, now).is_err());
    }
}
