//! The ledger benchmark: fills 1,000,000 orders through the bulk path, then prints p50 / p95 of the queries the
//! desktop runs (order list first page and a deep keyset page with filters, lookups by out_trade_no, by
//! transaction_id and by prefix, per-day totals) and the bill-row bulk insert rate, on SQLite and — when
//! `PAYDESK_TEST_POSTGRES_URL` is set (run under `scripts/with-postgres`) — on PostgreSQL.
//!
//! `cargo bench -p ledger --bench ledger_bench`. Knobs: `LEDGER_BENCH_ORDERS` (default 1000000),
//! `LEDGER_BENCH_SQLITE_PATH` (keep the SQLite file there for EXPLAIN), `LEDGER_BENCH_SKIP_SQLITE=1`,
//! `LEDGER_BENCH_KEEP_PG=1` (keep the PostgreSQL data in schema `bench_keep`).
//! Goals (issue 4): list page p95 ≤ 20 ms, lookup p95 ≤ 2 ms, bulk insert ≥ 200,000 rows/s on SQLite.

// Timings and rates are figures for people, not money: floats and `as` are fine here.
#![allow(clippy::float_arithmetic, clippy::as_conversions, clippy::cast_precision_loss)]

use std::error::Error;
use std::future::Future;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ledger::*;
use wxpay::{AppId, FeeAmount, Fen, MchId, OutTradeNo, SignType, TradeState, TradeType, TransactionId};

type BenchResult<T> = Result<T, Box<dyn Error>>;

const PAGE: u32 = 50;
const SAMPLES: usize = 300;

/// A deterministic pseudo-random sequence (no dependency, same data on both engines).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn out_trade_no(i: u64) -> BenchResult<OutTradeNo> {
    Ok(OutTradeNo::new(format!("ORD{i:010}"))?)
}

/// Unique and spread over the id space (a bijection of i modulo 10^23), like WeChat's ids.
fn transaction_id(i: u64) -> BenchResult<TransactionId> {
    let spread = (u128::from(i) * 2_654_435_761) % 100_000_000_000_000_000_000_000;
    Ok(TransactionId::new(format!("42000{spread:023}"))?)
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 6, 1, 0, 0, 0).single().unwrap_or_default()
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Stats {
    p50: StdDuration,
    p95: StdDuration,
}

async fn measure<F, Fut, T>(mut body: F) -> BenchResult<Stats>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ledger::Result<T>>,
{
    for i in 0..20 {
        body(i).await?;
    }
    let mut times = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let t = Instant::now();
        body(i + 20).await?;
        times.push(t.elapsed());
    }
    times.sort();
    let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
    Ok(Stats { p50: at(50), p95: at(95) })
}

fn report(name: &str, stats: &Stats) {
    println!("  {name:<58} p50 {:>7.3} ms   p95 {:>7.3} ms", ms(stats.p50), ms(stats.p95));
}

async fn fill(l: &Ledger, merchant: MerchantId, orders: u64) -> BenchResult<()> {
    let mut rng = Lcg(42);
    let span_secs = 365 * 24 * 3600;
    let t = Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for i in 0..orders {
        let state = match rng.below(100) {
            0..=84 => TradeState::Success,
            85..=89 => TradeState::Refund,
            90..=94 => TradeState::Closed,
            95..=98 => TradeState::NotPay,
            _ => TradeState::PayError,
        };
        // Time grows with i (as out_trade_no does in real shops), with jitter.
        let base = i64::try_from(i * span_secs / orders).unwrap_or_default();
        let placed_at = start() + Duration::seconds(base + i64::try_from(rng.below(60)).unwrap_or_default());
        let paid = state.is_paid();
        batch.push(ImportedOrder {
            merchant,
            out_trade_no: out_trade_no(i)?,
            transaction_id: if paid { Some(transaction_id(i)?) } else { None },
            sign_type: SignType::Md5,
            trade_type: Some(TradeType::Jsapi),
            trade_state: state,
            total_fee: Fen(100 + i64::try_from(rng.below(99_900)).unwrap_or_default()),
            placed_at,
            paid_at: paid.then(|| placed_at + Duration::seconds(20)),
            body: Some("小店-咖啡".into()),
        });
        if batch.len() == batch.capacity() {
            l.import_orders(&batch, Source::Bill).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        l.import_orders(&batch, Source::Bill).await?;
    }
    let fill = t.elapsed();
    let t = Instant::now();
    l.analyze().await?;
    println!(
        "  fill: {orders} orders in {:.1} s ({:.0} orders/s); ANALYZE {:.1} s",
        fill.as_secs_f64(),
        orders as f64 / fill.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn bill_rows(n: i64) -> Vec<BillRow> {
    (1..=n)
        .map(|line| BillRow {
            line_no: line,
            trade_time: start() + Duration::seconds(line),
            appid: Some("wx2421b1c4370ec43b".into()),
            mch_id: Some("1900000109".into()),
            sub_mch_id: Some("0".into()),
            device_info: None,
            transaction_id: Some(format!("4200000483202001{line:012}")),
            out_trade_no: Some(format!("ORD{line:010}")),
            openid: Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()),
            trade_type: Some("JSAPI".into()),
            trade_state: "SUCCESS".into(),
            bank_type: Some("OTHERS".into()),
            currency: Some("CNY".into()),
            settlement: Fen(100 + line),
            coupon: Fen(0),
            refund_id: None,
            out_refund_no: None,
            refund: Fen(0),
            recharge_refund: Fen(0),
            refund_type: None,
            refund_status: None,
            body: Some("小店-咖啡".into()),
            attach: None,
            fee: FeeAmount(600),
            rate: Some("0.60%".into()),
            order_amount: Fen(100 + line),
            refund_requested: Fen(0),
            rate_note: None,
            refund_requested_at: None,
            refund_success_at: None,
        })
        .collect()
}

/// The 1-minute load average: the machine is shared, and figures taken under load say so.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

async fn run(l: &Ledger, label: &str, orders: u64) -> BenchResult<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("== {label}: {orders} orders (load average {} on {cores} cores) ==", load());
    let settings = MerchantSettings {
        mch_id: MchId::new("1900000109")?,
        appid: AppId::new("wx2421b1c4370ec43b")?,
        name: "bench".into(),
        sign_type: SignType::Md5,
        api_base_url: None,
        refund_reauth_above: None,
    };
    let merchant = l.upsert_merchant(&settings, "bench", Utc::now()).await?.id;
    fill(l, merchant, orders).await?;

    let end = start() + Duration::days(365);
    let filtered = OrderFilter {
        states: vec![TradeState::Success],
        placed_from: Some(end - Duration::days(90)),
        placed_to: Some(end - Duration::days(60)),
        min_total: Some(Fen(1_000)),
        max_total: Some(Fen(50_000)),
        ..OrderFilter::default()
    };
    let two_states = OrderFilter { states: vec![TradeState::NotPay, TradeState::Closed], ..filtered.clone() };
    let all = OrderFilter::default();

    let stats = measure(|_| l.list_orders(&all, None, PAGE)).await?;
    report("order list, first page (no filter)", &stats);
    let stats = measure(|_| l.list_orders(&filtered, None, PAGE)).await?;
    report("order list, first page (SUCCESS, 30 days, 10-500 yuan)", &stats);
    // The cursor of page 100 of the filtered list (the deep page).
    let mut cursor = None;
    let mut depth = 0;
    for _ in 0..99 {
        let page = l.list_orders(&filtered, cursor.as_ref(), PAGE).await?;
        match page.next {
            Some(next) => {
                cursor = Some(next);
                depth += 1;
            }
            None => break,
        }
    }
    let stats = measure(|_| l.list_orders(&filtered, cursor.as_ref(), PAGE)).await?;
    report(&format!("order list, deep page {} (same filter, keyset)", depth + 1), &stats);
    let stats = measure(|_| l.list_orders(&two_states, None, PAGE)).await?;
    report("order list, first page (NOTPAY+CLOSED, 30 days, amount)", &stats);

    let mut rng = Lcg(7);
    let picks: Vec<u64> = (0..SAMPLES + 20).map(|_| rng.below(orders)).collect();
    let nos: Vec<OutTradeNo> = picks.iter().map(|i| out_trade_no(*i)).collect::<BenchResult<_>>()?;
    let txns: Vec<TransactionId> = picks.iter().map(|i| transaction_id(*i)).collect::<BenchResult<_>>()?;
    let stats = measure(|i| l.order_by_out_trade_no(merchant, &nos[i])).await?;
    report("lookup by out_trade_no", &stats);
    // Some picks are unpaid orders without a transaction id: those are misses, as a mistyped id would be.
    let stats = measure(|i| l.order_by_transaction_id(&txns[i])).await?;
    report("lookup by transaction_id", &stats);
    let prefixes: Vec<String> = nos.iter().map(|n| n.as_str()[..n.as_str().len() - 1].to_owned()).collect();
    let stats = measure(|i| l.search_orders(&prefixes[i], 20)).await?;
    report("lookup by prefix (out_trade_no or transaction_id, ≤20)", &stats);
    let day = |d: i64| NaiveDate::from_ymd_opt(2024, 5, 1).map(|x| x - Duration::days(d)).unwrap_or_default();
    let stats = measure(|i| {
        let from = day(i64::try_from(i % 200).unwrap_or_default() + 30);
        l.day_totals(Some(merchant), from, from + Duration::days(29))
    })
    .await?;
    report("per-day totals (30 days)", &stats);

    let rows = bill_rows(100_000);
    println!("  (load average now {})", load());
    for round in 0..5 {
        let file = NewBillFile {
            merchant,
            bill_date: day(round),
            bill_type: BillType::All,
            source: BillSource::Download,
            file_name: None,
            sha256: format!("{round:064}"),
            byte_len: 0,
            summary: BillSummary::default(),
            imported_by: "bench".into(),
            imported_at: Utc::now(),
        };
        let t = Instant::now();
        let imported = l.import_bill(&file, &rows).await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  bill rows bulk insert, round {}: {} rows in {:.3} s = {:.0} rows/s",
            round + 1,
            imported.file.row_count,
            secs,
            rows.len() as f64 / secs
        );
    }
    Ok(())
}

async fn main_async() -> BenchResult<()> {
    let orders: u64 = std::env::var("LEDGER_BENCH_ORDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    if std::env::var("LEDGER_BENCH_SKIP_SQLITE").as_deref() != Ok("1") {
        let dir = tempfile::tempdir()?;
        let path = match std::env::var("LEDGER_BENCH_SQLITE_PATH") {
            Ok(path) => {
                let _ = std::fs::remove_file(&path);
                path
            }
            Err(_) => dir.path().join("bench.db").display().to_string(),
        };
        let l = Ledger::open(&format!("sqlite://{path}")).await?;
        run(&l, "SQLite", orders).await?;
        l.close().await;
    }
    match std::env::var("PAYDESK_TEST_POSTGRES_URL") {
        Ok(base) => {
            let keep = std::env::var("LEDGER_BENCH_KEEP_PG").as_deref() == Ok("1");
            let schema = if keep { "bench_keep".to_owned() } else { format!("bench_{}", std::process::id()) };
            let admin = sqlx::PgPool::connect(&base).await?;
            sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await?;
            let sep = if base.contains('?') { '&' } else { '?' };
            let l = Ledger::open(&format!("{base}{sep}options[search_path]={schema}")).await?;
            run(&l, "PostgreSQL", orders).await?;
            l.close().await;
            if !keep {
                sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await?;
            }
        }
        Err(_) => {
            println!("== PostgreSQL: skipped (PAYDESK_TEST_POSTGRES_URL not set; run under scripts/with-postgres) ==")
        }
    }
    Ok(())
}

fn main() -> BenchResult<()> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(main_async())
}
