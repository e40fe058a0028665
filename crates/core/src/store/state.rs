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
    /// The highest `registry_sequence` any answer carried.
    pub const REGISTRY_SEQUENCE: &str = "registry_sequence";
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

/// Remembers what an answer said about the registry's clock and sequence:
/// only ever forward (an older answer arriving late changes nothing).
pub(crate) fn note_registry(
    conn: &Connection,
    registry_time: DateTime<Utc>,
    registry_sequence: i64,
) -> Result<(), StoreError> {
    let time = later(get_time(conn, key::REGISTRY_TIME)?, registry_time);
    set(conn, key::REGISTRY_TIME, &time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))?;
    if registry_sequence > get_i64(conn, key::REGISTRY_SEQUENCE)? {
        set(conn, key::REGISTRY_SEQUENCE, &registry_sequence.to_string())?;
    }
    Ok(())
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
