//! The sync panel (status, "sync now", refusals and notices) and the day report.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use skranke_core::i18n::{render, Lang};
use skranke_core::report::{self, ReportFormat, ReportHeading};
use skranke_core::store::Store;
use skranke_core::sync;
use tauri::{AppHandle, Manager, State};

use crate::sync::IfBusy;

use crate::error::{UiError, UiResult};
use crate::state::Shell;

/// A refused event (`RefusedEvent`): what the registry said, as a sentence.
#[derive(Debug, Serialize)]
pub struct RefusedEvent {
    pub event_id: String,
    pub kind: String,
    pub record_id: Option<String>,
    /// `conflict`, `invalid` or `unsendable`.
    pub verdict: String,
    pub reason: String,
    pub refused_at: String,
}

/// A notice from the registry (`DuplicateNotice`), with where this desk's
/// record stands, so a supervisor sees whether it was decided.
#[derive(Debug, Serialize)]
pub struct DuplicateNotice {
    pub id: i64,
    /// `duplicate_document`, `duplicate_review`, `number_conflict`, ….
    pub kind: String,
    pub record_id: Option<String>,
    pub other_record_id: Option<String>,
    pub other_desk_id: Option<String>,
    pub message: String,
    pub created_at: String,
    /// A duplicate person: a supervisor decides which number survives.
    pub duplicate: bool,
    /// This desk's record's status (`issued`, `voided`), if the desk has it.
    pub record_status: Option<String>,
    pub replaced_by: Option<String>,
}

/// What the last sync run did (`SyncCounts`).
#[derive(Debug, Serialize)]
pub struct SyncCounts {
    pub uploaded: u64,
    pub accepted: u64,
    pub already_held: u64,
    pub refused: u64,
    pub pending: u64,
}

/// What waits and what the desk holds (`SyncView`).
#[derive(Debug, Serialize)]
pub struct SyncView {
    pub training: bool,
    pub enrolled: bool,
    pub online: Option<bool>,
    pub syncing: bool,
    /// Record events (issued, reprinted, voided) the registry has not answered.
    pub queued: i64,
    pub oldest_unsynced: Option<String>,
    pub oldest_age_secs: Option<i64>,
    pub reserve_left: usize,
    pub reserve_low: bool,
    pub last_sync: Option<String>,
    pub last_report: Option<SyncCounts>,
    pub last_error: Option<String>,
    pub clock_behind: bool,
    pub retired: bool,
    pub refused: Vec<RefusedEvent>,
    pub notices: Vec<DuplicateNotice>,
}

/// A catalog sentence for a registry code, or the code itself in a sentence
/// when this version has no text for it (a newer registry).
fn coded(lang: Lang, prefix: &str, code: &str, args: &[(&str, &str)]) -> String {
    let key = format!("{prefix}.{code}");
    let text = render(lang, &key, args);
    if text == key {
        let mut with_code = args.to_vec();
        with_code.push(("code", code));
        render(lang, &format!("{prefix}.other"), &with_code)
    } else {
        text
    }
}

fn refused_view(r: sync::RefusedEvent, lang: Lang) -> RefusedEvent {
    let reason = r.reason.as_deref().unwrap_or(&r.outcome).to_string();
    let reason = match (r.outcome.as_str(), reason.split_once(':')) {
        // CPR or Jobnet refused the record: who, why, and what to do.
        ("refused_downstream", Some((system, code))) => {
            let system = render(lang, &format!("shell.downstream_system.{system}"), &[]);
            render(lang, "shell.refused_downstream", &[("system", &system), ("code", code)])
        }
        _ => coded(lang, "shell.refused", &reason, &[]),
    };
    RefusedEvent {
        reason,
        event_id: r.idempotency_key,
        kind: r.kind,
        record_id: r.record_id,
        verdict: r.outcome,
        refused_at: r.refused_at,
    }
}

fn notice_view(store: &mut Store, n: sync::DeskNotice, lang: Lang) -> Result<DuplicateNotice, skranke_core::Error> {
    let standing = match &n.record_id {
        Some(id) => store.record_standing(id)?,
        None => None,
    };
    let none = "-";
    let municipality = n.other_municipality.map(|m| format!("{m:03}"));
    let message = coded(
        lang,
        "shell.notice",
        &n.kind,
        &[
            ("record", n.record_id.as_deref().unwrap_or(none)),
            ("other_record", n.other_record_id.as_deref().unwrap_or(none)),
            ("other_desk", n.other_desk_id.as_deref().unwrap_or(none)),
            ("municipality", municipality.as_deref().unwrap_or(none)),
        ],
    );
    Ok(DuplicateNotice {
        duplicate: matches!(n.kind.as_str(), "duplicate_document" | "duplicate_review"),
        record_status: standing.as_ref().map(|s| s.status.clone()),
        replaced_by: standing.and_then(|s| s.replaced_by),
        id: n.id,
        kind: n.kind,
        record_id: n.record_id,
        other_record_id: n.other_record_id,
        other_desk_id: n.other_desk_id,
        message,
        created_at: n.created_at,
    })
}

/// The sync panel's view from the store and the shell's link state.
pub fn view(shell: &Shell, store: &mut Store, lang: Lang) -> UiResult<SyncView> {
    let core = |e| UiError::core(lang, e);
    let status = sync::status(store, Utc::now()).map_err(core)?;
    let outbox = store.outbox_status().map_err(core)?;
    let link = shell.link();
    let training = status.training;
    let mut notices = Vec::with_capacity(status.notices.len());
    for n in status.notices {
        notices.push(notice_view(store, n, lang).map_err(core)?);
    }
    Ok(SyncView {
        training,
        enrolled: !training && status.registry_url.is_some(),
        online: if training { None } else { link.online },
        syncing: link.syncing,
        queued: if training { 0 } else { outbox.queued },
        oldest_unsynced: if training { None } else { status.oldest_unsynced_at },
        oldest_age_secs: if training { None } else { status.oldest_unsynced_age_secs },
        reserve_left: status.reserve_tightest_left.unwrap_or(status.reserve_units),
        reserve_low: status.reserve_low,
        last_sync: status.last_success,
        last_report: link.last_report.map(|r| SyncCounts {
            uploaded: r.uploaded,
            accepted: r.accepted,
            already_held: r.already_held,
            refused: r.conflict + r.invalid,
            pending: r.pending,
        }),
        last_error: link.last_error,
        clock_behind: status.clock_behind,
        retired: status.retired,
        refused: status.refused.into_iter().map(|r| refused_view(r, lang)).collect(),
        notices,
    })
}

/// The report as saved (`ReportResult`).
#[derive(Debug, Serialize)]
pub struct ReportResult {
    pub path: String,
    pub rows: usize,
}

/// The desk's queue, reserve, refusals and notices (desk-level: no personal data).
#[tauri::command]
pub async fn sync_status(shell: State<'_, Shell>) -> UiResult<SyncView> {
    shell.with_store(|store, lang| view(&shell, store, lang))
}

/// Syncs with the registry now, as the desk, on the sync's own connection
/// (a blocking thread: the window and the clerk's store stay free), then
/// answers the panel's view with the run's counts.
#[tauri::command]
pub async fn sync_now(app: AppHandle, shell: State<'_, Shell>) -> UiResult<SyncView> {
    let lang = shell.lang();
    if shell.with_store(|store, _| Ok(store.is_training()))? {
        return Err(UiError::text(lang, "shell.error.sync_training", &[]));
    }
    let worker = app.clone();
    let outcome = tauri::async_runtime::spawn_blocking(move || {
        let shell = worker.state::<Shell>();
        crate::sync::run(&shell, IfBusy::Wait).map(|r| r.map(|_| ()))
    })
    .await
    .map_err(|_| UiError::text(lang, "shell.error.sync_stopped", &[]))?;
    if let Some(Err(e)) = outcome {
        return Err(UiError::core(lang, e));
    }
    shell.with_store(|store, lang| view(&shell, store, lang))
}

fn home() -> PathBuf {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Where the report goes unless the supervisor says otherwise: the home folder.
#[tauri::command]
pub async fn report_default_path(date: String, format: String) -> UiResult<String> {
    let ext = ReportFormat::from_code(&format).map_or("csv", ReportFormat::code);
    let day = date.trim().parse::<NaiveDate>().map(|d| d.to_string()).unwrap_or_else(|_| "dag".into());
    Ok(home().join(format!("skranke-{day}.{ext}")).to_string_lossy().into_owned())
}

/// Writes this desk's records of a day as CSV or PDF (supervisor; audited by the core).
#[tauri::command]
pub async fn report_day(shell: State<'_, Shell>, date: String, format: String, path: String) -> UiResult<ReportResult> {
    shell.with_session(|store, signed, lang| {
        let mut fields = Vec::new();
        let day = date.trim().parse::<NaiveDate>().ok();
        if day.is_none() {
            fields.push(UiError::field(lang, "date", "date", "shell.error.date", &[]).fields.remove(0));
        }
        let fmt = ReportFormat::from_code(&format);
        if fmt.is_none() {
            fields.push(UiError::field(lang, "format", "format", "shell.error.format", &[]).fields.remove(0));
        }
        let out = Path::new(path.trim());
        if !out.is_absolute() || out.file_name().is_none() {
            fields.push(UiError::field(lang, "path", "path", "shell.error.path", &[]).fields.remove(0));
        }
        let (Some(day), Some(fmt), true) = (day, fmt, fields.is_empty()) else {
            return Err(UiError::fields(fields));
        };
        let tz = report::desk_time_zone();
        let zone = report::time_zone_name(&tz);
        let rows = store.day_report(&signed.session, day, &tz, fmt, Utc::now()).map_err(|e| UiError::core(lang, e))?;
        let bytes = match fmt {
            ReportFormat::Csv => report::to_csv(&rows, &zone, lang).into_bytes(),
            ReportFormat::Pdf => {
                let desk = store.desk_info().map_err(|e| UiError::core(lang, e))?;
                let heading = ReportHeading {
                    desk_id: desk.desk_id,
                    office: desk.office,
                    desk_number: desk.desk_number,
                    training: desk.training,
                    time_zone: zone,
                };
                report::to_pdf(&rows, day, &heading, lang)
            }
        };
        std::fs::write(out, bytes).map_err(|e| {
            let shown = out.display().to_string();
            UiError::field(lang, "path", "write", "shell.error.write", &[("path", &shown), ("detail", &e.to_string())])
        })?;
        Ok(ReportResult { path: out.display().to_string(), rows: rows.len() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(outcome: &str, reason: &str) -> sync::RefusedEvent {
        sync::RefusedEvent {
            idempotency_key: "D1-2/issued".into(),
            kind: "issued".into(),
            record_id: Some("D1-2".into()),
            outcome: outcome.into(),
            reason: Some(reason.into()),
            refused_at: "2026-11-27T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_downstream_refusal_names_the_system_its_code_and_what_to_do() {
        let v = refused_view(refused("refused_downstream", "jobnet:username_taken"), Lang::En);
        assert_eq!(v.verdict, "refused_downstream");
        assert!(v.reason.starts_with("Jobnet refused the record (username_taken)."), "{}", v.reason);
        assert!(v.reason.contains("reprint"), "{}", v.reason);
        let da = refused_view(refused("refused_downstream", "cpr:number_in_use"), Lang::Da);
        assert!(da.reason.starts_with("CPR afviste sagen (number_in_use)."), "{}", da.reason);
    }

    #[test]
    fn a_registry_refusal_keeps_its_own_sentence() {
        let v = refused_view(refused("conflict", "number_conflict"), Lang::En);
        assert_eq!(v.reason, render(Lang::En, "shell.refused.number_conflict", &[]));
    }
}
