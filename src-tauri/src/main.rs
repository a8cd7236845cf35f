//! Paydesk desktop app: window, commands and events over paydesk-core (work in progress).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("Paydesk could not start: {e}");
        std::process::exit(1);
    }
}
