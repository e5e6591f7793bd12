//! Helpers every store backend shares: sealed policies, document checks, JSON columns and
//! sortable timestamps.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{GroupDocument, SecretKey};
use crate::error::{Error, Result};
use crate::model::{ReplicationPolicy, Secret};

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
