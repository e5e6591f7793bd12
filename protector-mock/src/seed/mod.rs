//! The default inventory: two sites, one FlashArray each, and a handful of running VMs on
//! site-a. Everything is created in a fixed order from the seeded id generator, so two fresh
//! simulators are identical. This module holds the shared names (Cinder types, the sync pod,
//! host and array naming, MAC and serial draws) and `default_world`; the per-site Keystone,
//! Nova, Cinder and Neutron inventory and the arrays are in `site.rs`, the seeded VMs and the
//! server insertion they share with `add_server` in `servers.rs`, what only the wire face needs
//! in `wire.rs`, and additions beyond the seed (projects, roles, servers) in `additions.rs`.

mod additions;
pub(crate) mod scale;
mod servers;
mod site;
mod wire;

pub use additions::NewServer;
pub(crate) use additions::{add_project, add_server, grant_roles};
pub use scale::{ScaleSeed, ScaleSeeded, SeededProject, SeededServer};
pub(crate) use wire::{app_credential_secret, complete_wire_inventory, APP_CREDENTIAL_NAME};

use servers::seed_servers;
use site::{seed_arrays, seed_site};

use crate::state::World;

/// Bytes in a GiB.
pub(crate) const GIB: u64 = 1 << 30;

/// Cinder's replicated async type.
pub(crate) const TYPE_ASYNC: &str = "replicated-ssd";
/// Cinder's replicated sync type.
pub(crate) const TYPE_SYNC: &str = "replicated-sync";
/// Cinder's non-replicated type.
pub(crate) const TYPE_STANDARD: &str = "standard";
/// The stretched pod holding sync-replicated volumes (what the Pure driver calls it).
pub(crate) const SYNC_POD: &str = "cinder-pod";

/// The Cinder backend host of a site.
pub(crate) fn backend_host(site: &str) -> String {
    format!("{site}-controller@pure")
}

/// The host of a volume on that backend (`host@backend#pool`).
pub(crate) fn volume_host(site: &str) -> String {
    format!("{}#pure", backend_host(site))
}

/// The Purity host object of a site's compute nodes.
pub(crate) fn compute_host(site: &str) -> String {
    format!("{site}-compute")
}

/// The array of a site.
pub(crate) fn array_name(site: &str) -> String {
    match site.strip_prefix("site-") {
        Some(letter) => format!("flasharray-{letter}"),
        None => format!("flasharray-{site}"),
    }
}

/// Array volume name the Pure driver gives a Cinder volume.
pub(crate) fn cinder_array_name(volume_id: &str) -> String {
    format!("volume-{volume_id}-cinder")
}

/// A deterministic Nova-style MAC.
pub(crate) fn new_mac(world: &mut World) -> String {
    let r = world.next_random();
    format!(
        "fa:16:3e:{:02x}:{:02x}:{:02x}",
        (r >> 16) & 0xff,
        (r >> 8) & 0xff,
        r & 0xff
    )
}

/// A deterministic FlashArray volume serial.
pub(crate) fn new_serial(world: &mut World) -> String {
    let a = world.next_random();
    let b = world.next_random();
    format!("{:016X}{:08X}", a, b as u32)
}

/// Builds the default world from `seed`.
pub(crate) fn default_world(seed: u64) -> World {
    let mut w = World::empty(seed);
    let ids_a = seed_site(&mut w, "site-a");
    seed_site(&mut w, "site-b");
    seed_arrays(&mut w);
    seed_servers(&mut w, &ids_a);
    complete_wire_inventory(&mut w);
    w
}
