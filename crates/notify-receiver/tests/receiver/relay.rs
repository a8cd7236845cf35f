//! The relay: verified events reach the shop backend signed, once per applied notification, after failures and
//! across a receiver restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use notify_receiver::config::RelayConfig;
use notify_receiver::Secret;
use sha2::Sha256;
use wxpay::SignType;

use crate::common::*;

const RELAY_SECRET: &str = "relay-secret-for-tests-000001";

/// A shop backend that records what it gets and answers 503 while `down`.
#[derive(Clone, Default)]
struct Shop {
    down: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    refused: Arc<Mutex<u32>>,
}

async fn shop_backend(shop: Shop) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/paydesk/events", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/paydesk/events",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let shop = shop.clone();
            async move {
                if shop.down.load(Ordering::SeqCst) {
                    *shop.refused.lock().unwrap() += 1;
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                shop.got.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn verify(headers: &HeaderMap, body: &str) -> bool {
    let sig = headers.get("x-paydesk-signature").unwrap().to_str().unwrap();
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(RELAY_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap()).is_ok()
}

pub async fn relay_delivers_signed_events_with_retries_across_a_restart(db: &TestDb) {
    let shop = Shop::default();
    shop.down.store(true, Ordering::SeqCst);
    let url = shop_backend(shop.clone()).await;
    let mut config = db.config();
    let mut relay = RelayConfig::new(url.parse().unwrap(), Secret::new(RELAY_SECRET));
    relay.retry_base = Duration::from_millis(100);
    config.relay = Some(relay);

    let r = db.receiver_with(config.clone()).await;
    r.register("RL-1", 100, SignType::Md5).await;
    r.register("RL-2", 200, SignType::HmacSha256).await;
    for (no, fen, n) in [("RL-1", 100, 40), ("RL-2", 200, 41), ("RL-1", 100, 40)] {
        assert!(r.post("/wxpay/notify/pay", payment_xml(no, fen, n, SignType::Md5, false)).await.is_success_ack());
    }
    // An unregistered payment is relayed too (outcome UNKNOWN_ORDER); a rejected one is not.
    assert!(r.post("/wxpay/notify/pay", payment_xml("RL-X", 300, 42, SignType::Md5, false)).await.is_success_ack());
    assert_eq!(r.post("/wxpay/notify/pay", payment_xml("RL-2", 1, 43, SignType::Md5, false)).await.status, 400);
    eventually(10, "the shop backend refused a few deliveries", || {
        let refused = shop.refused.clone();
        async move { *refused.lock().unwrap() >= 4 }
    })
    .await;
    r.shutdown().await;

    // Restart with the shop backend back: the outbox survived, everything arrives.
    shop.down.store(false, Ordering::SeqCst);
    let r = db.receiver_with(config).await;
    eventually(15, "three events delivered", || {
        let got = shop.got.clone();
        async move { got.lock().unwrap().len() >= 3 }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = shop.got.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "one event per applied notification: {got:?}");
    let mut seen = Vec::new();
    for (headers, body) in &got {
        assert!(verify(headers, body), "signature checks with the relay secret");
        let j: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(headers.get("x-paydesk-event-id").unwrap().to_str().unwrap(), j["id"].as_str().unwrap());
        assert_eq!(j["type"], "payment");
        assert!(j["attempt"].as_i64().unwrap() >= 2, "delivered after failures: {j}");
        seen.push((
            j["data"]["out_trade_no"].as_str().unwrap().to_string(),
            j["outcome"].as_str().unwrap().to_string(),
        ));
        assert!(!body.contains(KEY));
    }
    seen.sort();
    assert_eq!(
        seen,
        [("RL-1".into(), "APPLIED".into()), ("RL-2".into(), "APPLIED".into()), ("RL-X".into(), "UNKNOWN_ORDER".into())]
    );
    let backlog = db.ledger().await.relay_backlog().await.unwrap();
    assert_eq!((backlog.pending, backlog.delivered), (0, 3));
    r.shutdown().await;
}
