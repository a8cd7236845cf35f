//! `/pay/orderquery` (§5.2): an order's true state at WeChat. `result_code=SUCCESS` only means the
//! query worked; `trade_state` is the answer.

use super::{ApiRequest, OrderRef, Request};
use crate::enums::{TradeState, TradeType};
use crate::error::{Api, DecodeError, Error};
use crate::ids::{OutTradeNo, TransactionId};
use crate::money::Fen;
use crate::notify::{Coupon, Fields};
use crate::time::BeijingTime;
use crate::xml::Message;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    pub order: OrderRef,
}

impl OrderQuery {
    pub fn by_out_trade_no(no: OutTradeNo) -> Self {
        OrderQuery { order: OrderRef::OutTradeNo(no) }
    }

    pub fn by_transaction_id(id: TransactionId) -> Self {
        OrderQuery { order: OrderRef::TransactionId(id) }
    }
}

/// The state of an order at WeChat. Payment fields are present when it was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQueryReply {
    pub trade_state: TradeState,
    pub trade_state_desc: Option<String>,
    pub out_trade_no: Option<OutTradeNo>,
    pub transaction_id: Option<TransactionId>,
    pub total_fee: Option<Fen>,
    pub cash_fee: Option<Fen>,
    pub settlement_total_fee: Option<Fen>,
    pub coupon_fee: Option<Fen>,
    pub coupons: Vec<Coupon>,
    pub trade_type: Option<TradeType>,
    pub bank_type: Option<String>,
    pub openid: Option<String>,
    pub attach: Option<String>,
    pub time_end: Option<BeijingTime>,
    /// Every field as received, unknown ones included.
    pub message: Message,
}

impl Request for OrderQuery {
    const API: Api = Api::OrderQuery;

    fn write_fields(&self, m: &mut Message) -> Result<(), Error> {
        self.order.write(m);
        Ok(())
    }
}

impl ApiRequest for OrderQuery {
    type Reply = OrderQueryReply;

    fn read_reply(message: Message) -> Result<OrderQueryReply, DecodeError> {
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
        Ok(OrderQueryReply {
            trade_state: TradeState::parse(f.string("trade_state")?),
            trade_state_desc: f.opt_string("trade_state_desc"),
            out_trade_no: f.opt_id("out_trade_no")?,
            transaction_id: f.opt_id("transaction_id")?,
            total_fee: f.opt_fen("total_fee")?,
            cash_fee: f.opt_fen("cash_fee")?,
            settlement_total_fee: f.opt_fen("settlement_total_fee")?,
            coupon_fee: f.opt_fen("coupon_fee")?,
            coupons,
            trade_type: f.opt_string("trade_type").map(TradeType::from),
            bank_type: f.opt_string("bank_type"),
            openid: f.opt_string("openid"),
            attach: f.opt_string("attach"),
            time_end: f.opt_time("time_end")?,
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

    #[test]
    fn request_xml_is_exact() {
        let q = OrderQuery::by_out_trade_no(OutTradeNo::new("1415757673").unwrap());
        let (xml, st) = request_body(&q, &merchant(SignType::Md5), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS").unwrap();
        assert_eq!(st, SignType::Md5);
        assert_eq!(
            xml,
            "<xml><appid><![CDATA[wxd930ea5d5a258f4f]]></appid><mch_id>10000100</mch_id>\
             <nonce_str><![CDATA[5K8264ILTKCH16CQ2502SI8ZNMTM67VS]]></nonce_str>\
             <out_trade_no>1415757673</out_trade_no><sign><![CDATA[200CB37370BE77C43A819DF1186E3051]]></sign></xml>"
        );
    }

    #[test]
    fn hmac_request_carries_sign_type() {
        let q = OrderQuery::by_transaction_id(TransactionId::new("1008450740201411110005820873").unwrap());
        let (xml, st) = request_body(&q, &merchant(SignType::HmacSha256), "n0").unwrap();
        assert_eq!(st, SignType::HmacSha256);
        let m = Message::parse(xml.as_bytes()).unwrap();
        assert_eq!(m.get("sign_type"), Some("HMAC-SHA256"));
        assert_eq!(m.get("transaction_id"), Some("1008450740201411110005820873"));
        assert_eq!(m.get("sign").map(str::len), Some(64));
        assert!(crate::sign::verify(&m, None, &merchant(SignType::HmacSha256).key).is_ok());
    }

    #[test]
    fn paid_reply_reads_every_payment_field() {
        let body = signed_reply(
            &[
                ("return_code", "SUCCESS"),
                ("return_msg", "OK"),
                ("result_code", "SUCCESS"),
                ("trade_state", "SUCCESS"),
                ("out_trade_no", "1415757673"),
                ("transaction_id", "1008450740201411110005820873"),
                ("total_fee", "300"),
                ("cash_fee", "100"),
                ("coupon_fee", "200"),
                ("coupon_count", "1"),
                ("coupon_type_0", "NO_CASH"),
                ("coupon_id_0", "10001"),
                ("coupon_fee_0", "200"),
                ("trade_type", "JSAPI"),
                ("time_end", "20141111170043"),
                ("new_field_from_the_future", "x"),
            ],
            SignType::Md5,
        );
        let r = handle_reply::<OrderQuery>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap();
        assert_eq!(r.trade_state, TradeState::Success);
        assert_eq!(r.total_fee, Some(Fen(300)));
        assert_eq!(r.coupons.len(), 1);
        assert_eq!(r.coupons[0].fee, Some(Fen(200)));
        assert_eq!(r.time_end.map(BeijingTime::to_compact).as_deref(), Some("20141111170043"));
        assert_eq!(r.message.get("new_field_from_the_future"), Some("x"));
    }

    #[test]
    fn order_not_exist_is_a_business_error() {
        let body = signed_reply(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "FAIL"),
                ("err_code", "ORDERNOTEXIST"),
                ("err_code_des", "订单不存在"),
            ],
            SignType::Md5,
        );
        let err = handle_reply::<OrderQuery>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap_err();
        assert_eq!(err.err_code(), Some(&crate::error::ErrCode::OrderNotExist));
    }
}
