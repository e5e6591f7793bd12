//! Encryption at rest of the secrets protector stores (FlashArray API tokens).
//!
//! A site's store is encrypted with one 32-byte key kept in a separate key file, so a copy of the
//! database alone does not reveal the tokens. Each value is sealed with ChaCha20-Poly1305 under a
//! fresh random nonce and written as `enc:v1:<hex nonce><hex ciphertext and tag>`; the version
//! tag leaves room for another scheme later.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use rand::rngs::OsRng;
use rand::RngCore;

use crate::error::{Error, ErrorKind, Result};

/// Prefix of every encrypted value.
const PREFIX: &str = "enc:v1:";
/// Key length in bytes.
const KEY_LEN: usize = 32;
/// ChaCha20-Poly1305 nonce length in bytes.
const NONCE_LEN: usize = 12;
/// Poly1305 tag length in bytes.
const TAG_LEN: usize = 16;

/// The key that encrypts secrets at rest: 32 random bytes, stored as hex in a key file.
///
/// `Debug` never prints the key.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> SecretKey {
        let mut bytes = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut bytes);
        SecretKey(bytes)
    }

    /// A key from its raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        SecretKey(bytes)
    }

    /// Reads the key in `path` (64 hex characters, surrounding whitespace ignored), or creates
    /// it when the file does not exist.
    ///
    /// A new key file is written atomically with mode 0600 on Unix, parent directories
    /// included. When two processes create the key at the same time, both end up with the one
    /// that reached the disk first.
    ///
    /// Returns [`ErrorKind::ConfigInvalid`] naming the path when the file cannot be read or
    /// written, or does not hold a key.
    pub fn load_or_create(path: &Path) -> Result<SecretKey> {
        match fs::read(path) {
            Ok(bytes) => Self::parse_key_file(path, &bytes),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Self::create_key_file(path),
            Err(err) => Err(read_error(path, err)),
        }
    }

    /// Reads the key in `path` like [`SecretKey::load_or_create`], but never creates one: for
    /// stores that already hold secrets sealed with the key that file held.
    ///
    /// Returns [`ErrorKind::ConfigInvalid`] naming the path when the file is missing, cannot be
    /// read, or does not hold a key.
    pub fn load(path: &Path) -> Result<SecretKey> {
        match fs::read(path) {
            Ok(bytes) => Self::parse_key_file(path, &bytes),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(key_file_error(
                path,
                format!(
                    "the key file {} is missing: restore it from a backup; the secrets stored \
                     with it cannot be read with a new key",
                    path.display()
                ),
                err,
            )),
            Err(err) => Err(read_error(path, err)),
        }
    }

    /// Encrypts `plaintext` as `enc:v1:<hex nonce><hex ciphertext>` under a fresh random nonce.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            // ChaCha20-Poly1305 refuses only inputs above 256 GiB.
            .expect("a secret is far below the ChaCha20-Poly1305 message limit");
        format!("{PREFIX}{}{}", hex::encode(nonce), hex::encode(sealed))
    }

    /// Decrypts a value written by [`SecretKey::encrypt`].
    ///
    /// Returns [`ErrorKind::ConfigInvalid`] when the value was sealed with another key or was
    /// altered, and when it is not an `enc:v1:` value at all.
    pub fn decrypt(&self, value: &str) -> Result<String> {
        let malformed = |what: &str| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cannot decrypt stored secret: {what}: the store was altered outside \
                     protector; set the secret again"
                ),
            )
        };
        let Some(body) = value.strip_prefix(PREFIX) else {
            return Err(malformed("the value is not in the enc:v1 format"));
        };
        let bytes = hex::decode(body).map_err(|_| malformed("the value is not hex"))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(malformed("the value is too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    "cannot decrypt stored secret: the key file does not match the store (or \
                     the value was altered): use the key file the store was written with, or \
                     set the secret again",
                )
            })?;
        String::from_utf8(plain).map_err(|_| malformed("the decrypted value is not UTF-8"))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    fn parse_key_file(path: &Path, bytes: &[u8]) -> Result<SecretKey> {
        let invalid = || {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "the key file {} does not hold a key (64 hex characters expected): restore \
                     it from a backup; the secrets stored with it cannot be read with a new key",
                    path.display()
                ),
            )
            .with_context("path", path.display().to_string())
        };
        // A binary file is as wrong as a short one: not text, so not a key.
        let text = std::str::from_utf8(bytes).map_err(|_| invalid())?;
        let mut key = [0u8; KEY_LEN];
        hex::decode_to_slice(text.trim(), &mut key).map_err(|_| invalid())?;
        warn_if_readable_by_others(path);
        Ok(SecretKey(key))
    }

    fn create_key_file(path: &Path) -> Result<SecretKey> {
        let io_error = |action: &str, err: io::Error| {
            key_file_error(
                path,
                format!(
                    "cannot create the key file {}: {action}: {err}: check that the directory \
                     is writable",
                    path.display()
                ),
                err,
            )
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(|err| io_error("creating its directory", err))?;

        let key = SecretKey::generate();
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let temp = dir.join(format!(
            ".{}.{}-{:08x}.tmp",
            file_name.as_deref().unwrap_or("key"),
            std::process::id(),
            OsRng.next_u32()
        ));
        write_private_file(&temp, hex::encode(key.0).as_bytes())
            .map_err(|err| io_error("writing a temporary file", err))?;

        // A hard link publishes the complete file in one step and, unlike a rename, fails when
        // another process published its key first: then that key is the one to use.
        let published = fs::hard_link(&temp, path);
        let _ = fs::remove_file(&temp);
        match published {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created a new store encryption key");
                Ok(key)
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                let bytes = fs::read(path).map_err(|err| read_error(path, err))?;
                Self::parse_key_file(path, &bytes)
            }
            Err(err) => Err(io_error("publishing it", err)),
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// The key file exists but cannot be read; only a refused read is blamed on permissions.
fn read_error(path: &Path, err: io::Error) -> Error {
    let advice = if err.kind() == io::ErrorKind::PermissionDenied {
        "check its permissions"
    } else {
        "check that the path names the key file"
    };
    key_file_error(
        path,
        format!(
            "cannot read the key file {}: {err}: {advice}",
            path.display()
        ),
        err,
    )
}

fn key_file_error(path: &Path, message: String, source: io::Error) -> Error {
    Error::new(ErrorKind::ConfigInvalid, message)
        .with_context("path", path.display().to_string())
        .with_source(source)
}

/// Writes `contents` to a new file readable by its owner only, flushed to disk.
fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "the store key file is readable by other users: chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; KEY_LEN])
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let k = key(7);
        let a = k.encrypt("T-12345");
        let b = k.encrypt("T-12345");
        assert!(a.starts_with("enc:v1:"));
        assert_ne!(a, b, "each value gets its own nonce");
        assert!(!a.contains("T-12345"));
        assert_eq!(k.decrypt(&a).unwrap(), "T-12345");
        assert_eq!(k.decrypt(&b).unwrap(), "T-12345");
        assert_eq!(k.decrypt(&k.encrypt("")).unwrap(), "");
        assert_eq!(k.decrypt(&k.encrypt("é✓")).unwrap(), "é✓");
    }

    #[test]
    fn wrong_key_is_config_invalid() {
        let sealed = key(1).encrypt("T-12345");
        let err = key(2).decrypt(&sealed).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err
            .message()
            .starts_with("cannot decrypt stored secret: the key file does not match the store ("));
        assert!(!err.to_string().contains("T-12345"));
    }

    #[test]
    fn tampered_value_is_config_invalid() {
        let k = key(1);
        let sealed = k.encrypt("T-12345");
        // Flip one bit of the last ciphertext byte.
        let (head, last) = sealed.split_at(sealed.len() - 1);
        let flipped = if last == "0" { "1" } else { "0" };
        let err = k.decrypt(&format!("{head}{flipped}")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err
            .message()
            .contains("the key file does not match the store"));
    }

    #[test]
    fn malformed_values_are_config_invalid() {
        let k = key(1);
        for value in ["T-12345", "enc:v1:zz", "enc:v1:00ff", "enc:v2:00"] {
            let err = k.decrypt(value).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{value}");
            assert!(
                err.message().starts_with("cannot decrypt stored secret: "),
                "{value}"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", key(0xab)), "SecretKey([redacted])");
    }

    #[test]
    fn load_or_create_creates_then_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/store.key");
        let created = SecretKey::load_or_create(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 2 * KEY_LEN);
        assert_eq!(text, hex::encode(created.0));
        let loaded = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(loaded.0, created.0);
        assert_eq!(loaded.decrypt(&created.encrypt("x")).unwrap(), "x");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("store.key")]);
    }

    #[cfg(unix)]
    #[test]
    fn created_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        SecretKey::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn load_accepts_surrounding_whitespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        fs::write(&path, format!("  {}\n", "ab".repeat(KEY_LEN))).unwrap();
        let loaded = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(loaded.0, [0xab; KEY_LEN]);
    }

    #[test]
    fn binary_key_file_does_not_blame_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        let contents: Vec<u8> = (0..=255u8).cycle().take(2 * KEY_LEN).collect();
        fs::write(&path, &contents).unwrap();
        for err in [
            SecretKey::load_or_create(&path).unwrap_err(),
            SecretKey::load(&path).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
            assert!(err.message().contains("does not hold a key"), "{err}");
            assert!(!err.message().contains("permission"), "{err}");
        }
        assert_eq!(fs::read(&path).unwrap(), contents);
    }

    #[test]
    fn load_never_creates_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        let err = SecretKey::load(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err.message().contains("is missing"), "{err}");
        assert!(!path.exists());
        let created = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(SecretKey::load(&path).unwrap().0, created.0);
    }

    #[test]
    fn malformed_key_file_is_config_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.key");
        for contents in ["not hex", "abcd", &"ab".repeat(KEY_LEN + 1), ""] {
            fs::write(&path, contents).unwrap();
            let err = SecretKey::load_or_create(&path).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
            assert!(err.message().contains(&path.display().to_string()));
            assert!(err.message().contains("restore it from a backup"));
            assert_eq!(
                err.context_value("path"),
                Some(path.display().to_string().as_str())
            );
            // A malformed file is never silently replaced.
            assert_eq!(fs::read_to_string(&path).unwrap(), contents);
        }
    }
}
