//! Shared set-up: a simulator per test (free port, temporary data dir, fast clocks), `wxpay` clients
//! for its merchants, raw HTTPS posts, admin calls, and a local acknowledger that receives
//! notifications the way a merchant's server would.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;
use wxpay::api::{Merchant, WxPayClient};
use wxpay::client::{ClientConfig, ClientIdentity, HttpTransport};
use wxpay::{sign, ApiKey, AppId, MchId, Message, SignType};
use wxpay_sim::{MerchantConfig, SimConfig, SimHandle};

pub const MCH: &str = "1900000109";
pub const APPID: &str = "wx2421b1c4370ec43b";
pub const KEY: &str = "sim0test0key0000000000000000a109";
pub const MCH2: &str = "1900000110";
pub const APPID2: &str = "wx2421b1c4370ec43c";
pub const KEY2: &str = "sim0test0key0000000000000000b110";

pub struct Sim {
    pub handle: SimHandle,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

/// A simulator with two merchants, a 1000× notification schedule, 50 ms refund settlement and the
/// one-refund-a-minute rule off (tests that need it turn it on).
pub async fn start() -> Sim {
    start_with(|_| {}).await
}

pub async fn start_with(adjust: impl FnOnce(&mut SimConfig)) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let mut m1 = MerchantConfig::new(MCH, APPID, KEY);
    m1.balance_fen = 1_000_000;
    m1.refund_min_interval_secs = 0;
    let mut m2 = MerchantConfig::new(MCH2, APPID2, KEY2);
    m2.refund_min_interval_secs = 0;
    let mut config = SimConfig {
        data_dir: dir.path().join("sim"),
        merchants: vec![m1, m2],
        time_factor: 1000,
        refund_delay_ms: 50,
        notify_timeout_ms: 2000,
        ..SimConfig::default()
    };
    adjust(&mut config);
    let handle = wxpay_sim::spawn(config).await.unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(handle.ca_cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    Sim { handle, dir, http }
}

impl Sim {
    pub fn key(mch: &str) -> ApiKey {
        ApiKey::new(if mch == MCH2 { KEY2 } else { KEY })
    }

    pub fn merchant(mch: &str, sign_type: SignType) -> Merchant {
        Merchant {
            appid: AppId::new(if mch == MCH2 { APPID2 } else { APPID }).unwrap(),
            mch_id: MchId::new(mch).unwrap(),
            key: Sim::key(mch),
            sign_type,
        }
    }

    /// A `wxpay` client; with the merchant's API certificate (issued now, loaded from the .p12 as
    /// WeChat's download would be) when `cert_for` names a merchant.
    pub fn client(&self, mch: &str, sign_type: SignType, cert_for: Option<&str>) -> WxPayClient {
        let mut config =
            ClientConfig::sandbox(self.handle.base_url.clone(), self.handle.ca_cert_pem.as_bytes().to_vec());
        if let Some(owner) = cert_for {
            let dir = self.issue_cert(owner);
            let p12 = std::fs::read(dir.join("apiclient_cert.p12")).unwrap();
            config.identity = Some(ClientIdentity::from_wechat_pkcs12(&p12, owner).unwrap());
        }
        WxPayClient::new(Sim::merchant(mch, sign_type), HttpTransport::new(config).unwrap())
    }

    /// Issues `mch`'s certificate into a fresh directory and returns it.
    pub fn issue_cert(&self, mch: &str) -> std::path::PathBuf {
        let dir = self.dir.path().join(format!("cert-{mch}-{}", rand::random::<u32>()));
        self.handle.issue_client_cert(mch, &dir).unwrap();
        dir
    }

    /// POSTs a raw body to a WeChat path (no client certificate) and parses the XML reply.
    pub async fn post_raw(&self, path: &str, body: impl Into<String>) -> Message {
        let reply = self.http.post(format!("{}{path}", self.handle.base_url)).body(body.into()).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        Message::parse(&reply.bytes().await.unwrap()).unwrap()
    }

    /// POSTs a request signed by hand (fields as given, then `sign`).
    pub async fn post_signed(&self, path: &str, fields: &[(&str, &str)], sign_type: SignType, mch: &str) -> Message {
        let mut m = Message::from_pairs(fields.iter().copied());
        sign::sign_request(&mut m, sign_type, &Sim::key(mch));
        self.post_raw(path, m.to_xml().unwrap()).await
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}/admin{path}", self.handle.base_url));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let reply = req.send().await.unwrap();
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn admin_ok(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.admin(method, path, body).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// Creates an order through the admin API (as a shop backend would) and returns its JSON.
    pub async fn create_order(&self, mch: &str, body: Value) -> Value {
        self.admin_ok(reqwest::Method::POST, &format!("/merchants/{mch}/orders"), Some(body)).await
    }

    /// Creates and pays an order of `fen`; returns its transaction_id.
    pub async fn paid_order(&self, mch: &str, out_trade_no: &str, fen: i64, notify_url: &str) -> String {
        let o = self
            .create_order(mch, serde_json::json!({"out_trade_no": out_trade_no, "total_fee": fen, "notify_url": notify_url, "pay": {}}))
            .await;
        o["transaction_id"].as_str().unwrap().to_string()
    }

    pub async fn set_clock(&self, at: &str) {
        self.admin_ok(reqwest::Method::POST, "/clock", Some(serde_json::json!({ "set": at }))).await;
    }

    pub async fn faults(&self, mch: &str, faults: Value) {
        self.admin_ok(reqwest::Method::PUT, &format!("/merchants/{mch}/faults"), Some(faults)).await;
    }
}

/// Where notifications of tests that do not look at them go (nothing listens: connection refused).
pub const NOWHERE: &str = "http://127.0.0.1:9/notify";

/// A merchant's notification endpoint: records every body, refuses the first `fail_first` with a
/// FAIL acknowledgement, then answers SUCCESS.
#[derive(Clone)]
pub struct Acknowledger {
    pub url: String,
    state: Arc<Mutex<AckState>>,
}

struct AckState {
    fail_first: usize,
    received: Vec<(Instant, Vec<u8>)>,
}

impl Acknowledger {
    pub async fn start(fail_first: usize) -> Acknowledger {
        let state = Arc::new(Mutex::new(AckState { fail_first, received: Vec::new() }));
        let app = axum::Router::new().route("/notify", post(ack)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Acknowledger { url, state }
    }

    pub fn received(&self) -> Vec<(Instant, Vec<u8>)> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` bodies arrived (or fails after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<(Instant, Vec<u8>)> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "only {} of {n} notifications arrived", got.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn ack(State(state): State<Arc<Mutex<AckState>>>, body: Bytes) -> String {
    let mut s = state.lock().unwrap();
    s.received.push((Instant::now(), body.to_vec()));
    if s.received.len() <= s.fail_first {
        wxpay::notify::ack_fail("busy")
    } else {
        wxpay::notify::ACK_SUCCESS.to_string()
    }
}

/// Polls `check` every 10 ms until it holds (or fails after `within`).
pub async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}
