//! `/pay/refundquery` (§5.5): the refunds of an order, or one refund, with their status. Indexed
//! `_$n` fields; an order with more than 10 refunds is paged with `offset` and reports
//! `total_refund_count`.

use super::{ApiRequest, Request};
use crate::enums::RefundStatus;
use crate::error::{Api, DecodeError, Error};
use crate::ids::{OutRefundNo, OutTradeNo, RefundId, TransactionId};
use crate::money::Fen;
use crate::notify::Fields;
use crate::time::BeijingTime;
use crate::xml::Message;

/// What to query by; WeChat's priority is refund_id > out_refund_no > transaction_id > out_trade_no,
/// and we send exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRef {
    RefundId(RefundId),
    OutRefundNo(OutRefundNo),
    TransactionId(TransactionId),
    OutTradeNo(OutTradeNo),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQuery {
    pub by: RefundRef,
    /// Start of the page of 10 (only with an order id).
    pub offset: Option<u32>,
}

/// One refund of the reply (`…_$n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryItem {
    pub index: u32,
    pub out_refund_no: OutRefundNo,
    pub refund_id: Option<RefundId>,
    pub refund_channel: Option<String>,
    pub refund_fee: Fen,
    pub settlement_refund_fee: Option<Fen>,
    pub coupon_refund_fee: Option<Fen>,
    pub refund_status: RefundStatus,
    pub refund_account: Option<String>,
    /// The protocol's spelling (`refund_recv_accout_$n`).
    pub refund_recv_accout: Option<String>,
    pub refund_success_time: Option<BeijingTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryReply {
    pub transaction_id: Option<TransactionId>,
    pub out_trade_no: Option<OutTradeNo>,
    pub total_fee: Option<Fen>,
    pub cash_fee: Option<Fen>,
    /// Refunds in this reply.
    pub refund_count: u32,
    /// All refunds of the order, when paging (`offset`) applies.
    pub total_refund_count: Option<u32>,
    pub refunds: Vec<RefundQueryItem>,
    pub message: Message,
}

impl Request for RefundQuery {
    const API: Api = Api::RefundQuery;

    fn write_fields(&self, m: &mut Message) -> Result<(), Error> {
        match &self.by {
            RefundRef::RefundId(id) => m.set("refund_id", id.as_str()),
            RefundRef::OutRefundNo(no) => m.set("out_refund_no", no.as_str()),
            RefundRef::TransactionId(id) => m.set("transaction_id", id.as_str()),
            RefundRef::OutTradeNo(no) => m.set("out_trade_no", no.as_str()),
        };
        m.set_opt("offset", self.offset.map(|o| o.to_string()));
        Ok(())
    }
}

impl ApiRequest for RefundQuery {
    type Reply = RefundQueryReply;

    fn read_reply(message: Message) -> Result<RefundQueryReply, DecodeError> {
        let f = Fields(&message);
        let refund_count = f.opt_u32("refund_count")?.unwrap_or(0);
        if refund_count > 50 {
            return Err(DecodeError::invalid("refund_count", "more than the 50 refunds an order can have"));
        }
        let mut refunds = Vec::with_capacity(usize::try_from(refund_count).unwrap_or(0));
        for n in 0..refund_count {
            let name = |base: &str| format!("{base}_{n}");
            let out_refund_no = f
                .opt_id::<OutRefundNo>(&name("out_refund_no"))?
                .ok_or_else(|| DecodeError::invalid(name("out_refund_no"), "missing"))?;
            let refund_fee =
                f.opt_fen(&name("refund_fee"))?.ok_or_else(|| DecodeError::invalid(name("refund_fee"), "missing"))?;
            let status = f
                .opt_string(&name("refund_status"))
                .ok_or_else(|| DecodeError::invalid(name("refund_status"), "missing"))?;
            refunds.push(RefundQueryItem {
                index: n,
                out_refund_no,
                refund_id: f.opt_id(&name("refund_id"))?,
                refund_channel: f.opt_string(&name("refund_channel")),
                refund_fee,
                settlement_refund_fee: f.opt_fen(&name("settlement_refund_fee"))?,
                coupon_refund_fee: f.opt_fen(&name("coupon_refund_fee"))?,
                refund_status: RefundStatus::parse(&status),
                refund_account: f.opt_string(&name("refund_account")),
                refund_recv_accout: f.opt_string(&name("refund_recv_accout")),
                refund_success_time: f.opt_time(&name("refund_success_time"))?,
            });
        }
        Ok(RefundQueryReply {
            transaction_id: f.opt_id("transaction_id")?,
            out_trade_no: f.opt_id("out_trade_no")?,
            total_fee: f.opt_fen("total_fee")?,
            cash_fee: f.opt_fen("cash_fee")?,
            refund_count,
            total_refund_count: f.opt_u32("total_refund_count")?,
            refunds,
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
    fn request_xml_with_offset_is_exact() {
        let q = RefundQuery { by: RefundRef::OutTradeNo(OutTradeNo::new("1415757673").unwrap()), offset: Some(10) };
        let (xml, _) = request_body(&q, &merchant(SignType::Md5), "0b9f35f484df17a732e537c37708d1d0").unwrap();
        assert_eq!(
            xml,
            "<xml><appid><![CDATA[wxd930ea5d5a258f4f]]></appid><mch_id>10000100</mch_id>\
             <nonce_str><![CDATA[0b9f35f484df17a732e537c37708d1d0]]></nonce_str>\
             <out_trade_no>1415757673</out_trade_no><offset>10</offset><sign><![CDATA[5500731C504274C86B5EA567502F49E0]]></sign></xml>"
        );
    }

    #[test]
    fn indexed_refunds_are_read_in_order() {
        let body = signed_reply(
            &[
                ("return_code", "SUCCESS"),
                ("result_code", "SUCCESS"),
                ("transaction_id", "1008450740201411110005820873"),
                ("out_trade_no", "1415757673"),
                ("total_fee", "500"),
                ("refund_count", "2"),
                ("total_refund_count", "12"),
                ("out_refund_no_1", "R2"),
                ("refund_fee_1", "200"),
                ("refund_status_1", "PROCESSING"),
                ("out_refund_no_0", "R1"),
                ("refund_id_0", "2008450740201411110000174436"),
                ("refund_fee_0", "100"),
                ("refund_status_0", "SUCCESS"),
                ("refund_recv_accout_0", "支付用户的零钱"),
                ("refund_success_time_0", "2016-07-25 15:26:26"),
            ],
            SignType::Md5,
        );
        let r = handle_reply::<RefundQuery>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap();
        assert_eq!(r.refund_count, 2);
        assert_eq!(r.total_refund_count, Some(12));
        assert_eq!(r.refunds[0].out_refund_no.as_str(), "R1");
        assert_eq!(r.refunds[0].refund_status, RefundStatus::Success);
        assert_eq!(r.refunds[0].refund_recv_accout.as_deref(), Some("支付用户的零钱"));
        assert_eq!(r.refunds[1].refund_fee, Fen(200));
        assert_eq!(r.refunds[1].refund_status, RefundStatus::Processing);
    }

    #[test]
    fn a_missing_indexed_field_is_an_error() {
        let body = signed_reply(
            &[("return_code", "SUCCESS"), ("result_code", "SUCCESS"), ("refund_count", "1"), ("out_refund_no_0", "R1")],
            SignType::Md5,
        );
        let err = handle_reply::<RefundQuery>(&body, SignType::Md5, &merchant(SignType::Md5).key).unwrap_err();
        assert!(matches!(err, Error::Decode(_)), "{err:?}");
    }
}
