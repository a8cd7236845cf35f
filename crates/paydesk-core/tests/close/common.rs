//! The harness: tests/core/common.rs (a simulator per test with notifications switched off, a desk set up against
//! it in a temporary data directory), plus helpers to plant a day: the simulator's clock moved to an instant, orders
//! created and paid there, refunds made in the merchant platform, and ledger rows written directly.

#[allow(dead_code)] // the close suite uses part of the shared harness
#[path = "../core/common.rs"]
mod base;

pub use base::*;
use ledger::Source;
use wxpay::{Fen, OutTradeNo, SignType};

impl Sim {
    /// Moves the simulator's clock to a Beijing wall-clock time (`2024-03-01 12:00:00`).
    pub fn at(&self, beijing: &str) {
        self.handle.sim.clock.set(wxpay::BeijingTime::parse_dashed(beijing).unwrap().to_utc());
    }

    /// Back to real time (bills of past days become available).
    pub fn now(&self) {
        self.handle.sim.clock.reset();
    }

    /// The shop backend creates an order at "WeChat" and the customer pays it (at the simulator's time); returns
    /// the transaction_id.
    pub async fn paid(&self, out_trade_no: &str, total_fee: i64) -> String {
        self.create_order(out_trade_no, total_fee).await;
        self.pay(out_trade_no).await;
        self.handle.sim.query_order(MCH, Some(out_trade_no), None).unwrap().transaction_id.unwrap()
    }

    /// A refund made in the merchant platform (not through Paydesk).
    pub async fn platform_refund(&self, out_trade_no: &str, out_refund_no: &str, fee: i64) {
        self.admin(
            &format!("/orders/{out_trade_no}/refunds"),
            serde_json::json!({ "out_refund_no": out_refund_no, "refund_fee": fee }),
        )
        .await;
    }
}

impl Desk {
    /// A paid order written straight into the ledger (history from another system): state SUCCESS, paid at a
    /// Beijing wall-clock time, with WeChat's transaction id.
    pub async fn paid_here(&self, out_trade_no: &str, transaction_id: &str, total_fee: i64, beijing: &str) {
        let paid_at = wxpay::BeijingTime::parse_dashed(beijing).unwrap().to_utc();
        self.ledger
            .import_orders(
                &[ledger::ImportedOrder {
                    merchant: self.merchant,
                    out_trade_no: OutTradeNo::new(out_trade_no).unwrap(),
                    transaction_id: Some(wxpay::TransactionId::new(transaction_id).unwrap()),
                    sign_type: SignType::Md5,
                    trade_type: Some(wxpay::TradeType::Native),
                    trade_state: wxpay::TradeState::Success,
                    total_fee: Fen(total_fee),
                    placed_at: paid_at - chrono::Duration::seconds(30),
                    paid_at: Some(paid_at),
                    body: Some("拿铁".into()),
                }],
                Source::ShopBackend,
            )
            .await
            .unwrap();
    }
}
