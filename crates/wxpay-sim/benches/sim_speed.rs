//! How fast the simulator answers and notifies, so that it is never the bottleneck of the
//! receiver's load test. Prints:
//! - orderquery replies/s: many concurrent keep-alive HTTPS clients (one connection each) asking
//!   for the same paid order, MD5-signed requests, signed replies;
//! - notification deliveries/s: payments whose notifications the simulator delivers over HTTP to a
//!   minimal local acknowledger, first attempt to last acknowledgement.
//!
//! Run: `cargo bench -p wxpay-sim --bench sim_speed`. Knobs: SIM_BENCH_SECS (default 5),
//! SIM_BENCH_CLIENTS (32), SIM_BENCH_NOTIFICATIONS (100000). Loopback only; bounded in time and count.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::as_conversions,
    clippy::float_arithmetic,
    clippy::cast_possible_truncation
)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use wxpay::{sign, ApiKey, Message, SignType};
use wxpay_sim::{MerchantConfig, SimConfig};

const MCH: &str = "1900000109";
const APPID: &str = "wx2421b1c4370ec43b";
const KEY: &str = "bench0key0000000000000000000a109";

/// CPU seconds this process has used (user + system), from /proc on Linux; `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

/// "… this process used N CPU-s (P% of the machine)": the machine is shared, so the rate per CPU
/// second says more than the wall-clock rate when something else runs.
fn cpu_note(before: Option<f64>, wall: Duration, done: u64) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    match (before, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => format!(
            "process CPU {:.2} s = {:.0}% of {cores} cores → {:.0} per CPU-second",
            b - a,
            100.0 * (b - a) / (wall.as_secs_f64() * cores),
            done as f64 / (b - a)
        ),
        _ => String::new(),
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let secs = env_num("SIM_BENCH_SECS", 5);
        let clients = env_num("SIM_BENCH_CLIENTS", 32) as usize;
        let notifications = env_num("SIM_BENCH_NOTIFICATIONS", 100_000) as usize;
        let dir = tempfile::tempdir().unwrap();
        let mut merchant = MerchantConfig::new(MCH, APPID, KEY);
        merchant.refund_min_interval_secs = 0;
        let config = SimConfig {
            data_dir: dir.path().to_path_buf(),
            merchants: vec![merchant],
            notify_concurrency: 128,
            ..SimConfig::default()
        };
        let handle = wxpay_sim::spawn(config).await.unwrap();
        println!("wxpay-sim speed, {} cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        orderquery(&handle, clients, Duration::from_secs(secs)).await;
        deliveries(&handle, notifications).await;
    });
}

async fn orderquery(handle: &wxpay_sim::SimHandle, clients: usize, run_for: Duration) {
    // One paid order to ask about (its notification goes nowhere: connection refused, retried rarely).
    let order = handle
        .sim
        .unified_order(
            MCH,
            wxpay_sim::sim::NewOrder {
                appid: APPID.into(),
                out_trade_no: "BENCH-Q".into(),
                body: "bench".into(),
                attach: None,
                device_info: None,
                fee_type: "CNY".into(),
                total_fee: wxpay::Fen(100),
                spbill_create_ip: "127.0.0.1".into(),
                notify_url: "http://127.0.0.1:9/n".into(),
                trade_type: "NATIVE".into(),
                product_id: Some("P".into()),
                openid: None,
                time_expire: None,
                sign_type: SignType::Md5,
                params: Default::default(),
            },
        )
        .unwrap();
    handle.sim.pay(MCH, &order.out_trade_no, Default::default()).unwrap();
    let mut request = Message::from_pairs([
        ("appid", APPID),
        ("mch_id", MCH),
        ("nonce_str", "benchnonce"),
        ("out_trade_no", "BENCH-Q"),
    ]);
    sign::sign_request(&mut request, SignType::Md5, &ApiKey::new(KEY));
    let body = bytes::Bytes::from(request.to_xml().unwrap());
    let url = format!("{}/pay/orderquery", handle.base_url);
    let ca = reqwest::Certificate::from_pem(handle.ca_cert_pem.as_bytes()).unwrap();

    // Check one reply fully before timing.
    let probe = reqwest::Client::builder().add_root_certificate(ca.clone()).build().unwrap();
    let reply = probe.post(&url).body(body.clone()).send().await.unwrap().bytes().await.unwrap();
    let reply = Message::parse(&reply).unwrap();
    assert_eq!(reply.get("trade_state"), Some("SUCCESS"));
    sign::verify(&reply, Some(SignType::Md5), &ApiKey::new(KEY)).unwrap();

    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(handle.ca_cert_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let mut tasks = Vec::new();
    for _ in 0..clients {
        // A lean client: one TLS connection, hyper's HTTP/1.1 client, requests back to back. The
        // machine's two cores are shared with it, so the less it costs the more the simulator gets.
        let tcp = tokio::net::TcpStream::connect(handle.addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let stream = tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let (body, count, errors, stop) = (body.clone(), count.clone(), errors.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let request = hyper::Request::post("/pay/orderquery")
                    .header("host", "127.0.0.1")
                    .header("content-type", "text/xml")
                    .body(axum::body::Body::from(body.clone()))
                    .unwrap();
                match sender.send_request(request).await {
                    Ok(r) if r.status() == 200 => {
                        match axum::body::to_bytes(axum::body::Body::new(r.into_body()), 1 << 16).await {
                            Ok(b) if b.len() > 200 => count.fetch_add(1, Ordering::Relaxed),
                            _ => errors.fetch_add(1, Ordering::Relaxed),
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // connections up, warm
    let start_count = count.load(Ordering::Relaxed);
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    tokio::time::sleep(run_for).await;
    let done = count.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "orderquery: {:>8.0} replies/s  ({done} signed replies in {:.2} s, {clients} keep-alive HTTPS clients, {} errors)",
        done as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        errors.load(Ordering::Relaxed)
    );
    println!("            {}", cpu_note(cpu_before, elapsed, done));
}

/// A minimal merchant endpoint: HTTP/1.1 keep-alive, answers every POST with the SUCCESS ACK.
async fn acknowledger() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(|_body: axum::body::Bytes| async { wxpay::notify::ACK_SUCCESS }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn deliveries(handle: &wxpay_sim::SimHandle, n: usize) {
    let url = acknowledger().await;
    let sim = &handle.sim;
    let before = sim.delivery_counts();
    for i in 0..n {
        sim.unified_order(
            MCH,
            wxpay_sim::sim::NewOrder {
                appid: APPID.into(),
                out_trade_no: format!("BENCH-N{i}"),
                body: "bench".into(),
                attach: None,
                device_info: None,
                fee_type: "CNY".into(),
                total_fee: wxpay::Fen(100),
                spbill_create_ip: "127.0.0.1".into(),
                notify_url: url.clone(),
                trade_type: "NATIVE".into(),
                product_id: Some("P".into()),
                openid: None,
                time_expire: None,
                sign_type: if i % 2 == 0 { SignType::Md5 } else { SignType::HmacSha256 },
                params: Default::default(),
            },
        )
        .unwrap();
    }
    // The payments (and their signed notifications) are made first with deliveries held, then
    // released at once: what is timed is delivery alone.
    sim.hold_notifications(true);
    let paying = Instant::now();
    for i in 0..n {
        sim.pay(MCH, &format!("BENCH-N{i}"), Default::default()).unwrap();
        if i % 1000 == 999 {
            tokio::task::yield_now().await;
        }
    }
    let paid_in = paying.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await; // every delivery task is waiting
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    sim.hold_notifications(false);
    let deadline = started + Duration::from_secs(120);
    let mut ticker = tokio::time::interval(Duration::from_millis(2));
    loop {
        let c = sim.delivery_counts();
        if c.acknowledged - before.acknowledged >= n || Instant::now() > deadline {
            let elapsed = started.elapsed();
            let acked = c.acknowledged - before.acknowledged;
            println!(
                "notifications: {:>8.0} deliveries/s  ({acked} of {n} acknowledged in {:.2} s, {} attempts; making the {n} payments took {:.2} s before)",
                acked as f64 / elapsed.as_secs_f64(),
                elapsed.as_secs_f64(),
                c.attempts - before.attempts,
                paid_in.as_secs_f64()
            );
            println!("               {}", cpu_note(cpu_before, elapsed, acked as u64));
            return;
        }
        ticker.tick().await;
    }
}
