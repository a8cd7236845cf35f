//! Bill columns (§7.4): the titles WeChat writes, the legacy titles that mean the same thing, and the
//! [`Header`] that maps one bill's titles to positions. Cells are always found by title, never by
//! position: the order differs per bill type and per merchant format generation.

use super::error::{BillErrorKind, BillWriteError};
use crate::api::BillType;

macro_rules! columns {
    ($count:literal; $($(#[$doc:meta])* $variant:ident = $slot:literal, $title:literal $(| $alias:literal)*;)+) => {
        /// A column this crate knows. Unknown columns are kept too, reachable by title.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Column {
            $($(#[$doc])* $variant,)+
        }

        impl Column {
            /// How many columns this crate knows.
            pub const COUNT: usize = $count;
            /// Every known column, in the modern ALL order where it has a place there.
            pub const ALL: [Column; $count] = [$(Column::$variant,)+];

            /// The modern title (the legacy one where only the legacy format has the column).
            pub fn title(self) -> &'static str {
                match self {
                    $(Column::$variant => $title,)+
                }
            }

            /// The column a title names, legacy titles included.
            pub fn from_title(title: &str) -> Option<Column> {
                match title {
                    $($title $(| $alias)* => Some(Column::$variant),)+
                    _ => None,
                }
            }

            pub(crate) fn slot(self) -> usize {
                match self {
                    $(Column::$variant => $slot,)+
                }
            }
        }
    };
}

columns! { 30;
    /// 交易时间: payment time, or refund *initiation* time on refund rows.
    TradeTime = 0, "交易时间";
    /// 公众账号ID: the order's appid.
    AppId = 1, "公众账号ID";
    /// 商户号
    MchId = 2, "商户号";
    /// 特约商户号 (modern) / 子商户号 (legacy); `0` for ordinary merchants.
    SubMchId = 3, "特约商户号" | "子商户号";
    /// 设备号
    DeviceInfo = 4, "设备号";
    /// 微信订单号 (transaction_id)
    TransactionId = 5, "微信订单号";
    /// 商户订单号 (out_trade_no)
    OutTradeNo = 6, "商户订单号";
    /// 用户标识 (openid)
    OpenId = 7, "用户标识";
    /// 交易类型: JSAPI, NATIVE, APP, MWEB, MICROPAY, FACEPAY…
    TradeType = 8, "交易类型";
    /// 交易状态: SUCCESS (payment row), REFUND (refund row), REVOKED.
    TradeState = 9, "交易状态";
    /// 付款银行
    BankType = 10, "付款银行";
    /// 货币种类
    Currency = 11, "货币种类";
    /// 应结订单金额 = 订单金额 − no-cash coupons; 0.00 on refund rows.
    SettlementTotalFee = 12, "应结订单金额";
    /// 总金额: the legacy format's order amount (no 免充值券 existed, so it is also the settlement amount).
    LegacyTotalFee = 13, "总金额";
    /// 代金券金额 (legacy: 代金券或立减优惠金额, 2016: 企业红包金额).
    CouponFee = 14, "代金券金额" | "代金券或立减优惠金额" | "企业红包金额";
    /// 退款申请时间 (REFUND bills)
    RefundApplyTime = 15, "退款申请时间";
    /// 退款成功时间 (REFUND bills; empty while processing)
    RefundSuccessTime = 16, "退款成功时间";
    /// 微信退款单号; `0` on payment rows.
    RefundId = 17, "微信退款单号";
    /// 商户退款单号; `0` on payment rows.
    OutRefundNo = 18, "商户退款单号";
    /// 退款金额
    RefundFee = 19, "退款金额";
    /// 充值券退款金额 (legacy: 代金券或立减优惠退款金额, 2016: 企业红包退款金额).
    CouponRefundFee = 20, "充值券退款金额" | "代金券或立减优惠退款金额" | "企业红包退款金额";
    /// 退款类型, e.g. ORIGINAL.
    RefundType = 21, "退款类型";
    /// 退款状态 at the time the row was written (never updated later, §7.2).
    RefundStatus = 22, "退款状态";
    /// 商品名称 (body)
    Body = 23, "商品名称";
    /// 商户数据包 (attach)
    Attach = 24, "商户数据包";
    /// 手续费: five decimals, negative on refund rows of REFUND bills.
    Fee = 25, "手续费";
    /// 费率, e.g. `0.60%`.
    Rate = 26, "费率";
    /// 订单金额 (modern format)
    TotalFee = 27, "订单金额";
    /// 申请退款金额 (modern format)
    RefundApplyFee = 28, "申请退款金额";
    /// 费率备注 (modern format)
    RateNote = 29, "费率备注";
}

/// Titles that exist only in the legacy (pre-免充值券) format (§7.4).
const LEGACY_TITLES: [&str; 6] =
    ["总金额", "子商户号", "代金券或立减优惠金额", "企业红包金额", "代金券或立减优惠退款金额", "企业红包退款金额"];

/// The column sets of the modern format, exactly as §7.4 lists them.
pub(crate) const MODERN_ALL: [Column; 27] = [
    Column::TradeTime,
    Column::AppId,
    Column::MchId,
    Column::SubMchId,
    Column::DeviceInfo,
    Column::TransactionId,
    Column::OutTradeNo,
    Column::OpenId,
    Column::TradeType,
    Column::TradeState,
    Column::BankType,
    Column::Currency,
    Column::SettlementTotalFee,
    Column::CouponFee,
    Column::RefundId,
    Column::OutRefundNo,
    Column::RefundFee,
    Column::CouponRefundFee,
    Column::RefundType,
    Column::RefundStatus,
    Column::Body,
    Column::Attach,
    Column::Fee,
    Column::Rate,
    Column::TotalFee,
    Column::RefundApplyFee,
    Column::RateNote,
];

pub(crate) const MODERN_SUCCESS: [Column; 20] = [
    Column::TradeTime,
    Column::AppId,
    Column::MchId,
    Column::SubMchId,
    Column::DeviceInfo,
    Column::TransactionId,
    Column::OutTradeNo,
    Column::OpenId,
    Column::TradeType,
    Column::TradeState,
    Column::BankType,
    Column::Currency,
    Column::SettlementTotalFee,
    Column::CouponFee,
    Column::Body,
    Column::Attach,
    Column::Fee,
    Column::Rate,
    Column::TotalFee,
    Column::RateNote,
];

pub(crate) const MODERN_REFUND: [Column; 29] = [
    Column::TradeTime,
    Column::AppId,
    Column::MchId,
    Column::SubMchId,
    Column::DeviceInfo,
    Column::TransactionId,
    Column::OutTradeNo,
    Column::OpenId,
    Column::TradeType,
    Column::TradeState,
    Column::BankType,
    Column::Currency,
    Column::SettlementTotalFee,
    Column::CouponFee,
    Column::RefundApplyTime,
    Column::RefundSuccessTime,
    Column::RefundId,
    Column::OutRefundNo,
    Column::RefundFee,
    Column::CouponRefundFee,
    Column::RefundType,
    Column::RefundStatus,
    Column::Body,
    Column::Attach,
    Column::Fee,
    Column::Rate,
    Column::TotalFee,
    Column::RefundApplyFee,
    Column::RateNote,
];

/// The modern columns of a bill type, in order (§7.4). RECHARGE_REFUND has no documented layout.
pub fn modern_columns(bill_type: BillType) -> Result<&'static [Column], BillWriteError> {
    match bill_type {
        BillType::All => Ok(&MODERN_ALL),
        BillType::Success => Ok(&MODERN_SUCCESS),
        BillType::Refund => Ok(&MODERN_REFUND),
        BillType::RechargeRefund => Err(BillWriteError::UnsupportedBillType("RECHARGE_REFUND")),
    }
}

/// Which generation of the format a bill is in (§7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillFormat {
    /// 开通免充值券后的结算对账单 (default since 2018): 应结订单金额, 订单金额, 申请退款金额, 费率备注.
    Modern,
    /// Merchants that never enabled 免充值券: 24-column ALL with 子商户号, 总金额, 代金券或立减优惠金额
    /// (or 企业红包金额) and a 5-column summary.
    Legacy,
}

impl BillFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            BillFormat::Modern => "modern",
            BillFormat::Legacy => "legacy",
        }
    }
}

/// A bill's titles line: the titles in order and where each known column is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    titles: Vec<String>,
    slots: [Option<usize>; Column::COUNT],
    format: BillFormat,
}

/// Columns a trade bill always has; without them the text is some other file.
const REQUIRED: [Column; 3] = [Column::TradeTime, Column::TradeState, Column::TransactionId];

impl Header {
    /// Parses the titles line (BOM already removed). Titles are separated by `,` and carry no backtick.
    pub fn parse(line: &str) -> Result<Header, BillErrorKind> {
        let mut titles: Vec<String> = Vec::new();
        let mut slots = [None; Column::COUNT];
        for (position, raw) in line.split(',').enumerate() {
            let title = raw.trim();
            if !title.is_empty() && titles.iter().any(|t| t == title) {
                return Err(BillErrorKind::DuplicateColumn(title.to_string()));
            }
            if let Some(column) = Column::from_title(title) {
                let slot = &mut slots[column.slot()];
                if slot.is_some() {
                    // Two titles for one column (代金券金额 and 企业红包金额, say): which one counts?
                    return Err(BillErrorKind::DuplicateColumn(title.to_string()));
                }
                *slot = Some(position);
            }
            titles.push(title.to_string());
        }
        for column in REQUIRED {
            if slots[column.slot()].is_none() {
                return Err(BillErrorKind::MissingColumn(column.title()));
            }
        }
        let legacy = titles.iter().any(|t| LEGACY_TITLES.contains(&t.as_str()));
        Ok(Header { titles, slots, format: if legacy { BillFormat::Legacy } else { BillFormat::Modern } })
    }

    /// Titles exactly as the bill writes them (trimmed), in order.
    pub fn titles(&self) -> &[String] {
        &self.titles
    }

    pub fn len(&self) -> usize {
        self.titles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.titles.is_empty()
    }

    /// Where a known column is.
    pub fn position(&self, column: Column) -> Option<usize> {
        self.slots[column.slot()]
    }

    pub fn has(&self, column: Column) -> bool {
        self.position(column).is_some()
    }

    /// Where a title is, for columns this crate does not know.
    pub fn position_of_title(&self, title: &str) -> Option<usize> {
        self.titles.iter().position(|t| t == title)
    }

    /// The title at a position.
    pub fn title(&self, position: usize) -> Option<&str> {
        self.titles.get(position).map(String::as_str)
    }

    /// The title this bill uses for a known column (the legacy spelling in a legacy bill).
    pub fn title_of(&self, column: Column) -> &str {
        self.position(column).and_then(|p| self.title(p)).unwrap_or_else(|| column.title())
    }

    pub fn format(&self) -> BillFormat {
        self.format
    }

    /// The bill type the columns show: refund times → REFUND, refund ids → ALL, neither → SUCCESS.
    /// RECHARGE_REFUND cannot be told apart from its columns alone.
    pub fn bill_type(&self) -> BillType {
        if self.has(Column::RefundApplyTime) {
            BillType::Refund
        } else if self.has(Column::RefundId) {
            BillType::All
        } else {
            BillType::Success
        }
    }

    /// The header of a modern bill of `bill_type`, as the writer produces it.
    pub fn modern(bill_type: BillType) -> Result<Header, BillWriteError> {
        let titles: Vec<&str> = modern_columns(bill_type)?.iter().map(|c| c.title()).collect();
        Header::parse(&titles.join(",")).map_err(|_| BillWriteError::UnsupportedBillType(bill_type.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_its_own_slot_and_title() {
        for (i, c) in Column::ALL.iter().enumerate() {
            assert_eq!(c.slot(), i, "{c:?}");
            assert_eq!(Column::from_title(c.title()), Some(*c));
        }
    }

    #[test]
    fn modern_layouts_have_the_documented_widths() {
        assert_eq!(Header::modern(BillType::All).unwrap().len(), 27);
        assert_eq!(Header::modern(BillType::Success).unwrap().len(), 20);
        assert_eq!(Header::modern(BillType::Refund).unwrap().len(), 29);
        assert_eq!(Header::modern(BillType::All).unwrap().bill_type(), BillType::All);
        assert_eq!(Header::modern(BillType::Success).unwrap().bill_type(), BillType::Success);
        assert_eq!(Header::modern(BillType::Refund).unwrap().bill_type(), BillType::Refund);
    }

    #[test]
    fn legacy_titles_map_to_the_same_columns() {
        let h = Header::parse("交易时间,子商户号,微信订单号,交易状态,总金额,企业红包金额,企业红包退款金额").unwrap();
        assert_eq!(h.format(), BillFormat::Legacy);
        assert_eq!(h.position(Column::SubMchId), Some(1));
        assert_eq!(h.position(Column::CouponFee), Some(5));
        assert_eq!(h.title_of(Column::CouponRefundFee), "企业红包退款金额");
        assert_eq!(h.position(Column::SettlementTotalFee), None);
    }

    #[test]
    fn duplicate_and_missing_columns_are_refused() {
        assert_eq!(
            Header::parse("交易时间,微信订单号,交易状态,手续费,手续费"),
            Err(BillErrorKind::DuplicateColumn("手续费".into()))
        );
        assert_eq!(
            Header::parse("交易时间,微信订单号,交易状态,代金券金额,企业红包金额"),
            Err(BillErrorKind::DuplicateColumn("企业红包金额".into()))
        );
        assert_eq!(
            Header::parse("记账时间,微信支付业务单号,资金流水单号"),
            Err(BillErrorKind::MissingColumn("交易时间"))
        );
    }
}
