//! The one retry loop: attempts of a call, classified by [`classify`], spaced by `backon`'s
//! exponential backoff or the service's `Retry-After`, bounded in number and in time.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use backon::{BackoffBuilder, Retryable};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::retry::{classify, retry_after, Decision, Failure, RetryConfig, RetryEvent};
use crate::transport::{origin, TransportFailure};

/// An answer with its body read to the end, whatever its status.
#[derive(Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl fmt::Debug for Answer {
    /// Status and body length only: headers and bodies can carry tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status.as_u16())
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// Sends `request` and reads the whole answer.
    pub async fn read(request: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// A failure without an answer: how it failed, where to, and reqwest's error.
#[derive(Debug)]
pub struct TransportError {
    /// How it failed.
    pub failure: TransportFailure,
    /// `scheme://host[:port]` the request went to, when known.
    pub origin: Option<String>,
    /// The cause, without its URL (so that no query string reaches an error or a log).
    pub source: reqwest::Error,
}

/// What [`RetryConfig::send`] needs to know about a call.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The service family in log lines: `OpenStack`, `FlashArray`.
    pub service: &'a str,
    /// What the call does, for retry events and logs: `show server 1234`.
    pub operation: &'a str,
    /// Whether sending it twice is harmless: decides retries after a timeout, a broken
    /// connection or a 5xx.
    pub idempotent: bool,
}

/// The end of a call: the last answer (a success, or the status the policy does not retry or
/// retried to the end), or the last failure without an answer; and the retries spent.
#[derive(Debug)]
pub struct Sent {
    /// The last answer or failure.
    pub result: Result<Answer, TransportError>,
    /// Retries spent (0 when the first attempt was the last). A client marks an error that was
    /// retried as persistent.
    pub retries: u32,
}

/// An attempt that the policy looks at.
enum Attempt {
    Status(Answer),
    Transport(TransportError),
}

impl Attempt {
    fn failure(&self) -> Option<Failure> {
        match self {
            Attempt::Status(answer) => Some(Failure::Status(answer.status.as_u16())),
            Attempt::Transport(e) => e.failure.failure(),
        }
    }
}

impl RetryConfig {
    /// Runs `attempt` until it gets an answer the policy does not retry, the retries run out,
    /// the retry budget ([`RetryConfig::retry_timeout`]) would be exceeded, or the service asks
    /// for a longer wait than [`RetryConfig::max_retry_after`].
    ///
    /// - What is retried is [`classify`]'s: a 401 comes back at once for the client to
    ///   re-authenticate; an untrusted certificate is never retried.
    /// - The wait is the answer's `Retry-After` when it has one, else the jittered backoff.
    /// - Each retry is logged at `warn` (`retrying <service> request`) and told to the
    ///   observer.
    pub async fn send<F, Fut>(&self, call: Call<'_>, mut attempt: F) -> Sent
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Answer, reqwest::Error>>,
    {
        let started = tokio::time::Instant::now();
        // Shared by the notify hook and the result; atomic so that the future stays `Send`.
        let retries = AtomicU32::new(0);
        let outcome = (|| {
            let sending = attempt();
            async move {
                match sending.await {
                    Ok(answer)
                        if classify(Failure::Status(answer.status.as_u16()), call.idempotent)
                            == Decision::Done =>
                    {
                        Ok(answer)
                    }
                    Ok(answer) => Err(Attempt::Status(answer)),
                    Err(source) => Err(Attempt::Transport(TransportError {
                        failure: TransportFailure::of(&source),
                        origin: source.url().map(origin),
                        source: source.without_url(),
                    })),
                }
            }
        })
        .retry(
            self.backoff_builder(self.jitter, self.max_retries as usize)
                .build(),
        )
        .sleep(tokio::time::sleep)
        .when(|attempt: &Attempt| {
            attempt
                .failure()
                .is_some_and(|f| classify(f, call.idempotent) == Decision::Retry)
        })
        .adjust(|attempt: &Attempt, backoff| {
            // No retries left: the backoff has no next wait.
            let backoff = backoff?;
            let delay = match attempt {
                Attempt::Status(answer) => match retry_after(&answer.headers) {
                    Some(after) if after > self.max_retry_after => return None,
                    Some(after) => after,
                    None => backoff,
                },
                Attempt::Transport(_) => backoff,
            };
            (started.elapsed() + delay <= self.retry_timeout).then_some(delay)
        })
        .notify(|attempt: &Attempt, delay| {
            let retry = retries.fetch_add(1, Ordering::Relaxed) + 1;
            let reason = attempt.failure().map(Failure::reason).unwrap_or_default();
            let event = RetryEvent {
                operation: call.operation.to_string(),
                retry,
                delay,
                reason,
            };
            tracing::warn!(
                service = call.service,
                operation = %event.operation,
                retry = event.retry,
                of = self.max_retries,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                reason = %event.reason,
                "retrying {} request",
                call.service
            );
            self.notify(&event);
        })
        .await;
        let result = match outcome {
            Ok(answer) | Err(Attempt::Status(answer)) => Ok(answer),
            Err(Attempt::Transport(e)) => Err(e),
        };
        Sent {
            result,
            retries: retries.load(Ordering::Relaxed),
        }
    }
}
