//! The harness: a simulator per test (free port, temporary data dir, notifications switched off so that only
//! status sync can learn anything), a desk set up against it in a temporary data directory, and helpers to play
//! the shop backend (register an order in the ledger, create it at "WeChat") and the customer (pay it).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use ledger::{Ledger, MerchantId, NewOrder, Source};
use paydesk_core::contract::{CertSource, MerchantInput, SetupInput};
use paydesk_core::setup::SandboxLocator;
use paydesk_core::vault::KdfParams;
use paydesk_core::{Core, CoreOptions, Secret};
use wxpay::{Fen, OutTradeNo, SignType};
use wxpay_sim::{Faults, MerchantConfig, SimConfig, SimHandle};

pub const MCH: &str = "1900000109";
pub const APPID: &str = "wx2421b1c4370ec43b";
/// The key of wxpay-sim's sample config: the sandbox defaults know it.
pub const KEY: &str = "sandbox0key0for0paydesk0demo0001";
pub const OWNER_PASSWORD: &str = "correct horse battery";
/// Cheap Argon2id for most tests; `vault::the_default_kdf_is_argon2id_with_64_mib` uses the real cost.
pub const FAST_KDF: KdfParams = KdfParams { m_cost_kib: 1024, t_cost: 1, p_cost: 1 };

/// Which ledger a test runs on.
#[derive(Debug, Clone)]
pub enum Engine {
    Sqlite,
    Postgres(String),
}

impl Engine {
    /// `None` (skip) only when no server is configured and `PAYDESK_REQUIRE_POSTGRES` is not `1`.
    pub fn postgres() -> Option<Engine> {
        match std::env::var("PAYDESK_TEST_POSTGRES_URL") {
            Ok(url) => Some(Engine::Postgres(url)),
            Err(_) if std::env::var("PAYDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") => {
                panic!("PAYDESK_REQUIRE_POSTGRES=1 but PAYDESK_TEST_POSTGRES_URL is not set: run under scripts/with-postgres")
            }
            Err(_) => {
                eprintln!("skipping: PAYDESK_TEST_POSTGRES_URL is not set (run under scripts/with-postgres)");
                None
            }
        }
    }

    /// The ledger URL for a new desk: `None` (the default SQLite file) or a fresh PostgreSQL schema.
    async fn ledger_url(&self) -> Option<String> {
        match self {
            Engine::Sqlite => None,
            Engine::Postgres(base) => {
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let nanos = Utc::now().timestamp_subsec_nanos();
                let schema = format!("core{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst), nanos);
                let admin = sqlx::PgPool::connect(base).await.unwrap();
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                Some(format!("{base}{sep}options[search_path]={schema}"))
            }
        }
    }
}

pub struct Sim {
    pub handle: SimHandle,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub async fn sim() -> Sim {
    sim_with(KEY).await
}

/// A simulator with merchant MCH signing with `key`; notifications are never sent.
pub async fn sim_with(key: &str) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let mut m = MerchantConfig::new(MCH, APPID, key);
    m.balance_fen = 1_000_000;
    let config = SimConfig {
        data_dir: dir.path().join("sim"),
        merchants: vec![m],
        time_factor: 1000,
        refund_delay_ms: 50,
        ..SimConfig::default()
    };
    let handle = wxpay_sim::spawn(config).await.unwrap();
    handle.sim.set_merchant_faults(MCH, Faults { notify_lost: true, ..Faults::default() }).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(handle.ca_cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    Sim { handle, dir, http }
}

impl Sim {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("sim")
    }

    pub fn locator(&self) -> SandboxLocator {
        SandboxLocator {
            data_dir: Some(self.data_dir()),
            base_url: Some(self.handle.base_url.clone()),
            ..SandboxLocator::default()
        }
    }

    pub async fn admin(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let reply = self
            .http
            .post(format!("{}/admin/merchants/{MCH}{path}", self.handle.base_url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let body: serde_json::Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// The shop backend's unifiedorder (through the simulator's customer side).
    pub async fn create_order(&self, out_trade_no: &str, total_fee: i64) {
        self.admin(
            "/orders",
            serde_json::json!({
                "out_trade_no": out_trade_no, "total_fee": total_fee, "body": "拿铁",
                "notify_url": "http://127.0.0.1:9/never",
            }),
        )
        .await;
    }

    /// The customer pays.
    pub async fn pay(&self, out_trade_no: &str) {
        self.admin(&format!("/orders/{out_trade_no}/pay"), serde_json::json!({ "bank_type": "CMB_DEBIT" })).await;
    }

    /// The order's state at "WeChat".
    pub fn state(&self, out_trade_no: &str) -> String {
        self.handle.sim.query_order(MCH, Some(out_trade_no), None).unwrap().trade_state.as_str().to_string()
    }
}

/// Options pointing at the test's simulator, with a cheap KDF and WeChat's one-refund-request-a-minute rule
/// shortened to half a second (the rule is kept; the tests wait for it).
pub fn options(sim: &Sim) -> CoreOptions {
    CoreOptions {
        kdf: FAST_KDF,
        sandbox: sim.locator(),
        refund_min_interval: chrono::Duration::milliseconds(500),
        ..CoreOptions::default()
    }
}

pub struct Desk {
    pub core: Core,
    /// The desk's data directory, removed at the end of the test.
    pub _dir: tempfile::TempDir,
    pub ledger: Ledger,
    pub merchant: MerchantId,
    /// The ledger's URL (for raw SQL in tests that need a state the flows take a year to reach).
    pub url: String,
}

pub fn setup_input(p12_path: &str, ledger_url: Option<String>) -> SetupInput {
    SetupInput {
        merchant: MerchantInput { appid: APPID.into(), mch_id: MCH.into(), sign_type: SignType::Md5 },
        api_key: Secret::from(KEY),
        source: Some(CertSource::P12 { path: p12_path.into(), password: None }),
        sandbox: true,
        ledger_url: ledger_url.map(Secret::from),
        owner_name: "王老板".into(),
        owner_password: Secret::from(OWNER_PASSWORD),
    }
}

/// A desk set up against `sim` through the sandbox defaults, unlocked, on `engine`.
pub async fn desk(engine: &Engine, sim: &Sim) -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(dir.path().join("data"), options(sim)).unwrap();
    let defaults = core.setup_sandbox_defaults().await.unwrap();
    let url = engine.ledger_url().await;
    core.setup_complete(setup_input(&defaults.p12_path, url.clone())).await.unwrap();
    let url = url.unwrap_or_else(|| core.paths().default_ledger_url());
    let ledger = Ledger::open(&url).await.unwrap();
    let merchant = ledger.merchant_by_mch_id(&wxpay::MchId::new(MCH).unwrap()).await.unwrap().unwrap().id;
    Desk { core, _dir: dir, ledger, merchant, url }
}

impl Desk {
    /// Runs raw SQL outside the ledger: states the flows would take a year to reach, and tampering.
    pub async fn raw(&self, sql: &str) -> u64 {
        if self.url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            let n = sqlx::raw_sql(sql).execute(&pool).await.unwrap().rows_affected();
            pool.close().await;
            n
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            let n = sqlx::raw_sql(sql).execute(&pool).await.unwrap().rows_affected();
            pool.close().await;
            n
        }
    }

    /// The shop backend registers an order (as the receiver would), placed at `placed_at`, first check now.
    pub async fn register(&self, out_trade_no: &str, total_fee: i64, placed_at: DateTime<Utc>, watch: bool) {
        self.ledger
            .register_order(&NewOrder {
                merchant: self.merchant,
                out_trade_no: OutTradeNo::new(out_trade_no).unwrap(),
                appid: Some(wxpay::AppId::new(APPID).unwrap()),
                sign_type: SignType::Md5,
                trade_type: Some(wxpay::TradeType::Native),
                total_fee: Fen(total_fee),
                body: Some("拿铁".into()),
                attach: None,
                placed_at,
                time_expire: None,
                next_check_at: watch.then(Utc::now),
                origin: Source::ShopBackend,
            })
            .await
            .unwrap();
    }

    pub async fn order(&self, out_trade_no: &str) -> ledger::Order {
        self.ledger
            .order_by_out_trade_no(self.merchant, &OutTradeNo::new(out_trade_no).unwrap())
            .await
            .unwrap()
            .unwrap()
    }
}

/// A unique out_trade_no for this test run.
pub fn no(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}{}{}", Utc::now().timestamp_millis() % 1_000_000_000, NEXT.fetch_add(1, Ordering::SeqCst))
}
