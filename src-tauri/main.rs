// No console window behind the desk app on Windows when it serves the UI
// from the binary (release builds, and the debug build that the Windows
// test and the MSI use); `tauri dev` keeps its console for the logs.
#![cfg_attr(any(not(debug_assertions), feature = "custom-protocol"), windows_subsystem = "windows")]

fn main() {
    skranke_desk::run();
}
