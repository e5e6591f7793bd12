//! `protector sim inspect`'s tables: one per site and resource (servers, volumes with their
//! lineage, ports, networks), then one per array and resource.

use protector_mock::{Inventory, LineageKind, VolumeLineage};

use crate::output::render_table;

/// A titled table, or the title and `(none)` when there are no rows.
fn section(out: &mut String, title: &str, headings: &[&str], rows: Vec<Vec<String>>) {
    out.push_str(&format!("{title} ({})\n", rows.len()));
    if rows.is_empty() {
        out.push_str("  (none)\n\n");
        return;
    }
    let headings: Vec<String> = headings.iter().map(|h| h.to_string()).collect();
    out.push_str(&render_table(&headings, &rows));
    out.push('\n');
}

/// A volume's lineage in a table cell: how it was made and the write it held then.
fn lineage(lineage: &VolumeLineage) -> String {
    match lineage.kind {
        LineageKind::Created => format!("created empty (write {})", lineage.fingerprint),
        LineageKind::Seeded => format!("seeded (write {})", lineage.fingerprint),
        LineageKind::Managed => {
            let from = match (&lineage.copied_from, lineage.copied_fingerprint) {
                (Some(from), Some(written)) => format!(", a copy of {from} (write {written})"),
                (Some(from), None) => format!(", a copy of {from}"),
                _ => String::new(),
            };
            format!(
                "managed {}{from}; held write {}",
                lineage.array_volume.as_deref().unwrap_or("?"),
                lineage.fingerprint
            )
        }
    }
}

fn opt<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(String::new, T::to_string)
}

/// The inventory as one table per site and resource, then one per array and resource.
pub(super) fn inventory_tables(inventory: &Inventory) -> String {
    let mut out = String::new();
    for (site, inv) in &inventory.sites {
        section(
            &mut out,
            &format!("{site}: servers"),
            &["Name", "ID", "Status", "Project", "Volumes"],
            inv.servers
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.id.clone(),
                        s.status.clone(),
                        s.project_id.clone(),
                        s.volumes.join("\n"),
                    ]
                })
                .collect(),
        );
        section(
            &mut out,
            &format!("{site}: volumes"),
            &[
                "Name",
                "ID",
                "Status",
                "Array volume",
                "Fingerprint",
                "Lineage",
            ],
            inv.volumes
                .iter()
                .map(|v| {
                    vec![
                        v.name.clone(),
                        v.id.clone(),
                        v.status.clone(),
                        opt(&v.array_volume),
                        opt(&v.fingerprint),
                        v.lineage.as_ref().map(lineage).unwrap_or_default(),
                    ]
                })
                .collect(),
        );
        section(
            &mut out,
            &format!("{site}: ports"),
            &["Name", "ID", "Network", "Device", "Fixed IPs"],
            inv.ports
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.id.clone(),
                        p.network_id.clone(),
                        p.device_id.clone(),
                        p.fixed_ips
                            .iter()
                            .map(|ip| ip.ip_address.clone())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ]
                })
                .collect(),
        );
        section(
            &mut out,
            &format!("{site}: networks"),
            &["Name", "ID", "Project", "Shared", "MTU", "Subnets"],
            inv.networks
                .iter()
                .map(|n| {
                    vec![
                        n.name.clone(),
                        n.id.clone(),
                        n.project_id.clone(),
                        n.shared.to_string(),
                        n.mtu.to_string(),
                        n.subnets
                            .iter()
                            .map(|s| {
                                let gateway = s.gateway_ip.as_deref().unwrap_or("no gateway");
                                format!("{} {} ({gateway})", s.name, s.cidr)
                            })
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ]
                })
                .collect(),
        );
        section(
            &mut out,
            &format!("{site}: routers"),
            &["Name", "ID", "Project", "Subnets"],
            inv.routers
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.id.clone(),
                        r.project_id.clone(),
                        r.subnet_ids.join("\n"),
                    ]
                })
                .collect(),
        );
    }
    for (site, array) in &inventory.arrays {
        let title = |what: &str| format!("{site}: array {} {what}", array.name);
        section(
            &mut out,
            &title("volumes"),
            &["Name", "Fingerprint", "Destroyed"],
            array
                .volumes
                .iter()
                .map(|v| {
                    vec![
                        v.name.clone(),
                        v.fingerprint.to_string(),
                        v.destroyed.to_string(),
                    ]
                })
                .collect(),
        );
        section(
            &mut out,
            &title("protection groups"),
            &["Name", "Volumes", "Targets"],
            array
                .protection_groups
                .iter()
                .map(|g| {
                    vec![
                        g.name.clone(),
                        g.volumes.join("\n"),
                        g.targets
                            .iter()
                            .map(|t| {
                                let allowed = if t.allowed { "allowed" } else { "not allowed" };
                                format!("{} ({allowed})", t.name)
                            })
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ]
                })
                .collect(),
        );
        section(
            &mut out,
            &title("protection-group snapshots"),
            &[
                "Name",
                "Source",
                "Progress",
                "Complete",
                "Volumes (fingerprint)",
            ],
            array
                .snapshots
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.source.clone(),
                        format!("{:.2}", s.progress),
                        s.complete.to_string(),
                        s.fingerprints
                            .iter()
                            .map(|(volume, fp)| format!("{volume} ({fp})"))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ]
                })
                .collect(),
        );
        section(
            &mut out,
            &title("pods"),
            &["Name", "Arrays", "Promotion"],
            array
                .pods
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.arrays
                            .iter()
                            .map(|(a, status)| format!("{a} ({status})"))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        p.promotion_status.clone(),
                    ]
                })
                .collect(),
        );
    }
    out
}
