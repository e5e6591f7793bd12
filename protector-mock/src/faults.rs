//! Fault injection: what can go wrong, kept in the simulator's state so that a reopened
//! simulator fails the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use protector_core::{Error, ErrorKind};

/// A service of one simulated site. `Array` is the site's FlashArray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Keystone.
    Identity,
    /// Nova.
    Compute,
    /// Cinder.
    Volume,
    /// Neutron.
    Network,
    /// The site's FlashArray.
    Array,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 5] = [
        Service::Identity,
        Service::Compute,
        Service::Volume,
        Service::Network,
        Service::Array,
    ];

    /// The spelling used in fault settings and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Compute => "compute",
            Service::Volume => "volume",
            Service::Network => "network",
            Service::Array => "array",
        }
    }

    /// The product name used in simulated error messages.
    pub(crate) fn product(self) -> &'static str {
        match self {
            Service::Identity => "Keystone",
            Service::Compute => "Nova",
            Service::Volume => "Cinder",
            Service::Network => "Neutron",
            Service::Array => "FlashArray",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown simulated service '{s}'; use identity, compute, volume, network or array"
                ))
            })
    }
}

/// An error a service answers at random (see [`crate::Simulator::set_error_rate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "error")]
pub enum InjectedError {
    /// HTTP 500: `Unavailable`, retryable; the request had no effect.
    InternalServerError,
    /// HTTP 503: `Unavailable`, retryable; the request had no effect.
    ServiceUnavailable,
    /// HTTP 429 with `Retry-After`: `RateLimited`, retryable; the request had no effect. The
    /// error carries the delay as context `retry_after_secs`.
    TooManyRequests {
        /// Seconds the client is asked to wait.
        retry_after_secs: u64,
    },
    /// The response never arrives: `Timeout`, retryable. The request **was applied** (the
    /// response was lost), so a caller that re-sends a non-idempotent request duplicates it.
    Timeout,
}

impl InjectedError {
    pub(crate) fn to_error(self, site: &str, service: Service, operation: &str) -> Error {
        let product = service.product();
        match self {
            InjectedError::InternalServerError => Error::new(
                ErrorKind::Unavailable,
                format!("{product} on {site} returned 500 Internal Server Error for {operation} (simulated)"),
            ),
            InjectedError::ServiceUnavailable => Error::new(
                ErrorKind::Unavailable,
                format!("{product} on {site} returned 503 Service Unavailable for {operation} (simulated)"),
            ),
            InjectedError::TooManyRequests { retry_after_secs } => Error::new(
                ErrorKind::RateLimited,
                format!(
                    "{product} on {site} returned 429 Too Many Requests for {operation}; retry after {retry_after_secs} s (simulated)"
                ),
            )
            .with_context("retry_after_secs", retry_after_secs.to_string()),
            InjectedError::Timeout => Error::new(
                ErrorKind::Timeout,
                format!("{product} on {site} did not answer {operation} in time; the request may have been applied (simulated)"),
            ),
        }
    }

    pub(crate) fn applies_request(self) -> bool {
        matches!(self, InjectedError::Timeout)
    }
}

/// A random error rate of one service of one site.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ErrorRate {
    pub rate: f64,
    pub error: InjectedError,
}

/// A targeted failure of the next calls of one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FailNext {
    pub site: String,
    pub service: Service,
    pub operation: String,
    pub kind: ErrorKind,
    pub message: String,
    pub remaining: u32,
    /// The request takes effect, then the error is returned (a lost response).
    pub after_apply: bool,
}

/// Every fault currently injected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Faults {
    pub sites_down: BTreeSet<String>,
    pub arrays_down: BTreeSet<String>,
    pub partition: bool,
    /// `site/service` → rate.
    pub error_rates: BTreeMap<String, ErrorRate>,
    pub fail_next: Vec<FailNext>,
    /// `site/server name` → fault message of the next boot.
    pub boot_failures: BTreeMap<String, String>,
    /// Sites whose Cinder lets project members manage, unmanage and list services.
    pub manage_policy_open: BTreeSet<String>,
    /// `site/service` → milliseconds.
    pub latency_ms: BTreeMap<String, u64>,
    /// Site → how many times its array was powered off. Survives [`crate::Simulator::clear`]:
    /// the REST face drops its sessions when this changes (an array forgets its sessions when
    /// it restarts).
    #[serde(default)]
    pub array_power_cycles: BTreeMap<String, u64>,
}

pub(crate) fn fault_key(site: &str, service: Service) -> String {
    format!("{site}/{service}")
}

/// The error of every call to a site that is down.
pub(crate) fn site_down_error(site: &str) -> Error {
    Error::unavailable(format!(
        "{site} is unreachable: connection refused (simulated)"
    ))
}

/// The error of every call to an array that is down.
pub(crate) fn array_down_error(array: &str) -> Error {
    Error::unavailable(format!(
        "{array} is unreachable: connection refused (simulated)"
    ))
}
