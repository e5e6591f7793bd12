//! What the wire face needs beyond the in-process inventory: user passwords, the application
//! credential of each site's admin, Cinder group types and Neutron's security-group rules.
//! Everything here is derived from the seed rather than drawn from the id generator, and only
//! what is missing is added, so a state saved before the wire face existed is completed the
//! same way and ids drawn later do not shift.

use crate::state::records::*;
use crate::state::World;

/// Name of the application credential seeded for each site's admin.
pub(crate) const APP_CREDENTIAL_NAME: &str = "protector-dr";

/// What the wire face needs beyond the in-process inventory: user passwords, an application
/// credential per site, Cinder group types and security-group rules. Every id and secret is
/// derived from the seed (no draw from the id generator, so ids drawn later do not shift), and
/// only what is missing is added: a state saved before the wire face existed is completed the
/// same way.
pub(crate) fn complete_wire_inventory(w: &mut World) {
    for key in w.users.keys_where(|u| u.password.is_empty()) {
        let Some((site, name)) = w.users.get(&key).map(|u| (u.site.clone(), u.name.clone())) else {
            continue;
        };
        let password = format!(
            "{name}-{}",
            &hex::encode(w.derived_digest(&["password", &site, &name]))[..16]
        );
        if let Some(user) = w.users.get_mut(&key) {
            user.password = password;
        }
    }
    for site in crate::state::SITES {
        seed_application_credential(w, site);
        seed_group_types(w, site);
    }
    seed_security_group_rules(w);
    crate::cloud::capacity::seed_hypervisors(w);
}

/// The secret of the application credential seeded for `site` (derived from the seed).
pub(crate) fn app_credential_secret(w: &World, site: &str) -> String {
    hex::encode(w.derived_digest(&["application-credential-secret", site]))[..32].to_string()
}

fn seed_application_credential(w: &mut World, site: &str) {
    let id = w
        .derived_uuid(&["application-credential", site])
        .replace('-', "");
    if w.application_credentials.contains_key(&id) {
        return;
    }
    let Some(admin) = w
        .users
        .find(|u| u.site == site && u.name == "admin")
        .cloned()
    else {
        return;
    };
    let Some(project) = w
        .projects
        .find(|p| p.site == site && p.name == "production-project")
        .cloned()
    else {
        return;
    };
    let secret = app_credential_secret(w, site);
    let roles = admin.roles.get(&project.id).cloned().unwrap_or_default();
    w.application_credentials.insert(
        id.clone(),
        ApplicationCredentialRec {
            id,
            site: site.to_string(),
            user_id: admin.id,
            project_id: project.id,
            name: APP_CREDENTIAL_NAME.to_string(),
            description: "protector's disaster-recovery orchestrator".to_string(),
            secret_hash: crate::cloud::identity::secret_hash(&secret),
            roles,
            unrestricted: false,
            expires_at: None,
        },
    );
}

/// Cinder's own `default_group_type` and a consistency-group type the Pure driver snapshots
/// and replicates as one protection group.
fn seed_group_types(w: &mut World, site: &str) {
    for (name, description, specs) in [
        ("default_group_type", "Default group type", &[][..]),
        (
            "consistent-replication",
            "Consistency group: one Purity protection group, snapshotted and replicated together",
            &[
                ("consistent_group_snapshot_enabled", "<is> True"),
                ("consistent_group_replication_enabled", "<is> True"),
            ][..],
        ),
    ] {
        let id = w.derived_uuid(&["group-type", site, name]);
        if w.group_types.contains_key(&id) {
            continue;
        }
        w.group_types.insert(
            id.clone(),
            GroupTypeRec {
                id,
                site: site.to_string(),
                name: name.to_string(),
                description: description.to_string(),
                group_specs: specs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
        );
    }
}

/// One seeded security-group rule.
struct Rule {
    direction: &'static str,
    ethertype: &'static str,
    protocol: Option<&'static str>,
    port: Option<u32>,
    prefix: Option<&'static str>,
    remote_group: Option<String>,
}

impl Rule {
    fn egress(ethertype: &'static str) -> Rule {
        Rule {
            direction: "egress",
            ethertype,
            protocol: None,
            port: None,
            prefix: None,
            remote_group: None,
        }
    }

    fn from_anywhere(port: u32) -> Rule {
        Rule {
            direction: "ingress",
            ethertype: "IPv4",
            protocol: Some("tcp"),
            port: Some(port),
            prefix: Some("0.0.0.0/0"),
            remote_group: None,
        }
    }

    fn from_group(ethertype: &'static str, tcp_port: Option<u32>, group: &str) -> Rule {
        Rule {
            direction: "ingress",
            ethertype,
            protocol: tcp_port.map(|_| "tcp"),
            port: tcp_port,
            prefix: None,
            remote_group: Some(group.to_string()),
        }
    }
}

/// Neutron's rules: every group lets everything out (IPv4 and IPv6); `default` lets its own
/// members in, `web` HTTP and HTTPS from anywhere, `db` PostgreSQL from the project's `web`.
pub(super) fn seed_security_group_rules(w: &mut World) {
    let groups: Vec<SecurityGroupRec> = w.security_groups.values().cloned().collect();
    for group in groups {
        let web = w
            .security_groups
            .find(|g| g.site == group.site && g.project_id == group.project_id && g.name == "web")
            .map(|g| g.id.clone());
        let mut rules = vec![Rule::egress("IPv4"), Rule::egress("IPv6")];
        match group.name.as_str() {
            "default" => {
                rules.push(Rule::from_group("IPv4", None, &group.id));
                rules.push(Rule::from_group("IPv6", None, &group.id));
            }
            "web" => {
                rules.push(Rule::from_anywhere(80));
                rules.push(Rule::from_anywhere(443));
            }
            "db" => {
                if let Some(web) = &web {
                    rules.push(Rule::from_group("IPv4", Some(5432), web));
                }
            }
            _ => continue,
        }
        for (index, rule) in rules.into_iter().enumerate() {
            let Rule {
                direction,
                ethertype,
                protocol,
                port,
                prefix,
                remote_group,
            } = rule;
            let id = w.derived_uuid(&["security-group-rule", &group.id, &index.to_string()]);
            if w.security_group_rules.contains_key(&id) {
                continue;
            }
            w.security_group_rules.insert(
                id.clone(),
                SecurityGroupRuleRec {
                    id,
                    site: group.site.clone(),
                    security_group_id: group.id.clone(),
                    project_id: group.project_id.clone(),
                    direction: direction.to_string(),
                    ethertype: ethertype.to_string(),
                    protocol: protocol.map(str::to_string),
                    port_range_min: port,
                    port_range_max: port,
                    remote_ip_prefix: prefix.map(str::to_string),
                    remote_group_id: remote_group,
                    description: String::new(),
                },
            );
        }
    }
}
