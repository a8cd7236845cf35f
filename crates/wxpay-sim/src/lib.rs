//! wxpay-sim: an offline WeChat Pay (微信支付) v2 server close enough to the real one that a shop
//! owner can train on it, the desktop demo runs on it and every test of Paydesk talks to it.
//!
//! - [`spawn`] starts one (tests: port 0, a temp data dir) and returns a [`SimHandle`] with its
//!   address, base URL and CA; [`SimConfig`] says what it serves.
//! - [`wechat`]: WeChat's seven paths over HTTPS with its own CA, mutual TLS on `/secapi/*` and
//!   `/pay/downloadfundflow`, signatures and the §5 rules.
//! - [`admin`]: the customer / test side, a JSON API under `/admin`.
//! - [`sim`] holds the state and operations; [`model`] the pure rules; [`store`] the books;
//!   [`notify`] the notification deliveries on WeChat's retry schedule; [`bills`] the T+1 bills;
//!   [`clock`] the settable simulated time; [`faults`] what can be made to go wrong; [`pki`] the CA
//!   and certificates; [`demo`] the generated traffic of `wxpay-sim --demo`; [`snapshot`] the
//!   optional JSON copy of the books.
//!
//! How refusals and the clock are designed: `docs/decisions/0005-wxpay-sim.md`.

pub mod admin;
pub mod bills;
pub mod clock;
pub mod config;
pub mod demo;
pub mod faults;
pub mod model;
pub mod notify;
pub mod pki;
pub mod server;
pub mod sim;
pub mod snapshot;
pub mod store;
pub mod wechat;

pub use config::{ConfigError, MerchantConfig, SimConfig};
pub use faults::Faults;
pub use server::{spawn, ConnInfo, SimHandle, SpawnError};
pub use sim::Sim;
