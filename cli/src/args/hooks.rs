//! `protector protection-group hook-*` arguments.

use clap::{ArgGroup, Args, ValueEnum};

use super::OutputOptions;

/// Where in an operation a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookPointArg {
    /// Before anything runs.
    PrePreparation,
    /// Once the group is claimed by the operation.
    PostPreparation,
    /// Before VMs are stopped and volumes copied.
    PreStorage,
    /// Once the volumes are imported on the target.
    PostStorage,
    /// Before ports and servers are created on the target.
    PreInstances,
    /// Once every server is ACTIVE on the target.
    PostInstances,
    /// Before the group records where it runs.
    PreFinalization,
    /// At the very end (a failure only warns).
    PostFinalization,
    /// One member's server is ACTIVE: retried until it succeeds or times out (needs --member).
    AfterBoot,
}

/// What a failed hook does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailureArg {
    /// Fail the operation (a member's after-boot hook: that member).
    Stop,
    /// Record a warning on the operation and go on.
    Warn,
}

/// Which operations run a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppliesToArg {
    /// Failovers (planned, unplanned, site failovers) and failbacks.
    Failover,
    /// DR drills.
    Drill,
    /// Both.
    Both,
}

/// HTTP method of a URL hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// No body.
    Get,
    /// The operation's variables as JSON.
    Post,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("action").required(true).args(["command", "url"])))]
#[command(group(ArgGroup::new("undo").required(false).args(["undo_command", "undo_url"])))]
pub struct HookAddArgs {
    /// Protection group name or id.
    pub group: String,
    /// Hook name, unique in the group.
    #[arg(long)]
    pub name: String,
    /// When it runs.
    #[arg(long, value_enum)]
    pub at: HookPointArg,
    /// Program and arguments run by the engine (no shell), e.g.
    /// `--command /usr/local/bin/notify --phase storage`; give it last: every word after it
    /// belongs to the command.
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "ARG")]
    pub command: Option<Vec<String>>,
    /// An http:// or https:// URL to call instead of a command.
    #[arg(long)]
    pub url: Option<String>,
    /// Method of --url / --undo-url.
    #[arg(long, value_enum, default_value = "post")]
    pub method: MethodArg,
    /// The member it runs for (member id, instance id or instance name); a group hook without.
    #[arg(long)]
    pub member: Option<String>,
    /// Seconds it may take (default 300, at most 3600).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// What its failure does (default: warn for a group hook, stop for a member hook).
    #[arg(long, value_enum)]
    pub on_failure: Option<OnFailureArg>,
    /// Which operations run it.
    #[arg(long = "for", value_enum, default_value = "both")]
    pub applies_to: AppliesToArg,
    /// Drill hooks: a command the drill cleanup runs when the hook ran (give it last).
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "ARG")]
    pub undo_command: Option<Vec<String>>,
    /// Drill hooks: a URL the drill cleanup calls when the hook ran.
    #[arg(long)]
    pub undo_url: Option<String>,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct HookRemoveArgs {
    /// Protection group name or id.
    pub group: String,
    /// Hook name.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub output: OutputOptions,
}
