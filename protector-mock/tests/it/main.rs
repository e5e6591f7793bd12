//! The integration tests of protector-mock: one binary, one module per area.

mod array;
mod block_storage;
mod common;
mod compute;
mod failover_flow;
mod faults;
mod http_flasharray;
mod http_identity;
mod http_network_create;
mod http_openstack;
mod http_openstack_services;
mod http_openstack_support;
mod inventory;
mod network;
mod scale_seed;
mod tenants;
mod writes;
