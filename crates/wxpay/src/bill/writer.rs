//! Writes bills in the exact modern format (§7.4): titles line, backticked rows, summary titles and
//! backticked summary values, CRLF line ends, optionally the UTF-8 BOM the real bills start with.
//! The simulator serves what this writes, and the benchmark parses it.
//!
//! Yuan text comes from [`Fen::to_yuan_string`] (two decimals) and [`FeeAmount::to_yuan_string`]
//! (five); summary counts are written as integers. The summary is the rows' own totals unless the
//! caller supplies another one (a simulator can serve a bill that disagrees, on purpose).

use std::io::Write;

use super::columns::{modern_columns, Column, Header};
use super::error::{BillWriteError, InvalidValueReason};
use super::totals::{Amounts, TotalKey, TotalValue, Totals};
use crate::api::BillType;
use crate::money::{FeeAmount, Fen};
use crate::time::BeijingTime;

/// One row to write. Text fields are written as given (checked for line breaks and the `` ,` ``
/// separator); fields whose column the bill type lacks are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillRow<'a> {
    pub trade_time: BeijingTime,
    pub appid: &'a str,
    pub mch_id: &'a str,
    pub sub_mch_id: &'a str,
    pub device_info: &'a str,
    pub transaction_id: &'a str,
    pub out_trade_no: &'a str,
    pub openid: &'a str,
    pub trade_type: &'a str,
    pub trade_state: &'a str,
    pub bank_type: &'a str,
    pub currency: &'a str,
    pub settlement_total_fee: Fen,
    pub coupon_fee: Fen,
    pub refund_apply_time: Option<BeijingTime>,
    pub refund_success_time: Option<BeijingTime>,
    pub refund_id: &'a str,
    pub out_refund_no: &'a str,
    pub refund_fee: Fen,
    pub coupon_refund_fee: Fen,
    pub refund_type: &'a str,
    pub refund_status: &'a str,
    pub body: &'a str,
    pub attach: &'a str,
    pub fee: FeeAmount,
    pub rate: &'a str,
    pub total_fee: Fen,
    pub refund_apply_fee: Fen,
    pub rate_note: &'a str,
}

impl<'a> BillRow<'a> {
    /// A payment row with the values WeChat writes for an ordinary merchant when nothing else is
    /// known: 特约商户号 `0`, refund ids `0`, CNY, SUCCESS, zero amounts, 0.60%.
    pub fn new(trade_time: BeijingTime) -> Self {
        BillRow {
            trade_time,
            appid: "",
            mch_id: "",
            sub_mch_id: "0",
            device_info: "",
            transaction_id: "",
            out_trade_no: "",
            openid: "",
            trade_type: "JSAPI",
            trade_state: "SUCCESS",
            bank_type: "OTHERS",
            currency: "CNY",
            settlement_total_fee: Fen::ZERO,
            coupon_fee: Fen::ZERO,
            refund_apply_time: None,
            refund_success_time: None,
            refund_id: "0",
            out_refund_no: "0",
            refund_fee: Fen::ZERO,
            coupon_refund_fee: Fen::ZERO,
            refund_type: "",
            refund_status: "",
            body: "",
            attach: "",
            fee: FeeAmount::ZERO,
            rate: "0.60%",
            total_fee: Fen::ZERO,
            refund_apply_fee: Fen::ZERO,
            rate_note: "",
        }
    }

    fn amounts(&self) -> Amounts {
        Amounts {
            settlement_total_fee: Some(self.settlement_total_fee),
            legacy_total_fee: None,
            coupon_fee: Some(self.coupon_fee),
            refund_fee: Some(self.refund_fee),
            coupon_refund_fee: Some(self.coupon_refund_fee),
            fee: Some(self.fee),
            total_fee: Some(self.total_fee),
            refund_apply_fee: Some(self.refund_apply_fee),
        }
    }
}

/// The summary keys of each modern bill type, in order. SUCCESS follows the 2024 format page (4
/// totals); WxJava's sample shows 7, which the reader accepts too (§13 item 2).
fn summary_keys(bill_type: BillType) -> &'static [TotalKey] {
    const SUCCESS: [TotalKey; 4] =
        [TotalKey::TotalCount, TotalKey::SettlementTotalFee, TotalKey::FeeTotal, TotalKey::OrderTotalFee];
    match bill_type {
        BillType::Success => &SUCCESS,
        _ => &TotalKey::ALL,
    }
}

/// Writes one bill.
#[derive(Debug)]
pub struct BillWriter<W: Write> {
    out: W,
    bill_type: BillType,
    columns: &'static [Column],
    computed: Totals,
    line: String,
}

impl<W: Write> BillWriter<W> {
    /// Starts a bill of `bill_type` (ALL, SUCCESS or REFUND) and writes its titles line, after a UTF-8
    /// BOM when `bom` is set (the real bills have one, §7.4).
    pub fn new(mut out: W, bill_type: BillType, bom: bool) -> Result<Self, BillWriteError> {
        let columns = modern_columns(bill_type)?;
        let header = Header::modern(bill_type)?;
        if bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        let titles: Vec<&str> = columns.iter().map(|c| c.title()).collect();
        out.write_all(titles.join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
        Ok(BillWriter {
            out,
            bill_type,
            columns,
            computed: Totals::zero_for(&header),
            line: String::with_capacity(512),
        })
    }

    /// Writes one data row and adds it to the totals.
    pub fn write_row(&mut self, row: &BillRow<'_>) -> Result<(), BillWriteError> {
        let line = &mut self.line;
        line.clear();
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push('`');
            match column {
                Column::TradeTime => line.push_str(&row.trade_time.to_dashed()),
                Column::AppId => push_text(line, *column, row.appid)?,
                Column::MchId => push_text(line, *column, row.mch_id)?,
                Column::SubMchId => push_text(line, *column, row.sub_mch_id)?,
                Column::DeviceInfo => push_text(line, *column, row.device_info)?,
                Column::TransactionId => push_text(line, *column, row.transaction_id)?,
                Column::OutTradeNo => push_text(line, *column, row.out_trade_no)?,
                Column::OpenId => push_text(line, *column, row.openid)?,
                Column::TradeType => push_text(line, *column, row.trade_type)?,
                Column::TradeState => push_text(line, *column, row.trade_state)?,
                Column::BankType => push_text(line, *column, row.bank_type)?,
                Column::Currency => push_text(line, *column, row.currency)?,
                Column::SettlementTotalFee | Column::LegacyTotalFee => {
                    line.push_str(&row.settlement_total_fee.to_yuan_string())
                }
                Column::CouponFee => line.push_str(&row.coupon_fee.to_yuan_string()),
                Column::RefundApplyTime => {
                    if let Some(t) = row.refund_apply_time {
                        line.push_str(&t.to_dashed());
                    }
                }
                Column::RefundSuccessTime => {
                    if let Some(t) = row.refund_success_time {
                        line.push_str(&t.to_dashed());
                    }
                }
                Column::RefundId => push_text(line, *column, row.refund_id)?,
                Column::OutRefundNo => push_text(line, *column, row.out_refund_no)?,
                Column::RefundFee => line.push_str(&row.refund_fee.to_yuan_string()),
                Column::CouponRefundFee => line.push_str(&row.coupon_refund_fee.to_yuan_string()),
                Column::RefundType => push_text(line, *column, row.refund_type)?,
                Column::RefundStatus => push_text(line, *column, row.refund_status)?,
                Column::Body => push_text(line, *column, row.body)?,
                Column::Attach => push_text(line, *column, row.attach)?,
                Column::Fee => line.push_str(&row.fee.to_yuan_string()),
                Column::Rate => push_text(line, *column, row.rate)?,
                Column::TotalFee => line.push_str(&row.total_fee.to_yuan_string()),
                Column::RefundApplyFee => line.push_str(&row.refund_apply_fee.to_yuan_string()),
                Column::RateNote => push_text(line, *column, row.rate_note)?,
            }
        }
        line.push_str("\r\n");
        let mut next = self.computed;
        next.add_row(&row.amounts()).map_err(|key| BillWriteError::Overflow(key.as_str()))?;
        self.out.write_all(self.line.as_bytes())?;
        self.computed = next;
        Ok(())
    }

    /// The totals of the rows written so far.
    pub fn totals(&self) -> &Totals {
        &self.computed
    }

    /// Writes the summary of the rows written and returns the output (flushed).
    pub fn finish(self) -> Result<W, BillWriteError> {
        let totals = self.computed;
        self.finish_with_summary(&totals)
    }

    /// Writes `summary` as the bill's summary, whatever the rows add up to; a total it lacks is
    /// written as zero.
    pub fn finish_with_summary(mut self, summary: &Totals) -> Result<W, BillWriteError> {
        let keys = summary_keys(self.bill_type);
        let titles: Vec<&str> = keys.iter().map(|k| k.title()).collect();
        let values: Vec<String> = keys
            .iter()
            .map(|&key| {
                let text = match summary.get(key) {
                    Some(TotalValue::Count(n)) => n.to_string(),
                    Some(TotalValue::Money(f)) => f.to_yuan_string(),
                    Some(TotalValue::Fee(f)) => f.to_yuan_string(),
                    None if key == TotalKey::TotalCount => "0".to_string(),
                    None if key == TotalKey::FeeTotal => FeeAmount::ZERO.to_yuan_string(),
                    None => Fen::ZERO.to_yuan_string(),
                };
                format!("`{text}")
            })
            .collect();
        self.out.write_all(titles.join(",").as_bytes())?;
        self.out.write_all(b"\r\n")?;
        self.out.write_all(values.join(",").as_bytes())?;
        self.out.write_all(b"\r\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn push_text(line: &mut String, column: Column, value: &str) -> Result<(), BillWriteError> {
    let invalid = |reason| BillWriteError::InvalidValue { column: column.title(), reason };
    if value.contains(['\r', '\n']) {
        return Err(invalid(InvalidValueReason::LineBreak));
    }
    if value.contains(",`") {
        return Err(invalid(InvalidValueReason::Separator));
    }
    line.push_str(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time() -> BeijingTime {
        BeijingTime::parse_dashed("2019-02-19 05:01:46").unwrap()
    }

    #[test]
    fn an_all_bill_is_written_exactly() {
        let mut w = BillWriter::new(Vec::new(), BillType::All, true).unwrap();
        w.write_row(&BillRow {
            appid: "wx1",
            mch_id: "100",
            transaction_id: "42",
            out_trade_no: "o1",
            openid: "u",
            settlement_total_fee: Fen(3),
            total_fee: Fen(3),
            fee: FeeAmount(1000),
            body: "测试",
            ..BillRow::new(time())
        })
        .unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let expected = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n\
            `2019-02-19 05:01:46,`wx1,`100,`0,`,`42,`o1,`u,`JSAPI,`SUCCESS,`OTHERS,`CNY,`0.03,`0.00,`0,`0,`0.00,`0.00,`,`,`测试,`,`0.01000,`0.60%,`0.03,`0.00,`\r\n\
            总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\
            `1,`0.03,`0.00,`0.00,`0.01000,`0.03,`0.00\r\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_success_bill_has_the_four_total_summary() {
        let w = BillWriter::new(Vec::new(), BillType::Success, false).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(
            text.ends_with("总交易单数,应结订单总金额,手续费总金额,订单总金额\r\n`0,`0.00,`0.00000,`0.00\r\n"),
            "{text}"
        );
        assert!(!text.starts_with('\u{feff}'));
    }

    #[test]
    fn values_that_would_break_the_format_are_refused() {
        let mut w = BillWriter::new(Vec::new(), BillType::All, false).unwrap();
        for body in ["a\nb", "a\r", "x,`y"] {
            let e = w.write_row(&BillRow { body, ..BillRow::new(time()) }).unwrap_err();
            assert!(matches!(e, BillWriteError::InvalidValue { column: "商品名称", .. }), "{body:?}: {e}");
        }
        assert_eq!(w.totals().total_count, Some(0), "refused rows are not counted");
    }

    #[test]
    fn recharge_refund_has_no_layout_to_write() {
        assert!(matches!(
            BillWriter::new(Vec::new(), BillType::RechargeRefund, false),
            Err(BillWriteError::UnsupportedBillType(_))
        ));
    }
}
