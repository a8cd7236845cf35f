//! Signatures (wxpay-v2.md §3): the exact string-to-sign, MD5 and HMAC-SHA256, and verification that
//! picks the algorithm the way §3.5 says and compares in constant time.
//!
//! Rules: drop `sign` and empty values only; sort names by bytes; join raw `name=value` with `&`;
//! append `&key=<API key>`; uppercase hex. `sign_type` is signed when present; unknown fields are
//! signed. Nothing is trimmed, escaped or URL-encoded.

use std::fmt;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::enums::SignType;
use crate::xml::Message;

/// The merchant's API v2 key (32 characters, 商户平台 → API安全). It writes its own `Debug` so it
/// never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for signing and for deriving the refund-notification AES key.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey(*** {} chars)", self.0.chars().count())
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the message carries no sign")]
    Missing,
    #[error("sign_type {0:?} is neither MD5 nor HMAC-SHA256")]
    UnknownSignType(String),
    #[error("the sign has {0} characters, which matches no algorithm")]
    UndecidableAlgorithm(usize),
    #[error("the sign does not match ({0}); wrong API key, or the message was altered")]
    Mismatch(SignType),
}

/// `name=value&…` over the signed fields, without the key.
pub fn string_to_sign(message: &Message) -> String {
    let mut pairs: Vec<(&str, &str)> =
        message.iter().filter(|(name, value)| *name != "sign" && !value.is_empty()).collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::with_capacity(pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The signature of `message` (its `sign` field ignored) with the given algorithm.
pub fn sign(message: &Message, sign_type: SignType, key: &ApiKey) -> String {
    sign_string(&string_to_sign(message), sign_type, key)
}

/// Signs an already-built string-to-sign (`…&key=` is appended here).
pub fn sign_string(string_to_sign: &str, sign_type: SignType, key: &ApiKey) -> String {
    let mut full = String::with_capacity(string_to_sign.len() + 5 + key.0.len());
    full.push_str(string_to_sign);
    full.push_str("&key=");
    full.push_str(&key.0);
    let digest: Vec<u8> = match sign_type {
        SignType::Md5 => Md5::digest(full.as_bytes()).to_vec(),
        SignType::HmacSha256 => {
            // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC.
            match <Hmac<Sha256> as Mac>::new_from_slice(key.0.as_bytes()) {
                Ok(mut mac) => {
                    mac.update(full.as_bytes());
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
    };
    hex::encode_upper(digest)
}

/// Sets `sign_type` (for HMAC; MD5 may omit it) and `sign` on a request.
pub fn sign_request(message: &mut Message, sign_type: SignType, key: &ApiKey) {
    message.remove("sign");
    if sign_type == SignType::HmacSha256 || message.contains("sign_type") {
        message.set("sign_type", sign_type.as_str());
    }
    let signature = sign(message, sign_type, key);
    message.set("sign", signature);
}

/// Signs a reply or notification with `sign_type` without adding a `sign_type` field (replies do not
/// echo it; HMAC payment notifications omit it, §3.5).
pub fn sign_in_place(message: &mut Message, sign_type: SignType, key: &ApiKey) {
    message.remove("sign");
    let signature = sign(message, sign_type, key);
    message.set("sign", signature);
}

/// How to choose the algorithm when verifying (§3.5): the message's own `sign_type` first, else what
/// the caller knows (the request's type for a reply, the order's stored type for a notification),
/// else the signature's length.
pub fn resolve_sign_type(message: &Message, known: Option<SignType>) -> Result<SignType, SignError> {
    if let Some(declared) = message.get_non_empty("sign_type") {
        return SignType::parse(declared)
            .ok_or_else(|| SignError::UnknownSignType(declared.chars().take(32).collect()));
    }
    if let Some(t) = known {
        return Ok(t);
    }
    let signature = message.get_non_empty("sign").ok_or(SignError::Missing)?;
    SignType::from_signature_len(signature).ok_or(SignError::UndecidableAlgorithm(signature.len()))
}

/// Verifies `message`'s `sign`, returning the algorithm that verified it.
pub fn verify(message: &Message, known: Option<SignType>, key: &ApiKey) -> Result<SignType, SignError> {
    let given = message.get_non_empty("sign").ok_or(SignError::Missing)?;
    let sign_type = resolve_sign_type(message, known)?;
    let expected = sign(message, sign_type, key);
    // Uppercase hex on both sides; lengths are public, contents compared in constant time.
    let given_upper = given.to_ascii_uppercase();
    if bool::from(expected.as_bytes().ct_eq(given_upper.as_bytes())) {
        Ok(sign_type)
    } else {
        Err(SignError::Mismatch(sign_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_example() -> Message {
        Message::from_pairs([
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
        ])
    }

    fn doc_key() -> ApiKey {
        ApiKey::new("192006250b4c09247ec02edce69f6a2d")
    }

    #[test]
    fn official_example_md5() {
        let m = doc_example();
        assert_eq!(
            string_to_sign(&m),
            "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA"
        );
        assert_eq!(sign(&m, SignType::Md5, &doc_key()), "9A0A8659F005D6984697E2CA0A9CF3B7");
    }

    #[test]
    fn official_example_hmac_sha256() {
        assert_eq!(
            sign(&doc_example(), SignType::HmacSha256, &doc_key()),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn sign_and_empty_values_are_dropped_but_zero_and_sign_type_are_kept() {
        let m = Message::from_pairs([("sign", "X"), ("b", ""), ("a", "0"), ("sign_type", "HMAC-SHA256"), ("Z", "1")]);
        // Byte order: uppercase before lowercase.
        assert_eq!(string_to_sign(&m), "Z=1&a=0&sign_type=HMAC-SHA256");
    }

    #[test]
    fn values_are_raw() {
        let m = Message::from_pairs([("body", "腾讯 充值 a=b&c"), ("url", "https://x/y?z")]);
        assert_eq!(string_to_sign(&m), "body=腾讯 充值 a=b&c&url=https://x/y?z");
    }

    #[test]
    fn sign_request_adds_sign_type_for_hmac_only() {
        let mut md5 = doc_example();
        sign_request(&mut md5, SignType::Md5, &doc_key());
        assert_eq!(md5.get("sign_type"), None);
        assert_eq!(md5.get("sign"), Some("9A0A8659F005D6984697E2CA0A9CF3B7"));

        let mut hmac = doc_example();
        sign_request(&mut hmac, SignType::HmacSha256, &doc_key());
        assert_eq!(hmac.get("sign_type"), Some("HMAC-SHA256"));
        assert!(string_to_sign(&hmac).contains("&sign_type=HMAC-SHA256"));
        assert_eq!(verify(&hmac, None, &doc_key()), Ok(SignType::HmacSha256));
    }

    #[test]
    fn verification_picks_the_algorithm_per_3_5() {
        let key = doc_key();
        let mut hmac_without_type = doc_example();
        sign_in_place(&mut hmac_without_type, SignType::HmacSha256, &key);
        // No sign_type, no stored type: the 64-character length decides.
        assert_eq!(verify(&hmac_without_type, None, &key), Ok(SignType::HmacSha256));
        // The stored type wins over the length.
        assert_eq!(verify(&hmac_without_type, Some(SignType::Md5), &key), Err(SignError::Mismatch(SignType::Md5)));

        let mut declared = doc_example();
        declared.set("sign_type", "HMAC_SHA256");
        declared.set("sign", "00");
        assert!(matches!(verify(&declared, None, &key), Err(SignError::UnknownSignType(_))));
    }

    #[test]
    fn wrong_key_and_altered_message_fail() {
        let mut m = doc_example();
        sign_request(&mut m, SignType::Md5, &doc_key());
        assert_eq!(verify(&m, None, &ApiKey::new("wrong")), Err(SignError::Mismatch(SignType::Md5)));
        m.set("body", "test2");
        assert_eq!(verify(&m, None, &doc_key()), Err(SignError::Mismatch(SignType::Md5)));
        m.remove("sign");
        assert_eq!(verify(&m, None, &doc_key()), Err(SignError::Missing));
    }

    proptest::proptest! {
        /// A signed message still verifies after an XML round trip, whatever UTF-8 its values hold
        /// (XML-representable characters; the writer refuses the others).
        #[test]
        fn signed_message_verifies_after_xml_round_trip(
            values in proptest::collection::vec("[\\PC\t\r\n ]{0,24}", 1..10),
            hmac in proptest::bool::ANY,
            key in "[a-zA-Z0-9]{32}",
        ) {
            let key = ApiKey::new(key);
            let sign_type = if hmac { SignType::HmacSha256 } else { SignType::Md5 };
            let mut m: Message = values.iter().enumerate().map(|(i, v)| (format!("field_{i}"), v.clone())).collect();
            sign_request(&mut m, sign_type, &key);
            let parsed = Message::parse(m.to_xml().unwrap().as_bytes()).unwrap();
            proptest::prop_assert_eq!(verify(&parsed, None, &key), Ok(sign_type));
        }
    }

    #[test]
    fn api_key_debug_hides_the_key() {
        let dbg = format!("{:?}", doc_key());
        assert!(!dbg.contains("192006"), "{dbg}");
    }
}
