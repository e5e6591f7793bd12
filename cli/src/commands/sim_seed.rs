//! `protector sim serve --seed-vms N [--seed-projects M] ...`: a fresh simulator directory
//! seeded with an inventory at scale (benchmarks, demos), through
//! `protector_mock::Simulator::seed_scale`. The seed is remembered in the state: a restart on
//! the same directory with the same flags resumes it, different flags are refused.

use std::path::Path;

use clap::Args;
use protector_mock::{ScaleSeed, ScaleSeeded, Simulator};

use crate::error::{CliError, CliResult};
use crate::output::eprint_line;

/// The scale-seed flags of `sim serve`.
#[derive(Debug, Args, Default)]
pub struct SeedArgs {
    /// Seed N running VMs on site-a beside the default inventory (a fresh DIR only; a DIR
    /// seeded with the same flags resumes). Each is made like the seeded ones: boot volume
    /// attached, array volume with a fingerprint, ports on `net-primary-bench`.
    #[arg(long, value_name = "N")]
    pub seed_vms: Option<usize>,

    /// Spread --seed-vms over M projects `bench-1`..`bench-M`, created on both sites with the
    /// admin granted a role in each (clouds.yaml gets `<site>-bench-K` entries) [default: 0,
    /// every VM in production-project]. N must be a multiple of M.
    #[arg(long, value_name = "M", requires = "seed_vms")]
    pub seed_projects: Option<usize>,

    /// Volumes per seeded VM, the first bootable [default: 1].
    #[arg(long, value_name = "K", requires = "seed_vms")]
    pub seed_volumes_per_vm: Option<usize>,

    /// NICs per seeded VM [default: 1].
    #[arg(long, value_name = "K", requires = "seed_vms")]
    pub seed_nics_per_vm: Option<usize>,

    /// Volume type of the seeded VMs, round-robin per VM when repeated [default: every
    /// replicated type: replicated-ssd, replicated-sync].
    #[arg(long, value_name = "TYPE", requires = "seed_vms")]
    pub seed_volume_type: Vec<String>,
}

impl SeedArgs {
    /// The seed these flags ask for, or `None` without `--seed-vms`.
    pub fn spec(&self) -> CliResult<Option<ScaleSeed>> {
        let Some(vms) = self.seed_vms else {
            return Ok(None);
        };
        if vms == 0 {
            return Err(CliError::invalid(
                "--seed-vms 0 seeds nothing: give at least 1, or leave the flag out",
            ));
        }
        let projects = self.seed_projects.unwrap_or(0);
        if projects > 0 && vms % projects != 0 {
            return Err(CliError::invalid(format!(
                "--seed-vms {vms} is not a multiple of --seed-projects {projects}: every project gets the same number of VMs"
            )));
        }
        let defaults = ScaleSeed::default();
        Ok(Some(ScaleSeed {
            projects,
            vms_per_project: vms / projects.max(1),
            volumes_per_vm: self.seed_volumes_per_vm.unwrap_or(defaults.volumes_per_vm),
            nics_per_vm: self.seed_nics_per_vm.unwrap_or(defaults.nics_per_vm),
            volume_types: self.seed_volume_type.clone(),
            ..defaults
        }))
    }
}

/// One line describing `seed`.
fn describe(seed: &ScaleSeed) -> String {
    let place = match seed.projects {
        0 => "production-project".to_string(),
        1 => format!("project {}-1", seed.project_prefix),
        m => format!(
            "{m} projects {prefix}-1..{prefix}-{m}",
            prefix = seed.project_prefix
        ),
    };
    format!(
        "{} VMs in {place} on {} ({} volume(s), {} NIC(s) each)",
        seed.total_vms(),
        seed.site,
        seed.volumes_per_vm,
        seed.nics_per_vm
    )
}

/// Applies the seed `args` ask for to the simulator of `dir` (fresh when `resumed` is false):
/// seeds a fresh state and writes `DIR/scale-seed.json` (projects with their ids on both
/// sites, servers with their ids); accepts a resumed state holding the same seed; refuses one
/// holding another seed or none.
pub fn apply(sim: &Simulator, dir: &Path, args: &SeedArgs, resumed: bool) -> CliResult {
    let Some(spec) = args.spec()? else {
        return Ok(());
    };
    let fresh_dir = || {
        format!(
            "seed flags apply to a fresh directory: serve without them to resume {}, or use a new --dir",
            dir.display()
        )
    };
    match (resumed, sim.scale_seed()) {
        (true, Some(held)) if held == spec => {
            eprint_line(&format!(
                "protector sim: scale seed already in place: {}",
                describe(&held)
            ));
            Ok(())
        }
        (true, Some(held)) => Err(CliError::config(format!(
            "{} already holds another scale seed ({}); {}",
            dir.display(),
            describe(&held),
            fresh_dir()
        ))),
        (true, None) => Err(CliError::config(format!(
            "{} already holds a simulator state without a scale seed; {}",
            dir.display(),
            fresh_dir()
        ))),
        (false, _) => {
            let seeded = sim.seed_scale(&spec)?;
            write_listing(dir, &seeded)?;
            eprint_line(&format!(
                "protector sim: seeded {}; networks {}; listing {}",
                describe(&spec),
                seeded
                    .networks
                    .iter()
                    .map(|(site, name)| format!("{site} {name}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                dir.join(LISTING).display()
            ));
            Ok(())
        }
    }
}

/// The file listing what a scale seed created.
pub const LISTING: &str = "scale-seed.json";

fn write_listing(dir: &Path, seeded: &ScaleSeeded) -> CliResult {
    let text = serde_json::to_string_pretty(seeded)
        .map_err(|e| CliError::unexpected(format!("the scale seed cannot be listed: {e}")))?;
    let path = dir.join(LISTING);
    std::fs::write(&path, text + "\n")
        .map_err(|e| CliError::config(format!("cannot write {}: {e}", path.display())))
}
