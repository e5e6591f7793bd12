//! wiremock tests of the FlashArray client: one binary, one module per area.

mod common;
mod diff;
mod errors;
mod pagination;
mod pgroups;
mod pods;
mod secrets;
mod session;
mod snapshots;
mod tls;
mod volumes;
