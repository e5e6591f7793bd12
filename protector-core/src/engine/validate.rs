//! Validation: every finding, not the first; and the re-check of a plan before it runs.

use serde::{Deserialize, Serialize};

use uuid::Uuid;

use super::Protector;
use crate::error::{Error, ErrorKind, Hint, Problem, Result};
use crate::plan::{FailoverMode, Plan};

/// The code of the finding that a plan was made from an older version of its group.
const PLAN_STALE: &str = "plan_stale";

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The operation cannot run.
    Error,
    /// The operation can run; the operator should know.
    Warning,
}

/// One problem found while planning or validating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The error kind this finding maps to when it blocks the operation.
    pub kind: ErrorKind,
    /// Short stable code (`network_unmapped`, `peer_unreachable`, …).
    pub code: String,
    /// What is wrong, on which resource, and what to do.
    pub message: String,
    /// Member (instance name) concerned, if any.
    pub member: Option<String>,
    /// What to do about it, for the front-end to word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
}

impl Finding {
    /// A blocking finding.
    pub fn error(kind: ErrorKind, code: &str, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            kind,
            code: code.to_string(),
            message: message.into(),
            member: None,
            hint: None,
        }
    }

    /// A non-blocking finding.
    pub fn warning(code: &str, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            kind: ErrorKind::ValidationFailed,
            code: code.to_string(),
            message: message.into(),
            member: None,
            hint: None,
        }
    }

    /// Says what the operator can do about it.
    #[must_use]
    pub fn with_hint(mut self, hint: Hint) -> Self {
        self.hint = Some(hint);
        self
    }

    /// The finding as one problem of an error.
    pub fn problem(&self) -> Problem {
        Problem {
            message: self.message.clone(),
            hint: self.hint.clone(),
        }
    }

    /// Names the member concerned.
    #[must_use]
    pub fn for_member(mut self, member: &str) -> Self {
        self.member = Some(member.to_string());
        self
    }
}

/// Every finding of a validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Findings in the order found.
    pub findings: Vec<Finding>,
}

impl ValidationReport {
    /// Whether nothing blocks the operation.
    pub fn is_ok(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Blocking findings.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// Warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// `Ok` when nothing blocks; otherwise one error carrying every blocking finding.
    ///
    /// The error's kind is the most fundamental blocking kind found: a wrong group status
    /// (`Conflict`) before an unreachable site (`Unavailable`) before metadata out of sync
    /// (`OutOfSync`) before missing rights (`PermissionDenied`) before everything else
    /// (`ValidationFailed`; `InvalidInput` when every blocking finding is the request's own
    /// fault). A single finding becomes the message itself.
    pub fn into_result(self, what: &str) -> Result<(), Error> {
        let errors: Vec<&Finding> = self.errors().collect();
        if errors.is_empty() {
            return Ok(());
        }
        let rank = |k: ErrorKind| match k {
            ErrorKind::Conflict => 0,
            ErrorKind::Unavailable => 1,
            ErrorKind::OutOfSync => 2,
            ErrorKind::PermissionDenied => 3,
            _ => 4,
        };
        let kind = errors
            .iter()
            .map(|f| f.kind)
            .min_by_key(|k| rank(*k))
            .unwrap_or(ErrorKind::ValidationFailed);
        // A request that is itself wrong (a recovery point that cannot be used) says so.
        let kind = if rank(kind) == 4 && errors.iter().all(|f| f.kind == ErrorKind::InvalidInput) {
            ErrorKind::InvalidInput
        } else if rank(kind) == 4 {
            ErrorKind::ValidationFailed
        } else {
            kind
        };
        if errors.len() == 1 {
            let error = Error::new(kind, errors[0].message.clone());
            return Err(match &errors[0].hint {
                Some(hint) => error.with_hint(hint.clone()),
                None => error,
            });
        }
        let first = errors
            .iter()
            .find(|f| f.kind == kind)
            .map_or_else(String::new, |f| f.message.clone());
        let findings = errors.iter().map(|f| f.problem()).collect();
        Err(Error::new(
            kind,
            format!(
                "{what} blocked by {} problems; first: {first}",
                errors.len()
            ),
        )
        .with_findings(findings))
    }
}

impl Protector {
    /// Re-checks a plan against the current group: its findings plus staleness.
    pub async fn validate_plan(&self, plan: &Plan) -> Result<ValidationReport> {
        let mut report = ValidationReport {
            findings: plan.findings.clone(),
        };
        // A plan is the caller's data: its group is resolved like a named one.
        let group = self.group(&plan.group_id.to_string()).await?;
        if let Some(running) = group.active_operation_id {
            // Another operation claimed the group after this plan was made.
            report.findings.push(Finding::error(
                ErrorKind::Conflict,
                "operation_running",
                format!(
                    "operation op-{running} is running on protection group '{}' (status {}): \
                     nothing was changed; wait for it to finish and plan again",
                    group.name, group.status
                ),
            ));
        } else if group.metadata.version != plan.metadata_version {
            report.findings.push(Finding::error(
                ErrorKind::Conflict,
                PLAN_STALE,
                format!(
                    "the plan was made from metadata version {} of '{}', which is now at version {} (status {}): plan again",
                    plan.metadata_version, group.name, group.metadata.version, group.status
                ),
            ));
        }
        Ok(report)
    }

    /// The failover plan submitted as operation `id`, re-checked when the operation runs:
    /// `Some` to run it as it is, `None` to plan again, `Err` when it is refused.
    ///
    /// An unplanned failover runs exactly the plan whose data at risk was reported, or
    /// nothing. A planned one runs its plan while the group's metadata version is the one it
    /// was made from and both sites answer (this operation's reachability check of each); else
    /// it plans again, so that what changed meanwhile (members, a site lost, with the
    /// planner's advice) is seen.
    pub(crate) async fn recheck_submitted(&self, mut plan: Plan, id: Uuid) -> Result<Option<Plan>> {
        plan.id = id;
        let planned = plan.mode == FailoverMode::Planned;
        // A planned failover needs both sites: ask both Keystones at once, while the plan is
        // checked (the operation trusts their answers from then on).
        let reachable = async {
            if !planned {
                return true;
            }
            let (target, source) = futures::join!(
                Box::pin(self.ensure_reachable(&plan.target_site)),
                Box::pin(self.ensure_reachable(&plan.source_site))
            );
            target.is_ok() && source.is_ok()
        };
        let (report, reachable) =
            futures::join!(Box::pin(self.validate_plan(&plan)), Box::pin(reachable));
        let report = report?;
        if planned {
            let stale = report.findings.iter().any(|f| f.code == PLAN_STALE);
            if stale || !reachable {
                return Ok(None);
            }
        }
        report.into_result(&format!(
            "failover of protection group '{}'",
            plan.group_name
        ))?;
        Ok(Some(plan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_fundamental_kind_wins_and_all_findings_are_kept() {
        let report = ValidationReport {
            findings: vec![
                Finding::error(ErrorKind::ValidationFailed, "network_unmapped", "net"),
                Finding::error(ErrorKind::Unavailable, "peer_unreachable", "peer"),
                Finding::warning("rpo", "lag"),
            ],
        };
        let err = report.into_result("failover").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        let messages: Vec<&str> = err.findings().iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages, ["net", "peer"]);
    }

    #[test]
    fn single_finding_is_the_message() {
        let report = ValidationReport {
            findings: vec![Finding::error(ErrorKind::OutOfSync, "sync", "out of sync")],
        };
        let err = report.into_result("failover").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfSync);
        assert_eq!(err.message(), "out of sync");
    }
}
