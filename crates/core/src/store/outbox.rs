//! From the desk's outbox and audit log to the wire, and the registry's
//! verdicts back into the store.
//!
//! The outbox keeps each event as the protocol's body ([`EventBody`]),
//! serialised once by serde at the act ([`queue`]); the wire form
//! ([`Event`]) is that stored body parsed, so a retry after any
//! interruption sends the same content and the registry answers
//! `already_held`. The body holds nothing that must stay at the desk: the
//! eligibility group, the document number and the desk-local duplicate
//! hashes are in the record's row only. Rows written before schema version
//! 10 were rewritten into this form by that migration
//! (`store::schema::typed_outbox`).

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::Value;

use crate::protocol::{AuditEntry, Awaited, Event, EventBody, EventResult, Outcome};
use crate::store::{state, timestamp, StoreError};

/// One outbox row not yet answered by the registry.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub seq: i64,
    pub key: String,
    pub kind: String,
    pub record_id: String,
    pub payload: String,
}

/// The oldest unanswered outbox rows, at most `limit`.
pub(crate) fn unsent(conn: &Connection, limit: usize) -> Result<Vec<Pending>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, idempotency_key, kind, record_id, payload FROM outbox
         WHERE outcome IS NULL ORDER BY seq LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(Pending { seq: r.get(0)?, key: r.get(1)?, kind: r.get(2)?, record_id: r.get(3)?, payload: r.get(4)? })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The body as the outbox row keeps it: the event's own payload (the
/// `payload` of [`EventBody`]'s serde form), its kind in the row's `kind`.
fn stored_payload(body: &EventBody) -> Result<(String, String), StoreError> {
    let tagged = serde_json::to_value(body)
        .map_err(|e| StoreError::Database(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
    Ok((body.kind().to_string(), tagged["payload"].to_string()))
}

/// The body an outbox row holds, parsed back with [`EventBody`]'s own serde
/// form (so what was stored is what is read, field for field).
pub(crate) fn stored_body(kind: &str, payload: &str) -> Result<EventBody, serde_json::Error> {
    let payload: Value = serde_json::from_str(payload)?;
    serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
}

/// Queues an event of a record under an explicit idempotency key (a kind a
/// record can have more than once: a reprint, `<record_id>/reprinted/<n>`),
/// inside the caller's transaction. The body is serialised here, once; the
/// row's `content_hash` is the wire's ([`EventBody::content_hash`]).
pub(crate) fn queue_keyed(
    conn: &Connection,
    idempotency_key: &str,
    body: &EventBody,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let record_id = body.record_id().ok_or(StoreError::Database(rusqlite::Error::InvalidQuery))?;
    let (kind, payload) = stored_payload(body)?;
    conn.prepare_cached(
        "INSERT INTO outbox (idempotency_key, kind, record_id, payload, content_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((idempotency_key, &kind, record_id, &payload, body.content_hash(), timestamp(now)))?;
    Ok(())
}

/// Queues an event a record has once, under `<record_id>/<kind>`.
pub(crate) fn queue(conn: &Connection, body: &EventBody, now: DateTime<Utc>) -> Result<(), StoreError> {
    let key = format!("{}/{}", body.record_id().unwrap_or_default(), body.kind());
    queue_keyed(conn, &key, body, now)
}

/// Replaces the body of an outbox row (retention's erasure, the upgrade of
/// old rows), with its content hash.
pub(crate) fn rewrite(conn: &Connection, seq: i64, body: &EventBody) -> Result<(), StoreError> {
    let (_, payload) = stored_payload(body)?;
    conn.prepare_cached("UPDATE outbox SET payload = ?2, content_hash = ?3 WHERE seq = ?1")?.execute((
        seq,
        &payload,
        body.content_hash(),
    ))?;
    Ok(())
}

/// The wire event for an outbox row: the stored body parsed, nothing added
/// or rebuilt; or the reason it cannot be sent (an unreadable payload, a kind
/// this version does not know). Deterministic: the same row gives the same
/// event, hence the same content hash.
pub(crate) fn wire_event(p: &Pending) -> Result<Event, &'static str> {
    if !matches!(p.kind.as_str(), "issued" | "reprinted" | "voided" | "erased" | "login_amended") {
        return Err("kind_unknown");
    }
    let body = stored_body(&p.kind, &p.payload).map_err(|_| "payload_unreadable")?;
    if body.record_id() != Some(p.record_id.as_str()) {
        return Err("payload_unreadable");
    }
    Ok(Event::new(p.key.clone(), body))
}

/// The idempotency key of an audit entry on the wire.
pub(crate) fn audit_key(seq: u64) -> String {
    format!("audit/{seq}")
}

pub(crate) fn audit_event(entry: AuditEntry) -> Event {
    Event::new(audit_key(entry.seq), EventBody::Audit(entry))
}

/// Counts of verdicts, as `skranke sync` prints them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub uploaded: u64,
    pub accepted: u64,
    pub already_held: u64,
    pub conflict: u64,
    pub invalid: u64,
}

impl Tally {
    pub fn count(&mut self, outcome: Outcome) {
        self.uploaded += 1;
        match outcome {
            Outcome::Accepted => self.accepted += 1,
            Outcome::AlreadyHeld => self.already_held += 1,
            Outcome::Conflict => self.conflict += 1,
            Outcome::Invalid => self.invalid += 1,
        }
    }
}

pub(crate) fn outcome_code(o: Outcome) -> &'static str {
    match o {
        Outcome::Accepted => "accepted",
        Outcome::AlreadyHeld => "already_held",
        Outcome::Conflict => "conflict",
        Outcome::Invalid => "invalid",
    }
}

/// Keeps a refused event in the supervisor's list (once: a retry that gets
/// the same verdict adds nothing).
pub(crate) fn keep_refused(
    conn: &Connection,
    key: &str,
    kind: &str,
    record_id: Option<&str>,
    outcome: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO refused_event (idempotency_key, kind, record_id, outcome, reason, refused_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (idempotency_key) DO NOTHING",
    )?
    .execute((key, kind, record_id, outcome, reason, timestamp(now)))?;
    Ok(())
}

/// Applies the verdicts on a batch of outbox rows: every verdict marks the
/// row answered; `conflict` and `invalid` also go to the refused list.
pub(crate) fn apply_outbox_results(
    conn: &Connection,
    sent: &[Pending],
    results: &[EventResult],
    now: DateTime<Utc>,
    tally: &mut Tally,
) -> Result<(), StoreError> {
    let at = timestamp(now);
    // One statement for the whole batch: `[[seq, outcome], …]` as JSON.
    let marks: Vec<(i64, &str)> = sent.iter().zip(results).map(|(row, r)| (row.seq, outcome_code(r.outcome))).collect();
    let marks = serde_json::to_string(&marks).map_err(|_| StoreError::Database(rusqlite::Error::InvalidQuery))?;
    conn.prepare_cached(
        "UPDATE outbox SET sent_at = ?1, outcome = json_extract(j.value, '$[1]')
         FROM json_each(?2) AS j
         WHERE outbox.seq = json_extract(j.value, '$[0]') AND outbox.outcome IS NULL",
    )?
    .execute((&at, &marks))?;
    for (row, result) in sent.iter().zip(results) {
        if matches!(result.outcome, Outcome::Accepted | Outcome::AlreadyHeld) {
            // Sent again after a refusal (`mark_awaited`) and taken this
            // time: the registry holds it, so it leaves the refused list.
            conn.prepare_cached("DELETE FROM refused_event WHERE idempotency_key = ?1")?.execute([&row.key])?;
        }
        if matches!(result.outcome, Outcome::Conflict | Outcome::Invalid) {
            keep_refused(
                conn,
                &row.key,
                &row.kind,
                Some(&row.record_id),
                outcome_code(result.outcome),
                result.reason.as_deref(),
                now,
            )?;
        }
        tally.count(result.outcome);
    }
    Ok(())
}

/// An outbox row that cannot be put on the wire: kept visible, never sent.
pub(crate) fn mark_unsendable(
    conn: &Connection,
    row: &Pending,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE outbox SET outcome = 'unsendable' WHERE seq = ?1 AND outcome IS NULL")?
        .execute([row.seq])?;
    keep_refused(conn, &row.key, &row.kind, Some(&row.record_id), "unsendable", Some(reason), now)
}

/// What [`mark_awaited`] marked for sending again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Resend {
    /// Records the registry no longer held whose rows were marked.
    pub records: u64,
    /// Outbox rows marked unanswered.
    pub events: u64,
    /// Of those, `issued` rows the registry had refused (`number_not_held`).
    pub refused: u64,
    /// The audit cursor was moved back to this entry.
    pub audit_from: Option<i64>,
}

impl Resend {
    pub fn is_empty(&self) -> bool {
        self.events == 0 && self.audit_from.is_none()
    }

    /// The audit detail of `sync.resend`: counts only.
    pub fn detail(&self) -> String {
        let mut detail = format!("records:{} events:{}", self.records, self.events);
        if self.refused > 0 {
            detail.push_str(&format!(" refused:{}", self.refused));
        }
        if let Some(seq) = self.audit_from {
            detail.push_str(&format!(" audit_after:{seq}"));
        }
        detail
    }
}

/// After a restore the registry says what it no longer holds of this desk
/// ([`Awaited`]): the rows it had answered `accepted` or `already_held` for
/// the missing records become unanswered again, and every such row when
/// the registry holds fewer events than the desk still counts as held (an
/// event on a record it kept was lost too: `already_held` sorts it out);
/// the audit cursor goes back to the registry's last link.
///
/// While the registry `reconciling`, the `issued` rows of missing records
/// it had refused as `number_not_held` go again too: a restore the
/// registry could not prove at the time (other desks' uploads had moved its
/// sequence past this desk's receipts) loses the online allocation or the
/// unit binding such a record's number came from, and only a reconciling
/// registry re-learns them. Any other refusal, and every unsendable row,
/// stays on the supervisor's list as it is.
pub(crate) fn mark_awaited(conn: &Connection, awaited: &Awaited, reconciling: bool) -> Result<Resend, StoreError> {
    let ranges: Vec<[u64; 2]> = awaited.missing_records.iter().map(|r| [r.first, r.last]).collect();
    let ranges = serde_json::to_string(&ranges).map_err(|_| StoreError::Database(rusqlite::Error::InvalidQuery))?;
    let missing = "SELECT r.id FROM record r, json_each(?1) AS j
                   WHERE r.seq BETWEEN json_extract(j.value, '$[0]') AND json_extract(j.value, '$[1]')";
    let records: i64 = conn.query_row(
        &format!(
            "SELECT count(DISTINCT record_id) FROM outbox
             WHERE outcome IN ('accepted', 'already_held') AND record_id IN ({missing})"
        ),
        [&ranges],
        |r| r.get(0),
    )?;
    let mut events = conn.execute(
        &format!(
            "UPDATE outbox SET outcome = NULL, sent_at = NULL
             WHERE outcome IN ('accepted', 'already_held') AND record_id IN ({missing})"
        ),
        [&ranges],
    )?;
    let mut refused = 0;
    if reconciling {
        refused = conn.execute(
            &format!(
                "UPDATE outbox SET outcome = NULL, sent_at = NULL
                 WHERE outcome = 'invalid' AND kind = 'issued' AND record_id IN ({missing})
                   AND idempotency_key IN (SELECT idempotency_key FROM refused_event WHERE reason = 'number_not_held')"
            ),
            [&ranges],
        )?;
        events += refused;
    }
    let still_held: i64 =
        conn.query_row("SELECT count(*) FROM outbox WHERE outcome IN ('accepted', 'already_held')", [], |r| r.get(0))?;
    if u64::try_from(still_held).unwrap_or(0) > awaited.events_held {
        events += conn.execute(
            "UPDATE outbox SET outcome = NULL, sent_at = NULL WHERE outcome IN ('accepted', 'already_held')",
            [],
        )?;
    }
    let cursor = state::get_i64(conn, state::key::AUDIT_SENT)?;
    let audit_from = (awaited.audit_seq.max(0) < cursor).then_some(awaited.audit_seq.max(0));
    if let Some(seq) = audit_from {
        state::set(conn, state::key::AUDIT_SENT, &seq.to_string())?;
    }
    Ok(Resend {
        records: u64::try_from(records).unwrap_or(0) + refused as u64,
        events: events as u64,
        refused: refused as u64,
        audit_from,
    })
}
