//! Bill files and their rows (wxpay-v2.md §7). A file is recognised by (merchant, date, type, SHA-256), so
//! importing the same bytes twice adds nothing. Rows go in by bulk insert in the file's transaction:
//! `INSERT … SELECT FROM UNNEST(arrays)` on PostgreSQL; on SQLite, one prepared single-row `INSERT` reused for
//! every row on a second, rusqlite connection ([`crate::sqlite_direct`]: sqlx's per-value binding capped it near
//! 140,000 rows/s), where the whole import — file, rows, row count, audit entry — is one `BEGIN IMMEDIATE`
//! transaction. An in-memory SQLite ledger (no file a second connection could open) keeps sqlx's multi-row
//! `INSERT … VALUES`.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use wxpay::{FeeAmount, Fen};

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::audit::{append_in, audit};
use crate::db::{args, sqlite_bulk_insert, ts_text, Arg, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{
    AuditResult, BillFile, BillFileId, BillImport, BillRow, BillRowId, BillSource, BillSummary, BillType, MerchantId,
    NewAuditEntry, NewBillFile, StoredBillRow,
};
use crate::sqlite_direct::{append_audit, DirectSqlite};
use crate::Ledger;

const FILE_COLS: &str = "id, merchant_id, bill_date, bill_type, source, file_name, sha256, byte_len, row_count, \
    summary_differences, total_count, settlement_total_fen, refund_total_fen, recharge_refund_total_fen, fee_total_units, order_total_fen, \
    refund_requested_fen, imported_by, imported_at";

/// The stored columns of a row, after `bill_file_id`, in insert order.
const ROW_COLS: &str = "line_no, trade_time, appid, mch_id, sub_mch_id, device_info, transaction_id, out_trade_no, \
    openid, trade_type, trade_state, bank_type, currency, settlement_fen, coupon_fen, refund_id, out_refund_no, \
    refund_fen, recharge_refund_fen, refund_type, refund_status, body, attach, fee_units, rate, order_fen, \
    refund_requested_fen, rate_note, refund_requested_at, refund_success_at";
const ROW_COL_COUNT: usize = 30;

/// Both engines, both paths. Parameters are numbered in order of appearance, so rusqlite's positional binding
/// matches the numbers.
const INSERT_FILE: &str = "INSERT INTO bill_files (merchant_id, bill_date, bill_type, source, file_name, sha256, \
    byte_len, total_count, settlement_total_fen, refund_total_fen, recharge_refund_total_fen, fee_total_units, \
    order_total_fen, refund_requested_fen, imported_by, imported_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
    ON CONFLICT (merchant_id, bill_date, bill_type, sha256) DO NOTHING RETURNING id";
/// The end of an import: the row count, the summary (the last lines of the file) and how it compares with the rows.
const FINISH_FILE: &str = "UPDATE bill_files SET row_count = $1, total_count = $2, settlement_total_fen = $3, \
    refund_total_fen = $4, recharge_refund_total_fen = $5, fee_total_units = $6, order_total_fen = $7, \
    refund_requested_fen = $8, summary_differences = $9 WHERE id = $10";

/// Rows handed to the SQLite writer thread at a time: the caller's rows are borrowed, so each chunk is copied to
/// cross into `spawn_blocking`; two chunks in the channel keep the copying ahead of the writer with little memory.
pub const IMPORT_CHUNK_ROWS: usize = 4096;

fn import_audit(file: &NewBillFile, sha: &str, id: BillFileId, rows: i64) -> NewAuditEntry {
    let detail = serde_json::json!({
        "bill_date": file.bill_date.to_string(),
        "bill_type": file.bill_type.as_str(),
        "source": file.source.as_str(),
        "sha256": sha,
        "rows": rows,
    })
    .to_string();
    audit(&file.imported_by, "bill.import", format!("bill_file:{id}"), AuditResult::Ok, detail, file.imported_at)
}

fn file_from_row(row: &Row) -> Result<BillFile> {
    Ok(BillFile {
        id: BillFileId(row.i64("id")?),
        merchant_id: MerchantId(row.i64("merchant_id")?),
        bill_date: row.date("bill_date")?,
        bill_type: BillType::from_db(&row.text("bill_type")?)?,
        source: BillSource::from_db(&row.text("source")?)?,
        file_name: row.opt_text("file_name")?,
        sha256: row.text("sha256")?,
        byte_len: row.i64("byte_len")?,
        row_count: row.i64("row_count")?,
        summary_differences: row
            .opt_text("summary_differences")?
            .map(|t| serde_json::from_str(&t).map_err(|e| Error::Corrupt(format!("summary_differences: {e}"))))
            .transpose()?,
        summary: BillSummary {
            total_count: row.opt_i64("total_count")?,
            settlement_total: row.opt_i64("settlement_total_fen")?.map(Fen),
            refund_total: row.opt_i64("refund_total_fen")?.map(Fen),
            recharge_refund_total: row.opt_i64("recharge_refund_total_fen")?.map(Fen),
            fee_total: row.opt_i64("fee_total_units")?.map(FeeAmount),
            order_total: row.opt_i64("order_total_fen")?.map(Fen),
            refund_requested_total: row.opt_i64("refund_requested_fen")?.map(Fen),
        },
        imported_by: row.text("imported_by")?,
        imported_at: row.ts("imported_at")?,
    })
}

fn bill_row_from_row(row: &Row) -> Result<StoredBillRow> {
    Ok(StoredBillRow {
        id: BillRowId(row.i64("id")?),
        bill_file_id: BillFileId(row.i64("bill_file_id")?),
        row: BillRow {
            line_no: row.i64("line_no")?,
            trade_time: row.ts("trade_time")?,
            appid: row.opt_text("appid")?,
            mch_id: row.opt_text("mch_id")?,
            sub_mch_id: row.opt_text("sub_mch_id")?,
            device_info: row.opt_text("device_info")?,
            transaction_id: row.opt_text("transaction_id")?,
            out_trade_no: row.opt_text("out_trade_no")?,
            openid: row.opt_text("openid")?,
            trade_type: row.opt_text("trade_type")?,
            trade_state: row.text("trade_state")?,
            bank_type: row.opt_text("bank_type")?,
            currency: row.opt_text("currency")?,
            settlement: Fen(row.i64("settlement_fen")?),
            coupon: Fen(row.i64("coupon_fen")?),
            refund_id: row.opt_text("refund_id")?,
            out_refund_no: row.opt_text("out_refund_no")?,
            refund: Fen(row.i64("refund_fen")?),
            recharge_refund: Fen(row.i64("recharge_refund_fen")?),
            refund_type: row.opt_text("refund_type")?,
            refund_status: row.opt_text("refund_status")?,
            body: row.opt_text("body")?,
            attach: row.opt_text("attach")?,
            fee: FeeAmount(row.i64("fee_units")?),
            rate: row.opt_text("rate")?,
            order_amount: Fen(row.i64("order_fen")?),
            refund_requested: Fen(row.i64("refund_requested_fen")?),
            rate_note: row.opt_text("rate_note")?,
            refund_requested_at: row.opt_ts("refund_requested_at")?,
            refund_success_at: row.opt_ts("refund_success_at")?,
        },
    })
}

/// Inserts rows in bulk inside `tx`.
async fn insert_rows_in(tx: &mut Tx, file: BillFileId, rows: &[BillRow]) -> Result<u64> {
    match tx {
        Tx::Sqlite(_) => insert_rows_sqlite(tx, file, rows).await,
        Tx::Postgres(pg) => insert_rows_pg(pg, file, rows).await,
    }
}

async fn insert_rows_sqlite(tx: &mut Tx, file: BillFileId, rows: &[BillRow]) -> Result<u64> {
    let head = format!("INSERT INTO bill_rows (bill_file_id, {ROW_COLS})");
    sqlite_bulk_insert(tx, &head, "", ROW_COL_COUNT + 1, rows, |r, a| {
        a.extend([
            Arg::from(file.0),
            Arg::from(r.line_no),
            Arg::from(r.trade_time),
            Arg::from(r.appid.clone()),
            Arg::from(r.mch_id.clone()),
            Arg::from(r.sub_mch_id.clone()),
            Arg::from(r.device_info.clone()),
            Arg::from(r.transaction_id.clone()),
            Arg::from(r.out_trade_no.clone()),
            Arg::from(r.openid.clone()),
            Arg::from(r.trade_type.clone()),
            Arg::from(r.trade_state.as_str()),
            Arg::from(r.bank_type.clone()),
            Arg::from(r.currency.clone()),
            Arg::from(r.settlement),
            Arg::from(r.coupon),
            Arg::from(r.refund_id.clone()),
            Arg::from(r.out_refund_no.clone()),
            Arg::from(r.refund),
            Arg::from(r.recharge_refund),
            Arg::from(r.refund_type.clone()),
            Arg::from(r.refund_status.clone()),
            Arg::from(r.body.clone()),
            Arg::from(r.attach.clone()),
            Arg::from(r.fee.0),
            Arg::from(r.rate.clone()),
            Arg::from(r.order_amount),
            Arg::from(r.refund_requested),
            Arg::from(r.rate_note.clone()),
            Arg::from(r.refund_requested_at),
            Arg::from(r.refund_success_at),
        ]);
    })
    .await
}

/// A value of a bill row on its way to the writer thread.
#[derive(Debug, Clone, Copy)]
enum Value {
    Null,
    Int(i64),
    /// A byte range of [`Chunk::text`].
    Text(usize, usize),
}

/// Rows flattened for the writer thread: [`ROW_COL_COUNT`] values a row, in `ROW_COLS` order, their texts in one
/// buffer. The caller's rows are borrowed, so they must be copied to cross into `spawn_blocking`; cloning them
/// string by string (and freeing them on the writer) cost a fifth of the writer's time, and formatting the
/// timestamps here takes that off the writer too.
#[derive(Debug, Default)]
struct Chunk {
    text: String,
    values: Vec<Value>,
}

impl Chunk {
    fn of(rows: &[BillRow]) -> Chunk {
        let mut c = Chunk { text: String::new(), values: Vec::with_capacity(rows.len() * ROW_COL_COUNT) };
        for r in rows {
            c.int(r.line_no);
            c.ts(Some(r.trade_time));
            c.text(r.appid.as_deref());
            c.text(r.mch_id.as_deref());
            c.text(r.sub_mch_id.as_deref());
            c.text(r.device_info.as_deref());
            c.text(r.transaction_id.as_deref());
            c.text(r.out_trade_no.as_deref());
            c.text(r.openid.as_deref());
            c.text(r.trade_type.as_deref());
            c.text(Some(&r.trade_state));
            c.text(r.bank_type.as_deref());
            c.text(r.currency.as_deref());
            c.int(r.settlement.get());
            c.int(r.coupon.get());
            c.text(r.refund_id.as_deref());
            c.text(r.out_refund_no.as_deref());
            c.int(r.refund.get());
            c.int(r.recharge_refund.get());
            c.text(r.refund_type.as_deref());
            c.text(r.refund_status.as_deref());
            c.text(r.body.as_deref());
            c.text(r.attach.as_deref());
            c.int(r.fee.0);
            c.text(r.rate.as_deref());
            c.int(r.order_amount.get());
            c.int(r.refund_requested.get());
            c.text(r.rate_note.as_deref());
            c.ts(r.refund_requested_at);
            c.ts(r.refund_success_at);
        }
        c
    }

    fn int(&mut self, v: i64) {
        self.values.push(Value::Int(v));
    }

    fn text(&mut self, v: Option<&str>) {
        self.values.push(match v {
            Some(v) => {
                let start = self.text.len();
                self.text.push_str(v);
                Value::Text(start, self.text.len())
            }
            None => Value::Null,
        });
    }

    fn ts(&mut self, v: Option<DateTime<Utc>>) {
        let Some(t) = v else { return self.values.push(Value::Null) };
        let start = self.text.len();
        push_ts_text(&mut self.text, t);
        self.values.push(Value::Text(start, self.text.len()));
    }
}

/// Appends [`ts_text`]`(t)` without `format!`, which took 3,500 instructions a timestamp (more than binding the
/// whole row); years outside 0..=9999 (never in a bill) take `ts_text` itself.
fn push_ts_text(out: &mut String, t: DateTime<Utc>) {
    let (date, time) = (t.date_naive(), t.time());
    let year = u32::try_from(date.year()).unwrap_or(u32::MAX);
    if year > 9999 {
        return out.push_str(&ts_text(t));
    }
    let micros = (time.nanosecond() / 1000).min(999_999);
    let fields = [(year, 4, '-'), (date.month(), 2, '-'), (date.day(), 2, 'T'), (time.hour(), 2, ':')];
    let fields = fields.into_iter().chain([(time.minute(), 2, ':'), (time.second(), 2, '.'), (micros, 6, 'Z')]);
    for (value, width, then) in fields {
        for place in (0..width).rev() {
            out.push(char::from_digit(value / 10_u32.pow(place) % 10, 10).unwrap_or('0'));
        }
        out.push(then);
    }
}

/// What the SQLite writer thread receives after the file row: rows, then the end of the file.
#[derive(Debug)]
enum Message {
    Rows(Chunk),
    Finish { summary: BillSummary, differences: Option<String> },
}

/// The writer thread: the whole import in one `BEGIN IMMEDIATE` transaction (as [`crate::db::Db::begin`]), which
/// any early return drops, rolling it back — so a failing row leaves neither the file nor any row behind, and so
/// does a session dropped before [`BillImportSession::finish`] (the channel closes). `started` learns first whether
/// the file is new (`Some(id)`) or was imported before (`None`: nothing is written, the thread ends); a failure
/// before that drops `started` and is this function's result.
fn write_direct(
    direct: &DirectSqlite,
    file: &NewBillFile,
    sha: &str,
    started: oneshot::Sender<Option<BillFileId>>,
    mut messages: mpsc::Receiver<Message>,
) -> Result<()> {
    // Only seen by nobody: the caller dropped the session, closing the channel.
    let abandoned = || Error::Conflict("bill import abandoned by its caller".into());
    let mut conn = direct.open()?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let s = &file.summary;
    let id: Option<i64> = tx
        .query_row(
            INSERT_FILE,
            params![
                file.merchant.0,
                file.bill_date.format("%F").to_string(), // as sqlx-sqlite encodes a NaiveDate
                file.bill_type.as_str(),
                file.source.as_str(),
                file.file_name,
                sha,
                file.byte_len,
                s.total_count,
                s.settlement_total.map(Fen::get),
                s.refund_total.map(Fen::get),
                s.recharge_refund_total.map(Fen::get),
                s.fee_total.map(|f| f.0),
                s.order_total.map(Fen::get),
                s.refund_requested_total.map(Fen::get),
                file.imported_by,
                ts_text(file.imported_at),
            ],
            |row| row.get(0),
        )
        .optional()?;
    let Some(id) = id.map(BillFileId) else {
        let _ = started.send(None);
        return Ok(());
    };
    started.send(Some(id)).map_err(|_| abandoned())?;
    let placeholders = vec!["?"; ROW_COL_COUNT + 1].join(", ");
    let mut insert =
        tx.prepare(&format!("INSERT INTO bill_rows (bill_file_id, {ROW_COLS}) VALUES ({placeholders})"))?;
    // Bindings stay between executions: the file id is bound once, the row's values over it each time.
    insert.raw_bind_parameter(1, id.0)?;
    let mut count = 0_usize;
    let (summary, differences) = loop {
        match messages.blocking_recv().ok_or_else(abandoned)? {
            Message::Rows(chunk) => {
                for row in chunk.values.chunks_exact(ROW_COL_COUNT) {
                    for (at, value) in (2..).zip(row) {
                        match *value {
                            Value::Null => insert.raw_bind_parameter(at, rusqlite::types::Null)?,
                            Value::Int(v) => insert.raw_bind_parameter(at, v)?,
                            Value::Text(start, end) => insert.raw_bind_parameter(at, &chunk.text[start..end])?,
                        }
                    }
                    count += insert.raw_execute()?;
                }
            }
            Message::Finish { summary, differences } => break (summary, differences),
        }
    };
    drop(insert);
    let count = i64::try_from(count).map_err(|_| Error::InvalidInput("too many rows".into()))?;
    let s = &summary;
    tx.execute(
        FINISH_FILE,
        params![
            count,
            s.total_count,
            s.settlement_total.map(Fen::get),
            s.refund_total.map(Fen::get),
            s.recharge_refund_total.map(Fen::get),
            s.fee_total.map(|f| f.0),
            s.order_total.map(Fen::get),
            s.refund_requested_total.map(Fen::get),
            differences,
            id.0
        ],
    )?;
    append_audit(&tx, &import_audit(file, sha, id, count))?;
    tx.commit()?;
    Ok(())
}

async fn insert_rows_pg(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    file: BillFileId,
    rows: &[BillRow],
) -> Result<u64> {
    fn texts(rows: &[BillRow], f: impl Fn(&BillRow) -> Option<String>) -> Vec<Option<String>> {
        rows.iter().map(f).collect()
    }
    fn ints(rows: &[BillRow], f: impl Fn(&BillRow) -> i64) -> Vec<i64> {
        rows.iter().map(f).collect()
    }
    let sql = format!(
        "INSERT INTO bill_rows (bill_file_id, {ROW_COLS}) SELECT $1, u.* FROM UNNEST($2::bigint[], \
         $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
         $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::text[], $18::text[], \
         $19::bigint[], $20::bigint[], $21::text[], $22::text[], $23::text[], $24::text[], $25::bigint[], \
         $26::text[], $27::bigint[], $28::bigint[], $29::text[], $30::timestamptz[], $31::timestamptz[]) AS u"
    );
    let mut inserted = 0;
    for chunk in rows.chunks(20_000) {
        let trade_times: Vec<DateTime<Utc>> = chunk.iter().map(|r| crate::db::micros(r.trade_time)).collect();
        let requested: Vec<Option<DateTime<Utc>>> =
            chunk.iter().map(|r| r.refund_requested_at.map(crate::db::micros)).collect();
        let succeeded: Vec<Option<DateTime<Utc>>> =
            chunk.iter().map(|r| r.refund_success_at.map(crate::db::micros)).collect();
        let result = sqlx::query(&sql)
            .bind(file.0)
            .bind(ints(chunk, |r| r.line_no))
            .bind(trade_times)
            .bind(texts(chunk, |r| r.appid.clone()))
            .bind(texts(chunk, |r| r.mch_id.clone()))
            .bind(texts(chunk, |r| r.sub_mch_id.clone()))
            .bind(texts(chunk, |r| r.device_info.clone()))
            .bind(texts(chunk, |r| r.transaction_id.clone()))
            .bind(texts(chunk, |r| r.out_trade_no.clone()))
            .bind(texts(chunk, |r| r.openid.clone()))
            .bind(texts(chunk, |r| r.trade_type.clone()))
            .bind(texts(chunk, |r| Some(r.trade_state.clone())))
            .bind(texts(chunk, |r| r.bank_type.clone()))
            .bind(texts(chunk, |r| r.currency.clone()))
            .bind(ints(chunk, |r| r.settlement.get()))
            .bind(ints(chunk, |r| r.coupon.get()))
            .bind(texts(chunk, |r| r.refund_id.clone()))
            .bind(texts(chunk, |r| r.out_refund_no.clone()))
            .bind(ints(chunk, |r| r.refund.get()))
            .bind(ints(chunk, |r| r.recharge_refund.get()))
            .bind(texts(chunk, |r| r.refund_type.clone()))
            .bind(texts(chunk, |r| r.refund_status.clone()))
            .bind(texts(chunk, |r| r.body.clone()))
            .bind(texts(chunk, |r| r.attach.clone()))
            .bind(ints(chunk, |r| r.fee.0))
            .bind(texts(chunk, |r| r.rate.clone()))
            .bind(ints(chunk, |r| r.order_amount.get()))
            .bind(ints(chunk, |r| r.refund_requested.get()))
            .bind(texts(chunk, |r| r.rate_note.clone()))
            .bind(requested)
            .bind(succeeded)
            .execute(&mut **tx)
            .await?;
        inserted += result.rows_affected();
    }
    Ok(inserted)
}

/// How a [`BillImportSession`] writes.
#[derive(Debug)]
enum Writer {
    /// The SQLite writer thread ([`write_direct`]) and its channel.
    Direct { messages: mpsc::Sender<Message>, thread: tokio::task::JoinHandle<Result<()>> },
    /// A transaction of the pool (PostgreSQL, in-memory SQLite).
    Pool(Tx),
}

/// What [`Ledger::begin_bill_import`] found.
#[derive(Debug)]
pub enum BillImportStart {
    /// The file is new: push its rows, then [`BillImportSession::finish`].
    Started(BillImportSession),
    /// The same bytes were imported before: nothing was written.
    AlreadyImported(BillFile),
}

/// One bill file being imported, rows pushed in chunks (never all in memory), all in one transaction: nothing is
/// visible until [`BillImportSession::finish`], and a session dropped before that (or failing) leaves nothing.
#[derive(Debug)]
pub struct BillImportSession {
    ledger: Ledger,
    file: NewBillFile,
    sha: String,
    id: BillFileId,
    rows: u64,
    writer: Writer,
}

impl BillImportSession {
    /// The new file's id.
    pub fn file_id(&self) -> BillFileId {
        self.id
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Adds rows (in bill order). Any size works; [`IMPORT_CHUNK_ROWS`] at a time keeps memory flat.
    pub async fn push(&mut self, rows: &[BillRow]) -> Result<()> {
        match &mut self.writer {
            Writer::Direct { messages, .. } => {
                for part in rows.chunks(IMPORT_CHUNK_ROWS) {
                    if messages.send(Message::Rows(Chunk::of(part))).await.is_err() {
                        // The writer stopped: its result says why.
                        return Err(self.fail().await);
                    }
                }
            }
            Writer::Pool(tx) => {
                insert_rows_in(tx, self.id, rows).await?;
            }
        }
        self.rows += u64::try_from(rows.len()).unwrap_or(u64::MAX);
        Ok(())
    }

    /// The writer's error after it stopped early.
    async fn fail(&mut self) -> Error {
        let Writer::Direct { thread, .. } = &mut self.writer else {
            return Error::Conflict("bill import failed".into());
        };
        match thread.await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => Error::Conflict("bill import ended early".into()),
            Err(_) => Error::Database(sqlx::Error::WorkerCrashed),
        }
    }

    /// Writes the summary (the bill's last lines), how it compares with the rows (`differences`: plain-text
    /// differences, empty when they agree; `None` when not checked), the row count and the audit entry, and commits.
    pub async fn finish(self, summary: &BillSummary, differences: Option<&[String]>) -> Result<BillImport> {
        let differences = differences.map(|d| serde_json::Value::from(d.to_vec()).to_string());
        let BillImportSession { ledger, file, sha, id, writer, .. } = self;
        match writer {
            Writer::Direct { messages, thread } => {
                let finish = Message::Finish { summary: *summary, differences };
                let sent = messages.send(finish).await;
                // `messages` lives until the writer is done: the writer commits only while someone still waits.
                let result = thread.await.map_err(|_| sqlx::Error::WorkerCrashed)?;
                drop(messages);
                result?;
                if sent.is_err() {
                    return Err(Error::Conflict("bill import ended early".into()));
                }
            }
            Writer::Pool(mut tx) => {
                let count =
                    tx.fetch_one("SELECT COUNT(*) AS n FROM bill_rows WHERE bill_file_id = $1", args![id.0]).await?;
                let count = count.i64("n")?;
                let s = summary;
                tx.execute(
                    FINISH_FILE,
                    args![
                        count,
                        s.total_count,
                        s.settlement_total,
                        s.refund_total,
                        s.recharge_refund_total,
                        s.fee_total.map(|f| f.0),
                        s.order_total,
                        s.refund_requested_total,
                        differences,
                        id.0
                    ],
                )
                .await?;
                append_in(&mut tx, &import_audit(&file, &sha, id, count)).await?;
                tx.commit().await?;
            }
        }
        let stored = ledger.bill_file(id).await?;
        Ok(BillImport { file: stored, already_imported: false })
    }
}

fn check_sha(sha256: &str) -> Result<String> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidInput("sha256 must be 64 hex digits".into()));
    }
    Ok(sha256.to_ascii_lowercase())
}

impl Ledger {
    /// Starts importing a bill file whose rows will be pushed in chunks (a million-row bill never sits in memory).
    /// The same bytes (same SHA-256) for the same merchant, day and type are recognised and nothing is written
    /// ([`BillImportStart::AlreadyImported`]). The summary in `file` is written now and replaced at `finish`.
    pub async fn begin_bill_import(&self, file: &NewBillFile) -> Result<BillImportStart> {
        let sha = check_sha(&file.sha256)?;
        let key = || args![file.merchant.0, file.bill_date, file.bill_type.as_str(), sha.as_str()];
        let select = format!(
            "SELECT {FILE_COLS} FROM bill_files WHERE merchant_id = $1 AND bill_date = $2 AND bill_type = $3 \
             AND sha256 = $4"
        );
        if let Some(direct) = DirectSqlite::of(&self.db).await? {
            let (messages, receiver) = mpsc::channel(2);
            let (started, started_rx) = oneshot::channel();
            let (file_owned, sha_owned) = (file.clone(), sha.clone());
            let thread =
                tokio::task::spawn_blocking(move || write_direct(&direct, &file_owned, &sha_owned, started, receiver));
            return match started_rx.await {
                Ok(Some(id)) => Ok(BillImportStart::Started(BillImportSession {
                    ledger: self.clone(),
                    file: file.clone(),
                    sha,
                    id,
                    rows: 0,
                    writer: Writer::Direct { messages, thread },
                })),
                Ok(None) => {
                    thread.await.map_err(|_| sqlx::Error::WorkerCrashed)??;
                    Ok(BillImportStart::AlreadyImported(file_from_row(&self.db.fetch_one(&select, key()).await?)?))
                }
                Err(_) => {
                    thread.await.map_err(|_| sqlx::Error::WorkerCrashed)??;
                    Err(Error::Conflict("bill import could not start".into()))
                }
            };
        }
        let s = &file.summary;
        let mut tx = self.db.begin().await?;
        let inserted = tx
            .fetch_optional(
                INSERT_FILE,
                args![
                    file.merchant.0,
                    file.bill_date,
                    file.bill_type.as_str(),
                    file.source.as_str(),
                    file.file_name.clone(),
                    sha.as_str(),
                    file.byte_len,
                    s.total_count,
                    s.settlement_total,
                    s.refund_total,
                    s.recharge_refund_total,
                    s.fee_total.map(|f| f.0),
                    s.order_total,
                    s.refund_requested_total,
                    file.imported_by.as_str(),
                    file.imported_at
                ],
            )
            .await?;
        let Some(row) = inserted else {
            let existing = file_from_row(&tx.fetch_one(&select, key()).await?)?;
            return Ok(BillImportStart::AlreadyImported(existing));
        };
        let id = BillFileId(row.i64("id")?);
        Ok(BillImportStart::Started(BillImportSession {
            ledger: self.clone(),
            file: file.clone(),
            sha,
            id,
            rows: 0,
            writer: Writer::Pool(tx),
        }))
    }

    /// Imports a bill file and its rows in one transaction (the rows already in memory: small bills and tests;
    /// large ones go through [`Ledger::begin_bill_import`]). The same bytes (same SHA-256) for the same merchant,
    /// day and type are recognised and nothing is added (`already_imported`). Audited.
    pub async fn import_bill(&self, file: &NewBillFile, rows: &[BillRow]) -> Result<BillImport> {
        match self.begin_bill_import(file).await? {
            BillImportStart::AlreadyImported(existing) => Ok(BillImport { file: existing, already_imported: true }),
            BillImportStart::Started(mut session) => {
                session.push(rows).await?;
                session.finish(&file.summary, None).await
            }
        }
    }

    /// One imported bill file.
    pub async fn bill_file(&self, id: BillFileId) -> Result<BillFile> {
        let sql = format!("SELECT {FILE_COLS} FROM bill_files WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id.0]).await?;
        row.as_ref()
            .map(file_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "bill file", key: id.to_string() })
    }

    /// The newest bill file of one merchant, day and type (the one a day is reconciled against).
    pub async fn newest_bill_file(
        &self,
        merchant: MerchantId,
        day: NaiveDate,
        bill_type: BillType,
    ) -> Result<Option<BillFile>> {
        let sql = format!(
            "SELECT {FILE_COLS} FROM bill_files WHERE merchant_id = $1 AND bill_date = $2 AND bill_type = $3 \
             ORDER BY id DESC LIMIT 1"
        );
        self.db
            .fetch_optional(&sql, args![merchant.0, day, bill_type.as_str()])
            .await?
            .as_ref()
            .map(file_from_row)
            .transpose()
    }

    /// Records that WeChat said "No Bill Exist" for a day (no business there). Idempotent.
    pub async fn record_bill_absence(
        &self,
        merchant: MerchantId,
        day: NaiveDate,
        bill_type: BillType,
        who: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO bill_absences (merchant_id, bill_date, bill_type, seen_by, seen_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (merchant_id, bill_date, bill_type) DO NOTHING",
            args![merchant.0, day, bill_type.as_str(), who, at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The days in `from..=to` for which WeChat said "No Bill Exist".
    pub async fn bill_absences(&self, merchant: MerchantId, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT bill_date FROM bill_absences WHERE merchant_id = $1 AND bill_date >= $2 AND bill_date <= $3 \
                 AND bill_type = 'ALL' ORDER BY bill_date",
                args![merchant.0, from, to],
            )
            .await?;
        rows.iter().map(|r| r.date("bill_date")).collect()
    }

    /// The days in `from..=to` that have an imported ALL bill.
    pub async fn bill_days(&self, merchant: MerchantId, from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT DISTINCT bill_date FROM bill_files WHERE merchant_id = $1 AND bill_date >= $2 \
                 AND bill_date <= $3 AND bill_type = 'ALL' ORDER BY bill_date",
                args![merchant.0, from, to],
            )
            .await?;
        rows.iter().map(|r| r.date("bill_date")).collect()
    }

    /// One bill row.
    pub async fn bill_row(&self, id: BillRowId) -> Result<StoredBillRow> {
        let sql = format!("SELECT id, bill_file_id, {ROW_COLS} FROM bill_rows WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id.0]).await?;
        row.as_ref()
            .map(bill_row_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "bill row", key: id.to_string() })
    }

    /// The bill files imported for one merchant and day, oldest import first.
    pub async fn bill_files(&self, merchant: MerchantId, day: NaiveDate) -> Result<Vec<BillFile>> {
        let sql = format!("SELECT {FILE_COLS} FROM bill_files WHERE merchant_id = $1 AND bill_date = $2 ORDER BY id");
        self.db.fetch_all(&sql, args![merchant.0, day]).await?.iter().map(file_from_row).collect()
    }

    /// A file's rows with `line_no > after_line`, in line order (page through a large bill).
    pub async fn bill_rows(&self, file: BillFileId, after_line: i64, limit: u32) -> Result<Vec<StoredBillRow>> {
        let sql = format!(
            "SELECT id, bill_file_id, {ROW_COLS} FROM bill_rows WHERE bill_file_id = $1 AND line_no > $2 \
             ORDER BY line_no LIMIT $3"
        );
        self.db
            .fetch_all(&sql, args![file.0, after_line, i64::from(limit)])
            .await?
            .iter()
            .map(bill_row_from_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn timestamps_are_written_as_ts_text_writes_them() {
        let times = [
            Utc.with_ymd_and_hms(2024, 5, 31, 23, 59, 59).single(),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(9999, 12, 31, 1, 2, 3).single(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).single(),
        ];
        let nanos = [0, 1_000, 999, 123_456_789, 999_999_999, 1_500_000_000]; // the last one: a leap second
        for t in times.into_iter().flatten() {
            for n in nanos {
                let t = t.with_nanosecond(n).unwrap();
                let mut out = String::from("x");
                push_ts_text(&mut out, t);
                assert_eq!(out, format!("x{}", ts_text(t)), "{t:?}");
            }
        }
    }
}
