//! The daily close end to end at scale: a generated 1,000,000-row ALL bill (gzip, as WeChat sends it) imported
//! through `Core::bill_import` — kept under bills/<sha256>, read as a stream, pushed into the ledger in chunks —
//! and reconciled (set-based, in the database) against 1,000,000 ledger orders paid that day. Prints the seconds
//! end to end (with the import / reconcile split from the `close-progress` events) and the peak memory of the
//! import (VmHWM from /proc/self/status, reset just before through /proc/self/clear_refs), on SQLite and — when
//! `PAYDESK_TEST_POSTGRES_URL` is set (`scripts/with-postgres cargo bench -p paydesk-core --bench daily_close`) —
//! PostgreSQL.
//!
//! Planted: 100 paid orders missing from the bill, 100 bill payments unknown to the ledger, 100 refund rows the
//! ledger does not have; the run must find exactly those 300. Knobs: `DAILY_CLOSE_N` (orders, default 1000000),
//! `DAILY_CLOSE_SKIP_SQLITE=1`. Goals (issue 8, SQLite, 2 cores): ≤ 10 s end to end, peak ≤ 300 MB.

// Timings and megabytes are figures for people, not money: floats and `as` are fine here.
#![allow(clippy::float_arithmetic, clippy::as_conversions, clippy::cast_precision_loss)]

use std::error::Error;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use ledger::{ImportedOrder, Ledger, MerchantId, Source};
use paydesk_core::contract::{MerchantInput, SetupInput};
use paydesk_core::vault::KdfParams;
use paydesk_core::{Core, CoreEvent, CoreOptions, Secret};
use wxpay::bill::{BillRow, BillType, BillWriter};
use wxpay::{BeijingTime, FeeAmount, Fen, OutTradeNo, SignType, TradeState, TradeType, TransactionId};

type BenchResult<T> = Result<T, Box<dyn Error>>;

const MCH: &str = "1900000109";
const APPID: &str = "wx2421b1c4370ec43b";
/// Paid orders the bill does not have, bill payments the ledger does not have, refund rows the ledger lacks.
const PLANTED: u64 = 100;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 1).unwrap_or_default()
}

fn paid_at(i: u64, n: u64) -> BeijingTime {
    let secs = i64::try_from(i * 86_399 / n.max(1)).unwrap_or(0);
    BeijingTime::from_naive(day().and_time(chrono::NaiveTime::MIN) + Duration::seconds(secs))
}

fn transaction_id(i: u64) -> String {
    let spread = (u128::from(i) * 2_654_435_761) % 100_000_000_000_000_000_000_000;
    format!("42000{spread:023}")
}

fn amount(i: u64) -> Fen {
    Fen(100 + i64::try_from(i * 7_919 % 99_900).unwrap_or(0))
}

/// VmHWM (peak resident memory) of this process, in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn fill(ledger: &Ledger, merchant: MerchantId, n: u64) -> BenchResult<()> {
    let t = Instant::now();
    let mut batch = Vec::with_capacity(20_000);
    for i in 0..n {
        let paid = paid_at(i, n).to_utc();
        batch.push(ImportedOrder {
            merchant,
            out_trade_no: OutTradeNo::new(format!("ORD{i:010}"))?,
            transaction_id: Some(TransactionId::new(transaction_id(i))?),
            sign_type: SignType::Md5,
            trade_type: Some(TradeType::Jsapi),
            trade_state: TradeState::Success,
            total_fee: amount(i),
            placed_at: paid - Duration::seconds(20),
            paid_at: Some(paid),
            body: Some("小店-咖啡".into()),
        });
        if batch.len() == batch.capacity() {
            ledger.import_orders(&batch, Source::Bill).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        ledger.import_orders(&batch, Source::Bill).await?;
    }
    ledger.analyze().await?;
    println!("  fill: {n} ledger orders paid on {} in {:.1} s (not timed)", day(), t.elapsed().as_secs_f64());
    Ok(())
}

/// The day's ALL bill, gzip: the ledger's orders except the first PLANTED, PLANTED payments the ledger does not
/// know, and PLANTED refund rows.
fn write_bill(path: &std::path::Path, n: u64) -> BenchResult<u64> {
    let t = Instant::now();
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut w = BillWriter::new(gz, BillType::All, true)?;
    let mut rows = 0_u64;
    let fee = |f: Fen| FeeAmount(f.get() * 6);
    for i in PLANTED..n {
        let (txn, no) = (transaction_id(i), format!("ORD{i:010}"));
        let total = amount(i);
        w.write_row(&BillRow {
            appid: APPID,
            mch_id: MCH,
            transaction_id: &txn,
            out_trade_no: &no,
            openid: "oUser",
            settlement_total_fee: total,
            total_fee: total,
            fee: fee(total),
            body: "小店-咖啡",
            ..BillRow::new(paid_at(i, n))
        })?;
        rows += 1;
    }
    for k in 0..PLANTED {
        let i = n + k;
        let (txn, no) = (transaction_id(i), format!("UNK{i:010}"));
        w.write_row(&BillRow {
            appid: APPID,
            mch_id: MCH,
            transaction_id: &txn,
            out_trade_no: &no,
            settlement_total_fee: Fen(500),
            total_fee: Fen(500),
            fee: fee(Fen(500)),
            ..BillRow::new(paid_at(n - 1, n))
        })?;
        let (rid, rno, ono) = (format!("50300{k:023}"), format!("RF{k:010}"), format!("ORD{:010}", PLANTED + k));
        w.write_row(&BillRow {
            appid: APPID,
            mch_id: MCH,
            transaction_id: &txn,
            out_trade_no: &ono,
            trade_state: "REFUND",
            refund_id: &rid,
            out_refund_no: &rno,
            refund_fee: Fen(50),
            refund_apply_fee: Fen(50),
            refund_type: "ORIGINAL",
            refund_status: "SUCCESS",
            fee: FeeAmount(-300),
            ..BillRow::new(paid_at(n - 1, n))
        })?;
        rows += 2;
    }
    let mut gz = w.finish()?;
    gz.flush()?;
    gz.finish()?.flush()?;
    let mb = std::fs::metadata(path)?.len() as f64 / 1e6;
    println!("  bill: {rows} rows, gzip {mb:.1} MB, written in {:.1} s (not timed)", t.elapsed().as_secs_f64());
    Ok(rows)
}

async fn run(engine: &str, ledger_url: Option<String>, n: u64) -> BenchResult<()> {
    println!("daily_close on {engine}: {n} ledger orders, a {}-row ALL bill", n + PLANTED);
    let dir = tempfile::tempdir()?;
    let options = CoreOptions { kdf: KdfParams { m_cost_kib: 1024, t_cost: 1, p_cost: 1 }, ..CoreOptions::default() };
    let core = Core::open(dir.path().join("data"), options)?;
    core.setup_complete(SetupInput {
        merchant: MerchantInput { appid: APPID.into(), mch_id: MCH.into(), sign_type: SignType::Md5 },
        api_key: Secret::from("192006250b4c09247ec02edce69f6a2d"),
        source: None,
        sandbox: false,
        ledger_url: ledger_url.clone().map(Secret::from),
        owner_name: "bench".into(),
        owner_password: Secret::from("bench password"),
    })
    .await?;
    let url = ledger_url.unwrap_or_else(|| core.paths().default_ledger_url());
    let ledger = Ledger::open(&url).await?;
    let merchant = ledger.merchants().await?.first().map(|m| m.id).ok_or("no merchant")?;
    fill(&ledger, merchant, n).await?;
    let bill = dir.path().join("bill.csv.gz");
    let rows = write_bill(&bill, n)?;

    // When the reconcile stage starts (the import's end), from the progress events.
    let reconcile_started: Arc<Mutex<Option<Instant>>> = Arc::default();
    let mut events = core.subscribe();
    let seen = Arc::clone(&reconcile_started);
    let listener = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let CoreEvent::CloseProgress(p) = event {
                if p.stage == "reconcile" {
                    let mut at = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    at.get_or_insert_with(Instant::now);
                }
            }
        }
    });
    let rss_before = peak_mb();
    reset_peak();
    let t = Instant::now();
    let fetched = core.bill_import(&bill.display().to_string(), Some(&day().to_string())).await?;
    let total = t.elapsed();
    let peak = peak_mb();
    listener.abort();
    let split = reconcile_started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).map(|at| at - t);
    let close = fetched.day.ok_or("no day")?;
    let found = close.discrepancies.len();
    let imported = close.bill.as_ref().map_or(0, |b| b.row_count);
    println!(
        "  end to end (copy + sha256, import {imported} rows, reconcile): {:.2} s  [import {:.2} s, reconcile {:.2} s]",
        total.as_secs_f64(),
        split.map_or(0.0, |s| s.as_secs_f64()),
        split.map_or(0.0, |s| (total - s).as_secs_f64()),
    );
    println!(
        "  peak memory during it: {peak:.0} MB (VmHWM; {rss_before:.0} MB before); {:.0} rows/s; found {found} discrepancies (planted {})",
        rows as f64 / total.as_secs_f64(),
        PLANTED * 3
    );
    if found != usize::try_from(PLANTED * 3)? || imported != i64::try_from(rows)? {
        return Err(
            format!("expected {} discrepancies and {rows} rows, found {found} and {imported}", PLANTED * 3).into()
        );
    }
    println!("  goals (SQLite): <= 10 s end to end, <= 300 MB peak");
    ledger.close().await;
    Ok(())
}

async fn pg_schema(base: &str) -> BenchResult<String> {
    let schema = format!("bench_close_{}", std::process::id());
    let admin = sqlx::PgPool::connect(base).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&admin).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await?;
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}options[search_path]={schema}"))
}

fn main() -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let n = env_u64("DAILY_CLOSE_N", 1_000_000);
    runtime.block_on(async {
        if std::env::var("DAILY_CLOSE_SKIP_SQLITE").as_deref() != Ok("1") {
            run("SQLite", None, n).await?;
        }
        if let Ok(base) = std::env::var("PAYDESK_TEST_POSTGRES_URL") {
            let url = pg_schema(&base).await?;
            run("PostgreSQL", Some(url), n).await?;
        }
        Ok(())
    })
}
