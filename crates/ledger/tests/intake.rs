//! Batched intake (store_notifications + apply_payment_notifications) on SQLite and PostgreSQL: the same outcomes,
//! order states, timeline facts and relay events as the single path, case by case.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "ledger/common.rs"]
mod common;

use chrono::Duration;
use common::*;
use ledger::*;
use wxpay::{AppId, Fen, MchId, TradeState};

macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let a = crate::common::TestDb::sqlite().await;
                let b = crate::common::TestDb::sqlite().await;
                crate::$name(&a, &b).await;
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(a) = crate::common::TestDb::postgres().await else { return };
                let Some(b) = crate::common::TestDb::postgres().await else { return };
                crate::$name(&a, &b).await;
            })+
        }
    };
}

on_both_engines!(
    batch_gives_the_single_paths_outcomes_case_by_case,
    stored_batch_keeps_order_and_rejects_the_invalid,
    batch_racing_another_process_applies_each_payment_once,
);

/// Registers the orders both ledgers start with: B1..B6 NOTPAY (B5 then closed, B6 already paid).
async fn setup(l: &Ledger) -> Merchant {
    let m = merchant(l).await;
    for (no, fen) in [("B1", 100), ("B2", 200), ("B3", 300), ("B4", 400), ("B5", 500), ("B6", 600), ("B7", 700)] {
        l.register_order(&new_order(&m, no, fen, now())).await.unwrap();
    }
    let b5 = l.order_by_out_trade_no(m.id, &no("B5")).await.unwrap().unwrap();
    let closed = OrderObservation { trade_state: TradeState::Closed, payment: None };
    l.apply_order_observation(b5.id, &closed, &query(now())).await.unwrap();
    assert_eq!(deliver_payment(l, &payment("B6", &txn(6), 600, now())).await.outcome, NotificationOutcome::Applied);
    m
}

fn cases() -> Vec<PaymentFacts> {
    let mut wrong_appid = payment("B4", &txn(4), 400, now());
    wrong_appid.appid = AppId::new("wx0000000000000000").unwrap();
    let mut other_merchant = payment("B1", &txn(40), 100, now());
    other_merchant.mch_id = MchId::new("1999999999").unwrap();
    vec![
        payment("B1", &txn(1), 100, now()),     // applied
        payment("B2", &txn(2), 201, now()),     // amount mismatch: rejected, flagged
        payment("B3", &txn(3), 300, now()),     // applied …
        payment("B3", &txn(3), 300, now()),     // … and its duplicate in the same batch
        wrong_appid,                            // rejected
        payment("B5", &txn(5), 500, now()),     // paid after close: applied, flagged
        payment("B6", &txn(6), 600, now()),     // already paid: duplicate
        payment("NOBODY", &txn(9), 900, now()), // unregistered: unknown order, flagged
        payment("B7", &txn(6), 700, now()),     // B6's transaction id: rejected
        other_merchant,                         // unknown merchant: rejected
    ]
}

fn valid(f: &PaymentFacts) -> VerificationResult {
    VerificationResult::Valid {
        mch_id: f.mch_id.clone(),
        out_trade_no: Some(f.out_trade_no.clone()),
        out_refund_no: None,
    }
}

async fn batch(l: &Ledger, facts: &[PaymentFacts]) -> Vec<AppliedNotification> {
    let stored: Vec<(IncomingNotification, VerificationResult)> =
        facts.iter().map(|f| (incoming(NotificationKind::Payment, "<xml>pay</xml>"), valid(f))).collect();
    let ids = l.store_notifications(&stored, now()).await.unwrap();
    let items: Vec<PaymentToApply> = ids
        .iter()
        .zip(facts)
        .map(|(id, f)| PaymentToApply {
            id: *id,
            facts: f.clone(),
            relay_payload: Some(format!("{{\"no\":\"{}\"}}", f.out_trade_no)),
        })
        .collect();
    l.apply_payment_notifications(&items, now()).await.unwrap()
}

/// What a ledger ends with, comparable across two ledgers (row ids aside).
async fn summary(l: &Ledger, m: &Merchant) -> Vec<String> {
    let mut out = Vec::new();
    for n in ["B1", "B2", "B3", "B4", "B5", "B6", "B7", "NOBODY"] {
        let o = l.order_by_out_trade_no(m.id, &no(n)).await.unwrap().unwrap();
        let facts: Vec<String> = l
            .timeline(o.id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "STATE" || e.kind == "FLAGGED")
            .map(|e| format!("{}:{:?}->{:?}:{:?}", e.kind, e.from_state, e.to_state, e.note))
            .collect();
        out.push(format!(
            "{n} {} {:?} {:?} {:?} {:?} {:?}",
            o.trade_state,
            o.transaction_id.map(|t| t.to_string()),
            o.flag_reason,
            o.cash_fee,
            o.paid_day,
            facts
        ));
    }
    out
}

async fn batch_gives_the_single_paths_outcomes_case_by_case(a: &TestDb, b: &TestDb) {
    let (la, lb) = (&a.ledger, &b.ledger);
    let (ma, mb) = (setup(la).await, setup(lb).await);
    let facts = cases();
    let batched = batch(la, &facts).await;
    let mut single = Vec::new();
    for f in &facts {
        let id = lb.store_notification(&incoming(NotificationKind::Payment, "<xml>pay</xml>")).await.unwrap();
        lb.record_verification(id, &valid(f), now()).await.unwrap();
        let payload = format!("{{\"no\":\"{}\"}}", f.out_trade_no);
        single.push(lb.apply_payment_notification_relayed(id, f, now(), Some(&payload)).await.unwrap());
    }
    let strip = |v: &[AppliedNotification]| v.iter().map(|x| (x.outcome, x.reason.clone())).collect::<Vec<_>>();
    assert_eq!(strip(&batched), strip(&single));
    let outcomes: Vec<NotificationOutcome> = batched.iter().map(|x| x.outcome).collect();
    use NotificationOutcome::*;
    assert_eq!(
        outcomes,
        [Applied, Rejected, Applied, Duplicate, Rejected, Applied, Duplicate, UnknownOrder, Rejected, Rejected]
    );
    assert_eq!(summary(la, &ma).await, summary(lb, &mb).await);
    // The relay events: the same notifications' payloads (APPLIED and UNKNOWN_ORDER), nothing for the rest.
    let events = |l: &Ledger| {
        let l = l.clone();
        async move {
            let mut v: Vec<(String, NotificationOutcome)> =
                l.relay_events(100).await.unwrap().into_iter().map(|e| (e.payload, e.outcome)).collect();
            v.sort_by(|x, y| x.0.cmp(&y.0));
            v
        }
    };
    let (ea, eb) = (events(la).await, events(lb).await);
    assert_eq!(ea, eb);
    assert_eq!(ea.len(), 4);
    // Every stored notification is finished.
    assert!(la.pending_notifications(100).await.unwrap().is_empty());
}

async fn stored_batch_keeps_order_and_rejects_the_invalid(a: &TestDb, _b: &TestDb) {
    let l = &a.ledger;
    let m = merchant(l).await;
    l.register_order(&new_order(&m, "S1", 100, now())).await.unwrap();
    let f = payment("S1", &txn(1), 100, now());
    let items = vec![
        (incoming(NotificationKind::Payment, "<xml>first</xml>"), valid(&f)),
        (
            incoming(NotificationKind::Payment, "<xml>forged</xml>"),
            VerificationResult::Invalid { reason: "SIGNATURE_MISMATCH: x".into() },
        ),
        (incoming(NotificationKind::Payment, "<xml>first</xml>"), valid(&f)),
    ];
    let ids = l.store_notifications(&items, now()).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] < ids[1] && ids[1] < ids[2]);
    let forged = l.notification(ids[1]).await.unwrap();
    assert_eq!(forged.body, b"<xml>forged</xml>");
    assert_eq!((forged.verification, forged.outcome), (Verification::Invalid, NotificationOutcome::Rejected));
    assert_eq!(forged.outcome_reason.as_deref(), Some("SIGNATURE_MISMATCH: x"));
    let first = l.notification(ids[0]).await.unwrap();
    assert_eq!((first.verification, first.outcome), (Verification::Valid, NotificationOutcome::Pending));
    // A stored invalid notification cannot be applied through the batch.
    let wrong = [PaymentToApply { id: ids[1], facts: f.clone(), relay_payload: None }];
    assert!(matches!(l.apply_payment_notifications(&wrong, now()).await, Err(Error::Conflict(_))));
    assert_eq!(l.order_by_out_trade_no(m.id, &no("S1")).await.unwrap().unwrap().trade_state, TradeState::NotPay);
    let ok: Vec<PaymentToApply> =
        [ids[0], ids[2]].iter().map(|id| PaymentToApply { id: *id, facts: f.clone(), relay_payload: None }).collect();
    let applied = l.apply_payment_notifications(&ok, now()).await.unwrap();
    assert_eq!(
        applied.iter().map(|x| x.outcome).collect::<Vec<_>>(),
        [NotificationOutcome::Applied, NotificationOutcome::Duplicate]
    );
    // Applying the same stored rows again is refused: they are no longer pending.
    assert!(l.apply_payment_notifications(&ok[..1], now() + Duration::seconds(1)).await.is_err());
}

async fn batch_racing_another_process_applies_each_payment_once(a: &TestDb, _b: &TestDb) {
    let l = &a.ledger;
    let m = merchant(l).await;
    let n = 40u64;
    for i in 0..n {
        l.register_order(&new_order(&m, &format!("R{i}"), 100, now())).await.unwrap();
    }
    let facts: Vec<PaymentFacts> = (0..n).map(|i| payment(&format!("R{i}"), &txn(100 + i), 100, now())).collect();
    let other = a.open_another().await;
    // Two "processes" each take every notification in batches of 10, in opposite orders.
    let mut tasks = Vec::new();
    for (ledger, reverse) in [(l.clone(), false), (other, true)] {
        let mut facts = facts.clone();
        if reverse {
            facts.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let mut applied = 0;
            for chunk in facts.chunks(10) {
                // A batch that loses a race on PostgreSQL fails whole; the receiver then goes one by one.
                let outcomes =
                    match tokio::time::timeout(std::time::Duration::from_secs(20), batch(&ledger, chunk)).await {
                        Ok(o) => o,
                        Err(_) => panic!("batch stuck"),
                    };
                applied += outcomes.iter().filter(|o| o.outcome == NotificationOutcome::Applied).count();
            }
            applied
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 40, "each payment applied by exactly one of the two");
    for i in 0..n {
        let o = l.order_by_out_trade_no(m.id, &no(&format!("R{i}"))).await.unwrap().unwrap();
        assert_eq!(o.trade_state, TradeState::Success);
        let paid = l.timeline(o.id).await.unwrap().iter().filter(|e| e.kind == "STATE").count();
        assert_eq!(paid, 1);
        assert_eq!(o.total_fee, Fen(100));
    }
}
