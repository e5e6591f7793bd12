//! The one polling helper: every "wait until volume available / server ACTIVE / transfer
//! complete" goes through [`wait_for`].

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// How to poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollPolicy {
    /// First delay between polls; doubled up to `max_interval`. Zero polls back to back (for
    /// simulators whose clock advances with every call).
    pub interval: Duration,
    /// Upper bound of the delay.
    pub max_interval: Duration,
    /// Give up after this much wall time.
    pub timeout: Duration,
    /// Give up after this many polls.
    pub max_polls: u32,
}

impl Default for PollPolicy {
    /// Suited to real clouds: 100 ms doubling to 4 s, 30 minutes at most.
    ///
    /// What is awaited is mostly a state change that takes seconds (a server stopping or
    /// booting, a managed volume becoming available), and the waits share one list call per
    /// site, project and resource kind ([`crate::engine`]'s bulk waiter), so a short first
    /// interval costs a few calls per operation (a wait of 30 s polls 13 times instead of 9
    /// from 250 ms), not per resource, while a change that is quick is seen at once. Array
    /// transfers, which can take minutes, poll with [`PollPolicy::for_transfers`].
    fn default() -> Self {
        PollPolicy {
            interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(4),
            timeout: Duration::from_secs(30 * 60),
            max_polls: 10_000,
        }
    }
}

impl PollPolicy {
    /// Back-to-back polls, bounded by count: for simulators whose clock advances per call.
    pub fn immediate(max_polls: u32) -> Self {
        PollPolicy {
            interval: Duration::ZERO,
            max_interval: Duration::ZERO,
            timeout: Duration::from_secs(600),
            max_polls,
        }
    }
}

impl PollPolicy {
    /// This policy for array transfers (a replicated snapshot arriving), which can take
    /// minutes: the same first interval (the delta of a final snapshot is often small) and
    /// four times the largest delay (100 ms doubling to 16 s by default); a zero interval
    /// stays zero.
    #[must_use]
    pub fn for_transfers(&self) -> Self {
        PollPolicy {
            interval: self.interval,
            max_interval: self.max_interval * 4,
            ..self.clone()
        }
    }

    /// This policy, giving up after `limit` at the latest.
    #[must_use]
    pub fn at_most(&self, limit: Duration) -> Self {
        PollPolicy {
            timeout: self.timeout.min(limit),
            ..self.clone()
        }
    }
}

/// How long a failover or failback waits for its final snapshot to reach the target array,
/// given the policy's replication interval: twice the interval (a transfer fits in one
/// interval when the RPO holds; the second covers a scheduled transfer still ahead of it), at
/// least 2 minutes, at most 30. The source VMs are stopped meanwhile, so a stalled
/// replication must end the operation (and restart them) rather than hold production down.
pub fn final_snapshot_wait(replication_interval_secs: u64) -> Duration {
    Duration::from_secs(
        replication_interval_secs
            .saturating_mul(2)
            .clamp(120, 30 * 60),
    )
}

/// What one poll saw.
#[derive(Debug)]
pub enum PollOutcome<T> {
    /// Done; stop polling.
    Ready(T),
    /// Not yet; the string describes the current state for the timeout message.
    Pending(String),
}

/// Polls `poll` until it returns `Ready`, an error, or the policy runs out.
///
/// Retryable errors from a poll are tolerated (the next poll may succeed) until the policy runs
/// out; permanent errors end the wait at once. On timeout the error is [`ErrorKind::Timeout`]
/// and names `what` and the last state seen.
pub async fn wait_for<T, F, Fut>(what: &str, policy: &PollPolicy, mut poll: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<PollOutcome<T>>>,
{
    let start = tokio::time::Instant::now();
    let mut delay = policy.interval;
    let mut last = String::from("not polled yet");
    for _ in 0..policy.max_polls.max(1) {
        match poll().await {
            Ok(PollOutcome::Ready(value)) => return Ok(value),
            Ok(PollOutcome::Pending(state)) => last = state,
            Err(e) if e.is_retryable() => last = format!("error: {}", e.message()),
            Err(e) => return Err(e),
        }
        if start.elapsed() >= policy.timeout {
            break;
        }
        if delay.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(policy.max_interval.max(policy.interval));
        }
    }
    Err(Error::new(
        ErrorKind::Timeout,
        format!(
            "timed out waiting for {what} (last state: {last}); check the service, then retry the operation"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_snapshot_wait_follows_the_interval_within_bounds() {
        assert_eq!(final_snapshot_wait(300), Duration::from_secs(600));
        assert_eq!(final_snapshot_wait(10), Duration::from_secs(120));
        assert_eq!(final_snapshot_wait(86_400), Duration::from_secs(1800));
        assert_eq!(final_snapshot_wait(u64::MAX), Duration::from_secs(1800));
        let poll = PollPolicy::default().at_most(final_snapshot_wait(300));
        assert_eq!(poll.timeout, Duration::from_secs(600));
        assert_eq!(poll.interval, PollPolicy::default().interval);
    }

    #[tokio::test]
    async fn ready_after_pending() {
        let mut n = 0;
        let v = wait_for("thing", &PollPolicy::immediate(10), || {
            n += 1;
            let n = n;
            async move {
                Ok(if n < 3 {
                    PollOutcome::Pending(format!("n={n}"))
                } else {
                    PollOutcome::Ready(n)
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
    }

    #[tokio::test]
    async fn times_out_naming_last_state() {
        let err =
            wait_for::<(), _, _>("volume v1 available", &PollPolicy::immediate(3), || async {
                Ok(PollOutcome::Pending("creating".into()))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err
            .message()
            .contains("volume v1 available (last state: creating)"));
    }

    #[tokio::test]
    async fn permanent_error_stops_at_once() {
        let mut calls = 0;
        let err = wait_for::<(), _, _>("x", &PollPolicy::immediate(10), || {
            calls += 1;
            async { Err(Error::not_found("gone")) }
        })
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(calls, 1);
    }
}
