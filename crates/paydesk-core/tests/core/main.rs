//! paydesk-core's integration suite, against a real wxpay-sim (HTTPS, mutual TLS) spawned per test and a real
//! ledger: the order and sync bodies run on SQLite (a file in the test's data directory) and on PostgreSQL (a
//! fresh schema per test) when `PAYDESK_TEST_POSTGRES_URL` is set — `scripts/with-postgres` sets it together with
//! `PAYDESK_REQUIRE_POSTGRES=1`, which makes a missing server a failure instead of a skip.
//!
//! Test names read `<topic>::<spec>` or `<engine>::<topic>::<spec>`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod orders;
mod refunds;
mod setup;
mod sync;
mod vault;

/// Generates `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per listed body `fn(Engine)`.
macro_rules! on_both_engines {
    ($($topic:ident: [$($name:ident),+ $(,)?]),+ $(,)?) => {
        mod sqlite {
            $(mod $topic {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::$topic::$name(crate::common::Engine::Sqlite).await;
                })+
            })+
        }
        mod postgres {
            $(mod $topic {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(engine) = crate::common::Engine::postgres() else { return };
                    crate::$topic::$name(engine).await;
                })+
            })+
        }
    };
}

on_both_engines! {
    orders: [
        list_filters_and_pages_by_keyset,
        query_now_records_what_wechat_says_with_source_query_and_evidence,
        query_now_for_an_order_wechat_does_not_know_is_a_business_error,
        close_of_an_unpaid_order_ends_closed_as_wechat_confirms,
        close_of_a_paid_order_is_refused,
    ],
    refunds: [
        a_partial_approval_is_processing_until_wechat_says_success_then_the_remainder_drops,
        a_rejection_keeps_its_reason_and_sends_nothing,
        each_guard_blocks_with_its_reason,
        above_the_threshold_the_owner_password_is_asked_for_when_sending,
        the_staff_login_registers_applications_but_cannot_approve,
        systemerror_and_lost_replies_are_retried_with_the_same_out_refund_no,
        retries_stop_after_five_attempts_and_wait_for_the_owner,
        notenough_asks_for_a_top_up_then_the_owner_retries_the_same_refund,
        change_explains_the_merchant_platform_and_user_account_abnormal_can_be_marked_done,
        two_desks_approving_the_same_application_make_one_refund,
        new_applications_are_announced_once,
        the_audit_log_records_every_decision_verifies_and_exports,
    ],
    sync: [
        orders_paid_without_any_notification_end_success_after_a_round,
        the_next_check_follows_the_schedule_by_age,
        concurrent_rounds_query_each_order_once,
        dashboard_counts_todays_takings_and_the_last_14_days,
    ],
}
