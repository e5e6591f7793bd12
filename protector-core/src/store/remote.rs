//! The wire contract of protector-api: a site's [`Store`](super::Store) as REST resources, one
//! source for the server (protector-service's `api`) and its client (protector-openstack's
//! `RemoteStore`). No HTTP code here: paths, bodies, and errors as data.
//!
//! Every resource is under `/v1/{project_id}` (the Keystone catalog's `/v1/%(tenant_id)s`),
//! named in OpenStack's plural kebab-case ([`Resource`]); bodies are the core model types
//! wrapped in one key each, as OpenStack APIs write them (`{"protection_group": {...}}`,
//! `{"protection_groups": [...]}`); see each [`Resource`] for its methods and keys.
//!
//! A failure is `{"error": {"code", "title", "kind", "message", "request_id", ...}}`
//! ([`ErrorBody`]), its status from the error's kind ([`status_of`]) and back
//! ([`kind_of_status`]); every response carries [`REQUEST_ID_HEADER`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{GroupDocument, OperationQuery, VersionCheck};
use crate::error::{Error, ErrorKind, Hint, Problem};
use crate::model::{OperationStatus, OperationType};

/// The API version, first segment of every resource path.
pub const API_VERSION: &str = "v1";

/// The header that carries the request id (`req-<uuid>`) of every response.
pub const REQUEST_ID_HEADER: &str = "x-openstack-request-id";

/// The header a caller authenticates with (a Keystone token).
pub const AUTH_TOKEN_HEADER: &str = "x-auth-token";

/// The default port of protector-api (spec/004).
pub const DEFAULT_PORT: u16 = 8788;

/// A resource of the API, below `/v1/{project_id}`.
///
/// | resource | methods | body (in / out) |
/// |---|---|---|
/// | `sites` | GET | out `{"sites": [Site]}` |
/// | `sites/{name}` | GET, PUT, DELETE | `{"site": Site}` |
/// | `protection-groups` | GET | out `{"protection_groups": [ProtectionGroup]}` |
/// | `protection-groups/{id}` | GET, PUT, DELETE | `{"protection_group": ProtectionGroup}` |
/// | `protection-groups/{id}/document` | PUT | in [`DocumentWrite`] |
/// | `protection-groups/{id}/members` | GET | out `{"members": [Member]}` |
/// | `members/{id}` | PUT, DELETE | `{"member": Member}` |
/// | `protection-groups/{id}/policy` | GET, PUT | `{"policy": ReplicationPolicy}` |
/// | `protection-groups/{id}/mappings` | GET, PUT (one direction) | `{"mappings": [GroupMappings]}` / `{"mapping": GroupMappings}` |
/// | `protection-groups/{id}/sync-state` | GET, PUT | `{"sync_state": SyncState}` |
/// | `protection-groups/{id}/sync-log?limit=` | GET, POST | `{"sync_log": [SyncLogEntry]}` / `{"entry": SyncLogEntry}` |
/// | `tenant-mappings` | GET, POST | `{"tenant_mappings": [TenantMapping]}` / `{"tenant_mapping": TenantMapping}` |
/// | `operations?group_id=&operation_type=&status=&target_site=&limit=` | GET | out `{"operations": [Operation]}` ([`OperationsQuery`]) |
/// | `operations/{id}` | GET, PUT | `{"operation": Operation}` |
/// | `operations/{id}/journal` | GET, POST | `{"journal": [JournalEntry]}` / in `{"entry": JournalEntry}`, out [`Appended`] |
/// | `operations/{id}/lease` | GET, POST (acquire), PUT (renew), DELETE `?holder=` (release) | [`LeaseRequest`]; out `{"lease": Lease}`, [`LeaseAttempt`](super::LeaseAttempt), [`Renewed`] |
///
/// A PUT inserts or replaces (200 with the record, but 204 for a document and a policy, whose
/// array tokens are not echoed); a POST that appends answers 204 (the journal: its `seq`); a
/// DELETE answers 204, also for a missing record; a GET of a missing record (or of another
/// project's group) is 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `sites`
    Sites,
    /// `sites/{name}`
    Site(String),
    /// `protection-groups`
    Groups,
    /// `protection-groups/{id}`
    Group(Uuid),
    /// `protection-groups/{id}/document`
    Document(Uuid),
    /// `protection-groups/{id}/members`
    Members(Uuid),
    /// `members/{id}`
    Member(Uuid),
    /// `protection-groups/{id}/policy`
    Policy(Uuid),
    /// `protection-groups/{id}/mappings`
    Mappings(Uuid),
    /// `protection-groups/{id}/sync-state`
    SyncState(Uuid),
    /// `protection-groups/{id}/sync-log`
    SyncLog(Uuid),
    /// `tenant-mappings`
    TenantMappings,
    /// `operations`
    Operations,
    /// `operations/{id}`
    Operation(Uuid),
    /// `operations/{id}/journal`
    Journal(Uuid),
    /// `operations/{id}/lease`
    Lease(Uuid),
}

impl Resource {
    /// The path segments below `/v1/{project_id}`.
    pub fn segments(&self) -> Vec<String> {
        let group = |id: &Uuid, tail: &str| {
            let mut s = vec!["protection-groups".to_string(), id.to_string()];
            if !tail.is_empty() {
                s.push(tail.to_string());
            }
            s
        };
        let op = |id: &Uuid, tail: &str| {
            let mut s = vec!["operations".to_string(), id.to_string()];
            if !tail.is_empty() {
                s.push(tail.to_string());
            }
            s
        };
        match self {
            Resource::Sites => vec!["sites".into()],
            Resource::Site(name) => vec!["sites".into(), name.clone()],
            Resource::Groups => vec!["protection-groups".into()],
            Resource::Group(id) => group(id, ""),
            Resource::Document(id) => group(id, "document"),
            Resource::Members(id) => group(id, "members"),
            Resource::Member(id) => vec!["members".into(), id.to_string()],
            Resource::Policy(id) => group(id, "policy"),
            Resource::Mappings(id) => group(id, "mappings"),
            Resource::SyncState(id) => group(id, "sync-state"),
            Resource::SyncLog(id) => group(id, "sync-log"),
            Resource::TenantMappings => vec!["tenant-mappings".into()],
            Resource::Operations => vec!["operations".into()],
            Resource::Operation(id) => op(id, ""),
            Resource::Journal(id) => op(id, "journal"),
            Resource::Lease(id) => op(id, "lease"),
        }
    }

    /// The path with `project_id`: `/v1/{project_id}/…` (segments are ids and names that
    /// need no escaping but for site names, which `check_site_name` keeps to `[a-z0-9-_.]`).
    pub fn path(&self, project_id: &str) -> String {
        format!("/{API_VERSION}/{project_id}/{}", self.segments().join("/"))
    }

    /// The one key its body is wrapped in.
    pub fn key(&self) -> &'static str {
        match self {
            Resource::Sites => keys::SITES,
            Resource::Site(_) => keys::SITE,
            Resource::Groups => keys::GROUPS,
            Resource::Group(_) => keys::GROUP,
            Resource::Document(_) => keys::DOCUMENT,
            Resource::Members(_) => keys::MEMBERS,
            Resource::Member(_) => keys::MEMBER,
            Resource::Policy(_) => keys::POLICY,
            Resource::Mappings(_) => keys::MAPPINGS,
            Resource::SyncState(_) => keys::SYNC_STATE,
            Resource::SyncLog(_) => keys::SYNC_LOG,
            Resource::TenantMappings => keys::TENANT_MAPPINGS,
            Resource::Operations => keys::OPERATIONS,
            Resource::Operation(_) => keys::OPERATION,
            Resource::Journal(_) => keys::JOURNAL,
            Resource::Lease(_) => keys::LEASE,
        }
    }
}

/// The keys bodies are wrapped in.
pub mod keys {
    /// `[Site]`
    pub const SITES: &str = "sites";
    /// `Site`
    pub const SITE: &str = "site";
    /// `[ProtectionGroup]`
    pub const GROUPS: &str = "protection_groups";
    /// `ProtectionGroup`
    pub const GROUP: &str = "protection_group";
    /// `GroupDocument` (inside [`DocumentWrite`](super::DocumentWrite)).
    pub const DOCUMENT: &str = "document";
    /// `[Member]`
    pub const MEMBERS: &str = "members";
    /// `Member`
    pub const MEMBER: &str = "member";
    /// `ReplicationPolicy`
    pub const POLICY: &str = "policy";
    /// `[GroupMappings]`
    pub const MAPPINGS: &str = "mappings";
    /// `GroupMappings` (a PUT of one direction).
    pub const MAPPING: &str = "mapping";
    /// `SyncState`
    pub const SYNC_STATE: &str = "sync_state";
    /// `[SyncLogEntry]`
    pub const SYNC_LOG: &str = "sync_log";
    /// A `SyncLogEntry` or `JournalEntry` appended.
    pub const ENTRY: &str = "entry";
    /// `[TenantMapping]`
    pub const TENANT_MAPPINGS: &str = "tenant_mappings";
    /// `TenantMapping`
    pub const TENANT_MAPPING: &str = "tenant_mapping";
    /// `[Operation]`
    pub const OPERATIONS: &str = "operations";
    /// `Operation`
    pub const OPERATION: &str = "operation";
    /// `[JournalEntry]`
    pub const JOURNAL: &str = "journal";
    /// `Lease`
    pub const LEASE: &str = "lease";
}

/// The route templates of the server (axum's `{param}` syntax), all below `/v1/{project_id}`.
pub mod routes {
    /// `sites`
    pub const SITES: &str = "/v1/{project_id}/sites";
    /// `sites/{name}`
    pub const SITE: &str = "/v1/{project_id}/sites/{name}";
    /// `protection-groups`
    pub const GROUPS: &str = "/v1/{project_id}/protection-groups";
    /// `protection-groups/{id}`
    pub const GROUP: &str = "/v1/{project_id}/protection-groups/{id}";
    /// `protection-groups/{id}/document`
    pub const DOCUMENT: &str = "/v1/{project_id}/protection-groups/{id}/document";
    /// `protection-groups/{id}/members`
    pub const MEMBERS: &str = "/v1/{project_id}/protection-groups/{id}/members";
    /// `members/{id}`
    pub const MEMBER: &str = "/v1/{project_id}/members/{id}";
    /// `protection-groups/{id}/policy`
    pub const POLICY: &str = "/v1/{project_id}/protection-groups/{id}/policy";
    /// `protection-groups/{id}/mappings`
    pub const MAPPINGS: &str = "/v1/{project_id}/protection-groups/{id}/mappings";
    /// `protection-groups/{id}/sync-state`
    pub const SYNC_STATE: &str = "/v1/{project_id}/protection-groups/{id}/sync-state";
    /// `protection-groups/{id}/sync-log`
    pub const SYNC_LOG: &str = "/v1/{project_id}/protection-groups/{id}/sync-log";
    /// `tenant-mappings`
    pub const TENANT_MAPPINGS: &str = "/v1/{project_id}/tenant-mappings";
    /// `operations`
    pub const OPERATIONS: &str = "/v1/{project_id}/operations";
    /// `operations/{id}`
    pub const OPERATION: &str = "/v1/{project_id}/operations/{id}";
    /// `operations/{id}/journal`
    pub const JOURNAL: &str = "/v1/{project_id}/operations/{id}/journal";
    /// `operations/{id}/lease`
    pub const LEASE: &str = "/v1/{project_id}/operations/{id}/lease";
}

/// `PUT protection-groups/{id}/document`: the whole group, unconditionally (`check` absent:
/// [`Store::apply_document`](super::Store::apply_document)) or as a compare-and-set
/// ([`Store::apply_document_if`](super::Store::apply_document_if)). A refused check is 409
/// `conflict` with `stored_version` in the error body; a name clash is 409 `already_exists`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentWrite {
    /// The document.
    pub document: GroupDocument,
    /// `{"exactly": v}` or `"older"`; absent: unconditional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<VersionCheck>,
}

/// `POST operations/{id}/journal`'s answer: the sequence number the store gave the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appended {
    /// The entry's number within its operation.
    pub seq: u64,
}

/// `POST` (acquire) and `PUT` (renew) of `operations/{id}/lease`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// Who takes or renews it.
    pub holder: String,
    /// For how long, from the store's now (fractions allowed).
    pub ttl_seconds: f64,
}

impl LeaseRequest {
    /// A request for `holder` for `ttl`.
    pub fn new(holder: impl Into<String>, ttl: std::time::Duration) -> Self {
        LeaseRequest {
            holder: holder.into(),
            ttl_seconds: ttl.as_secs_f64(),
        }
    }

    /// The time to live asked for; `InvalidInput` unless finite, from 0 to a day.
    pub fn ttl(&self) -> crate::error::Result<std::time::Duration> {
        if !(self.ttl_seconds.is_finite() && (0.0..=86_400.0).contains(&self.ttl_seconds)) {
            return Err(Error::invalid(format!(
                "lease ttl_seconds {} is not valid: give a number of seconds from 0 to 86400",
                self.ttl_seconds
            )));
        }
        Ok(std::time::Duration::from_secs_f64(self.ttl_seconds))
    }
}

/// `PUT operations/{id}/lease`'s answer: `false` when the lease is no longer the holder's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewed {
    /// Whether the holder still holds it, until `ttl_seconds` from now.
    pub renewed: bool,
}

/// The query of `GET protection-groups/{id}/sync-log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLogQuery {
    /// At most this many entries, newest first (default [`SyncLogQuery::DEFAULT_LIMIT`]).
    #[serde(default = "SyncLogQuery::default_limit")]
    pub limit: usize,
}

impl SyncLogQuery {
    /// The limit when none is given.
    pub const DEFAULT_LIMIT: usize = 100;

    fn default_limit() -> usize {
        Self::DEFAULT_LIMIT
    }
}

/// The query of `GET operations`: an [`OperationQuery`] on the wire. Lists are
/// comma-separated (`status=pending,running`), in the operations' own spelling; an absent
/// parameter is no condition. Every parameter is optional: a server that answers with more
/// than asked (one older than the parameters) is filtered again by the client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationsQuery {
    /// Of this protection group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Uuid>,
    /// Of one of these types (`failover,failback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<String>,
    /// In one of these statuses (`completed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Into this site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_site: Option<String>,
    /// At most this many, the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl OperationsQuery {
    /// The query parameters of `query`.
    pub fn from_query(query: &OperationQuery) -> Self {
        fn list<T: Copy>(values: &[T], spelling: fn(T) -> &'static str) -> Option<String> {
            (!values.is_empty()).then(|| {
                values
                    .iter()
                    .map(|v| spelling(*v))
                    .collect::<Vec<_>>()
                    .join(",")
            })
        }
        OperationsQuery {
            group_id: query.group_id,
            operation_type: list(&query.types, OperationType::as_str),
            status: list(&query.statuses, OperationStatus::as_str),
            target_site: query.target_site.clone(),
            limit: query.limit,
        }
    }

    /// The parameters as `(name, value)` pairs, for a request.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(id) = self.group_id {
            pairs.push(("group_id", id.to_string()));
        }
        for (name, value) in [
            ("operation_type", &self.operation_type),
            ("status", &self.status),
            ("target_site", &self.target_site),
        ] {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }

    /// The query these parameters ask; [`ErrorKind::InvalidInput`] naming the value and the
    /// values the parameter takes for a type or status that does not exist.
    pub fn to_query(&self) -> Result<OperationQuery, Error> {
        Ok(OperationQuery {
            group_id: self.group_id,
            types: parse_list("operation_type", &self.operation_type)?,
            statuses: parse_list("status", &self.status)?,
            target_site: self.target_site.clone(),
            limit: self.limit,
        })
    }
}

/// The values of the comma-separated query parameter `name`.
fn parse_list<T: std::str::FromStr<Err = Error>>(
    name: &str,
    values: &Option<String>,
) -> Result<Vec<T>, Error> {
    crate::model::parse_words(values.as_deref())
        .map_err(|err| err.with_prefix(format_args!("query parameter {name}")))
}

/// The query of `DELETE operations/{id}/lease`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderQuery {
    /// Who gives the lease up.
    pub holder: String,
}

/// `{"error": ErrorBody}`: every failure's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// A failure, OpenStack-style (`code`, `title`, `message`), with protector's error kind, the
/// request id, and the context pairs, hint and findings of the core error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The HTTP status.
    pub code: u16,
    /// Its reason phrase (`Not Found`).
    pub title: String,
    /// [`ErrorKind::as_str`] (`not_found`).
    pub kind: String,
    /// What is wrong and what to do.
    pub message: String,
    /// `req-<uuid>`, as in the response header.
    pub request_id: String,
    /// What the operator can do, as data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
    /// Every finding of a validation failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// The core error's context pairs (`group`, `site`, `stored_version`, …), flattened.
    #[serde(flatten)]
    pub context: BTreeMap<String, serde_json::Value>,
}

/// The context keys a client keeps when it turns an [`ErrorBody`] back into an [`Error`] (the
/// keys protector's errors carry; others are dropped).
pub const CONTEXT_KEYS: &[&str] = &[
    "site",
    "group",
    "group_id",
    "operation",
    "stored_version",
    "database",
    "path",
    "array",
    "cloud",
    "object",
    "volume",
    "server",
    "server_name",
    "network",
    "array_volume",
    "array_error",
    "fault",
    "may_have_run",
    "retry_after_secs",
];

/// The HTTP status of an error of `kind`.
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::NotFound => 404,
        ErrorKind::AlreadyExists | ErrorKind::Conflict | ErrorKind::OutOfSync => 409,
        ErrorKind::PermissionDenied => 403,
        ErrorKind::Unauthenticated => 401,
        ErrorKind::InvalidInput => 400,
        ErrorKind::ValidationFailed => 422,
        ErrorKind::Unsupported => 501,
        ErrorKind::RateLimited => 429,
        ErrorKind::Unavailable => 503,
        ErrorKind::Timeout => 504,
        ErrorKind::ConfigInvalid | ErrorKind::Unexpected => 500,
    }
}

/// The kind of a failure answered with `status` when its body names none (a proxy's page):
/// the inverse of [`status_of`] where it is one to one.
pub fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        400 => ErrorKind::InvalidInput,
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        405 | 406 | 501 | 505 => ErrorKind::Unsupported,
        408 | 504 => ErrorKind::Timeout,
        409 => ErrorKind::Conflict,
        422 => ErrorKind::ValidationFailed,
        429 => ErrorKind::RateLimited,
        502 | 503 => ErrorKind::Unavailable,
        _ => ErrorKind::Unexpected,
    }
}

/// The kind named `name` ([`ErrorKind::as_str`]).
pub fn kind_named(name: &str) -> Option<ErrorKind> {
    [
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Conflict,
        ErrorKind::PermissionDenied,
        ErrorKind::Unauthenticated,
        ErrorKind::InvalidInput,
        ErrorKind::ValidationFailed,
        ErrorKind::Unsupported,
        ErrorKind::RateLimited,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
        ErrorKind::OutOfSync,
        ErrorKind::ConfigInvalid,
        ErrorKind::Unexpected,
    ]
    .into_iter()
    .find(|k| k.as_str() == name)
}

/// The reason phrase of the statuses [`status_of`] gives.
pub fn title_of(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal Server Error",
    }
}

impl ErrorBody {
    /// The body of `error` answered with request id `request_id`. The error's own
    /// `request_id` (of an OpenStack call behind it) is kept as `cause_request_id`.
    pub fn from_error(error: &Error, request_id: &str) -> ErrorBody {
        let code = status_of(error.kind());
        let mut context = BTreeMap::new();
        for (key, value) in error.context() {
            let key = if *key == "request_id" {
                "cause_request_id"
            } else {
                key
            };
            context.insert(key.to_string(), serde_json::Value::String(value.clone()));
        }
        ErrorBody {
            code,
            title: title_of(code).to_string(),
            kind: error.kind().as_str().to_string(),
            message: error.message().to_string(),
            request_id: request_id.to_string(),
            hint: error.hint().cloned(),
            findings: error.findings().iter().map(|f| f.message.clone()).collect(),
            context,
        }
    }

    /// The core error it describes, answered with `status`: the kind it names (else the
    /// status's), its message, hint, findings, the known context keys ([`CONTEXT_KEYS`]) and
    /// the request id.
    pub fn into_error(self, status: u16) -> Error {
        let kind = kind_named(&self.kind).unwrap_or_else(|| kind_of_status(status));
        let mut error = Error::new(kind, self.message);
        if let Some(hint) = self.hint {
            error = error.with_hint(hint);
        }
        if !self.findings.is_empty() {
            error = error.with_findings(self.findings.into_iter().map(Problem::from).collect());
        }
        for key in CONTEXT_KEYS {
            let value = match self.context.get(*key) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => continue,
                Some(other) => other.to_string(),
            };
            error = error.with_context(key, value);
        }
        if !self.request_id.is_empty() {
            error = error.with_context("request_id", self.request_id);
        }
        error
    }
}

/// Reads a failure's body: `None` when it is not an [`ErrorEnvelope`] (a proxy's page).
pub fn parse_error_body(body: &[u8]) -> Option<ErrorBody> {
    serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .map(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_plural_kebab_case_under_the_project() {
        let id = Uuid::from_u128(7);
        assert_eq!(
            Resource::SyncLog(id).path("p1"),
            format!("/v1/p1/protection-groups/{id}/sync-log")
        );
        assert_eq!(
            Resource::Member(id).path("p1"),
            format!("/v1/p1/members/{id}")
        );
        assert_eq!(
            Resource::TenantMappings.path("p1"),
            "/v1/p1/tenant-mappings"
        );
        assert_eq!(
            Resource::Lease(id).path("p1"),
            format!("/v1/p1/operations/{id}/lease")
        );
    }

    #[test]
    fn version_checks_have_their_documented_spelling() {
        assert_eq!(
            serde_json::to_value(VersionCheck::Exactly(3)).unwrap(),
            serde_json::json!({"exactly": 3})
        );
        assert_eq!(
            serde_json::to_value(VersionCheck::Older).unwrap(),
            serde_json::json!("older")
        );
    }

    #[test]
    fn every_kind_survives_the_wire_with_its_context() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::Conflict,
            ErrorKind::PermissionDenied,
            ErrorKind::Unauthenticated,
            ErrorKind::InvalidInput,
            ErrorKind::ValidationFailed,
            ErrorKind::Unsupported,
            ErrorKind::RateLimited,
            ErrorKind::Unavailable,
            ErrorKind::Timeout,
            ErrorKind::OutOfSync,
            ErrorKind::ConfigInvalid,
            ErrorKind::Unexpected,
        ] {
            let error = Error::new(kind, "group web is at version 2")
                .with_context("stored_version", "2")
                .with_context("request_id", "req-nova")
                .with_findings(vec![Problem::from("one"), Problem::from("two")]);
            let body = ErrorBody::from_error(&error, "req-1");
            let json = serde_json::to_vec(&ErrorEnvelope { error: body }).unwrap();
            let status = status_of(kind);
            let back = parse_error_body(&json).unwrap().into_error(status);
            assert_eq!(back.kind(), kind);
            assert_eq!(back.message(), "group web is at version 2");
            assert_eq!(back.context_value("stored_version"), Some("2"));
            assert_eq!(back.context_value("request_id"), Some("req-1"));
            assert_eq!(back.findings().len(), 2);
        }
        assert_eq!(status_of(ErrorKind::AlreadyExists), 409);
        assert_eq!(kind_of_status(409), ErrorKind::Conflict);
        assert_eq!(kind_of_status(503), ErrorKind::Unavailable);
    }

    #[test]
    fn the_error_body_has_the_openstack_shape() {
        let error = Error::not_found("protection group web not found").with_context("group", "web");
        let json = serde_json::to_value(ErrorEnvelope {
            error: ErrorBody::from_error(&error, "req-1"),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {
                "code": 404, "title": "Not Found", "kind": "not_found",
                "message": "protection group web not found", "request_id": "req-1",
                "group": "web"
            }})
        );
    }
}
