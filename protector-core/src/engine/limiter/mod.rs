//! Per-service concurrency and rate limits: every call the engine makes to a site's Keystone,
//! Nova, Cinder or Neutron, or to a FlashArray, passes a gate keyed by (site or array,
//! service) that all groups and operations of one engine share, so that a site failover of
//! many groups, each working on many members, never sends more than the operator allows to
//! one service (no stampede on one Cinder), and nothing waits while a service has room.
//!
//! The gates are decorators over the API traits (`decorators.rs`), put around every client
//! the connector hands out (`LimitedConnector`, made by `ProtectorBuilder::build`). A gate
//! also counts the calls that went through it ([`crate::Protector::api_calls`]).
//!
//! Defaults ([`CallLimits::default`]): 128 calls at once per OpenStack service per site, 128
//! per array, no rate limit. A failover's calls to Nova, Cinder and Neutron are short and
//! mostly asynchronous (a stop, a manage, a boot is accepted with 202 and done later), so
//! what bounds them is the API tier: a production cloud's three controllers, each with
//! several WSGI workers serving many requests each, behind a balancer, take 128 at once from
//! one client. A failover's copies are two or three per VM on one array; the array answers
//! "busy" or 429 when it wants fewer, and the client then backs off as its `Retry-After`
//! says. Each wave beyond the first costs a dependent step a round trip: with 32, 20 VMs' 40
//! copies and 40 manages went in two waves each; with 64, a ten-group site failover (100 VMs:
//! 100 stops, 200 copies, 200 manages, 100 boots) recovered in 2.0 times its critical path,
//! with 128 in 1.75 times, and 1,000 VMs in 6.3 s instead of 7.4 s; 256 measured no better
//! than 128. Operators of smaller clouds lower them (`--openstack-concurrency`,
//! `--array-concurrency`, or a rate limit).

mod batch;
#[cfg(test)]
mod batch_tests;
mod decorators;
mod flight;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::api::{
    ArrayApi, BlockStorageApi, ComputeApi, Connector, HookCaller, IdentityApi, NetworkApi,
    SiteClients,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{ArrayEndpoint, Site};
use crate::store::Store;

use batch::PortBatcher;
use decorators::{
    LimitedArray, LimitedBlockStorage, LimitedCompute, LimitedIdentity, LimitedNetwork,
};
use flight::Flight;

/// Default calls at once per OpenStack service (Keystone, Nova, Cinder, Neutron) per site.
pub const DEFAULT_OPENSTACK_CONCURRENCY: usize = 128;
/// Default calls at once per FlashArray: as many as per OpenStack service (a failover's copies
/// are two per VM on one array; the array answers "busy" or 429 when it wants fewer, and the
/// client then backs off as its `Retry-After` says).
pub const DEFAULT_ARRAY_CONCURRENCY: usize = 128;

/// How many calls the engine sends at once, and how fast, to each service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallLimits {
    /// At most this many calls at once to each OpenStack service (Keystone, Nova, Cinder,
    /// Neutron) of each site; at least 1.
    pub openstack_concurrency: usize,
    /// At most this many calls at once to each FlashArray; at least 1.
    pub array_concurrency: usize,
    /// At most this many calls per second to each service of each site and to each array;
    /// `None` (the default): no rate limit.
    pub calls_per_second: Option<u32>,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            openstack_concurrency: DEFAULT_OPENSTACK_CONCURRENCY,
            array_concurrency: DEFAULT_ARRAY_CONCURRENCY,
            calls_per_second: None,
        }
    }
}

impl CallLimits {
    /// `ConfigInvalid` for a limit of 0 (nothing could ever be sent).
    pub fn check(&self) -> Result<()> {
        let zero = |what: &str| {
            Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!("{what} must be at least 1 (it bounds how many calls the engine sends at once; 0 would send none)"),
            ))
        };
        if self.openstack_concurrency == 0 {
            return zero("the OpenStack concurrency limit (calls at once per service per site)");
        }
        if self.array_concurrency == 0 {
            return zero("the FlashArray concurrency limit (calls at once per array)");
        }
        if self.calls_per_second == Some(0) {
            return zero("the rate limit (calls per second per service)");
        }
        Ok(())
    }
}

/// A service the engine calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiService {
    /// Keystone.
    Identity,
    /// Nova.
    Compute,
    /// Cinder.
    BlockStorage,
    /// Neutron.
    Network,
    /// A FlashArray.
    Array,
}

impl ApiService {
    /// The name in messages and counts (`compute`, `block_storage`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            ApiService::Identity => "identity",
            ApiService::Compute => "compute",
            ApiService::BlockStorage => "block_storage",
            ApiService::Network => "network",
            ApiService::Array => "array",
        }
    }
}

/// How many calls went to one service of one site (or one array, by its URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCalls {
    /// The site's name, or the array's management URL.
    pub place: String,
    /// The service.
    pub service: ApiService,
    /// Calls sent since the engine was built.
    pub calls: u64,
}

/// Spaces calls `interval` apart: each call takes the next free slot.
#[derive(Debug)]
struct Pace {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

/// The slot a call made at `now` takes, given the next free one; moves the next free one on.
fn reserve(next: &mut Option<Instant>, now: Instant, interval: Duration) -> Instant {
    let slot = next.map_or(now, |n| n.max(now));
    *next = Some(slot + interval);
    slot
}

impl Pace {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            reserve(&mut next, Instant::now(), self.interval)
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The gate of one service of one site: a concurrency bound, an optional pace, a count.
pub(crate) struct Gate {
    permits: Semaphore,
    limit: usize,
    pace: Option<Pace>,
    calls: AtomicU64,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("limit", &self.limit)
            .field(
                "in_flight",
                &(self.limit - self.permits.available_permits()),
            )
            .field("calls", &self.calls.load(Ordering::Relaxed))
            .finish()
    }
}

impl Gate {
    pub(crate) fn new(limit: usize, calls_per_second: Option<u32>) -> Gate {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Gate {
            permits: Semaphore::new(limit),
            limit,
            pace: calls_per_second.map(|rate| Pace {
                interval: Duration::from_secs(1) / rate.max(1),
                next: Mutex::new(None),
            }),
            calls: AtomicU64::new(0),
        }
    }

    /// Waits for room, then lets one call through; the call holds the permit until it ends.
    pub(crate) async fn enter(&self) -> SemaphorePermit<'_> {
        // The semaphore is never closed.
        let permit = self
            .permits
            .acquire()
            .await
            .unwrap_or_else(|_| unreachable!("the gate's semaphore is never closed"));
        if let Some(pace) = &self.pace {
            pace.wait().await;
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        permit
    }
}

/// The gates of one engine, made on first use.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: CallLimits,
    gates: Mutex<BTreeMap<(String, ApiService), Arc<Gate>>>,
    wrapped: Wrapped,
}

/// The client a decorator wraps, by site and the wrapped client's address.
type WrapKey = (String, usize);

/// The decorators in use, by what they wrap: a connector that hands out the same client again
/// (it keeps one per cloud and project) gets the same decorator back while one is in use, so
/// what is keyed by a client's identity (the pollers `engine/bulk_wait.rs` shares between
/// every waiter of one client, across the groups of a site failover) sees one client, not one
/// per call. Held weakly: a connector that makes clients afresh leaves nothing behind. A live
/// decorator holds its client, so the address of a live entry is not another client's.
#[derive(Debug, Default)]
struct Wrapped {
    identity: Mutex<BTreeMap<WrapKey, Weak<dyn IdentityApi>>>,
    compute: Mutex<BTreeMap<WrapKey, Weak<dyn ComputeApi>>>,
    block_storage: Mutex<BTreeMap<WrapKey, Weak<dyn BlockStorageApi>>>,
    network: Mutex<BTreeMap<WrapKey, Weak<dyn NetworkApi>>>,
    array: Mutex<BTreeMap<WrapKey, Weak<dyn ArrayApi>>>,
}

/// The decorator of `inner` on `site` in use, or a new one from `make`.
fn wrapped<T: ?Sized>(
    made: &Mutex<BTreeMap<WrapKey, Weak<T>>>,
    site: &str,
    inner: Arc<T>,
    make: impl FnOnce(Arc<T>) -> Arc<T>,
) -> Arc<T> {
    let key = (site.to_string(), Arc::as_ptr(&inner).cast::<()>() as usize);
    let mut made = made.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(live) = made.get(&key).and_then(Weak::upgrade) {
        return live;
    }
    made.retain(|_, weak| weak.strong_count() > 0);
    let decorator = make(inner);
    made.insert(key, Arc::downgrade(&decorator));
    decorator
}

impl Limiter {
    pub(crate) fn new(limits: CallLimits) -> Limiter {
        Limiter {
            limits,
            gates: Mutex::new(BTreeMap::new()),
            wrapped: Wrapped::default(),
        }
    }

    pub(crate) fn gate(&self, place: &str, service: ApiService) -> Arc<Gate> {
        let limit = match service {
            ApiService::Array => self.limits.array_concurrency,
            _ => self.limits.openstack_concurrency,
        };
        self.gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((place.to_string(), service))
            .or_insert_with(|| Arc::new(Gate::new(limit, self.limits.calls_per_second)))
            .clone()
    }

    /// The calls counted so far, by place and service.
    pub(crate) fn calls(&self) -> Vec<ApiCalls> {
        self.gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((place, service), gate)| ApiCalls {
                place: place.clone(),
                service: *service,
                calls: gate.calls.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// `clients` with every call through this limiter's gates of their site.
    /// The same decorators for the same clients (see [`Wrapped`]).
    fn site_clients(&self, clients: SiteClients) -> SiteClients {
        let site = clients.site.clone();
        let made = &self.wrapped;
        SiteClients {
            identity: wrapped(&made.identity, &site, clients.identity, |inner| {
                Arc::new(LimitedIdentity {
                    inner,
                    gate: self.gate(&site, ApiService::Identity),
                })
            }),
            compute: wrapped(&made.compute, &site, clients.compute, |inner| {
                Arc::new(LimitedCompute {
                    inner,
                    gate: self.gate(&site, ApiService::Compute),
                })
            }),
            block_storage: wrapped(&made.block_storage, &site, clients.block_storage, |inner| {
                Arc::new(LimitedBlockStorage {
                    inner,
                    gate: self.gate(&site, ApiService::BlockStorage),
                })
            }),
            network: wrapped(&made.network, &site, clients.network, |inner| {
                let gate = self.gate(&site, ApiService::Network);
                Arc::new(LimitedNetwork {
                    ports: Arc::new(PortBatcher::new(inner.clone(), gate.clone())),
                    inner,
                    gate,
                })
            }),
            site,
        }
    }
}

/// A [`Connector`] whose clients go through a [`Limiter`].
#[derive(Debug)]
pub(crate) struct LimitedConnector {
    pub(crate) inner: Arc<dyn Connector>,
    pub(crate) limiter: Arc<Limiter>,
}

#[async_trait]
impl Connector for LimitedConnector {
    async fn site(&self, site: &Site) -> Result<SiteClients> {
        Ok(self.limiter.site_clients(self.inner.site(site).await?))
    }

    async fn site_for_project(&self, site: &Site, project_id: &str) -> Result<SiteClients> {
        Ok(self
            .limiter
            .site_clients(self.inner.site_for_project(site, project_id).await?))
    }

    async fn array(&self, endpoint: &ArrayEndpoint) -> Result<Arc<dyn ArrayApi>> {
        let inner = self.inner.array(endpoint).await?;
        Ok(wrapped(
            &self.limiter.wrapped.array,
            &endpoint.url,
            inner,
            |inner| {
                Arc::new(LimitedArray {
                    inner,
                    gate: self.limiter.gate(&endpoint.url, ApiService::Array),
                    info: Flight::default(),
                    connections: Flight::default(),
                })
            },
        ))
    }

    async fn metadata_service(&self, site: &str) -> Result<Option<String>> {
        self.inner.metadata_service(site).await
    }

    async fn metadata_store(&self, site: &str, endpoint: &str) -> Result<Arc<dyn Store>> {
        self.inner.metadata_store(site, endpoint).await
    }

    fn hook_caller(&self) -> Option<Arc<dyn HookCaller>> {
        self.inner.hook_caller()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn calls_take_the_next_free_slot() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let mut next = None;
        assert_eq!(reserve(&mut next, start, interval), start);
        assert_eq!(reserve(&mut next, start, interval), start + interval);
        assert_eq!(reserve(&mut next, start, interval), start + interval * 2);
        // After a quiet spell the next call goes at once: no burst is saved up.
        let later = start + Duration::from_secs(5);
        assert_eq!(reserve(&mut next, later, interval), later);
        assert_eq!(reserve(&mut next, later, interval), later + interval);
    }

    #[test]
    fn a_limit_of_zero_is_refused() {
        assert!(CallLimits::default().check().is_ok());
        for limits in [
            CallLimits {
                openstack_concurrency: 0,
                ..CallLimits::default()
            },
            CallLimits {
                array_concurrency: 0,
                ..CallLimits::default()
            },
            CallLimits {
                calls_per_second: Some(0),
                ..CallLimits::default()
            },
        ] {
            let err = limits.check().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
            assert!(err.message().contains("must be at least 1"), "{err}");
        }
    }
}
