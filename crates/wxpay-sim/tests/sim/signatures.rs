//! Requests are verified the way WeChat does (§3): MD5 by default, HMAC-SHA256 when `sign_type` says
//! so; a bad signature, an unknown sign type or an unknown merchant is a `return_code=FAIL` without
//! a sign; replies carry the request's algorithm and no `sign_type`.

use serde_json::json;
use wxpay::{sign, Message, SignType};

use crate::common::*;

fn query(out_trade_no: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![("appid", APPID), ("mch_id", MCH), ("nonce_str", "n0nce"), ("out_trade_no", out_trade_no)]
}

fn assert_unsigned_fail(reply: &Message, msg: &str) {
    assert_eq!(reply.get("return_code"), Some("FAIL"), "{reply:?}");
    assert_eq!(reply.get("return_msg"), Some(msg), "{reply:?}");
    assert_eq!(reply.get("sign"), None, "a FAIL reply is not signed");
    assert_eq!(reply.get("result_code"), None);
}

#[tokio::test]
async fn replies_are_signed_with_the_request_sign_type_without_echoing_it() {
    let sim = start().await;
    sim.create_order(MCH, json!({"out_trade_no": "SIG1", "total_fee": 100, "notify_url": NOWHERE})).await;
    for st in [SignType::Md5, SignType::HmacSha256] {
        let reply = sim.post_signed("/pay/orderquery", &query("SIG1"), st, MCH).await;
        assert_eq!(reply.get("return_code"), Some("SUCCESS"));
        assert_eq!(reply.get("trade_state"), Some("NOTPAY"));
        assert_eq!(reply.get("sign_type"), None);
        assert_eq!(reply.get("sign").map(str::len), Some(st.signature_len()));
        assert_eq!(sign::verify(&reply, Some(st), &Sim::key(MCH)), Ok(st));
        let other = if st == SignType::Md5 { SignType::HmacSha256 } else { SignType::Md5 };
        assert!(sign::verify(&reply, Some(other), &Sim::key(MCH)).is_err());
    }
    // Business failures are signed too (§1.1).
    let reply = sim.post_signed("/pay/orderquery", &query("NOSUCH"), SignType::HmacSha256, MCH).await;
    assert_eq!(reply.get("err_code"), Some("ORDERNOTEXIST"));
    assert!(sign::verify(&reply, Some(SignType::HmacSha256), &Sim::key(MCH)).is_ok());
}

#[tokio::test]
async fn a_bad_signature_is_refused_unsigned() {
    let sim = start().await;
    let mut m = Message::from_pairs(query("SIG2"));
    sign::sign_request(&mut m, SignType::Md5, &wxpay::ApiKey::new("not-the-merchants-key"));
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", m.to_xml().unwrap()).await, "签名错误");

    // Altered after signing.
    let mut m = Message::from_pairs(query("SIG2"));
    sign::sign_request(&mut m, SignType::HmacSha256, &Sim::key(MCH));
    m.set("out_trade_no", "SIG3");
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", m.to_xml().unwrap()).await, "签名错误");

    // An HMAC signature under an MD5 (absent) sign_type.
    let mut m = Message::from_pairs(query("SIG2"));
    sign::sign_in_place(&mut m, SignType::HmacSha256, &Sim::key(MCH));
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", m.to_xml().unwrap()).await, "签名错误");
}

#[tokio::test]
async fn sign_type_must_be_spelled_exactly() {
    let sim = start().await;
    let mut m = Message::from_pairs(query("SIG4"));
    m.set("sign_type", "HMAC_SHA256");
    m.set("sign", sign::sign(&m, SignType::HmacSha256, &Sim::key(MCH)));
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", m.to_xml().unwrap()).await, "sign_type参数格式错误");
}

#[tokio::test]
async fn malformed_requests_get_wechats_fail_messages() {
    let sim = start().await;
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", "").await, "post数据为空");
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", "<xml><a>").await, "XML格式错误");
    let dtd = r#"<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>"#;
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", dtd).await, "XML格式错误");
    assert_unsigned_fail(&sim.post_raw("/pay/orderquery", "<xml><appid>wx</appid></xml>").await, "缺少参数mch_id");
    let unknown = [("appid", APPID), ("mch_id", "1234567"), ("nonce_str", "n"), ("out_trade_no", "X")];
    let reply = sim.post_signed("/pay/orderquery", &unknown, SignType::Md5, MCH).await;
    assert_unsigned_fail(&reply, "mch_id参数格式错误或商户号不存在");
    let get = sim.http.get(format!("{}/pay/orderquery", sim.handle.base_url)).send().await.unwrap();
    assert_unsigned_fail(&Message::parse(&get.bytes().await.unwrap()).unwrap(), "请使用post方法");
}

#[tokio::test]
async fn an_appid_of_another_merchant_is_a_signed_business_error() {
    let sim = start().await;
    let fields = [("appid", APPID2), ("mch_id", MCH), ("nonce_str", "n"), ("out_trade_no", "X")];
    let reply = sim.post_signed("/pay/orderquery", &fields, SignType::Md5, MCH).await;
    assert_eq!(reply.get("result_code"), Some("FAIL"));
    assert_eq!(reply.get("err_code"), Some("APPID_MCHID_NOT_MATCH"));
    assert!(sign::verify(&reply, Some(SignType::Md5), &Sim::key(MCH)).is_ok());
}
