//! Reconciling one Beijing day (the daily close, ARCHITECTURE.md §3; docs/decisions/0009-daily-close.md), set-based:
//! the bill's rows are matched to the ledger inside the database, never read into memory.
//!
//! One transaction does the whole run: a temporary table `recon_rows` gets one row per bill row with the ledger
//! order (payment rows: by transaction_id, else out_trade_no) or refund (refund rows: by out_refund_no) it matched
//! and what differs (filled in line ranges, so progress can be reported); the few rows that differ are read back;
//! the ledger's paid orders and initiated refunds of the day that no bill row matched are found by an anti-join on
//! it. Those are looked for once more in the neighbouring days' bills (the carry-over window: a payment at 23:59:59
//! may be in the next day's bill); not found, they wait (`CARRIED_OVER`) while a bill of the window is still to
//! come, and count (`OPEN`) after. Every difference is one discrepancy per (day, kind, subject), found again by
//! later runs; one no longer found is `RESOLVED`. Both sides' figures are kept with the run.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use wxpay::{BeijingTime, FeeAmount, Fen};

use crate::audit::{append_in, audit};
use crate::db::{args, Arg, Engine, Tx};
use crate::error::Result;
use crate::model::{
    AuditResult, BillFileId, BillRowId, BillType, DayFigures, DiscrepancyKind, DiscrepancyStatus, MerchantId, OrderId,
    ReconRunId, RefundRecordId,
};
use crate::Ledger;

/// Bill lines matched per statement: progress is reported between them.
const LINES_PER_STEP: i64 = 100_000;
/// Ids per `IN (…)` list when looking for carried-over items.
const IN_LIST: usize = 300;

/// A payment row: not a refund (`REFUND` state, or a refund number other than empty / `0`).
const PAY: &str = "(r.trade_state <> 'REFUND' AND (r.out_refund_no IS NULL OR r.out_refund_no IN ('', '0')))";

/// What differs on a payment row (`m`: the row, `o`: the order it matched, if any). 0: nothing; 1: no such order
/// (a REVOKED row of an unknown order moved no money and is left alone); 2: the amount; 3: the state (checked only
/// when the amounts agree: an amount that differs is the root cause).
const PAY_PROBLEM: &str = "CASE WHEN o.id IS NULL THEN (CASE WHEN m.trade_state = 'REVOKED' THEN 0 ELSE 1 END) \
    WHEN o.total_fee <> m.order_fen THEN 2 \
    WHEN m.trade_state = 'REVOKED' AND o.trade_state <> 'REVOKED' THEN 3 \
    WHEN m.trade_state <> 'REVOKED' AND o.trade_state NOT IN ('SUCCESS', 'REFUND') THEN 3 ELSE 0 END";

/// What differs on a refund row (`f`: the ledger's refund). The bill writes a refund's status as of the bill's
/// making and never updates it (wxpay-v2.md §7.2), so a later outcome here is no difference; a refund WeChat has
/// while the ledger thinks it never arrived (CREATED) or was refused (FAILED) is.
const REFUND_PROBLEM: &str = "CASE WHEN f.id IS NULL THEN 1 WHEN f.amount <> m.refund_fen THEN 2 \
    WHEN m.refund_status = 'SUCCESS' AND f.status <> 'SUCCESS' THEN 3 \
    WHEN m.refund_status = 'REFUNDCLOSE' AND f.status <> 'REFUNDCLOSE' THEN 3 \
    WHEN m.refund_status = 'CHANGE' AND f.status NOT IN ('CHANGE', 'SUCCESS') THEN 3 \
    WHEN f.status IN ('CREATED', 'FAILED') THEN 3 ELSE 0 END";

/// Ledger refunds WeChat should have: accepted there (whatever came after).
const REFUND_AT_WECHAT: &str = "('PROCESSING', 'SUCCESS', 'CHANGE', 'REFUNDCLOSE')";

/// What to reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileDay {
    pub merchant: MerchantId,
    /// The Beijing day.
    pub day: NaiveDate,
    /// The day's newest ALL bill; `None` when WeChat said "No Bill Exist" (every paid order of the day is then
    /// missing at WeChat).
    pub bill_file: Option<BillFileId>,
    /// Days a missing item is looked for in the neighbouring bills, and waits for them (default 1).
    pub carry_over_days: u32,
    pub who: String,
    pub at: DateTime<Utc>,
}

/// What a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub run: ReconRunId,
    pub matched: i64,
    /// Discrepancies found by this run (waiting ones included).
    pub found: i64,
    /// Earlier discrepancies of the day that this run no longer found (now RESOLVED).
    pub resolved: i64,
    pub ledger: DayFigures,
    pub wechat: DayFigures,
}

/// Progress of a run: `(bill lines done, bill lines in all)`.
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

/// One difference before it is stored.
#[derive(Debug)]
struct Found {
    kind: DiscrepancyKind,
    subject: String,
    order_id: Option<OrderId>,
    refund_id: Option<RefundRecordId>,
    bill_row_id: Option<BillRowId>,
    ledger_value: Option<String>,
    wechat_value: Option<String>,
    ledger_amount: Option<Fen>,
    wechat_amount: Option<Fen>,
    waiting: bool,
}

/// A ledger item that no bill row of the day matched.
#[derive(Debug)]
struct Unmatched {
    found: Found,
    transaction_id: Option<String>,
    out_trade_no: Option<String>,
    out_refund_no: Option<String>,
}

fn beijing_midnight(day: NaiveDate) -> DateTime<Utc> {
    BeijingTime::from_naive(day.and_time(chrono::NaiveTime::MIN)).to_utc()
}

fn temp_table_sql(engine: Engine) -> [&'static str; 2] {
    match engine {
        Engine::Sqlite => [
            "DROP TABLE IF EXISTS temp.recon_rows",
            "CREATE TEMP TABLE recon_rows (row_id INTEGER PRIMARY KEY, is_refund INTEGER NOT NULL, \
             target_id INTEGER, problem INTEGER NOT NULL)",
        ],
        Engine::Postgres => [
            "DROP TABLE IF EXISTS pg_temp.recon_rows",
            "CREATE TEMP TABLE recon_rows (row_id BIGINT PRIMARY KEY, is_refund BIGINT NOT NULL, \
             target_id BIGINT, problem BIGINT NOT NULL) ON COMMIT DROP",
        ],
    }
}

/// The matching statement for one line range (`$1` file, `$2` merchant, `$3` < line_no <= `$4`). SQLite runs the
/// two order lookups as lazy scalar subqueries (the second only when the first finds nothing); PostgreSQL as joins,
/// which its planner turns into hash or merge joins.
fn match_sql(engine: Engine) -> String {
    match engine {
        Engine::Sqlite => format!(
            "INSERT INTO recon_rows (row_id, is_refund, target_id, problem) \
             SELECT m.row_id, m.is_refund, CASE WHEN m.is_refund = 1 THEN f.id ELSE o.id END, \
             CASE WHEN m.is_refund = 1 THEN {REFUND_PROBLEM} ELSE {PAY_PROBLEM} END \
             FROM (SELECT r.id AS row_id, r.order_fen, r.refund_fen, r.trade_state, r.refund_status, \
                   CASE WHEN {PAY} THEN 0 ELSE 1 END AS is_refund, \
                   CASE WHEN {PAY} THEN COALESCE( \
                       (SELECT x.id FROM orders x WHERE x.transaction_id = r.transaction_id AND x.merchant_id = $2), \
                       (SELECT x.id FROM orders x WHERE x.merchant_id = $2 AND x.out_trade_no = r.out_trade_no)) \
                   END AS order_id, \
                   CASE WHEN {PAY} THEN NULL ELSE r.out_refund_no END AS out_refund_no \
                   FROM bill_rows r WHERE r.bill_file_id = $1 AND r.line_no > $3 AND r.line_no <= $4) AS m \
             LEFT JOIN orders o ON o.id = m.order_id \
             LEFT JOIN refunds f ON f.merchant_id = $2 AND f.out_refund_no = m.out_refund_no"
        ),
        // The order's columns come straight from the two lookups (no third join of the orders): `o` is the
        // subquery's own (id, total_fee, trade_state) under the names PAY_PROBLEM reads.
        Engine::Postgres => format!(
            "INSERT INTO recon_rows (row_id, is_refund, target_id, problem) \
             SELECT m.row_id, m.is_refund, CASE WHEN m.is_refund = 1 THEN f.id ELSE o.id END, \
             CASE WHEN m.is_refund = 1 THEN {REFUND_PROBLEM} ELSE {PAY_PROBLEM} END \
             FROM (SELECT r.id AS row_id, r.order_fen, r.refund_fen, r.trade_state, r.refund_status, \
                   CASE WHEN {PAY} THEN 0 ELSE 1 END AS is_refund, \
                   COALESCE(o1.id, o2.id) AS order_id, COALESCE(o1.total_fee, o2.total_fee) AS order_total, \
                   COALESCE(o1.trade_state, o2.trade_state) AS order_state, \
                   CASE WHEN {PAY} THEN NULL ELSE r.out_refund_no END AS out_refund_no \
                   FROM bill_rows r \
                   LEFT JOIN orders o1 ON {PAY} AND o1.transaction_id = r.transaction_id AND o1.merchant_id = $2 \
                   LEFT JOIN orders o2 ON {PAY} AND o1.id IS NULL AND o2.merchant_id = $2 \
                        AND o2.out_trade_no = r.out_trade_no \
                   WHERE r.bill_file_id = $1 AND r.line_no > $3 AND r.line_no <= $4) AS m \
             CROSS JOIN LATERAL (SELECT m.order_id AS id, m.order_total AS total_fee, m.order_state AS trade_state) AS o \
             LEFT JOIN refunds f ON f.merchant_id = $2 AND f.out_refund_no = m.out_refund_no"
        ),
    }
}

fn text_or_none(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty() && s != "0")
}

fn payment_subject(out_trade_no: Option<&str>, transaction_id: Option<&str>) -> String {
    match (out_trade_no, transaction_id) {
        (Some(no), _) => format!("order:{no}"),
        (None, Some(t)) => format!("transaction:{t}"),
        (None, None) => "order:?".to_string(),
    }
}

impl Ledger {
    /// Reconciles one Beijing day against its bill (or against "No Bill Exist"), in one transaction. Audited.
    pub async fn reconcile_day(&self, req: &ReconcileDay, progress: Progress<'_>) -> Result<Reconciled> {
        let mut tx = self.db.begin().await?;
        let engine = tx.engine();
        let run = ReconRunId(
            tx.fetch_one(
                "INSERT INTO recon_runs (merchant_id, bill_date, bill_file_id, status, started_by, started_at) \
                 VALUES ($1, $2, $3, 'RUNNING', $4, $5) RETURNING id",
                args![req.merchant.0, req.day, req.bill_file.map(|f| f.0), req.who.as_str(), req.at],
            )
            .await?
            .i64("id")?,
        );
        let lines = match req.bill_file {
            Some(f) => {
                let row = tx
                    .fetch_one(
                        "SELECT COALESCE(MAX(line_no), 0) AS last FROM bill_rows WHERE bill_file_id = $1",
                        args![f.0],
                    )
                    .await?;
                row.i64("last")?
            }
            None => 0,
        };
        let total = u64::try_from(lines).ok();
        progress(0, total);
        for sql in temp_table_sql(engine) {
            tx.execute_once(sql, args![]).await?;
        }
        let mut found = Vec::new();
        let mut wechat = DayFigures::default();
        let mut unmatched_fees = FeeAmount::ZERO;
        if let Some(file) = req.bill_file {
            let sql = match_sql(engine);
            // SQLite matches row by row through the indexes: steps cost what their rows cost, so progress is free.
            // PostgreSQL hash-joins the orders once per statement: one statement, with fresh statistics of the
            // rows just imported (autovacuum has not seen them yet).
            let step = match engine {
                Engine::Sqlite => LINES_PER_STEP,
                Engine::Postgres => {
                    tx.execute_once("ANALYZE bill_rows", args![]).await?;
                    lines.max(1)
                }
            };
            let mut from = 0_i64;
            while from < lines {
                let to = from.saturating_add(step).min(lines);
                tx.execute_once(&sql, args![file.0, req.merchant.0, from, to]).await?;
                from = to;
                progress(u64::try_from(to).unwrap_or(0), total);
            }
            wechat = wechat_figures(&mut tx, file).await?;
            unmatched_fees = bill_problems(&mut tx, &mut found).await?;
        }
        match engine {
            Engine::Sqlite => {
                tx.execute_once("CREATE INDEX temp.recon_rows_target ON recon_rows (is_refund, target_id)", args![])
                    .await?
            }
            Engine::Postgres => {
                tx.execute_once("CREATE INDEX ON recon_rows (is_refund, target_id)", args![]).await?;
                tx.execute_once("ANALYZE recon_rows", args![]).await?
            }
        };
        let mut unmatched = unmatched_orders(&mut tx, req).await?;
        unmatched.extend(unmatched_refunds(&mut tx, req).await?);
        let carried = carry_over(&mut tx, req, &mut unmatched).await?;
        found.extend(unmatched.into_iter().map(|mut u| {
            u.found.waiting = carried;
            u.found
        }));
        let ledger = ledger_figures(&mut tx, req, wechat.fees.0.saturating_sub(unmatched_fees.0)).await?;
        let matched_rows = tx
            .fetch_all_once("SELECT COUNT(*) AS n FROM recon_rows WHERE target_id IS NOT NULL AND problem = 0", args![])
            .await?;
        let matched = matched_rows.first().map(|r| r.i64("n")).transpose()?.unwrap_or(0);
        tx.execute_once(
            match engine {
                Engine::Sqlite => "DROP TABLE temp.recon_rows",
                Engine::Postgres => "DROP TABLE pg_temp.recon_rows",
            },
            args![],
        )
        .await?;

        for f in &found {
            upsert(&mut tx, req, run, f).await?;
        }
        let resolved = tx
            .execute(
                "UPDATE discrepancies SET status = 'RESOLVED', resolved_by = $1, resolved_at = $2, updated_at = $2, \
                 resolution = COALESCE(resolution, $3) \
                 WHERE merchant_id = $4 AND bill_date = $5 AND last_run_id <> $6 \
                 AND status IN ('OPEN', 'CARRIED_OVER', 'ACTION_PENDING')",
                args![
                    req.who.as_str(),
                    req.at,
                    format!("matched by reconciliation run {run}"),
                    req.merchant.0,
                    req.day,
                    run.0
                ],
            )
            .await?;
        let found_count = i64::try_from(found.len()).unwrap_or(i64::MAX);
        let net_fen = wechat.payments.get().saturating_sub(wechat.refunds.get());
        tx.execute(
            "UPDATE recon_runs SET status = 'COMPLETED', finished_at = $1, matched_count = $2, discrepancy_count = $3, \
             takings_fen = $4, refunds_fen = $5, fees_units = $6, net_fen = $7, payments_count = $8, \
             refunds_count = $9, ledger_payments_count = $10, ledger_payments_fen = $11, ledger_refunds_count = $12, \
             ledger_refunds_fen = $13, ledger_fees_units = $14 WHERE id = $15",
            args![
                req.at,
                matched,
                found_count,
                wechat.payments,
                wechat.refunds,
                wechat.fees.0,
                net_fen,
                wechat.payments_count,
                wechat.refunds_count,
                ledger.payments_count,
                ledger.payments,
                ledger.refunds_count,
                ledger.refunds,
                ledger.fees.0,
                run.0
            ],
        )
        .await?;
        let detail = serde_json::json!({
            "day": req.day.to_string(),
            "bill_file": req.bill_file.map(|f| f.0),
            "matched": matched,
            "discrepancies": found_count,
            "resolved": resolved,
            "wechat_payments_fen": wechat.payments.get(),
            "ledger_payments_fen": ledger.payments.get(),
        })
        .to_string();
        append_in(&mut tx, &audit(&req.who, "recon.run", format!("recon_run:{run}"), AuditResult::Ok, detail, req.at))
            .await?;
        tx.commit().await?;
        progress(u64::try_from(lines).unwrap_or(0), total);
        Ok(Reconciled {
            run,
            matched,
            found: found_count,
            resolved: i64::try_from(resolved).unwrap_or(i64::MAX),
            ledger,
            wechat,
        })
    }
}

/// The bill's side: payment rows (REVOKED ones moved no money and are left out), refund rows, all fees.
async fn wechat_figures(tx: &mut Tx, file: BillFileId) -> Result<DayFigures> {
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(CASE WHEN {PAY} AND r.trade_state <> 'REVOKED' THEN 1 ELSE 0 END), 0) AS BIGINT) AS pc, \
         CAST(COALESCE(SUM(CASE WHEN {PAY} AND r.trade_state <> 'REVOKED' THEN r.order_fen ELSE 0 END), 0) AS BIGINT) AS pf, \
         CAST(COALESCE(SUM(CASE WHEN {PAY} THEN 0 ELSE 1 END), 0) AS BIGINT) AS rc, \
         CAST(COALESCE(SUM(CASE WHEN {PAY} THEN 0 ELSE r.refund_fen END), 0) AS BIGINT) AS rf, \
         CAST(COALESCE(SUM(r.fee_units), 0) AS BIGINT) AS fees FROM bill_rows r WHERE r.bill_file_id = $1"
    );
    let row = tx.fetch_one(&sql, args![file.0]).await?;
    Ok(DayFigures {
        payments_count: row.i64("pc")?,
        payments: Fen(row.i64("pf")?),
        refunds_count: row.i64("rc")?,
        refunds: Fen(row.i64("rf")?),
        fees: FeeAmount(row.i64("fees")?),
    })
}

/// Reads back the bill rows that differ; returns the fees of the rows the ledger has nothing for.
async fn bill_problems(tx: &mut Tx, found: &mut Vec<Found>) -> Result<FeeAmount> {
    let rows = tx
        .fetch_all_once(
            "SELECT p.row_id, p.is_refund, p.target_id, p.problem, r.transaction_id, r.out_trade_no, r.out_refund_no, \
             r.order_fen, r.refund_fen, r.trade_state AS bill_state, r.refund_status, r.fee_units, \
             o.total_fee, o.trade_state AS order_state, f.amount AS refund_amount, f.status AS refund_state, \
             f.order_id AS refund_order \
             FROM recon_rows p JOIN bill_rows r ON r.id = p.row_id \
             LEFT JOIN orders o ON p.is_refund = 0 AND o.id = p.target_id \
             LEFT JOIN refunds f ON p.is_refund = 1 AND f.id = p.target_id \
             WHERE p.problem <> 0 ORDER BY p.row_id",
            args![],
        )
        .await?;
    let mut fees = FeeAmount::ZERO;
    for row in &rows {
        let problem = row.i64("problem")?;
        let refund = row.i64("is_refund")? == 1;
        let bill_row_id = Some(BillRowId(row.i64("row_id")?));
        let target = row.opt_i64("target_id")?;
        let out_trade_no = text_or_none(row.opt_text("out_trade_no")?);
        let transaction_id = text_or_none(row.opt_text("transaction_id")?);
        if target.is_none() {
            fees = FeeAmount(fees.0.saturating_add(row.i64("fee_units")?));
        }
        let f = if refund {
            let out_refund_no = text_or_none(row.opt_text("out_refund_no")?);
            let subject = match &out_refund_no {
                Some(no) => format!("refund:{no}"),
                None => format!("refund_row:{}", row.i64("row_id")?),
            };
            let (ledger_value, wechat_value) = match problem {
                1 => (None, row.opt_text("refund_status")?.or(Some("REFUND".into()))),
                2 => (row.opt_text("refund_state")?, row.opt_text("refund_status")?),
                _ => (row.opt_text("refund_state")?, row.opt_text("refund_status")?),
            };
            Found {
                kind: DiscrepancyKind::RefundMismatch,
                subject,
                order_id: row.opt_i64("refund_order")?.map(OrderId),
                refund_id: target.map(RefundRecordId),
                bill_row_id,
                ledger_value,
                wechat_value,
                ledger_amount: row.opt_i64("refund_amount")?.map(Fen),
                wechat_amount: Some(Fen(row.i64("refund_fen")?)),
                waiting: false,
            }
        } else {
            let kind = match problem {
                1 => DiscrepancyKind::MissingInLedger,
                2 => DiscrepancyKind::AmountMismatch,
                _ => DiscrepancyKind::StatusMismatch,
            };
            Found {
                kind,
                subject: payment_subject(out_trade_no.as_deref(), transaction_id.as_deref()),
                order_id: target.map(OrderId),
                refund_id: None,
                bill_row_id,
                ledger_value: row.opt_text("order_state")?,
                wechat_value: row.opt_text("bill_state")?,
                ledger_amount: row.opt_i64("total_fee")?.map(Fen),
                wechat_amount: Some(Fen(row.i64("order_fen")?)),
                waiting: false,
            }
        };
        found.push(f);
    }
    Ok(fees)
}

/// The day's paid orders that no bill row matched (missing at WeChat). The anti-join reads only the paid-day index
/// and the temporary table's; the few found are then read whole.
async fn unmatched_orders(tx: &mut Tx, req: &ReconcileDay) -> Result<Vec<Unmatched>> {
    let ids = tx
        .fetch_all_once(
            "SELECT o.id FROM orders o WHERE o.paid_day = $1 AND o.merchant_id = $2 \
             AND NOT EXISTS (SELECT 1 FROM recon_rows p WHERE p.is_refund = 0 AND p.target_id = o.id)",
            args![req.day, req.merchant.0],
        )
        .await?;
    let ids: Vec<i64> = ids.iter().map(|r| r.i64("id")).collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for part in ids.chunks(IN_LIST) {
        let list = part.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let rows = tx
            .fetch_all_once(
                &format!(
                    "SELECT id, out_trade_no, transaction_id, total_fee, trade_state FROM orders WHERE id IN ({list}) \
                     ORDER BY id"
                ),
                args![],
            )
            .await?;
        for row in &rows {
            let out_trade_no = row.text("out_trade_no")?;
            let transaction_id = row.opt_text("transaction_id")?;
            out.push(Unmatched {
                found: Found {
                    kind: DiscrepancyKind::MissingAtWechat,
                    subject: payment_subject(Some(&out_trade_no), transaction_id.as_deref()),
                    order_id: Some(OrderId(row.i64("id")?)),
                    refund_id: None,
                    bill_row_id: None,
                    ledger_value: Some(row.text("trade_state")?),
                    wechat_value: None,
                    ledger_amount: Some(Fen(row.i64("total_fee")?)),
                    wechat_amount: None,
                    waiting: false,
                },
                transaction_id,
                out_trade_no: Some(out_trade_no),
                out_refund_no: None,
            });
        }
    }
    Ok(out)
}

/// The refunds initiated that day and accepted by WeChat that no bill row matched.
async fn unmatched_refunds(tx: &mut Tx, req: &ReconcileDay) -> Result<Vec<Unmatched>> {
    let start = beijing_midnight(req.day);
    let end = start + Duration::days(1);
    let rows = tx
        .fetch_all_once(
            &format!(
                "SELECT f.id, f.order_id, f.out_refund_no, f.amount, f.status FROM refunds f \
                 WHERE f.merchant_id = $1 AND f.created_at >= $2 AND f.created_at < $3 \
                 AND f.status IN {REFUND_AT_WECHAT} \
                 AND NOT EXISTS (SELECT 1 FROM recon_rows p WHERE p.is_refund = 1 AND p.target_id = f.id) ORDER BY f.id"
            ),
            args![req.merchant.0, start, end],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let no = row.text("out_refund_no")?;
            Ok(Unmatched {
                found: Found {
                    kind: DiscrepancyKind::RefundMismatch,
                    subject: format!("refund:{no}"),
                    order_id: Some(OrderId(row.i64("order_id")?)),
                    refund_id: Some(RefundRecordId(row.i64("id")?)),
                    bill_row_id: None,
                    ledger_value: Some(row.text("status")?),
                    wechat_value: None,
                    ledger_amount: Some(Fen(row.i64("amount")?)),
                    wechat_amount: None,
                    waiting: false,
                },
                transaction_id: None,
                out_trade_no: None,
                out_refund_no: Some(no),
            })
        })
        .collect()
}

/// Looks for the unmatched items in the neighbouring days' newest bills (the carry-over window) and drops those
/// found. Returns whether the rest still wait: some bill of the following days of the window is not known yet
/// (neither imported nor "No Bill Exist").
async fn carry_over(tx: &mut Tx, req: &ReconcileDay, unmatched: &mut Vec<Unmatched>) -> Result<bool> {
    let window = i64::from(req.carry_over_days);
    if window == 0 {
        return Ok(false);
    }
    let (from, to) = (req.day - Duration::days(window), req.day + Duration::days(window));
    let files = tx
        .fetch_all(
            "SELECT bill_date, MAX(id) AS id FROM bill_files WHERE merchant_id = $1 AND bill_type = $2 \
             AND bill_date >= $3 AND bill_date <= $4 AND bill_date <> $5 GROUP BY bill_date",
            args![req.merchant.0, BillType::All.as_str(), from, to, req.day],
        )
        .await?;
    let mut known_after = Vec::new();
    let mut file_ids = Vec::new();
    for row in &files {
        let day = row.date("bill_date")?;
        if day > req.day {
            known_after.push(day);
        }
        file_ids.push(row.i64("id")?);
    }
    let absent = tx
        .fetch_all(
            "SELECT bill_date FROM bill_absences WHERE merchant_id = $1 AND bill_type = $2 AND bill_date > $3 \
             AND bill_date <= $4",
            args![req.merchant.0, BillType::All.as_str(), req.day, to],
        )
        .await?;
    for row in &absent {
        known_after.push(row.date("bill_date")?);
    }
    if !file_ids.is_empty() && !unmatched.is_empty() {
        let files = file_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let keys: Vec<(String, String)> = unmatched
            .iter()
            .flat_map(|u| {
                let mut k = Vec::new();
                if let Some(t) = &u.transaction_id {
                    k.push(("transaction_id".to_string(), t.clone()));
                }
                if let Some(n) = &u.out_trade_no {
                    k.push(("out_trade_no".to_string(), n.clone()));
                }
                if let Some(n) = &u.out_refund_no {
                    k.push(("out_refund_no".to_string(), n.clone()));
                }
                k
            })
            .collect();
        for column in ["transaction_id", "out_trade_no", "out_refund_no"] {
            let values: Vec<&String> = keys.iter().filter(|(c, _)| c == column).map(|(_, v)| v).collect();
            for part in values.chunks(IN_LIST) {
                let mut arg_list: Vec<Arg> = Vec::with_capacity(part.len());
                let placeholders: Vec<String> = part
                    .iter()
                    .map(|v| {
                        arg_list.push(Arg::from(v.as_str()));
                        format!("${}", arg_list.len())
                    })
                    .collect();
                let sql = format!(
                    "SELECT r.{column} AS k FROM bill_rows r WHERE r.bill_file_id IN ({files}) AND r.{column} IN ({})",
                    placeholders.join(", ")
                );
                for row in tx.fetch_all_once(&sql, arg_list).await? {
                    seen.insert(format!("{column}={}", row.text("k")?));
                }
            }
        }
        unmatched.retain(|u| {
            let hit =
                |column: &str, v: &Option<String>| v.as_ref().is_some_and(|v| seen.contains(&format!("{column}={v}")));
            !(hit("transaction_id", &u.transaction_id)
                || hit("out_trade_no", &u.out_trade_no)
                || hit("out_refund_no", &u.out_refund_no))
        });
    }
    let waiting = (1..=window).any(|d| !known_after.contains(&(req.day + Duration::days(d))));
    Ok(waiting)
}

/// The ledger's side: paid orders by Beijing payment day (as the dashboard counts them), refunds initiated that day
/// and accepted by WeChat (as the bill counts them); `fees` are the bill's fees on what the ledger recorded.
async fn ledger_figures(tx: &mut Tx, req: &ReconcileDay, fees: i64) -> Result<DayFigures> {
    let paid = tx
        .fetch_one(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total_fee), 0) AS BIGINT) AS total FROM orders \
             WHERE paid_day = $1 AND merchant_id = $2",
            args![req.day, req.merchant.0],
        )
        .await?;
    let start = beijing_midnight(req.day);
    let refunds = tx
        .fetch_one(
            &format!(
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM refunds \
                 WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3 AND status IN {REFUND_AT_WECHAT}"
            ),
            args![req.merchant.0, start, start + Duration::days(1)],
        )
        .await?;
    Ok(DayFigures {
        payments_count: paid.i64("n")?,
        payments: Fen(paid.i64("total")?),
        refunds_count: refunds.i64("n")?,
        refunds: Fen(refunds.i64("total")?),
        fees: FeeAmount(fees),
    })
}

/// Stores one difference: new (OPEN, or CARRIED_OVER while it waits), or found again — values refreshed; a waiting
/// one whose window ended becomes OPEN, a RESOLVED one that is back is OPEN again; ACTION_PENDING and EXPLAINED
/// stay as a person left them.
async fn upsert(tx: &mut Tx, req: &ReconcileDay, run: ReconRunId, f: &Found) -> Result<()> {
    let status = if f.waiting { DiscrepancyStatus::CarriedOver } else { DiscrepancyStatus::Open };
    tx.execute(
        "INSERT INTO discrepancies (merchant_id, bill_date, first_run_id, last_run_id, kind, subject, order_id, \
         refund_id, bill_row_id, ledger_value, wechat_value, ledger_amount, wechat_amount, status, created_at, \
         updated_at) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
         ON CONFLICT (merchant_id, bill_date, kind, subject) DO UPDATE SET last_run_id = excluded.last_run_id, \
         order_id = COALESCE(excluded.order_id, discrepancies.order_id), \
         refund_id = COALESCE(excluded.refund_id, discrepancies.refund_id), \
         bill_row_id = excluded.bill_row_id, \
         ledger_value = excluded.ledger_value, wechat_value = excluded.wechat_value, \
         ledger_amount = excluded.ledger_amount, wechat_amount = excluded.wechat_amount, \
         status = CASE WHEN discrepancies.status IN ('CARRIED_OVER', 'RESOLVED') THEN excluded.status \
                  ELSE discrepancies.status END, \
         resolved_by = CASE WHEN discrepancies.status = 'RESOLVED' THEN NULL ELSE discrepancies.resolved_by END, \
         resolved_at = CASE WHEN discrepancies.status = 'RESOLVED' THEN NULL ELSE discrepancies.resolved_at END, \
         resolution = CASE WHEN discrepancies.status = 'RESOLVED' THEN NULL ELSE discrepancies.resolution END, \
         updated_at = excluded.updated_at",
        args![
            req.merchant.0,
            req.day,
            run.0,
            f.kind.as_str(),
            f.subject.as_str(),
            f.order_id.map(|o| o.0),
            f.refund_id.map(|r| r.0),
            f.bill_row_id.map(|b| b.0),
            f.ledger_value.clone(),
            f.wechat_value.clone(),
            f.ledger_amount,
            f.wechat_amount,
            status.as_str(),
            req.at
        ],
    )
    .await?;
    Ok(())
}
