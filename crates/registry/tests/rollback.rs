//! Rollback and clones: a desk restored from an older copy of its database,
//! and a desk cloned together with its key store, can never get a number
//! used twice without the registry reporting a conflict.

mod common;
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use skranke_core::alloc::NumberSource;
use skranke_core::issue::IssueError;
use skranke_core::keystore::KeyStore;
use skranke_core::store::{GuardOutcome, Store};
use skranke_core::sync::{self, HttpAllocator};
use skranke_core::Error;
use skranke_rules::cpr::Sex;
use support::*;

/// Every number the registry has seen in an issued event (accepted or kept
/// as a conflict), with the records that carried it.
fn numbers_seen(reg: &LiveRegistry) -> HashMap<String, Vec<String>> {
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for row in reg.rows(
        "SELECT content->>'number', record_id FROM records
         UNION ALL
         SELECT body->'payload'->>'number', body->'payload'->>'record_id' || ' (kept)' FROM conflicts
         WHERE body->>'kind' = 'issued'",
    ) {
        seen.entry(row[0].clone().unwrap()).or_default().push(row[1].clone().unwrap());
    }
    seen
}

/// Records kept as conflicts, by record ID.
fn conflicting_records(reg: &LiveRegistry) -> HashSet<String> {
    reg.rows("SELECT body->'payload'->>'record_id' FROM conflicts WHERE body->>'kind' = 'issued'")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
}

fn checkpoint(store: &Store) {
    store.connection().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
}

#[test]
fn a_desk_restored_from_an_older_copy_freezes_its_lease_and_every_reused_record_is_a_reported_conflict() {
    let reg = LiveRegistry::start();
    let keystore: Arc<dyn KeyStore> = Arc::new(CopyableKeyStore::default());
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 101, 1, keystore);
    let client = desk.client(&reg.url());
    for i in 0..5 {
        desk.issue(i, date(1971, 1, 1 + i as u32), Sex::Male, None).unwrap();
    }
    sync::run(&mut desk.store, &client).unwrap();
    checkpoint(&desk.store);
    let backup = tempfile::tempdir().unwrap();
    copy_desk_folder(desk.dir.path(), backup.path());

    for i in 5..10 {
        desk.issue(i, date(1971, 1, 1 + i as u32), Sex::Male, None).unwrap();
    }
    sync::run(&mut desk.store, &client).unwrap();
    let before: HashSet<String> = desk.local_numbers().into_iter().map(|n| n.0).collect();
    assert_eq!(before.len(), 10);

    // The disk is restored from the backup; the OS key store is not.
    for entry in std::fs::read_dir(desk.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }
    copy_desk_folder(backup.path(), desk.dir.path());
    desk.reopen();
    assert_eq!(desk.store.guard_outcome(), GuardOutcome::FrozeNow);
    assert!(desk.store.lease_frozen());
    let e = desk.issue(100, date(1971, 1, 20), Sex::Male, None).unwrap_err();
    assert!(matches!(e, Error::Issue(IssueError::LeaseFrozen { .. })), "the old reserve is never used again: {e:?}");

    // Online issuing still works; its record IDs 6, 7, … repeat the forgotten ones.
    let online = HttpAllocator::new(&client);
    for i in 0..7 {
        let r = desk.issue(200 + i, date(1971, 1, 1 + i as u32), Sex::Male, Some(&online)).unwrap();
        assert_eq!(r.source, NumberSource::Online);
        assert!(!before.contains(&r.number.digits().map(|d| char::from(b'0' + d)).iter().collect::<String>()));
    }
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!(report.pending, 0, "{report:?}");
    assert!(report.conflict >= 5, "{report:?}");

    // Records 6..10 came twice with different content: each is a reported conflict, both kept.
    let kept = conflicting_records(&reg);
    for seq in 6..=10 {
        assert!(kept.contains(&format!("{}-{seq}", desk.id)), "record {seq} reported: {kept:?}");
    }
    assert_eq!(reg.count("SELECT count(*) FROM records"), 12, "the 10 first records and the 2 new ones");
    let status = sync::status(&mut desk.store, Utc::now()).unwrap();
    let refused: HashSet<&str> = status
        .refused
        .iter()
        .filter(|r| r.kind == "issued" && r.outcome == "conflict")
        .filter_map(|r| r.record_id.as_deref())
        .collect();
    assert_eq!(refused.len(), 5, "{:?}", status.refused);
    assert!(status.notices.iter().any(|n| n.kind == "event_conflict"), "{:?}", status.notices);
    assert!(status.notices.iter().any(|n| n.kind == "audit_chain"), "the forked audit chain is reported");
    // No number was used twice at all.
    for (number, records) in numbers_seen(&reg) {
        assert_eq!(records.len(), 1, "{number}: {records:?}");
    }
}

#[test]
fn a_desk_cloned_with_its_key_store_cannot_use_a_number_twice_without_a_conflict_being_reported() {
    let reg = LiveRegistry::start();
    let original_keys = Arc::new(CopyableKeyStore::default());
    let mut a = TestDesk::enrol(&reg, &reg.url(), 147, 2, original_keys.clone());
    let client_a = a.client(&reg.url());
    for i in 0..3 {
        a.issue(i, date(1982, 2, 1 + i as u32), Sex::Female, None).unwrap();
    }
    sync::run(&mut a.store, &client_a).unwrap();

    // A cloned disk with a cloned key ring: the clone sees nothing wrong.
    checkpoint(&a.store);
    let dir_b = tempfile::tempdir().unwrap();
    copy_desk_folder(a.dir.path(), dir_b.path());
    let clone_keys: Arc<dyn KeyStore> = Arc::new(original_keys.snapshot());
    let store_b = Store::open(dir_b.path(), Box::new(clone_keys.clone()), Utc::now()).unwrap();
    assert_eq!(store_b.guard_outcome(), GuardOutcome::InStep);
    let mut b =
        TestDesk { dir: dir_b, store: store_b, id: a.id.clone(), session: a.session.clone(), keystore: clone_keys };
    b.session = b.store.sign_in(ADMIN, PASSWORD, Utc::now()).unwrap();
    let client_b = b.client(&reg.url());

    // Both issue offline to different people on the same dates: the same numbers.
    let mut shared = 0;
    for i in 0..4 {
        let d = date(1990, 6, 10 + i);
        let x = a.issue(100 + i as usize, d, Sex::Male, None).unwrap();
        let y = b.issue(200 + i as usize, d, Sex::Male, None).unwrap();
        shared += usize::from(x.number == y.number);
    }
    assert_eq!(shared, 4, "the clones draw the same numbers from the same lease");
    let ra = sync::run(&mut a.store, &client_a).unwrap();
    let rb = sync::run(&mut b.store, &client_b).unwrap();
    assert_eq!((ra.conflict, ra.invalid), (0, 0), "{ra:?}");
    assert!(rb.conflict >= 4, "{rb:?}");
    assert_eq!(rb.pending, 0);

    // Every number both clones used is reported: the clone's record is kept
    // as a conflict, the clone's refused list shows it, and a notice says so.
    let a_numbers: HashMap<String, String> =
        a.local_numbers().into_iter().map(|(n, ..)| n).zip((1..).map(|s| format!("{}-{s}", a.id))).collect();
    let kept = conflicting_records(&reg);
    let status_b = sync::status(&mut b.store, Utc::now()).unwrap();
    let refused_b: HashSet<String> = status_b
        .refused
        .iter()
        .filter(|r| r.kind == "issued" && r.outcome == "conflict")
        .filter_map(|r| r.record_id.clone())
        .collect();
    let b_rows = b.local_numbers();
    let mut twice = 0;
    for (seq, (number, ..)) in b_rows.iter().enumerate() {
        let record_id = format!("{}-{}", b.id, seq + 1);
        if seq < 3 {
            continue; // Issued before the clone: one record, held once.
        }
        assert!(a_numbers.contains_key(number));
        twice += 1;
        assert!(kept.contains(&record_id), "{record_id} kept as a conflict: {kept:?}");
        assert!(refused_b.contains(&record_id), "{record_id} on the clone's refused list");
    }
    assert_eq!(twice, 4);
    assert!(status_b.notices.iter().any(|n| n.kind == "event_conflict"), "{:?}", status_b.notices);
    // The registry itself holds each number in exactly one accepted record.
    assert_eq!(reg.count("SELECT count(*) FROM (SELECT number FROM records GROUP BY number HAVING count(*) > 1) d"), 0);
    let seen = numbers_seen(&reg);
    for (number, records) in &seen {
        let kept_copies = records.iter().filter(|r| r.ends_with("(kept)")).count();
        assert!(records.len() == 1 || kept_copies == records.len() - 1, "{number}: {records:?}");
    }
}
