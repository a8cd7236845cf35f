//! Validated identifiers (wxpay-v2.md §4): each id is checked once, at construction, against the
//! documented length and character set, so the rest of the code never holds a malformed one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An id that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub reason: String,
}

fn merchant_chars(extra: &'static [u8]) -> impl Fn(u8) -> bool {
    move |b: u8| b.is_ascii_alphanumeric() || extra.contains(&b)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, max = $max:literal, allowed = $allowed:expr, what = $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let fail = |reason: String| IdError {
                    kind: $kind,
                    value: value.chars().take(80).collect(),
                    reason,
                };
                if value.is_empty() {
                    return Err(fail("must not be empty".into()));
                }
                if value.len() > $max {
                    return Err(fail(format!("longer than {} characters", $max)));
                }
                let allowed = $allowed;
                if let Some(bad) = value.bytes().find(|b| !allowed(*b)) {
                    return Err(fail(format!("character {:?} not allowed ({})", char::from(bad), $what)));
                }
                Ok($name(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                $name::new(value)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(value: &str) -> Result<Self, IdError> {
                $name::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::new(s)
            }
        }
    };
}

id_type!(
    /// 商户订单号: the merchant's order number, ≤32 of digits, letters and `_-|*@`, unique per merchant.
    OutTradeNo, "out_trade_no", max = 32, allowed = merchant_chars(b"_-|*@"),
    what = "digits, letters and _-|*@"
);
id_type!(
    /// 商户退款单号: the merchant's refund number, ≤64 of digits, letters and `_-|*@`. The same number is
    /// the same refund at WeChat: it is the refund's idempotency key (§5.4).
    OutRefundNo, "out_refund_no", max = 64, allowed = merchant_chars(b"_-|*@"),
    what = "digits, letters and _-|*@"
);
id_type!(
    /// 微信订单号: WeChat's transaction id, ≤32 (28 digits in practice).
    TransactionId, "transaction_id", max = 32, allowed = merchant_chars(b""),
    what = "digits and letters"
);
id_type!(
    /// 微信退款单号: WeChat's refund id, ≤32.
    RefundId, "refund_id", max = 32, allowed = merchant_chars(b""),
    what = "digits and letters"
);
id_type!(
    /// 商户号 (mch_id), ≤32.
    MchId, "mch_id", max = 32, allowed = merchant_chars(b""),
    what = "digits and letters"
);
id_type!(
    /// appid of the official account / mini program / app, ≤32.
    AppId, "appid", max = 32, allowed = merchant_chars(b"_-"),
    what = "digits, letters, _ and -"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_lengths_are_enforced() {
        assert!(OutTradeNo::new("a".repeat(32)).is_ok());
        assert!(OutTradeNo::new("a".repeat(33)).is_err());
        assert!(OutRefundNo::new("R".repeat(64)).is_ok());
        assert!(OutRefundNo::new("R".repeat(65)).is_err());
        assert!(TransactionId::new("4200000483202001042069747825").is_ok());
        assert!(RefundId::new("50300103182020010413419046597").is_ok());
        assert!(RefundId::new("5".repeat(33)).is_err());
    }

    #[test]
    fn charset_is_enforced() {
        assert!(OutTradeNo::new("ORD_2024-01|a*b@c").is_ok());
        assert!(OutTradeNo::new("订单1").is_err());
        assert!(OutTradeNo::new("a b").is_err());
        assert!(OutTradeNo::new("").is_err());
        assert!(TransactionId::new("4200-1").is_err());
    }

    #[test]
    fn serde_validates() {
        let ok: Result<OutTradeNo, _> = serde_json::from_str("\"T1\"");
        assert!(ok.is_ok());
        let bad: Result<OutTradeNo, _> = serde_json::from_str("\"has space\"");
        assert!(bad.is_err());
    }
}
