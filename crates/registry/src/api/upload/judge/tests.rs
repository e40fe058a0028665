//! The verdict rules of an upload batch, judged without PostgreSQL: each test
//! builds the picture the registry would have read and checks the verdicts
//! and the writes.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};
use skranke_protocol::{
    AuditEntry, DocumentSummary, Erasure, Event, EventBody, IssuedRecord, LoginAmendment, NumberSource, Outcome,
    PersonRecord, Reprint, Void,
};
use skranke_rules::cpr::{candidate_serials, Personnummer, Sex, Slot};
use skranke_rules::lease::{Block, LeaseUnit};

use super::*;

const DESK: &str = "D1";
const MUNICIPALITY: u16 = 101;
const OTHER: &str = "D2";
const OTHER_MUNICIPALITY: i32 = 147;

/// The desk's login number, and usernames of its logins 1, 2 and 3 as the
/// desk makes them (checked against the desk's own code below).
const LOGIN: u32 = 17;
const U1: &str = "3P223Y";
const U2: &str = "3P224W";
const U3: &str = "3P226R";

fn desk() -> Desk {
    Desk { desk_id: DESK.to_string(), municipality: MUNICIPALITY, retired: false, quarantined: false }
}

/// A picture with nothing held but the desk's own facts.
fn desk_picture() -> Picture {
    Picture { login_number: Some(LOGIN), ..Picture::default() }
}

/// A well-formed Argon2id hash with the desk's parameters, told apart by `tag`.
fn phc(tag: &str) -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA${tag:A<43}")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn slot() -> Slot {
    Block::default_block().slots()[0]
}

fn unit(rank: u8) -> LeaseUnit {
    LeaseUnit::new(slot(), rank).unwrap()
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1990, 1, day).unwrap()
}

/// The number of a lease unit for 1990-01-`day`, a woman.
fn leased(rank: u8, day: u32) -> Personnummer {
    unit(rank).number(date(day), Sex::Female).unwrap()
}

/// A number of the block in no lease unit (it passes modulus 11).
fn unleased(day: u32) -> Personnummer {
    candidate_serials(date(day), Sex::Female, slot())
        .into_iter()
        .filter_map(|s| Personnummer::from_parts(date(day), s))
        .find(|n| LeaseUnit::containing(n).is_none())
        .unwrap()
}

fn record(record_id: &str, number: &Personnummer, source: NumberSource, document_key: &str) -> IssuedRecord {
    IssuedRecord {
        record_id: record_id.to_string(),
        number: number.to_string(),
        source,
        issued_at: now(),
        municipality: MUNICIPALITY,
        person: PersonRecord {
            name_document: "Anna Nowak".to_string(),
            name_latin: "ANNA NOWAK".to_string(),
            birth_date: number.birth_date(),
            sex: number.sex(),
            nationality: "PL".to_string(),
            document: DocumentSummary {
                kind: "passport".to_string(),
                issuing_state: "POL".to_string(),
                expiry_date: None,
            },
        },
        document_key: document_key.to_string(),
        person_key: format!("person-of-{document_key}"),
        jobnet_username: U1.to_string(),
        password_hash: phc("first"),
    }
}

fn issued(key: &str, r: IssuedRecord) -> Event {
    Event::new(key, EventBody::Issued(r))
}

/// The desk's own unit of `rank`, as the picture holds it.
fn own_unit(rank: u8) -> HeldUnit {
    HeldUnit { slot: i32::from(slot().value()), rank: i32::from(rank), desk_id: Some(DESK.to_string()), retired: false }
}

fn free_unit(rank: u8) -> HeldUnit {
    HeldUnit { desk_id: None, ..own_unit(rank) }
}

/// A picture in which the desk holds lease units 0 and 1.
fn holding() -> Picture {
    Picture { units: vec![own_unit(0), own_unit(1)], ..desk_picture() }
}

fn held_record(record_id: &str, desk_id: &str, username: &str) -> HeldRecord {
    HeldRecord {
        record_id: record_id.to_string(),
        desk_id: desk_id.to_string(),
        content_hash: "held-hash".to_string(),
        jobnet_username: username.to_string(),
        password_hash: phc("held"),
        personal_erased: false,
    }
}

fn run_with(events: &[Event], picture: Picture, block: &Block) -> Judgement {
    let batch = hashed(events);
    judge(&batch, picture, &desk(), block, now())
}

fn run(events: &[Event], picture: Picture) -> Judgement {
    run_with(events, picture, &Block::default_block())
}

fn verdicts(j: &Judgement) -> Vec<(Outcome, Option<&'static str>)> {
    j.verdicts.iter().map(|v| (v.outcome, v.reason)).collect()
}

fn notice_kinds(j: &Judgement) -> Vec<(&str, &'static str)> {
    j.writes.notices.iter().map(|n| (n.desk_id.as_str(), n.kind)).collect()
}

fn feed_kinds(j: &Judgement) -> Vec<(&str, &'static str)> {
    j.writes.feed.iter().map(|f| (f.record_id.as_str(), f.kind)).collect()
}

fn kept_reasons(j: &Judgement) -> Vec<&str> {
    j.writes.conflicts.iter().map(|c| c.reason.as_str()).collect()
}

const ACCEPT: (Outcome, Option<&str>) = (Outcome::Accepted, None);
const HELD: (Outcome, Option<&str>) = (Outcome::AlreadyHeld, None);

fn refused(reason: &'static str) -> (Outcome, Option<&'static str>) {
    (Outcome::Invalid, Some(reason))
}

fn conflicting(reason: &'static str) -> (Outcome, Option<&'static str>) {
    (Outcome::Conflict, Some(reason))
}

/// A record with a number of a unit the desk holds is accepted: its number
/// (origin `lease`, with the unit's rank), the record, its feed item and the
/// event are written.
#[test]
fn a_leased_number_of_a_held_unit_is_accepted_and_written() {
    let n = leased(1, 5);
    let j = run(&[issued("k1", record("D1-1", &n, NumberSource::Lease, "doc-a"))], holding());
    assert_eq!(verdicts(&j), [ACCEPT]);
    let w = &j.writes;
    assert_eq!(w.numbers.len(), 1);
    assert_eq!(w.numbers[0].number, stored(&n));
    assert_eq!((w.numbers[0].origin, w.numbers[0].rank, w.numbers[0].record_id.as_str()), ("lease", Some(1), "D1-1"));
    assert_eq!(w.numbers[0].sex, "F");
    assert_eq!(w.records.len(), 1);
    assert_eq!((w.records[0].record_id.as_str(), w.records[0].number.as_str()), ("D1-1", stored(&n).as_str()));
    assert_eq!(feed_kinds(&j), [("D1-1", "issued")]);
    assert_eq!(w.events.len(), 1);
    assert_eq!((w.events[0].idempotency_key.as_str(), w.events[0].kind), ("k1", "issued"));
    assert!(w.conflicts.is_empty() && w.notices.is_empty() && w.unit_binds.is_empty());
}

/// The same event again under its key is `already_held` and writes nothing.
#[test]
fn the_same_event_again_is_already_held() {
    let e = issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a"));
    let picture = Picture {
        events: vec![HeldEvent { idempotency_key: "k1".into(), content_hash: e.body.content_hash(), body: None }],
        ..holding()
    };
    let j = run(&[e], picture);
    assert_eq!(verdicts(&j), [HELD]);
    assert_eq!(j.writes, Writes::default());
}

/// Other content under a key the desk used before (a restored or cloned
/// desk) is `conflict:idempotency_key`: the event is kept and the desk gets
/// an `event_conflict` notice (`audit_chain` for an audit entry).
#[test]
fn other_content_under_a_used_key_is_a_conflict_with_a_notice() {
    let e = issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a"));
    let a = Event::new("a1", EventBody::Audit(audit(1, &audit_genesis(DESK))));
    let picture = Picture {
        events: vec![
            HeldEvent { idempotency_key: "k1".into(), content_hash: "other".into(), body: Some(json!({})) },
            HeldEvent { idempotency_key: "a1".into(), content_hash: "other".into(), body: None },
        ],
        ..holding()
    };
    let j = run(&[e, a], picture);
    assert_eq!(verdicts(&j), [conflicting("idempotency_key"), conflicting("idempotency_key")]);
    assert_eq!(notice_kinds(&j), [(DESK, "event_conflict"), (DESK, "audit_chain")]);
    assert_eq!(j.writes.notices[0].record_id.as_deref(), Some("D1-1"));
    assert_eq!(kept_reasons(&j), ["conflict:idempotency_key", "conflict:idempotency_key"]);
    assert!(j.writes.records.is_empty() && j.writes.events.is_empty());
}

/// A verdict kept before for exactly this event (key and hash) is given
/// again, and the event is not kept a second time; the oldest kept verdict
/// counts.
#[test]
fn a_kept_verdict_is_given_again() {
    let e = issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a"));
    let kept = |reason: &str| KeptVerdict {
        idempotency_key: "k1".into(),
        content_hash: e.body.content_hash(),
        reason: reason.into(),
    };
    let picture = Picture { kept: vec![kept("conflict:number_conflict"), kept("invalid:number")], ..holding() };
    let j = run(std::slice::from_ref(&e), picture);
    assert_eq!(verdicts(&j), [conflicting("number_conflict")]);
    assert_eq!(j.writes, Writes::default());
}

/// A kept reason maps back to its verdict; a code this registry does not
/// give reads as `unknown`, and a reason without a tag as `invalid`.
#[test]
fn kept_reasons_map_back_to_verdicts() {
    assert_eq!(verdict_from_kept("invalid:number_mismatch"), invalid("number_mismatch"));
    assert_eq!(verdict_from_kept("conflict:record_conflict"), conflict("record_conflict"));
    assert_eq!(verdict_from_kept("conflict:made_up"), conflict("unknown"));
    assert_eq!(verdict_from_kept("audit_hash"), invalid("audit_hash"));
}

/// A claimed content hash that is not the hash of the body is
/// `invalid:content_hash`, kept.
#[test]
fn a_wrong_content_hash_is_invalid_and_kept() {
    let mut e = issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a"));
    e.content_hash = "0".repeat(64);
    let j = run(&[e], holding());
    assert_eq!(verdicts(&j), [refused("content_hash")]);
    assert_eq!(kept_reasons(&j), ["invalid:content_hash"]);
    assert!(j.writes.records.is_empty());
}

/// An empty or non-printable key is `invalid:idempotency_key` and not kept
/// (there is no key to keep it under).
#[test]
fn a_bad_key_is_invalid_and_not_kept() {
    let r = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    let j = run(&[issued("", r.clone()), issued("k 1", r)], holding());
    assert_eq!(verdicts(&j), [refused("idempotency_key"), refused("idempotency_key")]);
    assert_eq!(j.writes, Writes::default());
}

/// A record ID that is not `<this desk>-…` is `invalid:record_id`; a number
/// that does not read is `invalid:number`; one whose birth date or sex is not
/// the person's is `invalid:number_mismatch`; one outside the block is
/// `invalid:number_outside_block`. Each is kept.
#[test]
fn malformed_records_are_invalid_and_kept() {
    let n = leased(0, 5);
    let foreign = record("D2-1", &n, NumberSource::Lease, "doc-a");
    let prefix_only = record("D11-1", &n, NumberSource::Lease, "doc-a");
    let mut unreadable = record("D1-2", &n, NumberSource::Lease, "doc-b");
    unreadable.number = "320190-4001".to_string();
    let mut mismatch = record("D1-3", &n, NumberSource::Lease, "doc-c");
    mismatch.person.birth_date = date(6);
    let mut other_sex = record("D1-4", &n, NumberSource::Lease, "doc-d");
    other_sex.person.sex = Sex::Male;
    let events = [
        issued("k1", foreign),
        issued("k2", prefix_only),
        issued("k3", unreadable),
        issued("k4", mismatch),
        issued("k5", other_sex),
    ];
    let j = run(&events, holding());
    assert_eq!(
        verdicts(&j),
        [
            refused("record_id"),
            refused("record_id"),
            refused("number"),
            refused("number_mismatch"),
            refused("number_mismatch")
        ]
    );
    assert_eq!(kept_reasons(&j).len(), 5);
    assert!(j.writes.records.is_empty() && j.writes.numbers.is_empty());

    let elsewhere = Block::from_slots(vec![Slot::all().find(|s| *s != slot()).unwrap()]);
    let j = run_with(&[issued("k6", record("D1-6", &n, NumberSource::Lease, "doc-e"))], holding(), &elsewhere);
    assert_eq!(verdicts(&j), [refused("number_outside_block")]);
}

/// A record the registry holds with the same content, sent under a new key,
/// is `already_held` (the new key is remembered); with other content it is
/// `conflict:record_conflict` with a notice to the desk.
#[test]
fn a_held_record_again_is_already_held_or_a_record_conflict() {
    let r = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    let hash = EventBody::Issued(r.clone()).content_hash();
    let picture =
        Picture { records: vec![HeldRecord { content_hash: hash, ..held_record("D1-1", DESK, U1) }], ..holding() };
    let mut changed = r.clone();
    changed.person.name_latin = "ANNA NOWAKOWSKA".to_string();
    let j = run(&[issued("k2", r), issued("k3", changed)], picture);
    assert_eq!(verdicts(&j), [HELD, conflicting("record_conflict")]);
    assert_eq!(j.writes.events.len(), 1);
    assert_eq!(j.writes.events[0].idempotency_key, "k2");
    assert_eq!(notice_kinds(&j), [(DESK, "record_conflict")]);
    let notice = &j.writes.notices[0];
    assert_eq!(notice.other_municipality, Some(i32::from(MUNICIPALITY)));
    assert_eq!(kept_reasons(&j), ["conflict:record_conflict"]);
    assert!(j.writes.records.is_empty() && j.writes.feed.is_empty());
}

/// A number another desk's record already uses, inside a unit this desk
/// holds, is `conflict:number_conflict`: both desks are told, each with the
/// other's record, desk and municipality.
#[test]
fn a_number_used_by_another_desk_in_a_held_unit_is_a_number_conflict_told_to_both() {
    let n = leased(0, 5);
    let picture = Picture {
        numbers: vec![HeldNumber {
            number: stored(&n),
            origin: "lease".into(),
            desk_id: Some(OTHER.into()),
            desk_municipality: Some(OTHER_MUNICIPALITY),
            record_id: Some("D2-9".into()),
        }],
        ..holding()
    };
    let j = run(&[issued("k1", record("D1-1", &n, NumberSource::Lease, "doc-a"))], picture);
    assert_eq!(verdicts(&j), [conflicting("number_conflict")]);
    let w = &j.writes;
    assert_eq!(notice_kinds(&j), [(DESK, "number_conflict"), (OTHER, "number_conflict")]);
    assert_eq!(
        (
            w.notices[0].other_record_id.as_deref(),
            w.notices[0].other_desk_id.as_deref(),
            w.notices[0].other_municipality
        ),
        (Some("D2-9"), Some(OTHER), Some(OTHER_MUNICIPALITY))
    );
    assert_eq!(
        (w.notices[1].record_id.as_deref(), w.notices[1].other_record_id.as_deref(), w.notices[1].other_municipality),
        (Some("D2-9"), Some("D1-1"), Some(i32::from(MUNICIPALITY)))
    );
    assert_eq!(kept_reasons(&j), ["conflict:number_conflict"]);
    assert!(w.numbers.is_empty() && w.records.is_empty());
}

/// A number another desk uses, outside any unit this desk holds, is
/// `invalid:number_not_held` (the desk had no right to it), and nobody is
/// told.
#[test]
fn a_number_used_by_another_desk_outside_held_units_is_not_held() {
    let n = leased(2, 5);
    let picture = Picture {
        numbers: vec![HeldNumber {
            number: stored(&n),
            origin: "lease".into(),
            desk_id: Some(OTHER.into()),
            desk_municipality: Some(OTHER_MUNICIPALITY),
            record_id: Some("D2-9".into()),
        }],
        ..holding()
    };
    let j = run(&[issued("k1", record("D1-1", &n, NumberSource::Lease, "doc-a"))], picture);
    assert_eq!(verdicts(&j), [refused("number_not_held")]);
    assert!(j.writes.notices.is_empty());
}

/// Two records of one batch with the same number: the first is accepted,
/// the second is `conflict:number_conflict`, the desk told once (it is both
/// sides) with its own municipality.
#[test]
fn two_records_of_one_batch_with_one_number_conflict() {
    let n = leased(0, 5);
    let events = [
        issued("k1", record("D1-1", &n, NumberSource::Lease, "doc-a")),
        issued("k2", record("D1-2", &n, NumberSource::Lease, "doc-b")),
    ];
    let j = run(&events, holding());
    assert_eq!(verdicts(&j), [ACCEPT, conflicting("number_conflict")]);
    assert_eq!(notice_kinds(&j), [(DESK, "number_conflict")]);
    let notice = &j.writes.notices[0];
    assert_eq!(
        (notice.record_id.as_deref(), notice.other_record_id.as_deref(), notice.other_municipality),
        (Some("D1-2"), Some("D1-1"), Some(i32::from(MUNICIPALITY)))
    );
    assert_eq!(j.writes.numbers.len(), 1);
    assert_eq!(j.writes.records.len(), 1);
}

/// One record sent twice in a batch under two keys: the second is
/// `already_held`, both keys are remembered, the record written once.
#[test]
fn one_record_twice_in_a_batch_is_held_the_second_time() {
    let r = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    let j = run(&[issued("k1", r.clone()), issued("k2", r)], holding());
    assert_eq!(verdicts(&j), [ACCEPT, HELD]);
    assert_eq!(j.writes.records.len(), 1);
    assert_eq!(j.writes.events.len(), 2);
}

/// One event twice in a batch under one key: the second is `already_held`
/// and written once; other content under that key later in the batch is a
/// conflict.
#[test]
fn one_key_twice_in_a_batch() {
    let r = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    let mut other = record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-b");
    other.jobnet_username = String::new();
    let j = run(&[issued("k1", r.clone()), issued("k1", r), issued("k1", other)], holding());
    assert_eq!(verdicts(&j), [ACCEPT, HELD, conflicting("idempotency_key")]);
    assert_eq!(j.writes.events.len(), 1);
    assert_eq!(notice_kinds(&j), [(DESK, "event_conflict")]);
}

/// A number allocated online to this desk and not yet used is taken by the
/// record (linked, not inserted); allocated to another desk, or already
/// linked, or leased, it is `invalid:number_not_held`.
#[test]
fn an_online_number_is_taken_only_when_allocated_to_this_desk_and_unused() {
    let online = |day: u32, desk: &str| HeldNumber {
        number: stored(&unleased(day)),
        origin: "online".into(),
        desk_id: Some(desk.into()),
        desk_municipality: None,
        record_id: None,
    };
    let leased_row = HeldNumber { origin: "lease".into(), ..online(7, DESK) };
    let picture = Picture { numbers: vec![online(5, DESK), online(6, OTHER), leased_row], ..holding() };
    let events = [
        issued("k1", record("D1-1", &unleased(5), NumberSource::Online, "doc-a")),
        issued("k2", record("D1-2", &unleased(6), NumberSource::Online, "doc-b")),
        issued("k3", record("D1-3", &unleased(7), NumberSource::Online, "doc-c")),
        issued("k4", record("D1-4", &unleased(5), NumberSource::Online, "doc-d")),
    ];
    let j = run(&events, picture);
    assert_eq!(
        verdicts(&j),
        [ACCEPT, refused("number_not_held"), refused("number_not_held"), conflicting("number_conflict")]
    );
    assert_eq!(j.writes.linked, [NumberLink { number: stored(&unleased(5)), record_id: "D1-1".into() }]);
    assert!(j.writes.numbers.is_empty());
    assert_eq!(j.writes.records.len(), 1);
}

/// While reconciling after a restore, an online number the restored
/// registry allocated again to another desk, and that no record uses, is
/// taken by the record from before the restore; a used one stays a
/// conflict, and outside reconciling it is not this desk's.
#[test]
fn while_reconciling_a_record_takes_its_online_number_from_an_unused_allocation_to_another_desk() {
    let again = |record_id: Option<&str>| HeldNumber {
        number: stored(&unleased(5)),
        origin: "online".into(),
        desk_id: Some(OTHER.into()),
        desk_municipality: None,
        record_id: record_id.map(str::to_string),
    };
    let e = || issued("k1", record("D1-1", &unleased(5), NumberSource::Online, "doc-a"));
    let j = run(&[e()], Picture { reconciling: true, numbers: vec![again(None)], ..holding() });
    assert_eq!(verdicts(&j), [ACCEPT]);
    assert_eq!(j.writes.reclaimed, [NumberLink { number: stored(&unleased(5)), record_id: "D1-1".into() }]);
    assert!(j.writes.linked.is_empty() && j.writes.numbers.is_empty());
    let j = run(&[e()], Picture { numbers: vec![again(None)], ..holding() });
    assert_eq!(verdicts(&j), [refused("number_not_held")]);
    let j = run(&[e()], Picture { reconciling: true, numbers: vec![again(Some("D2-1"))], ..holding() });
    assert_eq!(verdicts(&j), [refused("number_not_held")]);
}

/// An online number the registry does not know is `invalid:number_not_held`,
/// except while reconciling after a restore, when it is re-learnt (origin
/// `online`) as long as no desk holds (or retired) its unit.
#[test]
fn an_unknown_online_number_is_relearnt_only_while_reconciling_outside_held_units() {
    let n = unleased(5);
    let e = || issued("k1", record("D1-1", &n, NumberSource::Online, "doc-a"));
    assert_eq!(verdicts(&run(&[e()], holding())), [refused("number_not_held")]);

    let j = run(&[e()], Picture { reconciling: true, ..holding() });
    assert_eq!(verdicts(&j), [ACCEPT]);
    assert_eq!((j.writes.numbers[0].origin, j.writes.numbers[0].rank), ("online", None));

    let in_unit = leased(0, 6);
    let e = |rank_holder: HeldUnit| {
        let j = run(
            &[issued("k2", record("D1-2", &in_unit, NumberSource::Online, "doc-b"))],
            Picture { reconciling: true, units: vec![rank_holder], ..desk_picture() },
        );
        verdicts(&j)
    };
    assert_eq!(e(free_unit(0)), [ACCEPT]);
    assert_eq!(e(HeldUnit { desk_id: Some(OTHER.into()), ..own_unit(0) }), [refused("number_not_held")]);
    assert_eq!(e(HeldUnit { retired: true, ..free_unit(0) }), [refused("number_not_held")]);
}

/// A leased number of a unit this desk does not hold is
/// `invalid:number_not_held`; while reconciling, a free unit is bound to the
/// desk again and the record accepted, and the next record of the batch in
/// that unit needs no second binding.
#[test]
fn a_leased_number_outside_held_units_is_refused_or_rebound_while_reconciling() {
    let e = |key: &str, id: &str, day: u32| issued(key, record(id, &leased(2, day), NumberSource::Lease, id));
    let free = Picture { units: vec![free_unit(2)], ..desk_picture() };
    assert_eq!(verdicts(&run(&[e("k1", "D1-1", 5)], free.clone())), [refused("number_not_held")]);
    let other = Picture {
        units: vec![HeldUnit { desk_id: Some(OTHER.into()), ..own_unit(2) }],
        reconciling: true,
        ..desk_picture()
    };
    assert_eq!(verdicts(&run(&[e("k1", "D1-1", 5)], other)), [refused("number_not_held")]);

    let j = run(&[e("k1", "D1-1", 5), e("k2", "D1-2", 6)], Picture { reconciling: true, ..free });
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT]);
    assert_eq!(j.writes.unit_binds, [UnitBind { slot: i32::from(slot().value()), rank: 2 }]);
    assert_eq!(j.writes.numbers.len(), 2);
}

/// A number inside the desk's own unit that the registry already used
/// otherwise (imported, or allocated online) without a record is
/// `conflict:number_conflict`, told to the desk alone.
#[test]
fn a_used_number_inside_an_own_unit_is_a_number_conflict() {
    let n = leased(0, 5);
    let picture = Picture {
        numbers: vec![HeldNumber {
            number: stored(&n),
            origin: "imported".into(),
            desk_id: None,
            desk_municipality: None,
            record_id: None,
        }],
        ..holding()
    };
    let j = run(&[issued("k1", record("D1-1", &n, NumberSource::Lease, "doc-a"))], picture);
    assert_eq!(verdicts(&j), [conflicting("number_conflict")]);
    assert_eq!(notice_kinds(&j), [(DESK, "number_conflict")]);
    assert_eq!(j.writes.notices[0].other_desk_id, None);
}

/// A record with the document of a record held elsewhere gets a
/// `duplicate_document` notice, one with the same person key a
/// `duplicate_review`, each to both desks; the record is still accepted, and
/// a later record of the same batch is compared with it too.
#[test]
fn duplicates_are_told_to_both_desks_also_within_a_batch() {
    let candidate = |id: &str, document_key: &str, person_key: &str| Candidate {
        record_id: id.into(),
        desk_id: OTHER.into(),
        municipality: OTHER_MUNICIPALITY,
        document_key: document_key.into(),
        person_key: person_key.into(),
    };
    let picture = Picture {
        candidates: vec![candidate("D2-1", "doc-a", "someone"), candidate("D2-2", "doc-x", "person-of-doc-b")],
        ..holding()
    };
    let events = [
        issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a")),
        issued("k2", record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-b")),
        issued("k3", record("D1-3", &leased(0, 7), NumberSource::Lease, "doc-a")),
    ];
    let j = run(&events, picture);
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT, ACCEPT]);
    assert_eq!(
        notice_kinds(&j),
        [
            (DESK, "duplicate_document"),
            (OTHER, "duplicate_document"),
            (DESK, "duplicate_review"),
            (OTHER, "duplicate_review"),
            (DESK, "duplicate_document"),
            (OTHER, "duplicate_document"),
            (DESK, "duplicate_document"),
            (DESK, "duplicate_document"),
        ]
    );
    let n = &j.writes.notices;
    assert_eq!((n[0].other_record_id.as_deref(), n[0].other_municipality), (Some("D2-1"), Some(OTHER_MUNICIPALITY)));
    assert_eq!((n[1].record_id.as_deref(), n[1].other_municipality), (Some("D2-1"), Some(i32::from(MUNICIPALITY))));
    assert_eq!((n[6].record_id.as_deref(), n[6].other_record_id.as_deref()), (Some("D1-3"), Some("D1-1")));
    assert_eq!((n[7].record_id.as_deref(), n[7].other_record_id.as_deref()), (Some("D1-1"), Some("D1-3")));
}

/// A void of one of the desk's records is accepted, written and fed; a
/// voided record is no longer a duplicate candidate for the rest of the
/// batch. A void of another desk's record is `invalid:record_not_held`; one
/// naming a survivor the registry does not hold is `invalid:replaced_by`.
/// Both are kept.
#[test]
fn voids_of_own_records_are_accepted_and_end_duplicates() {
    let void = |key: &str, id: &str, by: Option<&str>| {
        Event::new(
            key,
            EventBody::Voided(Void {
                record_id: id.into(),
                voided_at: now(),
                reason: "duplicate".into(),
                replaced_by: by.map(str::to_string),
            }),
        )
    };
    let events = [
        issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a")),
        void("v1", "D1-1", Some("D1-0")),
        issued("k2", record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-a")),
        void("v2", "D2-7", None),
        void("v3", "D1-2", Some("D9-9")),
    ];
    let picture = Picture { records: vec![held_record("D1-0", DESK, U3), held_record("D2-7", OTHER, "")], ..holding() };
    let j = run(&events, picture);
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT, ACCEPT, refused("record_not_held"), refused("replaced_by")]);
    assert_eq!(j.writes.voids, [VoidWrite { record_id: "D1-1".into(), replaced_by: Some("D1-0".into()) }]);
    assert_eq!(feed_kinds(&j), [("D1-1", "issued"), ("D1-1", "voided"), ("D1-2", "issued")]);
    assert!(j.writes.notices.is_empty(), "a voided record is no duplicate: {:?}", j.writes.notices);
    assert_eq!(kept_reasons(&j), ["invalid:record_not_held", "invalid:replaced_by"]);
}

/// Voiding one record twice in a batch writes its last survivor, once.
#[test]
fn a_record_voided_twice_keeps_the_last_survivor() {
    let void = |key: &str, by: &str| {
        Event::new(
            key,
            EventBody::Voided(Void {
                record_id: "D1-1".into(),
                voided_at: now(),
                reason: "duplicate".into(),
                replaced_by: Some(by.to_string()),
            }),
        )
    };
    let picture = Picture {
        records: vec![held_record("D1-1", DESK, U1), held_record("D1-2", DESK, ""), held_record("D1-3", DESK, "")],
        ..desk_picture()
    };
    let j = run(&[void("v1", "D1-2"), void("v2", "D1-3")], picture);
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT]);
    assert_eq!(j.writes.voids, [VoidWrite { record_id: "D1-1".into(), replaced_by: Some("D1-3".into()) }]);
    assert_eq!(j.writes.feed.len(), 2);
}

/// An erasure of one of the desk's records (held, or issued earlier in the
/// batch) is accepted and written; of another desk's or an unknown record it
/// is `invalid:record_not_held`, kept.
#[test]
fn erasures_apply_to_own_records_only() {
    let erase =
        |key: &str, id: &str| Event::new(key, EventBody::Erased(Erasure { record_id: id.into(), erased_at: now() }));
    let events = [
        erase("e0", "D1-1"),
        issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a")),
        erase("e1", "D1-1"),
        erase("e2", "D1-0"),
        erase("e3", "D2-7"),
    ];
    let picture = Picture { records: vec![held_record("D1-0", DESK, U3), held_record("D2-7", OTHER, "")], ..holding() };
    let j = run(&events, picture);
    assert_eq!(verdicts(&j), [refused("record_not_held"), ACCEPT, ACCEPT, ACCEPT, refused("record_not_held")]);
    assert_eq!(j.writes.erasures, ["D1-1", "D1-0"]);
    assert_eq!(kept_reasons(&j), ["invalid:record_not_held", "invalid:record_not_held"]);
}

fn reprint(key: &str, id: &str, hash: &str, username: Option<&str>) -> Event {
    Event::new(
        key,
        EventBody::Reprinted(Reprint {
            record_id: id.into(),
            reprinted_at: now(),
            password_hash: hash.into(),
            jobnet_username: username.map(str::to_string),
        }),
    )
}

/// A reprint of one of the desk's records sets the new hash, answers a
/// downstream refusal and feeds an item naming the record's login (sent or
/// held); it fills an empty login; a login other than the held one is
/// `invalid:login_mismatch`; another desk's record is
/// `invalid:record_not_held`.
#[test]
fn reprints_set_the_hash_and_name_the_login() {
    let picture = Picture {
        records: vec![
            held_record("D1-1", DESK, U1),
            held_record("D1-2", DESK, ""),
            held_record("D1-3", DESK, U1),
            held_record("D2-1", OTHER, U1),
        ],
        ..desk_picture()
    };
    let events = [
        reprint("r1", "D1-1", &phc("new1"), None),
        reprint("r2", "D1-2", &phc("new2"), Some(U2)),
        reprint("r3", "D1-3", &phc("new3"), Some(U3)),
        reprint("r4", "D2-1", &phc("new4"), None),
    ];
    let j = run(&events, picture);
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT, refused("login_mismatch"), refused("record_not_held")]);
    let login = |id: &str, u: &str, h: &str| LoginWrite {
        record_id: id.into(),
        jobnet_username: u.into(),
        password_hash: h.into(),
    };
    assert_eq!(j.writes.logins, [login("D1-1", U1, &phc("new1")), login("D1-2", U2, &phc("new2"))]);
    assert_eq!(j.writes.refusals_cleared, ["D1-1", "D1-2"]);
    assert_eq!(feed_kinds(&j), [("D1-1", "reprinted"), ("D1-2", "reprinted")]);
    assert_eq!(j.writes.feed[0].payload["jobnet_username"], json!(U1));
    assert_eq!(j.writes.feed[1].payload["password_hash"], json!(phc("new2")));
    assert_eq!(kept_reasons(&j), ["invalid:login_mismatch", "invalid:record_not_held"]);
}

/// A reprint of a record issued earlier in the same batch applies to it, and
/// a second reprint of the record leaves one write with the last hash (the
/// refusal is answered once).
#[test]
fn reprints_in_the_batch_of_the_issue_fold_into_the_last_hash() {
    let events = [
        reprint("r0", "D1-1", &phc("early"), None),
        issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a")),
        reprint("r1", "D1-1", &phc("second"), Some(U1)),
        reprint("r2", "D1-1", &phc("third"), None),
    ];
    let j = run(&events, holding());
    assert_eq!(verdicts(&j), [refused("record_not_held"), ACCEPT, ACCEPT, ACCEPT]);
    assert_eq!(
        j.writes.logins,
        [LoginWrite { record_id: "D1-1".into(), jobnet_username: U1.into(), password_hash: phc("third") }]
    );
    assert_eq!(j.writes.refusals_cleared, ["D1-1"]);
    assert_eq!(feed_kinds(&j), [("D1-1", "issued"), ("D1-1", "reprinted"), ("D1-1", "reprinted")]);
}

fn amend(key: &str, id: &str, username: &str) -> Event {
    Event::new(
        key,
        EventBody::LoginAmended(LoginAmendment {
            record_id: id.into(),
            jobnet_username: username.into(),
            password_hash: phc("current"),
            amended_at: now(),
        }),
    )
}

/// A login amendment fills an empty login with the sent hash and feeds a
/// `login_amended` item; the same login again is accepted without a write;
/// another login is `invalid:login_mismatch`, an empty one
/// `invalid:login_missing`, another desk's record `invalid:record_not_held`;
/// a record whose personal data the registry erased is accepted and keeps
/// nothing new.
#[test]
fn login_amendments_fill_only_an_empty_login() {
    let erased = HeldRecord { personal_erased: true, ..held_record("D1-4", DESK, "") };
    let picture = Picture {
        records: vec![
            held_record("D1-1", DESK, ""),
            held_record("D1-2", DESK, U1),
            held_record("D1-3", DESK, U3),
            erased,
            held_record("D2-1", OTHER, ""),
        ],
        ..desk_picture()
    };
    let events = [
        amend("D1-1/login", "D1-1", U2),
        amend("D1-2/login", "D1-2", U1),
        amend("D1-3/login", "D1-3", U1),
        amend("D1-5/login", "D1-1", ""),
        amend("D1-4/login", "D1-4", U1),
        amend("D2-1/login", "D2-1", U1),
    ];
    let j = run(&events, picture);
    assert_eq!(
        verdicts(&j),
        [ACCEPT, ACCEPT, refused("login_mismatch"), refused("login_missing"), ACCEPT, refused("record_not_held")]
    );
    assert_eq!(
        j.writes.logins,
        [LoginWrite { record_id: "D1-1".into(), jobnet_username: U2.into(), password_hash: phc("current") }]
    );
    assert_eq!(j.writes.refusals_cleared, ["D1-1"]);
    assert_eq!(feed_kinds(&j), [("D1-1", "login_amended")]);
    assert_eq!(j.writes.events.len(), 3);
    assert_eq!(kept_reasons(&j).len(), 3);
}

/// After a login amendment in the batch, a second one with another login is
/// `invalid:login_mismatch`: the first login is what the record now holds.
#[test]
fn a_login_filled_in_the_batch_is_held_for_the_rest_of_it() {
    let picture = Picture { records: vec![held_record("D1-1", DESK, "")], ..desk_picture() };
    let j = run(&[amend("a1", "D1-1", U2), amend("a2", "D1-1", U3), reprint("r1", "D1-1", &phc("h"), None)], picture);
    assert_eq!(verdicts(&j), [ACCEPT, refused("login_mismatch"), ACCEPT]);
    assert_eq!(j.writes.feed[1].payload["jobnet_username"], json!(U2));
}

/// A resend under its key of an `issued` event that reached the registry
/// with an empty login, now with the login filled in and otherwise the same,
/// takes the login (with the record's own hash, amended at the registry's
/// time) and is neither a conflict nor remembered as an event; if anything
/// else changed it is `conflict:idempotency_key`.
#[test]
fn a_resend_that_only_fills_the_login_takes_it() {
    let mut first = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    first.jobnet_username = String::new();
    let held_body = serde_json::to_value(EventBody::Issued(first.clone())).unwrap();
    let held = |key: &str| HeldEvent {
        idempotency_key: key.into(),
        content_hash: EventBody::Issued(first.clone()).content_hash(),
        body: Some(held_body.clone()),
    };
    let picture =
        Picture { events: vec![held("k1"), held("k2")], records: vec![held_record("D1-1", DESK, "")], ..holding() };
    let filled = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    let mut changed = filled.clone();
    changed.municipality = 147;
    let j = run(&[issued("k1", filled), issued("k2", changed)], picture);
    assert_eq!(verdicts(&j), [ACCEPT, conflicting("idempotency_key")]);
    assert_eq!(
        j.writes.logins,
        [LoginWrite { record_id: "D1-1".into(), jobnet_username: U1.into(), password_hash: phc("held") }]
    );
    assert_eq!(feed_kinds(&j), [("D1-1", "login_amended")]);
    assert_eq!(j.writes.feed[0].payload["amended_at"], json!(now()));
    assert!(j.writes.events.is_empty());
    assert_eq!(kept_reasons(&j), ["conflict:idempotency_key"]);
    assert_eq!(notice_kinds(&j), [(DESK, "event_conflict")]);
}

/// The login-filling resend of an event first received earlier in the same
/// batch is judged against that event's body.
#[test]
fn a_resend_in_the_batch_of_the_first_send_takes_the_login() {
    let mut first = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    first.jobnet_username = String::new();
    let filled = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    let j = run(&[issued("k1", first), issued("k1", filled)], holding());
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT]);
    assert_eq!(j.writes.logins.len(), 1);
    assert_eq!(j.writes.logins[0].jobnet_username, U1);
    assert_eq!(feed_kinds(&j), [("D1-1", "issued"), ("D1-1", "login_amended")]);
}

fn audit(seq: u64, prev_hash: &str) -> AuditEntry {
    AuditEntry {
        seq,
        at: now(),
        staff_id: Some(1),
        action: "record.issued".into(),
        record_id: None,
        detail: None,
        prev_hash: prev_hash.into(),
        hash: String::new(),
    }
    .sealed()
}

/// The audit chain grows by one well-formed link at a time, from the desk's
/// genesis: consecutive entries of one batch are accepted and the head
/// written is the last; an entry past the head is `invalid:audit_gap` and
/// not kept (it heals); a wrong hash is `invalid:audit_hash`, kept.
#[test]
fn the_audit_chain_grows_one_link_at_a_time() {
    let first = audit(1, &audit_genesis(DESK));
    let second = audit(2, &first.hash);
    let gap = audit(4, &second.hash);
    let mut broken = audit(3, &second.hash);
    broken.detail = Some("changed".into());
    let events = [
        Event::new("a1", EventBody::Audit(first)),
        Event::new("a2", EventBody::Audit(second.clone())),
        Event::new("a4", EventBody::Audit(gap)),
        Event::new("a3", EventBody::Audit(broken)),
    ];
    let j = run(&events, desk_picture());
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT, refused("audit_gap"), refused("audit_hash")]);
    assert_eq!(j.writes.audit_head, Some(AuditHead { seq: 2, hash: second.hash }));
    assert_eq!(kept_reasons(&j), ["invalid:audit_hash"]);
}

/// An entry at a position already filled, or one that does not follow the
/// head, is `conflict:audit_chain` (the desk's history forked), with an
/// `audit_chain` notice; the head does not move.
#[test]
fn a_forked_audit_chain_is_a_conflict() {
    let first = audit(1, &audit_genesis(DESK));
    let head = Picture { audit_head: Some(AuditHead { seq: 1, hash: first.hash.clone() }), ..desk_picture() };
    let mut refilled = audit(1, &audit_genesis(DESK));
    refilled.action = "staff.sign_in".into();
    let refilled = refilled.sealed();
    let unlinked = audit(2, &"0".repeat(64));
    let j = run(&[Event::new("b1", EventBody::Audit(refilled)), Event::new("b2", EventBody::Audit(unlinked))], head);
    assert_eq!(verdicts(&j), [conflicting("audit_chain"), conflicting("audit_chain")]);
    assert_eq!(notice_kinds(&j), [(DESK, "audit_chain"), (DESK, "audit_chain")]);
    assert_eq!(j.writes.audit_head, None);
}

/// A forked audit chain quarantines the desk (`Writes::quarantine`), named
/// by the seq of the batch's first forked entry, whichever way the fork
/// shows: an entry at a filled position, one that does not follow the head,
/// or another entry under a held audit key.
#[test]
fn a_forked_audit_chain_quarantines_the_desk_at_its_first_forked_entry() {
    let first = audit(1, &audit_genesis(DESK));
    let second = audit(2, &first.hash);
    let head = Picture { audit_head: Some(AuditHead { seq: 2, hash: second.hash.clone() }), ..desk_picture() };
    let mut refilled = audit(2, &first.hash);
    refilled.action = "staff.sign_in".into();
    let refilled = refilled.sealed();
    let unlinked = audit(3, &"0".repeat(64));
    let j = run(
        &[Event::new("b2", EventBody::Audit(refilled.clone())), Event::new("b3", EventBody::Audit(unlinked.clone()))],
        head.clone(),
    );
    assert_eq!(verdicts(&j), [conflicting("audit_chain"), conflicting("audit_chain")]);
    assert_eq!(j.writes.quarantine, Some(2), "the first forked entry names the fork");

    let j = run(&[Event::new("b3", EventBody::Audit(unlinked))], head.clone());
    assert_eq!(j.writes.quarantine, Some(3));

    // The copy resends its entry 2 under the key the original's entry 2 is held by.
    let held = Picture {
        events: vec![HeldEvent { idempotency_key: "a2".into(), content_hash: "other".into(), body: None }],
        ..head
    };
    let j = run(&[Event::new("a2", EventBody::Audit(refilled))], held);
    assert_eq!(verdicts(&j), [conflicting("idempotency_key")]);
    assert_eq!(j.writes.quarantine, Some(2));
}

/// Nothing but a fork of the audit chain quarantines: a chain that grows,
/// a gap that heals, a broken hash, an entry already held, and conflicts of
/// records (a number or record used twice) leave the desk as it is.
#[test]
fn only_a_forked_audit_chain_quarantines() {
    let first = audit(1, &audit_genesis(DESK));
    let second = audit(2, &first.hash);
    let mut broken = audit(3, &second.hash);
    broken.detail = Some("changed".into());
    let gap = audit(5, &second.hash);
    let events = [
        Event::new("a1", EventBody::Audit(first.clone())),
        Event::new("a2", EventBody::Audit(second)),
        Event::new("a3", EventBody::Audit(broken)),
        Event::new("a5", EventBody::Audit(gap)),
    ];
    let j = run(&events, desk_picture());
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT, refused("audit_hash"), refused("audit_gap")]);
    assert_eq!(j.writes.quarantine, None);

    // An audit entry sent again as it was is held, not a fork.
    let again = Event::new("a1", EventBody::Audit(first));
    let hash = again.received_hash().to_string();
    let held = Picture {
        events: vec![HeldEvent { idempotency_key: "a1".into(), content_hash: hash, body: None }],
        ..desk_picture()
    };
    let j = run(&[again], held);
    assert_eq!(verdicts(&j), [(Outcome::AlreadyHeld, None)]);
    assert_eq!(j.writes.quarantine, None);

    // A record conflict and another event under a held key are the records' matter.
    let e = issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a"));
    let picture = Picture {
        events: vec![HeldEvent { idempotency_key: "k1".into(), content_hash: "other".into(), body: Some(json!({})) }],
        ..holding()
    };
    let j = run(&[e], picture);
    assert_eq!(verdicts(&j), [conflicting("idempotency_key")]);
    assert_eq!(j.writes.quarantine, None);
}

/// The picture a batch needs: every key; every record named, a void's survivor
/// too; the numbers, slots (once each) and duplicate keys of `issued`
/// events; the audit head only with an audit entry.
#[test]
fn the_needs_of_a_batch() {
    let mut no_login = record("D1-2", &leased(1, 5), NumberSource::Lease, "doc-b");
    no_login.jobnet_username = String::new();
    let events = [
        issued("k1", record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a")),
        issued("k2", no_login),
        Event::new(
            "v1",
            EventBody::Voided(Void {
                record_id: "D1-1".into(),
                voided_at: now(),
                reason: "duplicate".into(),
                replaced_by: Some("D1-0".into()),
            }),
        ),
    ];
    let batch = hashed(&events);
    let needs = Needs::of(&batch, now().date_naive());
    assert_eq!(needs.keys, ["k1", "k2", "v1"]);
    assert_eq!(needs.record_ids, ["D1-1", "D1-2", "D1-1", "D1-0"]);
    assert_eq!(needs.numbers, [stored(&leased(0, 5)), stored(&leased(1, 5))]);
    assert_eq!(needs.slots, [i32::from(slot().value())]);
    assert_eq!(needs.document_keys, ["doc-a", "doc-b"]);
    assert!(needs.issues() && !needs.audit_head);

    let audit_only = [Event::new("a1", EventBody::Audit(audit(1, &audit_genesis(DESK))))];
    let batch = hashed(&audit_only);
    let needs = Needs::of(&batch, now().date_naive());
    assert!(needs.audit_head && !needs.issues() && needs.record_ids.is_empty());
}

/// A held body is read only for an event naming a login, sent under a held
/// key with other content: not for a new key, the same content again, or an
/// event without a login; each key once.
#[test]
fn bodies_are_read_only_for_possible_login_resends() {
    let mut no_login = record("D1-2", &leased(1, 5), NumberSource::Lease, "doc-b");
    no_login.jobnet_username = String::new();
    let with_login = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    let events = [
        issued("same", with_login.clone()),
        issued("other", with_login.clone()),
        issued("other", with_login.clone()),
        issued("nologin", no_login),
        reprint("reprint", "D1-1", &phc("h"), Some(U1)),
        reprint("old-reprint", "D1-1", &phc("h"), None),
        issued("new", with_login),
    ];
    let batch = hashed(&events);
    let held = |key: &str, hash: &str| HeldEvent { idempotency_key: key.into(), content_hash: hash.into(), body: None };
    let held = [
        held("same", &batch[0].hash),
        held("other", "x"),
        held("nologin", "x"),
        held("reprint", "x"),
        held("old-reprint", "x"),
    ];
    assert_eq!(bodies_needed(&batch, &held), ["other", "reprint"]);
    assert!(bodies_needed(&batch, &[]).is_empty());
}

fn tagged(username: Option<&str>, number: &str) -> Value {
    let mut payload = json!({ "record_id": "D1-1", "number": number, "password_hash": phc("h") });
    if let Some(u) = username {
        payload["jobnet_username"] = json!(u);
    }
    json!({ "kind": "issued", "payload": payload })
}

/// A resend that only fills an empty or absent login is the same event.
#[test]
fn a_resend_that_only_fills_an_empty_or_absent_login_is_the_same_event() {
    assert!(same_but_login(&tagged(Some(""), "010190-4001"), &tagged(Some(U1), "010190-4001")));
    assert!(same_but_login(&tagged(None, "010190-4001"), &tagged(Some(U1), "010190-4001")));
}

/// A resend that changes a held login, anything else, or the kind is not.
#[test]
fn a_resend_that_changes_a_login_or_anything_else_is_not() {
    assert!(!same_but_login(&tagged(Some(U3), "010190-4001"), &tagged(Some(U1), "010190-4001")));
    assert!(!same_but_login(&tagged(Some(""), "010190-4001"), &tagged(Some(U1), "010190-4003")));
    let mut other_kind = tagged(Some(U1), "010190-4001");
    other_kind["kind"] = json!("reprinted");
    assert!(!same_but_login(&tagged(Some(""), "010190-4001"), &other_kind));
}

// Record checks: what a record claims is checked at the registry, so that no
// desk can put another desk's login, a time to come or a hash no one can
// verify into the feed.

/// The registry reads a username exactly as the desk makes it: for any login
/// number and sequence the registry's spelling is the desk's
/// (`skranke_core::credentials::Username`), and it reads back to its login
/// number.
#[test]
fn usernames_are_read_as_the_desk_makes_them() {
    use skranke_core::credentials::Username;
    for (login, seq) in [(0, 0), (1, 1), (LOGIN, 1), (LOGIN, 12_167), (1 << 31, 7), (u32::MAX, u64::MAX)] {
        let text = username(login, seq);
        assert_eq!(text, Username::new(login, seq).as_str(), "login {login}, seq {seq}");
        assert_eq!(username_login_number(&text), Some(login), "{text}");
    }
    assert_eq!([U1, U2, U3], [username(LOGIN, 1), username(LOGIN, 2), username(LOGIN, 3)]);
    // The fixture desk from before the username fix (login number 1).
    assert_eq!(username_login_number("33223E"), Some(1));
}

proptest::proptest! {
    /// Any username a desk makes reads back to the desk's login number, and
    /// any one character of it changed reads as no username at all (the
    /// check character catches every substitution), so a typo never lands in
    /// another namespace.
    #[test]
    fn a_changed_character_is_never_a_username(login: u32, seq in 0u64..1 << 40, at: proptest::sample::Index, to: proptest::sample::Index) {
        let text = username(login, seq);
        proptest::prop_assert_eq!(username_login_number(&text), Some(login));
        let mut bytes = text.clone().into_bytes();
        let i = at.index(bytes.len());
        let replacement = USERNAME_ALPHABET[to.index(USERNAME_ALPHABET.len())];
        proptest::prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        proptest::prop_assert_eq!(username_login_number(&String::from_utf8(bytes).unwrap()), None);
    }
}

/// What a desk never prints is no username: lower case, a wrong check
/// character, an extra leading digit, a sequence shorter than three digits,
/// characters outside the alphabet, nothing at all.
#[test]
fn text_a_desk_never_prints_is_no_username() {
    let lower = U1.to_ascii_lowercase();
    let wrong_check = format!("{}{}", &U1[..U1.len() - 1], if U1.ends_with('2') { '3' } else { '2' });
    for text in [&lower, &wrong_check, "33223", "3322E", "3P0223Y", "u-D1-1", "", "AB3C", "3P223Y "] {
        assert_eq!(username_login_number(text), None, "{text:?}");
    }
    // A padded desk part ("2" for a leading zero) is not the desk's spelling.
    let padded = {
        let canonical = username(5, 1);
        let seq_and_check = &canonical[2..];
        let body = format!("42{}{}", &canonical[1..2], &seq_and_check[..seq_and_check.len() - 1]);
        let values: Vec<u64> = body.bytes().filter_map(username_value).collect();
        format!("{body}{}", char::from(USERNAME_ALPHABET[username_check(&values) as usize]))
    };
    assert_eq!(username_login_number(&padded), None, "{padded}");
}

/// An `issued` record whose username is not built from the sending desk's
/// login number is `invalid:username_namespace`, kept, and nothing of it is
/// written (no number, record or feed item); the desk's own username in the
/// same batch is accepted. A record without a login (a desk from before
/// logins) is not checked for one; a desk with no login number has no
/// username of its own.
#[test]
fn a_username_of_another_desks_namespace_is_invalid() {
    let mut foreign = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    foreign.jobnet_username = username(LOGIN + 1, 1);
    let own = record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-b");
    let mut no_login = record("D1-3", &leased(0, 7), NumberSource::Lease, "doc-c");
    no_login.jobnet_username = String::new();
    no_login.password_hash = String::new();
    let j = run(&[issued("k1", foreign), issued("k2", own.clone()), issued("k3", no_login)], holding());
    assert_eq!(verdicts(&j), [refused("username_namespace"), ACCEPT, ACCEPT]);
    assert_eq!(kept_reasons(&j), ["invalid:username_namespace"]);
    let written: Vec<&str> = j.writes.records.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(written, ["D1-2", "D1-3"]);
    assert_eq!(j.writes.numbers.len(), 2);
    assert_eq!(feed_kinds(&j), [("D1-2", "issued"), ("D1-3", "issued")]);

    let none = Picture { login_number: None, ..holding() };
    let j = run(&[issued("k2", own)], none);
    assert_eq!(verdicts(&j), [refused("username_namespace")]);
}

/// A login that a reprint, a login amendment or a login-filling resend
/// would newly give a record must be in the desk's namespace too, else
/// `invalid:username_namespace` and the record keeps no login.
#[test]
fn a_login_filled_in_later_must_be_in_the_desks_namespace() {
    let foreign = username(LOGIN + 1, 1);
    let mut first = record("D1-3", &leased(0, 5), NumberSource::Lease, "doc-a");
    first.jobnet_username = String::new();
    let held_body = serde_json::to_value(EventBody::Issued(first.clone())).unwrap();
    let picture = Picture {
        events: vec![HeldEvent {
            idempotency_key: "k3".into(),
            content_hash: EventBody::Issued(first.clone()).content_hash(),
            body: Some(held_body),
        }],
        records: vec![held_record("D1-1", DESK, ""), held_record("D1-2", DESK, ""), held_record("D1-3", DESK, "")],
        ..holding()
    };
    let mut resent = first;
    resent.jobnet_username = foreign.clone();
    let events = [
        reprint("r1", "D1-1", &phc("new"), Some(&foreign)),
        amend("D1-2/login", "D1-2", &foreign),
        issued("k3", resent),
        amend("D1-1/login", "D1-1", U1),
    ];
    let j = run(&events, picture);
    assert_eq!(
        verdicts(&j),
        [refused("username_namespace"), refused("username_namespace"), refused("username_namespace"), ACCEPT]
    );
    assert_eq!(j.writes.logins.iter().map(|l| l.record_id.as_str()).collect::<Vec<_>>(), ["D1-1"]);
    assert_eq!(j.writes.logins[0].jobnet_username, U1);
}

/// A record issued later than the registry's time plus the clock skew a
/// request may have is `invalid:issued_in_future`; up to the skew it is
/// accepted (a desk's clock is trusted that far).
#[test]
fn a_record_issued_in_the_future_is_invalid() {
    let skew = Duration::seconds(MAX_CLOCK_SKEW_SECS);
    let mut within = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    within.issued_at = now() + skew;
    let mut beyond = record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-b");
    beyond.issued_at = now() + skew + Duration::seconds(1);
    let j = run(&[issued("k1", within), issued("k2", beyond)], holding());
    assert_eq!(verdicts(&j), [ACCEPT, refused("issued_in_future")]);
    assert_eq!(kept_reasons(&j), ["invalid:issued_in_future"]);
    assert_eq!(j.writes.records.len(), 1);
}

/// A password hash is the desk's kind or it is refused: the desk's own hash
/// is well-formed; another algorithm or version, costs below the desk's (or
/// beyond what a verifier should spend), parameters missing, extra or out of
/// order, a salt or hash too short or not unpadded Base64, or no PHC string
/// at all are not.
#[test]
fn only_argon2id_hashes_with_the_desks_parameters_are_well_formed() {
    use skranke_core::credentials::{InitialPassword, OsRandom};
    let desk_hash = InitialPassword::generate(&mut OsRandom).unwrap().hash(&mut OsRandom).unwrap();
    assert!(well_formed_hash(desk_hash.as_str()), "{}", desk_hash.as_str());
    assert!(well_formed_hash(&phc("x")));
    let salt = "c2FsdHNhbHRzYWx0c2FsdA";
    let out = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    assert!(well_formed_hash(&format!("$argon2id$v=19$m=65536,t=3,p=4${salt}${out}")), "stronger costs are fine");
    for bad in [
        format!("$argon2i$v=19$m=19456,t=2,p=1${salt}${out}"),
        format!("$argon2d$v=19$m=19456,t=2,p=1${salt}${out}"),
        format!("$argon2id$v=16$m=19456,t=2,p=1${salt}${out}"),
        format!("$argon2id$m=19456,t=2,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=19455,t=2,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=19456,t=1,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=19456,t=2,p=0${salt}${out}"),
        format!("$argon2id$v=19$m=4294967295,t=2,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=19456,t=2${salt}${out}"),
        format!("$argon2id$v=19$t=2,m=19456,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=19456,t=2,p=1,keyid=x${salt}${out}"),
        format!("$argon2id$v=19$m=019456,t=2,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=+19456,t=2,p=1${salt}${out}"),
        format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${out}"),
        format!("$argon2id$v=19$m=19456,t=2,p=1${salt}$aGFzaA"),
        format!("$argon2id$v=19$m=19456,t=2,p=1${salt}=${out}"),
        format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${out}="),
        format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${}", out.replace('a', "-")),
        format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${}B", &out[..out.len() - 1]),
        format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${out}$"),
        format!("$argon2id$v=19$m=19456,t=2,p=1${salt}"),
        "K7TX 4M9C RWN3 PAHE".to_string(),
        String::new(),
    ] {
        assert!(!well_formed_hash(&bad), "{bad}");
    }
}

/// A malformed hash is `invalid:password_hash` wherever it would be
/// written: an `issued` record, a reprint (which keeps the old hash) and a
/// login amendment (which fills no login). A record with neither login nor
/// hash is one from before logins and is taken.
#[test]
fn a_malformed_password_hash_is_invalid_wherever_it_comes() {
    let weak = "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    let mut r = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    r.password_hash = weak.to_string();
    let mut login_without_hash = record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-b");
    login_without_hash.password_hash = String::new();
    let picture = Picture { records: vec![held_record("D1-8", DESK, U1), held_record("D1-9", DESK, "")], ..holding() };
    let amendment = Event::new(
        "D1-9/login",
        EventBody::LoginAmended(LoginAmendment {
            record_id: "D1-9".into(),
            jobnet_username: username(LOGIN, 9),
            password_hash: weak.into(),
            amended_at: now(),
        }),
    );
    let events = [issued("k1", r), issued("k2", login_without_hash), reprint("r8", "D1-8", weak, None), amendment];
    let j = run(&events, picture);
    assert_eq!(verdicts(&j), [refused("password_hash"); 4]);
    assert!(j.writes.records.is_empty() && j.writes.logins.is_empty() && j.writes.feed.is_empty());
    assert_eq!(kept_reasons(&j), ["invalid:password_hash"; 4]);
}

/// The municipality where the person stays must be a kommunekode; it may be
/// another than the desk's (a desk serves whoever comes in).
#[test]
fn the_municipality_of_stay_must_be_a_kommunekode() {
    let mut elsewhere = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    elsewhere.municipality = 461;
    let mut nowhere = record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-b");
    nowhere.municipality = 100;
    let j = run(&[issued("k1", elsewhere), issued("k2", nowhere)], holding());
    assert_eq!(verdicts(&j), [ACCEPT, refused("municipality")]);
    assert_eq!(j.writes.records[0].municipality, 461);
    assert_eq!(kept_reasons(&j), ["invalid:municipality"]);
}

/// A retired desk still uploads what it issued before its retirement (also
/// within the clock skew after it); a record issued later than that is
/// `invalid:desk_retired`.
#[test]
fn a_retired_desk_uploads_only_what_it_issued_before_retirement() {
    let retired_at = now() - Duration::hours(2);
    let skew = Duration::seconds(MAX_CLOCK_SKEW_SECS);
    let mut before = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    before.issued_at = retired_at - Duration::days(1);
    let mut at_the_edge = record("D1-2", &leased(0, 6), NumberSource::Lease, "doc-b");
    at_the_edge.issued_at = retired_at + skew;
    let mut after = record("D1-3", &leased(0, 7), NumberSource::Lease, "doc-c");
    after.issued_at = retired_at + skew + Duration::seconds(1);
    let picture = Picture { retired_at: Some(retired_at), ..holding() };
    let j = run(&[issued("k1", before), issued("k2", at_the_edge), issued("k3", after)], picture);
    assert_eq!(verdicts(&j), [ACCEPT, ACCEPT, refused("desk_retired")]);
    assert_eq!(kept_reasons(&j), ["invalid:desk_retired"]);
    assert_eq!(j.writes.records.len(), 2);
}

/// A record check's verdict, kept, is given again to the same event: a
/// retry is refused for the same reason.
#[test]
fn a_kept_record_check_is_given_again() {
    for code in ["username_namespace", "issued_in_future", "password_hash", "municipality", "desk_retired"] {
        assert_eq!(verdict_from_kept(&format!("invalid:{code}")), invalid(code));
    }
    let mut r = record("D1-1", &leased(0, 5), NumberSource::Lease, "doc-a");
    r.municipality = 100;
    let event = issued("k1", r);
    let first = run(std::slice::from_ref(&event), holding());
    let row = &first.writes.conflicts[0];
    let picture = Picture {
        kept: vec![KeptVerdict {
            idempotency_key: row.idempotency_key.clone(),
            content_hash: row.content_hash.clone(),
            reason: row.reason.clone(),
        }],
        ..holding()
    };
    let again = run(&[event], picture);
    assert_eq!(verdicts(&again), [refused("municipality")]);
    assert!(again.writes.conflicts.is_empty(), "kept once");
}
