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
