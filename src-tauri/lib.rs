//! The desk application's shell. Commands here are thin adapters: parse the
//! request, call `skranke_core`, map the outcome for the window (a value, or
//! a `UiError` with a sentence from the catalogs). No rule lives here.

mod error;
mod intake;

use std::sync::Mutex;

use chrono::Local;
use serde::Serialize;
use skranke_core::applicant::IntakeContext;
use skranke_core::i18n::Lang;
use tauri::State;

use error::{UiError, UiResult};

/// The shell's state: the desk's language for messages.
pub struct Shell {
    lang: Mutex<Lang>,
}

impl Shell {
    fn lang(&self) -> Lang {
        self.lang.lock().map(|l| *l).unwrap_or_default()
    }
}

/// What the window shows in its footer: the product and the core's version.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub name: &'static str,
    pub version: &'static str,
}

/// The application's name and the core's version.
#[tauri::command]
fn app_info() -> AppInfo {
    AppInfo { name: "Skranke", version: skranke_core::VERSION }
}

/// The language of the core's messages follows the window's switch.
#[tauri::command]
fn set_language(shell: State<'_, Shell>, lang: String) -> UiResult<()> {
    let current = shell.lang();
    let l = Lang::from_code(&lang).ok_or_else(|| UiError::text(current, "shell.error.language", &[]))?;
    if let Ok(mut slot) = shell.lang.lock() {
        *slot = l;
    }
    Ok(())
}

/// Parses a scanned machine-readable zone into a draft of the form.
#[tauri::command]
fn mrz_scan(shell: State<'_, Shell>, text: String) -> UiResult<intake::MrzScan> {
    intake::scan(&text, Local::now().date_naive(), shell.lang())
}

/// Checks the form against every intake rule (live, as the clerk types).
#[tauri::command]
fn applicant_check(shell: State<'_, Shell>, applicant: serde_json::Value) -> UiResult<intake::ApplicantCheck> {
    let ctx = IntakeContext { today: Local::now().date_naive(), desk_municipality: 0 };
    Ok(intake::check(&applicant, &ctx, shell.lang()))
}

/// Builds and runs the desk application.
pub fn run() {
    tauri::Builder::default()
        .manage(Shell { lang: Mutex::new(Lang::default()) })
        .invoke_handler(tauri::generate_handler![app_info, set_language, mrz_scan, applicant_check])
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("skranke-desk: cannot start the application: {e}");
            std::process::exit(1);
        });
}
