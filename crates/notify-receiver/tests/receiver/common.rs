//! The harness: a fresh ledger per test on SQLite (a temporary file) or PostgreSQL (a fresh schema of the server
//! `scripts/with-postgres` starts), a receiver serving it over real HTTP on a free port (in this process, or the
//! real binary as a child process), and builders for signed notifications exactly as WeChat sends them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::Utc;
use ledger::{Engine, Ledger};
use notify_receiver::{Config, Merchant, Running, Secret};
use wxpay::notify::encrypt_req_info;
use wxpay::{sign, ApiKey, AppId, MchId, Message, SignType};

pub const MCH: &str = "1900000109";
pub const APPID: &str = "wx2421b1c4370ec43b";
pub const KEY: &str = "receiver0test0key000000000000109";
pub const TOKEN: &str = "shop-token-for-tests-0000000001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// One test's database.
#[derive(Debug)]
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        TestDb { kind: Kind::Sqlite, url, dir }
    }

    /// A fresh schema on the test server; `None` (skip) only when no server is configured and
    /// `PAYDESK_REQUIRE_POSTGRES` is not `1`.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(base) = std::env::var("PAYDESK_TEST_POSTGRES_URL") else {
            if std::env::var("PAYDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PAYDESK_REQUIRE_POSTGRES=1 but PAYDESK_TEST_POSTGRES_URL is not set: run under scripts/with-postgres");
            }
            eprintln!("skipping: PAYDESK_TEST_POSTGRES_URL is not set (run under scripts/with-postgres)");
            return None;
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "nr{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst),
            Utc::now().timestamp_subsec_nanos()
        );
        let admin = sqlx::PgPool::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={schema}");
        Some(TestDb { kind: Kind::Postgres, url, dir: tempfile::tempdir().unwrap() })
    }

    /// A ledger of its own on the same database (what the desktop would have), for setting up and checking.
    pub async fn ledger(&self) -> Ledger {
        let l = Ledger::open(&self.url).await.unwrap();
        assert_eq!(l.engine() == Engine::Sqlite, self.kind == Kind::Sqlite);
        l
    }

    pub fn config(&self) -> Config {
        let merchant = Merchant::new(MchId::new(MCH).unwrap(), AppId::new(APPID).unwrap(), ApiKey::new(KEY));
        let mut config = Config::new(self.url.clone(), vec![merchant], Secret::new(TOKEN));
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.shutdown_grace = Duration::from_secs(10);
        config
    }

    pub async fn receiver(&self) -> Receiver {
        self.receiver_with(self.config()).await
    }

    pub async fn receiver_with(&self, config: Config) -> Receiver {
        let running = notify_receiver::spawn(config).await.unwrap();
        Receiver { url: running.url(), running: Some(running), http: client() }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// A receiver in this process.
#[derive(Debug)]
pub struct Receiver {
    pub url: String,
    pub running: Option<Running>,
    pub http: reqwest::Client,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn is_success_ack(&self) -> bool {
        self.status == 200 && self.body == wxpay::notify::ACK_SUCCESS
    }

    /// The FAIL reason of a negative acknowledgement.
    pub fn fail_reason(&self) -> Option<String> {
        let m = Message::parse(self.body.as_bytes()).ok()?;
        (m.get("return_code") == Some("FAIL")).then(|| m.get("return_msg").unwrap_or("").to_string())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Receiver {
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> Answer {
        post(&self.http, &format!("{}{path}", self.url), body).await
    }

    pub async fn api(&self, method: reqwest::Method, path: &str, json: Option<serde_json::Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(TOKEN);
        if let Some(json) = json {
            req = req.json(&json);
        }
        let r = req.send().await.unwrap();
        Answer { status: r.status().as_u16(), body: r.text().await.unwrap() }
    }

    /// Registers an order through the shop API.
    pub async fn register(&self, out_trade_no: &str, amount: i64, sign_type: SignType) -> Answer {
        let body = serde_json::json!({
            "out_trade_no": out_trade_no, "amount": amount, "sign_type": sign_type.as_str(),
            "description": "小店-拿铁", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        });
        let a = self.api(reqwest::Method::POST, "/api/v1/orders", Some(body)).await;
        assert!(a.status == 201 || a.status == 200, "{a:?}");
        a
    }

    pub async fn shutdown(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }
}

pub async fn post(http: &reqwest::Client, url: &str, body: impl Into<reqwest::Body>) -> Answer {
    let r = http.post(url).header("content-type", "text/xml").body(body).send().await.unwrap();
    Answer { status: r.status().as_u16(), body: r.text().await.unwrap() }
}

/// A transaction id for test number `n`.
pub fn txn(n: u64) -> String {
    format!("42000004832024{n:014}")
}

/// The payment notification WeChat sends for a paid order (§6.1), signed with `sign_type`; like production, an
/// HMAC notification carries no `sign_type` field unless `declare` says so.
pub fn payment_xml(out_trade_no: &str, fen: i64, n: u64, sign_type: SignType, declare: bool) -> String {
    payment_xml_with_key(out_trade_no, fen, n, sign_type, declare, KEY)
}

pub fn payment_xml_with_key(
    out_trade_no: &str,
    fen: i64,
    n: u64,
    sign_type: SignType,
    declare: bool,
    key: &str,
) -> String {
    let mut m = Message::from_pairs([
        ("appid", APPID),
        ("bank_type", "CMB_DEBIT"),
        ("cash_fee", &fen.to_string()),
        ("fee_type", "CNY"),
        ("is_subscribe", "N"),
        ("mch_id", MCH),
        ("nonce_str", &format!("nonce{n}")),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        ("out_trade_no", out_trade_no),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("time_end", &wxpay::BeijingTime::from_utc(Utc::now()).to_compact()),
        ("total_fee", &fen.to_string()),
        ("trade_type", "JSAPI"),
        ("transaction_id", &txn(n)),
    ]);
    if declare {
        m.set("sign_type", sign_type.as_str());
    }
    sign::sign_in_place(&mut m, sign_type, &ApiKey::new(key));
    m.to_xml().unwrap()
}

/// The refund notification (§6.2): envelope plus `req_info` encrypted with the key.
pub fn refund_xml(
    out_trade_no: &str,
    n: u64,
    out_refund_no: &str,
    refund_id: &str,
    refund_fee: i64,
    total_fee: i64,
    key: &str,
) -> String {
    let inner = Message::from_pairs([
        ("out_refund_no", out_refund_no),
        ("out_trade_no", out_trade_no),
        ("refund_account", "REFUND_SOURCE_UNSETTLED_FUNDS"),
        ("refund_fee", &refund_fee.to_string()),
        ("refund_id", refund_id),
        ("refund_recv_accout", "支付用户零钱"),
        ("refund_request_source", "API"),
        ("refund_status", "SUCCESS"),
        ("settlement_refund_fee", &refund_fee.to_string()),
        ("settlement_total_fee", &total_fee.to_string()),
        ("success_time", "2024-06-01 12:30:00"),
        ("total_fee", &total_fee.to_string()),
        ("transaction_id", &txn(n)),
    ])
    .to_xml_with_root("root")
    .unwrap();
    Message::from_pairs([
        ("return_code", "SUCCESS"),
        ("appid", APPID),
        ("mch_id", MCH),
        ("nonce_str", "refundnonce"),
        ("req_info", &encrypt_req_info(&inner, &ApiKey::new(key))),
    ])
    .to_xml()
    .unwrap()
}

/// Waits until `check` holds, up to `secs`.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The receiver binary as a child process (kill -9, two processes), logging to a file.
#[derive(Debug)]
pub struct Process {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Process {
    /// Starts `notify-receiver` on a free port against `db`, waits until `/healthz` answers.
    pub async fn start(db: &TestDb, name: &str) -> Process {
        let port = free_port();
        let log = db.dir.path().join(format!("{name}.log"));
        let key_file = db.dir.path().join("merchant.key");
        write_private(&key_file, KEY);
        let child = Command::new(env!("CARGO_BIN_EXE_notify-receiver"))
            .env_clear()
            .env("NOTIFY_RECEIVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("NOTIFY_RECEIVER_DATABASE_URL", &db.url)
            .env("NOTIFY_RECEIVER_MERCHANTS", format!("{MCH}:{APPID}:file:{}", key_file.display()))
            .env("NOTIFY_RECEIVER_SHOP_TOKEN", TOKEN)
            .env("NOTIFY_RECEIVER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = client();
        let health = format!("{url}/healthz");
        eventually(30, "the receiver process answers /healthz", || {
            let http = http.clone();
            let health = health.clone();
            async move { http.get(&health).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        Process { child, url, log }
    }

    pub fn kill9(&mut self) {
        // std's kill is SIGKILL on Unix: no shutdown code runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The order as the ledger holds it.
pub async fn order(l: &Ledger, out_trade_no: &str) -> Option<ledger::Order> {
    let m = l.merchant_by_mch_id(&MchId::new(MCH).unwrap()).await.unwrap().unwrap();
    l.order_by_out_trade_no(m.id, &wxpay::OutTradeNo::new(out_trade_no).unwrap()).await.unwrap()
}

/// One stored notification, read with plain SQL (the ledger has no "list all" call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    pub kind: String,
    pub verification: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub body_len: i64,
}

pub async fn stored(db: &TestDb) -> Vec<StoredRow> {
    let sql = "SELECT kind, verification, outcome, outcome_reason, CAST(LENGTH(body) AS BIGINT) AS n FROM notifications ORDER BY id";
    match db.kind {
        Kind::Sqlite => {
            use sqlx::Row as _;
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows.iter()
                .map(|r| StoredRow {
                    kind: r.get("kind"),
                    verification: r.get("verification"),
                    outcome: r.get("outcome"),
                    reason: r.get("outcome_reason"),
                    body_len: r.get("n"),
                })
                .collect()
        }
        Kind::Postgres => {
            use sqlx::Row as _;
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            rows.iter()
                .map(|r| StoredRow {
                    kind: r.get("kind"),
                    verification: r.get("verification"),
                    outcome: r.get("outcome"),
                    reason: r.get("outcome_reason"),
                    body_len: r.get("n"),
                })
                .collect()
        }
    }
}

/// How many order-state facts (timeline `STATE` entries into SUCCESS) an order has: one effect means one.
pub async fn paid_facts(l: &Ledger, order: &ledger::Order) -> usize {
    l.timeline(order.id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "STATE" && e.to_state.as_deref() == Some("SUCCESS"))
        .count()
}
