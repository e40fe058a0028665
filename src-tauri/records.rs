//! Acts on people: the live check with the local duplicate keys, issuing,
//! records (search, detail, void). Each command parses, calls the core with
//! the signed-in session, and maps the outcome.

use chrono::{Local, Utc};
use serde::Serialize;
use skranke_core::applicant::{Applicant, IntakeContext};
use skranke_core::i18n::{render, Lang};
use skranke_core::issue::RecordDetail;
use skranke_core::query::{DuplicateKind, RecordHit};
use skranke_core::store::Store;
use tauri::State;

use skranke_core::credentials::OsRandom;
use skranke_core::handout::Delivery;

use crate::error::{UiError, UiResult};
use crate::handout;
use crate::intake::{self, ApplicantCheck, DuplicateView};
use crate::state::Shell;

/// A freshly issued record (`IssuedView`).
#[derive(Debug, Serialize)]
pub struct IssuedView {
    pub record_id: String,
    pub number: String,
    pub birth_date: String,
    pub sex: &'static str,
    pub training: bool,
    pub issued_at: String,
    pub source: &'static str,
    pub reserve_left: usize,
    pub reserve_low: bool,
    pub username: String,
    /// The print queue the handout went to.
    pub printer: String,
    pub job: Option<String>,
    /// Set when the record is issued but the handout did not leave: reprint.
    pub delivery_error: Option<String>,
}

/// A record in a list (`RecordRow`).
#[derive(Debug, Serialize)]
pub struct RecordRow {
    pub record_id: String,
    pub number: String,
    pub name: Option<String>,
    pub document: Option<String>,
    pub issued_at: String,
    pub status: String,
    pub sync_state: &'static str,
    pub training: bool,
}

/// A record's detail (`RecordView`).
#[derive(Debug, Serialize)]
pub struct RecordView {
    #[serde(flatten)]
    pub row: RecordRow,
    pub birth_date: String,
    pub sex: String,
    pub nationality: Option<String>,
    pub issued_by: i64,
    pub void_reason: Option<String>,
    pub voided_at: Option<String>,
    pub replaced_by: Option<String>,
    pub personal_data: bool,
}

/// Where a record stands with the registry, as the list shows it.
fn sync_state(training: bool, queued: bool) -> &'static str {
    match (training, queued) {
        (true, _) => "training",
        (false, true) => "queued",
        (false, false) => "synced",
    }
}

fn row(hit: RecordHit) -> RecordRow {
    RecordRow {
        sync_state: sync_state(hit.summary.training, hit.queued),
        record_id: hit.summary.record_id,
        number: hit.summary.number,
        name: hit.name,
        document: hit.document,
        issued_at: hit.summary.issued_at,
        status: hit.summary.status,
        training: hit.summary.training,
    }
}

fn text_at(v: &serde_json::Value, path: &[&str]) -> Option<String> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(|v| v.as_str()).map(String::from)
}

fn view(d: RecordDetail, queued: bool) -> RecordView {
    let a = d.applicant.as_ref();
    let name = a.map(|v| {
        [text_at(v, &["applicant", "given_names"]), text_at(v, &["applicant", "surname"])]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let document = a.map(|v| {
        let state = text_at(v, &["applicant", "document", "issuing_state"]).unwrap_or_default();
        let number = text_at(v, &["applicant", "document", "number"]).unwrap_or_default();
        format!("{state} {number}").trim().to_string()
    });
    let s = d.summary;
    RecordView {
        row: RecordRow {
            sync_state: sync_state(s.training, queued),
            record_id: s.record_id,
            number: s.number,
            name,
            document,
            issued_at: s.issued_at,
            status: s.status,
            training: s.training,
        },
        birth_date: s.birth_date,
        sex: s.sex,
        nationality: a.and_then(|v| text_at(v, &["applicant", "nationality"])),
        issued_by: d.issued_by,
        void_reason: d.void_reason,
        voided_at: d.voided_at,
        replaced_by: d.replaced_by,
        personal_data: a.is_some(),
    }
}

fn intake_context(store: &Store, lang: Lang) -> UiResult<IntakeContext> {
    let desk_municipality = store.municipality_code().map_err(|e| UiError::core(lang, e))?;
    Ok(IntakeContext { today: Local::now().date_naive(), desk_municipality })
}

/// The form's live check: every intake rule, and this desk's earlier records
/// with the same document or person (voided ones do not count).
#[tauri::command]
pub async fn applicant_check(shell: State<'_, Shell>, applicant: serde_json::Value) -> UiResult<ApplicantCheck> {
    shell.with_session(|store, signed, lang| {
        let ctx = intake_context(store, lang)?;
        let mut check = intake::check(&applicant, &ctx, lang);
        if let Ok(valid) = intake::validate(&applicant, &ctx, lang) {
            let hits = store.find_duplicates(&signed.session, &valid.keys).map_err(|e| UiError::core(lang, e))?;
            check.duplicates = hits
                .into_iter()
                .map(|h| {
                    let (kind, key) = match h.kind {
                        DuplicateKind::Document => ("document", "shell.dup.document"),
                        DuplicateKind::Person => ("person", "shell.dup.person"),
                    };
                    let message = render(lang, key, &[("record", &h.record_id)]);
                    DuplicateView { kind, record_id: h.record_id, source: "local", message }
                })
                .collect();
        }
        Ok(check)
    })
}

/// Issues a number to the applicant (clerk) and prints the handout: the
/// core validates again, refuses a duplicate, takes the number and writes
/// record, login and events in one transaction, then spools the letter.
#[tauri::command]
pub async fn issue(
    shell: State<'_, Shell>,
    applicant: serde_json::Value,
    duplicate_reviewed: bool,
) -> UiResult<IssuedView> {
    // A person match found at the registry may be issued after review; a
    // local match is refused by the core whatever the window says.
    let _ = duplicate_reviewed;
    shell.with_session(|store, signed, lang| {
        let parsed = Applicant::from_json(&applicant.to_string(), lang).map_err(UiError::fields)?;
        let (printer, printer_name) = handout::printer(store, lang)?;
        let out = store
            .issue_with_handout(
                &signed.session,
                &parsed,
                Local::now().date_naive(),
                Utc::now(),
                lang,
                None,
                Delivery::Print(printer.as_ref()),
                &mut OsRandom,
            )
            .map_err(|e| UiError::core(lang, e))?;
        let issued = out.issued;
        let (print, failed) = handout::outcome(out.handout, printer_name, lang);
        let delivery_error = failed.map(|e| e.message);
        Ok(IssuedView {
            record_id: issued.record_id,
            number: issued.display_number,
            birth_date: issued.birth_date.format("%Y-%m-%d").to_string(),
            sex: issued.sex.code(),
            training: issued.training,
            issued_at: issued.issued_at,
            source: issued.source.code(),
            reserve_left: issued.reserve_left,
            reserve_low: issued.reserve_low,
            username: print.username,
            printer: print.printer,
            job: print.job,
            delivery_error,
        })
    })
}

/// This desk's records matching a search (clerk).
#[tauri::command]
pub async fn records_search(shell: State<'_, Shell>, query: String) -> UiResult<Vec<RecordRow>> {
    shell.with_session(|store, signed, lang| {
        let hits = store.search_records(&signed.session, &query).map_err(|e| UiError::core(lang, e))?;
        Ok(hits.into_iter().map(row).collect())
    })
}

/// One record with its personal data (clerk).
#[tauri::command]
pub async fn record_detail(shell: State<'_, Shell>, record_id: String) -> UiResult<RecordView> {
    shell.with_session(|store, signed, lang| detail(store, signed, &record_id, lang))
}

fn detail(store: &mut Store, signed: &crate::state::Signed, id: &str, lang: Lang) -> UiResult<RecordView> {
    let d = store.record(&signed.session, id.trim()).map_err(|e| UiError::core(lang, e))?;
    let queued = store.record_queued(id.trim()).map_err(|e| UiError::core(lang, e))?;
    Ok(view(d, queued))
}

/// Voids a record (supervisor: the core checks), with a reason and optionally
/// the record that replaces it.
#[tauri::command]
pub async fn record_void(
    shell: State<'_, Shell>,
    record_id: String,
    reason: String,
    replaced_by: String,
) -> UiResult<RecordView> {
    shell.with_session(|store, signed, lang| {
        let replaced = Some(replaced_by.as_str()).filter(|s| !s.trim().is_empty());
        store
            .void(&signed.session, record_id.trim(), &reason, replaced, Utc::now(), lang)
            .map_err(|e| UiError::core(lang, e))?;
        detail(store, signed, &record_id, lang)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_training_record_never_shows_as_waiting_to_sync() {
        assert_eq!(sync_state(true, true), "training");
        assert_eq!(sync_state(false, true), "queued");
        assert_eq!(sync_state(false, false), "synced");
    }
}
