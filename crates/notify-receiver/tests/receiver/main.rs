//! notify-receiver over real HTTP and a real database. Every body runs on SQLite (a temporary file) and on
//! PostgreSQL (a fresh schema) when `PAYDESK_TEST_POSTGRES_URL` is set — `scripts/with-postgres` sets it together
//! with `PAYDESK_REQUIRE_POSTGRES=1`, which makes a missing server a failure instead of a skip.
//!
//! Topics: `notifications` (the WeChat side), `shop` (the shop-backend API), `processes` (the real binary: two
//! processes, kill -9), `relay`, `ops` (health, metrics, shutdown), `e2e` (wxpay-sim paying and notifying).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod e2e;
mod notifications;
mod ops;
mod processes;
mod relay;
mod shop;

/// Generates `mod sqlite` and `mod postgres`, each with one test per listed body.
macro_rules! on_both_engines {
    ($($topic:ident: [$($name:ident),+ $(,)?]),+ $(,)?) => {
        mod sqlite {
            $(mod $topic {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::common::TestDb::sqlite();
                    crate::$topic::$name(&db).await;
                })+
            })+
        }
        mod postgres {
            $(mod $topic {
                $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::common::TestDb::postgres().await else { return };
                    crate::$topic::$name(&db).await;
                })+
            })+
        }
    };
}

on_both_engines! {
    notifications: [
        valid_md5_payment_is_applied_then_acknowledged,
        valid_hmac_payment_declaring_sign_type_is_applied,
        hmac_payment_without_sign_type_is_verified_whatever_the_registered_type,
        same_notification_twenty_times_at_once_has_one_effect,
        wrong_signature_is_rejected_stored_and_not_applied,
        amount_mismatch_is_rejected_and_the_order_stays_unpaid,
        payment_for_an_unknown_order_is_recorded_paid_and_flagged,
        refund_notification_is_decrypted_checked_and_applied,
        refund_notification_that_matches_no_refund_or_key_is_rejected,
        truncated_body_is_refused_and_stored_rejected,
        xml_with_a_dtd_entity_is_refused_unexpanded,
        ten_megabyte_body_is_refused_before_it_is_read,
        database_unavailable_answers_fail_and_the_retry_succeeds,
    ],
    shop: [
        api_requires_the_bearer_token,
        invalid_order_names_every_failing_field,
        registering_an_order_is_idempotent_and_another_amount_conflicts,
        refund_application_is_checked_against_what_is_left,
        order_status_shows_payment_refunds_and_applications,
    ],
    processes: [
        two_receiver_processes_apply_each_notification_once,
        kill_9_mid_stream_loses_nothing_acknowledged,
    ],
    relay: [
        relay_delivers_signed_events_with_retries_across_a_restart,
    ],
    ops: [
        healthz_and_metrics_count_outcomes,
        shutdown_finishes_a_request_in_flight,
    ],
    e2e: [
        simulator_with_faults_pays_and_notifies_and_the_ledger_ends_exactly_right,
    ],
}
