//! Unit tests of the desk side that need no registry: the wire form of
//! outbox events, the issuing checks, and refusals. The end-to-end tests
//! against a real registry live in `crates/registry/tests/`.

use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};

use super::*;
use crate::applicant::Applicant;
use crate::desk::{DeskKind, DeskSetup};
use crate::i18n;
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
    applicant_born(surname, doc, "1974-08-12")
}

fn applicant_born(surname: &str, doc: &str, birth_date: &str) -> Applicant {
    let v = serde_json::json!({
      "given_names": "Anna Maria", "surname": surname, "birth_date": birth_date, "sex": "F",
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
    Ok(store.issue_applicant(&s, &applicant(surname, doc), today(), at, Lang::En, None, None).map(|(i, _)| i)?)
}

fn seen(time: DateTime<Utc>, sequence: i64) -> state::Seen {
    state::Seen { time: Some(time), sequence, receipt: None }
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
    store.bookkeeping(|tx, _| state::note_seen(tx, &seen(registry_time, 5))).unwrap();
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
    store.bookkeeping(|tx, _| state::note_seen(tx, &seen(now(), 9))).unwrap();
    store.bookkeeping(|tx, _| state::note_seen(tx, &seen(now() - ChronoDuration::hours(1), 3))).unwrap();
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

// ------------------------------------------------------------ trust rules

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use ed25519_dalek::Signer;

use super::client::{check_signature, check_time, AnswerHeaders};
use crate::protocol::trust::{self as wire_trust, header as answer_header, SeqRange};
use crate::protocol::{AllocateResponse, UploadRequest};

fn registry_key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn public(key: &SigningKey) -> [u8; 32] {
    key.verifying_key().to_bytes()
}

/// The answer headers `key` puts on an answer to `nonce`.
fn signed_by(key: &SigningKey, nonce: &str, status: u16, body: &[u8]) -> Vec<(String, String)> {
    let signature = key.sign(&wire_trust::answer_signing_message(nonce, status, body));
    vec![
        (answer_header::ANSWER_SIGNATURE.into(), hex::encode(signature.to_bytes())),
        (answer_header::REGISTRY_KEY.into(), hex::encode(public(key))),
    ]
}

/// `old`'s endorsement of `new` until `until`, as headers.
fn endorsed(old: &SigningKey, new: &SigningKey, until: i64) -> Vec<(String, String)> {
    let endorsement = old.sign(&wire_trust::endorsement_message(&public(new), until));
    vec![
        (answer_header::KEY_ENDORSEMENT.into(), hex::encode(endorsement.to_bytes())),
        (answer_header::KEY_ENDORSED_UNTIL.into(), until.to_string()),
    ]
}

fn headers(list: &[(String, String)]) -> AnswerHeaders<'_> {
    let find = |name: &str| list.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    AnswerHeaders {
        signature: find(answer_header::ANSWER_SIGNATURE),
        key: find(answer_header::REGISTRY_KEY),
        endorsement: find(answer_header::KEY_ENDORSEMENT),
        endorsed_until: find(answer_header::KEY_ENDORSED_UNTIL),
    }
}

#[test]
fn an_answer_is_believed_only_when_the_pinned_key_signed_its_nonce_status_and_body() {
    let key = registry_key(1);
    let pinned = public(&key);
    let body = br#"{"records_held":3}"#;
    let signed = signed_by(&key, "n1", 200, body);
    let check = |nonce: &str, status: u16, h: &[(String, String)], body: &[u8]| {
        check_signature(Some(&pinned), nonce, status, &headers(h), body, now())
    };
    assert_eq!(check("n1", 200, &signed, body).unwrap(), (pinned, None));
    assert!(matches!(check("n1", 200, &[], body), Err(SyncError::AnswerUnsigned)));
    let mut changed = body.to_vec();
    changed[3] ^= 1;
    assert!(matches!(check("n1", 200, &signed, &changed), Err(SyncError::AnswerForged)), "a changed body byte");
    assert!(matches!(check("n2", 200, &signed, body), Err(SyncError::AnswerForged)), "an answer to another request");
    assert!(matches!(check("n1", 403, &signed, body), Err(SyncError::AnswerForged)), "another status");
    let mut no_key = signed.clone();
    no_key[1].1 = "not a key".into();
    assert!(matches!(check("n1", 200, &no_key, body), Err(SyncError::AnswerForged)));
    // Someone else's key, however well it signs, is not the registry's.
    let other = registry_key(2);
    let e = check("n1", 200, &signed_by(&other, "n1", 200, body), body).unwrap_err();
    assert!(
        matches!(&e, SyncError::RegistryKeyMismatch { fingerprint } if *fingerprint == wire_trust::key_fingerprint(&public(&other))),
        "{e:?}"
    );
}

#[test]
fn a_new_key_is_trusted_only_while_the_pinned_key_endorses_it() {
    let (old, new) = (registry_key(1), registry_key(2));
    let body = b"{}";
    let check = |h: Vec<(String, String)>| check_signature(Some(&public(&old)), "n", 200, &headers(&h), body, now());
    let until = now().timestamp() + 86_400;
    let moved = check([signed_by(&new, "n", 200, body), endorsed(&old, &new, until)].concat()).unwrap();
    assert_eq!(moved, (public(&new), Some(KeyChange::Rotation)));
    let ended = now().timestamp() - 1;
    let e = check([signed_by(&new, "n", 200, body), endorsed(&old, &new, ended)].concat()).unwrap_err();
    assert!(matches!(e, SyncError::RegistryKeyExpired { until } if until.timestamp() == ended), "{e:?}");
    // The new key vouching for itself, or the old one for a third key, is no endorsement.
    let e = check([signed_by(&new, "n", 200, body), endorsed(&new, &new, until)].concat()).unwrap_err();
    assert!(matches!(e, SyncError::RegistryKeyMismatch { .. }), "{e:?}");
    let e = check([signed_by(&new, "n", 200, body), endorsed(&old, &registry_key(3), until)].concat()).unwrap_err();
    assert!(matches!(e, SyncError::RegistryKeyMismatch { .. }), "{e:?}");
    // An end changed in flight breaks the endorsement.
    let mut stretched = [signed_by(&new, "n", 200, body), endorsed(&old, &new, ended)].concat();
    stretched[3].1 = until.to_string();
    assert!(matches!(check(stretched).unwrap_err(), SyncError::RegistryKeyMismatch { .. }));
    // An endorsed key's answer must still verify.
    let mut forged = [signed_by(&new, "n", 200, body), endorsed(&old, &new, until)].concat();
    forged[0].1 = hex::encode(new.sign(b"something else").to_bytes());
    assert!(matches!(check(forged).unwrap_err(), SyncError::AnswerForged));
}

#[test]
fn a_desk_with_nothing_pinned_pins_the_first_key_whose_signature_verifies() {
    let key = registry_key(4);
    let body = b"{}";
    let first = check_signature(None, "n", 200, &headers(&signed_by(&key, "n", 200, body)), body, now()).unwrap();
    assert_eq!(first, (public(&key), Some(KeyChange::FirstUse)));
    let unsigned = check_signature(None, "n", 200, &headers(&[]), body, now());
    assert!(matches!(unsigned, Err(SyncError::AnswerUnsigned)));
    let forged = check_signature(None, "n", 200, &headers(&signed_by(&key, "n", 200, b"[]")), body, now());
    assert!(matches!(forged, Err(SyncError::AnswerForged)));
}

#[test]
fn a_registry_time_far_ahead_of_both_the_desks_clock_and_the_last_accepted_time_is_refused() {
    let limit = ChronoDuration::seconds(wire_trust::MAX_REGISTRY_TIME_AHEAD_SECS);
    let far = now() + ChronoDuration::days(365);
    assert!(
        matches!(check_time(far, None, now()), Err(SyncError::RegistryTimeAhead { registry_time }) if registry_time == far)
    );
    assert!(matches!(check_time(far, Some(now()), now()), Err(SyncError::RegistryTimeAhead { .. })));
    assert!(check_time(now() + limit, None, now()).is_ok(), "up to the limit");
    assert!(check_time(now() + limit + ChronoDuration::seconds(1), Some(now() - limit), now()).is_err());
    // A desk whose clock is behind still follows a registry time near the last one it accepted.
    let last = now() + ChronoDuration::hours(5);
    assert!(check_time(last + ChronoDuration::minutes(10), Some(last), now()).is_ok());
}

// ----------------------------------------------- a registry on loopback

/// A request as the stand-in registry received it.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    nonce: String,
    body: Vec<u8>,
}

/// What the stand-in answers: status, body and headers (the test signs).
struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

type Handler = Box<dyn FnMut(&Received) -> Reply + Send>;

/// A registry stand-in on loopback that answers as the test scripts:
/// enough HTTP/1.1 for the desk's client, one connection at a time.
struct FakeRegistry {
    url: String,
    stop: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<Received>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeRegistry {
    fn start(mut handler: Handler) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (stop.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.is_empty() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let (mut length, mut nonce) = (0usize, String::new());
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    let h = h.trim_end();
                    if h.is_empty() {
                        break;
                    }
                    let (name, value) = h.split_once(':').unwrap();
                    match name.trim().to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        n if n == crate::protocol::header::NONCE => nonce = value.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                let request = Received { path, nonce, body };
                r.lock().unwrap().push(request.clone());
                let reply = handler(&request);
                let mut out = format!("HTTP/1.1 {} X\r\ncontent-type: application/json\r\n", reply.status);
                for (k, v) in &reply.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", reply.body.len()));
                let mut stream = stream;
                let _ = stream.write_all(out.as_bytes());
                let _ = stream.write_all(&reply.body);
            }
        });
        FakeRegistry { url, stop, received, thread: Some(thread) }
    }

    fn paths(&self) -> Vec<String> {
        self.received.lock().unwrap().iter().map(|r| r.path.clone()).collect()
    }

    fn requests(&self, path: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How the honest stand-in behaves, changeable while it runs.
struct Script {
    key: SigningKey,
    /// Extra headers on every answer (an endorsement).
    extra: Vec<(String, String)>,
    sequence: i64,
    registry_time: DateTime<Utc>,
    /// `awaited` on the first this many sync answers.
    awaited: Option<(Awaited, usize)>,
    /// Refuses a claim above its sequence (no receipt it believes).
    claim_refused: bool,
    /// Changes the body after signing (a tampering hop).
    tamper: bool,
    unsigned: bool,
    /// A lease answer binds this unit.
    lease_unit: Option<LeaseUnit>,
}

impl Script {
    fn new(key: SigningKey) -> Script {
        Script {
            key,
            extra: Vec::new(),
            sequence: 100,
            registry_time: Utc::now(),
            awaited: None,
            claim_refused: false,
            tamper: false,
            unsigned: false,
            lease_unit: None,
        }
    }

    fn receipt(&self) -> String {
        hex::encode(self.key.sign(&wire_trust::receipt_message("D1", self.sequence)).to_bytes())
    }

    fn reply(&mut self, request: &Received) -> Reply {
        let bindings = |units: &[LeaseUnit]| -> Vec<Binding> {
            units.iter().map(|u| Binding { unit: *u, bound_at: Utc::now(), used: Vec::new() }).collect()
        };
        let body = match request.path.as_str() {
            "/v1/sync" => {
                let asked: SyncRequest = serde_json::from_slice(&request.body).unwrap();
                let units: Vec<LeaseUnit> = asked.units.iter().map(|u| u.unit).collect();
                let awaited = match &mut self.awaited {
                    Some((a, n)) if *n > 0 => {
                        *n -= 1;
                        Some(a.clone())
                    }
                    _ => None,
                };
                serde_json::to_vec(&SyncAnswer {
                    desk_id: "D1".into(),
                    retired: false,
                    reconciling: awaited.is_some(),
                    records_held: asked.records_issued,
                    // As the registry does: only a claim above its own sequence can be refused.
                    claim_refused: self.claim_refused && asked.highest_sequence_seen > self.sequence,
                    awaited,
                    municipality_settings: None,
                    minimum_desk_version: None,
                    bindings: bindings(&units),
                    record_states: Vec::new(),
                    notices: Vec::new(),
                    registry_time: self.registry_time,
                    registry_sequence: self.sequence,
                    sequence_receipt: self.receipt(),
                })
            }
            "/v1/events" => {
                let upload: UploadRequest = serde_json::from_slice(&request.body).unwrap();
                self.sequence += 1;
                serde_json::to_vec(&UploadResponse {
                    results: upload
                        .events
                        .iter()
                        .map(|e| protocol::EventResult {
                            idempotency_key: e.idempotency_key.clone(),
                            outcome: Outcome::Accepted,
                            reason: None,
                        })
                        .collect(),
                    registry_time: self.registry_time,
                    registry_sequence: self.sequence,
                    sequence_receipt: self.receipt(),
                })
            }
            "/v1/allocate" => serde_json::to_vec(&AllocateResponse {
                number: "120874-1234".into(),
                passes_modulus11: false,
                registry_time: self.registry_time,
                registry_sequence: self.sequence,
                sequence_receipt: self.receipt(),
            }),
            "/v1/lease" => serde_json::to_vec(&LeaseResponse {
                granted: self.lease_unit.into_iter().collect(),
                bindings: bindings(&self.lease_unit.into_iter().collect::<Vec<_>>()),
                registry_time: self.registry_time,
                registry_sequence: self.sequence,
                sequence_receipt: self.receipt(),
            }),
            other => panic!("the stand-in does not serve {other}"),
        }
        .unwrap();
        let mut headers = if self.unsigned { Vec::new() } else { signed_by(&self.key, &request.nonce, 200, &body) };
        headers.extend(self.extra.iter().cloned());
        let mut body = body;
        if self.tamper {
            // The hop turns "retired":false into "retired":true, byte for byte as long.
            let text = String::from_utf8(body).unwrap().replace("\"retired\":false", "\"retired\":true ");
            body = text.into_bytes();
        }
        Reply { status: 200, body, headers }
    }
}

fn fake_registry(script: Arc<Mutex<Script>>) -> FakeRegistry {
    FakeRegistry::start(Box::new(move |r| script.lock().unwrap().reply(r)))
}

/// The test desk's client of the stand-in (the desk's own signing key does
/// not matter to it).
fn client_of(fake: &FakeRegistry) -> RegistryClient {
    RegistryClient::new(&fake.url, "D1", SigningKey::from_bytes(&[7; 32])).unwrap().with_backoff(Backoff {
        attempts: 1,
        base: std::time::Duration::from_millis(1),
        cap: std::time::Duration::from_millis(1),
    })
}

fn pin(store: &mut Store, key: &SigningKey) {
    store.keystore().set("D1", REGISTRY_KEY, &hex::encode(public(key))).unwrap();
}

fn pinned(store: &mut Store) -> Option<String> {
    store.keystore().get("D1", REGISTRY_KEY).unwrap()
}

/// The desk's audit entries with this action: their details.
fn audited(store: &mut Store, action: &str) -> Vec<String> {
    let conn = store.connection();
    let mut stmt = conn.prepare("SELECT coalesce(detail, '') FROM audit WHERE action = ?1 ORDER BY seq").unwrap();
    stmt.query_map([action], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
}

fn stored_seen(store: &mut Store) -> state::Seen {
    store.read(|tx, _| state::seen(tx)).unwrap()
}

#[test]
fn every_request_carries_a_nonce_and_a_sync_reports_what_the_desk_has_seen_before_it_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let key = registry_key(1);
    pin(&mut store, &key);
    let script = Arc::new(Mutex::new(Script::new(key.clone())));
    let fake = fake_registry(script.clone());
    issue(&mut store, "Berg", "A1111111", now()).unwrap();
    let receipt = hex::encode(key.sign(&wire_trust::receipt_message("D1", 40)).to_bytes());
    store
        .bookkeeping(|tx, _| {
            state::note_seen(tx, &state::Seen { time: None, sequence: 40, receipt: Some(receipt.clone()) })
        })
        .unwrap();
    let report = run(&mut store, &client_of(&fake)).unwrap();
    assert_eq!((report.pending, report.accepted), (0, report.uploaded), "{report:?}");
    let paths = fake.paths();
    assert_eq!(paths.first().map(String::as_str), Some("/v1/sync"), "the report comes first: {paths:?}");
    assert!(paths.iter().position(|p| p == "/v1/events") > Some(0), "{paths:?}");
    let first: SyncRequest = serde_json::from_slice(&fake.requests("/v1/sync")[0].body).unwrap();
    assert_eq!((first.highest_sequence_seen, first.sequence_receipt.as_deref()), (40, Some(receipt.as_str())));
    let nonces: HashSet<String> = fake.received.lock().unwrap().iter().map(|r| r.nonce.clone()).collect();
    assert_eq!(nonces.len(), paths.len(), "a fresh nonce on every request");
    assert!(nonces.iter().all(|n| n.len() == 32));
    // The highest signed sequence is kept with its receipt.
    let seen = stored_seen(&mut store);
    let latest = script.lock().unwrap().sequence;
    assert_eq!((seen.sequence, seen.receipt), (latest, Some(script.lock().unwrap().receipt())));
    assert!(audited(&mut store, "registry.answer_refused").is_empty());
    assert!(audited(&mut store, "registry.key_pinned").is_empty(), "the pin did not move");
}

#[test]
fn an_unsigned_a_tampered_or_a_far_future_answer_is_refused_audited_and_nothing_in_it_is_stored() {
    for (case, expect) in [
        ("unsigned", "sync.answer_unsigned"),
        ("tampered", "sync.answer_forged"),
        ("foreign key", "sync.registry_key_mismatch"),
        ("time ahead", "sync.registry_time_ahead"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = desk(dir.path());
        pin(&mut store, &registry_key(1));
        let mut script = Script::new(registry_key(if case == "foreign key" { 9 } else { 1 }));
        match case {
            "unsigned" => script.unsigned = true,
            "tampered" => script.tamper = true,
            "time ahead" => script.registry_time = Utc::now() + ChronoDuration::days(365),
            _ => {}
        }
        let fake = fake_registry(Arc::new(Mutex::new(script)));
        let before = stored_seen(&mut store);
        let e = run(&mut store, &client_of(&fake)).unwrap_err();
        let Error::Sync(e) = e else { panic!("{case}: {e:?}") };
        assert_eq!(e.code(), expect, "{case}");
        assert!(!e.retryable() && !e.is_refusal(), "{case}: a machine or network problem, not retried");
        assert_eq!(fake.paths(), ["/v1/sync"], "{case}: nothing more is asked or uploaded");
        assert_eq!(audited(&mut store, "registry.answer_refused"), [expect], "{case}");
        assert_eq!(stored_seen(&mut store), before, "{case}: neither time nor sequence is kept");
        assert!(!status(&mut store, Utc::now()).unwrap().retired, "{case}: the tampered retirement is not obeyed");
        assert_eq!(pinned(&mut store), Some(hex::encode(public(&registry_key(1)))), "{case}: the pin stays");
        for lang in [Lang::Da, Lang::En] {
            assert!(!e.message(lang).starts_with("sync."), "{case}: {}", e.message(lang));
        }
    }
}

#[test]
fn a_desk_with_no_pinned_key_pins_the_registrys_at_the_next_sync_and_follows_an_endorsed_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let (old, new) = (registry_key(1), registry_key(2));
    let script = Arc::new(Mutex::new(Script::new(old.clone())));
    let fake = fake_registry(script.clone());
    run(&mut store, &client_of(&fake)).unwrap();
    assert_eq!(pinned(&mut store), Some(hex::encode(public(&old))));
    assert_eq!(audited(&mut store, "registry.key_pinned"), ["first_use"]);

    // The registry rotates; while the old key endorses the new one, the desk follows.
    {
        let mut s = script.lock().unwrap();
        s.key = new.clone();
        s.extra = endorsed(&old, &new, Utc::now().timestamp() + 3600);
    }
    run(&mut store, &client_of(&fake)).unwrap();
    assert_eq!(pinned(&mut store), Some(hex::encode(public(&new))));
    assert_eq!(audited(&mut store, "registry.key_pinned"), ["first_use", "rotation"]);
    // After the overlap the new key alone is enough, and nothing moves.
    script.lock().unwrap().extra.clear();
    run(&mut store, &client_of(&fake)).unwrap();
    assert_eq!(audited(&mut store, "registry.key_pinned").len(), 2);

    // A third key without an endorsement by the pinned one is refused.
    script.lock().unwrap().key = registry_key(3);
    let e = run(&mut store, &client_of(&fake)).unwrap_err();
    assert!(matches!(e, Error::Sync(SyncError::RegistryKeyMismatch { .. })), "{e:?}");
    assert_eq!(pinned(&mut store), Some(hex::encode(public(&new))));
}

#[test]
fn an_allocation_or_a_lease_signed_with_a_sequence_below_the_highest_seen_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let key = registry_key(1);
    pin(&mut store, &key);
    store.bookkeeping(|tx, _| state::note_seen(tx, &seen(now(), 50))).unwrap();
    let mut script = Script::new(key);
    script.sequence = 10;
    script.lease_unit = Block::default_block().units().nth(60);
    let script = Arc::new(Mutex::new(script));
    let fake = fake_registry(script.clone());
    let client = client_for_test(&mut store, &fake);
    let e = client
        .post::<_, AllocateResponse>(
            "/v1/allocate",
            &protocol::AllocateRequest {
                idempotency_key: "k".into(),
                birth_date: today(),
                sex: crate::cpr::Sex::Female,
            },
            std::time::Duration::from_secs(5),
            client::Retry::Once,
        )
        .unwrap_err();
    assert!(matches!(e, SyncError::RegistryBehind { seen: 50, answered: 10 }), "{e:?}");
    // At the counter the issue goes on from the lease.
    let online = HttpAllocator::new(&client);
    let s = store.sign_in("Ada", "a long enough password", now()).unwrap();
    let (issued, _) = store
        .issue_applicant(&s, &applicant("Berg", "A1111111"), today(), Utc::now(), Lang::En, Some(&online), None)
        .unwrap();
    assert_eq!(issued.source, crate::alloc::NumberSource::Lease);
    online.remember(&mut store).unwrap();
    assert_eq!(stored_seen(&mut store).sequence, 50, "the lower sequence is not kept");
    // A lease from it adds no unit.
    let units = store.lease_status().unwrap().units;
    store
        .bookkeeping(|tx, _| tx.execute("UPDATE lease_unit SET frozen = 1", []).map(|_| ()).map_err(StoreError::from))
        .unwrap();
    assert_eq!(top_up(&mut store, &client, Utc::now()).unwrap(), 0);
    assert!(store.lease_status().unwrap().units < units);

    // The same registry, caught up: its number is used.
    script.lock().unwrap().sequence = 60;
    let (issued, _) = store
        .issue_applicant(&s, &applicant("Holm", "B2222222"), today(), Utc::now(), Lang::En, Some(&online), None)
        .unwrap();
    assert_eq!(issued.source, crate::alloc::NumberSource::Online);
    assert_eq!(issued.number.to_string(), "120874-1234");
    online.remember(&mut store).unwrap();
    assert_eq!(stored_seen(&mut store).sequence, 60);
}

/// A client that knows what the store knows, as `client_for` makes it.
fn client_for_test(store: &mut Store, fake: &FakeRegistry) -> RegistryClient {
    let client = client_of(fake);
    load_trust(store, &client).unwrap();
    client
}

#[test]
fn a_refused_claim_is_dropped_for_the_registrys_signed_sequence_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let key = registry_key(1);
    pin(&mut store, &key);
    // A sequence with no receipt (a desk enrolled before receipts, or one somebody wrote in).
    store.bookkeeping(|tx, _| state::note_seen(tx, &seen(now(), 9_000))).unwrap();
    let mut script = Script::new(key);
    script.claim_refused = true;
    script.sequence = 120;
    let script = Arc::new(Mutex::new(script));
    let fake = fake_registry(script.clone());
    let report = run(&mut store, &client_of(&fake)).unwrap();
    assert!(report.claim_refused);
    let syncs = fake.requests("/v1/sync");
    let first: SyncRequest = serde_json::from_slice(&syncs[0].body).unwrap();
    assert_eq!((first.highest_sequence_seen, first.sequence_receipt), (9_000, None));
    let second: SyncRequest = serde_json::from_slice(&syncs[1].body).unwrap();
    assert!(second.highest_sequence_seen < 9_000 && second.sequence_receipt.is_some(), "{second:?}");
    let seen = stored_seen(&mut store);
    assert_eq!(seen.sequence, script.lock().unwrap().sequence);
    assert!(seen.receipt.is_some());
    assert_eq!(audited(&mut store, "registry.claim_refused"), ["claimed:9000 answered:120"]);
    // And the registry's allocations are used again.
    let client = client_for_test(&mut store, &fake);
    let s = store.sign_in("Ada", "a long enough password", now()).unwrap();
    let online = HttpAllocator::new(&client);
    let (issued, _) = store
        .issue_applicant(&s, &applicant("Berg", "A1111111"), today(), Utc::now(), Lang::En, Some(&online), None)
        .unwrap();
    assert_eq!(issued.source, crate::alloc::NumberSource::Online);
}

/// Three records issued, one voided, all answered; the audit log sent.
fn answered_desk(dir: &std::path::Path) -> Store {
    let mut store = desk(dir);
    let s = store.sign_in("Ada", "a long enough password", now()).unwrap();
    for (name, doc, born) in
        [("Berg", "A1111111", "1974-08-12"), ("Holm", "B2222222", "1975-03-02"), ("Lund", "C3333333", "1976-11-30")]
    {
        store.issue_applicant(&s, &applicant_born(name, doc, born), today(), now(), Lang::En, None, None).unwrap();
    }
    store.void(&s, "D1-2", "clerk_error", None, now(), Lang::En).unwrap();
    let head = store.audit_head().unwrap().seq;
    store
        .bookkeeping(|tx, _| {
            tx.execute("UPDATE outbox SET outcome = 'accepted', sent_at = ?1", [timestamp(now())])?;
            // One of record 3's rows was refused: it stays on the supervisor's list as it is.
            tx.execute("UPDATE outbox SET outcome = 'conflict' WHERE record_id = 'D1-3'", [])?;
            state::set(tx, state::key::AUDIT_SENT, &head.to_string())
        })
        .unwrap();
    store
}

fn unanswered(store: &mut Store) -> Vec<String> {
    pending(store).into_iter().map(|p| p.key).collect()
}

#[test]
fn awaited_records_have_exactly_their_answered_rows_sent_again_and_the_audit_cursor_goes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = answered_desk(dir.path());
    let head = store.audit_head().unwrap().seq;
    let awaited = Awaited { missing_records: vec![SeqRange { first: 2, last: 3 }], events_held: 1, audit_seq: 2 };
    let marked = store.bookkeeping(|tx, _| outbox::mark_awaited(tx, &awaited, false)).unwrap();
    assert_eq!(unanswered(&mut store), ["D1-2/issued", "D1-2/voided"], "record 3's refused row stays answered");
    assert_eq!(marked, outbox::Resend { records: 1, events: 2, refused: 0, audit_from: Some(2) });
    let cursor = store.read(|tx, _| state::get_i64(tx, state::key::AUDIT_SENT)).unwrap();
    assert_eq!(cursor, 2);
    assert!(head > 2);

    // The registry holds fewer events than the desk still counts as held: every answered row goes again.
    let mut store = answered_desk(tempfile::tempdir().unwrap().path());
    let awaited = Awaited { missing_records: Vec::new(), events_held: 0, audit_seq: 999_999 };
    let marked = store.bookkeeping(|tx, _| outbox::mark_awaited(tx, &awaited, false)).unwrap();
    assert_eq!(unanswered(&mut store), ["D1-1/issued", "D1-2/issued", "D1-2/voided"]);
    assert_eq!(
        marked,
        outbox::Resend { records: 0, events: 3, refused: 0, audit_from: None },
        "the cursor never moves forward"
    );

    // Holding as many as the desk counts: nothing more is marked.
    let mut store = answered_desk(tempfile::tempdir().unwrap().path());
    let awaited = Awaited { missing_records: Vec::new(), events_held: 3, audit_seq: 999_999 };
    assert!(store.bookkeeping(|tx, _| outbox::mark_awaited(tx, &awaited, false)).unwrap().is_empty());
    assert!(unanswered(&mut store).is_empty());
}

/// A record an unproven restore made the registry refuse as
/// `number_not_held` goes again only while the registry reconciles (when it
/// can re-learn the number); a record refused for anything else never does;
/// once taken, it leaves the refused list.
#[test]
fn a_record_refused_as_number_not_held_is_sent_again_only_while_the_registry_reconciles() {
    let mut store = answered_desk(tempfile::tempdir().unwrap().path());
    store
        .bookkeeping(|tx, _| {
            for (record, reason) in [("D1-3", "number_not_held"), ("D1-1", "password_hash")] {
                tx.execute("UPDATE outbox SET outcome = 'invalid' WHERE record_id = ?1 AND kind = 'issued'", [record])?;
                let key = format!("{record}/issued");
                outbox::keep_refused(tx, &key, "issued", Some(record), "invalid", Some(reason), now())?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    // The registry holds the other rows (events_held), and misses records 1 and 3.
    let awaited = Awaited {
        missing_records: vec![SeqRange { first: 1, last: 1 }, SeqRange { first: 3, last: 3 }],
        events_held: 2,
        audit_seq: 999_999,
    };
    assert!(store.bookkeeping(|tx, _| outbox::mark_awaited(tx, &awaited, false)).unwrap().is_empty());
    assert!(unanswered(&mut store).is_empty(), "not while the registry does not reconcile");

    let marked = store.bookkeeping(|tx, _| outbox::mark_awaited(tx, &awaited, true)).unwrap();
    assert_eq!(unanswered(&mut store), ["D1-3/issued"], "only the number_not_held refusal goes again");
    assert_eq!(marked, outbox::Resend { records: 1, events: 1, refused: 1, audit_from: None });
    assert_eq!(marked.detail(), "records:1 events:1 refused:1");

    let sent = pending(&mut store);
    let results = [crate::protocol::EventResult {
        idempotency_key: sent[0].key.clone(),
        outcome: Outcome::Accepted,
        reason: None,
    }];
    let mut tally = outbox::Tally::default();
    store.bookkeeping(|tx, _| outbox::apply_outbox_results(tx, &sent, &results, now(), &mut tally)).unwrap();
    let refused: Vec<String> = store
        .read(|tx, _| {
            let mut st = tx.prepare("SELECT record_id FROM refused_event ORDER BY record_id")?;
            let rows = st.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok::<_, StoreError>(rows)
        })
        .unwrap();
    assert_eq!(refused, ["D1-1"], "the record taken left the refused list; the other stays");
}

#[test]
fn one_sync_resends_what_the_restored_registry_awaits_and_audits_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = answered_desk(dir.path());
    let key = registry_key(1);
    pin(&mut store, &key);
    let mut script = Script::new(key);
    let awaited = Awaited { missing_records: vec![SeqRange { first: 1, last: 1 }], events_held: 2, audit_seq: 1 };
    script.awaited = Some((awaited, 1));
    let fake = fake_registry(Arc::new(Mutex::new(script)));
    let report = run(&mut store, &client_of(&fake)).unwrap();
    assert_eq!((report.resent, report.pending, report.reconciling), (1, 0, false), "{report:?}");
    let uploads: Vec<UploadRequest> =
        fake.requests("/v1/events").iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    let keys: Vec<String> = uploads.iter().flat_map(|u| u.events.iter().map(|e| e.idempotency_key.clone())).collect();
    assert_eq!(keys.first().map(String::as_str), Some("D1-1/issued"), "{keys:?}");
    assert!(keys.contains(&"audit/2".to_string()), "the audit log from the registry's last link: {keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("D1-2")), "{keys:?}");
    assert_eq!(audited(&mut store, "sync.resend"), ["records:1 events:1 audit_after:1"]);
    let paths = fake.paths();
    assert_eq!(paths.iter().filter(|p| *p == "/v1/sync").count(), 2, "the report, then the reconcile: {paths:?}");

    // A registry that still awaits after the resend gets another round in
    // the same run, and the run stops after a bounded number of rounds.
    let dir = tempfile::tempdir().unwrap();
    let mut store = answered_desk(dir.path());
    pin(&mut store, &registry_key(1));
    let mut script = Script::new(registry_key(1));
    let awaited = Awaited { missing_records: vec![SeqRange { first: 1, last: 1 }], events_held: 2, audit_seq: 0 };
    script.awaited = Some((awaited, usize::MAX));
    let fake = fake_registry(Arc::new(Mutex::new(script)));
    let report = run(&mut store, &client_of(&fake)).unwrap();
    let syncs = fake.paths().iter().filter(|p| *p == "/v1/sync").count();
    assert_eq!(syncs, 1 + RESEND_ROUNDS, "{:?}", fake.paths());
    assert_eq!(report.resent, RESEND_ROUNDS as u64, "{report:?}");
    assert!(report.reconciling);
}

#[test]
fn the_new_sync_errors_have_messages_in_both_languages() {
    for e in [
        SyncError::EnrolmentCodeFormat,
        SyncError::AnswerUnsigned,
        SyncError::AnswerForged,
        SyncError::RegistryKeyMismatch { fingerprint: "23456789ABCDEFGH".into() },
        SyncError::RegistryKeyExpired { until: now() },
        SyncError::RegistryTimeAhead { registry_time: now() },
        SyncError::RegistryBehind { seen: 50, answered: 10 },
    ] {
        for lang in [Lang::Da, Lang::En] {
            let m = e.message(lang);
            assert!(!m.starts_with("sync.") && !m.contains('{'), "{m}");
        }
        assert!(!e.retryable(), "{e:?}");
    }
    assert!(SyncError::RegistryKeyMismatch { fingerprint: "23456789ABCDEFGH".into() }
        .message(Lang::En)
        .contains("2345-6789-ABCD-EFGH"));
    assert!(SyncError::RegistryBehind { seen: 50, answered: 10 }.message(Lang::Da).contains("50"));
}

#[test]
fn an_enrolment_code_without_its_fingerprint_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeRegistry::start(Box::new(|_| panic!("nothing may be sent")));
    let e = enrol(
        dir.path(),
        Box::new(Arc::new(MemoryKeyStore::new())),
        &Enrolment {
            registry_url: &fake.url,
            enrolment_code: "ABCD-EFGH-JKMN-PQRS",
            admin_name: "Ada",
            admin_password: "a long enough password",
        },
        now(),
        Lang::En,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Sync(SyncError::EnrolmentCodeFormat)), "{e:?}");
    assert!(e.is_refusal());
    assert!(fake.paths().is_empty());
}

#[test]
fn a_refusal_is_read_only_when_signed_and_an_unsigned_gateway_error_is_only_unreachable() {
    let key = registry_key(1);
    let problem =
        br#"{"type":"urn:skranke:problem:desk.retired","title":"retired","status":403,"code":"desk.retired"}"#;
    for (status, sign, expect) in
        [(403, true, "sync.refused"), (403, false, "sync.answer_unsigned"), (503, false, "sync.unreachable")]
    {
        let dir = tempfile::tempdir().unwrap();
        let mut store = desk(dir.path());
        pin(&mut store, &key);
        let k = key.clone();
        let fake = FakeRegistry::start(Box::new(move |r| Reply {
            status,
            body: problem.to_vec(),
            headers: if sign { signed_by(&k, &r.nonce, status, problem) } else { Vec::new() },
        }));
        let Err(Error::Sync(e)) = run(&mut store, &client_of(&fake)) else { panic!("{status} {sign}: not refused") };
        assert_eq!(e.code(), expect, "{status} signed:{sign}");
        if let SyncError::Refused { code, .. } = &e {
            assert_eq!(code, "desk.retired");
        }
        // Only an answer the desk refused to believe is audited as one.
        let refused = audited(&mut store, "registry.answer_refused");
        assert_eq!(refused.len(), usize::from(expect == "sync.answer_unsigned"), "{status} signed:{sign}");
    }
}

/// Issue 17, finding 2: a desk copied from another reuses record IDs, so
/// the registry refuses the copy's `issued` event (`conflict`: it holds the
/// original desk's record under the ID) and later sends that record's
/// `registered` under the same ID. The copy's record is not marked
/// registered by it (and what the report before the upload told it, when
/// the refusal had not come yet, is forgotten): it stays refused, with no
/// registry state and no `confirmed_at`, and retention
/// does not erase it; a record of the same desk the registry took is
/// registered and erased as before.
#[test]
fn a_state_sent_under_the_id_of_a_record_whose_issue_was_refused_does_not_confirm_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = desk(dir.path());
    let key = registry_key(1);
    pin(&mut store, &key);
    let refused = issue(&mut store, "Berg", "A1111111", now()).unwrap().record_id;
    let taken = issue(&mut store, "Holm", "B2222222", now()).unwrap().record_id;
    let script = Arc::new(Mutex::new(Script::new(key.clone())));
    let change = |id: &str, state: RecordState, sequence: i64| protocol::RecordStateChange {
        record_id: id.to_string(),
        state,
        sequence,
        downstream_refusal: None,
    };
    // The states the stand-in's sync answers carry: at first the other
    // record, received, which the report before the upload hears of.
    let states = Arc::new(Mutex::new(vec![change(&refused, RecordState::Received, 5)]));
    let (answered, refused_key) = (states.clone(), format!("{refused}/issued"));
    let fake = FakeRegistry::start(Box::new(move |r| {
        let mut reply = script.lock().unwrap().reply(r);
        reply.body = match r.path.as_str() {
            "/v1/events" => {
                let mut answer: UploadResponse = serde_json::from_slice(&reply.body).unwrap();
                for result in answer.results.iter_mut().filter(|e| e.idempotency_key == refused_key) {
                    result.outcome = Outcome::Conflict;
                    result.reason = Some("record_conflict".into());
                }
                serde_json::to_vec(&answer).unwrap()
            }
            "/v1/sync" => {
                let mut answer: SyncAnswer = serde_json::from_slice(&reply.body).unwrap();
                answer.record_states = answered.lock().unwrap().clone();
                serde_json::to_vec(&answer).unwrap()
            }
            _ => return reply,
        };
        reply.headers = signed_by(&key, &r.nonce, 200, &reply.body);
        reply
    }));
    let state_of = |store: &mut Store, id: &str| -> (Option<String>, Option<String>) {
        store
            .connection()
            .query_row("SELECT registry_state, confirmed_at FROM record WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
    };
    let report = run(&mut store, &client_of(&fake)).unwrap();
    assert_eq!((report.conflict, report.accepted), (1, report.uploaded - 1), "{report:?}");
    assert_eq!(state_of(&mut store, &refused), (None, None), "what it took before the refusal is forgotten");

    // The registry's feed consumer registered the record it holds under each ID.
    *states.lock().unwrap() =
        vec![change(&refused, RecordState::Registered, 10), change(&taken, RecordState::Registered, 11)];
    run(&mut store, &client_of(&fake)).unwrap();
    assert_eq!(state_of(&mut store, &refused), (None, None), "the other record's state confirms nothing here");
    let (state, confirmed_at) = state_of(&mut store, &taken);
    assert_eq!(state.as_deref(), Some("registered"));
    assert!(confirmed_at.is_some());
    let standing = |store: &mut Store, id: &str| store.record_standing(id).unwrap().unwrap().sync_state;
    assert_eq!(standing(&mut store, &refused), crate::query::RecordSyncState::Refused);
    assert_eq!(standing(&mut store, &taken), crate::query::RecordSyncState::Registered);
    // The cursor moved past both states: the skipped one is not asked for again.
    assert_eq!(store.read(|tx, _| state::get_i64(tx, state::key::STATES_AFTER)).unwrap(), 11);

    // Past the retention period: the registered record is erased, the refused one kept and flagged.
    let later = Utc::now() + ChronoDuration::days(i64::from(crate::retention::DEFAULT_RETENTION_DAYS) + 1);
    let purged = store.erase_due(later, crate::retention::DEFAULT_RETENTION_DAYS).unwrap();
    let erased: Vec<&str> = purged.erased.iter().map(|e| e.record_id.as_str()).collect();
    assert_eq!(erased, [taken.as_str()]);
    let flagged: Vec<(&str, bool)> = purged.flagged.iter().map(|f| (f.record_id.as_str(), f.refused)).collect();
    assert_eq!(flagged, [(refused.as_str(), true)]);
}
