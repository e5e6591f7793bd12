//! The scenarios: what is set up, which `protector` command is measured, and from which site.

use std::fmt;

/// What the measured command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `protection-group failover` (planned) of one group, from site-a to site-b.
    Failover,
    /// `dr site failover site-a --failover-type planned`, run from site-b.
    SiteFailover,
    /// `protection-group failback` of one group that failed over in the set-up, from site-b.
    Failback,
    /// `dr test failover` of one group onto site-b's isolated test network (the drill alone:
    /// its cleanup is not measured).
    Drill,
}

impl Kind {
    /// The site the command stands on (`--os-cloud`): the workload's current site, except a
    /// site failover, which runs from the DR site.
    pub fn local_site(self) -> &'static str {
        match self {
            Kind::Failover | Kind::Drill => "site-a",
            Kind::SiteFailover | Kind::Failback => "site-b",
        }
    }
}

/// One benchmark scenario: `groups` protection groups of `vms_per_group` VMs each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// `failover-20`, `site-10x10`, …
    pub name: &'static str,
    /// What is measured.
    pub kind: Kind,
    /// Protection groups set up.
    pub groups: usize,
    /// VMs in each group.
    pub vms_per_group: usize,
    /// Only run when asked for by name or with `--large` (minutes per run).
    pub large: bool,
}

impl Scenario {
    /// Every VM of the scenario.
    pub fn vms(&self) -> usize {
        self.groups * self.vms_per_group
    }

    /// The name of group `g` (from 0).
    pub fn group_name(&self, g: usize) -> String {
        if self.groups == 1 {
            "bench".to_string()
        } else {
            format!("bench-{g:03}")
        }
    }

    /// The arguments of the measured `protector` run after the global options (`--state-dir`,
    /// `--os-cloud`). Mappings come from the stored ones (set up per group for both
    /// directions), except the drill's isolated network.
    pub fn command(&self) -> Vec<String> {
        let args: Vec<&str> = match self.kind {
            Kind::Failover => vec!["protection-group", "failover", "bench"],
            Kind::Failback => vec!["protection-group", "failback", "bench"],
            Kind::SiteFailover => vec![
                "dr",
                "site",
                "failover",
                "site-a",
                "--failover-type",
                "planned",
            ],
            Kind::Drill => vec![
                "dr",
                "test",
                "failover",
                "bench",
                "--network-mapping",
                "net-primary-bench=dr-test-net",
            ],
        };
        let mut args: Vec<String> = args.into_iter().map(str::to_string).collect();
        args.extend(["--wait", "-f", "json"].map(str::to_string));
        args
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

const fn scenario(
    name: &'static str,
    kind: Kind,
    groups: usize,
    vms_per_group: usize,
    large: bool,
) -> Scenario {
    Scenario {
        name,
        kind,
        groups,
        vms_per_group,
        large,
    }
}

/// Every scenario, in the order `all` runs them.
pub const SCENARIOS: [Scenario; 7] = [
    scenario("failover-1", Kind::Failover, 1, 1, false),
    scenario("failover-20", Kind::Failover, 1, 20, false),
    scenario("failover-100", Kind::Failover, 1, 100, false),
    scenario("site-10x10", Kind::SiteFailover, 10, 10, false),
    scenario("site-100x10", Kind::SiteFailover, 100, 10, true),
    scenario("failback-20", Kind::Failback, 1, 20, false),
    scenario("drill-20", Kind::Drill, 1, 20, false),
];

/// The scenarios `names` pick (`all`: every one that is not large, unless `large`).
pub fn select(names: &[String], large: bool) -> Result<Vec<Scenario>, String> {
    let mut out: Vec<Scenario> = Vec::new();
    for name in names {
        if name == "all" {
            out.extend(SCENARIOS.iter().filter(|s| large || !s.large));
            continue;
        }
        match SCENARIOS.iter().find(|s| s.name == name) {
            Some(s) => out.push(*s),
            None => {
                return Err(format!(
                    "unknown scenario '{name}': give one of {}, or all",
                    SCENARIOS.map(|s| s.name).join(", ")
                ))
            }
        }
    }
    out.dedup_by_key(|s| s.name);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_leaves_the_large_scenario_out_unless_asked() {
        let names = |v: Vec<Scenario>| v.iter().map(|s| s.name).collect::<Vec<_>>();
        let all = names(select(&["all".into()], false).unwrap());
        assert!(!all.contains(&"site-100x10"));
        assert_eq!(all.len(), 6);
        assert!(names(select(&["all".into()], true).unwrap()).contains(&"site-100x10"));
        assert_eq!(
            names(select(&["site-100x10".into()], false).unwrap()),
            ["site-100x10"]
        );
        let err = select(&["failover-7".into()], false).unwrap_err();
        assert!(err.starts_with("unknown scenario 'failover-7'"), "{err}");
    }

    #[test]
    fn the_measured_command_waits_and_prints_json() {
        let drill = SCENARIOS.iter().find(|s| s.kind == Kind::Drill).unwrap();
        let args = drill.command();
        assert_eq!(args[..4], ["dr", "test", "failover", "bench"]);
        assert_eq!(args[args.len() - 3..], ["--wait", "-f", "json"]);
        assert_eq!(SCENARIOS[4].vms(), 1000);
        assert_eq!(Kind::SiteFailover.local_site(), "site-b");
    }
}
