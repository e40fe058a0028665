//! Acts on people: the live check with the local duplicate keys, issuing,
//! records (search, detail, void). Each command parses, calls the core with
//! the signed-in session, and maps the outcome.

use chrono::{Local, Utc};
use serde::Serialize;
use skranke_core::applicant::{Applicant, IntakeContext};
use skranke_core::counter::{self, IssueRequest, Moment};
use skranke_core::i18n::{render, Lang};
use skranke_core::issue::RecordDetail;
use skranke_core::municipality;
use skranke_core::protocol::{LookupResponse, MatchKind};
use skranke_core::query::{DuplicateKind, RecordHit, RecordSyncState};
use skranke_core::store::Store;
use skranke_core::sync::{self, SyncError};
use tauri::State;

use skranke_core::credentials::OsRandom;
use skranke_core::handout::Delivery;

use crate::error::{UiError, UiResult};
use crate::handout;
use crate::intake::{self, ApplicantCheck, DuplicateView, RegistryCheck};
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
    /// What staff must know about the committed issue (the core's sentences).
    pub warnings: Vec<String>,
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

/// Where a record stands with the registry (`queued`, `accepted`,
/// `registered`, `refused`, `training`): the core's rule, see
/// `RecordSyncState::of`.
fn sync_state(store: &mut Store, record_id: &str, lang: Lang) -> UiResult<&'static str> {
    let standing = store.record_standing(record_id).map_err(|e| UiError::core(lang, e))?;
    Ok(standing.map_or(RecordSyncState::Queued, |s| s.sync_state).code())
}

fn row(hit: RecordHit, sync_state: &'static str) -> RecordRow {
    RecordRow {
        sync_state,
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

fn view(d: RecordDetail, sync_state: &'static str) -> RecordView {
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
            sync_state,
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
/// with the same document or person (voided ones do not count). With
/// `registry` (the clerk going on to review), an enrolled desk also asks the
/// registry whether and where the applicant is known; that lookup is audited
/// and rate-limited, so the live check while typing never makes it.
#[tauri::command]
pub async fn applicant_check(
    shell: State<'_, Shell>,
    applicant: serde_json::Value,
    registry: Option<bool>,
) -> UiResult<ApplicantCheck> {
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
                    DuplicateView { kind, record_id: h.record_id, source: "local", message, desk_id: None }
                })
                .collect();
            if registry == Some(true) && !store.is_training() {
                let result = sync::client_for(store)
                    .and_then(|client| sync::lookup(store, &signed.session, &client, &valid.keys, Utc::now()));
                crate::sync::note_reachability(&shell, &result);
                let (registry, found) = registry_check(result, lang);
                check.registry = Some(registry);
                check.duplicates.extend(found);
            }
        }
        Ok(check)
    })
}

/// The registry's answer as the form shows it: each match next to the local
/// ones ("a match exists at desk …"), or why only the local check ran.
fn registry_check(
    result: Result<LookupResponse, skranke_core::Error>,
    lang: Lang,
) -> (RegistryCheck, Vec<DuplicateView>) {
    match result {
        Ok(answer) if answer.matches.is_empty() => {
            (RegistryCheck { state: "clear", message: render(lang, "shell.lookup.clear", &[]) }, Vec::new())
        }
        Ok(answer) => {
            let found = answer
                .matches
                .into_iter()
                .map(|m| {
                    let (kind, key) = match m.kind {
                        MatchKind::Document => ("document", "shell.lookup.document"),
                        MatchKind::Person => ("person", "shell.lookup.person"),
                    };
                    let code = format!("{:03}", m.municipality);
                    let place =
                        municipality::lookup(m.municipality).map_or(code.clone(), |x| format!("{code} {}", x.name));
                    let message = render(lang, key, &[("desk", &m.desk_id), ("municipality", &place)]);
                    DuplicateView {
                        kind,
                        record_id: String::new(),
                        source: "registry",
                        message,
                        desk_id: Some(m.desk_id),
                    }
                })
                .collect();
            (RegistryCheck { state: "matched", message: render(lang, "shell.lookup.matched", &[]) }, found)
        }
        Err(skranke_core::Error::Sync(SyncError::Unreachable { .. })) => {
            (RegistryCheck { state: "offline", message: render(lang, "shell.lookup.offline", &[]) }, Vec::new())
        }
        Err(e) => {
            let message = render(lang, "shell.lookup.failed", &[("reason", &e.message(lang))]);
            (RegistryCheck { state: "failed", message }, Vec::new())
        }
    }
}

/// Issues a number to the applicant (clerk) and prints the handout, through
/// the core's counter (`core::counter::issue`): it validates again, asks an
/// enrolled desk's registry for duplicates (a match it reported needs
/// `duplicate_reviewed`, or the refusal names that field) and for the number
/// (the lease when it does not answer), refuses a local duplicate, writes
/// record, login and events in one transaction, then spools the letter.
#[tauri::command]
pub async fn issue(
    shell: State<'_, Shell>,
    applicant: serde_json::Value,
    duplicate_reviewed: bool,
) -> UiResult<IssuedView> {
    shell.with_session(|store, signed, lang| {
        let parsed = Applicant::from_json(&applicant.to_string(), lang).map_err(UiError::fields)?;
        let (printer, printer_name) = handout::printer(store, lang)?;
        let request = IssueRequest {
            applicant: &parsed,
            duplicate_reviewed,
            delivery: Delivery::Print(printer.as_ref()),
            at: Moment::now(),
            lang,
        };
        let out =
            counter::issue(store, &signed.session, &request, &mut OsRandom).map_err(|e| UiError::core(lang, e))?;
        if out.online() {
            shell.update_link(|l| l.online = Some(true));
        }
        let warnings = out.warnings.into_iter().map(|w| w.message).collect();
        let issued = out.issued;
        let (print, failed) = handout::outcome(out.handout, printer_name, lang);
        crate::give_back_freed_memory();
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
            warnings,
        })
    })
}

/// This desk's records matching a search (clerk).
#[tauri::command]
pub async fn records_search(shell: State<'_, Shell>, query: String) -> UiResult<Vec<RecordRow>> {
    shell.with_session(|store, signed, lang| {
        let hits = store.search_records(&signed.session, &query).map_err(|e| UiError::core(lang, e))?;
        let mut rows = Vec::with_capacity(hits.len());
        for hit in hits {
            let state = sync_state(store, &hit.summary.record_id, lang)?;
            rows.push(row(hit, state));
        }
        Ok(rows)
    })
}

/// One record with its personal data (clerk).
#[tauri::command]
pub async fn record_detail(shell: State<'_, Shell>, record_id: String) -> UiResult<RecordView> {
    shell.with_session(|store, signed, lang| detail(store, signed, &record_id, lang))
}

fn detail(store: &mut Store, signed: &crate::state::Signed, id: &str, lang: Lang) -> UiResult<RecordView> {
    let d = store.record(&signed.session, id.trim()).map_err(|e| UiError::core(lang, e))?;
    let state = sync_state(store, id.trim(), lang)?;
    Ok(view(d, state))
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
    use skranke_core::protocol::LookupMatch;

    fn answer(matches: Vec<LookupMatch>) -> Result<LookupResponse, skranke_core::Error> {
        Ok(LookupResponse { matches, registry_time: Utc::now() })
    }

    #[test]
    fn a_registry_match_names_the_desk_and_municipality_that_hold_it() {
        let m = LookupMatch { kind: MatchKind::Document, desk_id: "D-851-4".into(), municipality: 851 };
        let (check, found) = registry_check(answer(vec![m]), Lang::En);
        assert_eq!(check.state, "matched");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].kind, found[0].source), ("document", "registry"));
        assert!(found[0].message.contains("D-851-4"), "{}", found[0].message);
        assert!(found[0].message.contains("Aalborg"), "{}", found[0].message);
    }

    #[test]
    fn an_unreachable_registry_leaves_only_the_local_check_and_says_so() {
        let gone = Err(SyncError::Unreachable { detail: "connection refused".into() }.into());
        let (check, found) = registry_check(gone, Lang::En);
        assert_eq!(check.state, "offline");
        assert!(found.is_empty());
        assert!(!check.message.starts_with("shell."), "{}", check.message);
    }

    #[test]
    fn no_match_at_the_registry_is_a_clear_answer() {
        let (check, found) = registry_check(answer(Vec::new()), Lang::Da);
        assert_eq!(check.state, "clear");
        assert!(found.is_empty());
    }
}
