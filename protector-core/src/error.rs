//! The one error type of protector.
//!
//! Every fallible call in the workspace returns [`Error`]: a kind (what went wrong, in terms a
//! caller can act on), a retry status (whether trying again may help), a one-line message that
//! names the resource and the next step, and context pairs (site, resource id, request id).
//! Client crates convert HTTP statuses into a kind in exactly one `parse_error` function each.

use std::fmt;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The resource does not exist.
    NotFound,
    /// A resource with that name or id already exists.
    AlreadyExists,
    /// The request conflicts with the resource's current state (wrong status, operation running).
    Conflict,
    /// The credentials are valid but lack a right (policy, role).
    PermissionDenied,
    /// The credentials were refused.
    Unauthenticated,
    /// The request itself is wrong: bad argument, unknown option, invalid combination.
    InvalidInput,
    /// A pre-flight validation failed; the message lists every finding.
    ValidationFailed,
    /// The backend cannot do this.
    Unsupported,
    /// The service asked us to slow down (HTTP 429).
    RateLimited,
    /// The service or site cannot be reached or answered 5xx.
    Unavailable,
    /// The call or a wait did not finish in time.
    Timeout,
    /// Protection-group metadata differs between the two sites.
    OutOfSync,
    /// Local configuration is missing or wrong (clouds.yaml, state directory, keys).
    ConfigInvalid,
    /// Anything else; a bug or an unexpected response.
    Unexpected,
}

impl ErrorKind {
    /// A stable, short name used in logs, JSON output and the Python exception mapping.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::ValidationFailed => "validation_failed",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::OutOfSync => "out_of_sync",
            ErrorKind::ConfigInvalid => "config_invalid",
            ErrorKind::Unexpected => "unexpected",
        }
    }

    /// Whether errors of this kind are worth retrying by default.
    fn default_retry(self) -> RetryStatus {
        match self {
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Timeout => {
                RetryStatus::Temporary
            }
            _ => RetryStatus::Permanent,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether trying the same call again may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryStatus {
    /// Retrying cannot help.
    Permanent,
    /// Retrying may help.
    Temporary,
    /// It was temporary, but the retries ran out.
    Persistent,
}

/// The error of every protector API.
pub struct Error {
    kind: ErrorKind,
    retry: RetryStatus,
    message: String,
    context: Vec<(&'static str, String)>,
    findings: Vec<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with protector's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a one-line message that names the resource and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            retry: kind.default_retry(),
            message: message.into(),
            context: Vec::new(),
            findings: Vec::new(),
            source: None,
        }
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// Shorthand for [`ErrorKind::Unavailable`].
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// Shorthand for [`ErrorKind::Unexpected`].
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unexpected, message)
    }

    /// A validation failure carrying every finding.
    pub fn validation(message: impl Into<String>, findings: Vec<String>) -> Self {
        let mut e = Self::new(ErrorKind::ValidationFailed, message);
        e.findings = findings;
        e
    }

    /// Attaches a list of findings (every problem, not just the first).
    #[must_use]
    pub fn with_findings(mut self, findings: Vec<String>) -> Self {
        self.findings = findings;
        self
    }

    /// Adds a context pair such as `("site", "site-b")` or `("request_id", "req-…")`.
    #[must_use]
    pub fn with_context(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.context.push((key, value.into()));
        self
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Overrides the retry status.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryStatus) -> Self {
        self.retry = retry;
        self
    }

    /// Marks a temporary error whose retries ran out.
    #[must_use]
    pub fn set_persistent(mut self) -> Self {
        if self.retry == RetryStatus::Temporary {
            self.retry = RetryStatus::Persistent;
        }
        self
    }

    /// Prefixes the message with what was being done, keeping kind and context.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retry == RetryStatus::Temporary
    }

    /// The retry status.
    pub fn retry_status(&self) -> RetryStatus {
        self.retry
    }

    /// The one-line message, without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Context pairs, in the order they were added.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// The value of one context key, if present.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The findings of a validation failure (empty otherwise).
    pub fn findings(&self) -> &[String] {
        &self.findings
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for finding in &self.findings {
            write!(f, "\n  - {finding}")?;
        }
        if let Some(req) = self.context_value("request_id") {
            write!(f, " (request id {req})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind)
            .field("retry", &self.retry)
            .field("message", &self.message);
        if !self.context.is_empty() {
            d.field("context", &self.context);
        }
        if !self.findings.is_empty() {
            d.field("findings", &self.findings);
        }
        if let Some(source) = &self.source {
            d.field("source", &source.to_string());
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_default_retryability() {
        assert!(Error::unavailable("x").is_retryable());
        assert!(!Error::not_found("x").is_retryable());
        assert!(!Error::unavailable("x").set_persistent().is_retryable());
    }

    #[test]
    fn display_lists_findings_and_request_id() {
        let e = Error::validation("plan is invalid", vec!["a".into(), "b".into()])
            .with_context("request_id", "req-1");
        assert_eq!(
            e.to_string(),
            "plan is invalid\n  - a\n  - b (request id req-1)"
        );
    }
}
