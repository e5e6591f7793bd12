//! Every call of [`protector_core::api::ArrayApi`], as inherent methods of
//! [`crate::FlashArrayClient`], by area: the array and its volumes, protection groups, their
//! snapshots and replication, pods, and volume diffs.
//!
//! "Already done" outcomes that the trait defines as success (destroying a missing volume,
//! adding a member twice) are recognised from Purity's 400 messages (the substrings the Cinder
//! driver matches) or, where a message alone cannot tell, by looking at the object first.

mod diff;
mod pgroups;
mod pods;
mod snapshots;
mod volumes;
