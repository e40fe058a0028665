/// Every command the desk window may call; each becomes a permission
/// (`allow-<name>`) that capabilities/default.json grants.
const COMMANDS: &[&str] = &[
    "app_info",
    "reference_data",
    "set_language",
    "desk_status",
    "desk_init",
    "sign_in",
    "sign_out",
    "change_password",
    "mrz_scan",
    "applicant_check",
    "issue",
    "handout_preview",
    "record_reprint",
    "records_search",
    "record_detail",
    "record_void",
    "sync_status",
    "sync_now",
    "report_day",
    "report_default_path",
    "settings_get",
    "settings_save",
    "staff_list",
    "staff_add",
    "staff_reset",
    "staff_disable",
];

fn main() {
    // Declaring the app's commands makes each one a permission that a
    // capability must grant: the window gets only what `capabilities/` lists.
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build script");
}
