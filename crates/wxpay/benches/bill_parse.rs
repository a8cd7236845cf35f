//! Bill parsing throughput (wxpay-v2.md §7.4, §7.5): writes a realistic modern ALL bill (about 10%
//! refund rows) with `BillWriter` into a temporary file, then parses it through a `BufReader` from
//! the file, as text and gzip'd, and prints rows/s, MB/s and the parsing process's peak memory.
//!
//! Each parse runs in a child process (this binary again, told by `BILL_PARSE_CHILD`), so its peak
//! resident memory (`VmHWM` in /proc/self/status) is the parser's alone; running 100,000 rows and
//! 1,000,000 rows shows that it does not grow with the number of rows.
//!
//! Run: `cargo bench -p wxpay --bench bill_parse` (BILL_PARSE_ROWS=… to change the large size).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark binary: failing loudly is right
#![allow(clippy::float_arithmetic)] // rates and megabytes for the report; money stays integer

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use wxpay::bill::{BillReader, BillRow, BillType, BillWriter, RowKind};
use wxpay::{BeijingTime, FeeAmount, Fen};

const CHILD_ENV: &str = "BILL_PARSE_CHILD";

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(Path::new(&path));
        return;
    }
    let large: u64 = std::env::var("BILL_PARSE_ROWS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("paydesk-bill-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("bill_parse: modern ALL bill (27 columns, ~10% refund rows), one core, BufReader from a file");
    for rows in [100_000, large] {
        let text = dir.join(format!("all-{rows}.csv"));
        let started = Instant::now();
        let bytes = generate(&text, rows);
        println!("  generated {rows} rows, {:.1} MB, in {:.2} s", mb(bytes), secs(started.elapsed()));
        let gz = dir.join(format!("all-{rows}.csv.gz"));
        let started = Instant::now();
        let gz_bytes = compress(&text, &gz);
        println!("  gzip'd to {:.1} MB in {:.2} s", mb(gz_bytes), secs(started.elapsed()));
        for (label, path) in [("text", &text), ("gzip", &gz)] {
            let out = Command::new(std::env::current_exe().unwrap()).env(CHILD_ENV, path).output().unwrap();
            assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
            let report = String::from_utf8(out.stdout).unwrap();
            println!("  {label:>4} {rows:>9} rows: {}", report.trim());
        }
        std::fs::remove_file(&text).ok();
        std::fs::remove_file(&gz).ok();
    }
    std::fs::remove_dir(&dir).ok();
}

/// Parses one file and prints what it measured.
fn child(path: &Path) {
    let file_bytes = std::fs::metadata(path).unwrap().len();
    let before = vm_hwm_kb();
    let started = Instant::now();
    let mut reader = BillReader::open(BufReader::with_capacity(64 * 1024, File::open(path).unwrap())).unwrap();
    let (mut rows, mut refunds, mut text_bytes, mut settlement) = (0_u64, 0_u64, 0_u64, 0_i64);
    while let Some(row) = reader.next_row().unwrap() {
        // Touch what a reconciliation touches: ids, kind, amounts.
        rows += 1;
        text_bytes += u64::try_from(row.transaction_id().unwrap_or("").len()).unwrap();
        if row.kind() == RowKind::Refund {
            refunds += 1;
        }
        settlement += row.settlement_total_fee().map_or(0, Fen::get);
    }
    let elapsed = started.elapsed();
    let reconciliation = reader.reconciliation().unwrap();
    assert!(reconciliation.agrees(), "{:?}", reconciliation.discrepancies);
    assert_eq!(reconciliation.computed.settlement_total_fee, Some(Fen(settlement)));
    assert!(text_bytes > 0 && refunds > 0);
    let text_len = text_len(path, file_bytes, reader.is_gzip());
    let per_second = |n: u64| n_f64(n) / secs(elapsed);
    println!(
        "{:.2} s, {:.0} rows/s, {:.0} MB/s of bill text{}, peak memory (VmHWM) {} kB (before parsing {} kB), {refunds} refunds",
        secs(elapsed),
        per_second(rows),
        per_second(text_len) / 1e6,
        if reader.is_gzip() { format!(" ({:.0} MB/s gzip)", per_second(file_bytes) / 1e6) } else { String::new() },
        vm_hwm_kb(),
        before,
    );
}

/// The uncompressed size: the file's own for text, read back for gzip (outside the timed part).
fn text_len(path: &Path, file_bytes: u64, gzip: bool) -> u64 {
    if !gzip {
        return file_bytes;
    }
    let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::new(File::open(path).unwrap()));
    std::io::copy(&mut decoder, &mut std::io::sink()).unwrap()
}

/// Peak resident set size of this process, from /proc/self/status.
fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A small deterministic generator (xorshift64*), so every run parses the same bill.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `rows` rows of one Beijing day and returns the file size.
fn generate(path: &PathBuf, rows: u64) -> u64 {
    const BANKS: [&str; 5] = ["OTHERS", "CMB_DEBIT", "ICBC_CREDIT", "CFT", "PSBC_DEBIT"];
    const BODIES: [&str; 4] = ["Paydesk 测试商品", "会员月卡", "咖啡-大杯拿铁", "停车费"];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let day = BeijingTime::parse_dashed("2024-03-01 00:00:00").unwrap().naive();
    let mut w =
        BillWriter::new(BufWriter::with_capacity(1 << 20, File::create(path).unwrap()), BillType::All, true).unwrap();
    let (mut txid, mut out_trade_no, mut openid, mut refund_id, mut out_refund_no) =
        (String::new(), String::new(), String::new(), String::new(), String::new());
    for i in 0..rows {
        let seconds = i64::try_from(i * 86_400 / rows).unwrap();
        let time = BeijingTime::from_naive(day + chrono::Duration::seconds(seconds));
        let refund = rng.below(10) == 0;
        let amount = Fen(i64::try_from(1 + rng.below(200_000)).unwrap());
        let coupon = if rng.below(20) == 0 { Fen(amount.get() / 10) } else { Fen::ZERO };
        // 0.60%, rounded to the fen per order (the real bills' fees are whole fen, see the ADR).
        let fee_fen = (amount.get() * 6 + 500) / 1000;
        txid.clear();
        write!(txid, "42000{:023}", rng.below(10_u64.pow(18))).unwrap();
        out_trade_no.clear();
        write!(out_trade_no, "PD20240301{i:010}").unwrap();
        openid.clear();
        write!(openid, "oUpF8u{:022x}", rng.next()).unwrap();
        let mut row = BillRow {
            appid: "wx2421b1c4370ec43b",
            mch_id: "1900000109",
            device_info: if i % 3 == 0 { "WEB" } else { "" },
            transaction_id: &txid,
            out_trade_no: &out_trade_no,
            openid: &openid,
            trade_type: if i % 4 == 0 { "NATIVE" } else { "JSAPI" },
            bank_type: BANKS[usize::try_from(rng.below(5)).unwrap()],
            settlement_total_fee: amount.checked_sub(coupon).unwrap(),
            coupon_fee: coupon,
            body: BODIES[usize::try_from(i % 4).unwrap()],
            fee: FeeAmount(fee_fen * FeeAmount::UNITS_PER_FEN),
            total_fee: amount,
            ..BillRow::new(time)
        };
        if refund {
            refund_id.clear();
            write!(refund_id, "50300{:024}", rng.below(10_u64.pow(18))).unwrap();
            out_refund_no.clear();
            write!(out_refund_no, "R{out_trade_no}").unwrap();
            row = BillRow {
                trade_state: "REFUND",
                settlement_total_fee: Fen::ZERO,
                coupon_fee: Fen::ZERO,
                total_fee: Fen::ZERO,
                refund_id: &refund_id,
                out_refund_no: &out_refund_no,
                refund_fee: amount,
                refund_apply_fee: amount,
                refund_type: "ORIGINAL",
                refund_status: "SUCCESS",
                fee: FeeAmount(-fee_fen * FeeAmount::UNITS_PER_FEN),
                ..row
            };
        }
        w.write_row(&row).unwrap();
    }
    w.finish().unwrap().into_inner().map_err(|e| e.into_error()).unwrap().sync_all().ok();
    std::fs::metadata(path).unwrap().len()
}

fn compress(from: &Path, to: &Path) -> u64 {
    let mut input = BufReader::new(File::open(from).unwrap());
    let mut encoder = GzEncoder::new(BufWriter::new(File::create(to).unwrap()), Compression::fast());
    std::io::copy(&mut input, &mut encoder).unwrap();
    encoder.finish().unwrap().flush().unwrap();
    std::fs::metadata(to).unwrap().len()
}

// Reporting only: rates are printed as floating point, money never is.
#[allow(clippy::as_conversions, clippy::cast_precision_loss)]
fn n_f64(n: u64) -> f64 {
    n as f64
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn mb(bytes: u64) -> f64 {
    n_f64(bytes) / 1e6
}
