//! wxpay-sim from the outside: over real HTTPS (mutual TLS where §2 wants it) with the `wxpay`
//! client, raw requests for what a well-behaved client never sends, the admin API for the customer
//! side, and the independent `wechatpy` client. One binary, a module per topic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // integration-test helpers outside #[test] fns

mod admin;
mod bills;
mod common;
mod mtls;
mod notifications;
mod orders;
mod refunds;
mod signatures;
mod wechatpy;
