//! The handout: what the letter will hold (previewed before issuing, the
//! password only as its masked shape: it never leaves this process) and the
//! reprint. Issuing prints in the same call (see `records::issue`): the core
//! never issues a login whose password no one could read.

use chrono::{Local, Utc};
use serde::Serialize;
use skranke_core::credentials::OsRandom;
use skranke_core::handout::{Delivered, Delivery, HandedOut};
use skranke_core::letter::texts;
use skranke_core::municipality;
use skranke_core::retention::PresentedDocument;
use skranke_core::store::Store;
use tauri::State;

use crate::error::{UiError, UiResult};
use crate::state::Shell;

/// The handout-to-be (`HandoutPreview`): number and login come at issue.
#[derive(Debug, Serialize)]
pub struct HandoutPreview {
    pub municipality: String,
    pub office: String,
    pub name: String,
    pub password_mask: &'static str,
    pub languages: Vec<String>,
    pub lapse_days: u16,
    pub printer: Option<String>,
    pub training: bool,
}

/// A spooled handout (`PrintResult`).
#[derive(Debug, Serialize)]
pub struct PrintResult {
    pub record_id: String,
    pub username: String,
    pub printer: String,
    pub job: Option<String>,
}

/// Sixteen characters in groups of four, as the letter prints them; never the password.
const MASK: &str = "•••• •••• •••• ••••";

/// The handout's languages: Danish and English always, then the applicant's
/// where a translation exists.
fn languages(applicant_language: &str) -> Vec<String> {
    let mut out: Vec<String> = texts::ALWAYS.iter().map(|s| s.to_string()).collect();
    let l = applicant_language.trim().to_ascii_lowercase();
    if !out.contains(&l) && texts::find(&l).is_some() {
        out.push(l);
    }
    out
}

/// The letter as it will be, before the number exists.
#[tauri::command]
pub async fn handout_preview(shell: State<'_, Shell>, applicant: serde_json::Value) -> UiResult<HandoutPreview> {
    shell.with_session(|store, _, lang| {
        let settings = store.handout_settings().map_err(|e| UiError::core(lang, e))?;
        let desk = store.desk_info().map_err(|e| UiError::core(lang, e))?;
        let text = |k: &str| applicant.get(k).and_then(|v| v.as_str()).unwrap_or("").trim().to_string();
        let name =
            [text("given_names"), text("surname")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
        let muni = desk.municipality.parse::<u16>().ok().and_then(municipality::lookup).map(|m| m.name.to_string());
        Ok(HandoutPreview {
            municipality: muni.unwrap_or(desk.municipality),
            office: desk.office,
            name,
            password_mask: MASK,
            languages: languages(&text("language")),
            lapse_days: settings.lapse.days(),
            printer: settings.printer,
            training: desk.training,
        })
    })
}

/// The desk's printer and its name, or the core's sentence (none set, unknown queue).
pub fn printer(
    store: &Store,
    lang: skranke_core::i18n::Lang,
) -> UiResult<(Box<dyn skranke_core::print::Printer + Send + Sync>, String)> {
    let name = store.handout_settings().map_err(|e| UiError::core(lang, e))?.printer.unwrap_or_default();
    let p = store.desk_printer().map_err(|e| UiError::core(lang, e))?;
    Ok((p, name))
}

/// What became of a handout: printed (job), or the sentence saying it did not leave.
pub fn outcome(handed: HandedOut, printer: String, lang: skranke_core::i18n::Lang) -> (PrintResult, Option<UiError>) {
    let mut result =
        PrintResult { record_id: handed.record_id, username: handed.username.as_str().to_string(), printer, job: None };
    match handed.delivery {
        Ok(Delivered::Printed { job_id }) => {
            result.job = job_id;
            (result, None)
        }
        Ok(Delivered::Saved { .. }) => (result, None),
        Err(e) => (result, Some(UiError::core(lang, e))),
    }
}

/// A new handout with a new password for a record (clerk), printed at once.
/// For a record whose personal data was erased, `document` is the
/// applicant's document shown again (number, optional issuing state, the
/// names for the letter): the core checks it against the record and refuses
/// another document naming `document.number`.
#[tauri::command]
pub async fn record_reprint(
    shell: State<'_, Shell>,
    record_id: String,
    document: Option<PresentedDocument>,
) -> UiResult<PrintResult> {
    shell.with_session(|store, signed, lang| {
        let (p, name) = printer(store, lang)?;
        let handed = store
            .reprint_presenting(
                &signed.session,
                record_id.trim(),
                document.as_ref(),
                Local::now().date_naive(),
                Utc::now(),
                lang,
                Delivery::Print(p.as_ref()),
                &mut OsRandom,
            )
            .map_err(|e| UiError::core(lang, e))?;
        crate::give_back_freed_memory();
        match outcome(handed, name, lang) {
            (result, None) => Ok(result),
            (_, Some(e)) => Err(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handout_always_has_danish_and_english_and_adds_a_translated_language() {
        assert_eq!(languages("da"), ["da", "en"]);
        assert_eq!(languages("PL"), ["da", "en", "pl"]);
        assert_eq!(languages("xx"), ["da", "en"]);
    }

    #[test]
    fn the_mask_holds_no_character_of_any_password_alphabet() {
        assert!(MASK.chars().all(|c| c == '•' || c == ' '));
    }
}
