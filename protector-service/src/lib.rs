//! A site's protector services, as spec/004 deploys them on each site: `protector-manage`
//! (the database schema), `protector-api` (REST on port 8788, Keystone tokens, tenant-scoped)
//! and `protector-engine` (workers that claim and run the site's queued operations), all over
//! the site's own database and protector-core's lifecycle API. Configured by
//! `/etc/protector/protector.conf` ([`config`]).

pub mod api;
pub mod config;
pub mod engine;
pub mod process;
