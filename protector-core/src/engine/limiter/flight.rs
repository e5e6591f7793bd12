//! One `GET /arrays` for the callers that ask an array who it is at the same moment (and one
//! `GET /array-connections` for those that ask it about its replication links).
//!
//! A plan reads each array's name and clock several times at once (its own check, the
//! replication state, the recovery point), and the groups of a site failover each plan at once:
//! ten groups asked the same two arrays about thirty times in one round trip. A caller that
//! asks while a read of the same array (through the same client) is in flight joins it and
//! takes its answer. That read was sent at most a round trip before the caller asked and is
//! answered after, so the answer proves the array answers now, and its clock (`as_of`) is at
//! most that round trip older than the caller's own read would be (lag computations clamp at
//! zero); a link's state read so is the one the array had within that round trip too. A read already answered is never handed out again: the next caller reads anew, so an
//! array lost between two reads is seen as lost. A read all of whose callers are gone (their
//! operations cancelled) is dropped with them, never joined later.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::error::{Error, Result};

type Read<T> = Shared<BoxFuture<'static, std::result::Result<T, Arc<Error>>>>;

/// The read in flight, if any (see the module): an array's identity or its connections in
/// [`super::decorators`].
#[derive(Debug)]
pub(super) struct Flight<T: Clone> {
    slot: Mutex<Slot<T>>,
}

impl<T: Clone> Default for Flight<T> {
    fn default() -> Self {
        Flight {
            slot: Mutex::new(Slot {
                read: None,
                id: 0,
                callers: 0,
            }),
        }
    }
}

struct Slot<T: Clone> {
    read: Option<Read<T>>,
    /// Which read `read` is (a caller leaving counts itself out of its own read only).
    id: u64,
    /// Callers awaiting `read`.
    callers: usize,
}

impl<T: Clone> std::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("in_flight", &self.read.is_some())
            .field("callers", &self.callers)
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> Flight<T> {
    /// The answer of the read in flight, or of a new one `send` makes.
    pub(super) async fn read(
        &self,
        send: impl FnOnce() -> BoxFuture<'static, Result<T>>,
    ) -> Result<T> {
        let (read, id) = {
            let mut slot = self.slot();
            match &slot.read {
                Some(read) if read.peek().is_none() => {
                    let read = read.clone();
                    slot.callers += 1;
                    (read, slot.id)
                }
                _ => {
                    let sent = send();
                    let read = async move { sent.await.map_err(Arc::new) }.boxed().shared();
                    slot.id += 1;
                    slot.read = Some(read.clone());
                    slot.callers = 1;
                    (read, slot.id)
                }
            }
        };
        let _caller = Caller { flight: self, id };
        read.await.map_err(|e| e.shared_copy())
    }

    fn slot(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A caller awaiting read `id`: the last one to leave (answered or cancelled) clears it.
struct Caller<'f, T: Clone + Send + Sync + 'static> {
    flight: &'f Flight<T>,
    id: u64,
}

impl<T: Clone + Send + Sync + 'static> Drop for Caller<'_, T> {
    fn drop(&mut self) {
        let mut slot = self.flight.slot();
        if slot.id == self.id && slot.read.is_some() {
            slot.callers -= 1;
            if slot.callers == 0 {
                slot.read = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;
    use crate::error::ErrorKind;

    /// A service whose reads count themselves and wait for a release; each answers its number.
    struct Held {
        sent: AtomicUsize,
        release: Semaphore,
    }

    impl Default for Held {
        fn default() -> Self {
            Held {
                sent: AtomicUsize::new(0),
                release: Semaphore::new(0),
            }
        }
    }

    fn read(
        flight: &Arc<Flight<usize>>,
        held: &Arc<Held>,
        fail: bool,
    ) -> tokio::task::JoinHandle<Result<usize>> {
        let (flight, held) = (flight.clone(), held.clone());
        tokio::spawn(async move {
            flight
                .read(|| {
                    async move {
                        let n = held.sent.fetch_add(1, Ordering::SeqCst) + 1;
                        held.release.acquire().await.expect("open").forget();
                        if fail {
                            Err(Error::unavailable("the array did not answer"))
                        } else {
                            Ok(n)
                        }
                    }
                    .boxed()
                })
                .await
        })
    }

    async fn settle() {
        for _ in 0..32 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn callers_at_the_same_moment_share_one_read_and_later_ones_read_anew() {
        let (flight, held) = (Arc::new(Flight::default()), Arc::new(Held::default()));
        let now: Vec<_> = (0..3).map(|_| read(&flight, &held, false)).collect();
        settle().await;
        assert_eq!(held.sent.load(Ordering::SeqCst), 1, "one read in flight");
        held.release.add_permits(1);
        for caller in now {
            assert_eq!(caller.await.unwrap().unwrap(), 1);
        }
        // Answered: the next caller does not get that answer again.
        let later = read(&flight, &held, false);
        settle().await;
        held.release.add_permits(1);
        assert_eq!(later.await.unwrap().unwrap(), 2);
        assert_eq!(held.sent.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_error_reaches_every_caller_of_the_read() {
        let (flight, held) = (Arc::new(Flight::default()), Arc::new(Held::default()));
        let now: Vec<_> = (0..2).map(|_| read(&flight, &held, true)).collect();
        settle().await;
        held.release.add_permits(1);
        for caller in now {
            assert_eq!(
                caller.await.unwrap().unwrap_err().kind(),
                ErrorKind::Unavailable
            );
        }
        assert_eq!(held.sent.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_whose_callers_are_all_gone_is_never_joined() {
        let (flight, held) = (Arc::new(Flight::default()), Arc::new(Held::default()));
        let gone = read(&flight, &held, false);
        settle().await;
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        // A caller after it sends its own read (the abandoned one could answer long after).
        let fresh = read(&flight, &held, false);
        settle().await;
        assert_eq!(held.sent.load(Ordering::SeqCst), 2);
        held.release.add_permits(1);
        assert_eq!(fresh.await.unwrap().unwrap(), 2);
    }
}
