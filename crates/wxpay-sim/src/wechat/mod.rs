//! WeChat's side of the API (§2): the seven paths, and the checks every call goes through in the
//! order WeChat applies them — POST only, the API certificate on `/secapi/*` and
//! `/pay/downloadfundflow`, a readable UTF-8 XML body, the merchant, the signature (MD5 or
//! HMAC-SHA256 as the request says; HMAC only for the fund-flow bill) — then the injected faults,
//! then the endpoint. Refusals before business logic are `return_code=FAIL` replies without a sign
//! (§1.1); business answers are signed with the request's sign type and do not echo `sign_type`.

mod bill;
mod order;
mod refund;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Extension, Router};
use wxpay::{sign, Api, ApiKey, ErrCode, Message, SignType, XmlError};

use crate::faults::CallFault;
use crate::model::Refusal;
use crate::server::ConnInfo;
use crate::sim::Sim;

/// The `return_msg` when `/secapi/*` or `/pay/downloadfundflow` comes without a client certificate.
pub const NO_CERTIFICATE: &str = "证书错误：该接口需要商户API证书（双向TLS），请求未携带证书";
/// The `return_msg` when the certificate's CN is not the request's mch_id.
pub const CERTIFICATE_MISMATCH: &str = "证书错误：API证书与请求的商户号mch_id不匹配";

/// The routes of WeChat's API.
pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/pay/unifiedorder", any(|s, c, m, b| call(Api::UnifiedOrder, s, c, m, b)))
        .route("/pay/orderquery", any(|s, c, m, b| call(Api::OrderQuery, s, c, m, b)))
        .route("/pay/closeorder", any(|s, c, m, b| call(Api::CloseOrder, s, c, m, b)))
        .route("/secapi/pay/refund", any(|s, c, m, b| call(Api::Refund, s, c, m, b)))
        .route("/pay/refundquery", any(|s, c, m, b| call(Api::RefundQuery, s, c, m, b)))
        .route("/pay/downloadbill", any(|s, c, m, b| call(Api::DownloadBill, s, c, m, b)))
        .route("/pay/downloadfundflow", any(|s, c, m, b| call(Api::DownloadFundFlow, s, c, m, b)))
}

/// What an endpoint answers.
#[derive(Debug)]
pub enum Answer {
    /// `return_code=FAIL`, unsigned; `error_code` only on bill downloads.
    Fail { msg: String, error_code: Option<&'static str> },
    /// `return_code=SUCCESS`, signed: `result_code=SUCCESS` with these fields, or a refusal.
    Business(Result<Message, Refusal>),
    /// A bill: text or gzip bytes.
    Bill { bytes: Vec<u8>, gzip: bool },
}

impl Answer {
    pub fn fail(msg: impl Into<String>) -> Answer {
        Answer::Fail { msg: msg.into(), error_code: None }
    }
}

/// A verified request: its fields and what it was signed with.
#[derive(Debug)]
pub struct Request {
    pub message: Message,
    pub mch_id: String,
    pub appid: String,
    /// The appid the merchant is registered with.
    pub merchant_appid: String,
    pub sign_type: SignType,
    pub key: ApiKey,
}

impl Request {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.message.get_non_empty(name)
    }
}

async fn call(
    api: Api,
    State(sim): State<Arc<Sim>>,
    Extension(conn): Extension<ConnInfo>,
    method: Method,
    body: Bytes,
) -> Response {
    let request = match admit(api, &sim, &conn, &method, &body) {
        Ok(r) => r,
        Err(answer) => return respond(answer, None),
    };
    let (fate, latency_ms) =
        sim.take_call_fault(&request.mch_id, request.get("out_trade_no"), request.get("transaction_id"));
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    let system_error = || match api {
        Api::DownloadBill => Answer::fail("SYSTEMERROR"),
        _ => Answer::Business(Err(Refusal::new(ErrCode::SystemError, "系统超时，请稍后重试"))),
    };
    let answer = if fate == CallFault::SystemError {
        system_error()
    } else {
        let answer = if request.appid != request.merchant_appid {
            Answer::Business(Err(Refusal::new(ErrCode::AppIdMchIdNotMatch, "appid和mch_id不匹配")))
        } else {
            match api {
                Api::UnifiedOrder => order::unified_order(&sim, &request),
                Api::OrderQuery => order::order_query(&sim, &request),
                Api::CloseOrder => order::close_order(&sim, &request),
                Api::Refund => refund::refund(&sim, &request),
                Api::RefundQuery => refund::refund_query(&sim, &request),
                Api::DownloadBill => bill::download_bill(&sim, &request),
                Api::DownloadFundFlow => bill::download_fund_flow(&sim, &request),
            }
        };
        if fate == CallFault::SystemErrorAfterApply {
            system_error()
        } else {
            answer
        }
    };
    respond(answer, Some(&request))
}

/// The checks before any business logic; a refusal is an unsigned FAIL.
fn admit(api: Api, sim: &Sim, conn: &ConnInfo, method: &Method, body: &[u8]) -> Result<Request, Answer> {
    if method != Method::POST {
        return Err(Answer::fail("请使用post方法"));
    }
    if api.needs_client_certificate() && conn.peer.is_none() {
        return Err(Answer::fail(NO_CERTIFICATE));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Answer::fail("post数据为空"));
    }
    let message = match Message::parse(body) {
        Ok(m) => m,
        Err(XmlError::NotUtf8(_)) => return Err(Answer::fail("编码格式错误，仅支持UTF-8")),
        Err(_) => return Err(Answer::fail("XML格式错误")),
    };
    for name in ["appid", "mch_id", "nonce_str", "sign"] {
        if message.get_non_empty(name).is_none() {
            return Err(Answer::fail(format!("缺少参数{name}")));
        }
    }
    let mch_id = message.get("mch_id").unwrap_or_default().to_string();
    let appid = message.get("appid").unwrap_or_default().to_string();
    if appid.len() > 32 {
        return Err(Answer::fail("appid参数长度有误"));
    }
    let Some((key, merchant_appid)) = sim.merchant_keys(&mch_id) else {
        return Err(Answer::fail("mch_id参数格式错误或商户号不存在"));
    };
    if api.needs_client_certificate() && !conn.peer.as_ref().is_some_and(|p| p.is_for(&mch_id)) {
        return Err(Answer::fail(CERTIFICATE_MISMATCH));
    }
    let sign_type = match message.get_non_empty("sign_type") {
        None => SignType::Md5,
        Some(text) => SignType::parse(text).ok_or_else(|| Answer::fail("sign_type参数格式错误"))?,
    };
    if api == Api::DownloadFundFlow && sign_type != SignType::HmacSha256 {
        return Err(Answer::fail("sign_type参数错误，该接口仅支持HMAC-SHA256"));
    }
    if sign::verify(&message, Some(sign_type), &key).is_err() {
        return Err(Answer::fail("签名错误"));
    }
    Ok(Request { message, mch_id, appid, merchant_appid, sign_type, key })
}

/// Writes the HTTP reply: always 200 (§1: failures are XML too).
fn respond(answer: Answer, request: Option<&Request>) -> Response {
    let xml = |text: String| ([(header::CONTENT_TYPE, "text/plain;charset=UTF-8")], text).into_response();
    match answer {
        Answer::Fail { msg, error_code } => {
            let mut m = Message::new();
            m.set("return_code", "FAIL");
            m.set("return_msg", msg);
            m.set_opt("error_code", error_code);
            xml(m.to_xml().unwrap_or_default())
        }
        Answer::Bill { bytes, gzip } => {
            let content_type = if gzip { "application/x-gzip" } else { "text/plain;charset=utf-8" };
            ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Answer::Business(result) => {
            let Some(request) = request else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let mut m = Message::new();
            m.set("return_code", "SUCCESS");
            m.set("return_msg", "OK");
            m.set("appid", request.appid.as_str());
            m.set("mch_id", request.mch_id.as_str());
            m.set_opt("device_info", request.get("device_info"));
            m.set("nonce_str", wxpay::api::new_nonce());
            match result {
                Ok(fields) => {
                    m.set("result_code", "SUCCESS");
                    for (name, value) in fields.iter() {
                        m.set(name, value);
                    }
                }
                Err(refusal) => {
                    m.set("result_code", "FAIL");
                    m.set("err_code", refusal.err_code.as_str());
                    m.set("err_code_des", refusal.des);
                }
            }
            sign::sign_in_place(&mut m, request.sign_type, &request.key);
            xml(m.to_xml().unwrap_or_default())
        }
    }
}

/// A required business field, or the FAIL WeChat answers for its absence.
pub fn required<'a>(request: &'a Request, name: &str) -> Result<&'a str, Answer> {
    request.get(name).ok_or_else(|| Answer::fail(format!("缺少参数{name}")))
}

/// A field within its documented length (characters).
pub fn max_len(request: &Request, name: &str, max: usize) -> Result<(), Answer> {
    match request.get(name) {
        Some(v) if v.chars().count() > max => Err(Answer::fail(format!("{name}参数长度有误"))),
        _ => Ok(()),
    }
}

/// An integer amount in fen (`total_fee`, `refund_fee`): positive, digits only.
pub fn amount(request: &Request, name: &str) -> Result<wxpay::Fen, Answer> {
    let text = required(request, name)?;
    match wxpay::Fen::parse_api(text) {
        Ok(f) if f.get() > 0 => Ok(f),
        _ => Err(Answer::fail(format!("{name}参数格式错误"))),
    }
}
