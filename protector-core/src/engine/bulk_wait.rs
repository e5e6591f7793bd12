//! Waiting for many servers and volumes with one list call per client and interval.
//!
//! A failover of N VMs waits for N source servers to stop, for their volumes to become
//! available and for N servers to boot. Polling each resource on its own costs one call per
//! resource and interval; here every waiter of one client (one site and project: a
//! [`ComputeApi`] or [`BlockStorageApi`] instance) shares one poller: whichever waiter finds
//! no poll in flight lists the project's servers (or volumes), all pages, publishes what it
//! saw and wakes every waiter, which judges its own resource in that listing. So the number
//! of calls per interval does not grow with the number of resources awaited.
//!
//! There is no background task: the poller is one of the waiters, chosen afresh for each
//! poll, so a waiter that is dropped (its operation cancelled) hands the role on. Waiters
//! keep their own timeout and poll budget ([`PollPolicy::timeout`], [`PollPolicy::max_polls`]);
//! the shared interval starts at the smallest [`PollPolicy::interval`] of the waiters and
//! backs off to [`PollPolicy::max_interval`], restarting short whenever a new resource is
//! awaited (a state change just asked for usually completes within seconds), and never
//! sooner than twice the time the last listing took (a large project's listing does not keep
//! its service busy). A waiter that starts while a listing is in flight takes from that
//! listing only a resource shown done (what it shows as pending or missing may predate the
//! change awaited) and otherwise waits for the next one.
//!
//! The pollers are found by client identity in a process-wide registry of weak references:
//! the waiting helpers of [`crate::engine::resources`] take a client, not the engine, and two
//! operations on the same clients share the polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::wait::{PollOutcome, PollPolicy};
use crate::api::{BlockStorageApi, ComputeApi, ListServers, ListVolumes, Server, Volume};
use crate::error::{Error, ErrorKind, Result};

/// Locks `m`, whatever a panicking holder left behind (this module sits below `runner`).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What one list call saw: resources by id, or the error it failed with.
type Listing<T> = std::result::Result<Arc<HashMap<String, T>>, Arc<Error>>;

/// The state of one client's poller.
struct State<T> {
    /// Number of listings published so far.
    generation: u64,
    /// The latest listing (`None` before the first).
    latest: Option<Listing<T>>,
    /// Whether a waiter is polling (sleeping until the next poll or listing) right now.
    polling: bool,
    /// Whether that poll's list call has been sent (what it returns may predate a change a
    /// waiter registering now awaits).
    sent: bool,
    /// When the last listing was asked for.
    last_poll: Option<Instant>,
    /// The delay before the next poll.
    delay: Duration,
    /// The largest delay.
    max_delay: Duration,
    /// How long the last list call took: the next one starts no sooner than twice that after
    /// it began (a listing of a thousand servers that takes its service 300 ms is not asked
    /// for every 100 ms: the poller keeps a service at most half busy).
    last_took: Duration,
}

/// The poller shared by every waiter of one client.
pub(in crate::engine) struct Poller<T> {
    state: Mutex<State<T>>,
    changed: Notify,
    /// List calls made (for tests and measurements).
    polls: std::sync::atomic::AtomicU64,
}

impl<T> Default for Poller<T> {
    fn default() -> Self {
        Poller {
            state: Mutex::new(State {
                generation: 0,
                latest: None,
                polling: false,
                sent: false,
                last_poll: None,
                delay: Duration::ZERO,
                max_delay: Duration::ZERO,
                last_took: Duration::ZERO,
            }),
            changed: Notify::new(),
            polls: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

/// Resets `polling` when the poller's future ends early (dropped): another waiter takes over.
struct PollingGuard<'a, T> {
    poller: &'a Poller<T>,
    armed: bool,
}

impl<T> Drop for PollingGuard<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = lock(&self.poller.state);
            state.polling = false;
            state.sent = false;
            drop(state);
            self.poller.changed.notify_waiters();
        }
    }
}

impl<T: Clone> Poller<T> {
    /// How many list calls this poller has made.
    #[cfg(test)]
    pub(in crate::engine) fn polls(&self) -> u64 {
        self.polls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `judge` of resource `id` (as the listings show it, `None` when absent) is
    /// ready, fails, or `policy` runs out. `list` is the client's list call.
    ///
    /// Like [`crate::engine::wait::wait_for`]: a retryable list error is tolerated until the
    /// policy runs out, a permanent one ends the wait; the timeout is
    /// [`ErrorKind::Timeout`] naming `what` and the last state seen.
    pub(in crate::engine) async fn wait<R, L, Fut, J>(
        &self,
        what: &str,
        policy: &PollPolicy,
        list: L,
        id: &str,
        mut judge: J,
    ) -> Result<R>
    where
        L: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<(String, T)>>>,
        J: FnMut(Option<&T>) -> Result<PollOutcome<R>>,
    {
        let start = Instant::now();
        let seen = {
            let mut state = lock(&self.state);
            // A new resource is awaited: poll soon again.
            state.delay = if state.generation == 0 && !state.polling {
                policy.interval
            } else {
                state.delay.min(policy.interval)
            };
            state.max_delay = state.max_delay.max(policy.max_interval);
            // Listings published already may predate the change awaited. So may one asked
            // for already: what it shows of the resource counts only when it is there and
            // done (a resource created or changed after the list call was sent can still be
            // in it), never as pending, failed or missing.
            (state.generation, state.sent.then_some(state.generation + 1))
        };
        let (mut seen, predating) = seen;
        let mut observed: u32 = 0;
        let mut last = String::from("not polled yet");
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let lead = {
                let mut state = lock(&self.state);
                if state.generation > seen && predating == Some(state.generation) {
                    seen = state.generation;
                    if let Some(Ok(listing)) = state.latest.clone() {
                        drop(state);
                        if let Some(resource) = listing.get(id) {
                            if let Ok(PollOutcome::Ready(value)) = judge(Some(resource)) {
                                return Ok(value);
                            }
                        }
                    }
                    continue;
                }
                if state.generation > seen {
                    seen = state.generation;
                    observed += 1;
                    match state.latest.clone() {
                        Some(Ok(listing)) => {
                            drop(state);
                            match judge(listing.get(id))? {
                                PollOutcome::Ready(value) => return Ok(value),
                                PollOutcome::Pending(now) => last = now,
                            }
                        }
                        Some(Err(e)) if e.is_retryable() => {
                            last = format!("error: {}", e.message());
                        }
                        Some(Err(e)) => return Err(e.shared_copy()),
                        None => {}
                    }
                    if start.elapsed() >= policy.timeout || observed >= policy.max_polls.max(1) {
                        return Err(Error::new(
                            ErrorKind::Timeout,
                            format!(
                                "timed out waiting for {what} (last state: {last}); check the service, then retry the operation"
                            ),
                        ));
                    }
                    continue;
                }
                if state.polling {
                    false
                } else {
                    state.polling = true;
                    true
                }
            };
            if !lead {
                changed.await;
                continue;
            }
            let mut guard = PollingGuard {
                poller: self,
                armed: true,
            };
            let (due, delay) = {
                let state = lock(&self.state);
                // Back-to-back polling (a zero interval) stays back to back.
                let gap = match state.delay.is_zero() {
                    true => Duration::ZERO,
                    false => state.delay.max(state.last_took * 2),
                };
                (state.last_poll.map(|at| at + gap), gap)
            };
            match due {
                Some(due) if !delay.is_zero() => tokio::time::sleep_until(due).await,
                Some(_) => tokio::task::yield_now().await,
                None => {}
            }
            let asked = Instant::now();
            lock(&self.state).sent = true;
            self.polls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let listing = list()
                .await
                .map(|items| Arc::new(items.into_iter().collect::<HashMap<_, _>>()))
                .map_err(Arc::new);
            {
                let mut state = lock(&self.state);
                state.generation += 1;
                state.latest = Some(listing);
                state.last_poll = Some(asked);
                state.last_took = asked.elapsed();
                if due.is_some() {
                    // The first poll of a quiet poller goes at once, the next after `delay`.
                    state.delay = (state.delay * 2).min(state.max_delay.max(state.delay));
                }
                state.polling = false;
                state.sent = false;
            }
            guard.armed = false;
            self.changed.notify_waiters();
        }
    }
}

/// A client (held weakly) and its poller.
type Entry<C, T> = (Weak<C>, Arc<Poller<T>>);

/// Pollers by client, held weakly: an entry ends with its client.
struct Registry<C: ?Sized, T> {
    entries: Mutex<Vec<Entry<C, T>>>,
}

impl<C: ?Sized, T> Registry<C, T> {
    const fn new() -> Self {
        Registry {
            entries: Mutex::new(Vec::new()),
        }
    }

    fn poller(&self, client: &Arc<C>) -> Arc<Poller<T>> {
        let mut entries = lock(&self.entries);
        entries.retain(|(weak, _)| weak.strong_count() > 0);
        let weak = Arc::downgrade(client);
        if let Some((_, poller)) = entries.iter().find(|(w, _)| Weak::ptr_eq(w, &weak)) {
            return poller.clone();
        }
        let poller = Arc::new(Poller::default());
        entries.push((weak, poller.clone()));
        poller
    }
}

static SERVERS: Registry<dyn ComputeApi, Server> = Registry::new();
static VOLUMES: Registry<dyn BlockStorageApi, Volume> = Registry::new();

/// The poller of `compute`'s servers (shared by every waiter on that client).
pub(in crate::engine) fn server_poller(compute: &Arc<dyn ComputeApi>) -> Arc<Poller<Server>> {
    SERVERS.poller(compute)
}

/// The poller of `storage`'s volumes (shared by every waiter on that client).
pub(in crate::engine) fn volume_poller(storage: &Arc<dyn BlockStorageApi>) -> Arc<Poller<Volume>> {
    VOLUMES.poller(storage)
}

/// Waits on server `id` of `compute` with one shared listing per interval; `judge` sees the
/// server as listed (`None` when it is not in the project's list).
pub(in crate::engine) async fn wait_server<R>(
    compute: &Arc<dyn ComputeApi>,
    id: &str,
    what: &str,
    policy: &PollPolicy,
    judge: impl FnMut(Option<&Server>) -> Result<PollOutcome<R>>,
) -> Result<R> {
    let poller = server_poller(compute);
    let list = || async {
        Ok(compute
            .list_servers(&ListServers::default())
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect())
    };
    // Boxed: waits sit at the bottom of deep chains of futures (a site failover's).
    Box::pin(poller.wait(what, policy, list, id, judge)).await
}

/// Waits on volume `id` of `storage` with one shared listing per interval; `judge` sees the
/// volume as listed (`None` when it is not in the project's list).
pub(in crate::engine) async fn wait_volume<R>(
    storage: &Arc<dyn BlockStorageApi>,
    id: &str,
    what: &str,
    policy: &PollPolicy,
    judge: impl FnMut(Option<&Volume>) -> Result<PollOutcome<R>>,
) -> Result<R> {
    let poller = volume_poller(storage);
    let list = || async {
        Ok(storage
            .list_volumes(&ListVolumes::default())
            .await?
            .into_iter()
            .map(|v| (v.id.clone(), v))
            .collect())
    };
    // Boxed: waits sit at the bottom of deep chains of futures (a site failover's).
    Box::pin(poller.wait(what, policy, list, id, judge)).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use futures::future::join_all;

    use super::*;

    /// A project of `n` resources: every list call advances the world by one tick; resource
    /// `r{i}` turns `ready` at tick `ready_at(i)`, and the ones `fate` names go to `error` or
    /// disappear instead.
    struct World {
        ticks: AtomicU32,
        n: usize,
        ready_at: fn(usize) -> u32,
        fate: fn(usize) -> Option<&'static str>,
    }

    impl World {
        fn list(&self) -> Vec<(String, String)> {
            let tick = self.ticks.fetch_add(1, Ordering::SeqCst) + 1;
            (0..self.n)
                .filter_map(|i| {
                    let status = if tick < (self.ready_at)(i) {
                        "creating"
                    } else {
                        match (self.fate)(i) {
                            Some("gone") => return None,
                            Some(other) => other,
                            None => "ready",
                        }
                    };
                    Some((format!("r{i}"), status.to_string()))
                })
                .collect()
        }
    }

    fn judge(status: Option<&String>) -> Result<PollOutcome<()>> {
        match status.map(String::as_str) {
            Some("ready") => Ok(PollOutcome::Ready(())),
            Some("error") => Err(Error::unexpected("went to status error")),
            Some(other) => Ok(PollOutcome::Pending(other.to_string())),
            None => Err(Error::not_found("disappeared")),
        }
    }

    async fn await_all(world: &World, poller: &Poller<String>) -> Vec<Result<()>> {
        let policy = &PollPolicy::immediate(100);
        let list = || async { Ok(world.list()) };
        join_all((0..world.n).map(|i| {
            let id = format!("r{i}");
            async move { poller.wait(&id, policy, list, &id, judge).await }
        }))
        .await
    }

    #[tokio::test]
    async fn list_calls_do_not_grow_with_the_resources_awaited() {
        let mut counts = Vec::new();
        for n in [1, 10, 200] {
            let world = World {
                ticks: AtomicU32::new(0),
                n,
                // Spread over ticks 2..=5: every waiter is still pending at the first list.
                ready_at: |i| 2 + u32::try_from(i % 4).unwrap(),
                fate: |_| None,
            };
            let poller = Poller::default();
            let outcomes = await_all(&world, &poller).await;
            assert!(outcomes.iter().all(Result::is_ok), "n={n}: {outcomes:?}");
            assert_eq!(
                poller.polls(),
                u64::from(world.ticks.load(Ordering::SeqCst))
            );
            counts.push(poller.polls());
        }
        // n=1 is ready at tick 2; the others wait for their slowest resource, at tick 5.
        assert!(counts[0] <= counts[1], "{counts:?}");
        assert_eq!(counts[1], counts[2], "{counts:?}");
        assert!(counts[2] <= 6, "{counts:?}");
    }

    #[tokio::test]
    async fn an_error_or_a_disappearance_wakes_its_own_waiter_with_its_error() {
        let world = World {
            ticks: AtomicU32::new(0),
            n: 6,
            ready_at: |i| if i == 5 { 4 } else { 2 },
            fate: |i| match i {
                1 => Some("error"),
                3 => Some("gone"),
                _ => None,
            },
        };
        let poller = Poller::default();
        let outcomes = await_all(&world, &poller).await;
        let kinds: Vec<Option<ErrorKind>> = outcomes
            .iter()
            .map(|o| o.as_ref().err().map(Error::kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                None,
                Some(ErrorKind::Unexpected),
                None,
                Some(ErrorKind::NotFound),
                None,
                None
            ]
        );
        assert!(outcomes[1]
            .as_ref()
            .unwrap_err()
            .message()
            .contains("status error"));
    }

    #[tokio::test]
    async fn timeout_names_the_resource_and_its_last_state() {
        let world = World {
            ticks: AtomicU32::new(0),
            n: 1,
            ready_at: |_| u32::MAX,
            fate: |_| None,
        };
        let poller = Poller::default();
        let list = || async { Ok(world.list()) };
        let err = poller
            .wait(
                "volume v1 available",
                &PollPolicy::immediate(3),
                list,
                "r0",
                judge,
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err
            .message()
            .contains("volume v1 available (last state: creating)"));
        assert_eq!(poller.polls(), 3);
    }

    #[tokio::test]
    async fn a_permanent_list_error_ends_every_wait_and_a_retryable_one_does_not() {
        let calls = AtomicU32::new(0);
        let poller: Poller<String> = Poller::default();
        let list = || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(Error::unavailable("nova is restarting")),
                _ => Err(Error::new(ErrorKind::PermissionDenied, "token revoked")),
            }
        };
        let policy = PollPolicy::immediate(10);
        let outcomes =
            join_all(["a", "b", "c"].map(|id| poller.wait(id, &policy, list, id, judge))).await;
        for outcome in outcomes {
            assert_eq!(outcome.unwrap_err().kind(), ErrorKind::PermissionDenied);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    /// One resource that is ready at the fifth listing, each listing taking `took`: the gaps
    /// between the starts of the listings, in milliseconds (time is paused: exact).
    async fn listing_gaps(interval: u64, max_interval: u64, took: u64) -> Vec<u128> {
        let policy = PollPolicy {
            interval: Duration::from_millis(interval),
            max_interval: Duration::from_millis(max_interval),
            timeout: Duration::from_secs(60),
            max_polls: 100,
        };
        let at: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
        let begin = Instant::now();
        let poller: Poller<String> = Poller::default();
        let list = || async {
            let n = {
                let mut at = lock(&at);
                at.push(begin.elapsed());
                at.len()
            };
            tokio::time::sleep(Duration::from_millis(took)).await;
            let status = if n >= 5 { "ready" } else { "creating" };
            Ok(vec![("a".to_string(), status.to_string())])
        };
        poller.wait("a", &policy, list, "a", judge).await.unwrap();
        let at = lock(&at).clone();
        at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_interval_starts_short_and_backs_off() {
        assert_eq!(listing_gaps(250, 2000, 0).await, vec![250, 500, 1000, 2000]);
    }

    /// A listing that takes its service longer than the interval is not asked for again
    /// sooner than it took: the poller keeps the service at most half busy.
    #[tokio::test(start_paused = true)]
    async fn a_slow_listing_spaces_the_polls_by_its_own_duration() {
        // Each starts twice its predecessor's 300 ms after it, while the doubling interval
        // (100, 200, 400 ms) is shorter; then the interval (800 ms).
        assert_eq!(listing_gaps(100, 4000, 300).await, vec![600, 600, 600, 800]);
    }

    /// r0 is awaited and its listing sent; `late` is awaited while that listing is in
    /// flight. The first listing answers `first`, every later one shows both ready. Returns
    /// both outcomes and the list calls made.
    async fn late_waiter(
        late: &'static str,
        first: &[(&str, &str)],
    ) -> (Result<()>, Result<()>, u64) {
        let poller = Poller::<String>::default();
        let policy = PollPolicy::immediate(100);
        let release = tokio::sync::Semaphore::new(0);
        let calls = AtomicU32::new(0);
        let first: Vec<(String, String)> = first
            .iter()
            .map(|(id, status)| (id.to_string(), status.to_string()))
            .collect();
        let list = || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                release.acquire().await.expect("open").forget();
                return Ok(first.clone());
            }
            Ok(vec![
                ("r0".to_string(), "ready".to_string()),
                (late.to_string(), "ready".to_string()),
            ])
        };
        let r0 = poller.wait("r0", &policy, list, "r0", judge);
        let late = poller.wait(late, &policy, list, late, judge);
        let sent_then_release = async {
            // Both waiters have been polled once (registered): join polls in order.
            assert_eq!(
                calls.load(Ordering::SeqCst),
                1,
                "the first listing is in flight"
            );
            release.add_permits(1);
        };
        let (r0, late, ()) = tokio::join!(r0, late, sent_then_release);
        (r0, late, poller.polls())
    }

    #[tokio::test]
    async fn a_listing_in_flight_counts_for_a_new_waiter_only_where_it_shows_the_resource_done() {
        // Done in the listing in flight: no second call.
        let (r0, r1, polls) = late_waiter("r1", &[("r0", "ready"), ("r1", "ready")]).await;
        assert!(r0.is_ok() && r1.is_ok(), "{r0:?} {r1:?}");
        assert_eq!(polls, 1);
        // Missing from a listing sent before it was made: no disappearance, a second call.
        let (r0, r2, polls) = late_waiter("r2", &[("r0", "ready")]).await;
        assert!(r0.is_ok() && r2.is_ok(), "{r0:?} {r2:?}");
        assert_eq!(polls, 2);
        // Pending in it: a second call.
        let (r0, r3, polls) = late_waiter("r3", &[("r0", "creating"), ("r3", "creating")]).await;
        assert!(r0.is_ok() && r3.is_ok(), "{r0:?} {r3:?}");
        assert_eq!(polls, 2);
    }
}
