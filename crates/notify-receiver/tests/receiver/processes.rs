//! The real binary as child processes: two receivers on one database, and kill -9 in the middle of a stream.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use wxpay::{SignType, TradeState};

use crate::common::*;

async fn register_all(url: &str, prefix: &str, n: u64, fen: i64) {
    let http = client();
    for i in 0..n {
        let body =
            serde_json::json!({"out_trade_no": format!("{prefix}{i}"), "amount": fen + i64::try_from(i).unwrap()});
        let r = http.post(format!("{url}/api/v1/orders")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
}

fn notification(prefix: &str, i: u64, fen: i64) -> String {
    let st = if i % 2 == 0 { SignType::Md5 } else { SignType::HmacSha256 };
    payment_xml(&format!("{prefix}{i}"), fen + i64::try_from(i).unwrap(), 1000 + i, st, false)
}

pub async fn two_receiver_processes_apply_each_notification_once(db: &TestDb) {
    let a = Process::start(db, "a").await;
    let b = Process::start(db, "b").await;
    let n = 25;
    register_all(&a.url, "TWO-", n, 100).await;
    // WeChat sends each notification from several servers at once: here twice to each process.
    let mut tasks = Vec::new();
    for i in 0..n {
        for url in [&a.url, &b.url, &a.url, &b.url] {
            let (http, url, body) = (client(), format!("{url}/wxpay/notify/pay"), notification("TWO-", i, 100));
            tasks.push(tokio::spawn(async move { post(&http, &url, body).await }));
        }
    }
    for t in tasks {
        let answer = t.await.unwrap();
        assert!(answer.is_success_ack(), "{answer:?}");
    }
    let l = db.ledger().await;
    for i in 0..n {
        let o = order(&l, &format!("TWO-{i}")).await.unwrap();
        assert_eq!(o.trade_state, TradeState::Success);
        assert_eq!(paid_facts(&l, &o).await, 1, "one effect for TWO-{i}");
    }
    let rows = stored(db).await;
    assert_eq!(rows.len(), 4 * 25);
    assert_eq!(rows.iter().filter(|s| s.outcome == "APPLIED").count(), 25);
    assert_eq!(rows.iter().filter(|s| s.outcome == "DUPLICATE").count(), 75);
    for p in [&a, &b] {
        let log = p.log_text();
        assert!(log.contains("notification"), "the process logged its work");
        assert!(!log.contains(KEY) && !log.contains(TOKEN), "no secret in the log");
    }
}

pub async fn kill_9_mid_stream_loses_nothing_acknowledged(db: &TestDb) {
    let mut first = Process::start(db, "first").await;
    let n = 300;
    register_all(&first.url, "K9-", n, 200).await;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    // Eight "WeChat servers" stream the notifications; the process is killed part-way.
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let (url, acked, next) = (format!("{}/wxpay/notify/pay", first.url), acked.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            let http = client();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= n {
                    return;
                }
                // An error (the connection killed) is no acknowledgement: WeChat will retry.
                if let Ok(r) = http.post(&url).body(notification("K9-", i, 200)).send().await {
                    if r.status().as_u16() == 200 && r.text().await.is_ok_and(|t| t == wxpay::notify::ACK_SUCCESS) {
                        acked.lock().unwrap().insert(i);
                    }
                }
            }
        }));
    }
    eventually(30, "a third of the stream acknowledged", || {
        let acked = acked.clone();
        async move { acked.lock().unwrap().len() >= 40 }
    })
    .await;
    first.kill9();
    for s in senders {
        s.await.unwrap();
    }
    let acked: BTreeSet<u64> = acked.lock().unwrap().clone();
    assert!(acked.len() < usize::try_from(n).unwrap(), "the kill came mid-stream");

    // Every acknowledged notification was applied, before any restart.
    let l = db.ledger().await;
    for i in &acked {
        let o = order(&l, &format!("K9-{i}")).await.unwrap();
        assert_eq!(o.trade_state, TradeState::Success, "K9-{i} was acknowledged, so it is applied");
    }
    // Restart; WeChat redelivers what it did not get an acknowledgement for (here: everything, to be harsh).
    let second = Process::start(db, "second").await;
    let http = client();
    for i in 0..n {
        let a = post(&http, &format!("{}/wxpay/notify/pay", second.url), notification("K9-", i, 200)).await;
        assert!(a.is_success_ack(), "K9-{i}: {a:?}");
    }
    for i in 0..n {
        let o = order(&l, &format!("K9-{i}")).await.unwrap();
        assert_eq!(o.trade_state, TradeState::Success);
        assert_eq!(paid_facts(&l, &o).await, 1, "K9-{i} applied exactly once");
    }
}
