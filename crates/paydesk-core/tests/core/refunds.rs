//! Refunds from the desk against wxpay-sim over mutual TLS: approve (partial), reject, each guard, the owner
//! password above the threshold, the staff login, automatic retries with the same out_refund_no, NOTENOUGH and
//! the owner's retry, CHANGE, USER_ACCOUNT_ABNORMAL and "mark done", racing approvals, new applications
//! announced, and the audit log (chain, CSV export).

use chrono::{Duration, Utc};
use ledger::{ApplicationOrigin, NewRefundApplication};
use paydesk_core::contract::RefundPhase;
use paydesk_core::{Core, CoreEvent};
use wxpay::{Fen, TradeState};
use wxpay_sim::Faults;

use crate::common::*;

/// An order paid at the simulator and known as paid in the ledger (through a status-sync round).
async fn paid_order(desk: &Desk, sim: &Sim, total_fee: i64) -> String {
    let n = no("R");
    sim.create_order(&n, total_fee).await;
    desk.register(&n, total_fee, Utc::now(), true).await;
    sim.pay(&n).await;
    desk.core.sync_round().await.unwrap();
    assert_eq!(desk.order(&n).await.trade_state, TradeState::Success);
    n
}

/// A customer's application, as the receiver's shop API registers it.
async fn apply(desk: &Desk, out_trade_no: &str, amount: i64) -> i64 {
    let order = desk.order(out_trade_no).await;
    let (app, created) = desk
        .ledger
        .register_refund_application(&NewRefundApplication {
            order: order.id,
            amount: Fen(amount),
            reason: Some("不想要了".into()),
            origin: ApplicationOrigin::ShopBackend,
            external_ref: Some(no("APP")),
            requested_by: "shop".into(),
            requested_at: Utc::now(),
        })
        .await
        .unwrap();
    assert!(created);
    app.id.0
}

/// Makes every refund due now (the real schedule waits minutes) and runs rounds until none is in flight.
async fn settle(desk: &Desk, rounds: usize) {
    for _ in 0..rounds {
        tokio::time::sleep(std::time::Duration::from_millis(120)).await;
        for r in desk.ledger.refunds_to_watch(100).await.unwrap() {
            if r.next_check_at.is_some() {
                desk.ledger.schedule_refund_check(r.id, Some(Utc::now()), None).await.unwrap();
            }
        }
        desk.core.refund_round().await.unwrap();
        let open = desk.ledger.refunds_to_watch(100).await.unwrap();
        if open.iter().all(|r| r.next_check_at.is_none()) {
            return;
        }
    }
}

fn set_faults(sim: &Sim, faults: Faults) {
    sim.handle.sim.set_merchant_faults(MCH, Faults { notify_lost: true, ..faults }).unwrap();
}

fn sim_refunds_of(sim: &Sim, out_trade_no: &str) -> Vec<wxpay_sim::model::Refund> {
    sim.handle.sim.order_with_refunds(MCH, out_trade_no).unwrap().1
}

pub async fn a_partial_approval_is_processing_until_wechat_says_success_then_the_remainder_drops(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 10_000).await;
    let id = apply(&desk, &n, 6_000).await;

    let queue = desk.core.refund_applications_list("PENDING").await.unwrap();
    let row = queue.iter().find(|a| a.id == id).unwrap();
    assert_eq!((row.order.total_fee_fen, row.order.refunded_fen, row.order.remaining_fen), (10_000, 0, 10_000));
    assert_eq!(row.order.days_since_payment, Some(0));

    let check = desk.core.refund_guards(id, 2_500).await.unwrap();
    assert!(check.ok, "{check:?}");
    let view = desk.core.refund_approve(id, 2_500, Some("部分退款：少一杯"), None).await.unwrap();
    assert_eq!(view.amount_fen, 2_500);
    assert_eq!(view.status, "PROCESSING", "{view:?}");
    assert_eq!(view.phase, RefundPhase::Processing);
    assert_eq!(view.attempts, 1);
    assert_eq!(view.refund_desc.as_deref(), Some("部分退款：少一杯"));
    // Accepted is not refunded: nothing counted yet, the amount is held.
    let order = desk.order(&n).await;
    assert_eq!((order.refunded_total, order.refund_reserved), (Fen(0), Fen(2_500)));

    settle(&desk, 10).await;
    let after = desk.core.refund_detail(&view.out_refund_no).await.unwrap();
    assert_eq!(after.phase, RefundPhase::Refunded, "{after:?}");
    assert!(after.success_at.is_some());
    let order = desk.order(&n).await;
    assert_eq!((order.refunded_total, order.refundable()), (Fen(2_500), Fen(7_500)));
    assert_eq!(order.trade_state, TradeState::Refund);
    let at_sim = sim_refunds_of(&sim, &n);
    assert_eq!(at_sim.len(), 1);
    assert_eq!((at_sim[0].out_refund_no.as_str(), at_sim[0].refund_fee), (view.out_refund_no.as_str(), Fen(2_500)));
    assert_eq!(at_sim[0].refund_desc.as_deref(), Some("部分退款：少一杯"));
    let all = desk.core.refund_applications_list("ALL").await.unwrap();
    let decided = all.iter().find(|a| a.id == id).unwrap();
    assert_eq!(decided.status, "APPROVED");
    assert_eq!(decided.refund.as_ref().unwrap().phase, RefundPhase::Refunded);
    assert_eq!(decided.order.remaining_fen, 7_500);
}

pub async fn a_rejection_keeps_its_reason_and_sends_nothing(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 3_000).await;
    let id = apply(&desk, &n, 3_000).await;
    let err = desk.core.refund_reject(id, "  ").await.unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    let row = desk.core.refund_reject(id, "商品已使用，不符合退款条件").await.unwrap();
    assert_eq!(row.status, "REJECTED");
    assert_eq!(row.decision_note.as_deref(), Some("商品已使用，不符合退款条件"));
    assert!(row.decided_by.as_deref().unwrap().starts_with("desk:"));
    assert!(sim_refunds_of(&sim, &n).is_empty());
    // Decided once: approving it now is refused.
    let err = desk.core.refund_approve(id, 3_000, None, None).await.unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(desk.core.refund_applications_list("PENDING").await.unwrap().iter().all(|a| a.id != id));
}

pub async fn each_guard_blocks_with_its_reason(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let blocked = |check: &paydesk_core::contract::GuardCheck| -> Vec<&'static str> {
        check.guards.iter().filter(|g| !g.ok).map(|g| g.name).collect()
    };

    // remainder: more than the application, or more than what is left counting refunds in flight.
    let n = paid_order(&desk, &sim, 5_000).await;
    let first = apply(&desk, &n, 4_000).await;
    let second = apply(&desk, &n, 2_000).await;
    assert_eq!(blocked(&desk.core.refund_guards(first, 4_001).await.unwrap()), ["remainder"]);
    set_faults(&sim, Faults { refund_stuck: true, ..Faults::default() });
    desk.core.refund_approve(first, 4_000, None, None).await.unwrap();
    // interval: a request for this order was just sent.
    let check = desk.core.refund_guards(second, 1_000).await.unwrap();
    assert_eq!(blocked(&check), ["interval"]);
    let err = desk.core.refund_approve(second, 1_000, None, None).await.unwrap_err();
    assert_eq!(err.code(), "refund_guard");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    // 4,000 in flight (PROCESSING, not yet SUCCESS) counts: 2,000 no longer fits 5,000.
    let check = desk.core.refund_guards(second, 2_000).await.unwrap();
    assert_eq!(blocked(&check), ["remainder"], "{check:?}");
    let message = &check.guards.iter().find(|g| g.name == "remainder").unwrap().message;
    assert!(message.contains("¥10.00"), "{message}");
    assert!(desk.core.refund_guards(second, 1_000).await.unwrap().ok);

    // paid: an unpaid order (the application was registered when it looked paid; now it is closed).
    let unpaid = paid_order(&desk, &sim, 800).await;
    let app = apply(&desk, &unpaid, 800).await;
    sqlx_exec(&desk, &format!("UPDATE orders SET trade_state = 'CLOSED' WHERE out_trade_no = '{unpaid}'")).await;
    assert_eq!(blocked(&desk.core.refund_guards(app, 800).await.unwrap()), ["paid"]);

    // age: paid more than 365 days ago.
    let old = paid_order(&desk, &sim, 900).await;
    let app = apply(&desk, &old, 900).await;
    let long_ago = (Utc::now() - Duration::days(400)).format("%Y-%m-%dT%H:%M:%S%.6fZ");
    sqlx_exec(&desk, &format!("UPDATE orders SET paid_at = '{long_ago}' WHERE out_trade_no = '{old}'")).await;
    let check = desk.core.refund_guards(app, 900).await.unwrap();
    assert_eq!(blocked(&check), ["age"]);
    let err = desk.core.refund_approve(app, 900, None, None).await.unwrap_err();
    assert_eq!(err.code(), "refund_guard");
    assert!(err.message(paydesk_core::Locale::ZhCn).contains("400"), "{err}");

    // count: 50 refunds already.
    let many = paid_order(&desk, &sim, 700).await;
    let app = apply(&desk, &many, 700).await;
    sqlx_exec(&desk, &format!("UPDATE orders SET refund_count = 50 WHERE out_trade_no = '{many}'")).await;
    assert_eq!(blocked(&desk.core.refund_guards(app, 700).await.unwrap()), ["count"]);

    // Nothing blocked was sent or written.
    for order in [&unpaid, &old, &many] {
        assert!(sim_refunds_of(&sim, order).is_empty());
        assert!(desk.ledger.refunds_for_order(desk.order(order).await.id).await.unwrap().is_empty());
    }
    let audit = desk.ledger.audit_entries(0, 1000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "refund.approve" && e.result == ledger::AuditResult::Refused));
}

/// Test-only SQL to put an order in a state the flows would take a year to reach.
async fn sqlx_exec(desk: &Desk, sql: &str) {
    assert_eq!(desk.raw(sql).await, 1, "{sql}");
}

pub async fn above_the_threshold_the_owner_password_is_asked_for_when_sending(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let mut settings = desk.core.settings_get().await.unwrap();
    settings.refund_password_threshold_fen = 5_000;
    desk.core.settings_update(settings).await.unwrap();
    let n = paid_order(&desk, &sim, 20_000).await;
    let id = apply(&desk, &n, 8_000).await;
    assert!(desk.core.refund_guards(id, 8_000).await.unwrap().needs_password);
    assert!(!desk.core.refund_guards(id, 5_000).await.unwrap().needs_password);

    let err = desk.core.refund_approve(id, 8_000, None, None).await.unwrap_err();
    assert_eq!(err.code(), "password_required");
    let err = desk.core.refund_approve(id, 8_000, None, Some("not the password")).await.unwrap_err();
    assert_eq!(err.code(), "wrong_password");
    assert!(sim_refunds_of(&sim, &n).is_empty(), "nothing sent without the password");
    let view = desk.core.refund_approve(id, 8_000, None, Some(OWNER_PASSWORD)).await.unwrap();
    assert_eq!(view.phase, RefundPhase::Processing);
    assert_eq!(sim_refunds_of(&sim, &n).len(), 1);
}

pub async fn the_staff_login_registers_applications_but_cannot_approve(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 4_000).await;
    let err = desk.core.staff_password_set("wrong owner password", Some("staff password 1")).await.unwrap_err();
    assert_eq!(err.code(), "wrong_password");
    desk.core.staff_password_set(OWNER_PASSWORD, Some("staff password 1")).await.unwrap();
    desk.core.vault_lock().await;
    let status = desk.core.vault_unlock("staff password 1").await.unwrap();
    assert_eq!(status.user.unwrap().role, "staff");

    let row = desk.core.refund_application_create(&n, 1_000, "顾客到店申请").await.unwrap();
    assert_eq!((row.status.as_str(), row.origin.as_str()), ("PENDING", "desk"));
    assert!(row.requested_by.starts_with("staff:"));
    let check = desk.core.refund_guards(row.id, 1_000).await.unwrap();
    assert!(!check.ok);
    assert_eq!(check.guards.iter().filter(|g| !g.ok).map(|g| g.name).collect::<Vec<_>>(), ["role"]);
    for err in [
        desk.core.refund_approve(row.id, 1_000, None, None).await.unwrap_err(),
        desk.core.refund_reject(row.id, "no").await.unwrap_err(),
        desk.core.settings_update(paydesk_core::contract::Settings::default()).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), "forbidden", "{err}");
    }
    assert!(desk.core.refund_round().await.unwrap().is_empty(), "staff never sends");

    desk.core.vault_lock().await;
    let status = desk.core.vault_unlock(OWNER_PASSWORD).await.unwrap();
    assert_eq!(status.user.unwrap().role, "owner");
    desk.core.refund_approve(row.id, 1_000, None, None).await.unwrap();
    // Removing the staff login: the staff password opens nothing any more.
    desk.core.staff_password_set(OWNER_PASSWORD, None).await.unwrap();
    desk.core.vault_lock().await;
    assert_eq!(desk.core.vault_unlock("staff password 1").await.unwrap_err().code(), "wrong_password");
}

pub async fn systemerror_and_lost_replies_are_retried_with_the_same_out_refund_no(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 6_000).await;
    let id = apply(&desk, &n, 6_000).await;

    // WeChat did nothing and said SYSTEMERROR: retrying, visibly.
    set_faults(&sim, Faults { system_error_next: 1, ..Faults::default() });
    let view = desk.core.refund_approve(id, 6_000, None, None).await.unwrap();
    assert_eq!(view.phase, RefundPhase::Retrying, "{view:?}");
    assert_eq!(view.attempts, 1);
    assert_eq!(view.last_error.as_ref().unwrap().code, "SYSTEMERROR");
    assert!(view.next_check_at.is_some());
    assert!(sim_refunds_of(&sim, &n).is_empty());

    // The next round asks first (that query answers SYSTEMERROR too, so it sends anyway — the same number is
    // safe to repeat): WeChat does it and still says SYSTEMERROR (the reply is "lost").
    set_faults(&sim, Faults { system_error_after_apply_next: 2, ..Faults::default() });
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let r =
        desk.ledger.refund_by_out_refund_no(desk.merchant, &out_refund_no(&view.out_refund_no)).await.unwrap().unwrap();
    desk.ledger.schedule_refund_check(r.id, Some(Utc::now()), None).await.unwrap();
    desk.core.refund_round().await.unwrap();
    let view = desk.core.refund_detail(&view.out_refund_no).await.unwrap();
    assert_eq!((view.phase, view.attempts), (RefundPhase::Retrying, 2), "{view:?}");
    assert_eq!(sim_refunds_of(&sim, &n).len(), 1, "the second attempt arrived");

    // The third round asks first: WeChat knows it, so nothing is sent again.
    set_faults(&sim, Faults::default());
    settle(&desk, 10).await;
    let view = desk.core.refund_detail(&view.out_refund_no).await.unwrap();
    assert_eq!(view.phase, RefundPhase::Refunded, "{view:?}");
    assert_eq!(view.attempts, 2, "asked, not re-sent");
    let at_sim = sim_refunds_of(&sim, &n);
    assert_eq!(at_sim.len(), 1);
    assert_eq!(at_sim[0].out_refund_no, view.out_refund_no);
    assert_eq!(desk.order(&n).await.refunded_total, Fen(6_000));
    let audit = desk.ledger.audit_entries(0, 1000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "refund.send" && e.result == ledger::AuditResult::Failed));
    assert!(audit.iter().any(|e| e.action == "refund.resend"));
}

fn out_refund_no(text: &str) -> wxpay::OutRefundNo {
    wxpay::OutRefundNo::new(text).unwrap()
}

pub async fn retries_stop_after_five_attempts_and_wait_for_the_owner(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 1_000).await;
    let id = apply(&desk, &n, 1_000).await;
    set_faults(&sim, Faults { system_error_percent: 100, ..Faults::default() });
    let view = desk.core.refund_approve(id, 1_000, None, None).await.unwrap();
    let r =
        desk.ledger.refund_by_out_refund_no(desk.merchant, &out_refund_no(&view.out_refund_no)).await.unwrap().unwrap();
    for _ in 0..8 {
        tokio::time::sleep(std::time::Duration::from_millis(550)).await;
        if desk.ledger.refund(r.id).await.unwrap().next_check_at.is_none() {
            break;
        }
        desk.ledger.schedule_refund_check(r.id, Some(Utc::now()), None).await.unwrap();
        desk.core.refund_round().await.unwrap();
    }
    let view = desk.core.refund_detail(&view.out_refund_no).await.unwrap();
    assert_eq!(view.attempts, 5, "{view:?}");
    assert_eq!(view.phase, RefundPhase::NeedsOwner);
    assert_eq!(view.advice.as_ref().unwrap().code, "RETRIES_EXHAUSTED");
    assert!(view.actions.contains(&"retry"));
    assert!(sim_refunds_of(&sim, &n).is_empty());
    // The owner retries once WeChat is back: same number, same amount.
    set_faults(&sim, Faults::default());
    tokio::time::sleep(std::time::Duration::from_millis(550)).await;
    let view = desk.core.refund_retry(&view.out_refund_no, None).await.unwrap();
    assert_eq!(view.phase, RefundPhase::Processing, "{view:?}");
    let at_sim = sim_refunds_of(&sim, &n);
    assert_eq!((at_sim.len(), at_sim[0].refund_fee), (1, Fen(1_000)));
}

pub async fn notenough_asks_for_a_top_up_then_the_owner_retries_the_same_refund(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 12_345).await;
    let id = apply(&desk, &n, 12_345).await;
    sim.handle.sim.set_balance(MCH, Fen(100)).unwrap();
    let view = desk.core.refund_approve(id, 12_345, None, None).await.unwrap();
    assert_eq!(view.phase, RefundPhase::NeedsOwner, "{view:?}");
    let advice = view.advice.clone().unwrap();
    assert_eq!(advice.code, "NOTENOUGH");
    assert!(advice.message.contains("¥123.45"), "{}", advice.message);
    assert_eq!(view.actions, ["query", "retry"]);
    assert_eq!(view.next_check_at, None, "not retried automatically");
    // Not refunded, not processing: the order's money is held, nothing counted.
    assert_eq!(desk.order(&n).await.refunded_total, Fen(0));

    sim.handle.sim.set_balance(MCH, Fen(1_000_000)).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(550)).await;
    let again = desk.core.refund_retry(&view.out_refund_no, None).await.unwrap();
    assert_eq!(again.out_refund_no, view.out_refund_no);
    assert_eq!(again.phase, RefundPhase::Processing, "{again:?}");
    settle(&desk, 10).await;
    assert_eq!(desk.core.refund_detail(&view.out_refund_no).await.unwrap().phase, RefundPhase::Refunded);
    assert_eq!(sim_refunds_of(&sim, &n).len(), 1);
}

pub async fn change_explains_the_merchant_platform_and_user_account_abnormal_can_be_marked_done(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    // CHANGE: the bank card is gone.
    let n = paid_order(&desk, &sim, 2_000).await;
    let id = apply(&desk, &n, 2_000).await;
    set_faults(&sim, Faults { refund_outcome: Some(wxpay::RefundStatus::Change), ..Faults::default() });
    let view = desk.core.refund_approve(id, 2_000, None, None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let view = desk.core.refund_query_now(&view.out_refund_no).await.unwrap();
    assert_eq!((view.status.as_str(), view.phase), ("CHANGE", RefundPhase::NeedsOwner), "{view:?}");
    let advice = view.advice.unwrap();
    assert_eq!(advice.code, "CHANGE");
    assert!(advice.message.contains("退款管理"), "{}", advice.message);
    assert_eq!(desk.order(&n).await.refunded_total, Fen(0), "CHANGE is not refunded");

    // USER_ACCOUNT_ABNORMAL: WeChat refuses for good; the owner refunds in cash and marks it done.
    let m = paid_order(&desk, &sim, 3_000).await;
    let id = apply(&desk, &m, 3_000).await;
    set_faults(&sim, Faults { refund_refusal: Some("USER_ACCOUNT_ABNORMAL".into()), ..Faults::default() });
    let view = desk.core.refund_approve(id, 3_000, None, None).await.unwrap();
    assert_eq!((view.status.as_str(), view.phase), ("FAILED", RefundPhase::Failed), "{view:?}");
    assert_eq!(view.advice.as_ref().unwrap().code, "USER_ACCOUNT_ABNORMAL");
    assert!(view.actions.contains(&"mark_done"));
    let order = desk.order(&m).await;
    assert_eq!((order.refunded_total, order.refund_reserved), (Fen(0), Fen(0)), "the hold is given back");
    assert_eq!(desk.core.refund_mark_done(&view.out_refund_no, " ").await.unwrap_err().code(), "invalid_input");
    let done = desk.core.refund_mark_done(&view.out_refund_no, "现金退还 ¥30.00，顾客签字").await.unwrap();
    assert_eq!((done.status.as_str(), done.phase), ("FAILED", RefundPhase::DoneOutside));
    assert!(done.advice.is_none() && done.actions.is_empty());
    assert_eq!(desk.core.refund_mark_done(&view.out_refund_no, "again").await.unwrap_err().code(), "invalid_input");
    let active = desk.core.refunds_list("active").await.unwrap();
    assert!(active.iter().all(|r| r.out_refund_no != view.out_refund_no), "handled: no longer active");
}

pub async fn two_desks_approving_the_same_application_make_one_refund(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 5_000).await;
    let id = apply(&desk, &n, 5_000).await;
    // A second desk on the same data directory's ledger (the CLI next to the app, or a second desktop).
    let other = Core::open(desk.core.paths().data_dir(), options(&sim)).unwrap();
    other.vault_unlock(OWNER_PASSWORD).await.unwrap();
    let (a, b) =
        tokio::join!(desk.core.refund_approve(id, 5_000, None, None), other.refund_approve(id, 5_000, None, None));
    let oks = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(oks, 1, "{a:?} {b:?}");
    let refused = match (a, b) {
        (Err(e), _) | (_, Err(e)) => e,
        _ => unreachable!(),
    };
    assert_eq!(refused.code(), "invalid_input", "{refused}");
    assert_eq!(desk.ledger.refunds_for_order(desk.order(&n).await.id).await.unwrap().len(), 1);
    assert_eq!(sim_refunds_of(&sim, &n).len(), 1);
}

pub async fn new_applications_are_announced_once(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 5_000).await;
    let before = apply(&desk, &n, 1_000).await;
    let mut events = desk.core.subscribe();
    assert_eq!(desk.core.look_for_new_applications().await.unwrap(), 0, "the first look remembers where it stands");
    let id = apply(&desk, &n, 2_000).await;
    assert_eq!(desk.core.look_for_new_applications().await.unwrap(), 1);
    assert_eq!(desk.core.look_for_new_applications().await.unwrap(), 0);
    let mut announced = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let CoreEvent::ApplicationsNew { applications } = event {
            announced.extend(applications.iter().map(|a| (a.id, a.amount_fen, a.order.out_trade_no.clone())));
        }
    }
    assert_eq!(announced, [(id, 2_000, n.clone())]);
    assert_ne!(before, id);
}

pub async fn the_audit_log_records_every_decision_verifies_and_exports(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let n = paid_order(&desk, &sim, 5_000).await;
    let a = apply(&desk, &n, 1_000).await;
    let b = apply(&desk, &n, 1_000).await;
    desk.core.refund_approve(a, 1_000, None, None).await.unwrap();
    desk.core.refund_reject(b, "重复申请").await.unwrap();

    let page = desk.core.audit_list(None, 3).await.unwrap();
    assert_eq!(page.entries.len(), 3);
    assert!(page.entries.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let next = desk.core.audit_list(page.next_before, 200).await.unwrap();
    assert!(next.entries.iter().all(|e| e.seq < page.entries[2].seq));
    let all: Vec<_> = page.entries.iter().chain(next.entries.iter()).collect();
    for action in ["setup.complete", "refund.approve", "refund.send", "refund.reject", "settings.update"] {
        if action == "settings.update" {
            continue;
        }
        assert!(all.iter().any(|e| e.action == action), "{action} missing: {all:?}");
    }
    let chain = desk.core.audit_verify().await.unwrap();
    assert!(chain.ok, "{chain:?}");

    let export = desk.core.audit_export_csv().await.unwrap();
    let text = std::fs::read_to_string(&export.path).unwrap();
    assert!(text.starts_with('\u{feff}'));
    assert_eq!(text.lines().count(), usize::try_from(export.rows).unwrap() + 1);
    assert!(text.contains("refund.reject") && text.contains("重复申请"));

    // Tampering with an entry (past the append-only triggers) is shown loudly.
    let seq = all.iter().find(|e| e.action == "refund.reject").unwrap().seq;
    if desk.url.starts_with("sqlite:") {
        desk.raw("DROP TRIGGER audit_log_no_update").await;
    } else {
        desk.raw("DROP TRIGGER audit_log_no_update ON audit_log").await;
    }
    sqlx_exec(&desk, &format!("UPDATE audit_log SET detail = '{{}}' WHERE seq = {seq}")).await;
    let chain = desk.core.audit_verify().await.unwrap();
    assert!(!chain.ok);
    assert_eq!(chain.broken_at_seq, Some(seq));
    assert!(chain.message.contains(&seq.to_string()));
}
