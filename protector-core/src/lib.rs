//! # protector-core
//!
//! Disaster recovery for OpenStack VMs whose volumes live on replicated Pure Storage
//! FlashArrays. This crate holds the domain model ([`model`]), one trait per external system
//! ([`api`]), protector's metadata store ([`store`]), plans ([`plan`]) and the engine that turns
//! a plan into running VMs on the other site ([`engine`]). [`views`] says what each resource
//! looks like to a person, for every front-end.
//!
//! The crate has no HTTP: transports implement the [`api`] traits (`protector-openstack`,
//! `protector-pure`, or the simulator in `protector-mock`) and are handed to the engine through a
//! [`api::Connector`].
//!
//! ## Start here
//!
//! - [`Protector::in_memory`]: an engine over in-memory stores, for tests and the simulator
//!   (`protector-mock`); [`store::StateDir::open_site`]: over a state directory, like the CLI.
//!   Against real clouds, `protector-connect`'s `from_clouds` and `from_token` (see
//!   [`connect`] for why they live there).
//! - [`guide`]: an example of each entry point (plan, validate, failover, failback, test
//!   failover, site failover, operations), run as doc tests against the simulator.
//! - Features: `sqlite` (default) for the SQLite store and state directories; without it,
//!   bring your own [`store::Store`]. `mariadb` for the MariaDB store of a site's services.
#![warn(missing_docs)]

pub mod api;
pub mod connect;
pub mod engine;
pub mod error;
pub mod guide;
pub mod model;
pub mod plan;
mod requests;
pub mod store;
pub mod views;

pub use engine::access;
pub use engine::Protector;
pub use error::{Error, ErrorKind, Result};
