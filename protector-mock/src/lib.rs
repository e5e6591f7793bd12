//! # protector-mock
//!
//! Two simulated OpenStack sites (Keystone, Nova, Cinder with the Pure driver, Neutron) and one
//! simulated Pure Storage FlashArray per site, in one process, with state in SQLite. It is the
//! embedded backend of `protector demo`, the engine's test bed, and the evidence that protector
//! loses no data.
//!
//! ```no_run
//! # async fn demo() -> protector_core::Result<()> {
//! use protector_mock::Simulator;
//!
//! let sim = Simulator::in_memory()?;
//! let connector = sim.connector(); // a protector_core::api::Connector
//! let site_a = sim.site_registration("site-a").unwrap();
//! let array_a = sim.array_endpoint("site-a").unwrap();
//! let web1 = sim.find_server("site-a", "web-server-1").unwrap();
//! # let _ = (connector, site_a, array_a, web1);
//! # Ok(()) }
//! ```
//!
//! ## Model
//!
//! - **Deterministic.** Ids come from a seeded generator, the clock is simulated: every API call
//!   advances it by one second (one *tick*), and so does [`Simulator::tick`]. Two fresh
//!   simulators given the same calls end in the same state.
//! - **Data.** Every array volume carries a *fingerprint*: the sequence number of the last write
//!   it holds. Each tick, every volume attached to an ACTIVE server takes a write. Snapshots,
//!   replication and copies carry fingerprints, so "no data lost" means a recovered volume's
//!   fingerprint equals the source's last one. Each write also changes one 4 MiB block, and
//!   volumes and snapshots remember the last write of each block, so a volume's diff against a
//!   snapshot (`GET /volumes/diff`) is the blocks written since.
//! - **Asynchronous like the real services.** Servers BUILD before ACTIVE and stop on a later
//!   tick; a managed volume is `creating` until Cinder's driver renames the array volume on the
//!   next tick; replicated snapshots arrive over three ticks while the arrays can see each
//!   other.
//! - **Faults** (site or array down, partition, error rates, targeted failures, boot failures,
//!   Cinder policy, latency) are part of the saved state.
//! - **Layers.** All behaviour lives in the service layer (`cloud/`, `array/`, `tick.rs`) over
//!   the state (`state/`); the trait implementations only forward, so an HTTP face speaking the
//!   real wire APIs can share the same services.
//!
//! The seeded inventory, the credentials the connector understands and the fidelity notes
//! (what is simulated, what is not) are in this crate's `README.md`.

#![warn(missing_docs)]

mod adapters;
mod array;
mod cloud;
mod faults;
pub mod http;
mod inspect;
mod lineage;
mod seed;
mod simulator;
mod state;
mod tick;
mod writes;

pub use adapters::SimConnector;
pub use faults::{InjectedError, Service};
pub use inspect::{
    ArrayInventory, ArrayVolumeSummary, Inventory, NetworkSummary, PodSummary, PortSummary,
    ProtectionGroupSummary, RouterSummary, ServerSummary, SiteInventory, SnapshotSummary,
    SubnetSummary, VolumeSummary,
};
pub use lineage::{LineageKind, VolumeLineage};
pub use seed::{NewServer, ScaleSeed, ScaleSeeded, SeededProject, SeededServer};
pub use simulator::{HypervisorChange, QuotaChange, Simulator, SiteRegistration};
pub use tick::{Clock, Pace};

#[cfg(test)]
mod tests {
    #[test]
    fn simulator_is_shareable_across_tasks() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<super::Simulator>();
        assert_send_sync::<super::SimConnector>();
    }
}
