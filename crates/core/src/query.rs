//! Read-only queries the desk window needs beside the store's acts: the
//! duplicate check before issuing (so the clerk sees it while the applicant
//! is still at the counter), record search, and what waits in the outbox.
//! Nothing here writes; each query on people needs a signed-in clerk.

use chrono::NaiveDate;
use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::applicant::DuplicateKeys;
use crate::issue::{keyed_hash, RecordSummary};
use crate::staff::{self, Role, Session};
use crate::store::Store;
use crate::Error;

/// Which duplicate key matched an earlier record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateKind {
    /// The same identity document: the same person.
    Document,
    /// The same birth date, nationality and Latin name: a review.
    Person,
}

/// An issued (not voided) record of this desk that matches an applicant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateHit {
    pub kind: DuplicateKind,
    pub record_id: String,
}

/// A record found by search: the summary plus the name and document, when
/// the personal data is still held.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct RecordHit {
    #[serde(flatten)]
    pub summary: RecordSummary,
    /// The name as the document prints it, given names first.
    pub name: Option<String>,
    /// Issuing state and document number, e.g. `PL AB1234567`.
    pub document: Option<String>,
    /// Whether an outbox event of this record still waits to be sent.
    pub queued: bool,
}

impl std::fmt::Debug for RecordHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordHit").field("record_id", &self.summary.record_id).finish_non_exhaustive()
    }
}

/// What waits to go to the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxStatus {
    pub queued: i64,
    /// When the oldest unsent event was written (RFC 3339), if any.
    pub oldest_unsent: Option<String>,
}

/// Where a record stands with the registry, as the desk shows it: the one
/// answer to "has the registry got it?" for the record list and detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordSyncState {
    /// A training record: never leaves the desk.
    Training,
    /// The registry refused one of its events: a supervisor must look.
    Refused,
    /// An event of it still waits to be answered.
    Queued,
    /// The registry holds every event of it (modtaget).
    Accepted,
    /// Confirmed downstream in CPR and Jobnet (registreret).
    Registered,
}

impl RecordSyncState {
    /// The rule: a refusal outranks everything (it needs a person), then
    /// what still waits, then what the registry last said.
    pub fn of(training: bool, refused: bool, unanswered: bool, registry_state: Option<&str>) -> RecordSyncState {
        match (training, refused, unanswered, registry_state) {
            (true, ..) => RecordSyncState::Training,
            (_, true, ..) => RecordSyncState::Refused,
            (_, _, true, _) => RecordSyncState::Queued,
            (_, _, _, Some("registered")) => RecordSyncState::Registered,
            _ => RecordSyncState::Accepted,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            RecordSyncState::Training => "training",
            RecordSyncState::Refused => "refused",
            RecordSyncState::Queued => "queued",
            RecordSyncState::Accepted => "accepted",
            RecordSyncState::Registered => "registered",
        }
    }
}

/// A record's status and sync state, without personal data (desk-level).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordStanding {
    pub record_id: String,
    /// `issued` or `voided`.
    pub status: String,
    pub replaced_by: Option<String>,
    pub sync_state: RecordSyncState,
}

/// The most records a search returns (newest first).
pub const SEARCH_LIMIT: usize = 200;

/// Lower-case letters and digits only: "AB 123-45" and "ab12345" compare equal.
fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Whether a record matches a search: its ID, its number (with or without the
/// dash), its birth or issue date (YYYY-MM-DD or a prefix of it), a name
/// (printed or Latin form, any part), or its document number.
fn matches(query: &str, summary: &RecordSummary, texts: &[String]) -> bool {
    let q = query.trim();
    if q.is_empty() {
        return true;
    }
    let folded = fold(q);
    if folded.is_empty() {
        return false;
    }
    let looks_like_date = q.len() >= 4 && q.chars().all(|c| c.is_ascii_digit() || c == '-');
    if looks_like_date && (summary.birth_date.starts_with(q) || summary.issued_at.starts_with(q)) {
        return true;
    }
    if fold(&summary.record_id) == folded || fold(&summary.number) == folded {
        return true;
    }
    let words: Vec<String> = q.split_whitespace().map(fold).filter(|w| !w.is_empty()).collect();
    texts.iter().any(|t| {
        let t = fold(t);
        t == folded || (!words.is_empty() && words.iter().all(|w| t.contains(w.as_str())))
    })
}

fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(|v| v.as_str())
}

impl Store {
    /// The issued records of this desk that share a duplicate key with an
    /// applicant (clerk). Voided records do not count, as in issuing.
    pub fn find_duplicates(&mut self, session: &Session, keys: &DuplicateKeys) -> Result<Vec<DuplicateHit>, Error> {
        let (document, person) = {
            let key = &self.context().duplicate_key;
            (keyed_hash(key, "document", &keys.document), keyed_hash(key, "person", &keys.person))
        };
        Ok(self.read(|tx, _| {
            staff::authorize(tx, session, Role::Clerk, "see_records")?;
            let mut hits = Vec::new();
            for (kind, column, key) in
                [(DuplicateKind::Document, "document_key", &document), (DuplicateKind::Person, "person_key", &person)]
            {
                let sql =
                    format!("SELECT id FROM record WHERE {column} = ?1 AND status = 'issued' ORDER BY seq LIMIT 1");
                let found: Option<String> = tx.prepare_cached(&sql)?.query_row([key], |r| r.get(0)).optional()?;
                if let Some(record_id) = found {
                    if !hits.iter().any(|h: &DuplicateHit| h.record_id == record_id) {
                        hits.push(DuplicateHit { kind, record_id });
                    }
                }
            }
            Ok(hits)
        })?)
    }

    /// This desk's records that match `query` (see [`matches`]), newest
    /// first, at most [`SEARCH_LIMIT`] (clerk).
    pub fn search_records(&mut self, session: &Session, query: &str) -> Result<Vec<RecordHit>, Error> {
        let records = self.records(session)?;
        let mut hits = Vec::new();
        for summary in records {
            let (name, document, texts) = self.read(|tx, _| {
                let applicant: Option<String> = tx
                    .query_row("SELECT applicant FROM record WHERE id = ?1", [&summary.record_id], |r| r.get(0))
                    .optional()?
                    .flatten();
                let value: Option<serde_json::Value> = applicant.and_then(|a| serde_json::from_str(&a).ok());
                let Some(v) = value else { return Ok((None, None, Vec::new())) };
                let given = str_at(&v, &["applicant", "given_names"]).unwrap_or("");
                let surname = str_at(&v, &["applicant", "surname"]).unwrap_or("");
                let name = [given, surname].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
                let latin = format!(
                    "{} {}",
                    str_at(&v, &["given_names_latin"]).unwrap_or(""),
                    str_at(&v, &["surname_latin"]).unwrap_or("")
                );
                let number = str_at(&v, &["applicant", "document", "number"]).unwrap_or("");
                let state = str_at(&v, &["applicant", "document", "issuing_state"]).unwrap_or("");
                let document = format!("{state} {number}").trim().to_string();
                Ok((Some(name.clone()), Some(document), vec![name, latin, number.to_string()]))
            })?;
            if matches(query, &summary, &texts) {
                let queued = self.read(|tx, _| {
                    let n: i64 = tx.query_row(
                        "SELECT count(*) FROM outbox WHERE record_id = ?1 AND outcome IS NULL",
                        [&summary.record_id],
                        |r| r.get(0),
                    )?;
                    Ok(n > 0)
                })?;
                hits.push(RecordHit { summary, name, document, queued });
                if hits.len() >= SEARCH_LIMIT {
                    break;
                }
            }
        }
        Ok(hits)
    }

    /// A record's status and where it stands with the registry (desk-level:
    /// no personal data). `None` when this desk has no such record.
    pub fn record_standing(&mut self, record_id: &str) -> Result<Option<RecordStanding>, Error> {
        Ok(self.read(|tx, _| {
            let row: Option<(String, bool, Option<String>, Option<String>)> = tx
                .query_row(
                    "SELECT status, training, replaced_by, registry_state FROM record WHERE id = ?1",
                    [record_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((status, training, replaced_by, registry_state)) = row else { return Ok(None) };
            let refused: i64 =
                tx.query_row("SELECT count(*) FROM refused_event WHERE record_id = ?1", [record_id], |r| r.get(0))?;
            let unanswered: i64 = tx.query_row(
                "SELECT count(*) FROM outbox WHERE record_id = ?1 AND outcome IS NULL",
                [record_id],
                |r| r.get(0),
            )?;
            let sync_state = RecordSyncState::of(training, refused > 0, unanswered > 0, registry_state.as_deref());
            Ok(Some(RecordStanding { record_id: record_id.to_string(), status, replaced_by, sync_state }))
        })?)
    }

    /// Whether an outbox event of one record waits for the registry's verdict (desk-level).
    pub fn record_queued(&mut self, record_id: &str) -> Result<bool, Error> {
        Ok(self.read(|tx, _| {
            let n: i64 = tx.query_row(
                "SELECT count(*) FROM outbox WHERE record_id = ?1 AND outcome IS NULL",
                [record_id],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        })?)
    }

    /// The outbox's events without the registry's verdict and the oldest one's time
    /// (desk-level). Refused and unsendable events are on the refused list instead.
    pub fn outbox_status(&mut self) -> Result<OutboxStatus, Error> {
        Ok(self.read(|tx, _| {
            let (queued, oldest_unsent) =
                tx.query_row("SELECT count(*), min(created_at) FROM outbox WHERE outcome IS NULL", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            Ok(OutboxStatus { queued, oldest_unsent })
        })?)
    }

    /// The records issued on one day (by the issue time's date as stored, UTC),
    /// oldest first, for the day report (supervisor).
    pub fn records_of_day(&mut self, session: &Session, day: NaiveDate) -> Result<Vec<(RecordSummary, i64)>, Error> {
        let records = self.records(session)?;
        let prefix = day.format("%Y-%m-%d").to_string();
        let mut out = Vec::new();
        for summary in records.into_iter().rev().filter(|s| s.issued_at.starts_with(&prefix)) {
            let issued_by: i64 = self.read(|tx, _| {
                Ok(tx.query_row("SELECT issued_by FROM record WHERE id = ?1", [&summary.record_id], |r| r.get(0))?)
            })?;
            out.push((summary, issued_by));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, number: &str, birth: &str, issued: &str) -> RecordSummary {
        RecordSummary {
            record_id: id.into(),
            number: number.into(),
            birth_date: birth.into(),
            sex: "F".into(),
            status: "issued".into(),
            training: true,
            source: "lease".into(),
            issued_at: issued.into(),
        }
    }

    #[test]
    fn search_matches_number_with_or_without_the_dash() {
        let s = summary("T-AB-1", "856490-4006", "1990-03-25", "2026-11-26T10:00:00Z");
        assert!(matches("856490-4006", &s, &[]));
        assert!(matches("8564904006", &s, &[]));
        assert!(!matches("8564904007", &s, &[]));
    }

    #[test]
    fn search_matches_a_birth_or_issue_date_and_its_prefix() {
        let s = summary("T-AB-1", "856490-4006", "1990-03-25", "2026-11-26T10:00:00Z");
        assert!(matches("1990-03-25", &s, &[]));
        assert!(matches("2026-11-26", &s, &[]));
        assert!(matches("2026-11", &s, &[]));
        assert!(!matches("2026-11-27", &s, &[]));
    }

    #[test]
    fn search_matches_every_word_of_a_name_in_any_case_and_the_latin_form() {
        let s = summary("T-AB-1", "856490-4006", "1990-03-25", "2026-11-26T10:00:00Z");
        let texts = vec!["Jürgen Müller".to_string(), "JUERGEN MUELLER".to_string(), "C01X00T47".to_string()];
        assert!(matches("müller", &s, &texts));
        assert!(matches("mueller juergen", &s, &texts));
        assert!(matches("c01x00t47", &s, &texts));
        assert!(!matches("schmidt", &s, &texts));
        assert!(!matches("müller schmidt", &s, &texts));
    }

    #[test]
    fn an_empty_search_lists_everything_and_punctuation_alone_nothing() {
        let s = summary("T-AB-1", "856490-4006", "1990-03-25", "2026-11-26T10:00:00Z");
        assert!(matches("  ", &s, &[]));
        assert!(!matches("--", &s, &[]));
    }

    #[test]
    fn a_refusal_outranks_waiting_and_waiting_outranks_what_the_registry_said() {
        use RecordSyncState as S;
        assert_eq!(S::of(true, true, true, Some("registered")), S::Training);
        assert_eq!(S::of(false, true, true, Some("registered")), S::Refused);
        assert_eq!(S::of(false, false, true, Some("registered")), S::Queued);
        assert_eq!(S::of(false, false, false, Some("registered")), S::Registered);
        assert_eq!(S::of(false, false, false, Some("received")), S::Accepted);
        assert_eq!(S::of(false, false, false, Some("voided")), S::Accepted);
        assert_eq!(S::of(false, false, false, None), S::Accepted);
    }
}
