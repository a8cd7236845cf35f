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
