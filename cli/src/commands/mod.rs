//! One module per noun; each command builds the engine it needs, calls it, and prints.

mod background;
mod consistency_group;
mod demo;
mod dr;
mod dry_run;
mod evidence;
mod group;
mod hooks;
mod operation;
mod recovery;
pub mod sim;
mod sim_capacity;
mod sim_inspect;
mod sim_seed;
mod site;
mod tenant;

use clap::CommandFactory;

use crate::args::{Cli, Command, DrCommand, TenantCommand};
use crate::context::Context;
use crate::error::{CliError, CliResult};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> CliResult {
    let ctx = Context { global: cli.global };
    match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Site(command) => site::run(&ctx, command).await,
        Command::ProtectionGroup(command) => group::run(&ctx, command).await,
        Command::ConsistencyGroup(command) => consistency_group::run(&ctx, command).await,
        Command::Operation(command) => operation::run(&ctx, command).await,
        Command::Dr(DrCommand::Tenant(TenantCommand::Mapping(command))) => {
            tenant::run(&ctx, command).await
        }
        Command::Dr(DrCommand::Test(command)) => dr::run_test(&ctx, command).await,
        Command::Dr(DrCommand::Site(command)) => dr::run_site(&ctx, command).await,
        Command::LeakScan(args) => evidence::leak_scan(&ctx, args).await,
        Command::Sim(command) => sim::run(command).await,
        Command::Completion { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "protector", &mut out);
            use std::io::Write;
            std::io::stdout().write_all(&out).map_err(CliError::from_io)
        }
    }
}
