//! Errors, kept apart the way a caller must react to them (§1.1): transport (nothing or something
//! may have reached WeChat), protocol (`return_code=FAIL`: the request was refused before business
//! logic), signature (the reply cannot be trusted), business (`result_code=FAIL` with an `err_code`
//! and a retry class from the §5 tables), decode (a reply we cannot read).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::sign::SignError;
use crate::xml::XmlError;

/// The API a call went to; retry classes of some codes differ per API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Api {
    UnifiedOrder,
    OrderQuery,
    CloseOrder,
    Refund,
    RefundQuery,
    DownloadBill,
    DownloadFundFlow,
}

impl Api {
    /// The path on the API host (§2).
    pub fn path(self) -> &'static str {
        match self {
            Api::UnifiedOrder => "/pay/unifiedorder",
            Api::OrderQuery => "/pay/orderquery",
            Api::CloseOrder => "/pay/closeorder",
            Api::Refund => "/secapi/pay/refund",
            Api::RefundQuery => "/pay/refundquery",
            Api::DownloadBill => "/pay/downloadbill",
            Api::DownloadFundFlow => "/pay/downloadfundflow",
        }
    }

    /// Whether the call needs the merchant's API certificate (mutual TLS).
    pub fn needs_client_certificate(self) -> bool {
        matches!(self, Api::Refund | Api::DownloadFundFlow)
    }
}

/// What the caller may do after a business error (§5 "retry" columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RetryClass {
    /// R: retry with identical parameters (and the same business ids).
    SameParameters,
    /// W: retry later, after waiting or after something changes (funds arrive, rate drops).
    Wait,
    /// N: do not retry; a person or a different request is needed.
    Never,
}

macro_rules! err_codes {
    ($($variant:ident = $text:literal),+ $(,)?) => {
        /// `err_code` of a `result_code=FAIL` reply (§5), with an arm for codes this version does not know.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum ErrCode {
            $($variant,)+
            Unknown(String),
        }

        impl ErrCode {
            pub fn parse(text: &str) -> ErrCode {
                match text {
                    $($text => ErrCode::$variant,)+
                    other => ErrCode::Unknown(other.to_string()),
                }
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrCode::$variant => $text,)+
                    ErrCode::Unknown(s) => s,
                }
            }
        }
    };
}

err_codes! {
    SystemError = "SYSTEMERROR",
    InvalidRequest = "INVALID_REQUEST",
    NoAuth = "NOAUTH",
    NotEnough = "NOTENOUGH",
    OrderPaid = "ORDERPAID",
    OrderClosed = "ORDERCLOSED",
    OrderNotExist = "ORDERNOTEXIST",
    AppIdNotExist = "APPID_NOT_EXIST",
    MchIdNotExist = "MCHID_NOT_EXIST",
    AppIdMchIdNotMatch = "APPID_MCHID_NOT_MATCH",
    LackParams = "LACK_PARAMS",
    OutTradeNoUsed = "OUT_TRADE_NO_USED",
    SignError = "SIGNERROR",
    XmlFormatError = "XML_FORMAT_ERROR",
    RequirePostMethod = "REQUIRE_POST_METHOD",
    PostDataEmpty = "POST_DATA_EMPTY",
    NotUtf8 = "NOT_UTF8",
    TradeStateError = "TRADE_STATE_ERROR",
    BizErrNeedRetry = "BIZERR_NEED_RETRY",
    TradeOverdue = "TRADE_OVERDUE",
    Error = "ERROR",
    UserAccountAbnormal = "USER_ACCOUNT_ABNORMAL",
    InvalidReqTooMuch = "INVALID_REQ_TOO_MUCH",
    InvalidTransactionId = "INVALID_TRANSACTIONID",
    ParamError = "PARAM_ERROR",
    FrequencyLimited = "FREQUENCY_LIMITED",
    RefundNotExist = "REFUNDNOTEXIST",
    NoBillExist = "NO_BILL_EXIST",
    BillCreating = "BILL_CREATING",
}

impl ErrCode {
    /// The retry class of this code on `api`, from the §5 tables. Unknown codes are never retried
    /// automatically: a person looks at them first.
    pub fn retry_class(&self, api: Api) -> RetryClass {
        use ErrCode::*;
        match self {
            SystemError | BizErrNeedRetry => RetryClass::SameParameters,
            InvalidReqTooMuch | FrequencyLimited | BillCreating => RetryClass::Wait,
            // The merchant's refundable balance is short: retry once funds arrive. At unifiedorder it
            // is the payer's balance, and nothing the merchant waits for changes it.
            NotEnough if api == Api::Refund => RetryClass::Wait,
            _ => RetryClass::Never,
        }
    }
}

impl From<String> for ErrCode {
    fn from(s: String) -> Self {
        ErrCode::parse(&s)
    }
}

impl From<ErrCode> for String {
    fn from(c: ErrCode) -> String {
        c.as_str().to_string()
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reply that parsed as XML but is not the reply it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("field {0} is missing")]
    Missing(&'static str),
    #[error("field {field} is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

impl DecodeError {
    pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        DecodeError::Invalid { field: field.into(), reason: reason.to_string() }
    }
}

/// How a call to WeChat failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connect, TLS, timeout or HTTP status: the request may or may not have reached WeChat, so a
    /// money-moving call must be retried with the same ids, never replaced by a new one.
    #[error("transport: {0}")]
    Transport(#[from] crate::client::TransportError),
    /// `return_code=FAIL`: WeChat refused the request itself (signature, format, permissions).
    #[error("WeChat refused the request: {return_msg}")]
    Protocol { return_msg: String },
    /// The reply's signature did not verify: do not believe anything in it.
    #[error("reply signature: {0}")]
    Signature(#[from] SignError),
    /// `result_code=FAIL`.
    #[error("WeChat business error {err_code}: {err_code_des} (retry: {retry:?})")]
    Business { err_code: ErrCode, err_code_des: String, retry: RetryClass },
    #[error("unreadable reply: {0}")]
    Decode(#[from] DecodeError),
    /// The request could not be built (invalid field value, XML-incompatible characters).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// The business error code, when this is one.
    pub fn err_code(&self) -> Option<&ErrCode> {
        match self {
            Error::Business { err_code, .. } => Some(err_code),
            _ => None,
        }
    }

    /// Whether an automatic retry with identical parameters is right: transport failures and
    /// R-class business errors.
    pub fn is_retryable_with_same_parameters(&self) -> bool {
        match self {
            Error::Transport(t) => t.is_retryable(),
            Error::Business { retry, .. } => *retry == RetryClass::SameParameters,
            _ => false,
        }
    }
}

impl From<XmlError> for Error {
    fn from(e: XmlError) -> Self {
        Error::Decode(DecodeError::Xml(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classes_follow_the_tables() {
        assert_eq!(ErrCode::parse("SYSTEMERROR").retry_class(Api::Refund), RetryClass::SameParameters);
        assert_eq!(ErrCode::parse("BIZERR_NEED_RETRY").retry_class(Api::Refund), RetryClass::SameParameters);
        assert_eq!(ErrCode::parse("NOTENOUGH").retry_class(Api::Refund), RetryClass::Wait);
        assert_eq!(ErrCode::parse("NOTENOUGH").retry_class(Api::UnifiedOrder), RetryClass::Never);
        assert_eq!(ErrCode::parse("FREQUENCY_LIMITED").retry_class(Api::Refund), RetryClass::Wait);
        assert_eq!(ErrCode::parse("TRADE_OVERDUE").retry_class(Api::Refund), RetryClass::Never);
        assert_eq!(ErrCode::parse("ORDERNOTEXIST").retry_class(Api::OrderQuery), RetryClass::Never);
        assert_eq!(ErrCode::parse("BRAND_NEW").retry_class(Api::Refund), RetryClass::Never);
        assert_eq!(ErrCode::parse("BRAND_NEW"), ErrCode::Unknown("BRAND_NEW".into()));
    }
}
