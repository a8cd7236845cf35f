//! The relay (optional): each verified event — a notification that changed the ledger — is forwarded as JSON to
//! the shop backend's URL. Events come from the ledger's outbox (`relay_outbox`), written in the same transaction
//! that applied the notification, so a restart loses none; the worker claims due events with a lease (several
//! receivers may share one PostgreSQL), POSTs each, and marks it delivered (2xx) or due again after a backoff.
//!
//! Each POST carries `X-Paydesk-Event-Id: notification:<id>` (deliveries are at least once: deduplicate by it) and
//! `X-Paydesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! ```json
//! {"id":"notification:42","type":"payment","outcome":"APPLIED","created_at":"2024-03-01T04:00:00Z",
//!  "data":{"mch_id":"1900000109","out_trade_no":"T1001","transaction_id":"4200…","total_fee":2800,…}}
//! ```

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use ledger::RelayEvent;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::watch;

use crate::config::{RelayConfig, Secret};
use crate::AppState;

/// How long a claimed event is reserved for the worker that claimed it.
const LEASE: Duration = Duration::from_secs(60);
/// Events claimed at once.
const BATCH: u32 = 16;
/// One delivery's time limit.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before the next try after `attempts` failed ones: `base`, 2×, 4× … doubling, at most an hour.
pub fn backoff(attempts: i64, base: Duration) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    base.saturating_mul(1u32 << exponent).min(Duration::from_secs(3600))
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &Secret, timestamp: i64, body: &str) -> String {
    let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes()).map(|mut mac| {
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    });
    // HMAC takes keys of any length, so this cannot fail; an empty signature would be refused by the receiver.
    format!("t={timestamp},v1={}", mac.unwrap_or_default())
}

/// The JSON body of one event.
pub fn event_body(event: &RelayEvent) -> String {
    let data: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
    json!({
        "id": format!("notification:{}", event.notification_id),
        "type": match event.kind {
            ledger::NotificationKind::Payment => "payment",
            ledger::NotificationKind::Refund => "refund",
        },
        "outcome": event.outcome.as_str(),
        "created_at": event.created_at,
        "attempt": event.attempts,
        "data": data,
    })
    .to_string()
}

/// Delivers due events until `stop` turns true.
pub async fn worker(state: AppState, relay: RelayConfig, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "relay: cannot build the HTTP client; relay disabled");
            return;
        }
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let claimed = match state.write_turn().await {
            Ok(_turn) => state
                .ledger
                .claim_relay_events(Utc::now(), chrono::Duration::from_std(LEASE).unwrap_or_default(), BATCH)
                .await
                .map_err(crate::Error::from),
            Err(e) => Err(e),
        };
        let events = match claimed {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!(error = %e, "relay: cannot read the outbox");
                Vec::new()
            }
        };
        let idle = events.is_empty();
        for event in events {
            if *stop.borrow() {
                // Claimed but not sent: hand it back at once rather than when the lease runs out.
                if let Ok(_turn) = state.write_turn().await {
                    let _ = state.ledger.relay_failed(event.id, "not sent: receiver shutting down", Utc::now()).await;
                }
                continue;
            }
            deliver(&state, &client, &relay, &event).await;
        }
        if idle {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = state.relay_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

async fn deliver(state: &AppState, client: &reqwest::Client, relay: &RelayConfig, event: &RelayEvent) {
    let body = event_body(event);
    let now = Utc::now();
    let sent = client
        .post(relay.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Paydesk-Event-Id", format!("notification:{}", event.notification_id))
        .header("X-Paydesk-Signature", signature(&relay.secret, now.timestamp(), &body))
        .body(body)
        .send()
        .await;
    let failure = match sent {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("HTTP {}", r.status().as_u16())),
        // reqwest's message names the URL, which holds no secret (the secret travels in a header).
        Err(e) => Some(if e.is_timeout() { "timeout".to_string() } else { format!("{e}") }),
    };
    let Ok(_turn) = state.write_turn().await else { return };
    let marked = match &failure {
        None => {
            state.metrics.relay_delivered();
            state.ledger.relay_delivered(event.id, Utc::now()).await
        }
        Some(error) => {
            state.metrics.relay_failed();
            let wait = backoff(event.attempts, relay.retry_base);
            tracing::warn!(event = %event.id, attempts = event.attempts, error = %error, retry_in_secs = wait.as_secs(),
                "relay delivery failed");
            let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1));
            state.ledger.relay_failed(event.id, error, retry_at).await
        }
    };
    if let Err(e) = marked {
        // The lease runs out and the event is sent again: at least once.
        tracing::warn!(event = %event.id, error = %e, "relay: cannot record the delivery result");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour() {
        let base = Duration::from_secs(5);
        let table: Vec<u64> = (0..=12).map(|n| backoff(n, base).as_secs()).collect();
        assert_eq!(table, vec![5, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]);
        assert_eq!(backoff(i64::MAX, base).as_secs(), 3600);
        assert_eq!(backoff(3, Duration::from_millis(100)), Duration::from_millis(400));
    }

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Independently: python3 -c 'import hmac,hashlib;print(hmac.new(b"relay-secret-0000001",
        //   b"1700000000.{\"a\":1}",hashlib.sha256).hexdigest())'
        let s = signature(&Secret::new("relay-secret-0000001"), 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(s, format!("t=1700000000,v1={}", EXPECTED));
    }

    const EXPECTED: &str = "795ef15e3f2640a5d525dd99eb943f65460132dabcba9ed1dbaaf48f298fb27c";
}
