//! Retention (`core::retention`) against real SQLCipher files: what purge
//! erases and what it keeps and flags, the `erased` events, the audit
//! entries, that no erased name lingers in the database's pages, and the
//! reprint after erasure. The byte-scan test runs on the real OS key store
//! (Secret Service), as `os_keystore.rs` does.

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::*;
use skranke_core::applicant::Applicant;
use skranke_core::audit::Verification;
use skranke_core::cpr::Sex;
use skranke_core::credentials::OsRandom;
use skranke_core::desk::{self, DeskKind, DeskSetup};
use skranke_core::handout::{Delivered, Delivery, HandoutError};
use skranke_core::i18n::Lang;
use skranke_core::keystore::{self, KeyStore, MemoryKeyStore};
use skranke_core::lease::Block;
use skranke_core::protocol::Erasure;
use skranke_core::retention::{ErasureBasis, FlagReason, PresentedDocument, DEFAULT_RETENTION_DAYS};
use skranke_core::settings::SettingKey;
use skranke_core::staff::{Role, StaffError};
use skranke_core::store::rusqlite::types::FromSql;
use skranke_core::store::{timestamp, Store, DB_FILE};

fn day(n: i64) -> DateTime<Utc> {
    now() + Duration::days(n)
}

fn one<T: FromSql>(store: &Store, sql: &str) -> T {
    store.connection().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn has_applicant(store: &Store, id: &str) -> bool {
    store.connection().query_row("SELECT applicant IS NOT NULL FROM record WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

/// An enrolled desk without a registry: the test plays the registry's answers.
fn enrolled_desk(dir: &Path) -> Store {
    let units = Block::default_block().units().skip(40).take(2).collect();
    let setup = DeskSetup {
        kind: DeskKind::Enrolled { desk_id: "D1".into(), units },
        municipality: "101",
        office: "Borgerservice Nord",
        desk_number: 3,
        admin_name: ADMIN,
        admin_password: PASSWORD,
    };
    desk::init(dir, Box::new(Arc::new(MemoryKeyStore::new())), &setup, now(), Lang::En).unwrap()
}

/// What a sync would note: the registry answered every event of the record
/// so far, and reported `state`, learnt at `at`.
fn registry_says(store: &Store, id: &str, state: &str, at: DateTime<Utc>) {
    let conn = store.connection();
    conn.execute(
        "UPDATE outbox SET outcome = 'accepted', sent_at = ?2 WHERE record_id = ?1 AND outcome IS NULL",
        (id, timestamp(at)),
    )
    .unwrap();
    conn.execute(
        "UPDATE record SET registry_state = ?2, confirmed_at = CASE WHEN ?2 IN ('registered', 'voided') THEN ?3 END
         WHERE id = ?1",
        (id, state, timestamp(at)),
    )
    .unwrap();
}

#[test]
fn purge_erases_exactly_the_records_confirmed_more_than_n_days_ago_and_flags_old_unconfirmed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = enrolled_desk(dir.path());
    let sup = staff(&mut store, "Sofie", Role::Supervisor);
    let issue = |store: &mut Store, i: usize, at: DateTime<Utc>| {
        store.issue(&sup, &intake(i, date(1980, 1, 1 + i as u32), Sex::Female), at, None, None).unwrap().record_id
    };
    let confirmed_old = issue(&mut store, 1, day(0));
    let confirmed_young = issue(&mut store, 2, day(0));
    let unconfirmed_old = issue(&mut store, 3, day(0));
    let voided_confirmed = issue(&mut store, 4, day(0));
    let voided_unanswered = issue(&mut store, 5, day(0));
    let unconfirmed_young = issue(&mut store, 6, day(25));
    registry_says(&store, &confirmed_old, "registered", day(1));
    registry_says(&store, &confirmed_young, "registered", day(20));
    registry_says(&store, &unconfirmed_old, "received", day(1));
    store.void(&sup, &voided_confirmed, "clerk_error", None, day(1), Lang::En).unwrap();
    registry_says(&store, &voided_confirmed, "voided", day(1));
    registry_says(&store, &voided_unanswered, "registered", day(1));
    store.void(&sup, &voided_unanswered, "clerk_error", None, day(2), Lang::En).unwrap();
    let at = day(32);

    // A dry run reports and changes nothing.
    let (audit_before, outbox_before) =
        (store.audit_head().unwrap(), one::<i64>(&store, "SELECT count(*) FROM outbox"));
    let dry = store.purge(&sup, at, DEFAULT_RETENTION_DAYS, true).unwrap();
    let erased: Vec<&str> = dry.erased.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(erased, [confirmed_old.as_str(), voided_confirmed.as_str()]);
    assert!(dry.erased.iter().all(|r| r.basis == ErasureBasis::Confirmed));
    let flagged: Vec<(&str, FlagReason)> = dry.flagged.iter().map(|f| (f.record_id.as_str(), f.reason)).collect();
    assert_eq!(
        flagged,
        [
            (unconfirmed_old.as_str(), FlagReason::Unconfirmed),
            (voided_unanswered.as_str(), FlagReason::EventsUnanswered)
        ]
    );
    assert_eq!(dry.flagged[0].registry_state.as_deref(), Some("received"));
    assert_eq!(store.audit_head().unwrap(), audit_before);
    assert_eq!(one::<i64>(&store, "SELECT count(*) FROM outbox"), outbox_before);
    assert_eq!(one::<i64>(&store, "SELECT count(*) FROM record WHERE applicant IS NULL OR erased_at IS NOT NULL"), 0);

    // The purge itself.
    let report = store.purge(&sup, at, DEFAULT_RETENTION_DAYS, false).unwrap();
    assert_eq!(report.erased, dry.erased);
    assert_eq!(report.flagged, dry.flagged);
    for id in [&confirmed_old, &voided_confirmed] {
        assert!(!has_applicant(&store, id), "{id} keeps its personal data");
    }
    for id in [&confirmed_young, &unconfirmed_old, &voided_unanswered, &unconfirmed_young] {
        assert!(has_applicant(&store, id), "{id} lost its personal data");
    }
    // Number, dates, status and the keyed duplicate hashes stay.
    let kept: (String, String, String, String, String) = store
        .connection()
        .query_row(
            "SELECT number, issued_at, status, document_key, person_key FROM record WHERE id = ?1",
            [&voided_confirmed],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!((kept.0.len(), kept.2.as_str(), kept.3.len(), kept.4.len()), (10, "voided", 64, 64));
    // One `erased` event per erased record, in the wire form the registry takes.
    let events: Vec<(String, String, String)> = store
        .connection()
        .prepare("SELECT idempotency_key, record_id, payload FROM outbox WHERE kind = 'erased' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 2);
    for ((key, record_id, payload), id) in events.iter().zip([&confirmed_old, &voided_confirmed]) {
        assert_eq!((key.as_str(), record_id.as_str()), (format!("{id}/erased").as_str(), id.as_str()));
        let e: Erasure = serde_json::from_str(payload).unwrap();
        assert_eq!((e.record_id.as_str(), e.erased_at), (id.as_str(), at));
    }
    // The issued events' typed bodies lost the personal data too (names,
    // nationality, document, the unkeyed duplicate forms); the others kept theirs.
    let scrubbed: i64 = one(
        &store,
        "SELECT count(*) FROM outbox WHERE kind = 'issued' AND json_extract(payload, '$.person.name_document') = ''
           AND json_extract(payload, '$.person.nationality') = '' AND json_extract(payload, '$.document_key') = ''
           AND json_extract(payload, '$.person.document.kind') = '' AND json_extract(payload, '$.number') IS NOT NULL",
    );
    assert_eq!(scrubbed, 2);
    let kept: i64 = one(
        &store,
        "SELECT count(*) FROM outbox WHERE kind = 'issued' AND json_extract(payload, '$.person.name_document') <> ''",
    );
    assert_eq!(kept, one::<i64>(&store, "SELECT count(*) FROM outbox WHERE kind = 'issued'") - 2);
    // Each still reads as the protocol's body.
    let issued: Vec<String> = store
        .connection()
        .prepare("SELECT payload FROM outbox WHERE kind = 'issued'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for payload in issued {
        serde_json::from_str::<skranke_core::protocol::IssuedRecord>(&payload).unwrap();
    }
    // One audit entry each, by the supervisor, naming the record only; the chain holds.
    let audited: Vec<(Option<i64>, String)> = store
        .connection()
        .prepare("SELECT staff_id, record_id FROM audit WHERE action = 'record.erased' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        audited,
        [(Some(sup.staff_id()), confirmed_old.clone()), (Some(sup.staff_id()), voided_confirmed.clone())]
    );
    assert!(matches!(store.verify_audit().unwrap(), Verification::Intact { .. }));

    // Again: nothing more is due; the flagged records stay flagged.
    let again = store.purge(&sup, at, DEFAULT_RETENTION_DAYS, false).unwrap();
    assert!(again.erased.is_empty());
    assert_eq!(again.flagged.len(), 2);
    // The confirmed-young record is due once its own N days have passed.
    let later = store.purge(&sup, day(51), DEFAULT_RETENTION_DAYS, true).unwrap();
    assert_eq!(later.erased.iter().map(|r| r.record_id.as_str()).collect::<Vec<_>>(), [confirmed_young.as_str()]);
    // The flagged list is what `sync status` shows.
    let status = skranke_core::sync::status(&mut store, at).unwrap();
    assert_eq!(status.retention_flagged, again.flagged);
}

#[test]
fn a_clerk_may_not_purge() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let clerk = staff(&mut store, "Carl", Role::Clerk);
    let err = store.purge(&clerk, day(40), DEFAULT_RETENTION_DAYS, true).unwrap_err();
    assert!(matches!(err, StaffError::Forbidden { needed: Role::Supervisor, .. }), "{err:?}");
}

#[test]
fn training_records_are_erased_n_days_after_issue_by_the_open_itself_and_queue_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, ks) = training_desk(dir.path());
    let a = admin(&mut store);
    let old = store.issue(&a, &intake(1, date(1984, 10, 10), Sex::Male), day(0), None, None).unwrap().record_id;
    let young = store.issue(&a, &intake(2, date(1984, 10, 10), Sex::Male), day(5), None, None).unwrap().record_id;
    store.void(&a, &young, "clerk_error", None, day(5), Lang::En).unwrap();
    drop(store);
    // 30 days after issue: nothing yet, and an open with nothing due writes nothing.
    let head = reopen(dir.path(), &ks).audit_head().unwrap();
    let store = Store::open(dir.path(), Box::new(ks.clone()) as Box<dyn KeyStore>, day(29)).unwrap();
    assert!(has_applicant(&store, &old) && has_applicant(&store, &young));
    assert_eq!(store.audit_head().unwrap(), head);
    drop(store);
    let store = Store::open(dir.path(), Box::new(ks.clone()) as Box<dyn KeyStore>, day(31)).unwrap();
    assert!(!has_applicant(&store, &old), "erased by opening the store");
    assert!(has_applicant(&store, &young));
    assert_eq!(one::<i64>(&store, "SELECT count(*) FROM outbox WHERE kind = 'erased'"), 0, "no registry to tell");
    assert_eq!(
        one::<Option<i64>>(&store, "SELECT staff_id FROM audit WHERE action = 'record.erased'"),
        None,
        "the desk acted by itself"
    );
    drop(store);
    // A voided training record follows the same rule.
    let store = Store::open(dir.path(), Box::new(ks.clone()) as Box<dyn KeyStore>, day(36)).unwrap();
    assert!(!has_applicant(&store, &young));
}

/// SQLCipher 4 page layout (the defaults the desk uses): 4096-byte pages,
/// AES-256-CBC over all but the last 80 bytes (IV, then HMAC); page 1 starts
/// with the 16-byte salt instead. With a raw key, the key is the AES key.
fn decrypt_pages(bytes: &[u8], key: &[u8; 32]) -> Vec<u8> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit};
    const PAGE: usize = 4096;
    const RESERVE: usize = 80;
    let mut plain = Vec::with_capacity(bytes.len());
    for (i, page) in bytes.chunks_exact(PAGE).enumerate() {
        let start = if i == 0 { 16 } else { 0 };
        let iv = &page[PAGE - RESERVE..PAGE - RESERVE + 16];
        let mut data = page[start..PAGE - RESERVE].to_vec();
        cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
            .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut data)
            .unwrap();
        plain.extend_from_slice(&data);
    }
    plain
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[cfg(target_os = "linux")]
#[test]
fn after_purge_no_erased_name_or_document_is_left_in_any_page_of_the_database_file() {
    use skranke_core::keystore::OsKeyStore;
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk::init(dir.path(), Box::new(OsKeyStore), &setup(), now(), Lang::En).unwrap();
    let desk_id = store.desk_id().to_string();
    let a = admin(&mut store);
    for i in 0..40 {
        let born = date(1980 + i as i32 / 12, 1 + i as u32 % 12, 10);
        store.issue(&a, &intake(i, born, Sex::Male), day(0), None, None).unwrap();
    }
    let kept = store.issue(&a, &intake(99, date(1984, 10, 11), Sex::Male), day(10), None, None).unwrap();
    let key: [u8; 32] =
        hex::decode(OsKeyStore.get(&desk_id, keystore::DB_KEY).unwrap().unwrap()).unwrap().try_into().unwrap();
    let path = dir.path().join(DB_FILE);
    let checkpoint = |store: &Store| {
        store.connection().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    };
    checkpoint(&store);
    // The control: before the purge, the decrypted pages do hold the names.
    let before = decrypt_pages(&std::fs::read(&path).unwrap(), &key);
    assert!(contains(&before, "Zorbaqwill7") && contains(&before, "QXDOC000007"), "the scan cannot see names");
    assert!(!contains(&std::fs::read(&path).unwrap(), "Zorbaqwill"), "the file itself is encrypted");

    let report = store.purge(&a, day(31), DEFAULT_RETENTION_DAYS, false).unwrap();
    assert_eq!(report.erased.len(), 40);
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let raw = std::fs::read(&path).unwrap();
    let after = decrypt_pages(&raw, &key);
    let wal_after = std::fs::read(&wal).unwrap_or_default();
    assert!(wal_after.is_empty(), "the purge checkpointed the WAL: {} bytes left", wal_after.len());
    for i in 0..40 {
        for secret in [format!("Zorbaqwill{i}\""), format!("QXDOC{i:06}")] {
            assert!(!contains(&after, &secret), "{secret} lingers in a page after the purge");
            assert!(!contains(&raw, &secret));
        }
    }
    // The record that is not due keeps its data, readable in the pages.
    assert!(contains(&after, "Zorbaqwill99"));
    assert!(has_applicant(&store, &kept.record_id));
    drop(store);
    desk::forget_keys(&OsKeyStore, &desk_id).unwrap();
}

fn real_applicant(surname: &str, doc: &str) -> Applicant {
    let json = serde_json::json!({
      "given_names": "Łukasz", "surname": surname, "birth_date": "1990-01-01", "sex": "M",
      "nationality": "PL", "municipality_of_stay": 101, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "PL", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "pl",
      "contact": {"email": null, "phone": null, "address_dk": null}
    });
    Applicant::from_json_bytes(json.to_string().as_bytes(), Lang::En).unwrap()
}

fn today_at(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

#[test]
fn a_reprint_after_purge_refuses_a_different_document_and_prints_with_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _ks) = training_desk(dir.path());
    let a = admin(&mut store);
    store.change_setting(&a, SettingKey::PrivacyController, "Københavns Kommune", now(), Lang::En).unwrap();
    store.change_setting(&a, SettingKey::PrivacyContact, "borgerservice@example.dk", now(), Lang::En).unwrap();
    store.change_setting(&a, SettingKey::PrivacyDpo, "dpo@example.dk", now(), Lang::En).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let pdf = |n: &str| out_dir.path().join(format!("{n}.pdf"));
    let issued = store
        .issue_with_handout(
            &a,
            &real_applicant("Kowalski", "EA1234567"),
            today_at(now()),
            now(),
            Lang::En,
            None,
            Delivery::SavePdf(&pdf("issue")),
            &mut OsRandom,
        )
        .unwrap();
    let id = issued.issued.record_id.clone();
    let at = day(31);
    assert_eq!(store.purge(&a, at, DEFAULT_RETENTION_DAYS, false).unwrap().erased.len(), 1);
    let hashes = |store: &Store| one::<i64>(store, "SELECT count(*) FROM login_hash");
    let hashes_before = hashes(&store);

    // No document: refused, the message asks for it.
    let err = store.reprint(&a, &id, today_at(at), at, Delivery::SavePdf(&pdf("none")), &mut OsRandom).unwrap_err();
    assert!(matches!(err, HandoutError::ApplicantErased { .. }), "{err:?}");
    // Another document: refused naming the field; no password, no file, nothing stored.
    let mut doc = PresentedDocument {
        number: "EA7654321".into(),
        issuing_state: None,
        surname: "Kowalski".into(),
        given_names: "Łukasz".into(),
    };
    let err = store
        .reprint_presenting(
            &a,
            &id,
            Some(&doc),
            today_at(at),
            at,
            Lang::En,
            Delivery::SavePdf(&pdf("wrong")),
            &mut OsRandom,
        )
        .unwrap_err();
    let HandoutError::Invalid(errors) = &err else { panic!("{err:?}") };
    assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("document.number", "document_mismatch"));
    assert!(err.message(Lang::Da).contains("document.number"));
    assert!(!pdf("wrong").exists());
    // The right number with the wrong issuing state is another document too.
    doc.number = "ea 1234567".into();
    doc.issuing_state = Some("DE".into());
    let err = store
        .reprint_presenting(
            &a,
            &id,
            Some(&doc),
            today_at(at),
            at,
            Lang::En,
            Delivery::SavePdf(&pdf("state")),
            &mut OsRandom,
        )
        .unwrap_err();
    assert!(matches!(&err, HandoutError::Invalid(e) if e[0].code == "document_mismatch"), "{err:?}");
    assert_eq!(hashes(&store), hashes_before);

    // The document it was issued on: printed, with a new password; the names are not stored.
    doc.issuing_state = Some("PL".into());
    let handed = store
        .reprint_presenting(
            &a,
            &id,
            Some(&doc),
            today_at(at),
            at,
            Lang::En,
            Delivery::SavePdf(&pdf("right")),
            &mut OsRandom,
        )
        .unwrap();
    assert!(matches!(handed.delivery, Ok(Delivered::Saved { .. })), "{:?}", handed.delivery);
    assert!(std::fs::read(pdf("right")).unwrap().starts_with(b"%PDF"));
    assert_eq!(hashes(&store), hashes_before + 1);
    assert!(!has_applicant(&store, &id));
    let stored_text: String = one(
        &store,
        "SELECT coalesce(group_concat(payload, '|'), '') || (SELECT group_concat(coalesce(detail, ''), '|') FROM audit) FROM outbox",
    );
    assert!(!stored_text.contains("Kowalski") && !stored_text.contains("EA1234567"));
}

/// Issue 17, finding 2: a record on the refused list is never erased by
/// the clock, whatever its `registry_state` and `confirmed_at` say (a
/// desk copied from another may have been told the other record's state
/// under the same ID), and it is flagged as refused rather than reported
/// due; a confirmed record of the same age is erased. A downstream
/// refusal holds the record too.
#[test]
fn a_record_on_the_refused_list_is_kept_and_flagged_past_the_period_while_a_confirmed_one_is_erased() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = enrolled_desk(dir.path());
    let sup = staff(&mut store, "Sofie", Role::Supervisor);
    let issue = |store: &mut Store, i: usize| {
        store.issue(&sup, &intake(i, date(1980, 1, 1 + i as u32), Sex::Female), day(0), None, None).unwrap().record_id
    };
    let confirmed = issue(&mut store, 1);
    let refused = issue(&mut store, 2);
    let refused_void = issue(&mut store, 3);
    let downstream = issue(&mut store, 4);
    for id in [&confirmed, &refused, &refused_void, &downstream] {
        registry_says(&store, id, "registered", day(1));
    }
    let conn = store.connection();
    // The registry refused the issue of one record and a later event of another.
    for (key, kind, id) in
        [(format!("{refused}/issued"), "issued", &refused), (format!("{refused_void}/voided"), "voided", &refused_void)]
    {
        conn.execute(
            "INSERT INTO refused_event (idempotency_key, kind, record_id, outcome, reason, refused_at)
             VALUES (?1, ?2, ?3, 'conflict', 'record_conflict', ?4)",
            (&key, kind, id, timestamp(day(1))),
        )
        .unwrap();
    }
    conn.execute(
        "UPDATE record SET refused_downstream_by = 'cpr', refused_downstream_reason = 'name_mismatch',
                           refused_downstream_at = ?2 WHERE id = ?1",
        (&downstream, timestamp(day(1))),
    )
    .unwrap();

    let report = store.purge(&sup, day(40), DEFAULT_RETENTION_DAYS, false).unwrap();
    let erased: Vec<&str> = report.erased.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(erased, [confirmed.as_str()]);
    let flagged: Vec<(&str, FlagReason, bool)> =
        report.flagged.iter().map(|f| (f.record_id.as_str(), f.reason, f.refused)).collect();
    assert_eq!(
        flagged,
        [refused.as_str(), refused_void.as_str(), downstream.as_str()].map(|id| (id, FlagReason::Unconfirmed, true))
    );
    assert!(!has_applicant(&store, &confirmed));
    for id in [&refused, &refused_void, &downstream] {
        assert!(has_applicant(&store, id), "{id} lost its personal data");
    }
    // What `sync status` shows: the same flagged records, the refused ones among them.
    let status = skranke_core::sync::status(&mut store, day(40)).unwrap();
    assert_eq!(status.retention_flagged, report.flagged);
}
