//! `POST /v1/events`: a batch of immutable events from a desk's outbox.
//!
//! The batch runs in one transaction, under a per-desk lock so that the
//! desk's audit chain advances in order. Each event gets its own verdict:
//! `accepted`, `already_held` (same key, same content hash), `conflict`
//! (same key, record or number with other content; the event is kept in
//! `conflicts` and both desks get a notice) or `invalid` (refused with a
//! reason, also kept). Nothing a desk sends is dropped, and a retry of the
//! same event gets the same verdict.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::NaiveDate;
use deadpool_postgres::Transaction;
use serde_json::Value;
use skranke_core::cpr::Personnummer;
use skranke_core::lease::LeaseUnit;
use skranke_core::protocol::{
    audit_genesis, AuditEntry, Event, EventBody, EventResult, IssuedRecord, NumberSource, Outcome, UploadRequest,
    UploadResponse, MAX_BATCH_EVENTS,
};

use super::{check_key, reconciling, stored, JsonBody};
use crate::auth::Desk;
use crate::error::{RegistryError, Result};
use crate::AppState;

pub async fn upload(
    State(state): State<AppState>,
    Extension(desk): Extension<Desk>,
    JsonBody(req): JsonBody<UploadRequest>,
) -> Result<Json<UploadResponse>> {
    if req.events.len() > MAX_BATCH_EVENTS {
        return Err(RegistryError::refused(StatusCode::PAYLOAD_TOO_LARGE, "upload.batch_too_large"));
    }
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7003, hashtext($1))", &[&desk.desk_id]).await?;
    let ctx = Ctx { desk: &desk, reconciling: reconciling(&tx).await?, today: state.now().date_naive(), state: &state };
    let mut results = Vec::with_capacity(req.events.len());
    for event in &req.events {
        let (outcome, reason) = ctx.process(&tx, event).await?;
        results.push(EventResult {
            idempotency_key: event.idempotency_key.clone(),
            outcome,
            reason: reason.map(str::to_string),
        });
    }
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

struct Ctx<'a> {
    desk: &'a Desk,
    reconciling: bool,
    today: NaiveDate,
    state: &'a AppState,
}

impl Ctx<'_> {
    async fn process(&self, tx: &Transaction<'_>, event: &Event) -> Result<Verdict> {
        if check_key(&event.idempotency_key).is_err() {
            return Ok(invalid("idempotency_key"));
        }
        let key = event.idempotency_key.as_str();
        let hash = event.body.content_hash();
        let seen =
            tx.prepare_cached("SELECT content_hash FROM events WHERE desk_id = $1 AND idempotency_key = $2").await?;
        if let Some(row) = tx.query_opt(&seen, &[&self.desk.desk_id, &key]).await? {
            let held: String = row.get(0);
            if held == hash {
                return Ok((Outcome::AlreadyHeld, None));
            }
            // The desk sent other content under a key it used before: its
            // history forked (restored from a backup, or cloned). It is told.
            let kind = if matches!(event.body, EventBody::Audit(_)) { "audit_chain" } else { "event_conflict" };
            self.notify(tx, kind, event.body.record_id(), None, None).await?;
            return self.keep(tx, event, &hash, conflict("idempotency_key")).await;
        }
        // A verdict given before to exactly this event is given again.
        let kept = tx
            .prepare_cached(
                "SELECT reason FROM conflicts WHERE desk_id = $1 AND idempotency_key = $2 AND content_hash = $3 LIMIT 1",
            )
            .await?;
        if let Some(row) = tx.query_opt(&kept, &[&self.desk.desk_id, &key, &hash]).await? {
            return Ok(verdict_from_kept(row.get(0)));
        }
        if hash != event.content_hash {
            return self.keep(tx, event, &hash, invalid("content_hash")).await;
        }
        let verdict = match &event.body {
            EventBody::Issued(r) => self.issued(tx, r, &hash).await?,
            EventBody::Reprinted(r) => {
                let patch = serde_json::json!({ "password_hash": r.password_hash });
                self.amend(tx, &r.record_id, "reprinted", &event.body, Some(patch), None).await?
            }
            EventBody::Voided(v) => {
                if let Some(survivor) = &v.replaced_by {
                    if tx.query_opt("SELECT 1 FROM records WHERE record_id = $1", &[survivor]).await?.is_none() {
                        return self.keep(tx, event, &hash, invalid("replaced_by")).await;
                    }
                }
                self.amend(tx, &v.record_id, "voided", &event.body, None, Some(v.replaced_by.as_deref())).await?
            }
            EventBody::Erased(e) => {
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
            EventBody::Audit(a) => self.audit(tx, a).await?,
        };
        match verdict.0 {
            Outcome::Accepted | Outcome::AlreadyHeld => {
                let body = serde_json::to_value(&event.body).unwrap_or_default();
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO events (desk_id, idempotency_key, kind, record_id, content_hash, body)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .await?;
                tx.execute(
                    &insert,
                    &[&self.desk.desk_id, &key, &event.body.kind(), &event.body.record_id(), &hash, &body],
                )
                .await?;
                Ok(verdict)
            }
            // A gap closes once the earlier entries arrive: not remembered.
            Outcome::Invalid if verdict.1 == Some("audit_gap") => Ok(verdict),
            Outcome::Conflict | Outcome::Invalid => self.keep(tx, event, &hash, verdict).await,
        }
    }

    /// Keeps a conflicting or refused event, so that nothing is lost and a
    /// supervisor can decide.
    async fn keep(&self, tx: &Transaction<'_>, event: &Event, hash: &str, verdict: Verdict) -> Result<Verdict> {
        let tag = match verdict.0 {
            Outcome::Conflict => "conflict",
            _ => "invalid",
        };
        let reason = format!("{tag}:{}", verdict.1.unwrap_or("unknown"));
        let body = serde_json::to_value(&event.body).unwrap_or_default();
        tx.execute(
            "INSERT INTO conflicts (desk_id, idempotency_key, reason, body, content_hash) VALUES ($1, $2, $3, $4, $5)",
            &[&self.desk.desk_id, &event.idempotency_key, &reason, &body, &hash],
        )
        .await?;
        Ok(verdict)
    }

    async fn issued(&self, tx: &Transaction<'_>, r: &IssuedRecord, hash: &str) -> Result<Verdict> {
        let desk_id = self.desk.desk_id.as_str();
        if !r.record_id.strip_prefix(desk_id).is_some_and(|rest| rest.starts_with('-')) {
            return Ok(invalid("record_id"));
        }
        let Ok(number) = Personnummer::parse(&r.number, self.today) else {
            return Ok(invalid("number"));
        };
        if number.birth_date() != r.person.birth_date || number.sex() != r.person.sex {
            return Ok(invalid("number_mismatch"));
        }
        if !self.state.block.contains(&number) {
            return Ok(invalid("number_outside_block"));
        }
        let held = tx.prepare_cached("SELECT content_hash FROM records WHERE record_id = $1").await?;
        if let Some(row) = tx.query_opt(&held, &[&r.record_id]).await? {
            let held: String = row.get(0);
            if held == hash {
                return Ok((Outcome::AlreadyHeld, None));
            }
            let other: Option<String> = Some(r.record_id.clone());
            self.notify(tx, "record_conflict", Some(&r.record_id), other.as_deref(), Some(desk_id)).await?;
            return Ok(conflict("record_conflict"));
        }

        let digits = stored(&number);
        let unit = LeaseUnit::containing(&number);
        let slot = i32::from(number.slot().value());
        let rank = unit.map(|u| i32::from(u.rank));
        let unit_holder = match unit {
            Some(u) => {
                let q = tx.prepare_cached("SELECT desk_id, retired FROM units WHERE slot = $1 AND rank = $2").await?;
                tx.query_opt(&q, &[&slot, &i32::from(u.rank)]).await?.map(|row| {
                    let holder: Option<String> = row.get(0);
                    let retired: bool = row.get(1);
                    (holder, retired)
                })
            }
            None => None,
        };
        let numbers_row = tx.prepare_cached("SELECT origin, desk_id, record_id FROM numbers WHERE number = $1").await?;
        let existing = tx.query_opt(&numbers_row, &[&digits]).await?.map(|row| {
            let origin: String = row.get(0);
            let holder: Option<String> = row.get(1);
            let record: Option<String> = row.get(2);
            (origin, holder, record)
        });

        match (r.source, existing) {
            // Already used by another record: the number is seen twice.
            (_, Some((_, holder, Some(other)))) => {
                if holder.as_deref() != Some(desk_id) && !self.holds_unit(&unit_holder) {
                    return Ok(invalid("number_not_held"));
                }
                self.notify(tx, "number_conflict", Some(&r.record_id), Some(&other), holder.as_deref()).await?;
                return Ok(conflict("number_conflict"));
            }
            // Allocated online to this desk and not yet used: this is it.
            (NumberSource::Online, Some((origin, Some(holder), None))) if origin == "online" && holder == desk_id => {
                tx.execute("UPDATE numbers SET record_id = $2 WHERE number = $1", &[&digits, &r.record_id]).await?;
            }
            (NumberSource::Online, Some(_)) => return Ok(invalid("number_not_held")),
            (NumberSource::Online, None) => {
                // Only after a restore may the registry re-learn an online
                // allocation it lost, and only outside other desks' units.
                let free = unit_holder.as_ref().is_none_or(|(holder, retired)| holder.is_none() && !retired);
                if !(self.reconciling && free) {
                    return Ok(invalid("number_not_held"));
                }
                self.insert_number(tx, &number, "online", slot, rank, &r.record_id).await?;
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
                }
                if existing.is_some() {
                    // An imported or online number inside this desk's unit.
                    self.notify(tx, "number_conflict", Some(&r.record_id), None, None).await?;
                    return Ok(conflict("number_conflict"));
                }
                self.insert_number(tx, &number, "lease", slot, rank, &r.record_id).await?;
            }
        }

        let content = serde_json::to_value(r).unwrap_or_default();
        let insert = tx
            .prepare_cached(
                "INSERT INTO records (record_id, desk_id, number, municipality, document_key, person_key, content, content_hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await?;
        tx.execute(
            &insert,
            &[
                &r.record_id,
                &desk_id,
                &digits,
                &i32::from(r.municipality),
                &r.document_key,
                &r.person_key,
                &content,
                &hash,
            ],
        )
        .await?;
        self.feed(tx, &r.record_id, "issued", &content).await?;
        self.find_duplicates(tx, r).await?;
        Ok(ACCEPTED)
    }

    fn holds_unit(&self, unit_holder: &Option<(Option<String>, bool)>) -> bool {
        matches!(unit_holder, Some((Some(holder), _)) if holder == &self.desk.desk_id)
    }

    async fn insert_number(
        &self,
        tx: &Transaction<'_>,
        number: &Personnummer,
        origin: &str,
        slot: i32,
        rank: Option<i32>,
        record_id: &str,
    ) -> Result<()> {
        let q = tx
            .prepare_cached(
                "INSERT INTO numbers (number, birth_date, sex, modulus11, origin, slot, rank, desk_id, record_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .await?;
        tx.execute(
            &q,
            &[
                &stored(number),
                &number.birth_date(),
                &number.sex().code(),
                &number.passes_modulus11(),
                &origin,
                &slot,
                &rank,
                &self.desk.desk_id,
                &record_id,
            ],
        )
        .await?;
        Ok(())
    }

    /// Same document elsewhere: a duplicate; same birth date, nationality
    /// and Latin name: a review. Both desks are told.
    async fn find_duplicates(&self, tx: &Transaction<'_>, r: &IssuedRecord) -> Result<()> {
        let q = tx
            .prepare_cached(
                "SELECT r.record_id, r.desk_id, d.municipality, r.document_key = $2
                 FROM records r JOIN desks d USING (desk_id)
                 WHERE (r.document_key = $2 OR r.person_key = $3) AND r.state <> 'voided' AND r.record_id <> $1",
            )
            .await?;
        for row in tx.query(&q, &[&r.record_id, &r.document_key, &r.person_key]).await? {
            let (other, other_desk, other_municipality, same_document): (String, String, i32, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            let kind = if same_document { "duplicate_document" } else { "duplicate_review" };
            self.notice(
                tx,
                &self.desk.desk_id,
                kind,
                Some(&r.record_id),
                Some(&other),
                Some(&other_desk),
                Some(other_municipality),
            )
            .await?;
            self.notice(
                tx,
                &other_desk,
                kind,
                Some(&other),
                Some(&r.record_id),
                Some(&self.desk.desk_id),
                Some(i32::from(self.desk.municipality)),
            )
            .await?;
        }
        Ok(())
    }

    /// A notice to this desk and, when another desk is involved, to it too.
    async fn notify(
        &self,
        tx: &Transaction<'_>,
        kind: &str,
        record_id: Option<&str>,
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
        self.notice(tx, &self.desk.desk_id, kind, record_id, other_record_id, other_desk, other_municipality).await?;
        if let Some(other) = other_desk.filter(|d| *d != self.desk.desk_id) {
            self.notice(
                tx,
                other,
                kind,
                other_record_id,
                record_id,
                Some(&self.desk.desk_id),
                Some(i32::from(self.desk.municipality)),
            )
            .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn notice(
        &self,
        tx: &Transaction<'_>,
        desk_id: &str,
        kind: &str,
        record_id: Option<&str>,
        other_record_id: Option<&str>,
        other_desk: Option<&str>,
        other_municipality: Option<i32>,
    ) -> Result<()> {
        tx.execute(
            "INSERT INTO notices (desk_id, kind, record_id, other_record_id, other_desk_id, other_municipality)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&desk_id, &kind, &record_id, &other_record_id, &other_desk, &other_municipality],
        )
        .await?;
        Ok(())
    }

    async fn feed(&self, tx: &Transaction<'_>, record_id: &str, kind: &str, payload: &Value) -> Result<()> {
        let q = tx.prepare_cached("INSERT INTO feed (record_id, kind, payload) VALUES ($1, $2, $3)").await?;
        tx.execute(&q, &[&record_id, &kind, payload]).await?;
        Ok(())
    }

    /// A later event about one of this desk's own records: reprint or void.
    async fn amend(
        &self,
        tx: &Transaction<'_>,
        record_id: &str,
        kind: &str,
        body: &EventBody,
        patch: Option<Value>,
        void: Option<Option<&str>>,
    ) -> Result<Verdict> {
        let own = tx
            .query_opt("SELECT 1 FROM records WHERE record_id = $1 AND desk_id = $2", &[&record_id, &self.desk.desk_id])
            .await?;
        if own.is_none() {
            return Ok(invalid("record_not_held"));
        }
        if let Some(patch) = patch {
            tx.execute("UPDATE records SET content = content || $2 WHERE record_id = $1", &[&record_id, &patch])
                .await?;
        }
        if let Some(replaced_by) = void {
            tx.execute(
                "UPDATE records SET state = 'voided', replaced_by = $2, state_seq = nextval('registry_seq')
                 WHERE record_id = $1",
                &[&record_id, &replaced_by],
            )
            .await?;
        }
        let payload = serde_json::to_value(body).unwrap_or_default();
        self.feed(tx, record_id, kind, &payload).await?;
        Ok(ACCEPTED)
    }

    /// The desk's audit chain must grow by exactly one well-formed link.
    async fn audit(&self, tx: &Transaction<'_>, a: &AuditEntry) -> Result<Verdict> {
        if a.hash != a.chain_hash() {
            return Ok(invalid("audit_hash"));
        }
        let head = tx.prepare_cached("SELECT seq, hash FROM audit_heads WHERE desk_id = $1").await?;
        let (seq, hash): (i64, String) = tx
            .query_opt(&head, &[&self.desk.desk_id])
            .await?
            .map(|r| (r.get(0), r.get(1)))
            .unwrap_or_else(|| (0, audit_genesis(&self.desk.desk_id)));
        let Ok(entry_seq) = i64::try_from(a.seq) else { return Ok(invalid("audit_gap")) };
        if entry_seq > seq + 1 {
            return Ok(invalid("audit_gap"));
        }
        if entry_seq <= seq || a.prev_hash != hash {
            // Another entry at a position already filled, or a link that does
            // not follow: the desk's history forked (restored or cloned).
            self.notify(tx, "audit_chain", None, None, None).await?;
            return Ok(conflict("audit_chain"));
        }
        let advance = tx
            .prepare_cached(
                "INSERT INTO audit_heads (desk_id, seq, hash) VALUES ($1, $2, $3)
                 ON CONFLICT (desk_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
            )
            .await?;
        tx.execute(&advance, &[&self.desk.desk_id, &entry_seq, &a.hash]).await?;
        Ok(ACCEPTED)
    }
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
