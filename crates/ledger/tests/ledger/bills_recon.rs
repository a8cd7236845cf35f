//! Bill files and rows, reconciliation runs and discrepancies.

use chrono::{Duration, NaiveDate};
use ledger::transitions::DiscrepancyEvent;
use ledger::*;
use wxpay::{FeeAmount, Fen};

use crate::common::*;

pub fn bill_row(line: i64) -> BillRow {
    BillRow {
        line_no: line,
        trade_time: now() + Duration::seconds(line),
        appid: Some(APPID.into()),
        mch_id: Some(MCH.into()),
        sub_mch_id: Some("0".into()),
        device_info: None,
        transaction_id: Some(format!("4200000483202001{line:012}")),
        out_trade_no: Some(format!("BILL{line:08}")),
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
        fee: FeeAmount(600 + line),
        rate: Some("0.60%".into()),
        order_amount: Fen(100 + line),
        refund_requested: Fen(0),
        rate_note: None,
        refund_requested_at: None,
        refund_success_at: None,
    }
}

pub fn bill_file(m: &Merchant, sha: &str) -> NewBillFile {
    NewBillFile {
        merchant: m.id,
        bill_date: NaiveDate::from_ymd_opt(2024, 5, 31).unwrap(),
        bill_type: BillType::All,
        source: BillSource::Download,
        file_name: None,
        sha256: sha.repeat(64 / sha.len()),
        byte_len: 12_345,
        summary: BillSummary {
            total_count: Some(3000),
            settlement_total: Some(Fen(123_456)),
            refund_total: Some(Fen(0)),
            recharge_refund_total: Some(Fen(0)),
            fee_total: Some(FeeAmount(740)),
            order_total: Some(Fen(123_456)),
            refund_requested_total: Some(Fen(0)),
        },
        imported_by: "cron".into(),
        imported_at: now(),
    }
}

pub async fn bill_rows_go_in_by_bulk_and_a_file_is_imported_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let mut rows: Vec<BillRow> = (1..=3000).map(bill_row).collect();
    rows[5].refund_requested_at = Some(now());
    rows[5].refund_id = Some("50300103182020010413419046597".into());
    let imported = l.import_bill(&bill_file(&m, "ab"), &rows).await.unwrap();
    assert!(!imported.already_imported);
    assert_eq!(imported.file.row_count, 3000);
    assert_eq!(imported.file.summary.fee_total, Some(FeeAmount(740)));
    let again = l.import_bill(&bill_file(&m, "ab"), &rows).await.unwrap();
    assert!(again.already_imported);
    assert_eq!(again.file.id, imported.file.id);
    let mut read = Vec::new();
    let mut after = 0;
    loop {
        let page = l.bill_rows(imported.file.id, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.row.line_no;
        read.extend(page.into_iter().map(|r| r.row));
    }
    assert_eq!(read, rows);
    // Different bytes for the same day are a second file.
    let other = l.import_bill(&bill_file(&m, "cd"), &rows[..10]).await.unwrap();
    assert!(!other.already_imported);
    assert_eq!(l.bill_files(m.id, imported.file.bill_date).await.unwrap().len(), 2);
    let audit = l.audit_entries(0, 100).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "bill.import").count(), 2);
}

pub async fn reconciliation_records_each_difference_once_per_day(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let day = NaiveDate::from_ymd_opt(2024, 5, 31).unwrap();
    let file = l.import_bill(&bill_file(&m, "ef"), &[bill_row(1)]).await.unwrap().file;
    let row_id = l.bill_rows(file.id, 0, 1).await.unwrap()[0].id;
    let run1 = l.start_recon_run(m.id, day, Some(file.id), "cron", now()).await.unwrap();
    assert_eq!(run1.status, ReconStatus::Running);
    let missing = NewDiscrepancy {
        kind: DiscrepancyKind::MissingInLedger,
        subject: "420000048320200100000000001".into(),
        order_id: None,
        refund_id: None,
        bill_row_id: Some(row_id),
        ledger_value: None,
        wechat_value: Some("SUCCESS".into()),
        ledger_amount: None,
        wechat_amount: Some(Fen(101)),
        carried_over: false,
    };
    let late = NewDiscrepancy {
        kind: DiscrepancyKind::MissingAtWechat,
        subject: "LATE-1".into(),
        carried_over: true,
        bill_row_id: None,
        ..missing.clone()
    };
    let d1 = l.record_discrepancy(run1.id, &missing, now()).await.unwrap();
    let d2 = l.record_discrepancy(run1.id, &late, now()).await.unwrap();
    assert_eq!((d1.status, d2.status), (DiscrepancyStatus::Open, DiscrepancyStatus::CarriedOver));
    let summary = ReconSummary {
        matched_count: 0,
        discrepancy_count: 2,
        takings: Fen(101),
        refunds: Fen(0),
        fees: FeeAmount(601),
        net: Fen(101),
    };
    let done = l.finish_recon_run(run1.id, &summary, "cron", now()).await.unwrap();
    assert_eq!((done.status, done.summary), (ReconStatus::Completed, Some(summary)));
    assert!(matches!(l.finish_recon_run(run1.id, &summary, "cron", now()).await, Err(Error::InvalidTransition(_))));
    assert!(matches!(l.record_discrepancy(run1.id, &missing, now()).await, Err(Error::InvalidInput(_))));
    // A second run finds the same difference again: same row, last run updated.
    let run2 = l.start_recon_run(m.id, day, Some(file.id), "cron", now()).await.unwrap();
    let again = l.record_discrepancy(run2.id, &missing, now()).await.unwrap();
    assert_eq!((again.id, again.first_run_id, again.last_run_id), (d1.id, run1.id, run2.id));
    let failed = l.fail_recon_run(run2.id, "bill unreadable", now()).await.unwrap();
    assert_eq!(failed.status, ReconStatus::Failed);
    assert_eq!(l.recon_runs(m.id, day).await.unwrap().len(), 2);
    assert_eq!(l.open_discrepancies(10).await.unwrap().len(), 2);
    // Explaining needs a note; actions go through the transition table.
    let err = l.update_discrepancy(d1.id, DiscrepancyEvent::Explained, None, "desk:owner", None, now()).await;
    assert!(matches!(err, Err(Error::InvalidInput(_))), "{err:?}");
    let pending = l
        .update_discrepancy(
            d1.id,
            DiscrepancyEvent::ActionStarted,
            Some(DiscrepancyAction::Query),
            "desk:owner",
            None,
            now(),
        )
        .await
        .unwrap();
    assert_eq!((pending.status, pending.action), (DiscrepancyStatus::ActionPending, Some(DiscrepancyAction::Query)));
    let resolved = l
        .update_discrepancy(d1.id, DiscrepancyEvent::Matched, None, "sync", Some("query: SUCCESS"), now())
        .await
        .unwrap();
    assert_eq!((resolved.status, resolved.resolved_by.as_deref()), (DiscrepancyStatus::Resolved, Some("sync")));
    let explained = l
        .update_discrepancy(d2.id, DiscrepancyEvent::Explained, None, "desk:owner", Some("paid after midnight"), now())
        .await
        .unwrap();
    assert_eq!((explained.status, explained.action), (DiscrepancyStatus::Explained, Some(DiscrepancyAction::Explain)));
    let err = l.update_discrepancy(d2.id, DiscrepancyEvent::Matched, None, "sync", None, now()).await;
    assert!(matches!(err, Err(Error::InvalidTransition(_))), "{err:?}");
    assert!(l.open_discrepancies(10).await.unwrap().is_empty());
    assert_eq!(l.discrepancies(m.id, day).await.unwrap().len(), 2);
}

/// How many rows a table holds, through raw SQL on both engines (an UPDATE that changes nothing counts them).
async fn count_rows(db: &TestDb, table: &str) -> u64 {
    db.raw(&format!("UPDATE {table} SET id = id")).await.unwrap()
}

pub async fn a_failing_bill_import_leaves_neither_the_file_nor_any_row(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    // A duplicate line number well past the first few thousand rows, so some rows are in before it fails.
    let mut rows: Vec<BillRow> = (1..=10_000).map(bill_row).collect();
    rows[9_000].line_no = 17;
    let file = bill_file(&m, "ab");
    let err = l.import_bill(&file, &rows).await.unwrap_err();
    assert!(
        matches!(&err, Error::Database(sqlx::Error::Database(e)) if e.is_unique_violation() && !err.is_unavailable()),
        "{err:?}"
    );
    // A file for an unknown merchant is refused by its foreign key.
    let stranger = NewBillFile { merchant: MerchantId(m.id.0 + 1000), ..bill_file(&m, "cd") };
    let err = l.import_bill(&stranger, &rows[..10]).await.unwrap_err();
    assert!(matches!(&err, Error::Database(sqlx::Error::Database(e)) if e.is_foreign_key_violation()), "{err:?}");
    assert!(l.bill_files(m.id, file.bill_date).await.unwrap().is_empty());
    assert_eq!((count_rows(db, "bill_files").await, count_rows(db, "bill_rows").await), (0, 0));
    assert!(l.audit_entries(0, 100).await.unwrap().iter().all(|e| e.action != "bill.import"));
    // Nothing left behind blocks the corrected file, and the audit chain (its head included) still holds.
    rows[9_000].line_no = 9_001;
    let imported = l.import_bill(&file, &rows).await.unwrap();
    assert!(!imported.already_imported);
    assert_eq!(imported.file.row_count, 10_000);
    assert_eq!(count_rows(db, "bill_rows").await, 10_000);
    assert_eq!(l.verify_audit_chain().await.unwrap().first_broken, None);
}

pub async fn an_abandoned_bill_import_is_all_or_nothing(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let rows: Vec<BillRow> = (1..=30_000).map(bill_row).collect();
    let file = bill_file(&m, "ab");
    // The caller gives up (a timeout drops the future) somewhere in the middle, or not at all.
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(30), l.import_bill(&file, &rows)).await;
    // Whatever happened, importing again ends with the whole file, once. (A caller that gave up cannot know
    // whether the commit came first, so only a finished import says what the second one must find.)
    let again = l.import_bill(&file, &rows).await.unwrap();
    if let Ok(first) = gave_up {
        assert!(!first.unwrap().already_imported && again.already_imported);
    }
    assert_eq!(again.file.row_count, 30_000);
    assert_eq!((count_rows(db, "bill_files").await, count_rows(db, "bill_rows").await), (1, 30_000));
    assert_eq!(l.verify_audit_chain().await.unwrap().first_broken, None);
}

/// An in-memory SQLite ledger has no file for a second connection: its imports stay on sqlx's bulk path.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_in_memory_sqlite_ledger_imports_bills_too() {
    let l = Ledger::open("sqlite::memory:").await.unwrap();
    let m = merchant(&l).await;
    let rows: Vec<BillRow> = (1..=2000).map(bill_row).collect();
    let imported = l.import_bill(&bill_file(&m, "ab"), &rows).await.unwrap();
    assert_eq!((imported.already_imported, imported.file.row_count), (false, 2000));
    assert!(l.import_bill(&bill_file(&m, "ab"), &rows).await.unwrap().already_imported);
    assert_eq!(l.bill_rows(imported.file.id, 1990, 100).await.unwrap().len(), 10);
}

/// The tests above on both engines, named like main.rs's (`<engine>::<spec>` under this module); they belong in
/// main.rs's `bills_recon` list, which this change does not touch.
mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_bill_import_leaves_neither_the_file_nor_any_row() {
        super::a_failing_bill_import_leaves_neither_the_file_nor_any_row(&crate::common::TestDb::sqlite().await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_abandoned_bill_import_is_all_or_nothing() {
        super::an_abandoned_bill_import_is_all_or_nothing(&crate::common::TestDb::sqlite().await).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failing_bill_import_leaves_neither_the_file_nor_any_row() {
        let Some(db) = crate::common::TestDb::postgres().await else { return };
        super::a_failing_bill_import_leaves_neither_the_file_nor_any_row(&db).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn an_abandoned_bill_import_is_all_or_nothing() {
        let Some(db) = crate::common::TestDb::postgres().await else { return };
        super::an_abandoned_bill_import_is_all_or_nothing(&db).await;
    }
}
