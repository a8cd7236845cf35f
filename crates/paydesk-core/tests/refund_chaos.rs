//! The refund chaos test (ARCHITECTURE.md §3 "Refund"): wxpay-sim answers SYSTEMERROR (before and after doing the
//! work) and replies too slowly for the desk's timeout, loses the first attempt of every notification and sends the
//! rest twice at once and again after the acknowledgement, while two paydesk-core instances on one ledger approve the
//! same refund applications at the same time and both run refund rounds. Then:
//!
//! - every application was approved exactly once (the other desk was told it was already decided, or was stopped by
//!   a guard), and has exactly one refund in the ledger, with the amount of the desk that won;
//! - the simulator (read through its admin API) holds exactly one refund per approved application, with that
//!   out_refund_no and amount, and no refund the ledger does not know;
//! - every refund ended terminal (SUCCESS / REFUNDCLOSE / FAILED) or flagged for a person — while the faults were on,
//!   and again after the owner retried the ones whose automatic attempts ran out;
//! - each order's refunded total is what WeChat refunded, its reservation is what its refunds hold and never more
//!   than the order, and its refund requests were at least the minimum interval apart (across both desks);
//! - the audit chain verifies, with one `refund.approve` per approved application.
//!
//! The cast: one wxpay-sim with the receiver as its notification URL (payment and refund), both in this process; two
//! desks, each set up with `setup_complete` against the same ledger (the second setup finds the merchant row there),
//! then reopened with short call timeouts and unlocked; 12 orders paid at the simulator and learned from its
//! notifications, 20 applications from the shop backend (each request sent twice) and the desk, one order asked for
//! more than it holds. Some orders' refunds settle REFUNDCLOSE or CHANGE, one stays PROCESSING until settled by hand
//! through the admin API, one order's refund calls all fail while the faults are on (its attempts run out).
//!
//! PostgreSQL (two desktops sharing a server: required under `PAYDESK_REQUIRE_POSTGRES=1`, skipped otherwise) and
//! SQLite (the desktop and the CLI on one file). The desks' timeouts and refund interval are shortened, and where
//! the real schedule would wait minutes the test makes the next check due at once; everything asserted is an outcome,
//! never a timing. Run: `scripts/with-postgres cargo test -p paydesk-core --test refund_chaos -- --nocapture`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use ledger::{ApplicationId, ApplicationStatus, AuditResult, Ledger, MerchantId, Refund, RefundState};
use paydesk_core::contract::{CertSource, MerchantInput, RefundPhase, RefundView, SetupInput};
use paydesk_core::setup::SandboxLocator;
use paydesk_core::vault::KdfParams;
use paydesk_core::{Core, CoreError, CoreOptions, CoreResult, Locale, Secret};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Value};
use wxpay::{OutTradeNo, RefundStatus, SignType};
use wxpay_sim::{Faults, MerchantConfig, SimConfig, SimHandle};

const MCH: &str = "1900000109";
const APPID: &str = "wx2421b1c4370ec43b";
/// The key of wxpay-sim's sample config: the sandbox defaults know it.
const KEY: &str = "sandbox0key0for0paydesk0demo0001";
const OWNER_PASSWORD: &str = "correct horse battery";
const SHOP_TOKEN: &str = "shop-token-for-the-chaos-test-01";
const FAST_KDF: KdfParams = KdfParams { m_cost_kib: 1024, t_cost: 1, p_cost: 1 };

/// The desks give up on a call to WeChat after this long; the faults make some replies slower.
const CALL_TIMEOUT: StdDuration = StdDuration::from_millis(300);
/// Slower than [`CALL_TIMEOUT`]: the desk times out (and the simulator may or may not have done the work).
const SLOW_REPLY_MS: u64 = 600;
/// The desks' one-refund-request-per-order interval (WeChat: a minute).
const MIN_INTERVAL_MS: i64 = 250;
const ORDERS: usize = 12;
/// How long each phase may take before the test fails with what is still open.
const PHASE_LIMIT: StdDuration = StdDuration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_desks_approve_the_same_applications_under_faults_and_every_refund_ends_right() {
    let Some(base) = postgres_base() else { return };
    let url = fresh_schema(&base).await;
    chaos("PG", url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_desk_and_cli_approve_the_same_applications_under_faults_and_every_refund_ends_right() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
    chaos("SQ", url).await;
}

/// `None` (skip) only when no server is configured and `PAYDESK_REQUIRE_POSTGRES` is not `1`.
fn postgres_base() -> Option<String> {
    match std::env::var("PAYDESK_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("PAYDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
            panic!(
                "PAYDESK_REQUIRE_POSTGRES=1 but PAYDESK_TEST_POSTGRES_URL is not set: run under scripts/with-postgres"
            )
        }
        Err(_) => {
            eprintln!("skipping: PAYDESK_TEST_POSTGRES_URL is not set (run under scripts/with-postgres)");
            None
        }
    }
}

/// A fresh schema on the test server: the one ledger of both desks and the receiver.
async fn fresh_schema(base: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "chaos{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_subsec_nanos()
    );
    let admin = sqlx::PgPool::connect(base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options[search_path]={schema}")
}

// ---- The cast -----------------------------------------------------------------------------------------------------

/// How WeChat settles an order's refunds (per-order faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    RefundClose,
    Change,
    /// PROCESSING until settled by hand through the admin API (the test does it once the refund is there).
    Stuck,
    /// Every refund call naming the order is answered SYSTEMERROR while the faults are on: the automatic attempts
    /// run out and the owner retries once they are off. Then SUCCESS.
    Unreachable,
}

#[derive(Debug, Clone)]
struct OrderCase {
    no: String,
    total: i64,
    outcome: Outcome,
}

/// One refund application and what each desk approves of it.
#[derive(Debug, Clone)]
struct AppCase {
    order: usize,
    id: i64,
    amount: i64,
    /// Desk B approves a fen less on some applications: the refund must carry the amount of the desk that won.
    amount_b: i64,
}

/// WeChat as the test drives it: the simulator in this process and its admin API over HTTPS.
#[derive(Debug, Clone)]
struct Admin {
    base_url: String,
    http: reqwest::Client,
}

impl Admin {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}/admin{path}", self.base_url));
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let reply = request.send().await.unwrap();
        let status = reply.status();
        let bytes = reply.bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
        assert!(status.is_success(), "admin {path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    /// The merchant's faults, and each special order's own (an order's faults replace its merchant's, so they
    /// carry the same call and delivery faults plus how its refunds settle).
    async fn set_faults(&self, orders: &[OrderCase], base: &Faults, chaos: bool) {
        self.put(&format!("/merchants/{MCH}/faults"), serde_json::to_value(base).unwrap()).await;
        for o in orders.iter().filter(|o| o.outcome != Outcome::Success) {
            let mut f = base.clone();
            match o.outcome {
                Outcome::RefundClose => f.refund_outcome = Some(RefundStatus::RefundClose),
                Outcome::Change => f.refund_outcome = Some(RefundStatus::Change),
                Outcome::Stuck => f.refund_stuck = true,
                Outcome::Unreachable if chaos => f.system_error_percent = 100,
                Outcome::Unreachable | Outcome::Success => {}
            }
            self.put(&format!("/merchants/{MCH}/orders/{}/faults", o.no), serde_json::to_value(&f).unwrap()).await;
        }
    }

    /// Every refund the simulator holds for the merchant.
    async fn refunds(&self) -> Vec<SimRefund> {
        let list = self.get(&format!("/merchants/{MCH}/refunds")).await;
        list.as_array()
            .unwrap_or_else(|| panic!("refunds: not a list: {list}"))
            .iter()
            .map(|r| SimRefund {
                out_refund_no: r["out_refund_no"].as_str().unwrap().to_string(),
                out_trade_no: r["out_trade_no"].as_str().unwrap().to_string(),
                refund_fee: r["refund_fee"].as_i64().unwrap(),
                status: r["refund_status"].as_str().unwrap().to_string(),
                settles_by_itself: !r["planned_outcome"].is_null(),
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct SimRefund {
    out_refund_no: String,
    out_trade_no: String,
    refund_fee: i64,
    status: String,
    settles_by_itself: bool,
}

/// The receiver in this process: WeChat's notifications and the shop backend's API, on the desks' ledger.
struct Receiver {
    running: notify_receiver::Running,
    url: String,
    http: reqwest::Client,
}

impl Receiver {
    async fn spawn(ledger_url: &str) -> Receiver {
        let merchant = notify_receiver::Merchant::new(
            wxpay::MchId::new(MCH).unwrap(),
            wxpay::AppId::new(APPID).unwrap(),
            wxpay::ApiKey::new(KEY),
        );
        let mut config =
            notify_receiver::Config::new(ledger_url, vec![merchant], notify_receiver::Secret::new(SHOP_TOKEN));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.shutdown_grace = StdDuration::from_secs(10);
        let running = notify_receiver::spawn(config).await.unwrap();
        let url = running.url();
        Receiver { running, url, http: reqwest::Client::new() }
    }

    /// The shop backend's API: `(status, body)`.
    async fn api(&self, path: &str, body: Value) -> (u16, Value) {
        let reply = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(SHOP_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
    }
}

/// A desk (a desktop, or the CLI) set up against the simulator on the shared ledger, unlocked by its owner.
#[derive(Clone)]
struct Desk {
    name: &'static str,
    core: Core,
    _dir: Arc<tempfile::TempDir>,
}

async fn desk(name: &'static str, owner: &str, sim: &SimHandle, sim_dir: &std::path::Path, ledger_url: &str) -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let options = CoreOptions {
        kdf: FAST_KDF,
        sandbox: SandboxLocator {
            data_dir: Some(sim_dir.to_path_buf()),
            base_url: Some(sim.base_url.clone()),
            ..SandboxLocator::default()
        },
        refund_min_interval: Duration::milliseconds(MIN_INTERVAL_MS),
        ..CoreOptions::default()
    };
    // Set up with the usual timeouts (the sandbox issues the API certificate, which takes a while on a busy
    // machine), then opened again — the app restarted — with the short ones, and unlocked by the owner.
    let setup = Core::open(dir.path().join("data"), options.clone()).unwrap();
    let defaults = setup.setup_sandbox_defaults().await.unwrap();
    setup
        .setup_complete(SetupInput {
            merchant: MerchantInput { appid: APPID.into(), mch_id: MCH.into(), sign_type: SignType::Md5 },
            api_key: Secret::from(KEY),
            source: Some(CertSource::P12 { path: defaults.p12_path.clone(), password: None }),
            sandbox: true,
            ledger_url: Some(Secret::from(ledger_url.to_string())),
            owner_name: owner.into(),
            owner_password: Secret::from(OWNER_PASSWORD),
        })
        .await
        .unwrap();
    setup.vault_lock().await;
    let options = CoreOptions { connect_timeout: StdDuration::from_secs(2), timeout: CALL_TIMEOUT, ..options };
    let core = Core::open(dir.path().join("data"), options).unwrap();
    core.vault_unlock(OWNER_PASSWORD).await.unwrap();
    Desk { name, core, _dir: Arc::new(dir) }
}

/// What one desk's `refund_approve` came to.
#[derive(Debug, Clone)]
enum Verdict {
    Approved { out_refund_no: String, amount: i64 },
    AlreadyDecided,
    Guard(String),
    Other(String),
}

fn verdict(app: &AppCase, amount: i64, result: CoreResult<RefundView>) -> Verdict {
    match result {
        Ok(view) => {
            assert_eq!(view.application_id, Some(app.id), "{view:?}");
            Verdict::Approved { out_refund_no: view.out_refund_no, amount }
        }
        Err(e @ CoreError::InvalidInput(_)) if e.to_ui(Locale::En).message.contains("already decided") => {
            Verdict::AlreadyDecided
        }
        Err(e @ CoreError::RefundGuard(_)) => Verdict::Guard(e.to_ui(Locale::En).message),
        Err(e) => Verdict::Other(format!("{e} ({:?})", e.to_ui(Locale::En))),
    }
}

fn settled(r: &Refund) -> bool {
    matches!(r.status, RefundState::Success | RefundState::RefundClose | RefundState::Failed) || r.flag_reason.is_some()
}

fn describe(r: &Refund) -> String {
    format!(
        "{} {} {} fen attempts {} flag {:?} last_error {:?} next_check {:?}",
        r.out_refund_no,
        r.status,
        r.amount.get(),
        r.attempts,
        r.flag_reason,
        r.last_error_code,
        r.next_check_at
    )
}

/// Everything the background work shares.
struct World {
    desks: [Desk; 2],
    ledger: Ledger,
    admin: Admin,
    orders: Vec<OrderCase>,
    /// `outcome` of every refund step of every round, and of the other calls, counted.
    tally: Mutex<BTreeMap<String, usize>>,
}

impl World {
    fn count(&self, what: impl Into<String>) {
        *self.tally.lock().unwrap().entry(what.into()).or_insert(0) += 1;
    }

    async fn refunds(&self) -> Vec<Refund> {
        self.ledger.recent_refunds(1000).await.unwrap()
    }

    /// One round on both desks at once; then what a person or the clock would do: settle a stuck refund at
    /// WeChat, make the next checks due now instead of in minutes, sometimes press "query now".
    async fn step(&self, iteration: u64) {
        let (a, b) = tokio::join!(self.desks[0].core.refund_round(), self.desks[1].core.refund_round());
        for (desk, round) in [(&self.desks[0], a), (&self.desks[1], b)] {
            match round {
                Ok(steps) => {
                    for s in steps {
                        let outcome = match &s.error {
                            Some(e) => format!("round:error:{}: {}", e.code, e.message),
                            None => format!("round:{}", s.outcome),
                        };
                        self.count(outcome);
                    }
                }
                Err(e) => self.count(format!("round failed on desk {}: {e}", desk.name)),
            }
        }
        if iteration % 8 == 7 {
            for r in self.admin.refunds().await {
                let stuck = self.orders.iter().any(|o| o.no == r.out_trade_no && o.outcome == Outcome::Stuck);
                if stuck && r.status == "PROCESSING" && !r.settles_by_itself {
                    self.admin
                        .post(
                            &format!("/merchants/{MCH}/refunds/{}/settle", r.out_refund_no),
                            json!({"status": "SUCCESS"}),
                        )
                        .await;
                    self.count("settled by hand at WeChat");
                }
            }
        }
        let now = Utc::now();
        let refunds = self.refunds().await;
        for r in refunds.iter().filter(|r| !settled(r) && r.next_check_at.is_some_and(|t| t > now)) {
            self.ledger.schedule_refund_check(r.id, Some(now), None).await.unwrap();
        }
        if iteration % 5 == 4 {
            let open: Vec<&Refund> = refunds.iter().filter(|r| !settled(r)).collect();
            if let Some(r) = open.get(usize::try_from(iteration).unwrap_or(0) % open.len().max(1)) {
                let desk = &self.desks[usize::try_from(iteration % 2).unwrap()];
                match desk.core.refund_query_now(r.out_refund_no.as_str()).await {
                    Ok(_) => self.count("query_now:ok"),
                    Err(e) => self.count(format!("query_now:error:{}", e.code())),
                }
            }
        }
    }

    /// Steps until every refund is settled (terminal or flagged) and `done` says so too, or the phase limit.
    async fn run_until_settled(&self, phase: &str, first_iteration: u64, done: impl Fn() -> bool) -> u64 {
        let started = Instant::now();
        let mut iteration = first_iteration;
        loop {
            self.step(iteration).await;
            iteration += 1;
            let refunds = self.refunds().await;
            if done() && refunds.iter().all(settled) {
                return iteration;
            }
            if started.elapsed() > PHASE_LIMIT {
                let open: Vec<String> = refunds.iter().filter(|r| !settled(r)).map(describe).collect();
                panic!(
                    "{phase}: after {} iterations ({:?}) these refunds are neither terminal nor flagged for a person:\n  {}\n\
                     steps so far: {:#?}",
                    iteration - first_iteration,
                    started.elapsed(),
                    open.join("\n  "),
                    self.tally.lock().unwrap()
                );
            }
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
    }
}

/// Faults that change every 150 ms until stopped: 25 % SYSTEMERROR, now and then a couple of calls that are carried
/// out and answered SYSTEMERROR anyway, and now and then replies slower than the desks wait; notifications lose
/// their first attempt, come twice at once and again after the acknowledgement.
fn chaos_faults(step: u32, rng: &mut StdRng) -> Faults {
    const LATENCIES: [u64; 6] = [0, 0, 0, 0, 80, SLOW_REPLY_MS];
    Faults {
        system_error_percent: 25,
        system_error_next: if step == 0 { 3 } else { u32::from(step % 7 == 0) },
        system_error_after_apply_next: if step == 0 || step % 3 == 0 { 2 } else { 0 },
        latency_ms: if step == 0 { 0 } else { LATENCIES[rng.gen_range(0..LATENCIES.len())] },
        ..calm_faults()
    }
}

/// No call faults; the notifications still misbehave.
fn calm_faults() -> Faults {
    Faults { notify_drop_first: 1, notify_duplicate: true, notify_concurrent: true, ..Faults::default() }
}

async fn chaos(tag: &str, ledger_url: String) {
    let started = Instant::now();
    let receiver = Receiver::spawn(&ledger_url).await;
    let sim_dir = tempfile::tempdir().unwrap();
    let mut merchant = MerchantConfig::new(MCH, APPID, KEY);
    merchant.balance_fen = 100_000_000;
    merchant.refund_notify_url = Some(format!("{}/wxpay/notify/refund", receiver.url));
    // The desks keep the one-request-a-minute rule, shortened to MIN_INTERVAL_MS; WeChat's own (a minute, on new
    // refunds) would answer FREQUENCY_LIMITED to an order's second refund for the rest of the test.
    merchant.refund_min_interval_secs = 0;
    let sim = wxpay_sim::spawn(SimConfig {
        data_dir: sim_dir.path().join("sim"),
        merchants: vec![merchant],
        time_factor: 1000,
        refund_delay_ms: 30,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let admin = Admin {
        base_url: sim.base_url.clone(),
        http: reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(sim.ca_cert_pem.as_bytes()).unwrap())
            .build()
            .unwrap(),
    };
    let a = desk("A", "王老板", &sim, &sim_dir.path().join("sim"), &ledger_url).await;
    let b = desk("B", "王太太", &sim, &sim_dir.path().join("sim"), &ledger_url).await;
    let ledger = Ledger::open(&ledger_url).await.unwrap();
    let merchant_id: MerchantId =
        ledger.merchant_by_mch_id(&wxpay::MchId::new(MCH).unwrap()).await.unwrap().unwrap().id;
    admin.set_faults(&[], &calm_faults(), false).await;

    // The shop: orders registered with the receiver, paid at WeChat, learned from the (misbehaving) notifications.
    let orders: Vec<OrderCase> = (0..ORDERS)
        .map(|i| OrderCase {
            no: format!("CHAOS{tag}{i:02}"),
            total: 1_000 + 137 * i64::try_from(i).unwrap(),
            outcome: match i {
                3 => Outcome::Stuck,
                4 | 10 => Outcome::RefundClose,
                5 | 11 => Outcome::Change,
                6 => Outcome::Unreachable,
                _ => Outcome::Success,
            },
        })
        .collect();
    for o in &orders {
        let (status, body) = receiver
            .api(
                "/api/v1/orders",
                json!({"out_trade_no": o.no, "amount": o.total, "sign_type": "MD5", "description": "拿铁"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        admin
            .post(
                &format!("/merchants/{MCH}/orders"),
                json!({
                    "out_trade_no": o.no, "total_fee": o.total, "body": "拿铁",
                    "notify_url": format!("{}/wxpay/notify", receiver.url), "pay": {"bank_type": "CMB_DEBIT"},
                }),
            )
            .await;
    }
    let waiting_since = Instant::now();
    let mut order_ids = Vec::new();
    for o in &orders {
        loop {
            let order =
                ledger.order_by_out_trade_no(merchant_id, &OutTradeNo::new(o.no.as_str()).unwrap()).await.unwrap();
            if let Some(order) = order.filter(|x| x.trade_state.is_paid()) {
                order_ids.push(order.id);
                break;
            }
            assert!(waiting_since.elapsed() < PHASE_LIMIT, "{} was never learned paid from the notifications", o.no);
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
    }
    admin.set_faults(&orders, &calm_faults(), false).await;

    // The customers ask: one or two applications per order, from the shop backend (each request sent twice, as a
    // backend retrying would) or entered at a desk. Order 0 is asked for more than it holds: one application at the
    // shop for 70 %, one at the desk for 60 % — only one of them can be refunded.
    let mut apps: Vec<AppCase> = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let shares: &[(i64, bool)] = match i {
            0 => &[(70, false), (60, true)],
            _ if i % 3 == 1 => &[(100, false)],
            _ if i % 3 == 2 => &[(40, false), (35, false)],
            _ => &[(30, false), (50, true)],
        };
        for (k, (share, at_desk)) in shares.iter().enumerate() {
            let amount = o.total * share / 100;
            let id = if *at_desk {
                b.core.refund_application_create(&o.no, amount, "顾客到店要求退款").await.unwrap().id
            } else {
                let body = json!({"out_trade_no": o.no, "amount": amount, "reason": "少做一杯", "request_id": format!("{}-{k}", o.no)});
                let (status, first) = receiver.api("/api/v1/refund-applications", body.clone()).await;
                assert_eq!(status, 201, "{first}");
                let (status, again) = receiver.api("/api/v1/refund-applications", body).await;
                assert_eq!(status, 200, "the repeated request is the same application: {again}");
                assert_eq!(again["id"], first["id"]);
                first["id"].as_i64().unwrap()
            };
            let amount_b = if i % 2 == 1 { amount - 1 } else { amount };
            apps.push(AppCase { order: i, id, amount, amount_b });
        }
    }
    eprintln!("[{tag}] {} orders paid, {} applications, in {:?}", orders.len(), apps.len(), started.elapsed());

    // Chaos: the faults change under the desks while both approve every application at once and both run rounds.
    let world = Arc::new(World {
        desks: [a.clone(), b.clone()],
        ledger: ledger.clone(),
        admin: admin.clone(),
        orders: orders.clone(),
        tally: Mutex::new(BTreeMap::new()),
    });
    let (stop_faults, mut faults_stopped) = tokio::sync::watch::channel(false);
    let driver = {
        let (admin, orders) = (admin.clone(), orders.clone());
        tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(0x0005_EED0_C4A0);
            let mut step = 0u32;
            loop {
                admin.set_faults(&orders, &chaos_faults(step, &mut rng), true).await;
                step += 1;
                tokio::select! {
                    _ = faults_stopped.wait_for(|s| *s) => return step,
                    () = tokio::time::sleep(StdDuration::from_millis(150)) => {}
                }
            }
        })
    };
    let approvals_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pump = {
        let (world, approvals_done) = (world.clone(), approvals_done.clone());
        tokio::spawn(async move { world.run_until_settled("chaos", 0, || approvals_done.load(Ordering::SeqCst)).await })
    };

    let mut verdicts: Vec<Vec<(&'static str, Verdict)>> = vec![Vec::new(); apps.len()];
    let mut blocked_for_good: Vec<usize> = Vec::new();
    let mut open: Vec<usize> = (0..apps.len()).collect();
    let mut passes = 0;
    while !open.is_empty() {
        passes += 1;
        assert!(passes <= 60, "applications still PENDING after {passes} passes: {open:?} {verdicts:?}");
        let mut handles = Vec::new();
        for &k in &open {
            for (desk, amount) in [(&a, apps[k].amount), (&b, apps[k].amount_b)] {
                let (core, app, name) = (desk.core.clone(), apps[k].clone(), desk.name);
                handles.push(tokio::spawn(async move {
                    let result =
                        core.refund_approve(app.id, amount, Some("少做一杯，退款"), Some(OWNER_PASSWORD)).await;
                    (k, name, verdict(&app, amount, result))
                }));
            }
        }
        for h in handles {
            let (k, name, v) = h.await.unwrap();
            match &v {
                Verdict::Approved { .. } => world.count("approve:ok"),
                Verdict::AlreadyDecided => world.count("approve:already_decided"),
                Verdict::Guard(why) => {
                    world.count("approve:guard");
                    eprintln!("[{tag}] desk {name}, application {}: {why}", apps[k].id);
                }
                Verdict::Other(what) => world.count(format!("approve:other:{what}")),
            }
            verdicts[k].push((name, v));
        }
        let mut still = Vec::new();
        for &k in &open {
            let app = ledger.refund_application(ApplicationId(apps[k].id)).await.unwrap();
            if app.status == ApplicationStatus::Pending {
                let check = a.core.refund_guards(apps[k].id, apps[k].amount).await.unwrap();
                let failing: Vec<&str> = check.guards.iter().filter(|g| !g.ok).map(|g| g.name).collect();
                if failing == ["remainder"] {
                    blocked_for_good.push(k);
                } else {
                    // The interval guard (a request on the order less than the interval ago), or a desk that could
                    // not reach the ledger: the owner approves again a moment later.
                    still.push(k);
                }
            }
        }
        open = still;
        if !open.is_empty() {
            tokio::time::sleep(StdDuration::from_millis(u64::try_from(MIN_INTERVAL_MS).unwrap() + 30)).await;
        }
    }
    approvals_done.store(true, Ordering::SeqCst);
    let iterations = pump.await.unwrap();
    let _ = stop_faults.send(true);
    let fault_changes = driver.await.unwrap();
    let after_chaos = world.refunds().await;
    let flagged: Vec<String> = after_chaos.iter().filter(|r| r.flag_reason.is_some()).map(describe).collect();
    eprintln!(
        "[{tag}] chaos over after {passes} approval passes, {iterations} rounds per desk, {fault_changes} fault changes, \
         {:?}; flagged for a person:\n  {}",
        started.elapsed(),
        flagged.join("\n  ")
    );
    for r in &after_chaos {
        assert!(settled(r), "after the chaos: {}", describe(r));
        let order = &orders[order_ids.iter().position(|id| *id == r.order_id).unwrap()];
        if order.outcome == Outcome::Unreachable {
            assert_eq!(r.status, RefundState::Created, "{}", describe(r));
            assert_eq!(r.flag_reason.as_deref(), Some("RETRIES_EXHAUSTED"), "{}", describe(r));
            assert_eq!(r.attempts, paydesk_core::refunds::MAX_SEND_ATTEMPTS, "{}", describe(r));
        }
    }

    // The owner: faults gone, retries the refunds whose automatic attempts ran out (same number, same amount; the
    // desk asks WeChat first). CHANGE stays with the owner: it is settled in the merchant platform.
    admin.set_faults(&orders, &calm_faults(), false).await;
    for (n, r) in after_chaos
        .iter()
        .filter(|r| r.status == RefundState::Created && r.flag_reason.as_deref() == Some("RETRIES_EXHAUSTED"))
        .enumerate()
    {
        let desk = &world.desks[n % 2];
        match desk.core.refund_retry(r.out_refund_no.as_str(), Some(OWNER_PASSWORD)).await {
            Ok(view) => {
                assert_eq!(view.amount_fen, r.amount.get());
                assert_eq!(view.out_refund_no, r.out_refund_no.as_str());
                world.count("person:retry");
            }
            // An earlier attempt did reach WeChat and its notification arrived meanwhile: nothing to retry.
            Err(e) => {
                let now = ledger.refund(r.id).await.unwrap();
                assert_ne!(now.status, RefundState::Created, "retry refused ({e}) for {}", describe(&now));
                world.count("person:retry:moved meanwhile");
            }
        }
    }
    world.run_until_settled("after the owner's retries", iterations, || true).await;
    // The copies WeChat sends after an acknowledgement may still be on their way.
    let waiting_since = Instant::now();
    loop {
        let stats = admin.get("/stats").await;
        if stats["pending"].as_u64() == Some(0) {
            break;
        }
        assert!(waiting_since.elapsed() < PHASE_LIMIT, "notifications still pending: {stats}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    let stats = admin.get("/stats").await;
    receiver.running.shutdown().await.unwrap();

    // ---- What must hold -------------------------------------------------------------------------------------------
    let tally = world.tally.lock().unwrap().clone();
    eprintln!("[{tag}] steps: {tally:#?}\n[{tag}] notifications: {stats}");
    let refunds = world.refunds().await;
    let at_wechat = admin.refunds().await;

    // Each application approved exactly once; the other desk was told it was already decided or stopped by a guard.
    let mut already_decided = 0;
    for (k, app) in apps.iter().enumerate() {
        let won: Vec<&(&str, Verdict)> =
            verdicts[k].iter().filter(|(_, v)| matches!(v, Verdict::Approved { .. })).collect();
        let others: Vec<&(&str, Verdict)> =
            verdicts[k].iter().filter(|(_, v)| matches!(v, Verdict::Other(_))).collect();
        assert!(others.is_empty(), "application {} ({k}): unexpected errors {others:?}", app.id);
        already_decided += verdicts[k].iter().filter(|(_, v)| matches!(v, Verdict::AlreadyDecided)).count();
        let in_ledger: Vec<&Refund> =
            refunds.iter().filter(|r| r.application_id == Some(ApplicationId(app.id))).collect();
        let stored = ledger.refund_application(ApplicationId(app.id)).await.unwrap();
        if blocked_for_good.contains(&k) {
            assert!(won.is_empty(), "{:?}", verdicts[k]);
            assert!(in_ledger.is_empty(), "{in_ledger:?}");
            assert_eq!(stored.status, ApplicationStatus::Pending);
            continue;
        }
        assert_eq!(won.len(), 1, "application {} ({k}) approved {} times: {:?}", app.id, won.len(), verdicts[k]);
        assert_eq!(stored.status, ApplicationStatus::Approved);
        assert_eq!(in_ledger.len(), 1, "application {}: refunds {in_ledger:?}", app.id);
        let (desk, Verdict::Approved { out_refund_no, amount }) = won[0] else { unreachable!() };
        let refund = in_ledger[0];
        assert_eq!(refund.out_refund_no.as_str(), out_refund_no.as_str(), "application {}", app.id);
        assert_eq!(refund.amount.get(), *amount, "application {}: the amount desk {desk} approved", app.id);
        let winner = if *desk == "A" { "desk:王老板" } else { "desk:王太太" };
        assert_eq!(stored.decided_by.as_deref(), Some(winner));
    }
    // Order 0 was asked for more than it holds: exactly one of its applications was refunded.
    let order0: Vec<usize> = (0..apps.len()).filter(|k| apps[*k].order == 0).collect();
    assert_eq!(blocked_for_good.len(), 1, "{blocked_for_good:?}");
    assert!(order0.contains(&blocked_for_good[0]));
    // Every refund in the ledger is one of an application: nothing was found at WeChat that the desks did not make.
    assert!(refunds.iter().all(|r| r.application_id.is_some()), "{refunds:?}");
    assert_eq!(refunds.len(), apps.len() - 1);

    // At WeChat: exactly one refund per approved application, with its number and amount; nothing else.
    for r in &at_wechat {
        let known = refunds.iter().find(|l| l.out_refund_no.as_str() == r.out_refund_no);
        let known = known.unwrap_or_else(|| panic!("WeChat has a refund the ledger does not know: {r:?}"));
        assert_eq!(r.refund_fee, known.amount.get(), "{r:?} vs {}", describe(known));
    }
    for r in &refunds {
        let copies: Vec<&SimRefund> =
            at_wechat.iter().filter(|w| w.out_refund_no == r.out_refund_no.as_str()).collect();
        let order = &orders[order_ids.iter().position(|id| *id == r.order_id).unwrap()];
        match r.status {
            RefundState::Failed => assert!(copies.is_empty(), "refused yet at WeChat: {}", describe(r)),
            RefundState::Created | RefundState::Processing => panic!("not finished: {}", describe(r)),
            RefundState::Success | RefundState::RefundClose | RefundState::Change => {
                assert_eq!(copies.len(), 1, "{}: {copies:?}", describe(r));
                assert_eq!(copies[0].out_trade_no, order.no);
                assert_eq!(copies[0].status, r.status.as_str(), "{}", describe(r));
            }
        }
        // Terminal, or flagged for a person (and shown so).
        assert!(settled(r), "{}", describe(r));
        let view = world.desks[0].core.refund_detail(r.out_refund_no.as_str()).await.unwrap();
        if r.flag_reason.is_some() && !matches!(r.status, RefundState::Failed) {
            assert_eq!(view.phase, RefundPhase::NeedsOwner, "{view:?}");
            assert!(view.advice.is_some(), "{view:?}");
        }
        let expected = match order.outcome {
            Outcome::Success | Outcome::Stuck | Outcome::Unreachable => RefundState::Success,
            Outcome::RefundClose => RefundState::RefundClose,
            Outcome::Change => RefundState::Change,
        };
        assert_eq!(r.status, expected, "{}", describe(r));
    }

    // The orders' money, and the interval between refund requests across both desks.
    for (o, id) in orders.iter().zip(&order_ids) {
        let order = ledger.order(*id).await.unwrap();
        let mine: Vec<&Refund> = refunds.iter().filter(|r| r.order_id == *id).collect();
        let refunded: i64 = at_wechat
            .iter()
            .filter(|w| w.out_trade_no == o.no && w.status == RefundStatus::Success.as_str())
            .map(|w| w.refund_fee)
            .sum();
        assert_eq!(order.refunded_total.get(), refunded, "{}: refunded total vs WeChat", o.no);
        let holding: i64 = mine.iter().filter(|r| r.status.holds_money()).map(|r| r.amount.get()).sum();
        assert_eq!(order.refund_reserved.get(), holding, "{}: reserved vs its refunds", o.no);
        assert!(
            order.refund_reserved <= order.total_fee,
            "{}: reserved {} of {}",
            o.no,
            order.refund_reserved,
            order.total_fee
        );
        assert_eq!(order.refund_count, i64::try_from(mine.len()).unwrap(), "{}", o.no);
        // WeChat's order turned REFUND with its first accepted refund, however that refund ended and whatever the
        // ledger heard first (a REFUNDCLOSE heard before the accepting reply once left it at SUCCESS).
        let at_wechat_order = admin.get(&format!("/merchants/{MCH}/orders/{}", o.no)).await;
        assert_eq!(at_wechat_order["order"]["trade_state"].as_str(), Some(order.trade_state.as_str()), "{}", o.no);
        let requests: Vec<chrono::DateTime<Utc>> =
            ledger.timeline(*id).await.unwrap().iter().filter(|e| e.kind == "REFUND_ATTEMPT").map(|e| e.at).collect();
        assert!(requests.len() >= mine.len(), "{}: {requests:?}", o.no);
        let mut sorted = requests.clone();
        sorted.sort();
        for pair in sorted.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::milliseconds(MIN_INTERVAL_MS),
                "{}: refund requests {} and {} are closer than {MIN_INTERVAL_MS} ms",
                o.no,
                pair[0],
                pair[1]
            );
        }
    }

    // The audit chain holds; one `refund.approve` per approved application.
    let chain = ledger.verify_audit_chain().await.unwrap();
    assert!(chain.first_broken.is_none(), "{chain:?}");
    let mut audit = Vec::new();
    loop {
        let page = ledger.audit_entries(audit.last().map_or(0, |e: &ledger::AuditEntry| e.seq), 1000).await.unwrap();
        if page.is_empty() {
            break;
        }
        audit.extend(page);
    }
    for (k, app) in apps.iter().enumerate().filter(|(k, _)| !blocked_for_good.contains(k)) {
        let subject = format!("refund_application:{}", app.id);
        let ok = audit
            .iter()
            .filter(|e| e.action == "refund.approve" && e.subject == subject && e.result == AuditResult::Ok)
            .count();
        assert_eq!(ok, 1, "application {} ({k}): {ok} refund.approve entries", app.id);
    }
    eprintln!(
        "[{tag}] ok in {:?}: {} refunds for {} applications ({} approvals refused as already decided), {} audit \
         entries, chain of {} verified",
        started.elapsed(),
        refunds.len(),
        apps.len(),
        already_decided,
        audit.len(),
        chain.entries_checked
    );
    // The faults did happen (the first fault set answers the next three calls SYSTEMERROR).
    let failures: usize =
        tally.iter().filter(|(k, _)| k.contains("failed:") || k.contains("error")).map(|(_, n)| n).sum();
    let failed_sends = refunds.iter().filter(|r| r.last_error_code.is_some()).count();
    assert!(failures + failed_sends > 0, "no fault reached the desks: {tally:?}");

    for d in &world.desks {
        d.core.vault_lock().await;
    }
    ledger.close().await;
    sim.shutdown().await;
}
