//! The one error type of protector.
//!
//! Every fallible call in the workspace returns [`Error`]: a kind (what went wrong, in terms a
//! caller can act on), a retry status (whether trying again may help), a one-line message that
//! names the resource and the next step, and context pairs (site, resource id, request id).
//! Client crates convert HTTP statuses into a kind in exactly one `parse_error` function each.

use std::fmt;

use serde::{Deserialize, Serialize};

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

/// What the operator can do about an error, as data: each front-end (the CLI, the Python
/// module, the OSC plugin, Horizon) words it as its own command or button. An error's message
/// says what is wrong in words that suit every front-end; its hint says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Hint {
    /// Act as (stand on) another site: the site whose credentials the command runs with.
    /// `site` is the one to use, when there is one answer.
    UseSite {
        /// The site to use.
        site: Option<String>,
    },
    /// List the protection groups the caller sees.
    ListGroups,
    /// List the operations the caller sees.
    ListOperations,
    /// Follow an operation until it ends.
    FollowOperation {
        /// `op-<uuid>`.
        operation: String,
    },
    /// Recover an operation whose process is gone (finish or roll it back).
    RecoverOperation {
        /// `op-<uuid>`.
        operation: String,
    },
    /// Check the name of the site the caller acts as, or register that site.
    CheckSite {
        /// The name given.
        site: String,
    },
    /// Keep protector's local state in another directory.
    UseStateDir,
    /// Register a site.
    RegisterSite {
        /// Its name.
        site: String,
    },
    /// Show a registered site.
    ShowSite {
        /// Its name.
        site: String,
    },
    /// Check a site's endpoints and credentials.
    ValidateSite {
        /// Its name.
        site: String,
    },
    /// Push the group's metadata from the site the caller stands on to the other one.
    SyncForce {
        /// The protection group.
        group: String,
    },
    /// Look at the group's metadata sync state.
    SyncStatus {
        /// The protection group.
        group: String,
    },
    /// (Re)create the group's replication policy.
    CreatePolicy {
        /// The protection group.
        group: String,
    },
    /// List the group's members.
    ListMembers {
        /// The protection group.
        group: String,
    },
    /// Add VMs to the group.
    AddMembers {
        /// The protection group.
        group: String,
    },
    /// Remove a DR drill's test resources.
    CleanupDrill {
        /// The protection group.
        group: String,
    },
    /// Map a resource of the source site to one on `site`.
    MapResource {
        /// What kind of resource.
        resource: MappedResource,
        /// Its name on the source site.
        source: String,
        /// Where it must be mapped to.
        site: String,
        /// The target must be an isolated network (a DR drill).
        #[serde(default)]
        isolated: bool,
    },
    /// Check the mappings given for a kind of resource.
    CheckMapping {
        /// What kind of resource.
        resource: MappedResource,
    },
    /// Run an unplanned (forced) failover of the group instead.
    UnplannedFailover {
        /// The protection group.
        group: String,
    },
    /// Run a planned failover of the group instead (it stops the VMs first, loses no data).
    PlannedFailover {
        /// The protection group.
        group: String,
    },
    /// Look at the tenant mappings.
    ListTenantMappings,
    /// List the replicated snapshots the group can recover from.
    ListRecoveryPoints {
        /// The protection group.
        group: String,
    },
    /// Commit the group's failover, or roll it back to an older recovery point.
    CommitOrRollBack {
        /// The protection group.
        group: String,
    },
}

impl Hint {
    /// The advice in words that suit every front-end (what [`Error`]'s `Display` and the
    /// operation records use); a front-end words it as its own command instead.
    pub fn describe(&self) -> String {
        match self {
            Hint::UseSite { site: Some(site) } => format!("act as site '{site}'"),
            Hint::UseSite { site: None } => "act as the other site".into(),
            Hint::ListGroups => "list the protection groups".into(),
            Hint::ListOperations => "list the operations".into(),
            Hint::FollowOperation { operation } => format!("follow operation {operation}"),
            Hint::RecoverOperation { operation } => {
                format!("recover operation {operation} (finish or undo it)")
            }
            Hint::CheckSite { site } => {
                format!("check the site you act as, or register site '{site}'")
            }
            Hint::UseStateDir => "choose another state directory".into(),
            Hint::RegisterSite { site } => format!("register site '{site}'"),
            Hint::ShowSite { site } => format!("see site '{site}'"),
            Hint::ValidateSite { site } => format!("validate site '{site}'"),
            Hint::SyncForce { group } => {
                format!("force a metadata sync (sync-force) of protection group '{group}'")
            }
            Hint::SyncStatus { group } => {
                format!("check the sync status of protection group '{group}'")
            }
            Hint::CreatePolicy { group } => {
                format!("create the replication policy of protection group '{group}' again")
            }
            Hint::ListMembers { group } => {
                format!("list the members of protection group '{group}'")
            }
            Hint::AddMembers { group } => format!("add VMs to protection group '{group}'"),
            Hint::CleanupDrill { group } => {
                format!("clean up the DR drill of protection group '{group}'")
            }
            Hint::MapResource {
                resource,
                source,
                site,
                isolated,
            } => format!(
                "map {} '{source}' to {}{} on {site}",
                resource.as_str(),
                if *isolated { "an isolated " } else { "a " },
                resource.as_str()
            ),
            Hint::CheckMapping { resource } => format!("check the {} mappings", resource.as_str()),
            Hint::UnplannedFailover { group } => {
                format!("run an unplanned (forced) failover of protection group '{group}'")
            }
            Hint::PlannedFailover { group } => format!(
                "run a planned failover of protection group '{group}', which stops the VMs first and loses no data"
            ),
            Hint::ListTenantMappings => "check the tenant mappings".into(),
            Hint::ListRecoveryPoints { group } => {
                format!("list the recovery points of protection group '{group}'")
            }
            Hint::CommitOrRollBack { group } => format!(
                "commit the failover of protection group '{group}', or roll it back to an older recovery point"
            ),
        }
    }
}

/// A kind of resource mapped between sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappedResource {
    /// Neutron network.
    Network,
    /// Nova flavor.
    Flavor,
    /// Neutron security group.
    SecurityGroup,
}

/// One problem among several of an error (a validation's findings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, on which resource.
    pub message: String,
    /// What to do about it.
    pub hint: Option<Hint>,
}

impl MappedResource {
    /// The spelling used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            MappedResource::Network => "network",
            MappedResource::Flavor => "flavor",
            MappedResource::SecurityGroup => "security group",
        }
    }
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Problem {
            message,
            hint: None,
        }
    }
}

impl From<&str> for Problem {
    fn from(message: &str) -> Self {
        Problem::from(message.to_string())
    }
}

/// The error of every protector API.
pub struct Error {
    kind: ErrorKind,
    retry: RetryStatus,
    message: String,
    // Boxed: errors travel in every `Result`, and most have no hint.
    hint: Option<Box<Hint>>,
    context: Vec<(&'static str, String)>,
    findings: Vec<Problem>,
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
            hint: None,
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
        e.findings = findings.into_iter().map(Problem::from).collect();
        e
    }

    /// Attaches a list of findings (every problem, not just the first).
    #[must_use]
    pub fn with_findings(mut self, findings: Vec<Problem>) -> Self {
        self.findings = findings;
        self
    }

    /// Says what the operator can do about it.
    #[must_use]
    pub fn with_hint(mut self, hint: Hint) -> Self {
        self.hint = Some(Box::new(hint));
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

    /// A copy for another caller of a call several shared (a shared poll, a bulk request):
    /// everything but the underlying cause, which is not `Clone`.
    pub(crate) fn shared_copy(&self) -> Error {
        Error {
            kind: self.kind,
            retry: self.retry,
            message: self.message.clone(),
            hint: self.hint.clone(),
            context: self.context.clone(),
            findings: self.findings.clone(),
            source: None,
        }
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

    /// What the operator can do about it, for the front-end to word.
    pub fn hint(&self) -> Option<&Hint> {
        self.hint.as_deref()
    }

    /// The findings of a validation failure (empty otherwise).
    pub fn findings(&self) -> &[Problem] {
        &self.findings
    }
}

impl fmt::Display for Problem {
    /// The message, then the hint in words that suit every front-end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, ": {}", hint.describe())?;
        }
        Ok(())
    }
}

/// The message and hint (in words that suit every front-end), every finding on a line of its
/// own, and the request id.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, ": {}", hint.describe())?;
        }
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
        if let Some(hint) = &self.hint {
            d.field("hint", hint);
        }
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
