//! The T+1 bills (§7) built from the simulator's books: the modern ("免充值券") ALL / SUCCESS / REFUND
//! trade bills and the fund-flow bill, byte for byte in WeChat's layout — UTF-8 BOM, CRLF line ends,
//! a title line, backtick-prefixed values, the summary title and summary values — and gzip.
//!
//! A day's trade bill holds the payments made that Beijing day and the refunds *initiated* that day,
//! each refund row with its status as of the bill's generation (09:00 the next day). A bill is
//! available from 10:00 the next day ("Bill Creating" before), "No Bill Exist" when the day has no
//! rows, and only for the last three months.

use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use wxpay::{BeijingTime, FeeAmount, Fen, RefundStatus};

use crate::model::{Order, Refund};
use crate::store::{FundFlow, MerchantState};

/// The fee rate every sandbox merchant pays: 0.60 %.
pub const FEE_RATE_TEXT: &str = "0.60%";

/// The fee on `amount` at 0.60 %, rounded half up to whole fen (fen × 6 / 1000).
pub fn fee_of(amount: Fen) -> Fen {
    Fen((amount.get().saturating_mul(6).saturating_add(500)) / 1000)
}

fn fee_text(fee: Fen) -> String {
    FeeAmount(fee.get().saturating_mul(FeeAmount::UNITS_PER_FEN)).to_yuan_string()
}

pub const ALL_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
pub const SUCCESS_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,商品名称,商户数据包,手续费,费率,订单金额,费率备注";
pub const REFUND_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,退款申请时间,退款成功时间,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";
pub const ALL_SUMMARY_HEADER: &str = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额";
pub const SUCCESS_SUMMARY_HEADER: &str = "总交易单数,应结订单总金额,手续费总金额,订单总金额";
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

/// The trade bill of `day`, or `None` when it has no rows.
pub fn trade_bill(m: &MerchantState, day: NaiveDate, kind: BillKind) -> Option<String> {
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
        return None;
    }
    let at = generated_at(day);
    let header = match kind {
        BillKind::All => ALL_HEADER,
        BillKind::Success => SUCCESS_HEADER,
        BillKind::Refund => REFUND_HEADER,
    };
    let mut text = Text::new(header);
    let (mut settle_total, mut refund_total, mut fee_total, mut order_total) = (Fen::ZERO, Fen::ZERO, Fen::ZERO, Fen::ZERO);
    let add = |a: Fen, b: Fen| a.checked_add(b).unwrap_or(a);
    for o in &payments {
        let fee = fee_of(o.total_fee);
        settle_total = add(settle_total, o.total_fee);
        order_total = add(order_total, o.total_fee);
        fee_total = add(fee_total, fee);
        let mut row = common_columns(o, o.paid_at.map(dashed).unwrap_or_default(), "SUCCESS");
        row.push(yuan(o.total_fee)); // 应结订单金额
        row.push(yuan(Fen::ZERO)); // 代金券金额
        if kind == BillKind::All {
            row.extend(["0", "0", "0.00", "0.00", "", ""].map(String::from));
        }
        row.extend([o.body.clone(), o.attach.clone().unwrap_or_default(), fee_text(fee), FEE_RATE_TEXT.into()]);
        row.push(yuan(o.total_fee)); // 订单金额
        if kind == BillKind::All {
            row.push(yuan(Fen::ZERO)); // 申请退款金额
        }
        row.push(String::new()); // 费率备注
        text.row(&row);
    }
    for (r, o) in &refunds {
        let fee = Fen(-fee_of(r.refund_fee).get());
        refund_total = add(refund_total, r.refund_fee);
        fee_total = add(fee_total, fee);
        let status = status_at(r, at);
        // In the REFUND bill 交易时间 is the payment's; the refund's own time has its column.
        let time = if kind == BillKind::Refund { o.paid_at.map(dashed).unwrap_or_default() } else { dashed(r.created_at) };
        let mut row = common_columns(o, time, "REFUND");
        row.push(yuan(Fen::ZERO));
        row.push(yuan(Fen::ZERO));
        if kind == BillKind::Refund {
            row.push(dashed(r.created_at));
            row.push(match (&status, r.settled_at) {
                (RefundStatus::Success, Some(t)) => dashed(t),
                _ => String::new(),
            });
        }
        row.extend([r.refund_id.clone(), r.out_refund_no.clone(), yuan(r.refund_fee), yuan(Fen::ZERO)]);
        row.extend(["ORIGINAL".to_string(), status.as_str().to_string()]);
        row.extend([o.body.clone(), o.attach.clone().unwrap_or_default(), fee_text(fee), FEE_RATE_TEXT.into()]);
        row.extend([yuan(Fen::ZERO), yuan(r.refund_fee), String::new()]);
        text.row(&row);
    }
    let count = (payments.len() + refunds.len()).to_string();
    match kind {
        BillKind::Success => {
            text.line(SUCCESS_SUMMARY_HEADER);
            text.row(&[count, yuan(settle_total), fee_text(fee_total), yuan(order_total)]);
        }
        BillKind::All | BillKind::Refund => {
            text.line(ALL_SUMMARY_HEADER);
            text.row(&[
                count,
                yuan(settle_total),
                yuan(refund_total),
                yuan(Fen::ZERO),
                fee_text(fee_total),
                yuan(order_total),
                yuan(refund_total),
            ]);
        }
    }
    Some(text.0)
}

/// 交易时间 … 货币种类: the first twelve columns, shared by every bill type.
fn common_columns(o: &Order, time: String, state: &str) -> Vec<String> {
    vec![
        time,
        o.appid.clone(),
        o.mch_id.clone(),
        "0".into(),
        o.device_info.clone().unwrap_or_default(),
        o.transaction_id.clone().unwrap_or_default(),
        o.out_trade_no.clone(),
        o.openid.clone().unwrap_or_default(),
        o.trade_type.clone(),
        state.into(),
        o.bank_type.clone().unwrap_or_default(),
        o.fee_type.clone(),
    ]
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
            f.name.to_string(),
            f.kind.to_string(),
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
    fn headers_have_the_documented_column_counts() {
        assert_eq!(ALL_HEADER.split(',').count(), 27);
        assert_eq!(SUCCESS_HEADER.split(',').count(), 20);
        assert_eq!(REFUND_HEADER.split(',').count(), 29);
        assert_eq!(ALL_SUMMARY_HEADER.split(',').count(), 7);
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
