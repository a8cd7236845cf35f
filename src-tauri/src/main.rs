//! Paydesk desktop app: opens the window, keeps one [`paydesk_core::Core`] in Tauri's state, serves the
//! commands of `docs/ui-contract.md` ([`commands`]), forwards the core's events to the webview and runs the
//! background status sync and idle lock. Business rules live in paydesk-core, never here.
//!
//! Environment (for the sandbox script and the end-to-end tests; a shop owner sets none of them):
//! `PAYDESK_DATA_DIR` overrides the app data directory (default: Tauri's per-user app data dir, which is
//! `%APPDATA%\com.paydesk.desktop` on Windows); `PAYDESK_SYNC_SECONDS` the sync interval (default 60);
//! `PAYDESK_REFUND_MIN_INTERVAL_MS` the least time between two refund requests on one order (default 60000,
//! WeChat's one a minute; the end-to-end tests lengthen it so the "interval" guard holds however slow the run);
//! `PAYDESK_DEMO_PASSWORD` unlocks a **sandbox** desk at start (the demo's password; ignored for a real merchant);
//! `PAYDESK_STARTUP_FILE` receives the milliseconds from process start to the webview's first screen
//! (`scripts/bench-app`).
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

/// `PAYDESK_REFUND_MIN_INTERVAL_MS`, when set.
fn refund_min_interval_from_env() -> Option<chrono::Duration> {
    let ms = std::env::var("PAYDESK_REFUND_MIN_INTERVAL_MS").ok()?.trim().parse::<i64>().ok()?;
    Some(chrono::Duration::milliseconds(ms.max(0)))
}

/// When the process started (for the start-up measurement).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// The webview says its first screen is painted: writes the elapsed milliseconds to `PAYDESK_STARTUP_FILE`, once.
#[tauri::command]
fn ui_first_screen() {
    static REPORTED: std::sync::Once = std::sync::Once::new();
    REPORTED.call_once(|| {
        let Some(started) = STARTED.get() else { return };
        let ms = started.elapsed().as_millis();
        if let Some(path) = std::env::var_os("PAYDESK_STARTUP_FILE") {
            if let Err(e) = std::fs::write(&path, format!("{ms}\n")) {
                eprintln!("start-up time not written: {e}");
            }
        }
    });
}

/// The sandbox demo opens unlocked (its password is public: `paydesk-demo`). A real merchant's desk never is.
fn unlock_demo(core: &Core) {
    let Some(password) = std::env::var("PAYDESK_DEMO_PASSWORD").ok().filter(|p| !p.is_empty()) else { return };
    tauri::async_runtime::block_on(async {
        let sandbox = core.app_status().await.merchant.is_some_and(|m| m.sandbox);
        if !sandbox {
            eprintln!("PAYDESK_DEMO_PASSWORD ignored: this desk is not the sandbox");
            return;
        }
        if let Err(e) = core.vault_unlock(&password).await {
            eprintln!("the sandbox desk did not unlock: {}", core.ui_error(&e));
        }
    });
}

fn setup(app: &mut tauri::App) -> Result<(), Box<dyn std::error::Error>> {
    let dir = data_dir(app)?;
    std::fs::create_dir_all(&dir)?;
    // CSV exports go to the OS's Downloads folder (Tauri's path API: the same on Windows, macOS and Linux).
    let mut options = CoreOptions { exports_dir: app.path().download_dir().ok(), ..CoreOptions::default() };
    if let Some(interval) = refund_min_interval_from_env() {
        options.refund_min_interval = interval;
    }
    let core = Core::open(dir, options).map_err(|e| e.to_string())?;
    unlock_demo(&core);

    // Core events → webview events of the same name.
    let mut events = core.subscribe();
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let paydesk_core::CoreEvent::ApplicationsNew { applications } = &event {
                        notify_desktop(&handle, applications);
                    }
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

/// A desktop notification for new refund applications (the webview shows its own as well). Without a
/// notification service (a bare X server) it is skipped quietly.
fn notify_desktop(handle: &tauri::AppHandle, applications: &[paydesk_core::contract::ApplicationRow]) {
    use tauri_plugin_notification::NotificationExt as _;
    let Some(first) = applications.first() else { return };
    let zh = handle.state::<Core>().locale() == paydesk_core::Locale::ZhCn;
    let amount = paydesk_core::contract::yuan_text(first.amount_fen);
    let (title, body) = match (applications.len(), zh) {
        (1, true) => ("新的退款申请".to_string(), format!("订单 {} 申请退款 {amount}", first.order.out_trade_no)),
        (1, false) => {
            ("New refund application".to_string(), format!("Order {} asks for {amount} back", first.order.out_trade_no))
        }
        (n, true) => ("新的退款申请".to_string(), format!("{n} 笔新的退款申请等待处理")),
        (n, false) => ("New refund applications".to_string(), format!("{n} new refund applications are waiting")),
    };
    if let Err(e) = handle.notification().builder().title(title).body(body).show() {
        eprintln!("desktop notification not shown: {e}");
    }
}

/// GTK cannot start without a display; say so instead of panicking deep inside it.
fn has_display() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

fn main() {
    STARTED.get_or_init(std::time::Instant::now);
    // WebKitGTK's GPU compositing: with software GL (VMs, remote desktops, Xvfb, older laptops) it tripled the time
    // to the first screen and added ~120 MiB to the web process (scripts/bench-app), and it buys a form-and-table
    // console nothing. Off unless the owner's environment says otherwise (docs/decisions/0010-desktop-start-up.md).
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    if !has_display() {
        eprintln!("Paydesk needs a display: none is set (DISPLAY / WAYLAND_DISPLAY). Run it in a desktop session, or under Xvfb (scripts/sandbox does that).");
        std::process::exit(1);
    }
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
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
            commands::staff_password_set,
            commands::refund_applications_list,
            commands::refund_application_create,
            commands::refund_guards,
            commands::refund_approve,
            commands::refund_reject,
            commands::refunds_list,
            commands::refund_detail,
            commands::refund_query_now,
            commands::refund_retry,
            commands::refund_mark_done,
            commands::audit_list,
            commands::audit_verify,
            commands::audit_export_csv,
            commands::close_calendar,
            commands::close_day,
            commands::close_chart,
            commands::bill_fetch,
            commands::bill_pick_file,
            commands::bill_import,
            commands::recon_run,
            commands::discrepancy_action,
            commands::close_export_csv,
            ui_first_screen,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("Paydesk could not start: {e}");
        std::process::exit(1);
    }
}
