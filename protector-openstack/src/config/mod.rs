//! Credentials and endpoint preferences of one cloud, read the way the openstack CLI reads them.
//!
//! [`CloudConfig`] is the resolved form of one `clouds.yaml` entry (merged with `secure.yaml`) or
//! of the `OS_*` variables; [`ConfigLoader`] finds and reads those sources. Secrets are held in
//! [`Secret`], whose `Debug` and `Display` print `[redacted]`, so every type here can be logged.

mod loader;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use protector_core::model::Secret;
use protector_core::{Error, Result};

pub use loader::ConfigLoader;

use crate::catalog::{Catalog, ServiceType};

/// A Keystone domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    /// `user_domain_id` / `project_domain_id`.
    Id(String),
    /// `user_domain_name` / `project_domain_name`.
    Name(String),
}

/// A Keystone user, by id or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// `user_id`.
    Id(String),
    /// `username` with its domain.
    Name {
        /// User name.
        name: String,
        /// The user's domain.
        domain: DomainRef,
    },
}

/// The project a token is scoped to, by id or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectRef {
    /// `project_id`.
    Id(String),
    /// `project_name` with its domain.
    Name {
        /// Project name.
        name: String,
        /// The project's domain.
        domain: DomainRef,
    },
}

/// An application credential, by id or by name and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicationCredentialRef {
    /// `application_credential_id` (preferred: needs no user lookup).
    Id(String),
    /// `application_credential_name` with the owning user.
    Name {
        /// Credential name.
        name: String,
        /// The user who owns the credential.
        user: UserRef,
    },
}

/// How to obtain a Keystone v3 token.
///
/// `Debug` never shows the password or the credential secret (they are [`Secret`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// `auth_type: password` (or `v3password`, the default).
    Password {
        /// Who logs in.
        user: UserRef,
        /// The password.
        password: Secret,
        /// The project scope; `None` asks Keystone for an unscoped token (no catalog).
        project: Option<ProjectRef>,
    },
    /// `auth_type: v3applicationcredential`. The token is always scoped to the credential's
    /// project; Keystone refuses a scope in the request.
    ApplicationCredential {
        /// Which credential.
        credential: ApplicationCredentialRef,
        /// The credential secret.
        secret: Secret,
    },
    /// `auth_type: token` (or `v3token`): a Keystone token obtained by someone else, such as
    /// Horizon's `request.user.token` or an OSC plugin's session.
    ///
    /// protector cannot renew such a token: when Keystone refuses it (expired or revoked), calls
    /// fail with `Unauthenticated` until the caller logs in again and passes a new one.
    Token {
        /// The token id.
        token: Secret,
        /// The project to act in. `None` uses the token as it is (Keystone is asked for its
        /// scope, roles, expiry and catalog). A project the token is already scoped to (by id)
        /// also uses it as it is; any other project gets a token rescoped to it (`POST
        /// /v3/auth/tokens` with the `token` method), which Keystone lets live no longer than
        /// the token it came from.
        project: Option<ProjectRef>,
    },
}

impl AuthMethod {
    /// Token auth with `token`, used as it is (`project: None`) or for `project`.
    pub fn token(token: impl Into<Secret>, project: Option<ProjectRef>) -> Self {
        AuthMethod::Token {
            token: token.into(),
            project,
        }
    }

    /// The password, credential secret or token: what must never be shown.
    pub(crate) fn secret(&self) -> &Secret {
        match self {
            AuthMethod::Password { password, .. } => password,
            AuthMethod::ApplicationCredential { secret, .. } => secret,
            AuthMethod::Token { token, .. } => token,
        }
    }
}

/// Which endpoint of a service to use (`interface` / `OS_INTERFACE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    /// `public` (the default).
    #[default]
    Public,
    /// `internal`.
    Internal,
    /// `admin`.
    Admin,
}

impl Interface {
    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    /// Parses `public`, `internal`, `admin`, also in the legacy `publicURL` form.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim().to_ascii_lowercase();
        match v.strip_suffix("url").unwrap_or(&v) {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One cloud: Keystone URL, credentials, region, interface and TLS settings.
///
/// Build it with [`ConfigLoader::load`] from clouds.yaml / `OS_*` variables, or directly with
/// [`CloudConfig::new`] and the `with_*` setters. `Debug` is safe to log: secrets are redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    name: String,
    auth_url: String,
    auth: AuthMethod,
    region_name: Option<String>,
    interface: Interface,
    cacert: Option<PathBuf>,
    verify: bool,
    endpoint_overrides: BTreeMap<ServiceType, String>,
    catalog: Option<Catalog>,
}

impl CloudConfig {
    /// A cloud named `name` (the clouds.yaml key, used in messages) whose Keystone v3 is at
    /// `auth_url`. Public interface, any region, TLS verified with the built-in roots.
    pub fn new(name: impl Into<String>, auth_url: impl Into<String>, auth: AuthMethod) -> Self {
        CloudConfig {
            name: name.into(),
            auth_url: auth_url.into(),
            auth,
            region_name: None,
            interface: Interface::Public,
            cacert: None,
            verify: true,
            endpoint_overrides: BTreeMap::new(),
            catalog: None,
        }
    }

    /// A cloud reached with a Keystone token the caller already holds, for front-ends that
    /// have no clouds.yaml (Horizon, an OSC plugin): `name` is the site's name (used in
    /// messages), `auth_url` its Keystone v3, and `project_id` the project to act in (`None`:
    /// the token's own scope). See [`AuthMethod::Token`] for what is sent.
    pub fn from_token(
        name: impl Into<String>,
        auth_url: impl Into<String>,
        token: impl Into<Secret>,
        project_id: Option<&str>,
    ) -> Self {
        let project = project_id
            .filter(|p| !p.trim().is_empty())
            .map(|p| ProjectRef::Id(p.to_string()));
        Self::new(name, auth_url, AuthMethod::token(token, project))
    }

    /// Uses `catalog`, a Keystone v3 service catalog (the `catalog` list of a token, as
    /// Horizon's `request.user.service_catalog` and keystoneauth's `AccessInfo` hold it),
    /// instead of asking Keystone for one. Only for [`AuthMethod::Token`] used as it is:
    /// Keystone is then asked only to validate the token (`?nocatalog`); a token rescoped to
    /// another project gets that project's catalog from Keystone.
    ///
    /// `ConfigInvalid` when `catalog` is not a list of services with endpoints.
    pub fn with_catalog(mut self, catalog: serde_json::Value) -> Result<Self> {
        let parsed: Catalog = serde_json::from_value(catalog).map_err(|e| {
            self.invalid(format!(
                "the service catalog given is not a Keystone v3 catalog ({e}); pass the token's catalog list: [{{\"type\", \"endpoints\": [{{\"interface\", \"region_id\", \"url\"}}]}}]"
            ))
        })?;
        self.catalog = Some(parsed);
        Ok(self)
    }

    /// Picks endpoints of this region (`region_name`).
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region_name = Some(region.into()).filter(|r: &String| !r.trim().is_empty());
        self
    }

    /// Picks endpoints of this interface (`interface`).
    #[must_use]
    pub fn with_interface(mut self, interface: Interface) -> Self {
        self.interface = interface;
        self
    }

    /// Trusts only the CA certificates in this PEM bundle (`cacert`).
    #[must_use]
    pub fn with_cacert(mut self, path: impl Into<PathBuf>) -> Self {
        self.cacert = Some(path.into());
        self
    }

    /// Disables TLS certificate verification (`verify: false`). Only for labs: the client logs a
    /// warning each time it is built with this.
    #[must_use]
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.verify = !insecure;
        self
    }

    /// The same user and password, or the same token, with tokens scoped to project
    /// `project_id` instead: what `--os-project-id` does to a clouds.yaml entry. The user needs
    /// a role in that project.
    ///
    /// `ConfigInvalid` for an application credential, which Keystone binds to the project it
    /// was created in.
    pub fn scoped_to_project(&self, project_id: &str) -> Result<Self> {
        match &self.auth {
            AuthMethod::Password { user, password, .. } => {
                let mut scoped = self.clone();
                scoped.auth = AuthMethod::Password {
                    user: user.clone(),
                    password: password.clone(),
                    project: Some(ProjectRef::Id(project_id.to_string())),
                };
                Ok(scoped)
            }
            AuthMethod::Token { token, .. } => {
                let mut scoped = self.clone();
                scoped.auth = AuthMethod::token(
                    token.clone(),
                    Some(ProjectRef::Id(project_id.to_string())),
                );
                Ok(scoped)
            }
            AuthMethod::ApplicationCredential { .. } => Err(self.invalid(format!(
                "authenticates with an application credential, which is bound to its own project and cannot act in project {project_id}: use password credentials of a user with a role in every project protector must act in"
            ))),
        }
    }

    /// Uses `url` for `service` instead of the catalog (`<service>_endpoint_override`).
    /// `$(project_id)s` and `%(project_id)s` in it are replaced by the token's project.
    #[must_use]
    pub fn with_endpoint_override(mut self, service: ServiceType, url: impl Into<String>) -> Self {
        self.endpoint_overrides.insert(service, url.into());
        self
    }

    /// The cloud's name (clouds.yaml key, or `envvars` for `OS_*` variables).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keystone URL as configured.
    pub fn auth_url(&self) -> &str {
        &self.auth_url
    }

    /// How tokens are obtained.
    pub fn auth(&self) -> &AuthMethod {
        &self.auth
    }

    /// Region filter for endpoints.
    pub fn region_name(&self) -> Option<&str> {
        self.region_name.as_deref()
    }

    /// Endpoint interface.
    pub fn interface(&self) -> Interface {
        self.interface
    }

    /// CA bundle replacing the built-in roots.
    pub fn cacert(&self) -> Option<&PathBuf> {
        self.cacert.as_ref()
    }

    /// Whether TLS certificates are verified.
    pub fn verify(&self) -> bool {
        self.verify
    }

    /// The override URL for `service`, if any.
    pub fn endpoint_override(&self, service: ServiceType) -> Option<&str> {
        self.endpoint_overrides.get(&service).map(String::as_str)
    }

    /// The service catalog given with [`CloudConfig::with_catalog`].
    pub(crate) fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_ref()
    }

    pub(crate) fn invalid(&self, what: impl fmt::Display) -> Error {
        config_error(format!("cloud '{}': {what}", self.name))
    }
}

pub(crate) fn config_error(message: impl Into<String>) -> Error {
    Error::new(protector_core::ErrorKind::ConfigInvalid, message)
}

/// Checks a URL given in configuration, without echoing anything but the cloud and key names.
pub(crate) fn parse_url(cloud: &str, key: &str, value: &str) -> Result<reqwest::Url> {
    let url = reqwest::Url::parse(value.trim()).map_err(|e| {
        config_error(format!(
            "cloud '{cloud}': {key} is not a valid URL ({e}); use e.g. https://keystone.example.com:5000/v3"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(config_error(format!(
            "cloud '{cloud}': {key} must be an http or https URL"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config_error(format!(
            "cloud '{cloud}': {key} must not carry credentials; put them under auth"
        )));
    }
    Ok(url)
}
