//! Ready-made engines for the common cases, with defaults that need no tuning.
//!
//! - [`Protector::in_memory`]: every site's store in memory, polling back to back. For tests
//!   and the embedded simulator (`protector-mock`), whose clock advances with each call.
//! - [`StateDir::open_site`]: the engine of the CLI and the Python module, over the stores of
//!   a state directory ([`StateDir::resolve`] finds it as they do), for any [`Connector`].
//! - Real clouds (clouds.yaml names, or a Keystone token and its catalog): this crate has no
//!   HTTP, so those one-line constructors live in `protector-connect`, which hands
//!   [`StateDir::open_site`] the HTTP connector of `protector-openstack` and `protector-pure`.
//!
//! The defaults ([`EngineOptions::default`]) suit real clouds: polls start at 2 s and back off
//! to 15 s, at most 1,000 members at once, calls per service bounded by
//! [`CallLimits`](crate::engine::CallLimits). [`EngineOptions::simulated`] suits a simulator.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> protector_core::Result<()> {
//! use protector_core::Protector;
//!
//! let sim = protector_mock::Simulator::in_memory()?;
//! let engine = Protector::in_memory("site-a", ["site-b"], sim.connector())?;
//! assert_eq!(engine.local_site(), "site-a");
//! # Ok(()) }
//! ```

use std::time::Duration;

#[cfg(feature = "sqlite")]
use std::path::PathBuf;
#[cfg(feature = "sqlite")]
use std::sync::Arc;

#[cfg(feature = "sqlite")]
use crate::api::Connector;
use crate::engine::{EngineOptions, PollPolicy};
#[cfg(feature = "sqlite")]
use crate::error::Result;
#[cfg(feature = "sqlite")]
use crate::store::{check_site_name, LocalEngine, OpenState, SecretKey, SqliteStore, StateDir};
#[cfg(feature = "sqlite")]
use crate::Protector;

/// The environment variable that shortens polling for a served simulator
/// ([`EngineOptions::from_env`]).
pub const POLL_INTERVAL_ENV: &str = "PROTECTOR_POLL_INTERVAL_MS";

/// The environment variable naming the state directory ([`StateDir::resolve`]).
pub const STATE_DIR_ENV: &str = "PROTECTOR_STATE_DIR";

impl EngineOptions {
    /// The options for a simulator whose clock advances with every call (`protector-mock`, in
    /// process): polls back to back, at most 2,000 per wait, 8 members at once.
    pub fn simulated() -> EngineOptions {
        EngineOptions {
            poll: PollPolicy::immediate(2000),
            member_concurrency: 8,
            ..EngineOptions::default()
        }
    }

    /// These options with polls starting at `interval` and backing off to at most a quarter
    /// of the default ceiling (or `interval`, when longer). Zero polls back to back.
    pub fn with_poll_interval(mut self, interval: Duration) -> EngineOptions {
        self.poll.interval = interval;
        self.poll.max_interval = interval.max(self.poll.max_interval / 4);
        self
    }

    /// The defaults, with `PROTECTOR_POLL_INTERVAL_MS` (milliseconds) as the poll interval
    /// when it is set: what the CLI and a site's protector-engine use. A served simulator needs
    /// no patient polling; real clouds keep the default back-off. A value that is not a whole
    /// number of milliseconds is ignored, with a warning.
    pub fn from_env() -> EngineOptions {
        let options = EngineOptions::default();
        let Ok(value) = std::env::var(POLL_INTERVAL_ENV) else {
            return options;
        };
        match value.trim().parse::<u64>() {
            Ok(ms) => options.with_poll_interval(Duration::from_millis(ms)),
            Err(_) => {
                tracing::warn!(
                    value,
                    "{POLL_INTERVAL_ENV} is not a whole number of milliseconds; polling keeps its default"
                );
                options
            }
        }
    }
}

#[cfg(feature = "sqlite")]
impl Protector {
    /// An engine standing on `local_site` whose stores (one for it and one for each of
    /// `other_sites`) live in memory, with [`EngineOptions::simulated`]: for tests and the
    /// embedded simulator. Nothing is kept when the engine is dropped.
    ///
    /// `InvalidInput` for a site name that could not name a store file (see
    /// [`check_site_name`]).
    pub fn in_memory<S: Into<String>>(
        local_site: &str,
        other_sites: impl IntoIterator<Item = S>,
        connector: impl Connector,
    ) -> Result<Protector> {
        let local = check_site_name(local_site)?.to_string();
        let key = SecretKey::generate();
        let mut builder = Protector::builder()
            .with_local_site(local.clone())
            .with_connector(Arc::new(connector))
            .with_options(EngineOptions::simulated());
        let mut sites = vec![local];
        for site in other_sites {
            sites.push(check_site_name(&site.into())?.to_string());
        }
        for site in sites {
            let store = Arc::new(SqliteStore::in_memory(key.clone())?);
            builder = builder.with_store(site, store);
        }
        builder.build()
    }
}

#[cfg(feature = "sqlite")]
impl OpenState {
    /// What [`StateDir::open`] needs to stand on `site`, with [`EngineOptions::from_env`]:
    /// no extra stores, no file skipped, and `site` taken as unknown to the transport (see
    /// [`OpenState::configured`]).
    pub fn new(site: impl Into<String>) -> OpenState {
        OpenState {
            local_site: site.into(),
            extra_sites: Vec::new(),
            local_site_configured: false,
            skip: None,
            options: EngineOptions::from_env(),
        }
    }

    /// Whether the transport has credentials for the local site (a clouds.yaml entry of that
    /// name, a token): then its store may be created before the site is registered.
    pub fn configured(mut self, configured: bool) -> OpenState {
        self.local_site_configured = configured;
        self
    }

    /// The engine's options.
    pub fn with_options(mut self, options: EngineOptions) -> OpenState {
        self.options = options;
        self
    }
}

#[cfg(feature = "sqlite")]
impl StateDir {
    /// The state directory the CLI and the Python module use: `given`, else
    /// `$PROTECTOR_STATE_DIR`, else [`StateDir::default_location`].
    pub fn resolve(given: Option<PathBuf>) -> Result<StateDir> {
        if let Some(dir) = given {
            return Ok(StateDir::new(dir));
        }
        if let Some(dir) = std::env::var_os(STATE_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(StateDir::new(PathBuf::from(dir)));
        }
        StateDir::default_location()
    }

    /// The engine standing on `site` over the stores here, reaching the sites through
    /// `connector`; `configured` says whether the connector has credentials for `site` (see
    /// [`OpenState::configured`]). Options: [`EngineOptions::from_env`]. See
    /// [`StateDir::open`] for the errors.
    pub async fn open_site(
        &self,
        site: &str,
        configured: bool,
        connector: Arc<dyn Connector>,
    ) -> Result<LocalEngine> {
        self.open(OpenState::new(site).configured(configured), connector)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_interval_lowers_the_ceiling_but_never_below_itself() {
        let default = EngineOptions::default();
        let short = EngineOptions::default().with_poll_interval(Duration::from_millis(20));
        assert_eq!(short.poll.interval, Duration::from_millis(20));
        assert_eq!(short.poll.max_interval, default.poll.max_interval / 4);
        let long = EngineOptions::default().with_poll_interval(default.poll.max_interval);
        assert_eq!(long.poll.max_interval, default.poll.max_interval);
        assert_eq!(short.member_concurrency, default.member_concurrency);
    }

    #[test]
    fn simulated_options_poll_back_to_back() {
        let options = EngineOptions::simulated();
        assert_eq!(options.poll.interval, Duration::ZERO);
        assert_eq!(options.member_concurrency, 8);
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn a_given_state_dir_wins() {
        let dir = StateDir::resolve(Some(PathBuf::from("/tmp/x"))).unwrap();
        assert_eq!(dir.path(), std::path::Path::new("/tmp/x"));
    }
}
