//! Read-only queries the desk window needs beside the store's acts: the
//! duplicate check before issuing (so the clerk sees it while the applicant
//! is still at the counter), record search, and what waits in the outbox.
//! Nothing here writes; each query on people needs a signed-in clerk.

use chrono::NaiveDate;
use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::applicant::DuplicateKeys;
use crate::issue::{keyed_hash, summary, RecordSummary, SUMMARY_COLUMNS};
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
#[serde(rename_all = "snake_case")]
pub enum RecordSyncState {
    /// A training record: never leaves the desk.
    Training,
    /// The registry refused one of its events: a supervisor must look.
    Refused,
    /// An event of it still waits to be answered.
    Queued,
    /// The registry holds it, but CPR or Jobnet refused it: a supervisor
    /// corrects and reprints, or voids.
    RefusedDownstream,
    /// The registry holds every event of it (modtaget).
    Accepted,
    /// Confirmed downstream in CPR and Jobnet (registreret).
    Registered,
}

impl RecordSyncState {
    /// The rule: the registry's refusal outranks everything (it needs a
    /// person), then what still waits (a reprint sent after a downstream
    /// refusal is the answer to it), then a downstream refusal, then what the
    /// registry last said.
    pub fn of(
        training: bool,
        refused: bool,
        unanswered: bool,
        refused_downstream: bool,
        registry_state: Option<&str>,
    ) -> RecordSyncState {
        match (training, refused, unanswered, refused_downstream, registry_state) {
            (true, ..) => RecordSyncState::Training,
            (_, true, ..) => RecordSyncState::Refused,
            (_, _, true, ..) => RecordSyncState::Queued,
            (_, _, _, true, _) => RecordSyncState::RefusedDownstream,
            (.., Some("registered")) => RecordSyncState::Registered,
            _ => RecordSyncState::Accepted,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            RecordSyncState::Training => "training",
            RecordSyncState::Refused => "refused",
            RecordSyncState::Queued => "queued",
            RecordSyncState::RefusedDownstream => "refused_downstream",
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

/// status, training, replaced_by, registry_state, refused downstream.
type StandingRow = (String, bool, Option<String>, Option<String>, bool);

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

/// From a record's stored applicant: the name as printed, the document
/// (issuing state and number), and the texts a name search looks in (the
/// name, its Latin form, the document number). Nothing when the personal
/// data is not held.
fn personal_data(applicant: Option<&str>) -> (Option<String>, Option<String>, Vec<String>) {
    let Some(v) = applicant.and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok()) else {
        return (None, None, Vec::new());
    };
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
    (Some(name.clone()), Some(document), vec![name, latin, number.to_string()])
}

/// Rows of the name index per record (its rowid is `seq * 4 + k`).
const INDEX_ROWS: i64 = 4;

/// The newest record the name index holds.
fn indexed_through(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<i64> {
    let last: Option<i64> =
        tx.query_row("SELECT rowid FROM record_search ORDER BY rowid DESC LIMIT 1", [], |r| r.get(0)).optional()?;
    Ok(last.map_or(0, |rowid| rowid / INDEX_ROWS))
}

/// Whether records were issued, or their personal data changed, since the
/// name index was last brought up to date.
fn index_behind(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<bool> {
    let newest: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM record", [], |r| r.get(0))?;
    let stale: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM record_search_stale)", [], |r| r.get(0))?;
    Ok(stale || indexed_through(tx)? < newest)
}

/// Indexes the records issued since the index was last brought up to date,
/// and again those whose personal data changed. Row `k = 3` is always
/// written (empty) so that a record without personal data counts as indexed.
fn index_new_records(tx: &rusqlite::Transaction<'_>) -> Result<(), crate::store::StoreError> {
    let mut insert = tx.prepare_cached("INSERT OR REPLACE INTO record_search (rowid, folded) VALUES (?1, ?2)")?;
    let mut index = |seq: i64, applicant: Option<String>| -> rusqlite::Result<()> {
        let (_, _, texts) = personal_data(applicant.as_deref());
        for (k, text) in texts.iter().enumerate().take(3) {
            let folded = fold(text);
            if !folded.is_empty() {
                insert.execute((seq * INDEX_ROWS + k as i64, folded))?;
            }
        }
        insert.execute((seq * INDEX_ROWS + 3, ""))?;
        Ok(())
    };
    let mut stale = tx.prepare(
        "SELECT s.seq, r.applicant FROM record_search_stale s JOIN record r ON r.seq = s.seq ORDER BY s.seq",
    )?;
    let mut rows = stale.query([])?;
    while let Some(r) = rows.next()? {
        index(r.get(0)?, r.get(1)?)?;
    }
    tx.execute("DELETE FROM record_search_stale", [])?;
    let from = indexed_through(tx)?;
    let mut fresh = tx.prepare("SELECT seq, applicant FROM record WHERE seq > ?1 ORDER BY seq")?;
    let mut rows = fresh.query([from])?;
    while let Some(r) = rows.next()? {
        index(r.get(0)?, r.get(1)?)?;
    }
    Ok(())
}

/// Whether an outbox event of the record waits for the registry's verdict
/// (sent or not): what "queued" means in a record's sync state, in the
/// search hits ([`unanswered_records`]) and in the outbox status.
fn unanswered(tx: &rusqlite::Transaction<'_>, record_id: &str) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?1 AND outcome IS NULL)")?
        .query_row([record_id], |r| r.get(0))
}

/// The records with an event waiting for the registry's verdict, as
/// [`unanswered`] counts them (the partial index on `outcome IS NULL`
/// finds them).
fn unanswered_records(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut stmt = tx.prepare_cached("SELECT DISTINCT record_id FROM outbox WHERE outcome IS NULL")?;
    let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0))?;
    rows.filter_map(|r| r.transpose()).collect()
}

/// The records a query could name by ID, number or date (the cases of
/// [`matches`] other than a name), each through an index.
fn direct_candidates(
    tx: &rusqlite::Transaction<'_>,
    q: &str,
    folded: &str,
    desk_id: &str,
    out: &mut std::collections::BTreeSet<i64>,
) -> rusqlite::Result<()> {
    let mut add = |sql: &str, param: &str| -> rusqlite::Result<()> {
        let mut stmt = tx.prepare_cached(sql)?;
        for seq in stmt.query_map([param], |r| r.get::<_, i64>(0))? {
            out.insert(seq?);
        }
        Ok(())
    };
    // A date or its prefix (YYYY, YYYY-MM, YYYY-MM-DD): '~' sorts after
    // every digit and the dash, so the range holds exactly that prefix.
    if q.len() >= 4 && q.chars().all(|c| c.is_ascii_digit() || c == '-') {
        add("SELECT seq FROM record WHERE birth_date >= ?1 AND birth_date < ?1 || '~'", q)?;
        add("SELECT seq FROM record WHERE issued_at >= ?1 AND issued_at < ?1 || '~'", q)?;
    }
    // A number with or without its dash: stored as ten digits, and shown
    // on a training desk with 60 added to the day (first digit + 6).
    if folded.len() == 10 && folded.bytes().all(|b| b.is_ascii_digit()) {
        add("SELECT seq FROM record WHERE number = ?1", folded)?;
        if let Some(first @ b'6'..=b'9') = folded.bytes().next() {
            let stored = format!("{}{}", char::from(first - 6), &folded[1..]);
            add("SELECT seq FROM record WHERE number = ?1 AND training = 1", &stored)?;
        }
    }
    // A record ID is `{desk ID}-{seq}`.
    if let Some(seq) = folded.strip_prefix(desk_id).and_then(|n| n.parse::<i64>().ok()) {
        out.insert(seq);
    }
    Ok(())
}

/// The records whose name index rows hold every word of the query, newest
/// first, without repeats. A word of three characters or more is a phrase
/// of trigrams, which the index answers by itself (a substring of the
/// folded text, as `LIKE '%word%'` would find it, without reading the
/// text); a query of only shorter words can only be looked for in every
/// row's text.
fn name_candidates(tx: &rusqlite::Transaction<'_>, q: &str) -> rusqlite::Result<Vec<i64>> {
    let words: Vec<String> = q.split_whitespace().map(fold).filter(|w| !w.is_empty()).collect();
    let (long, short): (Vec<&String>, Vec<&String>) = words.iter().partition(|w| w.chars().count() >= 3);
    let (sql, params): (String, Vec<String>) = if long.is_empty() {
        let like = vec!["folded LIKE ?"; short.len()].join(" AND ");
        let sql = format!("SELECT rowid / {INDEX_ROWS} FROM record_search WHERE {like} ORDER BY rowid DESC");
        (sql, short.iter().map(|w| format!("%{w}%")).collect())
    } else {
        // Folded words hold letters and digits only; quotes are doubled all the same.
        let phrase = long.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" AND ");
        let sql =
            format!("SELECT rowid / {INDEX_ROWS} FROM record_search WHERE record_search MATCH ?1 ORDER BY rowid DESC");
        (sql, vec![phrase])
    };
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut seqs: Vec<i64> = Vec::new();
    for seq in stmt.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, i64>(0))? {
        let seq = seq?;
        if seqs.last() != Some(&seq) {
            seqs.push(seq);
        }
    }
    Ok(seqs)
}

impl Store {
    /// The issued records of this desk that share a duplicate key with an
    /// applicant (clerk). Voided records do not count, as in issuing.
    pub fn find_duplicates(&mut self, session: &Session, keys: &DuplicateKeys) -> Result<Vec<DuplicateHit>, Error> {
        let (document, person) = {
            let key = &self.context().duplicate_key;
            (keyed_hash(key, "document", &keys.document), keyed_hash(key, "person", &keys.person))
        };
        Ok(self.read::<_, crate::Error>(|tx, _| {
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
    ///
    /// One read transaction. Names and document numbers are found through
    /// the name index (`record_search`), brought up to the newest record
    /// first; the ID, number and dates only through the record's own columns
    /// and only when the query could be one of them. Every candidate is then
    /// checked with [`matches`], so the index only narrows, never decides.
    pub fn search_records(&mut self, session: &Session, query: &str) -> Result<Vec<RecordHit>, Error> {
        let behind = self.read::<_, crate::Error>(|tx, _| {
            staff::authorize(tx, session, Role::Clerk, "see_records")?;
            Ok(index_behind(tx)?)
        })?;
        if behind {
            self.bookkeeping(|tx, _| index_new_records(tx))?;
        }
        let desk_id = fold(self.desk_id());
        Ok(self.read::<_, crate::Error>(|tx, _| {
            staff::authorize(tx, session, Role::Clerk, "see_records")?;
            let q = query.trim();
            let folded = fold(q);
            // Candidates come from two sources, each newest first: the name
            // index and the records an ID, number or date can name. They are
            // merged and each is checked with `matches`, until the limit.
            let mut direct = std::collections::BTreeSet::new();
            let mut by_name = None;
            if q.is_empty() {
                let mut stmt = tx.prepare_cached("SELECT seq FROM record ORDER BY seq DESC LIMIT ?1")?;
                for seq in stmt.query_map([SEARCH_LIMIT as i64], |r| r.get::<_, i64>(0))? {
                    direct.insert(seq?);
                }
            } else if !folded.is_empty() {
                direct_candidates(tx, q, &folded, &desk_id, &mut direct)?;
                by_name = Some(name_candidates(tx, q)?);
            }
            let queued = unanswered_records(tx)?;
            let mut hits = Vec::new();
            let sql = format!("SELECT {SUMMARY_COLUMNS}, applicant FROM record WHERE seq = ?1");
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut direct = direct.into_iter().rev().peekable();
            let mut by_name = by_name.map(|c| c.into_iter().peekable());
            loop {
                let from_index = by_name.as_mut().and_then(|c| c.peek().copied());
                let seq = match (from_index, direct.peek().copied()) {
                    (None, None) => break,
                    (Some(a), Some(b)) if a == b => {
                        direct.next();
                        by_name.as_mut().and_then(Iterator::next)
                    }
                    (Some(a), Some(b)) if b > a => direct.next(),
                    (Some(_), _) => by_name.as_mut().and_then(Iterator::next),
                    (None, Some(_)) => direct.next(),
                };
                let Some(seq) = seq else { break };
                let Some((summary, applicant)) =
                    stmt.query_row([seq], |r| Ok((summary(r)?, r.get::<_, Option<String>>(8)?))).optional()?
                else {
                    continue;
                };
                let (name, document, texts) = personal_data(applicant.as_deref());
                if matches(query, &summary, &texts) {
                    let queued = queued.contains(&summary.record_id);
                    hits.push(RecordHit { summary, name, document, queued });
                    if hits.len() >= SEARCH_LIMIT {
                        break;
                    }
                }
            }
            Ok(hits)
        })?)
    }

    /// A record's status and where it stands with the registry (desk-level:
    /// no personal data). `None` when this desk has no such record.
    pub fn record_standing(&mut self, record_id: &str) -> Result<Option<RecordStanding>, Error> {
        Ok(self.read::<_, crate::store::StoreError>(|tx, _| {
            let row: Option<StandingRow> = tx
                .query_row(
                    "SELECT status, training, replaced_by, registry_state, refused_downstream_by IS NOT NULL
                     FROM record WHERE id = ?1",
                    [record_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((status, training, replaced_by, registry_state, downstream)) = row else { return Ok(None) };
            let refused: i64 =
                tx.query_row("SELECT count(*) FROM refused_event WHERE record_id = ?1", [record_id], |r| r.get(0))?;
            let sync_state = RecordSyncState::of(
                training,
                refused > 0,
                unanswered(tx, record_id)?,
                downstream,
                registry_state.as_deref(),
            );
            Ok(Some(RecordStanding { record_id: record_id.to_string(), status, replaced_by, sync_state }))
        })?)
    }

    /// Whether an outbox event of one record waits for the registry's verdict (desk-level).
    pub fn record_queued(&mut self, record_id: &str) -> Result<bool, Error> {
        Ok(self.read::<_, crate::store::StoreError>(|tx, _| Ok(unanswered(tx, record_id)?))?)
    }

    /// The outbox's events without the registry's verdict and the oldest one's time
    /// (desk-level). Refused and unsendable events are on the refused list instead.
    pub fn outbox_status(&mut self) -> Result<OutboxStatus, Error> {
        Ok(self.read::<_, crate::store::StoreError>(|tx, _| {
            let (queued, oldest_unsent) =
                tx.query_row("SELECT count(*), min(created_at) FROM outbox WHERE outcome IS NULL", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            Ok(OutboxStatus { queued, oldest_unsent })
        })?)
    }

    /// The records issued on one day in the time zone `tz` (the desk's: a
    /// record issued at 00:30 in Copenhagen belongs to that day, not to the
    /// UTC day before), oldest first, for the day report (supervisor).
    pub fn records_of_day(
        &mut self,
        session: &Session,
        day: NaiveDate,
        tz: &crate::report::TimeZone,
    ) -> Result<Vec<(RecordSummary, i64)>, Error> {
        let records = self.records(session)?;
        let mut out = Vec::new();
        let on_day =
            |s: &RecordSummary| crate::report::local_day_and_time(&s.issued_at, tz).is_some_and(|(d, _)| d == day);
        for summary in records.into_iter().rev().filter(on_day) {
            let issued_by: i64 = self.read::<_, crate::store::StoreError>(|tx, _| {
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
            source: crate::protocol::NumberSource::Lease,
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

    mod store {
        use super::super::*;
        use crate::applicant::{Applicant, IntakeContext};
        use crate::desk::{self, DeskKind, DeskSetup};
        use crate::i18n::Lang;
        use crate::issue::Intake;
        use crate::keystore::MemoryKeyStore;
        use chrono::{DateTime, Utc};

        fn now() -> DateTime<Utc> {
            DateTime::from_timestamp(1_780_000_000, 0).unwrap()
        }

        /// A training desk whose admin is Ada ("a long enough password").
        fn training_desk(dir: &std::path::Path) -> crate::store::Store {
            let setup = DeskSetup {
                kind: DeskKind::Training,
                municipality: "101",
                office: "Borgerservice",
                desk_number: 1,
                admin_name: "Ada",
                admin_password: "a long enough password",
            };
            desk::init(dir, Box::new(MemoryKeyStore::new()), &setup, now(), Lang::En).unwrap()
        }

        fn intake(given: &str, surname: &str, doc: &str, day: u32) -> Intake {
            let v = serde_json::json!({
              "given_names": given, "surname": surname, "birth_date": format!("1990-03-{day:02}"), "sex": "F",
              "nationality": "DE", "municipality_of_stay": 101, "group": "eu-jobseeker",
              "document": {"type": "passport", "number": doc, "issuing_state": "DE", "expiry_date": "2099-04-15",
                           "original_seen": true, "sex_on_document": null, "no_expiry_confirmed": false},
              "asylum_case_ref": null, "no_danish_cpr": true, "not_residence_registered": true, "language": "de",
              "contact": {"email": null, "phone": null, "address_dk": null}
            });
            let a = Applicant::from_json(&v.to_string(), Lang::En).unwrap();
            let ctx = IntakeContext { today: now().date_naive(), desk_municipality: 101 };
            Intake::from_valid(&a.validate(&ctx, Lang::En).unwrap())
        }

        fn ids(hits: &[RecordHit]) -> Vec<&str> {
            hits.iter().map(|h| h.summary.record_id.as_str()).collect()
        }

        #[test]
        fn search_finds_names_documents_and_numbers_newest_first_and_sees_records_issued_after_an_earlier_search() {
            let dir = tempfile::tempdir().unwrap();
            let mut store = training_desk(dir.path());
            let s = store.sign_in("Ada", "a long enough password", now()).unwrap();
            let a = store.issue(&s, &intake("Jürgen", "Müller", "C01X00T47", 1), now(), None, None).unwrap();
            let b = store.issue(&s, &intake("Anna", "Schmidt", "C02Y11U58", 2), now(), None, None).unwrap();
            let hits = store.search_records(&s, "müller").unwrap();
            assert_eq!(ids(&hits), [a.record_id.as_str()]);
            assert_eq!(hits[0].name.as_deref(), Some("Jürgen Müller"));
            assert!(hits[0].queued, "not synced yet");
            assert_eq!(ids(&store.search_records(&s, "mueller juergen").unwrap()), [a.record_id.as_str()]);
            assert_eq!(ids(&store.search_records(&s, "c02y11u58").unwrap()), [b.record_id.as_str()]);
            assert_eq!(ids(&store.search_records(&s, &b.display_number).unwrap()), [b.record_id.as_str()]);
            assert!(store.search_records(&s, "müller schmidt").unwrap().is_empty(), "words of two records");
            assert_eq!(ids(&store.search_records(&s, "").unwrap()), [b.record_id.as_str(), a.record_id.as_str()]);
            // Issued after the index was built: found all the same, newest first.
            let c = store.issue(&s, &intake("Greta", "Müller", "C03Z22V69", 3), now(), None, None).unwrap();
            assert_eq!(ids(&store.search_records(&s, "Müller").unwrap()), [c.record_id.as_str(), a.record_id.as_str()]);
            assert_eq!(ids(&store.search_records(&s, "1990-03-03").unwrap()), [c.record_id.as_str()]);
        }

        #[test]
        fn search_finds_a_record_by_its_id_its_issue_day_and_a_name_part_shorter_than_three_letters() {
            let dir = tempfile::tempdir().unwrap();
            let mut store = training_desk(dir.path());
            let s = store.sign_in("Ada", "a long enough password", now()).unwrap();
            let later = now() + chrono::Days::new(40);
            let a = store.issue(&s, &intake("Jürgen", "Li", "C01X00T47", 1), now(), None, None).unwrap();
            let s = store.sign_in("Ada", "a long enough password", later).unwrap();
            let b = store.issue(&s, &intake("Anna", "Schmidt", "C02Y11U58", 2), later, None, None).unwrap();
            let search = |store: &mut crate::store::Store, q: &str| -> Vec<String> {
                ids(&store.search_records(&s, q).unwrap()).into_iter().map(String::from).collect()
            };
            // The record ID in any case, with or without its dashes.
            assert_eq!(search(&mut store, &a.record_id.to_lowercase()), [a.record_id.as_str()]);
            assert_eq!(search(&mut store, &b.record_id.replace('-', "")), [b.record_id.as_str()]);
            // The issue day, its month, its year.
            let day = later.format("%Y-%m-%d").to_string();
            assert_eq!(search(&mut store, &day), [b.record_id.as_str()]);
            assert_eq!(search(&mut store, &day[..7]), [b.record_id.as_str()]);
            assert_eq!(now().format("%Y").to_string(), day[..4], "both issued in one year");
            assert_eq!(search(&mut store, &day[..4]), [b.record_id.as_str(), a.record_id.as_str()]);
            // "Li" is shorter than a trigram: found without the index's phrase query.
            assert_eq!(search(&mut store, "li"), [a.record_id.as_str()]);
            assert_eq!(search(&mut store, "jü li"), [a.record_id.as_str()]);
            // A number shown with the day + 60 of a training desk; its stored form is not what the clerk sees.
            assert_eq!(search(&mut store, &b.display_number.replace('-', "")), [b.record_id.as_str()]);
            assert!(store.search_records(&s, "c03z").unwrap().is_empty());
        }

        #[test]
        fn erased_personal_data_leaves_the_name_index_at_once_and_changed_data_is_found_by_its_new_name() {
            let dir = tempfile::tempdir().unwrap();
            let mut store = training_desk(dir.path());
            let s = store.sign_in("Ada", "a long enough password", now()).unwrap();
            let a = store.issue(&s, &intake("Jürgen", "Müller", "C01X00T47", 1), now(), None, None).unwrap();
            let b = store.issue(&s, &intake("Anna", "Schmidt", "C02Y11U58", 2), now(), None, None).unwrap();
            assert_eq!(store.search_records(&s, "müller").unwrap().len(), 1);
            let conn = store.connection();
            conn.execute("UPDATE record SET applicant = NULL WHERE id = ?1", [&a.record_id]).unwrap();
            let left: i64 = conn
                .query_row("SELECT count(*) FROM record_search WHERE folded LIKE '%ller%'", [], |r| r.get(0))
                .unwrap();
            assert_eq!(left, 0, "the erased name is still in the index");
            let renamed = conn
                .query_row("SELECT replace(replace(applicant, 'Schmidt', 'Schneider'), 'SCHMIDT', 'SCHNEIDER') FROM record WHERE id = ?1", [&b.record_id], |r| {
                    r.get::<_, String>(0)
                })
                .unwrap();
            conn.execute("UPDATE record SET applicant = ?2 WHERE id = ?1", (&b.record_id, &renamed)).unwrap();
            assert!(store.search_records(&s, "müller").unwrap().is_empty());
            assert!(store.search_records(&s, "schmidt").unwrap().is_empty());
            assert_eq!(ids(&store.search_records(&s, "schneider").unwrap()), [b.record_id.as_str()]);
        }
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
        assert_eq!(S::of(true, true, true, true, Some("registered")), S::Training);
        assert_eq!(S::of(false, true, true, true, Some("registered")), S::Refused);
        assert_eq!(S::of(false, false, true, true, Some("registered")), S::Queued);
        assert_eq!(S::of(false, false, false, true, Some("received")), S::RefusedDownstream);
        assert_eq!(S::of(false, false, false, false, Some("registered")), S::Registered);
        assert_eq!(S::of(false, false, false, false, Some("received")), S::Accepted);
        assert_eq!(S::of(false, false, false, false, Some("voided")), S::Accepted);
        assert_eq!(S::of(false, false, false, false, None), S::Accepted);
        assert_eq!(serde_json::to_value(S::RefusedDownstream).unwrap(), "refused_downstream");
    }
}
