//! Mutual TLS on `/secapi/*` and `/pay/downloadfundflow` (§2, §8). How refusals are signalled
//! (docs/decisions/0005): no certificate, or one for another mch_id → `return_code=FAIL` reply; a
//! certificate from another CA → refused in the TLS handshake (fatal alert), on any path.

use wxpay::api::{OrderRef, Refund};
use wxpay::client::{ClientConfig, ClientIdentity, HttpTransport, TransportError};
use wxpay::{Api, Error, Fen, Message, OutRefundNo, OutTradeNo, SignType};
use wxpay_sim::pki::Ca;

use crate::common::*;

fn refund(no: &str) -> Refund {
    Refund {
        order: OrderRef::OutTradeNo(OutTradeNo::new(no).unwrap()),
        out_refund_no: OutRefundNo::new(format!("R{no}")).unwrap(),
        total_fee: Fen(100),
        refund_fee: Fen(10),
        refund_desc: None,
        refund_account: None,
        notify_url: None,
    }
}

/// A signed refund body, to post through transports the wxpay client would not build.
fn refund_body(no: &str) -> String {
    wxpay::api::request_body(&refund(no), &Sim::merchant(MCH, SignType::Md5), "n").unwrap().0
}

#[tokio::test]
async fn a_refund_with_the_merchants_certificate_is_accepted() {
    let sim = start().await;
    sim.paid_order(MCH, "MT1", 100, NOWHERE).await;
    let reply = sim.client(MCH, SignType::Md5, Some(MCH)).execute(&refund("MT1")).await.unwrap();
    assert_eq!(reply.refund_fee, Fen(10));
}

#[tokio::test]
async fn without_a_certificate_the_refund_is_refused_with_a_fail_reply() {
    let sim = start().await;
    sim.paid_order(MCH, "MT2", 100, NOWHERE).await;
    // Plain transport (the wxpay client would refuse locally: MissingCertificate).
    let e = sim.client(MCH, SignType::Md5, None).execute(&refund("MT2")).await.unwrap_err();
    assert!(matches!(e, Error::Transport(TransportError::MissingCertificate { .. })), "{e}");
    let reply = sim.post_raw("/secapi/pay/refund", refund_body("MT2")).await;
    assert_eq!(reply.get("return_code"), Some("FAIL"));
    assert_eq!(reply.get("return_msg"), Some(wxpay_sim::wechat::NO_CERTIFICATE));
    assert_eq!(reply.get("sign"), None);
    let fundflow = sim.post_raw("/pay/downloadfundflow", "<xml/>").await;
    assert_eq!(fundflow.get("return_msg"), Some(wxpay_sim::wechat::NO_CERTIFICATE));
    assert!(sim.handle.sim.refunds(MCH).unwrap().is_empty(), "nothing was refunded");
}

#[tokio::test]
async fn a_certificate_of_another_merchant_is_refused_with_a_fail_reply() {
    let sim = start().await;
    sim.paid_order(MCH, "MT3", 100, NOWHERE).await;
    let e = sim.client(MCH, SignType::Md5, Some(MCH2)).execute(&refund("MT3")).await.unwrap_err();
    match e {
        Error::Protocol { return_msg } => assert_eq!(return_msg, wxpay_sim::wechat::CERTIFICATE_MISMATCH),
        other => panic!("{other:?}"),
    }
    assert!(sim.handle.sim.refunds(MCH).unwrap().is_empty());
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_the_handshake() {
    let sim = start().await;
    sim.paid_order(MCH, "MT4", 100, NOWHERE).await;
    // Another CA: refused as unknown_ca. One that copies the simulator CA's name: the signature
    // check fails (decrypt_error). Either way the handshake ends and nothing is refunded.
    for (name, alert) in [("Some Other Root CA", "UnknownCA"), (wxpay_sim::pki::CA_NAME, "DecryptError")] {
        refused_in_handshake(&sim, name, alert).await;
    }
}

async fn refused_in_handshake(sim: &Sim, ca_name: &str, alert: &str) {
    let foreign = Ca::generate(ca_name).unwrap().issue_client(MCH, "冒充的商户", chrono::Utc::now()).unwrap();
    let identity = ClientIdentity::from_pem(foreign.cert_pem.as_bytes(), foreign.key_pem.as_bytes()).unwrap();
    let mut config = ClientConfig::sandbox(sim.handle.base_url.clone(), sim.handle.ca_cert_pem.as_bytes().to_vec());
    config.identity = Some(identity);
    let transport = HttpTransport::new(config).unwrap();
    let e = transport.post(Api::Refund, refund_body("MT4")).await.unwrap_err();
    assert!(e.to_string().contains(alert), "{e}");
    if alert == "UnknownCA" {
        assert!(matches!(e, TransportError::ClientCertificateRefused { .. }), "{e}");
    }
    assert!(sim.handle.sim.refunds(MCH).unwrap().is_empty());
    // With reqwest's own rustls too: the connection fails, no XML comes back.
    let id = reqwest::Identity::from_pem(format!("{}{}", foreign.cert_pem, foreign.key_pem).as_bytes()).unwrap();
    let raw = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sim.handle.ca_cert_pem.as_bytes()).unwrap())
        .identity(id)
        .build()
        .unwrap();
    let result = raw.post(format!("{}/secapi/pay/refund", sim.handle.base_url)).body(refund_body("MT4")).send().await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn the_p12_opens_with_the_mch_id_and_the_pem_pair_works_too() {
    let sim = start().await;
    let dir = sim.issue_cert(MCH);
    for name in ["apiclient_cert.p12", "apiclient_cert.pem", "apiclient_key.pem"] {
        assert!(dir.join(name).exists(), "{name}");
    }
    let p12 = std::fs::read(dir.join("apiclient_cert.p12")).unwrap();
    assert!(ClientIdentity::from_pkcs12(&p12, "wrong").is_err());
    let from_p12 = ClientIdentity::from_wechat_pkcs12(&p12, MCH).unwrap();
    let from_pem =
        ClientIdentity::from_pem_files(dir.join("apiclient_cert.pem"), dir.join("apiclient_key.pem")).unwrap();
    assert_eq!(from_p12.info().serial_hex, from_pem.info().serial_hex);
    assert_eq!(from_pem.info().serial_hex.len(), 40);
    assert!(from_pem.info().subject_contains_mch_id(MCH));
    assert!(from_pem.info().subject.contains("微信商户系统"), "{}", from_pem.info().subject);
    // A certificate on a plain path is harmless (wechatpy sends it everywhere).
    let mut config = ClientConfig::sandbox(sim.handle.base_url.clone(), sim.handle.ca_cert_pem.as_bytes().to_vec());
    config.identity = Some(from_pem);
    let transport = HttpTransport::new(config).unwrap();
    let body = wxpay::api::request_body(
        &wxpay::api::OrderQuery::by_out_trade_no(OutTradeNo::new("X1").unwrap()),
        &Sim::merchant(MCH, SignType::Md5),
        "n",
    )
    .unwrap()
    .0;
    let reply = Message::parse(&transport.post_to_path("/pay/orderquery", body, true).await.unwrap()).unwrap();
    assert_eq!(reply.get("err_code"), Some("ORDERNOTEXIST"));
}
