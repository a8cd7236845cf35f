//! Reconciliation runs and discrepancies (the daily close, ARCHITECTURE.md §3). A run is RUNNING until it
//! completes with the day's figures or fails; each difference it finds is one discrepancy per (merchant, day,
//! kind, subject), found again by later runs, and moved only through [`crate::transitions::discrepancy_transition`].

use chrono::{DateTime, NaiveDate, Utc};
use wxpay::{FeeAmount, Fen};

use crate::audit::{append_in, audit};
use crate::db::{args, Row};
use crate::error::{Error, Result};
use crate::model::{
    AuditResult, BillFileId, BillRowId, DayFigures, Discrepancy, DiscrepancyAction, DiscrepancyId, DiscrepancyKind,
    DiscrepancyStatus, DiscrepancyView, MerchantId, NewDiscrepancy, OrderId, ReconRun, ReconRunId, ReconStatus,
    ReconSummary, RefundRecordId,
};
use crate::transitions::{discrepancy_transition, recon_transition, DiscrepancyEvent};
use crate::Ledger;

const RUN_COLS: &str = "id, merchant_id, bill_date, bill_file_id, status, started_by, started_at, finished_at, \
    matched_count, discrepancy_count, takings_fen, refunds_fen, fees_units, net_fen, error, payments_count, \
    refunds_count, ledger_payments_count, ledger_payments_fen, ledger_refunds_count, ledger_refunds_fen, \
    ledger_fees_units";

const DISC_COLS: &str = "id, merchant_id, bill_date, first_run_id, last_run_id, kind, subject, order_id, refund_id, \
    bill_row_id, ledger_value, wechat_value, ledger_amount, wechat_amount, status, action, resolution, resolved_by, \
    resolved_at, created_at, updated_at";

fn run_from_row(row: &Row) -> Result<ReconRun> {
    let summary = match (
        row.opt_i64("matched_count")?,
        row.opt_i64("discrepancy_count")?,
        row.opt_i64("takings_fen")?,
        row.opt_i64("refunds_fen")?,
        row.opt_i64("fees_units")?,
        row.opt_i64("net_fen")?,
    ) {
        (Some(matched), Some(discrepancies), Some(takings), Some(refunds), Some(fees), Some(net)) => {
            Some(ReconSummary {
                matched_count: matched,
                discrepancy_count: discrepancies,
                takings: Fen(takings),
                refunds: Fen(refunds),
                fees: FeeAmount(fees),
                net: Fen(net),
            })
        }
        _ => None,
    };
    Ok(ReconRun {
        id: ReconRunId(row.i64("id")?),
        merchant_id: MerchantId(row.i64("merchant_id")?),
        bill_date: row.date("bill_date")?,
        bill_file_id: row.opt_i64("bill_file_id")?.map(BillFileId),
        status: ReconStatus::from_db(&row.text("status")?)?,
        started_by: row.text("started_by")?,
        started_at: row.ts("started_at")?,
        finished_at: row.opt_ts("finished_at")?,
        summary,
        ledger_figures: match (
            row.opt_i64("ledger_payments_count")?,
            row.opt_i64("ledger_payments_fen")?,
            row.opt_i64("ledger_refunds_count")?,
            row.opt_i64("ledger_refunds_fen")?,
            row.opt_i64("ledger_fees_units")?,
        ) {
            (Some(pc), Some(pf), Some(rc), Some(rf), Some(fees)) => Some(DayFigures {
                payments_count: pc,
                payments: Fen(pf),
                refunds_count: rc,
                refunds: Fen(rf),
                fees: FeeAmount(fees),
            }),
            _ => None,
        },
        wechat_figures: match (
            row.opt_i64("payments_count")?,
            row.opt_i64("takings_fen")?,
            row.opt_i64("refunds_count")?,
            row.opt_i64("refunds_fen")?,
            row.opt_i64("fees_units")?,
        ) {
            (Some(pc), Some(pf), Some(rc), Some(rf), Some(fees)) => Some(DayFigures {
                payments_count: pc,
                payments: Fen(pf),
                refunds_count: rc,
                refunds: Fen(rf),
                fees: FeeAmount(fees),
            }),
            _ => None,
        },
        error: row.opt_text("error")?,
    })
}

fn discrepancy_from_row(row: &Row) -> Result<Discrepancy> {
    Ok(Discrepancy {
        id: DiscrepancyId(row.i64("id")?),
        merchant_id: MerchantId(row.i64("merchant_id")?),
        bill_date: row.date("bill_date")?,
        first_run_id: ReconRunId(row.i64("first_run_id")?),
        last_run_id: ReconRunId(row.i64("last_run_id")?),
        kind: DiscrepancyKind::from_db(&row.text("kind")?)?,
        subject: row.text("subject")?,
        order_id: row.opt_i64("order_id")?.map(OrderId),
        refund_id: row.opt_i64("refund_id")?.map(RefundRecordId),
        bill_row_id: row.opt_i64("bill_row_id")?.map(BillRowId),
        ledger_value: row.opt_text("ledger_value")?,
        wechat_value: row.opt_text("wechat_value")?,
        ledger_amount: row.opt_i64("ledger_amount")?.map(Fen),
        wechat_amount: row.opt_i64("wechat_amount")?.map(Fen),
        status: DiscrepancyStatus::from_db(&row.text("status")?)?,
        action: row.opt_text("action")?.as_deref().map(DiscrepancyAction::from_db).transpose()?,
        resolution: row.opt_text("resolution")?,
        resolved_by: row.opt_text("resolved_by")?,
        resolved_at: row.opt_ts("resolved_at")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

impl Ledger {
    /// Starts a reconciliation run for one merchant and Beijing day.
    pub async fn start_recon_run(
        &self,
        merchant: MerchantId,
        bill_date: NaiveDate,
        bill_file: Option<BillFileId>,
        who: &str,
        at: DateTime<Utc>,
    ) -> Result<ReconRun> {
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "INSERT INTO recon_runs (merchant_id, bill_date, bill_file_id, status, started_by, started_at) \
             VALUES ($1, $2, $3, 'RUNNING', $4, $5) RETURNING {RUN_COLS}"
        );
        let row = tx.fetch_one(&sql, args![merchant.0, bill_date, bill_file.map(|f| f.0), who, at]).await?;
        let run = run_from_row(&row)?;
        tx.commit().await?;
        Ok(run)
    }

    /// Records a difference found by `run`. The same (day, kind, subject) found again by a later run updates the
    /// existing row's values and `last_run_id`; its status is left alone (it moves only by
    /// [`Ledger::update_discrepancy`]).
    pub async fn record_discrepancy(
        &self,
        run: ReconRunId,
        new: &NewDiscrepancy,
        at: DateTime<Utc>,
    ) -> Result<Discrepancy> {
        let mut tx = self.db.begin().await?;
        let run_row = tx
            .fetch_optional("SELECT merchant_id, bill_date, status FROM recon_runs WHERE id = $1", args![run.0])
            .await?
            .ok_or_else(|| Error::NotFound { what: "reconciliation run", key: run.to_string() })?;
        if ReconStatus::from_db(&run_row.text("status")?)? != ReconStatus::Running {
            return Err(Error::InvalidInput(format!("reconciliation run {run} is finished")));
        }
        let status = if new.carried_over { DiscrepancyStatus::CarriedOver } else { DiscrepancyStatus::Open };
        let sql = format!(
            "INSERT INTO discrepancies (merchant_id, bill_date, first_run_id, last_run_id, kind, subject, order_id, \
             refund_id, bill_row_id, ledger_value, wechat_value, ledger_amount, wechat_amount, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
             ON CONFLICT (merchant_id, bill_date, kind, subject) DO UPDATE SET last_run_id = excluded.last_run_id, \
             order_id = COALESCE(excluded.order_id, discrepancies.order_id), \
             refund_id = COALESCE(excluded.refund_id, discrepancies.refund_id), \
             bill_row_id = COALESCE(excluded.bill_row_id, discrepancies.bill_row_id), \
             ledger_value = excluded.ledger_value, wechat_value = excluded.wechat_value, \
             ledger_amount = excluded.ledger_amount, wechat_amount = excluded.wechat_amount, \
             updated_at = excluded.updated_at RETURNING {DISC_COLS}"
        );
        let row = tx
            .fetch_one(
                &sql,
                args![
                    run_row.i64("merchant_id")?,
                    run_row.date("bill_date")?,
                    run.0,
                    new.kind.as_str(),
                    new.subject.as_str(),
                    new.order_id.map(|o| o.0),
                    new.refund_id.map(|r| r.0),
                    new.bill_row_id.map(|b| b.0),
                    new.ledger_value.clone(),
                    new.wechat_value.clone(),
                    new.ledger_amount,
                    new.wechat_amount,
                    status.as_str(),
                    at
                ],
            )
            .await?;
        let disc = discrepancy_from_row(&row)?;
        tx.commit().await?;
        Ok(disc)
    }

    /// RUNNING → COMPLETED with the day's figures. Audited.
    pub async fn finish_recon_run(
        &self,
        run: ReconRunId,
        summary: &ReconSummary,
        who: &str,
        at: DateTime<Utc>,
    ) -> Result<ReconRun> {
        let mut tx = self.db.begin().await?;
        let current = self.run_status(&mut tx, run).await?;
        recon_transition(current, ReconStatus::Completed)?;
        let n = tx
            .execute(
                "UPDATE recon_runs SET status = 'COMPLETED', finished_at = $1, matched_count = $2, \
                 discrepancy_count = $3, takings_fen = $4, refunds_fen = $5, fees_units = $6, net_fen = $7 \
                 WHERE id = $8 AND status = 'RUNNING'",
                args![
                    at,
                    summary.matched_count,
                    summary.discrepancy_count,
                    summary.takings,
                    summary.refunds,
                    summary.fees.0,
                    summary.net,
                    run.0
                ],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!("reconciliation run {run}")));
        }
        let detail = serde_json::json!({
            "matched": summary.matched_count,
            "discrepancies": summary.discrepancy_count,
            "takings_fen": summary.takings.get(),
            "refunds_fen": summary.refunds.get(),
            "fees_units": summary.fees.0,
            "net_fen": summary.net.get(),
        })
        .to_string();
        append_in(&mut tx, &audit(who, "recon.finish", format!("recon_run:{run}"), AuditResult::Ok, detail, at))
            .await?;
        let row = tx.fetch_one(&format!("SELECT {RUN_COLS} FROM recon_runs WHERE id = $1"), args![run.0]).await?;
        let run = run_from_row(&row)?;
        tx.commit().await?;
        Ok(run)
    }

    /// RUNNING → FAILED with the error (the bill could not be read, …).
    pub async fn fail_recon_run(&self, run: ReconRunId, error: &str, at: DateTime<Utc>) -> Result<ReconRun> {
        let mut tx = self.db.begin().await?;
        let current = self.run_status(&mut tx, run).await?;
        recon_transition(current, ReconStatus::Failed)?;
        let n = tx
            .execute(
                "UPDATE recon_runs SET status = 'FAILED', finished_at = $1, error = $2 WHERE id = $3 AND status = 'RUNNING'",
                args![at, error, run.0],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!("reconciliation run {run}")));
        }
        let row = tx.fetch_one(&format!("SELECT {RUN_COLS} FROM recon_runs WHERE id = $1"), args![run.0]).await?;
        let run = run_from_row(&row)?;
        tx.commit().await?;
        Ok(run)
    }

    async fn run_status(&self, tx: &mut crate::db::Tx, run: ReconRunId) -> Result<ReconStatus> {
        let row = tx
            .fetch_optional("SELECT status FROM recon_runs WHERE id = $1", args![run.0])
            .await?
            .ok_or_else(|| Error::NotFound { what: "reconciliation run", key: run.to_string() })?;
        ReconStatus::from_db(&row.text("status")?)
    }

    /// The runs of one merchant and day, oldest first.
    pub async fn recon_runs(&self, merchant: MerchantId, day: NaiveDate) -> Result<Vec<ReconRun>> {
        let sql = format!("SELECT {RUN_COLS} FROM recon_runs WHERE merchant_id = $1 AND bill_date = $2 ORDER BY id");
        self.db.fetch_all(&sql, args![merchant.0, day]).await?.iter().map(run_from_row).collect()
    }

    /// All discrepancies of one merchant and day.
    pub async fn discrepancies(&self, merchant: MerchantId, day: NaiveDate) -> Result<Vec<Discrepancy>> {
        let sql =
            format!("SELECT {DISC_COLS} FROM discrepancies WHERE merchant_id = $1 AND bill_date = $2 ORDER BY id");
        self.db.fetch_all(&sql, args![merchant.0, day]).await?.iter().map(discrepancy_from_row).collect()
    }

    /// Discrepancies still waiting for something (OPEN, CARRIED_OVER, ACTION_PENDING), oldest day first.
    pub async fn open_discrepancies(&self, limit: u32) -> Result<Vec<Discrepancy>> {
        let sql = format!(
            "SELECT {DISC_COLS} FROM discrepancies WHERE status IN ('OPEN', 'CARRIED_OVER', 'ACTION_PENDING') \
             ORDER BY bill_date, id LIMIT $1"
        );
        self.db.fetch_all(&sql, args![i64::from(limit)]).await?.iter().map(discrepancy_from_row).collect()
    }

    /// Moves a discrepancy (action started or failed, matched, explained by a person with a note). Audited.
    pub async fn update_discrepancy(
        &self,
        id: DiscrepancyId,
        event: DiscrepancyEvent,
        action: Option<DiscrepancyAction>,
        who: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Discrepancy> {
        if event == DiscrepancyEvent::Explained && note.is_none_or(|n| n.trim().is_empty()) {
            return Err(Error::InvalidInput("marking a discrepancy explained needs a note".into()));
        }
        let mut tx = self.db.begin().await?;
        let sel = format!("SELECT {DISC_COLS} FROM discrepancies WHERE id = $1");
        let current = tx
            .fetch_optional(&sel, args![id.0])
            .await?
            .as_ref()
            .map(discrepancy_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "discrepancy", key: id.to_string() })?;
        let to = discrepancy_transition(current.status, event)?;
        let done = matches!(to, DiscrepancyStatus::Resolved | DiscrepancyStatus::Explained);
        let action =
            action.or(current.action).or((event == DiscrepancyEvent::Explained).then_some(DiscrepancyAction::Explain));
        let n = tx
            .execute(
                "UPDATE discrepancies SET status = $1, action = $2, resolution = COALESCE($3, resolution), \
                 resolved_by = $4, resolved_at = $5, updated_at = $6 WHERE id = $7 AND status = $8",
                args![
                    to.as_str(),
                    action.map(|a| a.as_str()),
                    note,
                    done.then_some(who),
                    done.then_some(at),
                    at,
                    id.0,
                    current.status.as_str()
                ],
            )
            .await?;
        if n != 1 {
            return Err(Error::Conflict(format!("discrepancy {id}")));
        }
        let detail = serde_json::json!({
            "from": current.status.as_str(),
            "to": to.as_str(),
            "action": action.map(|a| a.as_str()),
            "note": note,
        })
        .to_string();
        append_in(&mut tx, &audit(who, "discrepancy.update", format!("discrepancy:{id}"), AuditResult::Ok, detail, at))
            .await?;
        let row = tx.fetch_one(&sel, args![id.0]).await?;
        let disc = discrepancy_from_row(&row)?;
        tx.commit().await?;
        Ok(disc)
    }

    /// The day's newest completed run.
    pub async fn latest_recon_run(&self, merchant: MerchantId, day: NaiveDate) -> Result<Option<ReconRun>> {
        let sql = format!(
            "SELECT {RUN_COLS} FROM recon_runs WHERE merchant_id = $1 AND bill_date = $2 AND status = 'COMPLETED' \
             ORDER BY id DESC LIMIT 1"
        );
        self.db.fetch_optional(&sql, args![merchant.0, day]).await?.as_ref().map(run_from_row).transpose()
    }

    /// The completed runs of the days `from..=to`, oldest first (the calendar keeps the newest of each day).
    pub async fn recon_runs_between(
        &self,
        merchant: MerchantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ReconRun>> {
        let sql = format!(
            "SELECT {RUN_COLS} FROM recon_runs WHERE merchant_id = $1 AND bill_date >= $2 AND bill_date <= $3 \
             AND status = 'COMPLETED' ORDER BY id"
        );
        self.db.fetch_all(&sql, args![merchant.0, from, to]).await?.iter().map(run_from_row).collect()
    }

    /// Discrepancies that need a person (OPEN, ACTION_PENDING) per day of `from..=to`; waiting ones
    /// (CARRIED_OVER) do not count yet.
    pub async fn open_discrepancy_counts(
        &self,
        merchant: MerchantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, i64)>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT bill_date, COUNT(*) AS n FROM discrepancies WHERE merchant_id = $1 AND bill_date >= $2 \
                 AND bill_date <= $3 AND status IN ('OPEN', 'ACTION_PENDING') GROUP BY bill_date",
                args![merchant.0, from, to],
            )
            .await?;
        rows.iter().map(|r| Ok((r.date("bill_date")?, r.i64("n")?))).collect()
    }

    pub async fn discrepancy(&self, id: DiscrepancyId) -> Result<Discrepancy> {
        let sql = format!("SELECT {DISC_COLS} FROM discrepancies WHERE id = $1");
        self.db
            .fetch_optional(&sql, args![id.0])
            .await?
            .as_ref()
            .map(discrepancy_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "discrepancy", key: id.to_string() })
    }

    /// The day's discrepancies with the ids they are about: those waiting for a person first, then by id.
    pub async fn day_discrepancies(&self, merchant: MerchantId, day: NaiveDate) -> Result<Vec<DiscrepancyView>> {
        let cols: String = DISC_COLS.split(", ").map(|c| format!("d.{c}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {cols}, COALESCE(o.out_trade_no, b.out_trade_no) AS v_out_trade_no, \
             COALESCE(o.transaction_id, b.transaction_id) AS v_transaction_id, \
             COALESCE(f.out_refund_no, b.out_refund_no) AS v_out_refund_no \
             FROM discrepancies d LEFT JOIN orders o ON o.id = d.order_id LEFT JOIN refunds f ON f.id = d.refund_id \
             LEFT JOIN bill_rows b ON b.id = d.bill_row_id WHERE d.merchant_id = $1 AND d.bill_date = $2 \
             ORDER BY CASE WHEN d.status IN ('OPEN', 'ACTION_PENDING') THEN 0 WHEN d.status = 'CARRIED_OVER' THEN 1 \
             ELSE 2 END, d.id"
        );
        let keep = |v: Option<String>| v.filter(|s| !s.is_empty() && s != "0");
        self.db
            .fetch_all(&sql, args![merchant.0, day])
            .await?
            .iter()
            .map(|row| {
                Ok(DiscrepancyView {
                    discrepancy: discrepancy_from_row(row)?,
                    out_trade_no: keep(row.opt_text("v_out_trade_no")?),
                    transaction_id: keep(row.opt_text("v_transaction_id")?),
                    out_refund_no: keep(row.opt_text("v_out_refund_no")?),
                })
            })
            .collect()
    }
}
