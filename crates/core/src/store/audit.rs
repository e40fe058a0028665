//! The audit log (revisionsspor): one event per act, append-only, each event
//! chained to the one before by SHA-256.
//!
//! An event says who (a staff ID, never a name), what (an action code), when,
//! and which record (an ID). Its hash covers the previous hash and all its
//! fields, so editing, inserting or deleting a row breaks the chain at that
//! row; deleting the newest rows is caught by the rollback guard in the key
//! store. The first event chains to a genesis hash derived from the desk ID.
//!
//! The hash rule is the wire's: each row is a [`protocol::AuditEntry`] and
//! its hash is [`AuditEntry::chain_hash`], so the registry checks the very
//! chain the desk keeps when the sync client uploads it.

use chrono::{DateTime, Timelike, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::protocol::{self, AuditEntry};
use crate::store::{timestamp, Store, StoreError};

/// The newest event's sequence and hash (`seq` 0 and the genesis hash for an
/// empty log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// One audit event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// The staff member who acted; `None` for acts of the desk itself.
    pub staff_id: Option<i64>,
    /// A stable action code such as `record.issued`.
    pub action: String,
    pub record_id: Option<String>,
    /// Non-personal detail (a reason code, a role): never a name.
    pub detail: Option<String>,
}

impl Event {
    /// An act of the desk itself (no staff member).
    pub fn desk(action: &str, at: DateTime<Utc>) -> Event {
        Event { at, staff_id: None, action: action.to_string(), record_id: None, detail: None }
    }

    /// An act of a staff member.
    pub fn by(staff_id: i64, action: &str, at: DateTime<Utc>) -> Event {
        Event { staff_id: Some(staff_id), ..Event::desk(action, at) }
    }

    pub fn record(mut self, record_id: &str) -> Event {
        self.record_id = Some(record_id.to_string());
        self
    }

    pub fn detail(mut self, detail: &str) -> Event {
        self.detail = Some(detail.to_string());
        self
    }
}

/// The hash the first event chains to (the protocol's genesis for this desk).
pub fn genesis_hash(desk_id: &str) -> String {
    protocol::audit_genesis(desk_id)
}

/// `at` cut to whole milliseconds: the precision the store keeps, so that the
/// hash sealed at append is the hash recomputed from the stored row.
fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.nanosecond();
    at.with_nanosecond(nanos - nanos % 1_000_000).unwrap_or(at)
}

/// One stored row as the wire entry (whose `chain_hash` is the one rule).
fn entry_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(AuditEntry, String)> {
    let seq: i64 = r.get(0)?;
    let at: String = r.get(1)?;
    let entry = AuditEntry {
        seq: u64::try_from(seq).unwrap_or(0),
        // An unreadable time cannot hash to the stored hash: the check reports the row.
        at: DateTime::parse_from_rfc3339(&at).map(|t| t.with_timezone(&Utc)).unwrap_or_default(),
        staff_id: r.get(2)?,
        action: r.get(3)?,
        record_id: r.get(4)?,
        detail: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    };
    Ok((entry, at))
}

const ROW_COLUMNS: &str = "seq, at, staff_id, action, record_id, detail, prev_hash, hash";

/// The stored entries after `after_seq`, oldest first, at most `limit`: what
/// the sync client uploads.
pub fn entries_after(conn: &Connection, after_seq: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2"))?;
    let rows = stmt.query_map((after_seq, limit as i64), |r| entry_from_row(r).map(|(e, _)| e))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The newest event of the log.
pub fn head(conn: &Connection, desk_id: &str) -> Result<AuditHead, StoreError> {
    let row = conn
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok(AuditHead { seq: r.get(0)?, hash: r.get(1)? })
        })
        .optional()?;
    Ok(row.unwrap_or_else(|| AuditHead { seq: 0, hash: genesis_hash(desk_id) }))
}

/// The stored hash of event `seq`, if that event exists.
pub fn hash_at(conn: &Connection, seq: i64) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT hash FROM audit WHERE seq = ?1", [seq], |r| r.get(0)).optional()?)
}

/// Appends an event inside the caller's transaction and returns the new head.
pub fn append(conn: &Connection, desk_id: &str, event: &Event) -> Result<AuditHead, StoreError> {
    let prev = head(conn, desk_id)?;
    let seq = prev.seq + 1;
    let entry = AuditEntry {
        seq: u64::try_from(seq).unwrap_or(0),
        at: to_millis(event.at),
        staff_id: event.staff_id,
        action: event.action.clone(),
        record_id: event.record_id.clone(),
        detail: event.detail.clone(),
        prev_hash: prev.hash,
        hash: String::new(),
    }
    .sealed();
    conn.prepare_cached(
        "INSERT INTO audit (seq, at, staff_id, action, record_id, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute((
        seq,
        timestamp(entry.at),
        entry.staff_id,
        &entry.action,
        &entry.record_id,
        &entry.detail,
        &entry.prev_hash,
        &entry.hash,
    ))?;
    Ok(AuditHead { seq, hash: entry.hash })
}

/// How a link of the chain is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Break {
    /// The event is missing (a gap in the sequence, or the newest events are
    /// gone while the key store remembers them).
    Missing,
    /// The event does not point at the hash of the event before it.
    Link,
    /// The event's fields do not match its hash (the row was edited).
    Content,
}

impl Break {
    pub fn message_key(self) -> &'static str {
        match self {
            Break::Missing => "audit.break.missing",
            Break::Link => "audit.break.link",
            Break::Content => "audit.break.content",
        }
    }
}

/// The outcome of checking the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verification {
    Intact { events: i64, head: String },
    Broken { seq: i64, reason: Break },
}

/// Checks every event from the first, and names the first broken link.
pub fn verify(conn: &Connection, desk_id: &str) -> Result<Verification, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {ROW_COLUMNS} FROM audit ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut prev = genesis_hash(desk_id);
    let mut expected = 1i64;
    while let Some(r) = rows.next()? {
        let (entry, stored_at) = entry_from_row(r)?;
        let seq = i64::try_from(entry.seq).unwrap_or(0);
        if seq != expected {
            return Ok(Verification::Broken { seq: expected, reason: Break::Missing });
        }
        if entry.prev_hash != prev {
            return Ok(Verification::Broken { seq, reason: Break::Link });
        }
        // The stored time must be exactly the form the hash was sealed over.
        if entry.chain_hash() != entry.hash || timestamp(entry.at) != stored_at {
            return Ok(Verification::Broken { seq, reason: Break::Content });
        }
        prev = entry.hash;
        expected += 1;
    }
    Ok(Verification::Intact { events: expected - 1, head: prev })
}

impl Store {
    /// Checks the whole chain, and that it reaches at least as far as the
    /// key store's guard remembers (deleted newest events show up here).
    pub fn verify_audit(&self) -> Result<Verification, StoreError> {
        let outcome = verify(self.connection(), self.desk_id())?;
        if let Verification::Intact { events, .. } = &outcome {
            if let Some(guard) = self.stored_guard()? {
                if guard.counter > *events {
                    return Ok(Verification::Broken { seq: events + 1, reason: Break::Missing });
                }
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, staff_id INTEGER, action TEXT NOT NULL,
             record_id TEXT, detail TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);",
        )
        .unwrap();
        c
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    fn three(c: &Connection) {
        append(c, "D1", &Event::by(1, "record.issued", at(1)).record("D1-1")).unwrap();
        append(c, "D1", &Event::by(2, "record.voided", at(2)).record("D1-1").detail("x")).unwrap();
        append(c, "D1", &Event::desk("lease.frozen", at(3))).unwrap();
    }

    #[test]
    fn an_untouched_chain_verifies_and_its_head_is_the_last_hash() {
        let c = conn();
        assert_eq!(verify(&c, "D1").unwrap(), Verification::Intact { events: 0, head: genesis_hash("D1") });
        three(&c);
        let h = head(&c, "D1").unwrap();
        assert_eq!(verify(&c, "D1").unwrap(), Verification::Intact { events: 3, head: h.hash });
    }

    #[test]
    fn an_edited_field_breaks_the_chain_at_that_row() {
        let c = conn();
        three(&c);
        c.execute("UPDATE audit SET staff_id = 7 WHERE seq = 2", []).unwrap();
        assert_eq!(verify(&c, "D1").unwrap(), Verification::Broken { seq: 2, reason: Break::Content });
    }

    #[test]
    fn a_recomputed_hash_after_an_edit_breaks_the_next_link() {
        let c = conn();
        three(&c);
        c.execute("UPDATE audit SET hash = 'ff' WHERE seq = 1", []).unwrap();
        assert_eq!(verify(&c, "D1").unwrap(), Verification::Broken { seq: 1, reason: Break::Content });
    }

    #[test]
    fn a_deleted_middle_row_is_reported_missing() {
        let c = conn();
        three(&c);
        c.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
        assert_eq!(verify(&c, "D1").unwrap(), Verification::Broken { seq: 2, reason: Break::Missing });
    }

    #[test]
    fn a_chain_of_another_desk_does_not_verify() {
        let c = conn();
        three(&c);
        assert_eq!(verify(&c, "D2").unwrap(), Verification::Broken { seq: 1, reason: Break::Link });
    }

    #[test]
    fn stored_entries_are_wire_entries_whose_protocol_hash_is_the_stored_hash() {
        let c = conn();
        three(&c);
        let entries = entries_after(&c, 0, 10).unwrap();
        assert_eq!(entries.len(), 3);
        let mut prev = protocol::audit_genesis("D1");
        for e in &entries {
            assert_eq!(e.prev_hash, prev);
            assert_eq!(e.chain_hash(), e.hash);
            prev = e.hash.clone();
        }
        assert_eq!(entries[1].detail.as_deref(), Some("x"));
        assert_eq!(entries[1].staff_id, Some(2));
        assert_eq!(entries_after(&c, 2, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_time_with_nanoseconds_is_sealed_at_the_stored_millisecond_precision() {
        let c = conn();
        let at = DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap();
        append(&c, "D1", &Event::desk("desk.x", at)).unwrap();
        let stored: String = c.query_row("SELECT at FROM audit", [], |r| r.get(0)).unwrap();
        assert!(stored.ends_with(".123Z"), "{stored}");
        assert!(matches!(verify(&c, "D1").unwrap(), Verification::Intact { events: 1, .. }));
    }
}
