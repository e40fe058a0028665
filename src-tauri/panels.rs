//! The sync panel's status and the day report.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use skranke_core::report::{self, ReportFormat, ReportHeading};
use tauri::State;

use crate::error::{UiError, UiResult};
use crate::state::Shell;

/// A refused event (`RefusedEvent`).
#[derive(Debug, Serialize)]
pub struct RefusedEvent {
    pub event_id: String,
    pub record_id: Option<String>,
    pub verdict: &'static str,
    pub reason: String,
}

/// A duplicate notice from the registry (`DuplicateNotice`).
#[derive(Debug, Serialize)]
pub struct DuplicateNotice {
    pub record_id: String,
    pub other_record_id: String,
    pub kind: &'static str,
    pub message: String,
}

/// What waits and what the desk holds (`SyncView`).
#[derive(Debug, Serialize)]
pub struct SyncView {
    pub training: bool,
    pub enrolled: bool,
    pub online: Option<bool>,
    pub queued: i64,
    pub oldest_unsynced: Option<String>,
    pub reserve_left: usize,
    pub reserve_low: bool,
    pub last_sync: Option<String>,
    pub refused: Vec<RefusedEvent>,
    pub notices: Vec<DuplicateNotice>,
}

/// The report as saved (`ReportResult`).
#[derive(Debug, Serialize)]
pub struct ReportResult {
    pub path: String,
    pub rows: usize,
}

/// The desk's queue and reserve (desk-level: no personal data).
#[tauri::command]
pub async fn sync_status(shell: State<'_, Shell>) -> UiResult<SyncView> {
    shell.with_store(|store, lang| {
        let lease = store.lease_status().map_err(|e| UiError::core(lang, e))?;
        let outbox = store.outbox_status().map_err(|e| UiError::core(lang, e))?;
        Ok(SyncView {
            training: lease.training,
            enrolled: !lease.training,
            online: None,
            queued: if lease.training { 0 } else { outbox.queued },
            oldest_unsynced: if lease.training { None } else { outbox.oldest_unsent },
            reserve_left: lease.tightest.as_ref().map_or(lease.units, |t| t.left),
            reserve_low: lease.low,
            last_sync: None,
            refused: Vec::new(),
            notices: Vec::new(),
        })
    })
}

/// Syncs with the registry now.
#[tauri::command]
pub async fn sync_now(shell: State<'_, Shell>) -> UiResult<SyncView> {
    let lang = shell.lang();
    let training = shell.with_store(|store, _| Ok(store.is_training()))?;
    let key = if training { "shell.error.sync_training" } else { "shell.error.sync_unavailable" };
    Err(UiError::text(lang, key, &[]))
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
        let rows = store.day_report(&signed.session, day, fmt, Utc::now()).map_err(|e| UiError::core(lang, e))?;
        let bytes = match fmt {
            ReportFormat::Csv => report::to_csv(&rows, lang).into_bytes(),
            ReportFormat::Pdf => {
                let desk = store.desk_info().map_err(|e| UiError::core(lang, e))?;
                let heading = ReportHeading {
                    desk_id: desk.desk_id,
                    office: desk.office,
                    desk_number: desk.desk_number,
                    training: desk.training,
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
