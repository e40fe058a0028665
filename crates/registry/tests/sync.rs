//! The desk's sync client (`skranke_core::sync`) against a real registry on
//! a real PostgreSQL, over loopback HTTP.

mod common;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use skranke_core::issue::IssueError;
use skranke_core::keystore::{KeyStore, MemoryKeyStore, OsKeyStore};
use skranke_core::sync::{self, HttpAllocator, SyncError};
use skranke_core::Error;
use skranke_protocol::MatchKind;
use skranke_rules::cpr::Sex;
use skranke_rules::i18n::Lang;
use support::*;

fn memory() -> Arc<dyn KeyStore> {
    Arc::new(MemoryKeyStore::new())
}

#[test]
fn enrol_issue_offline_sync_and_a_second_sync_changes_nothing() {
    let reg = LiveRegistry::start();
    // The real OS key store (Secret Service), as on a counter PC.
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 461, 4, Arc::new(OsKeyStore));
    let info = desk.store.desk_info().unwrap();
    assert_eq!((info.municipality.as_str(), info.desk_number, info.training), ("461", 4, false));
    assert_eq!(info.office, "Borgerservice", "office from the enrolment code");
    let seed = OsKeyStore.get(&desk.id, sync::SIGNING_KEY).unwrap().expect("signing key in the OS key store");
    assert_eq!(seed.len(), 64);
    assert_eq!(desk.store.lease_status().unwrap().units, 2, "first reserve leased at enrolment");

    for i in 0..6 {
        desk.issue(i, date(1980 + i as i32, 3, 14), if i % 2 == 0 { Sex::Female } else { Sex::Male }, None).unwrap();
    }
    let records = desk.store.records(&desk.session).unwrap();
    let oldest = &records.last().unwrap().record_id;
    desk.store.void(&desk.session, oldest, "clerk_error", None, Utc::now(), Lang::En).unwrap();
    let before = sync::status(&mut desk.store, Utc::now()).unwrap();
    assert!(before.queued_events >= 7, "{before:?}");
    assert!(before.oldest_unsynced_at.is_some());

    let client = desk.client(&reg.url());
    let first = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!(first.pending, 0, "{first:?}");
    assert_eq!(first.conflict + first.invalid, 0, "{first:?}");
    assert_eq!(first.accepted, first.uploaded);
    assert!(first.uploaded >= before.queued_events, "{first:?} vs {before:?}");
    assert!(first.complete);
    assert_eq!(reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{}'", desk.id)), 6);
    assert_eq!(reg.count("SELECT count(*) FROM records WHERE state = 'voided'"), 1);
    let head = desk.store.audit_head().unwrap();
    assert_eq!(
        reg.rows(&format!("SELECT seq::text, hash FROM audit_heads WHERE desk_id = '{}'", desk.id)),
        vec![vec![Some(head.seq.to_string()), Some(head.hash.clone())]],
        "the registry verified and holds the desk's whole audit chain"
    );

    let second = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!((second.uploaded, second.pending), (0, 0), "{second:?}");
    assert_eq!(reg.count("SELECT count(*) FROM records"), 6);
    assert_eq!(reg.count("SELECT count(*) FROM conflicts"), 0);

    // The downstream consumer confirms two records; the desk learns it at the next sync.
    reg.count(&format!(
        "WITH r AS (UPDATE records SET state = 'registered', state_seq = nextval('registry_seq')
                    WHERE record_id IN ('{0}-2', '{0}-3') RETURNING 1) SELECT count(*) FROM r",
        desk.id
    ));
    sync::run(&mut desk.store, &client).unwrap();
    let states: Vec<(String, Option<String>)> = {
        let conn = desk.store.connection();
        let mut stmt = conn.prepare("SELECT id, registry_state FROM record ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(|r| r.unwrap()).collect()
    };
    let state_of = |n: usize| states[n - 1].1.clone();
    assert_eq!(state_of(1).as_deref(), Some("voided"));
    assert_eq!(state_of(2).as_deref(), Some("registered"));
    assert_eq!(state_of(4).as_deref(), Some("received"));
    let status = sync::status(&mut desk.store, Utc::now()).unwrap();
    assert_eq!(status.queued_events, 0);
    assert!(status.last_success.is_some() && status.refused.is_empty());

    skranke_core::desk::forget_keys(&OsKeyStore, &desk.id).unwrap();
    sync::forget_signing_key(&OsKeyStore, &desk.id).unwrap();
}

#[test]
fn refused_events_stay_on_a_visible_list_and_the_unit_the_registry_took_back_is_frozen() {
    let reg = LiveRegistry::start();
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 101, 1, memory());
    desk.issue(1, date(1975, 5, 5), Sex::Male, None).unwrap();
    desk.issue(2, date(1975, 5, 5), Sex::Male, None).unwrap();
    // The registry no longer binds the desk's units to it (say, disputed after a restore).
    reg.count(&format!(
        "WITH u AS (UPDATE units SET desk_id = NULL, retired = true WHERE desk_id = '{}' RETURNING 1) SELECT count(*) FROM u",
        desk.id
    ));
    let client = desk.client(&reg.url());
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!(report.invalid, 2, "{report:?}");
    assert_eq!(report.pending, 0, "answered, not lost: {report:?}");
    let status = sync::status(&mut desk.store, Utc::now()).unwrap();
    let refused: Vec<(&str, &str, Option<&str>)> =
        status.refused.iter().map(|r| (r.kind.as_str(), r.outcome.as_str(), r.reason.as_deref())).collect();
    assert_eq!(
        refused,
        [("issued", "invalid", Some("number_not_held")), ("issued", "invalid", Some("number_not_held"))]
    );
    assert_eq!(status.refused[0].record_id.as_deref(), Some(format!("{}-1", desk.id).as_str()));
    // The withdrawn units are frozen here for good; the same sync leased fresh ones.
    let lease = desk.store.lease_status().unwrap();
    assert_eq!((lease.frozen_units, lease.units), (2, 2), "{lease:?}");
    // The registry kept both refused records too.
    assert_eq!(reg.count(&format!("SELECT count(*) FROM conflicts WHERE desk_id = '{}'", desk.id)), 2);

    // Syncing again neither drops nor duplicates the list.
    sync::run(&mut desk.store, &client).unwrap();
    assert_eq!(sync::status(&mut desk.store, Utc::now()).unwrap().refused.len(), 2);
    // The fresh units issue numbers the registry accepts.
    desk.issue(3, date(1975, 5, 5), Sex::Male, None).unwrap();
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!((report.accepted, report.invalid, report.pending), (report.uploaded, 0, 0), "{report:?}");
    assert_eq!(reg.count("SELECT count(*) FROM records"), 1);
}

#[test]
fn online_issuing_takes_the_registrys_number_and_falls_back_to_the_lease_when_it_is_down() {
    let mut reg = LiveRegistry::start();
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 101, 1, memory());
    let client = desk.client(&reg.url());
    let online = HttpAllocator::new(&client);
    let a = desk.issue(1, date(1990, 1, 2), Sex::Female, Some(&online)).unwrap();
    assert_eq!(a.source, skranke_core::alloc::NumberSource::Online);
    assert!(a.number.passes_modulus11(), "online allocation hands out modulus-11 numbers first");
    online.remember(&mut desk.store).unwrap();
    assert!(sync::status(&mut desk.store, Utc::now()).unwrap().registry_time.is_some());

    reg.down();
    let started = Instant::now();
    let b = desk.issue(2, date(1990, 1, 2), Sex::Female, Some(&online)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(4), "fallback within the allocator's deadline");
    assert_eq!(b.source, skranke_core::alloc::NumberSource::Lease);
    assert!(!b.number.passes_modulus11());
    reg.up();

    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!((report.conflict, report.invalid, report.pending), (0, 0, 0), "{report:?}");
    let held = reg.rows(&format!("SELECT number, origin FROM numbers WHERE desk_id = '{}' ORDER BY origin", desk.id));
    assert_eq!(held.len(), 2);
    assert_eq!(held[0][1].as_deref(), Some("lease"));
    assert_eq!(held[1][1].as_deref(), Some("online"));
}

#[test]
fn a_desk_whose_clock_is_behind_the_registrys_time_stops_issuing() {
    let reg = LiveRegistry::start();
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 101, 1, memory());
    let client = desk.client(&reg.url());
    sync::run(&mut desk.store, &client).unwrap();
    let intake = intake(1, date(1970, 7, 7), Sex::Male);
    let behind = Utc::now() - chrono::Duration::minutes(30);
    let e = desk.store.issue(&desk.session, &intake, behind, None, None).unwrap_err();
    assert!(matches!(e, IssueError::ClockBehind { .. }), "{e:?}");
    desk.store.issue(&desk.session, &intake, Utc::now(), None, None).unwrap();
}

#[test]
fn a_retired_desk_syncs_what_it_holds_and_never_issues_again() {
    let reg = LiveRegistry::start();
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 101, 1, memory());
    desk.issue(1, date(1966, 6, 6), Sex::Female, None).unwrap();
    reg.retire(&desk.id);
    let client = desk.client(&reg.url());
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!((report.accepted, report.pending), (report.uploaded, 0), "{report:?}");
    assert!(report.retired);
    assert_eq!(reg.count("SELECT count(*) FROM records"), 1);
    let e = desk.issue(2, date(1966, 6, 6), Sex::Female, None).unwrap_err();
    assert!(matches!(e, Error::Issue(IssueError::DeskRetired)), "{e:?}");
    let online = HttpAllocator::new(&client);
    assert!(desk.issue(3, date(1966, 6, 7), Sex::Female, Some(&online)).is_err());
    let status = sync::status(&mut desk.store, Utc::now()).unwrap();
    assert!(status.retired && status.reserve_units == 0, "{status:?}");
}

#[test]
fn lookup_tells_whether_and_where_an_applicant_was_issued_elsewhere() {
    let reg = LiveRegistry::start();
    let mut a = TestDesk::enrol(&reg, &reg.url(), 147, 1, memory());
    let mut b = TestDesk::enrol(&reg, &reg.url(), 751, 2, memory());
    a.issue(42, date(1988, 8, 8), Sex::Male, None).unwrap();
    let client_a = a.client(&reg.url());
    sync::run(&mut a.store, &client_a).unwrap();

    let client_b = b.client(&reg.url());
    let keys = |i: usize| {
        let app = skranke_rules::applicant::Applicant::from_json(
            &applicant_json(i, date(1988, 8, 8), Sex::Male).to_string(),
            Lang::En,
        )
        .unwrap();
        let ctx = skranke_rules::applicant::IntakeContext { today: Utc::now().date_naive(), desk_municipality: 751 };
        app.validate(&ctx, Lang::En).unwrap().keys
    };
    let audit_before = b.store.audit_head().unwrap().seq;
    let found = sync::lookup(&mut b.store, &b.session, &client_b, &keys(42), Utc::now()).unwrap();
    assert_eq!(found.matches.len(), 1);
    assert_eq!(
        (found.matches[0].kind, found.matches[0].desk_id.as_str(), found.matches[0].municipality),
        (MatchKind::Document, a.id.as_str(), 147)
    );
    assert_eq!(b.store.audit_head().unwrap().seq, audit_before + 1, "the lookup is audited at the desk");
    let none = sync::lookup(&mut b.store, &b.session, &client_b, &keys(43), Utc::now()).unwrap();
    assert!(none.matches.is_empty());
}

#[test]
fn an_enrolment_code_is_spent_once_and_a_refused_enrolment_leaves_no_desk_behind() {
    let reg = LiveRegistry::start();
    let code = reg.enrolment_code(101, 9);
    let ks = memory();
    let enrol = |dir: &std::path::Path, code: &str| {
        sync::enrol(
            dir,
            Box::new(ks.clone()),
            &sync::Enrolment {
                registry_url: &reg.url(),
                enrolment_code: code,
                admin_name: ADMIN,
                admin_password: PASSWORD,
            },
            Utc::now(),
            Lang::En,
        )
    };
    let first = tempfile::tempdir().unwrap();
    enrol(first.path(), &code).unwrap();
    let second = tempfile::tempdir().unwrap();
    let e = enrol(second.path(), &code).unwrap_err();
    assert!(matches!(&e, Error::Sync(SyncError::Refused { code, .. }) if code == "enrol.code"), "{e:?}");
    assert!(e.message(Lang::Da).contains(skranke_rules::i18n::text(Lang::Da, "protocol.problem.enrol.code")));
    assert_eq!(std::fs::read_dir(second.path()).unwrap().count(), 0);
    // A weak admin password is refused before the code is spent.
    let fresh = reg.enrolment_code(101, 10);
    let e = sync::enrol(
        second.path(),
        Box::new(ks.clone()),
        &sync::Enrolment { registry_url: &reg.url(), enrolment_code: &fresh, admin_name: ADMIN, admin_password: "x" },
        Utc::now(),
        Lang::En,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Invalid(_)), "{e:?}");
    enrol(second.path(), &fresh).unwrap();
}

fn audited(store: &mut skranke_core::store::Store, action: &str) -> Vec<String> {
    let conn = store.connection();
    let mut stmt = conn.prepare("SELECT coalesce(detail, '') FROM audit WHERE action = ?1 ORDER BY seq").unwrap();
    stmt.query_map([action], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
}

#[test]
fn a_hop_that_rewrites_or_strips_the_registrys_answers_is_refused_audited_and_changes_nothing_at_the_desk() {
    use support::proxy::{FaultProxy, Faults};
    let reg = LiveRegistry::start();
    let mut desk = TestDesk::enrol(&reg, &reg.url(), 461, 4, memory());
    desk.issue(0, date(1980, 3, 14), Sex::Female, None).unwrap();
    let proxy = FaultProxy::start(reg.addr, Faults { cut_one_in: 0, max_bytes_before_cut: 1 }, 7);
    let client = desk.client(&proxy.url());
    // A hop (a TLS-terminating proxy, a plain-HTTP link) that tells the desk
    // it was retired: still valid JSON of the same length.
    proxy.tamper(Some((b"\"retired\":false", b"\"retired\":true ")));
    let err = sync::run(&mut desk.store, &client).unwrap_err();
    assert!(matches!(err, Error::Sync(SyncError::AnswerForged)), "{err:?}");
    // A hop that drops the signature.
    proxy.tamper(Some((b"x-skranke-answer-signature", b"x-skranke-answer-signaturz")));
    let err = sync::run(&mut desk.store, &client).unwrap_err();
    assert!(matches!(err, Error::Sync(SyncError::AnswerUnsigned)), "{err:?}");
    assert_eq!(audited(&mut desk.store, "registry.answer_refused"), ["sync.answer_forged", "sync.answer_unsigned"]);
    // Nothing in either answer was acted on: the desk is not retired and still issues.
    let status = sync::status(&mut desk.store, Utc::now()).unwrap();
    assert!(!status.retired, "a forged answer retired the desk");
    assert!(status.registry_time.is_some(), "the time of the answer enrolment got is kept");
    desk.issue(1, date(1981, 3, 14), Sex::Male, None).unwrap();
    // With the hop gone, the same desk syncs everything.
    proxy.tamper(None);
    let report = sync::run(&mut desk.store, &client).unwrap();
    assert_eq!((report.pending, report.retired), (0, false), "{report:?}");
    assert_eq!(reg.count(&format!("SELECT count(*) FROM records WHERE desk_id = '{}'", desk.id)), 2);
}
