//! The counter's issue with a registry double: it answers, it does not
//! answer in time, it refuses, it reports a match, and its time cannot be
//! remembered. An enrolled desk in memory (`MemoryKeyStore`), a printer
//! double, a deterministic random source.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::*;
use crate::alloc::OnlineRequest;
use crate::cpr::Personnummer;
use crate::credentials::TestRandom;
use crate::desk::{self, DeskKind, DeskSetup};
use crate::issue::IssueError;
use crate::keystore::MemoryKeyStore;
use crate::lease::{Block, LeaseUnit};
use crate::print::tests::RecordingPrinter;
use crate::protocol::MatchKind;
use crate::store::StoreError;

const PW: &str = "a long enough password";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap()
}

fn at() -> Moment {
    Moment { today: now().date_naive(), now: now() }
}

fn applicant(doc: &str) -> Applicant {
    named("Lind", doc)
}

fn named(surname: &str, doc: &str) -> Applicant {
    let v = serde_json::json!({
      "given_names": "Anna", "surname": surname, "birth_date": "1974-08-12", "sex": "F",
      "nationality": "SE", "municipality_of_stay": 147, "group": "eu-jobseeker",
      "document": {"type": "passport", "number": doc, "issuing_state": "SE", "expiry_date": "2099-04-15",
                   "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
      "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "sv",
      "contact": {"email": null, "phone": null, "address_dk": null}
    });
    Applicant::from_json(&v.to_string(), Lang::En).unwrap()
}

/// An enrolled desk with two lease units, its login number and the privacy controller set.
fn desk(dir: &std::path::Path) -> (Store, Session) {
    let units: Vec<LeaseUnit> = Block::default_block().units().skip(40).take(2).collect();
    let setup = DeskSetup {
        kind: DeskKind::Enrolled { desk_id: "D1".into(), units },
        municipality: "101",
        office: "Borgerservice Nord",
        desk_number: 3,
        admin_name: "Ada",
        admin_password: PW,
    };
    let mut store = desk::init(dir, Box::new(Arc::new(MemoryKeyStore::new())), &setup, now(), Lang::En).unwrap();
    store.set_login_number(17, now()).unwrap();
    let admin = store.sign_in("Ada", PW, now()).unwrap();
    store.set_setting(&admin, "privacy_controller", "Københavns Kommune", now()).unwrap();
    store.set_setting(&admin, "privacy_contact", "borgerservice@example.dk", now()).unwrap();
    store.set_setting(&admin, "privacy_dpo", "dpo@example.dk", now()).unwrap();
    (store, admin)
}

/// The registry's number for the applicant (born 1974-08-12, female), outside the desk's lease.
fn central() -> Personnummer {
    Personnummer::from_parts(NaiveDate::from_ymd_opt(1974, 8, 12).unwrap(), 2002).unwrap()
}

enum Answer {
    Clear,
    Match(MatchKind),
    Unreachable,
}

enum Allocation {
    Number,
    NoAnswer,
    Refused,
}

struct FakeRegistry {
    answer: Answer,
    allocation: Allocation,
    remember_fails: bool,
    lookups: Cell<u32>,
    allocations: Cell<u32>,
    keys: RefCell<Vec<String>>,
}

impl FakeRegistry {
    fn new(answer: Answer, allocation: Allocation) -> FakeRegistry {
        FakeRegistry {
            answer,
            allocation,
            remember_fails: false,
            lookups: Cell::new(0),
            allocations: Cell::new(0),
            keys: RefCell::new(Vec::new()),
        }
    }
}

impl OnlineAllocator for FakeRegistry {
    fn allocate(&self, request: &OnlineRequest) -> Result<Option<Personnummer>, SyncError> {
        self.allocations.set(self.allocations.get() + 1);
        self.keys.borrow_mut().push(request.idempotency_key.clone());
        match self.allocation {
            Allocation::Number => Ok(Some(central())),
            Allocation::NoAnswer => Ok(None),
            Allocation::Refused => Err(SyncError::Refused { status: 403, code: "desk.retired".into(), detail: None }),
        }
    }
}

impl Registry for FakeRegistry {
    fn lookup(&self, _: &mut Store, _: &Session, _: &DuplicateKeys, _: DateTime<Utc>) -> Result<LookupResponse, Error> {
        self.lookups.set(self.lookups.get() + 1);
        let found = |kind| LookupMatch { kind, desk_id: "D9".into(), municipality: 851 };
        match self.answer {
            Answer::Clear => Ok(LookupResponse { matches: Vec::new(), registry_time: now() }),
            Answer::Match(kind) => Ok(LookupResponse { matches: vec![found(kind)], registry_time: now() }),
            Answer::Unreachable => Err(SyncError::Unreachable { detail: "timed out".into() }.into()),
        }
    }

    fn allocator(&self) -> &dyn OnlineAllocator {
        self
    }

    fn remember(&self, _: &mut Store) -> Result<(), Error> {
        if self.remember_fails {
            Err(StoreError::Database(rusqlite::Error::InvalidQuery).into())
        } else {
            Ok(())
        }
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    store.connection().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn issue(
    store: &mut Store,
    session: &Session,
    registry: &FakeRegistry,
    doc: &str,
    reviewed: bool,
) -> Result<CounterIssue, Error> {
    let printer = RecordingPrinter::default();
    let applicant = applicant(doc);
    let request = IssueRequest {
        applicant: &applicant,
        duplicate_reviewed: reviewed,
        delivery: Delivery::Print(&printer),
        at: at(),
        lang: Lang::En,
    };
    issue_with(store, session, Some(registry), &request, &mut TestRandom(7))
}

/// The registry answers: the number is the registry's, the check clear, nothing to warn about.
#[test]
fn a_registry_that_answers_allocates_the_number() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let registry = FakeRegistry::new(Answer::Clear, Allocation::Number);
    let out = issue(&mut store, &admin, &registry, "A1", false).unwrap();
    assert!(out.online());
    assert_eq!(out.issued.number, central());
    assert_eq!(out.registry, RegistryCheck::Clear);
    assert!(out.warnings.is_empty());
    assert!(out.handout.delivery.is_ok());
    assert_eq!((registry.lookups.get(), registry.allocations.get()), (1, 1));
}

/// A registry that does not answer in time leaves the lease and only this
/// desk's duplicate check, and the outcome says so.
#[test]
fn a_registry_that_times_out_leaves_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let registry = FakeRegistry::new(Answer::Unreachable, Allocation::NoAnswer);
    let out = issue(&mut store, &admin, &registry, "A1", false).unwrap();
    assert!(!out.online());
    assert_eq!(out.issued.source, NumberSource::Lease);
    assert_eq!(out.registry, RegistryCheck::Unanswered);
    assert_eq!(count(&store, "SELECT count(*) FROM record"), 1);
}

/// A registry that answers with a refusal stops the issue: nothing stored.
#[test]
fn a_registry_that_refuses_stops_the_issue_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let registry = FakeRegistry::new(Answer::Clear, Allocation::Refused);
    let err = issue(&mut store, &admin, &registry, "A1", false).unwrap_err();
    assert!(matches!(err, Error::Sync(SyncError::Refused { .. })), "{err:?}");
    assert_eq!(count(&store, "SELECT count(*) FROM record"), 0);
    assert_eq!(count(&store, "SELECT count(*) FROM outbox"), 0);
}

/// A retried issue asks the registry under the key of its first attempt,
/// so the registry gives it the number it recorded then rather than a
/// second one; another applicant's issue asks under another key.
#[test]
fn a_retried_issue_asks_under_the_same_key_and_another_applicant_under_another() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let refusing = FakeRegistry::new(Answer::Clear, Allocation::Refused);
    issue(&mut store, &admin, &refusing, "A1", false).unwrap_err();
    let answering = FakeRegistry::new(Answer::Clear, Allocation::Number);
    issue(&mut store, &admin, &answering, "A1", false).unwrap();
    let other = FakeRegistry::new(Answer::Clear, Allocation::NoAnswer);
    let printer = RecordingPrinter::default();
    let someone_else = named("Kowalska", "B2");
    let request = IssueRequest {
        applicant: &someone_else,
        duplicate_reviewed: false,
        delivery: Delivery::Print(&printer),
        at: at(),
        lang: Lang::En,
    };
    issue_with(&mut store, &admin, Some(&other), &request, &mut TestRandom(7)).unwrap();
    let (first, retry, next) =
        (refusing.keys.borrow()[0].clone(), answering.keys.borrow()[0].clone(), other.keys.borrow()[0].clone());
    assert_eq!(first, retry, "the retry is the same request to the registry");
    assert_ne!(retry, next);
    assert!(first.starts_with(&format!("{}/alloc/", store.desk_id())), "{first}");
    assert!(!first.contains("A1"), "the key shows nothing of the document: {first}");
}

/// A person match the registry reported is refused at the
/// `duplicate_reviewed` field until the clerk confirms the review; the
/// confirmed issue is audited with the review.
#[test]
fn a_registry_person_match_needs_the_review_and_the_review_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let registry = FakeRegistry::new(Answer::Match(MatchKind::Person), Allocation::NoAnswer);
    let Err(Error::Invalid(errors)) = issue(&mut store, &admin, &registry, "A1", false) else {
        panic!("issued without the review")
    };
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("duplicate_reviewed", "duplicate_review_needed"));
    assert!(!errors[0].message.starts_with("issue."), "{}", errors[0].message);
    assert_eq!(count(&store, "SELECT count(*) FROM record"), 0);
    assert_eq!(registry.allocations.get(), 0, "no number asked for");

    let out = issue(&mut store, &admin, &registry, "A1", true).unwrap();
    assert!(matches!(&out.registry, RegistryCheck::Matched(m) if m.len() == 1));
    let detail: Option<String> = store
        .connection()
        .query_row(
            "SELECT detail FROM audit WHERE action = 'record.issued' AND record_id = ?1",
            [&out.issued.record_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(detail.as_deref(), Some("duplicate_reviewed:1"));
}

/// The same identity document at the registry is a duplicate: refused at
/// `document.number` (naming the desk that holds it), reviewed or not.
#[test]
fn a_registry_document_match_is_refused_even_after_review() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let registry = FakeRegistry::new(Answer::Match(MatchKind::Document), Allocation::Number);
    for reviewed in [false, true] {
        let Err(Error::Invalid(errors)) = issue(&mut store, &admin, &registry, "A1", reviewed) else {
            panic!("issued a known document")
        };
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("document.number", "registry_duplicate_document")
        );
        assert!(errors[0].message.contains("D9"), "{}", errors[0].message);
    }
    assert_eq!(count(&store, "SELECT count(*) FROM record"), 0);
    assert_eq!(registry.allocations.get(), 0);
}

/// An issue without a match needs no review; a review confirmed anyway is
/// still audited (with no match), and the plain issue's audit entry has no
/// detail. A match at this desk is refused, reviewed or not, without asking
/// the registry.
#[test]
fn the_review_flag_is_audited_whenever_it_is_given_and_a_local_match_is_refused_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let registry = FakeRegistry::new(Answer::Clear, Allocation::NoAnswer);
    issue(&mut store, &admin, &registry, "A1", false).unwrap();
    let printer = RecordingPrinter::default();
    let other = named("Berg", "B2");
    let request = IssueRequest {
        applicant: &other,
        duplicate_reviewed: true,
        delivery: Delivery::Print(&printer),
        at: at(),
        lang: Lang::En,
    };
    issue_with(&mut store, &admin, Some(&registry), &request, &mut TestRandom(8)).unwrap();
    let details: Vec<Option<String>> = store
        .connection()
        .prepare("SELECT detail FROM audit WHERE action = 'record.issued' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(details, [None, Some("duplicate_reviewed:0".to_string())]);
    assert_eq!(registry.lookups.get(), 2);
    let again = issue(&mut store, &admin, &registry, "A1", true).unwrap_err();
    assert!(matches!(again, Error::Issue(IssueError::DuplicateDocument { .. })), "{again:?}");
    assert_eq!(registry.lookups.get(), 2, "not asked for a local match");
}

/// The registry's time cannot be remembered after the commit: the issue
/// stands, and the outcome carries the warning naming the record.
#[test]
fn failing_to_remember_the_registrys_time_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, admin) = desk(dir.path());
    let mut registry = FakeRegistry::new(Answer::Clear, Allocation::Number);
    registry.remember_fails = true;
    let out = issue(&mut store, &admin, &registry, "A1", false).unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM record"), 1);
    assert_eq!(out.warnings.len(), 1);
    assert_eq!(out.warnings[0].code, "issue.registry_time_not_kept");
    assert!(out.warnings[0].message.contains(&out.issued.record_id), "{}", out.warnings[0].message);
}

/// A training desk asks no registry.
#[test]
fn a_training_desk_issues_without_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let setup = DeskSetup {
        kind: DeskKind::Training,
        municipality: "101",
        office: "Borgerservice Nord",
        desk_number: 3,
        admin_name: "Ada",
        admin_password: PW,
    };
    let mut store = desk::init(dir.path(), Box::new(MemoryKeyStore::new()), &setup, now(), Lang::En).unwrap();
    let admin = store.sign_in("Ada", PW, now()).unwrap();
    store.set_setting(&admin, "privacy_controller", "Københavns Kommune", now()).unwrap();
    store.set_setting(&admin, "privacy_contact", "borgerservice@example.dk", now()).unwrap();
    store.set_setting(&admin, "privacy_dpo", "dpo@example.dk", now()).unwrap();
    let printer = RecordingPrinter::default();
    let a = applicant("A1");
    let request = IssueRequest {
        applicant: &a,
        duplicate_reviewed: false,
        delivery: Delivery::Print(&printer),
        at: at(),
        lang: Lang::En,
    };
    let out = super::issue(&mut store, &admin, &request, &mut TestRandom(3)).unwrap();
    assert_eq!(out.registry, RegistryCheck::NotAsked);
    assert!(out.issued.training && !out.online());
}
