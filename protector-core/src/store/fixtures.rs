//! Records the store's tests share, on every backend (public with the feature `conformance`).

#![expect(
    missing_docs,
    reason = "test code, public only for store backends in other crates; each test's name says what it checks"
)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{GroupDocument, SecretKey};
use crate::model::{
    ArrayEndpoint, ConsistencyGroupBinding, FlavorRef, GroupStatus, Member, MemberStatus,
    MetadataVersion, Operation, OperationType, Placement, ProtectionGroup, RecoveryMetadata,
    ReplicationPolicy, ReplicationType, ResourceMappings, Secret, Site, SiteStatus, SiteType,
    TenantMapping,
};
use crate::store::{
    GroupMappings, JournalEntry, JournalKind, RemoteSyncStatus, SyncLogEntry, SyncState,
};

pub const TOKEN_A: &str = "T-primary-0f3c9e1a-token";
pub const TOKEN_B: &str = "T-secondary-77d2b4c8-token";

pub fn key(byte: u8) -> SecretKey {
    SecretKey::from_bytes([byte; 32])
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

/// A uuid whose text sorts by `n`.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn site(name: &str) -> Site {
    Site {
        id: Uuid::new_v4(),
        name: name.to_string(),
        description: format!("{name} datacenter"),
        site_type: SiteType::Primary,
        auth_url: format!("https://keystone.{name}.example:5000/v3"),
        region_name: "RegionOne".to_string(),
        status: SiteStatus::Active,
        cloud: None,
        created_at: at(0),
    }
}

pub fn group(n: u128, name: &str) -> ProtectionGroup {
    ProtectionGroup {
        id: id(n),
        name: name.to_string(),
        description: String::new(),
        project_id: "project-a".to_string(),
        project_name: "project-a".to_string(),
        primary_site: "site-a".to_string(),
        secondary_site: "site-b".to_string(),
        current_primary_site: "site-a".to_string(),
        replication_type: ReplicationType::Async,
        volume_type: "pure-replicated".to_string(),
        status: GroupStatus::Active,
        failover_count: 0,
        last_failover_at: None,
        consistency_group: ConsistencyGroupBinding {
            id: Uuid::new_v4(),
            primary_cg_id: Some("cg-a".to_string()),
            secondary_cg_id: None,
            array_group: format!("pg-{name}"),
            backend_name: Some("cinder@pure".to_string()),
        },
        metadata: MetadataVersion {
            version: 1,
            checksum: "c0ffee".to_string(),
            modified_at: Some(at(1)),
        },
        active_operation_id: None,
        fence_required_on: None,
        last_operation_id: None,
        test_failover: None,
        recovery_point: None,
        hooks: Vec::new(),
        created_at: at(0),
        updated_at: at(1),
    }
}

pub fn member(n: u128, group_id: Uuid, name: &str) -> Member {
    Member {
        id: id(n),
        group_id,
        instance_id: format!("server-{name}"),
        instance_name: name.to_string(),
        status: MemberStatus::Protected,
        error_message: None,
        recovery: RecoveryMetadata {
            flavor: FlavorRef {
                id: "f-1".to_string(),
                name: "m1.small".to_string(),
            },
            networks: Vec::new(),
            security_groups: Vec::new(),
            key_name: Some("ops".to_string()),
            availability_zone: None,
            volumes: Vec::new(),
        },
        current: Placement {
            site: "site-a".to_string(),
            instance_id: format!("server-{name}"),
            volume_ids: vec![format!("vol-{name}")],
            array_volumes: vec![format!("volume-{name}-cinder")],
            port_ids: vec![format!("port-{name}")],
        },
        standby: None,
        priority: crate::model::DEFAULT_PRIORITY,
        depends_on: Vec::new(),
    }
}

pub fn endpoint(url: &str, token: &str) -> ArrayEndpoint {
    ArrayEndpoint {
        url: url.to_string(),
        api_token: Secret::new(token),
        ca_file: None,
        allow_insecure_http: false,
    }
}

pub fn policy(group_id: Uuid) -> ReplicationPolicy {
    ReplicationPolicy {
        group_id,
        primary_array: endpoint("https://fa-a.example", TOKEN_A),
        secondary_array: endpoint("https://fa-b.example", TOKEN_B),
        pure_pg_name: "pg-web".to_string(),
        replication_interval_secs: 300,
        rpo_minutes: 15,
        primary_array_name: Some("fa-a".to_string()),
        secondary_array_name: Some("fa-b".to_string()),
    }
}

pub fn mappings(group_id: Uuid, from: &str, to: &str) -> GroupMappings {
    GroupMappings {
        group_id,
        from_site: from.to_string(),
        to_site: to.to_string(),
        mappings: ResourceMappings {
            networks: BTreeMap::from([(format!("net-{from}"), format!("net-{to}"))]),
            ..ResourceMappings::default()
        },
    }
}

pub fn tenant_mapping(n: u128) -> TenantMapping {
    TenantMapping {
        id: id(n),
        local_site: "site-a".to_string(),
        local_tenant: format!("project-a-{n}"),
        remote_site: "site-b".to_string(),
        remote_tenant: format!("project-b-{n}"),
        description: String::new(),
    }
}

pub fn operation(n: u128, started_at: DateTime<Utc>) -> Operation {
    let mut op = Operation::start(
        OperationType::Failover,
        Some((&id(1), "web")),
        "site-a",
        "site-b",
        started_at,
    );
    op.id = id(n);
    op
}

pub fn journal(operation_id: Uuid, step: &str, kind: JournalKind) -> JournalEntry {
    JournalEntry {
        operation_id,
        seq: 0,
        step: step.to_string(),
        kind,
        idempotency_key: format!("protector:{operation_id}:{step}"),
        detail: serde_json::json!({ "server_id": "srv-1" }),
        at: at(5),
    }
}

pub fn sync_state(group_id: Uuid, status: RemoteSyncStatus) -> SyncState {
    SyncState {
        group_id,
        peer_site: "site-b".to_string(),
        status,
        remote_version: 3,
        last_sync_at: Some(at(3)),
        last_error: None,
    }
}

pub fn sync_log(group_id: Uuid, version: u64, when: DateTime<Utc>) -> SyncLogEntry {
    SyncLogEntry {
        group_id,
        at: when,
        version,
        peer_site: "site-b".to_string(),
        result: "success".to_string(),
        reason: "member-add".to_string(),
        error: None,
    }
}

pub fn document(group: ProtectionGroup, members: Vec<Member>) -> GroupDocument {
    let group_id = group.id;
    GroupDocument {
        group,
        members,
        policy: Some(policy(group_id)),
        mappings: vec![mappings(group_id, "site-a", "site-b")],
    }
}
