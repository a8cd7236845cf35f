//! Everything the simulator remembers, in memory (it never shares a database with the code under
//! test): merchants with their balance, faults, orders, refunds and fund movements, and the log of
//! every notification attempt. Callers lock it briefly and never across an `.await`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use wxpay::{ApiKey, Fen};

use crate::config::MerchantConfig;
use crate::faults::Faults;
use crate::model::{Order, Refund};
use crate::notify::NotificationRecord;

/// A sandbox merchant and its books.
#[derive(Debug)]
pub struct MerchantState {
    pub mch_id: String,
    pub appid: String,
    pub key: ApiKey,
    pub balance: Fen,
    pub faults: Faults,
    pub refund_notify_url: Option<String>,
    pub refund_min_interval: Duration,
    pub orders: HashMap<String, Order>,
    /// transaction_id → out_trade_no.
    pub by_transaction_id: HashMap<String, String>,
    /// out_refund_no → refund.
    pub refunds: HashMap<String, Refund>,
    /// refund_id → out_refund_no.
    pub by_refund_id: HashMap<String, String>,
    pub fund_flows: Vec<FundFlow>,
}

impl MerchantState {
    pub fn new(config: &MerchantConfig) -> Self {
        MerchantState {
            mch_id: config.mch_id.clone(),
            appid: config.appid.clone(),
            key: ApiKey::new(config.key.clone()),
            balance: Fen(config.balance_fen),
            faults: Faults::default(),
            refund_notify_url: config.refund_notify_url.clone(),
            refund_min_interval: Duration::seconds(i64::try_from(config.refund_min_interval_secs).unwrap_or(i64::MAX)),
            orders: HashMap::new(),
            by_transaction_id: HashMap::new(),
            refunds: HashMap::new(),
            by_refund_id: HashMap::new(),
            fund_flows: Vec::new(),
        }
    }

    /// The order for an out_trade_no or transaction_id.
    pub fn order_mut(&mut self, out_trade_no: Option<&str>, transaction_id: Option<&str>) -> Option<&mut Order> {
        let key = match transaction_id {
            Some(txn) => self.by_transaction_id.get(txn)?.clone(),
            None => out_trade_no?.to_string(),
        };
        self.orders.get_mut(&key)
    }

    /// The faults in force for an order: its own, else the merchant's.
    pub fn faults_for(&mut self, out_trade_no: Option<&str>) -> &mut Faults {
        let has_own = out_trade_no.and_then(|no| self.orders.get(no)).is_some_and(|o| o.faults.is_some());
        if has_own {
            if let Some(faults) = out_trade_no.and_then(|no| self.orders.get_mut(no)).and_then(|o| o.faults.as_mut()) {
                return faults;
            }
        }
        &mut self.faults
    }

    /// The refunds of an order in acceptance order.
    pub fn refunds_of(&self, order: &Order) -> Vec<&Refund> {
        order.refunds.iter().filter_map(|no| self.refunds.get(no)).collect()
    }

    /// Moves the balance and writes the fund-flow record (§7.6).
    pub fn book(&mut self, entry: FlowEntry, at: DateTime<Utc>, seq: u64) {
        let signed = if entry.income { entry.amount } else { Fen(-entry.amount.get()) };
        if entry.account == "Basic" {
            self.balance = self.balance.checked_add(signed).unwrap_or(self.balance);
        }
        let balance_after = if entry.account == "Basic" { self.balance } else { Fen::ZERO };
        self.fund_flows.push(FundFlow {
            at,
            account: entry.account.to_string(),
            flow_id: format!("{}{:014}", at.format("%Y%m%d"), seq),
            business_id: entry.business_id,
            name: entry.name.to_string(),
            kind: entry.kind.to_string(),
            income: entry.income,
            amount: entry.amount,
            balance_after,
            applicant: entry.applicant,
            remark: entry.remark,
            voucher: entry.voucher,
        });
    }
}

/// A fund movement to book.
#[derive(Debug, Clone)]
pub struct FlowEntry {
    /// `Basic`, `Operation` or `Fees`.
    pub account: &'static str,
    pub business_id: String,
    pub name: &'static str,
    pub kind: &'static str,
    pub income: bool,
    pub amount: Fen,
    pub applicant: String,
    pub remark: String,
    pub voucher: String,
}

/// One row of the fund-flow bill (§7.6).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FundFlow {
    pub at: DateTime<Utc>,
    pub account: String,
    /// 资金流水单号.
    pub flow_id: String,
    /// 微信支付业务单号.
    pub business_id: String,
    /// 业务名称.
    pub name: String,
    /// 业务类型.
    pub kind: String,
    /// 收支类型: 收入 when true.
    pub income: bool,
    pub amount: Fen,
    /// 账户结余 after this movement.
    pub balance_after: Fen,
    /// 资金变更提交申请人.
    pub applicant: String,
    pub remark: String,
    /// 业务凭证号.
    pub voucher: String,
}

/// The whole state.
#[derive(Debug, Default)]
pub struct Store {
    pub merchants: BTreeMap<String, MerchantState>,
    pub notifications: Vec<NotificationRecord>,
    seq: u64,
}

impl Store {
    pub fn new(merchants: &[MerchantConfig]) -> Self {
        let mut store = Store::default();
        for m in merchants {
            store.merchants.insert(m.mch_id.clone(), MerchantState::new(m));
        }
        store
    }

    /// The sequence counter (snapshots keep it so ids stay unique after a restore).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn restore_seq(&mut self, seq: u64) {
        self.seq = self.seq.max(seq);
    }

    /// A number unique within this simulator run.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// 微信订单号: 28 digits, e.g. `4200000483202001042069747825`.
    pub fn new_transaction_id(&mut self, now: DateTime<Utc>) -> String {
        let seq = self.next_seq();
        format!("4200{:06}{}{:010}", rand::random::<u32>() % 1_000_000, beijing_day(now), seq % 10_000_000_000)
    }

    /// 微信退款单号: 29 digits, e.g. `50300103182020010413419046597`.
    pub fn new_refund_id(&mut self, now: DateTime<Utc>) -> String {
        let seq = self.next_seq();
        format!("503{:08}{}{:010}", rand::random::<u32>() % 100_000_000, beijing_day(now), seq % 10_000_000_000)
    }

    /// prepay_id: `wx` + Beijing time + 20 characters, e.g. `wx201410272009395522657a690389285100`.
    pub fn new_prepay_id(&mut self, now: DateTime<Utc>) -> String {
        let seq = self.next_seq();
        let compact = wxpay::BeijingTime::from_utc(now).to_compact();
        format!("wx{compact}{:012x}{:08}", rand::random::<u64>() & 0xffff_ffff_ffff, seq % 100_000_000)
    }
}

fn beijing_day(now: DateTime<Utc>) -> String {
    wxpay::BeijingTime::from_utc(now).date().format("%Y%m%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_wechats_shapes() {
        let mut s = Store::default();
        let now = Utc::now();
        let txn = s.new_transaction_id(now);
        assert_eq!(txn.len(), 28, "{txn}");
        assert!(wxpay::TransactionId::new(txn.as_str()).is_ok());
        let rid = s.new_refund_id(now);
        assert_eq!(rid.len(), 29, "{rid}");
        assert!(wxpay::RefundId::new(rid.as_str()).is_ok());
        let prepay = s.new_prepay_id(now);
        assert_eq!(prepay.len(), 36, "{prepay}");
        assert_ne!(s.new_transaction_id(now), txn);
    }

    #[test]
    fn booking_moves_the_basic_balance_only() {
        let mut m = MerchantState::new(&MerchantConfig::new("1", "wx1", "k"));
        let entry = |account, income, fen| FlowEntry {
            account,
            business_id: "x".into(),
            name: "交易",
            kind: "交易",
            income,
            amount: Fen(fen),
            applicant: "system".into(),
            remark: String::new(),
            voucher: String::new(),
        };
        m.book(entry("Basic", true, 1000), Utc::now(), 1);
        m.book(entry("Basic", false, 300), Utc::now(), 2);
        m.book(entry("Fees", false, 6), Utc::now(), 3);
        assert_eq!(m.balance, Fen(700));
        assert_eq!(m.fund_flows[1].balance_after, Fen(700));
    }
}
