//! The bodies, each run on both engines.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, Utc};
use ledger::{OrderObservation, Provenance, Source};
use paydesk_core::close::DayClose;
use wxpay::{BeijingTime, TradeState};

use crate::common::*;

fn today() -> NaiveDate {
    BeijingTime::from_utc(Utc::now()).date()
}

/// `subject → (kind, status)` of a day's discrepancies, keyed by the ids they name.
fn found(day: &DayClose) -> BTreeMap<String, (String, String)> {
    day.discrepancies
        .iter()
        .map(|d| {
            let key = d.out_refund_no.clone().or_else(|| d.out_trade_no.clone()).unwrap_or_default();
            (key, (d.kind.clone(), d.status.clone()))
        })
        .collect()
}

fn expect(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, (String, String)> {
    pairs.iter().map(|(k, kind, status)| (k.to_string(), (kind.to_string(), status.to_string()))).collect()
}

fn id_of(day: &DayClose, key: &str) -> i64 {
    day.discrepancies
        .iter()
        .find(|d| d.out_refund_no.as_deref() == Some(key) || d.out_trade_no.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no discrepancy for {key}: {day:#?}"))
        .id
}

pub async fn planted_days_are_found_exactly_and_each_action_resolves_its_discrepancy(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let core = &desk.core;
    let d = today() - Duration::days(6);
    let d1 = d + Duration::days(1);

    // Matched: registered, paid, learned by a query.
    sim.at(&format!("{d} 09:00:00"));
    let ok = no("OK");
    desk.register(&ok, 1200, Utc::now(), false).await;
    sim.paid(&ok, 1200).await;
    core.order_query_now(&ok).await.unwrap();
    // Paid at WeChat, unknown here.
    let unknown = no("UNK");
    sim.paid(&unknown, 800).await;
    // Paid here, never at WeChat.
    let ghost = no("GHOST");
    desk.paid_here(&ghost, "4200000001202401011234567890", 500, &format!("{d} 15:00:00")).await;
    // The amounts differ.
    let amount = no("AMT");
    let t = sim.paid(&amount, 1000).await;
    desk.paid_here(&amount, &t, 900, &format!("{d} 10:00:00")).await;
    // Closed here, paid there.
    let closed = no("CLS");
    desk.register(&closed, 700, Utc::now(), false).await;
    let order = desk.order(&closed).await;
    let person = Provenance::new(Source::Person, Utc::now());
    desk.ledger
        .apply_order_observation(
            order.id,
            &OrderObservation { trade_state: TradeState::Closed, payment: None },
            &person,
        )
        .await
        .unwrap();
    sim.paid(&closed, 700).await;
    // A refund made in the merchant platform, unknown here.
    let refunded = no("RFO");
    desk.register(&refunded, 1500, Utc::now(), false).await;
    sim.paid(&refunded, 1500).await;
    core.order_query_now(&refunded).await.unwrap();
    sim.at(&format!("{d} 11:00:00"));
    let refund_no = no("RF");
    sim.platform_refund(&refunded, &refund_no, 500).await;
    // Paid at 23:59:59 here; WeChat's bill has it the next day.
    sim.at(&format!("{d1} 00:00:01"));
    let late = no("LATE");
    let t = sim.paid(&late, 300).await;
    desk.paid_here(&late, &t, 300, &format!("{d} 23:59:59")).await;
    sim.now();

    let fetched = core.bill_fetch(&d.to_string()).await.unwrap();
    assert_eq!(fetched.outcome, "imported", "{fetched:#?}");
    let day = fetched.day.unwrap();
    assert_eq!(
        found(&day),
        expect(&[
            (&unknown, "missing_in_ledger", "open"),
            (&ghost, "missing_at_wechat", "waiting"),
            (&late, "missing_at_wechat", "waiting"),
            (&amount, "amount_mismatch", "open"),
            (&closed, "status_mismatch", "open"),
            (&refund_no, "refund_mismatch", "open"),
        ]),
        "{day:#?}"
    );
    assert_eq!(day.status, "open");
    let bill = day.bill.as_ref().unwrap();
    assert!(bill.summary_check.ok, "{bill:?}");
    assert_eq!((bill.source.as_str(), bill.row_count), ("download", 6));
    let wechat = day.wechat.as_ref().unwrap();
    assert_eq!((wechat.payments_count, wechat.payments_fen), (5, 1200 + 800 + 1000 + 700 + 1500));
    assert_eq!((wechat.refunds_count, wechat.refunds_fen), (1, 500));
    assert_eq!((day.ledger.payments_count, day.ledger.payments_fen), (5, 1200 + 500 + 900 + 1500 + 300));
    assert!(std::path::Path::new(&core.paths().bills_dir().join(&bill.sha256)).is_file());

    // The next day's bill holds the late payment: the next day is clean, and the waiting item resolves.
    let next = core.bill_fetch(&d1.to_string()).await.unwrap();
    assert_eq!(next.outcome, "imported");
    let next = next.day.unwrap();
    assert!(next.discrepancies.is_empty(), "{next:#?}");
    assert_eq!(next.status, "clean");
    let day = core.close_day(&d.to_string()).await.unwrap();
    assert_eq!(
        found(&day),
        expect(&[
            (&unknown, "missing_in_ledger", "open"),
            (&ghost, "missing_at_wechat", "open"),
            (&late, "missing_at_wechat", "resolved"),
            (&amount, "amount_mismatch", "open"),
            (&closed, "status_mismatch", "open"),
            (&refund_no, "refund_mismatch", "open"),
        ]),
        "{day:#?}"
    );

    // Each action through its normal flow; the day is reconciled again after each.
    let after = core.discrepancy_action(id_of(&day, &unknown), "record_from_bill", None).await.unwrap();
    assert_eq!(found(&after)[&unknown].1, "resolved");
    let recorded = core.order_detail(&unknown).await.unwrap();
    assert_eq!(recorded.order.row.state, "SUCCESS");
    assert!(recorded
        .timeline
        .iter()
        .any(|e| e.source == "bill" && e.evidence_ref.as_deref().is_some_and(|r| r.starts_with("bill_row:"))));

    let after = core.discrepancy_action(id_of(&day, &closed), "query", None).await.unwrap();
    assert_eq!(found(&after)[&closed].1, "resolved", "{after:#?}");
    assert_eq!(desk.order(&closed).await.trade_state, TradeState::Success);

    let after = core.discrepancy_action(id_of(&day, &refund_no), "record_from_bill", None).await.unwrap();
    assert_eq!(found(&after)[&refund_no].1, "resolved", "{after:#?}");

    let after = core.discrepancy_action(id_of(&day, &amount), "propose_refund", None).await.unwrap();
    assert_eq!(found(&after)[&amount].1, "action_pending");
    let apps = core.refund_applications_list("PENDING").await.unwrap();
    let app = apps.iter().find(|a| a.order.out_trade_no == amount).unwrap();
    assert_eq!((app.amount_fen, app.origin.as_str()), (100, "desk"));

    let explain = core.discrepancy_action(id_of(&day, &ghost), "explain", None).await.unwrap_err();
    assert_eq!(core.ui_error(&explain).code, "invalid_input", "a note is required");
    let after = core.discrepancy_action(id_of(&day, &ghost), "explain", Some("测试单，未真正收款")).await.unwrap();
    assert_eq!(found(&after)[&ghost].1, "explained");
    let after = core.discrepancy_action(id_of(&day, &amount), "explain", Some("差额已退")).await.unwrap();
    assert_eq!(after.status, "clean", "{after:#?}");

    // A run again finds the same, no more.
    let again = core.recon_run(&d.to_string()).await.unwrap();
    assert_eq!(found(&again), found(&after));
    let audit = core.audit_list(None, 200).await.unwrap();
    for action in [
        "discrepancy.record_from_bill",
        "discrepancy.query",
        "discrepancy.propose_refund",
        "discrepancy.explain",
        "recon.run",
        "bill.fetch",
    ] {
        assert!(audit.entries.iter().any(|e| e.action == action), "{action} audited");
    }
    let csv = core.close_export_csv(&d.to_string(), "discrepancies").await.unwrap();
    assert_eq!(csv.rows, 6);
    let csv = core.close_export_csv(&d.to_string(), "day").await.unwrap();
    assert_eq!(csv.rows, 6);
}

pub async fn a_day_without_business_is_no_bill_and_before_ten_the_bill_is_not_yet(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let core = &desk.core;
    let quiet = today() - Duration::days(10);
    let fetched = core.bill_fetch(&quiet.to_string()).await.unwrap();
    assert_eq!(fetched.outcome, "no_bill", "{fetched:#?}");
    assert_eq!(fetched.day.as_ref().unwrap().status, "no_bill");
    let month = &quiet.to_string()[..7];
    let calendar = core.close_calendar(month).await.unwrap();
    let entry = calendar.iter().find(|c| c.day == quiet.to_string()).unwrap();
    assert_eq!((entry.status.as_str(), entry.open_discrepancies), ("no_bill", 0));

    // WeChat makes the bill of a day at 09:00 the next day, to download after 10:00.
    let day = today() - Duration::days(3);
    sim.at(&format!("{day} 12:00:00"));
    let order = no("EARLY");
    sim.paid(&order, 100).await;
    sim.at(&format!("{} 09:30:00", day + Duration::days(1)));
    let fetched = core.bill_fetch(&day.to_string()).await.unwrap();
    assert_eq!(fetched.outcome, "not_yet", "{fetched:#?}");
    let fetched = core.bill_fetch(&today().to_string()).await.unwrap();
    assert_eq!(fetched.outcome, "not_yet");
    assert_eq!(fetched.day.unwrap().status, "not_yet");
    sim.now();
    let fetched = core.bill_fetch(&day.to_string()).await.unwrap();
    assert_eq!(fetched.outcome, "imported");
    assert_eq!(found(fetched.day.as_ref().unwrap()), expect(&[(&order, "missing_in_ledger", "open")]));
}

fn legacy_bill(day: NaiveDate, out_trade_no: &str, transaction_id: &str) -> String {
    // The 24-column format of merchants that never enabled 免充值券 (wxpay-v2.md §7.4), shaped like
    // /work/shared/fixtures/wxpay-v2/bills/all.legacy-24col.doc2014.wxjava.txt.
    format!(
        "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率\n\
         `{day} 08:00:00,`{APPID},`{MCH},`0,`,`{transaction_id},`{out_trade_no},`oUser,`NATIVE,`SUCCESS,`OTHERS,`CNY,`2.50,`0.0,`0,`0,`0,`0,`,`,`拿铁,`,`0.02000,`0.60%\n\
         总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额\n\
         `1,`2.50,`0.0,`0.0,`0.02000\n"
    )
}

pub async fn the_same_gzip_file_twice_changes_nothing_and_a_legacy_bill_imports(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let core = &desk.core;
    let day = today() - Duration::days(4);
    sim.at(&format!("{day} 12:00:00"));
    let order = no("TWICE");
    desk.register(&order, 990, Utc::now(), false).await;
    sim.paid(&order, 990).await;
    core.order_query_now(&order).await.unwrap();
    sim.now();
    let mut events = core.subscribe();
    let fetched = core.bill_fetch(&day.to_string()).await.unwrap();
    assert_eq!(fetched.outcome, "imported");
    let mut stages = std::collections::BTreeSet::new();
    while let Ok(event) = events.try_recv() {
        if let paydesk_core::CoreEvent::CloseProgress(p) = event {
            assert_eq!(p.day, day.to_string());
            if p.stage == "download" && p.done > 0 {
                assert_eq!(p.total, Some(p.done), "the download's last report is its whole length");
            }
            stages.insert(p.stage);
        }
    }
    assert_eq!(stages.into_iter().collect::<Vec<_>>(), ["download", "import", "reconcile"]);
    let first = fetched.day.unwrap();
    assert_eq!(first.status, "clean", "{first:#?}");
    let bill = first.bill.unwrap();
    let stored = core.paths().bills_dir().join(&bill.sha256);
    let bytes = std::fs::read(&stored).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "the download is kept as WeChat sent it: gzip");
    let copy = desk._dir.path().join("bill.csv.gz");
    std::fs::write(&copy, &bytes).unwrap();
    let again = core.bill_import(copy.to_str().unwrap(), None).await.unwrap();
    assert_eq!(again.outcome, "already_imported", "{again:#?}");
    let again = again.day.unwrap();
    assert_eq!(again.bill.unwrap().sha256, bill.sha256);
    assert_eq!(again.run.unwrap().id, first.run.unwrap().id, "nothing was run again");
    assert_eq!(desk.ledger.bill_files(desk.merchant, day).await.unwrap().len(), 1);

    // A legacy-format file exported from the merchant platform; its day is read from its rows.
    let legacy_day = today() - Duration::days(2);
    let legacy = no("OLD");
    let txn = "4200000002202401011234567890";
    desk.paid_here(&legacy, txn, 250, &format!("{legacy_day} 08:00:00")).await;
    let path = desk._dir.path().join("legacy.csv");
    std::fs::write(&path, legacy_bill(legacy_day, &legacy, txn)).unwrap();
    let imported = core.bill_import(path.to_str().unwrap(), None).await.unwrap();
    assert_eq!(imported.outcome, "imported", "{imported:#?}");
    let close = imported.day.unwrap();
    assert_eq!(close.day, legacy_day.to_string());
    assert_eq!(close.status, "clean", "{close:#?}");
    let bill = close.bill.unwrap();
    assert_eq!((bill.source.as_str(), bill.file_name.as_deref()), ("import", Some("legacy.csv")));
    assert!(bill.summary_check.ok);
    assert_eq!(close.wechat.unwrap().payments_fen, 250);
    // Given the wrong day, the file is refused.
    let wrong = core.bill_import(path.to_str().unwrap(), Some(&day.to_string())).await.unwrap_err();
    assert_eq!(core.ui_error(&wrong).code, "invalid_input");
}
