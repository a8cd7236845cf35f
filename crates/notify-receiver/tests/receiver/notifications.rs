//! The WeChat side (wxpay-v2.md §6): store raw, verify, apply once, acknowledge — and every way it must refuse.

use std::time::Duration;

use chrono::Utc;
use ledger::{ApplicationId, Approval, Provenance, RefundState, Source};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wxpay::{Fen, OutRefundNo, RefundId, SignType, TradeState};

use crate::common::*;

pub async fn valid_md5_payment_is_applied_then_acknowledged(db: &TestDb) {
    let r = db.receiver().await;
    r.register("MD5-1", 1200, SignType::Md5).await;
    let a = r.post("/wxpay/notify/pay", payment_xml("MD5-1", 1200, 1, SignType::Md5, false)).await;
    assert!(a.is_success_ack(), "{a:?}");
    let l = db.ledger().await;
    let o = order(&l, "MD5-1").await.unwrap();
    assert_eq!(o.trade_state, TradeState::Success);
    assert_eq!(o.transaction_id.as_ref().map(|t| t.to_string()), Some(txn(1)));
    assert_eq!(o.openid.as_deref(), Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
    let rows = stored(db).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].kind.as_str(), rows[0].verification.as_str(), rows[0].outcome.as_str()),
        ("PAYMENT", "VALID", "APPLIED")
    );
    r.shutdown().await;
}

pub async fn valid_hmac_payment_declaring_sign_type_is_applied(db: &TestDb) {
    let r = db.receiver().await;
    r.register("HMAC-1", 880, SignType::HmacSha256).await;
    // The content-told path, with sign_type present (it is then part of the signed string).
    let a = r.post("/wxpay/notify", payment_xml("HMAC-1", 880, 2, SignType::HmacSha256, true)).await;
    assert!(a.is_success_ack(), "{a:?}");
    let o = order(&db.ledger().await, "HMAC-1").await.unwrap();
    assert_eq!(o.trade_state, TradeState::Success);
    r.shutdown().await;
}

pub async fn hmac_payment_without_sign_type_is_verified_whatever_the_registered_type(db: &TestDb) {
    let r = db.receiver().await;
    r.register("HMAC-2", 990, SignType::HmacSha256).await;
    let a = r.post("/wxpay/notify/pay", payment_xml("HMAC-2", 990, 3, SignType::HmacSha256, false)).await;
    assert!(a.is_success_ack(), "{a:?}");
    // An order registered as MD5 whose notification WeChat signed with HMAC (the merchant switched): the signature's
    // length decides, the key still verifies it.
    r.register("HMAC-3", 100, SignType::Md5).await;
    let a = r.post("/wxpay/notify/pay", payment_xml("HMAC-3", 100, 4, SignType::HmacSha256, false)).await;
    assert!(a.is_success_ack(), "{a:?}");
    let l = db.ledger().await;
    for no in ["HMAC-2", "HMAC-3"] {
        assert_eq!(order(&l, no).await.unwrap().trade_state, TradeState::Success, "{no}");
    }
    r.shutdown().await;
}

pub async fn same_notification_twenty_times_at_once_has_one_effect(db: &TestDb) {
    let r = db.receiver().await;
    r.register("DUP-1", 2800, SignType::Md5).await;
    let body = payment_xml("DUP-1", 2800, 5, SignType::Md5, false);
    let url = format!("{}/wxpay/notify/pay", r.url);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, url, body) = (client(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move { post(&http, &url, body).await }));
    }
    for t in tasks {
        let a = t.await.unwrap();
        assert!(a.is_success_ack(), "every copy is acknowledged: {a:?}");
    }
    let l = db.ledger().await;
    let o = order(&l, "DUP-1").await.unwrap();
    assert_eq!(o.trade_state, TradeState::Success);
    assert_eq!(paid_facts(&l, &o).await, 1, "one effect");
    let rows = stored(db).await;
    assert_eq!(rows.len(), 20, "each delivery is stored");
    assert_eq!(rows.iter().filter(|s| s.outcome == "APPLIED").count(), 1);
    assert_eq!(rows.iter().filter(|s| s.outcome == "DUPLICATE").count(), 19);
    r.shutdown().await;
}

pub async fn wrong_signature_is_rejected_stored_and_not_applied(db: &TestDb) {
    let r = db.receiver().await;
    r.register("BAD-SIG", 500, SignType::Md5).await;
    let forged = payment_xml_with_key("BAD-SIG", 500, 6, SignType::Md5, false, "not-the-merchants-key-0000000000");
    let a = r.post("/wxpay/notify/pay", forged).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.fail_reason().as_deref(), Some("SIGNATURE_MISMATCH"));
    // A signed field changed after signing.
    let tampered = payment_xml("BAD-SIG", 500, 6, SignType::Md5, false)
        .replace("<total_fee>500</total_fee>", "<total_fee>5</total_fee>");
    assert_eq!(r.post("/wxpay/notify/pay", tampered).await.fail_reason().as_deref(), Some("SIGNATURE_MISMATCH"));
    let o = order(&db.ledger().await, "BAD-SIG").await.unwrap();
    assert_eq!(o.trade_state, TradeState::NotPay);
    let rows = stored(db).await;
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!((row.verification.as_str(), row.outcome.as_str()), ("INVALID", "REJECTED"));
        assert!(row.reason.as_deref().unwrap_or("").starts_with("SIGNATURE_MISMATCH"), "{row:?}");
    }
    r.shutdown().await;
}

pub async fn amount_mismatch_is_rejected_and_the_order_stays_unpaid(db: &TestDb) {
    let r = db.receiver().await;
    r.register("AMT-1", 1000, SignType::Md5).await;
    // Correctly signed (WeChat's key) but for 1 fen: a "fake notification" §6.1 warns about.
    let a = r.post("/wxpay/notify/pay", payment_xml("AMT-1", 1, 7, SignType::Md5, false)).await;
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(a.fail_reason().as_deref(), Some("AMOUNT_MISMATCH"));
    let o = order(&db.ledger().await, "AMT-1").await.unwrap();
    assert_eq!(o.trade_state, TradeState::NotPay);
    assert!(o.flag_reason.as_deref().unwrap_or("").starts_with("AMOUNT_MISMATCH"), "flagged for a person: {o:?}");
    let rows = stored(db).await;
    assert_eq!((rows[0].verification.as_str(), rows[0].outcome.as_str()), ("VALID", "REJECTED"));
    r.shutdown().await;
}

pub async fn payment_for_an_unknown_order_is_recorded_paid_and_flagged(db: &TestDb) {
    let r = db.receiver().await;
    let a = r.post("/wxpay/notify/pay", payment_xml("NOBODY-1", 4500, 8, SignType::HmacSha256, false)).await;
    assert!(a.is_success_ack(), "money arrived: acknowledged {a:?}");
    let again = r.post("/wxpay/notify/pay", payment_xml("NOBODY-1", 4500, 8, SignType::HmacSha256, false)).await;
    assert!(again.is_success_ack());
    let l = db.ledger().await;
    let o = order(&l, "NOBODY-1").await.unwrap();
    assert_eq!(
        (o.trade_state.clone(), o.total_fee, o.flag_reason.as_deref()),
        (TradeState::Success, Fen(4500), Some("UNREGISTERED"))
    );
    assert_eq!(o.sign_type, SignType::HmacSha256, "the length decided the algorithm");
    assert_eq!(paid_facts(&l, &o).await, 1);
    let outcomes: Vec<String> = stored(db).await.into_iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, ["UNKNOWN_ORDER", "DUPLICATE"]);
    // The shop backend registering it afterwards clears the flag.
    r.register("NOBODY-1", 4500, SignType::HmacSha256).await;
    assert_eq!(order(&l, "NOBODY-1").await.unwrap().flag_reason, None);
    r.shutdown().await;
}

/// A paid order with an approved refund of `fen` that WeChat accepted (what the desk does before the notification).
async fn refund_in_progress(db: &TestDb, r: &Receiver, no: &str, n: u64, out_refund_no: &str, fen: i64) {
    r.register(no, 1000, SignType::Md5).await;
    assert!(r.post("/wxpay/notify/pay", payment_xml(no, 1000, n, SignType::Md5, false)).await.is_success_ack());
    let body = serde_json::json!({ "out_trade_no": no, "amount": fen, "reason": "少做一杯", "request_id": format!("req-{no}") });
    let a = r.api(reqwest::Method::POST, "/api/v1/refund-applications", Some(body)).await;
    assert_eq!(a.status, 201, "{a:?}");
    let app = ApplicationId(a.json()["id"].as_i64().unwrap());
    let l = db.ledger().await;
    let approval = Approval {
        out_refund_no: OutRefundNo::new(out_refund_no).unwrap(),
        approver: "desk:owner".into(),
        note: None,
        at: Utc::now(),
        max_age: chrono::Duration::days(365),
        amount: None,
        refund_desc: None,
    };
    let refund = l.approve_application(app, &approval).await.unwrap();
    let accepted = RefundId::new("50300103182024060113419046597").unwrap();
    l.record_refund_accepted(refund.id, Some(&accepted), &Provenance::new(Source::Person, Utc::now())).await.unwrap();
}

pub async fn refund_notification_is_decrypted_checked_and_applied(db: &TestDb) {
    let r = db.receiver().await;
    refund_in_progress(db, &r, "RF-ORDER-1", 20, "RF-1", 300).await;
    let body = refund_xml("RF-ORDER-1", 20, "RF-1", "50300103182024060113419046597", 300, 1000, KEY);
    // Told apart by content on the shared path, and accepted on its own path; the second is a duplicate.
    assert!(r.post("/wxpay/notify", body.clone()).await.is_success_ack());
    assert!(r.post("/wxpay/notify/refund", body).await.is_success_ack());
    let l = db.ledger().await;
    let o = order(&l, "RF-ORDER-1").await.unwrap();
    assert_eq!((o.trade_state, o.refunded_total), (TradeState::Refund, Fen(300)));
    let refunds = l.refunds_for_order(o.id).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].status, RefundState::Success);
    assert_eq!(refunds[0].recv_account.as_deref(), Some("支付用户零钱"));
    let outcomes: Vec<(String, String)> = stored(db).await.into_iter().map(|s| (s.kind, s.outcome)).collect();
    assert_eq!(outcomes[1..], [("REFUND".to_string(), "APPLIED".to_string()), ("REFUND".into(), "DUPLICATE".into())]);
    r.shutdown().await;
}

pub async fn refund_notification_that_matches_no_refund_or_key_is_rejected(db: &TestDb) {
    let r = db.receiver().await;
    refund_in_progress(db, &r, "RF-ORDER-2", 21, "RF-2", 300).await;
    let rid = "50300103182024060113419046597";
    let cases = [
        (refund_xml("RF-ORDER-2", 21, "RF-2", rid, 300, 1000, "another-key-00000000000000000000"), "DECRYPT_FAILED"),
        (refund_xml("RF-ORDER-2", 21, "RF-NOBODY", rid, 300, 1000, KEY), "UNKNOWN_REFUND"),
        (refund_xml("RF-ORDER-2", 21, "RF-2", rid, 301, 1000, KEY), "REFUND_MISMATCH"),
        (refund_xml("RF-ORDER-2", 99, "RF-2", rid, 300, 1000, KEY), "REFUND_MISMATCH"),
    ];
    for (body, reason) in cases {
        let a = r.post("/wxpay/notify/refund", body).await;
        assert_eq!((a.status, a.fail_reason().as_deref()), (400, Some(reason)));
    }
    let l = db.ledger().await;
    let o = order(&l, "RF-ORDER-2").await.unwrap();
    assert_eq!(o.refunded_total, Fen(0));
    assert_eq!(l.refunds_for_order(o.id).await.unwrap()[0].status, RefundState::Processing);
    let rejected = stored(db).await.into_iter().filter(|s| s.kind == "REFUND").collect::<Vec<_>>();
    assert_eq!(rejected.len(), 4);
    assert!(rejected.iter().all(|s| s.verification == "INVALID" && s.outcome == "REJECTED"), "{rejected:?}");
    r.shutdown().await;
}

pub async fn truncated_body_is_refused_and_stored_rejected(db: &TestDb) {
    let r = db.receiver().await;
    r.register("TRUNC-1", 100, SignType::Md5).await;
    let full = payment_xml("TRUNC-1", 100, 9, SignType::Md5, false);
    let a = r.post("/wxpay/notify", full[..full.len() / 2].to_string()).await;
    assert_eq!((a.status, a.fail_reason().as_deref()), (400, Some("MALFORMED")));
    let a = r.post("/wxpay/notify", "").await;
    assert_eq!((a.status, a.fail_reason().as_deref()), (400, Some("MALFORMED")));
    let a = r.post("/wxpay/notify", vec![0xff_u8, 0xfe, 0x00, 0x3c]).await;
    assert_eq!((a.status, a.fail_reason().as_deref()), (400, Some("MALFORMED")));
    let rows = stored(db).await;
    assert_eq!(rows.len(), 3, "refused input is recorded");
    assert!(rows.iter().all(|s| s.outcome == "REJECTED" && s.reason.as_deref().unwrap_or("").starts_with("MALFORMED")));
    assert_eq!(order(&db.ledger().await, "TRUNC-1").await.unwrap().trade_state, TradeState::NotPay);
    r.shutdown().await;
}

pub async fn xml_with_a_dtd_entity_is_refused_unexpanded(db: &TestDb) {
    let r = db.receiver().await;
    let body =
        "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\"><!ENTITY y \"SUCCESS\">]>\
                <xml><return_code>&y;</return_code><mch_id>1900000109</mch_id><attach>&x;</attach></xml>";
    let a = r.post("/wxpay/notify", body).await;
    assert_eq!((a.status, a.fail_reason().as_deref()), (400, Some("MALFORMED")));
    assert!(!a.body.contains("root:"), "nothing of the file leaks: {}", a.body);
    let rows = stored(db).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].reason.as_deref().unwrap_or("").contains("DTD"), "{rows:?}");
    r.shutdown().await;
}

/// Sends a request by hand (headers, then as much body as the server will take) and reads the answer.
async fn raw_exchange(url: &str, head: String, body_bytes: usize, chunked: bool) -> (u16, String) {
    let addr = url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.split();
    let writer = async {
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let block = vec![b'<'; 64 * 1024];
        let mut sent = 0;
        while sent < body_bytes {
            let n = block.len().min(body_bytes - sent);
            let ok = if chunked {
                let mut chunk = format!("{n:x}\r\n").into_bytes();
                chunk.extend_from_slice(&block[..n]);
                chunk.extend_from_slice(b"\r\n");
                wr.write_all(&chunk).await.is_ok()
            } else {
                wr.write_all(&block[..n]).await.is_ok()
            };
            if !ok {
                return; // the server answered and closed: expected
            }
            sent += n;
        }
        if chunked {
            let _ = wr.write_all(b"0\r\n\r\n").await;
        }
    };
    let reader = async {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut answer)).await;
        answer
    };
    let ((), answer) = tokio::join!(writer, reader);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

pub async fn ten_megabyte_body_is_refused_before_it_is_read(db: &TestDb) {
    let r = db.receiver().await;
    let ten_mb = 10 * 1024 * 1024;
    // Declared length: refused from the header.
    let head = format!(
        "POST /wxpay/notify HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: {ten_mb}\r\nConnection: close\r\n\r\n"
    );
    let (status, body) = raw_exchange(&r.url, head, ten_mb, false).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("<return_code><![CDATA[FAIL]]></return_code>"), "{body}");
    // Chunked, no length: refused once the limit is passed.
    let head = "POST /wxpay/notify/pay HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_string();
    let (status, body) = raw_exchange(&r.url, head, ten_mb, true).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("TOO_LARGE"), "{body}");
    assert!(stored(db).await.is_empty(), "an oversized body is never stored");
    // The receiver is still fine.
    assert_eq!(r.http.get(format!("{}/healthz", r.url)).send().await.unwrap().status().as_u16(), 200);
    r.shutdown().await;
}

/// Makes the database unreachable for the receiver and back: on SQLite another connection holds the write lock; on
/// PostgreSQL the receiver talks through a TCP relay that is cut.
pub async fn database_unavailable_answers_fail_and_the_retry_succeeds(db: &TestDb) {
    let l = db.ledger().await; // migrates before the outage
    let mut config = db.config();
    config.db_timeout = Duration::from_millis(400);
    let proxy = match db.kind {
        Kind::Sqlite => None,
        Kind::Postgres => {
            let proxy = Proxy::start(&db.url).await;
            config.database_url = proxy.url.clone();
            Some(proxy)
        }
    };
    let r = db.receiver_with(config).await;
    r.register("DOWN-1", 700, SignType::Md5).await;
    let body = payment_xml("DOWN-1", 700, 10, SignType::Md5, false);

    let lock = match db.kind {
        Kind::Sqlite => {
            use sqlx::Connection as _;
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await.unwrap();
            Some(conn)
        }
        Kind::Postgres => {
            proxy.as_ref().unwrap().cut();
            None
        }
    };
    let a = r.post("/wxpay/notify/pay", body.clone()).await;
    assert!(a.status >= 500, "{a:?}");
    assert_eq!(a.fail_reason().as_deref(), Some("UNAVAILABLE"), "FAIL, so WeChat retries");
    let h = r.http.get(format!("{}/healthz", r.url)).send().await.unwrap();
    if db.kind == Kind::Postgres {
        assert_eq!(h.status().as_u16(), 503);
    }

    // Back: WeChat's retry succeeds and is applied once.
    match lock {
        Some(mut conn) => {
            sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
        }
        None => proxy.as_ref().unwrap().restore(),
    }
    let a = r.post("/wxpay/notify/pay", body).await;
    assert!(a.is_success_ack(), "{a:?}");
    let o = order(&l, "DOWN-1").await.unwrap();
    assert_eq!(o.trade_state, TradeState::Success);
    assert_eq!(paid_facts(&l, &o).await, 1);
    assert!(stored(db).await.iter().all(|s| s.outcome != "PENDING"), "nothing half-done");
    r.shutdown().await;
}

/// A TCP relay in front of PostgreSQL that can be cut (every connection dropped, new ones refused) and restored.
pub struct Proxy {
    pub url: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    pub async fn start(pg_url: &str) -> Proxy {
        let after_at = pg_url.split_once('@').unwrap().1;
        let target = after_at.split(['/', '?']).next().unwrap().to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = pg_url.replacen(&target, &format!("127.0.0.1:{port}"), 1);
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: connection closed at once
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { url, up, conns }
    }

    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
