//! From the desk's outbox and audit log to the wire, and the registry's
//! verdicts back into the store.
//!
//! The outbox keeps each event as the desk wrote it at the act; the wire
//! form ([`protocol::Event`]) is derived from that stored payload alone, so
//! a retry after any interruption sends byte-for-byte the same content and
//! the registry answers `already_held`. The eligibility group, the document
//! number and the desk-local duplicate hashes never leave the desk.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;
use serde_json::Value;

use crate::applicant::Applicant;
use crate::cpr::Personnummer;
use crate::protocol::{
    AuditEntry, DocumentSummary, Erasure, Event, EventBody, EventResult, IssuedRecord, LoginAmendment, NumberSource,
    Outcome, PersonRecord, Reprint, Void,
};
use crate::store::{timestamp, StoreError};

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

fn time(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// A name as one line: given names, then the surname (or the single name).
fn full_name(given: &str, surname: &str) -> String {
    [given.trim(), surname.trim()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// The `issued` payload as the registry receives it.
fn issued(p: &Value) -> Option<IssuedRecord> {
    let birth_date: NaiveDate = p["birth_date"].as_str()?.parse().ok()?;
    let serial: u16 = p["number"].as_str()?.get(6..10)?.parse().ok()?;
    let number = Personnummer::from_parts(birth_date, serial)?;
    let source = match p["source"].as_str()? {
        "lease" => NumberSource::Lease,
        "online" => NumberSource::Online,
        _ => return None,
    };
    let intake = &p["applicant"];
    let applicant: Applicant = serde_json::from_value(intake["applicant"].clone()).ok()?;
    let document_kind = serde_json::to_value(applicant.document.kind).ok().and_then(|v| text(&v))?;
    let issuing_state = crate::country::alpha2_to_icao(&applicant.document.issuing_state)
        .map(str::to_string)
        .unwrap_or_else(|| applicant.document.issuing_state.clone());
    Some(IssuedRecord {
        record_id: text(&p["record_id"])?,
        number: number.to_string(),
        source,
        issued_at: time(&p["issued_at"])?,
        municipality: applicant.municipality_of_stay,
        person: PersonRecord {
            name_document: full_name(&applicant.given_names, &applicant.surname),
            name_latin: full_name(
                intake["given_names_latin"].as_str().unwrap_or(""),
                intake["surname_latin"].as_str().unwrap_or(""),
            ),
            birth_date,
            sex: applicant.sex,
            nationality: applicant.nationality.clone(),
            document: DocumentSummary {
                kind: document_kind,
                issuing_state,
                expiry_date: applicant.document.expiry_date,
            },
        },
        document_key: text(&p["registry_document_key"])?,
        person_key: text(&p["registry_person_key"])?,
        jobnet_username: login_username(p).unwrap_or_default(),
        password_hash: text(&p["password_hash"]).unwrap_or_default(),
    })
}

/// The login's username in a stored payload. Desks before the fix wrote it
/// under `username` (and sent an empty `jobnet_username`): a row of theirs
/// still waiting is sent complete. Empty only for a record without a login.
fn login_username(p: &Value) -> Option<String> {
    text(&p["jobnet_username"]).or_else(|| text(&p["username"])).filter(|u| !u.is_empty())
}

/// The `reprinted` payload as the registry receives it, with the login it
/// belongs to (read from the legacy key too).
fn reprint(p: &Value) -> Option<Reprint> {
    let mut r: Reprint = serde_json::from_value(p.clone()).ok()?;
    r.jobnet_username = login_username(p);
    Some(r)
}

/// The wire event for an outbox row, or the reason it cannot be sent (an
/// unreadable payload, a kind this version does not know). Deterministic:
/// the same row gives the same event, hence the same content hash.
pub(crate) fn wire_event(p: &Pending) -> Result<Event, &'static str> {
    let payload: Value = serde_json::from_str(&p.payload).map_err(|_| "payload_unreadable")?;
    let body = match p.kind.as_str() {
        "issued" => EventBody::Issued(issued(&payload).ok_or("payload_unreadable")?),
        "voided" => EventBody::Voided(serde_json::from_value::<Void>(payload).map_err(|_| "payload_unreadable")?),
        "reprinted" => EventBody::Reprinted(reprint(&payload).ok_or("payload_unreadable")?),
        "erased" => EventBody::Erased(serde_json::from_value::<Erasure>(payload).map_err(|_| "payload_unreadable")?),
        "login_amended" => EventBody::LoginAmended(
            serde_json::from_value::<LoginAmendment>(payload).map_err(|_| "payload_unreadable")?,
        ),
        _ => return Err("kind_unknown"),
    };
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
