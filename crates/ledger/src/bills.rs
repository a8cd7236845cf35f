//! Bill files and their rows (wxpay-v2.md §7). A file is recognised by (merchant, date, type, SHA-256), so
//! importing the same bytes twice adds nothing. Rows go in by bulk insert in the file's transaction: multi-row
//! `INSERT … VALUES` on SQLite, `INSERT … SELECT FROM UNNEST(arrays)` on PostgreSQL.

use chrono::{DateTime, NaiveDate, Utc};
use wxpay::{FeeAmount, Fen};

use crate::audit::{append_in, audit};
use crate::db::{args, sqlite_bulk_insert, Arg, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{
    AuditResult, BillFile, BillFileId, BillImport, BillRow, BillRowId, BillSource, BillSummary, BillType, MerchantId,
    NewBillFile, StoredBillRow,
};
use crate::Ledger;

const FILE_COLS: &str = "id, merchant_id, bill_date, bill_type, source, file_name, sha256, byte_len, row_count, \
    total_count, settlement_total_fen, refund_total_fen, recharge_refund_total_fen, fee_total_units, order_total_fen, \
    refund_requested_fen, imported_by, imported_at";

/// The stored columns of a row, after `bill_file_id`, in insert order.
const ROW_COLS: &str = "line_no, trade_time, appid, mch_id, sub_mch_id, device_info, transaction_id, out_trade_no, \
    openid, trade_type, trade_state, bank_type, currency, settlement_fen, coupon_fen, refund_id, out_refund_no, \
    refund_fen, recharge_refund_fen, refund_type, refund_status, body, attach, fee_units, rate, order_fen, \
    refund_requested_fen, rate_note, refund_requested_at, refund_success_at";
const ROW_COL_COUNT: usize = 30;

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

impl Ledger {
    /// Imports a bill file and its rows in one transaction. The same bytes (same SHA-256) for the same merchant,
    /// day and type are recognised and nothing is added (`already_imported`). Audited.
    pub async fn import_bill(&self, file: &NewBillFile, rows: &[BillRow]) -> Result<BillImport> {
        if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidInput("sha256 must be 64 hex digits".into()));
        }
        let sha = file.sha256.to_ascii_lowercase();
        let s = &file.summary;
        let mut tx = self.db.begin().await?;
        let inserted = tx
            .fetch_optional(
                "INSERT INTO bill_files (merchant_id, bill_date, bill_type, source, file_name, sha256, byte_len, \
                 total_count, settlement_total_fen, refund_total_fen, recharge_refund_total_fen, fee_total_units, \
                 order_total_fen, refund_requested_fen, imported_by, imported_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                 ON CONFLICT (merchant_id, bill_date, bill_type, sha256) DO NOTHING RETURNING id",
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
        let select = format!(
            "SELECT {FILE_COLS} FROM bill_files WHERE merchant_id = $1 AND bill_date = $2 AND bill_type = $3 \
             AND sha256 = $4"
        );
        let key = || args![file.merchant.0, file.bill_date, file.bill_type.as_str(), sha.as_str()];
        let Some(row) = inserted else {
            let existing = file_from_row(&tx.fetch_one(&select, key()).await?)?;
            return Ok(BillImport { file: existing, already_imported: true });
        };
        let id = BillFileId(row.i64("id")?);
        let count = insert_rows_in(&mut tx, id, rows).await?;
        let count = i64::try_from(count).map_err(|_| Error::InvalidInput("too many rows".into()))?;
        tx.execute("UPDATE bill_files SET row_count = $1 WHERE id = $2", args![count, id.0]).await?;
        let detail = serde_json::json!({
            "bill_date": file.bill_date.to_string(),
            "bill_type": file.bill_type.as_str(),
            "source": file.source.as_str(),
            "sha256": sha,
            "rows": count,
        })
        .to_string();
        let subject = format!("bill_file:{id}");
        append_in(
            &mut tx,
            &audit(&file.imported_by, "bill.import", subject, AuditResult::Ok, detail, file.imported_at),
        )
        .await?;
        let stored = file_from_row(&tx.fetch_one(&select, key()).await?)?;
        tx.commit().await?;
        Ok(BillImport { file: stored, already_imported: false })
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
