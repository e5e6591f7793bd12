//! `dr ...`: drills, site failover and tenant mappings.

use clap::{Args, Subcommand, ValueEnum};
use protector_core::engine::DEFAULT_SITE_FAILOVER_CONCURRENCY;

use super::*;

#[derive(Debug, Subcommand)]
pub enum DrCommand {
    /// DR drills: `dr test failover <group>` and `dr test failover cleanup <group>`.
    #[command(subcommand)]
    Test(DrTestCommand),
    /// Site-level DR: `dr site failover <site>`.
    #[command(subcommand)]
    Site(DrSiteCommand),
    /// Tenant (project) settings.
    #[command(subcommand)]
    Tenant(TenantCommand),
}

#[derive(Debug, Subcommand)]
pub enum DrTestCommand {
    /// Run a DR drill: boot copies of the group's VMs on the DR site from the latest replicated
    /// snapshot, on isolated networks, without touching production or its replication.
    ///
    /// `dr test failover cleanup <group>` removes exactly what the drill created. Without --wait
    /// either command records the operation, runs it in the background and prints its id at
    /// once; with --wait it shows the progress and prints the final record.
    Failover(Box<TestFailoverArgs>),
    /// The report of a group's latest DR drill (or of one drill): timeline, boot time of each
    /// test VM, what was checked, the recovery point used, the RTO achieved against the
    /// estimate, and the cleanup once it ran. JSON on stdout by default; --format html writes
    /// one printable page. Also after the cleanup.
    Report(DrillReportArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TestFailoverArgs {
    #[command(subcommand)]
    pub command: Option<TestFailoverCommand>,
    /// Protection group name or id.
    #[arg(required = true, value_name = "GROUP")]
    pub group: Option<String>,
    /// Network mapping SOURCE=TARGET from the production networks to the isolated test networks
    /// of the DR site; repeat the option or give several pairs separated by spaces.
    /// A network not given here takes the mapping stored with `protection-group mapping-set`,
    /// which is the failover's: map every network to an isolated one.
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub network_mapping: Vec<String>,
    /// Flavor mapping SOURCE=TARGET; without one (given or stored) a VM keeps its flavor name.
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub flavor_mapping: Vec<String>,
    /// Security group mapping SOURCE=TARGET; without one (given or stored) groups are matched by
    /// name.
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub security_group_mapping: Vec<String>,
    /// Availability zone mapping SOURCE=TARGET; without one a VM boots in the zone of its name
    /// when the target has it, else where Nova picks.
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub az_mapping: Vec<String>,
    /// Accepted as in the openstack CLI; the group is found whichever project owns it.
    #[arg(long)]
    pub all_projects: bool,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub point: RecoveryPointOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Subcommand)]
pub enum TestFailoverCommand {
    /// Remove the drill's VMs, ports and volumes from the DR site; safe to run again.
    Cleanup(TestCleanupArgs),
}

#[derive(Debug, Args)]
pub struct TestCleanupArgs {
    /// Protection group name or id.
    pub group: String,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Subcommand)]
pub enum DrSiteCommand {
    /// Fail over every protection group whose workload runs on SITE, several at once.
    ///
    /// Needs the dr_site_admin role. Run it from the DR site (`--os-cloud`). Partial failures
    /// are reported per group; retry the failed ones with --group. Without --wait the command
    /// records the operation, runs it in the background and prints its id at once; with --wait
    /// it shows the progress and prints the final record with one row per group.
    Failover(SiteFailoverArgs),
}

/// Planned or unplanned site failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailoverTypeArg {
    /// Both sites reachable: each group's VMs are stopped before the final replication.
    Planned,
    /// The site is lost: recover from the latest replicated snapshots (needs --force).
    Unplanned,
}

#[derive(Debug, Args)]
pub struct SiteFailoverArgs {
    /// The failed (or to be evacuated) site.
    pub site: String,
    /// Planned or unplanned.
    #[arg(long, value_enum)]
    pub failover_type: FailoverTypeArg,
    /// Confirm an unplanned failover (the site's reachability is not required).
    #[arg(long)]
    pub force: bool,
    /// At most this many groups fail over at once; their calls are bounded per service by
    /// --openstack-concurrency and --array-concurrency.
    #[arg(long, default_value_t = DEFAULT_SITE_FAILOVER_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Only this group (name or id), e.g. to retry one that failed; repeat for several.
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Local project ↔ remote project mappings.
    #[command(subcommand)]
    Mapping(TenantMappingCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantMappingCommand {
    /// Map a local project to its project on the remote site (written on both sites).
    Create(TenantMappingCreateArgs),
    /// List tenant mappings.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct TenantMappingCreateArgs {
    /// Project id on the local site.
    #[arg(long)]
    pub local_tenant: String,
    /// The remote site.
    #[arg(long)]
    pub remote_site: String,
    /// Project id on the remote site.
    #[arg(long)]
    pub remote_tenant: String,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    #[command(flatten)]
    pub output: OutputOptions,
}
