//! Sync with the central registry (synkronisering): enrolment, upload of the
//! outbox and the audit log, lease reconciliation, notices and record states,
//! online allocation and lookup.
//!
//! A sync run, as `skranke sync` or the desk app's background thread starts
//! it, runs as the desk (no staff member) and goes:
//!
//! 1. **Upload the outbox** in batches. Each event's verdict is applied in one
//!    local transaction: `accepted` and `already_held` mark it sent;
//!    `conflict` and `invalid` mark it answered *and* put it on the refused
//!    list for a supervisor. Nothing is ever dropped.
//! 2. **Reconcile** (`POST /v1/sync`): report the issue counter and the units
//!    held; learn the bindings (new units are added, units the registry no
//!    longer binds here are frozen, numbers used inside them are never issued
//!    here), record states (received → registered), notices, and whether the
//!    desk was retired.
//! 3. **Top up the reserve** when it runs low (`POST /v1/lease`).
//!
//! The audit log is uploaded after step 1 (so that the notices a forked
//! chain causes come back in step 2) and again at the end (the entries of
//! the acts steps 2 and 3 did), each time from where the registry last gave
//! a verdict, so the registry checks the desk's chain link by link (see
//! `core::audit`).
//!
//! Every step is idempotent: an interruption at any point (a cut connection,
//! a killed process, a restarted registry) leaves the outbox rows unanswered,
//! and the next run sends the same bytes again and gets `already_held`.
//! Requests that may be retried are retried with exponential backoff and
//! full jitter ([`Backoff`]).
//!
//! Every answer carries the registry's time. The desk keeps the latest, and
//! [`crate::issue::check_may_issue`] refuses to issue while the desk's clock is behind it
//! (expiry dates and ages depend on the date).
//!
//! Training desks never sync: every entry point refuses them.

mod allocator;
mod client;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use rusqlite::Connection;
use serde::Serialize;
use zeroize::Zeroizing;

pub use crate::store::state::{DeskNotice, RefusedEvent};
pub use allocator::HttpAllocator;
pub use client::{check_url, Backoff, RegistryClient};

use self::client::Retry;
use crate::applicant::DuplicateKeys;
use crate::audit::{self, Event as AuditEvent};
use crate::cpr::Personnummer;
use crate::desk::{self, DeskKind, DeskSetup};
use crate::error::Error;
use crate::i18n::{self, Lang};
use crate::keystore::KeyStore;
use crate::lease::LeaseUnit;
use crate::protocol::{
    self, Binding, EnrolRequest, EnrolResponse, Event, LeaseRequest, LeaseResponse, LookupRequest, LookupResponse,
    Outcome, RecordState, SyncAnswer, SyncRequest, UnitReport, UploadRequest, UploadResponse,
};
use crate::staff::{self, Role, Session};
use crate::store::outbox::{self, Pending, Tally};
use crate::store::state;
use crate::store::{timestamp, Store, StoreError, DESK_FILE};

/// Key-store entry: the desk's Ed25519 signing key (the 32-byte seed, hex).
pub const SIGNING_KEY: &str = "signing-key";

/// Events per upload request (the registry takes up to
/// [`protocol::MAX_BATCH_EVENTS`]).
pub const UPLOAD_BATCH: usize = 1000;

pub use crate::issue::CLOCK_TOLERANCE_SECS;

/// Units a desk asks to hold (the registry's default cap per desk is 2).
pub const LEASE_UNITS_WANTED: u32 = 2;

/// How long one upload or sync request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The registry pages record states and notices at these sizes.
const STATES_PAGE: usize = 5000;
const NOTICES_PAGE: usize = 1000;

/// What can go wrong between the desk and the registry. Each variant has a
/// catalog message (`messages/<lang>/sync.json`).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("a training desk never syncs")]
    Training,
    #[error("the desk is not enrolled with a registry")]
    NotEnrolled,
    #[error("not a registry address: {url}")]
    BadUrl { url: String },
    #[error("plain HTTP is allowed only to this machine: {url}")]
    InsecureUrl { url: String },
    #[error("the registry cannot be reached: {detail}")]
    Unreachable { detail: String },
    #[error("the registry refused ({status} {code})")]
    Refused { status: u16, code: String, detail: Option<String> },
    #[error("the registry's answer is not understood: {detail}")]
    BadAnswer { detail: String },
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Training => "sync.training",
            SyncError::NotEnrolled => "sync.not_enrolled",
            SyncError::BadUrl { .. } => "sync.bad_url",
            SyncError::InsecureUrl { .. } => "sync.insecure_url",
            SyncError::Unreachable { .. } => "sync.unreachable",
            SyncError::Refused { .. } => "sync.refused",
            SyncError::BadAnswer { .. } => "sync.bad_answer",
        }
    }

    /// Whether trying again later may succeed (the network, an overloaded or
    /// restarting registry), as opposed to a refusal that will repeat.
    pub fn retryable(&self) -> bool {
        match self {
            SyncError::Unreachable { .. } | SyncError::BadAnswer { .. } => true,
            SyncError::Refused { status, code, .. } => {
                (*status == 429 || *status >= 500) && code != "registry.reconciling" && !code.starts_with("allocate.")
            }
            _ => false,
        }
    }

    /// Whether this is a refusal (exit 1) rather than a machine or network problem (exit 2).
    pub fn is_refusal(&self) -> bool {
        matches!(self, SyncError::Training | SyncError::Refused { .. })
    }

    pub fn message(&self, lang: Lang) -> String {
        let key = format!("{}.error", self.code());
        match self {
            SyncError::Training | SyncError::NotEnrolled => i18n::render(lang, &key, &[]),
            SyncError::BadUrl { url } | SyncError::InsecureUrl { url } => i18n::render(lang, &key, &[("url", url)]),
            SyncError::Unreachable { detail } | SyncError::BadAnswer { detail } => {
                i18n::render(lang, &key, &[("detail", detail)])
            }
            SyncError::Refused { status, code, .. } => {
                let problem_key = format!("protocol.problem.{code}");
                let text = i18n::text(lang, &problem_key);
                let problem = if text == problem_key { code.as_str() } else { text };
                i18n::render(lang, &key, &[("status", &status.to_string()), ("problem", problem)])
            }
        }
    }
}

/// What one sync run did: the counts `skranke sync --json` prints, over
/// outbox and audit events alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub uploaded: u64,
    pub accepted: u64,
    pub already_held: u64,
    pub conflict: u64,
    pub invalid: u64,
    /// Events still waiting after the run (0 after a complete sync).
    pub pending: u64,
    /// Every record this desk issued is held by the registry.
    #[serde(skip)]
    pub complete: bool,
    #[serde(skip)]
    pub units_granted: usize,
    #[serde(skip)]
    pub units_withdrawn: usize,
    #[serde(skip)]
    pub notices: usize,
    #[serde(skip)]
    pub retired: bool,
    #[serde(skip)]
    pub reconciling: bool,
}

/// What waits, as the desk shows it (`skranke sync status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub desk_id: String,
    pub training: bool,
    pub registry_url: Option<String>,
    /// Outbox and audit events not yet answered by the registry.
    pub queued_events: u64,
    /// The oldest unanswered outbox event's time, and its age in seconds.
    pub oldest_unsynced_at: Option<String>,
    pub oldest_unsynced_age_secs: Option<i64>,
    /// Usable lease units: the numbers left per birth date and sex where none is used yet.
    pub reserve_units: usize,
    /// The fewest numbers left for any birth date and sex issued from so far.
    pub reserve_tightest_left: Option<usize>,
    pub reserve_low: bool,
    pub lease_frozen: bool,
    pub last_success: Option<String>,
    pub registry_time: Option<String>,
    /// The desk's clock is behind the registry's last known time: no issuing.
    pub clock_behind: bool,
    pub retired: bool,
    pub refused: Vec<RefusedEvent>,
    pub notices: Vec<DeskNotice>,
    /// Records past the retention period that keep their personal data
    /// because the registry has not confirmed them (`core::retention`).
    pub retention_flagged: Vec<crate::retention::FlaggedRecord>,
}

fn refuse_training(store: &Store) -> Result<(), SyncError> {
    if store.is_training() {
        return Err(SyncError::Training);
    }
    Ok(())
}

fn signing_key_from_hex(hex_seed: &str) -> Option<SigningKey> {
    let bytes = Zeroizing::new(hex::decode(hex_seed.trim()).ok()?);
    let seed: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(SigningKey::from_bytes(&seed))
}

/// The client of an enrolled desk: the registry's URL from the store, the
/// signing key from the OS key store.
pub fn client_for(store: &mut Store) -> Result<RegistryClient, Error> {
    refuse_training(store)?;
    let url = store.read(|tx, _| state::get(tx, state::key::REGISTRY_URL))?.ok_or(SyncError::NotEnrolled)?;
    let desk_id = store.desk_id().to_string();
    let key = store
        .keystore()
        .get(&desk_id, SIGNING_KEY)?
        .map(Zeroizing::new)
        .and_then(|k| signing_key_from_hex(&k))
        .ok_or_else(|| StoreError::KeyMissing { desk_id: desk_id.clone(), entry: SIGNING_KEY.into() })?;
    Ok(RegistryClient::new(&url, &desk_id, key)?)
}

/// What `skranke desk init --registry URL --enrolment-code CODE` needs.
pub struct Enrolment<'a> {
    pub registry_url: &'a str,
    pub enrolment_code: &'a str,
    pub admin_name: &'a str,
    pub admin_password: &'a str,
}

/// Enrols a new desk: generates its Ed25519 key pair, presents the public
/// half with the one-time code, keeps the private half in the OS key store
/// under the desk ID the registry assigned, creates the desk's store with
/// the municipality, office and desk number the code was made for, and asks
/// for its first lease (a failure there is left to the first sync).
///
/// The admin account and the folder are checked before the code is spent.
pub fn enrol(
    dir: &Path,
    keystore: Box<dyn KeyStore>,
    enrolment: &Enrolment<'_>,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<(Store, EnrolResponse), Error> {
    // The municipality and office come with the registry's answer; desk::init checks against them too.
    staff::validate_new(
        &staff::NewStaff {
            name: enrolment.admin_name,
            role: Role::Admin,
            password: enrolment.admin_password,
            temporary: false,
        },
        &[],
        lang,
    )
    .map_err(|mut e| {
        for fe in &mut e {
            fe.field = format!("admin.{}", fe.field);
        }
        Error::Invalid(e)
    })?;
    if dir.join(DESK_FILE).exists() || dir.join(crate::store::DB_FILE).exists() {
        return Err(StoreError::DeskExists { dir: dir.to_path_buf() }.into());
    }
    let client = RegistryClient::unenrolled(enrolment.registry_url)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| StoreError::Random { detail: e.to_string() })?;
    let key = SigningKey::from_bytes(&seed);
    let request = EnrolRequest {
        enrolment_code: enrolment.enrolment_code.trim().to_string(),
        public_key: hex::encode(key.verifying_key().as_bytes()),
    };
    // Once: the code is spent by the first answer, so a blind retry could only fail.
    let answer: EnrolResponse = client.post("/v1/enrol", &request, REQUEST_TIMEOUT, Retry::Once)?;
    if !crate::store::valid_desk_id(&answer.desk_id) || answer.desk_id.starts_with("T-") {
        return Err(SyncError::BadAnswer { detail: "desk_id".into() }.into());
    }
    keystore.set(&answer.desk_id, SIGNING_KEY, &Zeroizing::new(hex::encode(seed.as_ref())))?;
    let municipality = format!("{:03}", answer.municipality);
    let setup = DeskSetup {
        kind: DeskKind::Enrolled { desk_id: answer.desk_id.clone(), units: Vec::new() },
        municipality: &municipality,
        office: &answer.office,
        desk_number: answer.desk_number,
        admin_name: enrolment.admin_name,
        admin_password: enrolment.admin_password,
    };
    let mut store = desk::init(dir, keystore, &setup, now, lang)?;
    store.set_login_number(answer.login_number, now)?;
    let url = client.url().to_string();
    store.bookkeeping(|tx, _| {
        state::set(tx, state::key::REGISTRY_URL, &url)?;
        state::note_registry(tx, answer.registry_time, answer.registry_sequence)
    })?;
    let client = RegistryClient::new(&url, &answer.desk_id, key)?;
    // The first reserve; without it the desk issues online only until its first sync.
    let _ = top_up(&mut store, &client, now);
    Ok((store, answer))
}

/// One sync run (see the module documentation). Safe to interrupt and to
/// run again; runs as the desk.
pub fn run(store: &mut Store, client: &RegistryClient) -> Result<SyncReport, Error> {
    refuse_training(store)?;
    let mut tally = Tally::default();
    upload_outbox(store, client, &mut tally)?;
    // Before reconciling, so that the notices this upload causes come back now.
    upload_audit(store, client, &mut tally)?;
    let mut report = reconcile(store, client)?;
    if !report.retired && !report.reconciling {
        report.units_granted += top_up(store, client, Utc::now())?;
    }
    // Records the registry confirmed long enough ago lose their personal
    // data now (core::retention), and the registry hears of it in this run.
    if !store.erase_due(Utc::now(), crate::retention::DEFAULT_RETENTION_DAYS)?.erased.is_empty() {
        upload_outbox(store, client, &mut tally)?;
    }
    // The entries of the acts reconciling, topping up and erasing just did.
    upload_audit(store, client, &mut tally)?;
    let pending = pending_events(store)?;
    if pending == 0 {
        let now = timestamp(Utc::now());
        store.bookkeeping(|tx, _| state::set(tx, state::key::LAST_SUCCESS, &now))?;
    }
    store.oplog().synced(tally.uploaded, tally.accepted + tally.already_held, tally.conflict + tally.invalid, pending);
    Ok(SyncReport {
        uploaded: tally.uploaded,
        accepted: tally.accepted,
        already_held: tally.already_held,
        conflict: tally.conflict,
        invalid: tally.invalid,
        pending,
        ..report
    })
}

/// Checks that an upload answer has one verdict per event, in order.
fn check_results(events: &[Event], answer: &UploadResponse) -> Result<(), SyncError> {
    let in_order = answer.results.len() == events.len()
        && answer.results.iter().zip(events).all(|(r, e)| r.idempotency_key == e.idempotency_key);
    if in_order {
        Ok(())
    } else {
        Err(SyncError::BadAnswer { detail: "results".into() })
    }
}

fn upload_outbox(store: &mut Store, client: &RegistryClient, tally: &mut Tally) -> Result<(), Error> {
    loop {
        let batch = store.read(|tx, _| outbox::unsent(tx, client.batch_size()))?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut events = Vec::with_capacity(batch.len());
        let mut sent: Vec<Pending> = Vec::with_capacity(batch.len());
        let mut unsendable = Vec::new();
        for row in batch {
            match outbox::wire_event(&row) {
                Ok(e) => {
                    events.push(e);
                    sent.push(row);
                }
                Err(reason) => unsendable.push((row, reason)),
            }
        }
        if !unsendable.is_empty() {
            let now = Utc::now();
            store.bookkeeping::<_, crate::store::StoreError>(|tx, _| {
                for (row, reason) in &unsendable {
                    outbox::mark_unsendable(tx, row, reason, now)?;
                }
                Ok(())
            })?;
        }
        if events.is_empty() {
            continue;
        }
        let request = UploadRequest { events };
        let answer: UploadResponse = client.post("/v1/events", &request, REQUEST_TIMEOUT, Retry::Backoff)?;
        check_results(&request.events, &answer)?;
        let now = Utc::now();
        store.bookkeeping(|tx, _| {
            outbox::apply_outbox_results(tx, &sent, &answer.results, now, tally)?;
            state::note_registry(tx, answer.registry_time, answer.registry_sequence)
        })?;
    }
}

fn upload_audit(store: &mut Store, client: &RegistryClient, tally: &mut Tally) -> Result<(), Error> {
    loop {
        let (after, entries) = store.read::<_, crate::store::StoreError>(|tx, _| {
            let after = state::get_i64(tx, state::key::AUDIT_SENT)?;
            Ok((after, audit::entries_after(tx, after, client.batch_size())?))
        })?;
        if entries.is_empty() {
            return Ok(());
        }
        let request = UploadRequest { events: entries.iter().cloned().map(outbox::audit_event).collect() };
        let answer: UploadResponse = client.post("/v1/events", &request, REQUEST_TIMEOUT, Retry::Backoff)?;
        check_results(&request.events, &answer)?;
        let now = Utc::now();
        let stalled = store.bookkeeping::<_, crate::store::StoreError>(|tx, _| {
            let mut forked = state::get_flag(tx, state::key::AUDIT_FORKED)?;
            let mut cursor = after;
            let mut stalled = false;
            for (entry, result) in entries.iter().zip(&answer.results) {
                let gap = result.outcome == Outcome::Invalid && result.reason.as_deref() == Some("audit_gap");
                if gap && !forked {
                    // An earlier entry has not reached the registry yet: resend from here next time.
                    stalled = true;
                    break;
                }
                if result.outcome == Outcome::Conflict {
                    forked = true;
                }
                if matches!(result.outcome, Outcome::Conflict | Outcome::Invalid) {
                    outbox::keep_refused(
                        tx,
                        &outbox::audit_key(entry.seq),
                        "audit",
                        entry.record_id.as_deref(),
                        outbox::outcome_code(result.outcome),
                        result.reason.as_deref(),
                        now,
                    )?;
                }
                tally.count(result.outcome);
                cursor = i64::try_from(entry.seq).unwrap_or(cursor);
            }
            state::set(tx, state::key::AUDIT_SENT, &cursor.to_string())?;
            if forked {
                state::set(tx, state::key::AUDIT_FORKED, "true")?;
            }
            state::note_registry(tx, answer.registry_time, answer.registry_sequence)?;
            Ok(stalled)
        })?;
        if stalled {
            return Ok(());
        }
    }
}

/// Outbox events and audit entries the registry has not answered yet.
fn pending_events(store: &mut Store) -> Result<u64, Error> {
    Ok(store.read::<_, crate::store::StoreError>(|tx, _| {
        let outbox: i64 = tx.query_row("SELECT count(*) FROM outbox WHERE outcome IS NULL", [], |r| r.get(0))?;
        let after = state::get_i64(tx, state::key::AUDIT_SENT)?;
        let audit: i64 = tx.query_row("SELECT count(*) FROM audit WHERE seq > ?1", [after], |r| r.get(0))?;
        Ok(u64::try_from(outbox + audit).unwrap_or(0))
    })?)
}

/// The sync request: where the desk stands.
fn sync_request(conn: &Connection) -> Result<SyncRequest, StoreError> {
    let records_issued: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM record", [], |r| r.get(0))?;
    let mut used: HashMap<LeaseUnit, u64> = HashMap::new();
    let mut stmt = conn.prepare("SELECT number, birth_date FROM record WHERE source = 'lease'")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (digits, birth) = row?;
        let number = birth
            .parse()
            .ok()
            .zip(digits.get(6..).and_then(|s| s.parse::<u16>().ok()))
            .and_then(|(d, s)| Personnummer::from_parts(d, s));
        if let Some(unit) = number.as_ref().and_then(LeaseUnit::containing) {
            *used.entry(unit).or_default() += 1;
        }
    }
    let mut units = Vec::new();
    let mut stmt = conn.prepare("SELECT slot, rank FROM lease_unit WHERE source = 'registry' ORDER BY position")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, u16>(0)?, r.get::<_, u8>(1)?)))? {
        let (slot, rank) = row?;
        if let Some(unit) = crate::cpr::Slot::new(slot).and_then(|s| LeaseUnit::new(s, rank)) {
            units.push(UnitReport { unit, used: used.get(&unit).copied().unwrap_or(0) });
        }
    }
    Ok(SyncRequest {
        highest_sequence_seen: state::get_i64(conn, state::key::REGISTRY_SEQUENCE)?,
        records_issued: u64::try_from(records_issued).unwrap_or(0),
        units,
        states_after: state::get_i64(conn, state::key::STATES_AFTER)?,
        notices_after: state::get_i64(conn, state::key::NOTICES_AFTER)?,
    })
}

fn reconcile(store: &mut Store, client: &RegistryClient) -> Result<SyncReport, Error> {
    let mut report = SyncReport::default();
    // Where the desk stands is the same for every page; only the cursors move.
    let mut request = store.read(|tx, _| sync_request(tx))?;
    // Bounded: each round moves a cursor forward by a full page.
    for _ in 0..10_000 {
        let answer: SyncAnswer = client.post("/v1/sync", &request, REQUEST_TIMEOUT, Retry::Backoff)?;
        if answer.desk_id != store.desk_id() {
            return Err(SyncError::BadAnswer { detail: "desk_id".into() }.into());
        }
        let now = Utc::now();
        report.notices += answer.notices.len();
        report.retired = answer.retired;
        report.reconciling = answer.reconciling;
        report.complete = answer.records_held >= request.records_issued;
        let (states_after, notices_after) = store.bookkeeping::<_, crate::store::StoreError>(|tx, _| {
            state::note_registry(tx, answer.registry_time, answer.registry_sequence)?;
            state::set(tx, state::key::RECORDS_HELD, &answer.records_held.to_string())?;
            if answer.retired {
                state::set(tx, state::key::RETIRED, "true")?;
            }
            // `confirmed_at`: when the desk first learnt the registry confirmed
            // the record (registered, or its void taken); retention runs from it.
            let confirmed_at = timestamp(now);
            // A downstream refusal stands until the registry's next state
            // for the record says otherwise.
            let mut set_state = tx.prepare_cached(
                "UPDATE record SET registry_state = ?2,
                        confirmed_at = CASE WHEN ?2 IN ('registered', 'voided') THEN coalesce(confirmed_at, ?3) END,
                        refused_downstream_by = ?4, refused_downstream_reason = ?5, refused_downstream_at = ?6
                 WHERE id = ?1",
            )?;
            let mut states_after = request.states_after;
            for change in &answer.record_states {
                let code = match change.state {
                    RecordState::Received => "received",
                    RecordState::Registered => "registered",
                    RecordState::Voided => "voided",
                };
                let refusal =
                    change.downstream_refusal.as_ref().filter(|r| crate::protocol::valid_reason_code(&r.reason));
                set_state.execute((
                    &change.record_id,
                    code,
                    &confirmed_at,
                    refusal.map(|r| r.system.code()),
                    refusal.map(|r| r.reason.as_str()),
                    refusal.map(|r| timestamp(r.refused_at)),
                ))?;
                states_after = states_after.max(change.sequence);
            }
            state::set(tx, state::key::STATES_AFTER, &states_after.to_string())?;
            let mut notices_after = request.notices_after;
            let mut insert = tx.prepare_cached(
                "INSERT INTO sync_notice (id, kind, record_id, other_record_id, other_desk_id, other_municipality,
                                          created_at, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
            )?;
            for n in &answer.notices {
                insert.execute((
                    n.id,
                    &n.kind,
                    &n.record_id,
                    &n.other_record_id,
                    &n.other_desk_id,
                    n.other_municipality,
                    timestamp(n.created_at),
                    timestamp(now),
                ))?;
                notices_after = notices_after.max(n.id);
            }
            state::set(tx, state::key::NOTICES_AFTER, &notices_after.to_string())?;
            Ok((states_after, notices_after))
        })?;
        request.states_after = states_after;
        request.notices_after = notices_after;
        let last_page = answer.record_states.len() < STATES_PAGE && answer.notices.len() < NOTICES_PAGE;
        if last_page {
            // Every page carries the same bindings: apply them once.
            let (granted, withdrawn) = apply_bindings(store, &answer.bindings, answer.retired, now)?;
            report.units_granted += granted;
            report.units_withdrawn += withdrawn;
            break;
        }
    }
    Ok(report)
}

/// Makes the desk's units what the registry says they are: units bound here
/// that the desk does not hold are added; units the desk holds that the
/// registry no longer binds here (disputed after a restore, or the desk
/// retired) are frozen; numbers used inside bound units are never issued
/// here. Returns (added, frozen).
fn apply_bindings(
    store: &mut Store,
    bindings: &[Binding],
    retired: bool,
    now: DateTime<Utc>,
) -> Result<(usize, usize), Error> {
    let noted = timestamp(now);
    let local: Vec<(LeaseUnit, bool, String)> = store.bookkeeping::<_, crate::store::StoreError>(|tx, _| {
        // Most used numbers are this desk's own records: read what is known
        // once, and write only what is new.
        let mut known: HashSet<String> = HashSet::new();
        for sql in ["SELECT number FROM record", "SELECT number FROM number_taken"] {
            let mut stmt = tx.prepare(sql)?;
            for n in stmt.query_map([], |r| r.get::<_, String>(0))? {
                known.insert(n?);
            }
        }
        let mut note = tx.prepare_cached(
            "INSERT INTO number_taken (number, noted_at) VALUES (?1, ?2) ON CONFLICT (number) DO NOTHING",
        )?;
        for b in bindings {
            for n in &b.used {
                let digits: String = n.chars().filter(char::is_ascii_digit).collect();
                if digits.len() == 10 && !known.contains(&digits) {
                    note.execute((&digits, &noted))?;
                }
            }
        }
        let mut stmt = tx.prepare("SELECT slot, rank, frozen, source FROM lease_unit")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, u16>(0)?, r.get::<_, u8>(1)?, r.get::<_, bool>(2)?, r.get::<_, String>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (slot, rank, frozen, source) = row?;
            if let Some(u) = crate::cpr::Slot::new(slot).and_then(|s| LeaseUnit::new(s, rank)) {
                out.push((u, frozen, source));
            }
        }
        Ok(out)
    })?;
    let held: HashSet<LeaseUnit> = local.iter().map(|(u, ..)| *u).collect();
    let bound: HashSet<LeaseUnit> = bindings.iter().map(|b| b.unit).collect();
    let new: Vec<LeaseUnit> = {
        let mut v: Vec<LeaseUnit> = bound.difference(&held).copied().collect();
        v.sort();
        v
    };
    let withdraw: Vec<LeaseUnit> = local
        .iter()
        .filter(|(u, frozen, source)| !frozen && source == "registry" && (retired || !bound.contains(u)))
        .map(|(u, ..)| *u)
        .collect();
    let granted = if new.is_empty() || retired { 0 } else { store.grant_units(&new, now)? };
    if !withdraw.is_empty() {
        let detail = format!("units:{}{}", withdraw.len(), if retired { " retired:true" } else { "" });
        store.act::<_, crate::store::StoreError>(|tx, ctx| {
            let mut freeze = tx.prepare_cached("UPDATE lease_unit SET frozen = 1 WHERE slot = ?1 AND rank = ?2")?;
            for u in &withdraw {
                freeze.execute((u.slot.value(), u.rank))?;
            }
            audit::append(tx, &ctx.desk_id, &AuditEvent::desk("lease.withdrawn", now).detail(&detail))?;
            Ok(())
        })?;
    }
    Ok((granted, withdraw.len()))
}

/// Asks for more reserve when the desk holds fewer units than it wants or
/// its reserve runs low for a birth date it issues to. Returns units added.
fn top_up(store: &mut Store, client: &RegistryClient, now: DateTime<Utc>) -> Result<usize, Error> {
    let status = store.lease_status()?;
    let usable = u32::try_from(status.units).unwrap_or(u32::MAX);
    if usable >= LEASE_UNITS_WANTED && !status.low {
        return Ok(0);
    }
    let want = LEASE_UNITS_WANTED.saturating_sub(usable).max(1);
    let request = LeaseRequest {
        idempotency_key: format!("{}/lease/{:016x}", store.desk_id(), client::random_u64()),
        units: want,
    };
    let answer: LeaseResponse = match client.post("/v1/lease", &request, REQUEST_TIMEOUT, Retry::Backoff) {
        Ok(a) => a,
        // Not now: the registry reconciles after a restore, or the desk is retired.
        Err(SyncError::Refused { code, .. }) if code == "registry.reconciling" || code == "desk.retired" => {
            return Ok(0)
        }
        Err(e) => return Err(e.into()),
    };
    store.bookkeeping(|tx, _| state::note_registry(tx, answer.registry_time, answer.registry_sequence))?;
    let (granted, _) = apply_bindings(store, &answer.bindings, false, now)?;
    Ok(granted)
}

/// What waits and what needs a supervisor (desk-level: no staff needed).
pub fn status(store: &mut Store, now: DateTime<Utc>) -> Result<SyncStatus, Error> {
    let lease = store.lease_status()?;
    let queued = pending_events(store)?;
    let desk_id = store.desk_id().to_string();
    let training = store.is_training();
    let frozen = store.lease_frozen();
    let retention_flagged = store.retention_flags(now, crate::retention::DEFAULT_RETENTION_DAYS)?;
    Ok(store.read::<_, crate::store::StoreError>(|tx, _| {
        let oldest: Option<String> = tx
            .query_row("SELECT created_at FROM outbox WHERE outcome IS NULL ORDER BY seq LIMIT 1", [], |r| r.get(0))
            .ok();
        let oldest_age = oldest
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0));
        let registry_time = state::get_time(tx, state::key::REGISTRY_TIME)?;
        Ok(SyncStatus {
            desk_id,
            training,
            registry_url: state::get(tx, state::key::REGISTRY_URL)?,
            queued_events: queued,
            oldest_unsynced_at: oldest,
            oldest_unsynced_age_secs: oldest_age,
            reserve_units: lease.units,
            reserve_tightest_left: lease.tightest.as_ref().map(|t| t.left),
            reserve_low: lease.low,
            lease_frozen: frozen,
            last_success: state::get(tx, state::key::LAST_SUCCESS)?,
            registry_time: registry_time.map(timestamp),
            clock_behind: matches!(
                crate::issue::check_may_issue(tx, now),
                Err(Error::Issue(crate::issue::IssueError::ClockBehind { .. }))
            ),
            retired: state::get_flag(tx, state::key::RETIRED)?,
            refused: state::refused(tx)?,
            notices: state::notices(tx)?,
            retention_flagged,
        })
    })?)
}

/// Asks the registry, before issuing, whether this applicant is known at any
/// desk (clerk; audited here and at the registry; rate-limited there). The
/// answer says only whether and where: kind of match, desk and municipality.
pub fn lookup(
    store: &mut Store,
    session: &Session,
    client: &RegistryClient,
    keys: &DuplicateKeys,
    now: DateTime<Utc>,
) -> Result<LookupResponse, Error> {
    refuse_training(store)?;
    store.read(|tx, _| staff::authorize(tx, session, Role::Clerk, "issue"))?;
    let request = LookupRequest {
        document_key: Some(protocol::registry_duplicate_key("document", &keys.document)),
        person_key: Some(protocol::registry_duplicate_key("person", &keys.person)),
    };
    let answer: LookupResponse = client.post("/v1/lookup", &request, allocator::ONLINE_DEADLINE, Retry::Once)?;
    let detail = format!("matches:{}", answer.matches.len());
    store.act::<_, crate::store::StoreError>(|tx, ctx| {
        state::note_registry(tx, answer.registry_time, state::get_i64(tx, state::key::REGISTRY_SEQUENCE)?)?;
        audit::append(tx, &ctx.desk_id, &AuditEvent::by(session.staff_id(), "registry.lookup", now).detail(&detail))?;
        Ok(())
    })?;
    Ok(answer)
}

/// Removes the desk's signing key (with [`crate::desk::forget_keys`]).
pub fn forget_signing_key(keystore: &dyn KeyStore, desk_id: &str) -> Result<(), Error> {
    keystore.delete(desk_id, SIGNING_KEY)?;
    Ok(())
}

#[cfg(test)]
mod tests;
