//! The actions on a discrepancy, each through the normal flows (the caller audits them and reconciles the day again):
//!
//! - **query**: WeChat is asked now — the order query of "query now" (source `query`, the raw reply as evidence)
//!   for an order the ledger has; for a paid order it does not have, the payment WeChat confirms is recorded (flagged
//!   UNREGISTERED, like an unregistered notification); refunds through `refundquery`.
//! - **record_from_bill**: the payment (or refund) the bill row shows is applied with source `bill` and the row as
//!   evidence: the same rules as a notification (amount, appid, transaction id checked; applied once).
//! - **propose_refund**: a refund application (origin desk) into the approval queue; the money is sent only when the
//!   owner approves it there. A payment the ledger does not have yet is recorded from the bill first.
//! - **explain**: the owner's note; the discrepancy is EXPLAINED.

use chrono::Utc;
use ledger::{
    ApplicationOrigin, DiscrepancyAction, DiscrepancyKind, DiscrepancyView, Evidence, EvidenceKind, ExternalRefund,
    NewRefundApplication, OrderId, PaymentFacts, Provenance, RefundObservation, Source, StoredBillRow,
};
use wxpay::api::{handle_reply, new_nonce, request_body, OrderQuery, RefundQuery, RefundRef, Request as _};
use wxpay::{
    AppId, BeijingTime, ErrCode, Fen, MchId, OutRefundNo, OutTradeNo, RefundStatus, TradeState, TransactionId,
};

use crate::core::{Core, CoreEvent};
use crate::error::{CoreError, CoreResult, Msg};
use crate::session::Session;

fn not_offered(action: &str) -> CoreError {
    CoreError::invalid(
        format!("这项差异现在不能执行“{action}”。"),
        format!("The action {action} is not available for this discrepancy now."),
    )
}

fn wechat_id<T, E>(parsed: Result<T, E>, what: &str) -> CoreResult<T> {
    parsed.map_err(|_| CoreError::Internal(format!("the bill row's {what} is not a valid id")))
}

/// The payment a bill row shows, as a notification would state it.
fn facts_from_row(session: &Session, row: &StoredBillRow) -> CoreResult<PaymentFacts> {
    let r = &row.row;
    let merchant = session.client.merchant();
    let transaction_id = r.transaction_id.clone().ok_or_else(|| not_offered("record_from_bill"))?;
    let out_trade_no = r.out_trade_no.clone().ok_or_else(|| not_offered("record_from_bill"))?;
    Ok(PaymentFacts {
        mch_id: match &r.mch_id {
            Some(m) => wechat_id(MchId::new(m.clone()), "mch_id")?,
            None => merchant.mch_id.clone(),
        },
        appid: match &r.appid {
            Some(a) => wechat_id(AppId::new(a.clone()), "appid")?,
            None => merchant.appid.clone(),
        },
        out_trade_no: wechat_id(OutTradeNo::new(out_trade_no), "out_trade_no")?,
        transaction_id: wechat_id(TransactionId::new(transaction_id), "transaction_id")?,
        total_fee: r.order_amount,
        cash_fee: None,
        settlement_total_fee: Some(r.settlement),
        coupon_fee: Some(r.coupon),
        fee_type: r.currency.clone(),
        trade_type: r.trade_type.as_deref().map(wxpay::TradeType::from),
        bank_type: r.bank_type.clone(),
        openid: r.openid.clone(),
        attach: r.attach.clone(),
        time_end: BeijingTime::from_utc(r.trade_time),
        sign_type: merchant.sign_type,
    })
}

fn refused(e: ledger::Error) -> CoreError {
    match e {
        ledger::Error::InvalidInput(why) => CoreError::Refused(Msg::new(
            format!("账本没有接受这笔付款：{why}"),
            format!("The ledger did not accept this payment: {why}"),
        )),
        e => e.into(),
    }
}

impl Core {
    async fn bill_row_of(&self, session: &Session, view: &DiscrepancyView) -> CoreResult<StoredBillRow> {
        let id = view.discrepancy.bill_row_id.ok_or_else(|| not_offered("record_from_bill"))?;
        Ok(session.ledger.bill_row(id).await?)
    }

    /// Records the bill row's payment (source `bill`, the row as evidence); returns the order.
    async fn record_payment_from_bill(&self, session: &Session, view: &DiscrepancyView) -> CoreResult<OrderId> {
        let row = self.bill_row_of(session, view).await?;
        let facts = facts_from_row(session, &row)?;
        let provenance = Provenance::new(Source::Bill, Utc::now())
            .with_evidence(Evidence::BillRow(row.id))
            .by(session.actor.clone());
        let id = session.ledger.record_payment(&facts, &provenance).await.map_err(refused)?;
        self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![facts.out_trade_no.as_str().to_string()] });
        Ok(id)
    }

    /// Records the bill row's refund (made outside Paydesk) with the status the bill shows.
    async fn record_refund_from_bill(&self, session: &Session, view: &DiscrepancyView) -> CoreResult<String> {
        let row = self.bill_row_of(session, view).await?;
        let r = &row.row;
        let no = r.out_refund_no.clone().ok_or_else(|| not_offered("record_from_bill"))?;
        let order = self.order_for_refund(session, r.out_trade_no.as_deref()).await?;
        let status = RefundStatus::parse(r.refund_status.as_deref().unwrap_or("PROCESSING"));
        let external = ExternalRefund {
            order,
            out_refund_no: wechat_id(OutRefundNo::new(no.clone()), "out_refund_no")?,
            amount: r.refund,
            observation: RefundObservation {
                status,
                refund_id: r.refund_id.clone().and_then(|i| wxpay::RefundId::new(i).ok()),
                refund_fee: Some(r.refund),
                success_time: r.refund_success_at.map(BeijingTime::from_utc),
                recv_account: None,
                refund_account: None,
                refund_channel: None,
            },
        };
        let provenance = Provenance::new(Source::Bill, Utc::now())
            .with_evidence(Evidence::BillRow(row.id))
            .by(session.actor.clone());
        session.ledger.record_external_refund(&external, &provenance).await?;
        self.emit(CoreEvent::RefundsChanged { out_refund_nos: vec![no.clone()] });
        Ok(no)
    }

    async fn order_for_refund(&self, session: &Session, out_trade_no: Option<&str>) -> CoreResult<OrderId> {
        let missing = || {
            CoreError::invalid(
                "这笔退款的订单不在账本里：请先把订单记入账本。",
                "The refund's order is not in the ledger: record the order first.",
            )
        };
        let no = out_trade_no.ok_or_else(missing)?;
        Ok(crate::orders::find(session, no).await.map_err(|_| missing())?.id)
    }

    /// orderquery for a paid order the ledger does not have; a confirmed payment is recorded (source `query`).
    async fn query_unknown_order(&self, session: &Session, view: &DiscrepancyView) -> CoreResult<()> {
        let row = self.bill_row_of(session, view).await?;
        let merchant = session.client.merchant();
        let request = match (&row.row.transaction_id, &row.row.out_trade_no) {
            (Some(t), _) => OrderQuery::by_transaction_id(wechat_id(TransactionId::new(t.clone()), "transaction_id")?),
            (None, Some(n)) => OrderQuery::by_out_trade_no(wechat_id(OutTradeNo::new(n.clone()), "out_trade_no")?),
            (None, None) => return Err(not_offered("query")),
        };
        let (body, sign_type) = request_body(&request, merchant, &new_nonce())?;
        let raw = session.client.transport().post(OrderQuery::API, body).await.map_err(wxpay::Error::from)?;
        let reply = match handle_reply::<OrderQuery>(&raw, sign_type, &merchant.key) {
            Ok(reply) => reply,
            Err(wxpay::Error::Business { err_code: ErrCode::OrderNotExist, .. }) => {
                return Err(CoreError::Refused(Msg::new(
                    "微信支付查不到这笔订单（ORDERNOTEXIST）。",
                    "WeChat Pay has no such order (ORDERNOTEXIST).",
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if !reply.trade_state.is_paid() {
            let state = reply.trade_state.as_str().to_string();
            return Err(CoreError::Refused(Msg::new(
                format!("微信说这笔订单是 {state}（未付款），账本没有改动。"),
                format!("WeChat says this order is {state} (not paid); the ledger was not changed."),
            )));
        }
        let now = Utc::now();
        let missing = || CoreError::Internal("a paid orderquery reply without its payment fields".into());
        let facts = PaymentFacts {
            mch_id: merchant.mch_id.clone(),
            appid: merchant.appid.clone(),
            out_trade_no: reply.out_trade_no.clone().ok_or_else(missing)?,
            transaction_id: reply.transaction_id.clone().ok_or_else(missing)?,
            total_fee: reply.total_fee.ok_or_else(missing)?,
            cash_fee: reply.cash_fee,
            settlement_total_fee: reply.settlement_total_fee,
            coupon_fee: reply.coupon_fee,
            fee_type: reply.message.get_non_empty("fee_type").map(str::to_string),
            trade_type: reply.trade_type.clone(),
            bank_type: reply.bank_type.clone(),
            openid: reply.openid.clone(),
            attach: reply.attach.clone(),
            time_end: reply.time_end.ok_or_else(missing)?,
            sign_type: merchant.sign_type,
        };
        let evidence = session.ledger.store_evidence(EvidenceKind::OrderQuery, &raw, now).await?;
        let provenance =
            Provenance::new(Source::Query, now).with_evidence(Evidence::Raw(evidence)).by(session.actor.clone());
        session.ledger.record_payment(&facts, &provenance).await.map_err(refused)?;
        if reply.trade_state == TradeState::Refund {
            // Paid and refunded since: the order query of the recorded order learns the rest.
            let order = crate::orders::find(session, facts.out_trade_no.as_str()).await?;
            crate::orders::check_order(session, &order, &session.actor).await?;
        }
        self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![facts.out_trade_no.as_str().to_string()] });
        Ok(())
    }

    /// refundquery for a refund the ledger does not have; what WeChat says is recorded as an external refund.
    async fn query_unknown_refund(&self, session: &Session, view: &DiscrepancyView) -> CoreResult<()> {
        let no = view.out_refund_no.clone().ok_or_else(|| not_offered("query"))?;
        let out_refund_no = wechat_id(OutRefundNo::new(no.clone()), "out_refund_no")?;
        let merchant = session.client.merchant();
        let request = RefundQuery { by: RefundRef::OutRefundNo(out_refund_no.clone()), offset: None };
        let (body, sign_type) = request_body(&request, merchant, &new_nonce())?;
        let raw = session.client.transport().post(RefundQuery::API, body).await.map_err(wxpay::Error::from)?;
        let reply = match handle_reply::<RefundQuery>(&raw, sign_type, &merchant.key) {
            Ok(reply) => reply,
            Err(wxpay::Error::Business { err_code: ErrCode::RefundNotExist, .. }) => {
                return Err(CoreError::Refused(Msg::new(
                    format!("微信支付查不到退款 {no}。"),
                    format!("WeChat Pay has no refund {no}."),
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let item = reply.refunds.iter().find(|i| i.out_refund_no == out_refund_no).ok_or_else(|| {
            CoreError::Refused(Msg::new(
                format!("微信支付查不到退款 {no}。"),
                format!("WeChat Pay has no refund {no}."),
            ))
        })?;
        let order = self.order_for_refund(session, view.out_trade_no.as_deref()).await?;
        let now = Utc::now();
        let evidence = session.ledger.store_evidence(EvidenceKind::RefundQuery, &raw, now).await?;
        let provenance =
            Provenance::new(Source::Query, now).with_evidence(Evidence::Raw(evidence)).by(session.actor.clone());
        let external = ExternalRefund {
            order,
            out_refund_no,
            amount: item.refund_fee,
            observation: RefundObservation {
                status: item.refund_status.clone(),
                refund_id: item.refund_id.clone(),
                refund_fee: Some(item.refund_fee),
                success_time: item.refund_success_time,
                recv_account: item.refund_recv_accout.clone(),
                refund_account: item.refund_account.clone(),
                refund_channel: item.refund_channel.clone(),
            },
        };
        session.ledger.record_external_refund(&external, &provenance).await?;
        self.emit(CoreEvent::RefundsChanged { out_refund_nos: vec![no] });
        Ok(())
    }

    /// Runs one action; returns what the audit entry says it did.
    pub(crate) async fn run_discrepancy_action(
        &self,
        session: &Session,
        view: &DiscrepancyView,
        action: &str,
        note: Option<&str>,
    ) -> CoreResult<String> {
        let d = &view.discrepancy;
        let offered = super::view::actions(view, session.role);
        if !offered.iter().any(|a| a == action) {
            return Err(not_offered(action));
        }
        match action {
            "query" => {
                match (d.kind, d.order_id, d.refund_id) {
                    (DiscrepancyKind::RefundMismatch, _, Some(_)) => {
                        let no = view.out_refund_no.clone().ok_or_else(|| not_offered("query"))?;
                        self.refund_query_now(&no).await?;
                    }
                    (DiscrepancyKind::RefundMismatch, _, None) => self.query_unknown_refund(session, view).await?,
                    (_, Some(order), _) => {
                        let order = session.ledger.order(order).await?;
                        self.order_query_now(order.out_trade_no.as_str()).await?;
                    }
                    (_, None, _) => self.query_unknown_order(session, view).await?,
                }
                Ok("queried".into())
            }
            "record_from_bill" => {
                if d.kind == DiscrepancyKind::RefundMismatch {
                    let no = self.record_refund_from_bill(session, view).await?;
                    return Ok(format!("refund {no} recorded from the bill"));
                }
                let order = self.record_payment_from_bill(session, view).await?;
                Ok(format!("payment recorded from the bill (order {order})"))
            }
            "propose_refund" => {
                let order_id = match (d.kind, d.order_id) {
                    (DiscrepancyKind::StatusMismatch | DiscrepancyKind::MissingInLedger, _) => {
                        // The payment must be in the ledger before a refund of it can be applied for.
                        let needs_record = match d.order_id {
                            Some(id) => !session.ledger.order(id).await?.trade_state.is_paid(),
                            None => true,
                        };
                        if needs_record {
                            self.record_payment_from_bill(session, view).await?
                        } else {
                            d.order_id.ok_or_else(|| not_offered("propose_refund"))?
                        }
                    }
                    (_, Some(id)) => id,
                    (_, None) => return Err(not_offered("propose_refund")),
                };
                let order = session.ledger.order(order_id).await?;
                let amount = match d.kind {
                    DiscrepancyKind::AmountMismatch => d
                        .wechat_amount
                        .zip(d.ledger_amount)
                        .and_then(|(w, l)| w.checked_sub(l))
                        .filter(|x| x.get() > 0)
                        .ok_or_else(|| not_offered("propose_refund"))?,
                    _ => order.refundable(),
                };
                if amount.get() <= 0 {
                    return Err(CoreError::RefundGuard(Msg::new(
                        "这笔订单已经没有可退的余额。",
                        "Nothing is left to refund on this order.",
                    )));
                }
                let reason = note.map(str::trim).filter(|n| !n.is_empty()).map_or_else(
                    || format!("对账差异 #{}（{}）", d.id, super::view::kind_text(d.kind)),
                    str::to_string,
                );
                let app = NewRefundApplication {
                    order: order.id,
                    amount: Fen(amount.get()),
                    reason: Some(reason.chars().take(200).collect()),
                    origin: ApplicationOrigin::Desk,
                    external_ref: Some(format!("discrepancy:{}", d.id)),
                    requested_by: session.actor.clone(),
                    requested_at: Utc::now(),
                };
                let (app, _) = session.ledger.register_refund_application(&app).await.map_err(|e| match e {
                    ledger::Error::NotRefundable { reason, .. } => CoreError::RefundGuard(Msg::new(
                        format!("不能为这笔订单申请退款：{reason}"),
                        format!("A refund cannot be applied for on this order: {reason}."),
                    )),
                    e => e.into(),
                })?;
                if d.status != ledger::DiscrepancyStatus::ActionPending {
                    session
                        .ledger
                        .update_discrepancy(
                            d.id,
                            ledger::transitions::DiscrepancyEvent::ActionStarted,
                            Some(DiscrepancyAction::Refund),
                            &session.actor,
                            Some(&format!("refund application #{}", app.id)),
                            Utc::now(),
                        )
                        .await?;
                }
                self.emit(CoreEvent::OrdersChanged { out_trade_nos: vec![order.out_trade_no.as_str().to_string()] });
                Ok(format!("refund application #{} for {} fen", app.id, amount.get()))
            }
            "explain" => {
                let note =
                    note.map(str::trim).filter(|n| !n.is_empty() && n.chars().count() <= 200).ok_or_else(|| {
                        CoreError::invalid("请写明原因（最多 200 个字符）。", "Say why (at most 200 characters).")
                    })?;
                session
                    .ledger
                    .update_discrepancy(
                        d.id,
                        ledger::transitions::DiscrepancyEvent::Explained,
                        Some(DiscrepancyAction::Explain),
                        &session.actor,
                        Some(note),
                        Utc::now(),
                    )
                    .await?;
                Ok("explained".into())
            }
            other => Err(not_offered(other)),
        }
    }
}
