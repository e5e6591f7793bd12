//! An operation lock over protector-api: a lease, renewed while held, released when dropped.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::store::Inner;

/// How long a lock's lease lives unless renewed: how long an operation whose front-end died
/// stays locked. Renewed every third of it.
pub(super) const LOCK_TTL: Duration = Duration::from_secs(30);

/// A holder name of this process: `client:<host>:<pid>:<uuid>` (one per lock).
pub(super) fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    format!(
        "client:{host}:{}:{}",
        std::process::id(),
        Uuid::new_v4().simple()
    )
}

/// Holds a lease: renews it in the background, releases it when dropped.
pub(super) struct LeaseGuard {
    store: Arc<Inner>,
    id: Uuid,
    holder: String,
    renewal: JoinHandle<()>,
}

impl LeaseGuard {
    /// Starts renewing `holder`'s lease of `id` (on the current tokio runtime).
    pub(super) fn start(store: Arc<Inner>, id: Uuid, holder: String) -> LeaseGuard {
        let renewal = tokio::spawn({
            let store = Arc::clone(&store);
            let holder = holder.clone();
            async move {
                loop {
                    tokio::time::sleep(LOCK_TTL / 3).await;
                    match store.renew_lease(&id, &holder, LOCK_TTL).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(operation = %id, "the lease of the operation was lost (it lapsed and was taken): this process no longer holds its lock");
                            return;
                        }
                        // Tried again at the next tick; the lease lives on until then.
                        Err(e) => {
                            tracing::warn!(operation = %id, error = %e, "cannot renew the lease of the operation")
                        }
                    }
                }
            }
        });
        LeaseGuard {
            store,
            id,
            holder,
            renewal,
        }
    }
}

impl Drop for LeaseGuard {
    /// Releases the lease before returning when a multi-threaded runtime can wait for it (so
    /// that whoever locks next finds it free), else in a task on the current runtime, which the
    /// store's next lock of the operation waits for; without a runtime the lease lapses after
    /// [`LOCK_TTL`].
    fn drop(&mut self) {
        self.renewal.abort();
        let Ok(handle) = Handle::try_current() else {
            return;
        };
        let (store, id, holder) = (Arc::clone(&self.store), self.id, self.holder.clone());
        let release = async move {
            if let Err(e) = store.release_lease(&id, &holder).await {
                tracing::warn!(operation = %id, error = %e, "cannot release the lease of the operation; it lapses by itself");
            }
        };
        match handle.runtime_flavor() {
            RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(release));
            }
            _ => {
                let pending = Pending::start();
                let task = handle.spawn(async move {
                    release.await;
                    drop(pending);
                });
                self.store.releasing(self.id, task);
            }
        }
    }
}

/// How many releases run in the background (see [`settle_releases`]).
fn in_flight() -> &'static watch::Sender<usize> {
    static IN_FLIGHT: OnceLock<watch::Sender<usize>> = OnceLock::new();
    IN_FLIGHT.get_or_init(|| watch::channel(0).0)
}

/// One release in the background, counted until it ends or its task is dropped.
struct Pending;

impl Pending {
    fn start() -> Pending {
        in_flight().send_modify(|n| *n += 1);
        Pending
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        in_flight().send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Waits, at most `limit`, until every lock this process dropped on a single-threaded runtime
/// is released (a multi-threaded runtime releases it before the drop returns). A process that
/// ends its runtime right after its work calls this first; a lease left behind lapses after
/// 30 seconds, and until then nobody else can lock that operation.
pub async fn settle_releases(limit: Duration) {
    let mut count = in_flight().subscribe();
    let _ = tokio::time::timeout(limit, count.wait_for(|n| *n == 0)).await;
}
