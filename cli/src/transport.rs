//! How the CLI reaches OpenStack and the FlashArrays.
//!
//! Today the only transport is the embedded simulator (`--sim-state FILE`): protector's HTTP
//! clients are not wired in yet. Without it, every call that needs a site or an array fails
//! with a configuration error that says so; nothing is faked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use protector_core::api::{ArrayApi, Connector, SiteClients};
use protector_core::model::{ArrayEndpoint, Site};
use protector_core::{Error, ErrorKind, Result};
use protector_mock::Simulator;

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
    /// protector's HTTP clients (`protector-openstack`, `protector-pure`), here against the
    /// simulator's wire face on loopback; the simulator is kept for the demo's own checks.
    Wire {
        /// The simulator behind the wire face.
        simulator: Arc<Simulator>,
        /// OpenStack and FlashArray clients over HTTP(S).
        connector: Arc<dyn Connector>,
    },
    /// None configured: calls to sites and arrays fail with [`no_transport`].
    None,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Simulator { path, .. } => write!(f, "Simulator({})", path.display()),
            Transport::Wire { .. } => f.write_str("Wire"),
            Transport::None => f.write_str("None"),
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

    /// The connector handed to the engine.
    pub fn connector(&self) -> Arc<dyn Connector> {
        match self {
            Transport::Simulator { simulator, .. } => Arc::new(simulator.connector()),
            Transport::Wire { connector, .. } => connector.clone(),
            Transport::None => Arc::new(NoTransport),
        }
    }

    /// The simulator, or the error saying that the command needs a transport.
    pub fn require(&self) -> Result<Arc<Simulator>> {
        match self {
            Transport::Simulator { simulator, .. } | Transport::Wire { simulator, .. } => {
                Ok(simulator.clone())
            }
            Transport::None => Err(no_transport()),
        }
    }
}

/// The error of every call that needs OpenStack or a FlashArray when no transport is set.
pub fn no_transport() -> Error {
    Error::new(
        ErrorKind::ConfigInvalid,
        "no transport to OpenStack configured: this version reaches sites and FlashArrays only \
         through the simulator; pass --sim-state FILE (or set PROTECTOR_SIM_STATE), or run \
         `protector demo` to see a whole failover",
    )
}

/// A connector that refuses: no transport is configured.
#[derive(Debug)]
struct NoTransport;

#[async_trait]
impl Connector for NoTransport {
    async fn site(&self, _site: &Site) -> Result<SiteClients> {
        Err(no_transport())
    }

    async fn array(&self, _endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        Err(no_transport())
    }
}
