//! The admin API itself: the bearer token, the clock, merchants added at run time, and the
//! `wxpay-sim` binary's `cert issue` command.

use std::process::Command;

use serde_json::json;
use wxpay::client::ClientIdentity;

use crate::common::*;

#[tokio::test]
async fn the_admin_token_is_required_when_configured_and_never_echoed() {
    let sim = start_with(|c| c.admin_token = Some("s3cret-token".into())).await;
    let url = format!("{}/admin/info", sim.handle.base_url);
    let refused = sim.http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let wrong = sim.http.get(&url).bearer_auth("s3cret-tokem").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = sim.http.get(&url).bearer_auth("s3cret-token").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let text = ok.text().await.unwrap();
    assert!(!text.contains("s3cret") && !text.contains(KEY), "no secret in {text}");
}

#[tokio::test]
async fn the_clock_is_set_advanced_and_reset() {
    let sim = start().await;
    let v = sim.admin_ok(reqwest::Method::POST, "/clock", Some(json!({"set": "2024-03-01T23:59:00+08:00"}))).await;
    assert!(v["now_beijing"].as_str().unwrap().starts_with("2024-03-01 23:59"), "{v}");
    let v =
        sim.admin_ok(reqwest::Method::POST, "/clock", Some(json!({"advance_days": 366, "advance_secs": 120}))).await;
    assert!(v["now_beijing"].as_str().unwrap().starts_with("2025-03-03 00:01"), "{v}");
    let (status, _) = sim.admin(reqwest::Method::POST, "/clock", Some(json!({"set": "yesterday"}))).await;
    assert_eq!(status, 400);
    let v = sim.admin_ok(reqwest::Method::POST, "/clock", Some(json!({"reset": true}))).await;
    let year = chrono::Utc::now().format("%Y").to_string();
    assert!(v["now"].as_str().unwrap().starts_with(&year), "{v}");
}

#[tokio::test]
async fn merchants_can_be_added_at_run_time_and_unknown_ones_are_404() {
    let sim = start().await;
    let m = json!({"mch_id": "1900000111", "appid": "wx0000000000000111", "key": "k111", "balance_fen": 5});
    let v = sim.admin_ok(reqwest::Method::POST, "/merchants", Some(m.clone())).await;
    assert_eq!(v["balance_fen"], 5);
    assert!(v.get("key").is_none());
    let (status, _) = sim.admin(reqwest::Method::POST, "/merchants", Some(m)).await;
    assert_eq!(status, 409);
    let (status, body) = sim.admin(reqwest::Method::GET, "/merchants/1234/orders", None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let cert = sim
        .admin_ok(reqwest::Method::POST, "/merchants/1900000111/certificate", Some(json!({"company": "某某咖啡"})))
        .await;
    assert_eq!(cert["files"].as_array().unwrap().len(), 4);
    assert!(cert["cert_pem"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn the_binary_issues_a_certificate_like_wechats_download() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cert");
    let status = Command::new(env!("CARGO_BIN_EXE_wxpay-sim"))
        .args(["cert", "issue", "--mch-id", "1900000109", "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let p12 = std::fs::read(out.join("apiclient_cert.p12")).unwrap();
    let id = ClientIdentity::from_wechat_pkcs12(&p12, "1900000109").unwrap();
    assert!(id.info().subject_contains_mch_id("1900000109"));
    assert!(dir.path().join("data/ca/ca_cert.pem").exists(), "the CA was created on first use");
    // Serving without any merchant is refused with a sentence.
    let refused = Command::new(env!("CARGO_BIN_EXE_wxpay-sim"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--merchant"));
}

#[tokio::test]
async fn the_snapshot_brings_the_books_back_after_a_restart() {
    let sim = start_with(|c| c.snapshot = true).await;
    let txn = sim.paid_order(MCH, "SNAP1", 1000, NOWHERE).await;
    sim.admin_ok(
        reqwest::Method::POST,
        &format!("/merchants/{MCH}/orders/SNAP1/refunds"),
        Some(json!({"out_refund_no": "SNAP1-R", "refund_fee": 100})),
    )
    .await;
    let balance = sim.handle.sim.merchant(MCH).unwrap().balance_fen;
    let data_dir = sim.handle.sim.data_dir.clone();
    let Sim { handle, dir, .. } = sim;
    handle.shutdown().await;
    assert!(data_dir.join("state.json").exists());
    let text = std::fs::read_to_string(data_dir.join("state.json")).unwrap();
    assert!(!text.contains(KEY), "keys are never written");

    let again = wxpay_sim::spawn(wxpay_sim::SimConfig {
        data_dir: data_dir.clone(),
        merchants: vec![wxpay_sim::MerchantConfig::new(MCH, APPID, KEY)],
        snapshot: true,
        refund_delay_ms: 50,
        ..wxpay_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let order = again.sim.query_order(MCH, None, Some(&txn)).unwrap();
    assert_eq!(order.out_trade_no, "SNAP1");
    assert_eq!(order.trade_state, wxpay::TradeState::Refund);
    assert_eq!(again.sim.merchant(MCH).unwrap().balance_fen, balance);
    assert_eq!(again.sim.refunds(MCH).unwrap().len(), 1);
    drop(dir);
}
