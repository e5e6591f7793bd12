//! The simulated world: every record of both sites and both arrays, the simulated clock, the
//! id generator and the injected faults. Services (`cloud/`, `array/`) read and change it; the
//! store (`store.rs`) saves what changed after every call.

pub(crate) mod blocks;
pub(crate) mod due;
pub(crate) mod records;
pub(crate) mod store;
pub(crate) mod table;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::faults::Faults;
use records::*;
use table::{PersistTable, Table};

/// The two simulated sites.
pub(crate) const SITES: [&str; 2] = ["site-a", "site-b"];

/// Seed of the default world.
pub(crate) const DEFAULT_SEED: u64 = 0x005E_ED0F_D15A_57E5;

/// Counters and clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub schema_version: u32,
    pub seed: u64,
    /// State of the id generator.
    pub id_rng: u64,
    /// State of the fault generator (kept apart so faults do not shift ids).
    pub fault_rng: u64,
    /// Creation order of records.
    pub seq: u64,
    /// Ticks elapsed; one tick is one simulated second.
    pub tick: u64,
    /// The simulated time at tick 0.
    pub epoch: DateTime<Utc>,
    /// The last write sequence number handed out.
    pub write_seq: u64,
    /// The scale seed applied to this state, if any (`Simulator::seed_scale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_seed: Option<crate::seed::ScaleSeed>,
    /// The guests' writes since the writers last changed (`crate::writes`); none in a state
    /// saved before writes were applied lazily (its rows hold every write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_epoch: Option<crate::writes::WriteEpoch>,
    /// The changes of writers since `write_epoch` started, oldest first (`crate::writes`):
    /// a change saves only the rows of the writers that stopped or started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writer_changes: Vec<crate::writes::WriterChange>,
    /// How many ticks the services' transitions take ([`crate::Pace`]).
    #[serde(default, skip_serializing_if = "crate::Pace::is_realistic")]
    pub pace: crate::Pace,
    /// Rounds of the guests' writes so far (`crate::writes`: the epochs count them); none in
    /// a state saved before they were counted apart from ticks (one round per tick then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_round: Option<u64>,
    /// The simulated second of the last round of writes: at most one round a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_second: Option<i64>,
    /// What simulated time follows since it was last set; none: a second per tick from
    /// `epoch` ([`crate::Clock::Calls`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<crate::tick::ClockOrigin>,
}

pub(crate) const SCHEMA_VERSION: u32 = 1;

impl Meta {
    pub(crate) fn new(seed: u64) -> Meta {
        Meta {
            schema_version: SCHEMA_VERSION,
            seed,
            id_rng: seed,
            fault_rng: seed ^ 0xFA17_FA17_FA17_FA17,
            seq: 0,
            tick: 0,
            epoch: Utc
                .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                .single()
                .expect("fixed date is valid"),
            write_seq: 0,
            scale_seed: None,
            write_epoch: None,
            writer_changes: Vec::new(),
            pace: crate::Pace::Realistic,
            write_round: Some(0),
            write_second: None,
            clock: None,
        }
    }

    /// Rounds of the guests' writes so far.
    pub(crate) fn write_round(&self) -> u64 {
        self.write_round.unwrap_or(self.tick)
    }
}

/// SplitMix64: tiny, fast, and its whole state is one `u64` we can save.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every record of the simulation.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub meta: Meta,
    pub faults: Faults,
    pub projects: Table<ProjectRec>,
    pub users: Table<UserRec>,
    pub application_credentials: Table<ApplicationCredentialRec>,
    pub revoked_tokens: Table<RevokedTokenRec>,
    pub keystone_services: Table<KeystoneServiceRec>,
    pub keystone_endpoints: Table<KeystoneEndpointRec>,
    pub flavors: Table<FlavorRec>,
    pub keypairs: Table<KeypairRec>,
    pub servers: Table<ServerRec>,
    pub hypervisors: Table<HypervisorRec>,
    pub quotas: Table<QuotaRec>,
    pub volume_types: Table<VolumeTypeRec>,
    pub group_types: Table<GroupTypeRec>,
    pub volume_services: Table<VolumeServiceRec>,
    pub volumes: Table<VolumeRec>,
    pub cinder_snapshots: Table<CinderSnapshotRec>,
    pub volume_groups: Table<VolumeGroupRec>,
    pub networks: Table<NetworkRec>,
    pub subnets: Table<SubnetRec>,
    pub ports: Table<PortRec>,
    pub security_groups: Table<SecurityGroupRec>,
    pub security_group_rules: Table<SecurityGroupRuleRec>,
    pub arrays: Table<ArrayRec>,
    pub array_volumes: Table<ArrayVolumeRec>,
    pub protection_groups: Table<PgRec>,
    pub pg_snapshots: Table<PgSnapshotRec>,
    pub volume_snapshots: Table<VolumeSnapshotRec>,
    pub pods: Table<PodRec>,
    pub routers: Table<RouterRec>,
    /// Who the guests' writes go to (derived, in memory only: `crate::writes`).
    pub writers: crate::writes::WriterCache,
    /// What the coming ticks have to do, by when (derived, in memory only: `due.rs`).
    pub due: due::DueIndexes,
    /// The simulated minute of the last retention sweep on the wall clock (in memory only:
    /// a process that loads the state sweeps at its first tick).
    pub retention_minute: Option<i64>,
}

impl World {
    pub(crate) fn empty(seed: u64) -> World {
        World {
            meta: Meta::new(seed),
            faults: Faults::default(),
            projects: Table::default(),
            users: Table::default(),
            application_credentials: Table::default(),
            revoked_tokens: Table::default(),
            keystone_services: Table::default(),
            keystone_endpoints: Table::default(),
            flavors: Table::default(),
            keypairs: Table::default(),
            servers: Table::touch_tracked(),
            hypervisors: Table::default(),
            quotas: Table::default(),
            volume_types: Table::default(),
            group_types: Table::default(),
            volume_services: Table::default(),
            volumes: Table::touch_tracked(),
            cinder_snapshots: Table::touch_tracked(),
            volume_groups: Table::default(),
            networks: Table::default(),
            subnets: Table::default(),
            ports: Table::default(),
            security_groups: Table::default(),
            security_group_rules: Table::default(),
            arrays: Table::default(),
            array_volumes: Table::touch_tracked(),
            protection_groups: Table::touch_tracked(),
            pg_snapshots: Table::touch_tracked(),
            volume_snapshots: Table::default(),
            pods: Table::default(),
            routers: Table::default(),
            writers: Default::default(),
            due: Default::default(),
            retention_minute: None,
        }
    }

    /// The tables by their stored kind name.
    pub(crate) fn tables_mut(&mut self) -> Vec<(&'static str, &mut dyn PersistTable)> {
        vec![
            ("project", &mut self.projects),
            ("user", &mut self.users),
            ("application_credential", &mut self.application_credentials),
            ("revoked_token", &mut self.revoked_tokens),
            ("keystone_service", &mut self.keystone_services),
            ("keystone_endpoint", &mut self.keystone_endpoints),
            ("flavor", &mut self.flavors),
            ("keypair", &mut self.keypairs),
            ("server", &mut self.servers),
            ("hypervisor", &mut self.hypervisors),
            ("quota", &mut self.quotas),
            ("volume_type", &mut self.volume_types),
            ("group_type", &mut self.group_types),
            ("volume_service", &mut self.volume_services),
            ("volume", &mut self.volumes),
            ("cinder_snapshot", &mut self.cinder_snapshots),
            ("volume_group", &mut self.volume_groups),
            ("network", &mut self.networks),
            ("subnet", &mut self.subnets),
            ("port", &mut self.ports),
            ("security_group", &mut self.security_groups),
            ("security_group_rule", &mut self.security_group_rules),
            ("array", &mut self.arrays),
            ("array_volume", &mut self.array_volumes),
            ("protection_group", &mut self.protection_groups),
            ("pg_snapshot", &mut self.pg_snapshots),
            ("volume_snapshot", &mut self.volume_snapshots),
            ("pod", &mut self.pods),
            ("router", &mut self.routers),
        ]
    }

    // ------------------------------------------------------------ clock and ids

    /// The simulated time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        match &self.meta.clock {
            None => self.meta.epoch + Duration::seconds(self.meta.tick as i64),
            Some(origin) => origin.time_at(self.meta.tick, Utc::now()),
        }
    }

    /// Makes simulated time follow `clock` from now on, going on from the time it shows now.
    pub(crate) fn set_clock(&mut self, clock: crate::Clock) {
        let time = self.now();
        self.meta.clock = Some(crate::tick::ClockOrigin {
            clock,
            tick: self.meta.tick,
            time,
            real: Utc::now(),
        });
    }

    /// What simulated time follows.
    pub(crate) fn clock(&self) -> crate::Clock {
        self.meta.clock.map_or(crate::Clock::Calls, |o| o.clock)
    }

    /// A new deterministic UUID (version 4 layout).
    pub(crate) fn new_uuid(&mut self) -> String {
        let hi = splitmix64(&mut self.meta.id_rng);
        let lo = splitmix64(&mut self.meta.id_rng);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A UUID derived from the world's seed and `parts`, without drawing from the id
    /// generator: records added to the seed after the fact (passwords, group types, rules)
    /// get stable ids without shifting every id drawn after them.
    pub(crate) fn derived_uuid(&self, parts: &[&str]) -> String {
        let digest = self.derived_digest(parts);
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// SHA-256 of the world's seed and `parts` (a deterministic secret or id source).
    pub(crate) fn derived_digest(&self, parts: &[&str]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.meta.seed.to_le_bytes());
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize().into()
    }

    /// A new value from the id generator.
    pub(crate) fn next_random(&mut self) -> u64 {
        splitmix64(&mut self.meta.id_rng)
    }

    /// A draw in `[0, 1)` from the fault generator.
    pub(crate) fn fault_draw(&mut self) -> f64 {
        (splitmix64(&mut self.meta.fault_rng) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next creation sequence number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.meta.seq += 1;
        self.meta.seq
    }

    /// The next write sequence number.
    pub(crate) fn next_write(&mut self) -> u64 {
        self.meta.write_seq += 1;
        self.meta.write_seq
    }

    // ------------------------------------------------------------ topology

    /// The array of `site`.
    pub(crate) fn array_of_site(&self, site: &str) -> Option<&ArrayRec> {
        self.arrays.find(|a| a.site == site)
    }

    /// The name of the array of `site` (empty when unknown).
    pub(crate) fn array_name_of_site(&self, site: &str) -> String {
        self.array_of_site(site)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    }

    /// Whether an array is powered and reachable.
    pub(crate) fn array_up(&self, array: &str) -> bool {
        match self.arrays.get(array) {
            Some(a) => !self.faults.arrays_down.contains(&a.site),
            None => false,
        }
    }

    /// Whether two arrays can replicate to each other now.
    pub(crate) fn link_up(&self, a: &str, b: &str) -> bool {
        !self.faults.partition && self.array_up(a) && self.array_up(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_seeded_uuids_v4() {
        let mut one = World::empty(7);
        let mut two = World::empty(7);
        let a = one.new_uuid();
        assert_eq!(a, two.new_uuid());
        assert_ne!(a, one.new_uuid());
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(World::empty(8).new_uuid(), a);
    }

    #[test]
    fn fault_draws_are_uniform_enough() {
        let mut world = World::empty(1);
        let draws: Vec<f64> = (0..1000).map(|_| world.fault_draw()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let below_half = draws.iter().filter(|d| **d < 0.5).count();
        assert!((400..600).contains(&below_half));
    }
}
