//! `paydesk-cli order list|query` and `sync` on a desk set up (through paydesk-core) against a real wxpay-sim:
//! the binary is run as a script would run it, with the owner password in `PAYDESK_PASSWORD`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, like tests, may unwrap

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use chrono::Utc;
use ledger::{Ledger, NewOrder, Source};
use paydesk_core::contract::{CertSource, MerchantInput, SetupInput};
use paydesk_core::vault::KdfParams;
use paydesk_core::{Core, CoreOptions, Secret};
use serde_json::Value;
use wxpay::{Fen, OutTradeNo, SignType};
use wxpay_sim::{Faults, MerchantConfig, SimConfig, SimHandle};

const MCH: &str = "1900000109";
const APPID: &str = "wx2421b1c4370ec43b";
const KEY: &str = "sandbox0key0for0paydesk0demo0001";
const PASSWORD: &str = "owner password 1";

struct World {
    sim: SimHandle,
    http: reqwest::Client,
    data: PathBuf,
    ledger: Ledger,
    merchant: ledger::MerchantId,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig {
        data_dir: dir.path().join("sim"),
        merchants: vec![MerchantConfig::new(MCH, APPID, KEY)],
        ..SimConfig::default()
    };
    let sim = wxpay_sim::spawn(config).await.unwrap();
    sim.sim.set_merchant_faults(MCH, Faults { notify_lost: true, ..Faults::default() }).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sim.ca_cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let data = dir.path().join("desk");
    let options = CoreOptions {
        kdf: KdfParams { m_cost_kib: 1024, t_cost: 1, p_cost: 1 },
        sandbox: paydesk_core::setup::SandboxLocator {
            data_dir: Some(dir.path().join("sim")),
            base_url: Some(sim.base_url.clone()),
            ..Default::default()
        },
        ..CoreOptions::default()
    };
    let core = Core::open(&data, options).unwrap();
    let defaults = core.setup_sandbox_defaults().await.unwrap();
    core.setup_complete(SetupInput {
        merchant: MerchantInput { appid: APPID.into(), mch_id: MCH.into(), sign_type: SignType::Md5 },
        api_key: Secret::from(KEY),
        source: Some(CertSource::P12 { path: defaults.p12_path, password: None }),
        sandbox: true,
        ledger_url: None,
        owner_name: "店主".into(),
        owner_password: Secret::from(PASSWORD),
    })
    .await
    .unwrap();
    let ledger = Ledger::open(&core.paths().default_ledger_url()).await.unwrap();
    let merchant = ledger.merchant_by_mch_id(&wxpay::MchId::new(MCH).unwrap()).await.unwrap().unwrap().id;
    World { sim, http, data, ledger, merchant, _dir: dir }
}

impl World {
    async fn admin(&self, path: &str, body: Value) {
        let r = self
            .http
            .post(format!("{}/admin/merchants/{MCH}{path}", self.sim.base_url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// Created at "WeChat", registered in the ledger (watched when `watch`), paid when `paid`.
    async fn order(&self, no: &str, fee: i64, watch: bool, paid: bool) {
        self.admin(
            "/orders",
            serde_json::json!({ "out_trade_no": no, "total_fee": fee, "notify_url": "http://127.0.0.1:9/x" }),
        )
        .await;
        self.ledger
            .register_order(&NewOrder {
                merchant: self.merchant,
                out_trade_no: OutTradeNo::new(no).unwrap(),
                appid: None,
                sign_type: SignType::Md5,
                trade_type: None,
                total_fee: Fen(fee),
                body: None,
                attach: None,
                placed_at: Utc::now(),
                time_expire: None,
                next_check_at: watch.then(Utc::now),
                origin: Source::ShopBackend,
            })
            .await
            .unwrap();
        if paid {
            self.admin(&format!("/orders/{no}/pay"), serde_json::json!({})).await;
        }
    }

    /// Runs the binary (off the runtime's threads, so the simulator keeps answering).
    async fn cli(&self, args: &[&str], password: Option<&str>) -> Output {
        let mut all = args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        all.extend(["--data-dir".to_string(), path(&self.data).to_string()]);
        let password = password.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_paydesk-cli"));
            cmd.args(&all).env_remove("PAYDESK_PASSWORD").env_remove("PAYDESK_DATA_DIR").stdin(Stdio::null());
            if let Some(p) = password {
                cmd.env("PAYDESK_PASSWORD", p);
            }
            cmd.output().unwrap()
        })
        .await
        .unwrap()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), stderr(out))
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_list_json_pages_like_the_app() {
    let w = world().await;
    for (no, fee) in [("T1", 100), ("T2", 200), ("T3", 300)] {
        w.order(no, fee, false, false).await;
    }
    let out = w.cli(&["order", "list", "--json", "--limit", "2"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = json(&out);
    let nos: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|r| r["out_trade_no"].as_str().unwrap()).collect();
    assert_eq!(nos, ["T3", "T2"]);
    assert_eq!(page["items"][0]["total_fee_fen"], 300);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let out = w.cli(&["order", "list", "--json", "--limit", "2", "--cursor", &cursor], Some(PASSWORD)).await;
    let page = json(&out);
    assert_eq!(page["items"][0]["out_trade_no"], "T1");
    assert_eq!(page["next_cursor"], Value::Null);
    // Filters, and the table form.
    let out = w.cli(&["order", "list", "--json", "--min-fen", "150", "--max-fen", "250"], Some(PASSWORD)).await;
    assert_eq!(json(&out)["items"].as_array().unwrap().len(), 1);
    let out = w.cli(&["order", "list", "--search", "T2"], Some(PASSWORD)).await;
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("T2 ") && text.contains("¥2.00"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_query_asks_wechat_and_records_the_payment() {
    let w = world().await;
    w.order("Q1", 2_800, false, true).await;
    let out = w.cli(&["order", "query", "Q1"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let detail = json(&out);
    assert_eq!(detail["order"]["state"], "SUCCESS");
    assert_eq!(detail["timeline"].as_array().unwrap().last().unwrap()["source"], "query");
    let o = w.ledger.order_by_out_trade_no(w.merchant, &OutTradeNo::new("Q1").unwrap()).await.unwrap().unwrap();
    assert_eq!(o.trade_state, wxpay::TradeState::Success);

    let out = w.cli(&["order", "query", "NOPE"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("[not_found]"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_runs_one_round_and_fails_when_a_check_fails() {
    let mut w = world().await;
    w.order("S1", 500, true, true).await;
    w.order("S2", 500, true, false).await;
    let out = w.cli(&["sync"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let outcome = |no: &str| {
        report["checked"].as_array().unwrap().iter().find(|c| c["out_trade_no"] == no).unwrap()["outcome"].clone()
    };
    assert_eq!((outcome("S1"), outcome("S2")), (Value::from("changed"), Value::from("unchanged")));
    assert_eq!(report["errors"], 0);

    // WeChat unreachable: the due check fails, the round says so, exit 1.
    let s2 = w.ledger.order_by_out_trade_no(w.merchant, &OutTradeNo::new("S2").unwrap()).await.unwrap().unwrap();
    w.ledger.schedule_order_check(s2.id, Some(Utc::now())).await.unwrap();
    let sim = std::mem::replace(
        &mut w.sim,
        wxpay_sim::spawn(SimConfig { data_dir: w._dir.path().join("sim2"), ..SimConfig::default() }).await.unwrap(),
    );
    sim.shutdown().await;
    let out = w.cli(&["sync"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["errors"], 1);
    assert_eq!(report["checked"][0]["error"]["code"], "wechat_unreachable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_password_exits_1_and_changes_nothing() {
    let w = world().await;
    let vault = std::fs::read(w.data.join("vault.json")).unwrap();
    let out = w.cli(&["sync"], Some("not the password")).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("[wrong_password]"), "{}", stderr(&out));
    let out = w.cli(&["order", "list"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("PAYDESK_PASSWORD"), "{}", stderr(&out));
    assert_eq!(std::fs::read(w.data.join("vault.json")).unwrap(), vault);
    // A folder with no desk.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_paydesk-cli"))
        .args(["sync", "--data-dir", path(empty.path())])
        .env("PAYDESK_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no set-up desk"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_apply_approve_sync_and_reject_from_a_script() {
    let w = world().await;
    w.order("RF1", 5_000, true, true).await;
    w.order("RF2", 3_000, true, true).await;
    assert_eq!(w.cli(&["sync"], Some(PASSWORD)).await.status.code(), Some(0));

    // An application entered at the desk, then approved in part.
    let out = w
        .cli(&["refund", "apply", "--order", "RF1", "--amount", "20.00", "--reason", "少发一件"], Some(PASSWORD))
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let app = json(&out);
    assert_eq!((app["status"].as_str(), app["amount_fen"].as_i64()), (Some("PENDING"), Some(2_000)));
    let id = app["id"].as_i64().unwrap().to_string();
    let out = w.cli(&["refund", "list"], Some(PASSWORD)).await;
    assert_eq!(json(&out)["applications"][0]["order"]["remaining_fen"], 5_000);
    let out = w.cli(&["refund", "approve", &id, "--amount", "12.50", "--desc", "部分退款"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let refund = json(&out);
    assert_eq!((refund["phase"].as_str(), refund["amount_fen"].as_i64()), (Some("processing"), Some(1_250)));
    let no = refund["out_refund_no"].as_str().unwrap().to_string();
    // WeChat settles it; the next refund round (cron) learns it.
    w.admin(&format!("/refunds/{no}/settle"), serde_json::json!({ "status": "SUCCESS" })).await;
    let r =
        w.ledger.refund_by_out_refund_no(w.merchant, &wxpay::OutRefundNo::new(&no).unwrap()).await.unwrap().unwrap();
    w.ledger.schedule_refund_check(r.id, Some(Utc::now()), None).await.unwrap();
    let out = w.cli(&["refund", "sync"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)[0]["status_after"], "SUCCESS");
    let out = w.cli(&["refund", "list", "--all"], Some(PASSWORD)).await;
    let listing = json(&out);
    assert_eq!(listing["refunds"][0]["phase"], "refunded");
    assert_eq!(listing["applications"][0]["order"]["remaining_fen"], 3_750);

    // A rejection needs a reason and keeps it; approving it afterwards is refused (exit 1).
    let out = w
        .cli(&["refund", "apply", "--order", "RF2", "--amount-fen", "3000", "--reason", "不满意"], Some(PASSWORD))
        .await;
    let id = json(&out)["id"].as_i64().unwrap().to_string();
    let out = w.cli(&["refund", "reject", &id, "--reason", "已超过七天无理由期"], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["decision_note"], "已超过七天无理由期");
    let out = w.cli(&["refund", "approve", &id], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("[invalid_input]"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bill_fetch_and_recon_exit_codes_tell_a_script_what_happened() {
    let w = world().await;
    let today = wxpay::BeijingTime::from_utc(Utc::now()).date();
    let day = today - chrono::Duration::days(5);
    // A payment at "WeChat" that the ledger never heard of.
    w.sim.sim.clock.set(wxpay::BeijingTime::parse_dashed(&format!("{day} 12:00:00")).unwrap().to_utc());
    w.admin(
        "/orders",
        serde_json::json!({ "out_trade_no": "CLI-UNKNOWN", "total_fee": 300, "notify_url": "http://127.0.0.1:9/x" }),
    )
    .await;
    w.admin("/orders/CLI-UNKNOWN/pay", serde_json::json!({})).await;
    w.sim.sim.clock.reset();

    let out = w.cli(&["bill", "fetch", "--date", &day.to_string()], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["outcome"], "imported");
    let out = w.cli(&["recon", "--date", &day.to_string()], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let day_json = json(&out);
    assert_eq!(day_json["discrepancies"][0]["kind"], "missing_in_ledger");
    assert_eq!(day_json["discrepancies"][0]["out_trade_no"], "CLI-UNKNOWN");
    assert_eq!(day_json["wechat"]["payments_fen"], 300);

    let out = w.cli(&["bill", "fetch", "--date", &today.to_string()], Some(PASSWORD)).await;
    assert_eq!((out.status.code(), json(&out)["outcome"].clone()), (Some(4), Value::from("not_yet")));
    let quiet = (today - chrono::Duration::days(20)).to_string();
    let out = w.cli(&["bill", "fetch", "--date", &quiet], Some(PASSWORD)).await;
    assert_eq!((out.status.code(), json(&out)["outcome"].clone()), (Some(5), Value::from("no_bill")));
    let out = w.cli(&["recon", "--date", &quiet], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let never = (today - chrono::Duration::days(30)).to_string();
    let out = w.cli(&["recon", "--date", &never], Some(PASSWORD)).await;
    assert_eq!(out.status.code(), Some(1), "no bill yet: {}", stderr(&out));
}
