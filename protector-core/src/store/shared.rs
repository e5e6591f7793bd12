//! Helpers every store backend shares: sealed policies, document checks, JSON columns,
//! sortable timestamps and the indexed columns of table `operations`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use uuid::Uuid;

use super::{GroupDocument, OperationQuery, SecretKey};
use crate::error::{Error, Result};
use crate::model::{Operation, ReplicationPolicy, Secret};

/// `policy` with both API tokens replaced by their encryption with `key` (every backend).
pub(crate) fn seal_policy(key: &SecretKey, policy: &ReplicationPolicy) -> ReplicationPolicy {
    let mut sealed = policy.clone();
    for endpoint in [&mut sealed.primary_array, &mut sealed.secondary_array] {
        endpoint.api_token = Secret::new(key.encrypt(endpoint.api_token.expose()));
    }
    sealed
}

/// A stored policy with both API tokens decrypted with `key` (every backend).
pub(crate) fn open_policy(
    key: &SecretKey,
    mut policy: ReplicationPolicy,
) -> Result<ReplicationPolicy> {
    let group_id = policy.group_id;
    for endpoint in [&mut policy.primary_array, &mut policy.secondary_array] {
        let plain = key.decrypt(endpoint.api_token.expose()).map_err(|err| {
            err.with_prefix(format_args!("reading the policy of group {group_id}"))
                .with_context("group_id", group_id.to_string())
        })?;
        endpoint.api_token = Secret::new(plain);
    }
    Ok(policy)
}

/// Refuses a document whose parts belong to another group: applying it would move them.
pub(crate) fn check_document(document: &GroupDocument) -> Result<()> {
    let group_id = document.group.id;
    let mut findings = Vec::new();
    for member in &document.members {
        if member.group_id != group_id {
            findings.push(format!(
                "member {} belongs to group {}",
                member.id, member.group_id
            ));
        }
    }
    if let Some(policy) = &document.policy {
        if policy.group_id != group_id {
            findings.push(format!("the policy belongs to group {}", policy.group_id));
        }
    }
    for m in &document.mappings {
        if m.group_id != group_id {
            findings.push(format!(
                "mappings {} -> {} belong to group {}",
                m.from_site, m.to_site, m.group_id
            ));
        }
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(
            "the document mixes records of other groups: rebuild it from one group",
            findings,
        ))
    }
}

/// A timestamp as text that sorts like the time: fixed width, nanoseconds, UTC.
pub(crate) fn sortable_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| {
        Error::unexpected(format!("{what}: cannot encode the record as JSON: {err}"))
            .with_source(err)
    })
}

pub(crate) fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|err| {
        Error::unexpected(format!(
            "{what}: the stored record is not valid ({err}): the store was altered or written \
             by an incompatible protector"
        ))
        .with_source(err)
    })
}

/// The statement and its values that select what `query` matches on the indexed columns of
/// table `operations` (only the operations returned are decoded). `placeholder(n)` spells the
/// n-th parameter (1-based) in the backend's dialect: `?1` in SQLite, `?` in MariaDB.
pub(crate) fn operation_query(
    query: &OperationQuery,
    placeholder: fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut sql = String::from("SELECT json FROM operations WHERE 1 = 1");
    let mut values: Vec<String> = Vec::new();
    let mut condition = |column: &str, allowed: Vec<String>| {
        if allowed.is_empty() {
            return;
        }
        let first = values.len() + 1;
        let placeholders: Vec<String> = (first..first + allowed.len()).map(placeholder).collect();
        sql.push_str(&format!(" AND {column} IN ({})", placeholders.join(", ")));
        values.extend(allowed);
    };
    condition(
        "group_id",
        query.group_id.iter().map(Uuid::to_string).collect(),
    );
    condition(
        "operation_type",
        query.types.iter().map(json_text).collect(),
    );
    condition("status", query.statuses.iter().map(json_text).collect());
    condition("target_site", query.target_site.iter().cloned().collect());
    sql.push_str(" ORDER BY started_at DESC, id DESC");
    if let Some(limit) = query.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    (sql, values)
}

/// An operation as table `operations` holds it: the JSON, and the columns queries select on.
pub(crate) struct OperationRow {
    pub id: String,
    pub started_at: String,
    pub group_id: Option<String>,
    pub operation_type: String,
    pub status: String,
    pub target_site: String,
    pub json: String,
}

impl OperationRow {
    /// The row of `operation` (`what` names the write in errors).
    pub(crate) fn new(what: &str, operation: &Operation) -> Result<Self> {
        Ok(OperationRow {
            id: operation.id.to_string(),
            started_at: sortable_time(&operation.started_at),
            group_id: operation.group_id.map(|id| id.to_string()),
            operation_type: json_text(&operation.operation_type),
            status: json_text(&operation.status),
            target_site: operation.target_site.clone(),
            json: to_json(what, operation)?,
        })
    }
}

/// The JSON string of an enum value (`"test_failover"` gives `test_failover`), as the
/// operation's JSON spells it.
pub(crate) fn json_text(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        _ => String::new(),
    }
}
