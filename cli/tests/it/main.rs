//! The integration tests of cli: one binary, one module per area.

#[macro_use]
mod common;
mod boot_order;
mod capacity;
mod cli;
mod crash;
mod dr_cycle;
mod dry_run;
mod evidence;
mod hooks;
mod lifecycle;
mod local_state;
mod operations;
mod races;
mod recovery_points;
mod sim;
mod validation;
