//! Issue 17, finding 2: a desk copied to a second PC with its key store
//! reuses record IDs, so the registry refuses the copy's records (it holds
//! the original's under the same IDs) and sends the original's states under
//! those IDs to both. The copy's refused record must stay refused: never
//! marked registered by the other record's state, and never erased by
//! retention as if it had reached CPR. Real desks (SQLCipher stores)
//! against the real registry on PostgreSQL.

mod common;
mod support;

use std::sync::Arc;

use chrono::{Duration, Utc};
use skranke_core::keystore::KeyStore;
use skranke_core::query::RecordSyncState;
use skranke_core::retention::DEFAULT_RETENTION_DAYS;
use skranke_core::store::Store;
use skranke_core::sync;
use skranke_rules::cpr::Sex;
use support::*;

fn checkpoint(store: &Store) {
    store.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
}

/// What the desk holds of a record: its registry state, when it learnt the
/// confirmation, and whether it still has the applicant's data.
fn held(store: &Store, id: &str) -> (Option<String>, Option<String>, bool) {
    store
        .connection()
        .query_row("SELECT registry_state, confirmed_at, applicant IS NOT NULL FROM record WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
}

#[test]
fn a_copys_refused_record_is_not_registered_by_the_originals_state_and_retention_keeps_it() {
    let reg = LiveRegistry::start();
    let keys = Arc::new(CopyableKeyStore::default());
    let mut a = TestDesk::enrol(&reg, &reg.url(), 147, 2, keys.clone());
    let client_a = a.client(&reg.url());

    // The copy: same disk, same key ring.
    checkpoint(&a.store);
    let dir_b = tempfile::tempdir().unwrap();
    copy_desk_folder(a.dir.path(), dir_b.path());
    let keys_b: Arc<dyn KeyStore> = Arc::new(keys.snapshot());
    let mut store_b = Store::open(dir_b.path(), Box::new(keys_b.clone()), Utc::now()).unwrap();
    let session = store_b.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
    let mut b = TestDesk { dir: dir_b, store: store_b, id: a.id.clone(), session, keystore: keys_b };
    let client_b = b.client(&reg.url());

    // Both issue offline: the same record ID for different people.
    let original = a.issue(1, date(1990, 6, 10), Sex::Male, None).unwrap().record_id;
    let copy = b.issue(2, date(1991, 7, 20), Sex::Female, None).unwrap().record_id;
    assert_eq!(original, copy, "the copy reuses the original's record ID");
    let id = original;
    assert_eq!(sync::run(&mut a.store, &client_a).unwrap().conflict, 0);
    let rb = sync::run(&mut b.store, &client_b).unwrap();
    assert!(rb.conflict >= 1, "the registry holds another record under the ID: {rb:?}");
    let refused = sync::status(&mut b.store, Utc::now()).unwrap().refused;
    assert!(
        refused.iter().any(|r| r.record_id.as_deref() == Some(id.as_str()) && r.kind == "issued"),
        "the copy's issue is on its refused list: {refused:?}"
    );

    // The feed consumer registers the record the registry holds (the original's); both desks sync.
    reg.count(&format!(
        "WITH r AS (UPDATE records SET state = 'registered', state_seq = nextval('registry_seq')
                    WHERE record_id = '{id}' RETURNING 1) SELECT count(*) FROM r"
    ));
    sync::run(&mut a.store, &client_a).unwrap();
    sync::run(&mut b.store, &client_b).unwrap();
    let (state_a, confirmed_a, _) = held(&a.store, &id);
    assert_eq!(state_a.as_deref(), Some("registered"));
    assert!(confirmed_a.is_some());
    assert_eq!(held(&b.store, &id), (None, None, true), "the original's state confirms nothing on the copy");
    assert_eq!(b.store.record_standing(&id).unwrap().unwrap().sync_state, RecordSyncState::Refused);
    assert_eq!(a.store.record_standing(&id).unwrap().unwrap().sync_state, RecordSyncState::Registered);

    // Past the retention period: the original's record is erased, the copy's kept and flagged.
    let later = Utc::now() + Duration::days(i64::from(DEFAULT_RETENTION_DAYS) + 1);
    let erased: Vec<String> =
        a.store.erase_due(later, DEFAULT_RETENTION_DAYS).unwrap().erased.into_iter().map(|e| e.record_id).collect();
    assert_eq!(erased, [id.clone()]);
    assert!(!held(&a.store, &id).2, "the original's record lost its personal data");
    let purged = b.store.erase_due(later, DEFAULT_RETENTION_DAYS).unwrap();
    assert!(purged.erased.is_empty(), "{purged:?}");
    assert!(held(&b.store, &id).2, "the copy's refused record keeps its personal data");
    let flagged = b.store.retention_flags(later, DEFAULT_RETENTION_DAYS).unwrap();
    assert!(
        flagged.iter().any(|f| f.record_id == id && f.refused),
        "the copy's record is flagged for a supervisor: {flagged:?}"
    );
}
