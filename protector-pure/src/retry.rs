//! The one retry policy of the FlashArray client: what is retried ([`should_retry`]) and how long
//! to wait before the next attempt ([`RetryConfig::delay`]).
//!
//! The rule behind the classification: retry what certainly did not run on the array (the
//! connection was never made, 408, 429, 503), and retry what may have run only when running it
//! twice is harmless (idempotent requests: GET, DELETE, login). A `POST` that timed out or got a
//! 500/502/504 is never sent again; the engine observes the array's state and decides.

use std::time::Duration;

use rand::Rng;

/// Retry settings of one client.
///
/// Defaults: 4 retries, backoff from 250 ms doubling up to 8 s with jitter, and a `Retry-After`
/// of at most 60 s honoured (a longer one fails the call at once with `RateLimited`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// Wait before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of the exponential backoff.
    pub max_backoff: Duration,
    /// Growth factor of the backoff per retry.
    pub multiplier: f64,
    /// Randomise each wait between half and all of the backoff, so that clients that failed
    /// together do not retry together.
    pub jitter: bool,
    /// Longest `Retry-After` honoured; the call fails with `RateLimited` when the array asks for
    /// more.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            multiplier: 2.0,
            jitter: true,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn disabled() -> Self {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }

    /// Sets the number of retries.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first and the largest backoff.
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

    /// Sets the longest `Retry-After` honoured.
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The exponential backoff before retry number `retry` (0-based), without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = self.multiplier.max(1.0).powi(retry.min(64) as i32);
        let millis = self.initial_backoff.as_secs_f64() * factor;
        Duration::from_secs_f64(millis.min(self.max_backoff.as_secs_f64()))
    }

    /// How long to wait before retry number `retry` (0-based): the array's `Retry-After` when it
    /// sent one, else the backoff (with jitter when enabled). `None` when the array asks for a
    /// wait longer than [`RetryConfig::max_retry_after`].
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(after) = retry_after {
            return (after <= self.max_retry_after).then_some(after);
        }
        let backoff = self.backoff(retry);
        if !self.jitter || backoff.is_zero() {
            return Some(backoff);
        }
        let half = backoff / 2;
        let extra = rand::thread_rng().gen_range(0..=half.as_micros() as u64);
        Some(half + Duration::from_micros(extra))
    }
}

/// How one attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The array answered with this HTTP status.
    Status(u16),
    /// No connection could be made (DNS, refused, TLS handshake): the request was not sent.
    Connect,
    /// No answer in time: the request may have run.
    Timeout,
    /// The connection broke after the request was sent: it may have run.
    Interrupted,
}

/// Whether a failed attempt is tried again. The single place where retry policy is decided.
///
/// - 408, 429 and 503 mean the array did not run the request: always retried.
/// - Other 5xx may come after the request ran: retried only when `idempotent`.
/// - Connection failures: always retried (nothing was sent).
/// - Timeouts and broken connections: retried only when `idempotent`.
/// - Every other status (including 401, handled by one re-login, not by retrying): never.
pub fn should_retry(failure: Failure, idempotent: bool) -> bool {
    match failure {
        Failure::Status(408 | 429 | 503) => true,
        Failure::Status(500..=599) => idempotent,
        Failure::Status(_) => false,
        Failure::Connect => true,
        Failure::Timeout | Failure::Interrupted => idempotent,
    }
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The retry policy as a table: a change to it shows up as a diff here.
    #[test]
    fn retry_classification_table() {
        let failures = [
            Failure::Status(400),
            Failure::Status(401),
            Failure::Status(403),
            Failure::Status(404),
            Failure::Status(408),
            Failure::Status(409),
            Failure::Status(422),
            Failure::Status(429),
            Failure::Status(500),
            Failure::Status(501),
            Failure::Status(502),
            Failure::Status(503),
            Failure::Status(504),
            Failure::Connect,
            Failure::Timeout,
            Failure::Interrupted,
        ];
        let table: Vec<(Failure, bool, bool)> = failures
            .iter()
            .map(|f| (*f, should_retry(*f, true), should_retry(*f, false)))
            .collect();
        // (failure, retried when idempotent, retried when not idempotent)
        assert_eq!(
            table,
            vec![
                (Failure::Status(400), false, false),
                (Failure::Status(401), false, false),
                (Failure::Status(403), false, false),
                (Failure::Status(404), false, false),
                (Failure::Status(408), true, true),
                (Failure::Status(409), false, false),
                (Failure::Status(422), false, false),
                (Failure::Status(429), true, true),
                (Failure::Status(500), true, false),
                (Failure::Status(501), true, false),
                (Failure::Status(502), true, false),
                (Failure::Status(503), true, true),
                (Failure::Status(504), true, false),
                (Failure::Connect, true, true),
                (Failure::Timeout, true, false),
                (Failure::Interrupted, true, false),
            ]
        );
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
    }

    #[test]
    fn jitter_stays_between_half_and_full_backoff() {
        let config =
            RetryConfig::default().with_backoff(Duration::from_millis(400), Duration::from_secs(1));
        for _ in 0..100 {
            let wait = config.delay(0, None).unwrap();
            assert!(wait >= Duration::from_millis(200) && wait <= Duration::from_millis(400));
        }
    }

    #[test]
    fn retry_after_wins_and_is_capped() {
        let config = RetryConfig::default().with_max_retry_after(Duration::from_secs(10));
        assert_eq!(
            config.delay(3, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(config.delay(0, Some(Duration::from_secs(11))), None);
    }

    #[test]
    fn parses_retry_after_forms() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
