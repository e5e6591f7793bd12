//! The HTTP plumbing shared by protector's OpenStack and FlashArray clients.
//!
//! protector-core has no HTTP stack; this crate holds what both HTTP clients need, so that the
//! two follow one set of rules:
//!
//! - [`retry`]: the retry policy, one classification ([`classify`]) and one loop
//!   ([`RetryConfig::send`], on the `backon` crate): 408, 429 and 503 are retried for every
//!   request; other 5xx (except 501 and 505), timeouts and connections broken after sending only
//!   for idempotent requests; a connection that could not be made always; an untrusted
//!   certificate never. `Retry-After` (seconds or an HTTP date) is honoured up to a cap.
//! - [`transport`]: what a failure without an answer means ([`TransportFailure`]): its
//!   [`ErrorKind`](protector_core::ErrorKind), whether it may be retried, whether the request may
//!   have run; the untrusted-certificate case named as such.
//! - [`tls`]: one way to build the `reqwest` client: rustls with ring, the built-in and system
//!   roots or only a CA bundle, verification off only on request, no redirects.
//! - [`request_id`]: the request id of an answer, for errors and logs.
//! - [`redact`]: secrets out of headers, JSON bodies and text shown in errors or logs.
#![warn(missing_docs)]

pub mod redact;
pub mod request_id;
pub mod retry;
pub mod send;
pub mod tls;
pub mod transport;
mod verify;

pub use retry::{
    classify, is_idempotent, may_have_run, parse_retry_after, retry_after, retry_status,
    should_retry, Decision, Failure, RetryConfig, RetryEvent,
};
pub use send::{Answer, Call, Sent, TransportError};
pub use tls::{HttpClientBuilder, TlsError, TrustedRoots};
pub use transport::TransportFailure;
