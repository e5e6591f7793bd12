//! Nova keypairs (`os-keypairs`): owned by a user, not a project. Admins may act on another
//! user's keypairs with `user_id` (2.10+).

use protector_core::{Error, ErrorKind, Result};
use sha2::{Digest, Sha256};

use super::Caller;
use crate::state::records::KeypairRec;
use crate::state::World;

fn key(site: &str, user_id: &str, name: &str) -> String {
    format!("{site}/{user_id}/{name}")
}

/// Whose keypairs: the caller's, or `user_id`'s when the caller is an admin.
fn owner(caller: &Caller, user_id: Option<&str>) -> Result<String> {
    match user_id {
        None => Ok(caller.user_id.clone()),
        Some(id) if id == caller.user_id => Ok(id.to_string()),
        Some(id) if caller.is_admin() => Ok(id.to_string()),
        Some(_) => Err(Error::new(
            ErrorKind::PermissionDenied,
            "Policy doesn't allow os_compute_api:os-keypairs:index to be performed.",
        )),
    }
}

/// `GET /os-keypairs`, by name.
pub(crate) fn list_keypairs<'w>(
    world: &'w World,
    caller: &Caller,
    user_id: Option<&str>,
) -> Result<Vec<&'w KeypairRec>> {
    let owner = owner(caller, user_id)?;
    let mut keys: Vec<&KeypairRec> = world
        .keypairs
        .values()
        .filter(|k| k.site == caller.site && k.user_id == owner)
        .collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

/// `GET /os-keypairs/{name}`.
pub(crate) fn show_keypair<'w>(
    world: &'w World,
    caller: &Caller,
    name: &str,
    user_id: Option<&str>,
) -> Result<&'w KeypairRec> {
    let owner = owner(caller, user_id)?;
    world
        .keypairs
        .get(&key(&caller.site, &owner, name))
        .ok_or_else(|| not_found(name, &owner))
}

fn not_found(name: &str, user_id: &str) -> Error {
    Error::not_found(format!("Keypair {name} not found for user {user_id}"))
}

/// `POST /os-keypairs`: imports `public_key`, or generates a key pair when it is absent (before
/// 2.92) and returns the private half once.
pub(crate) fn create_keypair(
    world: &mut World,
    caller: &Caller,
    name: &str,
    public_key: Option<&str>,
    key_type: &str,
    user_id: Option<&str>,
) -> Result<(KeypairRec, Option<String>)> {
    let owner = owner(caller, user_id)?;
    let record_key = key(&caller.site, &owner, name);
    if world.keypairs.contains_key(&record_key) {
        return Err(Error::conflict(format!(
            "Key pair '{name}' already exists."
        )));
    }
    let (public_key, private_key) = match public_key {
        Some(public_key) => {
            let blob = public_key.split_whitespace().nth(1).unwrap_or("");
            let known = [
                "ssh-rsa",
                "ssh-ed25519",
                "ssh-dss",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521",
            ];
            let looks_right =
                known.iter().any(|k| public_key.trim_start().starts_with(k)) && blob.len() >= 16;
            if key_type == "ssh" && !looks_right {
                return Err(Error::invalid(
                    "Keypair data is invalid: failed to generate fingerprint",
                ));
            }
            (public_key.trim().to_string(), None)
        }
        None => {
            let seed = world.next_random().to_be_bytes();
            let body = crate::cloud::identity::base64url(&Sha256::digest(seed), false);
            (
                format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{body} Generated-by-Nova"),
                Some(format!(
                    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA{body}\n(simulated: not a usable key)\n-----END OPENSSH PRIVATE KEY-----\n"
                )),
            )
        }
    };
    let record = KeypairRec {
        site: caller.site.clone(),
        user_id: owner,
        name: name.to_string(),
        fingerprint: fingerprint(&public_key),
        public_key,
        key_type: key_type.to_string(),
        created: Some(world.now()),
    };
    world.keypairs.insert(record_key, record.clone());
    Ok((record, private_key))
}

/// `DELETE /os-keypairs/{name}`.
pub(crate) fn delete_keypair(
    world: &mut World,
    caller: &Caller,
    name: &str,
    user_id: Option<&str>,
) -> Result<()> {
    let owner = owner(caller, user_id)?;
    world
        .keypairs
        .remove(&key(&caller.site, &owner, name))
        .map(|_| ())
        .ok_or_else(|| not_found(name, &owner))
}

/// A colon-separated fingerprint of the key. Nova shows the MD5 of the key blob; the simulator
/// shows the first 16 bytes of its SHA-256 in the same layout.
fn fingerprint(public_key: &str) -> String {
    let digest = Sha256::digest(public_key.as_bytes());
    digest[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
