fn main() {
    // Declaring the app's commands makes each one a permission that a
    // capability must grant: the window gets only what `capabilities/` lists.
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&["app_info"])),
    )
    .expect("tauri build script");
}
