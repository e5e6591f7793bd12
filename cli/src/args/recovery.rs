//! Recovery point choice and the commit window: `protection-group recovery-points`,
//! `failover-commit`, `failover-rollback`, and the options `failover` and `dr test failover`
//! take for them.

use clap::Args;

use super::{OutputOptions, RunOptions};

/// `--recovery-point`, for an unplanned failover and a drill.
#[derive(Debug, Clone, Args)]
pub struct RecoveryPointOptions {
    /// Recover from this replicated snapshot instead of the latest one: its name as
    /// `protection-group recovery-points` lists it (`ARRAY:PG.N`), or its suffix `N`. Only for
    /// an unplanned failover (--force) or a drill of an async group.
    #[arg(long, value_name = "SNAPSHOT")]
    pub recovery_point: Option<String>,
}

/// `--commit-window`, for an unplanned failover and a rollback.
#[derive(Debug, Clone, Args)]
pub struct CommitWindowOptions {
    /// Unplanned failover: seconds during which it can be rolled back to an older point before
    /// it counts as committed; reverse replication starts at the commit. 0 commits at once.
    /// [default: 3600]
    #[arg(long, value_name = "SECONDS")]
    pub commit_window: Option<u64>,
}

#[derive(Debug, Args)]
pub struct FailoverRollbackArgs {
    /// Protection group name or id.
    pub group: String,
    /// The older snapshot to recover from (`ARRAY:PG.N` or `N`); the next older fully
    /// replicated one by default.
    #[arg(long, value_name = "SNAPSHOT")]
    pub recovery_point: Option<String>,
    /// A new commit window for the failover from the older point [default: the previous one].
    #[arg(long, value_name = "SECONDS")]
    pub commit_window: Option<u64>,
    /// Accepted for symmetry with the other long commands: a rollback always runs in the
    /// foreground with its progress shown (it is recorded and journaled like a failover, and
    /// `protector operation recover` finishes one whose process died).
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub output: OutputOptions,
}
