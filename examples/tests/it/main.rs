//! The integration tests of examples: one binary, one module per area. Scenarios that hold for
//! both faces of the simulator (in process, and the HTTP clients against its wire face) run
//! against each of them from one body ([`on_both_faces!`]).

#[macro_use]
mod common;
mod capacity;
mod conformance;
mod cycle;
mod failover;
mod lineage;
mod round_trips;
mod site_failover;
