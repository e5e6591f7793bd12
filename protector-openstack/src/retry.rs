//! The one retry policy of the OpenStack clients: what is retried ([`classify`]) and how long to
//! wait ([`RetryConfig`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// How often and how patiently a failed request is retried.
///
/// Defaults: 4 retries, exponential backoff from 500 ms doubling up to 10 s with jitter (each
/// wait is drawn between half and all of the backoff), at most 60 s spent retrying one call,
/// and a `Retry-After` of at most 60 s honoured (longer ones end the retries).
#[derive(Clone)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// No retry is started once this much time has passed since the first attempt.
    pub retry_timeout: Duration,
    /// Longest `Retry-After` honoured.
    pub max_retry_after: Duration,
    observer: Option<RetryObserver>,
}

/// A callback told of each retry.
type RetryObserver = Arc<dyn Fn(&RetryEvent) + Send + Sync>;

impl fmt::Debug for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryConfig")
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("retry_timeout", &self.retry_timeout)
            .field("max_retry_after", &self.max_retry_after)
            .finish_non_exhaustive()
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            retry_timeout: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
            observer: None,
        }
    }
}

impl RetryConfig {
    /// No retries at all (re-authentication after a 401 still happens once).
    pub fn disabled() -> Self {
        RetryConfig {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Sets the number of retries.
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets the first and the longest backoff.
    #[must_use]
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the time budget for retrying one call.
    #[must_use]
    pub fn with_retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = timeout;
        self
    }

    /// Sets the longest `Retry-After` honoured.
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Calls `observer` before each retry (metrics, tests); retries are also logged at `warn`.
    #[must_use]
    pub fn with_observer(mut self, observer: impl Fn(&RetryEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    pub(crate) fn notify(&self, event: &RetryEvent) {
        if let Some(observer) = &self.observer {
            observer(event);
        }
    }

    /// The wait before retry number `retry` (0-based): `Retry-After` when the service sent one,
    /// else jittered exponential backoff. `None` when `Retry-After` exceeds the cap.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(after) = retry_after {
            return (after <= self.max_retry_after).then_some(after);
        }
        let factor = 2u32.saturating_pow(retry.min(16));
        let backoff = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let jitter = rand::thread_rng().gen_range(0.5..=1.0);
        Some(backoff.mul_f64(jitter))
    }
}

/// A retry about to happen, for [`RetryConfig::with_observer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryEvent {
    /// What was being done, such as `show server 1234`.
    pub operation: String,
    /// The retry number, from 1.
    pub retry: u32,
    /// The wait before it.
    pub delay: Duration,
    /// Why: `HTTP 503`, `connection failed`, `timed out`.
    pub reason: String,
}

/// What one attempt ended with, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The service answered with this status.
    Status(u16),
    /// No connection could be made: the request was not sent.
    Connect,
    /// No answer in time: the request may have been executed.
    Timeout,
    /// The connection broke after the request was sent: it may have been executed.
    Interrupted,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The call succeeded.
    Done,
    /// Get a new token and send again (once per call).
    Reauthenticate,
    /// Wait and send again.
    Retry,
    /// Give up.
    Fail,
}

/// The retry policy, in one place.
///
/// - 408, 429 and 503 say the request was not processed: retried for every method.
/// - Other 5xx (except 501/505) are retried only for idempotent requests: a 500 or a gateway's
///   502/504 can follow a POST that was executed, and re-sending a create or an action could
///   duplicate it. The engine observes and reconciles those instead.
/// - A connection that could not be made is retried; a timeout or a connection broken after
///   sending only for idempotent requests, for the same reason.
/// - 401 asks for one re-authentication; every other status is final.
pub(crate) fn classify(outcome: Outcome, idempotent: bool) -> Decision {
    match outcome {
        Outcome::Status(s) if s < 300 => Decision::Done,
        Outcome::Status(401) => Decision::Reauthenticate,
        Outcome::Status(408 | 429 | 503) => Decision::Retry,
        Outcome::Status(501 | 505) => Decision::Fail,
        Outcome::Status(500..=599) if idempotent => Decision::Retry,
        Outcome::Status(_) => Decision::Fail,
        Outcome::Connect => Decision::Retry,
        Outcome::Timeout | Outcome::Interrupted if idempotent => Decision::Retry,
        Outcome::Timeout | Outcome::Interrupted => Decision::Fail,
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole policy as one table: a change to it shows up here as a diff.
    #[test]
    fn retry_classification_table() {
        use Decision::*;
        use Outcome::*;
        #[rustfmt::skip]
        let table: &[(Outcome, Decision, Decision)] = &[
            // outcome          idempotent      not idempotent
            (Status(200),       Done,           Done),
            (Status(202),       Done,           Done),
            (Status(204),       Done,           Done),
            (Status(300),       Fail,           Fail),
            (Status(400),       Fail,           Fail),
            (Status(401),       Reauthenticate, Reauthenticate),
            (Status(403),       Fail,           Fail),
            (Status(404),       Fail,           Fail),
            (Status(406),       Fail,           Fail),
            (Status(408),       Retry,          Retry),
            (Status(409),       Fail,           Fail),
            (Status(413),       Fail,           Fail),
            (Status(429),       Retry,          Retry),
            (Status(500),       Retry,          Fail),
            (Status(501),       Fail,           Fail),
            (Status(502),       Retry,          Fail),
            (Status(503),       Retry,          Retry),
            (Status(504),       Retry,          Fail),
            (Status(505),       Fail,           Fail),
            (Status(507),       Retry,          Fail),
            (Connect,           Retry,          Retry),
            (Timeout,           Retry,          Fail),
            (Interrupted,       Retry,          Fail),
        ];
        for &(outcome, idempotent, not_idempotent) in table {
            assert_eq!(
                classify(outcome, true),
                idempotent,
                "{outcome:?} idempotent"
            );
            assert_eq!(
                classify(outcome, false),
                not_idempotent,
                "{outcome:?} not idempotent"
            );
        }
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn delay_honours_retry_after_up_to_the_cap_and_jitters_backoff() {
        let config = RetryConfig::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(300))
            .with_max_retry_after(Duration::from_secs(5));
        assert_eq!(
            config.delay(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(config.delay(0, Some(Duration::from_secs(6))), None);
        for (retry, low, high) in [(0, 50, 100), (1, 100, 200), (2, 150, 300), (9, 150, 300)] {
            let d = config.delay(retry, None).unwrap();
            assert!(
                d >= Duration::from_millis(low) && d <= Duration::from_millis(high),
                "retry {retry}: {d:?}"
            );
        }
    }
}
