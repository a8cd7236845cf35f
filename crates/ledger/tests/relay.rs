//! The relay outbox (migration 0002), on SQLite and on PostgreSQL (`scripts/with-postgres`): the event is written
//! in the applying transaction and only for notifications that changed the ledger; claims lease rows so two
//! workers never take the same one; failures come back when due; delivered rows stay delivered.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "ledger/common.rs"]
mod common;

use chrono::Duration;
use common::*;
use ledger::*;

macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let db = crate::common::TestDb::sqlite().await;
                crate::$name(&db).await;
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(db) = crate::common::TestDb::postgres().await else { return };
                crate::$name(&db).await;
            })+
        }
    };
}

on_both_engines!(
    relay_event_is_written_with_the_applied_notification_only,
    claims_lease_events_and_failures_come_back_when_due,
    two_workers_never_claim_the_same_event,
    openid_from_the_shop_backend_is_set_once,
);

async fn stored_valid(l: &Ledger, facts: &PaymentFacts) -> NotificationId {
    let id = l.store_notification(&incoming(NotificationKind::Payment, "<xml>pay</xml>")).await.unwrap();
    let valid = VerificationResult::Valid {
        mch_id: facts.mch_id.clone(),
        out_trade_no: Some(facts.out_trade_no.clone()),
        out_refund_no: None,
    };
    l.record_verification(id, &valid, now()).await.unwrap();
    id
}

async fn relay_event_is_written_with_the_applied_notification_only(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    l.register_order(&new_order(&m, "RL1", 1200, now())).await.unwrap();
    let facts = payment("RL1", &txn(1), 1200, now());
    let first = stored_valid(l, &facts).await;
    let applied = l.apply_payment_notification_relayed(first, &facts, now(), Some(r#"{"n":1}"#)).await.unwrap();
    assert_eq!(applied.outcome, NotificationOutcome::Applied);
    // The duplicate changes nothing, so it is not relayed; neither is a rejected one (amount mismatch).
    let dup = stored_valid(l, &facts).await;
    let applied = l.apply_payment_notification_relayed(dup, &facts, now(), Some(r#"{"n":2}"#)).await.unwrap();
    assert_eq!(applied.outcome, NotificationOutcome::Duplicate);
    l.register_order(&new_order(&m, "RL2", 500, now())).await.unwrap();
    let wrong = payment("RL2", &txn(2), 499, now());
    let bad = stored_valid(l, &wrong).await;
    let applied = l.apply_payment_notification_relayed(bad, &wrong, now(), Some("{}")).await.unwrap();
    assert_eq!(applied.outcome, NotificationOutcome::Rejected);
    // An unregistered payment is relayed with its outcome; without a payload nothing is written.
    let unknown = payment("RL-NOBODY", &txn(3), 800, now());
    let u = stored_valid(l, &unknown).await;
    let applied = l.apply_payment_notification_relayed(u, &unknown, now(), Some(r#"{"n":3}"#)).await.unwrap();
    assert_eq!(applied.outcome, NotificationOutcome::UnknownOrder);
    let plain = payment("RL-NOBODY-2", &txn(4), 800, now());
    let p = stored_valid(l, &plain).await;
    l.apply_payment_notification_relayed(p, &plain, now(), None).await.unwrap();
    // Applying the same stored notification again returns its outcome and writes no second event.
    l.apply_payment_notification_relayed(first, &facts, now(), Some(r#"{"n":9}"#)).await.unwrap();

    let events = l.relay_events(100).await.unwrap();
    let summary: Vec<_> = events.iter().map(|e| (e.notification_id, e.outcome, e.payload.as_str())).collect();
    assert_eq!(
        summary,
        vec![(first, NotificationOutcome::Applied, r#"{"n":1}"#), (u, NotificationOutcome::UnknownOrder, r#"{"n":3}"#)]
    );
    assert!(events.iter().all(|e| e.kind == NotificationKind::Payment && e.attempts == 0 && e.delivered_at.is_none()));
    let backlog = l.relay_backlog().await.unwrap();
    assert_eq!((backlog.pending, backlog.delivered, backlog.oldest_pending), (2, 0, Some(now())));
}

async fn claims_lease_events_and_failures_come_back_when_due(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    for n in 0..3u64 {
        let no = format!("RC{n}");
        l.register_order(&new_order(&m, &no, 100, now())).await.unwrap();
        let facts = payment(&no, &txn(10 + n), 100, now());
        let id = stored_valid(l, &facts).await;
        l.apply_payment_notification_relayed(id, &facts, now(), Some("{}")).await.unwrap();
    }
    let lease = Duration::seconds(60);
    let claimed = l.claim_relay_events(now(), lease, 2).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|e| e.attempts == 1 && e.next_attempt_at == now() + lease));
    // Leased rows are not due; the third is.
    let rest = l.claim_relay_events(now(), lease, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(l.claim_relay_events(now(), lease, 10).await.unwrap().is_empty());

    l.relay_delivered(claimed[0].id, now()).await.unwrap();
    assert!(l.relay_delivered(claimed[0].id, now()).await.is_err(), "delivered twice");
    l.relay_failed(claimed[1].id, "HTTP 502", now() + Duration::seconds(5)).await.unwrap();
    // Not due before its retry time; due after it, with the error kept and the attempt counted again.
    assert!(l.claim_relay_events(now() + Duration::seconds(4), lease, 10).await.unwrap().is_empty());
    let again = l.claim_relay_events(now() + Duration::seconds(5), lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts, again[0].last_error.as_deref()), (claimed[1].id, 2, Some("HTTP 502")));
    // A worker that died holding a lease only delays its row.
    let after_lease = l.claim_relay_events(now() + lease, lease, 10).await.unwrap();
    assert_eq!(after_lease.iter().map(|e| e.id).collect::<Vec<_>>(), vec![rest[0].id]);
    let backlog = l.relay_backlog().await.unwrap();
    assert_eq!((backlog.pending, backlog.delivered), (2, 1));
}

async fn two_workers_never_claim_the_same_event(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    for n in 0..40u64 {
        let no = format!("RW{n}");
        l.register_order(&new_order(&m, &no, 100, now())).await.unwrap();
        let facts = payment(&no, &txn(100 + n), 100, now());
        let id = stored_valid(l, &facts).await;
        l.apply_payment_notification_relayed(id, &facts, now(), Some("{}")).await.unwrap();
    }
    let other = db.open_another().await;
    let mut tasks = Vec::new();
    for worker in [l.clone(), other] {
        for _ in 0..4 {
            let worker = worker.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = worker.claim_relay_events(now(), Duration::seconds(60), 3).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|e| e.id));
                }
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40), "every event claimed exactly once");
}

async fn openid_from_the_shop_backend_is_set_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, _) = l.register_order(&new_order(&m, "OP1", 100, now())).await.unwrap();
    assert!(l.set_order_openid(order.id, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").await.unwrap());
    assert!(!l.set_order_openid(order.id, "another").await.unwrap(), "the first one stays");
    assert_eq!(l.order(order.id).await.unwrap().openid.as_deref(), Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
    assert!(matches!(l.set_order_openid(OrderId(999_999), "x").await, Err(Error::NotFound { .. })));
    assert!(matches!(l.set_order_openid(order.id, "").await, Err(Error::InvalidInput(_))));
}
