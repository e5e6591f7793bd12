//! The integration tests of protector-core: one binary, one module per area.

mod boot_order;
mod common;
mod concurrency;
mod crash;
mod drill;
mod drill_report;
mod dry_run;
mod estimate;
mod failback;
mod failover;
mod hooks;
mod leak_scan;
mod leaks;
mod lifecycle;
mod operation_lifecycle;
mod overview;
mod peer_store;
mod pods;
mod recover;
mod recovery_points;
mod replication_outage;
mod rollback;
mod site_mode;
mod site_resume;
mod tenants;
mod validation;
