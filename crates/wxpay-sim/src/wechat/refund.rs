//! `/secapi/pay/refund` and `/pay/refundquery` (§5.4, §5.5): accepting refunds (the certificate was
//! checked before) and reporting them, with refundquery's paging by `offset`.

use wxpay::{BeijingTime, ErrCode, Message, RefundStatus};

use super::{amount, max_len, required, Answer, Request};
use crate::model::Refusal;
use crate::sim::{RefundRequest, Sim};

/// Refunds per refundquery page (§5.5).
pub const PAGE: usize = 10;

pub fn refund(sim: &std::sync::Arc<Sim>, request: &Request) -> Answer {
    match refund_inner(sim, request) {
        Ok(a) | Err(a) => a,
    }
}

fn refund_inner(sim: &std::sync::Arc<Sim>, request: &Request) -> Result<Answer, Answer> {
    let out_refund_no = required(request, "out_refund_no")?;
    let total_fee = amount(request, "total_fee")?;
    let refund_fee = amount(request, "refund_fee").map_err(|_| Answer::fail("invalid refund_fee"))?;
    for (name, max) in [("refund_desc", 80), ("notify_url", 256), ("refund_account", 30)] {
        max_len(request, name, max)?;
    }
    if wxpay::OutRefundNo::new(out_refund_no).is_err() {
        return Err(Answer::fail("out_refund_no参数格式错误"));
    }
    if refund_fee > total_fee {
        return Err(Answer::fail("invalid refund_fee"));
    }
    let transaction_id = request.get("transaction_id");
    let out_trade_no = request.get("out_trade_no");
    if transaction_id.is_none() && out_trade_no.is_none() {
        return Err(Answer::fail("transaction_id和out_trade_no不能同时为空"));
    }
    if let Some(account) = request.get("refund_account") {
        if !matches!(account, "REFUND_SOURCE_UNSETTLED_FUNDS" | "REFUND_SOURCE_RECHARGE_FUNDS") {
            return Ok(Answer::Business(Err(Refusal::new(ErrCode::ParamError, "refund_account参数错误"))));
        }
    }
    let req = RefundRequest {
        appid: request.appid.clone(),
        transaction_id: transaction_id.map(str::to_string),
        out_trade_no: if transaction_id.is_some() { None } else { out_trade_no.map(str::to_string) },
        out_refund_no: out_refund_no.to_string(),
        total_fee,
        refund_fee,
        refund_desc: request.get("refund_desc").map(str::to_string),
        refund_account: request.get("refund_account").map(str::to_string),
        notify_url: request.get("notify_url").map(str::to_string),
        source: "API",
    };
    Ok(Answer::Business(sim.refund(&request.mch_id, req).map(|outcome| {
        let (r, o) = (outcome.refund, outcome.order);
        let mut m = Message::new();
        m.set("transaction_id", r.transaction_id.as_str());
        m.set("out_trade_no", r.out_trade_no.as_str());
        m.set("out_refund_no", r.out_refund_no.as_str());
        m.set("refund_id", r.refund_id.as_str());
        m.set("refund_channel", "");
        m.set("refund_fee", r.refund_fee.get().to_string());
        m.set("coupon_refund_fee", "0");
        m.set("total_fee", o.total_fee.get().to_string());
        m.set("cash_fee", o.total_fee.get().to_string());
        m.set("cash_refund_fee", r.refund_fee.get().to_string());
        m
    })))
}

pub fn refund_query(sim: &Sim, request: &Request) -> Answer {
    let offset = match request.get("offset").map(str::parse::<usize>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return Answer::fail("offset参数格式错误"),
    };
    let found = sim.refund_query(
        &request.mch_id,
        request.get("refund_id"),
        request.get("out_refund_no"),
        request.get("transaction_id"),
        request.get("out_trade_no"),
    );
    let (order, refunds) = match found {
        Ok(f) => f,
        Err(refusal) => return Answer::Business(Err(refusal)),
    };
    let total = refunds.len();
    let start = offset.unwrap_or(0);
    if start >= total {
        return Answer::Business(Err(Refusal::new(ErrCode::ParamError, "offset超过退款总笔数")));
    }
    let page: Vec<_> = refunds.iter().skip(start).take(PAGE).collect();
    let mut m = Message::new();
    m.set("transaction_id", order.transaction_id.as_deref().unwrap_or(""));
    m.set("out_trade_no", order.out_trade_no.as_str());
    m.set("total_fee", order.total_fee.get().to_string());
    m.set("fee_type", order.fee_type.as_str());
    m.set("cash_fee", order.total_fee.get().to_string());
    m.set("refund_count", page.len().to_string());
    if total > PAGE || offset.is_some() {
        m.set("total_refund_count", total.to_string());
    }
    for (n, r) in page.iter().enumerate() {
        m.set(format!("out_refund_no_{n}"), r.out_refund_no.as_str());
        m.set(format!("refund_id_{n}"), r.refund_id.as_str());
        m.set(format!("refund_channel_{n}"), "ORIGINAL");
        m.set(format!("refund_fee_{n}"), r.refund_fee.get().to_string());
        m.set(format!("settlement_refund_fee_{n}"), r.refund_fee.get().to_string());
        m.set(format!("coupon_refund_fee_{n}"), "0");
        m.set(format!("refund_status_{n}"), r.refund_status.as_str());
        m.set(format!("refund_account_{n}"), r.refund_account.as_str());
        m.set(format!("refund_recv_accout_{n}"), r.refund_recv_accout.as_str());
        if r.refund_status == RefundStatus::Success {
            if let Some(t) = r.settled_at {
                m.set(format!("refund_success_time_{n}"), BeijingTime::from_utc(t).to_dashed());
            }
        }
    }
    Answer::Business(Ok(m))
}
