//! The integration tests of cli: one binary, one module per area.

#[macro_use]
mod common;
mod capacity;
mod cli;
mod crash;
mod dr_cycle;
mod dry_run;
mod lifecycle;
mod local_state;
mod operations;
mod races;
mod sim;
mod validation;
