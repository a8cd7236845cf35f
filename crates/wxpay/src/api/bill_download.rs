//! `/pay/downloadbill` (§7.1–7.5) and `/pay/downloadfundflow` (§7.6, mutual TLS, HMAC-SHA256 only).
//! A successful reply is the bill itself (text or gzip), unsigned; a failure is a small XML document.
//! "No Bill Exist" (a day without transactions) and "Bill Creating" (before 10:00 the next day) are
//! states, not failures.

use chrono::NaiveDate;

use super::Request;
use crate::enums::SignType;
use crate::error::{Api, ErrCode, Error};
use crate::sign::{self, ApiKey};
use crate::time::format_bill_date;
use crate::xml::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BillType {
    All,
    Success,
    Refund,
    RechargeRefund,
}

impl BillType {
    pub fn as_str(self) -> &'static str {
        match self {
            BillType::All => "ALL",
            BillType::Success => "SUCCESS",
            BillType::Refund => "REFUND",
            BillType::RechargeRefund => "RECHARGE_REFUND",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadBill {
    /// The Beijing day.
    pub bill_date: NaiveDate,
    pub bill_type: BillType,
    /// `tar_type=GZIP`: the body is gzip bytes of the same text (errors still come back as XML).
    pub gzip: bool,
}

impl Request for DownloadBill {
    const API: Api = Api::DownloadBill;

    fn write_fields(&self, m: &mut Message) -> Result<(), Error> {
        m.set("bill_date", format_bill_date(self.bill_date));
        m.set("bill_type", self.bill_type.as_str());
        if self.gzip {
            m.set("tar_type", "GZIP");
        }
        Ok(())
    }
}

/// 资金账户 of the fund-flow bill; the capitalisation is the protocol's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccountType {
    Basic,
    Operation,
    Fees,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Basic => "Basic",
            AccountType::Operation => "Operation",
            AccountType::Fees => "Fees",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadFundFlow {
    pub bill_date: NaiveDate,
    pub account_type: AccountType,
    pub gzip: bool,
}

impl Request for DownloadFundFlow {
    const API: Api = Api::DownloadFundFlow;

    fn write_fields(&self, m: &mut Message) -> Result<(), Error> {
        m.set("bill_date", format_bill_date(self.bill_date));
        m.set("account_type", self.account_type.as_str());
        if self.gzip {
            m.set("tar_type", "GZIP");
        }
        Ok(())
    }

    fn required_sign_type(&self) -> Option<SignType> {
        Some(SignType::HmacSha256)
    }
}

/// What a bill download gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadOutcome {
    /// The bill bytes exactly as received (gzip or text): keep them as evidence.
    Bill(Vec<u8>),
    /// "No Bill Exist" (error_code 20002): no transactions that day.
    NoBill,
    /// "Bill Creating": not generated yet; try after 10:00 Beijing time the next day.
    Creating,
}

/// Classifies a download reply: the bill itself, or an XML state/error (§7.3). An XML failure body
/// comes back uncompressed even for gzip requests.
pub fn classify_download(api: Api, body: Vec<u8>, sign_type: SignType, key: &ApiKey) -> Result<DownloadOutcome, Error> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(body.len());
    if !body[start..].starts_with(b"<") {
        return Ok(DownloadOutcome::Bill(body));
    }
    let message = Message::parse(&body)?;
    let return_msg = message.get("return_msg").unwrap_or("");
    if message.get("return_code") != Some("SUCCESS") {
        return match (return_msg, message.get("error_code")) {
            ("No Bill Exist", _) | (_, Some("20002")) => Ok(DownloadOutcome::NoBill),
            ("Bill Creating", _) => Ok(DownloadOutcome::Creating),
            (msg, code) => Err(Error::Protocol {
                return_msg: match code {
                    Some(c) => format!("{msg} (error_code {c})"),
                    None => msg.to_string(),
                },
            }),
        };
    }
    // downloadfundflow reports states as signed business errors (§7.6).
    if message.contains("sign") {
        sign::verify(&message, Some(sign_type), key)?;
    }
    let err_code = ErrCode::parse(message.get("err_code").unwrap_or(""));
    match err_code {
        ErrCode::NoBillExist => Ok(DownloadOutcome::NoBill),
        ErrCode::BillCreating => Ok(DownloadOutcome::Creating),
        _ => {
            let retry = err_code.retry_class(api);
            Err(Error::Business {
                err_code,
                err_code_des: message.get("err_code_des").unwrap_or(return_msg).chars().take(128).collect(),
                retry,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()
    }

    #[test]
    fn downloadbill_request_xml_is_exact() {
        let r = DownloadBill { bill_date: day(), bill_type: BillType::All, gzip: true };
        let (xml, _) = request_body(&r, &merchant(SignType::Md5), "21df7dc9cd8616b56919f20d9f679233").unwrap();
        assert_eq!(
            xml,
            "<xml><appid><![CDATA[wxd930ea5d5a258f4f]]></appid><mch_id>10000100</mch_id>\
             <nonce_str><![CDATA[21df7dc9cd8616b56919f20d9f679233]]></nonce_str><bill_date>20240301</bill_date>\
             <bill_type><![CDATA[ALL]]></bill_type><tar_type><![CDATA[GZIP]]></tar_type>\
             <sign><![CDATA[DA0D790865918675052900F2E8174D79]]></sign></xml>"
        );
    }

    #[test]
    fn fundflow_is_always_hmac() {
        let r = DownloadFundFlow { bill_date: day(), account_type: AccountType::Basic, gzip: false };
        let (xml, st) = request_body(&r, &merchant(SignType::Md5), "n").unwrap();
        assert_eq!(st, SignType::HmacSha256);
        let m = Message::parse(xml.as_bytes()).unwrap();
        assert_eq!(m.get("sign_type"), Some("HMAC-SHA256"));
        assert_eq!(m.get("account_type"), Some("Basic"));
        assert_eq!(m.get("sign").map(str::len), Some(64));
    }

    #[test]
    fn no_bill_and_bill_creating_are_states() {
        let key = merchant(SignType::Md5).key;
        let no_bill = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[No Bill Exist]]></return_msg><error_code><![CDATA[20002]]></error_code></xml>".to_vec();
        assert_eq!(
            classify_download(Api::DownloadBill, no_bill, SignType::Md5, &key).unwrap(),
            DownloadOutcome::NoBill
        );
        let creating =
            b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[Bill Creating]]></return_msg></xml>"
                .to_vec();
        assert_eq!(
            classify_download(Api::DownloadBill, creating, SignType::Md5, &key).unwrap(),
            DownloadOutcome::Creating
        );
        let other = b"<xml><return_code>FAIL</return_code><return_msg>invalid bill_type</return_msg></xml>".to_vec();
        assert!(matches!(
            classify_download(Api::DownloadBill, other, SignType::Md5, &key),
            Err(Error::Protocol { .. })
        ));
    }

    #[test]
    fn a_bill_is_returned_byte_for_byte() {
        let key = merchant(SignType::Md5).key;
        let text = "\u{feff}交易时间,公众账号ID\r\n".as_bytes().to_vec();
        assert_eq!(
            classify_download(Api::DownloadBill, text.clone(), SignType::Md5, &key).unwrap(),
            DownloadOutcome::Bill(text)
        );
        let gz = vec![0x1f, 0x8b, 8, 0];
        assert_eq!(
            classify_download(Api::DownloadBill, gz.clone(), SignType::Md5, &key).unwrap(),
            DownloadOutcome::Bill(gz)
        );
    }

    #[test]
    fn fundflow_states_come_as_signed_business_errors() {
        let key = merchant(SignType::HmacSha256).key;
        let body = signed_reply(
            &[("return_code", "SUCCESS"), ("result_code", "FAIL"), ("err_code", "NO_BILL_EXIST")],
            SignType::HmacSha256,
        );
        assert_eq!(
            classify_download(Api::DownloadFundFlow, body, SignType::HmacSha256, &key).unwrap(),
            DownloadOutcome::NoBill
        );
    }
}
