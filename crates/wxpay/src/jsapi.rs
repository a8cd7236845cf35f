//! JSAPI / mini-program launch parameters (§9.1): what the page passes to
//! `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` or `wx.requestPayment`, signed with `paySign`.
//! Field names are camelCase exactly as signed (`appId` with a capital I, `timeStamp` as a string of
//! seconds). The front end's result is not authoritative: confirm by notification or orderquery.

use serde::Serialize;

use crate::enums::SignType;
use crate::ids::AppId;
use crate::sign::{self, ApiKey};
use crate::xml::Message;

/// The signed launch parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsapiParams {
    #[serde(rename = "appId")]
    pub app_id: String,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    pub package: String,
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

/// Signs launch parameters for `prepay_id`. `sign_type` must be the one used at unifiedorder;
/// `timestamp` is Unix seconds; `nonce` ≤32 characters.
pub fn launch_params(
    appid: &AppId,
    prepay_id: &str,
    sign_type: SignType,
    key: &ApiKey,
    timestamp: i64,
    nonce: &str,
) -> JsapiParams {
    let package = format!("prepay_id={prepay_id}");
    let time_stamp = timestamp.to_string();
    let message = Message::from_pairs([
        ("appId", appid.as_str()),
        ("timeStamp", time_stamp.as_str()),
        ("nonceStr", nonce),
        ("package", package.as_str()),
        ("signType", sign_type.as_str()),
    ]);
    let pay_sign = sign::sign(&message, sign_type, key);
    JsapiParams {
        app_id: appid.as_str().to_string(),
        time_stamp,
        nonce_str: nonce.to_string(),
        package,
        sign_type: sign_type.as_str().to_string(),
        pay_sign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mini-program example of the official doc (§9.1): paySign 22D9B4E54AB1950F51E0649E8810ACD6.
    #[test]
    fn official_mini_program_pay_sign() {
        let p = launch_params(
            &AppId::new("wxd678efh567hg6787").unwrap(),
            "wx2017033010242291fcfe0db70013231072",
            SignType::Md5,
            &ApiKey::new("qazwsxedcrfvtgbyhnujmikolp111111"),
            1490840662,
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        );
        assert_eq!(p.package, "prepay_id=wx2017033010242291fcfe0db70013231072");
        assert_eq!(p.pay_sign, "22D9B4E54AB1950F51E0649E8810ACD6");
    }

    #[test]
    fn hmac_pay_sign_signs_sign_type_inside_the_string() {
        let p = launch_params(&AppId::new("wx1").unwrap(), "wx2", SignType::HmacSha256, &ApiKey::new("k"), 1, "n");
        let m = Message::from_pairs([
            ("appId", "wx1"),
            ("nonceStr", "n"),
            ("package", "prepay_id=wx2"),
            ("signType", "HMAC-SHA256"),
            ("timeStamp", "1"),
        ]);
        assert_eq!(
            sign::string_to_sign(&m),
            "appId=wx1&nonceStr=n&package=prepay_id=wx2&signType=HMAC-SHA256&timeStamp=1"
        );
        assert_eq!(p.pay_sign, sign::sign(&m, SignType::HmacSha256, &ApiKey::new("k")));
        assert_eq!(p.pay_sign.len(), 64);
    }
}
