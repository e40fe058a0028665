//! The desk database's migrations, oldest first. Migration `i` (0-based)
//! brings `PRAGMA user_version` from `i` to `i + 1`; a migration is never
//! edited once released, only followed by a new one.

use super::outbox;
use crate::protocol::{EventBody, LoginAmendment};

/// Version 1: desk identity, staff, lease units, records, audit chain, outbox.
const V1: &str = r#"
-- The desk itself: one row. `lease_frozen` is set for good by the rollback guard.
CREATE TABLE desk (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    desk_id       TEXT NOT NULL,
    municipality  TEXT NOT NULL,
    office        TEXT NOT NULL,
    desk_number   INTEGER NOT NULL,
    training      INTEGER NOT NULL CHECK (training IN (0, 1)),
    created_at    TEXT NOT NULL,
    lease_frozen  INTEGER NOT NULL DEFAULT 0 CHECK (lease_frozen IN (0, 1)),
    frozen_reason TEXT,
    frozen_at     TEXT
) STRICT;

-- Desk settings (indstillinger): plain key/value, no secrets.
CREATE TABLE setting (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Staff accounts. The audit log names staff by `id` only.
CREATE TABLE staff (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'supervisor', 'admin')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL
) STRICT;

-- The lease units this desk holds, used in `position` order. A frozen unit
-- is never issued from again (rollback guard).
CREATE TABLE lease_unit (
    slot       INTEGER NOT NULL CHECK (slot BETWEEN 0 AND 999),
    rank       INTEGER NOT NULL CHECK (rank BETWEEN 0 AND 3),
    position   INTEGER NOT NULL UNIQUE,
    source     TEXT NOT NULL CHECK (source IN ('training', 'registry')),
    granted_at TEXT NOT NULL,
    frozen     INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1)),
    PRIMARY KEY (slot, rank)
) STRICT;

-- Numbers inside this desk's units that were used elsewhere (the registry
-- reports them at sync): never issued here.
CREATE TABLE number_taken (
    number TEXT PRIMARY KEY,
    noted_at TEXT NOT NULL
) STRICT;

-- Issued records. The number is unique and the row is never deleted, so a
-- number is never reused, not even after a void. `applicant` holds the
-- personal data (JSON) and may be erased later; the duplicate keys are
-- HMAC-SHA256 under the desk's duplicate key.
CREATE TABLE record (
    id           TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL UNIQUE,
    number       TEXT NOT NULL UNIQUE CHECK (length(number) = 10),
    birth_date   TEXT NOT NULL,
    sex          TEXT NOT NULL CHECK (sex IN ('F', 'M')),
    training     INTEGER NOT NULL CHECK (training IN (0, 1)),
    source       TEXT NOT NULL CHECK (source IN ('lease', 'online')),
    status       TEXT NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'voided')),
    issued_at    TEXT NOT NULL,
    issued_by    INTEGER NOT NULL REFERENCES staff(id),
    applicant    TEXT,
    document_key TEXT NOT NULL,
    person_key   TEXT NOT NULL,
    void_reason  TEXT,
    voided_at    TEXT,
    voided_by    INTEGER REFERENCES staff(id),
    replaced_by  TEXT
) STRICT;
CREATE INDEX record_document_key ON record (document_key) WHERE status = 'issued';
CREATE INDEX record_person_key ON record (person_key) WHERE status = 'issued';
CREATE INDEX record_birth_date ON record (birth_date);

-- The audit log (revisionsspor): append-only and hash-chained.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    staff_id  INTEGER,
    action    TEXT NOT NULL,
    record_id TEXT,
    detail    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

-- Events waiting for the registry, each with its own idempotency key and
-- content hash. The sync client marks them sent.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    record_id       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    content_hash    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
) STRICT;
"#;

/// Version 2: Jobnet logins (username per record, Argon2id hashes with the
/// superseded ones kept) and the desk's login number that usernames start with.
const V2: &str = r#"
-- The number usernames are built from (see core::handout): set once. A
-- training desk draws it at random from the upper half (2^31 and up); an
-- enrolled desk gets it from the registry (below 2^31). Training desks made
-- before this version draw theirs here.
ALTER TABLE desk ADD COLUMN login_number INTEGER CHECK (login_number BETWEEN 0 AND 4294967295);
UPDATE desk SET login_number = 2147483648 + (random() & 2147483647) WHERE training = 1 AND login_number IS NULL;

-- One Jobnet login per record. The username is unique across all desks by
-- construction (login number + record sequence), and here by constraint.
CREATE TABLE login (
    record_id  TEXT PRIMARY KEY REFERENCES record(id),
    username   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

-- Every initial-password hash a login ever had. Exactly one is current
-- (superseded_at NULL); a reprint supersedes it and adds a new one. The
-- plain password is never stored. `delivery` and `delivered_at` say whether
-- the handout carrying this password was printed or saved: a current hash
-- without them means no one has seen the password, and the clerk reprints.
CREATE TABLE login_hash (
    id            INTEGER PRIMARY KEY,
    record_id     TEXT NOT NULL REFERENCES login(record_id),
    hash          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('issued', 'reprinted')),
    created_at    TEXT NOT NULL,
    created_by    INTEGER NOT NULL REFERENCES staff(id),
    superseded_at TEXT,
    delivery      TEXT CHECK (delivery IN ('print', 'pdf', 'failed')),
    delivered_at  TEXT
) STRICT;
CREATE UNIQUE INDEX login_hash_current ON login_hash (record_id) WHERE superseded_at IS NULL;
"#;

/// Version 3: what the sync client (`core::sync`) keeps between runs.
const V3: &str = r#"
-- Cursors and facts learnt from the registry (its URL, the highest time and
-- sequence it told, the last complete sync). No secrets: the signing key is
-- in the OS key store.
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- The registry's verdict on each outbox event, once it gave one.
ALTER TABLE outbox ADD COLUMN outcome TEXT;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- Events the registry refused (conflict or invalid) or that could not be
-- sent at all: the supervisor's list. Never deleted.
CREATE TABLE refused_event (
    idempotency_key TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    record_id       TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('conflict', 'invalid', 'unsendable')),
    reason          TEXT,
    refused_at      TEXT NOT NULL
) STRICT;

-- Notices from the registry (duplicates, conflicts, disputed units), by the
-- registry's notice ID.
CREATE TABLE sync_notice (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL,
    record_id          TEXT,
    other_record_id    TEXT,
    other_desk_id      TEXT,
    other_municipality INTEGER,
    created_at         TEXT NOT NULL,
    received_at        TEXT NOT NULL
) STRICT;

-- The record's state in the registry: NULL until it told (received,
-- registered, voided).
ALTER TABLE record ADD COLUMN registry_state TEXT;
"#;

/// Version 4: the sync client looks for rows the registry has not answered
/// (`outcome IS NULL`, which also covers rows that could not be sent), so the
/// partial index is on that.
const V4: &str = r#"
DROP INDEX outbox_unsent;
CREATE INDEX outbox_unanswered ON outbox (seq) WHERE outcome IS NULL;
"#;

/// Version 5: the sign-in policy (see core::staff). Consecutive failed
/// sign-ins and the end of the lock they caused; whether the password was set
/// by an admin and must be changed before anything else; when it last changed.
const V5: &str = r#"
ALTER TABLE staff ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0 CHECK (failed_sign_ins >= 0);
ALTER TABLE staff ADD COLUMN locked_until TEXT;
ALTER TABLE staff ADD COLUMN must_change INTEGER NOT NULL DEFAULT 0 CHECK (must_change IN (0, 1));
ALTER TABLE staff ADD COLUMN password_changed_at TEXT;
"#;

/// Version 6: retention (`core::retention`).
const V6: &str = r#"
-- When the desk learnt at sync that the registry confirmed the record
-- (registry_state 'registered', or 'voided' for a void it took): the
-- retention period runs from here. Records confirmed before this version get
-- the time of the upgrade (the desk did not note it), which only ever keeps
-- their data longer.
ALTER TABLE record ADD COLUMN confirmed_at TEXT;
UPDATE record SET confirmed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
 WHERE registry_state IN ('registered', 'voided');

-- When the personal data (`applicant`, and its copy in the issued outbox
-- payload) was erased. Number, dates, status and the keyed duplicate hashes stay.
ALTER TABLE record ADD COLUMN erased_at TEXT;

-- The records retention still has to look at: only those not erased, so the
-- check at every open costs nothing once the old ones are erased.
CREATE INDEX record_retained ON record (issued_at) WHERE erased_at IS NULL;
"#;

/// Version 7: the name index of record search
/// (`core::query`). Each record has rows `seq * 4 + k` (k = 0, 1, 2: the
/// printed name, its Latin form, the document number, folded to lower-case
/// letters and digits; k = 3 empty, marking the record as indexed).
/// Trigrams make a part of a name a phrase query on the index (see
/// `core::query`), so a search by name reads a few index pages instead of
/// every record. The search fills it up to the
/// newest record; when a record's personal data changes or is erased, the
/// triggers take its rows out at once (and mark it to be indexed again if
/// data is left), whoever made the change.
const V7: &str = r#"
CREATE VIRTUAL TABLE record_search USING fts5(folded, tokenize = 'trigram');
CREATE TABLE record_search_stale (seq INTEGER PRIMARY KEY) STRICT;
CREATE TRIGGER record_search_applicant AFTER UPDATE OF applicant ON record
BEGIN
  DELETE FROM record_search WHERE rowid BETWEEN old.seq * 4 AND old.seq * 4 + 2;
  INSERT OR IGNORE INTO record_search_stale (seq) SELECT new.seq WHERE new.applicant IS NOT NULL;
END;
CREATE TRIGGER record_search_delete AFTER DELETE ON record
BEGIN
  DELETE FROM record_search WHERE rowid BETWEEN old.seq * 4 AND old.seq * 4 + 3;
  DELETE FROM record_search_stale WHERE seq = old.seq;
END;
"#;

/// Version 8: record search by issue date (`core::query`) reads the records
/// of that day through an index instead of every record.
const V8: &str = r#"
CREATE INDEX record_issued_at ON record (issued_at);
"#;

/// Version 9: what CPR or Jobnet refused (the registry tells at sync), and
/// the login backfill ([`backfill_logins`], run in Rust right after this SQL
/// in the same transaction).
const V9: &str = r#"
-- Set while CPR or Jobnet refuses the record: the system (cpr, jobnet), the
-- consumer's reason code and when; cleared when the registry says the
-- refusal no longer stands (a reprint or correction went down the feed).
ALTER TABLE record ADD COLUMN refused_downstream_by TEXT CHECK (refused_downstream_by IN ('cpr', 'jobnet'));
ALTER TABLE record ADD COLUMN refused_downstream_reason TEXT;
ALTER TABLE record ADD COLUMN refused_downstream_at TEXT;
"#;

/// Version 10: every outbox row holds the protocol's event body
/// ([`typed_outbox`], run in Rust right after this SQL in the same
/// transaction). No table changes: `payload` keeps its column, now with the
/// body's serde form, and `content_hash` becomes the wire's content hash.
const V10: &str = r#"
-- The outbox's payload is the protocol's event body from this version on (see typed_outbox).
SELECT 1;
"#;

/// Version 11: online allocations whose number the desk did not put on a
/// handout (the answer came too late, was not believed, or the issue
/// failed after it), kept until the next sync reports them so that the
/// registry frees the numbers again.
const V11: &str = r#"
CREATE TABLE unused_allocation (
    idempotency_key TEXT PRIMARY KEY,
    number          TEXT,
    noted_at        TEXT NOT NULL
);
"#;

/// Version 12: what the desk's municipality set at the registry, from the
/// signed sync answers; in force over the desk's own `setting` row, which
/// stays and is in force again when the municipality removes its value.
const V12: &str = r#"
CREATE TABLE municipality_setting (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    received_at TEXT NOT NULL
) STRICT;
"#;

/// Every migration, oldest first.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12];

/// The part of a migration that SQL cannot do, by the version it brings
/// the schema to; run in that migration's transaction, after its SQL.
pub(crate) fn rust_step(version: usize, tx: &rusqlite::Transaction<'_>) -> Result<(), super::StoreError> {
    match version {
        9 => backfill_logins(tx),
        10 => typed_outbox(tx),
        _ => Ok(()),
    }
}

/// Desks before version 9 wrote the login into the `issued` outbox payload
/// under `username`, which the wire did not read: the registry received
/// those records with an empty `jobnet_username`. For every such record the
/// registry has answered, this queues a `login_amended` event (its own kind
/// and key, `<record id>/login`, so it never conflicts with the original)
/// with the username and the current hash. Rows still unanswered need
/// nothing: the wire reads the old key too and sends them complete.
/// Training desks never sync and get nothing.
fn backfill_logins(tx: &rusqlite::Transaction<'_>) -> Result<(), super::StoreError> {
    let mut stmt = tx.prepare(
        "SELECT o.record_id, l.username, h.hash, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
         FROM outbox o
         JOIN desk d ON d.id = 1 AND d.training = 0
         JOIN login l ON l.record_id = o.record_id
         JOIN login_hash h ON h.record_id = o.record_id AND h.superseded_at IS NULL
         WHERE o.kind = 'issued' AND o.outcome IN ('accepted', 'already_held')
           AND coalesce(CASE WHEN json_valid(o.payload) THEN json_extract(o.payload, '$.jobnet_username') END, '') = ''
           AND NOT EXISTS (SELECT 1 FROM outbox a WHERE a.idempotency_key = o.record_id || '/login')
         ORDER BY o.seq",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    for (record_id, username, hash, at) in rows {
        let now = super::stored_time(&at).unwrap_or_else(chrono::Utc::now);
        let event = LoginAmendment {
            record_id: record_id.clone(),
            jobnet_username: username,
            password_hash: hash,
            amended_at: now,
        };
        outbox::queue_keyed(tx, &format!("{record_id}/login"), &EventBody::LoginAmended(event), now)?;
    }
    Ok(())
}

/// Rewrites the outbox rows of desks before version 10 into the protocol's
/// event body: those desks stored loose keys (`json!` assembled at each act)
/// and rebuilt the wire event from them at every upload.
///
/// A Rust step once, rather than a format version per row: with a version
/// the loose-key reader would stay in the upload path for good, and every
/// reader of the outbox (sync, retention, tests) would have to know both
/// forms. Each row is read with exactly the rule the upload used before
/// ([`legacy::wire_body`]), so a row sent before the upgrade but never
/// answered goes out with the same content hash and is `already_held`.
///
/// A row that rule cannot read stays as it was and the upload refuses it as
/// before (`payload_unreadable`, kept on the refused list): a row of a kind
/// no version knows, a damaged one, or the `issued` row of a record whose
/// personal data retention erased (the applicant, with the municipality of
/// stay, left the row; such a row was answered before it was erased, so it
/// is never sent again, and retention still strips it if it held any).
pub(crate) fn typed_outbox(tx: &rusqlite::Transaction<'_>) -> Result<(), super::StoreError> {
    let rows: Vec<(i64, String, String, String)> = tx
        .prepare("SELECT seq, kind, record_id, payload FROM outbox ORDER BY seq")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, kind, record_id, payload) in rows {
        if let Some(body) = legacy::wire_body(&kind, &payload).filter(|b| b.record_id() == Some(record_id.as_str())) {
            outbox::rewrite(tx, seq, &body)?;
        }
    }
    Ok(())
}

/// The outbox payloads of desks before version 10 and how the upload read
/// them then; used only by the upgrade ([`typed_outbox`]).
mod legacy {
    use chrono::{DateTime, NaiveDate, Utc};
    use serde_json::Value;

    use crate::applicant::Applicant;
    use crate::cpr::Personnummer;
    use crate::names::full_name;
    use crate::protocol::{
        DocumentSummary, Erasure, EventBody, IssuedRecord, LoginAmendment, NumberSource, PersonRecord, Reprint, Void,
    };

    fn time(v: &Value) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(v.as_str()?).ok().map(|t| t.with_timezone(&Utc))
    }

    fn text(v: &Value) -> Option<String> {
        v.as_str().map(str::to_string)
    }

    /// The login's username. Desks before version 9 wrote it under
    /// `username` (and sent an empty `jobnet_username`). Empty only for a
    /// record without a login.
    fn login_username(p: &Value) -> Option<String> {
        text(&p["jobnet_username"]).or_else(|| text(&p["username"])).filter(|u| !u.is_empty())
    }

    fn issued(p: &Value) -> Option<IssuedRecord> {
        let birth_date: NaiveDate = p["birth_date"].as_str()?.parse().ok()?;
        let serial: u16 = p["number"].as_str()?.get(6..10)?.parse().ok()?;
        let number = Personnummer::from_parts(birth_date, serial)?;
        let source = NumberSource::from_code(p["source"].as_str()?)?;
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

    fn reprint(p: &Value) -> Option<Reprint> {
        let mut r: Reprint = serde_json::from_value(p.clone()).ok()?;
        r.jobnet_username = login_username(p);
        Some(r)
    }

    /// The body the upload built from a stored row before version 10.
    pub(super) fn wire_body(kind: &str, payload: &str) -> Option<EventBody> {
        let p: Value = serde_json::from_str(payload).ok()?;
        Some(match kind {
            "issued" => EventBody::Issued(issued(&p)?),
            "voided" => EventBody::Voided(serde_json::from_value::<Void>(p).ok()?),
            "reprinted" => EventBody::Reprinted(reprint(&p)?),
            "erased" => EventBody::Erased(serde_json::from_value::<Erasure>(p).ok()?),
            "login_amended" => EventBody::LoginAmended(serde_json::from_value::<LoginAmendment>(p).ok()?),
            _ => return None,
        })
    }
}
