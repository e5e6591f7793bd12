//! Protection groups: members, replication targets, the target's consent, schedules.

use protector_core::api::{ArrayProtectionGroup, PgParts, PgTarget};
use protector_core::{Error, Result};
use serde_json::json;

use crate::client::FlashArrayClient;
use crate::error::{array_says, is_missing};
use crate::request::Request;
use crate::wire::{WireMembership, WireProtectionGroup, WireTarget};

impl FlashArrayClient {
    /// A protection group by name (`pg`, or `source:pg` for a replica on a target), with its
    /// member volumes and targets. `Ok(None)` when missing.
    ///
    /// Three reads: `GET /protection-groups`, `/protection-groups/volumes` and
    /// `/protection-groups/targets` (the last two skipped for a destroyed group).
    pub async fn get_protection_group(&self, name: &str) -> Result<Option<ArrayProtectionGroup>> {
        self.get_protection_group_parts(name, PgParts::ALL).await
    }

    /// [`FlashArrayClient::get_protection_group`] with only the reads `parts` asks for: the
    /// group alone is one `GET /protection-groups`; its volumes and targets come back empty
    /// unless asked for.
    pub async fn get_protection_group_parts(
        &self,
        name: &str,
        parts: PgParts,
    ) -> Result<Option<ArrayProtectionGroup>> {
        let request = Request::get("protection-groups", "read protection group")
            .names("names", &[name])
            .object(name);
        // The group, its members and its targets at once (one round trip, not three): a
        // replica group is named `source:pg` on its target (what `include_remote` needs); the
        // member and target answers of a group that is missing or destroyed are not used.
        // (`pod::pg` is a local group in a pod.)
        let replica = name.replace("::", "").contains(':');
        let members = async {
            if parts.volumes {
                self.protection_group_members(name, replica).await
            } else {
                Ok(Vec::new())
            }
        };
        let targets = async {
            if parts.targets {
                self.protection_group_targets(name).await
            } else {
                Ok(Vec::new())
            }
        };
        let (group, members, targets) =
            tokio::join!(self.list::<WireProtectionGroup>(&request), members, targets);
        let group = match group {
            Ok(groups) => match groups.into_iter().next() {
                Some(group) => group,
                None => return Ok(None),
            },
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        let destroyed = group.destroyed.unwrap_or(false);
        let (volumes, targets) = if destroyed {
            (Vec::new(), Vec::new())
        } else if parts.volumes && (group.is_local == Some(false)) != replica {
            // The array says otherwise than the name: ask again as it says.
            let members = self
                .protection_group_members(name, group.is_local == Some(false))
                .await?;
            (members, targets?)
        } else {
            (members?, targets?)
        };
        let schedule = group.replication_schedule.as_ref();
        Ok(Some(ArrayProtectionGroup {
            source: group.source_name(),
            name: group.name,
            volumes,
            targets,
            replication_enabled: schedule.and_then(|s| s.enabled).unwrap_or(false),
            replication_frequency_secs: schedule.and_then(|s| s.frequency).unwrap_or(0) / 1000,
            destroyed,
        }))
    }

    /// Member volume names (`GET /protection-groups/volumes?group_names=`). For a replica group
    /// on a target, `include_remote=true` where the REST version has it (2.42+).
    async fn protection_group_members(&self, group: &str, replica: bool) -> Result<Vec<String>> {
        let include_remote = replica && self.api_version().await?.at_least(2, 42);
        let request = Request::get("protection-groups/volumes", "list protection group volumes")
            .names("group_names", &[group])
            .flag("include_remote", include_remote)
            .object(group);
        let members: Vec<WireMembership> = self.list(&request).await?;
        Ok(members
            .iter()
            .filter_map(WireMembership::member_name)
            .collect())
    }

    async fn protection_group_targets(&self, group: &str) -> Result<Vec<PgTarget>> {
        let request = Request::get("protection-groups/targets", "list protection group targets")
            .names("group_names", &[group])
            .object(group);
        let targets: Vec<WireTarget> = self.list(&request).await?;
        Ok(targets
            .into_iter()
            .filter_map(|t| {
                Some(PgTarget {
                    name: t.member_name()?,
                    allowed: t.allowed.unwrap_or(false),
                })
            })
            .collect())
    }

    /// Creates a protection group (`POST /protection-groups?names=`). `AlreadyExists` when the
    /// name is taken.
    pub async fn create_protection_group(&self, name: &str) -> Result<ArrayProtectionGroup> {
        let request = Request::post("protection-groups", "create protection group")
            .names("names", &[name])
            .object(name);
        let groups: Vec<WireProtectionGroup> = self.items(&request).await?;
        let group = groups.into_iter().next().ok_or_else(|| {
            Error::unexpected(format!(
                "create protection group {name} on FlashArray {}: the array answered without the group",
                self.inner.label
            ))
        })?;
        let schedule = group.replication_schedule.as_ref();
        Ok(ArrayProtectionGroup {
            source: group.source_name(),
            replication_enabled: schedule.and_then(|s| s.enabled).unwrap_or(false),
            replication_frequency_secs: schedule.and_then(|s| s.frequency).unwrap_or(0) / 1000,
            destroyed: group.destroyed.unwrap_or(false),
            name: group.name,
            volumes: Vec::new(),
            targets: Vec::new(),
        })
    }

    /// Adds volumes (`POST /protection-groups/volumes`), so that adding a member twice
    /// succeeds: all of them are sent at once; only when the array refuses because some
    /// already are members are the members read and the others sent again (one call for the
    /// usual case of new members, such as a group just created).
    pub async fn add_protection_group_volumes(
        &self,
        group: &str,
        volumes: &[String],
    ) -> Result<()> {
        if volumes.is_empty() {
            return Ok(());
        }
        let add = |members: &[&String]| {
            Request::post(
                "protection-groups/volumes",
                "add volumes to protection group",
            )
            .names("group_names", &[group])
            .names("member_names", members)
            .object(group)
        };
        let all: Vec<&String> = volumes.iter().collect();
        match self.run(&add(&all)).await {
            Err(e) if array_says(&e, &["already"]) => {}
            other => return other,
        }
        let members = self.protection_group_members(group, false).await?;
        let missing: Vec<&String> = volumes.iter().filter(|v| !members.contains(v)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        match self.run(&add(&missing)).await {
            Err(e) if array_says(&e, &["already"]) => Ok(()),
            other => other,
        }
    }

    /// Removes volumes (`DELETE /protection-groups/volumes`); only current members are sent, so
    /// removing a non-member succeeds. A missing group is `NotFound`.
    pub async fn remove_protection_group_volumes(
        &self,
        group: &str,
        volumes: &[String],
    ) -> Result<()> {
        if volumes.is_empty() {
            return Ok(());
        }
        let members = self.protection_group_members(group, false).await?;
        let present: Vec<&String> = volumes.iter().filter(|v| members.contains(v)).collect();
        if present.is_empty() {
            return Ok(());
        }
        let request = Request::delete(
            "protection-groups/volumes",
            "remove volumes from protection group",
        )
        .names("group_names", &[group])
        .names("member_names", &present)
        .object(group);
        match self.run(&request).await {
            Err(e) if array_says(&e, &["could not be found", "not a member"]) => Ok(()),
            other => other,
        }
    }

    /// Adds a replication target array (`POST /protection-groups/targets`). Adding it twice
    /// succeeds.
    pub async fn add_protection_group_target(&self, group: &str, target_array: &str) -> Result<()> {
        let request = Request::post("protection-groups/targets", "add protection group target")
            .names("group_names", &[group])
            .names("member_names", &[target_array])
            .object(format!("{group} (target {target_array})"));
        match self.run(&request).await {
            Err(e) if array_says(&e, &["already"]) => Ok(()),
            other => other,
        }
    }

    /// On a target array: allows (or disallows) replication of the replica group
    /// `source:group` into this array (`PATCH /protection-groups/targets?group_names=
    /// source:group&member_names=<this array>` with `{"allowed": …}`). Setting the current value
    /// again succeeds.
    pub async fn set_protection_group_allowed(
        &self,
        replica_group: &str,
        allowed: bool,
    ) -> Result<()> {
        let local = self.local_array_name().await?;
        let request = Request::patch(
            "protection-groups/targets",
            "allow protection group replication",
        )
        .names("group_names", &[replica_group])
        .names("member_names", &[&local])
        .body(json!({"allowed": allowed}))
        .object(replica_group);
        match self.run(&request).await {
            Err(e) if array_says(&e, &["already"]) => Ok(()),
            other => other,
        }
    }

    /// Sets the replication schedule (`PATCH /protection-groups` with
    /// `{"replication_schedule": {"enabled", "frequency"}}`; the array wants milliseconds).
    pub async fn set_replication_schedule(
        &self,
        group: &str,
        enabled: bool,
        frequency_secs: u64,
    ) -> Result<()> {
        let request = Request::patch("protection-groups", "set replication schedule")
            .names("names", &[group])
            .body(json!({"replication_schedule": {
                "enabled": enabled,
                "frequency": frequency_secs.saturating_mul(1000),
            }}))
            .object(group);
        self.run(&request).await
    }

    /// Destroys a protection group (`PATCH /protection-groups` with `{"destroyed": true}`). A
    /// missing or already destroyed group is success.
    pub async fn destroy_protection_group(&self, name: &str) -> Result<()> {
        let request = Request::patch("protection-groups", "destroy protection group")
            .names("names", &[name])
            .body(json!({"destroyed": true}))
            .object(name);
        match self.run(&request).await {
            Err(e)
                if is_missing(&e) || array_says(&e, &["been destroyed", "already destroyed"]) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}
