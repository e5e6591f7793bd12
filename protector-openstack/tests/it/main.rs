//! protector-openstack against wiremock: one module per service, plus configuration, errors
//! and retries, and secrecy.

mod block_storage;
mod capacity;
mod compute;
mod config;
mod connector;
mod errors;
mod identity;
mod keystone;
mod network;
mod protector_api;
mod secrets;
mod support;
mod token_auth;
mod volume_groups;
