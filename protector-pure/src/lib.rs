//! FlashArray REST 2.x client implementing [`protector_core::api::ArrayApi`] over HTTPS.
//!
//! - [`FlashArrayClient`], built with [`FlashArrayClient::builder`] or
//!   [`FlashArrayClient::from_endpoint`]: TLS verified by default (rustls with ring; system and
//!   Mozilla roots plus an optional CA bundle), insecure only on request.
//! - The session: REST version negotiated from `GET /api/api_version` (the highest of
//!   [`supported_api_versions`] the array offers), login with the API token (the first one sent
//!   together with the version list, at the version expected, and again at the negotiated one
//!   when the array is older), one re-login on 401, logout on [`FlashArrayClient::close`].
//! - Errors: [`parse_error`] turns every HTTP error into a [`protector_core::Error`] with a kind,
//!   a retry status, and the array, object and request id in its context.
//! - Retries: the policy both HTTP clients share (`protector-http`): [`should_retry`] with
//!   [`RetryConfig`]'s backoff and `Retry-After`.
//! - Listings follow pages; [`Filter`] and [`Sort`] render the query grammar.
//!
//! Secrets (the API token and the session token) travel only in request headers marked
//! sensitive; they never appear in `Debug` output, logs, errors or URLs.

#![warn(missing_docs)]

mod api;
mod auth;
mod builder;
mod calls;
mod client;
mod connector;
mod error;
mod filter;
mod request;
mod wire;

pub use auth::{supported_api_versions, ApiVersion, MAX_API_VERSION, MIN_API_VERSION};
pub use builder::{
    FlashArrayClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PAGE_SIZE, DEFAULT_TIMEOUT,
};
pub use client::FlashArrayClient;
pub use connector::FlashArrayConnector;
pub use error::{parse_error, ErrorContext};
pub use filter::{Filter, FilterValue, Sort};
pub use protector_http::{should_retry, Failure, RetryConfig};
