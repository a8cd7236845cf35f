//! `/pay/unifiedorder` (§5.1) for NATIVE (QR code) and JSAPI (official account / mini program)
//! payments. Calling again with the same `out_trade_no` and identical parameters returns a usable
//! prepay_id; different parameters get `INVALID_REQUEST` "201 商户订单号重复".

use super::{check_len, ApiRequest, Request};
use crate::enums::TradeType;
use crate::error::{Api, DecodeError, Error};
use crate::ids::OutTradeNo;
use crate::money::Fen;
use crate::notify::Fields;
use crate::time::BeijingTime;
use crate::xml::Message;

/// The payment channel and what it requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeKind {
    /// A QR code for the customer to scan; `product_id` is required.
    Native { product_id: String },
    /// Inside WeChat (official account page or mini program); the payer's `openid` is required.
    Jsapi { openid: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedOrder {
    pub kind: TradeKind,
    /// 商品描述, ≤127 characters.
    pub body: String,
    pub out_trade_no: OutTradeNo,
    pub total_fee: Fen,
    pub spbill_create_ip: String,
    pub notify_url: String,
    pub attach: Option<String>,
    pub detail: Option<String>,
    pub device_info: Option<String>,
    pub time_start: Option<BeijingTime>,
    pub time_expire: Option<BeijingTime>,
    pub goods_tag: Option<String>,
}

impl UnifiedOrder {
    pub fn trade_type(&self) -> TradeType {
        match self.kind {
            TradeKind::Native { .. } => TradeType::Native,
            TradeKind::Jsapi { .. } => TradeType::Jsapi,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedOrderReply {
    pub trade_type: Option<TradeType>,
    /// Valid for 2 hours.
    pub prepay_id: String,
    /// NATIVE only: the QR code content, opaque.
    pub code_url: Option<String>,
    pub message: Message,
}

impl Request for UnifiedOrder {
    const API: Api = Api::UnifiedOrder;

    fn write_fields(&self, m: &mut Message) -> Result<(), Error> {
        check_len("body", &self.body, 127)?;
        check_len("notify_url", &self.notify_url, 256)?;
        check_len("spbill_create_ip", &self.spbill_create_ip, 64)?;
        if self.body.is_empty() || self.notify_url.is_empty() || self.spbill_create_ip.is_empty() {
            return Err(Error::InvalidRequest("body, notify_url and spbill_create_ip are required".into()));
        }
        if self.total_fee.get() <= 0 {
            return Err(Error::InvalidRequest(format!(
                "total_fee must be at least 1 fen, got {}",
                self.total_fee.get()
            )));
        }
        if let Some(a) = &self.attach {
            check_len("attach", a, 127)?;
        }
        m.set_opt("device_info", self.device_info.as_deref());
        m.set("body", self.body.as_str());
        m.set_opt("detail", self.detail.as_deref());
        m.set_opt("attach", self.attach.as_deref());
        m.set("out_trade_no", self.out_trade_no.as_str());
        m.set("total_fee", self.total_fee.get().to_string());
        m.set("spbill_create_ip", self.spbill_create_ip.as_str());
        m.set_opt("time_start", self.time_start.map(BeijingTime::to_compact));
        m.set_opt("time_expire", self.time_expire.map(BeijingTime::to_compact));
        m.set_opt("goods_tag", self.goods_tag.as_deref());
        m.set("notify_url", self.notify_url.as_str());
        m.set("trade_type", self.trade_type().as_str());
        match &self.kind {
            TradeKind::Native { product_id } => {
                check_len("product_id", product_id, 32)?;
                m.set("product_id", product_id.as_str());
            }
            TradeKind::Jsapi { openid } => {
                check_len("openid", openid, 128)?;
                m.set("openid", openid.as_str());
            }
        }
        Ok(())
    }
}

impl ApiRequest for UnifiedOrder {
    type Reply = UnifiedOrderReply;

    fn read_reply(message: Message) -> Result<UnifiedOrderReply, DecodeError> {
        let f = Fields(&message);
        Ok(UnifiedOrderReply {
            trade_type: f.opt_string("trade_type").map(TradeType::from),
            prepay_id: f.string("prepay_id")?.to_string(),
            code_url: f.opt_string("code_url"),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;
    use crate::enums::SignType;

    fn native() -> UnifiedOrder {
        UnifiedOrder {
            kind: TradeKind::Native { product_id: "P1".into() },
            body: "腾讯充值中心-QQ会员充值".into(),
            out_trade_no: OutTradeNo::new("20150806125346").unwrap(),
            total_fee: Fen(88),
            spbill_create_ip: "123.12.12.123".into(),
            notify_url: "https://shop.example.com/wxpay/notify".into(),
            attach: Some("支付测试".into()),
            detail: None,
            device_info: None,
            time_start: None,
            time_expire: None,
            goods_tag: None,
        }
    }

    #[test]
    fn native_request_xml_is_exact() {
        let (xml, _) = request_body(&native(), &merchant(SignType::Md5), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS").unwrap();
        assert_eq!(
            xml,
            "<xml><appid><![CDATA[wxd930ea5d5a258f4f]]></appid><mch_id>10000100</mch_id>\
             <nonce_str><![CDATA[5K8264ILTKCH16CQ2502SI8ZNMTM67VS]]></nonce_str>\
             <body><![CDATA[腾讯充值中心-QQ会员充值]]></body><attach><![CDATA[支付测试]]></attach>\
             <out_trade_no>20150806125346</out_trade_no><total_fee>88</total_fee>\
             <spbill_create_ip><![CDATA[123.12.12.123]]></spbill_create_ip>\
             <notify_url><![CDATA[https://shop.example.com/wxpay/notify]]></notify_url>\
             <trade_type><![CDATA[NATIVE]]></trade_type><product_id><![CDATA[P1]]></product_id>\
             <sign><![CDATA[0D23A5655C9EE519D98BF4B29261712D]]></sign></xml>"
        );
    }

    #[test]
    fn jsapi_request_needs_openid_and_is_hmac_signed() {
        let mut o = native();
        o.kind = TradeKind::Jsapi { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into() };
        let (xml, st) = request_body(&o, &merchant(SignType::HmacSha256), "n").unwrap();
        assert_eq!(st, SignType::HmacSha256);
        let m = Message::parse(xml.as_bytes()).unwrap();
        assert_eq!(m.get("trade_type"), Some("JSAPI"));
        assert_eq!(m.get("openid"), Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
        assert_eq!(m.get("product_id"), None);
        assert_eq!(m.get("sign_type"), Some("HMAC-SHA256"));
    }

    #[test]
    fn invalid_orders_are_refused_before_sending() {
        let mut o = native();
        o.body = "长".repeat(128);
        assert!(matches!(request_body(&o, &merchant(SignType::Md5), "n"), Err(Error::InvalidRequest(_))));
        let mut o = native();
        o.total_fee = Fen(0);
        assert!(matches!(request_body(&o, &merchant(SignType::Md5), "n"), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn native_reply_has_code_url() {
        let body = signed_reply(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "SUCCESS"),
                ("trade_type", "NATIVE"),
                ("prepay_id", "wx201410272009395522657a690389285100"),
                ("code_url", "weixin://wxpay/bizpayurl?pr=GhvBPEd"),
            ],
            SignType::Md5,
        );
        let r = handle_reply::<UnifiedOrder>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap();
        assert_eq!(r.code_url.as_deref(), Some("weixin://wxpay/bizpayurl?pr=GhvBPEd"));
        assert_eq!(r.prepay_id, "wx201410272009395522657a690389285100");
    }
}
