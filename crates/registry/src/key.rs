//! The registry's own Ed25519 key: it signs every answer to a desk, every
//! `registry_sequence` a desk is told (a receipt the desk can show should
//! the registry go back in time), and ends each enrolment code as a
//! fingerprint (see `skranke_protocol::trust` for what each signature is
//! over and why).
//!
//! The key lives outside the database, in a file of its own (or the
//! environment, for container secrets): a dump, a backup or a restored
//! copy of the database never carries it, so a restored registry still
//! recognises the receipts it signed before, and whoever holds a backup
//! cannot sign as the registry.
//!
//! The file is JSON, mode 0600:
//!
//! ```json
//! {"version": 1, "seed": "<64 hex>", "created_at": "2026-01-01T00:00:00Z",
//!  "previous": {"public_key": "<64 hex>", "endorsement": "<128 hex>", "until": 1767225600}}
//! ```
//!
//! `duplicate_secret` (64 hex) keys the duplicate hashes the registry keeps
//! (`crate::duplicates`): in this file so that a dump never carries it, and
//! kept by `key rotate` (a new one would orphan every stored hash). A key
//! file from before it existed gets one with `key add-duplicate-secret`;
//! `serve` refuses a key without one.
//!
//! `previous` is the key this one replaced (`key rotate`): its public half
//! and its signature over this key's public half and the overlap's end.
//! While the overlap lasts, answers carry that endorsement, so that desks
//! pinned to the old key move to the new one, and receipts the old key
//! signed still prove a restore.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use skranke_protocol::trust;

use crate::duplicates::DuplicateSecret;
use crate::error::{RegistryError, Result};

/// The environment variable that holds the key file's content itself
/// (for a container secret); `SKRANKE_REGISTRY_KEY_FILE` names a file.
pub const KEY_ENV: &str = "SKRANKE_REGISTRY_KEY";

/// How long a rotation's endorsement lasts unless the operator says.
pub const DEFAULT_OVERLAP_DAYS: u32 = 30;

/// The key file as stored.
#[derive(Clone, Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    seed: String,
    created_at: DateTime<Utc>,
    previous: Option<PreviousFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duplicate_secret: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
struct PreviousFile {
    public_key: String,
    endorsement: String,
    until: i64,
}

/// The key a registry key replaced, and the endorsement that hands desks
/// over from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Previous {
    pub public_key: [u8; 32],
    /// Hex signature by the previous key over
    /// `trust::endorsement_message(current public key, until)`.
    pub endorsement: String,
    /// Unix seconds: the overlap ends here.
    pub until: i64,
}

/// The registry's signing key, with the key it replaced.
#[derive(Clone)]
pub struct RegistryKey {
    signing: SigningKey,
    pub created_at: DateTime<Utc>,
    pub previous: Option<Previous>,
    /// Keys the duplicate hashes; `None` only in a key file from before.
    pub duplicate_secret: Option<DuplicateSecret>,
}

/// Never the seed.
impl fmt::Debug for RegistryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryKey")
            .field("public_key", &self.public_hex())
            .field("created_at", &self.created_at)
            .field("previous", &self.previous)
            .finish()
    }
}

fn key_error(code: &'static str, path: &str) -> RegistryError {
    RegistryError::Key { code, args: vec![("path", path.to_string())] }
}

fn io_error(path: &Path, e: std::io::Error) -> RegistryError {
    RegistryError::Io { context: path.display().to_string(), source: e }
}

impl RegistryKey {
    /// A fresh key from the OS's secure random source.
    pub fn generate(now: DateTime<Utc>) -> RegistryKey {
        let mut seed = [0u8; 32];
        // Without a working OS random source nothing here is safe to run.
        getrandom::fill(&mut seed).expect("the OS random source works");
        RegistryKey {
            signing: SigningKey::from_bytes(&seed),
            created_at: now,
            previous: None,
            duplicate_secret: Some(DuplicateSecret::generate()),
        }
    }

    /// A new key that this one endorses until `now + overlap_days`. The
    /// old seed is not kept: its endorsement is all the new key needs.
    pub fn rotate(&self, now: DateTime<Utc>, overlap_days: u32) -> RegistryKey {
        let mut next = RegistryKey::generate(now);
        next.duplicate_secret = self.duplicate_secret.clone();
        let until = now.timestamp().saturating_add(i64::from(overlap_days) * 86_400);
        let endorsement = self.sign(&trust::endorsement_message(&next.public_key(), until));
        next.previous = Some(Previous { public_key: self.public_key(), endorsement, until });
        next
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// What ends every enrolment code this registry makes.
    pub fn fingerprint(&self) -> String {
        trust::key_fingerprint(&self.public_key())
    }

    /// Hex Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.signing.sign(message).to_bytes())
    }

    /// The receipt for telling `desk_id` the sequence `sequence`.
    pub fn receipt(&self, desk_id: &str, sequence: i64) -> String {
        self.sign(&trust::receipt_message(desk_id, sequence))
    }

    /// The previous key's endorsement of this one while the overlap lasts
    /// at `now` (Unix seconds).
    pub fn endorsement_at(&self, now: i64) -> Option<&Previous> {
        self.previous.as_ref().filter(|p| now < p.until)
    }

    /// Whether `receipt` is this registry's signature of `sequence` for
    /// `desk_id`: by the current key, or by the previous one while the
    /// overlap lasts at `now`.
    pub fn verifies_receipt(&self, desk_id: &str, sequence: i64, receipt: &str, now: i64) -> bool {
        let message = trust::receipt_message(desk_id, sequence);
        trust::verify(&self.public_key(), &message, receipt)
            || self.endorsement_at(now).is_some_and(|p| trust::verify(&p.public_key, &message, receipt))
    }

    /// The key file's JSON (with the seed: for the file only).
    pub fn to_file_json(&self) -> String {
        let file = KeyFile {
            version: 1,
            seed: hex::encode(self.signing.to_bytes()),
            created_at: self.created_at,
            previous: self.previous.as_ref().map(|p| PreviousFile {
                public_key: hex::encode(p.public_key),
                endorsement: p.endorsement.clone(),
                until: p.until,
            }),
            duplicate_secret: self.duplicate_secret.as_ref().map(DuplicateSecret::to_hex),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }

    /// Reads a key file's JSON; `source` names it in errors (a path, or
    /// the environment variable). A previous key's endorsement must verify.
    pub fn from_file_json(text: &str, source: &str) -> Result<RegistryKey> {
        let invalid = || key_error("invalid", source);
        let file: KeyFile = serde_json::from_str(text).map_err(|_| invalid())?;
        if file.version != 1 {
            return Err(invalid());
        }
        let seed: [u8; 32] = hex::decode(file.seed.trim()).ok().and_then(|b| b.try_into().ok()).ok_or_else(invalid)?;
        let signing = SigningKey::from_bytes(&seed);
        let previous = match file.previous {
            None => None,
            Some(p) => {
                let public_key = trust::public_key_from_hex(&p.public_key).ok_or_else(invalid)?;
                let message = trust::endorsement_message(&signing.verifying_key().to_bytes(), p.until);
                if !trust::verify(&public_key, &message, &p.endorsement) {
                    return Err(invalid());
                }
                Some(Previous { public_key, endorsement: p.endorsement.trim().to_string(), until: p.until })
            }
        };
        let duplicate_secret = match file.duplicate_secret {
            None => None,
            Some(hex) => Some(DuplicateSecret::from_hex(&hex).ok_or_else(invalid)?),
        };
        Ok(RegistryKey { signing, created_at: file.created_at, previous, duplicate_secret })
    }

    /// Reads a key file, refusing one that group or others may read.
    pub fn load_file(path: &Path) -> Result<RegistryKey> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().map_err(|e| io_error(path, e))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(key_error("mode", &shown));
            }
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut &file, &mut text).map_err(|e| io_error(path, e))?;
        RegistryKey::from_file_json(&text, &shown)
    }

    /// The key `serve` and `enrolment-code` use: from `file` (the
    /// `--key-file` flag or `SKRANKE_REGISTRY_KEY_FILE`) or from the
    /// content in `content` (`SKRANKE_REGISTRY_KEY`), never both, never
    /// none. The key must hold a duplicate secret (the error names the file
    /// or the variable).
    pub fn from_config(file: Option<&Path>, content: Option<&str>) -> Result<RegistryKey> {
        let (key, source) = match (file, content.filter(|c| !c.trim().is_empty())) {
            (Some(_), Some(_)) => return Err(RegistryError::Key { code: "both", args: Vec::new() }),
            (Some(path), None) => (RegistryKey::load_file(path)?, path.display().to_string()),
            (None, Some(text)) => (RegistryKey::from_file_json(text, KEY_ENV)?, KEY_ENV.to_string()),
            (None, None) => return Err(RegistryError::Key { code: "missing", args: Vec::new() }),
        };
        if key.duplicate_secret.is_none() {
            return Err(key_error("duplicate_secret_missing", &source));
        }
        Ok(key)
    }

    /// The duplicate secret; an error (never a panic) for a key without one,
    /// which `from_config` has refused already.
    pub fn duplicates(&self) -> Result<&DuplicateSecret> {
        self.duplicate_secret.as_ref().ok_or(RegistryError::Key { code: "duplicate_secret_missing", args: Vec::new() })
    }
}

/// `key generate`: a new key in a new file; an existing file is never
/// overwritten.
pub fn generate_file(path: &Path, now: DateTime<Utc>) -> Result<RegistryKey> {
    if path.exists() {
        return Err(key_error("exists", &path.display().to_string()));
    }
    let key = RegistryKey::generate(now);
    write_file(path, &key.to_file_json(), false)?;
    Ok(key)
}

/// `key add-duplicate-secret`: a fresh duplicate secret in a key file from
/// before there was one; refused when it has one (replacing it would orphan
/// every stored hash).
pub fn add_duplicate_secret_file(path: &Path) -> Result<RegistryKey> {
    let mut key = RegistryKey::load_file(path)?;
    if key.duplicate_secret.is_some() {
        return Err(key_error("duplicate_secret_exists", &path.display().to_string()));
    }
    key.duplicate_secret = Some(DuplicateSecret::generate());
    write_file(path, &key.to_file_json(), true)?;
    Ok(key)
}

/// `key rotate`: a new key endorsed by the one in `path` for
/// `overlap_days`, written over it. Refused while the previous rotation's
/// overlap lasts (desks that have not moved yet would be cut off), unless
/// `force`.
pub fn rotate_file(path: &Path, now: DateTime<Utc>, overlap_days: u32, force: bool) -> Result<RegistryKey> {
    let old = RegistryKey::load_file(path)?;
    if let Some(p) = old.endorsement_at(now.timestamp()).filter(|_| !force) {
        let until = DateTime::from_timestamp(p.until, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
        return Err(RegistryError::Key {
            code: "overlap",
            args: vec![("path", path.display().to_string()), ("until", until)],
        });
    }
    let new = old.rotate(now, overlap_days);
    write_file(path, &new.to_file_json(), true)?;
    Ok(new)
}

/// Writes `text` to a temporary file of mode 0600 beside `path`, then puts
/// it in place: renamed over `path` when `replace`, else linked to `path`
/// (which fails when `path` exists, even if it appeared meanwhile).
fn write_file(path: &Path, text: &str, replace: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "registry-key".into());
    let mut salt = [0u8; 8];
    getrandom::fill(&mut salt).map_err(|e| io_error(path, std::io::Error::other(e.to_string())))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(salt)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(&tmp, e));
    }
    let placed = if replace {
        std::fs::rename(&tmp, path)
    } else {
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => std::fs::remove_file(&tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_file(&tmp);
                return Err(key_error("exists", &path.display().to_string()));
            }
            // A file system without hard links: the existence check above
            // stands in for the link's.
            Err(_) => std::fs::rename(&tmp, path),
        }
    };
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(path, e));
    }
    // The rename reaches the disk with the directory.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_key_file_round_trips_and_its_debug_form_never_shows_the_seed() {
        let key = RegistryKey::generate(now()).rotate(now(), 30);
        let text = key.to_file_json();
        let back = RegistryKey::from_file_json(&text, "test").unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(back.previous, key.previous);
        let seed = hex::encode(key.signing.to_bytes());
        assert!(text.contains(&seed));
        assert!(!format!("{key:?}").contains(&seed));
    }

    #[test]
    fn a_rotated_key_carries_the_old_keys_endorsement_until_the_overlap_ends() {
        let old = RegistryKey::generate(now());
        let new = old.rotate(now(), 30);
        let p = new.previous.clone().unwrap();
        assert_eq!(p.public_key, old.public_key());
        assert_eq!(p.until, now().timestamp() + 30 * 86_400);
        assert!(trust::verify(
            &old.public_key(),
            &trust::endorsement_message(&new.public_key(), p.until),
            &p.endorsement
        ));
        assert!(new.endorsement_at(p.until - 1).is_some());
        assert!(new.endorsement_at(p.until).is_none());
    }

    #[test]
    fn a_receipt_verifies_for_its_desk_and_sequence_and_the_old_keys_only_during_the_overlap() {
        let old = RegistryKey::generate(now());
        let new = old.rotate(now(), 1);
        let t = now().timestamp();
        let receipt = new.receipt("D1", 7);
        assert!(new.verifies_receipt("D1", 7, &receipt, t));
        assert!(!new.verifies_receipt("D2", 7, &receipt, t), "another desk's");
        assert!(!new.verifies_receipt("D1", 8, &receipt, t), "another sequence");
        let by_old = old.receipt("D1", 7);
        assert!(new.verifies_receipt("D1", 7, &by_old, t + 86_399));
        assert!(!new.verifies_receipt("D1", 7, &by_old, t + 86_400), "the overlap has ended");
        let stranger = RegistryKey::generate(now());
        assert!(!new.verifies_receipt("D1", 7, &stranger.receipt("D1", 7), t));
    }

    #[test]
    fn a_key_file_whose_endorsement_does_not_verify_is_refused() {
        let new = RegistryKey::generate(now()).rotate(now(), 30);
        let mut file: serde_json::Value = serde_json::from_str(&new.to_file_json()).unwrap();
        file["previous"]["until"] = serde_json::json!(new.previous.as_ref().unwrap().until + 1);
        let err = RegistryKey::from_file_json(&file.to_string(), "test").unwrap_err();
        assert!(matches!(err, RegistryError::Key { code: "invalid", .. }), "{err:?}");
        assert!(RegistryKey::from_file_json("{\"version\":2}", "test").is_err());
    }

    #[test]
    fn the_duplicate_secret_round_trips_survives_rotation_and_a_key_without_one_is_refused_by_name() {
        let key = RegistryKey::generate(now());
        let secret = key.duplicate_secret.clone().unwrap();
        let back = RegistryKey::from_file_json(&key.to_file_json(), "test").unwrap();
        assert_eq!(back.duplicate_secret.as_ref(), Some(&secret));
        assert_eq!(key.rotate(now(), 30).duplicate_secret.as_ref(), Some(&secret), "rotation keeps it");
        let mut old: serde_json::Value = serde_json::from_str(&key.to_file_json()).unwrap();
        old.as_object_mut().unwrap().remove("duplicate_secret");
        let err = RegistryKey::from_config(None, Some(&old.to_string())).unwrap_err();
        match err {
            RegistryError::Key { code: "duplicate_secret_missing", args } => {
                assert_eq!(args, vec![("path", KEY_ENV.to_string())])
            }
            other => panic!("{other:?}"),
        }
        old["duplicate_secret"] = serde_json::json!("12");
        assert!(matches!(
            RegistryKey::from_file_json(&old.to_string(), "test"),
            Err(RegistryError::Key { code: "invalid", .. })
        ));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry-key");
        old.as_object_mut().unwrap().remove("duplicate_secret");
        write_file(&path, &old.to_string(), false).unwrap();
        let added = add_duplicate_secret_file(&path).unwrap();
        assert_eq!(added.public_key(), key.public_key(), "the signing key stays");
        let loaded = RegistryKey::from_config(Some(&path), None).unwrap();
        assert_eq!(loaded.duplicate_secret, added.duplicate_secret);
        let again = add_duplicate_secret_file(&path).unwrap_err();
        assert!(matches!(again, RegistryError::Key { code: "duplicate_secret_exists", .. }), "{again:?}");
    }

    #[test]
    fn the_key_comes_from_exactly_one_of_the_file_and_the_environment() {
        let text = RegistryKey::generate(now()).to_file_json();
        assert!(RegistryKey::from_config(None, Some(&text)).is_ok());
        let both = RegistryKey::from_config(Some(Path::new("/nonexistent")), Some(&text)).unwrap_err();
        assert!(matches!(both, RegistryError::Key { code: "both", .. }));
        let none = RegistryKey::from_config(None, Some("  ")).unwrap_err();
        assert!(matches!(none, RegistryError::Key { code: "missing", .. }));
    }
}
