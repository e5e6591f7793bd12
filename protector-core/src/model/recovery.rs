//! The recovery point a failed-over group runs on, and its commit window.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The replicated snapshot a failover recovered the group from, recorded on the group (and so
/// synced to the other site with its document).
///
/// An unplanned failover ends *uncommitted*: until `failover-commit`, or until
/// `commit_deadline` passes, the operator may roll back to an older point, and the reverse
/// re-protection is not set up yet. Once the deadline has passed the failover counts as
/// committed ([`RunningPoint::is_committed`]), whether or not a commit was recorded; the
/// engine records it at the next commit or rollback call on the group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningPoint {
    /// The replicated protection-group snapshot (`array:pg.N`), or `pod <name>` for a sync
    /// group (which has no point choice).
    pub snapshot: String,
    /// When the source array took it.
    pub created_at: DateTime<Utc>,
    /// The failover (or the rollback's failover) that recovered from it.
    pub operation_id: Uuid,
    /// End of the commit window; `None` when the failover was committed as it ended.
    #[serde(default)]
    pub commit_deadline: Option<DateTime<Utc>>,
    /// When it was committed (by `failover-commit`, at once, or noticed past its deadline).
    #[serde(default)]
    pub committed_at: Option<DateTime<Utc>>,
}

impl RunningPoint {
    /// Whether the failover counts as committed at `now`: recorded so, or its window over.
    pub fn is_committed(&self, now: DateTime<Utc>) -> bool {
        self.committed_at.is_some() || self.commit_deadline.is_none_or(|d| now >= d)
    }

    /// Whether the window has passed without a commit being recorded: the next commit or
    /// rollback call records it.
    pub fn commit_overdue(&self, now: DateTime<Utc>) -> bool {
        self.committed_at.is_none() && self.is_committed(now)
    }

    /// `committed`, `uncommitted` or `committed (window expired)`, as views show it.
    pub fn commit_state(&self, now: DateTime<Utc>) -> &'static str {
        if self.committed_at.is_some() {
            "committed"
        } else if self.is_committed(now) {
            "committed (window expired)"
        } else {
            "uncommitted"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(deadline: Option<i64>, committed: Option<i64>) -> RunningPoint {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        RunningPoint {
            snapshot: "array-a:pg.3".into(),
            created_at: at(0),
            operation_id: Uuid::nil(),
            commit_deadline: deadline.map(at),
            committed_at: committed.map(at),
        }
    }

    #[test]
    fn a_window_counts_as_committed_once_over() {
        let now = DateTime::from_timestamp(100, 0).unwrap();
        assert_eq!(point(Some(200), None).commit_state(now), "uncommitted");
        assert!(!point(Some(200), None).commit_overdue(now));
        assert_eq!(
            point(Some(50), None).commit_state(now),
            "committed (window expired)"
        );
        assert!(point(Some(50), None).commit_overdue(now));
        assert_eq!(point(Some(200), Some(90)).commit_state(now), "committed");
        assert!(point(None, None).is_committed(now));
    }
}
