//! Judging an upload batch: a pure function from the batch, the picture the
//! registry read for it ([`Picture`]), the desk and the clock to one
//! [`Verdict`] per event and the rows to write ([`Writes`]). No I/O and no
//! async: `read` fetches the picture, `write` applies the writes.
//!
//! The events are judged in order against the picture, which the judge keeps
//! current as the batch goes: a record, number, key or login taken by an
//! earlier event of the batch is seen by every later one exactly as if it had
//! been read from the database.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use skranke_protocol::{
    audit_genesis, AuditEntry, Erasure, Event, EventBody, IssuedRecord, LoginAmendment, NumberSource, Outcome, Reprint,
    Void, MAX_CLOCK_SKEW_SECS,
};
use skranke_rules::cpr::Personnummer;
use skranke_rules::lease::{Block, LeaseUnit};
use skranke_rules::municipality;

use crate::api::{check_key, stored};
use crate::auth::Desk;

/// An event of the batch with the content hash the registry computed over
/// its body as the desk sent it, so that a newer desk's fields this version
/// drops are covered (the desk's claimed hash is `event.content_hash`).
pub struct Sent<'a> {
    pub event: &'a Event,
    pub hash: String,
}

/// The batch with the registry's content hash of each event.
pub fn hashed(events: &[Event]) -> Vec<Sent<'_>> {
    events.iter().map(|event| Sent { event, hash: event.received_hash().to_string() }).collect()
}

/// What the picture of a batch must hold, for one set-based read.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Needs<'a> {
    /// Every idempotency key of the batch: held events and kept verdicts.
    pub keys: Vec<&'a str>,
    /// Records the events are about (an audit entry's are not needed), and
    /// a void's survivor.
    pub record_ids: Vec<&'a str>,
    /// Stored digits of the numbers the `issued` events carry.
    pub numbers: Vec<String>,
    /// Slots of those numbers (sorted, without repeats): their units.
    pub slots: Vec<i32>,
    /// Duplicate keys of the `issued` events: the candidates.
    pub document_keys: Vec<&'a str>,
    pub person_keys: Vec<&'a str>,
    /// Whether the desk's audit head is needed (an `audit` event).
    pub audit_head: bool,
}

impl<'a> Needs<'a> {
    pub fn of(batch: &'a [Sent<'a>], today: NaiveDate) -> Needs<'a> {
        let mut needs = Needs::default();
        for sent in batch {
            let event = sent.event;
            needs.keys.push(&event.idempotency_key);
            match &event.body {
                EventBody::Issued(r) => {
                    needs.record_ids.push(&r.record_id);
                    if let Some(number) = issued_number(r, today) {
                        needs.numbers.push(stored(&number));
                        needs.slots.push(i32::from(number.slot().value()));
                    }
                    needs.document_keys.push(&r.document_key);
                    needs.person_keys.push(&r.person_key);
                }
                EventBody::Reprinted(Reprint { record_id, .. })
                | EventBody::Erased(Erasure { record_id, .. })
                | EventBody::LoginAmended(LoginAmendment { record_id, .. }) => needs.record_ids.push(record_id),
                EventBody::Voided(v) => {
                    needs.record_ids.push(&v.record_id);
                    needs.record_ids.extend(v.replaced_by.as_deref());
                }
                EventBody::Audit(_) => needs.audit_head = true,
            }
        }
        needs.slots.sort_unstable();
        needs.slots.dedup();
        needs
    }

    /// Whether the batch carries an `issued` event (numbers, units and
    /// duplicate candidates are read only then).
    pub fn issues(&self) -> bool {
        !self.document_keys.is_empty()
    }
}

/// The keys whose held body the judge needs: an event naming a login
/// (`issued`, `reprinted`) sent under a held key with other content may be
/// a resend that only fills the login in. Read after the held events, so
/// that a batch of new or already held events reads no body at all.
pub fn bodies_needed<'a>(batch: &'a [Sent<'a>], held: &[HeldEvent]) -> Vec<&'a str> {
    if held.is_empty() {
        return Vec::new();
    }
    let held: HashMap<&str, &str> =
        held.iter().map(|e| (e.idempotency_key.as_str(), e.content_hash.as_str())).collect();
    let mut keys: Vec<&str> = batch
        .iter()
        .filter(|sent| !login_of(&sent.event.body).is_empty())
        .filter(|sent| held.get(sent.event.idempotency_key.as_str()).is_some_and(|h| *h != sent.hash))
        .map(|sent| sent.event.idempotency_key.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The login an `issued` or `reprinted` event names (`""` for none).
fn login_of(body: &EventBody) -> &str {
    match body {
        EventBody::Issued(r) => &r.jobnet_username,
        EventBody::Reprinted(r) => r.jobnet_username.as_deref().unwrap_or(""),
        _ => "",
    }
}

/// An event this desk sent before, under a key of the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldEvent {
    pub idempotency_key: String,
    pub content_hash: String,
    /// The held body, read only for the keys of [`bodies_needed`].
    pub body: Option<Value>,
}

/// A verdict kept before (a conflicting or refused event), oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptVerdict {
    pub idempotency_key: String,
    pub content_hash: String,
    /// `conflict:<code>` or `invalid:<code>`.
    pub reason: String,
}

/// A record the registry holds, of any desk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRecord {
    pub record_id: String,
    pub desk_id: String,
    pub content_hash: String,
    /// `""` when the record came without a login.
    pub jobnet_username: String,
    pub password_hash: String,
    /// The registry's retention erased its personal data.
    pub personal_erased: bool,
}

/// A number as the registry holds it: how it came to be used, by which desk
/// (and that desk's municipality), for which record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldNumber {
    pub number: String,
    pub origin: String,
    pub desk_id: Option<String>,
    pub desk_municipality: Option<i32>,
    pub record_id: Option<String>,
}

/// A lease unit: its holder and whether it is retired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldUnit {
    pub slot: i32,
    pub rank: i32,
    pub desk_id: Option<String>,
    pub retired: bool,
}

/// A record that a new one may duplicate (not voided).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub record_id: String,
    pub desk_id: String,
    pub municipality: i32,
    pub document_key: String,
    pub person_key: String,
}

/// The head of a desk's audit chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// What the registry holds that the batch's verdicts depend on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Picture {
    pub reconciling: bool,
    pub events: Vec<HeldEvent>,
    pub kept: Vec<KeptVerdict>,
    pub records: Vec<HeldRecord>,
    pub numbers: Vec<HeldNumber>,
    pub units: Vec<HeldUnit>,
    pub candidates: Vec<Candidate>,
    /// `None`: the desk has no audit entry yet (or none was read).
    pub audit_head: Option<AuditHead>,
    /// The desk's login number, the namespace of the Jobnet usernames it
    /// makes (assigned at enrolment). `None`: it has none, so no username
    /// is its.
    pub login_number: Option<u32>,
    /// When the desk was retired, if it was: what it issued before still
    /// comes in, nothing issued after.
    pub retired_at: Option<DateTime<Utc>>,
    /// The batch's numbers that are disputed (on a handout in a kept
    /// conflict, `disputed_numbers`): stored digits, and the desk and record
    /// of the kept event.
    pub disputed: Vec<DisputedNumber>,
}

/// A disputed number the batch names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputedNumber {
    pub number: String,
    pub desk_id: String,
    pub municipality: Option<i32>,
    pub record_id: Option<String>,
}

/// One event's verdict: the outcome and, for a conflict or a refusal, its
/// reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reason: Option<&'static str>,
}

const ACCEPTED: Verdict = Verdict { outcome: Outcome::Accepted, reason: None };
const ALREADY_HELD: Verdict = Verdict { outcome: Outcome::AlreadyHeld, reason: None };

fn invalid(reason: &'static str) -> Verdict {
    Verdict { outcome: Outcome::Invalid, reason: Some(reason) }
}

fn conflict(reason: &'static str) -> Verdict {
    Verdict { outcome: Outcome::Conflict, reason: Some(reason) }
}

/// A `numbers` row to insert (the desk is the uploading one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberInsert {
    pub number: String,
    pub birth_date: NaiveDate,
    pub sex: String,
    pub modulus11: bool,
    pub origin: &'static str,
    pub slot: i32,
    pub rank: Option<i32>,
    pub record_id: String,
}

/// An online number allocated to the desk, now used by its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberLink {
    pub number: String,
    pub record_id: String,
}

/// A free unit bound again to the desk (only while reconciling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitBind {
    pub slot: i32,
    pub rank: i32,
}

/// A `records` row to insert (the desk is the uploading one).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordInsert {
    pub record_id: String,
    pub number: String,
    pub municipality: i32,
    pub document_key: String,
    pub person_key: String,
    pub content: Value,
    pub content_hash: String,
}

/// A record's login and password hash as they stand after the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginWrite {
    pub record_id: String,
    pub jobnet_username: String,
    pub password_hash: String,
}

/// A record voided, with its survivor, as it stands after the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoidWrite {
    pub record_id: String,
    pub replaced_by: Option<String>,
}

/// A feed item, in receipt order.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedItem {
    pub record_id: String,
    pub kind: &'static str,
    pub payload: Value,
}

/// An `events` row: an accepted or already held event under its key.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    pub idempotency_key: String,
    pub kind: &'static str,
    pub record_id: Option<String>,
    pub content_hash: String,
    pub body: Value,
}

/// A `conflicts` row: a conflicting or refused event, kept.
#[derive(Clone, Debug, PartialEq)]
pub struct ConflictRow {
    pub idempotency_key: String,
    pub reason: String,
    pub body: Value,
    pub content_hash: String,
}

/// A notice to a desk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRow {
    pub desk_id: String,
    pub kind: &'static str,
    pub record_id: Option<String>,
    pub other_record_id: Option<String>,
    pub other_desk_id: Option<String>,
    pub other_municipality: Option<i32>,
}

/// Everything a batch writes. Inserts keep the order the events asked for
/// them; updates of one record are folded into its state after the batch
/// (each sets whole fields, so the last one is what counts).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Writes {
    pub unit_binds: Vec<UnitBind>,
    pub numbers: Vec<NumberInsert>,
    pub linked: Vec<NumberLink>,
    /// Online numbers allocated, unused, to another desk by a restored
    /// registry, taken by this desk's record from before the restore.
    pub reclaimed: Vec<NumberLink>,
    pub records: Vec<RecordInsert>,
    /// `content || {jobnet_username, password_hash}`, one per record.
    pub logins: Vec<LoginWrite>,
    /// Records whose downstream refusal is answered (a reprint or a login).
    pub refusals_cleared: Vec<String>,
    pub voids: Vec<VoidWrite>,
    /// Records the desk erased (`erased_at`).
    pub erasures: Vec<String>,
    pub feed: Vec<FeedItem>,
    pub events: Vec<EventRow>,
    pub conflicts: Vec<ConflictRow>,
    pub notices: Vec<NoticeRow>,
    pub audit_head: Option<AuditHead>,
    /// The desk's audit chain forked in this batch: the seq of the first
    /// forked entry. The desk is quarantined (no lease, no online number)
    /// unless it is already; see `write::apply`.
    pub quarantine: Option<i64>,
}

/// The verdicts, one per event of the batch in its order, and the writes.
#[derive(Debug)]
pub struct Judgement {
    pub verdicts: Vec<Verdict>,
    pub writes: Writes,
}

/// Judges a batch. `now` is the registry's time: its date reads the numbers,
/// and a login taken from a resend is amended at it.
pub fn judge(batch: &[Sent<'_>], picture: Picture, desk: &Desk, block: &Block, now: DateTime<Utc>) -> Judgement {
    let mut judge = Judge::new(picture, desk, block, now);
    let verdicts = batch.iter().map(|sent| judge.event(sent)).collect();
    Judgement { verdicts, writes: judge.writes }
}

/// The number an `issued` event carries, when it reads as one.
fn issued_number(r: &IssuedRecord, today: NaiveDate) -> Option<Personnummer> {
    Personnummer::parse(&r.number, today).ok()
}

/// Where the body of a held event is: read with the picture, or in the
/// batch's own `events` rows.
enum HeldBody {
    Read(Option<Value>),
    Written(usize),
}

struct Held {
    hash: String,
    body: HeldBody,
}

/// The picture, kept current as the batch goes, and the writes so far.
struct Judge<'a> {
    desk: &'a Desk,
    block: &'a Block,
    now: DateTime<Utc>,
    today: NaiveDate,
    reconciling: bool,
    /// Held events by idempotency key.
    events: HashMap<String, Held>,
    /// Verdicts kept before, by (key, content hash).
    kept: HashMap<(String, String), String>,
    records: HashMap<String, HeldRecord>,
    numbers: HashMap<String, HeldNumber>,
    units: HashMap<(i32, i32), HeldUnit>,
    candidates: Vec<Candidate>,
    audit_head: AuditHead,
    login_number: Option<u32>,
    retired_at: Option<DateTime<Utc>>,
    disputed: HashMap<String, DisputedNumber>,
    writes: Writes,
    /// Index in `writes.logins` / `writes.voids` by record.
    login_at: HashMap<String, usize>,
    void_at: HashMap<String, usize>,
    refusal_cleared: HashSet<String>,
}

impl<'a> Judge<'a> {
    fn new(picture: Picture, desk: &'a Desk, block: &'a Block, now: DateTime<Utc>) -> Judge<'a> {
        let mut kept = HashMap::new();
        for k in picture.kept {
            kept.entry((k.idempotency_key, k.content_hash)).or_insert(k.reason);
        }
        Judge {
            desk,
            block,
            now,
            today: now.date_naive(),
            reconciling: picture.reconciling,
            events: picture
                .events
                .into_iter()
                .map(|e| (e.idempotency_key, Held { hash: e.content_hash, body: HeldBody::Read(e.body) }))
                .collect(),
            kept,
            records: picture.records.into_iter().map(|r| (r.record_id.clone(), r)).collect(),
            numbers: picture.numbers.into_iter().map(|n| (n.number.clone(), n)).collect(),
            units: picture.units.into_iter().map(|u| ((u.slot, u.rank), u)).collect(),
            candidates: picture.candidates,
            audit_head: picture.audit_head.unwrap_or_else(|| AuditHead { seq: 0, hash: audit_genesis(&desk.desk_id) }),
            login_number: picture.login_number,
            retired_at: picture.retired_at,
            disputed: picture.disputed.into_iter().map(|d| (d.number.clone(), d)).collect(),
            writes: Writes::default(),
            login_at: HashMap::new(),
            void_at: HashMap::new(),
            refusal_cleared: HashSet::new(),
        }
    }

    fn event(&mut self, sent: &Sent<'_>) -> Verdict {
        let event = sent.event;
        let hash = &sent.hash;
        if check_key(&event.idempotency_key).is_err() {
            return invalid("idempotency_key");
        }
        let key = event.idempotency_key.as_str();
        if let Some(held) = self.events.get(key) {
            if held.hash == *hash {
                return ALREADY_HELD;
            }
            // A desk from before the username fix whose upload was received
            // but never answered sends the same event again, now with the
            // login filled in: the login is taken, not a conflict.
            if let Some(verdict) = self.login_filled_resend(event) {
                return verdict;
            }
            // The desk sent other content under a key it used before: its
            // history forked (restored from a backup, or cloned). It is told.
            let kind = match &event.body {
                EventBody::Audit(a) => {
                    self.forked(a);
                    "audit_chain"
                }
                _ => "event_conflict",
            };
            let record_id = event.body.record_id().map(str::to_string);
            self.notice_self(kind, record_id, None, None, None);
            return self.keep(event, hash, conflict("idempotency_key"));
        }
        // A verdict given before to exactly this event is given again.
        if let Some(reason) = self.kept.get(&(key.to_string(), hash.clone())) {
            return verdict_from_kept(reason);
        }
        if *hash != event.content_hash {
            return self.keep(event, hash, invalid("content_hash"));
        }
        let verdict = match &event.body {
            EventBody::Issued(r) => self.issued(r, hash),
            EventBody::Audit(a) => self.audit(a),
            EventBody::Reprinted(r) => self.reprint(r),
            EventBody::LoginAmended(l) => {
                let verdict = self.fill_login(&l.record_id, &l.jobnet_username, Some(&l.password_hash), l.amended_at);
                // A second amendment with the login already in place is taken as is.
                if verdict == ALREADY_HELD {
                    ACCEPTED
                } else {
                    verdict
                }
            }
            EventBody::Voided(v) => {
                if v.replaced_by.as_ref().is_some_and(|survivor| !self.records.contains_key(survivor)) {
                    return self.keep(event, hash, invalid("replaced_by"));
                }
                self.void(v)
            }
            EventBody::Erased(e) => {
                if self.own_record(&e.record_id).is_some() {
                    self.writes.erasures.push(e.record_id.clone());
                    ACCEPTED
                } else {
                    invalid("record_not_held")
                }
            }
        };
        match verdict.outcome {
            Outcome::Accepted | Outcome::AlreadyHeld => {
                let body = serde_json::to_value(&event.body).unwrap_or_default();
                let record_id = event.body.record_id().map(str::to_string);
                self.events.insert(
                    key.to_string(),
                    Held { hash: hash.clone(), body: HeldBody::Written(self.writes.events.len()) },
                );
                self.writes.events.push(EventRow {
                    idempotency_key: key.to_string(),
                    kind: event.body.kind(),
                    record_id,
                    content_hash: hash.clone(),
                    body,
                });
                verdict
            }
            // A gap closes once the earlier entries arrive: not remembered.
            Outcome::Invalid if verdict.reason == Some("audit_gap") => verdict,
            Outcome::Conflict | Outcome::Invalid => self.keep(event, hash, verdict),
        }
    }

    /// Keeps a conflicting or refused event, so that nothing is lost and a
    /// supervisor can decide.
    fn keep(&mut self, event: &Event, hash: &str, verdict: Verdict) -> Verdict {
        let tag = match verdict.outcome {
            Outcome::Conflict => "conflict",
            _ => "invalid",
        };
        let reason = format!("{tag}:{}", verdict.reason.unwrap_or("unknown"));
        let body = serde_json::to_value(&event.body).unwrap_or_default();
        self.kept.insert((event.idempotency_key.clone(), hash.to_string()), reason.clone());
        self.writes.conflicts.push(ConflictRow {
            idempotency_key: event.idempotency_key.clone(),
            reason,
            body,
            content_hash: hash.to_string(),
        });
        verdict
    }

    /// A record of this desk.
    fn own_record(&self, record_id: &str) -> Option<&HeldRecord> {
        self.records.get(record_id).filter(|r| r.desk_id == self.desk.desk_id)
    }

    /// What an `issued` record claims that the registry can check by itself,
    /// before anything of it is written: where the person stays, when it was
    /// issued, and its login. `Err` names the reason.
    ///
    /// The person may stay in another municipality than the desk's (a desk
    /// serves whoever comes in), but it must be one. The issue time may run
    /// ahead of the registry's by the clock skew requests are allowed, and
    /// so may it after the desk's retirement: a desk's clock is trusted that
    /// far and no further. A record without a login is one from before
    /// logins existed (its login follows in an amendment, checked then);
    /// a hash it carries must still be well-formed.
    fn record_claims(&self, r: &IssuedRecord) -> Result<(), &'static str> {
        let skew = Duration::seconds(MAX_CLOCK_SKEW_SECS);
        if municipality::lookup(r.municipality).is_none() {
            return Err("municipality");
        }
        if r.issued_at > self.now + skew {
            return Err("issued_in_future");
        }
        if self.retired_at.is_some_and(|retired| r.issued_at > retired + skew) {
            return Err("desk_retired");
        }
        if !r.jobnet_username.is_empty() && !self.in_namespace(&r.jobnet_username) {
            return Err("username_namespace");
        }
        let no_login = r.jobnet_username.is_empty() && r.password_hash.is_empty();
        if !no_login && !well_formed_hash(&r.password_hash) {
            return Err("password_hash");
        }
        Ok(())
    }

    /// Whether `username` is one this desk makes: built from its login
    /// number, so that no desk can hand out another desk's logins.
    fn in_namespace(&self, username: &str) -> bool {
        self.login_number.is_some_and(|own| username_login_number(username) == Some(own))
    }

    fn issued(&mut self, r: &IssuedRecord, hash: &str) -> Verdict {
        let desk_id = self.desk.desk_id.clone();
        if !r.record_id.strip_prefix(desk_id.as_str()).is_some_and(|rest| rest.starts_with('-')) {
            return invalid("record_id");
        }
        let Some(number) = issued_number(r, self.today) else {
            return invalid("number");
        };
        if number.birth_date() != r.person.birth_date || number.sex() != r.person.sex {
            return invalid("number_mismatch");
        }
        if !self.block.contains(&number) {
            return invalid("number_outside_block");
        }
        if let Some(held) = self.records.get(&r.record_id) {
            if held.content_hash == hash {
                return ALREADY_HELD;
            }
            let own = Some(i32::from(self.desk.municipality));
            self.notice_self(
                "record_conflict",
                Some(r.record_id.clone()),
                Some(r.record_id.clone()),
                Some(desk_id),
                own,
            );
            return conflict("record_conflict");
        }
        if let Err(reason) = self.record_claims(r) {
            return invalid(reason);
        }

        let digits = stored(&number);
        let unit = LeaseUnit::containing(&number);
        let slot = i32::from(number.slot().value());
        let rank = unit.map(|u| i32::from(u.rank));
        let unit_holder = rank.and_then(|rank| self.units.get(&(slot, rank))).map(|u| (u.desk_id.clone(), u.retired));
        let existing = self.numbers.get(&digits).cloned();
        // On an applicant's handout already, in an event kept as a conflict
        // (a cloned or restored desk): never a second accepted record.
        if existing.is_none() {
            if let Some(d) = self.disputed.get(&digits).cloned() {
                let other = d.record_id.clone().unwrap_or_default();
                self.notify("number_disputed", &r.record_id, &other, Some(&d.desk_id), d.municipality);
                return conflict("number_disputed");
            }
        }

        match (r.source, existing) {
            // Already used by another record: the number is seen twice.
            (_, Some(HeldNumber { desk_id: holder, desk_municipality, record_id: Some(other), .. })) => {
                if holder.as_deref() != Some(desk_id.as_str()) && !self.holds_unit(&unit_holder) {
                    return invalid("number_not_held");
                }
                self.notify("number_conflict", &r.record_id, &other, holder.as_deref(), desk_municipality);
                return conflict("number_conflict");
            }
            // Allocated online to this desk and not yet used: this is it.
            (NumberSource::Online, Some(HeldNumber { origin, desk_id: Some(holder), record_id: None, .. }))
                if origin == "online" && holder == desk_id =>
            {
                self.writes.linked.push(NumberLink { number: digits.clone(), record_id: r.record_id.clone() });
                if let Some(n) = self.numbers.get_mut(&digits) {
                    n.record_id = Some(r.record_id.clone());
                }
            }
            // After a restore the registry may have allocated again, to
            // another desk, an online number this desk was given before and
            // put on a handout. The record takes it; the allocation, unused,
            // goes (a desk does not use an allocation signed with a sequence
            // below one it saw, and should one have used it, its record is a
            // number conflict told to both).
            (NumberSource::Online, Some(HeldNumber { origin, record_id: None, .. }))
                if self.reconciling && origin == "online" =>
            {
                self.writes.reclaimed.push(NumberLink { number: digits.clone(), record_id: r.record_id.clone() });
                if let Some(n) = self.numbers.get_mut(&digits) {
                    n.record_id = Some(r.record_id.clone());
                    n.desk_id = Some(desk_id.clone());
                }
            }
            (NumberSource::Online, Some(_)) => return invalid("number_not_held"),
            (NumberSource::Online, None) => {
                // Only after a restore may the registry re-learn an online
                // allocation it lost, and only outside other desks' units.
                let free = unit_holder.as_ref().is_none_or(|(holder, retired)| holder.is_none() && !retired);
                if !(self.reconciling && free) {
                    return invalid("number_not_held");
                }
                self.insert_number(&number, "online", slot, rank, &r.record_id);
            }
            (NumberSource::Lease, existing) => {
                if !self.holds_unit(&unit_holder) {
                    let rebind = self.reconciling && matches!(unit_holder, Some((None, false))) && existing.is_none();
                    // A known, free unit has a rank.
                    let Some(rank) = rank.filter(|_| rebind) else { return invalid("number_not_held") };
                    self.writes.unit_binds.push(UnitBind { slot, rank });
                    if let Some(u) = self.units.get_mut(&(slot, rank)) {
                        u.desk_id = Some(desk_id.clone());
                    }
                }
                if existing.is_some() {
                    // An imported or online number inside this desk's unit.
                    self.notice_self("number_conflict", Some(r.record_id.clone()), None, None, None);
                    return conflict("number_conflict");
                }
                self.insert_number(&number, "lease", slot, rank, &r.record_id);
            }
        }

        let content = serde_json::to_value(r).unwrap_or_default();
        self.writes.records.push(RecordInsert {
            record_id: r.record_id.clone(),
            number: digits,
            municipality: i32::from(r.municipality),
            document_key: r.document_key.clone(),
            person_key: r.person_key.clone(),
            content: content.clone(),
            content_hash: hash.to_string(),
        });
        self.records.insert(
            r.record_id.clone(),
            HeldRecord {
                record_id: r.record_id.clone(),
                desk_id: desk_id.clone(),
                content_hash: hash.to_string(),
                jobnet_username: r.jobnet_username.clone(),
                password_hash: r.password_hash.clone(),
                personal_erased: false,
            },
        );
        self.writes.feed.push(FeedItem { record_id: r.record_id.clone(), kind: "issued", payload: content });
        self.find_duplicates(r);
        ACCEPTED
    }

    fn holds_unit(&self, unit_holder: &Option<(Option<String>, bool)>) -> bool {
        matches!(unit_holder, Some((Some(holder), _)) if holder == &self.desk.desk_id)
    }

    fn insert_number(
        &mut self,
        number: &Personnummer,
        origin: &'static str,
        slot: i32,
        rank: Option<i32>,
        record_id: &str,
    ) {
        let digits = stored(number);
        self.writes.numbers.push(NumberInsert {
            number: digits.clone(),
            birth_date: number.birth_date(),
            sex: number.sex().code().to_string(),
            modulus11: number.passes_modulus11(),
            origin,
            slot,
            rank,
            record_id: record_id.to_string(),
        });
        self.numbers.insert(
            digits.clone(),
            HeldNumber {
                number: digits,
                origin: origin.to_string(),
                desk_id: Some(self.desk.desk_id.clone()),
                desk_municipality: Some(i32::from(self.desk.municipality)),
                record_id: Some(record_id.to_string()),
            },
        );
    }

    /// Same document elsewhere: a duplicate; same birth date, nationality
    /// and Latin name: a review. Both desks are told. The record then joins
    /// the candidates for the rest of the batch.
    fn find_duplicates(&mut self, r: &IssuedRecord) {
        let own = i32::from(self.desk.municipality);
        for other in &self.candidates {
            let same_document = other.document_key == r.document_key;
            if !(same_document || other.person_key == r.person_key) || other.record_id == r.record_id {
                continue;
            }
            let kind = if same_document { "duplicate_document" } else { "duplicate_review" };
            self.writes.notices.push(NoticeRow {
                desk_id: self.desk.desk_id.clone(),
                kind,
                record_id: Some(r.record_id.clone()),
                other_record_id: Some(other.record_id.clone()),
                other_desk_id: Some(other.desk_id.clone()),
                other_municipality: Some(other.municipality),
            });
            self.writes.notices.push(NoticeRow {
                desk_id: other.desk_id.clone(),
                kind,
                record_id: Some(other.record_id.clone()),
                other_record_id: Some(r.record_id.clone()),
                other_desk_id: Some(self.desk.desk_id.clone()),
                other_municipality: Some(own),
            });
        }
        self.candidates.push(Candidate {
            record_id: r.record_id.clone(),
            desk_id: self.desk.desk_id.clone(),
            municipality: own,
            document_key: r.document_key.clone(),
            person_key: r.person_key.clone(),
        });
    }

    fn notice_self(
        &mut self,
        kind: &'static str,
        record_id: Option<String>,
        other_record_id: Option<String>,
        other_desk_id: Option<String>,
        other_municipality: Option<i32>,
    ) {
        self.writes.notices.push(NoticeRow {
            desk_id: self.desk.desk_id.clone(),
            kind,
            record_id,
            other_record_id,
            other_desk_id,
            other_municipality,
        });
    }

    /// A notice to this desk and, when another desk is involved, to it too.
    fn notify(
        &mut self,
        kind: &'static str,
        record_id: &str,
        other_record_id: &str,
        other_desk: Option<&str>,
        other_municipality: Option<i32>,
    ) {
        self.notice_self(
            kind,
            Some(record_id.to_string()),
            Some(other_record_id.to_string()),
            other_desk.map(str::to_string),
            other_desk.and(other_municipality),
        );
        if let Some(other) = other_desk.filter(|d| *d != self.desk.desk_id) {
            self.writes.notices.push(NoticeRow {
                desk_id: other.to_string(),
                kind,
                record_id: Some(other_record_id.to_string()),
                other_record_id: Some(record_id.to_string()),
                other_desk_id: Some(self.desk.desk_id.clone()),
                other_municipality: Some(i32::from(self.desk.municipality)),
            });
        }
    }

    /// Sets a record's login and password hash (the picture and the write).
    fn set_login(&mut self, record_id: &str, username: String, hash: String) {
        if let Some(held) = self.records.get_mut(record_id) {
            held.jobnet_username.clone_from(&username);
            held.password_hash.clone_from(&hash);
        }
        let write = LoginWrite { record_id: record_id.to_string(), jobnet_username: username, password_hash: hash };
        match self.login_at.get(record_id) {
            Some(&i) => self.writes.logins[i] = write,
            None => {
                self.login_at.insert(record_id.to_string(), self.writes.logins.len());
                self.writes.logins.push(write);
            }
        }
    }

    /// Ends a downstream refusal (a reprint or a login answered it); the
    /// desk learns it from the moved `state_seq`.
    fn clear_refusal(&mut self, record_id: &str) {
        if self.refusal_cleared.insert(record_id.to_string()) {
            self.writes.refusals_cleared.push(record_id.to_string());
        }
    }

    /// A reprint: the new hash supersedes the old one. The feed's item names
    /// the login (from the event, or the record for desks that did not send
    /// it), and a record issued before logins existed gets its login here.
    /// A downstream refusal is answered by the reprint: it no longer stands.
    fn reprint(&mut self, r: &Reprint) -> Verdict {
        let Some(held) = self.own_record(&r.record_id) else { return invalid("record_not_held") };
        let username = match (r.jobnet_username.as_deref().filter(|u| !u.is_empty()), held.jobnet_username.as_str()) {
            (Some(sent), "") if !self.in_namespace(sent) => return invalid("username_namespace"),
            (Some(sent), "") => sent.to_string(),
            (Some(sent), held) if sent != held => return invalid("login_mismatch"),
            (_, held) => held.to_string(),
        };
        if !well_formed_hash(&r.password_hash) {
            return invalid("password_hash");
        }
        self.set_login(&r.record_id, username.clone(), r.password_hash.clone());
        self.clear_refusal(&r.record_id);
        let mut payload = serde_json::to_value(r).unwrap_or_default();
        payload["jobnet_username"] = Value::String(username);
        self.writes.feed.push(FeedItem { record_id: r.record_id.clone(), kind: "reprinted", payload });
        ACCEPTED
    }

    /// A void of one of this desk's records, and its feed item. A voided
    /// record no longer counts as a duplicate.
    fn void(&mut self, v: &Void) -> Verdict {
        if self.own_record(&v.record_id).is_none() {
            return invalid("record_not_held");
        }
        let write = VoidWrite { record_id: v.record_id.clone(), replaced_by: v.replaced_by.clone() };
        match self.void_at.get(&v.record_id) {
            Some(&i) => self.writes.voids[i] = write,
            None => {
                self.void_at.insert(v.record_id.clone(), self.writes.voids.len());
                self.writes.voids.push(write);
            }
        }
        let payload = serde_json::to_value(v).unwrap_or_default();
        self.writes.feed.push(FeedItem { record_id: v.record_id.clone(), kind: "voided", payload });
        self.candidates.retain(|c| c.record_id != v.record_id);
        ACCEPTED
    }

    /// Fills the login of a record that reached the registry without one,
    /// and sends it down the feed as a correction (`login_amended`).
    /// `hash`: the desk's current hash; `None` keeps the record's own (a
    /// resent `issued` event carries the first hash, which a reprint may
    /// have superseded since). The same login again is `already_held`,
    /// another one `invalid:login_mismatch`. A record whose personal data
    /// the registry already erased keeps nothing new.
    fn fill_login(&mut self, record_id: &str, username: &str, hash: Option<&str>, at: DateTime<Utc>) -> Verdict {
        if username.is_empty() {
            return invalid("login_missing");
        }
        let Some(held) = self.own_record(record_id) else { return invalid("record_not_held") };
        if held.jobnet_username == username {
            return ALREADY_HELD;
        }
        if !held.jobnet_username.is_empty() {
            return invalid("login_mismatch");
        }
        if !self.in_namespace(username) {
            return invalid("username_namespace");
        }
        if hash.is_some_and(|h| !well_formed_hash(h)) {
            return invalid("password_hash");
        }
        if held.personal_erased {
            return ACCEPTED;
        }
        let hash = hash.unwrap_or(&held.password_hash).to_string();
        self.set_login(record_id, username.to_string(), hash.clone());
        self.clear_refusal(record_id);
        let payload = serde_json::to_value(LoginAmendment {
            record_id: record_id.to_string(),
            jobnet_username: username.to_string(),
            password_hash: hash,
            amended_at: at,
        })
        .unwrap_or_default();
        self.writes.feed.push(FeedItem { record_id: record_id.to_string(), kind: "login_amended", payload });
        ACCEPTED
    }

    /// An event resent under its key with the login filled in where the
    /// held one had an empty `jobnet_username`, and otherwise identical:
    /// the login is taken ([`Judge::fill_login`]). `None` for anything else.
    fn login_filled_resend(&mut self, event: &Event) -> Option<Verdict> {
        let username = login_of(&event.body);
        let record_id = event.body.record_id().filter(|_| !username.is_empty())?;
        let held = match &self.events.get(&event.idempotency_key)?.body {
            HeldBody::Read(body) => body.as_ref()?,
            HeldBody::Written(i) => &self.writes.events[*i].body,
        };
        let sent = serde_json::to_value(&event.body).unwrap_or_default();
        if !same_but_login(held, &sent) {
            return None;
        }
        Some(self.fill_login(record_id, username, None, self.now))
    }

    /// The desk's audit chain forked at `a`: two histories run under its ID
    /// (a copied disk, or a restore while the old copy may still run), with
    /// the same record IDs, outbox keys and usernames, and the registry
    /// cannot tell which is which. The desk ID is quarantined; the batch
    /// names the first forked entry.
    fn forked(&mut self, a: &AuditEntry) {
        self.writes.quarantine.get_or_insert(i64::try_from(a.seq).unwrap_or(i64::MAX));
    }

    /// The desk's audit chain must grow by exactly one well-formed link.
    fn audit(&mut self, a: &AuditEntry) -> Verdict {
        if a.hash != a.chain_hash() {
            return invalid("audit_hash");
        }
        let head = &self.audit_head;
        let Ok(entry_seq) = i64::try_from(a.seq) else { return invalid("audit_gap") };
        if entry_seq > head.seq + 1 {
            return invalid("audit_gap");
        }
        if entry_seq <= head.seq || a.prev_hash != head.hash {
            // Another entry at a position already filled, or a link that does
            // not follow: the desk's history forked (restored or cloned).
            self.notice_self("audit_chain", None, None, None, None);
            self.forked(a);
            return conflict("audit_chain");
        }
        self.audit_head = AuditHead { seq: entry_seq, hash: a.hash.clone() };
        self.writes.audit_head = Some(self.audit_head.clone());
        ACCEPTED
    }
}

/// The characters of Jobnet usernames in value order, as the desk makes them
/// (`skranke_core::credentials`; the registry does not link the desk, so the
/// format is read here again, and a test checks the two agree).
const USERNAME_ALPHABET: &[u8; 23] = b"2346789ACDEFHJKMNPRTWXY";
/// Digits of a username's sequence part at the least.
const USERNAME_MIN_SEQ_DIGITS: usize = 3;

/// Appends `n` in base 23, most significant first, padded to `min` digits.
fn push_username_digits(out: &mut Vec<u8>, mut n: u64, min: usize) {
    let base = USERNAME_ALPHABET.len() as u64;
    let mut digits = Vec::new();
    while n > 0 || digits.len() < min.max(1) {
        digits.push(USERNAME_ALPHABET[(n % base) as usize]);
        n /= base;
    }
    out.extend(digits.iter().rev());
}

/// The check value that makes the weighted sum (weights 1, 2, …, 22, 1, …
/// from the right, the check character's being 1) zero mod 23.
fn username_check(body: &[u64]) -> u64 {
    let base = USERNAME_ALPHABET.len() as u64;
    let n = body.len() as u64;
    let sum: u64 = body.iter().enumerate().map(|(i, v)| ((n - i as u64) % (base - 1) + 1) * v).sum();
    (base - sum % base) % base
}

/// The username of login `seq` of the desk with `login_number`: a length
/// character, the login number, the sequence (three digits at least), a
/// check character.
fn username(login_number: u32, seq: u64) -> String {
    let mut desk = Vec::new();
    push_username_digits(&mut desk, u64::from(login_number), 1);
    let mut text = vec![USERNAME_ALPHABET[desk.len()]];
    text.extend_from_slice(&desk);
    push_username_digits(&mut text, seq, USERNAME_MIN_SEQ_DIGITS);
    let values: Vec<u64> = text.iter().filter_map(|c| username_value(*c)).collect();
    text.push(USERNAME_ALPHABET[username_check(&values) as usize]);
    text.into_iter().map(char::from).collect()
}

fn username_value(c: u8) -> Option<u64> {
    USERNAME_ALPHABET.iter().position(|a| *a == c).map(|p| p as u64)
}

/// The login number a username was made from, when it is a username exactly
/// as a desk prints it (upper case, its check character right, no extra
/// leading digits); `None` for anything else.
fn username_login_number(text: &str) -> Option<u32> {
    let values: Vec<u64> = text.bytes().map(username_value).collect::<Option<_>>()?;
    let (&len, rest) = values.split_first()?;
    let len = usize::try_from(len).ok().filter(|l| *l > 0 && rest.len() > l + USERNAME_MIN_SEQ_DIGITS)?;
    let base = USERNAME_ALPHABET.len() as u64;
    let number = |digits: &[u64]| digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(base)?.checked_add(*d));
    let login_number = u32::try_from(number(&rest[..len])?).ok()?;
    let seq = number(&rest[len..rest.len() - 1])?;
    // The one spelling the desk makes: check character and padding included.
    (username(login_number, seq) == text).then_some(login_number)
}

/// The Argon2id parameters a password hash must have at the least: the
/// desk's (`skranke_core::credentials`, OWASP's minimum for Argon2id).
const ARGON2_MIN_M_COST_KIB: u32 = 19 * 1024;
const ARGON2_MIN_T_COST: u32 = 2;
const ARGON2_MIN_P_COST: u32 = 1;
/// And at the most: the feed's consumer verifies the password against the
/// hash, and a desk must not make it spend more than a verification ever
/// needs (RFC 9106's costliest recommendation is 2 GiB).
const ARGON2_MAX_M_COST_KIB: u32 = 2 * 1024 * 1024;
const ARGON2_MAX_T_COST: u32 = 10;
const ARGON2_MAX_P_COST: u32 = 16;
/// Salt and hash lengths in bytes: at the least the desk's (16 and 32), at
/// the most what the PHC string format allows.
const ARGON2_SALT_BYTES: std::ops::RangeInclusive<usize> = 16..=48;
const ARGON2_HASH_BYTES: std::ops::RangeInclusive<usize> = 32..=64;

/// Whether `phc` is an Argon2id hash as the desk makes one:
/// `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`, costs within
/// the bounds above, salt and hash in unpadded standard Base64 of a length
/// within theirs. Read by hand: the registry has no use for the hashing
/// crates beyond this.
fn well_formed_hash(phc: &str) -> bool {
    let mut parts = phc.split('$');
    let (Some(""), Some("argon2id"), Some("v=19"), Some(params), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let mut costs = params.split(',');
    let cost = |part: Option<&str>, name: &str| {
        let value = part?.strip_prefix(name)?.strip_prefix('=')?;
        // Decimal as the PHC format writes it: no sign, no leading zero.
        let canonical = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0');
        value.parse::<u32>().ok().filter(|_| canonical)
    };
    let (Some(m), Some(t), Some(p), None) =
        (cost(costs.next(), "m"), cost(costs.next(), "t"), cost(costs.next(), "p"), costs.next())
    else {
        return false;
    };
    (ARGON2_MIN_M_COST_KIB..=ARGON2_MAX_M_COST_KIB).contains(&m)
        && (ARGON2_MIN_T_COST..=ARGON2_MAX_T_COST).contains(&t)
        && (ARGON2_MIN_P_COST..=ARGON2_MAX_P_COST).contains(&p)
        && b64_len(salt).is_some_and(|n| ARGON2_SALT_BYTES.contains(&n))
        && b64_len(hash).is_some_and(|n| ARGON2_HASH_BYTES.contains(&n))
}

/// The byte length of unpadded standard Base64 text (the PHC format's
/// encoding), `None` when it is not such text: a character outside the
/// alphabet, a length no bytes encode to, or leftover bits that are not zero.
fn b64_len(text: &str) -> Option<usize> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let values: Vec<u8> =
        text.bytes().map(|c| ALPHABET.iter().position(|a| *a == c).map(|p| p as u8)).collect::<Option<_>>()?;
    let last = *values.last()?;
    let unused_bits_clear = match values.len() % 4 {
        0 => true,
        2 => last & 0b1111 == 0,
        3 => last & 0b11 == 0,
        _ => return None,
    };
    unused_bits_clear.then_some(values.len() * 3 / 4)
}

/// Whether `sent` is `held` (both tagged event bodies) with only the login
/// filled in: `held` has no or an empty `jobnet_username`, and nothing else
/// differs.
fn same_but_login(held: &Value, sent: &Value) -> bool {
    let without_login = |v: &Value| {
        let mut v = v.clone();
        let login = v["payload"].as_object_mut().and_then(|p| p.remove("jobnet_username"));
        (v, login)
    };
    let (held, held_login) = without_login(held);
    let (sent, _) = without_login(sent);
    held_login.as_ref().and_then(Value::as_str).unwrap_or("").is_empty() && held == sent
}

/// A kept reason (`conflict:<code>`, `invalid:<code>`) as the verdict it was.
fn verdict_from_kept(reason: &str) -> Verdict {
    let (tag, code) = reason.split_once(':').unwrap_or(("invalid", reason));
    // Map back to the static reason codes this module gives.
    const CODES: &[&str] = &[
        "idempotency_key",
        "content_hash",
        "record_id",
        "number",
        "number_mismatch",
        "number_outside_block",
        "record_conflict",
        "number_conflict",
        "number_disputed",
        "number_not_held",
        "record_not_held",
        "replaced_by",
        "login_missing",
        "login_mismatch",
        "audit_hash",
        "audit_gap",
        "audit_chain",
        "municipality",
        "issued_in_future",
        "desk_retired",
        "username_namespace",
        "password_hash",
        "control_character",
        "malformed",
    ];
    let code = CODES.iter().copied().find(|c| *c == code).unwrap_or("unknown");
    if tag == "conflict" {
        conflict(code)
    } else {
        invalid(code)
    }
}

#[cfg(test)]
mod tests;
