//! How many payment notifications the receiver takes, durably committed, and how fast it answers. It runs the real
//! `notify-receiver` binary (release build) as a child process against SQLite (a temporary file) and, when a server
//! is configured, PostgreSQL; drives it over loopback with keep-alive HTTP/1.1 connections (as WeChat's servers
//! do) carrying realistic signed notifications (MD5 and HMAC-SHA256 without `sign_type`, for registered orders),
//! one in five a duplicate of an earlier one; and prints:
//!
//! - sustained: closed loop, `RECEIVER_BENCH_CONNECTIONS` (64) connections back to back — notifications/s, p50/p99;
//! - fixed rates (`RECEIVER_BENCH_RATES`, default 1000,2000,5000 per second), open loop, latency measured from each
//!   request's scheduled time (no coordinated omission) — achieved rate, p50/p99/p99.9/max;
//! - the check: every SUCCESS answered is an APPLIED or DUPLICATE row in the ledger, one APPLIED per order.
//!
//! Run: `cargo bench -p notify-receiver --bench receiver_bench`
//! (PostgreSQL too: `scripts/with-postgres cargo bench -p notify-receiver --bench receiver_bench`).
//! Knobs: RECEIVER_BENCH_SECS (10 per phase), RECEIVER_BENCH_CONNECTIONS, RECEIVER_BENCH_RATES.
//! The client runs on the same 2 cores as the receiver (and the database): figures are for the whole box.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    clippy::float_arithmetic,
    clippy::cast_possible_truncation
)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use ledger::{ImportedOrder, Ledger, MerchantSettings, Source};
use wxpay::{sign, ApiKey, AppId, BeijingTime, Fen, MchId, Message, OutTradeNo, SignType, TradeState};

const MCH: &str = "1900000109";
const APPID: &str = "wx2421b1c4370ec43b";
const KEY: &str = "bench0key0000000000000000000a109";
const TOKEN: &str = "bench-shop-token-000000000000001";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds used by a process (user + system), from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn order_no(i: u64) -> String {
    format!("BENCH{i:08}")
}

fn fen(i: u64) -> i64 {
    100 + (i % 9000) as i64
}

fn sign_type(i: u64) -> SignType {
    if i % 2 == 0 {
        SignType::Md5
    } else {
        SignType::HmacSha256
    }
}

/// The notification for order `i`, as WeChat sends it (no `sign_type` field, §3.5).
fn notification(i: u64, key: &ApiKey) -> Bytes {
    let total = fen(i).to_string();
    let mut m = Message::from_pairs([
        ("appid", APPID),
        ("bank_type", "CMB_DEBIT"),
        ("cash_fee", total.as_str()),
        ("fee_type", "CNY"),
        ("is_subscribe", "N"),
        ("mch_id", MCH),
        ("nonce_str", &format!("n{i:010}")),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        ("out_trade_no", &order_no(i)),
        ("result_code", "SUCCESS"),
        ("return_code", "SUCCESS"),
        ("time_end", &BeijingTime::from_utc(Utc::now()).to_compact()),
        ("total_fee", total.as_str()),
        ("trade_type", "JSAPI"),
        ("transaction_id", &format!("4200000483{i:018}")),
    ]);
    sign::sign_in_place(&mut m, sign_type(i), key);
    Bytes::from(m.to_xml().unwrap())
}

/// Send number `k` of a phase starting at unique order `base`: four new orders, then a duplicate of an earlier one.
fn order_for(base: u64, k: u64) -> (u64, bool) {
    if k % 5 == 4 {
        let uniques_so_far = (k / 5) * 4 + 4;
        (base + uniques_so_far / 2, true)
    } else {
        (base + k - k / 5, false)
    }
}

fn uniques_in(sends: u64) -> u64 {
    sends - sends / 5
}

struct Receiver {
    child: Child,
    addr: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_receiver(db_url: &str, dir: &std::path::Path) -> Receiver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let key_file = dir.join("merchant.key");
    std::fs::write(&key_file, KEY).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // RECEIVER_BENCH_CPU=N runs the receiver on that CPU only (taskset), to see what thread hand-offs cost.
    let mut command = match std::env::var("RECEIVER_BENCH_CPU") {
        Ok(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu, env!("CARGO_BIN_EXE_notify-receiver")]);
            c
        }
        Err(_) => Command::new(env!("CARGO_BIN_EXE_notify-receiver")),
    };
    for (k, v) in std::env::vars().filter(|(k, _)| k.starts_with("NOTIFY_RECEIVER_")) {
        command.env(k, v);
    }
    let child = command
        .env("NOTIFY_RECEIVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("NOTIFY_RECEIVER_DATABASE_URL", db_url)
        .env("NOTIFY_RECEIVER_MERCHANTS", format!("{MCH}:{APPID}:file:{}", key_file.display()))
        .env("NOTIFY_RECEIVER_SHOP_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("receiver.log")).unwrap())
        .spawn()
        .unwrap();
    let receiver = Receiver { child, addr: format!("127.0.0.1:{port}") };
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(&receiver.addr).await.is_ok() {
            return receiver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the receiver did not start; see {}", dir.join("receiver.log").display());
}

type Sender = hyper::client::conn::http1::SendRequest<axum::body::Body>;

async fn connect(addr: &str) -> Sender {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    sender
}

/// Sends one notification; true when the answer is WeChat's SUCCESS acknowledgement.
async fn send(sender: &mut Sender, body: Bytes) -> bool {
    let request = hyper::Request::post("/wxpay/notify/pay")
        .header("host", "receiver")
        .header("content-type", "text/xml")
        .body(axum::body::Body::from(body))
        .unwrap();
    match sender.send_request(request).await {
        Ok(r) if r.status() == 200 => match r.into_body().collect().await {
            Ok(b) => b.to_bytes() == wxpay::notify::ACK_SUCCESS.as_bytes(),
            Err(_) => false,
        },
        _ => false,
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    acked: u64,
    failed: u64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

struct PhaseResult {
    sends: u64,
    tally: Tally,
    wall: Duration,
    cpu: Option<f64>,
}

fn report(name: &str, r: &mut PhaseResult) {
    r.tally.latencies_us.sort_unstable();
    let l = &r.tally.latencies_us;
    let secs = r.wall.as_secs_f64();
    let cpu = match r.cpu {
        Some(c) => format!(", receiver CPU {:.0}% of one core", 100.0 * c / secs),
        None => String::new(),
    };
    println!(
        "  {name:<22} {:>7.0} notifications/s acknowledged  p50 {:>6.2} ms  p99 {:>6.2} ms  p99.9 {:>6.2} ms  max {:>7.2} ms  ({} sent, {} FAIL/errors, {:.1} s{cpu})",
        r.tally.acked as f64 / secs,
        percentile(l, 0.50),
        percentile(l, 0.99),
        percentile(l, 0.999),
        l.last().copied().unwrap_or(0) as f64 / 1000.0,
        r.sends,
        r.tally.failed,
        secs
    );
}

/// Closed loop: `connections` connections back to back for `secs`.
async fn sustained(
    addr: &str,
    bodies: &Arc<Vec<Bytes>>,
    base: u64,
    connections: usize,
    secs: u64,
    pid: u32,
) -> PhaseResult {
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..connections {
        senders.push(connect(addr).await);
    }
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now();
    for mut sender in senders {
        let (next, stop, bodies) = (next.clone(), stop.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while !stop.load(Ordering::Relaxed) {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let (i, _) = order_for(base, k);
                let Some(body) = bodies.get(i as usize) else { break };
                let t = Instant::now();
                if send(&mut sender, body.clone()).await {
                    tally.acked += 1;
                } else {
                    tally.failed += 1;
                }
                tally.latencies_us.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            tally
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    for t in tasks {
        let part = t.await.unwrap();
        tally.acked += part.acked;
        tally.failed += part.failed;
        tally.latencies_us.extend(part.latencies_us);
    }
    let wall = started.elapsed();
    let cpu = cpu_before.zip(cpu_seconds(pid)).map(|(a, b)| b - a);
    PhaseResult { sends: next.load(Ordering::Relaxed).min(tally.acked + tally.failed), tally, wall, cpu }
}

/// Open loop at `rate` per second over `connections` connections, each on its own schedule; latency counts from
/// the scheduled moment, so a slow answer that delays the next request is charged to it.
async fn fixed_rate(addr: &str, bodies: &Arc<Vec<Bytes>>, base: u64, rate: u64, secs: u64, pid: u32) -> PhaseResult {
    let connections = (rate / 50).clamp(4, 128);
    let total = rate * secs;
    let interval = Duration::from_secs_f64(connections as f64 / rate as f64);
    let mut senders = Vec::new();
    for _ in 0..connections {
        senders.push(connect(addr).await);
    }
    let cpu_before = cpu_seconds(pid);
    let started = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::new();
    for (c, mut sender) in senders.into_iter().enumerate() {
        let bodies = bodies.clone();
        let offset = interval.mul_f64(c as f64 / connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = 0u64;
            loop {
                let k = n * connections + c as u64;
                if k >= total {
                    return tally;
                }
                let due = started + offset + interval.mul_f64(n as f64);
                tokio::time::sleep_until(due.into()).await;
                let (i, _) = order_for(base, k);
                if send(&mut sender, bodies[i as usize].clone()).await {
                    tally.acked += 1;
                } else {
                    tally.failed += 1;
                }
                tally.latencies_us.push(due.elapsed().as_micros().min(u32::MAX as u128) as u32);
                n += 1;
            }
        }));
    }
    let mut tally = Tally::default();
    for t in tasks {
        let part = t.await.unwrap();
        tally.acked += part.acked;
        tally.failed += part.failed;
        tally.latencies_us.extend(part.latencies_us);
    }
    let wall = started.elapsed();
    let cpu = cpu_before.zip(cpu_seconds(pid)).map(|(a, b)| b - a);
    PhaseResult { sends: total, tally, wall, cpu }
}

async fn prepare(url: &str, orders: u64) {
    let l = Ledger::open(url).await.unwrap();
    let m = l
        .upsert_merchant(
            &MerchantSettings {
                mch_id: MchId::new(MCH).unwrap(),
                appid: AppId::new(APPID).unwrap(),
                name: "bench".into(),
                sign_type: SignType::Md5,
                api_base_url: None,
                refund_reauth_above: None,
            },
            "bench",
            Utc::now(),
        )
        .await
        .unwrap();
    let now = Utc::now();
    let batch: Vec<ImportedOrder> = (0..orders)
        .map(|i| ImportedOrder {
            merchant: m.id,
            out_trade_no: OutTradeNo::new(order_no(i)).unwrap(),
            transaction_id: None,
            sign_type: sign_type(i),
            trade_type: None,
            trade_state: TradeState::NotPay,
            total_fee: Fen(fen(i)),
            placed_at: now,
            paid_at: None,
            body: Some("bench".into()),
        })
        .collect();
    l.import_orders(&batch, Source::ShopBackend).await.unwrap();
    l.analyze().await.unwrap();
    l.close().await;
}

/// Every acknowledged notification is in the ledger; one APPLIED per order paid.
async fn check(url: &str, acked: u64, orders_paid: u64) {
    let count = |sql: &'static str| async move {
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            n
        }
    };
    let applied = count("SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE outcome = 'APPLIED'").await;
    let answered =
        count("SELECT CAST(COUNT(*) AS BIGINT) FROM notifications WHERE outcome IN ('APPLIED', 'DUPLICATE')").await;
    let paid = count("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE trade_state = 'SUCCESS'").await;
    let facts =
        count("SELECT CAST(COUNT(*) AS BIGINT) FROM order_events WHERE kind = 'STATE' AND to_state = 'SUCCESS'").await;
    println!(
        "  check: {acked} acknowledged → {answered} stored APPLIED/DUPLICATE ({applied} APPLIED), {paid} orders paid, {facts} payment facts"
    );
    assert!(answered as u64 >= acked, "an acknowledged notification is missing from the ledger");
    assert_eq!(applied, paid, "one APPLIED per paid order");
    assert_eq!(paid, facts, "one payment fact per paid order");
    assert!(paid as u64 <= orders_paid);
}

async fn run_engine(name: &str, url: &str, dir: &std::path::Path) {
    let secs = env_num("RECEIVER_BENCH_SECS", 10);
    let connections = env_num("RECEIVER_BENCH_CONNECTIONS", 64) as usize;
    let rates: Vec<u64> = std::env::var("RECEIVER_BENCH_RATES")
        .unwrap_or_else(|_| "1000,2000,5000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    // Enough orders for every phase: the sustained phase is bounded by 20,000 sends a second.
    let sustained_max = 20_000 * secs;
    let fixed_total: u64 = rates.iter().map(|r| r * secs).sum();
    let orders = uniques_in(sustained_max) + uniques_in(fixed_total) + 1000;
    let t = Instant::now();
    prepare(url, orders).await;
    let key = ApiKey::new(KEY);
    let bodies: Arc<Vec<Bytes>> = Arc::new((0..orders).map(|i| notification(i, &key)).collect());
    println!(
        "{name}: {orders} registered orders and their signed notifications prepared in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let receiver = start_receiver(url, dir).await;
    let pid = receiver.child.id();
    // Warm up: connections, statement caches.
    let _ = fixed_rate(&receiver.addr, &bodies, 0, 200, 1, pid).await;
    let mut base = uniques_in(200) + 1;
    let mut acked = 0;
    let mut r = sustained(&receiver.addr, &bodies, base, connections, secs, pid).await;
    acked += r.tally.acked;
    report(&format!("sustained ({connections} conns)"), &mut r);
    base += uniques_in(r.sends) + 1;
    for rate in rates {
        let mut r = fixed_rate(&receiver.addr, &bodies, base, rate, secs, pid).await;
        acked += r.tally.acked;
        report(&format!("fixed {rate}/s"), &mut r);
        base += uniques_in(r.sends) + 1;
    }
    drop(receiver);
    check(url, acked, base).await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        println!(
            "notify-receiver bench: {} cores, 20% duplicates, MD5 + HMAC-SHA256 notifications without sign_type",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("ledger.db").display());
        run_engine("SQLite (WAL, synchronous=NORMAL)", &sqlite, dir.path()).await;
        let pg = std::env::var("RECEIVER_BENCH_POSTGRES_URL").or_else(|_| std::env::var("PAYDESK_TEST_POSTGRES_URL"));
        match pg {
            Ok(base) => {
                let schema = format!("bench{}", std::process::id());
                let admin = sqlx::PgPool::connect(&base).await.unwrap();
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options[search_path]={schema}");
                let pg_dir = tempfile::tempdir().unwrap();
                run_engine("PostgreSQL", &url, pg_dir.path()).await;
            }
            Err(_) => {
                println!("PostgreSQL: skipped (set RECEIVER_BENCH_POSTGRES_URL or run under scripts/with-postgres)")
            }
        }
    });
}
