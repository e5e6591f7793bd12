//! The gate bounds calls in flight: observed with a fake Nova whose calls wait until the test
//! lets them end, on a single-threaded runtime (every task runs until it waits, so what is in
//! flight after the runtime has run every ready task is exactly what the gate let through).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::decorators::{LimitedArray, LimitedCompute};
use super::flight::Flight;
use super::{ApiService, CallLimits, Limiter};
use crate::api::{
    ArrayApi, ArrayCapabilities, ArrayConnection, ArrayInfo, ArrayProtectionGroup, ArrayVolume,
    ComputeApi, CopyVolume, CreatePgSnapshot, CreateServer, Flavor, Keypair, ListServers,
    PgSnapshot, PgSnapshotTransfer, Pod, Server, VolumeSnapshot,
};
use crate::error::{Error, Result};

/// A Nova whose `get_server` counts itself in flight and waits for a release.
#[derive(Debug)]
struct HeldCompute {
    in_flight: AtomicUsize,
    most: AtomicUsize,
    release: Semaphore,
}

#[async_trait]
impl ComputeApi for HeldCompute {
    async fn get_server(&self, _id: &str) -> Result<Option<Server>> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        self.release.acquire().await.expect("open").forget();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(None)
    }
    async fn list_servers(&self, _filter: &ListServers) -> Result<Vec<Server>> {
        Err(Error::unexpected("not used"))
    }
    async fn create_server(&self, _request: &CreateServer) -> Result<Server> {
        Err(Error::unexpected("not used"))
    }
    async fn stop_server(&self, _id: &str) -> Result<()> {
        Err(Error::unexpected("not used"))
    }
    async fn start_server(&self, _id: &str) -> Result<()> {
        Err(Error::unexpected("not used"))
    }
    async fn delete_server(&self, _id: &str) -> Result<()> {
        Err(Error::unexpected("not used"))
    }
    async fn find_flavor(&self, _id_or_name: &str) -> Result<Option<Flavor>> {
        Err(Error::unexpected("not used"))
    }
    async fn list_flavors(&self) -> Result<Vec<Flavor>> {
        Err(Error::unexpected("not used"))
    }
    async fn get_keypair(&self, _name: &str) -> Result<Option<Keypair>> {
        Err(Error::unexpected("not used"))
    }
}

impl Default for HeldCompute {
    fn default() -> Self {
        HeldCompute {
            in_flight: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            release: Semaphore::new(0),
        }
    }
}

/// Lets every ready task of the current-thread runtime run until it waits.
async fn settle() {
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn at_most_the_limit_is_in_flight_and_every_call_ends() {
    let limiter = Limiter::new(CallLimits {
        openstack_concurrency: 2,
        ..CallLimits::default()
    });
    let fake = Arc::new(HeldCompute::default());
    let compute: Arc<dyn ComputeApi> = Arc::new(LimitedCompute {
        inner: fake.clone(),
        gate: limiter.gate("site-b", ApiService::Compute),
    });
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let compute = compute.clone();
            tokio::spawn(async move { compute.get_server(&format!("vm-{i}")).await })
        })
        .collect();
    settle().await;
    assert_eq!(
        fake.in_flight.load(Ordering::SeqCst),
        2,
        "two calls let through"
    );
    // Each call that ends lets one more through, never more than two at once.
    for left in (0..5).rev() {
        fake.release.add_permits(1);
        settle().await;
        assert_eq!(fake.in_flight.load(Ordering::SeqCst), left.min(2));
    }
    for call in calls {
        assert_eq!(call.await.expect("joined").expect("answered"), None);
    }
    assert_eq!(fake.most.load(Ordering::SeqCst), 2);
    let counted = limiter.calls();
    assert_eq!(counted.len(), 1);
    assert_eq!(
        (
            counted[0].place.as_str(),
            counted[0].service,
            counted[0].calls
        ),
        ("site-b", ApiService::Compute, 5)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn gates_are_per_site_and_service() {
    let limiter = Limiter::new(CallLimits {
        openstack_concurrency: 1,
        ..CallLimits::default()
    });
    let held = Arc::new(HeldCompute::default());
    let other = Arc::new(HeldCompute::default());
    let on_b: Arc<dyn ComputeApi> = Arc::new(LimitedCompute {
        inner: held.clone(),
        gate: limiter.gate("site-b", ApiService::Compute),
    });
    let on_a: Arc<dyn ComputeApi> = Arc::new(LimitedCompute {
        inner: other.clone(),
        gate: limiter.gate("site-a", ApiService::Compute),
    });
    let b = tokio::spawn(async move { on_b.get_server("x").await });
    let a = tokio::spawn(async move { on_a.get_server("y").await });
    settle().await;
    // site-b's call holding its only permit does not hold up site-a's.
    assert_eq!(held.in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(other.in_flight.load(Ordering::SeqCst), 1);
    held.release.add_permits(1);
    other.release.add_permits(1);
    assert!(b.await.unwrap().is_ok() && a.await.unwrap().is_ok());
}

/// The same client gets the same decorator while one is in use (what is keyed by a client's
/// identity stays shared), another client or site another; a decorator no longer in use is
/// forgotten.
#[test]
fn the_same_client_gets_the_same_decorator_while_in_use() {
    let limiter = Limiter::new(CallLimits::default());
    let made = &limiter.wrapped.compute;
    let wrap = |site: &str, inner: &Arc<dyn ComputeApi>| {
        super::wrapped(made, site, inner.clone(), |inner| {
            Arc::new(LimitedCompute {
                inner,
                gate: limiter.gate(site, ApiService::Compute),
            })
        })
    };
    let nova: Arc<dyn ComputeApi> = Arc::new(HeldCompute::default());
    let other: Arc<dyn ComputeApi> = Arc::new(HeldCompute::default());
    let first = wrap("site-a", &nova);
    assert!(Arc::ptr_eq(&first, &wrap("site-a", &nova)));
    assert!(!Arc::ptr_eq(&first, &wrap("site-a", &other)));
    assert!(!Arc::ptr_eq(&first, &wrap("site-b", &nova)));
    drop(first);
    // Nothing holds a decorator now: the next one made leaves only itself behind.
    let again = wrap("site-a", &nova);
    assert_eq!(made.lock().unwrap().len(), 1);
    assert_eq!(Arc::strong_count(&again), 1);
}

/// An array whose reads of its connections count themselves and wait for a release; each
/// answers its own number as the peer's name. Nothing else is asked of it.
#[derive(Debug)]
struct HeldArray {
    sent: AtomicUsize,
    release: Semaphore,
}

fn not_used<T>() -> Result<T> {
    Err(Error::unexpected("not used"))
}

#[async_trait]
impl ArrayApi for HeldArray {
    fn capabilities(&self) -> ArrayCapabilities {
        ArrayCapabilities {
            async_replication: true,
            sync_replication: false,
        }
    }
    async fn array_info(&self) -> Result<ArrayInfo> {
        not_used()
    }
    async fn array_connections(&self) -> Result<Vec<ArrayConnection>> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        self.release.acquire().await.expect("open").forget();
        Ok(vec![ArrayConnection {
            name: format!("peer-{n}"),
            status: "connected".into(),
        }])
    }
    async fn get_volume(&self, _name: &str) -> Result<Option<ArrayVolume>> {
        not_used()
    }
    async fn list_volumes(&self, _name_prefix: &str) -> Result<Vec<ArrayVolume>> {
        not_used()
    }
    async fn copy_volume(&self, _request: &CopyVolume) -> Result<ArrayVolume> {
        not_used()
    }
    async fn rename_volume(&self, _name: &str, _new_name: &str) -> Result<()> {
        not_used()
    }
    async fn destroy_volume(&self, _name: &str) -> Result<()> {
        not_used()
    }
    async fn eradicate_volume(&self, _name: &str) -> Result<()> {
        not_used()
    }
    async fn get_protection_group(&self, _name: &str) -> Result<Option<ArrayProtectionGroup>> {
        not_used()
    }
    async fn create_protection_group(&self, _name: &str) -> Result<ArrayProtectionGroup> {
        not_used()
    }
    async fn add_protection_group_volumes(&self, _group: &str, _volumes: &[String]) -> Result<()> {
        not_used()
    }
    async fn remove_protection_group_volumes(
        &self,
        _group: &str,
        _volumes: &[String],
    ) -> Result<()> {
        not_used()
    }
    async fn add_protection_group_target(&self, _group: &str, _target_array: &str) -> Result<()> {
        not_used()
    }
    async fn set_protection_group_allowed(&self, _group: &str, _allowed: bool) -> Result<()> {
        not_used()
    }
    async fn destroy_protection_group(&self, _name: &str) -> Result<()> {
        not_used()
    }
    async fn set_replication_schedule(&self, _group: &str, _on: bool, _secs: u64) -> Result<()> {
        not_used()
    }
    async fn create_pg_snapshot(
        &self,
        _group: &str,
        _request: &CreatePgSnapshot,
    ) -> Result<PgSnapshot> {
        not_used()
    }
    async fn list_pg_snapshots(&self, _group: &str) -> Result<Vec<PgSnapshot>> {
        not_used()
    }
    async fn list_pg_snapshot_transfers(&self, _of: &str) -> Result<Vec<PgSnapshotTransfer>> {
        not_used()
    }
    async fn list_volume_snapshots(&self, _pg_snapshot: &str) -> Result<Vec<VolumeSnapshot>> {
        not_used()
    }
    async fn eradicate_pg_snapshot(&self, _name: &str) -> Result<()> {
        not_used()
    }
    async fn changed_bytes_since(&self, _volume: &str, _base: &str) -> Result<u64> {
        not_used()
    }
    async fn get_pod(&self, _name: &str) -> Result<Option<Pod>> {
        not_used()
    }
    async fn create_pod(&self, _name: &str) -> Result<Pod> {
        not_used()
    }
    async fn add_pod_array(&self, _pod: &str, _array: &str) -> Result<()> {
        not_used()
    }
    async fn promote_pod(&self, _pod: &str) -> Result<()> {
        not_used()
    }
    async fn demote_pod(&self, _pod: &str) -> Result<()> {
        not_used()
    }
}

/// Callers that ask an array for its connections while a read is in flight share it (the
/// groups of a site failover check the same link at once); a read answered is not handed out
/// again: the next caller reads anew.
#[tokio::test(flavor = "current_thread")]
async fn reads_of_an_arrays_connections_in_flight_are_shared() {
    let limiter = Limiter::new(CallLimits::default());
    let fake = Arc::new(HeldArray {
        sent: AtomicUsize::new(0),
        release: Semaphore::new(0),
    });
    let array: Arc<dyn ArrayApi> = Arc::new(LimitedArray {
        inner: fake.clone(),
        gate: limiter.gate("https://array-b", ApiService::Array),
        info: Flight::default(),
        connections: Flight::default(),
    });
    let ask = |array: &Arc<dyn ArrayApi>| {
        let array = array.clone();
        tokio::spawn(async move { array.array_connections().await })
    };
    let callers: Vec<_> = (0..3).map(|_| ask(&array)).collect();
    settle().await;
    assert_eq!(
        fake.sent.load(Ordering::SeqCst),
        1,
        "one read for three callers"
    );
    fake.release.add_permits(1);
    for caller in callers {
        let answer = caller.await.expect("joined").expect("answered");
        assert_eq!(answer[0].name, "peer-1");
    }
    let later = ask(&array);
    settle().await;
    assert_eq!(
        fake.sent.load(Ordering::SeqCst),
        2,
        "an answered read is not reused"
    );
    fake.release.add_permits(1);
    assert_eq!(later.await.unwrap().unwrap()[0].name, "peer-2");
    assert_eq!(limiter.calls()[0].calls, 2);
}
