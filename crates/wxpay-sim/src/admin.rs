//! The customer side and the test hooks: a JSON API under `/admin` on the same HTTPS server (curl
//! examples in the crate README). Create an order as a shop backend would, pay it as a customer,
//! settle refunds, set balances, move the clock, inject faults, and read back orders, refunds and
//! every notification attempt. Secrets never appear in its answers except the PEM of a certificate
//! it was asked to issue.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use wxpay::{Fen, RefundStatus, SignType};

use crate::config::MerchantConfig;
use crate::faults::Faults;
use crate::model::Refusal;
use crate::sim::{NewOrder, NotificationFilter, Payment, RefundRequest, Sim, SimError};

type ApiResult = Result<Json<Value>, AdminError>;

/// An admin error: `{ "code": …, "message": … }` with an HTTP status.
#[derive(Debug)]
pub struct AdminError(StatusCode, &'static str, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "code": self.1, "message": self.2 }))).into_response()
    }
}

impl From<SimError> for AdminError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::NotFound(m) => AdminError(StatusCode::NOT_FOUND, "not_found", m),
            SimError::Conflict(m) => AdminError(StatusCode::CONFLICT, "conflict", m),
            SimError::Invalid(m) => AdminError(StatusCode::BAD_REQUEST, "invalid", m),
        }
    }
}

impl From<Refusal> for AdminError {
    fn from(r: Refusal) -> Self {
        AdminError(StatusCode::CONFLICT, "refused", format!("{}: {}", r.err_code, r.des))
    }
}

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, "invalid", message.into())
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult {
    serde_json::to_value(value).map(Json).map_err(|e| invalid(e.to_string()))
}

/// The admin routes, behind the bearer token when one is configured.
pub fn routes(sim: Arc<Sim>) -> Router<Arc<Sim>> {
    Router::new()
        .route("/admin/info", get(info))
        .route("/admin/ca.pem", get(ca_pem))
        .route("/admin/clock", get(clock).post(set_clock))
        .route("/admin/merchants", get(merchants).post(add_merchant))
        .route("/admin/merchants/{mch_id}", get(merchant))
        .route("/admin/merchants/{mch_id}/balance", put(set_balance))
        .route("/admin/merchants/{mch_id}/faults", put(set_merchant_faults))
        .route("/admin/merchants/{mch_id}/certificate", post(issue_certificate))
        .route("/admin/merchants/{mch_id}/orders", get(orders).post(create_order))
        .route("/admin/merchants/{mch_id}/orders/{out_trade_no}", get(order))
        .route("/admin/merchants/{mch_id}/orders/{out_trade_no}/pay", post(pay))
        .route("/admin/merchants/{mch_id}/orders/{out_trade_no}/close", post(close))
        .route(
            "/admin/merchants/{mch_id}/orders/{out_trade_no}/faults",
            put(set_order_faults).delete(clear_order_faults),
        )
        .route("/admin/merchants/{mch_id}/orders/{out_trade_no}/refunds", post(platform_refund))
        .route("/admin/merchants/{mch_id}/refunds", get(refunds))
        .route("/admin/merchants/{mch_id}/refunds/{out_refund_no}", get(refund))
        .route("/admin/merchants/{mch_id}/refunds/{out_refund_no}/settle", post(settle))
        .route("/admin/notifications", get(notifications))
        .route("/admin/notifications/hold", post(hold_notifications))
        .route("/admin/stats", get(stats))
        .route("/admin/snapshot", post(snapshot))
        .layer(middleware::from_fn_with_state(sim, require_token))
}

async fn require_token(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if let Some(token) = &sim.config.admin_token {
        let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let expected = format!("Bearer {token}");
        let ok = given.is_some_and(|g| g.len() == expected.len() && subtle_eq(g.as_bytes(), expected.as_bytes()));
        if !ok {
            return AdminError(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authorization: Bearer <admin_token> required".into(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn info(State(sim): State<Arc<Sim>>) -> ApiResult {
    Ok(Json(json!({
        "ca_cert_path": sim.ca.cert_path().map(|p| p.display().to_string()),
        "time_factor": sim.config.time_factor,
        "refund_delay_ms": sim.config.refund_delay_ms,
        "now": sim.clock.now(),
        "now_beijing": sim.clock.now_beijing().to_dashed(),
        "merchants": sim.merchants(),
    })))
}

async fn ca_pem(State(sim): State<Arc<Sim>>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], sim.ca.cert_pem().to_string()).into_response()
}

fn clock_json(sim: &Sim) -> Json<Value> {
    Json(json!({ "now": sim.clock.now(), "now_beijing": sim.clock.now_beijing().to_dashed() }))
}

async fn clock(State(sim): State<Arc<Sim>>) -> ApiResult {
    Ok(clock_json(&sim))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockChange {
    /// RFC 3339 or Beijing `yyyy-MM-dd HH:mm:ss`.
    set: Option<String>,
    advance_secs: Option<i64>,
    advance_days: Option<i64>,
    #[serde(default)]
    reset: bool,
}

async fn set_clock(State(sim): State<Arc<Sim>>, Json(change): Json<ClockChange>) -> ApiResult {
    if change.reset {
        sim.clock.reset();
    }
    if let Some(at) = &change.set {
        sim.clock.set(crate::clock::parse_instant(at).map_err(invalid)?);
    }
    if let Some(secs) = change.advance_secs {
        sim.clock.advance(chrono::Duration::seconds(secs));
    }
    if let Some(days) = change.advance_days {
        sim.clock.advance(chrono::Duration::days(days));
    }
    Ok(clock_json(&sim))
}

async fn merchants(State(sim): State<Arc<Sim>>) -> ApiResult {
    to_json(&sim.merchants())
}

async fn merchant(State(sim): State<Arc<Sim>>, Path(mch_id): Path<String>) -> ApiResult {
    to_json(&sim.merchant(&mch_id)?)
}

async fn add_merchant(State(sim): State<Arc<Sim>>, Json(config): Json<MerchantConfig>) -> ApiResult {
    sim.add_merchant(&config)?;
    to_json(&sim.merchant(&config.mch_id)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Balance {
    balance_fen: i64,
}

async fn set_balance(State(sim): State<Arc<Sim>>, Path(mch_id): Path<String>, Json(b): Json<Balance>) -> ApiResult {
    to_json(&sim.set_balance(&mch_id, Fen(b.balance_fen))?)
}

async fn set_merchant_faults(
    State(sim): State<Arc<Sim>>,
    Path(mch_id): Path<String>,
    Json(f): Json<Faults>,
) -> ApiResult {
    sim.set_merchant_faults(&mch_id, f)?;
    to_json(&sim.merchant(&mch_id)?)
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CertificateAsk {
    company: Option<String>,
    /// Where to write the files; default `<data_dir>/certs/<mch_id>`.
    out_dir: Option<String>,
}

async fn issue_certificate(
    State(sim): State<Arc<Sim>>,
    Path(mch_id): Path<String>,
    body: Option<Json<CertificateAsk>>,
) -> ApiResult {
    sim.merchant(&mch_id)?;
    let ask = body.map(|Json(a)| a).unwrap_or_default();
    let company = ask.company.unwrap_or_else(|| format!("wxpay-sim 沙箱商户 {mch_id}"));
    let cert = sim.ca.issue_client(&mch_id, &company, chrono::Utc::now()).map_err(|e| invalid(e.to_string()))?;
    let dir = ask.out_dir.map(std::path::PathBuf::from).unwrap_or_else(|| sim.data_dir.join("certs").join(&mch_id));
    let files = cert.write_to(&dir, &mch_id).map_err(|e| invalid(e.to_string()))?;
    Ok(Json(json!({
        "serial_hex": cert.serial_hex,
        "files": files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "cert_pem": cert.cert_pem,
    })))
}

async fn orders(State(sim): State<Arc<Sim>>, Path(mch_id): Path<String>) -> ApiResult {
    to_json(&sim.orders(&mch_id)?)
}

/// An order as a shop backend creates it (the admin twin of unifiedorder).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrder {
    out_trade_no: Option<String>,
    total_fee: i64,
    body: Option<String>,
    notify_url: String,
    /// NATIVE (default), JSAPI, APP, MWEB.
    trade_type: Option<String>,
    openid: Option<String>,
    product_id: Option<String>,
    attach: Option<String>,
    device_info: Option<String>,
    /// The sign type the shop signs with (the payment notification uses it). Default MD5.
    sign_type: Option<SignType>,
    /// RFC 3339 or Beijing time.
    time_expire: Option<String>,
    /// Pay it at once with these details.
    pay: Option<Payment>,
}

async fn create_order(
    State(sim): State<Arc<Sim>>,
    Path(mch_id): Path<String>,
    Json(c): Json<CreateOrder>,
) -> ApiResult {
    let merchant = sim.merchant(&mch_id)?;
    if c.total_fee <= 0 {
        return Err(invalid("total_fee must be at least 1 fen"));
    }
    let out_trade_no = c
        .out_trade_no
        .unwrap_or_else(|| format!("SIM{}{:04}", sim.clock.now_beijing().to_compact(), rand::random::<u16>() % 10_000));
    wxpay::OutTradeNo::new(out_trade_no.as_str()).map_err(|e| invalid(e.to_string()))?;
    let trade_type = c.trade_type.unwrap_or_else(|| "NATIVE".into());
    let time_expire = c.time_expire.as_deref().map(crate::clock::parse_instant).transpose().map_err(invalid)?;
    let body = c.body.unwrap_or_else(|| "wxpay-sim 测试商品".into());
    let product_id = c.product_id.or_else(|| (trade_type == "NATIVE").then(|| "SIMPRODUCT".to_string()));
    let openid = c.openid.or_else(|| (trade_type == "JSAPI").then(|| format!("oSim{}", rand::random::<u32>())));
    let mut params = std::collections::BTreeMap::new();
    for (k, v) in [("body", Some(&body)), ("trade_type", Some(&trade_type)), ("notify_url", Some(&c.notify_url))] {
        if let Some(v) = v {
            params.insert(k.to_string(), v.clone());
        }
    }
    params.insert("total_fee".into(), c.total_fee.to_string());
    let new = NewOrder {
        appid: merchant.appid,
        out_trade_no: out_trade_no.clone(),
        body,
        attach: c.attach,
        device_info: c.device_info,
        fee_type: "CNY".into(),
        total_fee: Fen(c.total_fee),
        spbill_create_ip: "127.0.0.1".into(),
        notify_url: c.notify_url,
        trade_type,
        product_id,
        openid,
        time_expire,
        sign_type: c.sign_type.unwrap_or_default(),
        params,
    };
    let mut order = sim.unified_order(&mch_id, new)?;
    if let Some(payment) = c.pay {
        order = sim.pay(&mch_id, &out_trade_no, payment)?;
    }
    to_json(&order)
}

async fn order(State(sim): State<Arc<Sim>>, Path((mch_id, out_trade_no)): Path<(String, String)>) -> ApiResult {
    let (order, refunds) = sim.order_with_refunds(&mch_id, &out_trade_no)?;
    let filter =
        NotificationFilter { mch_id: Some(mch_id), out_trade_no: Some(out_trade_no), ..NotificationFilter::default() };
    Ok(Json(json!({ "order": order, "refunds": refunds, "notifications": sim.notifications(&filter) })))
}

async fn pay(
    State(sim): State<Arc<Sim>>,
    Path((mch_id, out_trade_no)): Path<(String, String)>,
    body: Option<Json<Payment>>,
) -> ApiResult {
    let payment = body.map(|Json(p)| p).unwrap_or_default();
    to_json(&sim.pay(&mch_id, &out_trade_no, payment)?)
}

async fn close(State(sim): State<Arc<Sim>>, Path((mch_id, out_trade_no)): Path<(String, String)>) -> ApiResult {
    to_json(&sim.close_order(&mch_id, &out_trade_no)?)
}

async fn set_order_faults(
    State(sim): State<Arc<Sim>>,
    Path((mch_id, out_trade_no)): Path<(String, String)>,
    Json(f): Json<Faults>,
) -> ApiResult {
    sim.set_order_faults(&mch_id, &out_trade_no, Some(f))?;
    Ok(Json(json!({ "ok": true })))
}

async fn clear_order_faults(
    State(sim): State<Arc<Sim>>,
    Path((mch_id, out_trade_no)): Path<(String, String)>,
) -> ApiResult {
    sim.set_order_faults(&mch_id, &out_trade_no, None)?;
    Ok(Json(json!({ "ok": true })))
}

/// A refund made in the merchant platform (refund_request_source VENDOR_PLATFORM).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformRefund {
    out_refund_no: Option<String>,
    refund_fee: i64,
    refund_desc: Option<String>,
    notify_url: Option<String>,
}

async fn platform_refund(
    State(sim): State<Arc<Sim>>,
    Path((mch_id, out_trade_no)): Path<(String, String)>,
    Json(r): Json<PlatformRefund>,
) -> ApiResult {
    let (order, _) = sim.order_with_refunds(&mch_id, &out_trade_no)?;
    let out_refund_no = r
        .out_refund_no
        .unwrap_or_else(|| format!("P{}{:04}", sim.clock.now_beijing().to_compact(), rand::random::<u16>() % 10_000));
    let outcome = sim.refund(
        &mch_id,
        RefundRequest {
            appid: order.appid.clone(),
            transaction_id: None,
            out_trade_no: Some(out_trade_no),
            out_refund_no,
            total_fee: order.total_fee,
            refund_fee: Fen(r.refund_fee),
            refund_desc: r.refund_desc,
            refund_account: None,
            notify_url: r.notify_url,
            source: "VENDOR_PLATFORM",
        },
    )?;
    to_json(&outcome.refund)
}

async fn refunds(State(sim): State<Arc<Sim>>, Path(mch_id): Path<String>) -> ApiResult {
    to_json(&sim.refunds(&mch_id)?)
}

async fn refund(State(sim): State<Arc<Sim>>, Path((mch_id, out_refund_no)): Path<(String, String)>) -> ApiResult {
    let refund = sim.refund_by_no(&mch_id, &out_refund_no)?;
    let filter = NotificationFilter {
        mch_id: Some(mch_id),
        out_refund_no: Some(out_refund_no),
        ..NotificationFilter::default()
    };
    Ok(Json(json!({ "refund": refund, "notifications": sim.notifications(&filter) })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settle {
    /// SUCCESS, REFUNDCLOSE or CHANGE.
    status: RefundStatus,
}

async fn settle(
    State(sim): State<Arc<Sim>>,
    Path((mch_id, out_refund_no)): Path<(String, String)>,
    Json(s): Json<Settle>,
) -> ApiResult {
    to_json(&sim.settle_refund(&mch_id, &out_refund_no, s.status)?)
}

async fn notifications(State(sim): State<Arc<Sim>>, Query(filter): Query<NotificationFilter>) -> ApiResult {
    to_json(&sim.notifications(&filter))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Hold {
    hold: bool,
}

async fn hold_notifications(State(sim): State<Arc<Sim>>, Json(h): Json<Hold>) -> ApiResult {
    sim.hold_notifications(h.hold);
    to_json(&sim.delivery_counts())
}

async fn snapshot(State(sim): State<Arc<Sim>>) -> ApiResult {
    let path = crate::snapshot::save(&sim).map_err(|e| AdminError(StatusCode::INTERNAL_SERVER_ERROR, "io", e))?;
    Ok(Json(json!({ "path": path.display().to_string() })))
}

async fn stats(State(sim): State<Arc<Sim>>) -> ApiResult {
    to_json(&sim.delivery_counts())
}
