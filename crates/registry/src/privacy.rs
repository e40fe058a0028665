//! Personal data at the registry: retention, the data subject's access
//! right, and correction. Operator commands (`skranke-registry purge`,
//! `export-person`, `correct`), each recorded in `operator_log`; `serve`
//! runs the purge by itself once a day.
//!
//! What is personal here: the names, the nationality, the identity
//! document's summary (kind, issuing state, expiry) and the Jobnet password
//! hash, wherever a record's content was copied (`records.content`,
//! `events.body`, `conflicts.body`, `feed.payload`). What stays after the
//! retention period: the number, its dates and state, the record and desk
//! IDs, the username and the duplicate hashes (keyed under the registry's
//! duplicate secret, `crate::duplicates`: a dump alone cannot test a
//! guessed document number against them), so that a number is
//! still never issued twice and a returning applicant is still recognised.
//! The erasure itself is one SQL function (`skranke_erase_person`, migration
//! 0003), so every table forgets the same fields.

use chrono::{DateTime, Days, NaiveDate, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use serde_json::{json, Value};
use skranke_protocol::registry_duplicate_key;
use skranke_rules::cpr::Personnummer;

use crate::api::{from_stored, stored};
use crate::duplicates::DuplicateSecret;
use crate::error::{RegistryError, Result};
use crate::ops;
use axum::http::StatusCode;

/// Default retention of personal data after a record is registered.
pub const DEFAULT_RETAIN_DAYS: u32 = 365;

/// What a purge erased (or, dry, would erase).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PurgeSummary {
    /// Records registered (or voided) before the cutoff, now without personal data.
    pub records: u64,
    /// Conflicting or refused events older than the cutoff, likewise.
    pub conflicts: u64,
    /// Records still `received` (never confirmed downstream) older than the
    /// cutoff: kept, and counted so that an operator looks at them.
    pub unconfirmed: u64,
    pub cutoff: DateTime<Utc>,
    pub dry_run: bool,
}

/// The moment before which personal data is due for erasure.
pub fn cutoff(now: DateTime<Utc>, retain_days: u32) -> DateTime<Utc> {
    now.checked_sub_days(Days::new(u64::from(retain_days))).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Erases the personal data of every record registered more than
/// `retain_days` before `now` (voided ones: received before), and of kept
/// conflicting events received before then. Records never confirmed
/// downstream are kept and counted. `dry_run` counts only. Recorded in
/// `operator_log` either way.
pub async fn purge(
    pool: &Pool,
    operator: &str,
    retain_days: u32,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PurgeSummary> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let summary = purge_in(&tx, operator, retain_days, now, dry_run).await?;
    tx.commit().await?;
    Ok(summary)
}

/// Who the daily purge of `serve` is recorded as in `operator_log`.
pub const SCHEDULED_OPERATOR: &str = "skranke-registry serve";

/// The advisory lock the daily purge is taken under (the migrations take 7001).
const SCHEDULED_PURGE_LOCK: i64 = 7002;

/// What one instance's turn at the daily purge came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheduled {
    /// This instance purged.
    Ran(PurgeSummary),
    /// Another instance purged within the last 23 hours.
    NotDue,
    /// Another instance is purging right now.
    Busy,
}

/// The daily purge as `serve` runs it: once a day for the whole
/// deployment, however many instances share the database. Each instance
/// asks every hour; the one that gets the advisory lock first, and finds
/// no scheduled purge in `operator_log` within 23 hours (the database's
/// clock), purges and records it in the same transaction; the others are
/// told so and do nothing.
pub async fn scheduled_purge(pool: &Pool, retain_days: u32, now: DateTime<Utc>) -> Result<Scheduled> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let locked: bool = tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&SCHEDULED_PURGE_LOCK]).await?.get(0);
    if !locked {
        return Ok(Scheduled::Busy);
    }
    let recent: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM operator_log
                            WHERE action = 'purge' AND operator = $1 AND at > now() - interval '23 hours')",
            &[&SCHEDULED_OPERATOR],
        )
        .await?
        .get(0);
    if recent {
        return Ok(Scheduled::NotDue);
    }
    let summary = purge_in(&tx, SCHEDULED_OPERATOR, retain_days, now, false).await?;
    tx.commit().await?;
    Ok(Scheduled::Ran(summary))
}

/// The purge inside the caller's transaction, recorded in `operator_log`.
async fn purge_in(
    tx: &deadpool_postgres::Transaction<'_>,
    operator: &str,
    retain_days: u32,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PurgeSummary> {
    let cutoff = cutoff(now, retain_days);
    let due: Vec<String> = tx
        .query(
            "SELECT record_id FROM records
             WHERE personal_erased_at IS NULL
               AND ((state = 'registered' AND registered_at <= $1) OR (state = 'voided' AND received_at <= $1))
             ORDER BY record_id FOR UPDATE",
            &[&cutoff],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let conflicts: Vec<i64> = tx
        .query(
            "SELECT id FROM conflicts WHERE personal_erased_at IS NULL AND received_at <= $1 ORDER BY id FOR UPDATE",
            &[&cutoff],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let unconfirmed: i64 = tx
        .query_one("SELECT count(*) FROM records WHERE state = 'received' AND received_at <= $1", &[&cutoff])
        .await?
        .get(0);
    if !dry_run {
        tx.execute(
            "UPDATE records SET content = skranke_erase_person(content), personal_erased_at = $2
             WHERE record_id = ANY($1)",
            &[&due, &now],
        )
        .await?;
        tx.execute(
            "UPDATE events SET body = jsonb_set(body, '{payload}', skranke_erase_person(body->'payload'))
             WHERE record_id = ANY($1) AND body ? 'payload'",
            &[&due],
        )
        .await?;
        tx.execute(
            "UPDATE feed SET payload = CASE WHEN payload ? 'payload'
                 THEN jsonb_set(payload, '{payload}', skranke_erase_person(payload->'payload'))
                 ELSE skranke_erase_person(payload) END
             WHERE record_id = ANY($1)",
            &[&due],
        )
        .await?;
        tx.execute(
            "UPDATE conflicts SET body = jsonb_set(body, '{payload}', skranke_erase_person(body->'payload')),
                                  personal_erased_at = $2
             WHERE id = ANY($1) AND body ? 'payload'",
            &[&conflicts, &now],
        )
        .await?;
    }
    let summary = PurgeSummary {
        records: due.len() as u64,
        conflicts: conflicts.len() as u64,
        unconfirmed: u64::try_from(unconfirmed).unwrap_or_default(),
        cutoff,
        dry_run,
    };
    let mut detail = serde_json::to_value(&summary).unwrap_or_default();
    detail["retain_days"] = json!(retain_days);
    ops::record(tx, operator, "purge", detail).await?;
    Ok(summary)
}

/// Whom an export or a correction is about.
#[derive(Clone, Debug)]
pub enum Person {
    /// By personnummer.
    Number(Personnummer),
    /// By identity document: the registry holds only its keyed hash, made
    /// from the issuing state and the number as the desk normalises them,
    /// hashed as the desk sends it and keyed under the duplicate secret.
    Document { issuing_state: String, number: String },
}

impl Person {
    fn document_key(&self, secret: Option<&DuplicateSecret>) -> Result<Option<String>> {
        Ok(match self {
            Person::Number(_) => None,
            Person::Document { issuing_state, number } => {
                let number: String =
                    number.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
                let plain = format!("{}|{number}", issuing_state.trim().to_ascii_uppercase());
                let secret = secret.ok_or(RegistryError::Key { code: "duplicate_secret_missing", args: Vec::new() })?;
                Some(secret.key(&registry_duplicate_key("document", &plain)))
            }
        })
    }

    fn number(&self) -> Option<String> {
        match self {
            Person::Number(n) => Some(stored(n)),
            Person::Document { .. } => None,
        }
    }
}

/// Everything the registry holds about one person, as JSON: each record
/// (with its content, state and dates), the events received about it, its
/// feed items, the notices about it, how its number came to be used, and
/// conflicting events naming the number or the document. Recorded in
/// `operator_log` by record ID (never the number or the document). By
/// document it needs the duplicate `secret`.
pub async fn export_person(
    pool: &Pool,
    operator: &str,
    person: &Person,
    secret: Option<&DuplicateSecret>,
    now: DateTime<Utc>,
) -> Result<Value> {
    let document_key = person.document_key(secret)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let number = person.number();
    let rows = tx
        .query(
            "SELECT record_id, desk_id, number, municipality, state, received_at, registered_at, replaced_by,
                    erased_at, personal_erased_at, content, document_key, person_key
             FROM records WHERE number = $1 OR document_key = $2 ORDER BY received_at, record_id",
            &[&number, &document_key],
        )
        .await?;
    let mut records = Vec::new();
    let mut ids = Vec::new();
    for r in &rows {
        let record_id: String = r.get(0);
        let digits: String = r.get(2);
        let events: Vec<Value> = tx
            .query(
                "SELECT kind, received_at, body->'payload' FROM events WHERE record_id = $1 ORDER BY seq",
                &[&record_id],
            )
            .await?
            .iter()
            .map(|e| json!({ "kind": e.get::<_, String>(0), "received_at": e.get::<_, DateTime<Utc>>(1), "payload": e.get::<_, Option<Value>>(2) }))
            .collect();
        let feed: Vec<Value> = tx
            .query("SELECT seq, kind, created_at FROM feed WHERE record_id = $1 ORDER BY seq", &[&record_id])
            .await?
            .iter()
            .map(|f| json!({ "seq": f.get::<_, i64>(0), "kind": f.get::<_, String>(1), "created_at": f.get::<_, DateTime<Utc>>(2) }))
            .collect();
        let notices: Vec<Value> = tx
            .query(
                "SELECT kind, desk_id, other_desk_id, created_at FROM notices
                 WHERE record_id = $1 OR other_record_id = $1 ORDER BY id",
                &[&record_id],
            )
            .await?
            .iter()
            .map(|n| json!({ "kind": n.get::<_, String>(0), "desk_id": n.get::<_, String>(1), "other_desk_id": n.get::<_, Option<String>>(2), "created_at": n.get::<_, DateTime<Utc>>(3) }))
            .collect();
        let used = tx
            .query_opt("SELECT origin, desk_id, used_at FROM numbers WHERE number = $1", &[&digits])
            .await?
            .map(|n| json!({ "origin": n.get::<_, String>(0), "desk_id": n.get::<_, Option<String>>(1), "used_at": n.get::<_, DateTime<Utc>>(2) }));
        records.push(json!({
            "record_id": record_id,
            "desk_id": r.get::<_, String>(1),
            "number": from_stored(&digits).map(|n| n.to_string()).unwrap_or(digits.clone()),
            "municipality": r.get::<_, i32>(3),
            "state": r.get::<_, String>(4),
            "received_at": r.get::<_, DateTime<Utc>>(5),
            "registered_at": r.get::<_, Option<DateTime<Utc>>>(6),
            "replaced_by": r.get::<_, Option<String>>(7),
            "erased_at_desk": r.get::<_, Option<DateTime<Utc>>>(8),
            "personal_data_erased_at": r.get::<_, Option<DateTime<Utc>>>(9),
            "content": r.get::<_, Value>(10),
            "document_key": r.get::<_, String>(11),
            "person_key": r.get::<_, String>(12),
            "number_use": used,
            "events": events,
            "feed": feed,
            "notices": notices,
        }));
        ids.push(record_id);
    }
    let formatted = match person {
        Person::Number(n) => Some(n.to_string()),
        Person::Document { .. } => None,
    };
    let conflicts: Vec<Value> = tx
        .query(
            "SELECT desk_id, reason, received_at, body->'payload', personal_erased_at FROM conflicts
             WHERE body->'payload'->>'number' = $1 OR body->'payload'->>'document_key' = $2 ORDER BY id",
            &[&formatted, &document_key],
        )
        .await?
        .iter()
        .map(|c| {
            json!({
                "desk_id": c.get::<_, String>(0),
                "reason": c.get::<_, String>(1),
                "received_at": c.get::<_, DateTime<Utc>>(2),
                "payload": c.get::<_, Option<Value>>(3),
                "personal_data_erased_at": c.get::<_, Option<DateTime<Utc>>>(4),
            })
        })
        .collect();
    ops::record(&tx, operator, "export_person", json!({ "record_ids": ids, "conflicts": conflicts.len() })).await?;
    tx.commit().await?;
    Ok(json!({
        "exported_at": now,
        "exported_by": operator,
        "records": records,
        "conflicts": conflicts,
    }))
}

/// A field of a record's personal data an operator may correct.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    NameDocument,
    NameLatin,
    Nationality,
    DocumentKind,
    DocumentIssuingState,
    DocumentExpiryDate,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::NameDocument,
        Field::NameLatin,
        Field::Nationality,
        Field::DocumentKind,
        Field::DocumentIssuingState,
        Field::DocumentExpiryDate,
    ];

    /// The name operators type (`--field`), as in the record's JSON.
    pub fn name(self) -> &'static str {
        match self {
            Field::NameDocument => "name_document",
            Field::NameLatin => "name_latin",
            Field::Nationality => "nationality",
            Field::DocumentKind => "document.kind",
            Field::DocumentIssuingState => "document.issuing_state",
            Field::DocumentExpiryDate => "document.expiry_date",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    fn path(self) -> Vec<&'static str> {
        match self {
            Field::NameDocument => vec!["person", "name_document"],
            Field::NameLatin => vec!["person", "name_latin"],
            Field::Nationality => vec!["person", "nationality"],
            Field::DocumentKind => vec!["person", "document", "kind"],
            Field::DocumentIssuingState => vec!["person", "document", "issuing_state"],
            Field::DocumentExpiryDate => vec!["person", "document", "expiry_date"],
        }
    }

    /// The value as stored, or why not: the same rules as the desk's
    /// intake, so a corrected record reads like an issued one.
    pub fn check(self, value: &str) -> Result<Value> {
        let bad = || RegistryError::bad_field("value");
        let value = value.trim();
        match self {
            Field::NameDocument => {
                let name = skranke_rules::names::normalise(value).map_err(|_| bad())?;
                if name.is_empty() {
                    return Err(bad());
                }
                Ok(json!(name))
            }
            Field::NameLatin => {
                let name = skranke_rules::names::normalise(value).map_err(|_| bad())?;
                let latin = skranke_rules::names::to_latin(&name).map_err(|_| bad())?;
                if latin.is_empty() {
                    return Err(bad());
                }
                Ok(json!(latin))
            }
            Field::Nationality => {
                let code = value.to_ascii_uppercase();
                let ok =
                    skranke_rules::country::is_alpha2(&code) || skranke_rules::country::is_icao_non_nationality(&code);
                if !ok {
                    return Err(bad());
                }
                Ok(json!(code))
            }
            Field::DocumentKind => {
                let ok = (1..=40).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                if !ok {
                    return Err(bad());
                }
                Ok(json!(value))
            }
            Field::DocumentIssuingState => {
                let code = value.to_ascii_uppercase();
                let ok = skranke_rules::country::is_alpha2(&code)
                    || skranke_rules::country::icao_to_alpha2(&code).is_some()
                    || skranke_rules::country::is_icao_non_nationality(&code);
                if !ok {
                    return Err(bad());
                }
                Ok(json!(code))
            }
            Field::DocumentExpiryDate => {
                let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| bad())?;
                Ok(json!(date))
            }
        }
    }
}

/// What a correction changed: which record and field (never the values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Correction {
    pub record_id: String,
    pub field: &'static str,
}

/// Corrects one field of a record's personal data. The record is found by
/// its number (and `record_id` when the number names more than one). The
/// new content goes down the feed as a `corrected` item, so CPR and Jobnet
/// get it too; `operator_log` keeps the record, the field, the operator and
/// the reason, never the old or the new value. A record whose personal data
/// was already erased is refused. The duplicate keys stay as they were
/// received (the registry cannot remake them: it never sees the document
/// number).
#[allow(clippy::too_many_arguments)]
pub async fn correct(
    pool: &Pool,
    operator: &str,
    number: &Personnummer,
    record_id: Option<&str>,
    field: Field,
    value: &str,
    reason: &str,
) -> Result<Correction> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(RegistryError::bad_field("reason"));
    }
    let new = field.check(value)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT record_id, personal_erased_at IS NOT NULL FROM records
             WHERE number = $1 AND ($2::text IS NULL OR record_id = $2) FOR UPDATE",
            &[&stored(number), &record_id],
        )
        .await?;
    let (record_id, erased): (String, bool) = match rows.as_slice() {
        [] => return Err(RegistryError::refused(StatusCode::NOT_FOUND, "record.not_found")),
        [one] => (one.get(0), one.get(1)),
        _ => return Err(RegistryError::refused(StatusCode::CONFLICT, "record.ambiguous")),
    };
    if erased {
        return Err(RegistryError::refused(StatusCode::GONE, "record.erased"));
    }
    let path: Vec<&str> = field.path();
    tx.execute(
        "UPDATE records SET content = jsonb_set(content, $2::text[], $3, true) WHERE record_id = $1",
        &[&record_id, &path, &new],
    )
    .await?;
    tx.execute(
        "INSERT INTO feed (record_id, kind, payload)
         SELECT record_id, 'corrected', jsonb_build_object('record_id', record_id, 'person', content->'person')
         FROM records WHERE record_id = $1",
        &[&record_id],
    )
    .await?;
    ops::record(&tx, operator, "correct", json!({ "record_id": record_id, "field": field.name(), "reason": reason }))
        .await?;
    tx.commit().await?;
    Ok(Correction { record_id, field: field.name() })
}
