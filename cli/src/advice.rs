//! The CLI's wording of the engine's hints: what to run next, as `protector` commands and
//! options. The engine's messages say what is wrong in words every front-end can show; each
//! front-end words the hint its own way (the OSC plugin as `openstack protector ...`, Horizon as
//! a button).

use protector_core::error::{Hint, MappedResource};

/// The advice for `hint`, as `protector` commands.
pub fn advice(hint: &Hint) -> String {
    match hint {
        Hint::UseSite { site: Some(site) } => format!("run the command with --os-cloud {site}"),
        Hint::UseSite { site: None } => "choose it with --os-cloud (or OS_CLOUD)".into(),
        Hint::ListGroups => "list groups with `protector protection-group list`".into(),
        Hint::ListOperations => "list them with `protector operation list`".into(),
        Hint::FollowOperation { operation } => {
            format!("follow it with `protector operation show {operation}`")
        }
        Hint::RecoverOperation { operation } => {
            format!("finish or undo it with `protector operation recover {operation}`")
        }
        Hint::RegisterSite { site } => {
            format!("register it with `protector site create --name {site} ...`")
        }
        Hint::CheckSite { site } => format!(
            "check --os-cloud (OS_CLOUD), or register the site with `protector site create --name {site} ...`"
        ),
        Hint::UseStateDir => "choose another state directory with --state-dir".into(),
        Hint::ShowSite { site } => format!("see `protector site show {site}`"),
        Hint::ValidateSite { site } => format!("run `protector site validate {site}`"),
        Hint::SyncForce { group } => {
            format!("run `protector protection-group sync-force {group}`")
        }
        Hint::SyncStatus { group } => {
            format!("check `protector protection-group sync-status {group}`")
        }
        Hint::CreatePolicy { group } => {
            format!("re-run `protector protection-group policy-create {group} ...`")
        }
        Hint::ListMembers { group } => {
            format!("see `protector protection-group member-list {group}`")
        }
        Hint::AddMembers { group } => {
            format!("add VMs with `protector protection-group member-add {group} ...`")
        }
        Hint::CleanupDrill { group } => {
            format!("run `protector dr test failover cleanup {group}`")
        }
        Hint::MapResource {
            resource,
            source,
            site,
            isolated,
        } => {
            let target = match (resource, isolated) {
                (MappedResource::Network, true) => format!("isolated network on {site}"),
                (resource, _) => format!("{site} {}", resource.as_str()),
            };
            format!("pass {} {source}=<{target}>", option(*resource))
        }
        Hint::CheckMapping { resource } => format!("check {}", option(*resource)),
        Hint::UnplannedFailover { group } => format!(
            "run an unplanned failover with `protector protection-group failover {group} --force`"
        ),
        Hint::PlannedFailover { group } => format!(
            "run a planned failover of '{group}' (without --force), which stops the VMs first and loses no data"
        ),
        Hint::ListTenantMappings => "see `protector dr tenant mapping list`".into(),
        Hint::ListRecoveryPoints { group } => {
            format!("list them with `protector protection-group recovery-points {group}`")
        }
        Hint::CommitOrRollBack { group } => format!(
            "run `protector protection-group failover-commit {group}`, or `protector protection-group failover-rollback {group}`"
        ),
        // A hint added to the engine after this CLI: its neutral wording.
        other => other.describe(),
    }
}

/// The CLI option that maps `resource`.
fn option(resource: MappedResource) -> &'static str {
    match resource {
        MappedResource::Network => "--network-mapping",
        MappedResource::Flavor => "--flavor-mapping",
        MappedResource::SecurityGroup => "--security-group-mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_worded_as_the_options_that_give_them() {
        let hint = Hint::MapResource {
            resource: MappedResource::Network,
            source: "net-web".into(),
            site: "site-b".into(),
            isolated: false,
        };
        assert_eq!(
            advice(&hint),
            "pass --network-mapping net-web=<site-b network>"
        );
        let hint = Hint::MapResource {
            resource: MappedResource::Network,
            source: "net-web".into(),
            site: "site-b".into(),
            isolated: true,
        };
        assert_eq!(
            advice(&hint),
            "pass --network-mapping net-web=<isolated network on site-b>"
        );
        let hint = Hint::MapResource {
            resource: MappedResource::Flavor,
            source: "m1.large".into(),
            site: "site-b".into(),
            isolated: false,
        };
        assert_eq!(
            advice(&hint),
            "pass --flavor-mapping m1.large=<site-b flavor>"
        );
    }
}
