//! End to end: wxpay-sim (the offline WeChat Pay) takes orders, customers pay, refunds settle, and the simulator
//! delivers every notification to the receiver on WeChat's retry schedule (sped up 1000×) with its delivery faults
//! on — first attempts lost, every attempt sent twice at once, a copy again after the acknowledgement. The ledger
//! must end exactly right.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use ledger::{ApplicationId, Approval, Provenance, RefundState, Source};
use wxpay::{Fen, OutRefundNo, RefundId, SignType, TradeState};
use wxpay_sim::sim::{NewOrder, Payment, RefundRequest};
use wxpay_sim::{Faults, MerchantConfig, SimConfig};

use crate::common::*;

pub async fn simulator_with_faults_pays_and_notifies_and_the_ledger_ends_exactly_right(db: &TestDb) {
    let r = db.receiver().await;
    let sim_dir = tempfile::tempdir().unwrap();
    let mut merchant = MerchantConfig::new(MCH, APPID, KEY);
    merchant.refund_min_interval_secs = 0;
    let handle = wxpay_sim::spawn(SimConfig {
        data_dir: sim_dir.path().to_path_buf(),
        merchants: vec![merchant],
        time_factor: 1000,
        refund_delay_ms: 50,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let sim = handle.sim.clone();
    sim.set_merchant_faults(
        MCH,
        Faults { notify_drop_first: 2, notify_duplicate: true, notify_concurrent: true, ..Faults::default() },
    )
    .unwrap();

    // 16 orders the shop backend registers, 4 it does not; MD5 and HMAC alike.
    let n = 20u32;
    let mut expected: BTreeMap<String, (i64, bool)> = BTreeMap::new();
    for i in 0..n {
        let no = format!("E2E-{i:03}");
        let fen = 100 + i64::from(i) * 37;
        let sign_type = if i % 3 == 0 { SignType::HmacSha256 } else { SignType::Md5 };
        let registered = i % 5 != 4;
        if registered {
            r.register(&no, fen, sign_type).await;
        }
        sim.unified_order(
            MCH,
            NewOrder {
                appid: APPID.into(),
                out_trade_no: no.clone(),
                body: "小店-拿铁".into(),
                attach: None,
                device_info: None,
                fee_type: "CNY".into(),
                total_fee: Fen(fen),
                spbill_create_ip: "127.0.0.1".into(),
                notify_url: format!("{}/wxpay/notify", r.url),
                trade_type: "JSAPI".into(),
                product_id: None,
                openid: Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()),
                time_expire: None,
                sign_type,
                params: BTreeMap::new(),
            },
        )
        .unwrap();
        sim.pay(MCH, &no, Payment::default()).unwrap();
        expected.insert(no, (fen, registered));
    }
    let l = db.ledger().await;
    let m = l.merchant_by_mch_id(&wxpay::MchId::new(MCH).unwrap()).await.unwrap().unwrap();
    eventually(30, "every payment applied", || {
        let (l, expected) = (l.clone(), expected.clone());
        async move {
            for no in expected.keys() {
                match order(&l, no).await {
                    Some(o) if o.trade_state == TradeState::Success => {}
                    _ => return false,
                }
            }
            true
        }
    })
    .await;

    // Three customers ask for part of their money back; the desk approves; the refund is sent (to the simulator, as
    // the desk's client would over mutual TLS) and settles; the refund notification comes with the same faults.
    let refunds = [("E2E-001", 50i64), ("E2E-002", 60), ("E2E-003", 70)];
    for (k, (no, fen)) in refunds.iter().enumerate() {
        let body = serde_json::json!({"out_trade_no": no, "amount": fen, "reason": "少做一杯"});
        let a = r.api(reqwest::Method::POST, "/api/v1/refund-applications", Some(body)).await;
        assert_eq!(a.status, 201, "{a:?}");
        let approval = Approval {
            out_refund_no: OutRefundNo::new(format!("E2E-R{k}")).unwrap(),
            approver: "desk:owner".into(),
            note: None,
            at: Utc::now(),
            max_age: chrono::Duration::days(365),
            amount: None,
            refund_desc: None,
        };
        let refund = l.approve_application(ApplicationId(a.json()["id"].as_i64().unwrap()), &approval).await.unwrap();
        let total = expected[*no].0;
        let outcome = sim
            .refund(
                MCH,
                RefundRequest {
                    appid: APPID.into(),
                    transaction_id: None,
                    out_trade_no: Some((*no).to_string()),
                    out_refund_no: refund.out_refund_no.to_string(),
                    total_fee: Fen(total),
                    refund_fee: Fen(*fen),
                    refund_desc: None,
                    refund_account: None,
                    notify_url: Some(format!("{}/wxpay/notify", r.url)),
                    source: "API",
                },
            )
            .unwrap();
        let refund_id = RefundId::new(outcome.refund.refund_id.clone()).unwrap();
        l.record_refund_accepted(refund.id, Some(&refund_id), &Provenance::new(Source::Person, Utc::now()))
            .await
            .unwrap();
    }
    eventually(30, "the simulator has every notification acknowledged", || {
        let sim = sim.clone();
        async move {
            let c = sim.delivery_counts();
            c.pending == 0 && c.acknowledged >= 23
        }
    })
    .await;
    // The duplicate copies sent after an acknowledgement may still be in flight.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Exactly right: every order paid once with WeChat's transaction id and amount; the unregistered ones flagged;
    // the refunds settled with the refunded totals; nothing left half-done.
    for (no, (fen, registered)) in &expected {
        let o = order(&l, no).await.unwrap();
        let (at_wechat, wechat_refunds) = sim.order_with_refunds(MCH, no).unwrap();
        assert_eq!(o.transaction_id.as_ref().map(|t| t.to_string()), at_wechat.transaction_id, "{no}");
        assert_eq!(o.total_fee, Fen(*fen), "{no}");
        assert_eq!(paid_facts(&l, &o).await, 1, "{no} paid once");
        assert_eq!(o.flag_reason.as_deref(), if *registered { None } else { Some("UNREGISTERED") }, "{no}");
        let refunded: i64 = wechat_refunds.iter().map(|r| r.refund_fee.get()).sum();
        assert_eq!(o.refunded_total, Fen(refunded), "{no}");
        let state = if refunded > 0 { TradeState::Refund } else { TradeState::Success };
        assert_eq!(o.trade_state, state, "{no}");
        for rf in l.refunds_for_order(o.id).await.unwrap() {
            assert_eq!(rf.status, RefundState::Success, "{no}");
        }
    }
    let rows = stored(db).await;
    assert!(rows.iter().all(|s| s.outcome != "PENDING" && s.verification == "VALID"), "{rows:?}");
    let applied = |kind: &str, outcome: &str| rows.iter().filter(|s| s.kind == kind && s.outcome == outcome).count();
    assert_eq!(applied("PAYMENT", "APPLIED") + applied("PAYMENT", "UNKNOWN_ORDER"), 20);
    assert_eq!(applied("PAYMENT", "UNKNOWN_ORDER"), 4);
    assert_eq!(applied("REFUND", "APPLIED"), 3);
    assert!(rows.len() > 23 * 2, "the faults sent duplicates: {}", rows.len());
    let _ = m;
    handle.shutdown().await;
    r.shutdown().await;
}
