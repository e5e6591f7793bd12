//! Finding and reading clouds.yaml, secure.yaml and `OS_*` variables.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use protector_core::model::Secret;
use protector_core::Result;
use serde_json::{Map, Value};

use super::yaml::{merge, scalar_text};
use super::{
    config_error, parse_url, ApplicationCredentialRef, AuthMethod, CloudConfig, DomainRef,
    Interface, ProjectRef, UserRef,
};
use crate::catalog::ServiceType;

/// `OS_*` variables that go under `auth`.
const ENV_AUTH_KEYS: &[(&str, &str)] = &[
    ("OS_AUTH_URL", "auth_url"),
    ("OS_USERNAME", "username"),
    ("OS_USER_ID", "user_id"),
    ("OS_PASSWORD", "password"),
    ("OS_TOKEN", "token"),
    ("OS_PROJECT_NAME", "project_name"),
    ("OS_PROJECT_ID", "project_id"),
    ("OS_TENANT_NAME", "tenant_name"),
    ("OS_TENANT_ID", "tenant_id"),
    ("OS_USER_DOMAIN_NAME", "user_domain_name"),
    ("OS_USER_DOMAIN_ID", "user_domain_id"),
    ("OS_PROJECT_DOMAIN_NAME", "project_domain_name"),
    ("OS_PROJECT_DOMAIN_ID", "project_domain_id"),
    ("OS_DOMAIN_NAME", "domain_name"),
    ("OS_DOMAIN_ID", "domain_id"),
    ("OS_APPLICATION_CREDENTIAL_ID", "application_credential_id"),
    (
        "OS_APPLICATION_CREDENTIAL_NAME",
        "application_credential_name",
    ),
    (
        "OS_APPLICATION_CREDENTIAL_SECRET",
        "application_credential_secret",
    ),
];

/// `OS_*` variables that are cloud settings.
const ENV_CLOUD_KEYS: &[(&str, &str)] = &[
    ("OS_AUTH_TYPE", "auth_type"),
    ("OS_REGION_NAME", "region_name"),
    ("OS_INTERFACE", "interface"),
    ("OS_ENDPOINT_TYPE", "endpoint_type"),
    ("OS_CACERT", "cacert"),
    ("OS_INSECURE", "insecure"),
];

/// Reads cloud configuration the way the openstack CLI (openstacksdk) does.
///
/// - clouds file: the first that exists of `$OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
///   `~/.config/openstack/clouds.yaml` (`$XDG_CONFIG_HOME/openstack` when set),
///   `/etc/openstack/clouds.yaml`; `.yml` and `.json` are accepted too.
/// - secure file: the first of `$OS_CLIENT_SECURE_FILE` and `secure.yaml` in the same
///   directories, merged over the clouds file entry by entry.
/// - the cloud: the name given to [`ConfigLoader::load`], else `$OS_CLOUD`; with neither, the
///   `OS_*` variables (`OS_AUTH_URL`, `OS_USERNAME`, …) describe the cloud, named `envvars`.
///
/// The environment is a map handed to the loader, never read behind its back:
/// [`ConfigLoader::from_process`] captures the real one, tests pass their own.
/// `clouds-public.yaml` profiles are not supported.
#[derive(Clone)]
pub struct ConfigLoader {
    env: BTreeMap<String, String>,
    current_dir: Option<PathBuf>,
    system_dir: PathBuf,
}

impl fmt::Debug for ConfigLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Variable names only: values include OS_PASSWORD.
        f.debug_struct("ConfigLoader")
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .field("current_dir", &self.current_dir)
            .field("system_dir", &self.system_dir)
            .finish()
    }
}

impl ConfigLoader {
    /// A loader over the given variables (`OS_*`, `HOME`, `XDG_CONFIG_HOME`), without a current
    /// directory, and with `/etc/openstack` as the system directory.
    pub fn new<K, V>(env: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        ConfigLoader {
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            current_dir: None,
            system_dir: PathBuf::from("/etc/openstack"),
        }
    }

    /// A loader over this process's environment and current directory.
    pub fn from_process() -> Self {
        let env = std::env::vars().filter(|(k, _)| {
            k.starts_with("OS_") || matches!(k.as_str(), "HOME" | "XDG_CONFIG_HOME")
        });
        Self::new(env).with_current_dir(std::env::current_dir().unwrap_or_default())
    }

    /// Looks for `./clouds.yaml` in `dir` and resolves relative `cacert` paths against it.
    #[must_use]
    pub fn with_current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into()).filter(|d: &PathBuf| !d.as_os_str().is_empty());
        self
    }

    /// Replaces `/etc/openstack`.
    #[must_use]
    pub fn with_system_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.system_dir = dir.into();
        self
    }

    /// Resolves `cloud` (or `$OS_CLOUD`, or the `OS_*` variables) into a [`CloudConfig`].
    ///
    /// Fails with `ConfigInvalid`, naming the file, the cloud and the missing or wrong key.
    pub fn load(&self, cloud: Option<&str>) -> Result<CloudConfig> {
        let named = cloud
            .map(str::to_string)
            .or_else(|| self.var("OS_CLOUD"))
            .filter(|n| !n.trim().is_empty());
        match named {
            Some(name) => {
                let (clouds, source) = self.read_files()?;
                let entry = clouds
                    .get("clouds")
                    .and_then(|c| c.get(&name))
                    .ok_or_else(|| {
                        let known = cloud_names_of(&clouds).join(", ");
                        config_error(format!(
                            "cloud '{name}' is not in {source} (clouds: {}); add it or pick another with OS_CLOUD",
                            if known.is_empty() { "none" } else { &known }
                        ))
                    })?;
                self.parse_entry(&name, entry, &source)
            }
            None if self.var("OS_AUTH_URL").is_some() => {
                self.parse_entry("envvars", &self.env_entry(), "the OS_* variables")
            }
            None => Err(config_error(
                "no cloud selected: name one, set OS_CLOUD, or set OS_AUTH_URL and the other OS_* variables",
            )),
        }
    }

    /// The cloud names of the clouds file (empty when there is none).
    pub fn cloud_names(&self) -> Result<Vec<String>> {
        match self.read_files() {
            Ok((clouds, _)) => Ok(cloud_names_of(&clouds)),
            Err(_) if self.find("clouds", "OS_CLIENT_CONFIG_FILE").is_none() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn var(&self, key: &str) -> Option<String> {
        self.env.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }

    fn search_dirs(&self) -> Vec<PathBuf> {
        let user_dir = self
            .var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| self.var("HOME").map(|h| Path::new(&h).join(".config")))
            .map(|d| d.join("openstack"));
        self.current_dir
            .iter()
            .cloned()
            .chain(user_dir)
            .chain(Some(self.system_dir.clone()))
            .collect()
    }

    fn candidates(&self, stem: &str, override_var: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .var(override_var)
            .map(PathBuf::from)
            .into_iter()
            .collect();
        for dir in self.search_dirs() {
            for ext in ["yaml", "yml", "json"] {
                files.push(dir.join(format!("{stem}.{ext}")));
            }
        }
        files
    }

    fn find(&self, stem: &str, override_var: &str) -> Option<PathBuf> {
        self.candidates(stem, override_var)
            .into_iter()
            .find(|p| p.is_file())
    }

    /// The clouds file merged with the secure file, and a description of where it came from.
    fn read_files(&self) -> Result<(Value, String)> {
        let Some(clouds_path) = self.find("clouds", "OS_CLIENT_CONFIG_FILE") else {
            let searched: Vec<String> = self
                .candidates("clouds", "OS_CLIENT_CONFIG_FILE")
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            return Err(config_error(format!(
                "no clouds.yaml found (searched {}); create one or set OS_CLIENT_CONFIG_FILE",
                searched.join(", ")
            )));
        };
        let mut clouds = read_file(&clouds_path)?;
        let mut source = clouds_path.display().to_string();
        if let Some(secure_path) = self.find("secure", "OS_CLIENT_SECURE_FILE") {
            merge(&mut clouds, read_file(&secure_path)?);
            source = format!("{source} + {}", secure_path.display());
        }
        Ok((clouds, source))
    }

    fn env_entry(&self) -> Value {
        let pick = |keys: &[(&str, &str)]| -> Map<String, Value> {
            keys.iter()
                .filter_map(|(var, key)| self.var(var).map(|v| (key.to_string(), Value::String(v))))
                .collect()
        };
        let mut entry = pick(ENV_CLOUD_KEYS);
        entry.insert("auth".into(), Value::Object(pick(ENV_AUTH_KEYS)));
        Value::Object(entry)
    }

    fn parse_entry(&self, name: &str, entry: &Value, source: &str) -> Result<CloudConfig> {
        let entry = normalize_keys(entry);
        let Some(obj) = entry.as_object() else {
            return Err(config_error(format!(
                "cloud '{name}' in {source} is not a mapping"
            )));
        };
        let e = Entry { name, source, obj };
        let auth_url = e.require("auth_url", "OS_AUTH_URL")?;
        parse_url(name, "auth_url", &auth_url)?;
        let auth = e.auth_method()?;

        let mut config = CloudConfig::new(name, auth_url, auth);
        if let Some(region) = e.top("region_name").or_else(|| e.first_region()) {
            config = config.with_region(region);
        }
        if let Some(interface) = e.top("interface").or_else(|| e.top("endpoint_type")) {
            let parsed = Interface::parse(&interface).ok_or_else(|| {
                e.error(format!(
                    "interface '{interface}' is not one of public, internal, admin"
                ))
            })?;
            config = config.with_interface(parsed);
        }
        if let Some(cacert) = e.top("cacert") {
            let path = PathBuf::from(cacert);
            let path = match &self.current_dir {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path,
            };
            config = config.with_cacert(path);
        }
        let verify = e.flag("verify")?.unwrap_or(true);
        let insecure = e.flag("insecure")?.unwrap_or(false);
        config = config.with_insecure(!verify || insecure);
        for (key, value) in obj {
            let Some(service) = key.strip_suffix("_endpoint_override") else {
                continue;
            };
            let (Some(service), Some(url)) =
                (ServiceType::from_config_key(service), scalar_text(value))
            else {
                continue;
            };
            parse_url(name, key, &url)?;
            config = config.with_endpoint_override(service, url);
        }
        Ok(config)
    }
}

fn read_file(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| config_error(format!("cannot read {}: {e}", path.display())).with_source(e))?;
    let parsed = if path.extension().is_some_and(|x| x == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        super::yaml::parse(&text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| config_error(format!("{} is not valid: {e}", path.display())))
}

fn cloud_names_of(clouds: &Value) -> Vec<String> {
    clouds
        .get("clouds")
        .and_then(Value::as_object)
        .map(|m| {
            let mut names: Vec<String> = m.keys().cloned().collect();
            names.sort();
            names
        })
        .unwrap_or_default()
}

/// openstacksdk accepts `project-name` for `project_name`; so do we.
fn normalize_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.replace('-', "_"), normalize_keys(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The auth methods an entry can name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Password,
    ApplicationCredential,
    Token,
}

/// One cloud entry being read.
struct Entry<'a> {
    name: &'a str,
    source: &'a str,
    obj: &'a Map<String, Value>,
}

impl Entry<'_> {
    fn error(&self, what: impl fmt::Display) -> protector_core::Error {
        config_error(format!("cloud '{}' in {}: {what}", self.name, self.source))
    }

    /// A cloud-level setting.
    fn top(&self, key: &str) -> Option<String> {
        self.obj
            .get(key)
            .and_then(scalar_text)
            .filter(|s| !s.trim().is_empty())
    }

    /// An `auth` setting; like openstacksdk, also accepted at the cloud level.
    fn auth(&self, key: &str) -> Option<String> {
        self.obj
            .get("auth")
            .and_then(|a| a.get(key))
            .and_then(scalar_text)
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.top(key))
    }

    fn require(&self, key: &str, env: &str) -> Result<String> {
        self.auth(key)
            .ok_or_else(|| self.error(format!("auth.{key} is missing (or {env})")))
    }

    fn flag(&self, key: &str) -> Result<Option<bool>> {
        let Some(text) = self.top(key) else {
            return Ok(None);
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(Some(true)),
            "false" | "no" | "0" | "off" => Ok(Some(false)),
            _ => Err(self.error(format!("{key} must be true or false, not '{text}'"))),
        }
    }

    fn first_region(&self) -> Option<String> {
        let first = self.obj.get("regions")?.as_array()?.first()?;
        scalar_text(first).or_else(|| first.get("name").and_then(scalar_text))
    }

    fn domain(&self, specific: &str) -> Option<DomainRef> {
        let id = |k: &str| self.auth(&format!("{k}_id")).map(DomainRef::Id);
        let name = |k: &str| self.auth(&format!("{k}_name")).map(DomainRef::Name);
        // `domain_id` / `domain_name` stand for both domains when the specific one is absent.
        id(specific)
            .or_else(|| name(specific))
            .or_else(|| id("domain"))
            .or_else(|| name("domain"))
    }

    fn user(&self) -> Result<Option<UserRef>> {
        if let Some(id) = self.auth("user_id") {
            return Ok(Some(UserRef::Id(id)));
        }
        let Some(name) = self.auth("username") else {
            return Ok(None);
        };
        let domain = self.domain("user_domain").ok_or_else(|| {
            self.error("username needs user_domain_name or user_domain_id (OS_USER_DOMAIN_NAME)")
        })?;
        Ok(Some(UserRef::Name { name, domain }))
    }

    fn project(&self) -> Result<Option<ProjectRef>> {
        if let Some(id) = self.auth("project_id").or_else(|| self.auth("tenant_id")) {
            return Ok(Some(ProjectRef::Id(id)));
        }
        let Some(name) = self
            .auth("project_name")
            .or_else(|| self.auth("tenant_name"))
        else {
            return Ok(None);
        };
        let domain = self.domain("project_domain").ok_or_else(|| {
            self.error(
                "project_name needs project_domain_name or project_domain_id (OS_PROJECT_DOMAIN_NAME)",
            )
        })?;
        Ok(Some(ProjectRef::Name { name, domain }))
    }

    fn auth_method(&self) -> Result<AuthMethod> {
        let auth_type = self.top("auth_type").map(|t| t.to_ascii_lowercase());
        // Without auth_type, as osc-lib guesses: a credential secret, else a token with no
        // password, else a password.
        let kind = match auth_type.as_deref() {
            None if self.auth("application_credential_secret").is_some() => {
                AuthKind::ApplicationCredential
            }
            None if self.auth("token").is_some() && self.auth("password").is_none() => {
                AuthKind::Token
            }
            None | Some("password" | "v3password") => AuthKind::Password,
            Some("v3applicationcredential" | "applicationcredential") => {
                AuthKind::ApplicationCredential
            }
            Some("token" | "v3token") => AuthKind::Token,
            Some(other) => {
                return Err(self.error(format!(
                    "auth_type '{other}' is not supported; use password, v3applicationcredential or token"
                )))
            }
        };
        if kind == AuthKind::Token {
            let token = self.auth("token").ok_or_else(|| {
                self.error("auth.token is missing; put it in secure.yaml or OS_TOKEN")
            })?;
            return Ok(AuthMethod::Token {
                token: Secret::new(token),
                project: self.project()?,
            });
        }
        let application_credential = kind == AuthKind::ApplicationCredential;
        if application_credential {
            let secret = self.auth("application_credential_secret").ok_or_else(|| {
                self.error(
                    "application_credential_secret is missing; put it in secure.yaml or OS_APPLICATION_CREDENTIAL_SECRET",
                )
            })?;
            let credential = match self.auth("application_credential_id") {
                Some(id) => ApplicationCredentialRef::Id(id),
                None => {
                    let name = self.auth("application_credential_name").ok_or_else(|| {
                        self.error("application_credential_id (or _name with its user) is missing")
                    })?;
                    let user = self.user()?.ok_or_else(|| {
                        self.error("application_credential_name needs username or user_id")
                    })?;
                    ApplicationCredentialRef::Name { name, user }
                }
            };
            return Ok(AuthMethod::ApplicationCredential {
                credential,
                secret: Secret::new(secret),
            });
        }
        let user = self.user()?.ok_or_else(|| {
            self.error("auth.username or auth.user_id is missing (or OS_USERNAME)")
        })?;
        let password = self.auth("password").ok_or_else(|| {
            self.error("auth.password is missing; put it in secure.yaml or OS_PASSWORD")
        })?;
        Ok(AuthMethod::Password {
            user,
            password: Secret::new(password),
            project: self.project()?,
        })
    }
}
