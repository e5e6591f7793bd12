//! `/etc/protector/protector.conf`: the site's configuration, in spec/004's oslo.config INI
//! shape, shared by `protector-manage`, `protector-api` and `protector-engine`.
//!
//! ```ini
//! [DEFAULT]
//! site_name = site-a
//! state_path = /var/lib/protector
//! [api]
//! bind_host = 0.0.0.0
//! bind_port = 8788
//! [database]
//! connection = mysql+pymysql://protector:PROTECTOR_DBPASS@controller/protector
//! [keystone_authtoken]
//! auth_url = http://controller:5000
//! ...
//! ```
//!
//! Every error names the file, the section and the key, and what to set. A value that may hold
//! a password (the database URL) is never repeated in an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protector_core::store::{SecretKey, SqliteStore, Store};
use protector_core::{Error, ErrorKind, Result};

/// The default location of the configuration file.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/protector/protector.conf";

/// A loaded `protector.conf`.
#[derive(Clone)]
pub struct ServiceConfig {
    path: PathBuf,
    ini: ini::Ini,
}

impl std::fmt::Debug for ServiceConfig {
    // The file holds passwords: only its path is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ServiceConfig {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<ServiceConfig> {
        let ini = ini::Ini::load_from_file(path).map_err(|e| match e {
            ini::Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "configuration file {} not found: give it with --config-file",
                    path.display()
                ),
            ),
            other => Error::new(
                ErrorKind::ConfigInvalid,
                format!("cannot read configuration file {}: {other}", path.display()),
            ),
        })?;
        Ok(ServiceConfig {
            path: path.to_path_buf(),
            ini,
        })
    }

    /// A configuration from INI text (tests, and `--connection` without a file).
    pub fn from_text(path: &Path, text: &str) -> Result<ServiceConfig> {
        let ini = ini::Ini::load_from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("cannot read configuration {}: {e}", path.display()),
            )
        })?;
        Ok(ServiceConfig {
            path: path.to_path_buf(),
            ini,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `key` of `section` (`DEFAULT` is the section without a header), trimmed; `None` when
    /// absent or empty.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let section = (section != "DEFAULT").then_some(section);
        self.ini
            .get_from(section, key)
            .or_else(|| {
                // oslo.config also reads an explicit [DEFAULT] header.
                section
                    .is_none()
                    .then(|| self.ini.get_from(Some("DEFAULT"), key))?
            })
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The keys set in `section` (not `DEFAULT`), in file order: for refusing unknown ones.
    pub fn keys(&self, section: &str) -> Vec<&str> {
        self.ini
            .section(Some(section))
            .map(|props| props.iter().map(|(key, _)| key).collect())
            .unwrap_or_default()
    }

    /// `key` of `section`, or a `ConfigInvalid` error naming them and showing `example`.
    pub fn require(&self, section: &str, key: &str, example: &str) -> Result<&str> {
        self.get(section, key).ok_or_else(|| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "{} has no [{section}] {key}: set it, e.g. {key} = {example}",
                    self.path.display()
                ),
            )
        })
    }

    /// `key` of `section` parsed as `T`, `default` when absent.
    pub fn parse_or<T: std::str::FromStr>(
        &self,
        section: &str,
        key: &str,
        default: T,
    ) -> Result<T> {
        match self.get(section, key) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|_| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "{}: [{section}] {key} = {raw} is not valid: give a {}",
                        self.path.display(),
                        std::any::type_name::<T>()
                            .rsplit("::")
                            .next()
                            .unwrap_or("value")
                    ),
                )
            }),
        }
    }

    /// `key` of `section` as oslo.config reads a boolean (`True`/`False`, `yes`/`no`,
    /// `on`/`off`, `1`/`0`, any case), `default` when absent.
    pub fn bool_or(&self, section: &str, key: &str, default: bool) -> Result<bool> {
        match self.get(section, key) {
            None => Ok(default),
            Some(raw) => match raw.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "{}: [{section}] {key} = {raw} is not valid: give True or False",
                        self.path.display()
                    ),
                )),
            },
        }
    }

    /// `[DEFAULT] state_path` (default `/var/lib/protector`).
    pub fn state_path(&self) -> PathBuf {
        PathBuf::from(
            self.get("DEFAULT", "state_path")
                .unwrap_or("/var/lib/protector"),
        )
    }

    /// `[database] connection`, parsed.
    pub fn database(&self) -> Result<Database> {
        let url = self.require(
            "database",
            "connection",
            "mysql+pymysql://protector:PASSWORD@controller/protector",
        )?;
        Database::parse(url)
    }

    /// The key that encrypts replication-policy tokens in the database: `[database]
    /// secret_key_file` (default `<state_path>/secret.key`), made (mode 0600) when missing.
    /// Every host of a site shares one database and so needs the same key file.
    pub fn secret_key(&self) -> Result<SecretKey> {
        let path = self
            .get("database", "secret_key_file")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.state_path().join("secret.key"));
        SecretKey::load_or_create(&path)
    }
}

/// Where the site's metadata lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// MariaDB or MySQL, as a `mysql://` URL for sqlx.
    MySql(String),
    /// The embedded SQLite store.
    Sqlite(PathBuf),
}

impl std::fmt::Debug for Database {
    // The URL holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::MySql(_) => f.write_str("MySql(..)"),
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
        }
    }
}

impl Database {
    /// An SQLAlchemy database URL as protector opens it: `mysql+pymysql://user:pass@host/db`
    /// (any `mysql+<driver>://`, `mysql://` or `mariadb://`) or `sqlite:////abs/path`. The
    /// error never repeats the URL (it may hold a password), only its scheme.
    pub fn parse(url: &str) -> Result<Database> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "[database] connection is not a URL: use mysql+pymysql://USER:PASSWORD@HOST/DATABASE or sqlite:////PATH",
            ));
        };
        let dialect = scheme.split('+').next().unwrap_or_default();
        match dialect {
            "mysql" | "mariadb" => Ok(Database::MySql(format!("mysql://{rest}"))),
            "sqlite" => {
                // sqlite:////abs/path (absolute) or sqlite:///relative/path, as SQLAlchemy reads them.
                let path = rest.strip_prefix('/').unwrap_or(rest);
                if path.is_empty() {
                    return Err(Error::new(
                        ErrorKind::ConfigInvalid,
                        "[database] connection sqlite:// names no file: use sqlite:////var/lib/protector/protector.db",
                    ));
                }
                Ok(Database::Sqlite(PathBuf::from(path)))
            }
            other => Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "[database] connection uses '{other}', which protector does not support: use MariaDB/MySQL (mysql+pymysql://...) or SQLite (sqlite:////...)"
                ),
            )),
        }
    }

    /// Opens the site's store (its schema must be current: `protector-manage db sync`).
    pub async fn open(&self, key: SecretKey) -> Result<Arc<dyn Store>> {
        Ok(match self {
            Database::MySql(url) => {
                Arc::new(protector_core::store::MySqlStore::connect(url, key).await?)
            }
            Database::Sqlite(path) => Arc::new(SqliteStore::open(path, key)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openstack_urls_are_read_as_sqlalchemy_reads_them() {
        assert_eq!(
            Database::parse("mysql+pymysql://protector:pw@controller/protector").unwrap(),
            Database::MySql("mysql://protector:pw@controller/protector".into())
        );
        assert_eq!(
            Database::parse("mysql://u:p@127.0.0.1:3307/db").unwrap(),
            Database::MySql("mysql://u:p@127.0.0.1:3307/db".into())
        );
        assert_eq!(
            Database::parse("sqlite:////var/lib/protector/p.db").unwrap(),
            Database::Sqlite("/var/lib/protector/p.db".into())
        );
        assert_eq!(
            Database::parse("sqlite:///p.db").unwrap(),
            Database::Sqlite("p.db".into())
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        for url in ["postgresql://u:secret-pw@h/db", "secret-pw", "sqlite:///"] {
            let err = Database::parse(url).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{url}");
            assert!(!err.to_string().contains("secret-pw"), "{err}");
        }
        let db = Database::parse("mysql+pymysql://u:secret-pw@h/db").unwrap();
        assert!(!format!("{db:?}").contains("secret-pw"));
    }

    #[test]
    fn keys_are_read_from_their_sections_with_defaults() {
        let conf = ServiceConfig::from_text(
            Path::new("protector.conf"),
            "state_path = /srv/p\n[DEFAULT]\nsite_name = site-a\n[api]\nbind_port = 9999\n[database]\nconnection =\n",
        )
        .unwrap();
        assert_eq!(conf.get("DEFAULT", "site_name"), Some("site-a"));
        assert_eq!(conf.state_path(), PathBuf::from("/srv/p"));
        assert_eq!(conf.parse_or("api", "bind_port", 8788u16).unwrap(), 9999);
        assert_eq!(conf.parse_or("api", "workers", 4u32).unwrap(), 4);
        let flags = ServiceConfig::from_text(
            Path::new("p.conf"),
            "debug = False\n[keystone_authtoken]\ninsecure = yes\n[api]\nx = maybe\n",
        )
        .unwrap();
        assert!(!flags.bool_or("DEFAULT", "debug", true).unwrap());
        assert!(flags
            .bool_or("keystone_authtoken", "insecure", false)
            .unwrap());
        assert!(flags.bool_or("api", "missing", true).unwrap());
        let bad = flags.bool_or("api", "x", false).unwrap_err();
        assert!(bad.to_string().contains("[api] x = maybe"), "{bad}");
        let err = conf.database().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err.to_string().contains("[database] connection"), "{err}");
        let bad = ServiceConfig::from_text(Path::new("p.conf"), "[api]\nbind_port = lots\n")
            .unwrap()
            .parse_or("api", "bind_port", 8788u16)
            .unwrap_err();
        assert!(bad.to_string().contains("[api] bind_port = lots"), "{bad}");
    }
}
