//! How the CLI reaches OpenStack and the FlashArrays.
//!
//! By default over the wire: protector-openstack with the clouds.yaml entry of each site (found
//! the way the openstack CLI finds it: `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
//! `~/.config/openstack/clouds.yaml`, `/etc/openstack/clouds.yaml`, plus `OS_*` variables), and
//! protector-pure with the array endpoints of each group's replication policy. `--sim-state
//! FILE` swaps in the in-process simulator instead (tests, and exploring a `demo --keep`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protector_core::api::{CombinedConnector, Connector};
use protector_core::{Error, ErrorKind, Result};
use protector_mock::{SimConnector, Simulator};
use protector_openstack::OpenStackConnector;
use protector_pure::FlashArrayConnector;

/// The transport of one CLI run.
#[derive(Clone)]
pub enum Transport {
    /// The two-site simulator with its state in a file.
    Simulator {
        /// The simulator.
        simulator: Arc<Simulator>,
        /// Its state file.
        path: PathBuf,
    },
    /// protector's HTTP clients (`protector-openstack`, `protector-pure`).
    Wire {
        /// The simulator behind a loopback wire face, when the demo serves one (kept for the
        /// demo's own checks); `None` against real clouds or a separate `protector sim serve`.
        simulator: Option<Arc<Simulator>>,
        /// OpenStack and FlashArray clients over HTTP(S).
        connector: Arc<dyn Connector>,
    },
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Simulator { path, .. } => write!(f, "Simulator({})", path.display()),
            Transport::Wire { .. } => f.write_str("Wire"),
        }
    }
}

impl Transport {
    /// Opens the simulator whose state is in `path` (created, with the default inventory, when
    /// the file does not exist).
    pub fn simulator(path: &Path) -> Result<Transport> {
        let simulator = Simulator::open(path).map_err(|e| {
            if e.kind() == ErrorKind::ConfigInvalid {
                e
            } else {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "cannot open the simulator state {}: {}",
                        path.display(),
                        e.message()
                    ),
                )
            }
        })?;
        Ok(Transport::Simulator {
            simulator: Arc::new(simulator),
            path: path.to_path_buf(),
        })
    }

    /// The connector handed to the engine, with the HTTP client of URL hooks.
    pub fn connector(&self) -> Arc<dyn Connector> {
        let inner: Arc<dyn Connector> = match self {
            Transport::Simulator { simulator, .. } => Arc::new(simulator.connector()),
            Transport::Wire { connector, .. } => connector.clone(),
        };
        protector_connect::with_url_hooks(inner)
    }

    /// The HTTP clients, reading clouds.yaml and the `OS_*` variables of this process.
    pub fn wire_from_process() -> Transport {
        Transport::Wire {
            simulator: None,
            connector: Arc::new(CombinedConnector {
                sites: Arc::new(OpenStackConnector::from_process()),
                arrays: Arc::new(FlashArrayConnector::new()),
            }),
        }
    }

    /// The simulator behind this transport, if there is one in this process.
    pub fn simulator_handle(&self) -> Result<Arc<Simulator>> {
        match self {
            Transport::Simulator { simulator, .. }
            | Transport::Wire {
                simulator: Some(simulator),
                ..
            } => Ok(simulator.clone()),
            Transport::Wire {
                simulator: None, ..
            } => Err(Error::new(
                ErrorKind::ConfigInvalid,
                "this command needs the in-process simulator: pass --sim-state FILE",
            )),
        }
    }

    /// Whether `cloud` names a cloud this transport can reach: an entry of the simulated
    /// clouds.yaml, or of the clouds.yaml this process finds. `ConfigInvalid` when that
    /// clouds.yaml cannot be read.
    pub fn knows_cloud(&self, cloud: &str) -> Result<bool> {
        match self {
            Transport::Simulator { .. }
            | Transport::Wire {
                simulator: Some(_), ..
            } => Ok(SimConnector::has_cloud(cloud)),
            Transport::Wire {
                simulator: None, ..
            } => protector_connect::knows_cloud(cloud),
        }
    }

    /// Whether calls poll a simulated clock (which advances per call, so polls need not wait).
    pub fn is_simulated(&self) -> bool {
        matches!(
            self,
            Transport::Simulator { .. }
                | Transport::Wire {
                    simulator: Some(_),
                    ..
                }
        )
    }
}
