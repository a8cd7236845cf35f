//! Payment notifications (§6.1): signed with the order's sign type, no `sign_type` field; delivered
//! on WeChat's retry schedule (scaled by the time factor) until acknowledged; every attempt and
//! reply recorded; the delivery faults (dropped, lost, duplicated, twins at once).

use std::time::Duration;

use serde_json::{json, Value};
use wxpay::{Message, SignType};

use crate::common::*;

async fn notifications(sim: &Sim, out_trade_no: &str) -> Vec<Value> {
    let v = sim.admin_ok(reqwest::Method::GET, &format!("/notifications?out_trade_no={out_trade_no}"), None).await;
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn payment_notifications_are_signed_with_the_orders_sign_type_and_omit_sign_type() {
    let sim = start().await;
    let ack = Acknowledger::start(0).await;
    for (i, (st, name)) in [(SignType::HmacSha256, "HMAC-SHA256"), (SignType::Md5, "MD5")].into_iter().enumerate() {
        let no = format!("PN{i}");
        let order = sim
            .create_order(MCH, json!({"out_trade_no": no, "total_fee": 2800, "notify_url": ack.url, "sign_type": name, "attach": "a=1"}))
            .await;
        assert_eq!(order["sign_type"], name);
        let paid =
            sim.admin_ok(reqwest::Method::POST, &format!("/merchants/{MCH}/orders/{no}/pay"), Some(json!({}))).await;
        let got = ack.wait_for(i + 1, Duration::from_secs(5)).await;
        let body = &got[i].1;
        let message = Message::parse(body).unwrap();
        assert_eq!(message.get("sign_type"), None, "production omits sign_type");
        assert_eq!(message.get("sign").map(str::len), Some(st.signature_len()));
        let n = wxpay::notify::decode_payment(body, &Sim::key(MCH), Some(st)).unwrap();
        assert_eq!(n.sign_type, st);
        assert!(n.paid);
        assert_eq!(n.out_trade_no.as_str(), no);
        assert_eq!(n.total_fee, wxpay::Fen(2800));
        assert_eq!(n.transaction_id.as_ref().map(|t| t.as_str()), paid["transaction_id"].as_str());
        assert_eq!(n.attach.as_deref(), Some("a=1"));
        let other = if st == SignType::Md5 { SignType::HmacSha256 } else { SignType::Md5 };
        assert!(wxpay::notify::decode_payment(body, &Sim::key(MCH), Some(other)).is_err());
    }
    eventually(Duration::from_secs(2), "acknowledged", || sim.handle.sim.delivery_counts().acknowledged == 2).await;
    let log = notifications(&sim, "PN0").await;
    assert_eq!(log[0]["state"], "acknowledged");
    assert_eq!(log[0]["attempts"][0]["http_status"], 200);
    assert!(log[0]["attempts"][0]["reply"].as_str().unwrap().contains("SUCCESS"));
}

#[tokio::test]
async fn unacknowledged_notifications_are_retried_on_wechats_schedule() {
    let sim = start().await; // time factor 1000: 15 s → 15 ms
    let ack = Acknowledger::start(5).await;
    sim.paid_order(MCH, "RETRY1", 100, &ack.url).await;
    let got = ack.wait_for(6, Duration::from_secs(10)).await;
    let expected_ms = [15u64, 15, 30, 180, 600];
    for (i, want) in expected_ms.iter().enumerate() {
        let gap = got[i + 1].0 - got[i].0;
        assert!(gap >= Duration::from_millis(*want), "gap {i}: {gap:?} < {want} ms");
        // Generous: a loaded CI machine delays timers, never advances them.
        assert!(gap < Duration::from_millis(want + 1500), "gap {i}: {gap:?} ≫ {want} ms");
    }
    assert!(got.iter().all(|(_, b)| b == &got[0].1), "every attempt carries the same notification");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(ack.received().len(), 6, "no attempt after the acknowledgement");
    let log = notifications(&sim, "RETRY1").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["state"], "acknowledged");
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 6);
    assert!(attempts[..5]
        .iter()
        .all(|a| a["outcome"] == "not_acknowledged" && a["reply"].as_str().unwrap().contains("FAIL")));
    assert_eq!(attempts[5]["outcome"], "acknowledged");
    assert_eq!(attempts[5]["number"], 6);
}

#[tokio::test]
async fn after_sixteen_unanswered_attempts_wechat_gives_up() {
    let sim = start_with(|c| c.time_factor = 100_000).await; // the 24 h schedule in 0.9 s
    sim.paid_order(MCH, "GIVEUP1", 100, NOWHERE).await;
    eventually(Duration::from_secs(10), "gave up", || sim.handle.sim.delivery_counts().failed == 1).await;
    let log = notifications(&sim, "GIVEUP1").await;
    assert_eq!(log[0]["state"], "gave_up");
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 16);
    assert!(attempts.iter().all(|a| a["outcome"] == "connect_error"), "{attempts:?}");
}

#[tokio::test]
async fn dropped_attempts_never_reach_the_merchant_and_are_retried() {
    let sim = start().await;
    let ack = Acknowledger::start(0).await;
    sim.faults(MCH, json!({"notify_drop_first": 2})).await;
    sim.paid_order(MCH, "DROP1", 100, &ack.url).await;
    ack.wait_for(1, Duration::from_secs(5)).await;
    eventually(Duration::from_secs(2), "acknowledged", || sim.handle.sim.delivery_counts().acknowledged == 1).await;
    assert_eq!(ack.received().len(), 1);
    let log = notifications(&sim, "DROP1").await;
    let outcomes: Vec<&str> =
        log[0]["attempts"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["dropped", "dropped", "acknowledged"]);
}

#[tokio::test]
async fn duplicated_and_concurrent_notifications_arrive_twice() {
    let sim = start().await;
    let ack = Acknowledger::start(0).await;
    sim.faults(MCH, json!({"notify_duplicate": true})).await;
    sim.paid_order(MCH, "DUP1", 100, &ack.url).await;
    let got = ack.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got[0].1, got[1].1);
    sim.faults(MCH, json!({"notify_concurrent": true})).await;
    sim.paid_order(MCH, "TWIN1", 100, &ack.url).await;
    let got = ack.wait_for(4, Duration::from_secs(5)).await;
    assert_eq!(got[2].1, got[3].1);
    assert!(got[3].0 - got[2].0 < Duration::from_millis(250), "sent at the same moment");
    let log = notifications(&sim, "TWIN1").await;
    let copies: Vec<&str> =
        log[0]["attempts"].as_array().unwrap().iter().map(|a| a["copy"].as_str().unwrap()).collect();
    assert_eq!(copies.len(), 2);
    assert!(copies.contains(&"concurrent_twin"));
}

#[tokio::test]
async fn lost_notifications_are_never_sent() {
    let sim = start().await;
    let ack = Acknowledger::start(0).await;
    sim.faults(MCH, json!({"notify_lost": true})).await;
    sim.paid_order(MCH, "LOST1", 100, &ack.url).await;
    eventually(Duration::from_secs(2), "marked lost", || sim.handle.sim.delivery_counts().failed == 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(ack.received().is_empty());
    assert_eq!(notifications(&sim, "LOST1").await[0]["state"], "lost");
}

#[tokio::test]
async fn held_notifications_go_out_as_a_burst_on_release() {
    let sim = start().await;
    let ack = Acknowledger::start(0).await;
    sim.admin_ok(reqwest::Method::POST, "/notifications/hold", Some(json!({"hold": true}))).await;
    for i in 0..20 {
        sim.paid_order(MCH, &format!("HOLD{i}"), 100, &ack.url).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(ack.received().is_empty(), "nothing is sent while held");
    let counts = sim.admin_ok(reqwest::Method::POST, "/notifications/hold", Some(json!({"hold": false}))).await;
    assert_eq!(counts["pending"], 20);
    ack.wait_for(20, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn notifications_reach_https_receivers_whose_certificate_the_simulator_issued() {
    use std::sync::Arc;
    let sim = start().await;
    let (chain, key) = sim.handle.sim.ca.issue_server(&[]).unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}/notify", listener.local_addr().unwrap().port());
    let received = Arc::new(std::sync::Mutex::new(Vec::<Vec<u8>>::new()));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, store) = (acceptor.clone(), store.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let app = axum::Router::new().route(
                    "/notify",
                    axum::routing::post(move |body: axum::body::Bytes| async move {
                        store.lock().unwrap().push(body.to_vec());
                        wxpay::notify::ACK_SUCCESS
                    }),
                );
                let service = hyper::service::service_fn(move |req| tower::ServiceExt::oneshot(app.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    sim.paid_order(MCH, "TLS1", 100, &url).await;
    eventually(Duration::from_secs(5), "acknowledged over https", || {
        sim.handle.sim.delivery_counts().acknowledged == 1
    })
    .await;
    let body = received.lock().unwrap()[0].clone();
    assert!(wxpay::notify::decode_payment(&body, &Sim::key(MCH), Some(SignType::Md5)).is_ok());
}
