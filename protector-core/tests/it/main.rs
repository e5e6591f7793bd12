//! The integration tests of protector-core: one binary, one module per area.

mod common;
mod concurrency;
mod crash;
mod drill;
mod dry_run;
mod failback;
mod failover;
mod hooks;
mod leaks;
mod lifecycle;
mod operation_lifecycle;
mod overview;
mod peer_store;
mod pods;
mod recover;
mod replication_outage;
mod rollback;
mod site_mode;
mod site_resume;
mod tenants;
mod validation;
