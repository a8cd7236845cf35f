//! The shop backend's JSON API: token, validation naming each field, idempotent registration, refund applications
//! checked against what is left, order status.

use reqwest::Method;
use serde_json::json;
use wxpay::SignType;

use crate::common::*;

pub async fn api_requires_the_bearer_token(db: &TestDb) {
    let r = db.receiver().await;
    let url = format!("{}/api/v1/orders", r.url);
    let body = json!({"out_trade_no": "TOK-1", "amount": 100});
    let none = r.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(none.status().as_u16(), 401);
    assert_eq!(none.headers().get("www-authenticate").unwrap(), "Bearer");
    let wrong = r.http.post(&url).bearer_auth("shop-token-for-tests-0000000002").json(&body).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let shorter = r.http.get(format!("{url}/TOK-1")).bearer_auth(&TOKEN[..10]).send().await.unwrap();
    assert_eq!(shorter.status().as_u16(), 401);
    let j: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(j["code"], "UNAUTHORIZED");
    assert!(order(&db.ledger().await, "TOK-1").await.is_none(), "nothing registered without the token");
    let ok = r.api(Method::POST, "/api/v1/orders", Some(body)).await;
    assert_eq!(ok.status, 201);
    r.shutdown().await;
}

pub async fn invalid_order_names_every_failing_field(db: &TestDb) {
    let r = db.receiver().await;
    let a = r
        .api(
            Method::POST,
            "/api/v1/orders",
            Some(json!({"out_trade_no": "bad no!", "amount": 12.5, "sign_type": "HMAC_SHA256", "openid": 7})),
        )
        .await;
    assert_eq!(a.status, 422, "{a:?}");
    let j = a.json();
    assert_eq!(j["code"], "INVALID");
    let mut fields: Vec<&str> = j["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, ["amount", "openid", "out_trade_no", "sign_type"]);
    for body in [
        json!({"amount": 100}),
        json!({"out_trade_no": "X1", "amount": -5}),
        json!({"out_trade_no": "X1", "amount": "100"}),
    ] {
        assert_eq!(r.api(Method::POST, "/api/v1/orders", Some(body)).await.status, 422);
    }
    // Not JSON at all.
    let raw = r.http.post(format!("{}/api/v1/orders", r.url)).bearer_auth(TOKEN).body("amount=1").send().await.unwrap();
    assert_eq!(raw.status().as_u16(), 422);
    let j: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(j["fields"][0]["field"], "body");
    r.shutdown().await;
}

pub async fn registering_an_order_is_idempotent_and_another_amount_conflicts(db: &TestDb) {
    let r = db.receiver().await;
    let first = r.register("IDEM-1", 1500, SignType::HmacSha256).await;
    assert_eq!(first.status, 201);
    assert_eq!(first.json()["trade_state"], "NOTPAY");
    assert_eq!(first.json()["sign_type"], "HMAC-SHA256");
    let again = r.register("IDEM-1", 1500, SignType::HmacSha256).await;
    assert_eq!(again.status, 200);
    let other = r.api(Method::POST, "/api/v1/orders", Some(json!({"out_trade_no": "IDEM-1", "amount": 1600}))).await;
    assert_eq!(other.status, 409, "{other:?}");
    assert_eq!(other.json()["code"], "CONFLICT");
    let o = order(&db.ledger().await, "IDEM-1").await.unwrap();
    assert_eq!((o.total_fee.get(), o.sign_type), (1500, SignType::HmacSha256));
    r.shutdown().await;
}

pub async fn refund_application_is_checked_against_what_is_left(db: &TestDb) {
    let r = db.receiver().await;
    r.register("RA-1", 1000, SignType::Md5).await;
    let apply = |amount: i64, request_id: &str| json!({"out_trade_no": "RA-1", "amount": amount, "reason": "口味不对", "request_id": request_id});
    // Not paid yet.
    let a = r.api(Method::POST, "/api/v1/refund-applications", Some(apply(100, "q1"))).await;
    assert_eq!((a.status, a.json()["fields"][0]["field"].as_str()), (422, Some("out_trade_no")));
    assert!(r.post("/wxpay/notify/pay", payment_xml("RA-1", 1000, 30, SignType::Md5, false)).await.is_success_ack());
    let a = r.api(Method::POST, "/api/v1/refund-applications", Some(apply(600, "q1"))).await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.json()["status"], "PENDING");
    // The same request again is the same application; 600 is waiting, so 500 more is too much, 400 fits.
    assert_eq!(r.api(Method::POST, "/api/v1/refund-applications", Some(apply(600, "q1"))).await.status, 200);
    let too_much = r.api(Method::POST, "/api/v1/refund-applications", Some(apply(500, "q2"))).await;
    assert_eq!(too_much.status, 422, "{too_much:?}");
    assert_eq!(too_much.json()["fields"][0]["field"], "amount");
    assert_eq!(r.api(Method::POST, "/api/v1/refund-applications", Some(apply(400, "q3"))).await.status, 201);
    // Unknown order, missing reason.
    let a =
        r.api(Method::POST, "/api/v1/refund-applications", Some(json!({"out_trade_no": "NOPE", "amount": 1}))).await;
    assert_eq!(a.status, 422);
    let mut fields: Vec<String> =
        a.json()["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
    fields.sort();
    assert_eq!(fields, ["reason"]);
    let l = db.ledger().await;
    let o = order(&l, "RA-1").await.unwrap();
    assert_eq!(l.applications_for_order(o.id).await.unwrap().len(), 2);
    r.shutdown().await;
}

pub async fn order_status_shows_payment_refunds_and_applications(db: &TestDb) {
    let r = db.receiver().await;
    r.register("ST-1", 2000, SignType::Md5).await;
    assert!(r.post("/wxpay/notify/pay", payment_xml("ST-1", 2000, 31, SignType::Md5, false)).await.is_success_ack());
    let body = json!({"out_trade_no": "ST-1", "amount": 500, "reason": "少一杯"});
    assert_eq!(r.api(Method::POST, "/api/v1/refund-applications", Some(body)).await.status, 201);
    let a = r.api(Method::GET, "/api/v1/orders/ST-1", None).await;
    assert_eq!(a.status, 200, "{a:?}");
    let j = a.json();
    assert_eq!(j["trade_state"], "SUCCESS");
    assert_eq!(j["transaction_id"], txn(31));
    assert_eq!(j["amount"], 2000);
    assert_eq!(j["refundable"], 2000);
    assert_eq!(j["refund_applications"][0]["amount"], 500);
    assert_eq!(j["refund_applications"][0]["status"], "PENDING");
    assert_eq!(j["refunds"].as_array().unwrap().len(), 0);
    let missing = r.api(Method::GET, "/api/v1/orders/NOPE-1", None).await;
    assert_eq!((missing.status, missing.json()["code"].as_str()), (404, Some("NOT_FOUND")));
    r.shutdown().await;
}
