//! Notifications from WeChat (§6): the payment result notification (signed) and the refund result
//! notification (unsigned; its `req_info` is AES-256-ECB encrypted with the MD5 of the API key), and
//! the exact acknowledgement bodies.
//!
//! Decoding here proves authenticity only: a payment notification's signature verifies, a refund
//! notification's `req_info` decrypts. Matching appid / mch_id / amount against what the merchant
//! knows is the receiver's job (it holds the ledger), and so is idempotency.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyInit};
use base64::Engine as _;
use md5::{Digest, Md5};

use crate::enums::{RefundStatus, SignType, TradeType};
use crate::error::DecodeError;
use crate::ids::{AppId, MchId, OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::money::Fen;
use crate::sign::{self, ApiKey, SignError};
use crate::time::BeijingTime;
use crate::xml::{Message, XmlError};

/// The body WeChat expects after a notification was taken (§6.1); anything else makes it retry.
pub const ACK_SUCCESS: &str =
    "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

/// The negative acknowledgement with a reason; WeChat retries on its schedule.
pub fn ack_fail(reason: &str) -> String {
    let msg = Message::from_pairs([("return_code", "FAIL"), ("return_msg", reason)]);
    msg.to_xml_all_cdata().unwrap_or_else(|_| {
        // A reason XML cannot carry (control characters) falls back to a fixed text.
        "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[FAIL]]></return_msg></xml>".to_string()
    })
}

/// Which notification a body is, told apart by content (a refund notification carries `req_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NotificationKind {
    Payment,
    Refund,
}

impl NotificationKind {
    pub fn of(message: &Message) -> NotificationKind {
        if message.contains("req_info") {
            NotificationKind::Refund
        } else {
            NotificationKind::Payment
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Payment => "pay",
            NotificationKind::Refund => "refund",
        }
    }
}

/// Why a notification was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("malformed notification: {0}")]
    Xml(#[from] XmlError),
    #[error("notification says return_code={return_code}: {return_msg}")]
    NotSuccess { return_code: String, return_msg: String },
    #[error("payment notification signature: {0}")]
    Signature(#[from] SignError),
    #[error("refund notification req_info is not valid base64")]
    BadBase64,
    #[error("refund notification req_info does not decrypt with this API key (wrong key, or forged)")]
    Decrypt,
    #[error("refund notification req_info decrypted to something that is not a <root> document: {0}")]
    BadPlaintext(XmlError),
    #[error("notification field: {0}")]
    Field(#[from] DecodeError),
}

/// A coupon used on a payment (`coupon_type_$n`, `coupon_id_$n`, `coupon_fee_$n`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Coupon {
    pub index: u32,
    pub coupon_type: Option<String>,
    pub id: Option<String>,
    pub fee: Option<Fen>,
}

/// A verified payment notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentNotification {
    /// Every field as received (what was verified, unknown fields included).
    pub message: Message,
    /// The algorithm whose signature verified.
    pub sign_type: SignType,
    pub appid: AppId,
    pub mch_id: MchId,
    pub out_trade_no: OutTradeNo,
    /// `result_code=SUCCESS`: the payment succeeded (the doc only sends notifications for successes,
    /// but a FAIL must never be applied as paid).
    pub paid: bool,
    pub transaction_id: Option<TransactionId>,
    pub total_fee: Fen,
    pub cash_fee: Option<Fen>,
    pub settlement_total_fee: Option<Fen>,
    pub coupon_fee: Option<Fen>,
    pub coupons: Vec<Coupon>,
    pub trade_type: Option<TradeType>,
    pub openid: Option<String>,
    pub bank_type: Option<String>,
    pub attach: Option<String>,
    pub time_end: Option<BeijingTime>,
    pub err_code: Option<String>,
}

/// A decrypted refund notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNotification {
    /// The outer envelope (`appid`, `mch_id`, `nonce_str`, `req_info`).
    pub outer: Message,
    /// The decrypted `<root>` fields.
    pub decrypted: Message,
    pub appid: AppId,
    pub mch_id: MchId,
    pub transaction_id: TransactionId,
    pub out_trade_no: OutTradeNo,
    pub refund_id: RefundId,
    pub out_refund_no: OutRefundNo,
    pub total_fee: Fen,
    pub settlement_total_fee: Option<Fen>,
    pub refund_fee: Fen,
    pub settlement_refund_fee: Option<Fen>,
    pub refund_status: RefundStatus,
    pub success_time: Option<BeijingTime>,
    /// 退款入账账户 (the protocol's spelling is `refund_recv_accout`).
    pub refund_recv_accout: Option<String>,
    pub refund_account: Option<String>,
    pub refund_request_source: Option<String>,
}

/// Either notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Payment(Box<PaymentNotification>),
    Refund(Box<RefundNotification>),
}

impl Notification {
    pub fn kind(&self) -> NotificationKind {
        match self {
            Notification::Payment(_) => NotificationKind::Payment,
            Notification::Refund(_) => NotificationKind::Refund,
        }
    }
}

/// Parses and authenticates a notification of either kind. `known_sign_type` is the sign type
/// stored with the order (§3.5), when the caller knows it.
pub fn decode(body: &[u8], key: &ApiKey, known_sign_type: Option<SignType>) -> Result<Notification, NotifyError> {
    let message = Message::parse(body)?;
    match NotificationKind::of(&message) {
        NotificationKind::Payment => {
            Ok(Notification::Payment(Box::new(payment_from_message(message, key, known_sign_type)?)))
        }
        NotificationKind::Refund => Ok(Notification::Refund(Box::new(refund_from_message(message, key)?))),
    }
}

/// Parses and verifies a payment notification.
pub fn decode_payment(
    body: &[u8],
    key: &ApiKey,
    known_sign_type: Option<SignType>,
) -> Result<PaymentNotification, NotifyError> {
    payment_from_message(Message::parse(body)?, key, known_sign_type)
}

/// Parses and decrypts a refund notification.
pub fn decode_refund(body: &[u8], key: &ApiKey) -> Result<RefundNotification, NotifyError> {
    refund_from_message(Message::parse(body)?, key)
}

fn check_return_code(message: &Message) -> Result<(), NotifyError> {
    match message.get("return_code") {
        Some("SUCCESS") => Ok(()),
        other => Err(NotifyError::NotSuccess {
            return_code: other.unwrap_or("").chars().take(32).collect(),
            return_msg: message.get("return_msg").unwrap_or("").chars().take(128).collect(),
        }),
    }
}

/// Verifies an already-parsed payment notification and reads its fields.
pub fn payment_from_message(
    message: Message,
    key: &ApiKey,
    known_sign_type: Option<SignType>,
) -> Result<PaymentNotification, NotifyError> {
    check_return_code(&message)?;
    let sign_type = sign::verify(&message, known_sign_type, key)?;
    let f = Fields(&message);
    let coupon_count = f.opt_u32("coupon_count")?.unwrap_or(0);
    let mut coupons = Vec::new();
    for index in 0..coupon_count.min(100) {
        coupons.push(Coupon {
            index,
            coupon_type: f.opt_string(&format!("coupon_type_{index}")),
            id: f.opt_string(&format!("coupon_id_{index}")),
            fee: f.opt_fen(&format!("coupon_fee_{index}"))?,
        });
    }
    Ok(PaymentNotification {
        sign_type,
        appid: f.id("appid")?,
        mch_id: f.id("mch_id")?,
        out_trade_no: f.id("out_trade_no")?,
        paid: message.get("result_code") == Some("SUCCESS"),
        transaction_id: f.opt_id("transaction_id")?,
        total_fee: f.fen("total_fee")?,
        cash_fee: f.opt_fen("cash_fee")?,
        settlement_total_fee: f.opt_fen("settlement_total_fee")?,
        coupon_fee: f.opt_fen("coupon_fee")?,
        coupons,
        trade_type: f.opt_string("trade_type").map(TradeType::from),
        openid: f.opt_string("openid"),
        bank_type: f.opt_string("bank_type"),
        attach: f.opt_string("attach"),
        time_end: f.opt_time("time_end")?,
        err_code: f.opt_string("err_code"),
        message,
    })
}

/// Decrypts an already-parsed refund notification and reads its fields.
pub fn refund_from_message(outer: Message, key: &ApiKey) -> Result<RefundNotification, NotifyError> {
    check_return_code(&outer)?;
    let req_info = outer.get_non_empty("req_info").ok_or(DecodeError::Missing("req_info"))?;
    let plaintext = decrypt_req_info(req_info, key)?;
    let decrypted = Message::parse_with_root(plaintext.as_bytes(), "root").map_err(NotifyError::BadPlaintext)?;
    let o = Fields(&outer);
    let d = Fields(&decrypted);
    Ok(RefundNotification {
        appid: o.id("appid")?,
        mch_id: o.id("mch_id")?,
        transaction_id: d.id("transaction_id")?,
        out_trade_no: d.id("out_trade_no")?,
        refund_id: d.id("refund_id")?,
        out_refund_no: d.id("out_refund_no")?,
        total_fee: d.fen("total_fee")?,
        settlement_total_fee: d.opt_fen("settlement_total_fee")?,
        refund_fee: d.fen("refund_fee")?,
        settlement_refund_fee: d.opt_fen("settlement_refund_fee")?,
        refund_status: RefundStatus::parse(d.string("refund_status")?),
        success_time: d.opt_time("success_time")?,
        refund_recv_accout: d.opt_string("refund_recv_accout"),
        refund_account: d.opt_string("refund_account"),
        refund_request_source: d.opt_string("refund_request_source"),
        outer,
        decrypted,
    })
}

/// The AES-256 key for `req_info`: the 32 ASCII bytes of the lowercase hex MD5 of the API key (§6.2).
fn req_info_key(key: &ApiKey) -> [u8; 32] {
    let hex_digest = hex::encode(Md5::digest(key.expose().as_bytes()));
    let mut out = [0u8; 32];
    out.copy_from_slice(&hex_digest.as_bytes()[..32]);
    out
}

type Aes256EcbDec = ecb::Decryptor<aes::Aes256>;
type Aes256EcbEnc = ecb::Encryptor<aes::Aes256>;

/// base64 → AES-256-ECB → PKCS#7 unpad → UTF-8.
pub fn decrypt_req_info(req_info: &str, key: &ApiKey) -> Result<String, NotifyError> {
    let cleaned: String = req_info.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let ciphertext = base64::engine::general_purpose::STANDARD.decode(cleaned).map_err(|_| NotifyError::BadBase64)?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(NotifyError::Decrypt);
    }
    let plain = Aes256EcbDec::new(&req_info_key(key).into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
        .map_err(|_| NotifyError::Decrypt)?;
    String::from_utf8(plain).map_err(|_| NotifyError::Decrypt)
}

/// The inverse of [`decrypt_req_info`], for the simulator and tests.
pub fn encrypt_req_info(plaintext: &str, key: &ApiKey) -> String {
    let ciphertext = Aes256EcbEnc::new(&req_info_key(key).into()).encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ciphertext)
}

/// Typed reads of a message's fields with errors naming the field.
pub(crate) struct Fields<'a>(pub(crate) &'a Message);

impl Fields<'_> {
    pub(crate) fn string(&self, name: &'static str) -> Result<&str, DecodeError> {
        self.0.get_non_empty(name).ok_or(DecodeError::Missing(name))
    }

    pub(crate) fn opt_string(&self, name: &str) -> Option<String> {
        self.0.get_non_empty(name).map(str::to_string)
    }

    pub(crate) fn id<T>(&self, name: &'static str) -> Result<T, DecodeError>
    where
        T: TryFrom<String, Error = crate::ids::IdError>,
    {
        T::try_from(self.string(name)?.to_string()).map_err(|e| DecodeError::invalid(name, e))
    }

    pub(crate) fn opt_id<T>(&self, name: &str) -> Result<Option<T>, DecodeError>
    where
        T: TryFrom<String, Error = crate::ids::IdError>,
    {
        self.0
            .get_non_empty(name)
            .map(|v| T::try_from(v.to_string()).map_err(|e| DecodeError::invalid(name, e)))
            .transpose()
    }

    pub(crate) fn fen(&self, name: &'static str) -> Result<Fen, DecodeError> {
        Fen::parse_api(self.string(name)?).map_err(|e| DecodeError::invalid(name, e))
    }

    pub(crate) fn opt_fen(&self, name: &str) -> Result<Option<Fen>, DecodeError> {
        self.0.get_non_empty(name).map(|v| Fen::parse_api(v).map_err(|e| DecodeError::invalid(name, e))).transpose()
    }

    pub(crate) fn opt_u32(&self, name: &str) -> Result<Option<u32>, DecodeError> {
        self.0
            .get_non_empty(name)
            .map(|v| v.parse::<u32>().map_err(|_| DecodeError::invalid(name, "expected a small whole number")))
            .transpose()
    }

    pub(crate) fn opt_time(&self, name: &str) -> Result<Option<BeijingTime>, DecodeError> {
        self.0
            .get_non_empty(name)
            .map(|v| BeijingTime::parse_any(v).map_err(|e| DecodeError::invalid(name, e)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund_plaintext() -> &'static str {
        "<root><out_refund_no><![CDATA[R1]]></out_refund_no><out_trade_no><![CDATA[T1]]></out_trade_no>\
         <refund_account><![CDATA[REFUND_SOURCE_RECHARGE_FUNDS]]></refund_account><refund_fee><![CDATA[300]]></refund_fee>\
         <refund_id><![CDATA[50000408942018111907145868882]]></refund_id><refund_recv_accout><![CDATA[支付用户零钱]]></refund_recv_accout>\
         <refund_request_source><![CDATA[API]]></refund_request_source><refund_status><![CDATA[SUCCESS]]></refund_status>\
         <settlement_refund_fee><![CDATA[300]]></settlement_refund_fee><success_time><![CDATA[2018-11-19 16:24:13]]></success_time>\
         <total_fee><![CDATA[1000]]></total_fee><transaction_id><![CDATA[4200000215201811190261405420]]></transaction_id></root>"
    }

    fn refund_envelope(req_info: &str) -> Vec<u8> {
        Message::from_pairs([
            ("return_code", "SUCCESS"),
            ("appid", "wx2421b1c4370ec43b"),
            ("mch_id", "10000100"),
            ("nonce_str", "n"),
            ("req_info", req_info),
        ])
        .to_xml()
        .unwrap()
        .into_bytes()
    }

    #[test]
    fn ack_bodies_are_exact() {
        assert_eq!(
            ACK_SUCCESS,
            "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
        );
        // Byte-for-byte the bodies of WxJava's WxPayNotifyResponseTest (fixtures notify/reply-*.xml).
        assert_eq!(
            ack_fail("500"),
            "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[500]]></return_msg></xml>"
        );
    }

    #[test]
    fn refund_notification_encrypted_with_a_known_key_decrypts() {
        let key = ApiKey::new("a-known-key-for-this-test-000001");
        let body = refund_envelope(&encrypt_req_info(refund_plaintext(), &key));
        let n = decode_refund(&body, &key).unwrap();
        assert_eq!(n.out_refund_no.as_str(), "R1");
        assert_eq!(n.refund_fee, Fen(300));
        assert_eq!(n.total_fee, Fen(1000));
        assert_eq!(n.refund_status, RefundStatus::Success);
        assert_eq!(n.refund_recv_accout.as_deref(), Some("支付用户零钱"));
        assert_eq!(n.success_time.map(|t| t.to_compact()), Some("20181119162413".into()));
    }

    #[test]
    fn refund_notification_with_the_wrong_key_or_bad_base64_is_refused() {
        let key = ApiKey::new("a-known-key-for-this-test-000001");
        let body = refund_envelope(&encrypt_req_info(refund_plaintext(), &key));
        let wrong = decode_refund(&body, &ApiKey::new("another-key"));
        assert!(matches!(wrong, Err(NotifyError::Decrypt | NotifyError::BadPlaintext(_))), "{wrong:?}");
        assert_eq!(decode_refund(&refund_envelope("***not base64***"), &key), Err(NotifyError::BadBase64));
        assert_eq!(decode_refund(&refund_envelope("QUJD"), &key), Err(NotifyError::Decrypt));
    }

    #[test]
    fn payment_notification_round_trip_md5_and_hmac_without_sign_type() {
        let key = ApiKey::new("k");
        for st in [SignType::Md5, SignType::HmacSha256] {
            let mut m = Message::from_pairs([
                ("return_code", "SUCCESS"),
                ("appid", "wx1"),
                ("mch_id", "1900000109"),
                ("nonce_str", "abc"),
                ("result_code", "SUCCESS"),
                ("out_trade_no", "T1"),
                ("transaction_id", "4200000001"),
                ("total_fee", "100"),
                ("time_end", "20240101120000"),
            ]);
            sign::sign_in_place(&mut m, st, &key);
            let n = decode_payment(m.to_xml().unwrap().as_bytes(), &key, None).unwrap();
            assert_eq!(n.sign_type, st);
            assert!(n.paid);
            assert_eq!(n.total_fee, Fen(100));
        }
    }

    #[test]
    fn kind_is_told_apart_by_content() {
        let refund = Message::parse(&refund_envelope("x")).unwrap();
        assert_eq!(NotificationKind::of(&refund), NotificationKind::Refund);
        let pay = Message::from_pairs([("return_code", "SUCCESS"), ("sign", "X")]);
        assert_eq!(NotificationKind::of(&pay), NotificationKind::Payment);
    }
}
