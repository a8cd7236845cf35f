//! The notification inbox: store raw first, verify, apply once, record the outcome.

use chrono::Duration;
use ledger::*;
use wxpay::{Fen, MchId, RefundStatus, TradeState};

use crate::common::*;

pub async fn notification_is_stored_raw_before_anything_else(db: &TestDb) {
    let l = &db.ledger;
    let body = "<xml><return_code><![CDATA[SUCCESS]]></return_code>\u{0}\u{ff}</xml>";
    let id = l.store_notification(&incoming(NotificationKind::Payment, body)).await.unwrap();
    let stored = l.notification(id).await.unwrap();
    assert_eq!(stored.body, body.as_bytes());
    assert_eq!(stored.remote_addr.as_deref(), Some("101.226.103.0:443"));
    assert_eq!(stored.headers, "Content-Type: text/xml\n");
    assert_eq!(stored.received_at, now());
    assert_eq!(stored.verification, Verification::Pending);
    assert_eq!(stored.outcome, NotificationOutcome::Pending);
    assert_eq!(stored.body_sha256.len(), 64);
    assert_eq!(l.pending_notifications(10).await.unwrap().len(), 1);
    // Not verified yet: it cannot be applied.
    merchant(l).await;
    let err = l.apply_payment_notification(id, &payment("X", &txn(1), 1, now()), now()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

pub async fn invalid_notification_is_rejected_with_its_reason(db: &TestDb) {
    let l = &db.ledger;
    let id = l.store_notification(&incoming(NotificationKind::Payment, "<xml>forged</xml>")).await.unwrap();
    l.record_verification(id, &VerificationResult::Invalid { reason: "SIGNATURE_MISMATCH".into() }, now())
        .await
        .unwrap();
    let stored = l.notification(id).await.unwrap();
    assert_eq!(stored.verification, Verification::Invalid);
    assert_eq!(stored.outcome, NotificationOutcome::Rejected);
    assert_eq!(stored.outcome_reason.as_deref(), Some("SIGNATURE_MISMATCH"));
    let again = l.record_verification(id, &VerificationResult::Invalid { reason: "x".into() }, now()).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert!(l.pending_notifications(10).await.unwrap().is_empty());
}

pub async fn duplicate_notification_is_applied_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, _) = l.register_order(&new_order(&m, "N1", 1200, now())).await.unwrap();
    let facts = payment("N1", &txn(1), 1200, now());
    assert_eq!(deliver_payment(l, &facts).await.outcome, NotificationOutcome::Applied);
    let second = deliver_payment(l, &facts).await;
    assert_eq!(second.outcome, NotificationOutcome::Duplicate);
    assert_eq!(second.order_id, Some(order.id));
    let order = l.order(order.id).await.unwrap();
    assert_eq!(order.trade_state, TradeState::Success);
    assert_eq!(order.cash_fee, Some(Fen(1200)));
    let paid: Vec<_> = l.timeline(order.id).await.unwrap().into_iter().filter(|e| e.kind == "STATE").collect();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].source, Source::Notification);
    assert!(matches!(paid[0].evidence, Evidence::Notification(_)));
    assert_eq!(l.notifications_for_order(order.id).await.unwrap().len(), 2);
}

pub async fn reapplying_a_stored_notification_returns_its_outcome(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    l.register_order(&new_order(&m, "N2", 100, now())).await.unwrap();
    let facts = payment("N2", &txn(2), 100, now());
    let id = l.store_notification(&incoming(NotificationKind::Payment, "<xml/>")).await.unwrap();
    let valid = VerificationResult::Valid { mch_id: MchId::new(MCH).unwrap(), out_trade_no: None, out_refund_no: None };
    l.record_verification(id, &valid, now()).await.unwrap();
    let first = l.apply_payment_notification(id, &facts, now()).await.unwrap();
    let again = l.apply_payment_notification(id, &facts, now() + Duration::seconds(15)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(l.notification(id).await.unwrap().processed_at, Some(now()));
}

pub async fn payment_for_an_unregistered_order_is_recorded_paid_and_flagged(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let applied = deliver_payment(l, &payment("NOBODY-1", &txn(3), 4500, now())).await;
    assert_eq!(applied.outcome, NotificationOutcome::UnknownOrder);
    let order = l.order(applied.order_id.unwrap()).await.unwrap();
    assert_eq!(order.trade_state, TradeState::Success);
    assert_eq!(order.flag_reason.as_deref(), Some("UNREGISTERED"));
    assert_eq!(order.origin, Source::Notification);
    assert_eq!(order.sign_type, wxpay::SignType::HmacSha256);
    let flagged = l.list_orders(&OrderFilter { flagged_only: true, ..OrderFilter::default() }, None, 10).await.unwrap();
    assert_eq!(flagged.orders.len(), 1);
    // The same payment again is a duplicate.
    assert_eq!(
        deliver_payment(l, &payment("NOBODY-1", &txn(3), 4500, now())).await.outcome,
        NotificationOutcome::Duplicate
    );
    // The shop backend registers it late: the flag goes, the payment stays.
    let (late, created) = l.register_order(&new_order(&m, "NOBODY-1", 4500, now())).await.unwrap();
    assert!(!created);
    assert_eq!(late.flag_reason, None);
    assert_eq!(late.trade_state, TradeState::Success);
}

pub async fn amount_mismatch_is_rejected_and_flags_the_order(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, _) = l.register_order(&new_order(&m, "N3", 1000, now())).await.unwrap();
    let applied = deliver_payment(l, &payment("N3", &txn(4), 1, now())).await;
    assert_eq!(applied.outcome, NotificationOutcome::Rejected);
    assert!(applied.reason.as_deref().unwrap().starts_with("AMOUNT_MISMATCH"), "{applied:?}");
    let order = l.order(order.id).await.unwrap();
    assert_eq!(order.trade_state, TradeState::NotPay);
    assert!(order.flag_reason.unwrap().starts_with("AMOUNT_MISMATCH"));
    // A payment whose transaction id belongs to another order is refused too.
    paid_order(l, &m, "N4", 100, 5).await;
    l.register_order(&new_order(&m, "N5", 100, now())).await.unwrap();
    let applied = deliver_payment(l, &payment("N5", &txn(5), 100, now())).await;
    assert_eq!(applied.outcome, NotificationOutcome::Rejected);
    // An unknown merchant is refused.
    let mut facts = payment("N5", &txn(6), 100, now());
    facts.mch_id = MchId::new("1234567890").unwrap();
    assert_eq!(deliver_payment(l, &facts).await.outcome, NotificationOutcome::Rejected);
}

fn refund_facts(order: &Order, out_refund_no: &str, fen: i64, status: RefundStatus) -> RefundNotificationFacts {
    RefundNotificationFacts {
        mch_id: MchId::new(MCH).unwrap(),
        appid: wxpay::AppId::new(APPID).unwrap(),
        out_trade_no: order.out_trade_no.clone(),
        out_refund_no: refund_no(out_refund_no),
        total_fee: order.total_fee,
        refund_fee: Fen(fen),
        observation: observed(status),
    }
}

async fn deliver_refund(l: &Ledger, facts: &RefundNotificationFacts) -> AppliedNotification {
    let id =
        l.store_notification(&incoming(NotificationKind::Refund, "<xml><req_info>…</req_info></xml>")).await.unwrap();
    let valid = VerificationResult::Valid {
        mch_id: facts.mch_id.clone(),
        out_trade_no: Some(facts.out_trade_no.clone()),
        out_refund_no: Some(facts.out_refund_no.clone()),
    };
    l.record_verification(id, &valid, now()).await.unwrap();
    l.apply_refund_notification(id, facts, now()).await.unwrap()
}

pub async fn refund_notification_completes_a_processing_refund(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 400).await;
    l.record_refund_accepted(refund.id, None, &Provenance::new(Source::System, now())).await.unwrap();
    let applied = deliver_refund(l, &refund_facts(&order, "RF-1", 400, RefundStatus::Success)).await;
    assert_eq!(applied.outcome, NotificationOutcome::Applied);
    assert_eq!(applied.refund_id, Some(refund.id));
    let again = deliver_refund(l, &refund_facts(&order, "RF-1", 400, RefundStatus::Success)).await;
    assert_eq!(again.outcome, NotificationOutcome::Duplicate);
    let refund = l.refund(refund.id).await.unwrap();
    assert_eq!(refund.status, RefundState::Success);
    assert_eq!(refund.recv_account.as_deref(), Some("支付用户零钱"));
    assert_eq!(l.order(order.id).await.unwrap().refunded_total, Fen(400));
    let wrong = deliver_refund(l, &refund_facts(&order, "RF-1", 401, RefundStatus::Success)).await;
    assert_eq!(wrong.outcome, NotificationOutcome::Rejected);
}

pub async fn refund_notification_for_an_unknown_refund_records_it_as_external(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let order = paid_order(l, &m, "N6", 1000, 8).await;
    let applied = deliver_refund(l, &refund_facts(&order, "PLATFORM-1", 250, RefundStatus::Success)).await;
    assert_eq!(applied.outcome, NotificationOutcome::Applied);
    assert_eq!(applied.reason.as_deref(), Some("EXTERNAL_REFUND"));
    let refund = l.refund_by_out_refund_no(m.id, &refund_no("PLATFORM-1")).await.unwrap().unwrap();
    assert_eq!(refund.origin, RefundOrigin::External);
    assert_eq!(refund.status, RefundState::Success);
    let order = l.order(order.id).await.unwrap();
    assert_eq!((order.refund_reserved, order.refunded_total), (Fen(250), Fen(250)));
    assert_eq!(order.trade_state, TradeState::Refund);
    // A refund notification for an order this ledger never saw is kept, and changes nothing else.
    let mut unknown = refund_facts(&order, "PLATFORM-2", 1, RefundStatus::Success);
    unknown.out_trade_no = no("NEVER-SEEN");
    assert_eq!(deliver_refund(l, &unknown).await.outcome, NotificationOutcome::UnknownOrder);
}
