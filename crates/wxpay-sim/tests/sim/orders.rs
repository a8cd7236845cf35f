//! unifiedorder, orderquery and closeorder (§5.1–5.3) through the `wxpay` client, the customer's
//! payment through the admin API, and the faults on API calls.

use std::time::{Duration, Instant};

use serde_json::json;
use wxpay::api::{CloseOrder, OrderQuery, TradeKind, UnifiedOrder};
use wxpay::{ErrCode, Error, Fen, OutTradeNo, SignType, TradeState};

use crate::common::*;

fn order(no: &str, fen: i64, body: &str) -> UnifiedOrder {
    UnifiedOrder {
        kind: TradeKind::Native { product_id: "P1".into() },
        body: body.into(),
        out_trade_no: OutTradeNo::new(no).unwrap(),
        total_fee: Fen(fen),
        spbill_create_ip: "127.0.0.1".into(),
        notify_url: NOWHERE.into(),
        attach: Some("桌号=3".into()),
        detail: None,
        device_info: None,
        time_start: None,
        time_expire: None,
        goods_tag: None,
    }
}

fn err_code(e: Error) -> ErrCode {
    e.err_code().cloned().unwrap_or_else(|| panic!("not a business error: {e}"))
}

#[tokio::test]
async fn unifiedorder_is_idempotent_for_identical_parameters_only() {
    let sim = start().await;
    for st in [SignType::Md5, SignType::HmacSha256] {
        let client = sim.client(MCH, st, None);
        let no = format!("UO-{st}");
        let first = client.execute(&order(&no, 100, "咖啡")).await.unwrap();
        assert!(first.prepay_id.starts_with("wx"));
        assert!(first.code_url.as_deref().unwrap().starts_with("weixin://wxpay/bizpayurl?pr="));
        let again = client.execute(&order(&no, 100, "咖啡")).await.unwrap();
        assert_eq!(again.prepay_id, first.prepay_id);
        for changed in [order(&no, 101, "咖啡"), order(&no, 100, "茶")] {
            match client.execute(&changed).await.unwrap_err() {
                Error::Business { err_code, err_code_des, .. } => {
                    assert_eq!(err_code, ErrCode::InvalidRequest);
                    assert_eq!(err_code_des, "201 商户订单号重复");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_paid_order_reports_every_payment_field_and_refuses_reorder_and_close() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::HmacSha256, None);
    client.execute(&order("PAID1", 2800, "拿铁")).await.unwrap();
    let q = client.execute(&OrderQuery::by_out_trade_no(OutTradeNo::new("PAID1").unwrap())).await.unwrap();
    assert_eq!(q.trade_state, TradeState::NotPay);
    assert_eq!(q.trade_state_desc.as_deref(), Some("订单未支付"));
    let paid = sim
        .admin_ok(
            reqwest::Method::POST,
            &format!("/merchants/{MCH}/orders/PAID1/pay"),
            Some(json!({"bank_type": "CMB_DEBIT"})),
        )
        .await;
    let txn = wxpay::TransactionId::new(paid["transaction_id"].as_str().unwrap()).unwrap();
    let q = client.execute(&OrderQuery::by_transaction_id(txn.clone())).await.unwrap();
    assert_eq!(q.trade_state, TradeState::Success);
    assert_eq!(q.transaction_id.as_ref(), Some(&txn));
    assert_eq!(q.total_fee, Some(Fen(2800)));
    assert_eq!(q.cash_fee, Some(Fen(2800)));
    assert_eq!(q.bank_type.as_deref(), Some("CMB_DEBIT"));
    assert_eq!(q.attach.as_deref(), Some("桌号=3"));
    assert!(q.time_end.is_some() && q.openid.is_some());
    assert_eq!(err_code(client.execute(&order("PAID1", 2800, "拿铁")).await.unwrap_err()), ErrCode::OrderPaid);
    let close = CloseOrder { out_trade_no: OutTradeNo::new("PAID1").unwrap() };
    assert_eq!(err_code(client.execute(&close).await.unwrap_err()), ErrCode::OrderPaid);
}

#[tokio::test]
async fn closeorder_closes_once_and_a_closed_order_stays_closed() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, None);
    client.execute(&order("CLOSE1", 500, "可颂")).await.unwrap();
    let close = CloseOrder { out_trade_no: OutTradeNo::new("CLOSE1").unwrap() };
    assert_eq!(client.execute(&close).await.unwrap().result_msg.as_deref(), Some("OK"));
    assert_eq!(err_code(client.execute(&close).await.unwrap_err()), ErrCode::OrderClosed);
    assert_eq!(err_code(client.execute(&order("CLOSE1", 500, "可颂")).await.unwrap_err()), ErrCode::OrderClosed);
    let q = client.execute(&OrderQuery::by_out_trade_no(OutTradeNo::new("CLOSE1").unwrap())).await.unwrap();
    assert_eq!(q.trade_state, TradeState::Closed);
    let (status, _) = sim.admin(reqwest::Method::POST, &format!("/merchants/{MCH}/orders/CLOSE1/pay"), None).await;
    assert_eq!(status, 409, "a closed order cannot be paid");
    let missing = CloseOrder { out_trade_no: OutTradeNo::new("NEVER").unwrap() };
    assert_eq!(err_code(client.execute(&missing).await.unwrap_err()), ErrCode::OrderNotExist);
    let q = client.execute(&OrderQuery::by_out_trade_no(OutTradeNo::new("NEVER").unwrap())).await.unwrap_err();
    assert_eq!(err_code(q), ErrCode::OrderNotExist);
}

#[tokio::test]
async fn an_unpaid_order_past_time_expire_is_closed() {
    let sim = start().await;
    sim.set_clock("2024-03-01 12:00:00").await;
    sim.create_order(
        MCH,
        json!({"out_trade_no": "EXP1", "total_fee": 100, "notify_url": NOWHERE, "time_expire": "2024-03-01 12:30:00"}),
    )
    .await;
    let client = sim.client(MCH, SignType::Md5, None);
    let query = OrderQuery::by_out_trade_no(OutTradeNo::new("EXP1").unwrap());
    let q = || client.execute(&query);
    assert_eq!(q().await.unwrap().trade_state, TradeState::NotPay);
    sim.set_clock("2024-03-01 12:31:00").await;
    assert_eq!(q().await.unwrap().trade_state, TradeState::Closed);
}

#[tokio::test]
async fn jsapi_needs_an_openid() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, None);
    let mut o = order("JS1", 100, "x");
    o.kind = TradeKind::Jsapi { openid: String::new() };
    // The wxpay client refuses nothing here; WeChat answers LACK_PARAMS for the empty openid.
    assert_eq!(err_code(client.execute(&o).await.unwrap_err()), ErrCode::LackParams);
}

#[tokio::test]
async fn system_error_faults_hit_the_configured_calls_and_latency_is_added() {
    let sim = start().await;
    let client = sim.client(MCH, SignType::Md5, None);
    client.execute(&order("FLT1", 100, "x")).await.unwrap();
    let query = OrderQuery::by_out_trade_no(OutTradeNo::new("FLT1").unwrap());
    let q = || client.execute(&query);
    sim.faults(MCH, json!({"system_error_next": 2})).await;
    for _ in 0..2 {
        let e = q().await.unwrap_err();
        assert!(e.is_retryable_with_same_parameters(), "{e}");
        assert_eq!(err_code(e), ErrCode::SystemError);
    }
    assert!(q().await.is_ok());
    sim.faults(MCH, json!({"system_error_percent": 100})).await;
    assert_eq!(err_code(q().await.unwrap_err()), ErrCode::SystemError);
    sim.faults(MCH, json!({"latency_ms": 300})).await;
    let started = Instant::now();
    assert!(q().await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Per-order faults replace the merchant's for that order only.
    sim.faults(MCH, json!({})).await;
    sim.admin_ok(
        reqwest::Method::PUT,
        &format!("/merchants/{MCH}/orders/FLT1/faults"),
        Some(json!({"system_error_percent": 100})),
    )
    .await;
    assert_eq!(err_code(q().await.unwrap_err()), ErrCode::SystemError);
    client.execute(&order("FLT2", 100, "x")).await.unwrap();
}
