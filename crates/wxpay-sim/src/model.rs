//! What WeChat keeps about an order and a refund, and the rules of §5 and §10 as pure functions of
//! that data and the simulated time: which trade states a close, a payment or a repeated
//! unifiedorder may act on, and when a refund is refused. Each rule returns the `err_code` and the
//! `err_code_des` WeChat answers with; the tables in the tests are the spec.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use wxpay::{ErrCode, Fen, RefundStatus, SignType, TradeState};

use crate::faults::Faults;

/// A business refusal: `result_code=FAIL` with this `err_code` and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub err_code: ErrCode,
    pub des: String,
}

impl Refusal {
    pub fn new(err_code: ErrCode, des: impl Into<String>) -> Self {
        Refusal { err_code, des: des.into() }
    }
}

/// An order as WeChat knows it after unifiedorder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub mch_id: String,
    pub appid: String,
    pub out_trade_no: String,
    /// Assigned at payment.
    pub transaction_id: Option<String>,
    pub trade_state: TradeState,
    pub trade_type: String,
    pub body: String,
    pub attach: Option<String>,
    pub device_info: Option<String>,
    pub total_fee: Fen,
    pub fee_type: String,
    pub notify_url: String,
    /// The payer (JSAPI: given at unifiedorder; otherwise known at payment).
    pub openid: Option<String>,
    pub product_id: Option<String>,
    pub spbill_create_ip: String,
    /// The sign type of the unifiedorder call: the payment notification is signed with it (§3.5).
    pub sign_type: SignType,
    /// The unifiedorder parameters that must match on a repeated call (the "201 商户订单号重复" rule).
    pub params: BTreeMap<String, String>,
    pub prepay_id: String,
    pub prepay_at: DateTime<Utc>,
    pub code_url: Option<String>,
    pub mweb_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub time_expire: Option<DateTime<Utc>>,
    /// `time_end`.
    pub paid_at: Option<DateTime<Utc>>,
    pub bank_type: Option<String>,
    pub is_subscribe: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// `out_refund_no`s in the order they were accepted.
    pub refunds: Vec<String>,
    /// When the last new refund of this order was accepted (the one-per-minute rule).
    pub last_new_refund_at: Option<DateTime<Utc>>,
    /// Faults for this order only; when set they replace the merchant's.
    pub faults: Option<Faults>,
}

impl Order {
    /// `trade_state` as a query at `now` sees it: an unpaid order past its `time_expire` is closed (§10).
    pub fn expire_if_due(&mut self, now: DateTime<Utc>) {
        if self.trade_state == TradeState::NotPay {
            if let Some(expire) = self.time_expire {
                if now >= expire {
                    self.trade_state = TradeState::Closed;
                    self.closed_at = Some(expire);
                }
            }
        }
    }
}

/// `trade_state_desc` texts (§5.2).
pub fn trade_state_desc(state: &TradeState) -> &'static str {
    match state {
        TradeState::Success => "支付成功",
        TradeState::Refund => "订单发生过退款，退款详情请查询退款单",
        TradeState::NotPay => "订单未支付",
        TradeState::Closed => "订单已关闭",
        TradeState::Revoked => "已撤销",
        TradeState::UserPaying => "需要用户输入支付密码",
        TradeState::PayError => "支付失败，请重新下单支付",
        TradeState::Accept => "已接收，等待扣款",
        TradeState::Unknown(_) => "",
    }
}

/// unifiedorder with an `out_trade_no` that exists (§5.1, §10).
pub fn repeat_unifiedorder(state: &TradeState, same_params: bool) -> Result<(), Refusal> {
    match state {
        TradeState::Success | TradeState::Refund => Err(Refusal::new(ErrCode::OrderPaid, "该订单已支付")),
        TradeState::Closed | TradeState::Revoked => Err(Refusal::new(ErrCode::OrderClosed, "该订单已关闭")),
        _ if !same_params => Err(Refusal::new(ErrCode::InvalidRequest, "201 商户订单号重复")),
        _ => Ok(()),
    }
}

/// closeorder (§5.3): the state after closing, or why not.
pub fn close(state: &TradeState) -> Result<TradeState, Refusal> {
    match state {
        TradeState::NotPay | TradeState::PayError | TradeState::UserPaying => Ok(TradeState::Closed),
        TradeState::Success | TradeState::Refund => Err(Refusal::new(ErrCode::OrderPaid, "订单已支付，不能发起关单")),
        TradeState::Closed => Err(Refusal::new(ErrCode::OrderClosed, "订单已关闭，无法重复关闭")),
        _ => Err(Refusal::new(ErrCode::TradeStateError, "订单状态错误，不能关闭")),
    }
}

/// The customer pays (or the payment fails): from which states (§10).
pub fn pay(state: &TradeState, success: bool) -> Result<TradeState, String> {
    match state {
        TradeState::NotPay | TradeState::UserPaying | TradeState::PayError if success => Ok(TradeState::Success),
        TradeState::NotPay | TradeState::UserPaying => Ok(TradeState::PayError),
        other => Err(format!("an order in state {other} cannot be paid")),
    }
}

/// A refund as WeChat keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refund {
    pub mch_id: String,
    pub appid: String,
    pub out_refund_no: String,
    pub refund_id: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub total_fee: Fen,
    pub refund_fee: Fen,
    pub refund_desc: Option<String>,
    pub refund_account: String,
    /// From the refund request; else the merchant's configured URL.
    pub notify_url: Option<String>,
    pub refund_status: RefundStatus,
    pub created_at: DateTime<Utc>,
    /// When it reached SUCCESS / REFUNDCLOSE / CHANGE.
    pub settled_at: Option<DateTime<Utc>>,
    /// `refund_recv_accout` (sic).
    pub refund_recv_accout: String,
    /// `API`, or `VENDOR_PLATFORM` for a refund made in the merchant platform.
    pub refund_request_source: String,
    /// What it will settle as on its own; `None` = stuck in PROCESSING until settled by hand.
    pub planned_outcome: Option<RefundStatus>,
}

/// Where a refund may move (§10): PROCESSING to a terminal state; CHANGE (card refund failed) can
/// still be fixed by hand to SUCCESS or closed.
pub fn settle(from: &RefundStatus, to: &RefundStatus) -> Result<(), String> {
    let terminal = matches!(to, RefundStatus::Success | RefundStatus::RefundClose | RefundStatus::Change);
    match from {
        RefundStatus::Processing if terminal => Ok(()),
        RefundStatus::Change if matches!(to, RefundStatus::Success | RefundStatus::RefundClose) => Ok(()),
        _ => Err(format!("a refund in status {from} cannot move to {to}")),
    }
}

/// The facts a new refund is judged on.
#[derive(Debug, Clone)]
pub struct RefundAsk<'a> {
    pub order: &'a Order,
    /// Refunds of the order that count against its amount (all but REFUNDCLOSE).
    pub refunded: Fen,
    pub refund_count: usize,
    pub total_fee: Fen,
    pub refund_fee: Fen,
    pub balance: Fen,
    pub now: DateTime<Utc>,
    pub min_interval: Duration,
    pub frequency_fault: bool,
}

/// At most this many refunds per order (§5.4).
pub const MAX_REFUNDS_PER_ORDER: usize = 50;
/// Refundable within this long after payment (§5.4).
pub const REFUND_WINDOW_DAYS: i64 = 365;

/// Whether a NEW refund (an `out_refund_no` not seen before) is accepted (§5.4, §10), checked in the
/// order WeChat reports them.
pub fn check_new_refund(ask: &RefundAsk<'_>) -> Result<(), Refusal> {
    let order = ask.order;
    let Some(paid_at) = order.paid_at.filter(|_| order.trade_state.is_paid()) else {
        return Err(Refusal::new(ErrCode::OrderNotExist, "订单不存在或未支付"));
    };
    if ask.total_fee != order.total_fee {
        return Err(Refusal::new(ErrCode::ParamError, "订单金额total_fee与原订单不一致"));
    }
    if ask.now - paid_at > Duration::days(REFUND_WINDOW_DAYS) {
        return Err(Refusal::new(ErrCode::TradeOverdue, "订单已经超过退款期限"));
    }
    if ask.refunded >= order.total_fee {
        return Err(Refusal::new(ErrCode::Error, "订单已全额退款"));
    }
    if ask.refunded.checked_add(ask.refund_fee).is_none_or(|sum| sum > order.total_fee) {
        return Err(Refusal::new(ErrCode::InvalidRequest, "累计退款金额大于支付金额"));
    }
    if ask.refund_count >= MAX_REFUNDS_PER_ORDER {
        return Err(Refusal::new(ErrCode::Error, "超过最大退款次数，一笔订单最多可退款50次"));
    }
    let too_soon = order.last_new_refund_at.is_some_and(|last| ask.now - last < ask.min_interval);
    if ask.frequency_fault || too_soon {
        return Err(Refusal::new(ErrCode::FrequencyLimited, "请求频率过高，同一订单每分钟只能发起一次退款"));
    }
    if ask.balance < ask.refund_fee {
        return Err(Refusal::new(ErrCode::NotEnough, "基本账户余额不足，请充值后重新发起"));
    }
    Ok(())
}

/// A repeated `out_refund_no` (§5.4: the same number is the same refund): the existing refund if the
/// request matches it.
pub fn check_repeat_refund(existing: &Refund, order: &Order, total_fee: Fen, refund_fee: Fen) -> Result<(), Refusal> {
    if existing.out_trade_no != order.out_trade_no {
        return Err(Refusal::new(ErrCode::InvalidRequest, "商户退款单号已被其他订单使用"));
    }
    if existing.refund_fee != refund_fee || existing.total_fee != total_fee {
        return Err(Refusal::new(ErrCode::InvalidRequest, "订单金额或退款金额与之前请求不一致，请核实后再试"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(state: TradeState, paid_days_ago: Option<i64>, now: DateTime<Utc>) -> Order {
        Order {
            mch_id: "1900000109".into(),
            appid: "wx1".into(),
            out_trade_no: "T1".into(),
            transaction_id: Some("4200000000000000000000000001".into()),
            trade_state: state,
            trade_type: "NATIVE".into(),
            body: "b".into(),
            attach: None,
            device_info: None,
            total_fee: Fen(1000),
            fee_type: "CNY".into(),
            notify_url: "http://x/n".into(),
            openid: None,
            product_id: Some("p".into()),
            spbill_create_ip: "127.0.0.1".into(),
            sign_type: SignType::Md5,
            params: BTreeMap::new(),
            prepay_id: "wx1".into(),
            prepay_at: now,
            code_url: None,
            mweb_url: None,
            created_at: now,
            time_expire: None,
            paid_at: paid_days_ago.map(|d| now - Duration::days(d)),
            bank_type: None,
            is_subscribe: None,
            closed_at: None,
            refunds: Vec::new(),
            last_new_refund_at: None,
            faults: None,
        }
    }

    #[test]
    fn close_table() {
        use TradeState::*;
        let cases = [
            (NotPay, Ok(Closed)),
            (PayError, Ok(Closed)),
            (Success, Err(ErrCode::OrderPaid)),
            (Refund, Err(ErrCode::OrderPaid)),
            (Closed, Err(ErrCode::OrderClosed)),
            (Revoked, Err(ErrCode::TradeStateError)),
        ];
        for (from, expected) in cases {
            assert_eq!(close(&from).map_err(|r| r.err_code), expected, "{from}");
        }
    }

    #[test]
    fn repeated_unifiedorder_table() {
        use TradeState::*;
        assert_eq!(repeat_unifiedorder(&NotPay, true), Ok(()));
        assert_eq!(repeat_unifiedorder(&NotPay, false).unwrap_err().des, "201 商户订单号重复");
        assert_eq!(repeat_unifiedorder(&Success, true).unwrap_err().err_code, ErrCode::OrderPaid);
        assert_eq!(repeat_unifiedorder(&Refund, false).unwrap_err().err_code, ErrCode::OrderPaid);
        assert_eq!(repeat_unifiedorder(&Closed, true).unwrap_err().err_code, ErrCode::OrderClosed);
    }

    #[test]
    fn pay_and_settle_tables() {
        use TradeState::*;
        assert_eq!(pay(&NotPay, true), Ok(Success));
        assert_eq!(pay(&NotPay, false), Ok(PayError));
        assert!(pay(&Closed, true).is_err());
        assert!(pay(&Success, true).is_err());
        use RefundStatus as R;
        assert!(settle(&R::Processing, &R::Success).is_ok());
        assert!(settle(&R::Processing, &R::Change).is_ok());
        assert!(settle(&R::Change, &R::Success).is_ok());
        assert!(settle(&R::Success, &R::RefundClose).is_err());
        assert!(settle(&R::RefundClose, &R::Success).is_err());
        assert!(settle(&R::Processing, &R::Processing).is_err());
    }

    #[test]
    fn new_refund_rules_in_order() {
        let now = Utc::now();
        let paid = order(TradeState::Success, Some(1), now);
        fn ask(o: &Order, now: DateTime<Utc>) -> RefundAsk<'_> {
            RefundAsk {
                order: o,
                refunded: Fen(0),
                refund_count: 0,
                total_fee: Fen(1000),
                refund_fee: Fen(300),
                balance: Fen(10_000),
                now,
                min_interval: Duration::seconds(60),
                frequency_fault: false,
            }
        }
        assert_eq!(check_new_refund(&ask(&paid, now)), Ok(()));
        let code = |a: RefundAsk<'_>| check_new_refund(&a).unwrap_err().err_code;
        let unpaid = order(TradeState::NotPay, None, now);
        assert_eq!(code(ask(&unpaid, now)), ErrCode::OrderNotExist);
        assert_eq!(code(RefundAsk { total_fee: Fen(999), ..ask(&paid, now) }), ErrCode::ParamError);
        let old = order(TradeState::Success, Some(366), now);
        assert_eq!(code(ask(&old, now)), ErrCode::TradeOverdue);
        let just_in_time = order(TradeState::Success, Some(365), now);
        assert_eq!(check_new_refund(&ask(&just_in_time, now)), Ok(()));
        assert_eq!(code(RefundAsk { refunded: Fen(1000), ..ask(&paid, now) }), ErrCode::Error);
        assert_eq!(code(RefundAsk { refunded: Fen(800), ..ask(&paid, now) }), ErrCode::InvalidRequest);
        assert_eq!(check_new_refund(&RefundAsk { refunded: Fen(700), ..ask(&paid, now) }), Ok(()));
        assert_eq!(code(RefundAsk { refund_count: 50, refund_fee: Fen(1), ..ask(&paid, now) }), ErrCode::Error);
        let mut recent = paid.clone();
        recent.last_new_refund_at = Some(now - Duration::seconds(59));
        assert_eq!(code(ask(&recent, now)), ErrCode::FrequencyLimited);
        recent.last_new_refund_at = Some(now - Duration::seconds(60));
        assert_eq!(check_new_refund(&ask(&recent, now)), Ok(()));
        assert_eq!(code(RefundAsk { frequency_fault: true, ..ask(&paid, now) }), ErrCode::FrequencyLimited);
        assert_eq!(code(RefundAsk { balance: Fen(299), ..ask(&paid, now) }), ErrCode::NotEnough);
    }

    #[test]
    fn expiry_closes_only_unpaid_orders() {
        let now = Utc::now();
        let mut o = order(TradeState::NotPay, None, now);
        o.time_expire = Some(now - Duration::seconds(1));
        o.expire_if_due(now);
        assert_eq!(o.trade_state, TradeState::Closed);
        let mut paid = order(TradeState::Success, Some(0), now);
        paid.time_expire = Some(now - Duration::seconds(1));
        paid.expire_if_due(now);
        assert_eq!(paid.trade_state, TradeState::Success);
    }
}
