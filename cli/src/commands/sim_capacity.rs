//! `protector sim quota set` and `protector sim hypervisor set`: the target capacity that
//! protector checks before a failover, failback or drill, changed in a simulator directory.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use protector_core::{Error, ErrorKind};
use protector_mock::http::ServeOptions;
use protector_mock::{HypervisorChange, QuotaChange, Simulator};

use crate::args::{Format, OutputOptions};
use crate::error::{CliError, CliResult};
use crate::output::Printer;

/// The capacity commands of `protector sim`.
#[derive(Debug, Subcommand)]
pub enum CapacityCommand {
    /// A project's quotas on a simulated site: `sim quota set site-b --project P --instances 1`.
    #[command(subcommand)]
    Quota(QuotaCommand),
    /// A simulated compute node: `sim hypervisor set site-b site-b-compute --vcpus 2`.
    #[command(subcommand)]
    Hypervisor(HypervisorCommand),
}

#[derive(Debug, Subcommand)]
pub enum QuotaCommand {
    /// Set quota limits of a project (as `openstack quota set`); -1 is unlimited.
    Set(QuotaSetArgs),
}

#[derive(Debug, Args)]
pub struct QuotaSetArgs {
    /// Simulator directory (holding sim.db).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Site (`site-a`, `site-b`).
    pub site: String,
    /// Project name or id on that site.
    #[arg(long)]
    pub project: String,
    /// Servers.
    #[arg(long, allow_negative_numbers = true)]
    pub instances: Option<i64>,
    /// vCPUs.
    #[arg(long, allow_negative_numbers = true)]
    pub cores: Option<i64>,
    /// RAM in MiB.
    #[arg(long, allow_negative_numbers = true)]
    pub ram: Option<i64>,
    /// Volumes.
    #[arg(long, allow_negative_numbers = true)]
    pub volumes: Option<i64>,
    /// Volume gigabytes.
    #[arg(long, allow_negative_numbers = true)]
    pub gigabytes: Option<i64>,
    /// Ports.
    #[arg(long, allow_negative_numbers = true)]
    pub ports: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum HypervisorCommand {
    /// Change a compute node's size or enable/disable it.
    Set(HypervisorSetArgs),
}

#[derive(Debug, Args)]
pub struct HypervisorSetArgs {
    /// Simulator directory (holding sim.db).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Site (`site-a`, `site-b`).
    pub site: String,
    /// Hypervisor host name (`site-b-compute`, `site-b-compute-2`).
    pub hostname: String,
    /// Physical vCPUs.
    #[arg(long)]
    pub vcpus: Option<u64>,
    /// Memory in MiB.
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// Enable (true) or disable (false) its compute service.
    #[arg(long)]
    pub enabled: Option<bool>,
}

/// Runs a capacity command.
pub fn run(command: CapacityCommand) -> CliResult {
    let mut out = Printer::stdout(&OutputOptions {
        format: Format::Table,
        columns: Vec::new(),
    });
    match command {
        CapacityCommand::Quota(QuotaCommand::Set(args)) => {
            let change = QuotaChange {
                instances: args.instances,
                cores: args.cores,
                ram: args.ram,
                volumes: args.volumes,
                gigabytes: args.gigabytes,
                ports: args.ports,
            };
            if change == QuotaChange::default() {
                return Err(CliError::invalid(
                    "no quota given: add --instances, --cores, --ram, --volumes, --gigabytes or --ports",
                ));
            }
            let sim = open_existing(&args.dir)?;
            sim.set_quota(&args.site, &args.project, &change)?;
            out.text(&format!(
                "quota of project {} on {} set\n",
                args.project, args.site
            ))?;
        }
        CapacityCommand::Hypervisor(HypervisorCommand::Set(args)) => {
            let change = HypervisorChange {
                vcpus: args.vcpus,
                memory_mb: args.memory_mb,
                enabled: args.enabled,
            };
            if change == HypervisorChange::default() {
                return Err(CliError::invalid(
                    "nothing to change: add --vcpus, --memory-mb or --enabled",
                ));
            }
            let sim = open_existing(&args.dir)?;
            sim.set_hypervisor(&args.site, &args.hostname, &change)?;
            out.text(&format!(
                "hypervisor {} on {} changed\n",
                args.hostname, args.site
            ))?;
        }
    }
    Ok(())
}

/// The simulator of `dir`, which must hold a state already: `fault` and `inspect` never create
/// one, so a mistyped directory is an error rather than a fresh, unrelated simulation.
pub(super) fn open_existing(dir: &Path) -> CliResult<Simulator> {
    let path = ServeOptions::state_file(dir);
    if !path.is_file() {
        return Err(CliError::config(format!(
            "no simulator state in {}: {} does not exist; start one with \
             `protector sim serve --dir {}`",
            dir.display(),
            path.display(),
            dir.display()
        )));
    }
    Simulator::open(&path).map_err(|e| {
        CliError::Engine(if e.kind() == ErrorKind::ConfigInvalid {
            e
        } else {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("cannot open the simulator state {}: {e}", path.display()),
            )
        })
    })
}
