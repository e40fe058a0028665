//! `POST /v1/events`: a batch of immutable events from a desk's outbox.
//!
//! The batch runs in one transaction, under a per-desk lock so that the
//! desk's audit chain advances in order. Each event gets its own verdict:
//! `accepted`, `already_held` (same key, same content hash), `conflict`
//! (same key, record or number with other content; the event is kept in
//! `conflicts` and both desks get a notice) or `invalid` (refused with a
//! reason, also kept). Nothing a desk sends is dropped, and a retry of the
//! same event gets the same verdict.
//!
//! Set-based, because a desk back from a week offline sends thousands of
//! events: what the verdicts depend on (keys seen, records, numbers, units,
//! duplicate candidates, the audit head) is read for the whole batch in a
//! handful of queries, the events are judged in order against that picture
//! (kept current as the batch goes), and the rows to write are written at
//! the end with one multi-row statement per table. Reprints, voids and
//! erasures, which are rare and read what came before them, write the
//! pending rows first and then go to the database one by one.

use std::collections::HashMap;

use axum::extract::State;
use axum::{Extension, Json};
use chrono::NaiveDate;
use deadpool_postgres::Transaction;
use serde_json::Value;
use skranke_protocol::{
    audit_genesis, AuditEntry, Event, EventBody, EventResult, IssuedRecord, LoginAmendment, NumberSource, Outcome,
    Reprint, UploadRequest, UploadResponse,
};
use skranke_rules::cpr::Personnummer;
use skranke_rules::lease::LeaseUnit;

use super::{check_key, reconciling, stored, Checked};
use crate::auth::Desk;
use crate::error::Result;
use crate::AppState;

pub async fn upload(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    Checked(req): Checked<UploadRequest>,
) -> Result<Json<UploadResponse>> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7003, hashtext($1))", &[&desk.desk_id]).await?;
    let reconciling = reconciling(&tx).await?;
    let mut batch = Batch::load(&tx, &desk, &req.events, reconciling, state.now().date_naive(), &state).await?;
    let mut results = Vec::with_capacity(req.events.len());
    for event in &req.events {
        let (outcome, reason) = batch.process(&tx, event).await?;
        results.push(EventResult {
            idempotency_key: event.idempotency_key.clone(),
            outcome,
            reason: reason.map(str::to_string),
        });
    }
    batch.flush(&tx).await?;
    let registry_sequence = crate::db::sequence(&tx).await?;
    tx.commit().await?;
    Ok(Json(UploadResponse { results, registry_time: state.now(), registry_sequence }))
}

type Verdict = (Outcome, Option<&'static str>);

const ACCEPTED: Verdict = (Outcome::Accepted, None);

fn invalid(reason: &'static str) -> Verdict {
    (Outcome::Invalid, Some(reason))
}

fn conflict(reason: &'static str) -> Verdict {
    (Outcome::Conflict, Some(reason))
}

/// A number as the registry holds it: how it came to be used, by which desk,
/// for which record.
#[derive(Clone, Debug)]
struct NumberRow {
    origin: String,
    desk_id: Option<String>,
    record_id: Option<String>,
}

/// A record that a new one may duplicate.
#[derive(Clone, Debug)]
struct Candidate {
    record_id: String,
    desk_id: String,
    municipality: i32,
    document_key: String,
    person_key: String,
}

/// A notice to write.
struct NoticeRow {
    desk_id: String,
    kind: &'static str,
    record_id: Option<String>,
    other_record_id: Option<String>,
    other_desk_id: Option<String>,
    other_municipality: Option<i32>,
}

/// A `numbers` row: number, birth date, sex, modulus 11, origin, slot, rank, record.
type NumberInsert = (String, NaiveDate, String, bool, &'static str, i32, Option<i32>, String);

/// Rows waiting to be written at the end of the batch (or before an event
/// that reads the database itself).
#[derive(Default)]
struct Pending {
    events: Vec<(String, &'static str, Option<String>, String, Value)>,
    conflicts: Vec<(String, String, Value, String)>,
    numbers: Vec<NumberInsert>,
    linked: Vec<(String, String)>,
    records: Vec<(String, String, i32, String, String, Value, String)>,
    feed: Vec<(String, &'static str, Value)>,
    notices: Vec<NoticeRow>,
    audit_head: Option<(i64, String)>,
}

/// The batch's picture of what the registry holds, and what it will write.
struct Batch<'a> {
    desk: &'a Desk,
    reconciling: bool,
    today: NaiveDate,
    state: &'a AppState,
    /// Content hash by idempotency key, of this desk's received events.
    events: HashMap<String, String>,
    /// Verdicts kept before, by (key, content hash).
    kept: HashMap<(String, String), String>,
    /// Content hash by record ID.
    records: HashMap<String, String>,
    numbers: HashMap<String, NumberRow>,
    /// Holder and retirement by (slot, rank).
    units: HashMap<(i32, i32), (Option<String>, bool)>,
    candidates: Vec<Candidate>,
    audit_head: (i64, String),
    pending: Pending,
}

/// The parts of an `issued` event the batch needs before judging it.
fn issued_number(r: &IssuedRecord, today: NaiveDate) -> Option<Personnummer> {
    Personnummer::parse(&r.number, today).ok()
}

impl<'a> Batch<'a> {
    async fn load(
        tx: &Transaction<'_>,
        desk: &'a Desk,
        events: &[Event],
        reconciling: bool,
        today: NaiveDate,
        state: &'a AppState,
    ) -> Result<Batch<'a>> {
        let keys: Vec<&str> = events.iter().map(|e| e.idempotency_key.as_str()).collect();
        let mut batch = Batch {
            desk,
            reconciling,
            today,
            state,
            events: HashMap::new(),
            kept: HashMap::new(),
            records: HashMap::new(),
            numbers: HashMap::new(),
            units: HashMap::new(),
            candidates: Vec::new(),
            audit_head: (0, audit_genesis(&desk.desk_id)),
            pending: Pending::default(),
        };
        for row in tx
            .query(
                "SELECT idempotency_key, content_hash FROM events WHERE desk_id = $1 AND idempotency_key = ANY($2)",
                &[&desk.desk_id, &keys],
            )
            .await?
        {
            batch.events.insert(row.get(0), row.get(1));
        }
        for row in tx
            .query(
                "SELECT idempotency_key, content_hash, reason FROM conflicts
                 WHERE desk_id = $1 AND idempotency_key = ANY($2) ORDER BY id",
                &[&desk.desk_id, &keys],
            )
            .await?
        {
            batch.kept.entry((row.get(0), row.get(1))).or_insert_with(|| row.get(2));
        }

        let issued: Vec<&IssuedRecord> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Issued(r) => Some(r),
                _ => None,
            })
            .collect();
        if !issued.is_empty() {
            let ids: Vec<&str> = issued.iter().map(|r| r.record_id.as_str()).collect();
            for row in
                tx.query("SELECT record_id, content_hash FROM records WHERE record_id = ANY($1)", &[&ids]).await?
            {
                batch.records.insert(row.get(0), row.get(1));
            }
            let numbers: Vec<Personnummer> = issued.iter().filter_map(|r| issued_number(r, today)).collect();
            let digits: Vec<String> = numbers.iter().map(stored).collect();
            for row in tx
                .query(
                    "SELECT number::text, origin, desk_id, record_id FROM numbers WHERE number = ANY($1::bpchar[])",
                    &[&digits],
                )
                .await?
            {
                batch
                    .numbers
                    .insert(row.get(0), NumberRow { origin: row.get(1), desk_id: row.get(2), record_id: row.get(3) });
            }
            let mut slots: Vec<i32> = numbers.iter().map(|n| i32::from(n.slot().value())).collect();
            slots.sort_unstable();
            slots.dedup();
            for row in
                tx.query("SELECT slot, rank, desk_id, retired FROM units WHERE slot = ANY($1)", &[&slots]).await?
            {
                batch.units.insert((row.get(0), row.get(1)), (row.get(2), row.get(3)));
            }
            let document_keys: Vec<&str> = issued.iter().map(|r| r.document_key.as_str()).collect();
            let person_keys: Vec<&str> = issued.iter().map(|r| r.person_key.as_str()).collect();
            for row in tx
                .query(
                    "SELECT r.record_id, r.desk_id, d.municipality, r.document_key, r.person_key
                     FROM records r JOIN desks d USING (desk_id)
                     WHERE (r.document_key = ANY($1) OR r.person_key = ANY($2)) AND r.state <> 'voided'",
                    &[&document_keys, &person_keys],
                )
                .await?
            {
                batch.candidates.push(Candidate {
                    record_id: row.get(0),
                    desk_id: row.get(1),
                    municipality: row.get(2),
                    document_key: row.get(3),
                    person_key: row.get(4),
                });
            }
        }
        if events.iter().any(|e| matches!(e.body, EventBody::Audit(_))) {
            if let Some(row) =
                tx.query_opt("SELECT seq, hash FROM audit_heads WHERE desk_id = $1", &[&desk.desk_id]).await?
            {
                batch.audit_head = (row.get(0), row.get(1));
            }
        }
        Ok(batch)
    }

    async fn process(&mut self, tx: &Transaction<'_>, event: &Event) -> Result<Verdict> {
        if check_key(&event.idempotency_key).is_err() {
            return Ok(invalid("idempotency_key"));
        }
        let key = event.idempotency_key.as_str();
        // The body as the desk sent it: a newer desk's fields this version drops are covered.
        let hash = event.received_hash().to_string();
        if let Some(held) = self.events.get(key).cloned() {
            if held == hash {
                return Ok((Outcome::AlreadyHeld, None));
            }
            // A desk from before the username fix whose upload was received
            // but never answered sends the same event again, now with the
            // login filled in: the login is taken, not a conflict.
            if let Some(verdict) = self.login_filled_resend(tx, event).await? {
                return Ok(verdict);
            }
            // The desk sent other content under a key it used before: its
            // history forked (restored from a backup, or cloned). It is told.
            let kind = if matches!(event.body, EventBody::Audit(_)) { "audit_chain" } else { "event_conflict" };
            let record_id = event.body.record_id().map(str::to_string);
            self.notice_self(kind, record_id, None, None, None);
            return Ok(self.keep(event, &hash, conflict("idempotency_key")));
        }
        // A verdict given before to exactly this event is given again.
        if let Some(reason) = self.kept.get(&(key.to_string(), hash.clone())) {
            return Ok(verdict_from_kept(reason));
        }
        if hash != event.content_hash {
            return Ok(self.keep(event, &hash, invalid("content_hash")));
        }
        let verdict = match &event.body {
            EventBody::Issued(r) => self.issued(tx, r, &hash).await?,
            EventBody::Audit(a) => self.audit(a),
            EventBody::Reprinted(r) => {
                self.flush(tx).await?;
                self.reprint(tx, r).await?
            }
            EventBody::LoginAmended(l) => {
                self.flush(tx).await?;
                let verdict =
                    self.fill_login(tx, &l.record_id, &l.jobnet_username, Some(&l.password_hash), l.amended_at).await?;
                // A second amendment with the login already in place is taken as is.
                if verdict.0 == Outcome::AlreadyHeld {
                    ACCEPTED
                } else {
                    verdict
                }
            }
            EventBody::Voided(v) => {
                self.flush(tx).await?;
                if let Some(survivor) = &v.replaced_by {
                    if tx.query_opt("SELECT 1 FROM records WHERE record_id = $1", &[survivor]).await?.is_none() {
                        return Ok(self.keep(event, &hash, invalid("replaced_by")));
                    }
                }
                let payload = serde_json::to_value(v).unwrap_or_default();
                let verdict = self.amend(tx, &v.record_id, "voided", payload, Some(v.replaced_by.as_deref())).await?;
                if verdict == ACCEPTED {
                    // Voided records do not count as duplicates.
                    self.candidates.retain(|c| c.record_id != v.record_id);
                }
                verdict
            }
            EventBody::Erased(e) => {
                self.flush(tx).await?;
                let n = tx
                    .execute(
                        "UPDATE records SET erased_at = now() WHERE record_id = $1 AND desk_id = $2",
                        &[&e.record_id, &self.desk.desk_id],
                    )
                    .await?;
                if n == 1 {
                    ACCEPTED
                } else {
                    invalid("record_not_held")
                }
            }
        };
        match verdict.0 {
            Outcome::Accepted | Outcome::AlreadyHeld => {
                let body = serde_json::to_value(&event.body).unwrap_or_default();
                let record_id = event.body.record_id().map(str::to_string);
                self.pending.events.push((key.to_string(), event.body.kind(), record_id, hash.clone(), body));
                self.events.insert(key.to_string(), hash);
                Ok(verdict)
            }
            // A gap closes once the earlier entries arrive: not remembered.
            Outcome::Invalid if verdict.1 == Some("audit_gap") => Ok(verdict),
            Outcome::Conflict | Outcome::Invalid => Ok(self.keep(event, &hash, verdict)),
        }
    }

    /// Keeps a conflicting or refused event, so that nothing is lost and a
    /// supervisor can decide.
    fn keep(&mut self, event: &Event, hash: &str, verdict: Verdict) -> Verdict {
        let tag = match verdict.0 {
            Outcome::Conflict => "conflict",
            _ => "invalid",
        };
        let reason = format!("{tag}:{}", verdict.1.unwrap_or("unknown"));
        let body = serde_json::to_value(&event.body).unwrap_or_default();
        self.kept.insert((event.idempotency_key.clone(), hash.to_string()), reason.clone());
        self.pending.conflicts.push((event.idempotency_key.clone(), reason, body, hash.to_string()));
        verdict
    }

    async fn issued(&mut self, tx: &Transaction<'_>, r: &IssuedRecord, hash: &str) -> Result<Verdict> {
        let desk_id = self.desk.desk_id.clone();
        if !r.record_id.strip_prefix(desk_id.as_str()).is_some_and(|rest| rest.starts_with('-')) {
            return Ok(invalid("record_id"));
        }
        let Some(number) = issued_number(r, self.today) else {
            return Ok(invalid("number"));
        };
        if number.birth_date() != r.person.birth_date || number.sex() != r.person.sex {
            return Ok(invalid("number_mismatch"));
        }
        if !self.state.block.contains(&number) {
            return Ok(invalid("number_outside_block"));
        }
        if let Some(held) = self.records.get(&r.record_id) {
            if held == hash {
                return Ok((Outcome::AlreadyHeld, None));
            }
            let own = Some(i32::from(self.desk.municipality));
            self.notice_self(
                "record_conflict",
                Some(r.record_id.clone()),
                Some(r.record_id.clone()),
                Some(desk_id),
                own,
            );
            return Ok(conflict("record_conflict"));
        }

        let digits = stored(&number);
        let unit = LeaseUnit::containing(&number);
        let slot = i32::from(number.slot().value());
        let rank = unit.map(|u| i32::from(u.rank));
        let unit_holder = unit.and_then(|u| self.units.get(&(slot, i32::from(u.rank))).cloned());
        let existing = self.numbers.get(&digits).cloned();

        match (r.source, existing) {
            // Already used by another record: the number is seen twice.
            (_, Some(NumberRow { desk_id: holder, record_id: Some(other), .. })) => {
                if holder.as_deref() != Some(desk_id.as_str()) && !self.holds_unit(&unit_holder) {
                    return Ok(invalid("number_not_held"));
                }
                self.notify(tx, "number_conflict", &r.record_id, Some(&other), holder.as_deref()).await?;
                return Ok(conflict("number_conflict"));
            }
            // Allocated online to this desk and not yet used: this is it.
            (NumberSource::Online, Some(NumberRow { origin, desk_id: Some(holder), record_id: None }))
                if origin == "online" && holder == desk_id =>
            {
                self.pending.linked.push((digits.clone(), r.record_id.clone()));
                if let Some(n) = self.numbers.get_mut(&digits) {
                    n.record_id = Some(r.record_id.clone());
                }
            }
            (NumberSource::Online, Some(_)) => return Ok(invalid("number_not_held")),
            (NumberSource::Online, None) => {
                // Only after a restore may the registry re-learn an online
                // allocation it lost, and only outside other desks' units.
                let free = unit_holder.as_ref().is_none_or(|(holder, retired)| holder.is_none() && !retired);
                if !(self.reconciling && free) {
                    return Ok(invalid("number_not_held"));
                }
                self.insert_number(&number, "online", slot, rank, &r.record_id);
            }
            (NumberSource::Lease, existing) => {
                if !self.holds_unit(&unit_holder) {
                    let rebind = self.reconciling
                        && unit.is_some()
                        && matches!(unit_holder, Some((None, false)))
                        && existing.is_none();
                    if !rebind {
                        return Ok(invalid("number_not_held"));
                    }
                    tx.execute(
                        "UPDATE units SET desk_id = $1, bound_at = now() WHERE slot = $2 AND rank = $3 AND desk_id IS NULL",
                        &[&desk_id, &slot, &rank],
                    )
                    .await?;
                    if let Some(rank) = rank {
                        self.units.insert((slot, rank), (Some(desk_id.clone()), false));
                    }
                }
                if existing.is_some() {
                    // An imported or online number inside this desk's unit.
                    self.notice_self("number_conflict", Some(r.record_id.clone()), None, None, None);
                    return Ok(conflict("number_conflict"));
                }
                self.insert_number(&number, "lease", slot, rank, &r.record_id);
            }
        }

        let content = serde_json::to_value(r).unwrap_or_default();
        self.pending.records.push((
            r.record_id.clone(),
            digits,
            i32::from(r.municipality),
            r.document_key.clone(),
            r.person_key.clone(),
            content.clone(),
            hash.to_string(),
        ));
        self.records.insert(r.record_id.clone(), hash.to_string());
        self.pending.feed.push((r.record_id.clone(), "issued", content));
        self.find_duplicates(r);
        Ok(ACCEPTED)
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
        self.pending.numbers.push((
            digits.clone(),
            number.birth_date(),
            number.sex().code().to_string(),
            number.passes_modulus11(),
            origin,
            slot,
            rank,
            record_id.to_string(),
        ));
        self.numbers.insert(
            digits,
            NumberRow {
                origin: origin.to_string(),
                desk_id: Some(self.desk.desk_id.clone()),
                record_id: Some(record_id.to_string()),
            },
        );
    }

    /// Same document elsewhere: a duplicate; same birth date, nationality
    /// and Latin name: a review. Both desks are told. The record then joins
    /// the candidates for the rest of the batch.
    fn find_duplicates(&mut self, r: &IssuedRecord) {
        let own = i32::from(self.desk.municipality);
        let found: Vec<(Candidate, bool)> = self
            .candidates
            .iter()
            .filter(|c| {
                (c.document_key == r.document_key || c.person_key == r.person_key) && c.record_id != r.record_id
            })
            .map(|c| (c.clone(), c.document_key == r.document_key))
            .collect();
        for (other, same_document) in found {
            let kind = if same_document { "duplicate_document" } else { "duplicate_review" };
            self.pending.notices.push(NoticeRow {
                desk_id: self.desk.desk_id.clone(),
                kind,
                record_id: Some(r.record_id.clone()),
                other_record_id: Some(other.record_id.clone()),
                other_desk_id: Some(other.desk_id.clone()),
                other_municipality: Some(other.municipality),
            });
            self.pending.notices.push(NoticeRow {
                desk_id: other.desk_id,
                kind,
                record_id: Some(other.record_id),
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
        self.pending.notices.push(NoticeRow {
            desk_id: self.desk.desk_id.clone(),
            kind,
            record_id,
            other_record_id,
            other_desk_id,
            other_municipality,
        });
    }

    /// A notice to this desk and, when another desk is involved, to it too.
    async fn notify(
        &mut self,
        tx: &Transaction<'_>,
        kind: &'static str,
        record_id: &str,
        other_record_id: Option<&str>,
        other_desk: Option<&str>,
    ) -> Result<()> {
        let other_municipality = match other_desk {
            Some(d) => tx
                .query_opt("SELECT municipality FROM desks WHERE desk_id = $1", &[&d])
                .await?
                .map(|r| r.get::<_, i32>(0)),
            None => None,
        };
        self.notice_self(
            kind,
            Some(record_id.to_string()),
            other_record_id.map(str::to_string),
            other_desk.map(str::to_string),
            other_municipality,
        );
        if let Some(other) = other_desk.filter(|d| *d != self.desk.desk_id) {
            self.pending.notices.push(NoticeRow {
                desk_id: other.to_string(),
                kind,
                record_id: other_record_id.map(str::to_string),
                other_record_id: Some(record_id.to_string()),
                other_desk_id: Some(self.desk.desk_id.clone()),
                other_municipality: Some(i32::from(self.desk.municipality)),
            });
        }
        Ok(())
    }

    /// A reprint: the new hash supersedes the old one. The feed's item names
    /// the login (from the event, or the record for desks that did not send
    /// it), and a record issued before logins existed gets its login here.
    /// A downstream refusal is answered by the reprint: it no longer stands.
    async fn reprint(&mut self, tx: &Transaction<'_>, r: &Reprint) -> Result<Verdict> {
        let Some(held) = self.login_of(tx, &r.record_id).await? else { return Ok(invalid("record_not_held")) };
        let username = match (r.jobnet_username.as_deref().filter(|u| !u.is_empty()), held.as_str()) {
            (Some(sent), "") => sent.to_string(),
            (Some(sent), held) if sent != held => return Ok(invalid("login_mismatch")),
            (_, held) => held.to_string(),
        };
        let patch = serde_json::json!({ "password_hash": r.password_hash, "jobnet_username": username });
        tx.execute("UPDATE records SET content = content || $2 WHERE record_id = $1", &[&r.record_id, &patch]).await?;
        clear_refusal(tx, &r.record_id).await?;
        let mut payload = serde_json::to_value(r).unwrap_or_default();
        payload["jobnet_username"] = Value::String(username);
        self.amend(tx, &r.record_id, "reprinted", payload, None).await
    }

    /// The username a record of this desk holds (`""` when it came without
    /// one); `None` when this desk holds no such record.
    async fn login_of(&self, tx: &Transaction<'_>, record_id: &str) -> Result<Option<String>> {
        Ok(tx
            .query_opt(
                "SELECT coalesce(content->>'jobnet_username', '') FROM records WHERE record_id = $1 AND desk_id = $2",
                &[&record_id, &self.desk.desk_id],
            )
            .await?
            .map(|row| row.get(0)))
    }

    /// Fills the login of a record that reached the registry without one,
    /// and sends it down the feed as a correction (`login_amended`).
    /// `hash`: the desk's current hash; `None` keeps the record's own (a
    /// resent `issued` event carries the first hash, which a reprint may
    /// have superseded since). The same login again is `already_held`,
    /// another one `invalid:login_mismatch`. A record whose personal data
    /// the registry already erased keeps nothing new.
    async fn fill_login(
        &mut self,
        tx: &Transaction<'_>,
        record_id: &str,
        username: &str,
        hash: Option<&str>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Verdict> {
        if username.is_empty() {
            return Ok(invalid("login_missing"));
        }
        let row = tx
            .query_opt(
                "SELECT coalesce(content->>'jobnet_username', ''), coalesce(content->>'password_hash', ''),
                        personal_erased_at IS NOT NULL
                 FROM records WHERE record_id = $1 AND desk_id = $2",
                &[&record_id, &self.desk.desk_id],
            )
            .await?;
        let Some(row) = row else { return Ok(invalid("record_not_held")) };
        let (held, held_hash, erased): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        if held == username {
            return Ok((Outcome::AlreadyHeld, None));
        }
        if !held.is_empty() {
            return Ok(invalid("login_mismatch"));
        }
        if erased {
            return Ok(ACCEPTED);
        }
        let hash = hash.unwrap_or(&held_hash).to_string();
        let patch = serde_json::json!({ "jobnet_username": username, "password_hash": hash });
        tx.execute("UPDATE records SET content = content || $2 WHERE record_id = $1", &[&record_id, &patch]).await?;
        clear_refusal(tx, record_id).await?;
        let payload = serde_json::to_value(LoginAmendment {
            record_id: record_id.to_string(),
            jobnet_username: username.to_string(),
            password_hash: hash,
            amended_at: at,
        })
        .unwrap_or_default();
        self.pending.feed.push((record_id.to_string(), "login_amended", payload));
        Ok(ACCEPTED)
    }

    /// An event resent under its key with the login filled in where the
    /// held one had an empty `jobnet_username`, and otherwise identical:
    /// the login is taken ([`Batch::fill_login`]). `None` for anything else.
    async fn login_filled_resend(&mut self, tx: &Transaction<'_>, event: &Event) -> Result<Option<Verdict>> {
        let (record_id, username) = match &event.body {
            EventBody::Issued(r) => (&r.record_id, r.jobnet_username.as_str()),
            EventBody::Reprinted(r) => (&r.record_id, r.jobnet_username.as_deref().unwrap_or("")),
            _ => return Ok(None),
        };
        if username.is_empty() {
            return Ok(None);
        }
        self.flush(tx).await?;
        let held: Option<Value> = tx
            .query_opt(
                "SELECT body FROM events WHERE desk_id = $1 AND idempotency_key = $2",
                &[&self.desk.desk_id, &event.idempotency_key],
            )
            .await?
            .map(|row| row.get(0));
        let Some(held) = held else { return Ok(None) };
        let sent = serde_json::to_value(&event.body).unwrap_or_default();
        if !same_but_login(&held, &sent) {
            return Ok(None);
        }
        let at = self.state.now();
        Ok(Some(self.fill_login(tx, record_id, username, None, at).await?))
    }

    /// A later event about one of this desk's own records: reprint or void,
    /// and its feed item. Runs against the database (the pending rows were
    /// written first).
    async fn amend(
        &mut self,
        tx: &Transaction<'_>,
        record_id: &str,
        kind: &'static str,
        feed_payload: Value,
        void: Option<Option<&str>>,
    ) -> Result<Verdict> {
        let own = tx
            .query_opt("SELECT 1 FROM records WHERE record_id = $1 AND desk_id = $2", &[&record_id, &self.desk.desk_id])
            .await?;
        if own.is_none() {
            return Ok(invalid("record_not_held"));
        }
        if let Some(replaced_by) = void {
            tx.execute(
                "UPDATE records SET state = 'voided', replaced_by = $2, state_seq = nextval('registry_seq')
                 WHERE record_id = $1",
                &[&record_id, &replaced_by],
            )
            .await?;
        }
        self.pending.feed.push((record_id.to_string(), kind, feed_payload));
        Ok(ACCEPTED)
    }

    /// The desk's audit chain must grow by exactly one well-formed link.
    fn audit(&mut self, a: &AuditEntry) -> Verdict {
        if a.hash != a.chain_hash() {
            return invalid("audit_hash");
        }
        let (seq, hash) = &self.audit_head;
        let Ok(entry_seq) = i64::try_from(a.seq) else { return invalid("audit_gap") };
        if entry_seq > seq + 1 {
            return invalid("audit_gap");
        }
        if entry_seq <= *seq || a.prev_hash != *hash {
            // Another entry at a position already filled, or a link that does
            // not follow: the desk's history forked (restored or cloned).
            self.notice_self("audit_chain", None, None, None, None);
            return conflict("audit_chain");
        }
        self.audit_head = (entry_seq, a.hash.clone());
        self.pending.audit_head = Some(self.audit_head.clone());
        ACCEPTED
    }

    /// Writes the pending rows, one multi-row statement per table, in the
    /// order the events asked for them.
    async fn flush(&mut self, tx: &Transaction<'_>) -> Result<()> {
        let p = std::mem::take(&mut self.pending);
        let desk_id = self.desk.desk_id.as_str();
        if !p.numbers.is_empty() {
            let (mut n, mut d, mut s, mut m, mut o, mut sl, mut rk, mut rec) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for row in p.numbers {
                n.push(row.0);
                d.push(row.1);
                s.push(row.2);
                m.push(row.3);
                o.push(row.4);
                sl.push(row.5);
                rk.push(row.6);
                rec.push(row.7);
            }
            tx.execute(
                "INSERT INTO numbers (number, birth_date, sex, modulus11, origin, slot, rank, desk_id, record_id)
                 SELECT n, d, s, m, o, sl, rk, $9, rec
                 FROM unnest($1::text[], $2::date[], $3::text[], $4::bool[], $5::text[], $6::int4[], $7::int4[], $8::text[])
                      AS t(n, d, s, m, o, sl, rk, rec)",
                &[&n, &d, &s, &m, &o, &sl, &rk, &rec, &desk_id],
            )
            .await?;
        }
        if !p.linked.is_empty() {
            let (n, r): (Vec<String>, Vec<String>) = p.linked.into_iter().unzip();
            tx.execute(
                "UPDATE numbers SET record_id = u.r FROM unnest($1::bpchar[], $2::text[]) AS u(n, r)
                 WHERE numbers.number = u.n",
                &[&n, &r],
            )
            .await?;
        }
        if !p.records.is_empty() {
            let (mut id, mut num, mut mu, mut dk, mut pk, mut c, mut h) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for row in p.records {
                id.push(row.0);
                num.push(row.1);
                mu.push(row.2);
                dk.push(row.3);
                pk.push(row.4);
                c.push(row.5);
                h.push(row.6);
            }
            tx.execute(
                "INSERT INTO records (record_id, desk_id, number, municipality, document_key, person_key, content, content_hash)
                 SELECT id, $8, num, mu, dk, pk, c, h
                 FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::jsonb[], $7::text[])
                      WITH ORDINALITY AS t(id, num, mu, dk, pk, c, h, o)
                 ORDER BY o",
                &[&id, &num, &mu, &dk, &pk, &c, &h, &desk_id],
            )
            .await?;
        }
        if !p.feed.is_empty() {
            let (mut id, mut kind, mut payload) = (vec![], vec![], vec![]);
            for (i, k, v) in p.feed {
                id.push(i);
                kind.push(k);
                payload.push(v);
            }
            tx.execute(
                "INSERT INTO feed (record_id, kind, payload)
                 SELECT id, k, v FROM unnest($1::text[], $2::text[], $3::jsonb[]) WITH ORDINALITY AS t(id, k, v, o)
                 ORDER BY o",
                &[&id, &kind, &payload],
            )
            .await?;
        }
        if !p.events.is_empty() {
            let (mut key, mut kind, mut rec, mut hash, mut body) = (vec![], vec![], vec![], vec![], vec![]);
            for (k, kd, r, h, b) in p.events {
                key.push(k);
                kind.push(kd);
                rec.push(r);
                hash.push(h);
                body.push(b);
            }
            tx.execute(
                "INSERT INTO events (desk_id, idempotency_key, kind, record_id, content_hash, body)
                 SELECT $6, k, kd, r, h, b
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS t(k, kd, r, h, b, o)
                 ORDER BY o",
                &[&key, &kind, &rec, &hash, &body, &desk_id],
            )
            .await?;
        }
        if !p.conflicts.is_empty() {
            let (mut key, mut reason, mut body, mut hash) = (vec![], vec![], vec![], vec![]);
            for (k, r, b, h) in p.conflicts {
                key.push(k);
                reason.push(r);
                body.push(b);
                hash.push(h);
            }
            tx.execute(
                "INSERT INTO conflicts (desk_id, idempotency_key, reason, body, content_hash)
                 SELECT $5, k, r, b, h FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[])
                      WITH ORDINALITY AS t(k, r, b, h, o)
                 ORDER BY o",
                &[&key, &reason, &body, &hash, &desk_id],
            )
            .await?;
        }
        if !p.notices.is_empty() {
            let (mut d, mut k, mut r, mut or, mut od, mut om) = (vec![], vec![], vec![], vec![], vec![], vec![]);
            for n in p.notices {
                d.push(n.desk_id);
                k.push(n.kind);
                r.push(n.record_id);
                or.push(n.other_record_id);
                od.push(n.other_desk_id);
                om.push(n.other_municipality);
            }
            tx.execute(
                "INSERT INTO notices (desk_id, kind, record_id, other_record_id, other_desk_id, other_municipality)
                 SELECT d, k, r, o_r, o_d, o_m
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[])
                      WITH ORDINALITY AS t(d, k, r, o_r, o_d, o_m, o)
                 ORDER BY o",
                &[&d, &k, &r, &or, &od, &om],
            )
            .await?;
        }
        if let Some((seq, hash)) = p.audit_head {
            tx.execute(
                "INSERT INTO audit_heads (desk_id, seq, hash) VALUES ($1, $2, $3)
                 ON CONFLICT (desk_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
                &[&desk_id, &seq, &hash],
            )
            .await?;
        }
        Ok(())
    }
}

/// Ends a downstream refusal (a reprint or a login answered it); the desk
/// learns it from the moved `state_seq`.
async fn clear_refusal(tx: &Transaction<'_>, record_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE records SET refused_downstream_by = NULL, refused_downstream_reason = NULL,
                            refused_downstream_at = NULL, state_seq = nextval('registry_seq')
         WHERE record_id = $1 AND refused_downstream_by IS NOT NULL",
        &[&record_id],
    )
    .await?;
    Ok(())
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
        "number_not_held",
        "record_not_held",
        "replaced_by",
        "login_missing",
        "login_mismatch",
        "audit_hash",
        "audit_gap",
        "audit_chain",
    ];
    let code = CODES.iter().copied().find(|c| *c == code).unwrap_or("unknown");
    if tag == "conflict" {
        conflict(code)
    } else {
        invalid(code)
    }
}

#[cfg(test)]
mod tests {
    use super::same_but_login;
    use serde_json::json;

    fn issued(username: Option<&str>, number: &str) -> serde_json::Value {
        let mut payload = json!({ "record_id": "D1-1", "number": number, "password_hash": "$argon2id$h" });
        if let Some(u) = username {
            payload["jobnet_username"] = json!(u);
        }
        json!({ "kind": "issued", "payload": payload })
    }

    #[test]
    fn a_resend_that_only_fills_an_empty_or_absent_login_is_the_same_event() {
        assert!(same_but_login(&issued(Some(""), "010190-4001"), &issued(Some("ab3c"), "010190-4001")));
        assert!(same_but_login(&issued(None, "010190-4001"), &issued(Some("ab3c"), "010190-4001")));
    }

    #[test]
    fn a_resend_that_changes_a_login_or_anything_else_is_not() {
        assert!(!same_but_login(&issued(Some("zz9z"), "010190-4001"), &issued(Some("ab3c"), "010190-4001")));
        assert!(!same_but_login(&issued(Some(""), "010190-4001"), &issued(Some("ab3c"), "010190-4003")));
        let mut other_kind = issued(Some("ab3c"), "010190-4001");
        other_kind["kind"] = json!("reprinted");
        assert!(!same_but_login(&issued(Some(""), "010190-4001"), &other_kind));
    }
}
