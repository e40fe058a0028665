//! Retention (opbevaring og sletning): the desk erases a record's personal
//! data a set number of days after the registry confirmed the record.
//!
//! **When a record is confirmed.** The registry tells the desk each record's
//! state at sync (`core::sync`): `received`, then `registered` once CPR and
//! Jobnet confirmed it downstream, or `voided` once a void reached it. The
//! desk notes the moment it first learns `registered` or `voided`
//! (`record.confirmed_at`); the period runs from there. `received` alone is
//! not enough: until the record is registered, the registry may still come
//! back with a duplicate or a conflict that staff resolve with the
//! applicant's data at hand.
//!
//! **What is erased.** The `applicant` column (names, document, contact,
//! eligibility group) and the person in the typed body of the `issued`
//! outbox event (names, nationality, document, and the registry's unkeyed
//! duplicate forms: [`erase_person`]). What stays: the number, the dates,
//! the status, the login, and the duplicate keys as HMAC under the desk's own
//! key, so that the local duplicate check keeps working and a reprint can
//! check a presented document. Each erasure is one audit entry and one
//! `erased` outbox event, in the same transaction as the erasure itself.
//! The store runs with `secure_delete`, so the erased bytes are overwritten
//! in the pages, and a checkpoint afterwards takes the old page images out of
//! the WAL file.
//!
//! **What is never erased by the clock.** A record of an enrolled desk that
//! the registry has not confirmed N days after issue is *flagged* (in
//! [`PurgeReport::flagged`] and `skranke sync status`), never erased: its
//! data may be the only copy. Likewise a confirmed record with an outbox
//! event the registry has not answered yet waits for the next sync.
//!
//! **What is never erased at all until a supervisor acts.** A record on
//! the refused list (an event of it the registry refused or the desk could
//! not send, or CPR or Jobnet refused it) keeps its data whatever its
//! `registry_state` and `confirmed_at` say, and is flagged
//! ([`FlaggedRecord::refused`]): a desk copied from another reuses record
//! IDs, so a state the registry sends under the ID may be the other record's
//! (sync skips those, `core::sync`; a store from before that fix may hold
//! one), and the refused record itself never reached CPR.
//!
//! **Training desks** have no registry: their records are erased N days
//! after issue, and queue no `erased` event (a training desk never syncs).
//!
//! Erasure runs by itself whenever the store is opened ([`Store::open`]) and
//! after every sync run; `skranke purge` (supervisor) runs it at once and
//! shows what it did or, with `--dry-run`, would do.
//!
//! **Reprint after erasure.** The handout needs the applicant's name, which
//! the desk no longer has. The clerk presents the document again
//! ([`PresentedDocument`]): the desk checks its number (and issuing state)
//! against the record's keyed document hash and refuses a different
//! document naming the field; the names typed from that document go on the
//! letter and are not stored.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;
use serde::Serialize;

use crate::audit::{self, Event};
use crate::i18n::{self, Lang};
use crate::issue::keyed_hash;
use crate::keystore::KeyStore;
use crate::names;
use crate::protocol::{DocumentSummary, Erasure, EventBody, IssuedRecord};
use crate::staff::{self, Role, Session, StaffError};
use crate::store::outbox;
use crate::store::{stored_time, timestamp, Store, StoreError};
use crate::FieldError;

/// Days after the registry's confirmation (training: after issue) that
/// personal data stays on the desk. Not a setting yet: callers pass the days.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// The longest retention a caller may ask for (ten years), so the cut-off
/// date can always be computed.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Why a record's personal data is erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureBasis {
    /// The registry confirmed it (registered or voided) N days ago.
    Confirmed,
    /// A training record issued N days ago.
    Training,
}

/// A record whose personal data was (or, in a dry run, would be) erased.
/// IDs and dates only, never a name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErasedRecord {
    pub record_id: String,
    pub issued_at: String,
    /// When the desk learnt the registry's confirmation (`None` on training desks).
    pub confirmed_at: Option<String>,
    pub basis: ErasureBasis,
}

/// Why a record past the period keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagReason {
    /// The registry has not confirmed it (not registered, no void taken),
    /// or it refused the record ([`FlaggedRecord::refused`]).
    Unconfirmed,
    /// Confirmed, but an event of it waits for the registry's answer.
    EventsUnanswered,
}

/// A record issued more than N days ago whose data is kept: for a supervisor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlaggedRecord {
    pub record_id: String,
    pub issued_at: String,
    /// The registry's last word (`received`, …), `None` if it never answered.
    pub registry_state: Option<String>,
    pub reason: FlagReason,
    /// On the refused list (`skranke sync status`): kept until a supervisor
    /// resolved it, whatever the registry's state says.
    pub refused: bool,
}

/// What one retention run erased (or would erase) and flagged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    pub retention_days: u32,
    pub erased: Vec<ErasedRecord>,
    pub flagged: Vec<FlaggedRecord>,
}

/// The cut-off: data confirmed (or, on training desks, issued) at or before it is due.
fn cutoff(now: DateTime<Utc>, days: u32) -> String {
    timestamp(now - Duration::days(i64::from(days.min(MAX_RETENTION_DAYS))))
}

/// Finds what is due and what is flagged. Reads only records not erased yet
/// and issued before the cut-off (the partial index `record_retained`): a
/// record is confirmed after it is issued, so nothing younger can be due.
fn survey(
    conn: &Connection,
    now: DateTime<Utc>,
    days: u32,
) -> Result<(Vec<ErasedRecord>, Vec<FlaggedRecord>), StoreError> {
    let cut = cutoff(now, days);
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.issued_at, r.confirmed_at, r.registry_state, r.training,
                EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id AND o.outcome IS NULL),
                r.refused_downstream_by IS NOT NULL
                  OR EXISTS (SELECT 1 FROM refused_event e WHERE e.record_id = r.id)
         FROM record r
         WHERE r.erased_at IS NULL
           AND r.issued_at <= ?1
         ORDER BY r.seq",
    )?;
    let rows = stmt.query_map([&cut], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, bool>(4)?,
            r.get::<_, bool>(5)?,
            r.get::<_, bool>(6)?,
        ))
    })?;
    let (mut erased, mut flagged) = (Vec::new(), Vec::new());
    for row in rows {
        let (record_id, issued_at, confirmed_at, registry_state, training, unanswered, refused) = row?;
        let confirmed_due = confirmed_at.as_deref().is_some_and(|c| c <= cut.as_str());
        if training {
            if issued_at <= cut {
                erased.push(ErasedRecord { record_id, issued_at, confirmed_at: None, basis: ErasureBasis::Training });
            }
        } else if refused {
            // Not due, whatever the registry's state says (see the module
            // documentation): its data may be the only copy.
            flagged.push(FlaggedRecord {
                record_id,
                issued_at,
                registry_state,
                reason: FlagReason::Unconfirmed,
                refused,
            });
        } else if confirmed_due && !unanswered {
            erased.push(ErasedRecord { record_id, issued_at, confirmed_at, basis: ErasureBasis::Confirmed });
        } else if issued_at <= cut {
            // Confirmed recently (not due yet) is normal; only what is old *and* unsettled is flagged.
            let reason = match (confirmed_at.is_some(), unanswered) {
                (false, _) => Some(FlagReason::Unconfirmed),
                (true, true) if confirmed_due => Some(FlagReason::EventsUnanswered),
                _ => None,
            };
            if let Some(reason) = reason {
                flagged.push(FlaggedRecord { record_id, issued_at, registry_state, reason, refused: false });
            }
        }
    }
    Ok((erased, flagged))
}

/// Erases one record's personal data, with its audit entry and (enrolled
/// desks) its `erased` outbox event, inside the caller's transaction.
fn erase_one(
    conn: &Connection,
    desk_id: &str,
    record: &ErasedRecord,
    staff_id: Option<i64>,
    days: u32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let at = timestamp(now);
    conn.prepare_cached("UPDATE record SET applicant = NULL, erased_at = ?2 WHERE id = ?1 AND erased_at IS NULL")?
        .execute((&record.record_id, &at))?;
    erase_issued_event(conn, &record.record_id)?;
    let detail = format!("retention_days:{days}");
    let event = match staff_id {
        Some(id) => Event::by(id, "record.erased", now),
        None => Event::desk("record.erased", now),
    };
    audit::append(conn, desk_id, &event.record(&record.record_id).detail(&detail))?;
    if record.basis == ErasureBasis::Confirmed {
        let event = Erasure { record_id: record.record_id.clone(), erased_at: stored_time(&at).unwrap_or(now) };
        outbox::queue(conn, &EventBody::Erased(event), now)?;
    }
    Ok(())
}

/// The personal data of an `issued` event, blanked in its typed body: the
/// names, the nationality, the document and the registry's unkeyed
/// duplicate forms (a document number can be guessed back from an unkeyed
/// hash). Number, dates, sex, source and login stay.
pub(crate) fn erase_person(record: &mut IssuedRecord) {
    let person = &mut record.person;
    person.name_document.clear();
    person.name_latin.clear();
    person.nationality.clear();
    person.document = DocumentSummary { kind: String::new(), issuing_state: String::new(), expiry_date: None };
    record.document_key.clear();
    record.person_key.clear();
}

/// Erases the copy of the personal data in the record's `issued` outbox
/// row. The row is answered (or, on a training desk, never sent), so it is
/// not sent again.
fn erase_issued_event(conn: &Connection, record_id: &str) -> Result<(), StoreError> {
    let rows: Vec<(i64, String)> = conn
        .prepare_cached("SELECT seq, payload FROM outbox WHERE record_id = ?1 AND kind = 'issued'")?
        .query_map([record_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, payload) in rows {
        match outbox::stored_body("issued", &payload) {
            Ok(EventBody::Issued(mut issued)) => {
                erase_person(&mut issued);
                outbox::rewrite(conn, seq, &EventBody::Issued(issued))?;
            }
            // A row from before schema version 10 that the upgrade could not
            // read (`store::schema::typed_outbox`) loses what that version's
            // payload held: the applicant and the unkeyed duplicate forms.
            _ => {
                conn.prepare_cached(
                    "UPDATE outbox SET payload = json_remove(payload, '$.applicant', '$.registry_document_key',
                                                            '$.registry_person_key')
                     WHERE seq = ?1 AND json_valid(payload)",
                )?
                .execute([seq])?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Opens the desk in `dir`: reads `desk.json`, takes the keys from the key
    /// store, opens and migrates the database, applies the rollback guard, and
    /// erases the personal data retention says is due (`core::retention`), so
    /// that no shell can forget it.
    pub fn open(dir: &Path, keystore: Box<dyn KeyStore>, now: DateTime<Utc>) -> Result<Store, StoreError> {
        let mut store = Store::open_without_retention(dir, keystore, now)?;
        store.erase_due(now, DEFAULT_RETENTION_DAYS)?;
        Ok(store)
    }

    /// Erases what is due, as the desk itself (no staff member): what
    /// [`Store::open`] and a sync run call. One transaction for all due
    /// records; nothing is written when nothing is due.
    pub fn erase_due(&mut self, now: DateTime<Utc>, days: u32) -> Result<PurgeReport, StoreError> {
        self.run_retention(None, now, days, false, |_| Ok::<(), StoreError>(()))
    }

    /// `skranke purge`: erases what is due now (supervisor), or with
    /// `dry_run` only reports what would be erased and flagged.
    pub fn purge(
        &mut self,
        session: &Session,
        now: DateTime<Utc>,
        days: u32,
        dry_run: bool,
    ) -> Result<PurgeReport, StaffError> {
        self.read(|tx, _| staff::authorize(tx, session, Role::Supervisor, "purge"))?;
        let authorize = |tx: &Connection| staff::authorize(tx, session, Role::Supervisor, "purge");
        Ok(self.run_retention(Some(session), now, days, dry_run, authorize)?)
    }

    /// The records past the period that keep their data (for `sync status`).
    pub fn retention_flags(&mut self, now: DateTime<Utc>, days: u32) -> Result<Vec<FlaggedRecord>, StoreError> {
        Ok(self.read(|tx, _| survey(tx, now, days))?.1)
    }

    /// `authorize` checks, inside the erasing act, that whoever runs it may.
    fn run_retention<E: From<StoreError>>(
        &mut self,
        session: Option<&Session>,
        now: DateTime<Utc>,
        days: u32,
        dry_run: bool,
        authorize: impl FnOnce(&Connection) -> Result<(), E>,
    ) -> Result<PurgeReport, E> {
        let (due, flagged) = self.read(|tx, _| survey(tx, now, days))?;
        let days = days.min(MAX_RETENTION_DAYS);
        if dry_run || due.is_empty() {
            return Ok(PurgeReport { dry_run, retention_days: days, erased: due, flagged });
        }
        let erased = self.act::<_, E>(|tx, ctx| {
            authorize(tx)?;
            // Surveyed again under the write lock: another process may have erased meanwhile.
            let (due, _) = survey(tx, now, days)?;
            for record in &due {
                erase_one(tx, &ctx.desk_id, record, session.map(Session::staff_id), days, now)?;
            }
            Ok(due)
        })?;
        // The old page images (with the names) leave the WAL file. Best effort:
        // another connection reading keeps it from completing; the next checkpoint does it.
        let _ = self.connection().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(PurgeReport { dry_run, retention_days: days, erased, flagged })
    }
}

/// The identity document shown again for a reprint after erasure, and the
/// names as that document prints them (for the letter only, never stored).
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct PresentedDocument {
    /// The document number as printed (spaces and case do not matter).
    pub number: String,
    /// ISO alpha-2 of the issuing state; when not given, every state is tried
    /// (the number is what identifies the document).
    #[serde(default)]
    pub issuing_state: Option<String>,
    pub surname: String,
    #[serde(default)]
    pub given_names: String,
}

impl std::fmt::Debug for PresentedDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedDocument { .. }")
    }
}

/// The name for the letter from a presented document that matched.
pub(crate) struct PresentedName {
    pub given_names: String,
    pub surname: String,
}

impl std::fmt::Debug for PresentedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedName { .. }")
    }
}

fn problem(lang: Lang, field: &str, code: &str) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        message: i18n::render(lang, &format!("retention.error.{code}"), &[("field", field)]),
    }
}

/// Checks a presented document against a record's keyed document hash
/// (`document_key`, see `core::issue`) and the names for the letter.
/// Every problem names its field; a different document is
/// `document.number` / `document_mismatch`.
pub(crate) fn check_presented(
    duplicate_key: &[u8],
    stored_document_key: &str,
    presented: &PresentedDocument,
    lang: Lang,
) -> Result<PresentedName, Vec<FieldError>> {
    let mut errors = Vec::new();
    // Normalised as intake does (core::applicant): no spaces, upper case.
    let number: String = presented.number.chars().filter(|&c| c != ' ').collect::<String>().to_ascii_uppercase();
    if number.is_empty() {
        errors.push(problem(lang, "document.number", "document_number_empty"));
    }
    let state = presented.issuing_state.as_deref().map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty());
    if let Some(s) = &state {
        if !crate::country::is_alpha2(s) {
            errors.push(problem(lang, "document.issuing_state", "issuing_state_unknown"));
        }
    }
    let mut name = |field: &str, input: &str| match names::normalise(input).and_then(|n| names::to_latin(&n).map(|_| n))
    {
        Ok(n) => Some(n),
        Err(p) => {
            let max = names::MAX_NAME_CHARS.to_string();
            let character = p.character().unwrap_or_default();
            errors.push(FieldError {
                field: field.into(),
                code: p.code().into(),
                message: i18n::render(
                    lang,
                    &format!("applicant.error.{}", p.code()),
                    &[("max", &max), ("character", &character)],
                ),
            });
            None
        }
    };
    let surname = name("surname", &presented.surname);
    let given_names = name("given_names", &presented.given_names);
    if surname.as_deref() == Some("") {
        errors.push(problem(lang, "surname", "surname_empty"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let matches =
        |state: &str| keyed_hash(duplicate_key, "document", &format!("{state}|{number}")) == stored_document_key;
    let found = match &state {
        Some(s) => matches(s),
        None => all_alpha2().any(|s| matches(&s)),
    };
    if !found {
        return Err(vec![problem(lang, "document.number", "document_mismatch")]);
    }
    Ok(PresentedName { given_names: given_names.unwrap_or_default(), surname: surname.unwrap_or_default() })
}

/// Every ISO alpha-2 code the intake accepts as an issuing state.
fn all_alpha2() -> impl Iterator<Item = String> {
    (b'A'..=b'Z')
        .flat_map(|a| (b'A'..=b'Z').map(move |b| String::from_utf8_lossy(&[a, b]).into_owned()))
        .filter(|s| crate::country::is_alpha2(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a desk's duplicate key";

    fn stored(state: &str, number: &str) -> String {
        keyed_hash(KEY, "document", &format!("{state}|{number}"))
    }

    fn presented(number: &str, state: Option<&str>) -> PresentedDocument {
        PresentedDocument {
            number: number.into(),
            issuing_state: state.map(String::from),
            surname: "Kowalski".into(),
            given_names: "Łukasz".into(),
        }
    }

    #[test]
    fn the_same_document_matches_with_or_without_its_state_and_in_any_spacing_or_case() {
        let key = stored("PL", "EA1234567");
        for p in
            [presented("EA1234567", Some("PL")), presented("ea 123 4567", None), presented("EA1234567", Some("pl"))]
        {
            let name = check_presented(KEY, &key, &p, Lang::En).unwrap();
            assert_eq!((name.given_names.as_str(), name.surname.as_str()), ("Łukasz", "Kowalski"));
        }
    }

    #[test]
    fn a_different_document_number_or_state_is_refused_naming_the_number_field() {
        let key = stored("PL", "EA1234567");
        for p in [presented("EA1234568", Some("PL")), presented("EA1234567", Some("DE")), presented("X1", None)] {
            let errors = check_presented(KEY, &key, &p, Lang::En).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("document.number", "document_mismatch"));
            assert!(errors[0].message.contains("document"), "{}", errors[0].message);
        }
    }

    #[test]
    fn an_empty_number_an_unknown_state_and_a_bad_name_are_each_named() {
        let key = stored("PL", "EA1234567");
        let mut p = presented(" ", Some("EL"));
        p.surname = "Kowal\u{202e}ski".into();
        let errors = check_presented(KEY, &key, &p, Lang::Da).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["document.number", "document.issuing_state", "surname"]);
        assert!(errors.iter().all(|e| !e.message.contains('{') && !e.message.starts_with("retention.")));
    }

    #[test]
    fn the_cutoff_is_n_days_before_now() {
        let now = DateTime::from_timestamp(1_795_000_000, 0).unwrap();
        assert_eq!(cutoff(now, 30), timestamp(now - Duration::days(30)));
        assert_eq!(cutoff(now, u32::MAX), timestamp(now - Duration::days(i64::from(MAX_RETENTION_DAYS))));
    }
}
