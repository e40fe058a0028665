//! The desk application's shell. Commands here are thin adapters: parse the
//! request, call `skranke_core`, map the outcome for the window (a value, or
//! a `UiError` with a sentence from the catalogs). No rule lives here.

mod desk;
mod error;
mod handout;
mod intake;
mod panels;
mod records;
mod settings;
mod staff;
mod state;
mod sync;

use chrono::Local;
use serde::Serialize;
use skranke_core::i18n::Lang;
use tauri::State;

use error::{UiError, UiResult};
use state::Shell;

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
    let l = Lang::from_code(&lang).ok_or_else(|| UiError::text(shell.lang(), "shell.error.language", &[]))?;
    shell.set_lang(l);
    Ok(())
}

/// Parses a scanned machine-readable zone into a draft of the form (desk-level).
#[tauri::command]
fn mrz_scan(shell: State<'_, Shell>, text: String) -> UiResult<intake::MrzScan> {
    intake::scan(&text, Local::now().date_naive(), shell.lang())
}

/// Every Argon2id hash (a 19 MiB block, on whichever thread runs the
/// command) would otherwise raise glibc's dynamic mmap threshold: the next
/// blocks then come from per-thread arenas that keep them after the free.
/// A fixed threshold (which also turns the dynamic one off) makes each such
/// block a mapping of its own, given back to the system when freed.
/// Measured in docs/PERFORMANCE.md (PSS after 20 issues).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn give_back_large_blocks() {
    // SAFETY: mallopt only sets an allocator parameter; it is called before
    // any other thread of this process exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Hands the memory freed by a command that built a handout (the PDF's font
/// subsetting and layout allocate many small blocks on whichever worker
/// thread ran it) back to the system, instead of keeping it in that
/// thread's malloc arena until the next such command. Measured in
/// docs/PERFORMANCE.md (PSS after 20 issues).
pub(crate) fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own
    // arenas; it takes the arenas' locks like any allocation does.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Builds and runs the desk application.
pub fn run() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    give_back_large_blocks();
    tauri::Builder::default()
        .manage(Shell::new())
        .setup(|app| {
            sync::start_background(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            app_info,
            set_language,
            mrz_scan,
            desk::desk_status,
            desk::desk_init,
            desk::sign_in,
            desk::sign_out,
            desk::change_password,
            records::applicant_check,
            records::issue,
            records::records_search,
            records::record_detail,
            records::record_void,
            handout::handout_preview,
            handout::record_reprint,
            panels::sync_status,
            panels::sync_now,
            panels::report_day,
            panels::report_default_path,
            settings::settings_get,
            settings::settings_save,
            staff::staff_list,
            staff::staff_add,
            staff::staff_reset,
            staff::staff_disable,
        ])
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("skranke-desk: cannot start the application: {e}");
            std::process::exit(1);
        });
}
