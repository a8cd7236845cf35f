//! The ledger's vocabulary: row ids, status enums with their stored text, and the records callers read and write.
//! Protocol types (`Fen`, `OutTradeNo`, `TradeState`, …) come from `wxpay`; ledger-only states live here.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use wxpay::TransactionId;
use wxpay::{AppId, FeeAmount, Fen, MchId, OutRefundNo, OutTradeNo, RefundId, SignType, TradeState, TradeType};

use crate::error::{Error, Result};

macro_rules! row_id {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )+};
}

row_id!(
    /// A merchant account's row in this ledger (not WeChat's `mch_id`).
    MerchantId,
    /// An order's row id.
    OrderId,
    /// A stored notification's row id.
    NotificationId,
    /// A refund application's row id.
    ApplicationId,
    /// A refund's row id in this ledger (WeChat's `refund_id` is [`wxpay::RefundId`]).
    RefundRecordId,
    /// A stored raw reply (evidence) row id.
    EvidenceId,
    /// An imported bill file's row id.
    BillFileId,
    /// A bill row's id.
    BillRowId,
    /// A reconciliation run's row id.
    ReconRunId,
    /// A discrepancy's row id.
    DiscrepancyId,
);

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database (and shown in logs).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            pub(crate) fn from_db(text: &str) -> Result<Self> {
                Self::parse(text).ok_or_else(|| Error::Corrupt(format!("{} {:?}", stringify!($name), text)))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// How a fact was learned (ARCHITECTURE.md §3: every status change records it).
    Source {
        Notification = "NOTIFICATION",
        Query = "QUERY",
        Bill = "BILL",
        Person = "PERSON",
        ShopBackend = "SHOP_BACKEND",
        System = "SYSTEM",
    }
);

text_enum!(
    /// A refund in this ledger. CREATED: written with its fixed `out_refund_no` before anything is sent; PROCESSING:
    /// WeChat accepted it; SUCCESS / REFUNDCLOSE / CHANGE: WeChat's outcomes (§5.5); FAILED: WeChat refused the
    /// request for good (the err_code is kept).
    RefundState {
        Created = "CREATED",
        Processing = "PROCESSING",
        Success = "SUCCESS",
        RefundClose = "REFUNDCLOSE",
        Change = "CHANGE",
        Failed = "FAILED",
    }
);

impl RefundState {
    /// Whether the refund still holds part of the order's refundable amount.
    pub fn holds_money(self) -> bool {
        !matches!(self, RefundState::RefundClose | RefundState::Failed)
    }
}

text_enum!(
    /// A refund application's decision.
    ApplicationStatus {
        Pending = "PENDING",
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Cancelled = "CANCELLED",
    }
);

text_enum!(
    /// Where a refund application came from.
    ApplicationOrigin {
        /// The shop's backend (a customer asked in the mini program).
        ShopBackend = "SHOP_BACKEND",
        /// Entered at the desk.
        Desk = "DESK",
    }
);

text_enum!(
    /// Why a refund row exists.
    RefundOrigin {
        /// Approved from an application in Paydesk.
        Application = "APPLICATION",
        /// Found at WeChat (refund notification, refundquery or bill) for a refund made elsewhere.
        External = "EXTERNAL",
    }
);

text_enum!(
    /// The two notifications of §6.
    NotificationKind {
        Payment = "PAYMENT",
        Refund = "REFUND",
    }
);

text_enum!(
    /// The verification result of a stored notification.
    Verification {
        Pending = "PENDING",
        Valid = "VALID",
        Invalid = "INVALID",
    }
);

text_enum!(
    /// What became of a stored notification.
    NotificationOutcome {
        /// Not processed yet.
        Pending = "PENDING",
        /// Its fact changed the ledger.
        Applied = "APPLIED",
        /// Its fact was already recorded; nothing changed.
        Duplicate = "DUPLICATE",
        /// Not applied, for the recorded reason (bad signature, amount mismatch, …).
        Rejected = "REJECTED",
        /// A verified payment for an order nobody registered: recorded as paid and flagged.
        UnknownOrder = "UNKNOWN_ORDER",
    }
);

text_enum!(
    /// The kind of a stored raw reply.
    EvidenceKind {
        OrderQuery = "ORDER_QUERY",
        RefundQuery = "REFUND_QUERY",
        RefundReply = "REFUND_REPLY",
        Other = "OTHER",
    }
);

text_enum!(
    /// `bill_type` of §7.
    BillType {
        All = "ALL",
        Success = "SUCCESS",
        Refund = "REFUND",
        RechargeRefund = "RECHARGE_REFUND",
    }
);

text_enum!(
    /// How a bill file reached the ledger.
    BillSource {
        Download = "DOWNLOAD",
        Import = "IMPORT",
    }
);

text_enum!(
    /// A reconciliation run.
    ReconStatus {
        Running = "RUNNING",
        Completed = "COMPLETED",
        Failed = "FAILED",
    }
);

text_enum!(
    /// The named differences of the daily close (ARCHITECTURE.md §3).
    DiscrepancyKind {
        /// Paid at WeChat but not here.
        MissingInLedger = "MISSING_IN_LEDGER",
        /// Here but not at WeChat.
        MissingAtWechat = "MISSING_AT_WECHAT",
        AmountMismatch = "AMOUNT_MISMATCH",
        StatusMismatch = "STATUS_MISMATCH",
        RefundMismatch = "REFUND_MISMATCH",
    }
);

text_enum!(
    /// Where a discrepancy stands.
    DiscrepancyStatus {
        Open = "OPEN",
        /// Paid near midnight: waits for the next day's bill before it counts.
        CarriedOver = "CARRIED_OVER",
        /// An action (query, refund) is under way.
        ActionPending = "ACTION_PENDING",
        Resolved = "RESOLVED",
        /// A person marked it explained, with a note.
        Explained = "EXPLAINED",
    }
);

text_enum!(
    /// The action taken on a discrepancy; it goes through the normal flows.
    DiscrepancyAction {
        Query = "QUERY",
        Refund = "REFUND",
        Explain = "EXPLAIN",
        /// The order or refund was recorded from its bill row.
        Record = "RECORD",
    }
);

text_enum!(
    /// The result column of an audit entry.
    AuditResult {
        Ok = "OK",
        Refused = "REFUSED",
        Failed = "FAILED",
    }
);

/// Parses a stored trade state: only the eight known values are ever stored (the column has a CHECK list).
pub(crate) fn trade_state_from_db(text: &str) -> Result<TradeState> {
    match TradeState::parse(text) {
        TradeState::Unknown(other) => Err(Error::Corrupt(format!("trade_state {other:?}"))),
        known => Ok(known),
    }
}

pub(crate) fn sign_type_from_db(text: &str) -> Result<SignType> {
    SignType::parse(text).ok_or_else(|| Error::Corrupt(format!("sign_type {text:?}")))
}

pub(crate) fn id_from_db<T, E: fmt::Display>(what: &str, parsed: std::result::Result<T, E>) -> Result<T> {
    parsed.map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

/// Where a fact came from and the raw evidence behind it: the timeline keeps both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub source: Source,
    pub evidence: Evidence,
    /// The person or process (`desk:owner`, `receiver@host`, `sync`).
    pub actor: Option<String>,
    pub at: DateTime<Utc>,
}

impl Provenance {
    pub fn new(source: Source, at: DateTime<Utc>) -> Self {
        Provenance { source, evidence: Evidence::None, actor: None, at }
    }

    pub fn with_evidence(mut self, evidence: Evidence) -> Self {
        self.evidence = evidence;
        self
    }

    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }
}

/// A reference to the raw evidence of a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    None,
    Notification(NotificationId),
    Raw(EvidenceId),
    BillRow(BillRowId),
}

impl Evidence {
    pub(crate) fn columns(self) -> (Option<i64>, Option<i64>, Option<i64>) {
        match self {
            Evidence::None => (None, None, None),
            Evidence::Notification(id) => (Some(id.0), None, None),
            Evidence::Raw(id) => (None, Some(id.0), None),
            Evidence::BillRow(id) => (None, None, Some(id.0)),
        }
    }
}

/// A merchant's non-secret settings, as given to [`crate::Ledger::upsert_merchant`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantSettings {
    pub mch_id: MchId,
    pub appid: AppId,
    pub name: String,
    /// The sign type used when an order does not say (§3.4).
    pub sign_type: SignType,
    /// `None` for WeChat itself; the sandbox's URL otherwise.
    pub api_base_url: Option<String>,
    /// Refunds above this ask for the owner's password again at sending time.
    pub refund_reauth_above: Option<Fen>,
}

/// A merchant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: MerchantId,
    pub settings: MerchantSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An order as the shop backend registers it (before payment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub merchant: MerchantId,
    pub out_trade_no: OutTradeNo,
    pub appid: Option<AppId>,
    pub sign_type: SignType,
    pub trade_type: Option<TradeType>,
    pub total_fee: Fen,
    pub body: Option<String>,
    pub attach: Option<String>,
    /// `time_start` (or when it was registered).
    pub placed_at: DateTime<Utc>,
    pub time_expire: Option<DateTime<Utc>>,
    /// When status sync should first ask WeChat; `None` leaves it to the caller.
    pub next_check_at: Option<DateTime<Utc>>,
    pub origin: Source,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub merchant_id: MerchantId,
    pub out_trade_no: OutTradeNo,
    pub transaction_id: Option<TransactionId>,
    pub appid: Option<AppId>,
    pub sign_type: SignType,
    pub trade_type: Option<TradeType>,
    pub trade_state: TradeState,
    pub body: Option<String>,
    pub attach: Option<String>,
    pub total_fee: Fen,
    pub cash_fee: Option<Fen>,
    pub settlement_total_fee: Option<Fen>,
    pub coupon_fee: Option<Fen>,
    pub fee_type: String,
    pub bank_type: Option<String>,
    pub openid: Option<String>,
    /// Sum of refunds that hold money (created, processing, success, change).
    pub refund_reserved: Fen,
    /// Sum of refunds that reached SUCCESS.
    pub refunded_total: Fen,
    pub refund_count: i64,
    pub origin: Source,
    pub placed_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The Beijing calendar day of `paid_at` (the bill day).
    pub paid_day: Option<NaiveDate>,
    pub time_expire: Option<DateTime<Utc>>,
    /// Why a person must look at this order; `None` when all is well.
    pub flag_reason: Option<String>,
    pub next_check_at: Option<DateTime<Utc>>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub check_count: i64,
    pub last_refund_request_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// What new refunds may still take: the amount less every refund that holds money.
    pub fn refundable(&self) -> Fen {
        self.total_fee.checked_sub(self.refund_reserved).unwrap_or(Fen::ZERO)
    }
}

/// The facts of a verified payment (a payment notification, §6.1, or a SUCCESS orderquery reply, §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts {
    pub mch_id: MchId,
    pub appid: AppId,
    pub out_trade_no: OutTradeNo,
    pub transaction_id: TransactionId,
    pub total_fee: Fen,
    pub cash_fee: Option<Fen>,
    pub settlement_total_fee: Option<Fen>,
    pub coupon_fee: Option<Fen>,
    pub fee_type: Option<String>,
    pub trade_type: Option<TradeType>,
    pub bank_type: Option<String>,
    pub openid: Option<String>,
    pub attach: Option<String>,
    /// `time_end`, Beijing time.
    pub time_end: wxpay::BeijingTime,
    /// The sign type the notification was verified with (kept for orders first learned this way).
    pub sign_type: SignType,
}

/// What an orderquery reply (§5.2) says about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderObservation {
    pub trade_state: TradeState,
    /// Present when the order is paid.
    pub payment: Option<PaymentFacts>,
}

/// One entry of the order timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub id: i64,
    pub order_id: OrderId,
    pub refund_id: Option<RefundRecordId>,
    pub application_id: Option<ApplicationId>,
    /// What happened (`REGISTERED`, `STATE`, `REFUND_STATE`, `REFUND_ATTEMPT`, `FLAGGED`, …).
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub amount: Option<Fen>,
    pub source: Source,
    pub evidence: Evidence,
    pub actor: Option<String>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Filters of the order list; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub merchant: Option<MerchantId>,
    /// Empty: every state.
    pub states: Vec<TradeState>,
    /// `placed_at >= from`.
    pub placed_from: Option<DateTime<Utc>>,
    /// `placed_at < to`.
    pub placed_to: Option<DateTime<Utc>>,
    pub min_total: Option<Fen>,
    pub max_total: Option<Fen>,
    pub flagged_only: bool,
}

/// Where the next page of the order list starts (keyset: newest first by `placed_at`, then `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCursor {
    pub placed_at: DateTime<Utc>,
    pub id: OrderId,
}

/// One page of the order list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// `None` on the last page.
    pub next: Option<OrderCursor>,
}

/// Takings and refunds of one Beijing day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTotals {
    pub day: NaiveDate,
    pub paid_count: i64,
    pub paid_total: Fen,
    pub refund_count: i64,
    pub refunded_total: Fen,
}

impl DayTotals {
    pub fn net(&self) -> Fen {
        self.paid_total.checked_sub(self.refunded_total).unwrap_or(Fen::ZERO)
    }
}

/// An order in a bulk import (history from another system, or the benchmark's fill).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedOrder {
    pub merchant: MerchantId,
    pub out_trade_no: OutTradeNo,
    pub transaction_id: Option<TransactionId>,
    pub sign_type: SignType,
    pub trade_type: Option<TradeType>,
    /// One of the eight known states.
    pub trade_state: TradeState,
    pub total_fee: Fen,
    pub placed_at: DateTime<Utc>,
    /// Required when the state is paid (SUCCESS / REFUND), absent otherwise.
    pub paid_at: Option<DateTime<Utc>>,
    pub body: Option<String>,
}

/// A notification as it arrived, before anything is done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingNotification {
    pub kind: NotificationKind,
    pub received_at: DateTime<Utc>,
    pub remote_addr: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The verification result to record for a stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationResult {
    /// Signature (or decryption) and merchant ids check out; the keys found are kept for search.
    Valid { mch_id: MchId, out_trade_no: Option<OutTradeNo>, out_refund_no: Option<OutRefundNo> },
    /// Not authentic: recorded with the reason and marked REJECTED.
    Invalid { reason: String },
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotification {
    pub id: NotificationId,
    pub kind: NotificationKind,
    pub received_at: DateTime<Utc>,
    pub remote_addr: Option<String>,
    pub headers: String,
    pub body: Vec<u8>,
    pub body_sha256: String,
    pub verification: Verification,
    pub verification_detail: Option<String>,
    pub outcome: NotificationOutcome,
    pub outcome_reason: Option<String>,
    pub order_id: Option<OrderId>,
    pub refund_id: Option<RefundRecordId>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// What applying a notification did. SUCCESS may be answered for every outcome except an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedNotification {
    pub outcome: NotificationOutcome,
    pub reason: Option<String>,
    pub order_id: Option<OrderId>,
    pub refund_id: Option<RefundRecordId>,
}

/// A refund application to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefundApplication {
    pub order: OrderId,
    pub amount: Fen,
    pub reason: Option<String>,
    pub origin: ApplicationOrigin,
    /// The shop backend's id for this request; registering the same one twice returns the first.
    pub external_ref: Option<String>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

/// A refund application as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundApplication {
    pub id: ApplicationId,
    pub merchant_id: MerchantId,
    pub order_id: OrderId,
    pub external_ref: Option<String>,
    pub amount: Fen,
    pub reason: Option<String>,
    pub origin: ApplicationOrigin,
    pub status: ApplicationStatus,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

/// Approving an application: the refund number is fixed here, before anything is sent (§5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub out_refund_no: OutRefundNo,
    pub approver: String,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    /// Refunds are refused more than this long after payment (WeChat: 365 days).
    pub max_age: chrono::Duration,
    /// A partial approval: at most the application's amount. `None` approves the whole application.
    pub amount: Option<Fen>,
    /// `refund_desc` as it will be sent (≤ 80 characters, shown to the customer). `None` sends the
    /// application's reason.
    pub refund_desc: Option<String>,
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundRecordId,
    pub merchant_id: MerchantId,
    pub order_id: OrderId,
    pub application_id: Option<ApplicationId>,
    pub out_refund_no: OutRefundNo,
    pub amount: Fen,
    /// The order's amount, sent as `total_fee` with every attempt.
    pub total_fee: Fen,
    pub reason: Option<String>,
    pub origin: RefundOrigin,
    pub status: RefundState,
    /// The err_code that made it FAILED.
    pub err_code: Option<String>,
    pub attempts: i64,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub refund_id: Option<RefundId>,
    pub refund_channel: Option<String>,
    /// `refund_recv_accout` (sic, §5.5): where the money went.
    pub recv_account: Option<String>,
    pub refund_account: Option<String>,
    pub success_at: Option<DateTime<Utc>>,
    pub success_day: Option<NaiveDate>,
    /// NOTENOUGH, CHANGE, USER_ACCOUNT_ABNORMAL, …: a person must act.
    pub flag_reason: Option<String>,
    pub next_check_at: Option<DateTime<Utc>>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub check_count: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A FAILED refund the owner settled outside WeChat Pay ("mark done"): when, who, and the note.
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_note: Option<String>,
}

/// Why a refund request did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// WeChat's err_code; `None` for a transport failure (timeout: it may or may not have arrived).
    pub err_code: Option<wxpay::ErrCode>,
    pub message: Option<String>,
    /// From [`wxpay::ErrCode::retry_class`]; `Never` makes the refund FAILED, the others keep it CREATED.
    pub retry: wxpay::RetryClass,
    pub at: DateTime<Utc>,
}

/// What WeChat says about a refund (refund notification §6.2, refundquery §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundObservation {
    pub status: wxpay::RefundStatus,
    pub refund_id: Option<RefundId>,
    pub refund_fee: Option<Fen>,
    pub success_time: Option<wxpay::BeijingTime>,
    pub recv_account: Option<String>,
    pub refund_account: Option<String>,
    pub refund_channel: Option<String>,
}

/// A refund found at WeChat that Paydesk did not create (made in the merchant platform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRefund {
    pub order: OrderId,
    pub out_refund_no: OutRefundNo,
    pub amount: Fen,
    pub observation: RefundObservation,
}

/// The facts of a decrypted refund notification (§6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNotificationFacts {
    pub mch_id: MchId,
    pub appid: AppId,
    pub out_trade_no: OutTradeNo,
    pub out_refund_no: OutRefundNo,
    pub total_fee: Fen,
    pub refund_fee: Fen,
    pub observation: RefundObservation,
}

/// A bill file to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBillFile {
    pub merchant: MerchantId,
    pub bill_date: NaiveDate,
    pub bill_type: BillType,
    pub source: BillSource,
    pub file_name: Option<String>,
    /// Lowercase hex SHA-256 of the file's bytes: the same file imported twice is recognised by it.
    pub sha256: String,
    pub byte_len: i64,
    pub summary: BillSummary,
    pub imported_by: String,
    pub imported_at: DateTime<Utc>,
}

/// A bill's summary line (§7.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillSummary {
    pub total_count: Option<i64>,
    pub settlement_total: Option<Fen>,
    pub refund_total: Option<Fen>,
    pub recharge_refund_total: Option<Fen>,
    pub fee_total: Option<FeeAmount>,
    pub order_total: Option<Fen>,
    pub refund_requested_total: Option<Fen>,
}

/// A stored bill file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillFile {
    pub id: BillFileId,
    pub merchant_id: MerchantId,
    pub bill_date: NaiveDate,
    pub bill_type: BillType,
    pub source: BillSource,
    pub file_name: Option<String>,
    pub sha256: String,
    pub byte_len: i64,
    pub row_count: i64,
    /// The bill's own summary against its rows: `Some(empty)` when they agree, the differences in plain words when
    /// not, `None` when the import did not check (files imported before issue 8, or rows given without a summary).
    pub summary_differences: Option<Vec<String>>,
    pub summary: BillSummary,
    pub imported_by: String,
    pub imported_at: DateTime<Utc>,
}

/// One bill row (§7.4), with amounts already converted to fen (fees to 0.00001-yuan units).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillRow {
    /// The row's line number in the file (unique per file).
    pub line_no: i64,
    /// 交易时间 (payment time, or refund initiation time on refund rows), as UTC.
    pub trade_time: DateTime<Utc>,
    pub appid: Option<String>,
    pub mch_id: Option<String>,
    pub sub_mch_id: Option<String>,
    pub device_info: Option<String>,
    pub transaction_id: Option<String>,
    pub out_trade_no: Option<String>,
    pub openid: Option<String>,
    pub trade_type: Option<String>,
    /// 交易状态: SUCCESS, REFUND, REVOKED, … kept verbatim.
    pub trade_state: String,
    pub bank_type: Option<String>,
    pub currency: Option<String>,
    pub settlement: Fen,
    pub coupon: Fen,
    pub refund_id: Option<String>,
    pub out_refund_no: Option<String>,
    pub refund: Fen,
    pub recharge_refund: Fen,
    pub refund_type: Option<String>,
    pub refund_status: Option<String>,
    pub body: Option<String>,
    pub attach: Option<String>,
    pub fee: FeeAmount,
    pub rate: Option<String>,
    pub order_amount: Fen,
    pub refund_requested: Fen,
    pub rate_note: Option<String>,
    pub refund_requested_at: Option<DateTime<Utc>>,
    pub refund_success_at: Option<DateTime<Utc>>,
}

/// A bill row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBillRow {
    pub id: BillRowId,
    pub bill_file_id: BillFileId,
    pub row: BillRow,
}

/// The result of importing a bill file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillImport {
    pub file: BillFile,
    /// The same bytes were imported before; nothing was added.
    pub already_imported: bool,
}

/// A reconciliation run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconRun {
    pub id: ReconRunId,
    pub merchant_id: MerchantId,
    pub bill_date: NaiveDate,
    pub bill_file_id: Option<BillFileId>,
    pub status: ReconStatus,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub summary: Option<ReconSummary>,
    /// Both sides' figures (runs of [`crate::Ledger::reconcile_day`]; `None` for older runs).
    pub ledger_figures: Option<DayFigures>,
    pub wechat_figures: Option<DayFigures>,
    pub error: Option<String>,
}

/// One side's figures for a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub payments_count: i64,
    pub payments: Fen,
    pub refunds_count: i64,
    pub refunds: Fen,
    /// WeChat's fees (0.00001 yuan units). The ledger knows no fees of its own: its side shows the fees the bill
    /// charges on the items the ledger recorded.
    pub fees: FeeAmount,
}

impl DayFigures {
    /// payments − refunds − fees, in 0.00001 yuan units (exact).
    pub fn net(&self) -> FeeAmount {
        let units = |f: Fen| f.get().saturating_mul(FeeAmount::UNITS_PER_FEN);
        FeeAmount(units(self.payments).saturating_sub(units(self.refunds)).saturating_sub(self.fees.0))
    }
}

/// The figures of a finished run: the day's summary shown to the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconSummary {
    pub matched_count: i64,
    pub discrepancy_count: i64,
    pub takings: Fen,
    pub refunds: Fen,
    pub fees: FeeAmount,
    pub net: Fen,
}

/// A difference found by a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDiscrepancy {
    pub kind: DiscrepancyKind,
    /// What it is about (transaction_id, out_trade_no or out_refund_no): a re-run finds the same row by it.
    pub subject: String,
    pub order_id: Option<OrderId>,
    pub refund_id: Option<RefundRecordId>,
    pub bill_row_id: Option<BillRowId>,
    pub ledger_value: Option<String>,
    pub wechat_value: Option<String>,
    pub ledger_amount: Option<Fen>,
    pub wechat_amount: Option<Fen>,
    /// Paid near midnight: starts CARRIED_OVER instead of OPEN.
    pub carried_over: bool,
}

/// A discrepancy as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    pub id: DiscrepancyId,
    pub merchant_id: MerchantId,
    pub bill_date: NaiveDate,
    pub first_run_id: ReconRunId,
    pub last_run_id: ReconRunId,
    pub kind: DiscrepancyKind,
    pub subject: String,
    pub order_id: Option<OrderId>,
    pub refund_id: Option<RefundRecordId>,
    pub bill_row_id: Option<BillRowId>,
    pub ledger_value: Option<String>,
    pub wechat_value: Option<String>,
    pub ledger_amount: Option<Fen>,
    pub wechat_amount: Option<Fen>,
    pub status: DiscrepancyStatus,
    pub action: Option<DiscrepancyAction>,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A discrepancy with the ids it is about (from its order, refund or bill row), as the day view lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscrepancyView {
    pub discrepancy: Discrepancy,
    pub out_trade_no: Option<String>,
    pub transaction_id: Option<String>,
    pub out_refund_no: Option<String>,
}

/// An audit entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub result: AuditResult,
    /// Free text (JSON by convention). Never a secret.
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// An audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub result: AuditResult,
    pub detail: String,
    /// Lowercase hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    pub hash: String,
}

/// The first entry where the audit chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenEntry {
    /// The sequence number at which the chain breaks (for a deleted entry: the missing number).
    pub seq: i64,
    pub problem: ChainProblem,
}

/// How the chain is broken at [`BrokenEntry::seq`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's content no longer hashes to its stored hash (edited).
    HashMismatch,
    /// The entry's `prev_hash` is not the previous entry's hash.
    PrevHashMismatch,
    /// The entry is missing (deleted): the next stored entry has a later number.
    Missing,
    /// The head (last sequence number and hash) does not match the last stored entry (tail deleted or edited).
    HeadMismatch,
}

/// The result of [`crate::Ledger::verify_audit_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub entries_checked: i64,
    /// `None` when the whole chain holds.
    pub first_broken: Option<BrokenEntry>,
}
