//! protector-api, a site's protector service (spec/004), from both ends: [`RemoteStore`], a
//! front-end's [`Store`](protector_core::store::Store) of one site over that site's
//! protector-api, and [`TokenValidator`], the service's check of its callers' Keystone tokens.
//!
//! The resources, bodies and errors are protector-core's wire contract
//! (`protector_core::store::remote`).

mod lease;
mod store;
mod validator;

pub use lease::settle_releases;
pub use store::RemoteStore;
pub use validator::TokenValidator;
