//! Hooks: steps of the operator's own that an operation runs around its phases (SRM's
//! "commands" and "prompts", Zerto's scripts), stored on the protection group so that both
//! sites hold them (synced metadata).
//!
//! A hook is a command the engine runs (argv, no shell) or a URL it calls, at one
//! [`HookPoint`], for failovers, drills or both, with a timeout; when it fails it stops the
//! operation (or, for a member hook, that member) or is recorded as a warning. A drill hook
//! may name an `undo` action that the drill cleanup runs. Hooks must be idempotent: an
//! operation resumed after a crash runs again every hook that had started but not finished.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::check_name;
use crate::error::{Error, Result};

/// Default timeout of a hook, in seconds (SRM's default, 5 minutes).
pub const DEFAULT_HOOK_TIMEOUT_SECS: u64 = 300;
/// Longest timeout a hook may have, in seconds (one hour).
pub const MAX_HOOK_TIMEOUT_SECS: u64 = 3600;

/// Where in an operation a hook runs.
///
/// `pre_*`/`post_*` run at the boundaries of the four phases (group hooks, and member hooks
/// once per member with that member's variables). `after_boot` runs for one member once its
/// server is ACTIVE on the target, and is tried again until it succeeds or its timeout ends
/// (a readiness check); it gates the member like the wait for ACTIVE does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookPoint {
    /// Before anything runs (the group is not claimed yet).
    PrePreparation,
    /// Once the group is claimed by the operation.
    PostPreparation,
    /// Before storage: VMs stopped (planned failover), snapshots, copies.
    PreStorage,
    /// Once the volumes are in the target's Cinder.
    PostStorage,
    /// Before ports and servers are created on the target.
    PreInstances,
    /// Once every server is ACTIVE on the target.
    PostInstances,
    /// Before the group records where it runs now.
    PreFinalization,
    /// At the very end. The operation's outcome is decided: a failure here is a warning.
    PostFinalization,
    /// One member's server is ACTIVE on the target: retried until it succeeds (readiness).
    AfterBoot,
}

impl HookPoint {
    /// Every point, in the order an operation reaches them.
    pub const ALL: [HookPoint; 9] = [
        HookPoint::PrePreparation,
        HookPoint::PostPreparation,
        HookPoint::PreStorage,
        HookPoint::PostStorage,
        HookPoint::PreInstances,
        HookPoint::AfterBoot,
        HookPoint::PostInstances,
        HookPoint::PreFinalization,
        HookPoint::PostFinalization,
    ];

    /// The spelling used in output and on the command line (`pre-storage`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookPoint::PrePreparation => "pre-preparation",
            HookPoint::PostPreparation => "post-preparation",
            HookPoint::PreStorage => "pre-storage",
            HookPoint::PostStorage => "post-storage",
            HookPoint::PreInstances => "pre-instances",
            HookPoint::PostInstances => "post-instances",
            HookPoint::PreFinalization => "pre-finalization",
            HookPoint::PostFinalization => "post-finalization",
            HookPoint::AfterBoot => "after-boot",
        }
    }

    /// The phase it belongs to, as `PROTECTOR_PHASE` names it.
    pub fn phase(self) -> &'static str {
        match self {
            HookPoint::PrePreparation | HookPoint::PostPreparation => "preparation",
            HookPoint::PreStorage | HookPoint::PostStorage => "storage",
            HookPoint::PreInstances | HookPoint::PostInstances | HookPoint::AfterBoot => {
                "instances"
            }
            HookPoint::PreFinalization | HookPoint::PostFinalization => "finalization",
        }
    }
}

impl std::fmt::Display for HookPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for HookPoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let spelled = s.replace('_', "-");
        HookPoint::ALL
            .into_iter()
            .find(|p| p.as_str() == spelled)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown hook point '{s}': use one of {}",
                    HookPoint::ALL.map(HookPoint::as_str).join(", ")
                ))
            })
    }
}

/// HTTP method of a URL hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum HookMethod {
    /// `GET`, no body.
    Get,
    /// `POST` with the operation's variables as a JSON body.
    #[default]
    Post,
}

impl HookMethod {
    /// `GET` or `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookMethod::Get => "GET",
            HookMethod::Post => "POST",
        }
    }
}

impl std::str::FromStr for HookMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Ok(HookMethod::Get),
            "POST" => Ok(HookMethod::Post),
            _ => Err(Error::invalid(format!(
                "unknown hook method '{s}': use GET or POST"
            ))),
        }
    }
}

fn default_status_min() -> u16 {
    200
}

fn default_status_max() -> u16 {
    299
}

/// What a hook does.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HookAction {
    /// A program run by the engine on its own machine: `argv[0]` with the other arguments, no
    /// shell, stdin empty, the operation's variables in its environment. Success is exit 0.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// An HTTP(S) call; `POST` sends the operation's variables as JSON. Success is a status
    /// in `status_min..=status_max` (2xx by default).
    Url {
        /// GET or POST.
        #[serde(default)]
        method: HookMethod,
        /// `http://` or `https://` URL. Its query string is never logged nor shown in errors.
        url: String,
        /// Lowest status that counts as success.
        #[serde(default = "default_status_min")]
        status_min: u16,
        /// Highest status that counts as success.
        #[serde(default = "default_status_max")]
        status_max: u16,
    },
}

impl HookAction {
    /// A URL hook with the default method (POST) and status range (2xx).
    pub fn url(url: impl Into<String>) -> HookAction {
        HookAction::Url {
            method: HookMethod::Post,
            url: url.into(),
            status_min: default_status_min(),
            status_max: default_status_max(),
        }
    }

    /// What it does in words, with a URL's query string and credentials redacted.
    pub fn describe(&self) -> String {
        match self {
            HookAction::Command { argv } => format!("command {}", argv.join(" ")),
            HookAction::Url { method, url, .. } => {
                format!("{} {}", method.as_str(), redact_url(url))
            }
        }
    }

    /// Checks the action; `what` names the hook in the message.
    fn check(&self, what: &str) -> Result<()> {
        match self {
            HookAction::Command { argv } => {
                if argv.first().is_none_or(|program| program.trim().is_empty()) {
                    return Err(Error::invalid(format!(
                        "{what} has an empty command: give the program and its arguments"
                    )));
                }
                if argv.iter().any(|a| a.contains('\0')) {
                    return Err(Error::invalid(format!(
                        "{what} has a command argument with a NUL character: remove it"
                    )));
                }
            }
            HookAction::Url {
                url,
                status_min,
                status_max,
                ..
            } => {
                let rest = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"));
                let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
                match host {
                    None => {
                        return Err(Error::invalid(format!(
                            "{what} has URL '{}': only http:// and https:// URLs can be called",
                            redact_url(url)
                        )))
                    }
                    Some(h) if h.is_empty() || url.chars().any(char::is_whitespace) => {
                        return Err(Error::invalid(format!(
                            "{what} has URL '{}', which names no host or contains spaces: give a URL such as https://host/path",
                            redact_url(url)
                        )))
                    }
                    Some(_) => {}
                }
                if !(100..=599).contains(status_min)
                    || !(100..=599).contains(status_max)
                    || status_min > status_max
                {
                    return Err(Error::invalid(format!(
                        "{what} expects status {status_min}..={status_max}: give a range within 100..=599, lowest first"
                    )));
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for HookAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A URL may carry a token in its query: Debug shows it redacted.
        match self {
            HookAction::Command { argv } => f.debug_struct("Command").field("argv", argv).finish(),
            HookAction::Url {
                method,
                url,
                status_min,
                status_max,
            } => f
                .debug_struct("Url")
                .field("method", method)
                .field("url", &redact_url(url))
                .field("status_min", status_min)
                .field("status_max", status_max)
                .finish(),
        }
    }
}

/// `url` without credentials (`user:password@`) and with its query string and fragment
/// replaced by `?…`: the form URLs take in logs, errors and output.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (before_query, had_query) = match rest.find(['?', '#']) {
        Some(i) => (&rest[..i], true),
        None => (rest, false),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i..]),
        None => (before_query, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let mut out = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    out.push_str(host);
    out.push_str(path);
    if had_query {
        out.push_str("?…");
    }
    out
}

/// What a hook fails: the operation (or its member), or nothing but a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookFailure {
    /// A group hook fails the operation (which is rolled back as for any failed step); a
    /// member hook fails that member only.
    Stop,
    /// Recorded as a warning on the operation, which goes on.
    Warn,
}

impl HookFailure {
    /// `stop` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookFailure::Stop => "stop",
            HookFailure::Warn => "warn",
        }
    }
}

impl std::str::FromStr for HookFailure {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "stop" => Ok(HookFailure::Stop),
            "warn" => Ok(HookFailure::Warn),
            _ => Err(Error::invalid(format!(
                "unknown failure policy '{s}': use stop or warn"
            ))),
        }
    }
}

/// Which operations run a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HookAppliesTo {
    /// Failovers: planned, unplanned (a site failover's too) and failbacks.
    Failover,
    /// DR drills (test failovers) only.
    Drill,
    /// Both.
    #[default]
    Both,
}

impl HookAppliesTo {
    /// `failover`, `drill` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookAppliesTo::Failover => "failover",
            HookAppliesTo::Drill => "drill",
            HookAppliesTo::Both => "both",
        }
    }

    /// Whether a drill (`true`) or a failover/failback (`false`) runs it.
    pub fn covers(self, drill: bool) -> bool {
        match self {
            HookAppliesTo::Both => true,
            HookAppliesTo::Drill => drill,
            HookAppliesTo::Failover => !drill,
        }
    }
}

impl std::str::FromStr for HookAppliesTo {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "failover" => Ok(HookAppliesTo::Failover),
            "drill" => Ok(HookAppliesTo::Drill),
            "both" => Ok(HookAppliesTo::Both),
            _ => Err(Error::invalid(format!(
                "unknown hook scope '{s}': use failover, drill or both"
            ))),
        }
    }
}

fn default_timeout() -> u64 {
    DEFAULT_HOOK_TIMEOUT_SECS
}

/// A hook of a protection group (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// Unique within the group.
    pub name: String,
    /// The member it runs for, or `None` for a group hook.
    #[serde(default)]
    pub member: Option<Uuid>,
    /// When it runs.
    pub at: HookPoint,
    /// What it does.
    pub action: HookAction,
    /// Seconds it may take (an `after_boot` hook: all its attempts together).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// What its failure does.
    pub on_failure: HookFailure,
    /// Which operations run it.
    #[serde(default)]
    pub applies_to: HookAppliesTo,
    /// Drill hooks: what the drill cleanup runs for it, when it ran in that drill.
    #[serde(default)]
    pub undo: Option<HookAction>,
}

impl Hook {
    /// Checks everything that does not depend on the group: name, action, timeout, undo.
    ///
    /// # Errors
    /// `InvalidInput` naming the hook and what to change.
    pub fn check(&self) -> Result<()> {
        check_name("hook", &self.name)?;
        let what = format!("hook '{}'", self.name);
        self.action.check(&what)?;
        if self.timeout_secs == 0 || self.timeout_secs > MAX_HOOK_TIMEOUT_SECS {
            return Err(Error::invalid(format!(
                "{what} has a timeout of {} s: give 1 to {MAX_HOOK_TIMEOUT_SECS} seconds",
                self.timeout_secs
            )));
        }
        if self.at == HookPoint::AfterBoot && self.member.is_none() {
            return Err(Error::invalid(format!(
                "{what} runs after-boot, which is per member: name the member it waits for"
            )));
        }
        if let Some(undo) = &self.undo {
            if self.applies_to == HookAppliesTo::Failover {
                return Err(Error::invalid(format!(
                    "{what} has an undo action but runs for failovers only: undo actions run at drill cleanup, so make the hook drill or both, or drop the undo"
                )));
            }
            undo.check(&format!("the undo action of {what}"))?;
        }
        Ok(())
    }

    /// Whether it is a command (which an engine may be configured to refuse).
    pub fn runs_command(&self) -> bool {
        matches!(self.action, HookAction::Command { .. })
            || matches!(self.undo, Some(HookAction::Command { .. }))
    }
}

/// The undo action of a drill hook that ran in a drill, kept on the drill record
/// ([`crate::model::TestFailoverRecord::hooks_to_undo`]) until the drill's cleanup (or its
/// rollback) has run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookUndo {
    /// The hook that ran.
    pub hook: String,
    /// The member it ran for, if a member hook.
    #[serde(default)]
    pub member: Option<Uuid>,
    /// What to run.
    pub action: HookAction,
    /// Its timeout, in seconds.
    pub timeout_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(action: HookAction) -> Hook {
        Hook {
            name: "h".into(),
            member: None,
            at: HookPoint::PreStorage,
            action,
            timeout_secs: 300,
            on_failure: HookFailure::Stop,
            applies_to: HookAppliesTo::Both,
            undo: None,
        }
    }

    #[test]
    fn redacts_credentials_and_query() {
        assert_eq!(
            redact_url("https://user:pw@hooks.example/x/y?token=s3cret#f"),
            "https://hooks.example/x/y?…"
        );
        assert_eq!(redact_url("http://h:8080/p"), "http://h:8080/p");
        let debug = format!("{:?}", HookAction::url("https://h/p?token=s3cret"));
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn refuses_bad_actions() {
        for action in [
            HookAction::Command { argv: vec![] },
            HookAction::Command {
                argv: vec![" ".into()],
            },
            HookAction::url("ftp://h/x"),
            HookAction::url("https:///x"),
            HookAction::url("file:///etc/passwd"),
        ] {
            let e = hook(action).check().unwrap_err();
            assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn points_parse_both_spellings() {
        for p in HookPoint::ALL {
            assert_eq!(p.as_str().parse::<HookPoint>().unwrap(), p);
            assert_eq!(
                p.as_str().replace('-', "_").parse::<HookPoint>().unwrap(),
                p
            );
            let json = serde_json::to_value(p).unwrap();
            assert_eq!(json, p.as_str().replace('-', "_"));
        }
    }
}
