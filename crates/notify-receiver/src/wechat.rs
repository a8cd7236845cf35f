//! WeChat's side (wxpay-v2.md §6): `POST /wxpay/notify` (payment or refund, told apart by content),
//! `/wxpay/notify/pay` and `/wxpay/notify/refund`.
//!
//! Each request, in this order, and the answer only after the last commit:
//! 1. the body is read under the size limit (too large → 413 FAIL, nothing stored);
//! 2. it is parsed (no DTDs, no entities) and **verified** in memory with the configured merchant's key:
//!    - payment: the signature by `sign_type`, else the order's stored sign type, else the signature's length
//!      (§3.5); appid equal to the configured one;
//!    - refund: `req_info` decrypts (§6.2); appid; the decrypted ids and amounts match a refund the ledger knows (or,
//!      for a refund made in the merchant platform, its paid order);
//! 3. the raw body is **stored** with that verdict and committed — a failure is stored REJECTED and answered FAIL
//!    with a reason code; the database down → 503 FAIL, WeChat retries;
//! 4. the fact is **applied once** in one transaction that also records the outcome and writes the relay event: the
//!    amount is checked against the registered order there; a duplicate (the order-state fact key exists) changes
//!    nothing;
//! 5. SUCCESS (applied, duplicate, or a paid order nobody registered: recorded paid and flagged), else FAIL.
//!
//! Payments go through the batching [`crate::writer`] (steps 3–4 for many at once); refunds, malformed bodies and
//! recovery take the single path (store, then `record_verification`, then apply). Nothing is acknowledged that is
//! not committed. A stored row whose processing was cut short (crash, database error) is finished by
//! [`recovery_worker`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use chrono::Utc;
use http_body_util::BodyExt as _;
use ledger::{
    AppliedNotification, IncomingNotification, NotificationId, NotificationKind, NotificationOutcome, PaymentFacts,
    RefundNotificationFacts, RefundObservation, Verification, VerificationResult,
};
use serde_json::json;
use wxpay::notify::{self, NotifyError, PaymentNotification, RefundNotification};
use wxpay::sign::SignError;
use wxpay::{Message, RefundStatus, SignType};

use crate::error::{wechat_reply, Error};
use crate::writer::Done;
use crate::AppState;

/// Which path the notification came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/wxpay/notify`: the kind is told by content (a refund notification carries `req_info`).
    Any,
    Payment,
    Refund,
}

pub async fn notify_any(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Route::Any, request).await
}

pub async fn notify_pay(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Route::Payment, request).await
}

pub async fn notify_refund(State(state): State<AppState>, request: Request) -> Response {
    handle(state, Route::Refund, request).await
}

/// A verification failure: a fixed code (the FAIL reason WeChat sees) and the detail kept in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub detail: String,
}

fn reject(code: &'static str, detail: impl Into<String>) -> Rejection {
    Rejection { code, detail: detail.into() }
}

/// An authentic notification and what to apply.
#[derive(Debug, Clone)]
pub enum Verified {
    Payment(Box<PaymentFacts>),
    Refund(Box<RefundNotificationFacts>),
    /// Authentic, but there is nothing to apply (a payment notification whose result_code is not SUCCESS): stored
    /// REJECTED with the reason and acknowledged, since asking again cannot change it.
    NothingToApply(Rejection),
}

/// How one notification ended, for the answer, the metrics and the log.
#[derive(Debug)]
struct Outcome {
    status: StatusCode,
    body: String,
    word: &'static str,
}

impl Outcome {
    fn success(word: &'static str) -> Outcome {
        Outcome { status: StatusCode::OK, body: notify::ACK_SUCCESS.to_string(), word }
    }

    fn fail(status: StatusCode, reason: &str, word: &'static str) -> Outcome {
        Outcome { status, body: notify::ack_fail(reason), word }
    }

    fn error(e: &Error) -> Outcome {
        let word = if matches!(e, Error::Unavailable) { "unavailable" } else { "error" };
        Outcome::fail(e.status(), e.code(), word)
    }
}

fn kind_word(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Payment => "payment",
        NotificationKind::Refund => "refund",
    }
}

/// Headers worth keeping with the raw body (where it came from through nginx, what it said it was).
const KEPT_HEADERS: [&str; 6] =
    ["content-type", "content-length", "user-agent", "x-forwarded-for", "x-real-ip", "wechatpay-serial"];

async fn handle(state: AppState, route: Route, request: Request) -> Response {
    let started = Instant::now();
    let remote = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string());
    let (parts, body) = request.into_parts();
    let (kind, outcome) = match read_body(body, &parts.headers, state.body_limit).await {
        Err(e) => {
            tracing::warn!(route = ?route, remote = ?remote, error = %e, "notification body refused");
            let kind = if route == Route::Refund { NotificationKind::Refund } else { NotificationKind::Payment };
            let word = if matches!(e, Error::TooLarge(_)) { "too_large" } else { "unreadable" };
            (kind, Outcome::fail(e.status(), e.code(), word))
        }
        Ok(body) => {
            let headers: Vec<(String, String)> = KEPT_HEADERS
                .iter()
                .filter_map(|name| {
                    parts.headers.get(*name).and_then(|v| v.to_str().ok()).map(|v| ((*name).to_string(), v.to_string()))
                })
                .collect();
            intake(&state, route, body, remote.clone(), headers).await
        }
    };
    let elapsed = started.elapsed();
    state.metrics.notification(kind_word(kind), outcome.word, elapsed);
    tracing::info!(kind = kind_word(kind), outcome = outcome.word, status = outcome.status.as_u16(),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), remote = ?remote, "notification");
    wechat_reply(outcome.status, &outcome.body)
}

/// Reads the whole body, refusing it as soon as it passes `limit` (a declared Content-Length is checked first).
pub async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, Error> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(Error::TooLarge(limit));
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(Error::TooLarge(limit)),
        Err(e) => Err(Error::BadRequest(format!("the body could not be read: {e}"))),
    }
}

/// Steps 2–5 for one body. Returns the kind (for metrics) and the outcome.
async fn intake(
    state: &AppState,
    route: Route,
    body: Bytes,
    remote: Option<String>,
    headers: Vec<(String, String)>,
) -> (NotificationKind, Outcome) {
    let parsed = Message::parse(&body);
    let kind = match (route, &parsed) {
        (Route::Payment, _) => NotificationKind::Payment,
        (Route::Refund, _) => NotificationKind::Refund,
        (Route::Any, Ok(message)) => match notify::NotificationKind::of(message) {
            notify::NotificationKind::Payment => NotificationKind::Payment,
            notify::NotificationKind::Refund => NotificationKind::Refund,
        },
        // Unparseable: stored all the same, under the kind its bytes suggest.
        (Route::Any, Err(_)) => {
            if body.windows(10).any(|w| w == b"<req_info>") {
                NotificationKind::Refund
            } else {
                NotificationKind::Payment
            }
        }
    };
    let incoming =
        IncomingNotification { kind, received_at: Utc::now(), remote_addr: remote, headers, body: body.to_vec() };
    if let (NotificationKind::Payment, Ok(message)) = (kind, &parsed) {
        return (kind, intake_payment(state, incoming, message.clone()).await);
    }
    let stored = {
        let turn = state.write_turn().await;
        match turn {
            Err(e) => Err(e),
            Ok(_turn) => state.ledger.store_notification(&incoming).await.map_err(Error::from),
        }
    };
    let id = match stored {
        Ok(id) => id,
        Err(e) => return (kind, Outcome::error(&e)),
    };
    let message = match parsed {
        Ok(message) => message,
        Err(e) => {
            let rejection = reject("MALFORMED", format!("MALFORMED: {e}"));
            return (kind, finish_rejected(state, id, &rejection, StatusCode::BAD_REQUEST).await);
        }
    };
    let outcome = match process(state, id, kind, message, false).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::error(&e),
    };
    (kind, outcome)
}

/// Records a verification failure (stored REJECTED) and answers FAIL with the code.
async fn finish_rejected(state: &AppState, id: NotificationId, rejection: &Rejection, status: StatusCode) -> Outcome {
    match record(state, id, &VerificationResult::Invalid { reason: rejection.detail.clone() }).await {
        Ok(()) => Outcome::fail(status, rejection.code, "rejected"),
        Err(e) => Outcome::error(&e),
    }
}

async fn record(state: &AppState, id: NotificationId, result: &VerificationResult) -> Result<(), Error> {
    let _turn = state.write_turn().await?;
    state.ledger.record_verification(id, result, Utc::now()).await.map_err(Error::from)
}

/// Steps 3–5 for a stored, parsed notification. `verified_before`: the ledger already holds VALID for it (recovery):
/// verification is repeated to rebuild the facts, not recorded again.
async fn process(
    state: &AppState,
    id: NotificationId,
    kind: NotificationKind,
    message: Message,
    verified_before: bool,
) -> Result<Outcome, Error> {
    let verdict = match kind {
        NotificationKind::Payment => verify_payment(state, message).await?,
        NotificationKind::Refund => verify_refund(state, message).await?,
    };
    let verified = match verdict {
        Ok(verified) => verified,
        Err(rejection) => {
            tracing::warn!(id = %id, code = rejection.code, detail = %rejection.detail, "notification rejected");
            return Ok(finish_rejected(state, id, &rejection, StatusCode::BAD_REQUEST).await);
        }
    };
    if let Verified::NothingToApply(rejection) = &verified {
        record(state, id, &VerificationResult::Invalid { reason: rejection.detail.clone() }).await?;
        return Ok(Outcome::success("not_applicable"));
    }
    if !verified_before {
        let valid = match &verified {
            Verified::Payment(f) => VerificationResult::Valid {
                mch_id: f.mch_id.clone(),
                out_trade_no: Some(f.out_trade_no.clone()),
                out_refund_no: None,
            },
            Verified::Refund(f) => VerificationResult::Valid {
                mch_id: f.mch_id.clone(),
                out_trade_no: Some(f.out_trade_no.clone()),
                out_refund_no: Some(f.out_refund_no.clone()),
            },
            Verified::NothingToApply(_) => return Err(Error::Internal),
        };
        record(state, id, &valid).await?;
    }
    let applied = apply(state, id, &verified).await?;
    applied_outcome(state, id, applied)
}

/// The answer for an applied notification: SUCCESS unless the ledger refused it (then FAIL with the reason's code).
fn applied_outcome(state: &AppState, id: NotificationId, applied: AppliedNotification) -> Result<Outcome, Error> {
    if state.relay_enabled
        && matches!(applied.outcome, NotificationOutcome::Applied | NotificationOutcome::UnknownOrder)
    {
        state.relay_wake.notify_one();
    }
    Ok(match applied.outcome {
        NotificationOutcome::Applied => Outcome::success("applied"),
        NotificationOutcome::Duplicate => Outcome::success("duplicate"),
        NotificationOutcome::UnknownOrder => {
            tracing::warn!(id = %id, order = ?applied.order_id, "verified payment for an order nobody registered: recorded paid, flagged");
            Outcome::success("unknown_order")
        }
        NotificationOutcome::Rejected => {
            let reason = applied.reason.unwrap_or_default();
            tracing::warn!(id = %id, reason = %reason, "notification not applied");
            let code = reason.split([':', ' ']).next().filter(|c| !c.is_empty()).unwrap_or("REJECTED");
            Outcome { status: StatusCode::BAD_REQUEST, body: notify::ack_fail(code), word: "rejected" }
        }
        NotificationOutcome::Pending => return Err(Error::Internal),
    })
}

/// A parsed payment notification: verified in memory, then stored with its verification result and applied by the
/// batching [`crate::writer`] (the raw body is committed before anything is applied, and the answer comes after
/// both commits).
async fn intake_payment(state: &AppState, incoming: IncomingNotification, message: Message) -> Outcome {
    let verdict = match verify_payment(state, message).await {
        Ok(v) => v,
        Err(e) => return Outcome::error(&e),
    };
    let (verification, apply, rejection) = match verdict {
        Ok(Verified::Payment(facts)) => {
            let valid = VerificationResult::Valid {
                mch_id: facts.mch_id.clone(),
                out_trade_no: Some(facts.out_trade_no.clone()),
                out_refund_no: None,
            };
            let payload = state.relay_enabled.then(|| payment_payload(&facts).to_string());
            (valid, Some((*facts, payload)), None)
        }
        Ok(Verified::NothingToApply(r)) => {
            (VerificationResult::Invalid { reason: r.detail.clone() }, None, Some((r, true)))
        }
        Err(r) => (VerificationResult::Invalid { reason: r.detail.clone() }, None, Some((r, false))),
        Ok(Verified::Refund(_)) => return Outcome::error(&Error::Internal),
    };
    match (state.writer.submit(incoming, verification, apply).await, rejection) {
        (Err(e), _) => Outcome::error(&e),
        (Ok(Done::Stored(_)), Some((_, true))) => Outcome::success("not_applicable"),
        (Ok(Done::Stored(id)), Some((r, false))) => {
            tracing::warn!(id = %id, code = r.code, detail = %r.detail, "notification rejected");
            Outcome::fail(StatusCode::BAD_REQUEST, r.code, "rejected")
        }
        (Ok(Done::Applied(id, applied)), None) => {
            applied_outcome(state, id, applied).unwrap_or_else(|e| Outcome::error(&e))
        }
        _ => Outcome::error(&Error::Internal),
    }
}

async fn apply(state: &AppState, id: NotificationId, verified: &Verified) -> Result<AppliedNotification, Error> {
    let now = Utc::now();
    let _turn = state.write_turn().await?;
    let applied = match verified {
        Verified::Payment(facts) => {
            let payload = state.relay_enabled.then(|| payment_payload(facts).to_string());
            state.ledger.apply_payment_notification_relayed(id, facts, now, payload.as_deref()).await
        }
        Verified::Refund(facts) => {
            let payload = state.relay_enabled.then(|| refund_payload(facts).to_string());
            state.ledger.apply_refund_notification_relayed(id, facts, now, payload.as_deref()).await
        }
        Verified::NothingToApply(_) => return Err(Error::Internal),
    };
    applied.map_err(Error::from)
}

/// The relay's `data` for a payment.
pub fn payment_payload(f: &PaymentFacts) -> serde_json::Value {
    json!({
        "mch_id": f.mch_id.as_str(),
        "appid": f.appid.as_str(),
        "out_trade_no": f.out_trade_no.as_str(),
        "transaction_id": f.transaction_id.as_str(),
        "total_fee": f.total_fee.get(),
        "cash_fee": f.cash_fee.map(|c| c.get()),
        "trade_type": f.trade_type.as_ref().map(|t| t.as_str().to_owned()),
        "bank_type": f.bank_type,
        "openid": f.openid,
        "attach": f.attach,
        "paid_at": f.time_end.to_utc().to_rfc3339(),
    })
}

/// The relay's `data` for a refund.
pub fn refund_payload(f: &RefundNotificationFacts) -> serde_json::Value {
    json!({
        "mch_id": f.mch_id.as_str(),
        "out_trade_no": f.out_trade_no.as_str(),
        "out_refund_no": f.out_refund_no.as_str(),
        "refund_id": f.observation.refund_id.as_ref().map(|r| r.as_str().to_owned()),
        "refund_fee": f.refund_fee.get(),
        "total_fee": f.total_fee.get(),
        "refund_status": f.observation.status.as_str(),
        "success_at": f.observation.success_time.map(|t| t.to_utc().to_rfc3339()),
    })
}

fn notify_rejection(e: &NotifyError) -> Rejection {
    let code = match e {
        NotifyError::Xml(_) => "MALFORMED",
        NotifyError::NotSuccess { .. } => "RETURN_CODE_NOT_SUCCESS",
        NotifyError::Signature(SignError::Missing) => "SIGN_MISSING",
        NotifyError::Signature(SignError::UnknownSignType(_)) => "SIGN_TYPE_UNKNOWN",
        NotifyError::Signature(SignError::UndecidableAlgorithm(_)) => "SIGN_LENGTH_UNKNOWN",
        NotifyError::Signature(SignError::Mismatch(_)) => "SIGNATURE_MISMATCH",
        NotifyError::BadBase64 | NotifyError::Decrypt | NotifyError::BadPlaintext(_) => "DECRYPT_FAILED",
        NotifyError::Field(_) => "BAD_FIELD",
    };
    reject(code, format!("{code}: {e}"))
}

/// Step 3 for a payment notification. `Err` is a database failure; `Ok(Err(_))` a rejection.
pub async fn verify_payment(state: &AppState, message: Message) -> Result<Result<Verified, Rejection>, Error> {
    let Some(mch_id) = message.get_non_empty("mch_id") else {
        return Ok(Err(reject("MCH_ID_MISSING", "MCH_ID_MISSING: no mch_id")));
    };
    let Some(merchant) = state.merchant(mch_id) else {
        let shown: String = mch_id.chars().take(32).collect();
        return Ok(Err(reject("UNKNOWN_MERCHANT", format!("UNKNOWN_MERCHANT: mch_id {shown:?} is not configured"))));
    };
    // §3.5: the message's own sign_type; else the sign type stored with the order; else the signature's length.
    // MD5 signs with 32 hex digits and HMAC-SHA256 with 64, so when the length names one algorithm, only that one
    // can verify and the stored type cannot change the outcome: the order is read only when the length says
    // nothing (saving a database read per notification). A registered type that disagrees with the length (a
    // merchant that switched algorithms) thus never blocks a good signature.
    let declared = message.get_non_empty("sign_type").is_some();
    let by_length = message.get_non_empty("sign").and_then(SignType::from_signature_len);
    let known = match (declared, by_length, message.get_non_empty("out_trade_no").map(wxpay::OutTradeNo::new)) {
        (true, _, _) => None,
        (false, Some(t), _) => Some(t),
        (false, None, Some(Ok(no))) => match state.ledger.order_by_out_trade_no(merchant.id, &no).await {
            Ok(order) => order.map(|o| o.sign_type),
            Err(e) => {
                tracing::warn!(error = %e, "reading the order's sign type failed");
                None
            }
        },
        (false, None, _) => None,
    };
    let decoded = notify::payment_from_message(message, &merchant.config.key, known);
    let n: PaymentNotification = match decoded {
        Ok(n) => n,
        Err(e) => return Ok(Err(notify_rejection(&e))),
    };
    if n.appid != merchant.config.appid {
        return Ok(Err(reject(
            "APPID_MISMATCH",
            format!(
                "APPID_MISMATCH: notification {} for merchant {} configured with {}",
                n.appid, n.mch_id, merchant.config.appid
            ),
        )));
    }
    if !n.paid {
        let code = n.err_code.clone().unwrap_or_default();
        return Ok(Ok(Verified::NothingToApply(reject(
            "RESULT_NOT_SUCCESS",
            format!("RESULT_NOT_SUCCESS: result_code is not SUCCESS (err_code {code:?}); nothing to apply"),
        ))));
    }
    let (Some(transaction_id), Some(time_end)) = (n.transaction_id.clone(), n.time_end) else {
        return Ok(Err(reject("BAD_FIELD", "BAD_FIELD: a paid notification needs transaction_id and time_end")));
    };
    Ok(Ok(Verified::Payment(Box::new(PaymentFacts {
        mch_id: n.mch_id,
        appid: n.appid,
        out_trade_no: n.out_trade_no,
        transaction_id,
        total_fee: n.total_fee,
        cash_fee: n.cash_fee,
        settlement_total_fee: n.settlement_total_fee,
        coupon_fee: n.coupon_fee,
        fee_type: n.message.get_non_empty("fee_type").map(str::to_owned),
        trade_type: n.trade_type,
        bank_type: n.bank_type,
        openid: n.openid,
        attach: n.attach,
        time_end,
        sign_type: n.sign_type,
    }))))
}

/// Step 3 for a refund notification: decrypts, then checks the decrypted ids and amounts against what the ledger
/// knows (§6.2: ECB has no integrity, so matching a refund we created is the authenticity check).
pub async fn verify_refund(state: &AppState, message: Message) -> Result<Result<Verified, Rejection>, Error> {
    let Some(mch_id) = message.get_non_empty("mch_id") else {
        return Ok(Err(reject("MCH_ID_MISSING", "MCH_ID_MISSING: no mch_id")));
    };
    let Some(merchant) = state.merchant(mch_id) else {
        let shown: String = mch_id.chars().take(32).collect();
        return Ok(Err(reject("UNKNOWN_MERCHANT", format!("UNKNOWN_MERCHANT: mch_id {shown:?} is not configured"))));
    };
    let n: RefundNotification = match notify::refund_from_message(message, &merchant.config.key) {
        Ok(n) => n,
        Err(e) => return Ok(Err(notify_rejection(&e))),
    };
    if n.appid != merchant.config.appid {
        return Ok(Err(reject(
            "APPID_MISMATCH",
            format!(
                "APPID_MISMATCH: notification {} for merchant {} configured with {}",
                n.appid, n.mch_id, merchant.config.appid
            ),
        )));
    }
    if !matches!(n.refund_status, RefundStatus::Success | RefundStatus::Change | RefundStatus::RefundClose) {
        return Ok(Err(reject(
            "BAD_FIELD",
            format!("BAD_FIELD: refund_status {} is not a notified outcome", n.refund_status),
        )));
    }
    let mismatch = |what: &str, ours: String, theirs: String| {
        Ok(Err(reject("REFUND_MISMATCH", format!("REFUND_MISMATCH: {what}: ledger {ours}, notification {theirs}"))))
    };
    match state.ledger.refund_by_out_refund_no(merchant.id, &n.out_refund_no).await? {
        Some(refund) => {
            let order = state.ledger.order(refund.order_id).await?;
            if order.out_trade_no != n.out_trade_no {
                return mismatch("out_trade_no", order.out_trade_no.to_string(), n.out_trade_no.to_string());
            }
            if let Some(txn) = order.transaction_id.as_ref().filter(|t| **t != n.transaction_id) {
                return mismatch("transaction_id", txn.to_string(), n.transaction_id.to_string());
            }
            if let Some(rid) = refund.refund_id.as_ref().filter(|r| **r != n.refund_id) {
                return mismatch("refund_id", rid.to_string(), n.refund_id.to_string());
            }
            if refund.amount != n.refund_fee {
                return mismatch("refund_fee", refund.amount.to_string(), n.refund_fee.to_string());
            }
            if order.total_fee != n.total_fee {
                return mismatch("total_fee", order.total_fee.to_string(), n.total_fee.to_string());
            }
        }
        None => {
            // A refund made in the merchant platform reaches the URL configured there: accepted only for a paid
            // order whose transaction and amount match, and recorded as an external refund.
            let order = state.ledger.order_by_out_trade_no(merchant.id, &n.out_trade_no).await?;
            let vendor = n.refund_request_source.as_deref() == Some("VENDOR_PLATFORM");
            match order {
                Some(order)
                    if vendor
                        && order.trade_state.is_paid()
                        && order.total_fee == n.total_fee
                        && order.transaction_id.as_ref() == Some(&n.transaction_id)
                        && n.refund_fee <= order.total_fee => {}
                _ => {
                    return Ok(Err(reject(
                        "UNKNOWN_REFUND",
                        format!("UNKNOWN_REFUND: out_refund_no {} is not a refund of this ledger", n.out_refund_no),
                    )))
                }
            }
        }
    }
    Ok(Ok(Verified::Refund(Box::new(RefundNotificationFacts {
        mch_id: n.mch_id,
        appid: n.appid,
        out_trade_no: n.out_trade_no,
        out_refund_no: n.out_refund_no,
        total_fee: n.total_fee,
        refund_fee: n.refund_fee,
        observation: RefundObservation {
            status: n.refund_status,
            refund_id: Some(n.refund_id),
            refund_fee: Some(n.refund_fee),
            success_time: n.success_time,
            recv_account: n.refund_recv_accout,
            refund_account: n.refund_account,
            refund_channel: None,
        },
    }))))
}

/// How long a stored notification may stay unprocessed before recovery takes it: longer than any request.
pub const RECOVERY_AGE: Duration = Duration::from_secs(30);

/// Every `RECOVERY_AGE`, finishes stored notifications left PENDING (the receiver died between storing and
/// applying, or the database failed half-way): verifies and applies them as a request would have, without an
/// answer. Safe with several receivers: the ledger refuses a second verification or application of one row.
pub async fn recovery_worker(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = recover_pending(&state, RECOVERY_AGE).await {
            tracing::warn!(error = %e, "recovery of stored notifications failed; trying again later");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(RECOVERY_AGE) => {}
        }
    }
}

/// Processes stored notifications still PENDING that arrived more than `older_than` ago. Returns how many.
pub async fn recover_pending(state: &AppState, older_than: Duration) -> Result<usize, Error> {
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_else(|_| chrono::Duration::zero());
    let mut done = 0;
    for stored in state.ledger.pending_notifications(200).await? {
        if stored.received_at > cutoff {
            continue;
        }
        let message = match Message::parse(&stored.body) {
            Ok(m) => m,
            Err(e) => {
                let rejection = reject("MALFORMED", format!("MALFORMED: {e}"));
                if stored.verification == Verification::Pending {
                    let _ = record(state, stored.id, &VerificationResult::Invalid { reason: rejection.detail }).await;
                }
                continue;
            }
        };
        let verified_before = stored.verification == Verification::Valid;
        match process(state, stored.id, stored.kind, message, verified_before).await {
            Ok(outcome) => {
                done += 1;
                state.metrics.recovered();
                tracing::info!(id = %stored.id, outcome = outcome.word, "recovered a stored notification");
            }
            // Another receiver got there first, or the database is still down: the next round decides.
            Err(e) => tracing::debug!(id = %stored.id, error = %e, "stored notification not recovered this round"),
        }
    }
    Ok(done)
}
