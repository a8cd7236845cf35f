//! Refunds (§5.4, §5.5, §10): accepted, then PROCESSING → SUCCESS / REFUNDCLOSE / CHANGE after the
//! delay with an encrypted refund notification; the same `out_refund_no` is the same refund; the
//! limits (amount, 50 per order, 365 days, balance, one a minute); refundquery paging.

use std::time::Duration;

use serde_json::json;
use wxpay::api::{OrderRef, Refund, RefundQuery, RefundRef};
use wxpay::{ErrCode, Error, Fen, OutRefundNo, OutTradeNo, RefundStatus, SignType};

use crate::common::*;

fn refund(order: &str, refund_no: &str, total: i64, fee: i64, notify_url: Option<&str>) -> Refund {
    Refund {
        order: OrderRef::OutTradeNo(OutTradeNo::new(order).unwrap()),
        out_refund_no: OutRefundNo::new(refund_no).unwrap(),
        total_fee: Fen(total),
        refund_fee: Fen(fee),
        refund_desc: Some("顾客退货".into()),
        refund_account: None,
        notify_url: notify_url.map(str::to_string),
    }
}

fn err_code(e: Error) -> ErrCode {
    e.err_code().cloned().unwrap_or_else(|| panic!("not a business error: {e}"))
}

fn by_order(no: &str, offset: Option<u32>) -> RefundQuery {
    RefundQuery { by: RefundRef::OutTradeNo(OutTradeNo::new(no).unwrap()), offset }
}

#[tokio::test]
async fn a_refund_is_accepted_processing_then_succeeds_with_an_encrypted_notification() {
    let sim = start_with(|c| c.refund_delay_ms = 1500).await;
    let ack = Acknowledger::start(0).await;
    sim.paid_order(MCH, "RF1", 1000, NOWHERE).await;
    let client = sim.client(MCH, SignType::HmacSha256, Some(MCH));
    let accepted = client.execute(&refund("RF1", "RF1-1", 1000, 300, Some(&ack.url))).await.unwrap();
    assert_eq!(accepted.refund_fee, Fen(300));
    assert_eq!(accepted.refund_id.as_str().len(), 29);
    let q = client.execute(&by_order("RF1", None)).await.unwrap();
    assert_eq!(q.refunds.len(), 1);
    assert_eq!(q.refunds[0].refund_status, RefundStatus::Processing);
    assert_eq!(q.refunds[0].refund_success_time, None);

    let got = ack.wait_for(1, Duration::from_secs(5)).await;
    let n = wxpay::notify::decode_refund(&got[0].1, &Sim::key(MCH)).unwrap();
    assert_eq!(n.refund_status, RefundStatus::Success);
    assert_eq!(n.refund_id, accepted.refund_id);
    assert_eq!(n.out_refund_no.as_str(), "RF1-1");
    assert_eq!((n.refund_fee, n.total_fee), (Fen(300), Fen(1000)));
    assert_eq!(n.refund_request_source.as_deref(), Some("API"));
    assert!(n.success_time.is_some());
    assert!(n.outer.get("sign").is_none(), "refund notifications carry no sign");
    assert!(wxpay::notify::decode_refund(&got[0].1, &wxpay::ApiKey::new("another key")).is_err());

    let q = client.execute(&by_order("RF1", None)).await.unwrap();
    assert_eq!(q.refunds[0].refund_status, RefundStatus::Success);
    assert!(q.refunds[0].refund_success_time.is_some());
    assert_eq!(q.refunds[0].refund_recv_accout.as_deref(), Some("支付用户零钱"));
    let order = sim.handle.sim.query_order(MCH, Some("RF1"), None).unwrap();
    assert_eq!(order.trade_state, wxpay::TradeState::Refund);
}

#[tokio::test]
async fn refunds_close_or_change_when_asked_and_stuck_ones_wait_for_a_person() {
    let sim = start().await;
    let ack = Acknowledger::start(0).await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.paid_order(MCH, "RF2", 1000, NOWHERE).await;
    let balance = || sim.handle.sim.merchant(MCH).unwrap().balance_fen;
    let before = balance();
    sim.faults(MCH, json!({"refund_outcome": "REFUNDCLOSE"})).await;
    client.execute(&refund("RF2", "RF2-1", 1000, 100, Some(&ack.url))).await.unwrap();
    let got = ack.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        wxpay::notify::decode_refund(&got[0].1, &Sim::key(MCH)).unwrap().refund_status,
        RefundStatus::RefundClose
    );
    eventually(Duration::from_secs(2), "refund money back", || balance() == before).await;

    sim.faults(MCH, json!({"refund_stuck": true})).await;
    client.execute(&refund("RF2", "RF2-2", 1000, 100, Some(&ack.url))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.handle.sim.refund_by_no(MCH, "RF2-2").unwrap().refund_status, RefundStatus::Processing);
    assert_eq!(ack.received().len(), 1, "no notification while stuck");
    let path = format!("/merchants/{MCH}/refunds/RF2-2/settle");
    let settled = sim.admin_ok(reqwest::Method::POST, &path, Some(json!({"status": "CHANGE"}))).await;
    assert_eq!(settled["refund_status"], "CHANGE");
    let got = ack.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(wxpay::notify::decode_refund(&got[1].1, &Sim::key(MCH)).unwrap().refund_status, RefundStatus::Change);
    // CHANGE is fixed by hand; SUCCESS is final.
    sim.admin_ok(reqwest::Method::POST, &path, Some(json!({"status": "SUCCESS"}))).await;
    let (status, _) = sim.admin(reqwest::Method::POST, &path, Some(json!({"status": "REFUNDCLOSE"}))).await;
    assert_eq!(status, 409);
    let q = client.execute(&by_order("RF2", None)).await.unwrap();
    let statuses: Vec<_> = q.refunds.iter().map(|r| r.refund_status.clone()).collect();
    assert_eq!(statuses, [RefundStatus::RefundClose, RefundStatus::Success]);
}

#[tokio::test]
async fn the_same_out_refund_no_is_the_same_refund_even_after_a_system_error() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.paid_order(MCH, "RF3", 1000, NOWHERE).await;
    // The refund is made, but the answer says SYSTEMERROR: the caller retries with the same number.
    sim.faults(MCH, json!({"system_error_after_apply_next": 1})).await;
    let e = client.execute(&refund("RF3", "RF3-1", 1000, 400, None)).await.unwrap_err();
    assert!(e.is_retryable_with_same_parameters());
    let first = client.execute(&refund("RF3", "RF3-1", 1000, 400, None)).await.unwrap();
    let again = client.execute(&refund("RF3", "RF3-1", 1000, 400, None)).await.unwrap();
    assert_eq!(first.refund_id, again.refund_id);
    let refunds = sim.admin_ok(reqwest::Method::GET, &format!("/merchants/{MCH}/refunds"), None).await;
    assert_eq!(refunds.as_array().unwrap().len(), 1, "exactly one refund exists at WeChat: {refunds}");
    let e = client.execute(&refund("RF3", "RF3-1", 1000, 500, None)).await.unwrap_err();
    match e {
        Error::Business { err_code, err_code_des, .. } => {
            assert_eq!(err_code, ErrCode::InvalidRequest);
            assert!(err_code_des.contains("不一致"), "{err_code_des}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn refunds_never_exceed_the_order_amount() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.paid_order(MCH, "RF4", 100, NOWHERE).await;
    client.execute(&refund("RF4", "RF4-1", 100, 60, None)).await.unwrap();
    assert_eq!(
        err_code(client.execute(&refund("RF4", "RF4-2", 100, 50, None)).await.unwrap_err()),
        ErrCode::InvalidRequest
    );
    client.execute(&refund("RF4", "RF4-3", 100, 40, None)).await.unwrap();
    assert_eq!(err_code(client.execute(&refund("RF4", "RF4-4", 100, 1, None)).await.unwrap_err()), ErrCode::Error);
    // total_fee must be the order's amount.
    sim.paid_order(MCH, "RF4B", 100, NOWHERE).await;
    assert_eq!(
        err_code(client.execute(&refund("RF4B", "RF4B-1", 99, 10, None)).await.unwrap_err()),
        ErrCode::ParamError
    );
}

#[tokio::test]
async fn at_most_50_refunds_per_order_and_refundquery_pages_them_by_offset() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.paid_order(MCH, "RF5", 1000, NOWHERE).await;
    for i in 0..50 {
        client.execute(&refund("RF5", &format!("RF5-{i:02}"), 1000, 1, None)).await.unwrap();
    }
    assert_eq!(err_code(client.execute(&refund("RF5", "RF5-50", 1000, 1, None)).await.unwrap_err()), ErrCode::Error);
    let first = client.execute(&by_order("RF5", None)).await.unwrap();
    assert_eq!((first.refund_count, first.total_refund_count), (10, Some(50)));
    assert_eq!(first.refunds[0].out_refund_no.as_str(), "RF5-00");
    let page = client.execute(&by_order("RF5", Some(40))).await.unwrap();
    assert_eq!(page.refund_count, 10);
    assert_eq!(page.refunds[0].out_refund_no.as_str(), "RF5-40");
    assert_eq!(page.refunds[9].out_refund_no.as_str(), "RF5-49");
    let tail = client.execute(&by_order("RF5", Some(45))).await.unwrap();
    assert_eq!(tail.refund_count, 5);
    assert_eq!(err_code(client.execute(&by_order("RF5", Some(50))).await.unwrap_err()), ErrCode::ParamError);
    let one = client
        .execute(&RefundQuery { by: RefundRef::OutRefundNo(OutRefundNo::new("RF5-07").unwrap()), offset: None })
        .await
        .unwrap();
    assert_eq!(one.refund_count, 1);
    assert_eq!(one.refunds[0].out_refund_no.as_str(), "RF5-07");
    let by_id = client
        .execute(&RefundQuery { by: RefundRef::RefundId(one.refunds[0].refund_id.clone().unwrap()), offset: None })
        .await
        .unwrap();
    assert_eq!(by_id.refunds[0].out_refund_no.as_str(), "RF5-07");
    let none = RefundQuery { by: RefundRef::OutRefundNo(OutRefundNo::new("NOPE").unwrap()), offset: None };
    assert_eq!(err_code(client.execute(&none).await.unwrap_err()), ErrCode::RefundNotExist);
}

#[tokio::test]
async fn refunds_are_possible_for_365_days_only() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.set_clock("2024-03-01 12:00:00").await;
    sim.paid_order(MCH, "RF6", 1000, NOWHERE).await;
    sim.set_clock("2025-02-28 11:59:00").await; // 364 days, 23 h 59 min later
    client.execute(&refund("RF6", "RF6-1", 1000, 1, None)).await.unwrap();
    sim.set_clock("2025-03-02 12:00:00").await; // 366 days
    assert_eq!(
        err_code(client.execute(&refund("RF6", "RF6-2", 1000, 1, None)).await.unwrap_err()),
        ErrCode::TradeOverdue
    );
}

#[tokio::test]
async fn notenough_when_the_balance_is_short() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.paid_order(MCH, "RF7", 1000, NOWHERE).await;
    sim.admin_ok(reqwest::Method::PUT, &format!("/merchants/{MCH}/balance"), Some(json!({"balance_fen": 5}))).await;
    let e = client.execute(&refund("RF7", "RF7-1", 1000, 10, None)).await.unwrap_err();
    assert_eq!(e.err_code(), Some(&ErrCode::NotEnough));
    assert!(matches!(e, Error::Business { retry: wxpay::RetryClass::Wait, .. }));
    sim.admin_ok(reqwest::Method::PUT, &format!("/merchants/{MCH}/balance"), Some(json!({"balance_fen": 10}))).await;
    client.execute(&refund("RF7", "RF7-1", 1000, 10, None)).await.unwrap();
    assert_eq!(sim.handle.sim.merchant(MCH).unwrap().balance_fen, Fen(0));
}

#[tokio::test]
async fn one_new_refund_per_order_per_minute() {
    let sim = start_with(|c| c.merchants[0].refund_min_interval_secs = 60).await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.set_clock("2024-03-01 12:00:00").await;
    sim.paid_order(MCH, "RF8", 1000, NOWHERE).await;
    client.execute(&refund("RF8", "RF8-1", 1000, 1, None)).await.unwrap();
    let limited = client.execute(&refund("RF8", "RF8-2", 1000, 1, None)).await.unwrap_err();
    assert_eq!(limited.err_code(), Some(&ErrCode::FrequencyLimited));
    // A retry of the accepted refund is not a new request.
    client.execute(&refund("RF8", "RF8-1", 1000, 1, None)).await.unwrap();
    sim.set_clock("2024-03-01 12:01:01").await;
    client.execute(&refund("RF8", "RF8-2", 1000, 1, None)).await.unwrap();
    sim.set_clock("2024-03-01 12:05:00").await;
    sim.faults(MCH, json!({"frequency_limited": true})).await;
    let forced = client.execute(&refund("RF8", "RF8-3", 1000, 1, None)).await.unwrap_err();
    assert_eq!(forced.err_code(), Some(&ErrCode::FrequencyLimited));
}

#[tokio::test]
async fn unpaid_or_unknown_orders_cannot_be_refunded() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.create_order(MCH, json!({"out_trade_no": "RF9", "total_fee": 100, "notify_url": NOWHERE})).await;
    assert_eq!(
        err_code(client.execute(&refund("RF9", "RF9-1", 100, 1, None)).await.unwrap_err()),
        ErrCode::OrderNotExist
    );
    assert_eq!(
        err_code(client.execute(&refund("NOORDER", "X-1", 100, 1, None)).await.unwrap_err()),
        ErrCode::OrderNotExist
    );
    let by_txn = Refund {
        order: OrderRef::TransactionId(wxpay::TransactionId::new("4200000000202403010000000000").unwrap()),
        ..refund("RF9", "RF9-2", 100, 1, None)
    };
    assert_eq!(err_code(client.execute(&by_txn).await.unwrap_err()), ErrCode::InvalidTransactionId);
}
