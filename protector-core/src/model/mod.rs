//! The domain model of spec/: sites, protection groups, members, policies, mappings, operations.

mod boot;
mod drill;
mod group;
mod hook;
mod mapping;
mod member;
mod name;
mod operation;
mod policy;
mod recovery;
mod secret;
mod site;

pub use boot::{
    duration, seconds_between, BootWave, RtoEstimate, StepTime, WaveEstimate, WaveRun,
    DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY,
};
pub use drill::{TestFailoverRecord, TestFailoverStatus, TestMember, TestVolume};
pub use group::{
    transition, ConsistencyGroupBinding, GroupEvent, GroupStatus, MetadataVersion, ProtectionGroup,
    ReplicationType,
};
pub use hook::{
    redact_url, Hook, HookAction, HookAppliesTo, HookFailure, HookMethod, HookPoint, HookUndo,
    DEFAULT_HOOK_TIMEOUT_SECS, MAX_HOOK_TIMEOUT_SECS,
};
pub use mapping::{ResourceMappings, TenantMapping};
pub use member::{
    FixedIp, FlavorRef, Member, MemberStatus, NicSpec, Placement, RecoveryMetadata,
    SecurityGroupRef, VolumeSpec,
};
pub use name::{
    check_name, check_replication_schedule, MAX_NAME_LENGTH, MAX_REPLICATION_INTERVAL_SECS,
    MAX_RPO_MINUTES, MIN_REPLICATION_INTERVAL_SECS,
};
pub(crate) use operation::parse_words;
pub use operation::{GroupResult, Operation, OperationStatus, OperationType, Phase};
pub use policy::{ArrayEndpoint, ReplicationPolicy};
pub use recovery::RunningPoint;
pub use secret::Secret;
pub use site::{Site, SiteStatus, SiteType};
