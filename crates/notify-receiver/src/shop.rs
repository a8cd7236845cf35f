//! The shop backend's API (JSON, `Authorization: Bearer <token>`), documented with curl examples in the README:
//!
//! - `POST /api/v1/orders` registers an order before payment (`out_trade_no`, `amount` in fen, `sign_type`,
//!   `description`, `openid`): the receiver then knows its amount and sign type when the notification comes.
//! - `POST /api/v1/refund-applications` registers a customer's refund request for the desk to approve, checked
//!   against the order and what is already refunded or waiting.
//! - `GET /api/v1/orders/{out_trade_no}` tells an order's status with its refunds and applications.
//!
//! Wrong or missing token → 401; an invalid body → 422 naming each failing field. Bodies are read under the same
//! size limit as notifications and parsed by hand, so every failing field is reported at once.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use ledger::{ApplicationOrigin, ApplicationStatus, NewOrder, NewRefundApplication, Order, Source};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;
use wxpay::{Fen, OutTradeNo, SignType, TradeType};

use crate::error::{Error, FieldError};
use crate::{AppState, MerchantEntry};

/// Checks the bearer token in constant time; counts every API request by route and status.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = route_name(request.uri().path(), request.method());
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = state.shop_token.expose().as_bytes();
    let ok = given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected));
    let response = if ok { next.run(request).await } else { Error::Unauthorized.into_response() };
    state.metrics.api_request(route, response.status().as_u16());
    response
}

fn route_name(path: &str, method: &axum::http::Method) -> &'static str {
    match (method.as_str(), path) {
        ("POST", "/api/v1/orders") => "register_order",
        ("POST", "/api/v1/refund-applications") => "register_refund_application",
        ("GET", p) if p.starts_with("/api/v1/orders/") => "order_status",
        _ => "other",
    }
}

/// A JSON object's fields read one by one, collecting every failure.
struct Fields {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    fn parse(body: &[u8]) -> Result<Fields, Error> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Fields { map, errors: Vec::new() }),
            Ok(_) => Err(Error::invalid("body", "expected a JSON object")),
            Err(e) => Err(Error::invalid("body", format!("not JSON: {e}"))),
        }
    }

    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    fn opt_str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() > max_chars => {
                self.fail(field, format!("at most {max_chars} characters"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail(field, "must be a string");
                None
            }
        }
    }

    fn str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        if !self.map.contains_key(field) {
            self.fail(field, "required");
            return None;
        }
        self.opt_str(field, max_chars)
    }

    /// A positive amount in fen (an integer; never a decimal yuan value).
    fn fen(&mut self, field: &str) -> Option<Fen> {
        match self.map.get(field) {
            None | Some(Value::Null) => {
                self.fail(field, "required (integer fen)");
                None
            }
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if v > 0 && v <= 10_000_000_000 => Some(Fen(v)),
                Some(_) => {
                    self.fail(field, "must be a positive amount in fen, at most 10,000,000,000");
                    None
                }
                None => {
                    self.fail(field, "must be an integer number of fen");
                    None
                }
            },
            Some(_) => {
                self.fail(field, "must be an integer number of fen");
                None
            }
        }
    }

    fn out_trade_no(&mut self) -> Option<OutTradeNo> {
        let text = self.str("out_trade_no", 64)?;
        match OutTradeNo::new(text) {
            Ok(no) => Some(no),
            Err(e) => {
                self.fail("out_trade_no", e.reason);
                None
            }
        }
    }

    /// The merchant: `mch_id` when given, else the only one configured.
    fn merchant<'s>(&mut self, state: &'s AppState) -> Option<&'s MerchantEntry> {
        match self.opt_str("mch_id", 32) {
            Some(mch_id) => {
                let found = state.merchant(&mch_id);
                if found.is_none() {
                    self.fail("mch_id", "not a merchant of this receiver");
                }
                found
            }
            None if state.merchants.len() == 1 => state.merchants.first(),
            None => {
                self.fail("mch_id", "required: this receiver serves several merchants");
                None
            }
        }
    }

    fn done(self) -> Result<Map<String, Value>, Error> {
        if self.errors.is_empty() {
            Ok(self.map)
        } else {
            Err(Error::Invalid(self.errors))
        }
    }
}

async fn body(state: &AppState, request: Request) -> Result<bytes::Bytes, Error> {
    let (parts, body) = request.into_parts();
    crate::wechat::read_body(body, &parts.headers, state.body_limit).await
}

fn order_json(order: &Order, mch_id: &str) -> Value {
    json!({
        "mch_id": mch_id,
        "out_trade_no": order.out_trade_no.as_str(),
        "transaction_id": order.transaction_id.as_ref().map(|t| t.as_str().to_owned()),
        "trade_state": order.trade_state.as_str(),
        "amount": order.total_fee.get(),
        "sign_type": order.sign_type.as_str(),
        "description": order.body,
        "openid": order.openid,
        "paid_at": order.paid_at,
        "refunded": order.refunded_total.get(),
        "refund_reserved": order.refund_reserved.get(),
        "refundable": order.refundable().get(),
        "flag": order.flag_reason,
        "registered_at": order.created_at,
    })
}

/// `POST /api/v1/orders`.
pub async fn register_order(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let bytes = body(&state, request).await?;
    let mut f = Fields::parse(&bytes)?;
    let merchant = f.merchant(&state);
    let out_trade_no = f.out_trade_no();
    let amount = f.fen("amount");
    let sign_type = match f.opt_str("sign_type", 32) {
        None => merchant.map(|m| m.config.sign_type),
        Some(text) => {
            let parsed = SignType::parse(&text);
            if parsed.is_none() {
                f.fail("sign_type", "must be MD5 or HMAC-SHA256");
            }
            parsed
        }
    };
    let description = f.opt_str("description", 128);
    let openid = f.opt_str("openid", 128);
    let attach = f.opt_str("attach", 127);
    let trade_type = f.opt_str("trade_type", 16).map(TradeType::from);
    let placed_at = match f.opt_str("placed_at", 40) {
        None => Some(Utc::now()),
        Some(text) => match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                f.fail("placed_at", "must be an RFC 3339 time, e.g. 2024-03-01T12:00:00+08:00");
                None
            }
        },
    };
    f.done()?;
    let (Some(merchant), Some(out_trade_no), Some(amount), Some(sign_type), Some(placed_at)) =
        (merchant, out_trade_no, amount, sign_type, placed_at)
    else {
        return Err(Error::Internal);
    };
    let new = NewOrder {
        merchant: merchant.id,
        out_trade_no,
        appid: Some(merchant.config.appid.clone()),
        sign_type,
        trade_type,
        total_fee: amount,
        body: description,
        attach,
        placed_at,
        time_expire: None,
        next_check_at: None,
        origin: Source::ShopBackend,
    };
    let (order, created) = {
        let _turn = state.write_turn().await?;
        let (mut order, created) = state.ledger.register_order(&new).await?;
        if let (Some(openid), None) = (&openid, &order.openid) {
            state.ledger.set_order_openid(order.id, openid).await?;
            order.openid = Some(openid.clone());
        }
        (order, created)
    };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(order_json(&order, merchant.config.mch_id.as_str()))).into_response())
}

/// `POST /api/v1/refund-applications`.
pub async fn register_refund_application(State(state): State<AppState>, request: Request) -> Result<Response, Error> {
    let bytes = body(&state, request).await?;
    let mut f = Fields::parse(&bytes)?;
    let merchant = f.merchant(&state);
    let out_trade_no = f.out_trade_no();
    let amount = f.fen("amount");
    let reason = f.str("reason", 80);
    let request_id = f.opt_str("request_id", 64);
    f.done()?;
    let (Some(merchant), Some(out_trade_no), Some(amount)) = (merchant, out_trade_no, amount) else {
        return Err(Error::Internal);
    };
    let order = state
        .ledger
        .order_by_out_trade_no(merchant.id, &out_trade_no)
        .await?
        .ok_or_else(|| Error::invalid("out_trade_no", "no such order"))?;
    if !order.trade_state.is_paid() {
        return Err(Error::invalid("out_trade_no", format!("the order is {}, not paid", order.trade_state)));
    }
    // What the desk may still approve: the amount less refunds holding money, less applications still waiting
    // (other than this very request repeated).
    let pending: i64 = state
        .ledger
        .applications_for_order(order.id)
        .await?
        .iter()
        .filter(|a| a.status == ApplicationStatus::Pending)
        .filter(|a| request_id.is_none() || a.external_ref != request_id)
        .map(|a| a.amount.get())
        .sum();
    let left = order.refundable().get().saturating_sub(pending);
    if amount.get() > left {
        return Err(Error::invalid(
            "amount",
            format!(
                "exceeds what is left to refund: {left} fen (order {} fen, refunded or in progress {} fen, waiting for approval {pending} fen)",
                order.total_fee.get(),
                order.refund_reserved.get()
            ),
        ));
    }
    let new = NewRefundApplication {
        order: order.id,
        amount,
        reason,
        origin: ApplicationOrigin::ShopBackend,
        external_ref: request_id,
        requested_by: "shop-backend".into(),
        requested_at: Utc::now(),
    };
    let (application, created) = {
        let _turn = state.write_turn().await?;
        state.ledger.register_refund_application(&new).await?
    };
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(json!({
            "id": application.id.get(),
            "mch_id": merchant.config.mch_id.as_str(),
            "out_trade_no": order.out_trade_no.as_str(),
            "amount": application.amount.get(),
            "reason": application.reason,
            "request_id": application.external_ref,
            "status": application.status.as_str(),
            "requested_at": application.requested_at,
        })),
    )
        .into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct StatusQuery {
    mch_id: Option<String>,
}

/// `GET /api/v1/orders/{out_trade_no}[?mch_id=…]`.
pub async fn order_status(
    State(state): State<AppState>,
    Path(out_trade_no): Path<String>,
    Query(query): Query<StatusQuery>,
) -> Result<Response, Error> {
    let merchant = match &query.mch_id {
        Some(mch_id) => {
            state.merchant(mch_id).ok_or_else(|| Error::invalid("mch_id", "not a merchant of this receiver"))?
        }
        None if state.merchants.len() == 1 => state.merchants.first().ok_or(Error::Internal)?,
        None => return Err(Error::invalid("mch_id", "required: this receiver serves several merchants")),
    };
    let no = OutTradeNo::new(out_trade_no).map_err(|e| Error::invalid("out_trade_no", e.reason))?;
    let order = state
        .ledger
        .order_by_out_trade_no(merchant.id, &no)
        .await?
        .ok_or_else(|| Error::NotFound(format!("order {no} not found")))?;
    let refunds: Vec<Value> = state
        .ledger
        .refunds_for_order(order.id)
        .await?
        .iter()
        .map(|r| {
            json!({
                "out_refund_no": r.out_refund_no.as_str(),
                "refund_id": r.refund_id.as_ref().map(|i| i.as_str().to_owned()),
                "amount": r.amount.get(),
                "status": r.status.as_str(),
                "success_at": r.success_at,
            })
        })
        .collect();
    let applications: Vec<Value> = state
        .ledger
        .applications_for_order(order.id)
        .await?
        .iter()
        .map(|a| {
            json!({
                "id": a.id.get(),
                "amount": a.amount.get(),
                "reason": a.reason,
                "request_id": a.external_ref,
                "status": a.status.as_str(),
                "requested_at": a.requested_at,
                "decided_at": a.decided_at,
            })
        })
        .collect();
    let mut body = order_json(&order, merchant.config.mch_id.as_str());
    if let Value::Object(map) = &mut body {
        map.insert("refunds".into(), Value::Array(refunds));
        map.insert("refund_applications".into(), Value::Array(applications));
    }
    Ok(Json(body).into_response())
}
