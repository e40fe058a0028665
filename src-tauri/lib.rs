//! The desk application's shell. Commands here are thin adapters: parse the
//! request, call `skranke_core`, map the outcome for the window (a value, or
//! a `UiError` with a sentence from the catalogs). No rule lives here.

mod desk;
mod error;
mod handout;
mod intake;
mod panels;
mod records;
mod reference;
mod settings;
mod staff;
mod state;
mod sync;
#[cfg(any(windows, test))]
mod webview;

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

/// Whether a graphical session is there to open a window in (Linux: an X11
/// or Wayland display named in the environment). Without one the windowing
/// library panics with a backtrace, so the app checks before Tauri starts.
#[cfg(target_os = "linux")]
fn has_display(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|name| var(name).is_some_and(|v| !v.is_empty()))
}

/// The language of what the app says before its window exists: the one
/// `SKRANKE_LANG` names (as for the CLI), else Danish.
#[cfg(any(target_os = "linux", windows))]
fn startup_lang() -> Lang {
    std::env::var("SKRANKE_LANG").ok().and_then(|code| Lang::from_code(&code)).unwrap_or_default()
}

/// Says plainly that the desk app needs a graphical session and points to
/// the CLI, in the start-up language, and ends the process with status 1.
#[cfg(target_os = "linux")]
fn exit_without_display() -> ! {
    eprintln!("{}", skranke_core::i18n::text(startup_lang(), "shell.no_display"));
    std::process::exit(1);
}

/// Builds and runs the desk application.
pub fn run() {
    #[cfg(target_os = "linux")]
    if !has_display(|name| std::env::var_os(name)) {
        exit_without_display();
    }
    #[cfg(windows)]
    webview::require_runtime();
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
            reference::reference_data,
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::ffi::OsString;

    use super::has_display;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn a_display_is_a_non_empty_x11_or_wayland_name() {
        assert!(has_display(env(&[("DISPLAY", ":0")])));
        assert!(has_display(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
        assert!(!has_display(env(&[])));
        assert!(!has_display(env(&[("DISPLAY", ""), ("WAYLAND_DISPLAY", "")])));
        assert!(!has_display(env(&[("XDG_SESSION_TYPE", "tty")])));
    }
}
