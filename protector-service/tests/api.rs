//! protector-api end to end: a real server on a loopback port, called over HTTP (raw, and
//! through protector-openstack's `RemoteStore`), with Keystone simulated (wiremock for its edge
//! cases, the simulator for real tokens).

#[path = "api/binary.rs"]
mod binary;
#[path = "api/conformance.rs"]
mod conformance;
#[path = "api/database.rs"]
mod database;
#[path = "api/keystone.rs"]
mod keystone;
#[path = "api/scoping.rs"]
mod scoping;
#[path = "api/support.rs"]
mod support;
#[path = "api/two_sites.rs"]
mod two_sites;
