//! The desk store against real SQLCipher files: encryption, durability
//! settings, the rollback guard, roles, duplicates, voids, exhaustion and the
//! audit chain. The key store is the in-memory double here; `os_keystore.rs`
//! runs against the real Secret Service.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use proptest::prelude::*;
use skranke_core::alloc::{NumberSource, OnlineAllocator, OnlineRequest};
use skranke_core::audit::{Break, Verification};
use skranke_core::cpr::{Personnummer, Sex};
use skranke_core::desk::{self, training_units};
use skranke_core::i18n::Lang;
use skranke_core::issue::IssueError;
use skranke_core::issue::{IssueAttachment, Issued};
use skranke_core::keystore::{self, KeyStore, MemoryKeyStore};
use skranke_core::lease::LeaseUnit;
use skranke_core::staff::{Role, StaffError};
use skranke_core::store::{DeskContext, GuardOutcome, Store, StoreError, DB_FILE};
use skranke_core::Error;

fn store_err(e: impl Into<Error>) -> StoreError {
    match e.into() {
        Error::Store(s) => s,
        other => panic!("expected a store error, got {other:?}"),
    }
}

fn issue_err(e: impl Into<Error>) -> IssueError {
    match e.into() {
        Error::Issue(s) => s,
        other => panic!("expected an issuing refusal, got {other:?}"),
    }
}

fn staff_err(e: impl Into<Error>) -> StaffError {
    match e.into() {
        Error::Staff(s) => s,
        other => panic!("expected a staff error, got {other:?}"),
    }
}

fn records_count(store: &Store) -> i64 {
    store.connection().query_row("SELECT count(*) FROM record", [], |r| r.get(0)).unwrap()
}

fn outbox_count(store: &Store) -> i64 {
    store.connection().query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap()
}

#[test]
fn the_durability_settings_in_force_are_wal_full_sync_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ks) = training_desk(dir.path());
    assert_eq!(store.durability().unwrap(), ("wal".to_string(), 2, 1));
    drop(store);
    let store = reopen(dir.path(), &ks);
    assert_eq!(store.durability().unwrap(), ("wal".to_string(), 2, 1));
}

#[test]
fn a_training_desk_reopens_with_its_key_and_issues_day_plus_60_numbers_marked_training() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ks) = training_desk(dir.path());
    let desk_id = store.desk_id().to_string();
    assert!(desk_id.starts_with("T-"));
    drop(store);
    let mut store = reopen(dir.path(), &ks);
    assert_eq!(store.guard_outcome(), GuardOutcome::InStep);
    let info = store.desk_info().unwrap();
    assert_eq!((info.municipality.as_str(), info.office.as_str(), info.desk_number), ("101", "Borgerservice Nord", 3));
    assert!(info.training);
    let s = admin(&mut store);
    let issued = store.issue(&s, &intake(1, date(1990, 5, 17), Sex::Female), now(), None, None).unwrap();
    assert!(issued.training);
    assert_eq!(issued.record_id, format!("{desk_id}-1"));
    assert_eq!(&issued.display_number[..2], "77", "day 17 + 60");
    assert_eq!(issued.display_number, issued.number.training_form());
    let shown = store.records(&s).unwrap();
    assert_eq!(shown[0].number, issued.display_number);
    assert!(shown[0].training);
}

#[test]
fn the_store_file_holds_no_readable_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let issued = store.issue(&s, &intake(424242, date(1988, 3, 9), Sex::Male), now(), None, None).unwrap();
    let digits: String = issued.number.digits().iter().map(|d| char::from(b'0' + d)).collect();
    let scan = |label: &str| {
        // Every file, including the operational log under `logs/`.
        let top: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        let files = top.into_iter().flat_map(|p| match p.is_dir() {
            true => std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()).collect(),
            false => vec![p],
        });
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            for needle in ["Zorbaqwill424242", "QXDOC424242", digits.as_str(), ADMIN, "Borgerservice Nord"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{label}: {} holds {needle:?}",
                    path.display()
                );
            }
        }
    };
    scan("open (WAL in use)");
    drop(store);
    scan("closed");
    // The data is there all the same, for whoever holds the key.
    let mut store = reopen(dir.path(), &ks);
    let s = admin(&mut store);
    let detail = store.record(&s, &issued.record_id).unwrap();
    assert_eq!(detail.applicant.unwrap()["surname"], "Zorbaqwill424242");
}

fn file_digest(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn a_wrong_key_is_refused_clearly_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ks) = training_desk(dir.path());
    let desk_id = store.desk_id().to_string();
    drop(store);
    let before = file_digest(&dir.path().join(DB_FILE));
    ks.set(&desk_id, keystore::DB_KEY, &keystore::random_key_hex().unwrap()).unwrap();
    let err = Store::open(dir.path(), Box::new(ks.clone()), now()).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    assert!(err.message(Lang::En).contains("does not open"));
    assert_eq!(file_digest(&dir.path().join(DB_FILE)), before);
}

#[test]
fn a_missing_key_or_an_unavailable_key_store_is_refused_clearly_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ks) = training_desk(dir.path());
    let desk_id = store.desk_id().to_string();
    drop(store);
    let before = file_digest(&dir.path().join(DB_FILE));

    ks.set_unavailable(true);
    let err = Store::open(dir.path(), Box::new(ks.clone()), now()).unwrap_err();
    assert!(matches!(err, StoreError::KeyStoreUnavailable { .. }), "{err:?}");
    assert!(err.message(Lang::Da).contains("nøglering"));
    ks.set_unavailable(false);

    let other = Arc::new(MemoryKeyStore::new());
    let err = Store::open(dir.path(), Box::new(other), now()).unwrap_err();
    assert!(matches!(err, StoreError::KeyMissing { ref desk_id, .. } if *desk_id == desk_id.clone()), "{err:?}");
    assert_eq!(file_digest(&dir.path().join(DB_FILE)), before);
    assert!(
        !dir.path().join("desk.db-wal").exists()
            || std::fs::metadata(dir.path().join("desk.db-wal")).unwrap().len() == 0
    );
    let _ = desk_id;
}

#[test]
fn init_refuses_a_folder_that_already_holds_a_desk_and_an_unavailable_key_store_leaves_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, ks) = training_desk(dir.path());
    let err = desk::init(dir.path(), Box::new(ks.clone()), &setup(), now(), Lang::En).unwrap_err();
    assert!(matches!(store_err(err), StoreError::DeskExists { .. }));

    let empty = tempfile::tempdir().unwrap();
    let down = Arc::new(MemoryKeyStore::new());
    down.set_unavailable(true);
    let err = desk::init(empty.path(), Box::new(down), &setup(), now(), Lang::En).unwrap_err();
    assert!(matches!(store_err(err), StoreError::KeyStoreUnavailable { .. }));
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn opening_a_folder_without_a_desk_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path(), Box::new(MemoryKeyStore::new()), now()).unwrap_err();
    assert!(matches!(err, StoreError::NoDesk { .. }));
    assert!(err.message(Lang::En).contains("skranke desk init"));
}

#[test]
fn two_desks_on_one_machine_keep_their_keys_apart() {
    let ks = Arc::new(MemoryKeyStore::new());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let da = desk::init(a.path(), Box::new(ks.clone()), &setup(), now(), Lang::En).unwrap();
    let db = desk::init(b.path(), Box::new(ks.clone()), &setup(), now(), Lang::En).unwrap();
    assert_ne!(da.desk_id(), db.desk_id());
    let (ka, kb) = (ks.get(da.desk_id(), keystore::DB_KEY).unwrap(), ks.get(db.desk_id(), keystore::DB_KEY).unwrap());
    assert_ne!(ka, kb);
    drop((da, db));
    reopen(a.path(), &ks);
    reopen(b.path(), &ks);
}

#[test]
fn a_clerk_cannot_void_but_a_supervisor_can_and_the_number_is_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let clerk = staff(&mut store, "Clara Clerk", Role::Clerk);
    let sup = staff(&mut store, "Sven Supervisor", Role::Supervisor);
    let a = intake(1, date(1980, 1, 1), Sex::Female);
    let first = store.issue(&clerk, &a, now(), None, None).unwrap();

    let err = staff_err(store.void(&clerk, &first.record_id, "wrong person", None, now(), Lang::En).unwrap_err());
    assert!(matches!(err, StaffError::Forbidden { needed: Role::Supervisor, .. }), "{err:?}");
    assert!(err.message(Lang::En).contains("supervisor"));
    assert_eq!(store.record(&clerk, &first.record_id).unwrap().summary.status, "issued");

    store.void(&sup, &first.record_id, "typing error in the name", None, now(), Lang::En).unwrap();
    let detail = store.record(&clerk, &first.record_id).unwrap();
    assert_eq!(detail.summary.status, "voided");
    assert_eq!(detail.void_reason.as_deref(), Some("typing error in the name"));
    let again = issue_err(store.void(&sup, &first.record_id, "again", None, now(), Lang::En).unwrap_err());
    assert!(matches!(again, IssueError::AlreadyVoided { .. }));

    // Voided records do not count as duplicates; the new number differs.
    let second = store.issue(&clerk, &a, now(), None, None).unwrap();
    assert_ne!(second.number, first.number);
    store.void(&sup, &second.record_id, "moved away", Some("DK-OTHER-7"), now(), Lang::En).unwrap();
    assert_eq!(store.record(&sup, &second.record_id).unwrap().replaced_by.as_deref(), Some("DK-OTHER-7"));
    let third = store.issue(&clerk, &a, now(), None, None).unwrap();
    assert!(third.number != first.number && third.number != second.number);
}

#[test]
fn a_void_needs_a_reason_and_a_well_formed_replacement_and_a_local_replacement_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let r = store.issue(&s, &intake(1, date(1980, 1, 1), Sex::Female), now(), None, None).unwrap();
    let Err(IssueError::Invalid(errors)) = store.void(&s, &r.record_id, "  ", Some("not an id"), now(), Lang::En)
    else {
        panic!("expected field errors")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["reason", "replaced_by"]);
    let missing = format!("{}-99", store.desk_id());
    let err = issue_err(store.void(&s, &r.record_id, "dup", Some(&missing), now(), Lang::En).unwrap_err());
    assert!(matches!(err, IssueError::RecordNotFound { ref record_id } if *record_id == missing));
    let err = issue_err(store.void(&s, "T-NOPE-1", "dup", None, now(), Lang::En).unwrap_err());
    assert!(matches!(err, IssueError::RecordNotFound { .. }));
}

#[test]
fn an_applicant_already_issued_here_is_refused_naming_the_existing_record() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let a = intake(7, date(1975, 6, 30), Sex::Male);
    let first = store.issue(&s, &a, now(), None, None).unwrap();
    let (records, outbox) = (records_count(&store), outbox_count(&store));

    let err = issue_err(store.issue(&s, &a, now(), None, None).unwrap_err());
    assert!(matches!(err, IssueError::DuplicateDocument { ref record_id } if *record_id == first.record_id));
    assert!(err.message(Lang::En).contains(&first.record_id));

    // Another document, same person key: also refused, with its own message.
    let mut other_doc = intake(7, date(1975, 6, 30), Sex::Male);
    other_doc.document_key = "ID:DE:SOMETHINGELSE".into();
    let err = issue_err(store.issue(&s, &other_doc, now(), None, None).unwrap_err());
    assert!(matches!(err, IssueError::DuplicatePerson { ref record_id } if *record_id == first.record_id));
    assert_eq!((records_count(&store), outbox_count(&store)), (records, outbox), "nothing stored");
}

#[test]
fn each_issue_writes_one_record_one_audit_event_and_one_outbox_event() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let head = store.audit_head().unwrap().seq;
    let r = store.issue(&s, &intake(1, date(1999, 12, 31), Sex::Female), now(), None, None).unwrap();
    assert_eq!(store.audit_head().unwrap().seq, head + 1);
    let (action, staff_id, record_id): (String, i64, String) = store
        .connection()
        .query_row("SELECT action, staff_id, record_id FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((action.as_str(), staff_id, record_id.as_str()), ("record.issued", s.staff_id(), r.record_id.as_str()));
    let (kind, key): (String, String) = store
        .connection()
        .query_row("SELECT kind, idempotency_key FROM outbox", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((kind.as_str(), key), ("issued", format!("{}/issued", r.record_id)));
    // The guard followed the commit.
    let guard = store.stored_guard().unwrap().unwrap();
    assert_eq!(guard.counter, head + 1);
    assert!(!guard.frozen);
    let _ = ks;
}

#[test]
fn the_audit_log_never_holds_names() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let clerk = staff(&mut store, "Clara Clerk", Role::Clerk);
    store.issue(&clerk, &intake(3, date(1970, 2, 2), Sex::Male), now(), None, None).unwrap();
    let _ = store.sign_in("Clara Clerk", "wrong password!!", now());
    let _ = store.sign_in("Nobody Known", "wrong password!!", now());
    let mut stmt =
        store.connection().prepare("SELECT coalesce(detail, '') || coalesce(record_id, '') FROM audit").unwrap();
    let texts: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for t in &texts {
        for name in ["Clara", "Nobody", "Admin Ada", "Zorbaqwill"] {
            assert!(!t.contains(name), "audit detail {t:?} names {name}");
        }
    }
    let refused: i64 = store
        .connection()
        .query_row("SELECT count(*) FROM audit WHERE action = 'staff.sign_in_refused'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(refused, 2);
}

#[test]
fn a_disabled_account_cannot_act_even_in_a_session_from_before() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let clerk = staff(&mut store, "Clara Clerk", Role::Clerk);
    let a = admin(&mut store);
    store.disable_staff(&a, "Clara Clerk", now()).unwrap();
    let err = staff_err(store.issue(&clerk, &intake(1, date(1980, 1, 1), Sex::Male), now(), None, None).unwrap_err());
    assert!(matches!(err, StaffError::SignInRefused));
    assert!(matches!(staff_err(store.sign_in("Clara Clerk", PASSWORD, now()).unwrap_err()), StaffError::SignInRefused));
    // Nobody disables their own account, so the last active admin stays;
    // another admin may disable an admin.
    assert!(matches!(staff_err(store.disable_staff(&a, ADMIN, now()).unwrap_err()), StaffError::DisableSelf));
    // Only an admin manages staff.
    let sup = staff(&mut store, "Sven Supervisor", Role::Supervisor);
    assert!(matches!(
        staff_err(store.list_staff(&sup).unwrap_err()),
        StaffError::Forbidden { needed: Role::Admin, .. }
    ));
    let names: Vec<String> = store.list_staff(&a).unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, [ADMIN, "Clara Clerk", "Sven Supervisor"]);
    let second = staff(&mut store, "Adam Admin", Role::Admin);
    store.disable_staff(&second, ADMIN, now()).unwrap();
    let last = staff_err(store.disable_staff(&second, "Adam Admin", now()).unwrap_err());
    assert!(matches!(last, StaffError::DisableSelf), "{last:?}");
}

#[test]
fn the_lease_runs_out_per_birth_date_and_sex_and_says_to_connect() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let d = date(1985, 7, 4);
    let units = training_units().len();
    let mut numbers = HashSet::new();
    for i in 0..units {
        let r = store.issue(&s, &intake(i, d, Sex::Female), now(), None, None).unwrap();
        assert_eq!(r.reserve_left, units - i - 1);
        assert!(numbers.insert(r.number));
    }
    let (records, audit) = (records_count(&store), store.audit_head().unwrap().seq);
    let err = issue_err(store.issue(&s, &intake(999, d, Sex::Female), now(), None, None).unwrap_err());
    assert!(matches!(err, IssueError::LeaseExhausted { .. }), "{err:?}");
    assert!(err.message(Lang::En).contains("Connect to the registry"));
    assert!(err.message(Lang::Da).contains("Forbind til registret"));
    assert_eq!((records_count(&store), store.audit_head().unwrap().seq), (records, audit));
    // The other sex of the same date is untouched.
    store.issue(&s, &intake(1000, d, Sex::Male), now(), None, None).unwrap();
    let status = store.lease_status().unwrap();
    assert_eq!(status.tightest.as_ref().map(|t| (t.birth_date, t.sex, t.left)), Some((d, Sex::Female, 0)));
    assert!(status.low);
    assert_eq!(status.issued_from_lease, units as i64 + 1);
}

#[test]
fn an_edited_audit_row_is_found_and_a_plain_edit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    for i in 0..3 {
        store.issue(&s, &intake(i, date(1980, 1, 1 + i as u32), Sex::Male), now(), None, None).unwrap();
    }
    assert!(matches!(store.verify_audit().unwrap(), Verification::Intact { .. }));
    let conn = store.connection();
    assert!(conn.execute("UPDATE audit SET staff_id = 99 WHERE seq = 2", []).is_err(), "append-only");
    assert!(conn.execute("DELETE FROM audit WHERE seq = 2", []).is_err(), "append-only");
    // Someone holding the key drops the guard triggers and edits a row.
    conn.execute_batch("DROP TRIGGER audit_append_only_update; DROP TRIGGER audit_append_only_delete;").unwrap();
    conn.execute("UPDATE audit SET staff_id = 99 WHERE seq = 3", []).unwrap();
    assert_eq!(store.verify_audit().unwrap(), Verification::Broken { seq: 3, reason: Break::Content });
}

#[test]
fn deleting_the_newest_audit_events_is_found_through_the_key_store() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    store.issue(&s, &intake(1, date(1980, 1, 1), Sex::Male), now(), None, None).unwrap();
    let last = store.audit_head().unwrap().seq;
    let conn = store.connection();
    conn.execute_batch("DROP TRIGGER audit_append_only_delete;").unwrap();
    conn.execute("DELETE FROM audit WHERE seq = ?1", [last]).unwrap();
    assert_eq!(store.verify_audit().unwrap(), Verification::Broken { seq: last, reason: Break::Missing });
}

#[test]
fn a_restored_older_database_freezes_the_lease_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let d = date(1991, 9, 9);
    store.issue(&s, &intake(1, d, Sex::Female), now(), None, None).unwrap();
    drop(store);
    let backup = std::fs::read(dir.path().join(DB_FILE)).unwrap();

    let mut store = reopen(dir.path(), &ks);
    let s = admin(&mut store);
    let later = store.issue(&s, &intake(2, d, Sex::Female), now(), None, None).unwrap();
    drop(store);

    // Restore the backup (a reverted snapshot, a copied disk).
    std::fs::write(dir.path().join(DB_FILE), &backup).unwrap();
    let _ = std::fs::remove_file(dir.path().join("desk.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("desk.db-shm"));
    let mut store = reopen(dir.path(), &ks);
    assert_eq!(store.guard_outcome(), GuardOutcome::FrozeNow);
    assert!(store.lease_frozen());
    let info = store.desk_info().unwrap();
    assert_eq!(info.frozen_reason.as_deref(), Some("database_behind"));
    let s = admin(&mut store);
    // The number issued after the backup is not known here: never issue it again.
    let err = issue_err(store.issue(&s, &intake(3, d, Sex::Female), now(), None, None).unwrap_err());
    assert!(matches!(err, IssueError::LeaseFrozen { training: true, .. }), "{err:?}");
    assert!(err.message(Lang::En).contains("skranke desk init"));
    assert!(store.stored_guard().unwrap().unwrap().frozen, "frozen in the key store too");
    let status = store.lease_status().unwrap();
    assert!(status.frozen && status.units == 0 && status.frozen_units == training_units().len());
    drop(store);

    // For good: reopening does not thaw it.
    let mut store = reopen(dir.path(), &ks);
    assert_eq!(store.guard_outcome(), GuardOutcome::Frozen);
    let s = admin(&mut store);
    assert!(store.issue(&s, &intake(4, d, Sex::Female), now(), None, None).is_err());
    // A fresh lease works, and never yields the forgotten number.
    let fresh: Vec<LeaseUnit> = skranke_core::lease::Block::default_block().units().skip(100).take(4).collect();
    store.grant_units(&fresh, now()).unwrap();
    let r = store.issue(&s, &intake(5, d, Sex::Female), now(), None, None).unwrap();
    assert_ne!(r.number, later.number);
    assert!(fresh.contains(&LeaseUnit::containing(&r.number).unwrap()));
}

#[test]
fn a_key_store_one_commit_behind_catches_up_without_freezing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, ks) = training_desk(dir.path());
    let desk_id = store.desk_id().to_string();
    let s = admin(&mut store);
    let before = ks.get(&desk_id, keystore::GUARD).unwrap().unwrap();
    store.issue(&s, &intake(1, date(1980, 1, 1), Sex::Male), now(), None, None).unwrap();
    drop(store);
    // A crash between the commit and the key-store write.
    ks.set(&desk_id, keystore::GUARD, &before).unwrap();
    let store = reopen(dir.path(), &ks);
    assert_eq!(store.guard_outcome(), GuardOutcome::CaughtUp);
    assert!(!store.lease_frozen());
    drop(store);
    assert_eq!(reopen(dir.path(), &ks).guard_outcome(), GuardOutcome::InStep);
}

#[test]
fn a_key_store_that_fails_after_a_commit_keeps_the_act_and_blocks_the_next_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, ks) = training_desk(dir.path());
    let s = admin(&mut store);
    ks.set_unavailable(true);
    let first = store.issue(&s, &intake(1, date(1980, 1, 1), Sex::Male), now(), None, None).unwrap();
    assert!(store.guard_pending());
    let err = store_err(store.issue(&s, &intake(2, date(1980, 1, 1), Sex::Male), now(), None, None).unwrap_err());
    assert!(matches!(err, StoreError::GuardPending { .. }));
    ks.set_unavailable(false);
    store.issue(&s, &intake(2, date(1980, 1, 1), Sex::Male), now(), None, None).unwrap();
    assert!(!store.guard_pending());
    assert_eq!(store.record(&s, &first.record_id).unwrap().summary.status, "issued");
}

struct FixedOnline(Option<Personnummer>);

impl OnlineAllocator for FixedOnline {
    fn allocate(&self, request: &OnlineRequest) -> Result<Option<Personnummer>, skranke_core::sync::SyncError> {
        assert!(request.idempotency_key.starts_with(&request.desk_id));
        Ok(self.0)
    }
}

#[test]
fn an_online_number_is_used_when_it_fits_and_refused_when_it_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let d = date(1982, 4, 1);
    // A modulus-11 number (kept by the registry), as online allocation hands out.
    let central = (4000..5000u16)
        .filter_map(|serial| Personnummer::from_parts(d, serial))
        .find(|n| n.passes_modulus11() && n.sex() == Sex::Male)
        .unwrap();
    let r = store.issue(&s, &intake(1, d, Sex::Male), now(), Some(&FixedOnline(Some(central))), None).unwrap();
    assert_eq!((r.number, r.source), (central, NumberSource::Online));
    // The same number again, or one for another birth date: refused, nothing stored.
    let n = records_count(&store);
    let err = store.issue(&s, &intake(2, d, Sex::Male), now(), Some(&FixedOnline(Some(central))), None).unwrap_err();
    assert!(matches!(issue_err(err), IssueError::OnlineNumberUnfit { .. }));
    assert_eq!(records_count(&store), n);
    // Unreachable: the lease.
    let r = store.issue(&s, &intake(3, d, Sex::Male), now(), Some(&FixedOnline(None)), None).unwrap();
    assert_eq!(r.source, NumberSource::Lease);
}

struct FailingAttachment;

impl IssueAttachment for FailingAttachment {
    fn write(
        &self,
        tx: &skranke_core::store::rusqlite::Transaction<'_>,
        _: &DeskContext,
        issued: &Issued,
    ) -> Result<(), IssueError> {
        // It sees the record inside the transaction, then fails.
        let n: i64 = tx.query_row("SELECT count(*) FROM record WHERE id = ?1", [&issued.record_id], |r| r.get(0))?;
        assert_eq!(n, 1);
        Err(StoreError::Random { detail: "attachment failed".into() }.into())
    }
}

#[test]
fn a_failing_attachment_undoes_the_whole_issue() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let (records, audit, outbox) = (records_count(&store), store.audit_head().unwrap(), outbox_count(&store));
    assert!(store.issue(&s, &intake(1, date(1980, 1, 1), Sex::Male), now(), None, Some(&FailingAttachment)).is_err());
    assert_eq!((records_count(&store), store.audit_head().unwrap(), outbox_count(&store)), (records, audit, outbox));
}

/// Undoes the training form: subtract 60 from the day, then parse as a real number.
fn parse_training(shown: &str) -> Personnummer {
    let first = shown.as_bytes()[0] - b'0';
    assert!((6..=9).contains(&first), "{shown} is not in training form");
    let real = format!("{}{}", first - 6, &shown[1..]);
    Personnummer::parse(&real, date(2030, 1, 1)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Many applicants, few birth dates: every number parses (after day − 60),
    /// carries the applicant's birth date and sex, lies in the desk's lease,
    /// and is unique; a full birth date and sex is reported, never worked around.
    #[test]
    fn issued_numbers_are_valid_right_in_the_lease_and_unique(
        applicants in proptest::collection::vec((0usize..3, any::<bool>()), 1..60)
    ) {
        let dates = [date(1937, 1, 1), date(1990, 2, 28), date(2008, 12, 31)];
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _ks) = training_desk(dir.path());
        let s = admin(&mut store);
        let lease: HashSet<LeaseUnit> = training_units().into_iter().collect();
        let mut seen = HashSet::new();
        let mut per_group = std::collections::HashMap::new();
        for (i, (d, male)) in applicants.into_iter().enumerate() {
            let (d, sex) = (dates[d], if male { Sex::Male } else { Sex::Female });
            let used = per_group.entry((d, sex)).or_insert(0usize);
            match store.issue(&s, &intake(i, d, sex), now(), None, None) {
                Ok(r) => {
                    prop_assert!(*used < lease.len());
                    *used += 1;
                    let n = parse_training(&r.display_number);
                    prop_assert_eq!(n, r.number);
                    prop_assert_eq!(n.birth_date(), d);
                    prop_assert_eq!(n.sex(), sex);
                    prop_assert!(!n.passes_modulus11());
                    let unit = LeaseUnit::containing(&n);
                    prop_assert!(unit.is_some_and(|u| lease.contains(&u)));
                    prop_assert!(seen.insert(n));
                }
                Err(IssueError::LeaseExhausted { .. }) => prop_assert_eq!(*used, lease.len()),
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }
    }
}

#[test]
fn many_applicants_on_one_birth_date_exhaust_exactly_the_lease_then_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let s = admin(&mut store);
    let d = date(2000, 2, 29);
    let mut ok = 0;
    let mut refused = 0;
    for i in 0..40 {
        match store.issue(&s, &intake(i, d, Sex::Male), now(), None, None) {
            Ok(_) => ok += 1,
            Err(IssueError::LeaseExhausted { .. }) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((ok, refused), (training_units().len(), 40 - training_units().len()));
}
