//! Sync with the central registry (synkronisering): enrolment, upload of the
//! outbox and the audit log, lease reconciliation, notices and record states,
//! online allocation and lookup.
//!
//! A sync run, as `skranke sync` or the desk app's background thread starts
//! it, runs as the desk (no staff member) and goes:
//!
//! 1. **Report** (`POST /v1/sync`) before anything is uploaded: the highest
//!    sequence the registry signed for this desk, with its receipt, and the
//!    units the desk holds. A registry restored from a backup learns it here,
//!    before an upload moves its sequence on, and binds the desk's units
//!    again, so that the numbers uploaded next are the desk's. A claim the
//!    registry does not believe (`claim_refused`) is dropped for the
//!    answer's signed sequence, and audited.
//! 2. **Upload the outbox** in batches. Each event's verdict is applied in one
//!    local transaction: `accepted` and `already_held` mark it sent;
//!    `conflict` and `invalid` mark it answered *and* put it on the refused
//!    list for a supervisor. Nothing is ever dropped.
//! 3. **Reconcile** (`POST /v1/sync` again): report the issue counter and the
//!    units held; learn the bindings (new units are added, units the registry
//!    no longer binds here are frozen, numbers used inside them are never
//!    issued here), record states (received → registered), notices, and
//!    whether the desk was retired. An answer may say what the registry
//!    does not hold of this desk (`awaited`: after a restore, and whenever
//!    it holds fewer of its records than the desk issued): the rows of
//!    those records it had answered `accepted` or `already_held` are marked
//!    unanswered, and while it reconciles those it refused as
//!    `number_not_held` too (a restore it could not prove had lost their
//!    number; a reconciling registry re-learns it, and a row taken then
//!    leaves the refused list); the audit cursor goes back, and the same
//!    run uploads and reconciles again (a few rounds at most), so that one
//!    sync reconciles the desk.
//! 4. **Top up the reserve** when it runs low (`POST /v1/lease`).
//!
//! The audit log is uploaded after step 2 (so that the notices a forked
//! chain causes come back in step 3) and again at the end (the entries of
//! the acts steps 3 and 4 did), each time from where the registry last gave
//! a verdict, so the registry checks the desk's chain link by link (see
//! `core::audit`).
//!
//! Every step is idempotent: an interruption at any point (a cut connection,
//! a killed process, a restarted registry) leaves the outbox rows unanswered,
//! and the next run sends the same bytes again and gets `already_held`.
//! Requests that may be retried are retried with exponential backoff and
//! full jitter ([`Backoff`]).
//!
//! Every answer is verified before it is read ([`RegistryClient`]): signed
//! by the registry key the desk pinned in the OS key store ([`REGISTRY_KEY`])
//! over the request's nonce, the status and the body. An answer that is
//! not (unsigned, forged, another key, a registry time far ahead) is refused,
//! audited (`registry.answer_refused`) and reported; nothing in it is
//! stored. A move of the pin (first use by a desk enrolled before registry
//! keys, a rotation the pinned key endorsed) is written to the key store and
//! audited (`registry.key_pinned`).
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
pub use crate::sync_error::SyncError;
pub use allocator::HttpAllocator;
pub use client::{check_url, Backoff, KeyChange, RegistryClient};

use self::client::Retry;
use crate::applicant::DuplicateKeys;
use crate::audit::{self, Event as AuditEvent};
use crate::cpr::Personnummer;
use crate::desk::{self, DeskKind, DeskSetup};
use crate::error::Error;
use crate::i18n::Lang;
use crate::keystore::KeyStore;
use crate::lease::LeaseUnit;
use crate::protocol::trust::{self, Awaited, RegistryKeyAnswer};
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

/// Key-store entry: the registry's public key the desk trusts (hex), pinned
/// at enrolment against the code's fingerprint. Without it (a desk enrolled
/// before registry keys, or an operator who deleted it to pin again) the
/// next verified answer's key is pinned, and audited as first use.
pub const REGISTRY_KEY: &str = "registry-key";

/// Rounds of resending a run does when the registry awaits records it lost
/// in a restore (each: mark, upload, reconcile). One is enough unless an
/// upload is cut; the next run goes on from where this one stopped.
const RESEND_ROUNDS: usize = 3;

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
    /// The registry did not believe the sequence this desk reported (no
    /// receipt it signed): the desk dropped it for the registry's.
    #[serde(skip)]
    pub claim_refused: bool,
    /// Outbox events marked for sending again because the registry, after a
    /// restore, no longer held them.
    #[serde(skip)]
    pub resent: u64,
    /// What the municipality's settings in the answers changed here.
    #[serde(skip)]
    pub settings: crate::settings::MunicipalityApplied,
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
/// signing key and the pinned registry key from the OS key store.
pub fn client_for(store: &mut Store) -> Result<RegistryClient, Error> {
    refuse_training(store)?;
    let url = store.read(|tx, _| state::get(tx, state::key::REGISTRY_URL))?.ok_or(SyncError::NotEnrolled)?;
    client_at(store, &url)
}

/// [`client_for`], reaching the registry at `url` instead of the address it
/// enrolled with (a proxy in front of it, a test's fault injector). The
/// answers are verified against the same pinned key.
pub fn client_at(store: &mut Store, url: &str) -> Result<RegistryClient, Error> {
    refuse_training(store)?;
    let desk_id = store.desk_id().to_string();
    let key = store
        .keystore()
        .get(&desk_id, SIGNING_KEY)?
        .map(Zeroizing::new)
        .and_then(|k| signing_key_from_hex(&k))
        .ok_or_else(|| StoreError::KeyMissing { desk_id: desk_id.clone(), entry: SIGNING_KEY.into() })?;
    let client = RegistryClient::new(url, &desk_id, key)?;
    load_trust(store, &client)?;
    Ok(client)
}

/// Gives the client what the store knows: the pinned registry key (an
/// entry that is no key counts as none: it is pinned again, audited) and
/// the registry's time and sequence the desk has seen.
fn load_trust(store: &mut Store, client: &RegistryClient) -> Result<(), Error> {
    let pinned = store.keystore().get(store.desk_id(), REGISTRY_KEY)?.and_then(|k| trust::public_key_from_hex(&k));
    let seen = store.read(|tx, _| state::seen(tx))?;
    client.absorb(pinned, &seen);
    Ok(())
}

/// Writes down what the client learnt: the registry's time and sequence,
/// a move of the pinned key (key store, audited) and the answers it refused
/// (audited). Runs after every run, lookup and online allocation, failed or
/// not.
fn settle(store: &mut Store, client: &RegistryClient) -> Result<(), Error> {
    let pending = client.take_pending();
    let seen = client.seen();
    let now = Utc::now();
    let noted = store.bookkeeping(|tx, _| state::note_seen(tx, &seen));
    let pinned = match pending.key_change {
        Some((change, key)) => {
            let written =
                store.keystore().set(store.desk_id(), REGISTRY_KEY, &hex::encode(key)).map_err(Error::from).and_then(
                    |()| {
                        store.act::<_, StoreError>(|tx, ctx| {
                            audit::append(
                                tx,
                                &ctx.desk_id,
                                &AuditEvent::desk("registry.key_pinned", now).detail(change.code()),
                            )
                            .map(|_| ())
                        })?;
                        Ok(())
                    },
                );
            if written.is_err() {
                client.restore_key_change(change);
            }
            written
        }
        None => Ok(()),
    };
    let refused = if pending.refused.is_empty() {
        Ok(())
    } else {
        store.act::<_, StoreError>(|tx, ctx| {
            for code in &pending.refused {
                audit::append(tx, &ctx.desk_id, &AuditEvent::desk("registry.answer_refused", now).detail(code))?;
            }
            Ok(())
        })
    };
    noted?;
    pinned?;
    refused?;
    Ok(())
}

/// What `skranke desk init --registry URL --enrolment-code CODE` needs.
pub struct Enrolment<'a> {
    pub registry_url: &'a str,
    pub enrolment_code: &'a str,
    pub admin_name: &'a str,
    pub admin_password: &'a str,
}

/// Enrols a new desk: checks the registry's key against the fingerprint the
/// code ends in, generates the desk's Ed25519 key pair, presents the public
/// half with the code's secret part, keeps the private half and the
/// registry's key in the OS key store under the desk ID the registry
/// assigned, creates the desk's store with the municipality, office and
/// desk number the code was made for, and asks for its first lease (a
/// failure there is left to the first sync).
///
/// The admin account, the folder, the code's form and the registry's key are
/// checked before the code is spent.
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
    let (secret, fingerprint) =
        trust::split_enrolment_code(enrolment.enrolment_code).ok_or(SyncError::EnrolmentCodeFormat)?;
    let client = RegistryClient::unenrolled(enrolment.registry_url)?;
    // The key first, against the code's fingerprint: a registry (or anyone
    // between) that cannot show the key the code names never gets the code.
    let shown: RegistryKeyAnswer = client.get("/v1/registry-key", REQUEST_TIMEOUT, Retry::Backoff)?;
    let registry_key = client.registry_key().ok_or(SyncError::AnswerUnsigned)?;
    let mismatch = || SyncError::RegistryKeyMismatch { fingerprint: trust::key_fingerprint(&registry_key) };
    if trust::key_fingerprint(&registry_key) != fingerprint
        || trust::public_key_from_hex(&shown.registry_key) != Some(registry_key)
    {
        return Err(mismatch().into());
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| StoreError::Random { detail: e.to_string() })?;
    let key = SigningKey::from_bytes(&seed);
    let request = EnrolRequest { enrolment_code: secret, public_key: hex::encode(key.verifying_key().as_bytes()) };
    // Once: the code is spent by the first answer, so a blind retry could only fail.
    let answer: EnrolResponse = client.post("/v1/enrol", &request, REQUEST_TIMEOUT, Retry::Once)?;
    if !crate::store::valid_desk_id(&answer.desk_id) || answer.desk_id.starts_with("T-") {
        return Err(SyncError::BadAnswer { detail: "desk_id".into() }.into());
    }
    // The signature verified with the pinned key, which the answer names too.
    if trust::public_key_from_hex(&answer.registry_key) != client.registry_key() {
        return Err(mismatch().into());
    }
    let registry_key = client.registry_key().unwrap_or(registry_key);
    keystore.set(&answer.desk_id, SIGNING_KEY, &Zeroizing::new(hex::encode(seed.as_ref())))?;
    keystore.set(&answer.desk_id, REGISTRY_KEY, &hex::encode(registry_key))?;
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
    let seen = client.seen();
    store.bookkeeping(|tx, _| {
        state::set(tx, state::key::REGISTRY_URL, &url)?;
        state::note_seen(tx, &seen)
    })?;
    let detail = format!("enrolment fingerprint:{}", trust::key_fingerprint(&registry_key));
    store.act::<_, StoreError>(|tx, ctx| {
        audit::append(tx, &ctx.desk_id, &AuditEvent::desk("registry.key_pinned", now).detail(&detail)).map(|_| ())
    })?;
    let client = RegistryClient::new(&url, &answer.desk_id, key)?.with_registry_key(&registry_key);
    client.absorb(None, &seen);
    // The first reserve; without it the desk issues online only until its first sync.
    let _ = top_up(&mut store, &client, now);
    let _ = settle(&mut store, &client);
    Ok((store, answer))
}

/// One sync run (see the module documentation). Safe to interrupt and to
/// run again; runs as the desk.
pub fn run(store: &mut Store, client: &RegistryClient) -> Result<SyncReport, Error> {
    refuse_training(store)?;
    load_trust(store, client)?;
    let outcome = run_verified(store, client);
    // Refused answers are audited and a moved pin kept, whether the run got through or not.
    let settled = settle(store, client);
    let report = outcome?;
    settled?;
    Ok(report)
}

fn run_verified(store: &mut Store, client: &RegistryClient) -> Result<SyncReport, Error> {
    let mut tally = Tally::default();
    // Report first (see the module documentation).
    let mut round = reconcile(store, client)?;
    let mut claim_refused = round.report.claim_refused;
    let (mut granted, mut withdrawn, mut notices, mut resent) = (0, 0, 0, 0);
    for n in 1..=RESEND_ROUNDS {
        granted += round.report.units_granted;
        withdrawn += round.report.units_withdrawn;
        notices += round.report.notices;
        if let Some(awaited) = &round.awaited {
            resent += resend(store, awaited, round.report.reconciling)?;
        }
        upload_outbox(store, client, &mut tally)?;
        // Before reconciling, so that the notices this upload causes come back now.
        upload_audit(store, client, &mut tally)?;
        round = reconcile(store, client)?;
        claim_refused |= round.report.claim_refused;
        if round.awaited.is_none() || n == RESEND_ROUNDS {
            break;
        }
    }
    let mut report = SyncReport {
        units_granted: granted + round.report.units_granted,
        units_withdrawn: withdrawn + round.report.units_withdrawn,
        notices: notices + round.report.notices,
        claim_refused,
        resent,
        ..round.report
    };
    if !report.retired && !report.reconciling {
        report.units_granted += top_up(store, client, Utc::now())?;
    }
    // Records the registry confirmed long enough ago lose their personal
    // data now (core::retention), and the registry hears of it in this run.
    if !store.erase_due(Utc::now(), crate::retention::DEFAULT_RETENTION_DAYS)?.erased.is_empty() {
        upload_outbox(store, client, &mut tally)?;
    }
    // The entries of the acts reconciling, topping up and erasing just did,
    // and those of a pin that moved in this run (written down first).
    settle(store, client)?;
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

/// After a restore, what the registry says it no longer holds of this desk
/// is sent again: the outbox rows of the missing records and, when it holds
/// fewer events than the desk had answered, every answered row; the audit
/// log from the registry's last link. Returns the rows marked.
fn resend(store: &mut Store, awaited: &Awaited, reconciling: bool) -> Result<u64, Error> {
    let marked = store.bookkeeping(|tx, _| outbox::mark_awaited(tx, awaited, reconciling))?;
    if marked.is_empty() {
        return Ok(0);
    }
    let detail = marked.detail();
    let now = Utc::now();
    store.act::<_, StoreError>(|tx, ctx| {
        audit::append(tx, &ctx.desk_id, &AuditEvent::desk("sync.resend", now).detail(&detail)).map(|_| ())
    })?;
    Ok(marked.events)
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
        let seen = client.seen();
        store.bookkeeping(|tx, _| {
            outbox::apply_outbox_results(tx, &sent, &answer.results, now, tally)?;
            state::note_seen(tx, &seen)
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
        let seen = client.seen();
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
            state::note_seen(tx, &seen)?;
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

/// The sync request: where the desk stands, and the highest sequence the
/// registry signed for it, with the receipt.
fn sync_request(conn: &Connection, seen: &state::Seen) -> Result<SyncRequest, StoreError> {
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
        highest_sequence_seen: seen.sequence,
        sequence_receipt: seen.receipt.clone(),
        unused_allocations: allocator::unused_keys(conn)?,
        records_issued: u64::try_from(records_issued).unwrap_or(0),
        units,
        states_after: state::get_i64(conn, state::key::STATES_AFTER)?,
        notices_after: state::get_i64(conn, state::key::NOTICES_AFTER)?,
    })
}

/// One reconciling exchange (all its pages): the report, and what the
/// registry awaits of this desk after a restore.
struct Reconciled {
    report: SyncReport,
    awaited: Option<Awaited>,
}

fn reconcile(store: &mut Store, client: &RegistryClient) -> Result<Reconciled, Error> {
    let mut report = SyncReport::default();
    let mut awaited = None;
    // Where the desk stands is the same for every page; only the cursors move.
    let mut request = store.read(|tx, _| sync_request(tx, &client.seen()))?;
    // Bounded: each round moves a cursor forward by a full page.
    for _ in 0..10_000 {
        let answer: SyncAnswer = client.post("/v1/sync", &request, REQUEST_TIMEOUT, Retry::Backoff)?;
        if answer.desk_id != store.desk_id() {
            return Err(SyncError::BadAnswer { detail: "desk_id".into() }.into());
        }
        if answer.claim_refused && !report.claim_refused {
            drop_claim(store, client, &request, &answer)?;
            request.highest_sequence_seen = answer.registry_sequence;
            request.sequence_receipt = client.seen().receipt;
            report.claim_refused = true;
        }
        let now = Utc::now();
        report.notices += answer.notices.len();
        report.retired = answer.retired;
        report.reconciling = answer.reconciling;
        report.complete = answer.records_held >= request.records_issued;
        awaited = answer.awaited.clone();
        if let Some(values) = &answer.municipality_settings {
            report.settings = store.apply_municipality_settings(values, now)?;
        }
        let seen = client.seen();
        let minimum = answer.minimum_desk_version.clone().filter(|v| protocol::parse_app_version(v).is_some());
        let (states_after, notices_after) = store.bookkeeping::<_, crate::store::StoreError>(|tx, _| {
            state::note_seen(tx, &seen)?;
            match &minimum {
                Some(v) => state::set(tx, state::key::MINIMUM_VERSION, v)?,
                None => state::unset(tx, state::key::MINIMUM_VERSION)?,
            }
            // The registry freed what it held under these keys.
            allocator::forget_reported(tx, &request.unused_allocations)?;
            state::set(tx, state::key::RECORDS_HELD, &answer.records_held.to_string())?;
            if answer.retired {
                state::set(tx, state::key::RETIRED, "true")?;
            }
            // `confirmed_at`: when the desk first learnt the registry confirmed
            // the record (registered, or its void taken); retention runs from it.
            let confirmed_at = timestamp(now);
            // A downstream refusal stands until the registry's next state
            // for the record says otherwise.
            //
            // A record whose `issued` event the registry refused (`conflict`
            // or `invalid`, on the refused list) is skipped: the registry never
            // took this desk's record, so a state it sends under the same ID
            // is another record's (a forked desk reuses record IDs). Taking it
            // would show the record registered and let retention erase data
            // that never reached CPR; it stays refused for a supervisor. What
            // it took before the refusal came (the report precedes the upload)
            // or before this rule is forgotten the same way.
            const REFUSED_ISSUE: &str = "SELECT record_id FROM refused_event
                                         WHERE kind = 'issued' AND outcome IN ('conflict', 'invalid')";
            tx.prepare_cached(&format!(
                "UPDATE record SET registry_state = NULL, confirmed_at = NULL, refused_downstream_by = NULL,
                                   refused_downstream_reason = NULL, refused_downstream_at = NULL
                 WHERE id IN ({REFUSED_ISSUE})
                   AND (registry_state IS NOT NULL OR confirmed_at IS NOT NULL OR refused_downstream_by IS NOT NULL)"
            ))?
            .execute([])?;
            let mut set_state = tx.prepare_cached(&format!(
                "UPDATE record SET registry_state = ?2,
                        confirmed_at = CASE WHEN ?2 IN ('registered', 'voided') THEN coalesce(confirmed_at, ?3) END,
                        refused_downstream_by = ?4, refused_downstream_reason = ?5, refused_downstream_at = ?6
                 WHERE id = ?1 AND id NOT IN ({REFUSED_ISSUE})"
            ))?;
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
        request.unused_allocations.clear();
        let last_page = answer.record_states.len() < STATES_PAGE && answer.notices.len() < NOTICES_PAGE;
        if last_page {
            // Every page carries the same bindings: apply them once.
            let (granted, withdrawn) = apply_bindings(store, &answer.bindings, answer.retired, now)?;
            report.units_granted += granted;
            report.units_withdrawn += withdrawn;
            break;
        }
    }
    Ok(Reconciled { report, awaited })
}

/// The registry did not believe the sequence this desk reported (no receipt,
/// or one it did not sign): the desk keeps the answer's signed sequence
/// instead, lower or not, and audits it. A number nobody signed must not
/// make the desk refuse the registry's every later allocation.
fn drop_claim(
    store: &mut Store,
    client: &RegistryClient,
    request: &SyncRequest,
    answer: &SyncAnswer,
) -> Result<(), Error> {
    let receipt =
        Some(answer.sequence_receipt.as_str()).filter(|r| client.receipt_verifies(answer.registry_sequence, r));
    client.replace_sequence(answer.registry_sequence, receipt);
    let detail = format!("claimed:{} answered:{}", request.highest_sequence_seen, answer.registry_sequence);
    let now = Utc::now();
    store.act::<_, StoreError>(|tx, ctx| {
        state::replace_sequence(tx, answer.registry_sequence, receipt)?;
        audit::append(tx, &ctx.desk_id, &AuditEvent::desk("registry.claim_refused", now).detail(&detail)).map(|_| ())
    })?;
    Ok(())
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
        // Not now: the registry reconciles after a restore, or the desk is
        // retired or quarantined (its audit chain forked: a copy of it runs).
        Err(SyncError::Refused { code, .. })
            if code == "registry.reconciling" || code == "desk.retired" || code == "desk.quarantined" =>
        {
            return Ok(0)
        }
        // A registry that went back: its units may be another desk's by now.
        // Nothing is applied; the next sync proves the restore.
        Err(SyncError::RegistryBehind { .. }) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let seen = client.seen();
    store.bookkeeping(|tx, _| state::note_seen(tx, &seen))?;
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
                Err(crate::issue::IssueError::ClockBehind { .. })
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
    load_trust(store, client)?;
    let asked: Result<LookupResponse, SyncError> =
        client.post("/v1/lookup", &request, allocator::ONLINE_DEADLINE, Retry::Once);
    let settled = settle(store, client);
    let answer = asked?;
    settled?;
    let detail = format!("matches:{}", answer.matches.len());
    store.act::<_, crate::store::StoreError>(|tx, ctx| {
        audit::append(tx, &ctx.desk_id, &AuditEvent::by(session.staff_id(), "registry.lookup", now).detail(&detail))?;
        Ok(())
    })?;
    Ok(answer)
}

/// Removes the desk's signing key and the registry key it pinned (with
/// [`crate::desk::forget_keys`]).
pub fn forget_signing_key(keystore: &dyn KeyStore, desk_id: &str) -> Result<(), Error> {
    keystore.delete(desk_id, SIGNING_KEY)?;
    keystore.delete(desk_id, REGISTRY_KEY)?;
    Ok(())
}

#[cfg(test)]
mod tests;
