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
    sync: [
        orders_paid_without_any_notification_end_success_after_a_round,
        the_next_check_follows_the_schedule_by_age,
        concurrent_rounds_query_each_order_once,
        dashboard_counts_todays_takings_and_the_last_14_days,
    ],
}
