//! Running VMs: the six seeded on site-a (web, database, legacy, sync-replicated ledger and a
//! second tenant's app) and `insert_server`, which creates a fully resolved server the same way
//! for the seed and for `add_server`: its ports with fixed addresses, its volumes attached and
//! holding one write, and their array volumes on the site's FlashArray (on both, in the
//! stretched pod, for sync types).

use std::collections::BTreeMap;

use super::site::SiteIds;
use super::{
    array_name, cinder_array_name, compute_host, new_mac, new_serial, volume_host, GIB, SYNC_POD,
    TYPE_ASYNC, TYPE_STANDARD, TYPE_SYNC,
};
use crate::state::records::*;
use crate::state::World;

struct SeedServer {
    name: &'static str,
    tenant2: bool,
    large: bool,
    nics: &'static [(&'static str, &'static str)],
    security_groups: &'static [&'static str],
    key: bool,
    volumes: &'static [(&'static str, u64, &'static str)],
}

const SEED_SERVERS: &[SeedServer] = &[
    SeedServer {
        name: "web-server-1",
        tenant2: false,
        large: true,
        nics: &[("net-primary-web", "10.10.1.11")],
        security_groups: &["web", "default"],
        key: true,
        volumes: &[("root", 20, TYPE_ASYNC)],
    },
    SeedServer {
        name: "web-server-2",
        tenant2: false,
        large: true,
        nics: &[("net-primary-web", "10.10.1.12")],
        security_groups: &["web", "default"],
        key: true,
        volumes: &[("root", 20, TYPE_ASYNC)],
    },
    SeedServer {
        name: "db-server-1",
        tenant2: false,
        large: true,
        nics: &[
            ("net-primary-db", "10.10.2.21"),
            ("net-primary-web", "10.10.1.21"),
        ],
        security_groups: &["db"],
        key: true,
        volumes: &[("root", 40, TYPE_ASYNC), ("data", 100, TYPE_ASYNC)],
    },
    SeedServer {
        name: "legacy-app",
        tenant2: false,
        large: false,
        nics: &[("net-primary-web", "10.10.1.31")],
        security_groups: &["default"],
        key: true,
        volumes: &[("root", 20, TYPE_STANDARD)],
    },
    SeedServer {
        name: "ledger-db",
        tenant2: false,
        large: false,
        nics: &[("net-primary-db", "10.10.2.41")],
        security_groups: &["db"],
        key: true,
        volumes: &[("root", 20, TYPE_SYNC), ("data", 50, TYPE_SYNC)],
    },
    SeedServer {
        name: "t2-app",
        tenant2: true,
        large: false,
        nics: &[("net-primary-web", "10.10.1.51")],
        security_groups: &["default"],
        key: false,
        volumes: &[("root", 20, TYPE_ASYNC)],
    },
];

pub(super) fn seed_servers(w: &mut World, ids: &SiteIds) {
    let site = "site-a";
    for spec in SEED_SERVERS {
        let (project, user) = if spec.tenant2 {
            (&ids.tenant2, &ids.tenant2_user)
        } else {
            (&ids.production, &ids.admin)
        };
        let (flavor_id, flavor_name) = if spec.large {
            (&ids.flavor_large, "m1.large")
        } else {
            (&ids.flavor_small, "m1.small")
        };
        let placement = ServerPlacement {
            site,
            name: spec.name,
            project_id: project,
            user_id: user,
            flavor_id,
            flavor_name,
            key_name: spec.key.then_some("ops-key"),
            nics: spec
                .nics
                .iter()
                .map(|(network, ip)| {
                    let (net_id, subnet_id) = ids.networks[network].clone();
                    (net_id, subnet_id, ip.to_string())
                })
                .collect(),
            security_group_ids: spec
                .security_groups
                .iter()
                .map(|name| ids.security_groups[&(project.clone(), *name)].clone())
                .collect(),
            volumes: spec
                .volumes
                .iter()
                .map(|(role, size_gb, volume_type)| {
                    (
                        role.to_string(),
                        *size_gb,
                        volume_type.to_string(),
                        ids.types[volume_type].clone(),
                    )
                })
                .collect(),
        };
        insert_server(w, &placement);
    }
}

/// A server to create, every name resolved.
pub(super) struct ServerPlacement<'a> {
    pub(super) site: &'a str,
    pub(super) name: &'a str,
    pub(super) project_id: &'a str,
    pub(super) user_id: &'a str,
    pub(super) flavor_id: &'a str,
    pub(super) flavor_name: &'a str,
    pub(super) key_name: Option<&'a str>,
    /// (network id, subnet id, address), in NIC order.
    pub(super) nics: Vec<(String, String, String)>,
    pub(super) security_group_ids: Vec<String>,
    /// (role, size in GiB, volume type name, volume type id), root first.
    pub(super) volumes: Vec<(String, u64, String, String)>,
}

/// Inserts a running server with its ports, its volumes (attached, each holding one write) and
/// their array volumes on the site's array (and on both arrays, in the pod, for sync ones).
/// Returns its id.
pub(super) fn insert_server(w: &mut World, spec: &ServerPlacement<'_>) -> String {
    let site = spec.site;
    let array = array_name(site);
    let now = w.now();
    let server_id = w.new_uuid();

    let mut port_ids = Vec::new();
    for (index, (net_id, subnet_id, ip)) in spec.nics.iter().enumerate() {
        let port_id = w.new_uuid();
        let mac = new_mac(w);
        let seq = w.next_seq();
        w.ports.insert(
            port_id.clone(),
            PortRec {
                id: port_id.clone(),
                site: site.to_string(),
                seq,
                name: format!("{}-eth{index}", spec.name),
                network_id: net_id.clone(),
                project_id: spec.project_id.to_string(),
                device_id: server_id.clone(),
                device_owner: "compute:nova".to_string(),
                mac_address: mac,
                fixed_ips: vec![(subnet_id.clone(), ip.clone())],
                security_group_ids: spec.security_group_ids.clone(),
                description: String::new(),
                status: "ACTIVE".to_string(),
            },
        );
        port_ids.push(port_id);
    }

    let mut server_volumes = Vec::new();
    for (index, (role, size_gb, volume_type, volume_type_id)) in spec.volumes.iter().enumerate() {
        let volume_id = w.new_uuid();
        let device = format!("/dev/vd{}", (b'a' + index as u8) as char);
        let base = cinder_array_name(&volume_id);
        let sync = volume_type == TYPE_SYNC;
        let array_volume = if sync {
            format!("{SYNC_POD}::{base}")
        } else {
            base
        };
        let fingerprint = w.next_write();
        let serial = new_serial(w);
        let arrays: Vec<String> = if sync {
            crate::state::SITES.iter().map(|s| array_name(s)).collect()
        } else {
            vec![array.clone()]
        };
        for on in arrays {
            let hosts = if on == array {
                vec![compute_host(site)]
            } else {
                Vec::new()
            };
            let mut volume = ArrayVolumeRec {
                array: on,
                name: array_volume.clone(),
                provisioned_bytes: size_gb * GIB,
                serial: serial.clone(),
                destroyed: false,
                destroyed_at: None,
                pod: sync.then(|| SYNC_POD.to_string()),
                created: now,
                fingerprint,
                hosts,
                source: None,
                written_blocks: Default::default(),
                copied_from: None,
            };
            crate::array::diff::record_write(&mut volume, fingerprint);
            w.array_volumes
                .insert(array_key(&volume.array, &array_volume), volume);
        }
        let mut metadata = BTreeMap::new();
        metadata.insert("array_name".to_string(), array.clone());
        metadata.insert("array_volume_name".to_string(), array_volume.clone());
        let seq = w.next_seq();
        w.volumes.insert(
            volume_id.clone(),
            VolumeRec {
                id: volume_id.clone(),
                site: site.to_string(),
                seq,
                name: format!("{}-{role}", spec.name),
                description: String::new(),
                status: "in-use".to_string(),
                size_gb: *size_gb,
                volume_type_id: volume_type_id.clone(),
                volume_type: volume_type.clone(),
                bootable: index == 0,
                host: Some(volume_host(site)),
                project_id: spec.project_id.to_string(),
                availability_zone: "nova".to_string(),
                attachments: vec![AttachmentRec {
                    server_id: server_id.clone(),
                    device: device.clone(),
                }],
                group_id: None,
                array_volume: Some(array_volume),
                metadata,
                task: None,
                created: now,
                user_id: spec.user_id.to_string(),
                updated: None,
                lineage: Some(crate::lineage::VolumeLineage {
                    kind: crate::lineage::LineageKind::Seeded,
                    array_volume: None,
                    copied_from: None,
                    source_volume: None,
                    copied_fingerprint: None,
                    fingerprint,
                }),
            },
        );
        server_volumes.push(ServerVolume {
            volume_id,
            device,
            boot_index: if index == 0 { 0 } else { -1 },
            delete_on_termination: false,
        });
    }

    let seq = w.next_seq();
    w.servers.insert(
        server_id.clone(),
        ServerRec {
            id: server_id.clone(),
            site: site.to_string(),
            seq,
            name: spec.name.to_string(),
            project_id: spec.project_id.to_string(),
            user_id: spec.user_id.to_string(),
            flavor_id: spec.flavor_id.to_string(),
            flavor_name: spec.flavor_name.to_string(),
            key_name: spec.key_name.map(str::to_string),
            availability_zone: "nova".to_string(),
            status: "ACTIVE".to_string(),
            task: None,
            volumes: server_volumes,
            port_ids,
            metadata: BTreeMap::new(),
            fault: None,
            created: now,
            created_port_ids: Vec::new(),
            description: None,
            updated: None,
            host: None,
        },
    );
    server_id
}
