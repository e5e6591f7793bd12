//! Builds the engine from the global options: the state directory with one store per site, the
//! key that encrypts secrets, and the transport.

use std::path::{Path, PathBuf};

use protector_core::engine::EngineOptions;
use protector_core::store::{check_site_name, LocalEngine, OpenState, StateDir};

use crate::args::GlobalOptions;
use crate::error::CliResult;
use crate::transport::Transport;

/// The engine of one CLI run, with the stores it was built from (the core's [`LocalEngine`]).
pub type Engine = LocalEngine;

/// What the core's [`StateDir`] needs to open the engine of a CLI run standing on `local`: the
/// transport's credentials and poll policy.
pub fn open_request(
    local: &str,
    transport: &Transport,
    extra_sites: &[&str],
) -> CliResult<OpenState> {
    let local_site = check_site_name(local)?.to_string();
    let skip = match transport {
        Transport::Simulator { path, .. } => Some(path.clone()),
        Transport::Wire { .. } => None,
    };
    let options = if transport.is_simulated() {
        // The simulator's clock advances with every call: polling does not need to sleep.
        EngineOptions::simulated()
    } else {
        // Against a served simulator `PROTECTOR_POLL_INTERVAL_MS` keeps operations quick;
        // real clouds keep the default back-off.
        EngineOptions::from_env()
    };
    Ok(OpenState {
        local_site_configured: transport.knows_cloud(&local_site)?,
        local_site,
        extra_sites: extra_sites.iter().map(|s| s.to_string()).collect(),
        skip,
        options,
    })
}

/// The engine over the stores in `state_dir`, standing on `local` (the core's
/// [`StateDir::open`], with the transport's credentials and poll policy).
pub async fn open_engine(
    state_dir: &Path,
    local: &str,
    transport: Transport,
    extra_sites: &[&str],
) -> CliResult<Engine> {
    let request = open_request(local, &transport, extra_sites)?;
    Ok(StateDir::new(state_dir)
        .open(request, transport.connector())
        .await?)
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
        let transport = self.transport()?;
        let mut request = open_request(&self.global.os_cloud, &transport, extra_sites)?;
        request.options.call_limits = self.global.call_limits();
        Ok(StateDir::new(&dir)
            .open(request, transport.connector())
            .await?)
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
