//! A stored bill read as a stream (plain or gzip, modern or legacy, `wxpay::bill::BillReader`) and pushed into the
//! ledger in chunks of [`ledger::IMPORT_CHUNK_ROWS`] rows inside one transaction: memory stays flat whatever the
//! number of rows. The reading runs on a blocking thread (it is CPU work), the ledger's SQLite writer on another.
//!
//! Rows are kept as parsed; ids WeChat writes as `0` or empty (refund ids on payment rows) are stored as NULL. The
//! summary (the bill's last lines) is compared with the rows as they are read; the differences are kept with the
//! file in plain words.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use chrono::NaiveDate;
use ledger::{BillImportStart, BillRow, BillSource, BillSummary, BillType, NewBillFile};
use wxpay::bill::{BillReader, Column, Row, TotalKey, TotalValue, Totals};
use wxpay::{FeeAmount, Fen};

use crate::error::{CoreError, CoreResult, Locale};
use crate::session::Session;

const READ_BUFFER: usize = 256 * 1024;
/// Rows per push on PostgreSQL.
const PG_CHUNK_ROWS: usize = 20_000;
/// Progress is reported every this many rows.
const PROGRESS_EVERY: u64 = 20_000;

/// What an import needs besides the file.
#[derive(Debug, Clone)]
pub struct ImportMeta {
    pub day: NaiveDate,
    pub source: BillSource,
    pub file_name: Option<String>,
    pub sha256: String,
    pub byte_len: i64,
    pub locale: Locale,
}

fn bad_bill(e: impl std::fmt::Display) -> CoreError {
    CoreError::invalid(
        format!("账单文件无法读取：{e}。请确认这是从微信支付商户平台下载的交易账单（可以是 .csv 或 .gzip）。"),
        format!("The bill file cannot be read: {e}. Make sure it is a trade bill downloaded from the WeChat Pay merchant platform (.csv or .gzip)."),
    )
}

fn open(path: &Path) -> CoreResult<BillReader<wxpay::bill::Input<BufReader<File>>>> {
    let file = File::open(path).map_err(|e| CoreError::io(path, e))?;
    BillReader::open(BufReader::with_capacity(READ_BUFFER, file)).map_err(bad_bill)
}

/// The Beijing day of the bill's first row (an ALL bill holds one day: payments of the day and refunds initiated
/// that day); `None` for a bill without rows. Refuses a bill that is not of type ALL.
pub fn peek_day(path: &Path) -> CoreResult<Option<NaiveDate>> {
    let mut reader = open(path)?;
    check_type(&reader)?;
    Ok(reader.next_row().map_err(bad_bill)?.map(|r| r.trade_time().date()))
}

fn check_type<R: std::io::BufRead>(reader: &BillReader<R>) -> CoreResult<()> {
    let bill_type = reader.bill_type();
    if bill_type != wxpay::bill::BillType::All {
        return Err(CoreError::invalid(
            format!("这是 {} 类型的账单：对账需要“全部订单”（ALL）账单。", bill_type.as_str()),
            format!("This is a {} bill: reconciliation needs the ALL bill (all orders).", bill_type.as_str()),
        ));
    }
    Ok(())
}

fn text(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty()).map(str::to_string)
}

fn id(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty() && *s != "0").map(str::to_string)
}

/// One parsed row as the ledger keeps it.
pub fn ledger_row(row: &Row<'_>) -> BillRow {
    let zero = Fen::ZERO;
    BillRow {
        line_no: i64::try_from(row.line()).unwrap_or(i64::MAX),
        trade_time: row.trade_time().to_utc(),
        appid: text(row.appid()),
        mch_id: text(row.mch_id()),
        sub_mch_id: text(row.sub_mch_id()),
        device_info: text(row.device_info()),
        transaction_id: id(row.transaction_id()),
        out_trade_no: text(row.out_trade_no()),
        openid: text(row.openid()),
        trade_type: text(row.get(Column::TradeType)),
        trade_state: row.get(Column::TradeState).unwrap_or("").to_string(),
        bank_type: text(row.bank_type()),
        currency: text(row.currency()),
        settlement: row.settlement_total_fee().unwrap_or(zero),
        coupon: row.coupon_fee().unwrap_or(zero),
        refund_id: id(row.refund_id()),
        out_refund_no: id(row.out_refund_no()),
        refund: row.refund_fee().unwrap_or(zero),
        recharge_refund: row.coupon_refund_fee().unwrap_or(zero),
        refund_type: text(row.refund_type()),
        refund_status: text(row.get(Column::RefundStatus)),
        body: text(row.body()),
        attach: text(row.attach()),
        fee: row.fee().unwrap_or(FeeAmount::ZERO),
        rate: text(row.rate()),
        // 订单金额; a legacy bill has only 总金额 (no 免充值券 existed, so it is the order amount too).
        order_amount: row.total_fee().or_else(|| row.settlement_total_fee()).unwrap_or(zero),
        refund_requested: row.refund_apply_fee().unwrap_or(zero),
        rate_note: text(row.rate_note()),
        refund_requested_at: row.refund_apply_time().map(|t| t.to_utc()),
        refund_success_at: row.refund_success_time().map(|t| t.to_utc()),
    }
}

fn summary_of(t: &Totals) -> BillSummary {
    BillSummary {
        total_count: t.total_count.and_then(|n| i64::try_from(n).ok()),
        settlement_total: t.settlement_total_fee,
        refund_total: t.refund_total_fee,
        recharge_refund_total: t.coupon_refund_total_fee,
        fee_total: t.fee_total,
        order_total: t.order_total_fee,
        refund_requested_total: t.refund_apply_total_fee,
    }
}

fn value_text(v: TotalValue, locale: Locale) -> String {
    match (v, locale) {
        (TotalValue::Count(n), Locale::ZhCn) => format!("{n} 笔"),
        (TotalValue::Count(n), Locale::En) => n.to_string(),
        (TotalValue::Money(f), Locale::ZhCn) => format!("{} 元", f.to_yuan_string()),
        (TotalValue::Money(f), Locale::En) => format!("{} yuan", f.to_yuan_string()),
        (TotalValue::Fee(f), Locale::ZhCn) => format!("{} 元", f.to_yuan_string()),
        (TotalValue::Fee(f), Locale::En) => format!("{} yuan", f.to_yuan_string()),
    }
}

fn difference_text(d: &wxpay::bill::Discrepancy, locale: Locale) -> String {
    let title = TotalKey::title(d.key);
    match (locale, d.computed) {
        (Locale::ZhCn, Some(c)) => {
            format!("{title}：汇总行为 {}，明细合计为 {}", value_text(d.summary, locale), value_text(c, locale))
        }
        (Locale::ZhCn, None) => format!("{title}：汇总行为 {}，明细中没有可合计的列", value_text(d.summary, locale)),
        (Locale::En, Some(c)) => format!(
            "{title} ({}): the summary says {}, the rows add up to {}",
            d.key,
            value_text(d.summary, locale),
            value_text(c, locale)
        ),
        (Locale::En, None) => {
            format!(
                "{title} ({}): the summary says {}, the rows have no column to add up",
                d.key,
                value_text(d.summary, locale)
            )
        }
    }
}

/// Imports the stored bill at `path` for this desk's merchant. `progress(rows)` is called every few thousand rows.
/// A row of another merchant (商户号) refuses the whole file. Returns what the ledger recorded.
pub async fn import(
    session: &Session,
    path: &Path,
    meta: &ImportMeta,
    progress: impl Fn(u64) + Send + 'static,
) -> CoreResult<ledger::BillImport> {
    let mch_id = session.client.merchant().mch_id.as_str().to_string();
    let new = NewBillFile {
        merchant: session.merchant_id,
        bill_date: meta.day,
        bill_type: BillType::All,
        source: meta.source,
        file_name: meta.file_name.clone(),
        sha256: meta.sha256.clone(),
        byte_len: meta.byte_len,
        summary: BillSummary::default(),
        imported_by: session.actor.clone(),
        imported_at: chrono::Utc::now(),
    };
    let mut import = match session.ledger.begin_bill_import(&new).await? {
        BillImportStart::AlreadyImported(file) => return Ok(ledger::BillImport { file, already_imported: true }),
        BillImportStart::Started(import) => import,
    };
    let path = path.to_path_buf();
    let locale = meta.locale;
    let day = meta.day;
    let handle = tokio::runtime::Handle::current();
    // SQLite's writer thread takes rows as they come; PostgreSQL inserts each push as one UNNEST statement, where
    // larger batches pay the round trip and the planning less often.
    let chunk_rows = match session.ledger.engine() {
        ledger::Engine::Sqlite => ledger::IMPORT_CHUNK_ROWS,
        ledger::Engine::Postgres => PG_CHUNK_ROWS,
    };
    // The reading and the pushing run on a blocking thread; `block_on` there waits for the channel to the writer.
    let (import, summary, differences) = tokio::task::spawn_blocking(move || -> CoreResult<_> {
        let mut reader = open(&path)?;
        check_type(&reader)?;
        let mut chunk: Vec<BillRow> = Vec::with_capacity(chunk_rows);
        let mut done = 0_u64;
        while let Some(row) = reader.next_row().map_err(bad_bill)? {
            if let Some(m) = row.mch_id().filter(|m| !m.is_empty() && *m != mch_id) {
                return Err(CoreError::invalid(
                    format!("这份账单属于商户号 {m}，不是本店的 {mch_id}。"),
                    format!("This bill belongs to merchant {m}, not to this shop's {mch_id}."),
                ));
            }
            if done == 0 && row.trade_time().date() != day {
                let first = row.trade_time().date();
                return Err(CoreError::invalid(
                    format!("这份账单是 {first} 的，不是 {day} 的。"),
                    format!("This bill is for {first}, not for {day}."),
                ));
            }
            chunk.push(ledger_row(&row));
            done += 1;
            if chunk.len() == chunk_rows {
                handle.block_on(import.push(&chunk))?;
                chunk.clear();
            }
            if done % PROGRESS_EVERY == 0 {
                progress(done);
            }
        }
        if !chunk.is_empty() {
            handle.block_on(import.push(&chunk))?;
        }
        progress(done);
        let reconciliation = reader.reconciliation().ok_or_else(|| bad_bill("no summary"))?;
        let differences: Vec<String> =
            reconciliation.discrepancies.iter().map(|d| difference_text(d, locale)).collect();
        Ok((import, summary_of(&reconciliation.summary), differences))
    })
    .await
    .map_err(|e| CoreError::Internal(format!("bill import task: {e}")))??;
    Ok(import.finish(&summary, Some(&differences)).await?)
}
