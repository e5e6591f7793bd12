//! `protector operation ...` arguments.

use clap::{Args, Subcommand};

use super::OutputOptions;

#[derive(Debug, Subcommand)]
pub enum OperationCommand {
    /// List operations, newest first (those of one group, in some statuses or of some types
    /// with the options).
    List(OperationListArgs),
    /// Show one operation.
    Show(OperationArgs),
    /// Finish or roll back a failover or failback whose process died; prints the operation.
    ///
    /// Run it only once the process that ran the operation is gone (it ended, was killed, or
    /// its machine is down): recovering an operation that still runs undoes its work under it.
    ///
    /// From the operation's journal and the tags on what it created, the operation is
    /// continued to its end from where it stopped: what it had already made is found and kept,
    /// the remaining steps run (`completed`; a continuation that fails rolls back like any
    /// failed run, `failed`). With `--rollback` it is rolled back instead (what it created on
    /// the target site is removed, the VMs it stopped run again, the group returns to its
    /// previous status; the record ends `failed`). A failback whose original VMs already run
    /// is always finished. The target site must be reachable. A record left `pending` by a
    /// background run that ended before the operation started is marked `failed`: nothing had
    /// changed. A `failed` failover or failback has what it left on its target removed, found
    /// by its tags (its rollback could not reach the site); any other finished operation is
    /// printed unchanged. A DR drill has what it made removed and runs again (with
    /// `--rollback`: only removed). A drill cleanup is finished. A site failover is taken to
    /// its end: the failover of each group that was running is recovered as above, the
    /// groups it had not reached yet are failed over now, and the record settles as a
    /// finished run's does.
    ///
    /// Exits 0 once the operation is recorded as ended; its status and error_message say how
    /// (what could not be undone is listed there).
    Recover(RecoverArgs),
    /// Stop a pending or running operation.
    ///
    /// One that has not started ends `failed` at once (nothing was changed). A running one
    /// stops before its next step and rolls back as a failed run does (the VMs it stopped run
    /// again, what it created on the target is removed); a site failover starts no further
    /// group (groups already failing over finish). Prints the record as it is now: follow it
    /// with `protector operation wait`.
    Cancel(OperationArgs),
    /// Wait for an operation (run by any process) to end; prints its final record.
    ///
    /// Exits 0 when it completed, 8 when it ended partial or failed, and with the error's
    /// status when nothing runs it any more (recover it).
    Wait(OperationArgs),
}

/// An operation to recover, and how.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Operation id (`op-<uuid>`, or the bare uuid).
    pub id: String,
    /// Undo what the operation did instead of continuing it.
    #[arg(long)]
    pub rollback: bool,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct OperationArgs {
    /// Operation id (`op-<uuid>`, or the bare uuid).
    pub id: String,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct OperationListArgs {
    /// Only the operations of this protection group (name or id).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Only operations in this status: pending, running, completed, failed or partial (repeat
    /// it or separate them with commas).
    #[arg(long = "status", value_name = "STATUS")]
    pub statuses: Vec<String>,
    /// Only operations of this type: failover, failback, test_failover, test_cleanup,
    /// site_failover or sync (repeat it or separate them with commas).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// At most this many, the newest.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub output: OutputOptions,
}
