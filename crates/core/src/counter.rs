//! The counter: issuing as staff do it at the desk, the one orchestration
//! the desk app's commands and the `skranke` CLI both call (they parse the
//! input, call this and present the outcome).
//!
//! An issue at the counter, in order:
//!
//! 1. The applicant is validated on the desk's date and municipality; bad
//!    input is refused with every problem, before the registry hears of it.
//! 2. An enrolled desk asks the registry whether and where the applicant is
//!    known (`sync::lookup`: audited, rate-limited, a short deadline). A
//!    registry that does not answer leaves only this desk's check, which the
//!    issue transaction makes anyway (a local match is always refused).
//! 3. A match of the identity document at the registry is a duplicate: the
//!    issue is refused at `document.number`. A match of the person (birth
//!    date, nationality, Latin name) needs the clerk's review
//!    (`duplicate_reviewed`), or the issue is refused at that field; either
//!    way nothing is stored. A reviewed issue says so in its audit entry.
//! 4. The number: the registry's online allocation first (its deadline is
//!    the allocator's contract, `alloc::ONLINE_TIMEOUT`), the lease when it
//!    does not answer in time; then the record, the login and the handout
//!    (`core::handout`).
//! 5. The registry's time the answers told is remembered for the clock
//!    check. The record is committed by then, so failing to remember it is a
//!    [`Warning`] returned with the outcome, never a failure of the issue.

use chrono::{DateTime, NaiveDate, Utc};

use crate::alloc::{NumberSource, OnlineAllocator};
use crate::applicant::{Applicant, DuplicateKeys, IntakeContext, Notice};
use crate::credentials::SecureRandom;
use crate::handout::{Delivery, HandedOut};
use crate::i18n::{self, Lang};
use crate::issue::Issued;
use crate::protocol::{LookupMatch, LookupResponse, MatchKind};
use crate::staff::Session;
use crate::store::Store;
use crate::sync::{self, HttpAllocator, SyncError};
use crate::Error;
use crate::FieldError;

/// The desk's date and the time of an act at the counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment {
    /// The desk's date: ages and document expiry are decided on it.
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
}

impl Moment {
    /// Now, on the desk's clock (its date in the local time zone).
    pub fn now() -> Moment {
        Moment { today: chrono::Local::now().date_naive(), now: Utc::now() }
    }
}

/// The registry as an issue at an enrolled desk meets it. The desk's own
/// is [`HttpAllocator`]; tests put a double in its place.
pub trait Registry {
    /// Whether and where the applicant is known (audited by the desk).
    fn lookup(
        &self,
        store: &mut Store,
        session: &Session,
        keys: &DuplicateKeys,
        now: DateTime<Utc>,
    ) -> Result<LookupResponse, Error>;

    /// The online allocation (registry first, lease when it does not answer).
    fn allocator(&self) -> &dyn OnlineAllocator;

    /// Keeps the registry's time and sequence its answers told in the store.
    fn remember(&self, store: &mut Store) -> Result<(), Error>;
}

impl Registry for HttpAllocator<'_> {
    fn lookup(
        &self,
        store: &mut Store,
        session: &Session,
        keys: &DuplicateKeys,
        now: DateTime<Utc>,
    ) -> Result<LookupResponse, Error> {
        sync::lookup(store, session, self.client(), keys, now)
    }

    fn allocator(&self) -> &dyn OnlineAllocator {
        self
    }

    fn remember(&self, store: &mut Store) -> Result<(), Error> {
        HttpAllocator::remember(self, store)
    }
}

/// An issue as staff asked for it.
pub struct IssueRequest<'a> {
    pub applicant: &'a Applicant,
    /// The clerk reviewed the match the registry reported and issues anyway.
    pub duplicate_reviewed: bool,
    pub delivery: Delivery<'a>,
    pub at: Moment,
    pub lang: Lang,
}

/// What the registry said before the number was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryCheck {
    /// A training desk has no registry.
    NotAsked,
    /// The registry knows no such applicant.
    Clear,
    /// The registry knows the applicant (the clerk reviewed it).
    Matched(Vec<LookupMatch>),
    /// The registry did not answer in time: only this desk's records were checked.
    Unanswered,
    /// The registry refused the lookup (the reason for staff, in the request's language).
    Failed { message: String },
}

/// Something staff must be told about an issue that nonetheless happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// A stable code (`issue.registry_time_not_kept`).
    pub code: &'static str,
    /// The sentence for staff, in the request's language.
    pub message: String,
}

/// A committed issue at the counter.
#[derive(Debug)]
pub struct CounterIssue {
    pub issued: Issued,
    /// For the clerk (e.g. which job centre is competent).
    pub notices: Vec<Notice>,
    /// The login and what became of the handout.
    pub handout: HandedOut,
    pub registry: RegistryCheck,
    pub warnings: Vec<Warning>,
}

impl CounterIssue {
    /// Whether the registry allocated the number (so it answered just now).
    pub fn online(&self) -> bool {
        self.issued.source == NumberSource::Online
    }
}

/// The field a reviewed duplicate is confirmed in.
pub const DUPLICATE_REVIEWED_FIELD: &str = "duplicate_reviewed";

fn review_needed(lang: Lang) -> FieldError {
    FieldError {
        field: DUPLICATE_REVIEWED_FIELD.into(),
        code: "duplicate_review_needed".into(),
        message: i18n::render(lang, "issue.field.duplicate_review_needed", &[]),
    }
}

fn document_known(m: &LookupMatch, lang: Lang) -> FieldError {
    FieldError {
        field: "document.number".into(),
        code: "registry_duplicate_document".into(),
        message: i18n::render(
            lang,
            "issue.field.registry_duplicate_document",
            &[("desk", &m.desk_id), ("municipality", &format!("{:03}", m.municipality))],
        ),
    }
}

/// Issues at the counter (see the module doc): an enrolled desk asks its
/// registry ([`HttpAllocator`] over `sync::client_for`), a training desk
/// issues from its lease alone.
pub fn issue(
    store: &mut Store,
    session: &Session,
    request: &IssueRequest<'_>,
    rng: &mut impl SecureRandom,
) -> Result<CounterIssue, Error> {
    let client = if store.is_training() { None } else { Some(sync::client_for(store)?) };
    let registry = client.as_ref().map(HttpAllocator::new);
    issue_with(store, session, registry.as_ref().map(|r| r as &dyn Registry), request, rng)
}

/// [`issue`] with the registry given (`None`: none to ask).
pub fn issue_with(
    store: &mut Store,
    session: &Session,
    registry: Option<&dyn Registry>,
    request: &IssueRequest<'_>,
    rng: &mut impl SecureRandom,
) -> Result<CounterIssue, Error> {
    let (lang, Moment { today, now }) = (request.lang, request.at);
    let ctx = IntakeContext { today, desk_municipality: store.municipality_code()? };
    let valid = request.applicant.validate(&ctx, lang).map_err(Error::Invalid)?;
    // A match here is refused by the issue itself: the registry need not be asked.
    let local = store.find_duplicates(session, &valid.keys)?;
    let check = match registry {
        Some(r) if local.is_empty() => match r.lookup(store, session, &valid.keys, now) {
            Ok(answer) if answer.matches.is_empty() => RegistryCheck::Clear,
            Ok(answer) => RegistryCheck::Matched(answer.matches),
            Err(Error::Sync(SyncError::Unreachable { .. })) => RegistryCheck::Unanswered,
            Err(Error::Sync(e)) => RegistryCheck::Failed { message: e.message(lang) },
            Err(e) => return Err(e),
        },
        _ => RegistryCheck::NotAsked,
    };
    let found: &[LookupMatch] = match &check {
        RegistryCheck::Matched(m) => m,
        _ => &[],
    };
    // The same identity document is a duplicate whatever a review finds.
    if let Some(m) = found.iter().find(|m| m.kind == MatchKind::Document) {
        return Err(Error::Invalid(vec![document_known(m, lang)]));
    }
    let matches = found.len();
    if matches > 0 && !request.duplicate_reviewed {
        return Err(Error::Invalid(vec![review_needed(lang)]));
    }
    let reviewed = request.duplicate_reviewed.then(|| format!("{DUPLICATE_REVIEWED_FIELD}:{matches}"));
    let issued = store.issue_with_handout_reviewed(
        session,
        &valid,
        today,
        now,
        registry.map(Registry::allocator),
        request.delivery,
        rng,
        reviewed.as_deref(),
    );
    let out = match issued {
        Ok(out) => out,
        Err(e) => {
            // An online number the failed issue was given goes back at the next
            // sync; the issue's own error is what the clerk needs to read.
            if let Some(r) = registry {
                let _ = r.remember(store);
            }
            return Err(e.into());
        }
    };
    let mut warnings = Vec::new();
    if let Some(r) = registry {
        if let Err(e) = r.remember(store) {
            warnings.push(Warning {
                code: "issue.registry_time_not_kept",
                message: i18n::render(
                    lang,
                    "issue.warning.registry_time_not_kept",
                    &[("record_id", &out.issued.record_id), ("detail", &e.message(lang))],
                ),
            });
        }
    }
    Ok(CounterIssue { issued: out.issued, notices: out.notices, handout: out.handout, registry: check, warnings })
}

#[cfg(test)]
mod tests;
