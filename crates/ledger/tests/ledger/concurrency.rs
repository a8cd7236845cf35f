//! Racing processes: 8 tasks, each with its own ledger (its own pool, as another process would have), do the
//! same thing at the same moment; exactly one has an effect.

use std::future::Future;
use std::sync::Arc;

use ledger::*;
use tokio::sync::Barrier;
use wxpay::{Fen, RefundStatus, TradeState};

use crate::common::*;

const TASKS: usize = 8;

/// Runs `body(task, ledger)` on `TASKS` separate ledgers, released together by a barrier.
async fn race<T, F, Fut>(db: &TestDb, body: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Ledger) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut ledgers = Vec::new();
    for _ in 0..TASKS {
        ledgers.push(db.open_another().await);
    }
    let barrier = Arc::new(Barrier::new(TASKS));
    let body = Arc::new(body);
    let handles: Vec<_> = ledgers
        .into_iter()
        .enumerate()
        .map(|(task, l)| {
            let barrier = barrier.clone();
            let body = body.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                body(task, l).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

pub async fn duplicate_notifications_apply_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, _) = l.register_order(&new_order(&m, "RACE-1", 2500, now())).await.unwrap();
    let facts = payment("RACE-1", &txn(77), 2500, now());
    let outcomes = race(db, move |_, l| {
        let facts = facts.clone();
        async move { deliver_payment(&l, &facts).await.outcome }
    })
    .await;
    let applied = outcomes.iter().filter(|o| **o == NotificationOutcome::Applied).count();
    let duplicate = outcomes.iter().filter(|o| **o == NotificationOutcome::Duplicate).count();
    assert_eq!((applied, duplicate), (1, TASKS - 1), "{outcomes:?}");
    let paid = l.timeline(order.id).await.unwrap().into_iter().filter(|e| e.kind == "STATE").count();
    assert_eq!(paid, 1);
    assert_eq!(l.order(order.id).await.unwrap().trade_state, TradeState::Success);
}

pub async fn one_application_approved_at_once_makes_one_refund(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let order = paid_order(l, &m, "RACE-2", 1000, 78).await;
    let (app, _) = l.register_refund_application(&application(&order, 400, None)).await.unwrap();
    let results =
        race(
            db,
            move |task, l| async move { l.approve_application(app.id, &approval(&format!("RF-RACE-{task}"))).await },
        )
        .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(err, Error::InvalidTransition(_) | Error::Conflict(_)), "{err:?}");
    }
    assert_eq!(l.refunds_for_order(order.id).await.unwrap().len(), 1);
    let order = l.order(order.id).await.unwrap();
    assert_eq!((order.refund_reserved, order.refund_count), (Fen(400), 1));
}

pub async fn refunds_past_the_amount_at_once_reserve_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let order = paid_order(l, &m, "RACE-3", 1000, 79).await;
    let mut apps = Vec::new();
    for _ in 0..TASKS {
        apps.push(l.register_refund_application(&application(&order, 600, None)).await.unwrap().0.id);
    }
    let results = race(db, move |task, l| {
        let app = apps[task];
        async move { l.approve_application(app, &approval(&format!("RF-PAST-{task}"))).await }
    })
    .await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(err, Error::NotRefundable { .. }), "{err:?}");
    }
    let order = l.order(order.id).await.unwrap();
    assert_eq!((order.refund_reserved, order.refund_count), (Fen(600), 1));
    assert_eq!(l.pending_applications(100).await.unwrap().len(), TASKS - 1);
}

pub async fn success_observed_at_once_adds_to_the_refunded_total_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 700).await;
    l.record_refund_accepted(refund.id, None, &Provenance::new(Source::System, now())).await.unwrap();
    let results = race(db, move |_, l| async move {
        l.apply_refund_observation(refund.id, &observed(RefundStatus::Success), &query(now())).await
    })
    .await;
    let changed = results.iter().filter(|r| matches!(r, Ok(RefundApplied::Changed { .. }))).count();
    assert_eq!(changed, 1, "{results:?}");
    for r in &results {
        assert!(
            matches!(r, Ok(RefundApplied::Changed { .. } | RefundApplied::Unchanged | RefundApplied::Duplicate)),
            "{r:?}"
        );
    }
    assert_eq!(l.order(order.id).await.unwrap().refunded_total, Fen(700));
}

pub async fn audit_appends_at_once_keep_one_chain(db: &TestDb) {
    let results = race(db, |task, l| async move {
        for i in 0..5 {
            let entry = NewAuditEntry {
                actor: format!("desk:{task}"),
                action: "test.append".into(),
                subject: format!("item:{i}"),
                result: AuditResult::Ok,
                detail: "{}".into(),
                at: now(),
            };
            l.append_audit(&entry).await.unwrap();
        }
    })
    .await;
    assert_eq!(results.len(), TASKS);
    let report = db.ledger.verify_audit_chain().await.unwrap();
    assert_eq!(report, ChainReport { entries_checked: 40, first_broken: None });
}
