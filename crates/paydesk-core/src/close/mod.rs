//! The daily close (issue 8; ARCHITECTURE.md §3; docs/decisions/0009-daily-close.md): getting a day's bill (download
//! `downloadbill` ALL as GZIP, or import a file exported from the merchant platform), keeping its original bytes,
//! importing its rows in chunks, reconciling the Beijing day in the ledger (set-based, `ledger::reconcile_day`), and
//! the actions on each discrepancy, which go through the normal flows and are audited.
//!
//! - [`store`]: the original bytes under `bills/<sha256>` in the data directory.
//! - [`import`]: a stored bill read as a stream and pushed into the ledger in chunks (progress reported).
//! - [`view`]: the contract's shapes below, built from the ledger (day, calendar, chart, discrepancy rows).
//! - [`commands`]: the [`crate::Core`] methods of `docs/ui-contract.md` "Daily close".
//! - [`actions`]: query WeChat now, record from the bill, propose a refund, mark explained.
//! - [`export`]: the CSV exports.

pub mod actions;
pub mod commands;
pub mod export;
pub mod import;
pub mod store;
pub mod view;

use serde::{Deserialize, Serialize};

/// `CloseDay`: one day of the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseDay {
    pub day: String,
    /// `clean`, `open`, `not_reconciled`, `no_bill` or `not_yet`.
    pub status: String,
    pub open_discrepancies: i64,
    pub takings_fen: i64,
    pub refunds_fen: i64,
}

/// `Totals`: one side's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub payments_count: i64,
    pub payments_fen: i64,
    pub refunds_count: i64,
    pub refunds_fen: i64,
    pub fees_yuan: String,
    pub net_yuan: String,
}

/// `BillInfo.summary_check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryCheck {
    pub ok: bool,
    pub differences: Vec<String>,
}

/// `BillInfo`: the bill a day is reconciled against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillInfo {
    pub day: String,
    pub bill_type: String,
    pub source: String,
    pub file_name: Option<String>,
    pub sha256: String,
    pub byte_len: i64,
    pub row_count: i64,
    pub imported_by: String,
    pub imported_at: String,
    pub summary_check: SummaryCheck,
}

/// `DiscrepancyRow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscrepancyRow {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub out_trade_no: Option<String>,
    pub transaction_id: Option<String>,
    pub out_refund_no: Option<String>,
    pub ledger_value: Option<String>,
    pub wechat_value: Option<String>,
    pub ledger_fen: Option<i64>,
    pub wechat_fen: Option<i64>,
    pub explanation: String,
    pub actions: Vec<String>,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
}

/// `DayClose.run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: i64,
    pub finished_at: Option<String>,
    pub by: String,
    pub matched: i64,
}

/// `DayClose`: what is known about one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayClose {
    pub day: String,
    pub status: String,
    pub bill: Option<BillInfo>,
    pub run: Option<RunInfo>,
    pub ledger: Totals,
    pub wechat: Option<Totals>,
    pub discrepancies: Vec<DiscrepancyRow>,
}

/// `BillFetch`: what fetching (or importing) a bill did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillFetch {
    /// `imported`, `already_imported`, `not_yet` or `no_bill`.
    pub outcome: String,
    pub message: String,
    pub day: Option<DayClose>,
}

/// One day of `close_chart`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartDay {
    pub day: String,
    pub takings_fen: i64,
    pub refunds_fen: i64,
}

/// The `close-progress` event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseProgress {
    pub day: String,
    /// `download`, `import` or `reconcile`.
    pub stage: String,
    /// Bytes (download) or bill rows (import, reconcile).
    pub done: u64,
    pub total: Option<u64>,
}
