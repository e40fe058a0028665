//! Unit tests of the desk side that need no registry: the wire form of
//! outbox events, the issuing checks, and refusals. The end-to-end tests
//! against a real registry live in `crates/registry/tests/`.

use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};

use super::*;
use crate::applicant::Applicant;
use crate::desk::{DeskKind, DeskSetup};
use crate::issue::IssueError;
use crate::keystore::MemoryKeyStore;
use crate::lease::Block;
use crate::protocol::EventBody;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap()
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn applicant(surname: &str, doc: &str) -> Applicant {
    let v = serde_json::json!({
      "given_names": "Anna Maria", "surname": surname, "birth_date": "1974-08-12", "sex": "F",
      "nationality": "SE", "municipality_of_stay": 147, "group": "asylum-personal-assistance",
      "asylum_case_ref": "AS-2026-17",
      "document": {"type": "passport", "number": doc, "issuing_state": "SE", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "no_danish_cpr": true, "not_residence_registered": true, "language": "sv",
      "contact": {"email": null, "phone": null, "address_dk": null}
    });
    Applicant::from_json(&v.to_string(), Lang::En).unwrap()
}

/// An enrolled desk "D1" holding two units, without a registry.
fn desk(dir: &std::path::Path) -> Store {
    let units: Vec<LeaseUnit> = Block::default_block().units().skip(40).take(2).collect();
    let setup = DeskSetup {
        kind: DeskKind::Enrolled { desk_id: "D1".into(), units },
        municipality: "101",
        office: "Borgerservice Nord",
        desk_number: 3,
        admin_name: "Ada",
        admin_password: "a long enough password",
    };
    desk::init(dir, Box::new(Arc::new(MemoryKeyStore::new())), &setup, now(), Lang::En).unwrap()
}

fn issue(store: &mut Store, surname: &str, doc: &str, at: DateTime<Utc>) -> Result<crate::issue::Issued, Error> {
    let s = store.sign_in("Ada", "a long enough password", now())?;
    store.issue_applicant(&s, &applicant(surname, doc), today(), at, Lang::En, None, None).map(|(i, _)| i)
}

fn pending(store: &mut Store) -> Vec<Pending> {
    store.read(|tx, _| outbox::unsent(tx, 100)).unwrap()
}

#[test]
fn an_issued_outbox_row_goes_on_the_wire_as_the_registry_expects_and_without_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let issued = issue(&mut store, "Müller", "L898902C3", now()).unwrap();
    let rows = pending(&mut store);
    assert_eq!(rows.len(), 1);
    let event = outbox::wire_event(&rows[0]).unwrap();
    assert_eq!(event.idempotency_key, format!("{}/issued", issued.record_id));
    let EventBody::Issued(r) = &event.body else { panic!("not issued: {event:?}") };
    assert_eq!(r.record_id, issued.record_id);
    assert_eq!(r.number, issued.number.to_string());
    assert_eq!(r.source, protocol::NumberSource::Lease);
    assert_eq!(r.municipality, 147, "the municipality of stay, not the desk's");
    assert_eq!(r.person.name_document, "Anna Maria Müller");
    assert_eq!(r.person.name_latin, "ANNA MARIA MUELLER");
    assert_eq!(r.person.document.issuing_state, "SWE", "ICAO code of Sweden");
    assert_eq!(r.person.birth_date, issued.birth_date);
    let valid = applicant("Müller", "L898902C3")
        .validate(&crate::applicant::IntakeContext { today: today(), desk_municipality: 101 }, Lang::En)
        .unwrap();
    assert_eq!(r.document_key, protocol::registry_duplicate_key("document", &valid.keys.document));
    assert_eq!(r.person_key, protocol::registry_duplicate_key("person", &valid.keys.person));
    let wire = serde_json::to_string(&event).unwrap();
    for secret in ["asylum", "AS-2026-17", "L898902C3", "group"] {
        assert!(!wire.contains(secret), "{secret} must not leave the desk: {wire}");
    }
    // The same row gives the same bytes, so a resend is `already_held`.
    assert_eq!(outbox::wire_event(&rows[0]).unwrap().content_hash, event.content_hash);
    assert_eq!(event.content_hash, event.body.content_hash());
}

/// The outbox row holds the protocol's body as serde writes it, and the
/// wire event is that row parsed: the row's `content_hash` is the wire's.
#[test]
fn the_outbox_row_is_the_events_body_and_its_hash_is_the_wires() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    issue(&mut store, "Müller", "L898902C3", now()).unwrap();
    let row = pending(&mut store).remove(0);
    let event = outbox::wire_event(&row).unwrap();
    let EventBody::Issued(sent) = &event.body else { panic!("not issued: {event:?}") };
    let stored: protocol::IssuedRecord = serde_json::from_str(&row.payload).unwrap();
    assert_eq!(&stored, sent);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&row.payload).unwrap(), serde_json::to_value(sent).unwrap());
    let hash: String = store
        .connection()
        .query_row("SELECT content_hash FROM outbox WHERE seq = ?1", [row.seq], |r| r.get(0))
        .unwrap();
    assert_eq!(hash, event.content_hash);
}

/// The upgrade to schema version 10 rewrites a row in the loose keys of
/// older desks into the typed body the upload built from it before (the
/// login under the legacy `username` key included), so a row sent before the
/// upgrade and not answered goes out with the same content hash.
#[test]
fn the_upgrade_rewrites_an_old_row_into_the_body_the_upload_built_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    issue(&mut store, "Müller", "L898902C3", now()).unwrap();
    let row = pending(&mut store).remove(0);
    let EventBody::Issued(mut expected) = outbox::wire_event(&row).unwrap().body else { panic!("issued") };
    // The row as a desk before version 10 wrote it.
    store
        .connection()
        .execute(
            "UPDATE outbox SET payload = (SELECT json_object(
                 'record_id', r.id, 'desk_id', 'D1', 'number', r.number, 'birth_date', r.birth_date, 'sex', r.sex,
                 'training', json('false'), 'source', r.source, 'issued_at', r.issued_at, 'issued_by', r.issued_by,
                 'document_key', r.document_key, 'person_key', r.person_key,
                 'registry_document_key', json_extract(o.payload, '$.document_key'),
                 'registry_person_key', json_extract(o.payload, '$.person_key'),
                 'applicant', json(r.applicant), 'username', 'old-name', 'password_hash', 'old-hash')
               FROM record r, outbox o WHERE r.id = o.record_id AND o.seq = ?1), content_hash = 'old'
             WHERE seq = ?1",
            [row.seq],
        )
        .unwrap();
    assert!(outbox::wire_event(&pending(&mut store)[0]).is_err(), "loose keys are no longer read");
    store.bookkeeping(|tx, _| crate::store::schema::typed_outbox(tx)).unwrap();
    expected.jobnet_username = "old-name".into();
    expected.password_hash = "old-hash".into();
    let upgraded = pending(&mut store).remove(0);
    let event = outbox::wire_event(&upgraded).unwrap();
    assert_eq!(event.body, EventBody::Issued(expected));
    let hash: String = store
        .connection()
        .query_row("SELECT content_hash FROM outbox WHERE seq = ?1", [row.seq], |r| r.get(0))
        .unwrap();
    assert_eq!(hash, event.content_hash);
    // Run again (a row already typed), nothing changes.
    store.bookkeeping(|tx, _| crate::store::schema::typed_outbox(tx)).unwrap();
    assert_eq!(pending(&mut store)[0].payload, upgraded.payload);
}

#[test]
fn a_voided_record_goes_on_the_wire_after_its_issue_with_its_replacement() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let a = issue(&mut store, "Berg", "A1111111", now()).unwrap();
    let s = store.sign_in("Ada", "a long enough password", now()).unwrap();
    store.void(&s, &a.record_id, "duplicate", Some("OTHER-7"), now(), Lang::En).unwrap();
    let rows = pending(&mut store);
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["issued", "voided"]);
    let EventBody::Voided(v) = outbox::wire_event(&rows[1]).unwrap().body else { panic!() };
    assert_eq!((v.record_id.as_str(), v.reason.as_str()), (a.record_id.as_str(), "duplicate"));
    assert_eq!(v.replaced_by.as_deref(), Some("OTHER-7"));
}

#[test]
fn an_unreadable_payload_is_not_sendable_and_lands_on_the_refused_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    issue(&mut store, "Berg", "A1111111", now()).unwrap();
    let mut row = pending(&mut store).remove(0);
    row.payload = "{\"record_id\": 7}".into();
    assert_eq!(outbox::wire_event(&row).unwrap_err(), "payload_unreadable");
    row.kind = "teleported".into();
    assert_eq!(outbox::wire_event(&row).unwrap_err(), "kind_unknown");
    store.bookkeeping(|tx, _| outbox::mark_unsendable(tx, &row, "kind_unknown", now())).unwrap();
    let st = status(&mut store, now()).unwrap();
    assert_eq!(st.refused.len(), 1);
    assert_eq!((st.refused[0].outcome.as_str(), st.refused[0].reason.as_deref()), ("unsendable", Some("kind_unknown")));
    assert!(pending(&mut store).is_empty(), "answered rows are not pending");
}

#[test]
fn a_desk_whose_clock_is_behind_the_registrys_last_time_refuses_to_issue_until_it_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let registry_time = now() + ChronoDuration::minutes(10);
    store.bookkeeping(|tx, _| state::note_registry(tx, registry_time, 5)).unwrap();
    let e = issue(&mut store, "Berg", "A1111111", now()).unwrap_err();
    assert!(matches!(e, Error::Issue(IssueError::ClockBehind { .. })), "{e:?}");
    assert!(e.message(Lang::Da).contains(&timestamp(registry_time)));
    assert!(status(&mut store, now()).unwrap().clock_behind);
    // Within the tolerance, and once the clock is right, it issues.
    let nearly = registry_time - ChronoDuration::seconds(CLOCK_TOLERANCE_SECS - 1);
    issue(&mut store, "Berg", "A1111111", nearly).unwrap();
    assert!(!status(&mut store, registry_time).unwrap().clock_behind);
}

#[test]
fn a_later_answer_with_an_older_time_never_moves_the_registry_time_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    store.bookkeeping(|tx, _| state::note_registry(tx, now(), 9)).unwrap();
    store.bookkeeping(|tx, _| state::note_registry(tx, now() - ChronoDuration::hours(1), 3)).unwrap();
    let (t, seq) = store
        .read::<_, crate::store::StoreError>(|tx, _| {
            Ok((state::get_time(tx, state::key::REGISTRY_TIME)?, state::get_i64(tx, state::key::REGISTRY_SEQUENCE)?))
        })
        .unwrap();
    assert_eq!((t, seq), (Some(now()), 9));
}

#[test]
fn a_retired_desk_issues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    store.bookkeeping(|tx, _| state::set(tx, state::key::RETIRED, "true")).unwrap();
    let e = issue(&mut store, "Berg", "A1111111", now()).unwrap_err();
    assert!(matches!(e, Error::Issue(IssueError::DeskRetired)), "{e:?}");
}

#[test]
fn a_training_desk_can_never_sync() {
    let dir = tempfile::tempdir().unwrap();
    let setup = DeskSetup {
        kind: DeskKind::Training,
        municipality: "101",
        office: "Borgerservice Nord",
        desk_number: 3,
        admin_name: "Ada",
        admin_password: "a long enough password",
    };
    let mut store = desk::init(dir.path(), Box::new(Arc::new(MemoryKeyStore::new())), &setup, now(), Lang::En).unwrap();
    let e = client_for(&mut store).unwrap_err();
    assert!(matches!(e, Error::Sync(SyncError::Training)), "{e:?}");
    let client = RegistryClient::unenrolled("http://127.0.0.1:9").unwrap();
    assert!(matches!(run(&mut store, &client), Err(Error::Sync(SyncError::Training))));
    assert!(e.message(Lang::Da).contains("øvelse") || e.message(Lang::Da).to_lowercase().contains("træning"));
}

#[test]
fn an_enrolled_desk_without_a_registry_address_says_it_is_not_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    assert!(matches!(client_for(&mut store), Err(Error::Sync(SyncError::NotEnrolled))));
}

#[test]
fn an_unreachable_registry_leaves_every_event_pending() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    issue(&mut store, "Berg", "A1111111", now()).unwrap();
    // Nothing listens on port 9 of this machine.
    let key = SigningKey::from_bytes(&[7; 32]);
    let client = RegistryClient::new("http://127.0.0.1:9", "D1", key).unwrap().with_backoff(Backoff {
        attempts: 2,
        base: std::time::Duration::from_millis(1),
        cap: std::time::Duration::from_millis(2),
    });
    let e = run(&mut store, &client).unwrap_err();
    assert!(matches!(e, Error::Sync(SyncError::Unreachable { .. })), "{e:?}");
    assert_eq!(pending(&mut store).len(), 1);
    assert!(status(&mut store, now()).unwrap().last_success.is_none());
}

#[test]
fn sync_error_messages_exist_in_both_languages_and_name_the_registrys_problem() {
    let refused = SyncError::Refused { status: 403, code: "desk.retired".into(), detail: None };
    let en = refused.message(Lang::En);
    assert!(en.contains(i18n::text(Lang::En, "protocol.problem.desk.retired")), "{en}");
    let unknown = SyncError::Refused { status: 418, code: "teapot.full".into(), detail: None };
    assert!(unknown.message(Lang::Da).contains("teapot.full"));
    for e in [
        SyncError::Training,
        SyncError::NotEnrolled,
        SyncError::BadUrl { url: "x".into() },
        SyncError::InsecureUrl { url: "x".into() },
        SyncError::Unreachable { detail: "d".into() },
        SyncError::BadAnswer { detail: "d".into() },
    ] {
        for lang in [Lang::Da, Lang::En] {
            let m = e.message(lang);
            assert!(!m.starts_with("sync."), "{m}");
        }
    }
    assert!(SyncError::Unreachable { detail: String::new() }.retryable());
    assert!(!SyncError::Refused { status: 401, code: "auth.signature".into(), detail: None }.retryable());
    assert!(SyncError::Refused { status: 503, code: "internal.database".into(), detail: None }.retryable());
}
