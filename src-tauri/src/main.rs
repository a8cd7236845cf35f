//! Paydesk desktop app: opens the window, keeps one [`paydesk_core::Core`] in Tauri's state, serves the
//! commands of `docs/ui-contract.md` ([`commands`]), forwards the core's events to the webview and runs the
//! background status sync and idle lock. Business rules live in paydesk-core, never here.
//!
//! Environment (for the sandbox script and the end-to-end tests; a shop owner sets none of them):
//! `PAYDESK_DATA_DIR` overrides the app data directory (default: Tauri's per-user app data dir, which is
//! `%APPDATA%\com.paydesk.desktop` on Windows); `PAYDESK_SYNC_SECONDS` the sync interval (default 60).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;

use std::path::PathBuf;
use std::time::Duration;

use paydesk_core::{BackgroundOptions, Core, CoreOptions};
use tauri::{Emitter, Manager};

fn data_dir(app: &tauri::App) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PAYDESK_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    app.path().app_data_dir().map_err(|e| format!("no app data directory: {e}"))
}

fn background_options() -> BackgroundOptions {
    let mut options = BackgroundOptions::default();
    if let Some(secs) = std::env::var("PAYDESK_SYNC_SECONDS").ok().and_then(|s| s.parse::<u64>().ok()) {
        options.sync_every = Duration::from_secs(secs.max(1));
    }
    options
}

fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    let dir = data_dir(app)?;
    std::fs::create_dir_all(&dir)?;
    let core = Core::open(dir, CoreOptions::default()).map_err(|e| e.to_string())?;

    // Core events → webview events of the same name.
    let mut events = core.subscribe();
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    let _ = handle.emit(event.name(), event.payload());
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });

    let background = core.clone();
    let options = background_options();
    tauri::async_runtime::spawn(async move { background.run_background(options, std::future::pending()).await });

    app.manage(core);
    Ok(())
}

/// GTK cannot start without a display; say so instead of panicking deep inside it.
fn has_display() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

fn main() {
    if !has_display() {
        eprintln!("Paydesk needs a display: none is set (DISPLAY / WAYLAND_DISPLAY). Run it in a desktop session, or under Xvfb (scripts/sandbox does that).");
        std::process::exit(1);
    }
    let result = tauri::Builder::default()
        .setup(setup)
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::vault_unlock,
            commands::vault_lock,
            commands::vault_change_password,
            commands::session_touch,
            commands::settings_get,
            commands::settings_update,
            commands::setup_sandbox_defaults,
            commands::setup_inspect_certificate,
            commands::setup_test_connection,
            commands::setup_complete,
            commands::orders_list,
            commands::order_detail,
            commands::order_query_now,
            commands::order_close,
            commands::sync_status,
            commands::sync_now,
            commands::dashboard,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("Paydesk could not start: {e}");
        std::process::exit(1);
    }
}
