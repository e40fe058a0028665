//! An empty Tauri window (about:blank), the baseline for the desk's memory
//! benchmark (scripts/bench/40-desk-window.sh): the same Tauri, WebKitGTK and
//! configuration as the desk, without the desk.

fn main() {
    let mut context = tauri::generate_context!("tauri.conf.json");
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        .setup(|app| {
            let url = tauri::WebviewUrl::External("about:blank".parse().expect("a fixed URL"));
            tauri::WebviewWindowBuilder::new(app, "main", url).title("empty").inner_size(1200.0, 800.0).build()?;
            Ok(())
        })
        .run(context)
        .unwrap_or_else(|e| {
            eprintln!("empty_window: {e}");
            std::process::exit(1);
        });
}
