//! Orders: the list (keyset pages, filters, search), the drawer (amounts, refunds, the timeline), "query WeChat
//! now" and "close order". Ledger rows are mapped to the contract's `OrderRow` / `OrderDetail` / `TimelineEntry`.
//!
//! A query keeps WeChat's raw reply as evidence and records what it learned with source `query`; the same
//! [`check_order`] serves the status sync. Closing is for NOTPAY orders only and is followed by a query, so the
//! timeline shows CLOSED as WeChat confirmed it (or SUCCESS, if the customer paid in the meantime).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use ledger::{Evidence, EvidenceKind, Order, OrderCursor, OrderId, OrderObservation, PaymentFacts, Provenance, Source};
use wxpay::api::{handle_reply, new_nonce, request_body, CloseOrder, OrderQuery, OrderQueryReply, Request};
use wxpay::{AppId, BeijingTime, ErrCode, MchId, OutTradeNo, TradeState};

use crate::contract::{
    opt_rfc3339, rfc3339, OrderDetail, OrderDetailOrder, OrderFilter, OrderPage, OrderRow, RefundRow, TimelineEntry,
};
use crate::error::{CoreError, CoreResult, Locale};
use crate::session::Session;

/// The most rows one page may have.
pub const MAX_PAGE: u32 = 200;
/// How many prefix matches a search looks at (it is for finding one order, not for paging through thousands).
const SEARCH_WINDOW: u32 = 1000;

/// The contract's flags of an order.
fn flags(o: &Order) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(reason) = &o.flag_reason {
        let code = reason.split(|c: char| c == ':' || c.is_whitespace()).next().unwrap_or(reason);
        flags.push(match code {
            "UNREGISTERED" => "unknown_order".to_string(),
            "AMOUNT_MISMATCH" => "amount_mismatch".to_string(),
            other => other.to_ascii_lowercase(),
        });
    }
    if o.next_check_at.is_some() {
        flags.push("watched".to_string());
    }
    flags
}

pub(crate) fn order_row(o: &Order) -> OrderRow {
    OrderRow {
        out_trade_no: o.out_trade_no.as_str().to_string(),
        transaction_id: o.transaction_id.as_ref().map(|t| t.as_str().to_string()),
        state: o.trade_state.as_str().to_string(),
        total_fee_fen: o.total_fee.get(),
        refunded_fen: o.refunded_total.get(),
        description: o.body.clone(),
        created_at: rfc3339(o.placed_at),
        paid_at: opt_rfc3339(o.paid_at),
        flags: flags(o),
    }
}

/// The first instant of a Beijing day, in UTC.
pub(crate) fn beijing_day_start(day: NaiveDate) -> DateTime<Utc> {
    BeijingTime::from_naive(day.and_time(chrono::NaiveTime::MIN)).to_utc()
}

fn parse_day(text: &str) -> CoreResult<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        CoreError::invalid(
            format!("日期 {text} 应写作 YYYY-MM-DD。"),
            format!("The day {text} must be written YYYY-MM-DD."),
        )
    })
}

/// The ledger filter for this desk's merchant. When the ledger serves only this merchant (every desktop ledger; a
/// shared one until a second merchant joins) the merchant condition is left out: SQLite would otherwise answer
/// `merchant_id = ?` from the `(merchant_id, out_trade_no)` key and sort every order instead of walking the
/// `(placed_at, id)` index, which costs seconds at a million orders.
pub(crate) async fn merchant_scope(session: &Session) -> CoreResult<Option<ledger::MerchantId>> {
    let merchants = session.ledger.merchants().await?;
    Ok(if merchants.iter().all(|m| m.id == session.merchant_id) { None } else { Some(session.merchant_id) })
}

fn ledger_filter(
    merchant: Option<ledger::MerchantId>,
    filter: &OrderFilter,
) -> CoreResult<Option<ledger::OrderFilter>> {
    let mut f = ledger::OrderFilter { merchant, ..ledger::OrderFilter::default() };
    for s in &filter.states {
        let state = TradeState::parse(s.trim());
        // The ledger stores only the eight known states: an unknown one matches nothing.
        if state.is_known() && !f.states.contains(&state) {
            f.states.push(state);
        }
    }
    if !filter.states.is_empty() && f.states.is_empty() {
        return Ok(None);
    }
    if let Some(day) = filter.from_day.as_deref().filter(|d| !d.trim().is_empty()) {
        f.placed_from = Some(beijing_day_start(parse_day(day)?));
    }
    if let Some(day) = filter.to_day.as_deref().filter(|d| !d.trim().is_empty()) {
        let next = parse_day(day)?
            .succ_opt()
            .ok_or_else(|| CoreError::invalid("日期超出范围。", "The day is out of range."))?;
        f.placed_to = Some(beijing_day_start(next));
    }
    if let (Some(from), Some(to)) = (f.placed_from, f.placed_to) {
        if from >= to {
            return Err(CoreError::invalid("开始日期晚于结束日期。", "The start day is after the end day."));
        }
    }
    for v in [filter.min_fen, filter.max_fen].into_iter().flatten() {
        if v < 0 {
            return Err(CoreError::invalid("金额不能是负数。", "Amounts cannot be negative."));
        }
    }
    if let (Some(min), Some(max)) = (filter.min_fen, filter.max_fen) {
        if min > max {
            return Err(CoreError::invalid("最小金额大于最大金额。", "The minimum amount is above the maximum."));
        }
    }
    f.min_total = filter.min_fen.map(wxpay::Fen);
    f.max_total = filter.max_fen.map(wxpay::Fen);
    Ok(Some(f))
}

fn bad_cursor() -> CoreError {
    CoreError::invalid("翻页位置无效：请从第一页重新加载。", "Invalid page position: reload from the first page.")
}

fn encode_cursor(c: &OrderCursor) -> String {
    format!("k{}.{}", c.placed_at.timestamp_micros(), c.id.get())
}

fn decode_cursor(text: &str) -> CoreResult<OrderCursor> {
    let rest = text.strip_prefix('k').ok_or_else(bad_cursor)?;
    let (micros, id) = rest.split_once('.').ok_or_else(bad_cursor)?;
    let micros: i64 = micros.parse().map_err(|_| bad_cursor())?;
    let id: i64 = id.parse().map_err(|_| bad_cursor())?;
    let placed_at = DateTime::from_timestamp_micros(micros).ok_or_else(bad_cursor)?;
    Ok(OrderCursor { placed_at, id: OrderId(id) })
}

fn matches(o: &Order, f: &ledger::OrderFilter) -> bool {
    f.merchant.is_none_or(|m| o.merchant_id == m)
        && (f.states.is_empty() || f.states.contains(&o.trade_state))
        && f.placed_from.is_none_or(|t| o.placed_at >= t)
        && f.placed_to.is_none_or(|t| o.placed_at < t)
        && f.min_total.is_none_or(|m| o.total_fee >= m)
        && f.max_total.is_none_or(|m| o.total_fee <= m)
}

/// `orders_list`: newest first, keyset pages; with `search`, the orders whose out_trade_no or transaction_id
/// starts with it (filters still apply), in out_trade_no order.
pub(crate) async fn list(
    session: &Session,
    filter: &OrderFilter,
    cursor: Option<&str>,
    limit: u32,
) -> CoreResult<OrderPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let scope = merchant_scope(session).await?;
    let Some(mut f) = ledger_filter(scope, filter)? else {
        return Ok(OrderPage { items: Vec::new(), next_cursor: None });
    };
    let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(prefix) = search {
        let offset: usize = match cursor {
            None => 0,
            Some(c) => c.strip_prefix('s').and_then(|n| n.parse().ok()).ok_or_else(bad_cursor)?,
        };
        // Search results are filtered here, so the merchant condition applies in any case.
        f.merchant = Some(session.merchant_id);
        // Without other filters every match is a hit: read only as far as this page (and one more to know
        // whether a next page exists). With filters, read the whole window and filter here.
        let unfiltered = filter.states.is_empty()
            && f.placed_from.is_none()
            && f.placed_to.is_none()
            && f.min_total.is_none()
            && f.max_total.is_none();
        let window = if unfiltered {
            u32::try_from(offset.saturating_add(usize::try_from(limit).unwrap_or(usize::MAX)).saturating_add(1))
                .unwrap_or(SEARCH_WINDOW)
                .min(SEARCH_WINDOW)
        } else {
            SEARCH_WINDOW
        };
        let found = session.ledger.search_orders(prefix, window).await?;
        let hits: Vec<&Order> = found.iter().filter(|o| matches(o, &f)).collect();
        let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
        let items: Vec<OrderRow> = hits.iter().skip(offset).take(page_len).map(|o| order_row(o)).collect();
        let end = offset.saturating_add(items.len());
        let next_cursor = (end < hits.len()).then(|| format!("s{end}"));
        return Ok(OrderPage { items, next_cursor });
    }
    let after = cursor.map(decode_cursor).transpose()?;
    let page = session.ledger.list_orders(&f, after.as_ref(), limit).await?;
    Ok(OrderPage {
        items: page.orders.iter().map(order_row).collect(),
        next_cursor: page.next.as_ref().map(encode_cursor),
    })
}

/// This merchant's order by out_trade_no, or `not_found`.
pub(crate) async fn find(session: &Session, out_trade_no: &str) -> CoreResult<Order> {
    let not_found = || {
        CoreError::not_found(
            format!("账本中没有订单 {out_trade_no}。"),
            format!("There is no order {out_trade_no} in the ledger."),
        )
    };
    let no = OutTradeNo::new(out_trade_no.trim()).map_err(|_| not_found())?;
    session.ledger.order_by_out_trade_no(session.merchant_id, &no).await?.ok_or_else(not_found)
}

fn yuan(fen: wxpay::Fen) -> String {
    format!("¥{}", fen.to_yuan_string())
}

fn describe(e: &ledger::TimelineEntry, locale: Locale) -> String {
    let zh = locale == Locale::ZhCn;
    let states = match (&e.from_state, &e.to_state) {
        (Some(f), Some(t)) => format!("{f} → {t}"),
        (None, Some(t)) => t.clone(),
        (Some(f), None) => f.clone(),
        (None, None) => String::new(),
    };
    let amount = e.amount.map(yuan).unwrap_or_default();
    let mut text = match (e.kind.as_str(), zh) {
        ("REGISTERED", true) => format!("订单登记 {amount}"),
        ("REGISTERED", false) => format!("Order registered {amount}"),
        ("STATE", true) => format!("状态 {states}"),
        ("STATE", false) => format!("State {states}"),
        ("FLAGGED", true) => "标记为需要处理".to_string(),
        ("FLAGGED", false) => "Flagged for attention".to_string(),
        ("UNFLAGGED", true) => "取消标记".to_string(),
        ("UNFLAGGED", false) => "Flag cleared".to_string(),
        ("REFUND_STATE", true) => format!("退款 {amount} {states}"),
        ("REFUND_STATE", false) => format!("Refund {amount} {states}"),
        ("REFUND_ATTEMPT", true) => format!("发送退款请求 {amount}"),
        ("REFUND_ATTEMPT", false) => format!("Refund request sent {amount}"),
        (kind, _) => format!("{kind} {states} {amount}"),
    };
    if let Some(note) = &e.note {
        text.push_str(if zh { "：" } else { ": " });
        text.push_str(note);
    }
    text.trim().to_string()
}

fn timeline_entry(e: &ledger::TimelineEntry, locale: Locale) -> TimelineEntry {
    TimelineEntry {
        at: rfc3339(e.at),
        source: e.source.as_str().to_ascii_lowercase(),
        what: describe(e, locale),
        state_after: e.to_state.clone(),
        actor: e.actor.clone(),
        evidence_ref: match e.evidence {
            Evidence::None => None,
            Evidence::Notification(id) => Some(format!("notification:{id}")),
            Evidence::Raw(id) => Some(format!("evidence:{id}")),
            Evidence::BillRow(id) => Some(format!("bill_row:{id}")),
        },
    }
}

/// `order_detail` for an order already read.
pub(crate) async fn detail(session: &Session, order: &Order, locale: Locale) -> CoreResult<OrderDetail> {
    let refunds = session.ledger.refunds_for_order(order.id).await?;
    let timeline = session.ledger.timeline(order.id).await?;
    Ok(OrderDetail {
        order: OrderDetailOrder {
            row: order_row(order),
            sign_type: order.sign_type.as_str().to_string(),
            openid: order.openid.clone(),
            trade_type: order.trade_type.as_ref().map(|t| t.as_str().to_string()),
            bank_type: order.bank_type.clone(),
            last_checked_at: opt_rfc3339(order.last_checked_at),
            next_check_at: opt_rfc3339(order.next_check_at),
        },
        refunds: refunds
            .iter()
            .map(|r| RefundRow {
                out_refund_no: r.out_refund_no.as_str().to_string(),
                refund_id: r.refund_id.as_ref().map(|i| i.as_str().to_string()),
                amount_fen: r.amount.get(),
                status: r.status.as_str().to_string(),
                created_at: rfc3339(r.created_at),
                success_at: opt_rfc3339(r.success_at),
                last_error: match (&r.last_error_code, &r.last_error_message) {
                    (Some(c), Some(m)) => Some(format!("{c}: {m}")),
                    (Some(c), None) => Some(c.clone()),
                    (None, m) => m.clone(),
                },
                attempts: r.attempts,
            })
            .collect(),
        timeline: timeline.iter().map(|e| timeline_entry(e, locale)).collect(),
    })
}

/// What one orderquery taught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The order's state changed.
    Changed { from: TradeState, to: TradeState },
    /// WeChat confirms the recorded state.
    Unchanged(TradeState),
    /// WeChat does not know the order (ORDERNOTEXIST): never sent to unifiedorder, or not yet.
    NotAtWeChat,
}

fn payment_facts(reply: &OrderQueryReply, order: &Order, session: &Session) -> CoreResult<PaymentFacts> {
    let merchant = session.client.merchant();
    let missing = |field: &str| {
        CoreError::WeChat(wxpay::Error::Decode(wxpay::DecodeError::invalid(
            field,
            "missing in a paid orderquery reply",
        )))
    };
    let mch_id = match reply.message.get_non_empty("mch_id") {
        Some(m) => MchId::new(m).map_err(|_| missing("mch_id"))?,
        None => merchant.mch_id.clone(),
    };
    let appid = match reply.message.get_non_empty("appid") {
        Some(a) => AppId::new(a).map_err(|_| missing("appid"))?,
        None => merchant.appid.clone(),
    };
    Ok(PaymentFacts {
        mch_id,
        appid,
        out_trade_no: reply.out_trade_no.clone().unwrap_or_else(|| order.out_trade_no.clone()),
        transaction_id: reply.transaction_id.clone().ok_or_else(|| missing("transaction_id"))?,
        total_fee: reply.total_fee.ok_or_else(|| missing("total_fee"))?,
        cash_fee: reply.cash_fee,
        settlement_total_fee: reply.settlement_total_fee,
        coupon_fee: reply.coupon_fee,
        fee_type: reply.message.get_non_empty("fee_type").map(str::to_string),
        trade_type: reply.trade_type.clone(),
        bank_type: reply.bank_type.clone(),
        openid: reply.openid.clone(),
        attach: reply.attach.clone(),
        time_end: reply.time_end.ok_or_else(|| missing("time_end"))?,
        sign_type: merchant.sign_type,
    })
}

/// Asks WeChat about one order (orderquery, §5.2), keeps the raw reply as evidence and applies what it says with
/// source `query`. Records the check (`last_checked_at`, `check_count`); does not reschedule.
pub(crate) async fn check_order(session: &Session, order: &Order, actor: &str) -> CoreResult<Checked> {
    let merchant = session.client.merchant();
    let request = match &order.transaction_id {
        Some(id) => OrderQuery::by_transaction_id(id.clone()),
        None => OrderQuery::by_out_trade_no(order.out_trade_no.clone()),
    };
    let (body, sign_type) = request_body(&request, merchant, &new_nonce())?;
    let raw = session.client.transport().post(OrderQuery::API, body).await.map_err(wxpay::Error::from)?;
    let reply = match handle_reply::<OrderQuery>(&raw, sign_type, &merchant.key) {
        Ok(reply) => reply,
        Err(wxpay::Error::Business { err_code: ErrCode::OrderNotExist, .. }) => return Ok(Checked::NotAtWeChat),
        Err(e) => return Err(e.into()),
    };
    let now = Utc::now();
    let evidence = session.ledger.store_evidence(EvidenceKind::OrderQuery, &raw, now).await?;
    let provenance = Provenance::new(Source::Query, now).with_evidence(Evidence::Raw(evidence)).by(actor);
    let before = order.trade_state.clone();
    let observed = reply.trade_state.clone();
    if !observed.is_known() {
        return Err(CoreError::Refused(crate::error::Msg::new(
            format!("微信返回了未知的订单状态 {observed}：请在商户平台查看。"),
            format!("WeChat Pay returned an unknown order state {observed}: check it in the merchant platform."),
        )));
    }
    let payment = if observed.is_paid() { Some(payment_facts(&reply, order, session)?) } else { None };
    if observed == TradeState::Refund && !before.is_paid() {
        // Paid and already (partly) refunded elsewhere: record the payment first, then the refund state.
        let paid = OrderObservation { trade_state: TradeState::Success, payment: payment.clone() };
        session.ledger.apply_order_observation(order.id, &paid, &provenance).await?;
    }
    let observation = OrderObservation { trade_state: observed.clone(), payment };
    session.ledger.apply_order_observation(order.id, &observation, &provenance).await?;
    let after = session.ledger.order(order.id).await?.trade_state;
    Ok(if after == before { Checked::Unchanged(after) } else { Checked::Changed { from: before, to: after } })
}

/// What closing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloseOutcome {
    /// WeChat closed it (or it was already closed there).
    AtWeChat,
    /// WeChat never had the order: it was closed here, by the person.
    Locally,
    /// The customer paid before the close: it stays paid.
    PaidMeanwhile,
}

/// `order_close`: only for NOTPAY; closeorder (§5.3), then a query that records the outcome.
pub(crate) async fn close(session: &Session, order: &Order, actor: &str) -> CoreResult<CloseOutcome> {
    if order.trade_state != TradeState::NotPay {
        return Err(CoreError::invalid(
            format!("只有未支付（NOTPAY）的订单可以关闭；这笔订单是 {}。", order.trade_state),
            format!("Only unpaid (NOTPAY) orders can be closed; this one is {}.", order.trade_state),
        ));
    }
    let request = CloseOrder { out_trade_no: order.out_trade_no.clone() };
    match session.client.execute(&request).await {
        Ok(_) => {}
        // Already closed, or paid after all: the query below records which.
        Err(wxpay::Error::Business { err_code: ErrCode::OrderClosed | ErrCode::OrderPaid, .. }) => {}
        Err(wxpay::Error::Business { err_code: ErrCode::OrderNotExist, .. }) => {
            // WeChat never had it, so nobody can pay it: the person closes it here.
            let provenance = Provenance::new(Source::Person, Utc::now()).by(actor);
            let observation = OrderObservation { trade_state: TradeState::Closed, payment: None };
            session.ledger.apply_order_observation(order.id, &observation, &provenance).await?;
            return Ok(CloseOutcome::Locally);
        }
        Err(e) => return Err(e.into()),
    }
    match check_order(session, order, actor).await? {
        Checked::Changed { to, .. } | Checked::Unchanged(to) if to.is_paid() => Ok(CloseOutcome::PaidMeanwhile),
        _ => Ok(CloseOutcome::AtWeChat),
    }
}

/// The UTC instants of "the last `days` Beijing days up to `today`".
pub(crate) fn beijing_today(now: DateTime<Utc>) -> NaiveDate {
    BeijingTime::from_utc(now).date()
}

pub(crate) fn days_back(today: NaiveDate, n: i64) -> NaiveDate {
    today - Duration::days(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c =
            OrderCursor { placed_at: DateTime::from_timestamp_micros(1_709_265_906_123_456).unwrap(), id: OrderId(42) };
        assert_eq!(decode_cursor(&encode_cursor(&c)).unwrap(), c);
        assert!(decode_cursor("k1.x").is_err());
        assert!(decode_cursor("s10").is_err());
    }

    #[test]
    fn a_beijing_day_starts_at_16_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 2).unwrap();
        assert_eq!(rfc3339(beijing_day_start(d)), "2024-03-01T16:00:00Z");
    }
}
