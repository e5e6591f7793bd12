//! The one retry policy of the HTTP clients: what is retried ([`classify`]) and how long to wait
//! ([`RetryConfig`]). The loop itself is [`RetryConfig::send`].
//!
//! The rule behind the classification: retry what certainly did not run (the connection was
//! never made, 408, 429, 503), and retry what may have run only when running it twice is
//! harmless (idempotent requests). A `POST` that timed out, lost its connection or got a
//! 500/502/504 is never sent again: the engine observes the service's state and decides.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use protector_core::error::RetryStatus;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::Method;

/// How often and how patiently a failed request is retried.
///
/// Defaults: 4 retries, exponential backoff from 500 ms doubling up to 10 s with jitter (each
/// wait drawn between half and all of the backoff, so that clients that failed together do not
/// retry together), no retry started once 60 s have passed since the first attempt, and a
/// `Retry-After` of at most 60 s honoured (a longer one ends the retries: the call fails at once,
/// still marked retryable for a caller that can wait).
#[derive(Clone)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Growth factor of the backoff per retry (at least 1).
    pub multiplier: f64,
    /// Draw each wait between half and all of the backoff.
    pub jitter: bool,
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
            .field("multiplier", &self.multiplier)
            .field("jitter", &self.jitter)
            .field("retry_timeout", &self.retry_timeout)
            .field("max_retry_after", &self.max_retry_after)
            .finish_non_exhaustive()
    }
}

/// Equal settings; two observers are equal only when they are the same one.
impl PartialEq for RetryConfig {
    fn eq(&self, other: &Self) -> bool {
        let observers = match (&self.observer, &other.observer) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        observers
            && self.max_retries == other.max_retries
            && self.initial_backoff == other.initial_backoff
            && self.max_backoff == other.max_backoff
            && self.multiplier == other.multiplier
            && self.jitter == other.jitter
            && self.retry_timeout == other.retry_timeout
            && self.max_retry_after == other.max_retry_after
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: true,
            retry_timeout: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
            observer: None,
        }
    }
}

impl RetryConfig {
    /// No retries at all (a client's one re-authentication after a 401 still happens).
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

    /// Turns jitter on or off (off makes waits deterministic).
    #[must_use]
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
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

    /// The backoff of one call as `backon` draws it: `max_retries` waits, growing by
    /// `multiplier` up to `max_backoff`. With jitter, `backon` draws each wait between the base
    /// and twice the base, so the base is half the backoff: the wait lands between half and all
    /// of it.
    pub(crate) fn backoff_builder(&self, jitter: bool, times: usize) -> ExponentialBuilder {
        let (min, max) = if jitter {
            (self.initial_backoff / 2, self.max_backoff / 2)
        } else {
            (self.initial_backoff, self.max_backoff)
        };
        // Rounded to f32 by backon, as its factor is.
        let factor = self.multiplier.max(1.0) as f32;
        let builder = ExponentialBuilder::new()
            .with_min_delay(min)
            .with_max_delay(max.max(min))
            .with_factor(factor)
            .with_max_times(times);
        if jitter {
            builder.with_jitter()
        } else {
            builder
        }
    }

    /// The exponential backoff before retry number `retry` (0-based), without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let retry = retry.min(64) as usize;
        self.backoff_builder(false, retry + 1)
            .build()
            .nth(retry)
            .unwrap_or(self.max_backoff)
    }

    /// The wait before retry number `retry` (0-based): the service's `Retry-After` when it sent
    /// one, else the backoff (with jitter when enabled). `None` when `Retry-After` exceeds
    /// [`RetryConfig::max_retry_after`].
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(after) = retry_after {
            return (after <= self.max_retry_after).then_some(after);
        }
        let retry = retry.min(64) as usize;
        self.backoff_builder(self.jitter, retry + 1)
            .build()
            .nth(retry)
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
    /// Why: `HTTP 503`, `connection failed`, `timed out`, `connection broken`.
    pub reason: String,
}

/// How one attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The service answered with this HTTP status.
    Status(u16),
    /// No connection could be made (DNS, refused, connect timeout): the request was not sent.
    Connect,
    /// No answer in time: the request may have run.
    Timeout,
    /// The connection broke after the request was sent: it may have run.
    Interrupted,
}

impl Failure {
    /// Why, in a few words: `HTTP 503`, `connection failed`, `timed out`, `connection broken`.
    pub fn reason(self) -> String {
        match self {
            Failure::Status(status) => format!("HTTP {status}"),
            Failure::Connect => "connection failed".to_string(),
            Failure::Timeout => "timed out".to_string(),
            Failure::Interrupted => "connection broken".to_string(),
        }
    }
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The call succeeded.
    Done,
    /// Get a new token or session and send again (once per call; the client does it).
    Reauthenticate,
    /// Wait and send again.
    Retry,
    /// Give up.
    Fail,
}

/// The retry policy, in one place.
///
/// - 2xx is done; 401 asks the client for one re-authentication.
/// - 408, 429 and 503 say the request was not processed: retried for every method.
/// - 501 and 505 say the service cannot do it at all: never retried.
/// - Other 5xx are retried only for idempotent requests: a 500 or a gateway's 502/504 can follow
///   a POST that was executed, and re-sending a create or an action could duplicate it.
/// - A connection that could not be made is retried; a timeout or a connection broken after
///   sending only for idempotent requests, for the same reason.
/// - Every other status is final.
pub fn classify(failure: Failure, idempotent: bool) -> Decision {
    match failure {
        Failure::Status(s) if s < 300 => Decision::Done,
        Failure::Status(401) => Decision::Reauthenticate,
        Failure::Status(408 | 429 | 503) => Decision::Retry,
        Failure::Status(501 | 505) => Decision::Fail,
        Failure::Status(500..=599) if idempotent => Decision::Retry,
        Failure::Status(_) => Decision::Fail,
        Failure::Connect => Decision::Retry,
        Failure::Timeout | Failure::Interrupted if idempotent => Decision::Retry,
        Failure::Timeout | Failure::Interrupted => Decision::Fail,
    }
}

/// Whether a failed attempt is sent again: [`classify`] says [`Decision::Retry`].
pub fn should_retry(failure: Failure, idempotent: bool) -> bool {
    classify(failure, idempotent) == Decision::Retry
}

/// The retry status an error for this failure carries before any retry: `Temporary` when the
/// policy retries it, else `Permanent`. (After retries ran out the client marks it persistent.)
pub fn retry_status(failure: Failure, idempotent: bool) -> RetryStatus {
    if should_retry(failure, idempotent) {
        RetryStatus::Temporary
    } else {
        RetryStatus::Permanent
    }
}

/// Whether a failed non-idempotent request may nevertheless have run: a timeout, a broken
/// connection, or a 5xx other than 501, 503 and 505 (which say it was not processed). The
/// caller must observe before sending it again.
pub fn may_have_run(failure: Failure, idempotent: bool) -> bool {
    !idempotent
        && match failure {
            Failure::Status(s) => (500..=599).contains(&s) && !matches!(s, 501 | 503 | 505),
            Failure::Connect => false,
            Failure::Timeout | Failure::Interrupted => true,
        }
}

/// Whether sending `method` twice is harmless (RFC 9110: GET, HEAD, PUT, DELETE, OPTIONS,
/// TRACE). A client marks a POST idempotent only when it knows better (a login).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// `Retry-After` as delay seconds or as an HTTP date (a date in the past is no wait).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
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

/// The `Retry-After` of an answer, if it has a valid one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole policy as one table: a change to it shows up here as a diff.
    #[test]
    fn retry_classification_table() {
        use Decision::*;
        use Failure::*;
        #[rustfmt::skip]
        let table: &[(Failure, Decision, Decision)] = &[
            // failure          idempotent      not idempotent
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
            (Status(422),       Fail,           Fail),
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
        for &(failure, idempotent, not_idempotent) in table {
            assert_eq!(
                classify(failure, true),
                idempotent,
                "{failure:?} idempotent"
            );
            assert_eq!(
                classify(failure, false),
                not_idempotent,
                "{failure:?} not idempotent"
            );
            assert_eq!(should_retry(failure, true), idempotent == Retry);
        }
    }

    #[test]
    fn what_may_have_run() {
        #[rustfmt::skip]
        let table = [
            (Failure::Status(500), true),
            (Failure::Status(502), true),
            (Failure::Status(504), true),
            (Failure::Status(501), false),
            (Failure::Status(503), false),
            (Failure::Status(429), false),
            (Failure::Status(409), false),
            (Failure::Connect,     false),
            (Failure::Timeout,     true),
            (Failure::Interrupted, true),
        ];
        for (failure, expected) in table {
            assert_eq!(may_have_run(failure, false), expected, "{failure:?}");
            assert!(!may_have_run(failure, true), "{failure:?} idempotent");
        }
    }

    #[test]
    fn idempotent_methods() {
        for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            assert!(is_idempotent(&method), "{method}");
        }
        for method in [Method::POST, Method::PATCH] {
            assert!(!is_idempotent(&method), "{method}");
        }
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
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
    fn backoff_grows_and_is_capped() {
        let config = RetryConfig::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(500))
            .with_jitter(false);
        let waits: Vec<u128> = (0..5)
            .map(|n| config.delay(n, None).unwrap().as_millis())
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
        assert_eq!(config.backoff(40), Duration::from_millis(500));
    }

    #[test]
    fn delay_honours_retry_after_up_to_the_cap_and_jitters_backoff() {
        let config = RetryConfig::default()
            .with_backoff(Duration::from_millis(100), Duration::from_millis(300))
            .with_max_retry_after(Duration::from_secs(5));
        assert_eq!(
            config.delay(3, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(config.delay(0, Some(Duration::from_secs(6))), None);
        for _ in 0..50 {
            for (retry, low, high) in [(0, 50, 100), (1, 100, 200), (2, 150, 300), (9, 150, 300)] {
                let d = config.delay(retry, None).unwrap();
                assert!(
                    d >= Duration::from_millis(low) && d <= Duration::from_millis(high),
                    "retry {retry}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn debug_and_equality_leave_the_observer_out() {
        let config = RetryConfig::default().with_observer(|_| {});
        assert!(format!("{config:?}").starts_with("RetryConfig { max_retries: 4,"));
        assert_eq!(config, config.clone());
        assert_ne!(config, RetryConfig::default());
        assert_eq!(RetryConfig::default(), RetryConfig::default());
    }
}
