//! Refund applications and refunds: approval fixes the number, money follows only on SUCCESS.

use chrono::Duration;
use ledger::*;
use wxpay::{ErrCode, Fen, RefundStatus, RetryClass, TradeState};

use crate::common::*;

fn failure(code: Option<ErrCode>, retry: RetryClass) -> SendFailure {
    SendFailure { err_code: code, message: Some("…".into()), retry, at: now() }
}

pub async fn approving_fixes_out_refund_no_and_reserves_the_amount(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 300).await;
    assert_eq!(refund.status, RefundState::Created);
    assert_eq!(refund.out_refund_no, refund_no("RF-1"));
    assert_eq!((refund.amount, refund.total_fee), (Fen(300), Fen(1000)));
    assert_eq!(refund.attempts, 0);
    let order = l.order(order.id).await.unwrap();
    assert_eq!((order.refund_reserved, order.refunded_total, order.refund_count), (Fen(300), Fen(0), 1));
    assert_eq!(order.refundable(), Fen(700));
    let app = l.refund_application(refund.application_id.unwrap()).await.unwrap();
    assert_eq!(app.status, ApplicationStatus::Approved);
    assert_eq!(app.decided_by.as_deref(), Some("desk:owner"));
    assert!(l.pending_applications(10).await.unwrap().is_empty());
    let audit = l.audit_entries(0, 10).await.unwrap();
    assert_eq!(audit.last().unwrap().action, "refund.approve");
    let kinds: Vec<_> = l.timeline(order.id).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.ends_with(&["APPLICATION".into(), "APPLICATION".into(), "REFUND_CREATED".into()]), "{kinds:?}");
}

pub async fn an_application_is_decided_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let order = paid_order(l, &m, "A1", 1000, 1).await;
    let (app, _) = l.register_refund_application(&application(&order, 100, None)).await.unwrap();
    assert_eq!(l.pending_applications(10).await.unwrap().len(), 1);
    let rejected = l.reject_application(app.id, "desk:owner", Some("已发货"), now()).await.unwrap();
    assert_eq!(rejected.status, ApplicationStatus::Rejected);
    let err = l.approve_application(app.id, &approval("RF-A1")).await.unwrap_err();
    assert!(matches!(err, Error::InvalidTransition(_)), "{err:?}");
    let err = l.cancel_application(app.id, "shop-backend", None, now()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidTransition(_)), "{err:?}");
    assert!(l.refunds_for_order(order.id).await.unwrap().is_empty());
    let (app2, _) = l.register_refund_application(&application(&order, 100, None)).await.unwrap();
    assert_eq!(
        l.cancel_application(app2.id, "shop-backend", None, now()).await.unwrap().status,
        ApplicationStatus::Cancelled
    );
    assert_eq!(l.applications_for_order(order.id).await.unwrap().len(), 2);
}

pub async fn application_registration_is_idempotent_on_external_ref(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let order = paid_order(l, &m, "A2", 1000, 2).await;
    let (first, created) = l.register_refund_application(&application(&order, 100, Some("MP-77"))).await.unwrap();
    assert!(created);
    let (again, created) = l.register_refund_application(&application(&order, 100, Some("MP-77"))).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    let err = l.register_refund_application(&application(&order, 200, Some("MP-77"))).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    let (unpaid, _) = l.register_order(&new_order(&m, "A3", 100, now())).await.unwrap();
    let err = l.register_refund_application(&application(&unpaid, 100, None)).await.unwrap_err();
    assert!(matches!(err, Error::NotRefundable { .. }), "{err:?}");
}

pub async fn refund_past_the_remaining_amount_is_refused(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let order = paid_order(l, &m, "A4", 1000, 3).await;
    let (a, _) = l.register_refund_application(&application(&order, 700, None)).await.unwrap();
    let (b, _) = l.register_refund_application(&application(&order, 400, None)).await.unwrap();
    l.approve_application(a.id, &approval("RF-A4-1")).await.unwrap();
    let err = l.approve_application(b.id, &approval("RF-A4-2")).await.unwrap_err();
    assert!(matches!(err, Error::NotRefundable { reason: "the amount exceeds what is left to refund", .. }), "{err:?}");
    // The refused approval left no trace: the application is still pending, nothing was reserved.
    assert_eq!(l.refund_application(b.id).await.unwrap().status, ApplicationStatus::Pending);
    assert_eq!(l.order(order.id).await.unwrap().refund_reserved, Fen(700));
    // Older than the allowed age: refused as well.
    let (c, _) = l.register_refund_application(&application(&order, 100, None)).await.unwrap();
    let mut late = approval("RF-A4-3");
    late.at = now() + Duration::days(366);
    let err = l.approve_application(c.id, &late).await.unwrap_err();
    assert!(matches!(err, Error::NotRefundable { reason: "the payment is too old to refund", .. }), "{err:?}");
}

pub async fn refund_retry_reuses_out_refund_no(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (_, refund) = approved_refund(l, &m, 1000, 300).await;
    let first = l.begin_refund_attempt(refund.id, now(), Duration::zero()).await.unwrap();
    assert_eq!(first.attempts, 1);
    let after = l.record_refund_send_failure(refund.id, &failure(None, RetryClass::SameParameters)).await.unwrap();
    assert_eq!(after.status, RefundState::Created);
    assert_eq!(after.last_error_code.as_deref(), Some("TRANSPORT"));
    let after = l
        .record_refund_send_failure(refund.id, &failure(Some(ErrCode::SystemError), RetryClass::SameParameters))
        .await
        .unwrap();
    assert_eq!(after.last_error_code.as_deref(), Some("SYSTEMERROR"));
    let second = l.begin_refund_attempt(refund.id, now() + Duration::minutes(2), Duration::minutes(1)).await.unwrap();
    assert_eq!(second.attempts, 2);
    assert_eq!((second.out_refund_no, second.amount), (refund.out_refund_no.clone(), refund.amount));
    let id = wxpay::RefundId::new("50300103182020010413419046597").unwrap();
    let applied =
        l.record_refund_accepted(refund.id, Some(&id), &Provenance::new(Source::System, now())).await.unwrap();
    assert_eq!(applied, RefundApplied::Changed { from: RefundState::Created, to: RefundState::Processing });
    let refund = l.refund(refund.id).await.unwrap();
    assert_eq!(refund.refund_id, Some(id));
    // Once accepted, no further attempt is made.
    let err = l.begin_refund_attempt(refund.id, now() + Duration::hours(1), Duration::zero()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidTransition(_)), "{err:?}");
}

pub async fn refund_requests_are_limited_to_one_a_minute_per_order(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 300).await;
    let (app2, _) = l.register_refund_application(&application(&order, 200, None)).await.unwrap();
    let second = l.approve_application(app2.id, &approval("RF-2")).await.unwrap();
    l.begin_refund_attempt(refund.id, now(), Duration::minutes(1)).await.unwrap();
    let err = l.begin_refund_attempt(second.id, now() + Duration::seconds(30), Duration::minutes(1)).await.unwrap_err();
    assert!(matches!(err, Error::TooSoon(_)), "{err:?}");
    assert_eq!(l.refund(second.id).await.unwrap().attempts, 0, "the refused attempt is not counted");
    l.begin_refund_attempt(second.id, now() + Duration::seconds(61), Duration::minutes(1)).await.unwrap();
}

pub async fn refunded_total_follows_only_on_success(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 300).await;
    l.record_refund_accepted(refund.id, None, &Provenance::new(Source::System, now())).await.unwrap();
    let processing = l.order(order.id).await.unwrap();
    assert_eq!(processing.trade_state, TradeState::Refund);
    assert_eq!((processing.refund_reserved, processing.refunded_total), (Fen(300), Fen(0)));
    assert_eq!(l.refunds_to_watch(10).await.unwrap().len(), 1);
    let seen = observed(RefundStatus::Processing);
    assert_eq!(l.apply_refund_observation(refund.id, &seen, &query(now())).await.unwrap(), RefundApplied::Unchanged);
    let applied = l.apply_refund_observation(refund.id, &observed(RefundStatus::Success), &query(now())).await.unwrap();
    assert_eq!(applied, RefundApplied::Changed { from: RefundState::Processing, to: RefundState::Success });
    let done = l.order(order.id).await.unwrap();
    assert_eq!((done.refund_reserved, done.refunded_total), (Fen(300), Fen(300)));
    let refund = l.refund(refund.id).await.unwrap();
    assert_eq!(refund.success_day, chrono::NaiveDate::from_ymd_opt(2024, 6, 1));
    assert_eq!(refund.check_count, 2);
    assert!(l.refunds_to_watch(10).await.unwrap().is_empty());
    assert_eq!(l.refunds_succeeded_on(m.id, refund.success_day.unwrap()).await.unwrap().len(), 1);
    let err = l.apply_refund_observation(refund.id, &observed(RefundStatus::RefundClose), &query(now())).await;
    assert!(matches!(err, Err(Error::InvalidTransition(_))), "{err:?}");
}

pub async fn refundclose_gives_the_reservation_back(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 1000).await;
    l.record_refund_accepted(refund.id, None, &Provenance::new(Source::System, now())).await.unwrap();
    l.apply_refund_observation(refund.id, &observed(RefundStatus::RefundClose), &query(now())).await.unwrap();
    let order = l.order(order.id).await.unwrap();
    assert_eq!((order.refund_reserved, order.refunded_total), (Fen(0), Fen(0)));
    assert_eq!(order.refundable(), Fen(1000));
}

pub async fn refundclose_heard_before_the_accepting_reply_still_makes_the_order_refund(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 400).await;
    // The reply accepting it was lost; the first news is that WeChat closed it. WeChat did accept it (its order says
    // REFUND), so the ledger's order says so too, whichever way the news came (found by tests/refund_chaos.rs).
    l.apply_refund_observation(refund.id, &observed(RefundStatus::RefundClose), &query(now())).await.unwrap();
    let order = l.order(order.id).await.unwrap();
    assert_eq!(order.trade_state, TradeState::Refund);
    assert_eq!((order.refund_reserved, order.refunded_total), (Fen(0), Fen(0)));
}

pub async fn refused_refund_fails_with_its_err_code_and_is_flagged(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 300).await;
    l.begin_refund_attempt(refund.id, now(), Duration::zero()).await.unwrap();
    let failed = l
        .record_refund_send_failure(refund.id, &failure(Some(ErrCode::UserAccountAbnormal), RetryClass::Never))
        .await
        .unwrap();
    assert_eq!(failed.status, RefundState::Failed);
    assert_eq!(failed.err_code.as_deref(), Some("USER_ACCOUNT_ABNORMAL"));
    assert_eq!(failed.flag_reason.as_deref(), Some("USER_ACCOUNT_ABNORMAL"));
    assert_eq!(l.order(order.id).await.unwrap().refund_reserved, Fen(0));
    assert_eq!(l.refunds_to_watch(10).await.unwrap().len(), 1, "flagged refunds stay in view");
    l.set_refund_flag(refund.id, None, &Provenance::new(Source::Person, now()).by("desk:owner")).await.unwrap();
    assert!(l.refunds_to_watch(10).await.unwrap().is_empty());
}

pub async fn notenough_keeps_the_refund_created_and_flags_it(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (_, refund) = approved_refund(l, &m, 1000, 300).await;
    let after =
        l.record_refund_send_failure(refund.id, &failure(Some(ErrCode::NotEnough), RetryClass::Wait)).await.unwrap();
    assert_eq!(after.status, RefundState::Created);
    assert_eq!(after.flag_reason.as_deref(), Some("NOTENOUGH"));
}

pub async fn change_is_flagged_and_can_still_succeed(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, refund) = approved_refund(l, &m, 1000, 300).await;
    l.record_refund_accepted(refund.id, None, &Provenance::new(Source::System, now())).await.unwrap();
    l.apply_refund_observation(refund.id, &observed(RefundStatus::Change), &query(now())).await.unwrap();
    let changed = l.refund(refund.id).await.unwrap();
    assert_eq!((changed.status, changed.flag_reason.as_deref()), (RefundState::Change, Some("CHANGE")));
    assert_eq!(l.order(order.id).await.unwrap().refunded_total, Fen(0));
    l.apply_refund_observation(refund.id, &observed(RefundStatus::Success), &query(now())).await.unwrap();
    let fixed = l.refund(refund.id).await.unwrap();
    assert_eq!((fixed.status, fixed.flag_reason), (RefundState::Success, None));
    assert_eq!(l.order(order.id).await.unwrap().refunded_total, Fen(300));
}

pub async fn an_out_refund_no_is_used_once(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, _) = approved_refund(l, &m, 1000, 300).await;
    let (app, _) = l.register_refund_application(&application(&order, 100, None)).await.unwrap();
    let err = l.approve_application(app.id, &approval("RF-1")).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    assert_eq!(l.refund_application(app.id).await.unwrap().status, ApplicationStatus::Pending);
    assert_eq!(l.order(order.id).await.unwrap().refund_reserved, Fen(300));
}
