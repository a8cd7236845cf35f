//! `/pay/closeorder` (§5.3): close an unpaid order. ORDERPAID means it was paid after all (handle as
//! paid); ORDERCLOSED means it is already closed (success-equivalent).

use super::{ApiRequest, Request};
use crate::error::{Api, DecodeError, Error};
use crate::ids::OutTradeNo;
use crate::notify::Fields;
use crate::xml::Message;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrder {
    pub out_trade_no: OutTradeNo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrderReply {
    pub result_msg: Option<String>,
    pub message: Message,
}

impl Request for CloseOrder {
    const API: Api = Api::CloseOrder;

    fn write_fields(&self, m: &mut Message) -> Result<(), Error> {
        m.set("out_trade_no", self.out_trade_no.as_str());
        Ok(())
    }
}

impl ApiRequest for CloseOrder {
    type Reply = CloseOrderReply;

    fn read_reply(message: Message) -> Result<CloseOrderReply, DecodeError> {
        Ok(CloseOrderReply { result_msg: Fields(&message).opt_string("result_msg"), message })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::*;
    use super::*;
    use crate::enums::SignType;

    #[test]
    fn request_xml_is_exact() {
        let q = CloseOrder { out_trade_no: OutTradeNo::new("T20240101_1").unwrap() };
        let (xml, _) = request_body(&q, &merchant(SignType::Md5), "abc").unwrap();
        assert_eq!(
            xml,
            "<xml><appid><![CDATA[wxd930ea5d5a258f4f]]></appid><mch_id>10000100</mch_id>\
             <nonce_str><![CDATA[abc]]></nonce_str><out_trade_no><![CDATA[T20240101_1]]></out_trade_no>\
             <sign><![CDATA[E68A32751675B93C7C064EB7B72C668E]]></sign></xml>"
        );
    }

    #[test]
    fn order_paid_is_reported() {
        let body = signed_reply(
            &[("return_code", "SUCCESS"), ("result_code", "FAIL"), ("err_code", "ORDERPAID")],
            SignType::Md5,
        );
        let err = handle_reply::<CloseOrder>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap_err();
        assert_eq!(err.err_code(), Some(&crate::error::ErrCode::OrderPaid));
    }
}
