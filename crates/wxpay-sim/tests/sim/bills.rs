//! Bills (§7) over the API: a day with payments and refunds in the modern ALL / SUCCESS / REFUND
//! formats (read back with wxpay's bill reader, rows and summary agreeing), gzip, "No Bill Exist",
//! "Bill Creating" before 10:00 the next day, and the fund-flow bill (mTLS, HMAC only).

use std::io::Read;

use serde_json::json;
use wxpay::api::{AccountType, BillType, DownloadBill, DownloadFundFlow, DownloadOutcome, OrderRef, Refund};
use wxpay::bill::Bill;
use wxpay::{Fen, OutRefundNo, OutTradeNo, SignType};

use crate::common::*;

fn day(text: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn bill_req(d: &str, bill_type: BillType, gzip: bool) -> DownloadBill {
    DownloadBill { bill_date: day(d), bill_type, gzip }
}

fn text(outcome: DownloadOutcome) -> Vec<u8> {
    match outcome {
        DownloadOutcome::Bill(bytes) => bytes,
        other => panic!("expected a bill, got {other:?}"),
    }
}

/// 2024-03-01: three payments (one at 23:59:30), a refund initiated that day, an unpaid order; on
/// 03-02 a refund of a 03-01 payment.
async fn a_day_of_trade(sim: &Sim) {
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    sim.set_clock("2024-03-01 09:15:00").await;
    sim.paid_order(MCH, "B1", 2800, NOWHERE).await;
    sim.set_clock("2024-03-01 12:30:00").await;
    sim.paid_order(MCH, "B2", 1000, NOWHERE).await;
    sim.create_order(MCH, json!({"out_trade_no": "B-UNPAID", "total_fee": 500, "notify_url": NOWHERE})).await;
    let refund = |order: &str, no: &str, total, fee| Refund {
        order: OrderRef::OutTradeNo(OutTradeNo::new(order).unwrap()),
        out_refund_no: OutRefundNo::new(no).unwrap(),
        total_fee: Fen(total),
        refund_fee: Fen(fee),
        refund_desc: None,
        refund_account: None,
        notify_url: None,
    };
    sim.set_clock("2024-03-01 15:00:00").await;
    client.execute(&refund("B2", "B2-R1", 1000, 300)).await.unwrap();
    sim.set_clock("2024-03-01 23:59:30").await;
    sim.paid_order(MCH, "B3", 3900, NOWHERE).await;
    sim.set_clock("2024-03-02 08:00:00").await;
    client.execute(&refund("B1", "B1-R1", 2800, 2800)).await.unwrap();
}

#[tokio::test]
async fn a_days_bills_hold_its_payments_and_the_refunds_initiated_that_day() {
    let sim = start().await;
    a_day_of_trade(&sim).await;
    eventually(std::time::Duration::from_secs(5), "refunds settled", || {
        sim.handle.sim.refunds(MCH).unwrap().iter().all(|r| r.refund_status == wxpay::RefundStatus::Success)
    })
    .await;
    let client = sim.client(MCH, SignType::HmacSha256, None);

    sim.set_clock("2024-03-02 09:59:00").await;
    assert_eq!(
        client.download_bill(&bill_req("2024-03-01", BillType::All, false)).await.unwrap(),
        DownloadOutcome::Creating
    );
    sim.set_clock("2024-03-02 10:00:01").await;
    let all = text(client.download_bill(&bill_req("2024-03-01", BillType::All, false)).await.unwrap());
    assert!(all.starts_with("\u{feff}交易时间,公众账号ID,商户号,特约商户号".as_bytes()));
    let s = String::from_utf8(all.clone()).unwrap();
    assert!(s.ends_with("\r\n") && !s.replace("\r\n", "").contains('\n'), "CRLF line ends only");
    let bill = Bill::read(&all[..]).unwrap();
    assert_eq!((bill.payments, bill.refunds), (3, 1));
    assert!(bill.reconciliation().agrees(), "{:?}", bill.reconciliation());
    let rows: Vec<_> = bill.rows.iter().map(|r| r.as_row()).collect();
    let b3 = rows.iter().find(|r| r.out_trade_no() == Some("B3")).unwrap();
    assert_eq!(b3.trade_time().to_dashed(), "2024-03-01 23:59:30");
    assert_eq!(b3.total_fee(), Some(Fen(3900)));
    assert_eq!(b3.fee().map(|f| f.to_yuan_string()).as_deref(), Some("0.23000"));
    let r = rows.iter().find(|r| r.is_refund()).unwrap();
    assert_eq!(r.out_refund_no(), Some("B2-R1"));
    assert_eq!(r.refund_fee(), Some(Fen(300)));
    assert_eq!(r.trade_time().to_dashed(), "2024-03-01 15:00:00");
    assert!(!rows.iter().any(|r| r.out_trade_no() == Some("B-UNPAID")));
    assert!(!rows.iter().any(|r| r.out_refund_no() == Some("B1-R1")), "B1's refund belongs to 03-02");
    assert_eq!(bill.computed.settlement_total_fee, Some(Fen(7700)));

    let success =
        Bill::read(&text(client.download_bill(&bill_req("2024-03-01", BillType::Success, false)).await.unwrap())[..])
            .unwrap();
    assert_eq!((success.payments, success.refunds), (3, 0));
    assert!(success.reconciliation().agrees());
    let refunds =
        Bill::read(&text(client.download_bill(&bill_req("2024-03-01", BillType::Refund, false)).await.unwrap())[..])
            .unwrap();
    assert_eq!((refunds.payments, refunds.refunds), (0, 1));
    let row = refunds.rows[0].as_row();
    assert!(row.refund_apply_time().is_some() && row.refund_success_time().is_some());

    // GZIP: the same bytes, compressed.
    let gz = text(client.download_bill(&bill_req("2024-03-01", BillType::All, true)).await.unwrap());
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, all);

    // The next day has B1's refund only; a day without trade has no bill.
    sim.set_clock("2024-03-03 10:00:01").await;
    let next = Bill::read(&text(client.download_bill(&bill_req("2024-03-02", BillType::All, true)).await.unwrap())[..])
        .unwrap();
    assert_eq!((next.payments, next.refunds), (0, 1));
    assert_eq!(
        client.download_bill(&bill_req("2024-02-29", BillType::All, false)).await.unwrap(),
        DownloadOutcome::NoBill
    );
    let raw = sim
        .post_signed(
            "/pay/downloadbill",
            &[("appid", APPID), ("mch_id", MCH), ("nonce_str", "n"), ("bill_date", "20240229"), ("tar_type", "GZIP")],
            SignType::Md5,
            MCH,
        )
        .await;
    assert_eq!(raw.get("return_msg"), Some("No Bill Exist"));
    assert_eq!(raw.get("error_code"), Some("20002"));
    let bad = sim
        .post_signed(
            "/pay/downloadbill",
            &[
                ("appid", APPID),
                ("mch_id", MCH),
                ("nonce_str", "n"),
                ("bill_date", "20240301"),
                ("bill_type", "EVERYTHING"),
            ],
            SignType::Md5,
            MCH,
        )
        .await;
    assert_eq!(bad.get("return_msg"), Some("invalid bill_type"));
}

#[tokio::test]
async fn the_fund_flow_bill_needs_the_certificate_and_hmac() {
    let sim = start().await;
    a_day_of_trade(&sim).await;
    sim.set_clock("2024-03-02 10:00:01").await;
    let client = sim.client(MCH, SignType::Md5, Some(MCH));
    let req = |account| DownloadFundFlow { bill_date: day("2024-03-01"), account_type: account, gzip: false };
    let basic = String::from_utf8(text(client.download_fund_flow(&req(AccountType::Basic)).await.unwrap())).unwrap();
    let lines: Vec<&str> = basic.split("\r\n").collect();
    assert_eq!(lines[0], "\u{feff}记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号");
    // 3 payments in, 1 refund out.
    assert_eq!(lines.len(), 1 + 4 + 2 + 1, "{basic}");
    assert_eq!(lines[5], "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额");
    assert_eq!(lines[6], "`4,`3,`77.00,`1,`3.00");
    assert!(lines[1].starts_with("`2024-03-01 09:15:00,`42"));
    let fees = String::from_utf8(text(client.download_fund_flow(&req(AccountType::Fees)).await.unwrap())).unwrap();
    assert!(fees.contains("`手续费"));
    assert_eq!(client.download_fund_flow(&req(AccountType::Operation)).await.unwrap(), DownloadOutcome::NoBill);
    sim.set_clock("2024-03-01 23:00:00").await;
    assert_eq!(client.download_fund_flow(&req(AccountType::Basic)).await.unwrap(), DownloadOutcome::Creating);

    // MD5 is refused on this path even with the right certificate.
    let dir = sim.issue_cert(MCH);
    let pem = format!(
        "{}{}",
        std::fs::read_to_string(dir.join("apiclient_cert.pem")).unwrap(),
        std::fs::read_to_string(dir.join("apiclient_key.pem")).unwrap()
    );
    let mtls = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(sim.handle.ca_cert_pem.as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let mut m = wxpay::Message::from_pairs([
        ("appid", APPID),
        ("mch_id", MCH),
        ("nonce_str", "n"),
        ("bill_date", "20240301"),
        ("account_type", "Basic"),
    ]);
    wxpay::sign::sign_request(&mut m, SignType::Md5, &Sim::key(MCH));
    let reply = mtls
        .post(format!("{}/pay/downloadfundflow", sim.handle.base_url))
        .body(m.to_xml().unwrap())
        .send()
        .await
        .unwrap();
    let reply = wxpay::Message::parse(&reply.bytes().await.unwrap()).unwrap();
    assert_eq!(reply.get("return_code"), Some("FAIL"));
    assert!(reply.get("return_msg").unwrap().contains("HMAC-SHA256"));
}
