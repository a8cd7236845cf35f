//! The simulator's state and the operations both faces use — WeChat's API (`wechat/`) and the
//! customer / admin side (`admin`): create, pay, close and query orders, accept and settle refunds,
//! and the notifications those trigger. Each operation takes the store's lock once, applies the
//! pure rules of [`crate::model`], and starts deliveries and refund timers after unlocking.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wxpay::{ErrCode, Fen, RefundStatus, SignType, TradeState};

use crate::clock::Clock;
use crate::config::{MerchantConfig, SimConfig};
use crate::faults::{CallFault, Faults};
use crate::model::{self, Order, Refund, RefundAsk, Refusal};
use crate::notify::{self, Attempt, DeliveryState, Kind, NotificationRecord, Notifier};
use crate::pki::Ca;
use crate::store::{FlowEntry, MerchantState, Store};

/// A failure of an admin / customer-side operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
}

/// The running simulator.
#[derive(Debug)]
pub struct Sim {
    pub config: SimConfig,
    pub clock: Clock,
    pub ca: Ca,
    pub notifier: Notifier,
    pub data_dir: PathBuf,
    store: Mutex<Store>,
    shut_down: AtomicBool,
    counts: Counters,
    /// While true, notification attempts wait (a WeChat-side outage); releasing sends them as a burst.
    hold: tokio::sync::watch::Sender<bool>,
}

/// Delivery totals kept as they happen, so reading them costs nothing under load.
#[derive(Debug, Default)]
struct Counters {
    acknowledged: AtomicUsize,
    failed: AtomicUsize,
    attempts: AtomicUsize,
    created: AtomicUsize,
}

/// An order to create, from unifiedorder or from the admin API.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub appid: String,
    pub out_trade_no: String,
    pub body: String,
    pub attach: Option<String>,
    pub device_info: Option<String>,
    pub fee_type: String,
    pub total_fee: Fen,
    pub spbill_create_ip: String,
    pub notify_url: String,
    pub trade_type: String,
    pub product_id: Option<String>,
    pub openid: Option<String>,
    pub time_expire: Option<DateTime<Utc>>,
    pub sign_type: SignType,
    /// The parameters compared on a repeated unifiedorder.
    pub params: BTreeMap<String, String>,
}

/// How the customer pays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Payment {
    /// false: the payment fails (PAYERROR), no notification.
    pub fail: bool,
    /// 付款银行, e.g. `CFT` (零钱), `CMB_DEBIT`; default `OTHERS`.
    pub bank_type: Option<String>,
    /// The payer; default the order's openid or a generated one.
    pub openid: Option<String>,
    pub is_subscribe: Option<bool>,
}

/// A refund request, from `/secapi/pay/refund` or the merchant platform (admin API).
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub appid: String,
    pub transaction_id: Option<String>,
    pub out_trade_no: Option<String>,
    pub out_refund_no: String,
    pub total_fee: Fen,
    pub refund_fee: Fen,
    pub refund_desc: Option<String>,
    pub refund_account: Option<String>,
    pub notify_url: Option<String>,
    /// `API` or `VENDOR_PLATFORM`.
    pub source: &'static str,
}

/// A refund answer: the refund and whether this call created it.
#[derive(Debug, Clone)]
pub struct RefundOutcome {
    pub refund: Refund,
    pub order: Order,
    pub created: bool,
}

/// A merchant as the admin API shows it (no key).
#[derive(Debug, Clone, Serialize)]
pub struct MerchantView {
    pub mch_id: String,
    pub appid: String,
    pub balance_fen: Fen,
    pub faults: Faults,
    pub refund_notify_url: Option<String>,
    pub orders: usize,
    pub refunds: usize,
}

impl Sim {
    pub fn new(config: SimConfig, ca: Ca, data_dir: PathBuf) -> Result<Sim, String> {
        let start = config.clock_start.as_deref().map(crate::clock::parse_instant).transpose()?;
        let notifier = Notifier::new(
            config.time_factor,
            config.notify_timeout(),
            config.notify_concurrency,
            Some(ca.cert_der().as_ref()),
        )?;
        Ok(Sim {
            store: Mutex::new(Store::new(&config.merchants)),
            clock: Clock::starting_at(start),
            ca,
            notifier,
            data_dir,
            config,
            shut_down: AtomicBool::new(false),
            counts: Counters::default(),
            hold: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The store, locked. A panic elsewhere while holding it leaves consistent data (every
    /// operation validates before it writes), so a poisoned lock is taken over.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn shut_down(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    // ---- merchants -------------------------------------------------------------------------

    pub fn add_merchant(&self, config: &MerchantConfig) -> Result<(), SimError> {
        wxpay::MchId::new(config.mch_id.as_str()).map_err(|e| SimError::Invalid(e.to_string()))?;
        wxpay::AppId::new(config.appid.as_str()).map_err(|e| SimError::Invalid(e.to_string()))?;
        if config.key.is_empty() {
            return Err(SimError::Invalid("the API key is empty".into()));
        }
        let mut store = self.store();
        if store.merchants.contains_key(&config.mch_id) {
            return Err(SimError::Conflict(format!("merchant {} exists", config.mch_id)));
        }
        store.merchants.insert(config.mch_id.clone(), MerchantState::new(config));
        Ok(())
    }

    pub fn merchants(&self) -> Vec<MerchantView> {
        self.store().merchants.values().map(view).collect()
    }

    pub fn merchant(&self, mch_id: &str) -> Result<MerchantView, SimError> {
        self.store().merchants.get(mch_id).map(view).ok_or_else(|| no_merchant(mch_id))
    }

    /// Sets the balance, booking the difference as an adjustment in the fund flow.
    pub fn set_balance(&self, mch_id: &str, balance: Fen) -> Result<MerchantView, SimError> {
        let now = self.clock.now();
        let mut store = self.store();
        let seq = store.next_seq();
        let m = store.merchants.get_mut(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        let diff = balance.get() - m.balance.get();
        if diff != 0 {
            m.book(
                FlowEntry {
                    account: "Basic",
                    business_id: format!("ADJ{seq}"),
                    name: "调账",
                    kind: "调账",
                    income: diff > 0,
                    amount: Fen(diff.abs()),
                    applicant: "wxpay-sim".into(),
                    remark: "simulated balance set through the admin API".into(),
                    voucher: String::new(),
                },
                now,
                seq,
            );
        }
        Ok(view(m))
    }

    pub fn set_merchant_faults(&self, mch_id: &str, faults: Faults) -> Result<(), SimError> {
        let mut store = self.store();
        store.merchants.get_mut(mch_id).ok_or_else(|| no_merchant(mch_id))?.faults = faults;
        Ok(())
    }

    pub fn set_order_faults(&self, mch_id: &str, out_trade_no: &str, faults: Option<Faults>) -> Result<(), SimError> {
        let mut store = self.store();
        let m = store.merchants.get_mut(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        m.orders.get_mut(out_trade_no).ok_or_else(|| no_order(out_trade_no))?.faults = faults;
        Ok(())
    }

    /// The merchant's key and appid, for verifying a request.
    pub fn merchant_keys(&self, mch_id: &str) -> Option<(wxpay::ApiKey, String)> {
        self.store().merchants.get(mch_id).map(|m| (m.key.clone(), m.appid.clone()))
    }

    /// Rolls the call faults of a merchant (or of the order the call names) and returns the fate of
    /// this call plus the added latency.
    pub fn take_call_fault(
        &self,
        mch_id: &str,
        out_trade_no: Option<&str>,
        transaction_id: Option<&str>,
    ) -> (CallFault, u64) {
        // Uniform over 0–99 (`random::<u8>() % 100` made 0–55 half again as likely: 25 % answered 29 %).
        let roll = rand::Rng::gen_range(&mut rand::thread_rng(), 0..100u8);
        let mut store = self.store();
        let Some(m) = store.merchants.get_mut(mch_id) else { return (CallFault::None, 0) };
        let order_key = match transaction_id {
            Some(txn) => m.by_transaction_id.get(txn).cloned(),
            None => out_trade_no.map(str::to_string),
        };
        let faults = m.faults_for(order_key.as_deref());
        let latency = faults.latency_ms;
        (faults.take_call_fault(roll), latency)
    }

    /// The delivery faults for an order's notifications.
    pub fn delivery_faults(&self, mch_id: &str, out_trade_no: &str) -> Faults {
        let mut store = self.store();
        match store.merchants.get_mut(mch_id) {
            Some(m) => m.faults_for(Some(out_trade_no)).clone(),
            None => Faults::default(),
        }
    }

    // ---- orders ----------------------------------------------------------------------------

    /// unifiedorder (§5.1): a new order, or the same prepay for a repeat with the same parameters.
    pub fn unified_order(&self, mch_id: &str, new: NewOrder) -> Result<Order, Refusal> {
        let now = self.clock.now();
        let mut store = self.store();
        let prepay_id = store.new_prepay_id(now);
        let code = code_url_suffix();
        let m = store.merchants.get_mut(mch_id).ok_or_else(|| Refusal::new(ErrCode::MchIdNotExist, "商户号不存在"))?;
        if let Some(existing) = m.orders.get_mut(&new.out_trade_no) {
            existing.expire_if_due(now);
            model::repeat_unifiedorder(&existing.trade_state, existing.params == new.params)?;
            // prepay_id lives 2 hours; a repeat after that gets a fresh one for the same order.
            if now - existing.prepay_at > chrono::Duration::hours(2) {
                existing.prepay_id = prepay_id;
                existing.prepay_at = now;
            }
            return Ok(existing.clone());
        }
        let code_url = (new.trade_type == "NATIVE").then(|| format!("weixin://wxpay/bizpayurl?pr={code}"));
        let mweb_url = (new.trade_type == "MWEB").then(|| {
            format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay_id}&package=1037687096")
        });
        let order = Order {
            mch_id: mch_id.to_string(),
            appid: new.appid,
            out_trade_no: new.out_trade_no.clone(),
            transaction_id: None,
            trade_state: TradeState::NotPay,
            trade_type: new.trade_type,
            body: new.body,
            attach: new.attach,
            device_info: new.device_info,
            total_fee: new.total_fee,
            fee_type: new.fee_type,
            notify_url: new.notify_url,
            openid: new.openid,
            product_id: new.product_id,
            spbill_create_ip: new.spbill_create_ip,
            sign_type: new.sign_type,
            params: new.params,
            prepay_id,
            prepay_at: now,
            code_url,
            mweb_url,
            created_at: now,
            time_expire: new.time_expire,
            paid_at: None,
            bank_type: None,
            is_subscribe: None,
            closed_at: None,
            refunds: Vec::new(),
            last_new_refund_at: None,
            faults: None,
        };
        m.orders.insert(new.out_trade_no, order.clone());
        Ok(order)
    }

    /// orderquery (§5.2).
    pub fn query_order(
        &self,
        mch_id: &str,
        out_trade_no: Option<&str>,
        transaction_id: Option<&str>,
    ) -> Result<Order, Refusal> {
        self.with_order(mch_id, out_trade_no, transaction_id, Order::clone)
    }

    /// orderquery without copying the order: `read` sees it under the lock (the hot path of load tests).
    pub fn with_order<T>(
        &self,
        mch_id: &str,
        out_trade_no: Option<&str>,
        transaction_id: Option<&str>,
        read: impl FnOnce(&Order) -> T,
    ) -> Result<T, Refusal> {
        let now = self.clock.now();
        let mut store = self.store();
        let order = store
            .merchants
            .get_mut(mch_id)
            .and_then(|m| m.order_mut(out_trade_no, transaction_id))
            .ok_or_else(|| Refusal::new(ErrCode::OrderNotExist, "订单不存在"))?;
        order.expire_if_due(now);
        Ok(read(order))
    }

    /// closeorder (§5.3).
    pub fn close_order(&self, mch_id: &str, out_trade_no: &str) -> Result<Order, Refusal> {
        let now = self.clock.now();
        let mut store = self.store();
        let order = store
            .merchants
            .get_mut(mch_id)
            .and_then(|m| m.orders.get_mut(out_trade_no))
            .ok_or_else(|| Refusal::new(ErrCode::OrderNotExist, "订单不存在"))?;
        order.expire_if_due(now);
        order.trade_state = model::close(&order.trade_state)?;
        order.closed_at = Some(now);
        Ok(order.clone())
    }

    /// The customer pays (or fails to pay) an order; a successful payment books the money and
    /// sends the payment notification.
    pub fn pay(self: &Arc<Self>, mch_id: &str, out_trade_no: &str, payment: Payment) -> Result<Order, SimError> {
        let now = self.clock.now();
        let mut store = self.store();
        let txn = store.new_transaction_id(now);
        let flow_seq = store.next_seq();
        let fee_seq = store.next_seq();
        let nonce = wxpay::api::new_nonce();
        let m = store.merchants.get_mut(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        let key = m.key.clone();
        let order = m.orders.get_mut(out_trade_no).ok_or_else(|| no_order(out_trade_no))?;
        order.expire_if_due(now);
        order.trade_state = model::pay(&order.trade_state, !payment.fail).map_err(SimError::Conflict)?;
        if payment.fail {
            return Ok(order.clone());
        }
        order.transaction_id = Some(txn.clone());
        order.paid_at = Some(now);
        order.bank_type = Some(payment.bank_type.unwrap_or_else(|| "OTHERS".into()));
        if order.openid.is_none() || payment.openid.is_some() {
            order.openid = Some(payment.openid.unwrap_or_else(|| format!("oSim{}", &txn[txn.len() - 20..])));
        }
        order.is_subscribe = Some(if payment.is_subscribe.unwrap_or(false) { "Y" } else { "N" }.into());
        let order = order.clone();
        m.by_transaction_id.insert(txn.clone(), order.out_trade_no.clone());
        let fee = crate::bills::fee_of(order.total_fee);
        m.book(flow(&order, &txn, "交易", "交易", true, order.total_fee), now, flow_seq);
        m.book(
            FlowEntry {
                account: "Fees",
                name: "手续费",
                kind: "扣除交易手续费",
                ..flow(&order, &txn, "", "", false, fee)
            },
            now,
            fee_seq,
        );
        let body = notify::payment_body(&order, &key, &nonce).map_err(|e| SimError::Invalid(e.to_string()))?;
        let id = push_notification(&mut store, Kind::Payment, &order, None, order.notify_url.clone(), body, now);
        drop(store);
        self.counts.created.fetch_add(1, Ordering::Relaxed);
        notify::start(self.clone(), id);
        Ok(order)
    }

    /// An order and its refunds.
    pub fn order_with_refunds(&self, mch_id: &str, out_trade_no: &str) -> Result<(Order, Vec<Refund>), SimError> {
        let now = self.clock.now();
        let mut store = self.store();
        let m = store.merchants.get_mut(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        let order = m.orders.get_mut(out_trade_no).ok_or_else(|| no_order(out_trade_no))?;
        order.expire_if_due(now);
        let order = order.clone();
        let refunds = m.refunds_of(&order).into_iter().cloned().collect();
        Ok((order, refunds))
    }

    pub fn orders(&self, mch_id: &str) -> Result<Vec<Order>, SimError> {
        let store = self.store();
        let m = store.merchants.get(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        let mut orders: Vec<Order> = m.orders.values().cloned().collect();
        orders.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.out_trade_no.cmp(&b.out_trade_no)));
        Ok(orders)
    }

    // ---- refunds ---------------------------------------------------------------------------

    /// refund (§5.4): accept a new refund (PROCESSING, money reserved, settlement timer started) or
    /// return the existing one for a repeated `out_refund_no`.
    pub fn refund(self: &Arc<Self>, mch_id: &str, req: RefundRequest) -> Result<RefundOutcome, Refusal> {
        let now = self.clock.now();
        let mut store = self.store();
        let refund_id = store.new_refund_id(now);
        let seq = store.next_seq();
        let m = store.merchants.get_mut(mch_id).ok_or_else(|| Refusal::new(ErrCode::MchIdNotExist, "商户号不存在"))?;
        let (min_interval, balance) = (m.refund_min_interval, m.balance);
        let order_key = match (&req.transaction_id, &req.out_trade_no) {
            (Some(txn), _) => m
                .by_transaction_id
                .get(txn)
                .cloned()
                .ok_or_else(|| Refusal::new(ErrCode::InvalidTransactionId, "无效的微信订单号transaction_id"))?,
            (None, Some(no)) => no.clone(),
            (None, None) => return Err(Refusal::new(ErrCode::ParamError, "transaction_id和out_trade_no不能同时为空")),
        };
        let Some(order) = m.orders.get(&order_key).cloned() else {
            return Err(Refusal::new(ErrCode::OrderNotExist, "订单不存在"));
        };
        if let Some(existing) = m.refunds.get(&req.out_refund_no) {
            model::check_repeat_refund(existing, &order, req.total_fee, req.refund_fee)?;
            return Ok(RefundOutcome { refund: existing.clone(), order, created: false });
        }
        let counted: Vec<&Refund> =
            m.refunds_of(&order).into_iter().filter(|r| r.refund_status != RefundStatus::RefundClose).collect();
        let refunded = counted.iter().fold(Fen::ZERO, |sum, r| sum.checked_add(r.refund_fee).unwrap_or(sum));
        let faults = m.faults_for(Some(&order_key)).clone();
        if let Some(code) = &faults.refund_refusal {
            return Err(Refusal::new(ErrCode::parse(code), "退款被拒绝（模拟）"));
        }
        model::check_new_refund(&RefundAsk {
            order: &order,
            refunded,
            refund_count: order.refunds.len(),
            total_fee: req.total_fee,
            refund_fee: req.refund_fee,
            balance,
            now,
            min_interval,
            frequency_fault: faults.frequency_limited,
        })?;
        let refund = Refund {
            mch_id: mch_id.to_string(),
            appid: order.appid.clone(),
            out_refund_no: req.out_refund_no.clone(),
            refund_id: refund_id.clone(),
            out_trade_no: order.out_trade_no.clone(),
            transaction_id: order.transaction_id.clone().unwrap_or_default(),
            total_fee: order.total_fee,
            refund_fee: req.refund_fee,
            refund_desc: req.refund_desc,
            refund_account: req.refund_account.unwrap_or_else(|| "REFUND_SOURCE_UNSETTLED_FUNDS".into()),
            notify_url: req.notify_url.or_else(|| m.refund_notify_url.clone()),
            refund_status: RefundStatus::Processing,
            created_at: now,
            settled_at: None,
            refund_recv_accout: "支付用户零钱".into(),
            refund_request_source: req.source.into(),
            planned_outcome: (!faults.refund_stuck).then(|| faults.refund_outcome()),
        };
        m.book(
            FlowEntry {
                account: "Basic",
                business_id: refund_id.clone(),
                name: "退款",
                kind: "退款",
                income: false,
                amount: refund.refund_fee,
                applicant: if req.source == "API" { mch_id.to_string() } else { "商户平台".into() },
                remark: refund.refund_desc.clone().unwrap_or_default(),
                voucher: refund.out_refund_no.clone(),
            },
            now,
            seq,
        );
        m.refunds.insert(refund.out_refund_no.clone(), refund.clone());
        m.by_refund_id.insert(refund_id, refund.out_refund_no.clone());
        let order = match m.orders.get_mut(&order_key) {
            Some(o) => {
                o.refunds.push(refund.out_refund_no.clone());
                o.last_new_refund_at = Some(now);
                o.trade_state = TradeState::Refund;
                o.clone()
            }
            None => order,
        };
        drop(store);
        if let Some(outcome) = refund.planned_outcome.clone() {
            self.schedule_settlement(mch_id.to_string(), refund.out_refund_no.clone(), outcome);
        }
        Ok(RefundOutcome { refund, order, created: true })
    }

    /// Settles a refund as `outcome` after the configured delay, unless settled by hand meanwhile.
    pub fn schedule_settlement(self: &Arc<Self>, mch_id: String, out_refund_no: String, outcome: RefundStatus) {
        let sim = self.clone();
        let delay = self.config.refund_delay();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // Settled by hand meanwhile, or stuck since: nothing to do.
            let _ = sim.settle_refund_if_processing(&mch_id, &out_refund_no, outcome);
        });
    }

    fn settle_refund_if_processing(
        self: &Arc<Self>,
        mch_id: &str,
        out_refund_no: &str,
        to: RefundStatus,
    ) -> Result<Refund, SimError> {
        {
            let store = self.store();
            let r = store.merchants.get(mch_id).and_then(|m| m.refunds.get(out_refund_no));
            if r.is_none_or(|r| r.refund_status != RefundStatus::Processing || r.planned_outcome.is_none()) {
                return Err(SimError::Conflict("no longer processing".into()));
            }
        }
        self.settle_refund(mch_id, out_refund_no, to)
    }

    /// Moves a refund to SUCCESS / REFUNDCLOSE / CHANGE and sends the refund notification.
    pub fn settle_refund(
        self: &Arc<Self>,
        mch_id: &str,
        out_refund_no: &str,
        to: RefundStatus,
    ) -> Result<Refund, SimError> {
        let now = self.clock.now();
        let mut store = self.store();
        let seq = store.next_seq();
        let nonce = wxpay::api::new_nonce();
        let m = store.merchants.get_mut(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        let key = m.key.clone();
        let refund =
            m.refunds.get_mut(out_refund_no).ok_or_else(|| SimError::NotFound(format!("no refund {out_refund_no}")))?;
        model::settle(&refund.refund_status, &to).map_err(SimError::Conflict)?;
        refund.refund_status = to.clone();
        refund.settled_at = Some(now);
        let refund = refund.clone();
        if to == RefundStatus::RefundClose {
            // The refund failed: the reserved money comes back.
            m.book(
                FlowEntry {
                    account: "Basic",
                    business_id: refund.refund_id.clone(),
                    name: "退款",
                    kind: "退款失败退回",
                    income: true,
                    amount: refund.refund_fee,
                    applicant: "system".into(),
                    remark: String::new(),
                    voucher: refund.out_refund_no.clone(),
                },
                now,
                seq,
            );
        }
        let order = m.orders.get(&refund.out_trade_no).cloned().ok_or_else(|| no_order(&refund.out_trade_no))?;
        let Some(url) = refund.notify_url.clone() else {
            return Ok(refund);
        };
        let body = notify::refund_body(&refund, &order, &key, &nonce).map_err(|e| SimError::Invalid(e.to_string()))?;
        let id = push_notification(&mut store, Kind::Refund, &order, Some(&refund), url, body, now);
        drop(store);
        self.counts.created.fetch_add(1, Ordering::Relaxed);
        notify::start(self.clone(), id);
        Ok(refund)
    }

    /// refundquery (§5.5): the refunds named (one refund, or all of an order).
    pub fn refund_query(
        &self,
        mch_id: &str,
        refund_id: Option<&str>,
        out_refund_no: Option<&str>,
        transaction_id: Option<&str>,
        out_trade_no: Option<&str>,
    ) -> Result<(Order, Vec<Refund>), Refusal> {
        let store = self.store();
        let not_found = || Refusal::new(ErrCode::RefundNotExist, "not exist");
        let m = store.merchants.get(mch_id).ok_or_else(not_found)?;
        let single = match (refund_id, out_refund_no) {
            (Some(id), _) => Some(m.by_refund_id.get(id).and_then(|no| m.refunds.get(no)).ok_or_else(not_found)?),
            (None, Some(no)) => Some(m.refunds.get(no).ok_or_else(not_found)?),
            (None, None) => None,
        };
        let order_key = match (single, transaction_id, out_trade_no) {
            (Some(r), _, _) => r.out_trade_no.clone(),
            (None, Some(txn), _) => m
                .by_transaction_id
                .get(txn)
                .cloned()
                .ok_or_else(|| Refusal::new(ErrCode::InvalidTransactionId, "无效的微信订单号transaction_id"))?,
            (None, None, Some(no)) => no.to_string(),
            (None, None, None) => {
                return Err(Refusal::new(
                    ErrCode::ParamError,
                    "refund_id、out_refund_no、transaction_id、out_trade_no至少填一个",
                ))
            }
        };
        let order = m.orders.get(&order_key).ok_or_else(not_found)?.clone();
        let refunds: Vec<Refund> = match single {
            Some(r) => vec![r.clone()],
            None => m.refunds_of(&order).into_iter().cloned().collect(),
        };
        if refunds.is_empty() {
            return Err(not_found());
        }
        Ok((order, refunds))
    }

    pub fn refunds(&self, mch_id: &str) -> Result<Vec<Refund>, SimError> {
        let store = self.store();
        let m = store.merchants.get(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        let mut refunds: Vec<Refund> = m.refunds.values().cloned().collect();
        refunds.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.out_refund_no.cmp(&b.out_refund_no)));
        Ok(refunds)
    }

    pub fn refund_by_no(&self, mch_id: &str, out_refund_no: &str) -> Result<Refund, SimError> {
        let store = self.store();
        let m = store.merchants.get(mch_id).ok_or_else(|| no_merchant(mch_id))?;
        m.refunds.get(out_refund_no).cloned().ok_or_else(|| SimError::NotFound(format!("no refund {out_refund_no}")))
    }

    // ---- notifications ---------------------------------------------------------------------

    pub fn with_notification<T>(&self, id: u64, f: impl FnOnce(&NotificationRecord) -> T) -> Option<T> {
        let store = self.store();
        notification_index(id).and_then(|i| store.notifications.get(i)).map(f)
    }

    pub fn with_notification_mut(&self, id: u64, f: impl FnOnce(&mut NotificationRecord)) {
        let mut store = self.store();
        if let Some(n) = notification_index(id).and_then(|i| store.notifications.get_mut(i)) {
            f(n);
        }
    }

    /// Holds (true) or releases (false) every notification attempt: a held notification waits, and
    /// all of them go out at once on release — the burst after a WeChat-side outage.
    pub fn hold_notifications(&self, hold: bool) {
        self.hold.send_replace(hold);
    }

    /// Waits while notifications are held.
    pub async fn wait_while_held(&self) {
        let mut rx = self.hold.subscribe();
        while *rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Records attempts of notification `id` and, when it ended, where (one lock).
    pub fn record_attempts(&self, id: u64, attempts: Vec<Attempt>, finished: Option<DeliveryState>) {
        self.counts.attempts.fetch_add(attempts.len(), Ordering::Relaxed);
        match finished {
            Some(DeliveryState::Acknowledged) => self.counts.acknowledged.fetch_add(1, Ordering::Relaxed),
            Some(DeliveryState::GaveUp | DeliveryState::Lost) => self.counts.failed.fetch_add(1, Ordering::Relaxed),
            Some(DeliveryState::Pending) | None => 0,
        };
        self.with_notification_mut(id, |n| {
            n.attempts.extend(attempts);
            if let Some(state) = finished {
                n.state = state;
            }
        });
    }

    /// Notifications matching the filters, oldest first.
    pub fn notifications(&self, filter: &NotificationFilter) -> Vec<NotificationRecord> {
        let store = self.store();
        store
            .notifications
            .iter()
            .filter(|n| filter.mch_id.as_deref().is_none_or(|v| n.mch_id == v))
            .filter(|n| filter.out_trade_no.as_deref().is_none_or(|v| n.out_trade_no == v))
            .filter(|n| filter.out_refund_no.as_deref().is_none_or(|v| n.out_refund_no.as_deref() == Some(v)))
            .filter(|n| filter.kind.is_none_or(|k| n.kind == k))
            .cloned()
            .collect()
    }

    /// Counts of attempts by outcome over all notifications (the bench reads this).
    pub fn delivery_counts(&self) -> DeliveryCounts {
        let acknowledged = self.counts.acknowledged.load(Ordering::Relaxed);
        let failed = self.counts.failed.load(Ordering::Relaxed);
        let created = self.counts.created.load(Ordering::Relaxed);
        DeliveryCounts {
            acknowledged,
            failed,
            pending: created.saturating_sub(acknowledged + failed),
            attempts: self.counts.attempts.load(Ordering::Relaxed),
        }
    }

    /// Runs `f` over the merchant's books (bills read them).
    pub fn with_merchant<T>(&self, mch_id: &str, f: impl FnOnce(&MerchantState) -> T) -> Option<T> {
        self.store().merchants.get(mch_id).map(f)
    }
}

/// Which notifications to list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationFilter {
    pub mch_id: Option<String>,
    pub out_trade_no: Option<String>,
    pub out_refund_no: Option<String>,
    pub kind: Option<Kind>,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "payment" | "pay" => Ok(Kind::Payment),
            "refund" => Ok(Kind::Refund),
            other => Err(serde::de::Error::custom(format!("kind {other:?}: payment or refund"))),
        }
    }
}

/// Delivery totals.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DeliveryCounts {
    pub acknowledged: usize,
    pub pending: usize,
    pub failed: usize,
    pub attempts: usize,
}

fn notification_index(id: u64) -> Option<usize> {
    usize::try_from(id).ok()?.checked_sub(1)
}

fn push_notification(
    store: &mut Store,
    kind: Kind,
    order: &Order,
    refund: Option<&Refund>,
    url: String,
    body: String,
    now: DateTime<Utc>,
) -> u64 {
    let id = u64::try_from(store.notifications.len()).unwrap_or(u64::MAX).saturating_add(1);
    store.notifications.push(NotificationRecord {
        id,
        kind,
        mch_id: order.mch_id.clone(),
        out_trade_no: order.out_trade_no.clone(),
        out_refund_no: refund.map(|r| r.out_refund_no.clone()),
        url,
        body,
        created_at: now,
        state: DeliveryState::Pending,
        attempts: Vec::new(),
    });
    id
}

fn flow(order: &Order, txn: &str, name: &'static str, kind: &'static str, income: bool, amount: Fen) -> FlowEntry {
    FlowEntry {
        account: "Basic",
        business_id: txn.to_string(),
        name,
        kind,
        income,
        amount,
        applicant: "system".into(),
        remark: String::new(),
        voucher: order.out_trade_no.clone(),
    }
}

fn view(m: &MerchantState) -> MerchantView {
    MerchantView {
        mch_id: m.mch_id.clone(),
        appid: m.appid.clone(),
        balance_fen: m.balance,
        faults: m.faults.clone(),
        refund_notify_url: m.refund_notify_url.clone(),
        orders: m.orders.len(),
        refunds: m.refunds.len(),
    }
}

fn no_merchant(mch_id: &str) -> SimError {
    SimError::NotFound(format!("no merchant {mch_id}"))
}

fn no_order(out_trade_no: &str) -> SimError {
    SimError::NotFound(format!("no order {out_trade_no}"))
}

/// The short code in a NATIVE `code_url` (`weixin://wxpay/bizpayurl?pr=GhvBPEd`).
fn code_url_suffix() -> String {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    rand::thread_rng().sample_iter(&Alphanumeric).take(7).map(char::from).collect()
}
