//! The daily-close commands of `docs/ui-contract.md` on [`Core`]. Reading (calendar, day, chart, CSV export) is open
//! to the staff login; fetching, importing, reconciling and the actions are the owner's (staff may only query).
//! Long steps report `close-progress`; every change is audited (`bill.fetch`, `bill.import` and `recon.run` by the
//! ledger, `discrepancy.<action>` here).

use chrono::{Duration, NaiveDate, Utc};
use ledger::{BillSource, DiscrepancyStatus, ReconcileDay, Reconciled};
use wxpay::api::{BillType as WxBillType, DownloadBill, DownloadOutcome};

use super::import::{self, ImportMeta};
use super::store;
use super::view::{self, parse_day};
use super::{BillFetch, ChartDay, CloseDay, CloseProgress, DayClose};
use crate::contract::ExportResult;
use crate::core::{Core, CoreEvent};
use crate::error::{CoreError, CoreResult, Locale, Msg};
use crate::session::{Role, Session};
use ledger::AuditResult;

fn no_bill_yet(day: NaiveDate) -> CoreError {
    CoreError::invalid(
        format!("{day} 还没有账单：请先下载或导入账单。"),
        format!("There is no bill for {day} yet: fetch or import it first."),
    )
}

impl Core {
    fn close_progress(&self, day: NaiveDate, stage: &str, done: u64, total: Option<u64>) {
        self.emit(CoreEvent::CloseProgress(CloseProgress { day: day.to_string(), stage: stage.into(), done, total }));
    }

    /// Reconciles `day` against its newest bill (or against "No Bill Exist"), then the earlier days of the
    /// carry-over window that still have waiting items (this day's bill may hold them).
    pub(crate) async fn reconcile(&self, session: &Session, day: NaiveDate) -> CoreResult<Reconciled> {
        let done = self.reconcile_one(session, day).await?;
        for back in 1..=i64::from(self.options().carry_over_days) {
            let earlier = day - Duration::days(back);
            let views = session.ledger.day_discrepancies(session.merchant_id, earlier).await?;
            if views.iter().any(|v| v.discrepancy.status == DiscrepancyStatus::CarriedOver) {
                self.reconcile_one(session, earlier).await?;
            }
        }
        Ok(done)
    }

    async fn reconcile_one(&self, session: &Session, day: NaiveDate) -> CoreResult<Reconciled> {
        let m = session.merchant_id;
        let bill = session.ledger.newest_bill_file(m, day, ledger::BillType::All).await?;
        if bill.is_none() && session.ledger.bill_absences(m, day, day).await?.is_empty() {
            return Err(no_bill_yet(day));
        }
        let req = ReconcileDay {
            merchant: m,
            day,
            bill_file: bill.map(|b| b.id),
            carry_over_days: self.options().carry_over_days,
            who: session.actor.clone(),
            at: Utc::now(),
        };
        let core = self.clone();
        let progress = move |done: u64, total: Option<u64>| core.close_progress(day, "reconcile", done, total);
        Ok(session.ledger.reconcile_day(&req, &progress).await?)
    }

    /// `close_calendar`.
    pub async fn close_calendar(&self, month: &str) -> CoreResult<Vec<CloseDay>> {
        let session = self.session().await?;
        view::calendar(&session, month, Utc::now()).await
    }

    /// `close_day`: what is known; changes nothing.
    pub async fn close_day(&self, day: &str) -> CoreResult<DayClose> {
        let session = self.session().await?;
        view::day_close(&session, parse_day(day)?, self.locale(), Utc::now()).await
    }

    /// `close_chart`.
    pub async fn close_chart(&self, days: u32) -> CoreResult<Vec<ChartDay>> {
        let session = self.session().await?;
        view::chart(&session, days, Utc::now()).await
    }

    fn fetch_message(&self, outcome: &str, day: NaiveDate, close: Option<&DayClose>) -> String {
        let open = close.map_or(0, |c| {
            c.discrepancies.iter().filter(|d| d.status == "open" || d.status == "action_pending").count()
        });
        let rows = close.and_then(|c| c.bill.as_ref()).map_or(0, |b| b.row_count);
        let msg = match outcome {
            "imported" => Msg::new(
                format!("已导入 {day} 的账单（{rows} 行）并完成对账：{open} 项差异待处理。"),
                format!("The bill of {day} ({rows} rows) is imported and reconciled: {open} discrepancies to look at."),
            ),
            "already_imported" => Msg::new(
                format!("{day} 的这份账单之前已经导入过，没有任何改动。"),
                format!("This bill of {day} was imported before; nothing changed."),
            ),
            "no_bill" => Msg::new(
                format!("微信支付没有 {day} 的账单（No Bill Exist：当天没有交易）。"),
                format!("WeChat Pay has no bill for {day} (No Bill Exist: no business that day)."),
            ),
            _ => Msg::new(
                format!("微信还在生成 {day} 的账单（次日 10 点后可下载），请稍后再试。"),
                format!("WeChat is still making the bill of {day} (it can be downloaded after 10:00 the next day); try again later."),
            ),
        };
        msg.pick(self.locale())
    }

    async fn fetch_result(&self, session: &Session, outcome: &str, day: NaiveDate) -> CoreResult<BillFetch> {
        let close = view::day_close(session, day, self.locale(), Utc::now()).await?;
        Ok(BillFetch {
            outcome: outcome.into(),
            message: self.fetch_message(outcome, day, Some(&close)),
            day: Some(close),
        })
    }

    /// Imports a stored bill and reconciles the day (a file seen before is not imported again; its day is
    /// reconciled only if it never was).
    async fn import_and_reconcile(
        &self,
        session: &Session,
        stored: &store::StoredBill,
        day: NaiveDate,
        source: BillSource,
        file_name: Option<String>,
    ) -> CoreResult<BillFetch> {
        let meta = ImportMeta {
            day,
            source,
            file_name,
            sha256: stored.sha256.clone(),
            byte_len: stored.byte_len,
            locale: self.locale(),
        };
        let core = self.clone();
        self.close_progress(day, "import", 0, None);
        let imported = import::import(session, &stored.path, &meta, move |rows| {
            core.close_progress(day, "import", rows, None);
        })
        .await?;
        let outcome = if imported.already_imported { "already_imported" } else { "imported" };
        let reconciled = session.ledger.latest_recon_run(session.merchant_id, day).await?.is_some();
        if !imported.already_imported || !reconciled {
            self.reconcile(session, day).await?;
        }
        self.fetch_result(session, outcome, day).await
    }

    /// `bill_fetch`: downloadbill ALL (GZIP) for the day, kept, imported and reconciled. "Bill Creating" and "No
    /// Bill Exist" are outcomes, not failures (no bill: the day is reconciled against nothing).
    pub async fn bill_fetch(&self, day: &str) -> CoreResult<BillFetch> {
        let session = self.owner_session().await?;
        self.touch();
        let day = parse_day(day)?;
        let subject = format!("bill:{day}");
        if day >= view::beijing_day(Utc::now()) {
            return Ok(BillFetch {
                outcome: "not_yet".into(),
                message: self.fetch_message("not_yet", day, None),
                day: Some(view::day_close(&session, day, self.locale(), Utc::now()).await?),
            });
        }
        let request = DownloadBill { bill_date: day, bill_type: WxBillType::All, gzip: true };
        let core = self.clone();
        let last = std::sync::atomic::AtomicU64::new(0);
        let progress = move |done: u64, total: Option<u64>| {
            // At most one event per 64 KiB (and the first and last): a bill arrives in many small chunks.
            let before = last.load(std::sync::atomic::Ordering::Relaxed);
            if done == 0 || done >= before.saturating_add(64 * 1024) || Some(done) == total {
                last.store(done, std::sync::atomic::Ordering::Relaxed);
                core.close_progress(day, "download", done, total);
            }
        };
        let downloaded = session.client.download_bill_with_progress(&request, &progress).await;
        let detail = |outcome: &str, extra: serde_json::Value| {
            serde_json::json!({ "day": day.to_string(), "outcome": outcome, "detail": extra }).to_string()
        };
        let result = match downloaded {
            Ok(DownloadOutcome::Bill(bytes)) => {
                let len = u64::try_from(bytes.len()).unwrap_or(0);
                self.close_progress(day, "download", len, Some(len));
                let stored = store::keep_bytes(&self.paths().bills_dir(), &bytes)?;
                drop(bytes);
                let sha = stored.sha256.clone();
                let fetched = self.import_and_reconcile(&session, &stored, day, BillSource::Download, None).await;
                let (result, what) = match &fetched {
                    Ok(f) => (AuditResult::Ok, f.outcome.clone()),
                    Err(e) => (AuditResult::Failed, e.code().to_string()),
                };
                self.audit(
                    &session,
                    "bill.fetch",
                    subject,
                    result,
                    detail(&what, serde_json::json!({ "sha256": sha })),
                )
                .await;
                return fetched;
            }
            Ok(DownloadOutcome::NoBill) => {
                session
                    .ledger
                    .record_bill_absence(session.merchant_id, day, ledger::BillType::All, &session.actor, Utc::now())
                    .await?;
                self.reconcile(&session, day).await?;
                self.fetch_result(&session, "no_bill", day).await
            }
            Ok(DownloadOutcome::Creating) => self.fetch_result(&session, "not_yet", day).await,
            Err(e) => Err(CoreError::from(e)),
        };
        let (audit_result, what) = match &result {
            Ok(f) => (AuditResult::Ok, f.outcome.clone()),
            Err(e) => (AuditResult::Failed, e.code().to_string()),
        };
        self.audit(&session, "bill.fetch", subject, audit_result, detail(&what, serde_json::Value::Null)).await;
        result
    }

    /// `bill_import`: a bill file exported from the merchant platform (plain or gzip); `day` `None` reads it from
    /// the rows. Kept, imported and reconciled; the same file twice changes nothing.
    pub async fn bill_import(&self, path: &str, day: Option<&str>) -> CoreResult<BillFetch> {
        let session = self.owner_session().await?;
        self.touch();
        let source_path = std::path::PathBuf::from(path);
        let file = std::fs::File::open(&source_path).map_err(|e| CoreError::io(&source_path, e))?;
        let total = file.metadata().ok().map(|m| m.len());
        let given = day.map(parse_day).transpose()?;
        let progress_day = given.unwrap_or_else(|| view::beijing_day(Utc::now()));
        let core = self.clone();
        let dir = self.paths().bills_dir();
        let stored = tokio::task::spawn_blocking(move || {
            store::keep(&dir, std::io::BufReader::new(file), |done| {
                core.close_progress(progress_day, "download", done, total);
            })
        })
        .await
        .map_err(|e| CoreError::Internal(format!("bill copy task: {e}")))??;
        let peek_path = stored.path.clone();
        let first_day = tokio::task::spawn_blocking(move || import::peek_day(&peek_path))
            .await
            .map_err(|e| CoreError::Internal(format!("bill read task: {e}")))??;
        let day = match (given, first_day) {
            (Some(d), _) => d,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(CoreError::invalid(
                    "这份账单没有任何交易行，看不出是哪一天的：请选择日期后再导入。",
                    "This bill has no rows, so its day cannot be told: choose the day and import it again.",
                ))
            }
        };
        let file_name = source_path.file_name().map(|n| n.to_string_lossy().into_owned());
        let result = self.import_and_reconcile(&session, &stored, day, BillSource::Import, file_name.clone()).await;
        let (audit_result, what) = match &result {
            Ok(f) => (AuditResult::Ok, f.outcome.clone()),
            Err(e) => (AuditResult::Failed, e.code().to_string()),
        };
        let detail = serde_json::json!({
            "day": day.to_string(), "file_name": file_name, "sha256": stored.sha256, "outcome": what,
        })
        .to_string();
        self.audit(&session, "bill.import_file", format!("bill:{day}"), audit_result, detail).await;
        result
    }

    /// `recon_run`: reconciles the day again against its newest bill.
    pub async fn recon_run(&self, day: &str) -> CoreResult<DayClose> {
        let session = self.owner_session().await?;
        self.touch();
        let day = parse_day(day)?;
        self.reconcile(&session, day).await?;
        view::day_close(&session, day, self.locale(), Utc::now()).await
    }

    /// `discrepancy_action`: the action through its normal flow, audited; then the day is reconciled again.
    pub async fn discrepancy_action(&self, id: i64, action: &str, note: Option<&str>) -> CoreResult<DayClose> {
        let session = self.session().await?;
        if session.role == Role::Staff && action != "query" {
            return Err(CoreError::Forbidden);
        }
        self.touch();
        let not_found = || CoreError::not_found(format!("没有差异 #{id}。"), format!("There is no discrepancy #{id}."));
        let d = match session.ledger.discrepancy(ledger::DiscrepancyId(id)).await {
            Ok(d) if d.merchant_id == session.merchant_id => d,
            Ok(_) | Err(ledger::Error::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let views = session.ledger.day_discrepancies(session.merchant_id, d.bill_date).await?;
        let view = views.into_iter().find(|v| v.discrepancy.id == d.id).ok_or_else(not_found)?;
        let outcome = self.run_discrepancy_action(&session, &view, action, note).await;
        let (result, what) = match &outcome {
            Ok(what) => (AuditResult::Ok, what.clone()),
            Err(CoreError::InvalidInput(_) | CoreError::RefundGuard(_) | CoreError::Refused(_)) => {
                (AuditResult::Refused, outcome.as_ref().err().map(|e| e.code().to_string()).unwrap_or_default())
            }
            Err(e) => (AuditResult::Failed, e.code().to_string()),
        };
        let detail = serde_json::json!({
            "day": d.bill_date.to_string(), "kind": view::kind_text(d.kind), "subject": d.subject,
            "note": note, "outcome": what,
        })
        .to_string();
        self.audit(&session, &format!("discrepancy.{action}"), format!("discrepancy:{id}"), result, detail).await;
        outcome?;
        self.reconcile(&session, d.bill_date).await?;
        view::day_close(&session, d.bill_date, self.locale(), Utc::now()).await
    }

    /// `close_export_csv`: the day's bill rows (`day`) or its discrepancies (`discrepancies`), UTF-8 CSV with a BOM.
    pub async fn close_export_csv(&self, day: &str, what: &str) -> CoreResult<ExportResult> {
        let session = self.session().await?;
        self.touch();
        let day = parse_day(day)?;
        let dir = self.options().exports_dir.clone().unwrap_or_else(|| self.paths().exports_dir());
        let locale: Locale = self.locale();
        let result = match what {
            "day" => super::export::day_csv(&session, day, &dir, Utc::now()).await?,
            "discrepancies" => super::export::discrepancies_csv(&session, day, &dir, Utc::now(), locale).await?,
            other => {
                return Err(CoreError::invalid(
                    format!("未知的导出内容 {other}（应为 day 或 discrepancies）。"),
                    format!("Unknown export {other} (day or discrepancies)."),
                ))
            }
        };
        let detail =
            serde_json::json!({ "day": day.to_string(), "what": what, "path": result.path, "rows": result.rows })
                .to_string();
        self.audit(&session, "close.export", format!("bill:{day}"), AuditResult::Ok, detail).await;
        Ok(result)
    }
}
