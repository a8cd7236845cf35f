//! The daily close's CSV exports (UTF-8 with a BOM so Excel reads the Chinese right; every cell quoted, formula
//! starters defused, as the audit export does): the day's bill rows, read page by page (never all in memory), and
//! the day's discrepancies.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};

use crate::contract::ExportResult;
use crate::error::{CoreError, CoreResult, Locale};
use crate::session::Session;

/// One CSV cell: quoted, quotes doubled, formula starters defused.
fn cell(text: &str) -> String {
    let defused =
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

/// Money is written as exact yuan text (never through a float); a leading minus is kept as a number, not defused.
fn money_cell(text: &str) -> String {
    format!("\"{text}\"")
}

struct Csv {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    rows: i64,
}

impl Csv {
    fn create(dir: &Path, name: &str, header: &str) -> CoreResult<Csv> {
        std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        let path = dir.join(name);
        let tmp = path.with_extension("csv.part");
        let file = std::fs::File::create(&tmp).map_err(|e| CoreError::io(&tmp, e))?;
        let mut csv = Csv { path, tmp, out: std::io::BufWriter::new(file), rows: 0 };
        csv.write(&format!("\u{feff}{header}\r\n"))?;
        Ok(csv)
    }

    fn write(&mut self, text: &str) -> CoreResult<()> {
        self.out.write_all(text.as_bytes()).map_err(|e| CoreError::io(&self.tmp, e))
    }

    fn line(&mut self, cells: &[String]) -> CoreResult<()> {
        let line = cells.join(",");
        self.write(&line)?;
        self.write("\r\n")?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> CoreResult<ExportResult> {
        self.out.flush().map_err(|e| CoreError::io(&self.tmp, e))?;
        drop(self.out);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| CoreError::io(&self.path, e))?;
        Ok(ExportResult { path: self.path.display().to_string(), rows: self.rows })
    }
}

fn stamp(now: DateTime<Utc>) -> String {
    wxpay::BeijingTime::from_utc(now).to_compact()
}

/// The rows of the day's newest bill, in bill order.
pub(crate) async fn day_csv(
    session: &Session,
    day: NaiveDate,
    dir: &Path,
    now: DateTime<Utc>,
) -> CoreResult<ExportResult> {
    let name = format!("paydesk-bill-{day}-{}.csv", stamp(now));
    let mut csv = Csv::create(
        dir,
        &name,
        "line,trade_time_beijing,kind,transaction_id,out_trade_no,out_refund_no,trade_state,refund_status,order_yuan,settlement_yuan,refund_yuan,fee_yuan",
    )?;
    if let Some(file) = session.ledger.newest_bill_file(session.merchant_id, day, ledger::BillType::All).await? {
        let mut after = 0_i64;
        loop {
            let page = session.ledger.bill_rows(file.id, after, 5000).await?;
            let Some(last) = page.last() else { break };
            after = last.row.line_no;
            for r in &page {
                let r = &r.row;
                let refund = r.trade_state == "REFUND" || r.out_refund_no.is_some();
                csv.line(&[
                    r.line_no.to_string(),
                    cell(&wxpay::BeijingTime::from_utc(r.trade_time).to_dashed()),
                    cell(if refund { "refund" } else { "payment" }),
                    cell(r.transaction_id.as_deref().unwrap_or("")),
                    cell(r.out_trade_no.as_deref().unwrap_or("")),
                    cell(r.out_refund_no.as_deref().unwrap_or("")),
                    cell(&r.trade_state),
                    cell(r.refund_status.as_deref().unwrap_or("")),
                    money_cell(&r.order_amount.to_yuan_string()),
                    money_cell(&r.settlement.to_yuan_string()),
                    money_cell(&r.refund.to_yuan_string()),
                    money_cell(&r.fee.to_yuan_string()),
                ])?;
            }
        }
    }
    csv.finish()
}

/// The day's discrepancies, as the day view lists them.
pub(crate) async fn discrepancies_csv(
    session: &Session,
    day: NaiveDate,
    dir: &Path,
    now: DateTime<Utc>,
    locale: Locale,
) -> CoreResult<ExportResult> {
    let name = format!("paydesk-discrepancies-{day}-{}.csv", stamp(now));
    let mut csv = Csv::create(
        dir,
        &name,
        "id,kind,status,out_trade_no,transaction_id,out_refund_no,ledger_value,wechat_value,ledger_yuan,wechat_yuan,explanation,resolution,resolved_by,resolved_at",
    )?;
    let views = session.ledger.day_discrepancies(session.merchant_id, day).await?;
    for v in &views {
        let row = super::view::discrepancy_row(v, session.role, locale);
        let yuan = |f: Option<i64>| f.map(|f| wxpay::Fen(f).to_yuan_string()).unwrap_or_default();
        csv.line(&[
            row.id.to_string(),
            cell(&row.kind),
            cell(&row.status),
            cell(row.out_trade_no.as_deref().unwrap_or("")),
            cell(row.transaction_id.as_deref().unwrap_or("")),
            cell(row.out_refund_no.as_deref().unwrap_or("")),
            cell(row.ledger_value.as_deref().unwrap_or("")),
            cell(row.wechat_value.as_deref().unwrap_or("")),
            money_cell(&yuan(row.ledger_fen)),
            money_cell(&yuan(row.wechat_fen)),
            cell(&row.explanation),
            cell(row.resolution.as_deref().unwrap_or("")),
            cell(row.resolved_by.as_deref().unwrap_or("")),
            cell(row.resolved_at.as_deref().unwrap_or("")),
        ])?;
    }
    csv.finish()
}
