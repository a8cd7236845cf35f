//! The Tauri commands of `docs/ui-contract.md`: each one unwraps its arguments, calls the same-named
//! [`Core`] method and maps errors to the contract's `{ code, message }`. No business rules live here.
//!
//! Tauri maps the webview's camelCase argument keys (`outTradeNo`) to these snake_case parameters.

use paydesk_core::close::{BillFetch, ChartDay, CloseDay, DayClose};
use paydesk_core::contract::{
    AppStatus, ApplicationRow, AuditPage, CertSource, CertificateView, ChainView, ConnectionTest, Dashboard,
    ExportResult, GuardCheck, MerchantInput, OrderDetail, OrderFilter, OrderPage, RefundView, SandboxDefaults,
    Settings, SetupInput, SyncStatus,
};
use paydesk_core::{Core, CoreError, Secret, UiError};
use tauri::State;

type Reply<T> = Result<T, UiError>;

fn ui(core: &Core) -> impl Fn(CoreError) -> UiError + '_ {
    move |e| core.ui_error(&e)
}

#[tauri::command]
pub async fn app_status(core: State<'_, Core>) -> Reply<AppStatus> {
    Ok(core.app_status().await)
}

#[tauri::command]
pub async fn vault_unlock(core: State<'_, Core>, password: Secret<String>) -> Reply<AppStatus> {
    core.vault_unlock(password.expose()).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn vault_lock(core: State<'_, Core>) -> Reply<AppStatus> {
    Ok(core.vault_lock().await)
}

#[tauri::command]
pub async fn vault_change_password(
    core: State<'_, Core>,
    old_password: Secret<String>,
    new_password: Secret<String>,
) -> Reply<()> {
    core.vault_change_password(old_password.expose(), new_password.expose()).await.map_err(ui(&core))
}

/// Webview activity (key presses, clicks), throttled by the UI: keeps the idle lock away.
#[tauri::command]
pub fn session_touch(core: State<'_, Core>) {
    core.touch();
}

#[tauri::command]
pub async fn settings_get(core: State<'_, Core>) -> Reply<Settings> {
    core.settings_get().await.map_err(ui(&core))
}

#[tauri::command]
pub async fn settings_update(core: State<'_, Core>, settings: Settings) -> Reply<Settings> {
    core.settings_update(settings).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn setup_sandbox_defaults(core: State<'_, Core>) -> Reply<SandboxDefaults> {
    core.setup_sandbox_defaults().await.map_err(ui(&core))
}

#[tauri::command]
pub fn setup_inspect_certificate(core: State<'_, Core>, source: CertSource, mch_id: String) -> Reply<CertificateView> {
    core.setup_inspect_certificate(&source, &mch_id).map_err(ui(&core))
}

#[tauri::command]
pub async fn setup_test_connection(
    core: State<'_, Core>,
    merchant: MerchantInput,
    api_key: Secret<String>,
    source: Option<CertSource>,
    sandbox: bool,
) -> Reply<ConnectionTest> {
    core.setup_test_connection(&merchant, api_key.expose(), source.as_ref(), sandbox).await.map_err(ui(&core))
}

#[allow(clippy::too_many_arguments)] // the contract's argument object, key by key
#[tauri::command]
pub async fn setup_complete(
    core: State<'_, Core>,
    merchant: MerchantInput,
    api_key: Secret<String>,
    source: Option<CertSource>,
    sandbox: bool,
    ledger_url: Option<Secret<String>>,
    owner_name: String,
    owner_password: Secret<String>,
) -> Reply<AppStatus> {
    let input = SetupInput { merchant, api_key, source, sandbox, ledger_url, owner_name, owner_password };
    core.setup_complete(input).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn orders_list(
    core: State<'_, Core>,
    filter: OrderFilter,
    cursor: Option<String>,
    limit: u32,
) -> Reply<OrderPage> {
    core.orders_list(&filter, cursor.as_deref(), limit).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn order_detail(core: State<'_, Core>, out_trade_no: String) -> Reply<OrderDetail> {
    core.order_detail(&out_trade_no).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn order_query_now(core: State<'_, Core>, out_trade_no: String) -> Reply<OrderDetail> {
    core.order_query_now(&out_trade_no).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn order_close(core: State<'_, Core>, out_trade_no: String) -> Reply<OrderDetail> {
    core.order_close(&out_trade_no).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn sync_status(core: State<'_, Core>) -> Reply<SyncStatus> {
    core.sync_status().await.map_err(ui(&core))
}

#[tauri::command]
pub async fn sync_now(core: State<'_, Core>) -> Reply<SyncStatus> {
    core.sync_now().await.map_err(ui(&core))
}

#[tauri::command]
pub async fn dashboard(core: State<'_, Core>) -> Reply<Dashboard> {
    core.dashboard().await.map_err(ui(&core))
}

#[tauri::command]
pub async fn staff_password_set(
    core: State<'_, Core>,
    owner_password: Secret<String>,
    staff_password: Option<Secret<String>>,
) -> Reply<()> {
    let staff = staff_password.as_ref().map(|p| p.expose().as_str());
    core.staff_password_set(owner_password.expose(), staff).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_applications_list(core: State<'_, Core>, status: String) -> Reply<Vec<ApplicationRow>> {
    core.refund_applications_list(&status).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_application_create(
    core: State<'_, Core>,
    out_trade_no: String,
    amount_fen: i64,
    reason: String,
) -> Reply<ApplicationRow> {
    core.refund_application_create(&out_trade_no, amount_fen, &reason).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_guards(core: State<'_, Core>, application_id: i64, amount_fen: i64) -> Reply<GuardCheck> {
    core.refund_guards(application_id, amount_fen).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_approve(
    core: State<'_, Core>,
    application_id: i64,
    amount_fen: i64,
    refund_desc: Option<String>,
    password: Option<Secret<String>>,
) -> Reply<RefundView> {
    let password = password.as_ref().map(|p| p.expose().as_str());
    core.refund_approve(application_id, amount_fen, refund_desc.as_deref(), password).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_reject(core: State<'_, Core>, application_id: i64, reason: String) -> Reply<ApplicationRow> {
    core.refund_reject(application_id, &reason).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refunds_list(core: State<'_, Core>, scope: String) -> Reply<Vec<RefundView>> {
    core.refunds_list(&scope).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_detail(core: State<'_, Core>, out_refund_no: String) -> Reply<RefundView> {
    core.refund_detail(&out_refund_no).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_query_now(core: State<'_, Core>, out_refund_no: String) -> Reply<RefundView> {
    core.refund_query_now(&out_refund_no).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_retry(
    core: State<'_, Core>,
    out_refund_no: String,
    password: Option<Secret<String>>,
) -> Reply<RefundView> {
    let password = password.as_ref().map(|p| p.expose().as_str());
    core.refund_retry(&out_refund_no, password).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn refund_mark_done(core: State<'_, Core>, out_refund_no: String, note: String) -> Reply<RefundView> {
    core.refund_mark_done(&out_refund_no, &note).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn audit_list(core: State<'_, Core>, before_seq: Option<i64>, limit: u32) -> Reply<AuditPage> {
    core.audit_list(before_seq, limit).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn audit_verify(core: State<'_, Core>) -> Reply<ChainView> {
    core.audit_verify().await.map_err(ui(&core))
}

#[tauri::command]
pub async fn audit_export_csv(core: State<'_, Core>) -> Reply<ExportResult> {
    core.audit_export_csv().await.map_err(ui(&core))
}

// ---- Daily close ---------------------------------------------------------------------------------------------------

#[tauri::command]
pub async fn close_calendar(core: State<'_, Core>, month: String) -> Reply<Vec<CloseDay>> {
    core.close_calendar(&month).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn close_day(core: State<'_, Core>, day: String) -> Reply<DayClose> {
    core.close_day(&day).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn close_chart(core: State<'_, Core>, days: u32) -> Reply<Vec<ChartDay>> {
    core.close_chart(days).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn bill_fetch(core: State<'_, Core>, day: String) -> Reply<BillFetch> {
    core.bill_fetch(&day).await.map_err(ui(&core))
}

/// The native "open file" dialog (tauri-plugin-dialog, from the Rust side: the webview gets no file-system
/// permission); `None` when cancelled.
#[tauri::command]
pub async fn bill_pick_file(app: tauri::AppHandle) -> Reply<Option<String>> {
    use tauri_plugin_dialog::DialogExt as _;
    let picked = tauri::async_runtime::spawn_blocking(move || {
        app.dialog().file().add_filter("WeChat Pay bill", &["csv", "txt", "gz", "gzip"]).blocking_pick_file()
    })
    .await
    .map_err(|e| UiError { code: "internal".into(), message: format!("file dialog: {e}") })?;
    Ok(picked.map(|p| match p.into_path() {
        Ok(path) => path.display().to_string(),
        Err(e) => e.to_string(),
    }))
}

#[tauri::command]
pub async fn bill_import(core: State<'_, Core>, path: String, day: Option<String>) -> Reply<BillFetch> {
    core.bill_import(&path, day.as_deref()).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn recon_run(core: State<'_, Core>, day: String) -> Reply<DayClose> {
    core.recon_run(&day).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn discrepancy_action(
    core: State<'_, Core>,
    id: i64,
    action: String,
    note: Option<String>,
) -> Reply<DayClose> {
    core.discrepancy_action(id, &action, note.as_deref()).await.map_err(ui(&core))
}

#[tauri::command]
pub async fn close_export_csv(core: State<'_, Core>, day: String, what: String) -> Reply<ExportResult> {
    core.close_export_csv(&day, &what).await.map_err(ui(&core))
}
