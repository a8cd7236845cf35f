//! Typed requests and replies per endpoint (§5), and the reply handling order of §1.1:
//! parse → `return_code=FAIL` is a protocol error (nothing to verify) → verify the signature with
//! the request's sign type → `result_code=FAIL` is a business error with an `err_code` and a retry
//! class → only then the state fields.
//!
//! A request is plain data; [`build_request`] adds the merchant header, a nonce and the signature and
//! [`handle_reply`] turns the raw reply into the typed reply. Neither does I/O: [`call`] wires them
//! to the HTTPS transport.
//!
//! The `request_xml_is_exact` snapshot tests pin the exact bytes each request builds; their
//! signatures were cross-checked with an independent implementation (Python `hashlib` over the
//! §3.1 string) when they were written.

pub mod bill_download;
pub mod call;
pub mod closeorder;
pub mod orderquery;
pub mod refund;
pub mod refundquery;
pub mod unifiedorder;

use std::fmt;

use rand::distributions::Alphanumeric;
use rand::Rng;

pub use bill_download::{AccountType, BillType, DownloadBill, DownloadFundFlow, DownloadOutcome};
pub use call::WxPayClient;
pub use closeorder::{CloseOrder, CloseOrderReply};
pub use orderquery::{OrderQuery, OrderQueryReply};
pub use refund::{Refund, RefundReply};
pub use refundquery::{RefundQuery, RefundQueryItem, RefundQueryReply, RefundRef};
pub use unifiedorder::{TradeKind, UnifiedOrder, UnifiedOrderReply};

use crate::enums::SignType;
use crate::error::{Api, DecodeError, ErrCode, Error};
use crate::ids::{AppId, MchId, OutTradeNo, TransactionId};
use crate::sign::{self, ApiKey};
use crate::xml::Message;

/// Who is calling: the merchant's public ids, its API key and the sign type it signs with.
#[derive(Clone)]
pub struct Merchant {
    pub appid: AppId,
    pub mch_id: MchId,
    pub key: ApiKey,
    pub sign_type: SignType,
}

impl fmt::Debug for Merchant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Merchant")
            .field("appid", &self.appid)
            .field("mch_id", &self.mch_id)
            .field("key", &self.key)
            .field("sign_type", &self.sign_type)
            .finish()
    }
}

/// An order is named by WeChat's id (preferred, §5.2) or by the merchant's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    TransactionId(TransactionId),
    OutTradeNo(OutTradeNo),
}

impl OrderRef {
    fn write(&self, m: &mut Message) {
        match self {
            OrderRef::TransactionId(id) => m.set("transaction_id", id.as_str()),
            OrderRef::OutTradeNo(no) => m.set("out_trade_no", no.as_str()),
        };
    }
}

/// A request: an API and its business fields.
pub trait Request {
    const API: Api;

    /// The business fields, in the order they are written.
    fn write_fields(&self, message: &mut Message) -> Result<(), Error>;

    /// The sign type this API requires, overriding the merchant's (downloadfundflow: HMAC only).
    fn required_sign_type(&self) -> Option<SignType> {
        None
    }
}

/// A request whose reply is a signed XML message (all but the bill downloads).
pub trait ApiRequest: Request {
    type Reply;

    /// Reads the typed reply from a verified `result_code=SUCCESS` message.
    fn read_reply(message: Message) -> Result<Self::Reply, DecodeError>;
}

/// A random `nonce_str`: 32 letters and digits.
pub fn new_nonce() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect()
}

/// The signed request message: `appid`, `mch_id`, `nonce_str`, the business fields, `sign_type`
/// (HMAC) and `sign`. Returns the message and the sign type used, which the reply must verify with.
pub fn build_request<R: Request>(request: &R, merchant: &Merchant, nonce: &str) -> Result<(Message, SignType), Error> {
    let sign_type = request.required_sign_type().unwrap_or(merchant.sign_type);
    let mut message = Message::new();
    message.set("appid", merchant.appid.as_str());
    message.set("mch_id", merchant.mch_id.as_str());
    message.set("nonce_str", nonce);
    request.write_fields(&mut message)?;
    sign::sign_request(&mut message, sign_type, &merchant.key);
    Ok((message, sign_type))
}

/// The request body as sent.
pub fn request_body<R: Request>(request: &R, merchant: &Merchant, nonce: &str) -> Result<(String, SignType), Error> {
    let (message, sign_type) = build_request(request, merchant, nonce)?;
    let xml = message.to_xml().map_err(|e| Error::InvalidRequest(e.to_string()))?;
    Ok((xml, sign_type))
}

/// Checks a reply in §1.1 order and returns the verified message, `result_code=SUCCESS` only.
pub fn check_reply(api: Api, body: &[u8], sign_type: SignType, key: &ApiKey) -> Result<Message, Error> {
    let message = Message::parse(body)?;
    if message.get("return_code") != Some("SUCCESS") {
        return Err(Error::Protocol {
            return_msg: message.get("return_msg").unwrap_or("(no return_msg)").chars().take(128).collect(),
        });
    }
    sign::verify(&message, Some(sign_type), key)?;
    match message.get("result_code") {
        Some("SUCCESS") => Ok(message),
        Some("FAIL") => {
            let err_code = ErrCode::parse(message.get("err_code").unwrap_or(""));
            let retry = err_code.retry_class(api);
            Err(Error::Business {
                err_code,
                err_code_des: message.get("err_code_des").unwrap_or("").chars().take(128).collect(),
                retry,
            })
        }
        // An empty or missing result_code is not success (WxJava's mistake, §1.1).
        other => Err(DecodeError::invalid("result_code", format!("expected SUCCESS or FAIL, got {other:?}")).into()),
    }
}

/// Parses, verifies and reads a reply to `R`.
pub fn handle_reply<R: ApiRequest>(body: &[u8], sign_type: SignType, key: &ApiKey) -> Result<R::Reply, Error> {
    let message = check_reply(R::API, body, sign_type, key)?;
    Ok(R::read_reply(message)?)
}

/// Checks a text field against a documented maximum length (characters).
fn check_len(field: &str, value: &str, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if n > max {
        return Err(Error::InvalidRequest(format!("{field} has {n} characters; WeChat allows at most {max}")));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn merchant(sign_type: SignType) -> Merchant {
        Merchant {
            appid: AppId::new("wxd930ea5d5a258f4f").unwrap(),
            mch_id: MchId::new("10000100").unwrap(),
            key: ApiKey::new("192006250b4c09247ec02edce69f6a2d"),
            sign_type,
        }
    }

    /// A reply signed the way WeChat signs it (request's sign type, no sign_type echoed).
    pub fn signed_reply(pairs: &[(&str, &str)], sign_type: SignType) -> Vec<u8> {
        let mut m = Message::from_pairs(pairs.iter().copied());
        sign::sign_in_place(&mut m, sign_type, &merchant(sign_type).key);
        m.to_xml().unwrap().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::error::RetryClass;

    #[test]
    fn return_code_fail_is_a_protocol_error_without_signature_check() {
        let body = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[\xe7\xad\xbe\xe5\x90\x8d\xe9\x94\x99\xe8\xaf\xaf]]></return_msg></xml>";
        let err = handle_reply::<OrderQuery>(body, SignType::Md5, &merchant(SignType::Md5).key).unwrap_err();
        assert!(matches!(err, Error::Protocol { ref return_msg } if return_msg == "签名错误"), "{err:?}");
    }

    #[test]
    fn a_reply_with_a_bad_signature_is_not_believed() {
        let mut body = signed_reply(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "SUCCESS"),
                ("trade_state", "NOTPAY"),
                ("out_trade_no", "T1"),
            ],
            SignType::Md5,
        );
        let text = String::from_utf8(body.clone()).unwrap().replace("NOTPAY", "SUCCESS");
        body = text.into_bytes();
        let err = handle_reply::<OrderQuery>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap_err();
        assert!(matches!(err, Error::Signature(_)), "{err:?}");
    }

    #[test]
    fn result_code_fail_is_a_business_error_with_retry_class() {
        let body = signed_reply(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "FAIL"),
                ("err_code", "SYSTEMERROR"),
                ("err_code_des", "系统超时"),
            ],
            SignType::HmacSha256,
        );
        let err = handle_reply::<Refund>(&body, SignType::HmacSha256, &merchant(SignType::HmacSha256).key).unwrap_err();
        match err {
            Error::Business { err_code, retry, .. } => {
                assert_eq!(err_code, ErrCode::SystemError);
                assert_eq!(retry, RetryClass::SameParameters);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_result_code_is_not_success() {
        let body = signed_reply(&[("return_code", "SUCCESS")], SignType::Md5);
        let err = handle_reply::<CloseOrder>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err:?}");
    }

    #[test]
    fn the_reply_is_verified_with_the_request_sign_type() {
        // Signed with MD5 while the request was HMAC: refused even though the length would say MD5.
        let body = signed_reply(
            &[("return_code", "SUCCESS"), ("result_code", "SUCCESS"), ("result_msg", "OK")],
            SignType::Md5,
        );
        let err = handle_reply::<CloseOrder>(&body, SignType::HmacSha256, &merchant(SignType::Md5).key).unwrap_err();
        assert!(matches!(err, Error::Signature(_)), "{err:?}");
    }

    #[test]
    fn nonces_are_32_alphanumerics() {
        let n = new_nonce();
        assert_eq!(n.len(), 32);
        assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(n, new_nonce());
    }
}
