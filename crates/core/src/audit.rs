//! The audit log (revisionsspor): one event per act, append-only, each event
//! chained to the one before by SHA-256.
//!
//! An event says who (a staff ID, never a name), what (an action code), when,
//! and which record (an ID). Its hash covers the previous hash and all its
//! fields, so editing, inserting or deleting a row breaks the chain at that
//! row; deleting the newest rows is caught by the rollback guard in the key
//! store. The first event chains to a genesis hash derived from the desk ID.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::keystore::to_hex;
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

/// The hash the first event chains to.
pub fn genesis_hash(desk_id: &str) -> String {
    to_hex(&Sha256::digest(format!("skranke-audit-genesis\n{desk_id}").as_bytes()))
}

#[derive(Serialize)]
struct Hashed<'a> {
    prev: &'a str,
    seq: i64,
    at: &'a str,
    staff_id: Option<i64>,
    action: &'a str,
    record_id: Option<&'a str>,
    detail: Option<&'a str>,
}

fn event_hash(h: &Hashed<'_>) -> String {
    // JSON keeps field boundaries unambiguous; serialising plain strings and
    // integers cannot fail.
    let bytes = serde_json::to_vec(h).unwrap_or_default();
    to_hex(&Sha256::digest(&bytes))
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
    let at = timestamp(event.at);
    let hash = event_hash(&Hashed {
        prev: &prev.hash,
        seq,
        at: &at,
        staff_id: event.staff_id,
        action: &event.action,
        record_id: event.record_id.as_deref(),
        detail: event.detail.as_deref(),
    });
    conn.prepare_cached(
        "INSERT INTO audit (seq, at, staff_id, action, record_id, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute((seq, &at, event.staff_id, &event.action, &event.record_id, &event.detail, &prev.hash, &hash))?;
    Ok(AuditHead { seq, hash })
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
    let mut stmt =
        conn.prepare("SELECT seq, at, staff_id, action, record_id, detail, prev_hash, hash FROM audit ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    let mut prev = genesis_hash(desk_id);
    let mut expected = 1i64;
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let at: String = r.get(1)?;
        let staff_id: Option<i64> = r.get(2)?;
        let action: String = r.get(3)?;
        let record_id: Option<String> = r.get(4)?;
        let detail: Option<String> = r.get(5)?;
        let prev_hash: String = r.get(6)?;
        let hash: String = r.get(7)?;
        if seq != expected {
            return Ok(Verification::Broken { seq: expected, reason: Break::Missing });
        }
        if prev_hash != prev {
            return Ok(Verification::Broken { seq, reason: Break::Link });
        }
        let recomputed = event_hash(&Hashed {
            prev: &prev_hash,
            seq,
            at: &at,
            staff_id,
            action: &action,
            record_id: record_id.as_deref(),
            detail: detail.as_deref(),
        });
        if recomputed != hash {
            return Ok(Verification::Broken { seq, reason: Break::Content });
        }
        prev = hash;
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
}
