//! Plans built in memory for the engine's unit tests.

use uuid::Uuid;

use crate::model::ReplicationType;
use crate::plan::{FailoverMode, MemberPlan, Plan, Resolved, VolumePlan};

/// A member `name` with one 10 GB boot volume (`failback`: it has an original on the target).
pub(crate) fn member(name: &str, failback: bool) -> MemberPlan {
    MemberPlan {
        member_id: Uuid::new_v4(),
        instance_name: name.into(),
        source_instance_id: format!("{name}-id"),
        source_status: Some("ACTIVE".into()),
        flavor: Resolved {
            source: "m1.small".into(),
            target_id: Some("f".into()),
            target_name: Some("m2.small".into()),
        },
        key_name: None,
        nics: Vec::new(),
        volumes: vec![VolumePlan {
            source_volume_id: format!("{name}-root"),
            source_array_volume: format!("volume-{name}-root"),
            copy_name: format!("copy-{name}-root"),
            name: format!("{name}-root"),
            size_gb: 10,
            bootable: true,
            boot_index: 0,
            device: "/dev/vda".into(),
            source_snapshot: None,
        }],
        target_instance_id: failback.then(|| format!("{name}-original")),
        availability_zone: None,
        priority: 3,
        depends_on: Vec::new(),
    }
}

/// A plan from site-a to site-b of `members`, nothing else resolved.
pub(crate) fn plan(mode: FailoverMode, members: Vec<MemberPlan>) -> Plan {
    Plan {
        id: Uuid::new_v4(),
        mode,
        group_id: Uuid::new_v4(),
        group_name: "g".into(),
        metadata_version: 1,
        source_site: "site-a".into(),
        target_site: "site-b".into(),
        replication_type: ReplicationType::Async,
        array_group: "pg-g".into(),
        source_array: None,
        target_array: None,
        target_volume_type: "replicated-ssd".into(),
        manage_host: None,
        members,
        steps: Vec::new(),
        findings: Vec::new(),
        recovery_point: None,
        source_reachable: true,
        source_snapshot: None,
        commit_window_secs: None,
        boot_order: Vec::new(),
        estimate: None,
        hooks: Vec::new(),
    }
}
