//! The ledger's integration suite: every test body is written once and run on SQLite (a temporary file) and on
//! PostgreSQL (a fresh schema per test) when `PAYDESK_TEST_POSTGRES_URL` is set — `scripts/with-postgres` sets it,
//! together with `PAYDESK_REQUIRE_POSTGRES=1`, which makes a missing server a failure instead of a skip.
//!
//! Test names read `<engine>::<topic>::<spec>`, e.g. `postgres::concurrency::duplicate_notifications_apply_once`.

// Test code: a failed unwrap is a failed test. (clippy's allow-unwrap-in-tests covers only `#[test]` bodies.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod bills_recon;
mod common;
mod concurrency;
mod notifications;
mod orders;
mod refunds;

/// Generates `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per listed body.
macro_rules! on_both_engines {
    ($($topic:ident: [$($name:ident),+ $(,)?]),+ $(,)?) => {
        mod sqlite {
            $(mod $topic {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = crate::common::TestDb::sqlite().await;
                    crate::$topic::$name(&db).await;
                })+
            })+
        }
        mod postgres {
            $(mod $topic {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = crate::common::TestDb::postgres().await else { return };
                    crate::$topic::$name(&db).await;
                })+
            })+
        }
    };
}

on_both_engines! {
    orders: [
        opening_again_finds_the_schema_applied,
        registering_an_order_twice_is_idempotent_and_a_new_amount_is_refused,
        timestamps_are_stored_as_utc_with_microseconds,
        order_list_pages_by_keyset_with_filters,
        lookups_by_out_trade_no_transaction_id_and_prefix,
        day_totals_follow_the_beijing_day,
        order_queries_follow_the_transition_table,
        status_sync_finds_orders_due_for_a_check,
        bulk_import_skips_orders_already_known,
    ],
    notifications: [
        notification_is_stored_raw_before_anything_else,
        invalid_notification_is_rejected_with_its_reason,
        duplicate_notification_is_applied_once,
        reapplying_a_stored_notification_returns_its_outcome,
        payment_for_an_unregistered_order_is_recorded_paid_and_flagged,
        amount_mismatch_is_rejected_and_flags_the_order,
        refund_notification_completes_a_processing_refund,
        refund_notification_for_an_unknown_refund_records_it_as_external,
    ],
    refunds: [
        approving_fixes_out_refund_no_and_reserves_the_amount,
        an_application_is_decided_once,
        application_registration_is_idempotent_on_external_ref,
        refund_past_the_remaining_amount_is_refused,
        refund_retry_reuses_out_refund_no,
        refund_requests_are_limited_to_one_a_minute_per_order,
        refunded_total_follows_only_on_success,
        refundclose_gives_the_reservation_back,
        refundclose_heard_before_the_accepting_reply_still_makes_the_order_refund,
        refused_refund_fails_with_its_err_code_and_is_flagged,
        notenough_keeps_the_refund_created_and_flags_it,
        change_is_flagged_and_can_still_succeed,
        an_out_refund_no_is_used_once,
    ],
    bills_recon: [
        bill_rows_go_in_by_bulk_and_a_file_is_imported_once,
        reconciliation_records_each_difference_once_per_day,
    ],
    audit: [
        untouched_audit_chain_verifies,
        editing_an_audit_entry_breaks_the_chain_at_that_entry,
        deleting_an_audit_entry_breaks_the_chain_at_that_entry,
        deleting_the_last_audit_entry_is_found_by_the_head,
        audit_log_refuses_update_and_delete,
    ],
    concurrency: [
        duplicate_notifications_apply_once,
        one_application_approved_at_once_makes_one_refund,
        refunds_past_the_amount_at_once_reserve_once,
        success_observed_at_once_adds_to_the_refunded_total_once,
        audit_appends_at_once_keep_one_chain,
    ],
}
