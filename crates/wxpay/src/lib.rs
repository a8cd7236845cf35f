//! WeChat Pay (微信支付) merchant API v2, exactly as `docs/wxpay-v2.md` describes it.
//!
//! - [`money`], [`ids`], [`time`], [`enums`]: the domain types (integer fen, validated ids, Beijing time).
//! - [`xml`]: the flat `<xml>` codec (no DTDs, no entities, writer-produced output).
//! - [`sign`]: MD5 / HMAC-SHA256 signatures and verification (§3).
//! - [`api`]: typed requests and replies per endpoint, and reply handling (§1.1, §5).
//! - [`error`]: error kinds, `err_code` and retry classes.
//! - [`notify`]: payment and refund notifications (§6).
//! - [`bill`]: the streaming bill parser (§7).
//! - [`client`]: the HTTPS client with mutual TLS (§2, §8).
//! - [`jsapi`]: JSAPI / mini-program launch parameters (§9).
//!
//! Everything except [`client`] is pure: keys, clocks and nonces come in as arguments.

pub mod api;
pub mod bill;
pub mod client;
pub mod enums;
pub mod error;
pub mod ids;
pub mod jsapi;
pub mod money;
pub mod notify;
pub mod sign;
pub mod time;
pub mod xml;

pub use enums::{RefundStatus, SignType, TradeState, TradeType};
pub use error::{Api, DecodeError, ErrCode, Error, RetryClass};
pub use ids::{AppId, IdError, MchId, OutRefundNo, OutTradeNo, RefundId, TransactionId};
pub use money::{FeeAmount, Fen};
pub use sign::ApiKey;
pub use time::BeijingTime;
pub use xml::{Message, XmlError};
