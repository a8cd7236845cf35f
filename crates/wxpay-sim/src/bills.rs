//! The T+1 bills (§7) built from the simulator's books: the modern ("免充值券") ALL / SUCCESS / REFUND
//! trade bills and the fund-flow bill, byte for byte in WeChat's layout — UTF-8 BOM, CRLF line ends,
//! a title line, backtick-prefixed values, the summary title and summary values — and gzip.
//!
//! The trade bills are written by `wxpay::bill::BillWriter` (the format's single definition); the
//! fund-flow bill, which wxpay does not write, is written here in the same style.
//!
//! A day's trade bill holds the payments made that Beijing day and the refunds *initiated* that day,
//! each refund row with its status as of the bill's generation (09:00 the next day). A bill is
//! available from 10:00 the next day ("Bill Creating" before), "No Bill Exist" when the day has no
//! rows, and only for the last three months.

use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use wxpay::bill::{BillRow, BillType, BillWriteError, BillWriter};
use wxpay::{BeijingTime, FeeAmount, Fen, RefundStatus};

use crate::model::{Order, Refund};
use crate::store::{FundFlow, MerchantState};

/// The fee rate every sandbox merchant pays: 0.60 %.
pub const FEE_RATE_TEXT: &str = "0.60%";

/// The fee on `amount` at 0.60 %, rounded half up to whole fen (fen × 6 / 1000).
pub fn fee_of(amount: Fen) -> Fen {
    Fen((amount.get().saturating_mul(6).saturating_add(500)) / 1000)
}

#[cfg(test)]
fn fee_text(fee: Fen) -> String {
    FeeAmount(fee.get().saturating_mul(FeeAmount::UNITS_PER_FEN)).to_yuan_string()
}

pub const FUND_FLOW_HEADER: &str =
    "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号";
pub const FUND_FLOW_SUMMARY_HEADER: &str = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额";

/// `bill_type` of downloadbill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillKind {
    All,
    Success,
    Refund,
}

impl BillKind {
    /// ALL is the default when absent (§7.1); RECHARGE_REFUND is not simulated (no recharge coupons).
    pub fn parse(text: Option<&str>) -> Option<BillKind> {
        match text.unwrap_or("ALL") {
            "ALL" => Some(BillKind::All),
            "SUCCESS" => Some(BillKind::Success),
            "REFUND" => Some(BillKind::Refund),
            _ => None,
        }
    }
}

/// Why a bill cannot be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Before 10:00 Beijing time the day after.
    Creating,
    /// No rows that day.
    NoBill,
    /// More than three months ago, or in the future.
    OutOfRange,
}

/// Whether the bill of `day` may be downloaded at `now` (§7.2).
pub fn availability(day: NaiveDate, now: DateTime<Utc>) -> Result<(), Unavailable> {
    let today = BeijingTime::from_utc(now).date();
    if day >= today {
        // Today's and future bills: not generated yet.
        return Err(Unavailable::Creating);
    }
    if today - day > Duration::days(92) {
        return Err(Unavailable::OutOfRange);
    }
    if now < ready_at(day) {
        return Err(Unavailable::Creating);
    }
    Ok(())
}

/// 10:00 Beijing time the day after `day`.
pub fn ready_at(day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    BeijingTime::from_naive(next.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap_or_default())).to_utc()
}

/// 09:00 Beijing time the day after `day`: refund statuses are written as of this moment.
fn generated_at(day: NaiveDate) -> DateTime<Utc> {
    ready_at(day) - Duration::hours(1)
}

fn on_day(t: DateTime<Utc>, day: NaiveDate) -> bool {
    BeijingTime::from_utc(t).date() == day
}

fn dashed(t: DateTime<Utc>) -> String {
    BeijingTime::from_utc(t).to_dashed()
}

/// A bill under construction: BOM, CRLF lines, backticked values.
struct Text(String);

impl Text {
    fn new(header: &str) -> Text {
        let mut s = String::with_capacity(4096);
        s.push('\u{feff}');
        s.push_str(header);
        s.push_str("\r\n");
        Text(s)
    }

    fn row(&mut self, values: &[String]) {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.0.push('`');
            // A comma or line break inside a value would break the format (no quoting exists): WeChat's
            // product names never contain one, the simulator's are cleaned the same way.
            self.0.extend(v.chars().map(|c| if matches!(c, ',' | '\r' | '\n' | '`') { ' ' } else { c }));
        }
        self.0.push_str("\r\n");
    }

    fn line(&mut self, text: &str) {
        self.0.push_str(text);
        self.0.push_str("\r\n");
    }
}

/// The refund's status as the bill writes it: its status if it settled before the bill was made.
fn status_at(refund: &Refund, at: DateTime<Utc>) -> RefundStatus {
    match refund.settled_at {
        Some(t) if t <= at => refund.refund_status.clone(),
        _ => RefundStatus::Processing,
    }
}

fn yuan(f: Fen) -> String {
    f.to_yuan_string()
}

/// The trade bill of `day`, or `None` when it has no rows. Written by wxpay's [`BillWriter`], the
/// same code that defines the format for the parser.
pub fn trade_bill(m: &MerchantState, day: NaiveDate, kind: BillKind) -> Result<Option<String>, BillWriteError> {
    let mut payments: Vec<&Order> =
        m.orders.values().filter(|o| o.trade_state.is_paid() && o.paid_at.is_some_and(|t| on_day(t, day))).collect();
    payments.sort_by_key(|o| (o.paid_at, o.out_trade_no.clone()));
    let mut refunds: Vec<(&Refund, &Order)> = m
        .refunds
        .values()
        .filter(|r| on_day(r.created_at, day))
        .filter_map(|r| m.orders.get(&r.out_trade_no).map(|o| (r, o)))
        .collect();
    refunds.sort_by_key(|(r, _)| (r.created_at, r.out_refund_no.clone()));
    let payments = if kind == BillKind::Refund { Vec::new() } else { payments };
    let refunds = if kind == BillKind::Success { Vec::new() } else { refunds };
    if payments.is_empty() && refunds.is_empty() {
        return Ok(None);
    }
    let bill_type = match kind {
        BillKind::All => BillType::All,
        BillKind::Success => BillType::Success,
        BillKind::Refund => BillType::Refund,
    };
    let at = generated_at(day);
    let mut writer = BillWriter::new(Vec::with_capacity(4096), bill_type, true)?;
    for o in &payments {
        let Some(paid_at) = o.paid_at else { continue };
        writer.write_row(&BillRow {
            settlement_total_fee: o.total_fee,
            fee: fee_units(fee_of(o.total_fee)),
            total_fee: o.total_fee,
            ..common_row(o, BeijingTime::from_utc(paid_at), "SUCCESS")
        })?;
    }
    for (r, o) in &refunds {
        let status = status_at(r, at);
        let success_time = match (&status, r.settled_at) {
            (RefundStatus::Success, Some(t)) => Some(BeijingTime::from_utc(t)),
            _ => None,
        };
        // In the REFUND bill 交易时间 is the payment's, the refund's own time has its column; in ALL
        // the refund row is dated when the refund was initiated (§7.4).
        let time = match (kind, o.paid_at) {
            (BillKind::Refund, Some(paid)) => paid,
            _ => r.created_at,
        };
        writer.write_row(&BillRow {
            refund_apply_time: Some(BeijingTime::from_utc(r.created_at)),
            refund_success_time: success_time,
            refund_id: &r.refund_id,
            out_refund_no: &r.out_refund_no,
            refund_fee: r.refund_fee,
            refund_type: "ORIGINAL",
            refund_status: status.as_str(),
            fee: fee_units(Fen(-fee_of(r.refund_fee).get())),
            refund_apply_fee: r.refund_fee,
            ..common_row(o, BeijingTime::from_utc(time), "REFUND")
        })?;
    }
    let bytes = writer.finish()?;
    Ok(Some(
        String::from_utf8(bytes)
            .map_err(|e| BillWriteError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?,
    ))
}

fn fee_units(fee: Fen) -> FeeAmount {
    FeeAmount(fee.get().saturating_mul(FeeAmount::UNITS_PER_FEN))
}

/// The columns every row of an order shares.
fn common_row<'a>(o: &'a Order, time: BeijingTime, state: &'a str) -> BillRow<'a> {
    BillRow {
        appid: &o.appid,
        mch_id: &o.mch_id,
        device_info: o.device_info.as_deref().unwrap_or(""),
        transaction_id: o.transaction_id.as_deref().unwrap_or(""),
        out_trade_no: &o.out_trade_no,
        openid: o.openid.as_deref().unwrap_or(""),
        trade_type: &o.trade_type,
        trade_state: state,
        bank_type: o.bank_type.as_deref().unwrap_or("OTHERS"),
        currency: &o.fee_type,
        body: &o.body,
        attach: o.attach.as_deref().unwrap_or(""),
        rate: FEE_RATE_TEXT,
        ..BillRow::new(time)
    }
}

/// The fund-flow bill of `day` for `account` (`Basic`, `Operation`, `Fees`), or `None` when empty.
pub fn fund_flow_bill(m: &MerchantState, day: NaiveDate, account: &str) -> Option<String> {
    let rows: Vec<&FundFlow> = m.fund_flows.iter().filter(|f| f.account == account && on_day(f.at, day)).collect();
    if rows.is_empty() {
        return None;
    }
    let mut text = Text::new(FUND_FLOW_HEADER);
    let (mut income_n, mut income, mut expense_n, mut expense) = (0usize, Fen::ZERO, 0usize, Fen::ZERO);
    for f in &rows {
        if f.income {
            income_n += 1;
            income = income.checked_add(f.amount).unwrap_or(income);
        } else {
            expense_n += 1;
            expense = expense.checked_add(f.amount).unwrap_or(expense);
        }
        text.row(&[
            dashed(f.at),
            f.business_id.clone(),
            f.flow_id.clone(),
            f.name.clone(),
            f.kind.clone(),
            if f.income { "收入" } else { "支出" }.to_string(),
            yuan(f.amount),
            yuan(f.balance_after),
            f.applicant.clone(),
            f.remark.clone(),
            f.voucher.clone(),
        ]);
    }
    text.line(FUND_FLOW_SUMMARY_HEADER);
    text.row(&[rows.len().to_string(), income_n.to_string(), yuan(income), expense_n.to_string(), yuan(expense)]);
    Some(text.0)
}

/// gzip bytes of a bill (`tar_type=GZIP`, §7.5).
pub fn gzip(text: &str) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(text.len() / 3 + 64), Compression::default());
    encoder.write_all(text.as_bytes())?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
    }

    #[test]
    fn fee_is_0_6_percent_rounded_half_up() {
        assert_eq!(fee_of(Fen(1000)), Fen(6));
        assert_eq!(fee_of(Fen(1)), Fen(0));
        assert_eq!(fee_of(Fen(84)), Fen(1)); // 0.504 fen
        assert_eq!(fee_of(Fen(83)), Fen(0)); // 0.498 fen
        assert_eq!(fee_text(Fen(6)), "0.06000");
        assert_eq!(fee_text(Fen(-6)), "-0.06000");
    }

    #[test]
    fn bills_are_available_from_10_00_the_next_day_for_three_months() {
        let at = |s: &str| crate::clock::parse_instant(s).unwrap();
        assert_eq!(availability(day(), at("2024-03-01 23:00:00")), Err(Unavailable::Creating));
        assert_eq!(availability(day(), at("2024-03-02 09:59:59")), Err(Unavailable::Creating));
        assert_eq!(availability(day(), at("2024-03-02 10:00:00")), Ok(()));
        assert_eq!(availability(day(), at("2024-05-31 12:00:00")), Ok(()));
        assert_eq!(availability(day(), at("2024-06-02 12:00:00")), Err(Unavailable::OutOfRange));
    }

    #[test]
    fn the_fund_flow_header_has_eleven_columns() {
        assert_eq!(FUND_FLOW_HEADER.split(',').count(), 11);
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        let z = gzip("\u{feff}a,b\r\n").unwrap();
        assert_eq!(&z[..2], &[0x1f, 0x8b]);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&z[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "\u{feff}a,b\r\n");
    }
}
