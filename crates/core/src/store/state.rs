//! What the sync client remembers in the desk's store between runs
//! (`sync_state`), and the lists it keeps for staff: refused events and the
//! registry's notices.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::store::StoreError;

/// Keys of `sync_state`.
pub(crate) mod key {
    /// The registry's base URL, set at enrolment.
    pub const REGISTRY_URL: &str = "registry_url";
    /// The latest `registry_time` any answer carried (RFC 3339).
    pub const REGISTRY_TIME: &str = "registry_time";
    /// The highest `registry_sequence` a signed answer carried (its receipt
    /// verified: desks enrolled before receipts may hold one without).
    pub const REGISTRY_SEQUENCE: &str = "registry_sequence";
    /// The registry's receipt for [`REGISTRY_SEQUENCE`]
    /// (`protocol::trust::receipt_message`, hex): what the desk presents to
    /// prove the registry went back, should it ever answer lower.
    pub const REGISTRY_RECEIPT: &str = "registry_receipt";
    /// Cursor of record states.
    pub const STATES_AFTER: &str = "states_after";
    /// Cursor of notices.
    pub const NOTICES_AFTER: &str = "notices_after";
    /// The highest audit sequence the registry gave a verdict on.
    pub const AUDIT_SENT: &str = "audit_sent_seq";
    /// The registry reported this desk's audit chain forked (restored or cloned).
    pub const AUDIT_FORKED: &str = "audit_forked";
    /// When the last sync finished with nothing left to send.
    pub const LAST_SUCCESS: &str = "last_success";
    /// The registry retired this desk.
    pub const RETIRED: &str = "retired";
    /// How many of the desk's records the registry holds.
    pub const RECORDS_HELD: &str = "records_held";
    /// The lowest desk version the deployment lets issue (`MAJOR.MINOR.PATCH`).
    pub const MINIMUM_VERSION: &str = "minimum_version";
}

pub(crate) fn get(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn.prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?)
}

pub(crate) fn set(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute((key, value))?;
    Ok(())
}

pub(crate) fn get_i64(conn: &Connection, key: &str) -> Result<i64, StoreError> {
    Ok(get(conn, key)?.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub(crate) fn get_time(conn: &Connection, key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(get(conn, key)?.and_then(|v| DateTime::parse_from_rfc3339(&v).ok()).map(|t| t.with_timezone(&Utc)))
}

pub(crate) fn get_flag(conn: &Connection, key: &str) -> Result<bool, StoreError> {
    Ok(get(conn, key)?.as_deref() == Some("true"))
}

pub(crate) fn unset(conn: &Connection, key: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM sync_state WHERE key = ?1")?.execute([key])?;
    Ok(())
}

/// What the desk has been told by answers it verified: the registry's latest
/// time, and its highest sequence with the receipt for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    pub time: Option<DateTime<Utc>>,
    pub sequence: i64,
    pub receipt: Option<String>,
}

impl Seen {
    /// The later of the two times.
    pub fn note_time(&mut self, time: DateTime<Utc>) {
        self.time = Some(later(self.time, time));
    }

    /// A sequence only moves forward, and its receipt with it; the same
    /// sequence with a receipt where there was none (a desk enrolled before
    /// receipts) gains the receipt.
    pub fn note_sequence(&mut self, sequence: i64, receipt: Option<&str>) {
        if sequence > self.sequence || (sequence == self.sequence && self.receipt.is_none() && receipt.is_some()) {
            self.sequence = sequence;
            self.receipt = receipt.map(str::to_string);
        }
    }

    /// Both, by the same rules.
    pub fn merge(&mut self, other: &Seen) {
        if let Some(t) = other.time {
            self.note_time(t);
        }
        self.note_sequence(other.sequence, other.receipt.as_deref());
    }
}

/// What the store remembers of the registry's answers.
pub(crate) fn seen(conn: &Connection) -> Result<Seen, StoreError> {
    Ok(Seen {
        time: get_time(conn, key::REGISTRY_TIME)?,
        sequence: get_i64(conn, key::REGISTRY_SEQUENCE)?,
        receipt: get(conn, key::REGISTRY_RECEIPT)?.filter(|r| !r.is_empty()),
    })
}

/// Remembers what verified answers said about the registry's clock and
/// sequence: only ever forward (an older answer arriving late changes
/// nothing), the receipt with its sequence.
pub(crate) fn note_seen(conn: &Connection, answered: &Seen) -> Result<(), StoreError> {
    let stored = seen(conn)?;
    let mut merged = stored.clone();
    merged.merge(answered);
    if merged.time != stored.time {
        if let Some(t) = merged.time {
            set(conn, key::REGISTRY_TIME, &t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))?;
        }
    }
    if (merged.sequence, &merged.receipt) != (stored.sequence, &stored.receipt) {
        replace_sequence(conn, merged.sequence, merged.receipt.as_deref())?;
    }
    Ok(())
}

/// Replaces the remembered sequence and receipt, lower or not: after the
/// registry refused the desk's claim (a sequence nobody signed proves
/// nothing, and keeping it would refuse every later answer).
pub(crate) fn replace_sequence(conn: &Connection, sequence: i64, receipt: Option<&str>) -> Result<(), StoreError> {
    set(conn, key::REGISTRY_SEQUENCE, &sequence.to_string())?;
    match receipt {
        Some(r) => set(conn, key::REGISTRY_RECEIPT, r),
        None => unset(conn, key::REGISTRY_RECEIPT),
    }
}

/// An event the registry refused, or that could not be sent: for a supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefusedEvent {
    pub idempotency_key: String,
    pub kind: String,
    pub record_id: Option<String>,
    /// `conflict`, `invalid` or `unsendable`; `refused_downstream` when CPR
    /// or Jobnet refused the record.
    pub outcome: String,
    /// The registry's reason code (`number_conflict`, `number_not_held`, …);
    /// for a downstream refusal `<system>:<code>` (`jobnet:username_taken`).
    pub reason: Option<String>,
    pub refused_at: String,
}

/// The supervisor's list: events the registry refused, and records CPR or
/// Jobnet refused downstream (outcome `refused_downstream`, reason
/// `<system>:<code>`, keyed by the record's `issued` event), oldest first.
pub(crate) fn refused(conn: &Connection) -> Result<Vec<RefusedEvent>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT idempotency_key, kind, record_id, outcome, reason, refused_at FROM refused_event
         UNION ALL
         SELECT id || '/issued', 'issued', id, 'refused_downstream',
                refused_downstream_by || ':' || refused_downstream_reason, refused_downstream_at
         FROM record WHERE refused_downstream_by IS NOT NULL
         ORDER BY 6, 1",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(RefusedEvent {
            idempotency_key: r.get(0)?,
            kind: r.get(1)?,
            record_id: r.get(2)?,
            outcome: r.get(3)?,
            reason: r.get(4)?,
            refused_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A notice from the registry: a duplicate person, a number or record seen
/// twice, a forked audit chain, a disputed unit. IDs and municipalities only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeskNotice {
    pub id: i64,
    pub kind: String,
    pub record_id: Option<String>,
    pub other_record_id: Option<String>,
    pub other_desk_id: Option<String>,
    pub other_municipality: Option<u16>,
    pub created_at: String,
}

pub(crate) fn notices(conn: &Connection) -> Result<Vec<DeskNotice>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, record_id, other_record_id, other_desk_id, other_municipality, created_at
         FROM sync_notice ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DeskNotice {
            id: r.get(0)?,
            kind: r.get(1)?,
            record_id: r.get(2)?,
            other_record_id: r.get(3)?,
            other_desk_id: r.get(4)?,
            other_municipality: r.get::<_, Option<i64>>(5)?.and_then(|m| u16::try_from(m).ok()),
            created_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The newer of two registry times (the desk keeps the latest it was told).
pub(crate) fn later(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.map_or(b, |a| a.max(b))
}
