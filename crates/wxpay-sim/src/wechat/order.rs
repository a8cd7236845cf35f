//! `/pay/unifiedorder`, `/pay/orderquery`, `/pay/closeorder` (§5.1–5.3): the order's life before
//! refunds, with the parameter checks WeChat makes and the reply fields of Appendix A.

use std::collections::BTreeMap;

use wxpay::{BeijingTime, ErrCode, Message, TradeState};

use super::{amount, max_len, required, Answer, Request};
use crate::model::{trade_state_desc, Order, Refusal};
use crate::sim::{NewOrder, Sim};

/// Fields that may differ between a first unifiedorder and its repeat: they change with every call
/// by nature (clients stamp the time and their IP).
const NOT_COMPARED: [&str; 6] = ["nonce_str", "sign", "sign_type", "time_start", "time_expire", "spbill_create_ip"];

pub fn unified_order(sim: &Sim, request: &Request) -> Answer {
    match unified_order_inner(sim, request) {
        Ok(a) | Err(a) => a,
    }
}

fn unified_order_inner(sim: &Sim, request: &Request) -> Result<Answer, Answer> {
    let body = required(request, "body")?;
    let out_trade_no = required(request, "out_trade_no")?;
    let total_fee = amount(request, "total_fee")?;
    let spbill_create_ip = required(request, "spbill_create_ip")?;
    let notify_url = required(request, "notify_url")?;
    let trade_type = required(request, "trade_type")?;
    for (name, max) in [
        ("body", 128),
        ("attach", 127),
        ("notify_url", 256),
        ("spbill_create_ip", 64),
        ("openid", 128),
        ("product_id", 32),
        ("device_info", 32),
        ("detail", 8192),
    ] {
        max_len(request, name, max)?;
    }
    if wxpay::OutTradeNo::new(out_trade_no).is_err() {
        return Err(Answer::fail("out_trade_no参数格式错误"));
    }
    if !matches!(trade_type, "JSAPI" | "NATIVE" | "APP" | "MWEB") {
        return Err(Answer::fail("trade_type参数格式错误"));
    }
    if !(notify_url.starts_with("http://") || notify_url.starts_with("https://")) {
        return Err(Answer::fail("notify_url参数格式错误"));
    }
    let lack = |name: &str| Ok(Answer::Business(Err(Refusal::new(ErrCode::LackParams, format!("缺少参数{name}")))));
    if trade_type == "JSAPI" && request.get("openid").is_none() {
        return lack("openid");
    }
    if trade_type == "NATIVE" && request.get("product_id").is_none() {
        return lack("product_id");
    }
    let time_expire = match request.get("time_expire") {
        None => None,
        Some(t) => Some(BeijingTime::parse_compact(t).map_err(|_| Answer::fail("time_expire参数格式错误"))?.to_utc()),
    };
    if time_expire.is_some_and(|t| t - sim.clock.now() < chrono::Duration::minutes(1)) {
        return Ok(Answer::Business(Err(Refusal::new(
            ErrCode::InvalidRequest,
            "time_expire时间过短，刷卡至少1分钟，其他5分钟",
        ))));
    }
    let params: BTreeMap<String, String> = request
        .message
        .iter()
        .filter(|(name, value)| !value.is_empty() && !NOT_COMPARED.contains(name))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let new = NewOrder {
        appid: request.appid.clone(),
        out_trade_no: out_trade_no.to_string(),
        body: body.to_string(),
        attach: request.get("attach").map(str::to_string),
        device_info: request.get("device_info").map(str::to_string),
        fee_type: request.get("fee_type").unwrap_or("CNY").to_string(),
        total_fee,
        spbill_create_ip: spbill_create_ip.to_string(),
        notify_url: notify_url.to_string(),
        trade_type: trade_type.to_string(),
        product_id: request.get("product_id").map(str::to_string),
        openid: request.get("openid").map(str::to_string),
        time_expire,
        sign_type: request.sign_type,
        params,
    };
    Ok(Answer::Business(sim.unified_order(&request.mch_id, new).map(|order| {
        let mut m = Message::new();
        m.set("trade_type", order.trade_type.as_str());
        m.set("prepay_id", order.prepay_id.as_str());
        m.set_opt("code_url", order.code_url.as_deref());
        m.set_opt("mweb_url", order.mweb_url.as_deref());
        m
    })))
}

/// The transaction_id or out_trade_no naming an order (transaction_id wins, §5.2).
fn order_ids(request: &Request) -> Result<(Option<&str>, Option<&str>), Answer> {
    let txn = request.get("transaction_id");
    let no = request.get("out_trade_no");
    if txn.is_none() && no.is_none() {
        return Err(Answer::fail("transaction_id和out_trade_no不能同时为空"));
    }
    Ok(if txn.is_some() { (None, txn) } else { (no, None) })
}

pub fn order_query(sim: &Sim, request: &Request) -> Answer {
    let (out_trade_no, transaction_id) = match order_ids(request) {
        Ok(ids) => ids,
        Err(a) => return a,
    };
    Answer::Business(sim.with_order(&request.mch_id, out_trade_no, transaction_id, order_fields))
}

/// The orderquery reply fields (A.4): the payment fields once paid.
pub fn order_fields(o: &Order) -> Message {
    let mut m = Message::new();
    m.set("out_trade_no", o.out_trade_no.as_str());
    m.set_opt("attach", o.attach.as_deref());
    m.set("trade_state", o.trade_state.as_str());
    m.set("trade_state_desc", trade_state_desc(&o.trade_state));
    if o.trade_state.is_paid() {
        m.set("openid", o.openid.as_deref().unwrap_or(""));
        m.set("is_subscribe", o.is_subscribe.as_deref().unwrap_or("N"));
        m.set("trade_type", o.trade_type.as_str());
        m.set("bank_type", o.bank_type.as_deref().unwrap_or("OTHERS"));
        m.set("total_fee", o.total_fee.get().to_string());
        m.set("fee_type", o.fee_type.as_str());
        m.set("cash_fee", o.total_fee.get().to_string());
        m.set("cash_fee_type", "CNY");
        m.set("transaction_id", o.transaction_id.as_deref().unwrap_or(""));
        m.set("time_end", o.paid_at.map(|t| BeijingTime::from_utc(t).to_compact()).unwrap_or_default());
    } else if o.trade_state == TradeState::NotPay {
        m.set("total_fee", o.total_fee.get().to_string());
    }
    m
}

pub fn close_order(sim: &Sim, request: &Request) -> Answer {
    let out_trade_no = match required(request, "out_trade_no") {
        Ok(no) => no,
        Err(a) => return a,
    };
    Answer::Business(sim.close_order(&request.mch_id, out_trade_no).map(|_| {
        let mut m = Message::new();
        m.set("result_msg", "OK");
        m
    }))
}
