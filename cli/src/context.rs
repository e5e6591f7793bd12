//! Builds the engine from the global options: the state directory with one store per site, the
//! key that encrypts secrets, and the transport.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use protector_core::engine::{EngineOptions, PollPolicy};
use protector_core::store::{check_site_name, OpenState, StateDir, Store};
use protector_core::Protector;

use crate::args::GlobalOptions;
use crate::error::CliResult;
use crate::transport::Transport;

/// The engine of one CLI run, with what it was built from.
pub struct Engine {
    pub protector: Protector,
    pub stores: BTreeMap<String, Arc<dyn Store>>,
}

impl Engine {
    /// The engine over the stores in `state_dir`, standing on `local` (the core's
    /// [`StateDir::open`], with the transport's credentials and poll policy).
    pub async fn open(
        state_dir: &Path,
        local: &str,
        transport: Transport,
        extra_sites: &[&str],
    ) -> CliResult<Engine> {
        let local_site = check_site_name(local)?.to_string();
        let skip = match &transport {
            Transport::Simulator { path, .. } => Some(path.clone()),
            Transport::Wire { .. } => None,
        };
        let options = if transport.is_simulated() {
            // The simulator's clock advances with every call: polling does not need to sleep.
            EngineOptions {
                poll: PollPolicy::immediate(2000),
                member_concurrency: 8,
            }
        } else {
            let mut options = EngineOptions::default();
            // Against a served simulator a short interval keeps operations quick; real clouds
            // keep the default back-off.
            if let Some(ms) = std::env::var("PROTECTOR_POLL_INTERVAL_MS")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                options.poll.interval = std::time::Duration::from_millis(ms);
                options.poll.max_interval =
                    options.poll.interval.max(options.poll.max_interval / 4);
            }
            options
        };
        let request = OpenState {
            local_site_configured: transport.knows_cloud(&local_site)?,
            local_site,
            extra_sites: extra_sites.iter().map(|s| s.to_string()).collect(),
            skip,
            options,
        };
        let opened = StateDir::new(state_dir)
            .open(request, transport.connector())
            .await?;
        Ok(Engine {
            protector: opened.protector,
            stores: opened.stores,
        })
    }

    pub async fn share_site_registrations(&self) -> CliResult<()> {
        let sites = self.protector.sites().await?;
        for store in self.stores.values() {
            let known: BTreeSet<String> = store
                .list_sites()
                .await?
                .into_iter()
                .map(|s| s.name)
                .collect();
            for site in &sites {
                if !known.contains(&site.name) {
                    store.put_site(site).await?;
                }
            }
        }
        Ok(())
    }
}

/// The global options, resolved.
pub struct Context {
    /// As given on the command line and in the environment.
    pub global: GlobalOptions,
}

impl Context {
    /// The state directory: `--state-dir`, else `$XDG_DATA_HOME/protector`, else
    /// `~/.local/share/protector`.
    pub fn state_dir(&self) -> CliResult<PathBuf> {
        match &self.global.state_dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(StateDir::default_location()?.path().to_path_buf()),
        }
    }

    pub fn transport(&self) -> CliResult<Transport> {
        match &self.global.sim_state {
            Some(path) => Ok(Transport::simulator(path)?),
            None => Ok(Transport::wire_from_process()),
        }
    }

    /// The engine standing on `--os-cloud`; `extra_sites` get a store too.
    pub async fn engine(&self, extra_sites: &[&str]) -> CliResult<Engine> {
        let dir = self.state_dir()?;
        Engine::open(&dir, &self.global.os_cloud, self.transport()?, extra_sites).await
    }

    /// Like [`Context::engine`]; for commands that reach OpenStack or a FlashArray.
    pub async fn engine_with_transport(&self) -> CliResult<Engine> {
        self.engine(&[]).await
    }
}

/// `name` when it can name a site's store file.
pub fn checked_site_name(name: &str) -> CliResult<&str> {
    Ok(check_site_name(name)?)
}
