//! One data row of a bill (§7.4): a borrowed view over the reader's line buffer with the cell
//! offsets ([`Row`]), and an owned copy for callers that keep rows ([`OwnedRow`]).
//!
//! The amounts and times are parsed once, when the reader accepts the row, so a bad value is an error
//! with its line number and the typed accessors below cannot fail. Text accessors return slices of
//! the line: reading a row allocates nothing.

use std::sync::Arc;

use chrono::NaiveDate;

use super::columns::{Column, Header};
use super::error::{excerpt, BillError, BillErrorKind};
use super::totals::Amounts;
use crate::enums::{RefundStatus, TradeState, TradeType};
use crate::money::{FeeAmount, Fen, MoneyError};
use crate::time::BeijingTime;

/// Whether a row records money in (a payment) or out (a refund).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    Payment,
    Refund,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::Payment => "payment",
            RowKind::Refund => "refund",
        }
    }
}

/// The typed values of a row, parsed when the row is read. Reused between rows by the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RowValues {
    pub trade_time: Option<BeijingTime>,
    pub refund_apply_time: Option<BeijingTime>,
    pub refund_success_time: Option<BeijingTime>,
    pub amounts: Amounts,
}

/// Splits a data line (which starts with a backtick) into cell offsets. The separator is the two
/// characters `` ,` `` (§7.4): a comma not followed by a backtick stays inside the value, which is
/// how a product name with a comma survives.
pub(crate) fn split_cells(line: &str, cells: &mut Vec<(usize, usize)>) {
    cells.clear();
    let bytes = line.as_bytes();
    let mut start = 1;
    let mut from = 1;
    while let Some(comma) = find_comma(bytes, from) {
        if bytes.get(comma + 1) == Some(&b'`') {
            cells.push((start, comma));
            start = comma + 2;
            from = comma + 2;
        } else {
            from = comma + 1;
        }
    }
    cells.push((start, bytes.len()));
}

/// The first `,` at or after `from`, eight bytes at a time: the row hot path spends most of its
/// time looking for separators.
fn find_comma(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const COMMAS: u64 = 0x2c2c_2c2c_2c2c_2c2c;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
        let x = word ^ COMMAS;
        // The lowest flagged byte is exactly the first zero byte of x, i.e. the first comma.
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return usize::try_from(found.trailing_zeros() / 8).ok().map(|offset| i + offset);
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(|&b| b == b',').map(|p| i + p)
}

fn cell<'a>(line: &'a str, cells: &[(usize, usize)], position: Option<usize>) -> Option<&'a str> {
    let &(start, end) = cells.get(position?)?;
    line.get(start..end)
}

impl RowValues {
    /// Parses every typed column of a split row. `line_no` is the row's 1-based line.
    pub(crate) fn parse(
        &mut self,
        line: &str,
        cells: &[(usize, usize)],
        header: &Header,
        line_no: u64,
    ) -> Result<(), BillError> {
        let get = |column: Column| cell(line, cells, header.position(column));
        let bad_time = |column: Column, text: &str| {
            BillError::new(
                line_no,
                BillErrorKind::BadTime { column: header.title_of(column).to_string(), text: excerpt(text) },
            )
        };
        let time = |column: Column, required: bool| -> Result<Option<BeijingTime>, BillError> {
            match get(column) {
                None => Ok(None),
                // 退款成功时间 is empty while the refund is processing.
                Some("") if !required => Ok(None),
                Some(text) => parse_bill_time(text).map(Some).ok_or_else(|| bad_time(column, text)),
            }
        };
        let money = |column: Column| -> Result<Option<Fen>, BillError> {
            get(column)
                .map(|text| Fen::parse_yuan(text).map_err(|e| bad_amount(header, column, text, &e, line_no)))
                .transpose()
        };
        self.trade_time = time(Column::TradeTime, true)?;
        self.refund_apply_time = time(Column::RefundApplyTime, false)?;
        self.refund_success_time = time(Column::RefundSuccessTime, false)?;
        self.amounts = Amounts {
            settlement_total_fee: money(Column::SettlementTotalFee)?,
            legacy_total_fee: money(Column::LegacyTotalFee)?,
            coupon_fee: money(Column::CouponFee)?,
            refund_fee: money(Column::RefundFee)?,
            coupon_refund_fee: money(Column::CouponRefundFee)?,
            fee: get(Column::Fee)
                .map(|text| FeeAmount::parse_yuan(text).map_err(|e| bad_amount(header, Column::Fee, text, &e, line_no)))
                .transpose()?,
            total_fee: money(Column::TotalFee)?,
            refund_apply_fee: money(Column::RefundApplyFee)?,
        };
        Ok(())
    }
}

fn bad_amount(header: &Header, column: Column, text: &str, e: &MoneyError, line_no: u64) -> BillError {
    let reason = if text.is_empty() { "the value is empty" } else { e.reason };
    BillError::new(
        line_no,
        BillErrorKind::BadAmount { column: header.title_of(column).to_string(), text: excerpt(text), reason },
    )
}

/// Exactly `yyyy-MM-dd HH:mm:ss` (§4), parsed without chrono's format interpreter (the row hot path).
/// The 2014 example's fullwidth colons (`16：33：45`) are accepted, as [`BeijingTime::parse_dashed`]
/// does; unlike it, a single-digit field or a doubled space is refused.
pub(crate) fn parse_bill_time(text: &str) -> Option<BeijingTime> {
    if text.contains('：') {
        return strict_dashed(&text.replace('：', ":"));
    }
    strict_dashed(text)
}

fn strict_dashed(text: &str) -> Option<BeijingTime> {
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?;
    let time = date.and_hms_opt(number(11, 13)?, number(14, 16)?, number(17, 19)?)?;
    Some(BeijingTime::from_naive(time))
}

/// A data row, borrowed from the reader until its next row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'r> {
    pub(crate) line_no: u64,
    pub(crate) line: &'r str,
    pub(crate) cells: &'r [(usize, usize)],
    pub(crate) header: &'r Arc<Header>,
    pub(crate) values: &'r RowValues,
}

impl<'r> Row<'r> {
    /// The row's 1-based line in the bill.
    pub fn line(&self) -> u64 {
        self.line_no
    }

    pub fn header(&self) -> &'r Header {
        self.header
    }

    /// The number of values (always the header's width).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The value at a position, without its backtick.
    pub fn value(&self, position: usize) -> Option<&'r str> {
        cell(self.line, self.cells, Some(position))
    }

    /// Every value in order, without backticks.
    pub fn values(&self) -> impl Iterator<Item = &'r str> + 'r {
        let line = self.line;
        self.cells.iter().map(move |&(s, e)| line.get(s..e).unwrap_or(""))
    }

    /// `(title, value)` pairs in order.
    pub fn fields(&self) -> impl Iterator<Item = (&'r str, &'r str)> + 'r {
        self.header.titles().iter().map(String::as_str).zip(self.values())
    }

    /// The value of a known column; `None` when the bill has no such column.
    pub fn get(&self, column: Column) -> Option<&'r str> {
        cell(self.line, self.cells, self.header.position(column))
    }

    /// The value under a title exactly as the bill writes it (for columns this crate does not know).
    pub fn get_by_title(&self, title: &str) -> Option<&'r str> {
        cell(self.line, self.cells, self.header.position_of_title(title))
    }

    /// A refund row has 交易状态 `REFUND`, or a 微信退款单号 other than `0` or empty (§7.4); every
    /// other row is a payment (REVOKED included, unless it carries a refund id).
    pub fn kind(&self) -> RowKind {
        let refund_state = self.get(Column::TradeState) == Some("REFUND");
        let refund_id = matches!(self.get(Column::RefundId), Some(id) if id != "0" && !id.is_empty());
        if refund_state || refund_id {
            RowKind::Refund
        } else {
            RowKind::Payment
        }
    }

    pub fn is_refund(&self) -> bool {
        self.kind() == RowKind::Refund
    }

    /// 交易时间 (Beijing): payment time, or refund initiation time on refund rows.
    pub fn trade_time(&self) -> BeijingTime {
        // Every accepted row has a parsed trade time (交易时间 is a required column).
        self.values.trade_time.unwrap_or_else(|| BeijingTime::from_naive(chrono::NaiveDateTime::MIN))
    }

    /// 退款申请时间 (REFUND bills).
    pub fn refund_apply_time(&self) -> Option<BeijingTime> {
        self.values.refund_apply_time
    }

    /// 退款成功时间 (REFUND bills; `None` while processing).
    pub fn refund_success_time(&self) -> Option<BeijingTime> {
        self.values.refund_success_time
    }

    pub fn appid(&self) -> Option<&'r str> {
        self.get(Column::AppId)
    }

    pub fn mch_id(&self) -> Option<&'r str> {
        self.get(Column::MchId)
    }

    /// 特约商户号 / 子商户号 (`0` for ordinary merchants).
    pub fn sub_mch_id(&self) -> Option<&'r str> {
        self.get(Column::SubMchId)
    }

    pub fn device_info(&self) -> Option<&'r str> {
        self.get(Column::DeviceInfo)
    }

    pub fn transaction_id(&self) -> Option<&'r str> {
        self.get(Column::TransactionId)
    }

    pub fn out_trade_no(&self) -> Option<&'r str> {
        self.get(Column::OutTradeNo)
    }

    pub fn openid(&self) -> Option<&'r str> {
        self.get(Column::OpenId)
    }

    pub fn trade_type(&self) -> Option<TradeType> {
        self.get(Column::TradeType).filter(|t| !t.is_empty()).map(TradeType::parse)
    }

    /// 交易状态: SUCCESS, REFUND, REVOKED, or a value kept verbatim.
    pub fn trade_state(&self) -> Option<TradeState> {
        self.get(Column::TradeState).filter(|t| !t.is_empty()).map(TradeState::parse)
    }

    /// 付款银行
    pub fn bank_type(&self) -> Option<&'r str> {
        self.get(Column::BankType)
    }

    /// 货币种类
    pub fn currency(&self) -> Option<&'r str> {
        self.get(Column::Currency)
    }

    /// 应结订单金额, or 总金额 in a legacy bill (where no 免充值券 existed, so they are the same).
    pub fn settlement_total_fee(&self) -> Option<Fen> {
        self.values.amounts.settlement_total_fee.or(self.values.amounts.legacy_total_fee)
    }

    /// 代金券金额 (legacy 代金券或立减优惠金额 / 企业红包金额).
    pub fn coupon_fee(&self) -> Option<Fen> {
        self.values.amounts.coupon_fee
    }

    /// 微信退款单号 as written (`0` on payment rows).
    pub fn refund_id(&self) -> Option<&'r str> {
        self.get(Column::RefundId)
    }

    /// 商户退款单号 as written (`0` on payment rows).
    pub fn out_refund_no(&self) -> Option<&'r str> {
        self.get(Column::OutRefundNo)
    }

    /// 退款金额
    pub fn refund_fee(&self) -> Option<Fen> {
        self.values.amounts.refund_fee
    }

    /// 充值券退款金额 (legacy 代金券或立减优惠退款金额 / 企业红包退款金额).
    pub fn coupon_refund_fee(&self) -> Option<Fen> {
        self.values.amounts.coupon_refund_fee
    }

    /// 退款类型, e.g. ORIGINAL; `None` when empty.
    pub fn refund_type(&self) -> Option<&'r str> {
        self.get(Column::RefundType).filter(|t| !t.is_empty())
    }

    /// 退款状态 when the row was written; `None` when empty (payment rows).
    pub fn refund_status(&self) -> Option<RefundStatus> {
        self.get(Column::RefundStatus).filter(|t| !t.is_empty()).map(RefundStatus::parse)
    }

    /// 商品名称
    pub fn body(&self) -> Option<&'r str> {
        self.get(Column::Body)
    }

    /// 商户数据包
    pub fn attach(&self) -> Option<&'r str> {
        self.get(Column::Attach)
    }

    /// 手续费, exact to the bill's five decimals.
    pub fn fee(&self) -> Option<FeeAmount> {
        self.values.amounts.fee
    }

    /// 费率 as written, e.g. `0.60%`.
    pub fn rate(&self) -> Option<&'r str> {
        self.get(Column::Rate)
    }

    /// 订单金额 (modern format only).
    pub fn total_fee(&self) -> Option<Fen> {
        self.values.amounts.total_fee
    }

    /// 申请退款金额 (modern format only).
    pub fn refund_apply_fee(&self) -> Option<Fen> {
        self.values.amounts.refund_apply_fee
    }

    /// 费率备注 (modern format only).
    pub fn rate_note(&self) -> Option<&'r str> {
        self.get(Column::RateNote)
    }

    /// Copies the row out of the reader's buffer (the header is shared, not copied).
    pub fn to_owned_row(&self) -> OwnedRow {
        OwnedRow {
            line_no: self.line_no,
            line: self.line.to_string(),
            cells: self.cells.to_vec(),
            header: Arc::clone(self.header),
            values: *self.values,
        }
    }
}

/// A row that owns its text; [`OwnedRow::as_row`] gives the same accessors as [`Row`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRow {
    line_no: u64,
    line: String,
    cells: Vec<(usize, usize)>,
    header: Arc<Header>,
    values: RowValues,
}

impl OwnedRow {
    pub fn as_row(&self) -> Row<'_> {
        Row { line_no: self.line_no, line: &self.line, cells: &self.cells, header: &self.header, values: &self.values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Vec<&str> {
        let mut cells = Vec::new();
        split_cells(line, &mut cells);
        cells.iter().map(|&(s, e)| &line[s..e]).collect()
    }

    #[test]
    fn a_lone_backtick_is_an_empty_value() {
        assert_eq!(split("`a,`b,`,`c"), ["a", "b", "", "c"]);
        assert_eq!(split("`a,`"), ["a", ""]);
        assert_eq!(split("`"), [""]);
    }

    #[test]
    fn commas_are_found_in_every_position_of_a_word() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'x'; len];
                bytes[at] = b',';
                for from in 0..=len {
                    let expected = bytes[from..].iter().position(|&b| b == b',').map(|p| from + p);
                    assert_eq!(find_comma(&bytes, from), expected, "len {len} comma {at} from {from}");
                }
            }
        }
        // Bytes next to a comma's code (0x2b, 0x2d, 0xac) and UTF-8 are not commas.
        let tricky = "+-\u{ac}测试,`";
        assert_eq!(find_comma(tricky.as_bytes(), 0), tricky.find(','));
    }

    #[test]
    fn a_comma_without_a_backtick_stays_in_the_value() {
        assert_eq!(split("`苹果,香蕉,`2.00"), ["苹果,香蕉", "2.00"]);
    }

    #[test]
    fn bill_times_parse_fast_and_fall_back_for_fullwidth_colons() {
        let t = parse_bill_time("2019-02-19 05:01:46").unwrap();
        assert_eq!(t, BeijingTime::parse_dashed("2019-02-19 05:01:46").unwrap());
        assert_eq!(parse_bill_time("2014-11-10 16：33：45").unwrap().to_compact(), "20141110163345");
        for bad in ["2019-02-30 05:01:46", "2019-02-19 25:01:46", "2019-02-19T05:01:46", "", "2019-02-19  05:01:4"] {
            assert_eq!(parse_bill_time(bad), None, "{bad:?}");
        }
    }
}
