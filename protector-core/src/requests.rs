//! Constructors for the engine's requests: the required values as arguments, the rest at
//! their defaults, changed with `with_*`. Code that builds requests this way keeps compiling
//! when a request gains a field (it comes with a default).

use crate::engine::{
    AddMember, CreateGroup, CreatePolicy, FailbackRequest, RegisterSite, SiteFailoverRequest,
    TestFailoverRequest, DEFAULT_SITE_FAILOVER_CONCURRENCY,
};
use crate::model::{ArrayEndpoint, ReplicationType, ResourceMappings, SiteType};
use crate::plan::FailoverMode;

impl RegisterSite {
    /// Registers site `name` of `site_type`, whose Keystone v3 is at `auth_url`: region
    /// `RegionOne`, no description, credentials from the clouds.yaml entry named like the site.
    pub fn new(name: impl Into<String>, site_type: SiteType, auth_url: impl Into<String>) -> Self {
        RegisterSite {
            name: name.into(),
            description: String::new(),
            site_type,
            auth_url: auth_url.into(),
            region_name: "RegionOne".to_string(),
            cloud: None,
        }
    }

    /// In region `region_name`.
    pub fn with_region(mut self, region_name: impl Into<String>) -> Self {
        self.region_name = region_name.into();
        self
    }

    /// With a description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// With the credentials of clouds.yaml entry `cloud` rather than the entry named like the
    /// site.
    pub fn with_cloud(mut self, cloud: impl Into<String>) -> Self {
        self.cloud = Some(cloud.into());
        self
    }
}

impl CreateGroup {
    /// Creates group `name` running on `primary_site`, recovered to `secondary_site`, whose
    /// members' volumes are of `volume_type` (replication-enabled on both sites):
    /// asynchronous replication, no description.
    pub fn new(
        name: impl Into<String>,
        primary_site: impl Into<String>,
        secondary_site: impl Into<String>,
        volume_type: impl Into<String>,
    ) -> Self {
        CreateGroup {
            name: name.into(),
            description: String::new(),
            replication_type: ReplicationType::Async,
            primary_site: primary_site.into(),
            secondary_site: secondary_site.into(),
            volume_type: volume_type.into(),
        }
    }

    /// With `replication_type` (`Sync`: ActiveCluster pods).
    pub fn with_replication(mut self, replication_type: ReplicationType) -> Self {
        self.replication_type = replication_type;
        self
    }

    /// With a description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}

impl CreatePolicy {
    /// Replicates between `primary_array` and `secondary_array` through the FlashArray
    /// protection group `pure_pg_name`: every 5 minutes, with a 15-minute RPO.
    pub fn new(
        primary_array: ArrayEndpoint,
        secondary_array: ArrayEndpoint,
        pure_pg_name: impl Into<String>,
    ) -> Self {
        CreatePolicy {
            primary_array,
            secondary_array,
            pure_pg_name: pure_pg_name.into(),
            replication_interval_secs: 300,
            rpo_minutes: 15,
        }
    }

    /// Replicating every `seconds`.
    pub fn with_interval_secs(mut self, seconds: u64) -> Self {
        self.replication_interval_secs = seconds;
        self
    }

    /// With a recovery point objective of `minutes`.
    pub fn with_rpo_minutes(mut self, minutes: u64) -> Self {
        self.rpo_minutes = minutes;
        self
    }
}

impl AddMember {
    /// Protects the VM whose Nova id is `instance_id`.
    pub fn new(instance_id: impl Into<String>) -> Self {
        AddMember {
            instance_id: instance_id.into(),
        }
    }
}

impl ResourceMappings {
    /// These mappings with network `from` (id or name on the source site) recovered onto
    /// network `to` of the target site.
    pub fn with_network(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.networks.insert(from.into(), to.into());
        self
    }

    /// With flavor `from` replaced by flavor `to` on the target site.
    pub fn with_flavor(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.flavors.insert(from.into(), to.into());
        self
    }

    /// With security group `from` replaced by security group `to` on the target site.
    pub fn with_security_group(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.security_groups.insert(from.into(), to.into());
        self
    }

    /// With availability zone `from` replaced by zone `to` on the target site.
    pub fn with_availability_zone(
        mut self,
        from: impl Into<String>,
        to: impl Into<String>,
    ) -> Self {
        self.availability_zones.insert(from.into(), to.into());
        self
    }
}

impl TestFailoverRequest {
    /// A drill with `mappings` onto the secondary site's isolated test networks (merged over
    /// the stored ones), from the newest recovery point.
    pub fn new(mappings: ResourceMappings) -> Self {
        TestFailoverRequest {
            mappings,
            ..TestFailoverRequest::default()
        }
    }
}

impl FailbackRequest {
    /// A failback with `mappings` from the current active site back to the original primary
    /// (merged over the stored ones; only checked, as the original VMs keep their ports),
    /// without reversing replication and without forcing.
    pub fn new(mappings: ResourceMappings) -> Self {
        FailbackRequest {
            mappings,
            ..FailbackRequest::default()
        }
    }

    /// Re-enabling replication original primary → secondary once done.
    pub fn with_reverse_replication(mut self, reverse: bool) -> Self {
        self.reverse_replication = reverse;
        self
    }
}

impl SiteFailoverRequest {
    /// A failover of every group whose workload runs on the site, in `mode`
    /// ([`FailoverMode::Unplanned`] when the site is down), at most
    /// [`DEFAULT_SITE_FAILOVER_CONCURRENCY`] groups at once.
    pub fn new(mode: FailoverMode) -> Self {
        SiteFailoverRequest {
            mode,
            concurrency: DEFAULT_SITE_FAILOVER_CONCURRENCY,
            groups: Vec::new(),
            operation_id: None,
        }
    }

    /// Only `groups` (names or ids), e.g. to retry the ones that failed.
    pub fn with_groups<S: Into<String>>(mut self, groups: impl IntoIterator<Item = S>) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// At most `concurrency` groups at once.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }
}
