//! `/secapi/pay/refund` (§5.4), mutual TLS. A `result_code=SUCCESS` reply means the refund was
//! ACCEPTED, not that money moved: the refund is PROCESSING until a refund notification or
//! refundquery says otherwise. `out_refund_no` is the idempotency key: a retry after a failure or a
//! timeout must reuse it with the same amount.

use super::{check_len, ApiRequest, OrderRef, Request};
use crate::error::{Api, DecodeError, Error};
use crate::ids::{OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::money::Fen;
use crate::notify::Fields;
use crate::xml::Message;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// transaction_id wins when WeChat gets both; we send exactly one.
    pub order: OrderRef,
    pub out_refund_no: OutRefundNo,
    /// The original order amount.
    pub total_fee: Fen,
    /// This refund's amount.
    pub refund_fee: Fen,
    /// 退款原因, ≤80 characters, shown to the customer.
    pub refund_desc: Option<String>,
    /// `REFUND_SOURCE_UNSETTLED_FUNDS` (default) or `REFUND_SOURCE_RECHARGE_FUNDS`.
    pub refund_account: Option<String>,
    /// Overrides the refund notification URL configured in the merchant platform.
    pub notify_url: Option<String>,
}

/// WeChat accepted the refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReply {
    pub transaction_id: Option<TransactionId>,
    pub out_trade_no: Option<OutTradeNo>,
    pub out_refund_no: OutRefundNo,
    pub refund_id: RefundId,
    pub refund_fee: Fen,
    pub total_fee: Option<Fen>,
    pub cash_fee: Option<Fen>,
    pub cash_refund_fee: Option<Fen>,
    pub settlement_refund_fee: Option<Fen>,
    pub coupon_refund_fee: Option<Fen>,
    pub message: Message,
}

impl Request for Refund {
    const API: Api = Api::Refund;

    fn write_fields(&self, m: &mut Message) -> Result<(), Error> {
        if self.refund_fee.get() <= 0 {
            return Err(Error::InvalidRequest(format!(
                "refund_fee must be at least 1 fen, got {}",
                self.refund_fee.get()
            )));
        }
        if self.refund_fee > self.total_fee {
            return Err(Error::InvalidRequest(format!(
                "refund_fee {} exceeds the order amount {}",
                self.refund_fee.get(),
                self.total_fee.get()
            )));
        }
        if let Some(desc) = &self.refund_desc {
            check_len("refund_desc", desc, 80)?;
        }
        if let Some(url) = &self.notify_url {
            check_len("notify_url", url, 256)?;
        }
        self.order.write(m);
        m.set("out_refund_no", self.out_refund_no.as_str());
        m.set("total_fee", self.total_fee.get().to_string());
        m.set("refund_fee", self.refund_fee.get().to_string());
        m.set_opt("refund_desc", self.refund_desc.as_deref());
        m.set_opt("refund_account", self.refund_account.as_deref());
        m.set_opt("notify_url", self.notify_url.as_deref());
        Ok(())
    }
}

impl ApiRequest for Refund {
    type Reply = RefundReply;

    fn read_reply(message: Message) -> Result<RefundReply, DecodeError> {
        let f = Fields(&message);
        Ok(RefundReply {
            transaction_id: f.opt_id("transaction_id")?,
            out_trade_no: f.opt_id("out_trade_no")?,
            out_refund_no: f.id("out_refund_no")?,
            refund_id: f.id("refund_id")?,
            refund_fee: f.fen("refund_fee")?,
            total_fee: f.opt_fen("total_fee")?,
            cash_fee: f.opt_fen("cash_fee")?,
            cash_refund_fee: f.opt_fen("cash_refund_fee")?,
            settlement_refund_fee: f.opt_fen("settlement_refund_fee")?,
            coupon_refund_fee: f.opt_fen("coupon_refund_fee")?,
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

    fn refund() -> Refund {
        Refund {
            order: OrderRef::TransactionId(TransactionId::new("1008450740201411110005820873").unwrap()),
            out_refund_no: OutRefundNo::new("1415701182").unwrap(),
            total_fee: Fen(1),
            refund_fee: Fen(1),
            refund_desc: Some("商品已售完".into()),
            refund_account: None,
            notify_url: None,
        }
    }

    #[test]
    fn request_xml_is_exact() {
        let (xml, _) = request_body(&refund(), &merchant(SignType::Md5), "6cefdb308e1e2e8aabd48cf79e546a02").unwrap();
        assert_eq!(
            xml,
            "<xml><appid><![CDATA[wxd930ea5d5a258f4f]]></appid><mch_id>10000100</mch_id>\
             <nonce_str><![CDATA[6cefdb308e1e2e8aabd48cf79e546a02]]></nonce_str>\
             <transaction_id>1008450740201411110005820873</transaction_id>\
             <out_refund_no>1415701182</out_refund_no><total_fee>1</total_fee><refund_fee>1</refund_fee>\
             <refund_desc><![CDATA[商品已售完]]></refund_desc><sign><![CDATA[29751BC0B0CC0A760F15FA525B53ADB4]]></sign></xml>"
        );
    }

    #[test]
    fn refund_desc_over_80_characters_is_refused() {
        let mut r = refund();
        r.refund_desc = Some("退".repeat(81));
        assert!(matches!(request_body(&r, &merchant(SignType::Md5), "n"), Err(Error::InvalidRequest(_))));
        r.refund_desc = Some("退".repeat(80));
        assert!(request_body(&r, &merchant(SignType::Md5), "n").is_ok());
    }

    #[test]
    fn refund_above_the_order_amount_is_refused_locally() {
        let mut r = refund();
        r.refund_fee = Fen(2);
        assert!(matches!(request_body(&r, &merchant(SignType::Md5), "n"), Err(Error::InvalidRequest(_))));
    }

    #[test]
    fn accepted_reply_with_an_empty_refund_channel_verifies() {
        let body = signed_reply(
            &[
                ("return_code", "SUCCESS"),
                ("return_msg", "OK"),
                ("result_code", "SUCCESS"),
                ("transaction_id", "1008450740201411110005820873"),
                ("out_trade_no", "1415757673"),
                ("out_refund_no", "1415701182"),
                ("refund_id", "2008450740201411110000174436"),
                ("refund_channel", ""),
                ("refund_fee", "1"),
            ],
            SignType::HmacSha256,
        );
        let r = handle_reply::<Refund>(&body, SignType::HmacSha256, &merchant(SignType::HmacSha256).key).unwrap();
        assert_eq!(r.refund_id.as_str(), "2008450740201411110000174436");
        assert_eq!(r.refund_fee, Fen(1));
    }
}
