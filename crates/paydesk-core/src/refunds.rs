//! Refunds from the desk (ARCHITECTURE.md §3 "Refund", wxpay-v2.md §5.4–5.5): the application queue, the guards,
//! sending over mutual TLS, and following each refund to its end.
//!
//! The order of work never changes: the guards are checked, the ledger writes the refund with its fixed
//! `out_refund_no` and amount (reserving the amount on the order in the same transaction), and only then is the
//! request sent. Every later attempt — an automatic retry after SYSTEMERROR, BIZERR_NEED_RETRY or a timeout, or
//! the owner's retry after topping up for NOTENOUGH — sends the same number and amount. Before re-sending a
//! refund whose earlier attempt may have arrived (timeout, SYSTEMERROR), WeChat is asked first (`refundquery`):
//! if it knows the refund, what it says is recorded and nothing is sent again.
//!
//! WeChat's SUCCESS on the refund call means *accepted*: the refund is PROCESSING until a refund notification
//! (through the receiver) or `refundquery` says SUCCESS, REFUNDCLOSE or CHANGE. [`next_query_at`] is the polling
//! schedule and [`next_retry_at`] the retry schedule, both pure and tested as tables.

use chrono::{DateTime, Duration, Utc};
use ledger::{
    ApplicationId, ApplicationStatus, Evidence, EvidenceKind, Order, Provenance, Refund, RefundApplication,
    RefundObservation, RefundState, SendFailure, Source,
};
use wxpay::api::{OrderRef, RefundQuery, RefundRef};
use wxpay::{ErrCode, Fen, OutRefundNo, RetryClass};

use crate::contract::{
    opt_rfc3339, rfc3339, ApplicationRefund, ApplicationRow, CodeText, Guard, GuardCheck, OrderMoney, RefundPhase,
    RefundView,
};
use crate::error::{explain_wechat, CoreError, CoreResult, Locale, Msg};
use crate::session::Session;

/// Automatic attempts of one refund at most; after that it waits for the owner ("retry").
pub const MAX_SEND_ATTEMPTS: i64 = 5;
/// WeChat accepts one refund request a minute per order (§5.4).
pub const MIN_REQUEST_INTERVAL: Duration = Duration::minutes(1);
/// Refunds are possible within 365 days of payment (§5.4).
pub const MAX_REFUND_AGE: Duration = Duration::days(365);
/// A refund still PROCESSING this long after it was accepted is flagged for the owner and no longer polled.
pub const WATCH_REFUND_FOR: Duration = Duration::days(7);

/// `(age below, interval)` after acceptance: each minute for 5 minutes, then backing off to hourly.
const QUERY_STEPS: &[(Duration, Duration)] = &[
    (Duration::minutes(5), Duration::minutes(1)),
    (Duration::minutes(15), Duration::minutes(2)),
    (Duration::minutes(30), Duration::minutes(5)),
    (Duration::hours(1), Duration::minutes(10)),
    (Duration::hours(3), Duration::minutes(30)),
    (WATCH_REFUND_FOR, Duration::minutes(60)),
];

/// When to ask WeChat next about a refund accepted at `accepted_at`, asked at `now`; `None` when it has been
/// processing for longer than [`WATCH_REFUND_FOR`] (it is flagged instead). Pure.
pub fn next_query_at(accepted_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let age = (now - accepted_at).max(Duration::zero());
    let (_, interval) = QUERY_STEPS.iter().find(|(below, _)| age < *below)?;
    Some(now + *interval)
}

/// When to try again after `attempts` attempts failed in a retryable way, failing at `now`; `None` once
/// [`MAX_SEND_ATTEMPTS`] are used up. Never sooner than a minute (WeChat's per-order limit). Pure.
pub fn next_retry_at(attempts: i64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let wait = match attempts {
        a if a >= MAX_SEND_ATTEMPTS => return None,
        ..=1 => Duration::minutes(1),
        2 => Duration::minutes(2),
        3 => Duration::minutes(5),
        _ => Duration::minutes(10),
    };
    Some(now + wait)
}

fn yuan(fen: Fen) -> String {
    format!("¥{}", fen.to_yuan_string())
}

fn days_since(paid_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    (now - paid_at).num_days().max(0)
}

/// The order's money as the queue shows it.
pub(crate) fn order_money(order: &Order, now: DateTime<Utc>) -> OrderMoney {
    let pending = order.refund_reserved.get().saturating_sub(order.refunded_total.get()).max(0);
    OrderMoney {
        out_trade_no: order.out_trade_no.as_str().to_string(),
        transaction_id: order.transaction_id.as_ref().map(|t| t.as_str().to_string()),
        state: order.trade_state.as_str().to_string(),
        paid_at: opt_rfc3339(order.paid_at),
        total_fee_fen: order.total_fee.get(),
        refunded_fen: order.refunded_total.get(),
        pending_fen: pending,
        remaining_fen: order.refundable().get(),
        refund_count: order.refund_count,
        days_since_payment: order.paid_at.map(|p| days_since(p, now)),
    }
}

/// What the owner sees for a refund.
pub fn phase(r: &Refund) -> RefundPhase {
    match r.status {
        RefundState::Created if r.flag_reason.is_some() => RefundPhase::NeedsOwner,
        RefundState::Created if r.attempts == 0 => RefundPhase::NotSent,
        RefundState::Created => RefundPhase::Retrying,
        RefundState::Processing if r.flag_reason.is_some() => RefundPhase::NeedsOwner,
        RefundState::Processing => RefundPhase::Processing,
        RefundState::Change => RefundPhase::NeedsOwner,
        RefundState::Success => RefundPhase::Refunded,
        RefundState::RefundClose => RefundPhase::Closed,
        RefundState::Failed if r.resolved_at.is_some() => RefundPhase::DoneOutside,
        RefundState::Failed => RefundPhase::Failed,
    }
}

/// What the owner should do next, in plain words; `None` when nothing.
fn advice(r: &Refund) -> Option<(String, Msg)> {
    let amount = yuan(r.amount);
    let code = match r.status {
        RefundState::Change => "CHANGE",
        RefundState::Failed if r.resolved_at.is_some() => return None,
        RefundState::Failed => r.err_code.as_deref().unwrap_or("FAILED"),
        _ => r.flag_reason.as_deref()?,
    };
    Some(match code {
        "NOTENOUGH" => Msg::new(
            format!("商户账户余额不足：请先向微信支付商户账户充值至少 {amount}（或等待当日收款入账），然后点击“重试”。将使用同一个退款单号和金额重新发送。"),
            format!("The merchant balance is too low: top up the WeChat Pay merchant account by at least {amount} (or wait for today's takings to settle), then press Retry. The same refund number and amount will be sent again."),
        ),
        "CHANGE" => Msg::new(
            format!("退款异常（CHANGE）：钱没能退回顾客的银行卡（卡已注销或冻结）。请登录微信支付商户平台 → 交易中心 → 退款管理，找到退款单 {}，选择“退款至商户可用余额/线下退款”或让顾客提供新的收款方式后重新发起。处理后本程序会继续查询结果。", r.out_refund_no),
            format!("Refund exception (CHANGE): the money could not go back to the customer's bank card (closed or frozen). In the WeChat Pay merchant platform, 交易中心 → 退款管理, find refund {} and choose how to pay it out instead (to the merchant balance for an offline refund, or another account). Paydesk keeps checking for the outcome.", r.out_refund_no),
        ),
        "USER_ACCOUNT_ABNORMAL" => Msg::new(
            format!("顾客的微信账户异常（已注销或冻结），微信无法退款。请通过其他方式（现金、转账）把 {amount} 退给顾客，然后点击“标记为已处理”并写明方式。"),
            format!("The customer's WeChat account is closed or frozen, so WeChat cannot refund it. Refund {amount} to the customer another way (cash, bank transfer), then press Mark done and say how."),
        ),
        "RETRIES_EXHAUSTED" => Msg::new(
            format!("已自动重试 {} 次仍未成功（最后错误见上）。请检查网络和证书后点击“重试”；仍使用同一个退款单号和金额。", r.attempts),
            format!("{} automatic attempts did not get through (last error above). Check the network and the certificate, then press Retry; the same refund number and amount are sent.", r.attempts),
        ),
        "STILL_PROCESSING" => Msg::new(
            "这笔退款已处理超过 7 天：请在商户平台查看，或点击“立即查询”。".to_string(),
            "This refund has been processing for more than 7 days: check it in the merchant platform, or press Query now.".to_string(),
        ),
        "CERTIFICATE" => Msg::new(
            "API 证书无法使用（可能已过期）：请在设置中更换证书，然后点击“重试”。".to_string(),
            "The API certificate cannot be used (it may have expired): replace it in the settings, then press Retry.".to_string(),
        ),
        "TRADE_OVERDUE" => Msg::new(
            format!("订单已超过可退款期限（一年）：请通过其他方式把 {amount} 退给顾客，然后标记为已处理。"),
            format!("The order is past WeChat's refund period (one year): refund {amount} to the customer another way, then mark it done."),
        ),
        other => Msg::new(
            format!("微信拒绝了这笔退款（{other}）：钱没有退出。请查看错误说明；如已通过其他方式退款，请标记为已处理。"),
            format!("WeChat refused this refund ({other}): no money moved. See the error; if you refunded the customer another way, mark it done."),
        ),
    })
    .map(|m| (code.to_string(), m))
}

/// The buttons the refund may offer now.
fn actions(r: &Refund) -> Vec<&'static str> {
    let mut actions = Vec::new();
    if matches!(r.status, RefundState::Created | RefundState::Processing | RefundState::Change)
        || (r.status == RefundState::Failed && r.resolved_at.is_none())
    {
        actions.push("query");
    }
    if r.status == RefundState::Created && r.flag_reason.is_some() {
        actions.push("retry");
    }
    if r.status == RefundState::Failed && r.resolved_at.is_none() {
        actions.push("mark_done");
    }
    actions
}

/// The contract's `RefundView`.
pub(crate) fn view(r: &Refund, out_trade_no: &str, locale: Locale) -> RefundView {
    let advice = advice(r);
    RefundView {
        out_refund_no: r.out_refund_no.as_str().to_string(),
        refund_id: r.refund_id.as_ref().map(|i| i.as_str().to_string()),
        out_trade_no: out_trade_no.to_string(),
        application_id: r.application_id.map(|a| a.0),
        amount_fen: r.amount.get(),
        total_fee_fen: r.total_fee.get(),
        refund_desc: r.reason.clone(),
        status: r.status.as_str().to_string(),
        phase: phase(r),
        attempts: r.attempts,
        max_attempts: MAX_SEND_ATTEMPTS,
        last_error: r.last_error_code.as_ref().map(|code| CodeText {
            code: code.clone(),
            message: r.last_error_message.clone().unwrap_or_else(|| code.clone()),
        }),
        advice: advice.map(|(code, m)| CodeText { code: code.to_string(), message: m.pick(locale) }),
        actions: actions(r),
        created_by: r.created_by.clone(),
        created_at: rfc3339(r.created_at),
        last_attempt_at: opt_rfc3339(r.last_attempt_at),
        success_at: opt_rfc3339(r.success_at),
        recv_account: r.recv_account.clone(),
        last_checked_at: opt_rfc3339(r.last_checked_at),
        next_check_at: opt_rfc3339(r.next_check_at),
    }
}

/// An application with its order and its refund.
pub(crate) async fn application_row(
    session: &Session,
    app: &RefundApplication,
    now: DateTime<Utc>,
) -> CoreResult<ApplicationRow> {
    let order = session.ledger.order(app.order_id).await?;
    let refund = if app.status == ApplicationStatus::Approved {
        session.ledger.refund_for_application(app.id).await?
    } else {
        None
    };
    Ok(ApplicationRow {
        id: app.id.0,
        status: app.status.as_str().to_string(),
        amount_fen: app.amount.get(),
        reason: app.reason.clone(),
        origin: app.origin.as_str().to_ascii_lowercase(),
        external_ref: app.external_ref.clone(),
        requested_by: app.requested_by.clone(),
        requested_at: rfc3339(app.requested_at),
        decided_by: app.decided_by.clone(),
        decided_at: opt_rfc3339(app.decided_at),
        decision_note: app.decision_note.clone(),
        order: order_money(&order, now),
        refund: refund.map(|r| ApplicationRefund {
            out_refund_no: r.out_refund_no.as_str().to_string(),
            amount_fen: r.amount.get(),
            status: r.status.as_str().to_string(),
            phase: phase(&r),
        }),
    })
}

/// The guards of ARCHITECTURE.md §3 for refunding `amount` of `order` now, each with its verdict. `owner` is
/// false for the staff login. The ledger checks paid / remainder / count / age again in the transaction that
/// reserves the amount, and the interval when the request is sent: these verdicts are for the owner's eyes and
/// to refuse early, not the last line.
pub(crate) fn check_guards(
    order: &Order,
    app: &RefundApplication,
    amount: Fen,
    owner: bool,
    (now, min_interval): (DateTime<Utc>, Duration),
    locale: Locale,
) -> Vec<Guard> {
    let pick = |zh: String, en: String| Msg::new(zh, en).pick(locale);
    let mut guards = Vec::new();
    guards.push(Guard {
        name: "role",
        ok: owner,
        message: if owner {
            pick("店主可以批准退款。".into(), "The owner may approve refunds.".into())
        } else {
            pick(
                "店员账号只能登记退款申请，不能批准。".into(),
                "The staff login can register applications, not approve them.".into(),
            )
        },
    });
    let paid = order.trade_state.is_paid();
    guards.push(Guard {
        name: "paid",
        ok: paid,
        message: if paid {
            pick(
                format!("订单已支付（{}）。", order.trade_state),
                format!("The order is paid ({}).", order.trade_state),
            )
        } else {
            pick(
                format!("订单未支付（{}）：没有可退的钱。", order.trade_state),
                format!("The order is not paid ({}): there is nothing to refund.", order.trade_state),
            )
        },
    });
    let remaining = order.refundable();
    let in_range = amount.get() >= 1 && amount <= app.amount;
    let fits = in_range && amount <= remaining;
    let pending = Fen(order.refund_reserved.get().saturating_sub(order.refunded_total.get()));
    guards.push(Guard {
        name: "remainder",
        ok: fits,
        message: if !in_range {
            pick(
                format!("金额必须在 ¥0.01 到申请金额 {} 之间。", yuan(app.amount)),
                format!("The amount must be between ¥0.01 and the application's {}.", yuan(app.amount)),
            )
        } else if fits {
            pick(
                format!(
                    "{} 不超过可退余额 {}（已退 {}，处理中 {}）。",
                    yuan(amount),
                    yuan(remaining),
                    yuan(order.refunded_total),
                    yuan(pending)
                ),
                format!(
                    "{} fits the remainder {} (refunded {}, in flight {}).",
                    yuan(amount),
                    yuan(remaining),
                    yuan(order.refunded_total),
                    yuan(pending)
                ),
            )
        } else {
            pick(
                format!(
                    "{} 超过了可退余额 {}（订单 {}，已退 {}，处理中 {}）。",
                    yuan(amount),
                    yuan(remaining),
                    yuan(order.total_fee),
                    yuan(order.refunded_total),
                    yuan(pending)
                ),
                format!(
                    "{} is more than the remainder {} (order {}, refunded {}, in flight {}).",
                    yuan(amount),
                    yuan(remaining),
                    yuan(order.total_fee),
                    yuan(order.refunded_total),
                    yuan(pending)
                ),
            )
        },
    });
    let count_ok = order.refund_count < ledger::MAX_REFUNDS_PER_ORDER;
    guards.push(Guard {
        name: "count",
        ok: count_ok,
        message: if count_ok {
            pick(
                format!("这笔订单已有 {} 笔退款（上限 50）。", order.refund_count),
                format!("The order has {} refunds (at most 50).", order.refund_count),
            )
        } else {
            pick(
                "这笔订单已有 50 笔退款，微信不再接受新的退款。".into(),
                "The order already has 50 refunds; WeChat accepts no more.".into(),
            )
        },
    });
    let age_ok = order.paid_at.is_none_or(|p| now - p <= MAX_REFUND_AGE);
    guards.push(Guard {
        name: "age",
        ok: age_ok,
        message: match order.paid_at {
            Some(p) if age_ok => pick(format!("支付于 {} 天前（一年内可退）。", days_since(p, now)), format!("Paid {} days ago (refunds within a year).", days_since(p, now))),
            Some(p) => pick(
                format!("支付已超过一年（{} 天）：微信不再接受退款，请通过其他方式退给顾客。", days_since(p, now)),
                format!("Paid more than a year ago ({} days): WeChat no longer accepts refunds; refund the customer another way.", days_since(p, now)),
            ),
            None => pick("支付时间未知。".into(), "The payment time is not known.".into()),
        },
    });
    let wait = order.last_refund_request_at.map(|last| last + min_interval - now).filter(|w| *w > Duration::zero());
    guards.push(Guard {
        name: "interval",
        ok: wait.is_none(),
        message: match wait {
            None => pick(
                format!("距上次退款请求已超过 {}。", span_zh(min_interval)),
                format!("More than {} since the last refund request on this order.", span_en(min_interval)),
            ),
            Some(w) => pick(
                format!(
                    "这笔订单在 {} 内已发送过退款请求（微信限制同一订单每分钟一次）：请 {} 秒后再批准。",
                    span_zh(min_interval),
                    w.num_seconds().max(1)
                ),
                format!(
                    "A refund request for this order was sent less than {} ago (WeChat allows one a minute per order): approve again in {} s.",
                    span_en(min_interval),
                    w.num_seconds().max(1)
                ),
            ),
        },
    });
    guards
}

fn span_zh(d: Duration) -> String {
    match d.num_seconds() {
        60 => "一分钟".to_string(),
        s if s % 60 == 0 => format!("{} 分钟", s / 60),
        s => format!("{s} 秒"),
    }
}

fn span_en(d: Duration) -> String {
    match d.num_seconds() {
        60 => "a minute".to_string(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} s"),
    }
}

/// The verdicts as the contract's `GuardCheck`.
pub(crate) fn guard_check(guards: Vec<Guard>, needs_password: bool) -> GuardCheck {
    GuardCheck { ok: guards.iter().all(|g| g.ok), guards, needs_password }
}

/// The first blocked guard as an error, or `Ok` when all pass.
pub(crate) fn guards_pass(guards: &[Guard]) -> CoreResult<()> {
    match guards.iter().find(|g| !g.ok) {
        None => Ok(()),
        Some(g) if g.name == "role" => Err(CoreError::Forbidden),
        Some(g) => Err(CoreError::RefundGuard(Msg::new(g.message.clone(), g.message.clone()))),
    }
}

/// A new out_refund_no: `RF` + the Beijing date and time + the application id + 4 random characters (≤ 64,
/// WeChat's character set). It is written once, at approval, and never changes.
pub(crate) fn new_out_refund_no(application: ApplicationId, now: DateTime<Utc>) -> CoreResult<OutRefundNo> {
    use rand::Rng as _;
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String =
        (0..4).filter_map(|_| CHARS.get(rng.gen_range(0..CHARS.len())).map(|b| char::from(*b))).collect();
    let beijing = wxpay::BeijingTime::from_utc(now);
    let text = format!("RF{}A{}{tail}", beijing.to_compact(), application.0);
    OutRefundNo::new(text).map_err(|e| CoreError::Internal(format!("out_refund_no: {e}")))
}

/// What one send did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    /// WeChat accepted it: PROCESSING.
    Accepted,
    /// Nothing sent: another request for the order was made less than a minute ago; due again later.
    TooSoon,
    /// WeChat already knew it (an earlier attempt arrived): what it says was recorded, nothing re-sent.
    AlreadyAtWeChat,
    /// Failed; kept CREATED for a retry (automatic or the owner's) or made FAILED, per the error.
    Failed(String),
    /// Nothing sent: another desk (or a notification) moved the refund past CREATED meanwhile.
    Moved,
}

/// Sends a CREATED refund once (the same out_refund_no and amount as every attempt), records the outcome and
/// schedules what comes next. `ask_first`: query WeChat before sending (an earlier attempt may have arrived).
pub(crate) async fn send(
    session: &Session,
    refund: &Refund,
    ask_first: bool,
    actor: &str,
    min_interval: Duration,
) -> CoreResult<Sent> {
    let order = session.ledger.order(refund.order_id).await?;
    if ask_first && refund.attempts > 0 {
        match query(session, refund, actor).await {
            Ok(Some(_)) => return Ok(Sent::AlreadyAtWeChat),
            Ok(None) => {}
            // Cannot ask now: sending again is still safe (WeChat treats the same out_refund_no with the same
            // amount as the same refund), and it keeps the retries moving while queries fail.
            Err(e) => tracing::warn!(out_refund_no = %refund.out_refund_no, "refundquery before a retry failed: {e}"),
        }
    }
    if !session.certificate_loaded {
        let provenance = Provenance::new(Source::System, Utc::now()).by(actor);
        session.ledger.set_refund_flag(refund.id, Some("CERTIFICATE"), &provenance).await?;
        session.ledger.schedule_refund_check(refund.id, None, None).await?;
        return Ok(Sent::Failed("CERTIFICATE".into()));
    }
    let now = Utc::now();
    let refund = match session.ledger.begin_refund_attempt(refund.id, now, min_interval).await {
        Ok(r) => r,
        Err(ledger::Error::InvalidTransition(_)) => return Ok(Sent::Moved),
        Err(ledger::Error::TooSoon(_)) => {
            let last = order.last_refund_request_at.unwrap_or(now);
            let next = (last + min_interval + Duration::seconds(1)).max(now + Duration::seconds(1));
            session.ledger.schedule_refund_check(refund.id, Some(next), None).await?;
            return Ok(Sent::TooSoon);
        }
        Err(e) => return Err(e.into()),
    };
    let request = wxpay::api::Refund {
        order: match &order.transaction_id {
            Some(id) => OrderRef::TransactionId(id.clone()),
            None => OrderRef::OutTradeNo(order.out_trade_no.clone()),
        },
        out_refund_no: refund.out_refund_no.clone(),
        total_fee: refund.total_fee,
        refund_fee: refund.amount,
        refund_desc: refund.reason.clone(),
        refund_account: None,
        notify_url: None,
    };
    let attempts = refund.attempts.saturating_add(1);
    match session.client.execute(&request).await {
        Ok(reply) => {
            if reply.out_refund_no != refund.out_refund_no || reply.refund_fee != refund.amount {
                // A reply about something else: do not believe it; the next check asks.
                let failure = SendFailure {
                    err_code: Some(ErrCode::parse("REPLY_MISMATCH")),
                    message: Some(format!(
                        "WeChat answered about {} / {} fen",
                        reply.out_refund_no,
                        reply.refund_fee.get()
                    )),
                    retry: RetryClass::SameParameters,
                    at: Utc::now(),
                };
                session.ledger.record_refund_send_failure(refund.id, &failure).await?;
                let next = next_retry_at(attempts, Utc::now());
                session.ledger.schedule_refund_check(refund.id, next, None).await?;
                return Ok(Sent::Failed("REPLY_MISMATCH".into()));
            }
            let at = Utc::now();
            let provenance = Provenance::new(Source::System, at).by(actor);
            match session.ledger.record_refund_accepted(refund.id, Some(&reply.refund_id), &provenance).await {
                // A notification or the other desk already recorded an outcome this reply cannot change.
                Ok(_) | Err(ledger::Error::InvalidTransition(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let fresh = session.ledger.refund(refund.id).await?;
            schedule_after_observation(session, &fresh, at, actor).await?;
            Ok(Sent::Accepted)
        }
        Err(e) => {
            let (code, retry, message) = classify(&e);
            let at = Utc::now();
            let failure = SendFailure { err_code: code.clone(), message: Some(message), retry, at };
            let stored = session.ledger.record_refund_send_failure(refund.id, &failure).await?;
            let code_text = code.as_ref().map_or_else(|| "TRANSPORT".to_string(), |c| c.as_str().to_string());
            if stored.status == RefundState::Created {
                let next = if stored.flag_reason.is_some() || retry == RetryClass::Never {
                    None
                } else {
                    next_retry_at(stored.attempts, at)
                };
                if next.is_none() && stored.flag_reason.is_none() {
                    let provenance = Provenance::new(Source::System, at).by(actor);
                    session.ledger.set_refund_flag(refund.id, Some("RETRIES_EXHAUSTED"), &provenance).await?;
                }
                session.ledger.schedule_refund_check(refund.id, next, None).await?;
            }
            Ok(Sent::Failed(code_text))
        }
    }
}

/// A failed refund call as `(err_code, retry class, message)`. Transport failures and unreadable or unverified
/// replies may have reached WeChat: retried with the same parameters (after asking first).
fn classify(e: &wxpay::Error) -> (Option<ErrCode>, RetryClass, String) {
    let message = explain_wechat(e).1.en;
    match e {
        wxpay::Error::Business { err_code, retry, err_code_des } => {
            (Some(err_code.clone()), *retry, format!("{err_code_des} — {message}"))
        }
        wxpay::Error::Transport(t) if t.is_retryable() => (None, RetryClass::SameParameters, message),
        wxpay::Error::Transport(_) => (Some(ErrCode::parse("TLS")), RetryClass::Wait, message),
        wxpay::Error::Signature(_) | wxpay::Error::Decode(_) => {
            (Some(ErrCode::parse("UNVERIFIED_REPLY")), RetryClass::SameParameters, message)
        }
        wxpay::Error::Protocol { .. } => (Some(ErrCode::parse("RETURN_FAIL")), RetryClass::Wait, message),
        wxpay::Error::InvalidRequest(_) => (Some(ErrCode::parse("INVALID_REQUEST")), RetryClass::Never, message),
    }
}

/// Asks WeChat about one refund (`refundquery` by out_refund_no), keeps the raw reply as evidence and applies
/// what it says (source `query`). `Ok(None)` when WeChat does not know the refund (REFUNDNOTEXIST).
pub(crate) async fn query(session: &Session, refund: &Refund, actor: &str) -> CoreResult<Option<RefundState>> {
    use wxpay::api::{handle_reply, new_nonce, request_body, Request as _};
    let merchant = session.client.merchant();
    let request = RefundQuery { by: RefundRef::OutRefundNo(refund.out_refund_no.clone()), offset: None };
    let (body, sign_type) = request_body(&request, merchant, &new_nonce())?;
    let raw = session.client.transport().post(RefundQuery::API, body).await.map_err(wxpay::Error::from)?;
    let now = Utc::now();
    let reply = match handle_reply::<RefundQuery>(&raw, sign_type, &merchant.key) {
        Ok(reply) => reply,
        Err(wxpay::Error::Business { err_code: ErrCode::RefundNotExist, .. }) => {
            let fresh = session.ledger.refund(refund.id).await?;
            session.ledger.schedule_refund_check(refund.id, fresh.next_check_at, Some(now)).await?;
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(item) = reply.refunds.iter().find(|i| i.out_refund_no == refund.out_refund_no) else {
        let fresh = session.ledger.refund(refund.id).await?;
        session.ledger.schedule_refund_check(refund.id, fresh.next_check_at, Some(now)).await?;
        return Ok(None);
    };
    let evidence = session.ledger.store_evidence(EvidenceKind::RefundQuery, &raw, now).await?;
    let provenance = Provenance::new(Source::Query, now).with_evidence(Evidence::Raw(evidence)).by(actor);
    let observation = RefundObservation {
        status: item.refund_status.clone(),
        refund_id: item.refund_id.clone(),
        refund_fee: Some(item.refund_fee),
        success_time: item.refund_success_time,
        recv_account: item.refund_recv_accout.clone(),
        refund_account: item.refund_account.clone(),
        refund_channel: item.refund_channel.clone(),
    };
    match session.ledger.apply_refund_observation(refund.id, &observation, &provenance).await {
        // Already past what this reply says (a notification or the other desk was faster): nothing to apply.
        Ok(_) | Err(ledger::Error::InvalidTransition(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let after = session.ledger.refund(refund.id).await?;
    schedule_after_observation(session, &after, now, actor).await?;
    Ok(Some(after.status))
}

/// After WeChat said something about a refund: final → no more checks; PROCESSING / CHANGE → the next check per
/// [`next_query_at`], or flagged once it has been processing too long.
pub(crate) async fn schedule_after_observation(
    session: &Session,
    refund: &Refund,
    now: DateTime<Utc>,
    actor: &str,
) -> CoreResult<()> {
    let next = match refund.status {
        RefundState::Processing | RefundState::Change => {
            let accepted = refund.last_attempt_at.unwrap_or(refund.created_at);
            let next = next_query_at(accepted, now);
            if next.is_none() && refund.status == RefundState::Processing && refund.flag_reason.is_none() {
                let provenance = Provenance::new(Source::System, now).by(actor);
                session.ledger.set_refund_flag(refund.id, Some("STILL_PROCESSING"), &provenance).await?;
            }
            next
        }
        RefundState::Created => refund.next_check_at,
        _ => None,
    };
    session.ledger.schedule_refund_check(refund.id, next, None).await?;
    Ok(())
}

/// One refund handled in a round.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundChecked {
    pub out_refund_no: String,
    pub status_before: String,
    pub status_after: String,
    /// `sent`, `accepted`, `already_at_wechat`, `too_soon`, `failed:<code>`, `queried`, `unknown_at_wechat`,
    /// `error`.
    pub outcome: String,
    pub error: Option<crate::error::UiError>,
}

/// Handles the refunds whose next step is due: CREATED ones are (re)sent, the others asked about.
pub(crate) async fn round(
    session: &Session,
    batch: u32,
    actor: &str,
    locale: Locale,
    min_interval: Duration,
) -> CoreResult<Vec<RefundChecked>> {
    let due = session.ledger.refunds_due_for_check(Utc::now(), batch).await?;
    let mut done = Vec::new();
    for refund in due.iter().filter(|r| r.merchant_id == session.merchant_id) {
        let before = refund.status;
        let result = if refund.status == RefundState::Created {
            if refund.flag_reason.is_some() {
                session
                    .ledger
                    .schedule_refund_check(refund.id, None, None)
                    .await
                    .map_err(CoreError::from)
                    .map(|()| "skipped".to_string())
            } else {
                send(session, refund, true, actor, min_interval).await.map(|s| match s {
                    Sent::Accepted => "accepted".to_string(),
                    Sent::TooSoon => "too_soon".to_string(),
                    Sent::AlreadyAtWeChat => "already_at_wechat".to_string(),
                    Sent::Failed(code) => format!("failed:{code}"),
                    Sent::Moved => "moved".to_string(),
                })
            }
        } else {
            query(session, refund, actor)
                .await
                .map(|s| if s.is_some() { "queried" } else { "unknown_at_wechat" }.to_string())
        };
        let after = session.ledger.refund(refund.id).await.map(|r| r.status).unwrap_or(before);
        let (outcome, error) = match result {
            Ok(o) => (o, None),
            Err(e) => {
                tracing::warn!(out_refund_no = %refund.out_refund_no, "refund step failed: {e}");
                ("error".to_string(), Some(e.to_ui(locale)))
            }
        };
        done.push(RefundChecked {
            out_refund_no: refund.out_refund_no.as_str().to_string(),
            status_before: before.as_str().to_string(),
            status_after: after.as_str().to_string(),
            outcome,
            error,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).single().unwrap()
    }

    #[test]
    fn refunds_are_polled_each_minute_for_five_minutes_then_less_often_and_not_after_a_week() {
        let cases = [
            (Duration::zero(), Some(Duration::minutes(1))),
            (Duration::minutes(4), Some(Duration::minutes(1))),
            (Duration::minutes(5), Some(Duration::minutes(2))),
            (Duration::minutes(20), Some(Duration::minutes(5))),
            (Duration::minutes(45), Some(Duration::minutes(10))),
            (Duration::hours(2), Some(Duration::minutes(30))),
            (Duration::days(2), Some(Duration::minutes(60))),
            (Duration::days(7), None),
        ];
        for (age, interval) in cases {
            let now = t0() + age;
            assert_eq!(next_query_at(t0(), now), interval.map(|i| now + i), "age {age}");
        }
    }

    #[test]
    fn retries_back_off_and_stop_after_five_attempts() {
        let now = t0();
        let waits: Vec<Option<i64>> = (0..=6).map(|a| next_retry_at(a, now).map(|t| (t - now).num_minutes())).collect();
        assert_eq!(waits, [Some(1), Some(1), Some(2), Some(5), Some(10), None, None]);
    }

    #[test]
    fn refund_numbers_are_valid_and_distinct() {
        let a = new_out_refund_no(ApplicationId(42), t0()).unwrap();
        let b = new_out_refund_no(ApplicationId(42), t0()).unwrap();
        assert!(a.as_str().starts_with("RF20260301100000A42"), "{a}");
        assert!(a.as_str().len() <= 64);
        assert_ne!(a, b);
    }
}
