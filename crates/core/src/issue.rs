//! Issuing (udstedelse) and voiding (annullering) administrative personnumre.
//!
//! Issuing is one transaction: check the local duplicate keys, take the
//! number, write the record, the audit event and the outbox event (and, when
//! given, an [`IssueAttachment`] such as the Jobnet credentials), commit
//! durably. Either all of it is in the store or none of it.
//!
//! The duplicate keys are kept only as HMAC-SHA256 under the desk's own key
//! (from the key store), so the keys reveal nothing without it; the personal
//! data itself is in the `applicant` column of the encrypted store.

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::Sha256;

use crate::alloc::{self, NumberSource, OnlineAllocator, OnlineRequest};
use crate::applicant::{safe_text_char, Applicant, IntakeContext, Notice, ValidApplicant};
use crate::audit::{self, Event};
use crate::cpr::{Personnummer, Sex};
use crate::credentials::{PasswordHash, Username};
use crate::i18n::{self, Lang};
use crate::keystore::to_hex;
use crate::letter::LetterError;
use crate::names;
use crate::protocol::{self, DocumentSummary, EventBody, IssuedRecord, PersonRecord, Void};
use crate::staff::{self, Role, Session, StaffError};
use crate::store::outbox;
use crate::store::{state, stored_time, timestamp, DeskContext, Store, StoreError};
use crate::sync_error::SyncError;
use crate::FieldError;

/// What issuing and voiding refuse, and what fails beneath them. Each
/// variant has a catalog message ([`IssueError::message`]); the first ones
/// are issuing's own refusals, the last ones carry the error of what issuing
/// builds on (the core's `Error` takes each to its own variant, flat).
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("already issued here as {record_id} (same identity document)")]
    DuplicateDocument { record_id: String },
    #[error("already issued here as {record_id} (same name, birth date and nationality)")]
    DuplicatePerson { record_id: String },
    #[error("lease exhausted for {birth_date} {sex}")]
    LeaseExhausted { birth_date: String, sex: String },
    #[error("lease frozen, nothing to issue from for {birth_date} {sex}")]
    LeaseFrozen { birth_date: String, sex: String, training: bool },
    #[error("the online allocator returned a number that does not fit: {number}")]
    OnlineNumberUnfit { number: String },
    #[error("no record {record_id}")]
    RecordNotFound { record_id: String },
    #[error("record {record_id} is already voided")]
    AlreadyVoided { record_id: String },
    #[error("the desk's clock is behind the registry's last known time {registry_time}")]
    ClockBehind { registry_time: String },
    #[error("the desk is retired and issues no more numbers")]
    DeskRetired,
    /// The deployment requires a newer desk version to issue (it still syncs).
    #[error("this desk runs {running}; the registry requires {minimum} or newer to issue")]
    UpdateRequired { running: String, minimum: String },
    /// The applicant or the void's fields failed validation: every problem
    /// at once, each naming its field.
    #[error("invalid input: {}", FieldError::joined(.0, "; "))]
    Invalid(Vec<FieldError>),
    /// The staff member may not (their store's failure is [`IssueError::Store`]).
    #[error(transparent)]
    Staff(StaffError),
    /// The registry answered the online allocation with a refusal, or with
    /// an answer the desk does not believe.
    #[error(transparent)]
    Online(#[from] SyncError),
    /// An attachment's letter could not be rendered (nothing was stored).
    #[error(transparent)]
    Letter(#[from] LetterError),
    /// The desk store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A staff refusal reaches issuing's error without nesting its field
/// problems or its store failure.
impl From<StaffError> for IssueError {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::Invalid(errors) => IssueError::Invalid(errors),
            StaffError::Store(e) => IssueError::Store(e),
            e => IssueError::Staff(e),
        }
    }
}

impl From<rusqlite::Error> for IssueError {
    fn from(e: rusqlite::Error) -> Self {
        IssueError::Store(e.into())
    }
}

impl IssueError {
    /// A stable, machine-readable code (the catalogs' keys are `<code>.error`).
    pub fn code(&self) -> &'static str {
        match self {
            IssueError::DuplicateDocument { .. } => "issue.duplicate_document",
            IssueError::DuplicatePerson { .. } => "issue.duplicate_person",
            IssueError::LeaseExhausted { .. } => "issue.lease_exhausted",
            IssueError::LeaseFrozen { training: false, .. } => "issue.lease_frozen",
            IssueError::LeaseFrozen { training: true, .. } => "issue.lease_frozen_training",
            IssueError::OnlineNumberUnfit { .. } => "issue.online_number_unfit",
            IssueError::RecordNotFound { .. } => "issue.record_not_found",
            IssueError::AlreadyVoided { .. } => "issue.already_voided",
            IssueError::ClockBehind { .. } => "sync.clock_behind",
            IssueError::DeskRetired => "sync.desk_retired",
            IssueError::UpdateRequired { .. } => "issue.update_required",
            IssueError::Invalid(_) => "issue.invalid",
            IssueError::Staff(e) => e.code(),
            IssueError::Online(e) => e.code(),
            IssueError::Letter(e) => e.code(),
            IssueError::Store(e) => e.code(),
        }
    }

    /// Whether this refuses the request rather than reporting a problem
    /// with the machine, its setup or the network.
    pub fn is_refusal(&self) -> bool {
        match self {
            IssueError::Staff(e) => e.is_refusal(),
            IssueError::Online(e) => e.is_refusal(),
            IssueError::Letter(e) => !matches!(e, LetterError::Fonts),
            IssueError::Store(e) => e.is_refusal(),
            // The PC needs IT, not the applicant another try.
            IssueError::UpdateRequired { .. } => false,
            _ => true,
        }
    }

    /// The message for staff, from the catalog of `lang`.
    pub fn message(&self, lang: Lang) -> String {
        let args: Vec<(&str, String)> = match self {
            IssueError::Invalid(errors) => return FieldError::joined(errors, "\n"),
            IssueError::Staff(e) => return e.message(lang),
            IssueError::Online(e) => return e.message(lang),
            IssueError::Letter(e) => return e.message(lang),
            IssueError::Store(e) => return e.message(lang),
            IssueError::DeskRetired => vec![],
            IssueError::UpdateRequired { running, minimum } => {
                vec![("running", running.clone()), ("minimum", minimum.clone())]
            }
            IssueError::ClockBehind { registry_time } => vec![("registry_time", registry_time.clone())],
            IssueError::DuplicateDocument { record_id }
            | IssueError::DuplicatePerson { record_id }
            | IssueError::RecordNotFound { record_id }
            | IssueError::AlreadyVoided { record_id } => vec![("record_id", record_id.clone())],
            IssueError::LeaseExhausted { birth_date, sex } | IssueError::LeaseFrozen { birth_date, sex, .. } => {
                let sex = i18n::text(lang, if sex == "M" { "issue.sex.male" } else { "issue.sex.female" });
                vec![("birth_date", birth_date.clone()), ("sex", sex.to_string())]
            }
            IssueError::OnlineNumberUnfit { number } => vec![("number", number.clone())],
        };
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        i18n::render(lang, &format!("{}.error", self.code()), &args)
    }
}

/// How far the desk's clock may lag the registry's last known time before
/// issuing stops: the answer's time was taken before it travelled, and two
/// well-kept clocks still differ by a little.
pub const CLOCK_TOLERANCE_SECS: i64 = 60;

/// The issuing path's check (inside the act's transaction): a retired desk
/// never issues, and a desk whose clock is behind the registry's last known
/// time waits until the clock is right.
pub(crate) fn check_may_issue(conn: &Connection, now: DateTime<Utc>) -> Result<(), IssueError> {
    if state::get_flag(conn, state::key::RETIRED)? {
        return Err(IssueError::DeskRetired.into());
    }
    if let Some(t) = state::get_time(conn, state::key::REGISTRY_TIME)? {
        if now < t - chrono::Duration::seconds(CLOCK_TOLERANCE_SECS) {
            return Err(IssueError::ClockBehind { registry_time: timestamp(t) }.into());
        }
    }
    if let Some(minimum) = state::get(conn, state::key::MINIMUM_VERSION)? {
        if below_minimum(crate::VERSION, &minimum) {
            return Err(IssueError::UpdateRequired { running: crate::VERSION.to_string(), minimum });
        }
    }
    Ok(())
}

/// Whether version `running` is below `minimum` (a minimum that is no
/// version, which a verified answer never carries, stops nothing).
pub(crate) fn below_minimum(running: &str, minimum: &str) -> bool {
    match (protocol::parse_app_version(running), protocol::parse_app_version(minimum)) {
        (Some(r), Some(m)) => r < m,
        _ => false,
    }
}

/// What issuing needs from a validated applicant (see `core::applicant`).
pub struct Intake {
    pub birth_date: NaiveDate,
    pub sex: Sex,
    /// The plain duplicate key of the identity document.
    pub document_key: String,
    /// The plain duplicate key of the person (birth date, nationality, Latin name).
    pub person_key: String,
    /// The applicant's data as it is to be kept (personal data).
    pub applicant: serde_json::Value,
    /// The person as the registry receives them in the `issued` event: no
    /// eligibility group, no document number.
    pub person: PersonRecord,
    /// Kommunekode of the municipality where the person stays.
    pub municipality: u16,
}

impl Intake {
    /// What issuing keeps of a validated applicant: the record as normalised
    /// by intake, with the Latin name forms CPR and Jobnet need.
    pub fn from_valid(valid: &ValidApplicant) -> Intake {
        let a = &valid.applicant;
        let document_kind =
            serde_json::to_value(a.document.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let issuing_state = crate::country::alpha2_to_icao(&a.document.issuing_state)
            .map(str::to_string)
            .unwrap_or_else(|| a.document.issuing_state.clone());
        Intake {
            birth_date: a.birth_date,
            sex: a.sex,
            document_key: valid.keys.document.clone(),
            person_key: valid.keys.person.clone(),
            applicant: serde_json::json!({
                "applicant": a,
                "surname_latin": valid.surname_latin,
                "given_names_latin": valid.given_names_latin,
            }),
            person: PersonRecord {
                name_document: names::full_name(&a.given_names, &a.surname),
                name_latin: names::full_name(&valid.given_names_latin, &valid.surname_latin),
                birth_date: a.birth_date,
                sex: a.sex,
                nationality: a.nationality.clone(),
                document: DocumentSummary { kind: document_kind, issuing_state, expiry_date: a.document.expiry_date },
            },
            municipality: a.municipality_of_stay,
        }
    }
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Intake { .. }")
    }
}

/// A freshly issued record.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Issued {
    pub record_id: String,
    /// The desk-local sequence in the record ID (it also numbers the login).
    #[serde(skip)]
    pub seq: i64,
    #[serde(skip)]
    pub number: Personnummer,
    /// The number as staff and the handout show it (day + 60 on a training desk).
    #[serde(rename = "number")]
    pub display_number: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub training: bool,
    pub issued_at: String,
    #[serde(skip)]
    pub source: NumberSource,
    /// Numbers the lease still holds for this birth date and sex.
    #[serde(skip)]
    pub reserve_left: usize,
    #[serde(skip)]
    pub reserve_low: bool,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("record_id", &self.record_id).finish_non_exhaustive()
    }
}

/// More rows to write inside the issuing transaction, after the record: the
/// credentials issue uses it for the Jobnet login, so that a record never
/// exists without its login or the other way round.
pub trait IssueAttachment {
    fn write(&self, tx: &Transaction<'_>, desk: &DeskContext, issued: &Issued) -> Result<(), IssueError>;

    /// The login the `issued` event carries, asked after [`write`](Self::write)
    /// succeeded (the credentials attachment: the username and the hash).
    fn login(&self) -> Option<IssuedLogin> {
        None
    }
}

/// A record's Jobnet login as the `issued` event carries it
/// (`protocol::IssuedRecord::jobnet_username` and `password_hash`).
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedLogin {
    pub username: Username,
    pub password_hash: PasswordHash,
}

impl std::fmt::Debug for IssuedLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedLogin").field("username", &self.username.as_str()).finish_non_exhaustive()
    }
}

/// The number as shown: day + 60 for training desks.
pub fn display_number(n: &Personnummer, training: bool) -> String {
    if training {
        n.training_form()
    } else {
        n.to_string()
    }
}

/// HMAC-SHA256 of a duplicate key under the desk's key, hex.
pub(crate) fn keyed_hash(key: &[u8], kind: &str, value: &str) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(kind.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    to_hex(&mac.finalize().into_bytes())
}

/// A record ID: `<desk_id>-<seq>`. Unique across desks because the desk ID is.
pub fn record_id(desk_id: &str, seq: i64) -> String {
    format!("{desk_id}-{seq}")
}

/// Whether `id` is a well-formed record ID (of any desk).
pub fn valid_record_id(id: &str) -> bool {
    id.rsplit_once('-').is_some_and(|(desk, seq)| {
        crate::store::valid_desk_id(desk)
            && !seq.is_empty()
            && seq.len() <= 12
            && seq.bytes().all(|b| b.is_ascii_digit())
            && !seq.starts_with('0')
    })
}

fn existing_duplicate(conn: &Connection, column: &str, key: &str) -> Result<Option<String>, StoreError> {
    let sql = format!("SELECT id FROM record WHERE {column} = ?1 AND status = 'issued' ORDER BY seq LIMIT 1");
    Ok(conn.prepare_cached(&sql)?.query_row([key], |r| r.get(0)).optional()?)
}

/// Refuses an applicant already issued here (voided records do not count).
fn check_duplicates(conn: &Connection, document_key: &str, person_key: &str) -> Result<(), IssueError> {
    if let Some(record_id) = existing_duplicate(conn, "document_key", document_key)? {
        return Err(IssueError::DuplicateDocument { record_id }.into());
    }
    if let Some(record_id) = existing_duplicate(conn, "person_key", person_key)? {
        return Err(IssueError::DuplicatePerson { record_id }.into());
    }
    Ok(())
}

/// A record as listed: no name, no document.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    pub record_id: String,
    pub number: String,
    pub birth_date: String,
    pub sex: String,
    pub status: String,
    pub training: bool,
    pub source: NumberSource,
    pub issued_at: String,
}

impl std::fmt::Debug for RecordSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordSummary")
            .field("record_id", &self.record_id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A record with everything the desk keeps about it.
#[derive(Clone, PartialEq, Serialize)]
pub struct RecordDetail {
    #[serde(flatten)]
    pub summary: RecordSummary,
    pub issued_by: i64,
    pub applicant: Option<serde_json::Value>,
    pub void_reason: Option<String>,
    pub voided_at: Option<String>,
    pub voided_by: Option<i64>,
    pub replaced_by: Option<String>,
}

impl std::fmt::Debug for RecordDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordDetail").field("summary", &self.summary).finish_non_exhaustive()
    }
}

pub(crate) const SUMMARY_COLUMNS: &str = "id, number, birth_date, sex, status, training, source, issued_at";

pub(crate) fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordSummary> {
    let digits: String = r.get(1)?;
    let birth: String = r.get(2)?;
    let training: bool = r.get(5)?;
    // Rebuild the number from its date and serial to show it in the right form.
    let number = birth
        .parse::<NaiveDate>()
        .ok()
        .zip(digits.get(6..).and_then(|s| s.parse::<u16>().ok()))
        .and_then(|(d, s)| Personnummer::from_parts(d, s))
        .map(|n| display_number(&n, training))
        .unwrap_or(digits);
    Ok(RecordSummary {
        record_id: r.get(0)?,
        number,
        birth_date: birth,
        sex: r.get(3)?,
        status: r.get(4)?,
        training,
        // The table's CHECK constraint allows only the two codes.
        source: NumberSource::from_code(&r.get::<_, String>(6)?)
            .ok_or_else(|| rusqlite::Error::InvalidColumnType(6, "source".into(), rusqlite::types::Type::Text))?,
        issued_at: r.get(7)?,
    })
}

fn field_error(field: &str, code: &str, lang: Lang) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        message: i18n::render(lang, &format!("issue.field.{code}"), &[]),
    }
}

/// The longest void reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

impl Store {
    /// Validates an applicant with the intake rules (on the desk's date and
    /// municipality) and issues (clerk). Returns the record and the notices
    /// for the clerk. Invalid input is refused with every problem, nothing stored.
    #[allow(clippy::too_many_arguments)]
    pub fn issue_applicant(
        &mut self,
        session: &Session,
        applicant: &Applicant,
        today: NaiveDate,
        now: DateTime<Utc>,
        lang: Lang,
        online: Option<&dyn OnlineAllocator>,
        attach: Option<&dyn IssueAttachment>,
    ) -> Result<(Issued, Vec<Notice>), IssueError> {
        self.read(|tx, _| staff::authorize(tx, session, Role::Clerk, "issue"))?;
        let ctx = IntakeContext { today, desk_municipality: self.municipality_code()? };
        let valid = applicant.validate(&ctx, lang).map_err(IssueError::Invalid)?;
        let issued = self.issue(session, &Intake::from_valid(&valid), now, online, attach)?;
        Ok((issued, valid.notices))
    }

    /// Issues a number to a validated applicant (clerk). Asks `online` first
    /// when given; issues from the lease when it is not given or does not
    /// answer in time. `attach` writes more rows in the same transaction.
    pub fn issue(
        &mut self,
        session: &Session,
        intake: &Intake,
        now: DateTime<Utc>,
        online: Option<&dyn OnlineAllocator>,
        attach: Option<&dyn IssueAttachment>,
    ) -> Result<Issued, IssueError> {
        self.issue_reviewed(session, intake, now, online, attach, None)
    }

    /// [`Store::issue`], with the detail of the duplicate review at the
    /// counter (`core::counter`) in the `record.issued` audit entry.
    pub(crate) fn issue_reviewed(
        &mut self,
        session: &Session,
        intake: &Intake,
        now: DateTime<Utc>,
        online: Option<&dyn OnlineAllocator>,
        attach: Option<&dyn IssueAttachment>,
        reviewed: Option<&str>,
    ) -> Result<Issued, IssueError> {
        let (document_key, person_key) = {
            let key = &self.context().duplicate_key;
            (keyed_hash(key, "document", &intake.document_key), keyed_hash(key, "person", &intake.person_key))
        };
        // Ask the registry only for an applicant who may be issued at all, and
        // never inside the transaction (no lock held while on the network).
        let online_number = match online {
            Some(allocator) => {
                let next_seq = self.read::<_, IssueError>(|tx, _| {
                    staff::authorize(tx, session, Role::Clerk, "issue")?;
                    check_may_issue(tx, now)?;
                    check_duplicates(tx, &document_key, &person_key)?;
                    Ok(tx
                        .prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM record")?
                        .query_row([], |r| r.get::<_, i64>(0))?)
                })?;
                // The key is the applicant's (document, birth date, sex) and
                // the record this issue would be: a retry of a failed issue
                // gets the number the registry already recorded for it, never
                // a second one; the next record, even for the same person, asks
                // anew.
                let attempt = format!("{document_key}/{}/{}/{next_seq}", intake.birth_date, intake.sex.code());
                let request = OnlineRequest {
                    desk_id: self.desk_id().to_string(),
                    birth_date: intake.birth_date,
                    sex: intake.sex,
                    idempotency_key: format!(
                        "{}/alloc/{}",
                        self.desk_id(),
                        &keyed_hash(&self.context().duplicate_key, "allocation", &attempt)[..32]
                    ),
                };
                allocator.allocate(&request)?
            }
            None => None,
        };
        Ok(self.act::<_, IssueError>(|tx, ctx| {
            staff::authorize(tx, session, Role::Clerk, "issue")?;
            check_may_issue(tx, now)?;
            check_duplicates(tx, &document_key, &person_key)?;
            let (number, source, reserve_left) = match online_number {
                Some(n) => {
                    let digits = alloc::stored_digits(&n);
                    if n.birth_date() != intake.birth_date || n.sex() != intake.sex || alloc::number_taken(tx, &digits)?
                    {
                        return Err(IssueError::OnlineNumberUnfit { number: n.to_string() }.into());
                    }
                    let left = alloc::free_count(tx, intake.birth_date, intake.sex)?;
                    (n, NumberSource::Online, left)
                }
                None => {
                    let birth_date = intake.birth_date.format("%Y-%m-%d").to_string();
                    let sex = intake.sex.code().to_string();
                    match alloc::next_from_lease(tx, intake.birth_date, intake.sex)? {
                        Some((n, left)) => (n, NumberSource::Lease, left),
                        None if ctx.lease_frozen => {
                            return Err(IssueError::LeaseFrozen { birth_date, sex, training: ctx.training }.into())
                        }
                        None => return Err(IssueError::LeaseExhausted { birth_date, sex }.into()),
                    }
                }
            };
            let seq: i64 =
                tx.prepare_cached("SELECT coalesce(max(seq), 0) + 1 FROM record")?.query_row([], |r| r.get(0))?;
            let id = record_id(&ctx.desk_id, seq);
            let issued_at = timestamp(now);
            let digits = alloc::stored_digits(&number);
            let birth = intake.birth_date.format("%Y-%m-%d").to_string();
            let applicant = intake.applicant.to_string();
            tx.prepare_cached(
                "INSERT INTO record (id, seq, number, birth_date, sex, training, source, status, issued_at, issued_by,
                                     applicant, document_key, person_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'issued', ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute((
                &id,
                seq,
                &digits,
                &birth,
                intake.sex.code(),
                ctx.training,
                source.code(),
                &issued_at,
                session.staff_id(),
                &applicant,
                &document_key,
                &person_key,
            ))?;
            let mut event = Event::by(session.staff_id(), "record.issued", now).record(&id);
            if let Some(detail) = reviewed {
                event = event.detail(detail);
            }
            audit::append(tx, &ctx.desk_id, &event)?;
            let units = alloc::usable_units(tx)?.len();
            let issued = Issued {
                record_id: id.clone(),
                seq,
                number,
                display_number: display_number(&number, ctx.training),
                birth_date: intake.birth_date,
                sex: intake.sex,
                training: ctx.training,
                issued_at,
                source,
                reserve_left,
                reserve_low: alloc::reserve_low(reserve_left, units),
            };
            let mut login = None;
            if let Some(attach) = attach {
                attach.write(tx, ctx, &issued)?;
                login = attach.login();
            }
            let event = IssuedRecord {
                record_id: id.clone(),
                number: number.to_string(),
                source,
                // The time as the record keeps it (whole milliseconds).
                issued_at: stored_time(&issued.issued_at).unwrap_or(now),
                municipality: intake.municipality,
                person: intake.person.clone(),
                // The forms the registry compares across desks (see `protocol::registry_duplicate_key`).
                document_key: protocol::registry_duplicate_key("document", &intake.document_key),
                person_key: protocol::registry_duplicate_key("person", &intake.person_key),
                jobnet_username: login.as_ref().map(|l| l.username.as_str().to_string()).unwrap_or_default(),
                password_hash: login.as_ref().map(|l| l.password_hash.as_str().to_string()).unwrap_or_default(),
            };
            outbox::queue(tx, &EventBody::Issued(event), now)?;
            Ok(issued)
        })?)
    }

    /// Voids a record (supervisor). The number stays retired for good.
    /// `replaced_by` may name a record of any desk; one of this desk must exist.
    pub fn void(
        &mut self,
        session: &Session,
        id: &str,
        reason: &str,
        replaced_by: Option<&str>,
        now: DateTime<Utc>,
        lang: Lang,
    ) -> Result<(), IssueError> {
        let reason = reason.trim();
        let replaced_by = replaced_by.map(str::trim).filter(|s| !s.is_empty());
        let mut errors = Vec::new();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            errors.push(field_error("reason", "reason_invalid", lang));
        } else if !reason.chars().all(safe_text_char) {
            // The reason goes to the registry in the `voided` event: a control
            // character there (NUL above all, which PostgreSQL cannot store)
            // would make the event one the registry refuses, so it is refused
            // here, like every other free text on the desk.
            errors.push(field_error("reason", "reason_characters", lang));
        }
        if let Some(r) = replaced_by {
            if !valid_record_id(r) || r == id {
                errors.push(field_error("replaced_by", "replaced_by_invalid", lang));
            }
        }
        if !errors.is_empty() {
            return Err(IssueError::Invalid(errors));
        }
        self.act::<_, IssueError>(|tx, ctx| {
            staff::authorize(tx, session, Role::Supervisor, "void")?;
            let status: String = tx
                .query_row("SELECT status FROM record WHERE id = ?1", [id], |r| r.get(0))
                .optional()?
                .ok_or_else(|| IssueError::RecordNotFound { record_id: id.to_string() })?;
            if status == "voided" {
                return Err(IssueError::AlreadyVoided { record_id: id.to_string() }.into());
            }
            if let Some(r) = replaced_by {
                let ours = r.rsplit_once('-').is_some_and(|(desk, _)| desk == ctx.desk_id);
                let exists: Option<i64> =
                    tx.query_row("SELECT 1 FROM record WHERE id = ?1", [r], |row| row.get(0)).optional()?;
                if ours && exists.is_none() {
                    return Err(IssueError::RecordNotFound { record_id: r.to_string() }.into());
                }
            }
            let at = timestamp(now);
            tx.execute(
                "UPDATE record SET status = 'voided', void_reason = ?2, voided_at = ?3, voided_by = ?4, replaced_by = ?5
                 WHERE id = ?1",
                (id, reason, &at, session.staff_id(), replaced_by),
            )?;
            let mut event = Event::by(session.staff_id(), "record.voided", now).record(id);
            if let Some(r) = replaced_by {
                event = event.detail(&format!("replaced_by:{r}"));
            }
            audit::append(tx, &ctx.desk_id, &event)?;
            let event = Void {
                record_id: id.to_string(),
                voided_at: stored_time(&at).unwrap_or(now),
                reason: reason.to_string(),
                replaced_by: replaced_by.map(str::to_string),
            };
            outbox::queue(tx, &EventBody::Voided(event), now)?;
            Ok(())
        })?;
        self.oplog().record_act("record.voided", id, session.staff_id());
        Ok(())
    }

    /// This desk's records, newest first (clerk).
    pub fn records(&mut self, session: &Session) -> Result<Vec<RecordSummary>, IssueError> {
        Ok(self.read::<_, IssueError>(|tx, _| {
            staff::authorize(tx, session, Role::Clerk, "see_records")?;
            let mut stmt = tx.prepare(&format!("SELECT {SUMMARY_COLUMNS} FROM record ORDER BY seq DESC"))?;
            let rows = stmt.query_map([], summary)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })?)
    }

    /// One record with its personal data (clerk).
    pub fn record(&mut self, session: &Session, id: &str) -> Result<RecordDetail, IssueError> {
        Ok(self.read::<_, IssueError>(|tx, _| {
            staff::authorize(tx, session, Role::Clerk, "see_records")?;
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS}, issued_by, applicant, void_reason, voided_at, voided_by, replaced_by
                 FROM record WHERE id = ?1"
            );
            tx.query_row(&sql, [id], |r| {
                let applicant: Option<String> = r.get(9)?;
                Ok(RecordDetail {
                    summary: summary(r)?,
                    issued_by: r.get(8)?,
                    applicant: applicant.and_then(|a| serde_json::from_str(&a).ok()),
                    void_reason: r.get(10)?,
                    voided_at: r.get(11)?,
                    voided_by: r.get(12)?,
                    replaced_by: r.get(13)?,
                })
            })
            .optional()?
            .ok_or_else(|| IssueError::RecordNotFound { record_id: id.to_string() }.into())
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_ids_are_desk_id_dash_sequence() {
        assert_eq!(record_id("T-ABC", 7), "T-ABC-7");
        assert!(valid_record_id("T-ABC-7"));
        assert!(valid_record_id("KBH3-12"));
        for bad in ["T-ABC", "T-ABC-", "T-ABC-07", "t-abc-7", "-7", "T-ABC-x"] {
            assert!(!valid_record_id(bad), "{bad}");
        }
    }

    #[test]
    fn keyed_hashes_depend_on_the_key_and_the_kind() {
        let a = keyed_hash(b"key one", "document", "P:DE:C01X00T47");
        assert_eq!(a.len(), 64);
        assert_eq!(a, keyed_hash(b"key one", "document", "P:DE:C01X00T47"));
        assert_ne!(a, keyed_hash(b"key two", "document", "P:DE:C01X00T47"));
        assert_ne!(a, keyed_hash(b"key one", "person", "P:DE:C01X00T47"));
    }

    mod void {
        use super::super::*;
        use crate::applicant::Applicant;
        use crate::desk::{self, DeskKind, DeskSetup};
        use crate::keystore::MemoryKeyStore;

        const PW: &str = "a long enough password";

        fn now() -> DateTime<Utc> {
            DateTime::from_timestamp(1_780_000_000, 0).unwrap()
        }

        /// A training desk with one issued record, signed in as its admin.
        fn desk_with_record(dir: &std::path::Path) -> (Store, Session, String) {
            let setup = DeskSetup {
                kind: DeskKind::Training,
                municipality: "101",
                office: "Borgerservice",
                desk_number: 1,
                admin_name: "Ada",
                admin_password: PW,
            };
            let mut store = desk::init(dir, Box::new(MemoryKeyStore::new()), &setup, now(), Lang::En).unwrap();
            let admin = store.sign_in("Ada", PW, now()).unwrap();
            let v = serde_json::json!({
              "given_names": "Anna", "surname": "Schmidt", "birth_date": "1990-03-05", "sex": "F",
              "nationality": "DE", "municipality_of_stay": 101, "group": "eu-jobseeker",
              "document": {"type": "passport", "number": "C01X00T47", "issuing_state": "DE",
                           "expiry_date": "2099-04-15", "original_seen": true, "sex_on_document": null,
                           "no_expiry_confirmed": false},
              "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "de",
              "contact": {"email": null, "phone": null, "address_dk": null}
            });
            let applicant = Applicant::from_json(&v.to_string(), Lang::En).unwrap();
            let ctx = IntakeContext { today: now().date_naive(), desk_municipality: 101 };
            let intake = Intake::from_valid(&applicant.validate(&ctx, Lang::En).unwrap());
            let issued = store.issue(&admin, &intake, now(), None, None).unwrap();
            (store, admin, issued.record_id)
        }

        /// What a void would change: the record's state and reason, the
        /// outbox and the audit chain.
        fn stored(store: &Store, id: &str) -> (String, Option<String>, i64, i64) {
            let conn = store.connection();
            let (status, reason) = conn
                .query_row("SELECT status, void_reason FROM record WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            let outbox = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
            let audit = conn.query_row("SELECT count(*) FROM audit", [], |r| r.get(0)).unwrap();
            (status, reason, outbox, audit)
        }

        /// A void's reason is free text sent to the registry: a control
        /// character in it (NUL, which PostgreSQL cannot store, a tab, a line
        /// break, DEL, a C1 control) is refused as a field error naming
        /// `reason`, in the desk's language, and nothing is stored or queued.
        #[test]
        fn a_void_reason_with_a_control_character_is_refused_naming_the_field_and_nothing_is_stored() {
            let dir = tempfile::tempdir().unwrap();
            let (mut store, admin, id) = desk_with_record(dir.path());
            let before = stored(&store, &id);
            assert_eq!(before.0, "issued");
            for reason in ["wrong\u{0}person", "wrong\tperson", "wrong\nperson", "wrong\u{7f}", "wrong\u{85}person"] {
                for lang in [Lang::En, Lang::Da] {
                    let err = store.void(&admin, &id, reason, None, now(), lang).unwrap_err();
                    let IssueError::Invalid(fields) = err else { panic!("{reason:?}: {err:?}") };
                    assert_eq!(fields.len(), 1, "{reason:?}");
                    assert_eq!((fields[0].field.as_str(), fields[0].code.as_str()), ("reason", "reason_characters"));
                    assert_eq!(
                        fields[0].message,
                        i18n::render(lang, "issue.field.reason_characters", &[]),
                        "{reason:?}"
                    );
                    assert!(!fields[0].message.starts_with("issue.field."), "no catalog text: {}", fields[0].message);
                }
                assert_eq!(stored(&store, &id), before, "{reason:?}");
            }
            // The same reason without the control character voids the record.
            store.void(&admin, &id, "wrong person", None, now(), Lang::En).unwrap();
            let after = stored(&store, &id);
            assert_eq!((after.0.as_str(), after.1.as_deref()), ("voided", Some("wrong person")));
            assert_eq!(after.2, before.2 + 1);
        }
    }
}
