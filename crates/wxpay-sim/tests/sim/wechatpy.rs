//! Fidelity against an independent client: the PyPI package wechatpy 1.8.18 talks to the simulator
//! (tests/wechatpy_check.py, run by the venv python from scripts/wechatpy-venv). The test skips with
//! a message when that python is absent, and FAILS instead when PAYDESK_REQUIRE_WECHATPY=1 (the
//! README's test command sets it).

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

use crate::common::*;

fn wechatpy_python() -> Option<PathBuf> {
    let from_env = std::env::var_os("PAYDESK_WECHATPY_PYTHON").map(PathBuf::from);
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/wechatpy-venv/bin/python");
    let python = from_env.unwrap_or(default);
    python.exists().then_some(python)
}

#[tokio::test]
async fn wechatpy_talks_to_the_simulator_and_every_reply_verifies() {
    let Some(python) = wechatpy_python() else {
        let required = std::env::var("PAYDESK_REQUIRE_WECHATPY").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "PAYDESK_REQUIRE_WECHATPY=1 but no wechatpy python: run scripts/wechatpy-venv and set PAYDESK_WECHATPY_PYTHON"
        );
        eprintln!(
            "SKIPPED: no wechatpy venv (run scripts/wechatpy-venv; set PAYDESK_REQUIRE_WECHATPY=1 to fail instead)"
        );
        return;
    };
    let sim = start().await;
    sim.set_clock("2024-03-01 12:00:00").await;
    sim.paid_order(MCH, "WPY-PAID-1", 2800, NOWHERE).await;
    sim.create_order(MCH, json!({"out_trade_no": "WPY-OPEN-1", "total_fee": 100, "notify_url": NOWHERE})).await;
    sim.set_clock("2024-03-02 10:30:00").await;
    let cert_dir = sim.issue_cert(MCH);
    let ca_path = sim.dir.path().join("ca.pem");
    write(&ca_path, &sim.handle.ca_cert_pem);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wechatpy_check.py");
    let handle_base = format!("{}/", sim.handle.base_url);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("SIM_BASE_URL", handle_base)
            .env("SIM_APPID", APPID)
            .env("SIM_MCH_ID", MCH)
            .env("SIM_KEY", KEY)
            .env("SIM_CERT", cert_dir.join("apiclient_cert.pem"))
            .env("SIM_CERT_KEY", cert_dir.join("apiclient_key.pem"))
            .env("SIM_PAID_ORDER", "WPY-PAID-1")
            .env("SIM_PAID_FEE", "2800")
            .env("SIM_UNPAID_ORDER", "WPY-OPEN-1")
            .env("SIM_BILL_DATE", "20240301")
            .env("REQUESTS_CA_BUNDLE", ca_path)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "wechatpy check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    // The same flows through the wxpay client are in orders.rs, refunds.rs and bills.rs; here the
    // state wechatpy left behind is checked at "WeChat".
    let refunds = sim.handle.sim.refunds(MCH).unwrap();
    assert_eq!(refunds.len(), 1, "wechatpy's retry of WPY-R-1 made no second refund");
    assert_eq!(
        sim.handle.sim.query_order(MCH, Some("WPY-OPEN-1"), None).unwrap().trade_state,
        wxpay::TradeState::Closed
    );
}
