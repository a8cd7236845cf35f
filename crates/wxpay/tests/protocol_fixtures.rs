//! The public SDK samples of `tests/fixtures/` (copied from the shared fixtures; `index.json` names
//! each file's source) parse, verify or decrypt to the values `index.json` gives, and are refused
//! where they must be.

#![allow(clippy::unwrap_used, clippy::expect_used)] // integration-test helpers outside #[test] fns

use std::path::PathBuf;

use serde_json::Value;
use wxpay::api::{ApiRequest, OrderQuery, Refund, RefundQuery};
use wxpay::notify::{self, Notification, NotifyError};
use wxpay::sign::{self, ApiKey};
use wxpay::xml::Message;
use wxpay::{Fen, RefundStatus, SignType, TradeState};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn index_entry(file: &str) -> Value {
    let index: Value = serde_json::from_slice(&read("index.json")).unwrap();
    index["files"].as_array().unwrap().iter().find(|e| e["file"] == file).cloned().unwrap_or_else(|| panic!("{file}"))
}

/// Asserts that every string in `expected` equals the message's field of the same name.
fn assert_fields(message: &Message, expected: &Value, file: &str) {
    for (name, value) in expected.as_object().unwrap() {
        if let Some(text) = value.as_str() {
            assert_eq!(message.get(name), Some(text), "{file}: field {name}");
        }
    }
}

#[test]
fn fastwego_payment_notification_verifies_with_its_key() {
    let file = "notify/pay/fastwego-pay-notify.md5-key-KEY.xml";
    let entry = index_entry(file);
    let key = ApiKey::new(entry["api_key"].as_str().unwrap());
    let n = notify::decode_payment(&read(file), &key, None).unwrap();
    assert_eq!(n.sign_type, SignType::Md5);
    assert_fields(&n.message, &entry["expected"], file);
    assert!(n.paid);
    assert_eq!(n.total_fee, Fen(1));
    assert_eq!(n.out_trade_no.as_str(), "1409811653");
    assert_eq!(n.time_end.map(|t| t.to_compact()).as_deref(), Some("20140903131540"));
    // The old doc example writes coupon_type / coupon_id without the _$n index: kept (and signed),
    // but they are not indexed coupons.
    assert_eq!(n.message.get("coupon_type"), Some("CASH"));
    assert_eq!(n.coupons.first().and_then(|c| c.coupon_type.clone()), None);
}

#[test]
fn fastwego_payment_notification_is_refused_with_another_key_or_altered() {
    let file = "notify/pay/fastwego-pay-notify.md5-key-KEY.xml";
    let err = notify::decode_payment(&read(file), &ApiKey::new("NOT-THE-KEY"), None).unwrap_err();
    assert!(matches!(err, NotifyError::Signature(_)), "{err:?}");
    let altered =
        String::from_utf8(read(file)).unwrap().replace("<total_fee>1</total_fee>", "<total_fee>100</total_fee>");
    let err = notify::decode_payment(altered.as_bytes(), &ApiKey::new("KEY"), None).unwrap_err();
    assert!(matches!(err, NotifyError::Signature(_)), "{err:?}");
}

#[test]
fn wxjava_payment_notification_has_a_placeholder_sign_but_its_coupons_parse() {
    let file = "notify/pay/wxjava-pay-notify.coupons.xml";
    let entry = index_entry(file);
    let body = read(file);
    assert!(matches!(notify::decode_payment(&body, &ApiKey::new("any"), None), Err(NotifyError::Signature(_))));
    // Re-signed with a key of ours, every field (in its odd element order) parses.
    let mut message = Message::parse(&body).unwrap();
    let key = ApiKey::new("re-signing-key");
    sign::sign_in_place(&mut message, SignType::Md5, &key);
    let n = notify::payment_from_message(message, &key, None).unwrap();
    let expected = &entry["expected"];
    assert_eq!(n.coupons.len(), usize::try_from(expected["coupon_count"].as_u64().unwrap()).unwrap());
    for (coupon, want) in n.coupons.iter().zip(expected["coupons"].as_array().unwrap()) {
        assert_eq!(u64::from(coupon.index), want["index"].as_u64().unwrap());
        assert_eq!(coupon.coupon_type.as_deref(), want["type"].as_str());
        assert_eq!(coupon.id.as_deref(), want["id"].as_str());
        assert_eq!(coupon.fee, Some(Fen(want["fee"].as_i64().unwrap())));
    }
    assert_eq!(n.total_fee, Fen(expected["total_fee"].as_i64().unwrap()));
    assert_eq!(n.transaction_id.as_ref().map(|t| t.as_str()), expected["transaction_id"].as_str());
}

#[test]
fn refund_notifications_decrypt_to_the_documented_values() {
    for file in ["notify/refund/wechatpy-refund-notify.xml", "notify/refund/fastwego-refund-notify.xml"] {
        let entry = index_entry(file);
        let key = ApiKey::new(entry["api_key"].as_str().unwrap());
        let n = match notify::decode(&read(file), &key, None).unwrap() {
            Notification::Refund(r) => r,
            other => panic!("{file}: decoded as {:?}", other.kind()),
        };
        assert_fields(&n.decrypted, &entry["expected"], file);
        let plaintext = Message::parse_with_root(&read(entry["decrypted_file"].as_str().unwrap()), "root").unwrap();
        assert_eq!(n.decrypted, plaintext, "{file}: decrypted fields differ from the plaintext file");
        assert_eq!(n.refund_status, RefundStatus::Success);
        let refund_fee: i64 = entry["expected"]["refund_fee"].as_str().unwrap().parse().unwrap();
        assert_eq!(n.refund_fee, Fen(refund_fee));
        // The wrong key never yields fields.
        assert!(notify::decode_refund(&read(file), &ApiKey::new("wrong")).is_err(), "{file}");
    }
}

#[test]
fn wxjava_req_info_plaintext_parses_and_round_trips_through_encryption() {
    let file = "notify/refund/wxjava-req_info.plain.xml";
    let entry = index_entry(file);
    let plaintext = String::from_utf8(read(file)).unwrap();
    let root = Message::parse_with_root(plaintext.as_bytes(), "root").unwrap();
    assert_fields(&root, &entry["expected"], file);

    let key = ApiKey::new("a-key-only-this-test-knows-12345");
    let envelope = Message::from_pairs([
        ("return_code", "SUCCESS"),
        ("appid", "wx2421b1c4370ec43b"),
        ("mch_id", "10000100"),
        ("nonce_str", "x"),
        ("req_info", notify::encrypt_req_info(&plaintext, &key).as_str()),
    ]);
    let n = notify::decode_refund(envelope.to_xml().unwrap().as_bytes(), &key).unwrap();
    assert_eq!(n.decrypted, root);
    assert_eq!(n.refund_fee, Fen(15));
    assert_eq!(n.settlement_total_fee, Some(Fen(100)));
    assert_eq!(n.refund_recv_accout.as_deref(), Some("用户零钱"));
}

#[test]
fn the_doc_placeholder_req_info_fails_to_decrypt_cleanly() {
    let file = "notify/refund/doc-placeholder-refund-notify.xml";
    let entry = index_entry(file);
    let body = read(file);
    assert_fields(&Message::parse(&body).unwrap(), &entry["expected"], file);
    let err = notify::decode(&body, &ApiKey::new("192006250b4c09247ec02edce69f6a2d"), None).unwrap_err();
    assert!(matches!(err, NotifyError::BadBase64 | NotifyError::Decrypt), "{err:?}");
}

#[test]
fn acknowledgement_bodies_match_byte_for_byte() {
    assert_eq!(notify::ACK_SUCCESS.as_bytes(), read("notify/reply-success.xml").as_slice());
    assert_eq!(notify::ack_fail("500").as_bytes(), read("notify/reply-fail.xml").as_slice());
}

#[test]
fn orderquery_doc_reply_parses() {
    let file = "xml/orderquery.response.doc.xml";
    let entry = index_entry(file);
    let message = Message::parse(&read(file)).unwrap();
    assert_fields(&message, &entry["expected"], file);
    let reply = OrderQuery::read_reply(message).unwrap();
    assert_eq!(reply.trade_state, TradeState::Success);
    assert_eq!(reply.total_fee, Some(Fen(1)));
    assert_eq!(reply.attach.as_deref(), Some("订单额外描述"));
    assert_eq!(reply.time_end.map(|t| t.to_compact()).as_deref(), Some("20141111170043"));
}

#[test]
fn orderquery_coupon_reply_parses_indexed_coupons() {
    let file = "xml/orderquery.response.coupons.xml";
    let entry = index_entry(file);
    let reply = OrderQuery::read_reply(Message::parse(&read(file)).unwrap()).unwrap();
    let expected = &entry["expected"];
    assert_eq!(reply.coupons.len(), 2);
    assert_eq!(reply.coupons[0].fee, Some(Fen(expected["coupon_fee_0"].as_i64().unwrap())));
    assert_eq!(reply.coupons[1].fee, Some(Fen(expected["coupon_fee_1"].as_i64().unwrap())));
    assert_eq!(reply.coupons[0].coupon_type.as_deref(), expected["coupon_type_0"].as_str());
    assert_eq!(reply.coupons[1].coupon_type.as_deref(), expected["coupon_type_1"].as_str());
}

#[test]
fn refund_reply_with_empty_refund_channel_parses_and_empty_values_are_not_signed() {
    let file = "xml/refund.response.coupons.xml";
    let entry = index_entry(file);
    let message = Message::parse(&read(file)).unwrap();
    assert_fields(&message, &entry["expected"], file);
    assert!(!sign::string_to_sign(&message).contains("refund_channel"));
    let reply = Refund::read_reply(message).unwrap();
    assert_eq!(reply.refund_fee, Fen(2));
    assert_eq!(reply.coupon_refund_fee, Some(Fen(1)));
}

#[test]
fn refundquery_doc_reply_parses() {
    let file = "xml/refundquery.response.doc.xml";
    let entry = index_entry(file);
    let message = Message::parse(&read(file)).unwrap();
    assert_fields(&message, &entry["expected"], file);
    let reply = RefundQuery::read_reply(message).unwrap();
    assert_eq!(reply.refund_count, 1);
    assert_eq!(reply.refunds[0].out_refund_no.as_str(), "1415701182");
    assert_eq!(reply.refunds[0].refund_status, RefundStatus::Processing);
    assert_eq!(reply.refunds[0].refund_fee, Fen(1));
}

#[test]
fn bad_input_gets_a_typed_error_never_a_panic() {
    let key = ApiKey::new("KEY");
    let cases: [&[u8]; 6] = [
        b"<xml><return_code>SUCCESS</return_code><sign>AB",
        br#"<!DOCTYPE xml [<!ENTITY e "boom">]><xml><a>&e;</a></xml>"#,
        b"",
        b"\xff\xfe<xml/>",
        b"<xml><return_code>SUCCESS</return_code><req_info>!!!</req_info></xml>",
        b"<xml><return_code>FAIL</return_code><return_msg>no</return_msg></xml>",
    ];
    for body in cases {
        assert!(notify::decode(body, &key, None).is_err(), "{:?}", String::from_utf8_lossy(body));
    }
}
