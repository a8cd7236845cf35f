//! The daily close against a real wxpay-sim (HTTPS, mutual TLS) and a real ledger, on SQLite and — when
//! `PAYDESK_TEST_POSTGRES_URL` is set (`scripts/with-postgres`) — PostgreSQL: days planted with a discrepancy of
//! every kind are found exactly, no more and no fewer; each action resolves its discrepancy on the re-run; the
//! no-bill day; "Bill Creating"; the same (gzip) file imported twice; a legacy-format file.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// The harness is shared in shape with tests/core; not every helper is used here.
#![allow(dead_code)]

mod common;
mod scenarios;

/// Generates `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per listed body `fn(Engine)`.
macro_rules! on_both_engines {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                crate::scenarios::$name(crate::common::Engine::Sqlite).await;
            })+
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(engine) = crate::common::Engine::postgres() else { return };
                crate::scenarios::$name(engine).await;
            })+
        }
    };
}

on_both_engines! {
    planted_days_are_found_exactly_and_each_action_resolves_its_discrepancy,
    a_day_without_business_is_no_bill_and_before_ten_the_bill_is_not_yet,
    the_same_gzip_file_twice_changes_nothing_and_a_legacy_bill_imports,
}
