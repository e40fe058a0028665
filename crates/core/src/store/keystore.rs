//! The OS key store (nøglering): where a desk keeps its database key, the key
//! for its duplicate hashes, and its rollback guard, never in a file.
//!
//! Entries live under the service `skranke`, each named `<desk_id>/<entry>`,
//! so several desks can share one machine (and one OS account). On Windows
//! each is the generic credential `skranke/<desk_id>/<entry>` in the
//! Credential Manager of the OS account running the desk. The real
//! backends are the macOS Keychain, the Windows Credential Manager and the
//! freedesktop Secret Service (gnome-keyring, KWallet); [`MemoryKeyStore`] is
//! an in-process double for unit tests and benchmarks only.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::StoreError;

/// The service name all of Skranke's key-store entries share.
pub const SERVICE: &str = "skranke";

/// Entry: the SQLCipher key, 64 hex digits (256 bits).
pub const DB_KEY: &str = "db-key";
/// Entry: the HMAC key for duplicate keys, 64 hex digits.
pub const DUPLICATE_KEY: &str = "duplicate-key";
/// Entry: the rollback guard (JSON).
pub const GUARD: &str = "guard";

/// The OS key store a build talks to. Messages about the key store name it
/// by the platform's own term, so staff and IT can find it in the OS (on
/// Windows: Credential Manager, under Windows Credentials); each key-store
/// error has one catalog sentence per platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// The freedesktop Secret Service (gnome-keyring, KWallet).
    Linux,
    /// The Windows Credential Manager.
    Windows,
    /// The macOS Keychain.
    MacOs,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Linux, Platform::Windows, Platform::MacOs];

    /// The platform this program was built for (other Unix systems use the
    /// Secret Service, as Linux does).
    pub const CURRENT: Platform = if cfg!(windows) {
        Platform::Windows
    } else if cfg!(target_os = "macos") {
        Platform::MacOs
    } else {
        Platform::Linux
    };

    /// The catalog key of the message for error `code` on this platform:
    /// `<code>.error.<platform>`.
    pub fn message_key(self, code: &str) -> String {
        let platform = match self {
            Platform::Linux => "linux",
            Platform::Windows => "windows",
            Platform::MacOs => "macos",
        };
        format!("{code}.error.{platform}")
    }
}

/// A place for a desk's secrets. Every method names the desk, because the
/// entries of several desks live side by side.
pub trait KeyStore: Send + Sync {
    /// The entry's value, `None` when it does not exist.
    fn get(&self, desk_id: &str, entry: &str) -> Result<Option<String>, StoreError>;
    /// Creates or replaces the entry.
    fn set(&self, desk_id: &str, entry: &str, value: &str) -> Result<(), StoreError>;
    /// Removes the entry; removing a missing entry is no error.
    fn delete(&self, desk_id: &str, entry: &str) -> Result<(), StoreError>;
}

/// The operating system's key store, through the `keyring` crate.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsKeyStore;

impl OsKeyStore {
    fn entry(desk_id: &str, entry: &str) -> Result<keyring::Entry, StoreError> {
        let account = format!("{desk_id}/{entry}");
        // Credential Manager finds a generic credential by its target name
        // alone (keyring's default would be `<account>.skranke`): name it
        // `skranke/<desk_id>/<entry>`, so that Skranke's entries sort together
        // under Windows Credentials and read as they do on Linux.
        #[cfg(windows)]
        let made = keyring::Entry::new_with_target(&format!("{SERVICE}/{account}"), SERVICE, &account);
        #[cfg(not(windows))]
        let made = keyring::Entry::new(SERVICE, &account);
        made.map_err(unavailable)
    }
}

fn unavailable(e: keyring::Error) -> StoreError {
    StoreError::KeyStoreUnavailable { detail: e.to_string() }
}

impl KeyStore for OsKeyStore {
    fn get(&self, desk_id: &str, entry: &str) -> Result<Option<String>, StoreError> {
        match OsKeyStore::entry(desk_id, entry)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn set(&self, desk_id: &str, entry: &str, value: &str) -> Result<(), StoreError> {
        OsKeyStore::entry(desk_id, entry)?.set_password(value).map_err(unavailable)
    }

    fn delete(&self, desk_id: &str, entry: &str) -> Result<(), StoreError> {
        match OsKeyStore::entry(desk_id, entry)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// An in-memory key store: for unit tests and benchmarks, never for a desk.
/// `fail` makes every call report an unavailable key store.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    entries: Mutex<HashMap<String, String>>,
    fail: std::sync::atomic::AtomicBool,
}

impl MemoryKeyStore {
    pub fn new() -> MemoryKeyStore {
        MemoryKeyStore::default()
    }

    /// From now on, every call fails as an unreachable key store would.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.fail.store(unavailable, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::KeyStoreUnavailable { detail: "memory key store switched off".into() });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned map still holds consistent strings: keep using it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, desk_id: &str, entry: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        Ok(self.lock().get(&format!("{desk_id}/{entry}")).cloned())
    }

    fn set(&self, desk_id: &str, entry: &str, value: &str) -> Result<(), StoreError> {
        self.check()?;
        self.lock().insert(format!("{desk_id}/{entry}"), value.to_string());
        Ok(())
    }

    fn delete(&self, desk_id: &str, entry: &str) -> Result<(), StoreError> {
        self.check()?;
        self.lock().remove(&format!("{desk_id}/{entry}"));
        Ok(())
    }
}

impl<K: KeyStore + ?Sized> KeyStore for std::sync::Arc<K> {
    fn get(&self, desk_id: &str, entry: &str) -> Result<Option<String>, StoreError> {
        (**self).get(desk_id, entry)
    }
    fn set(&self, desk_id: &str, entry: &str, value: &str) -> Result<(), StoreError> {
        (**self).set(desk_id, entry, value)
    }
    fn delete(&self, desk_id: &str, entry: &str) -> Result<(), StoreError> {
        (**self).delete(desk_id, entry)
    }
}

/// 32 bytes from the OS's secure random source, as 64 lowercase hex digits.
pub fn random_key_hex() -> Result<zeroize::Zeroizing<String>, StoreError> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|e| StoreError::Random { detail: e.to_string() })?;
    Ok(zeroize::Zeroizing::new(to_hex(bytes.as_ref())))
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Whether `s` is exactly 64 hex digits (a 256-bit key).
pub fn is_key_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_entries_of_two_desks_do_not_mix() {
        let ks = MemoryKeyStore::new();
        ks.set("A", DB_KEY, "one").unwrap();
        ks.set("B", DB_KEY, "two").unwrap();
        assert_eq!(ks.get("A", DB_KEY).unwrap().as_deref(), Some("one"));
        assert_eq!(ks.get("B", DB_KEY).unwrap().as_deref(), Some("two"));
        ks.delete("A", DB_KEY).unwrap();
        assert_eq!(ks.get("A", DB_KEY).unwrap(), None);
        ks.delete("A", DB_KEY).unwrap();
    }

    #[test]
    fn an_unavailable_memory_store_refuses_every_call() {
        let ks = MemoryKeyStore::new();
        ks.set_unavailable(true);
        assert!(matches!(ks.get("A", DB_KEY), Err(StoreError::KeyStoreUnavailable { .. })));
        assert!(matches!(ks.set("A", DB_KEY, "x"), Err(StoreError::KeyStoreUnavailable { .. })));
    }

    #[test]
    fn key_store_errors_name_each_platforms_own_key_store_in_every_language() {
        use crate::i18n::{self, Lang};
        let codes = ["store.keystore_unavailable", "store.key_missing", "store.guard_pending"];
        for platform in Platform::ALL {
            let term = match platform {
                Platform::Linux => "Secret Service",
                Platform::Windows => "Credential Manager",
                Platform::MacOs => "Keychain",
            };
            for code in codes {
                let key = platform.message_key(code);
                for lang in Lang::ALL {
                    let text = i18n::text(lang, &key);
                    assert_ne!(text, key, "{key} missing in {lang:?}");
                    assert!(text.contains(term), "{key} ({lang:?}) does not name {term}: {text}");
                }
            }
        }
        // An error shows the sentence of the platform the program runs on.
        let shown = StoreError::KeyMissing { desk_id: "T-1".into(), entry: DB_KEY.into() }.message(Lang::En);
        let args = [("desk_id", "T-1"), ("entry", DB_KEY)];
        assert_eq!(shown, i18n::render(Lang::En, &Platform::CURRENT.message_key("store.key_missing"), &args));
    }

    #[test]
    fn random_keys_are_256_bit_hex_and_differ() {
        let a = random_key_hex().unwrap();
        let b = random_key_hex().unwrap();
        assert!(is_key_hex(&a) && is_key_hex(&b));
        assert_ne!(*a, *b);
        assert!(!is_key_hex("abc"));
        assert!(!is_key_hex(&"g".repeat(64)));
    }
}
