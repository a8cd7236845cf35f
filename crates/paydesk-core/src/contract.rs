//! The shapes of `docs/ui-contract.md`, field for field: what the shell passes in (camelCase argument objects are
//! mapped to parameters by Tauri; the structs inside keep the contract's snake_case keys) and what it returns as
//! JSON. Money is integer fen (`*_fen`), times are RFC 3339 UTC strings ([`rfc3339`]), days are Beijing days.
//!
//! Nothing here holds a secret that serializes: secrets come in as [`Secret`] (deserialize only).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Locale;
use crate::secret::Secret;

/// `2024-03-01T04:05:06Z`: UTC, whole seconds, as the contract writes it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn opt_rfc3339(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(rfc3339)
}

/// `'absent' | 'locked' | 'unlocked'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VaultState {
    Absent,
    Locked,
    Unlocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantInfo {
    pub appid: String,
    pub mch_id: String,
    pub sign_type: wxpay::SignType,
    pub sandbox: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerInfo {
    /// `sqlite` or `postgres`.
    pub kind: String,
    /// The file path, or the PostgreSQL URL without its password.
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    /// `owner` or `staff`.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppStatus {
    pub vault: VaultState,
    pub merchant: Option<MerchantInfo>,
    pub ledger: Option<LedgerInfo>,
    pub certificate: Option<CertificateView>,
    pub user: Option<UserInfo>,
    /// A staff login (its own password) is set up.
    pub staff_login: bool,
}

/// The owner's preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Lock after this many minutes without activity; 0 never locks.
    pub idle_lock_minutes: u32,
    /// Refunds above this ask for the owner password again when they are sent.
    pub refund_password_threshold_fen: i64,
    pub locale: Locale,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { idle_lock_minutes: 15, refund_password_threshold_fen: 50_000, locale: Locale::ZhCn }
    }
}

/// `{ appid, mch_id, sign_type }` as typed in the wizard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantInput {
    pub appid: String,
    pub mch_id: String,
    pub sign_type: wxpay::SignType,
}

/// Where the API certificate comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CertSource {
    /// `apiclient_cert.p12`; `password: null` means the mch_id (WeChat's default).
    P12 { path: String, password: Option<Secret<String>> },
    /// `apiclient_cert.pem` + `apiclient_key.pem`.
    Pem { cert_path: String, key_path: String },
}

/// A certificate warning: `expired`, `expires_soon`, `mch_id_not_in_subject`, `key_mismatch`, `not_yet_valid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertWarning {
    pub code: &'static str,
    pub message: String,
}

/// The contract's `CertificateInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateView {
    pub subject: String,
    pub issuer: String,
    pub serial_hex: String,
    pub not_before: String,
    pub not_after: String,
    pub days_until_expiry: i64,
    pub warnings: Vec<CertWarning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionTest {
    /// True only when orderquery for a made-up order came back ORDERNOTEXIST with a valid signature.
    pub ok: bool,
    pub code: &'static str,
    pub message: String,
    pub elapsed_ms: u64,
}

/// What the sandbox button fills in. The simulator's key is not a secret (it is in its sample config), so it is
/// returned as `api_key_hint`, which the wizard uses as the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxDefaults {
    pub base_url: String,
    pub ca_path: String,
    pub merchant: MerchantInput,
    pub api_key_hint: String,
    pub p12_path: String,
}

/// `setup_complete`'s arguments.
#[derive(Debug, Deserialize)]
pub struct SetupInput {
    pub merchant: MerchantInput,
    pub api_key: Secret<String>,
    pub source: Option<CertSource>,
    pub sandbox: bool,
    /// `None`: the SQLite file in the data directory.
    pub ledger_url: Option<Secret<String>>,
    pub owner_name: String,
    pub owner_password: Secret<String>,
}

/// The order list's filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderFilter {
    /// Empty: every state.
    pub states: Vec<String>,
    /// Beijing day, inclusive (`YYYY-MM-DD`).
    pub from_day: Option<String>,
    /// Beijing day, inclusive.
    pub to_day: Option<String>,
    pub min_fen: Option<i64>,
    pub max_fen: Option<i64>,
    /// out_trade_no or transaction_id, exact or prefix.
    pub search: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    pub state: String,
    pub total_fee_fen: i64,
    pub refunded_fen: i64,
    pub description: Option<String>,
    pub created_at: String,
    pub paid_at: Option<String>,
    /// `unknown_order`, `watched`, `amount_mismatch`, or another flag's lower-case reason code.
    pub flags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderPage {
    pub items: Vec<OrderRow>,
    pub next_cursor: Option<String>,
}

/// `OrderRow & { sign_type, openid, trade_type, bank_type, last_checked_at, next_check_at }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderDetailOrder {
    #[serde(flatten)]
    pub row: OrderRow,
    pub sign_type: String,
    pub openid: Option<String>,
    pub trade_type: Option<String>,
    pub bank_type: Option<String>,
    pub last_checked_at: Option<String>,
    pub next_check_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRow {
    pub out_refund_no: String,
    pub refund_id: Option<String>,
    pub amount_fen: i64,
    pub status: String,
    pub created_at: String,
    pub success_at: Option<String>,
    pub last_error: Option<String>,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub at: String,
    /// `notification`, `query`, `bill`, `person`, `shop_backend` (and `system` for the app's own entries).
    pub source: String,
    pub what: String,
    pub state_after: Option<String>,
    pub actor: Option<String>,
    /// `notification:<id>`, `evidence:<id>` (a stored raw reply), `bill_row:<id>`.
    pub evidence_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderDetail {
    pub order: OrderDetailOrder,
    pub refunds: Vec<RefundRow>,
    /// Oldest first.
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchedOrder {
    pub out_trade_no: String,
    pub state: String,
    pub last_checked_at: Option<String>,
    pub next_check_at: String,
    pub checks: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub running: bool,
    pub last_sync_at: Option<String>,
    pub watched: Vec<WatchedOrder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayFigures {
    pub day: String,
    pub paid_count: i64,
    pub paid_fen: i64,
    pub refunded_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dashboard {
    pub today: DayFigures,
    pub pending_applications: i64,
    pub last_sync_at: Option<String>,
    /// 14 days, oldest first.
    pub days: Vec<DayFigures>,
}

/// Why the vault was locked (`vault-locked` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockReason {
    Idle,
    User,
}

// ---- Refunds -----------------------------------------------------------------------------------------------------

/// An order's money as the refund queue shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderMoney {
    pub out_trade_no: String,
    pub transaction_id: Option<String>,
    pub state: String,
    pub paid_at: Option<String>,
    pub total_fee_fen: i64,
    /// WeChat said SUCCESS.
    pub refunded_fen: i64,
    /// Approved or in flight, not yet SUCCESS.
    pub pending_fen: i64,
    /// total − refunded − pending.
    pub remaining_fen: i64,
    pub refund_count: i64,
    pub days_since_payment: Option<i64>,
}

/// The refund an approved application became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationRefund {
    pub out_refund_no: String,
    pub amount_fen: i64,
    pub status: String,
    pub phase: RefundPhase,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationRow {
    pub id: i64,
    pub status: String,
    pub amount_fen: i64,
    pub reason: Option<String>,
    /// `shop_backend` or `desk`.
    pub origin: String,
    pub external_ref: Option<String>,
    pub requested_by: String,
    pub requested_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    pub order: OrderMoney,
    pub refund: Option<ApplicationRefund>,
}

/// One guard's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Guard {
    /// `role`, `paid`, `remainder`, `count`, `age`, `interval`.
    pub name: &'static str,
    pub ok: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardCheck {
    pub ok: bool,
    pub guards: Vec<Guard>,
    /// The amount is above the owner's threshold: the password is asked for when sending.
    pub needs_password: bool,
}

/// What the owner sees of a refund: never `refunded` before WeChat said SUCCESS, never `processing` when nothing
/// was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundPhase {
    NotSent,
    Retrying,
    NeedsOwner,
    Processing,
    Refunded,
    Closed,
    Failed,
    DoneOutside,
}

/// `{ code, message }`: an error code with its sentence, or advice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeText {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundView {
    pub out_refund_no: String,
    pub refund_id: Option<String>,
    pub out_trade_no: String,
    pub application_id: Option<i64>,
    pub amount_fen: i64,
    pub total_fee_fen: i64,
    pub refund_desc: Option<String>,
    pub status: String,
    pub phase: RefundPhase,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<CodeText>,
    pub advice: Option<CodeText>,
    /// `query`, `retry`, `mark_done`.
    pub actions: Vec<&'static str>,
    pub created_by: String,
    pub created_at: String,
    pub last_attempt_at: Option<String>,
    pub success_at: Option<String>,
    pub recv_account: Option<String>,
    pub last_checked_at: Option<String>,
    pub next_check_at: Option<String>,
}

// ---- Audit log ---------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// `ok`, `refused`, `failed`.
    pub result: String,
    /// JSON text.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditRow>,
    pub next_before: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainView {
    pub ok: bool,
    pub entries_checked: i64,
    pub broken_at_seq: Option<i64>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportResult {
    pub path: String,
    pub rows: i64,
}

/// `¥12.34` from fen, exactly (for texts built outside the webview, e.g. desktop notifications).
pub fn yuan_text(fen: i64) -> String {
    format!("¥{}", wxpay::Fen(fen).to_yuan_string())
}
