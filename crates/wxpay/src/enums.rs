//! The protocol's closed vocabularies, each with an `Unknown(String)` arm: WeChat adds values without
//! notice, and an unknown value must be kept and shown, never guessed into a known one.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this version does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Unknown(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Unknown(text) => text,
                }
            }

            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name::parse(&text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name::parse(text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// `trade_state` of orderquery (§5.2).
    TradeState {
        /// 支付成功
        Success = "SUCCESS",
        /// 转入退款 (a refund exists)
        Refund = "REFUND",
        /// 未支付
        NotPay = "NOTPAY",
        /// 已关闭
        Closed = "CLOSED",
        /// 已撤销 (付款码)
        Revoked = "REVOKED",
        /// 用户支付中 (付款码)
        UserPaying = "USERPAYING",
        /// 支付失败
        PayError = "PAYERROR",
        /// 已接收，等待扣款
        Accept = "ACCEPT",
    }
);

impl TradeState {
    /// Money has reached the merchant (a refunded order was paid first).
    pub fn is_paid(&self) -> bool {
        matches!(self, TradeState::Success | TradeState::Refund)
    }

    /// No further change will come from WeChat without a new action by someone.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TradeState::Success | TradeState::Refund | TradeState::Closed | TradeState::Revoked | TradeState::PayError
        )
    }
}

wire_enum!(
    /// `refund_status` / `refund_status_$n` (§5.5, §6.2).
    RefundStatus {
        Success = "SUCCESS",
        /// 退款关闭 (failed / closed)
        RefundClose = "REFUNDCLOSE",
        Processing = "PROCESSING",
        /// 退款异常: the card refund failed; fix it in the merchant platform.
        Change = "CHANGE",
    }
);

impl RefundStatus {
    /// WeChat will not move it further on its own (CHANGE needs a person in the merchant platform).
    pub fn is_terminal(&self) -> bool {
        matches!(self, RefundStatus::Success | RefundStatus::RefundClose | RefundStatus::Change)
    }
}

wire_enum!(
    /// `trade_type` (§4).
    TradeType {
        Jsapi = "JSAPI",
        Native = "NATIVE",
        App = "APP",
        Mweb = "MWEB",
        Micropay = "MICROPAY",
        Facepay = "FACEPAY",
    }
);

/// `sign_type` (§3.4): exactly `MD5` or `HMAC-SHA256`. Unlike the other vocabularies an unknown
/// sign type cannot be kept: nothing could be verified with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SignType {
    #[default]
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
}

impl SignType {
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// Parses the exact wire value; `HMAC_SHA256` and other spellings are refused as WeChat does.
    pub fn parse(text: &str) -> Option<SignType> {
        match text {
            "MD5" => Some(SignType::Md5),
            "HMAC-SHA256" => Some(SignType::HmacSha256),
            _ => None,
        }
    }

    /// The length of the uppercase hex signature this algorithm produces.
    pub fn signature_len(self) -> usize {
        match self {
            SignType::Md5 => 32,
            SignType::HmacSha256 => 64,
        }
    }

    /// Guesses the algorithm from a signature's length (32 hex → MD5, 64 → HMAC-SHA256), the last
    /// resort of §3.5 when neither `sign_type` nor the order's stored type is known.
    pub fn from_signature_len(signature: &str) -> Option<SignType> {
        match signature.len() {
            32 => Some(SignType::Md5),
            64 => Some(SignType::HmacSha256),
            _ => None,
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SignType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SignType::parse(s).ok_or_else(|| format!("unknown sign type {s:?} (expected MD5 or HMAC-SHA256)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_are_kept_verbatim() {
        let s = TradeState::parse("SOMETHING_NEW");
        assert_eq!(s, TradeState::Unknown("SOMETHING_NEW".into()));
        assert_eq!(s.as_str(), "SOMETHING_NEW");
        assert!(!s.is_paid());
    }

    #[test]
    fn every_known_value_round_trips() {
        for t in ["SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"] {
            assert_eq!(TradeState::parse(t).as_str(), t);
            assert!(TradeState::parse(t).is_known());
        }
        for t in ["SUCCESS", "REFUNDCLOSE", "PROCESSING", "CHANGE"] {
            assert_eq!(RefundStatus::parse(t).as_str(), t);
        }
    }

    #[test]
    fn sign_type_spelling_is_exact() {
        assert_eq!(SignType::parse("HMAC-SHA256"), Some(SignType::HmacSha256));
        assert_eq!(SignType::parse("HMAC_SHA256"), None);
        assert_eq!(SignType::parse("md5"), None);
        assert_eq!(SignType::from_signature_len(&"A".repeat(64)), Some(SignType::HmacSha256));
        assert_eq!(SignType::from_signature_len("ABC"), None);
    }
}
