//! Operations: `/healthz`, `/metrics` counting outcomes with a latency histogram, graceful shutdown.

use std::time::Duration;

use wxpay::{SignType, TradeState};

use crate::common::*;

pub async fn healthz_and_metrics_count_outcomes(db: &TestDb) {
    let r = db.receiver().await;
    let h = r.http.get(format!("{}/healthz", r.url)).send().await.unwrap();
    assert_eq!(h.status().as_u16(), 200);
    r.register("M-1", 100, SignType::Md5).await;
    let pay = payment_xml("M-1", 100, 50, SignType::Md5, false);
    assert!(r.post("/wxpay/notify/pay", pay.clone()).await.is_success_ack());
    assert!(r.post("/wxpay/notify/pay", pay).await.is_success_ack());
    assert_eq!(r.post("/wxpay/notify/pay", "<xml>").await.status, 400);
    let m = r.http.get(format!("{}/metrics", r.url)).send().await.unwrap();
    assert!(m.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/plain"));
    let text = m.text().await.unwrap();
    for line in [
        "notify_receiver_notifications_total{kind=\"payment\",outcome=\"applied\"} 1",
        "notify_receiver_notifications_total{kind=\"payment\",outcome=\"duplicate\"} 1",
        "notify_receiver_notifications_total{kind=\"payment\",outcome=\"rejected\"} 1",
        "notify_receiver_notification_duration_seconds_count{kind=\"payment\"} 3",
        "notify_receiver_api_requests_total{route=\"register_order\",status=\"201\"} 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(text.contains("notify_receiver_notification_duration_seconds_bucket{kind=\"payment\",le=\"+Inf\"} 3"));
    assert!(!text.contains(KEY) && !text.contains(TOKEN));
    r.shutdown().await;
}

/// A request held up in the database when shutdown starts still completes and is acknowledged.
pub async fn shutdown_finishes_a_request_in_flight(db: &TestDb) {
    let r = db.receiver().await;
    r.register("SD-1", 300, SignType::Md5).await;
    let l = db.ledger().await;
    // Hold the notifications table (PostgreSQL) or the write lock (SQLite) so the request waits inside.
    let release: Box<dyn FnOnce() -> tokio::task::JoinHandle<()> + Send> = match db.kind {
        Kind::Sqlite => {
            use sqlx::Connection as _;
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await.unwrap();
            Box::new(move || {
                tokio::spawn(async move {
                    sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
                })
            })
        }
        Kind::Postgres => {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query("LOCK TABLE notifications IN EXCLUSIVE MODE").execute(&mut conn).await.unwrap();
            Box::new(move || {
                tokio::spawn(async move {
                    sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
                })
            })
        }
    };
    let url = format!("{}/wxpay/notify/pay", r.url);
    let in_flight =
        tokio::spawn(async move { post(&client(), &url, payment_xml("SD-1", 300, 51, SignType::Md5, false)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = r.url.clone();
    let stopping = tokio::spawn(async move { r.shutdown().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the request in flight");
    assert!(client().get(format!("{base}/healthz")).send().await.is_err(), "no new connections while stopping");
    release().await.unwrap();
    let answer = in_flight.await.unwrap();
    assert!(answer.is_success_ack(), "{answer:?}");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.unwrap().unwrap();
    assert_eq!(order(&l, "SD-1").await.unwrap().trade_state, TradeState::Success);
}
