//! The handout: preview (the password never leaves this process), print, reprint.
//! Waits for the core's credentials and letter (issue 5) to be merged here.

use serde::Serialize;
use tauri::State;

use crate::error::{UiError, UiResult};
use crate::state::Shell;

/// The handout as previewed (`HandoutPreview`).
#[derive(Debug, Serialize)]
pub struct HandoutPreview {
    pub record_id: String,
    pub reference: String,
    pub municipality: String,
    pub office: String,
    pub name: String,
    pub number: String,
    pub username: String,
    pub password_mask: String,
    pub languages: Vec<String>,
    pub lapse_days: u32,
    pub issue_date: String,
    pub printer: Option<String>,
    pub training: bool,
}

/// A spooled print job (`PrintResult`).
#[derive(Debug, Serialize)]
pub struct PrintResult {
    pub record_id: String,
    pub number: String,
    pub printer: String,
    pub job: String,
}

#[tauri::command]
pub async fn handout_preview(shell: State<'_, Shell>, record_id: String) -> UiResult<HandoutPreview> {
    let _ = record_id;
    Err(UiError::text(shell.lang(), "shell.error.not_available", &[]))
}

#[tauri::command]
pub async fn handout_print(shell: State<'_, Shell>, record_id: String) -> UiResult<PrintResult> {
    let _ = record_id;
    Err(UiError::text(shell.lang(), "shell.error.not_available", &[]))
}

#[tauri::command]
pub async fn record_reprint(shell: State<'_, Shell>, record_id: String) -> UiResult<PrintResult> {
    let _ = record_id;
    Err(UiError::text(shell.lang(), "shell.error.not_available", &[]))
}
