//! Notifications to the merchant (§6): the payment notification (signed with the order's sign type,
//! no `sign_type` field, as production sends it) and the refund notification (unsigned, `req_info`
//! AES-256-ECB encrypted), delivered on WeChat's retry schedule until a `return_code=SUCCESS`
//! acknowledgement, with every attempt and its reply recorded. The schedule runs `time_factor`
//! times faster than real time; the delivery faults (lost, dropped attempts, duplicates, twins sent
//! at once) are applied here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;
use wxpay::notify::encrypt_req_info;
use wxpay::{sign, ApiKey, Message};

use crate::model::{Order, Refund};
use crate::sim::Sim;

/// The intervals between attempts after an unacknowledged one (§6.1): 15 retries over 24 h 4 min.
pub const RETRY_SCHEDULE_SECS: [u64; 15] =
    [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

/// Replies kept in the log are cut to this many characters.
const REPLY_KEPT_CHARS: usize = 512;

/// Which notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Payment,
    Refund,
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Attempts continue on the schedule.
    Pending,
    Acknowledged,
    /// All 16 attempts went unacknowledged.
    GaveUp,
    /// Never sent (the `notify_lost` fault).
    Lost,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// HTTP 200 with `return_code=SUCCESS`.
    Acknowledged,
    /// An answer, but not an acknowledgement (FAIL, other status, unreadable body).
    NotAcknowledged,
    Timeout,
    /// No connection.
    ConnectError,
    /// Lost on the way by the `notify_drop_first` fault: nothing reached the merchant.
    Dropped,
}

/// One attempt and the merchant's reply.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 1 for the first delivery, 2… for the retries.
    pub number: u32,
    /// `regular`, `concurrent_twin` (sent at the same moment as a regular one) or `duplicate`
    /// (sent again after an acknowledgement).
    pub copy: &'static str,
    /// Simulated time of sending.
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub reply: Option<String>,
    pub error: Option<String>,
    pub elapsed_ms: u64,
}

/// A notification and its delivery history.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationRecord {
    pub id: u64,
    pub kind: Kind,
    pub mch_id: String,
    pub out_trade_no: String,
    pub out_refund_no: Option<String>,
    pub url: String,
    /// The XML body exactly as sent.
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
}

/// The payment notification of a paid order (§6.1, A.10), signed with the order's sign type.
pub fn payment_body(order: &Order, key: &ApiKey, nonce: &str) -> Result<String, wxpay::XmlError> {
    let mut m = Message::new();
    m.set("appid", order.appid.as_str());
    m.set("bank_type", order.bank_type.as_deref().unwrap_or("OTHERS"));
    m.set("cash_fee", order.total_fee.get().to_string());
    m.set_opt("device_info", order.device_info.as_deref());
    m.set("fee_type", order.fee_type.as_str());
    m.set("is_subscribe", order.is_subscribe.as_deref().unwrap_or("N"));
    m.set("mch_id", order.mch_id.as_str());
    m.set("nonce_str", nonce);
    m.set("openid", order.openid.as_deref().unwrap_or(""));
    m.set("out_trade_no", order.out_trade_no.as_str());
    m.set("result_code", "SUCCESS");
    m.set("return_code", "SUCCESS");
    m.set_opt("attach", order.attach.as_deref());
    m.set("time_end", order.paid_at.map(|t| wxpay::BeijingTime::from_utc(t).to_compact()).unwrap_or_default());
    m.set("total_fee", order.total_fee.get().to_string());
    m.set("trade_type", order.trade_type.as_str());
    m.set("transaction_id", order.transaction_id.as_deref().unwrap_or(""));
    // No sign_type field, for MD5 and HMAC orders alike: production omits it (§3.5).
    sign::sign_in_place(&mut m, order.sign_type, key);
    m.to_xml()
}

/// The refund notification (§6.2, A.11): outer envelope plus the encrypted `<root>`.
pub fn refund_body(refund: &Refund, order: &Order, key: &ApiKey, nonce: &str) -> Result<String, wxpay::XmlError> {
    let mut inner = Message::new();
    inner.set("out_refund_no", refund.out_refund_no.as_str());
    inner.set("out_trade_no", refund.out_trade_no.as_str());
    inner.set("refund_account", refund.refund_account.as_str());
    inner.set("refund_fee", refund.refund_fee.get().to_string());
    inner.set("refund_id", refund.refund_id.as_str());
    inner.set("refund_recv_accout", refund.refund_recv_accout.as_str());
    inner.set("refund_request_source", refund.refund_request_source.as_str());
    inner.set("refund_status", refund.refund_status.as_str());
    inner.set("settlement_refund_fee", refund.refund_fee.get().to_string());
    inner.set("settlement_total_fee", order.total_fee.get().to_string());
    if refund.refund_status == wxpay::RefundStatus::Success {
        inner.set_opt("success_time", refund.settled_at.map(|t| wxpay::BeijingTime::from_utc(t).to_dashed()));
    }
    inner.set("total_fee", order.total_fee.get().to_string());
    inner.set("transaction_id", refund.transaction_id.as_str());
    let plaintext = inner.to_xml_all_cdata_with_root("root")?;
    let mut outer = Message::new();
    outer.set("return_code", "SUCCESS");
    outer.set("appid", refund.appid.as_str());
    outer.set("mch_id", refund.mch_id.as_str());
    outer.set("nonce_str", nonce);
    outer.set("req_info", encrypt_req_info(&plaintext, key));
    outer.to_xml()
}

type PlainClient =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, axum::body::Body>;

/// Sends notifications: keep-alive HTTP(S) clients and a bound on attempts in flight.
#[derive(Debug)]
pub struct Notifier {
    /// For `https://` notify URLs.
    client: reqwest::Client,
    /// For `http://` notify URLs: keep-alive HTTP/1.1 connections, no TLS.
    plain: PlainClient,
    permits: Arc<Semaphore>,
    time_factor: u32,
    timeout: Duration,
}

impl Notifier {
    /// `extra_root` (the simulator's CA) is trusted besides the public roots, for receivers that
    /// serve HTTPS with a certificate the simulator issued.
    pub fn new(
        time_factor: u32,
        timeout: Duration,
        concurrency: usize,
        extra_root: Option<&[u8]>,
    ) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(concurrency)
            .user_agent("Mozilla/4.0")
            .timeout(timeout);
        if let Some(der) = extra_root {
            let cert = reqwest::Certificate::from_der(der).map_err(|e| format!("CA certificate: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| format!("notification client: {e}"))?;
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let plain = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(concurrency)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        Ok(Notifier {
            client,
            plain,
            permits: Arc::new(Semaphore::new(concurrency)),
            time_factor: time_factor.max(1),
            timeout,
        })
    }

    /// The real-time wait before retry `n` (0-based) under the time factor.
    pub fn retry_interval(&self, n: usize) -> Duration {
        let secs = RETRY_SCHEDULE_SECS.get(n).copied().unwrap_or(0);
        Duration::from_secs(secs) / self.time_factor
    }

    /// One POST; the outcome and what came back. `http://` goes through hyper's client directly (the
    /// usual loopback receiver, and the load tests' hot path); `https://` through reqwest.
    async fn send_once(&self, url: &str, body: bytes::Bytes) -> (Outcome, Option<u16>, Option<String>, Option<String>) {
        let _permit = self.permits.acquire().await;
        let (status, bytes) = if url.starts_with("http://") {
            match self.send_plain(url, body).await {
                Ok(reply) => reply,
                Err(failure) => return failure,
            }
        } else {
            match self.send_tls(url, body).await {
                Ok(reply) => reply,
                Err(failure) => return failure,
            }
        };
        let acknowledged =
            status == 200 && Message::parse(&bytes).is_ok_and(|m| m.get("return_code") == Some("SUCCESS"));
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) if t.len() <= REPLY_KEPT_CHARS => t.to_string(),
            _ => String::from_utf8_lossy(&bytes).chars().take(REPLY_KEPT_CHARS).collect(),
        };
        let outcome = if acknowledged { Outcome::Acknowledged } else { Outcome::NotAcknowledged };
        (outcome, Some(status), Some(text), None)
    }

    async fn send_plain(&self, url: &str, body: bytes::Bytes) -> Result<(u16, bytes::Bytes), Failure> {
        let request = hyper::Request::post(url)
            .header(hyper::header::CONTENT_TYPE, "text/xml")
            .header(hyper::header::USER_AGENT, "Mozilla/4.0")
            .body(axum::body::Body::from(body))
            .map_err(|e| (Outcome::NotAcknowledged, None, None, Some(format!("notify_url {url:?}: {e}"))))?;
        let exchange = async {
            let response = self.plain.request(request).await.map_err(|e| {
                let outcome = if e.is_connect() { Outcome::ConnectError } else { Outcome::NotAcknowledged };
                (outcome, None, None, Some(chain_text(&e)))
            })?;
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(axum::body::Body::new(response.into_body()), MAX_REPLY_BYTES)
                .await
                .map_err(|e| (Outcome::NotAcknowledged, Some(status), None, Some(chain_text(&e))))?;
            Ok((status, bytes))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err((Outcome::Timeout, None, None, Some(format!("no reply within {:?}", self.timeout)))),
        }
    }

    async fn send_tls(&self, url: &str, body: bytes::Bytes) -> Result<(u16, bytes::Bytes), Failure> {
        let response = self.client.post(url).header(reqwest::header::CONTENT_TYPE, "text/xml").body(body).send().await;
        let response = match response {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err((Outcome::Timeout, None, None, Some(format!("no reply within {:?}", self.timeout))))
            }
            Err(e) if e.is_connect() => return Err((Outcome::ConnectError, None, None, Some(chain_text(&e)))),
            Err(e) => return Err((Outcome::NotAcknowledged, None, None, Some(chain_text(&e)))),
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(bytes) => Ok((status, bytes)),
            Err(e) if e.is_timeout() => {
                Err((Outcome::Timeout, Some(status), None, Some("reply body timed out".into())))
            }
            Err(e) => Err((Outcome::NotAcknowledged, Some(status), None, Some(chain_text(&e)))),
        }
    }
}

/// An attempt that got no usable reply: its outcome, status, reply and error.
type Failure = (Outcome, Option<u16>, Option<String>, Option<String>);

/// A merchant's acknowledgement is a few dozen bytes; more than this is not read.
const MAX_REPLY_BYTES: usize = 64 * 1024;

fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Delivers notification `id` on the schedule, in the background.
pub fn start(sim: Arc<Sim>, id: u64) {
    tokio::spawn(deliver(sim, id));
}

async fn deliver(sim: Arc<Sim>, id: u64) {
    let Some((url, body, mch_id, out_trade_no)) = sim.with_notification(id, |n| {
        (n.url.clone(), bytes::Bytes::from(n.body.clone()), n.mch_id.clone(), n.out_trade_no.clone())
    }) else {
        return;
    };
    let mut faults = sim.delivery_faults(&mch_id, &out_trade_no);
    if faults.notify_lost {
        sim.record_attempts(id, Vec::new(), Some(DeliveryState::Lost));
        return;
    }
    for number in 1..=u32::try_from(RETRY_SCHEDULE_SECS.len() + 1).unwrap_or(16) {
        if number > 1 {
            let wait = sim.notifier.retry_interval(usize::try_from(number - 2).unwrap_or(0));
            tokio::time::sleep(wait).await;
            if sim.is_shut_down() {
                return;
            }
            // Faults are read again at each retry: a test may turn them on or off meanwhile.
            faults = sim.delivery_faults(&mch_id, &out_trade_no);
        }
        sim.wait_while_held().await;
        if number <= faults.notify_drop_first {
            let dropped = Attempt {
                number,
                copy: "regular",
                at: sim.clock.now(),
                outcome: Outcome::Dropped,
                http_status: None,
                reply: None,
                error: Some("dropped by the notify_drop_first fault".into()),
                elapsed_ms: 0,
            };
            sim.record_attempts(id, vec![dropped], None);
            continue;
        }
        let attempts = if faults.notify_concurrent {
            let (a, b) = tokio::join!(
                attempt(&sim, number, "regular", &url, &body),
                attempt(&sim, number, "concurrent_twin", &url, &body)
            );
            vec![a, b]
        } else {
            vec![attempt(&sim, number, "regular", &url, &body).await]
        };
        let acknowledged = attempts.iter().any(|a| a.outcome == Outcome::Acknowledged);
        sim.record_attempts(id, attempts, acknowledged.then_some(DeliveryState::Acknowledged));
        if acknowledged {
            if faults.notify_duplicate {
                // Another WeChat server delivers the same notification a moment later.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let duplicate = attempt(&sim, number, "duplicate", &url, &body).await;
                sim.record_attempts(id, vec![duplicate], None);
            }
            return;
        }
    }
    sim.record_attempts(id, Vec::new(), Some(DeliveryState::GaveUp));
}

async fn attempt(sim: &Sim, number: u32, copy: &'static str, url: &str, body: &bytes::Bytes) -> Attempt {
    let at = sim.clock.now();
    let started = Instant::now();
    let (outcome, http_status, reply, error) = sim.notifier.send_once(url, body.clone()).await;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Attempt { number, copy, at, outcome, http_status, reply, error, elapsed_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_wechats_and_sums_to_24h_4m() {
        assert_eq!(RETRY_SCHEDULE_SECS.len(), 15);
        assert_eq!(RETRY_SCHEDULE_SECS.iter().sum::<u64>(), 24 * 3600 + 4 * 60);
    }

    #[test]
    fn the_time_factor_shrinks_the_intervals() {
        let n = Notifier::new(1000, Duration::from_secs(5), 4, None).unwrap();
        assert_eq!(n.retry_interval(0), Duration::from_millis(15));
        assert_eq!(n.retry_interval(14), Duration::from_millis(21_600));
    }
}
