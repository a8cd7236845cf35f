//! Trade bills (对账单, wxpay-v2.md §7): reading them as a stream, checking their summary against
//! their rows, and writing them.
//!
//! - [`BillReader`] reads plain or gzip bills (§7.4, §7.5) row by row from any `BufRead`, in memory
//!   independent of the number of rows; [`Row`] is a view over the reader's line buffer whose typed
//!   accessors (times, integer fen, exact 5-decimal fees) cannot fail, because the reader parsed them
//!   when it accepted the row. [`Bill::read`] keeps everything in memory for small bills.
//! - [`Summary`] is the bill's own summary; [`Totals`] the typed totals (keys in
//!   docs/decisions/0002-bill-summary-keys.md); [`Reconciliation`] lists every total on which the
//!   summary and the rows disagree.
//! - [`BillWriter`] produces the modern ALL / SUCCESS / REFUND format byte for byte (§7.4).
//!
//! Money is integer fen ([`Fen`](crate::Fen)) and fees are integer 0.00001-yuan units
//! ([`FeeAmount`](crate::FeeAmount)); no floating point is involved anywhere.

mod columns;
mod error;
mod reader;
mod row;
mod totals;
mod writer;

pub use columns::{modern_columns, BillFormat, Column, Header};
pub use error::{BillError, BillErrorKind, BillWriteError, InvalidValueReason};
pub use reader::{Bill, BillReader, Input, OwnedRows, MAX_LINE_BYTES};
pub use row::{OwnedRow, Row, RowKind};
pub use totals::{compare, Discrepancy, Reconciliation, Summary, TotalKey, TotalValue, Totals, SUMMARY_FIRST_TITLE};
pub use writer::{BillRow, BillWriter};

/// The bill types (§7.1), shared with the download request.
pub use crate::api::BillType;
