//! The Tauri commands of `docs/ui-contract.md`: each one unwraps its arguments, calls the same-named
//! [`Core`] method and maps errors to the contract's `{ code, message }`. No business rules live here.
//!
//! Tauri maps the webview's camelCase argument keys (`outTradeNo`) to these snake_case parameters.

use paydesk_core::contract::{
    AppStatus, CertSource, CertificateView, ConnectionTest, Dashboard, MerchantInput, OrderDetail, OrderFilter,
    OrderPage, SandboxDefaults, Settings, SetupInput, SyncStatus,
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
