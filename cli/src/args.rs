//! The command line: `protector <noun> <verb>`, mirroring `openstack protector ...` and
//! `openstack dr ...` without the `openstack` prefix.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use protector_core::engine::limiter::{DEFAULT_ARRAY_CONCURRENCY, DEFAULT_OPENSTACK_CONCURRENCY};
use protector_core::engine::CallLimits;

mod dr;
mod evidence;
mod hooks;
mod operation;
mod order;
mod recovery;
pub use dr::*;
pub use evidence::{DrillReportArgs, LeakScanArgs, ReportFormat, ScanFormat};
pub use hooks::{AppliesToArg, HookAddArgs, HookPointArg, HookRemoveArgs, MethodArg, OnFailureArg};
pub use operation::OperationCommand;
pub use order::{MemberOrderArgs, MemberSetArgs};
pub use recovery::{CommitWindowOptions, FailoverRollbackArgs, RecoveryPointOptions};

/// Disaster recovery for OpenStack VMs whose volumes live on replicated Pure Storage
/// FlashArrays.
///
/// Start with `protector demo`: it runs a whole planned failover against an embedded two-site
/// simulator, with no configuration.
#[derive(Debug, Parser)]
#[command(
    name = "protector",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOptions {
    /// The site you stand on: metadata is read from its store and every change is pushed to the
    /// peer site (the clouds.yaml entry name, as with the openstack CLI).
    #[arg(
        long,
        env = "OS_CLOUD",
        default_value = "site-a",
        global = true,
        value_name = "SITE"
    )]
    pub os_cloud: String,

    /// Directory with protector's state: one metadata store per site (`<site>.db`), the key
    /// that encrypts FlashArray tokens (`secret.key`), and the logs of operations run in the
    /// background (`operations/op-<id>.log`).
    /// [default: $XDG_DATA_HOME/protector or ~/.local/share/protector]
    #[arg(long, env = "PROTECTOR_STATE_DIR", global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// State file of the simulated OpenStack sites and FlashArrays, used in-process as the
    /// transport instead of clouds.yaml and the FlashArrays' HTTPS endpoints. Created when
    /// missing.
    #[arg(long, env = "PROTECTOR_SIM_STATE", global = true, value_name = "FILE")]
    pub sim_state: Option<PathBuf>,

    /// At most this many calls at once to each OpenStack service (Keystone, Nova, Cinder,
    /// Neutron) of each site, across every group of the operation.
    #[arg(
        long,
        env = "PROTECTOR_OPENSTACK_CONCURRENCY",
        global = true,
        value_name = "N",
        default_value_t = DEFAULT_OPENSTACK_CONCURRENCY as u32,
        value_parser = clap::value_parser!(u32).range(1..),
        hide_env_values = true
    )]
    pub openstack_concurrency: u32,

    /// At most this many calls at once to each FlashArray.
    #[arg(
        long,
        env = "PROTECTOR_ARRAY_CONCURRENCY",
        global = true,
        value_name = "N",
        default_value_t = DEFAULT_ARRAY_CONCURRENCY as u32,
        value_parser = clap::value_parser!(u32).range(1..),
        hide_env_values = true
    )]
    pub array_concurrency: u32,

    /// At most this many calls per second to each service of each site and to each
    /// FlashArray. [default: no rate limit]
    #[arg(
        long,
        env = "PROTECTOR_CALLS_PER_SECOND",
        global = true,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..),
        hide_env_values = true
    )]
    pub calls_per_second: Option<u32>,
}

impl GlobalOptions {
    /// The engine's per-service call limits from `--openstack-concurrency`,
    /// `--array-concurrency` and `--calls-per-second`.
    pub fn call_limits(&self) -> CallLimits {
        CallLimits {
            openstack_concurrency: self.openstack_concurrency as usize,
            array_concurrency: self.array_concurrency as usize,
            calls_per_second: self.calls_per_second,
        }
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// ASCII table, as the openstack CLI prints it.
    Table,
    /// JSON: an object for one resource, an array of objects for a list.
    Json,
    /// YAML: a mapping for one resource, a sequence of mappings for a list.
    Yaml,
    /// Values only: one per line for one resource, space-separated per row for a list.
    Value,
}

/// Output options of commands that print resources.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output options")]
pub struct OutputOptions {
    /// Output format.
    #[arg(short = 'f', long = "format", value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Print only this column (field name or table heading); repeat for several, in that order.
    #[arg(short = 'c', long = "column", value_name = "NAME")]
    pub columns: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a whole planned failover against an embedded simulator, then prove nothing was lost.
    ///
    /// Registers two simulated sites, protects three VMs in group `prod-web-app`, fails them
    /// over from site-a to site-b with a live progress display, and checks on the simulator that
    /// every VM runs on site-b, is stopped on site-a, and that every volume on site-b holds
    /// exactly the data of its site-a source. Needs no configuration and touches nothing
    /// outside a temporary directory (or the directory given with --keep).
    Demo(DemoArgs),

    /// Registered OpenStack sites.
    #[command(subcommand)]
    Site(SiteCommand),

    /// Protection groups: VMs that fail over together.
    #[command(subcommand, name = "protection-group")]
    ProtectionGroup(GroupCommand),

    /// The consistency group behind a protection group, with its replication lag.
    #[command(subcommand, name = "consistency-group")]
    ConsistencyGroup(ConsistencyGroupCommand),

    /// DR operations (failovers, failbacks, drills, site failovers) and their progress.
    #[command(subcommand)]
    Operation(OperationCommand),

    /// DR drills, site failover and cross-site settings (`dr test failover ...`,
    /// `dr site failover ...`, `dr tenant mapping ...`).
    #[command(subcommand)]
    Dr(DrCommand),

    /// List every resource protector tagged or named, on every site and FlashArray, that no
    /// protection group and no unfinished operation owns. Read-only: it never deletes
    /// anything; each finding names the command that removes it.
    ///
    /// Exit status: 0 nothing found, 4 leaks found, 5 nothing found but a site or array could
    /// not be read (the scan is incomplete; the others are scanned all the same).
    LeakScan(LeakScanArgs),

    /// The two-site simulator on its own: serve it over the real wire APIs, inject faults,
    /// inspect it.
    #[command(subcommand)]
    Sim(crate::commands::sim::SimCommand),

    /// Print a shell completion script, e.g. `protector completion bash > /etc/bash_completion.d/protector`.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the simulator and the stores in DIR (created if missing) instead of a temporary
    /// directory, to look at them afterwards with the other commands
    /// (`--state-dir DIR --sim-state DIR/sim.db`).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

// ---------------------------------------------------------------------------------- site

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Register an OpenStack site.
    Create(SiteCreateArgs),
    /// List registered sites.
    List(ListArgs),
    /// Show one site.
    Show(NamedArgs),
    /// Check that a site's Keystone, Nova, Cinder and Neutron answer and that volume manage is
    /// allowed; records the resulting status. Fails when the site is not active.
    Validate(NamedArgs),
    /// List the site's Cinder volume types that can back a protection group.
    ListVolumeTypes(NamedArgs),
}

/// The registered role of a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SiteTypeArg {
    /// The primary datacenter.
    Primary,
    /// The DR datacenter.
    Secondary,
}

#[derive(Debug, Args)]
pub struct SiteCreateArgs {
    /// Unique site name, such as site-a.
    #[arg(long)]
    pub name: String,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Registered role (informational: a group's primary swaps on failover).
    #[arg(long, value_enum)]
    pub site_type: SiteTypeArg,
    /// Keystone v3 URL of the site.
    #[arg(long)]
    pub auth_url: String,
    /// Region of the site's endpoints.
    #[arg(long, default_value = "RegionOne")]
    pub region_name: String,
    /// clouds.yaml entry with the site's credentials [default: the entry named like the site].
    #[arg(long)]
    pub cloud: Option<String>,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct NamedArgs {
    /// Name (or id, where ids exist).
    pub name: String,
    #[command(flatten)]
    pub output: OutputOptions,
}

// ---------------------------------------------------------------------------------- groups

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a protection group (and its consistency groups on both sites).
    Create(GroupCreateArgs),
    /// List protection groups.
    List(ListArgs),
    /// Show one protection group.
    Show(GroupArgs),
    /// Delete a protection group on both sites: consistency groups and the FlashArray protection
    /// group go, VMs and volumes stay. Refused while an operation runs or the peer is down.
    Delete(GroupArgs),
    /// Add a VM: captures its recovery metadata and puts its volumes under replication.
    MemberAdd(MemberAddArgs),
    /// Remove a VM from the group (the VM itself is not touched).
    MemberRemove(MemberRemoveArgs),
    /// List the members of a group.
    MemberList(GroupArgs),
    /// List this project's VMs on the group's current primary site that could join it: each
    /// eligible or not, with the reason `member-add` would refuse it for.
    MemberCandidates(GroupArgs),
    /// Show one member with its recovery metadata.
    MemberShow(MemberShowArgs),
    /// Set a member's boot priority and the members it depends on (its place in the boot
    /// order that failover, failback and drills follow).
    MemberSet(MemberSetArgs),
    /// Attach the replication policy: FlashArray endpoints, protection group, schedule, RPO.
    PolicyCreate(PolicyCreateArgs),
    /// Compare the group's metadata on both sites. Fails (exit 4) when out of sync.
    SyncStatus(GroupArgs),
    /// Push the higher metadata version to the other site.
    SyncForce(GroupArgs),
    /// The group's metadata sync history, newest first.
    SyncLog(SyncLogArgs),
    /// Fail the group over to its current secondary site (planned: zero data loss).
    ///
    /// Stops the VMs on the source site, replicates a final snapshot, imports the volumes on the
    /// target site and boots the VMs there with the mapped networks and flavors. Without --wait
    /// the command records the operation, runs it in the background and prints its id at once
    /// (follow it with `protector operation show <id>`); with --wait it shows the progress and
    /// prints the final record.
    Failover(FailoverArgs),
    /// Return the workload to the group's original primary site (spec: failback).
    ///
    /// Run it from the site where the VMs run now. Without --wait the command records the
    /// operation, runs it in the background and prints its id at once; with --wait it shows the
    /// progress and prints the final record.
    Failback(FailbackArgs),
    /// List the replicated snapshots an unplanned failover or a drill can recover from, newest
    /// first, with their age by the target array's clock (while a failover awaits its commit:
    /// those a rollback can use, the current one marked).
    RecoveryPoints(GroupArgs),
    /// Commit an unplanned failover: keep the point it recovered from and start the reverse
    /// replication; prints the group.
    FailoverCommit(GroupArgs),
    /// Roll an uncommitted unplanned failover back and recover from an older point: what it
    /// created on the target is removed, the VMs boot from the older snapshot, and the group
    /// awaits its commit again. Prints the operation.
    FailoverRollback(FailoverRollbackArgs),
    /// Confirm that the VMs an unplanned failover left on the old primary site are stopped
    /// (stopping them if they run) and clear the group's fence; prints the group.
    Fence(GroupArgs),
    /// Store network, flavor and security group mappings for one direction of the group.
    ///
    /// The direction is FROM-SITE → the group's other site; every target must exist on that
    /// other site, or nothing is stored. The mappings are written on both sites (both must be
    /// reachable and in sync). A failover, failback or DR drill in that direction merges the
    /// mappings it is given over the stored ones (a given pair wins over a stored one for the
    /// same source); `dr site failover`, which takes no mappings, relies on them. Without
    /// --replace the given pairs are merged over the stored ones. Prints what is stored now for
    /// that direction.
    MappingSet(MappingSetArgs),
    /// List the group's stored mappings: one row per direction, kind and source.
    MappingList(GroupArgs),
    /// Add a hook: a command run by the engine (no shell) or a URL called, before or after a
    /// phase of failovers, failbacks and/or drills, or after a member's boot. Synced to the
    /// other site with the group. Hooks must be idempotent: a resumed operation runs again a
    /// hook that had started and not finished.
    HookAdd(HookAddArgs),
    /// List the group's hooks.
    HookList(GroupArgs),
    /// Remove a hook.
    HookRemove(HookRemoveArgs),
}

#[derive(Debug, Args)]
pub struct GroupArgs {
    /// Protection group name or id.
    pub group: String,
    #[command(flatten)]
    pub output: OutputOptions,
}

/// Replication mode of a protection group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplicationTypeArg {
    /// FlashArray protection groups: periodic replicated snapshots.
    Async,
    /// ActiveCluster pods: zero RPO.
    Sync,
}

#[derive(Debug, Args)]
pub struct GroupCreateArgs {
    /// Group name, unique per tenant.
    #[arg(long)]
    pub name: String,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Replication mode.
    #[arg(long, value_enum)]
    pub replication_type: ReplicationTypeArg,
    /// Site where the VMs run now.
    #[arg(long)]
    pub primary_site: String,
    /// The DR site.
    #[arg(long)]
    pub secondary_site: String,
    /// Cinder volume type of every member volume; must be replication-enabled on both sites.
    #[arg(long)]
    pub volume_type: String,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct MemberAddArgs {
    /// Protection group name or id.
    pub group: String,
    /// Nova id of the VM on the group's current primary site (a unique server name works too).
    #[arg(long)]
    pub instance_id: String,
    #[command(flatten)]
    pub order: MemberOrderArgs,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct MemberRemoveArgs {
    /// Protection group name or id.
    pub group: String,
    /// Member id (or the VM's instance id).
    #[arg(long)]
    pub member_id: String,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct MemberShowArgs {
    /// Protection group name or id.
    pub group: String,
    /// Member id (or the VM's instance id).
    pub member_id: String,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct PolicyCreateArgs {
    /// Protection group name or id.
    pub group: String,
    /// HTTPS management URL of the FlashArray on the group's primary site.
    #[arg(long)]
    pub primary_fa_url: String,
    /// API token of that array (stored encrypted, never printed). Given here it shows in `ps`
    /// and the shell history: prefer --primary-fa-token-file, or PROTECTOR_PRIMARY_FA_TOKEN in the
    /// environment (used when neither option is given).
    #[arg(long, value_name = "TOKEN", conflicts_with = "primary_fa_token_file")]
    pub primary_fa_token: Option<String>,
    /// File holding the API token of that array (read whole, surrounding whitespace trimmed);
    /// `-` reads it from stdin.
    #[arg(long, value_name = "FILE")]
    pub primary_fa_token_file: Option<PathBuf>,
    /// CA bundle that signs the primary array's certificate, when not a system root.
    #[arg(long, value_name = "PEM")]
    pub primary_fa_ca_file: Option<String>,
    /// HTTPS management URL of the FlashArray on the group's secondary site.
    #[arg(long)]
    pub secondary_fa_url: String,
    /// API token of that array (stored encrypted, never printed). Given here it shows in `ps`
    /// and the shell history: prefer --secondary-fa-token-file, or PROTECTOR_SECONDARY_FA_TOKEN in the
    /// environment (used when neither option is given).
    #[arg(long, value_name = "TOKEN", conflicts_with = "secondary_fa_token_file")]
    pub secondary_fa_token: Option<String>,
    /// File holding the API token of that array (read whole, surrounding whitespace trimmed);
    /// `-` reads it from stdin.
    #[arg(long, value_name = "FILE")]
    pub secondary_fa_token_file: Option<PathBuf>,
    /// CA bundle that signs the secondary array's certificate, when not a system root.
    #[arg(long, value_name = "PEM")]
    pub secondary_fa_ca_file: Option<String>,
    /// Name of the FlashArray protection group.
    #[arg(long)]
    pub pure_pg_name: String,
    /// Seconds between replicated snapshots (async): 60 to 86400.
    #[arg(long, default_value_t = 300)]
    pub replication_interval: u32,
    /// Recovery point objective in minutes (async): at least one replication interval, at
    /// most 10080 (seven days).
    #[arg(long, default_value_t = 15)]
    pub rpo_minutes: u32,
    /// Accept plain http:// array URLs, over which the API tokens travel unencrypted. Only for
    /// a lab array that cannot serve HTTPS.
    #[arg(long)]
    pub allow_insecure_http: bool,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct SyncLogArgs {
    /// Protection group name or id.
    pub group: String,
    /// At most this many entries.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// Protection group name or id.
    pub group: String,
    /// Network mapping SOURCE=TARGET (name or id); repeat the option or give several pairs
    /// separated by spaces.
    /// Merged over the mappings stored with `protection-group mapping-set` (a given pair wins).
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
    #[command(flatten)]
    pub plan: PlanOptions,
    /// Unplanned failover: the source site is lost; recover from the latest replicated
    /// snapshot.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub point: RecoveryPointOptions,
    #[command(flatten)]
    pub window: CommitWindowOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub output: OutputOptions,
}

/// `--dry-run`, shared by every operation command.
#[derive(Debug, Clone, Args)]
pub struct PlanOptions {
    /// Print the plan as JSON and stop; nothing is changed. Fails when the plan has blocking
    /// findings.
    #[arg(long)]
    pub dry_run: bool,
}

/// How a long operation runs: in the background (default) or in the foreground with `--wait`.
#[derive(Debug, Clone, Args)]
pub struct RunOptions {
    /// Block until the operation ends, showing its progress on stderr, then print the final
    /// record. Without it the operation is recorded, runs in the background, and the command
    /// prints its id at once.
    #[arg(long)]
    pub wait: bool,
    /// Run as the background worker of this pending operation (set by the command itself).
    #[arg(long, hide = true, value_name = "ID")]
    pub operation_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct FailbackArgs {
    /// Protection group name or id.
    pub group: String,
    /// After the failback, replicate again from the original primary site to the secondary.
    #[arg(long)]
    pub reverse_replication: bool,
    /// Network mapping ACTIVE=PRIMARY from the site where the VMs run now back to the original
    /// primary (name or id); repeat the option or give several pairs separated by spaces.
    /// Merged over the mappings stored with `protection-group mapping-set` (a given pair wins).
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
    /// Skip the preflight checks that allow it (never the reachability of both sites).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub run: RunOptions,
    #[command(flatten)]
    pub output: OutputOptions,
}

#[derive(Debug, Args)]
pub struct MappingSetArgs {
    /// Protection group name or id.
    pub group: String,
    /// Source site of the direction; the target is the group's other site [default: the
    /// group's current primary site].
    #[arg(long, value_name = "SITE")]
    pub from_site: Option<String>,
    /// Network mapping SOURCE=TARGET (name or id); repeat the option or give several pairs
    /// separated by spaces.
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub network_mapping: Vec<String>,
    /// Flavor mapping SOURCE=TARGET (name or id).
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub flavor_mapping: Vec<String>,
    /// Security group mapping SOURCE=TARGET (name or id).
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub security_group_mapping: Vec<String>,
    /// Availability zone mapping SOURCE=TARGET; without one a VM boots in the zone of its name
    /// when the target has it, else where Nova picks.
    #[arg(long, value_name = "SOURCE=TARGET", num_args = 1.., action = clap::ArgAction::Append)]
    pub az_mapping: Vec<String>,
    /// Replace the stored mappings of this direction with the given ones (alone: clear them).
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub output: OutputOptions,
}

// ---------------------------------------------------------------------------------- consistency groups

#[derive(Debug, Subcommand)]
pub enum ConsistencyGroupCommand {
    /// Show the consistency group of a protection group: Cinder groups on both sites, volume
    /// count, and the replication lag (age of the last snapshot that fully reached the other
    /// site's array, by that array's clock).
    Show(GroupArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn mappings_take_space_separated_pairs() {
        let cli = Cli::try_parse_from([
            "protector",
            "protection-group",
            "failover",
            "prod-web-app",
            "--network-mapping",
            "a=b",
            "c=d",
            "--flavor-mapping",
            "m1=m2",
            "--network-mapping",
            "e=f",
        ])
        .unwrap();
        let Command::ProtectionGroup(GroupCommand::Failover(args)) = cli.command else {
            panic!("parsed into the wrong command");
        };
        assert_eq!(args.network_mapping, ["a=b", "c=d", "e=f"]);
        assert_eq!(args.flavor_mapping, ["m1=m2"]);
        assert_eq!(args.group, "prod-web-app");
    }

    #[test]
    fn test_failover_and_its_cleanup_share_the_spec_shape() {
        let cli = Cli::try_parse_from([
            "protector",
            "dr",
            "test",
            "failover",
            "prod-ecommerce-db",
            "--network-mapping",
            "prod-net=dr-test-net",
            "--all-projects",
        ])
        .unwrap();
        let Command::Dr(DrCommand::Test(DrTestCommand::Failover(args))) = cli.command else {
            panic!("parsed into the wrong command");
        };
        assert!(args.command.is_none());
        assert_eq!(args.group.as_deref(), Some("prod-ecommerce-db"));
        assert_eq!(args.network_mapping, ["prod-net=dr-test-net"]);
        assert!(!args.run.wait);

        let cli = Cli::try_parse_from([
            "protector",
            "dr",
            "test",
            "failover",
            "cleanup",
            "prod-ecommerce-db",
            "--wait",
        ])
        .unwrap();
        let Command::Dr(DrCommand::Test(DrTestCommand::Failover(args))) = cli.command else {
            panic!("parsed into the wrong command");
        };
        let Some(TestFailoverCommand::Cleanup(cleanup)) = args.command else {
            panic!("cleanup not recognised");
        };
        assert_eq!(cleanup.group, "prod-ecommerce-db");
        assert!(cleanup.run.wait);
    }

    #[test]
    fn call_limits_are_global_options_with_defaults_for_real_clouds() {
        let cli = Cli::try_parse_from(["protector", "operation", "list"]).unwrap();
        assert_eq!(cli.global.call_limits(), CallLimits::default());
        let cli = Cli::try_parse_from([
            "protector",
            "operation",
            "list",
            "--openstack-concurrency",
            "8",
            "--array-concurrency",
            "2",
            "--calls-per-second",
            "40",
        ])
        .unwrap();
        assert_eq!(
            cli.global.call_limits(),
            CallLimits {
                openstack_concurrency: 8,
                array_concurrency: 2,
                calls_per_second: Some(40),
            }
        );
        assert!(Cli::try_parse_from([
            "protector",
            "operation",
            "list",
            "--array-concurrency",
            "0"
        ])
        .is_err());
    }

    #[test]
    fn site_failover_as_in_the_spec() {
        let cli = Cli::try_parse_from([
            "protector",
            "dr",
            "site",
            "failover",
            "cluster1",
            "--failover-type",
            "unplanned",
            "--force",
            "--group",
            "a",
            "--group",
            "b",
        ])
        .unwrap();
        let Command::Dr(DrCommand::Site(DrSiteCommand::Failover(args))) = cli.command else {
            panic!("parsed into the wrong command");
        };
        assert_eq!(args.site, "cluster1");
        assert_eq!(args.failover_type, FailoverTypeArg::Unplanned);
        assert!(args.force);
        assert_eq!(
            usize::from(args.concurrency),
            protector_core::engine::DEFAULT_SITE_FAILOVER_CONCURRENCY
        );
        assert_eq!(args.groups, ["a", "b"]);
    }
}
