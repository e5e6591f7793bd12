//! The boot-order options of `member-add` and `member-set`.

use clap::Args;

use super::OutputOptions;

/// A member's place in the boot order.
#[derive(Debug, Args)]
pub struct MemberOrderArgs {
    /// Boot priority, 1 (boots first) to 5 (boots last), as SRM's priority groups; a new
    /// member gets 3.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub priority: Option<u8>,
    /// A member (instance name or member id) that must be ACTIVE before this one boots; give
    /// it once per member. It must have the same or an earlier priority.
    #[arg(long = "depends-on", value_name = "MEMBER")]
    pub depends_on: Vec<String>,
}

#[derive(Debug, Args)]
pub struct MemberSetArgs {
    /// Protection group name or id.
    pub group: String,
    /// The member: instance name, member id or instance id.
    pub member: String,
    #[command(flatten)]
    pub order: MemberOrderArgs,
    /// Remove every dependency of the member (with --depends-on: replace them).
    #[arg(long, conflicts_with = "depends_on")]
    pub no_depends_on: bool,
    #[command(flatten)]
    pub output: OutputOptions,
}
