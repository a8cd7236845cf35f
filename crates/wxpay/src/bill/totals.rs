//! Bill totals (§7.4): the summary WeChat writes after the rows, the same totals added up from the
//! rows, and the comparison that lists every disagreement. The summary titles differ between the
//! modern and legacy formats; both map to the keys below (docs/decisions/0002-bill-summary-keys.md).

use std::fmt;

use serde::Serialize;

use super::columns::{Column, Header};
use super::error::{BillError, BillErrorKind};
use crate::money::{parse_decimal, FeeAmount, Fen};

/// The title that starts the summary titles line (§7.4: "locate the summary by the title line
/// starting with 总交易单数").
pub const SUMMARY_FIRST_TITLE: &str = "总交易单数";

/// A typed summary total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalKey {
    /// 总交易单数: payment rows plus refund rows.
    TotalCount,
    /// 应结订单总金额
    SettlementTotalFee,
    /// 退款总金额 (legacy: 总退款金额)
    RefundTotalFee,
    /// 充值券退款总金额 (legacy: 总代金券或立减优惠退款金额)
    CouponRefundTotalFee,
    /// 手续费总金额, in units of 0.00001 yuan
    FeeTotal,
    /// 订单总金额 (legacy: 总交易额)
    OrderTotalFee,
    /// 申请退款总金额
    RefundApplyTotalFee,
}

impl TotalKey {
    pub const ALL: [TotalKey; 7] = [
        TotalKey::TotalCount,
        TotalKey::SettlementTotalFee,
        TotalKey::RefundTotalFee,
        TotalKey::CouponRefundTotalFee,
        TotalKey::FeeTotal,
        TotalKey::OrderTotalFee,
        TotalKey::RefundApplyTotalFee,
    ];

    /// The key's name in JSON and in docs.
    pub fn as_str(self) -> &'static str {
        match self {
            TotalKey::TotalCount => "total_count",
            TotalKey::SettlementTotalFee => "settlement_total_fee",
            TotalKey::RefundTotalFee => "refund_total_fee",
            TotalKey::CouponRefundTotalFee => "coupon_refund_total_fee",
            TotalKey::FeeTotal => "fee_total",
            TotalKey::OrderTotalFee => "order_total_fee",
            TotalKey::RefundApplyTotalFee => "refund_apply_total_fee",
        }
    }

    /// The modern summary title.
    pub fn title(self) -> &'static str {
        match self {
            TotalKey::TotalCount => "总交易单数",
            TotalKey::SettlementTotalFee => "应结订单总金额",
            TotalKey::RefundTotalFee => "退款总金额",
            TotalKey::CouponRefundTotalFee => "充值券退款总金额",
            TotalKey::FeeTotal => "手续费总金额",
            TotalKey::OrderTotalFee => "订单总金额",
            TotalKey::RefundApplyTotalFee => "申请退款总金额",
        }
    }

    /// The key a summary title stands for, modern and legacy titles alike (§7.4).
    pub fn from_title(title: &str) -> Option<TotalKey> {
        Some(match title {
            "总交易单数" => TotalKey::TotalCount,
            "应结订单总金额" => TotalKey::SettlementTotalFee,
            "退款总金额" | "总退款金额" => TotalKey::RefundTotalFee,
            "充值券退款总金额" | "总代金券或立减优惠退款金额" | "总企业红包退款金额" => {
                TotalKey::CouponRefundTotalFee
            }
            "手续费总金额" => TotalKey::FeeTotal,
            "订单总金额" | "总交易额" => TotalKey::OrderTotalFee,
            "申请退款总金额" => TotalKey::RefundApplyTotalFee,
            _ => return None,
        })
    }

    /// The row column a total adds up, in a bill with `header`; `None` when the bill has no such column.
    pub fn source_column(self, header: &Header) -> Option<Column> {
        let column = match self {
            TotalKey::TotalCount => return None,
            TotalKey::SettlementTotalFee => Column::SettlementTotalFee,
            TotalKey::RefundTotalFee => Column::RefundFee,
            TotalKey::CouponRefundTotalFee => Column::CouponRefundFee,
            TotalKey::FeeTotal => Column::Fee,
            // Legacy bills have 总金额 where modern ones have 订单金额; 总交易额 adds it up.
            TotalKey::OrderTotalFee if !header.has(Column::TotalFee) => Column::LegacyTotalFee,
            TotalKey::OrderTotalFee => Column::TotalFee,
            TotalKey::RefundApplyTotalFee => Column::RefundApplyFee,
        };
        header.has(column).then_some(column)
    }
}

impl fmt::Display for TotalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One total's value, in the key's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TotalValue {
    Count(u64),
    Money(Fen),
    Fee(FeeAmount),
}

impl TotalValue {
    pub fn is_zero(self) -> bool {
        match self {
            TotalValue::Count(n) => n == 0,
            TotalValue::Money(f) => f == Fen::ZERO,
            TotalValue::Fee(f) => f == FeeAmount::ZERO,
        }
    }

    /// The integer in the key's unit: a count, fen, or 0.00001 yuan.
    pub fn units(self) -> i128 {
        match self {
            TotalValue::Count(n) => i128::from(n),
            TotalValue::Money(f) => i128::from(f.get()),
            TotalValue::Fee(f) => i128::from(f.0),
        }
    }
}

impl fmt::Display for TotalValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TotalValue::Count(n) => write!(f, "{n}"),
            TotalValue::Money(m) => write!(f, "{} yuan", m.to_yuan_string()),
            TotalValue::Fee(x) => write!(f, "{} yuan", x.to_yuan_string()),
        }
    }
}

/// The seven totals; a key is `None` where the bill has no such summary title (or no such column to
/// add up). Serialises with the keys of [`TotalKey::as_str`], money as integer fen and the fee as
/// integer 0.00001-yuan units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settlement_total_fee: Option<Fen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_total_fee: Option<Fen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon_refund_total_fee: Option<Fen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee_total: Option<FeeAmount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_total_fee: Option<Fen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_apply_total_fee: Option<Fen>,
}

impl Totals {
    pub fn get(&self, key: TotalKey) -> Option<TotalValue> {
        match key {
            TotalKey::TotalCount => self.total_count.map(TotalValue::Count),
            TotalKey::SettlementTotalFee => self.settlement_total_fee.map(TotalValue::Money),
            TotalKey::RefundTotalFee => self.refund_total_fee.map(TotalValue::Money),
            TotalKey::CouponRefundTotalFee => self.coupon_refund_total_fee.map(TotalValue::Money),
            TotalKey::FeeTotal => self.fee_total.map(TotalValue::Fee),
            TotalKey::OrderTotalFee => self.order_total_fee.map(TotalValue::Money),
            TotalKey::RefundApplyTotalFee => self.refund_apply_total_fee.map(TotalValue::Money),
        }
    }

    /// The keys that have a value, in [`TotalKey::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (TotalKey, TotalValue)> + '_ {
        TotalKey::ALL.into_iter().filter_map(|k| self.get(k).map(|v| (k, v)))
    }

    /// Zero for every total whose column the bill has (and the count): what an empty day adds up to.
    pub fn zero_for(header: &Header) -> Totals {
        let zero = |key: TotalKey| key.source_column(header).map(|_| Fen::ZERO);
        Totals {
            total_count: Some(0),
            settlement_total_fee: zero(TotalKey::SettlementTotalFee),
            refund_total_fee: zero(TotalKey::RefundTotalFee),
            coupon_refund_total_fee: zero(TotalKey::CouponRefundTotalFee),
            fee_total: TotalKey::FeeTotal.source_column(header).map(|_| FeeAmount::ZERO),
            order_total_fee: zero(TotalKey::OrderTotalFee),
            refund_apply_total_fee: zero(TotalKey::RefundApplyTotalFee),
        }
    }

    /// Adds one row's amounts. A key that is `None` stays `None` (the bill has no such column).
    pub(crate) fn add_row(&mut self, amounts: &Amounts) -> Result<(), TotalKey> {
        fn add(total: &mut Option<Fen>, amount: Option<Fen>, key: TotalKey) -> Result<(), TotalKey> {
            if let (Some(t), Some(a)) = (total.as_mut(), amount) {
                *t = t.checked_add(a).ok_or(key)?;
            }
            Ok(())
        }
        if let Some(count) = self.total_count.as_mut() {
            *count = count.checked_add(1).ok_or(TotalKey::TotalCount)?;
        }
        add(&mut self.settlement_total_fee, amounts.settlement_total_fee, TotalKey::SettlementTotalFee)?;
        add(&mut self.refund_total_fee, amounts.refund_fee, TotalKey::RefundTotalFee)?;
        add(&mut self.coupon_refund_total_fee, amounts.coupon_refund_fee, TotalKey::CouponRefundTotalFee)?;
        add(&mut self.order_total_fee, amounts.total_fee.or(amounts.legacy_total_fee), TotalKey::OrderTotalFee)?;
        add(&mut self.refund_apply_total_fee, amounts.refund_apply_fee, TotalKey::RefundApplyTotalFee)?;
        if let (Some(t), Some(a)) = (self.fee_total.as_mut(), amounts.fee) {
            *t = t.checked_add(a).ok_or(TotalKey::FeeTotal)?;
        }
        Ok(())
    }

    fn set(&mut self, key: TotalKey, value: TotalValue) {
        match (key, value) {
            (TotalKey::TotalCount, TotalValue::Count(n)) => self.total_count = Some(n),
            (TotalKey::SettlementTotalFee, TotalValue::Money(f)) => self.settlement_total_fee = Some(f),
            (TotalKey::RefundTotalFee, TotalValue::Money(f)) => self.refund_total_fee = Some(f),
            (TotalKey::CouponRefundTotalFee, TotalValue::Money(f)) => self.coupon_refund_total_fee = Some(f),
            (TotalKey::FeeTotal, TotalValue::Fee(f)) => self.fee_total = Some(f),
            (TotalKey::OrderTotalFee, TotalValue::Money(f)) => self.order_total_fee = Some(f),
            (TotalKey::RefundApplyTotalFee, TotalValue::Money(f)) => self.refund_apply_total_fee = Some(f),
            // parse_value produces the unit of its key; no other pair is built.
            _ => {}
        }
    }
}

/// One row's amounts, parsed once when the row is read (`None` where the bill has no such column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Amounts {
    pub settlement_total_fee: Option<Fen>,
    pub legacy_total_fee: Option<Fen>,
    pub coupon_fee: Option<Fen>,
    pub refund_fee: Option<Fen>,
    pub coupon_refund_fee: Option<Fen>,
    pub fee: Option<FeeAmount>,
    pub total_fee: Option<Fen>,
    pub refund_apply_fee: Option<Fen>,
}

/// The summary WeChat wrote: every title with its text, and the typed totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    line: u64,
    fields: Vec<(String, String)>,
    totals: Totals,
}

impl Summary {
    /// Parses the summary titles and values lines (`values_line` is the 1-based line of the values).
    /// Counts may be written `45.0`; money may have fewer decimals than the rows (`0.0`, `0`).
    pub fn parse(titles: &str, values: &[&str], values_line: u64) -> Result<Summary, BillError> {
        let err = |kind| BillError::new(values_line, kind);
        let titles: Vec<&str> = titles.split(',').map(str::trim).collect();
        if titles.len() != values.len() {
            return Err(err(BillErrorKind::SummaryColumns { expected: titles.len(), found: values.len() }));
        }
        let mut fields = Vec::with_capacity(titles.len());
        let mut totals = Totals::default();
        for (title, text) in titles.iter().zip(values) {
            if fields.iter().any(|(t, _): &(String, String)| t == title) {
                return Err(BillError::new(
                    values_line.saturating_sub(1),
                    BillErrorKind::DuplicateColumn((*title).to_string()),
                ));
            }
            if let Some(key) = TotalKey::from_title(title) {
                if totals.get(key).is_some() {
                    return Err(BillError::new(
                        values_line.saturating_sub(1),
                        BillErrorKind::DuplicateColumn((*title).to_string()),
                    ));
                }
                totals.set(key, parse_value(key, title, text).map_err(err)?);
            }
            fields.push(((*title).to_string(), (*text).to_string()));
        }
        Ok(Summary { line: values_line, fields, totals })
    }

    /// The line of the summary values.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The text under a summary title, exactly as written.
    pub fn get(&self, title: &str) -> Option<&str> {
        self.fields.iter().find(|(t, _)| t == title).map(|(_, v)| v.as_str())
    }

    /// Titles and texts in the bill's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(t, v)| (t.as_str(), v.as_str()))
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }
}

fn parse_value(key: TotalKey, title: &str, text: &str) -> Result<TotalValue, BillErrorKind> {
    let bad_amount =
        |reason| BillErrorKind::BadAmount { column: title.to_string(), text: super::error::excerpt(text), reason };
    match key {
        TotalKey::TotalCount => parse_decimal(text, 0)
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .map(TotalValue::Count)
            .ok_or_else(|| BillErrorKind::BadCount { column: title.to_string(), text: super::error::excerpt(text) }),
        TotalKey::FeeTotal => FeeAmount::parse_yuan(text).map(TotalValue::Fee).map_err(|e| bad_amount(e.reason)),
        _ => Fen::parse_yuan(text).map(TotalValue::Money).map_err(|e| bad_amount(e.reason)),
    }
}

/// A total on which the summary and the rows disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discrepancy {
    pub key: TotalKey,
    /// What the summary says.
    pub summary: TotalValue,
    /// What the rows add up to; `None` when the bill has no column to add up for a non-zero total.
    pub computed: Option<TotalValue>,
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.computed {
            Some(c) => write!(f, "{}: the summary says {}, the rows add up to {}", self.key, self.summary, c),
            None => write!(f, "{}: the summary says {}, and the rows have no column to add up", self.key, self.summary),
        }
    }
}

/// The summary next to the totals of the rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub summary: Totals,
    pub computed: Totals,
    pub discrepancies: Vec<Discrepancy>,
}

impl Reconciliation {
    pub fn new(summary: Totals, computed: Totals) -> Self {
        Reconciliation { discrepancies: compare(&summary, &computed), summary, computed }
    }

    /// True when every total the summary states equals the rows' total exactly.
    pub fn agrees(&self) -> bool {
        self.discrepancies.is_empty()
    }
}

/// Every total of the summary that the rows do not reproduce exactly. A total the summary does not
/// state cannot disagree. A total the summary states but the rows cannot add up (no such column, as
/// 退款总金额 in a SUCCESS bill) agrees only when it is zero.
pub fn compare(summary: &Totals, computed: &Totals) -> Vec<Discrepancy> {
    TotalKey::ALL
        .into_iter()
        .filter_map(|key| {
            let stated = summary.get(key)?;
            match computed.get(key) {
                Some(c) if c == stated => None,
                None if stated.is_zero() => None,
                c => Some(Discrepancy { key, summary: stated, computed: c }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_may_carry_a_zero_decimal() {
        let s = Summary::parse("总交易单数,手续费总金额,充值券退款总金额", &["45.0", "0.08", "0"], 3).unwrap();
        assert_eq!(s.totals().total_count, Some(45));
        assert_eq!(s.totals().fee_total, Some(FeeAmount(8000)));
        assert_eq!(s.totals().coupon_refund_total_fee, Some(Fen(0)));
        assert_eq!(s.get("总交易单数"), Some("45.0"));
    }

    #[test]
    fn fractional_or_negative_counts_are_refused() {
        for bad in ["45.5", "-1", "", "4e1"] {
            let e = Summary::parse("总交易单数", &[bad], 9).unwrap_err();
            assert_eq!(e.line, 9);
            assert!(matches!(e.kind, BillErrorKind::BadCount { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn legacy_titles_map_to_the_modern_keys() {
        let s = Summary::parse(
            "总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额",
            &["2", "0.02", "0.0", "0.0", "0"],
            4,
        )
        .unwrap();
        let t = s.totals();
        assert_eq!(
            (t.order_total_fee, t.refund_total_fee, t.coupon_refund_total_fee),
            (Some(Fen(2)), Some(Fen(0)), Some(Fen(0)))
        );
        assert_eq!(t.settlement_total_fee, None);
    }

    #[test]
    fn every_stated_difference_is_reported() {
        let summary = Totals {
            total_count: Some(2),
            fee_total: Some(FeeAmount(1000)),
            refund_total_fee: Some(Fen(5)),
            ..Totals::default()
        };
        let computed = Totals { total_count: Some(2), fee_total: Some(FeeAmount(999)), ..Totals::default() };
        let d = compare(&summary, &computed);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].key, TotalKey::RefundTotalFee);
        assert_eq!(d[0].computed, None);
        assert_eq!(d[1].to_string(), "fee_total: the summary says 0.01000 yuan, the rows add up to 0.00999 yuan");
    }

    #[test]
    fn a_zero_total_without_a_column_agrees() {
        let summary = Totals { refund_total_fee: Some(Fen(0)), ..Totals::default() };
        assert!(compare(&summary, &Totals::default()).is_empty());
    }
}
