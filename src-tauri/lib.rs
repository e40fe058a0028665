//! The desk application's shell. Commands here are thin adapters: parse the
//! request, call `skranke_core`, map the outcome for the UI. No rule lives here.

use serde::Serialize;

/// What the window shows in its header: the product and the core's version.
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

/// Builds and runs the desk application.
pub fn run() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![app_info])
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("skranke-desk: cannot start the application: {e}");
            std::process::exit(1);
        });
}
