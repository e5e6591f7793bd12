//! Failures without an answer: what they mean for retrying and for the caller.

use protector_core::error::RetryStatus;
use protector_core::ErrorKind;
use reqwest::Url;

use crate::retry::{self, Failure};

/// How a request failed before an answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportFailure {
    /// No connection: nothing was sent.
    Connect,
    /// No answer in time: the request may have run.
    Timeout,
    /// The connection broke, or the answer could not be read: the request may have run.
    Interrupted,
    /// The server's certificate failed verification (unknown issuer, expired, wrong name): no
    /// retry can help, the client needs the CA that signed it. Nothing was sent.
    Untrusted,
}

impl TransportFailure {
    /// Classifies a `reqwest` error.
    pub fn of(error: &reqwest::Error) -> TransportFailure {
        if certificate_error(error).is_some() {
            return TransportFailure::Untrusted;
        }
        // A connect timeout is both: nothing was sent, so it counts as a connect failure.
        if error.is_connect() {
            TransportFailure::Connect
        } else if error.is_timeout() {
            TransportFailure::Timeout
        } else {
            TransportFailure::Interrupted
        }
    }

    /// The failure as the retry policy sees it; `None` for an untrusted certificate, which is
    /// never retried.
    pub fn failure(self) -> Option<Failure> {
        match self {
            TransportFailure::Connect => Some(Failure::Connect),
            TransportFailure::Timeout => Some(Failure::Timeout),
            TransportFailure::Interrupted => Some(Failure::Interrupted),
            TransportFailure::Untrusted => None,
        }
    }

    /// The kind of error it makes: `Unavailable` (no connection, connection broken), `Timeout`,
    /// or `ConfigInvalid` for an untrusted certificate (the client's trust settings must change).
    pub fn kind(self) -> ErrorKind {
        match self {
            TransportFailure::Connect | TransportFailure::Interrupted => ErrorKind::Unavailable,
            TransportFailure::Timeout => ErrorKind::Timeout,
            TransportFailure::Untrusted => ErrorKind::ConfigInvalid,
        }
    }

    /// `Temporary` when the retry policy retries it for a request of this idempotency.
    pub fn retry_status(self, idempotent: bool) -> RetryStatus {
        match self.failure() {
            Some(failure) => retry::retry_status(failure, idempotent),
            None => RetryStatus::Permanent,
        }
    }

    /// Whether a non-idempotent request may have run despite the failure.
    pub fn may_have_run(self, idempotent: bool) -> bool {
        self.failure()
            .is_some_and(|failure| retry::may_have_run(failure, idempotent))
    }
}

/// The certificate verification error in `error`'s chain of causes, if that is why it failed:
/// `invalid peer certificate: <reason>`. reqwest does not expose rustls' error type, so the text
/// is what can be matched.
pub fn certificate_error(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if let Some(at) = text.find("invalid peer certificate") {
            return Some(text[at..].to_string());
        }
        current = e.source();
    }
    None
}

/// The innermost cause's text: `Connection refused (os error 111)` rather than reqwest's
/// `error sending request for url (...)`.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// `scheme://host[:port]` of a URL: where a request went, without path, query or credentials.
pub fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_retries_of_each_failure() {
        use TransportFailure::*;
        #[rustfmt::skip]
        let table = [
            // failure,  kind,                     retry idempotent,      retry otherwise,       may have run
            (Connect,     ErrorKind::Unavailable,   RetryStatus::Temporary, RetryStatus::Temporary, false),
            (Timeout,     ErrorKind::Timeout,       RetryStatus::Temporary, RetryStatus::Permanent, true),
            (Interrupted, ErrorKind::Unavailable,   RetryStatus::Temporary, RetryStatus::Permanent, true),
            (Untrusted,   ErrorKind::ConfigInvalid, RetryStatus::Permanent, RetryStatus::Permanent, false),
        ];
        for (failure, kind, idempotent, not_idempotent, may_have_run) in table {
            assert_eq!(failure.kind(), kind, "{failure:?}");
            assert_eq!(failure.retry_status(true), idempotent, "{failure:?}");
            assert_eq!(failure.retry_status(false), not_idempotent, "{failure:?}");
            assert_eq!(failure.may_have_run(false), may_have_run, "{failure:?}");
            assert!(!failure.may_have_run(true), "{failure:?}");
        }
    }

    #[test]
    fn origin_drops_path_query_and_credentials() {
        let url =
            Url::parse("https://user:pw@array-a.example.com:8443/api/2.56/login?x=1").unwrap();
        assert_eq!(origin(&url), "https://array-a.example.com:8443");
        let url = Url::parse("https://keystone.example.com/v3").unwrap();
        assert_eq!(origin(&url), "https://keystone.example.com");
    }
}
