//! The real OS key store (Secret Service on Linux). Needs a session bus with
//! an unlocked key ring: `scripts/test.sh` provides one (gnome-keyring).
#![cfg(target_os = "linux")]

mod common;

use common::*;
use skranke_core::cpr::Sex;
use skranke_core::desk;
use skranke_core::i18n::Lang;
use skranke_core::keystore::{self, KeyStore, OsKeyStore, SERVICE};
use skranke_core::store::{GuardOutcome, Store, StoreError};

fn unique_desk_id(tag: &str) -> String {
    format!("TEST{tag}-{}", keystore::random_key_hex().unwrap()[..12].to_uppercase())
}

#[test]
fn a_value_written_is_readable_by_a_fresh_entry_and_gone_after_delete() {
    let desk_id = unique_desk_id("A");
    let ks = OsKeyStore;
    ks.set(&desk_id, "probe", "value written through the trait").unwrap();
    let fresh = keyring::Entry::new(SERVICE, &format!("{desk_id}/probe")).unwrap();
    assert_eq!(fresh.get_password().unwrap(), "value written through the trait");
    assert_eq!(ks.get(&desk_id, "probe").unwrap().as_deref(), Some("value written through the trait"));
    ks.delete(&desk_id, "probe").unwrap();
    let fresh = keyring::Entry::new(SERVICE, &format!("{desk_id}/probe")).unwrap();
    assert!(matches!(fresh.get_password(), Err(keyring::Error::NoEntry)));
    assert_eq!(ks.get(&desk_id, "probe").unwrap(), None);
}

#[test]
fn a_desk_on_the_os_key_store_reopens_issues_and_cannot_open_once_its_keys_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk::init(dir.path(), Box::new(OsKeyStore), &setup(), now(), Lang::En).unwrap();
    let desk_id = store.desk_id().to_string();
    let db_key = keyring::Entry::new(SERVICE, &format!("{desk_id}/{}", keystore::DB_KEY)).unwrap();
    assert!(keystore::is_key_hex(&db_key.get_password().unwrap()));
    let s = admin(&mut store);
    let r = store.issue(&s, &intake(1, date(1984, 10, 10), Sex::Male), now(), None, None).unwrap();
    drop(store);

    let mut store = Store::open(dir.path(), Box::new(OsKeyStore), now()).unwrap();
    assert_eq!(store.guard_outcome(), GuardOutcome::InStep);
    let s = admin(&mut store);
    assert_eq!(store.record(&s, &r.record_id).unwrap().summary.status, "issued");
    drop(store);

    desk::forget_keys(&OsKeyStore, &desk_id).unwrap();
    let err = Store::open(dir.path(), Box::new(OsKeyStore), now()).unwrap_err();
    assert!(matches!(err, StoreError::KeyMissing { .. }), "{err:?}");
}
