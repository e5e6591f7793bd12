//! What `protector-engine` reads from `protector.conf`.
//!
//! ```ini
//! [DEFAULT]
//! site_name = site-a          # required: the site this engine serves
//! debug = False
//! [database]
//! connection = mysql+pymysql://protector:PASSWORD@controller/protector
//! [engine]
//! clouds_file = /etc/protector/clouds.yaml   # the service user's credentials for both sites
//! workers = 4                 # operations run at once by this process
//! lease_seconds = 30          # how long a claim lives without renewal
//! poll_interval = 2           # seconds between scans for work: the latency of a claim,
//!                             # not a synchronisation (claims are atomic in the store)
//! shutdown_timeout = 60       # seconds SIGTERM waits for running operations
//! openstack_concurrency = 32  # calls at once per OpenStack service per site (all operations)
//! array_concurrency = 32      # calls at once per FlashArray
//! calls_per_second = 0        # per service per site and per array; 0: no rate limit
//! [hooks]
//! allow_commands = False      # run command hooks (tenants define them): off by default
//! ```

use std::path::PathBuf;
use std::time::Duration;

use protector_core::engine::{CallLimits, EngineOptions};
use protector_core::store::{check_site_name, SecretKey};
use protector_core::{Error, ErrorKind, Result};
use protector_openstack::ConfigLoader;

use super::WorkerOptions;
use crate::config::{Database, ServiceConfig};

/// The default clouds.yaml of the engine's service user.
pub const DEFAULT_CLOUDS_FILE: &str = "/etc/protector/clouds.yaml";

/// The keys `[engine]` may hold.
const ENGINE_KEYS: [&str; 8] = [
    "clouds_file",
    "workers",
    "lease_seconds",
    "poll_interval",
    "shutdown_timeout",
    "openstack_concurrency",
    "array_concurrency",
    "calls_per_second",
];

/// `protector-engine`'s settings, checked.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `[DEFAULT] site_name`: the local site.
    pub site_name: String,
    /// `[database] connection`: the site's store.
    pub database: Database,
    /// The key of the secrets in the store (`[database] secret_key_file`).
    pub secret_key: SecretKey,
    /// `[engine] clouds_file`: clouds.yaml whose cloud names are the site names.
    pub clouds_file: PathBuf,
    /// `[DEFAULT] debug`: log at debug level.
    pub debug: bool,
    /// The core engine's tunables: the defaults for real clouds, with waits polled every
    /// `PROTECTOR_POLL_INTERVAL_MS` when set (as for the CLI: a simulator needs no pause).
    pub engine: EngineOptions,
    /// The worker's tunables (`[engine] workers`, `lease_seconds`, `poll_interval`,
    /// `shutdown_timeout`).
    pub worker: WorkerOptions,
    /// `[hooks] allow_commands` (default `false`): whether command hooks run. Tenants define
    /// hooks and this process runs with the service user's rights, so commands are refused
    /// (a blocking plan finding) unless the operator allows them; URL hooks always run.
    pub allow_command_hooks: bool,
}

impl EngineConfig {
    /// Reads and checks the engine's settings of `config`. `ConfigInvalid`, naming the file,
    /// the section and the key, for a missing site name or database, an unknown `[engine]`
    /// key, a value out of range, or a clouds file that is missing or lacks the site.
    pub fn from_config(config: &ServiceConfig) -> Result<EngineConfig> {
        let file = config.path().display().to_string();
        let invalid = |message: String| Error::new(ErrorKind::ConfigInvalid, message);
        if let Some(unknown) = config
            .keys("engine")
            .into_iter()
            .find(|key| !ENGINE_KEYS.contains(key))
        {
            return Err(invalid(format!(
                "{file}: [engine] {unknown} is not a setting of protector-engine: remove it \
                 (known: {})",
                ENGINE_KEYS.join(", ")
            )));
        }
        let site_name = config.require("DEFAULT", "site_name", "site-a")?;
        check_site_name(site_name)
            .map_err(|e| invalid(format!("{file}: [DEFAULT] site_name: {}", e.message())))?;
        let database = config.database()?;
        let debug = config.bool_or("DEFAULT", "debug", false)?;

        let workers: usize = config.parse_or("engine", "workers", 4)?;
        if workers == 0 {
            return Err(invalid(format!(
                "{file}: [engine] workers = 0 would run nothing: give 1 or more (default 4)"
            )));
        }
        let lease_seconds: u64 = config.parse_or("engine", "lease_seconds", 30)?;
        if !(1..=3600).contains(&lease_seconds) {
            return Err(invalid(format!(
                "{file}: [engine] lease_seconds = {lease_seconds} is out of range: give 1 to \
                 3600 (default 30)"
            )));
        }
        let seconds = |key: &str, default: f64, max: f64| -> Result<Duration> {
            let value: f64 = config.parse_or("engine", key, default)?;
            if !(value > 0.0 && value <= max) {
                return Err(invalid(format!(
                    "{file}: [engine] {key} = {value} is out of range: give a number of seconds \
                     above 0 and at most {max} (default {default})"
                )));
            }
            Ok(Duration::from_secs_f64(value))
        };
        let poll_interval = seconds("poll_interval", 2.0, 3600.0)?;
        let shutdown_timeout = seconds("shutdown_timeout", 60.0, 86_400.0)?;
        let defaults = CallLimits::default();
        let at_least_one = |key: &str, default: usize| -> Result<usize> {
            let value: usize = config.parse_or("engine", key, default)?;
            if value == 0 {
                return Err(invalid(format!(
                    "{file}: [engine] {key} = 0 would send no call: give 1 or more (default {default})"
                )));
            }
            Ok(value)
        };
        let calls_per_second: u32 = config.parse_or("engine", "calls_per_second", 0)?;
        let call_limits = CallLimits {
            openstack_concurrency: at_least_one(
                "openstack_concurrency",
                defaults.openstack_concurrency,
            )?,
            array_concurrency: at_least_one("array_concurrency", defaults.array_concurrency)?,
            calls_per_second: (calls_per_second > 0).then_some(calls_per_second),
        };

        let clouds_file = PathBuf::from(
            config
                .get("engine", "clouds_file")
                .unwrap_or(DEFAULT_CLOUDS_FILE),
        );
        check_clouds_file(&file, &clouds_file, site_name)?;

        if let Some(unknown) = config
            .keys("hooks")
            .into_iter()
            .find(|key| *key != "allow_commands")
        {
            return Err(invalid(format!(
                "{file}: [hooks] {unknown} is not a setting of protector-engine: remove it \
                 (known: allow_commands)"
            )));
        }
        let allow_command_hooks = config.bool_or("hooks", "allow_commands", false)?;
        let secret_key = config.secret_key()?;
        Ok(EngineConfig {
            site_name: site_name.to_string(),
            database,
            secret_key,
            clouds_file,
            debug,
            engine: EngineOptions {
                call_limits,
                ..EngineOptions::from_env()
            },
            worker: WorkerOptions {
                workers,
                lease: Duration::from_secs(lease_seconds),
                poll_interval,
                shutdown_timeout,
                ..WorkerOptions::default()
            },
            allow_command_hooks,
        })
    }

    /// The clouds.yaml reader of the engine: this file only, no `OS_*` variable of the process.
    pub fn clouds(&self) -> ConfigLoader {
        clouds_loader(&self.clouds_file)
    }
}

fn clouds_loader(clouds_file: &std::path::Path) -> ConfigLoader {
    ConfigLoader::new([("OS_CLIENT_CONFIG_FILE", clouds_file.display().to_string())])
        .with_system_dir(clouds_file.parent().unwrap_or(std::path::Path::new("/")))
}

/// The clouds file must exist and name the local site (its peer may be registered later).
fn check_clouds_file(file: &str, clouds_file: &std::path::Path, site: &str) -> Result<()> {
    if !clouds_file.is_file() {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "{file}: [engine] clouds_file {} does not exist: write the service user's \
                 clouds.yaml there (one cloud per site, named like the site) or set \
                 [engine] clouds_file",
                clouds_file.display()
            ),
        ));
    }
    let names = clouds_loader(clouds_file).cloud_names().map_err(|e| {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!("{file}: [engine] clouds_file: {}", e.message()),
        )
    })?;
    if !names.iter().any(|name| name == site) {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "{file}: [engine] clouds_file {} has no cloud named '{site}' ([DEFAULT] \
                 site_name): add one with the service user's credentials on {site} (it has: {})",
                clouds_file.display(),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(dir: &Path, text: &str) -> Result<EngineConfig> {
        let clouds = dir.join("clouds.yaml");
        std::fs::write(
            &clouds,
            "clouds:\n  site-a:\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n      \
             username: protector\n      password: pw\n      project_name: service\n      \
             user_domain_name: Default\n      project_domain_name: Default\n",
        )
        .unwrap();
        let text = text
            .replace("CLOUDS", &clouds.display().to_string())
            .replace("STATE", &dir.display().to_string());
        EngineConfig::from_config(&ServiceConfig::from_text(
            &dir.join("protector.conf"),
            &text,
        )?)
    }

    const BASE: &str = "[DEFAULT]\nsite_name = site-a\nstate_path = STATE\n[database]\nconnection = sqlite:////tmp/p.db\n[engine]\nclouds_file = CLOUDS\n";

    #[test]
    fn defaults_apply_and_values_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), BASE).unwrap();
        assert_eq!(c.site_name, "site-a");
        assert_eq!(c.database, Database::Sqlite("/tmp/p.db".into()));
        assert!(!c.debug);
        assert_eq!(c.worker.workers, 4);
        assert_eq!(c.worker.lease, Duration::from_secs(30));
        assert_eq!(c.worker.poll_interval, Duration::from_secs(2));
        assert_eq!(c.worker.shutdown_timeout, Duration::from_secs(60));

        let c = config(
            dir.path(),
            &format!(
                "{}workers = 2\nlease_seconds = 5\npoll_interval = 0.25\nshutdown_timeout = 9\n",
                BASE.replace("site_name = site-a\n", "site_name = site-a\ndebug = True\n")
            ),
        )
        .unwrap();
        assert!(c.debug);
        assert_eq!(c.worker.workers, 2);
        assert_eq!(c.worker.lease, Duration::from_secs(5));
        assert_eq!(c.worker.poll_interval, Duration::from_millis(250));
        assert_eq!(c.worker.shutdown_timeout, Duration::from_secs(9));
    }

    #[test]
    fn call_limits_default_for_real_clouds_and_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path(), BASE).unwrap();
        assert_eq!(c.engine.call_limits, CallLimits::default());
        let c = config(
            dir.path(),
            &format!(
                "{BASE}openstack_concurrency = 8\narray_concurrency = 2\ncalls_per_second = 50\n"
            ),
        )
        .unwrap();
        assert_eq!(
            c.engine.call_limits,
            CallLimits {
                openstack_concurrency: 8,
                array_concurrency: 2,
                calls_per_second: Some(50),
            }
        );
        let file = dir.path().join("protector.conf").display().to_string();
        let e = config(dir.path(), &format!("{BASE}array_concurrency = 0\n")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert!(
            e.message().starts_with(&format!(
                "{file}: [engine] array_concurrency = 0 would send no call"
            )),
            "{e}"
        );
    }

    #[test]
    fn command_hooks_are_off_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!config(dir.path(), BASE).unwrap().allow_command_hooks);
        let allowed = config(
            dir.path(),
            &format!("{BASE}[hooks]\nallow_commands = True\n"),
        );
        assert!(allowed.unwrap().allow_command_hooks);
        let e = config(dir.path(), &format!("{BASE}[hooks]\nallow = yes\n")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert!(
            e.message().contains("[hooks] allow is not a setting"),
            "{e}"
        );
    }

    #[test]
    fn every_bad_setting_is_config_invalid_naming_file_section_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("protector.conf").display().to_string();
        for (text, expected) in [
            (
                BASE.replace("site_name = site-a\n", ""),
                "has no [DEFAULT] site_name".to_string(),
            ),
            (
                BASE.replace("site-a", "site a"),
                format!("{file}: [DEFAULT] site_name: site name 'site a'"),
            ),
            (
                format!("{BASE}workers = 0\n"),
                format!("{file}: [engine] workers = 0"),
            ),
            (
                format!("{BASE}workers = many\n"),
                format!("{file}: [engine] workers = many is not valid"),
            ),
            (
                format!("{BASE}lease_seconds = 0\n"),
                format!("{file}: [engine] lease_seconds = 0 is out of range"),
            ),
            (
                format!("{BASE}poll_interval = -1\n"),
                format!("{file}: [engine] poll_interval = -1 is out of range"),
            ),
            (
                format!("{BASE}worker = 3\n"),
                format!("{file}: [engine] worker is not a setting of protector-engine"),
            ),
            (
                BASE.replace(
                    "site_name = site-a\n",
                    "site_name = site-a\ndebug = maybe\n",
                ),
                format!("{file}: [DEFAULT] debug = maybe is not valid"),
            ),
            (
                BASE.replace("CLOUDS", "/nonexistent/clouds.yaml"),
                format!("{file}: [engine] clouds_file /nonexistent/clouds.yaml does not exist"),
            ),
            (
                BASE.replace("site_name = site-a", "site_name = site-b"),
                "has no cloud named 'site-b' ([DEFAULT] site_name)".to_string(),
            ),
            (
                BASE.replace("connection = sqlite:////tmp/p.db\n", ""),
                "has no [database] connection".to_string(),
            ),
        ] {
            let err = config(dir.path(), &text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{text}: {err}");
            assert!(err.message().contains(&expected), "{text}: {err}");
        }
    }
}
