//! The notification inbox: every notification is stored raw before anything else is done with it (nothing
//! accepted is lost), then its verification result is recorded, then its fact is applied once in one transaction
//! that also records the outcome. The receiver answers SUCCESS only after that transaction commits.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::db::{args, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{
    AppliedNotification, Evidence, EvidenceId, EvidenceKind, IncomingNotification, MerchantId, NotificationId,
    NotificationKind, NotificationOutcome, OrderId, PaymentFacts, Provenance, RefundNotificationFacts, RefundRecordId,
    Source, StoredNotification, Verification, VerificationResult,
};
use crate::orders::{apply_payment_in, flag_order_in, order_by_no_in, PaymentDecision};
use crate::refunds::{apply_refund_observation_in, insert_external_refund_in, refund_by_no_in, RefundApplied};
use crate::Ledger;

const COLS: &str = "id, kind, received_at, remote_addr, headers, body, body_sha256, verification, \
    verification_detail, outcome, outcome_reason, order_id, refund_id, processed_at";

fn notification_from_row(row: &Row) -> Result<StoredNotification> {
    Ok(StoredNotification {
        id: NotificationId(row.i64("id")?),
        kind: NotificationKind::from_db(&row.text("kind")?)?,
        received_at: row.ts("received_at")?,
        remote_addr: row.opt_text("remote_addr")?,
        headers: row.text("headers")?,
        body: row.bytes("body")?,
        body_sha256: row.text("body_sha256")?,
        verification: Verification::from_db(&row.text("verification")?)?,
        verification_detail: row.opt_text("verification_detail")?,
        outcome: NotificationOutcome::from_db(&row.text("outcome")?)?,
        outcome_reason: row.opt_text("outcome_reason")?,
        order_id: row.opt_i64("order_id")?.map(OrderId),
        refund_id: row.opt_i64("refund_id")?.map(RefundRecordId),
        processed_at: row.opt_ts("processed_at")?,
    })
}

/// Reads the inbox row inside `tx`; `Ok(Err(applied))` when it was already processed (the stored outcome).
pub(crate) async fn claim(
    tx: &mut Tx,
    id: NotificationId,
    kind: NotificationKind,
) -> Result<std::result::Result<(), AppliedNotification>> {
    let row = tx
        .fetch_optional(
            "SELECT kind, verification, outcome, outcome_reason, order_id, refund_id FROM notifications WHERE id = $1",
            args![id.0],
        )
        .await?
        .ok_or_else(|| Error::NotFound { what: "notification", key: id.to_string() })?;
    if NotificationKind::from_db(&row.text("kind")?)? != kind {
        return Err(Error::InvalidInput(format!("notification {id} is not a {kind} notification")));
    }
    let outcome = NotificationOutcome::from_db(&row.text("outcome")?)?;
    if outcome != NotificationOutcome::Pending {
        return Ok(Err(AppliedNotification {
            outcome,
            reason: row.opt_text("outcome_reason")?,
            order_id: row.opt_i64("order_id")?.map(OrderId),
            refund_id: row.opt_i64("refund_id")?.map(RefundRecordId),
        }));
    }
    if Verification::from_db(&row.text("verification")?)? != Verification::Valid {
        return Err(Error::InvalidInput(format!("notification {id} is not verified")));
    }
    Ok(Ok(()))
}

/// Records the outcome, checking the row is still PENDING (two processes applying the same stored row: one wins).
pub(crate) async fn finish(
    tx: &mut Tx,
    id: NotificationId,
    applied: &AppliedNotification,
    at: DateTime<Utc>,
) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE notifications SET outcome = $1, outcome_reason = $2, order_id = $3, refund_id = $4, \
             processed_at = $5 WHERE id = $6 AND outcome = 'PENDING'",
            args![
                applied.outcome.as_str(),
                applied.reason.clone(),
                applied.order_id.map(|o| o.0),
                applied.refund_id.map(|r| r.0),
                at,
                id.0
            ],
        )
        .await?;
    if n != 1 {
        return Err(Error::Conflict(format!("notification {id}")));
    }
    Ok(())
}

pub(crate) fn outcome(
    outcome: NotificationOutcome,
    reason: Option<String>,
    order: Option<OrderId>,
) -> AppliedNotification {
    AppliedNotification { outcome, reason, order_id: order, refund_id: None }
}

impl Ledger {
    /// Stores a notification exactly as it arrived. Always the first step: it never fails on content.
    pub async fn store_notification(&self, incoming: &IncomingNotification) -> Result<NotificationId> {
        let headers: String = incoming.headers.iter().map(|(name, value)| format!("{name}: {value}\n")).collect();
        let sha = hex::encode(Sha256::digest(&incoming.body));
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_one(
                "INSERT INTO notifications (kind, received_at, remote_addr, headers, body, body_sha256) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                args![
                    incoming.kind.as_str(),
                    incoming.received_at,
                    incoming.remote_addr.clone(),
                    headers,
                    incoming.body.clone(),
                    sha
                ],
            )
            .await?;
        tx.commit().await?;
        Ok(NotificationId(row.i64("id")?))
    }

    /// Records the verification result once (PENDING → VALID / INVALID). An invalid notification is also marked
    /// REJECTED with the reason.
    pub async fn record_verification(
        &self,
        id: NotificationId,
        result: &VerificationResult,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let n = match result {
            VerificationResult::Valid { mch_id, out_trade_no, out_refund_no } => {
                tx.execute(
                    "UPDATE notifications SET verification = 'VALID', mch_id = $1, out_trade_no = $2, \
                     out_refund_no = $3 WHERE id = $4 AND verification = 'PENDING'",
                    args![
                        mch_id.as_str(),
                        out_trade_no.as_ref().map(|n| n.as_str().to_owned()),
                        out_refund_no.as_ref().map(|n| n.as_str().to_owned()),
                        id.0
                    ],
                )
                .await?
            }
            VerificationResult::Invalid { reason } => {
                tx.execute(
                    "UPDATE notifications SET verification = 'INVALID', verification_detail = $1, \
                     outcome = 'REJECTED', outcome_reason = $1, processed_at = $2 \
                     WHERE id = $3 AND verification = 'PENDING'",
                    args![reason.as_str(), at, id.0],
                )
                .await?
            }
        };
        if n != 1 {
            let exists = tx.fetch_optional("SELECT id FROM notifications WHERE id = $1", args![id.0]).await?;
            return Err(match exists {
                None => Error::NotFound { what: "notification", key: id.to_string() },
                Some(_) => Error::Conflict(format!("notification {id} verification already recorded")),
            });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies a verified payment notification once, in one transaction with its outcome: APPLIED (the order
    /// became paid), DUPLICATE (already paid by this transaction), UNKNOWN_ORDER (recorded as a paid, flagged
    /// order) or REJECTED with the reason (amount mismatch, another transaction id, …). Calling it again for the
    /// same stored notification returns the stored outcome.
    pub async fn apply_payment_notification(
        &self,
        id: NotificationId,
        facts: &PaymentFacts,
        at: DateTime<Utc>,
    ) -> Result<AppliedNotification> {
        let mut tx = self.db.begin().await?;
        if let Err(done) = claim(&mut tx, id, NotificationKind::Payment).await? {
            return Ok(done);
        }
        let provenance = Provenance::new(Source::Notification, at).with_evidence(Evidence::Notification(id));
        let applied = match apply_payment_in(&mut tx, facts, &provenance).await? {
            PaymentDecision::Applied(order) => outcome(NotificationOutcome::Applied, None, Some(order)),
            PaymentDecision::Duplicate(order) => outcome(NotificationOutcome::Duplicate, None, Some(order)),
            PaymentDecision::UnknownOrder(order) => {
                outcome(NotificationOutcome::UnknownOrder, Some("UNREGISTERED".into()), Some(order))
            }
            PaymentDecision::Rejected(order, reason) => outcome(NotificationOutcome::Rejected, Some(reason), order),
        };
        finish(&mut tx, id, &applied, at).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Applies a decrypted refund notification once. A refund Paydesk did not create (made in the merchant
    /// platform) is recorded as an EXTERNAL refund of its order; a notification for an unknown order is kept as
    /// UNKNOWN_ORDER and changes nothing else.
    pub async fn apply_refund_notification(
        &self,
        id: NotificationId,
        facts: &RefundNotificationFacts,
        at: DateTime<Utc>,
    ) -> Result<AppliedNotification> {
        let mut tx = self.db.begin().await?;
        if let Err(done) = claim(&mut tx, id, NotificationKind::Refund).await? {
            return Ok(done);
        }
        let provenance = Provenance::new(Source::Notification, at).with_evidence(Evidence::Notification(id));
        let merchant =
            tx.fetch_optional("SELECT id FROM merchants WHERE mch_id = $1", args![facts.mch_id.as_str()]).await?;
        let applied = match merchant {
            None => outcome(NotificationOutcome::Rejected, Some(format!("UNKNOWN_MERCHANT {}", facts.mch_id)), None),
            Some(row) => {
                let merchant = MerchantId(row.i64("id")?);
                apply_refund_facts(&mut tx, merchant, facts, &provenance).await?
            }
        };
        finish(&mut tx, id, &applied, at).await?;
        tx.commit().await?;
        Ok(applied)
    }

    pub async fn notification(&self, id: NotificationId) -> Result<StoredNotification> {
        let sql = format!("SELECT {COLS} FROM notifications WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id.0]).await?;
        row.as_ref()
            .map(notification_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "notification", key: id.to_string() })
    }

    /// Keeps a raw reply (orderquery, refundquery, refund reply) as the evidence of the facts learned from it;
    /// pass the id in a [`Provenance`] as [`Evidence::Raw`].
    pub async fn store_evidence(&self, kind: EvidenceKind, body: &[u8], at: DateTime<Utc>) -> Result<EvidenceId> {
        let sha = hex::encode(Sha256::digest(body));
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_one(
                "INSERT INTO evidence (kind, body, sha256, received_at) VALUES ($1, $2, $3, $4) RETURNING id",
                args![kind.as_str(), body.to_vec(), sha, at],
            )
            .await?;
        tx.commit().await?;
        Ok(EvidenceId(row.i64("id")?))
    }

    /// A stored raw reply: its kind and bytes.
    pub async fn evidence(&self, id: EvidenceId) -> Result<(EvidenceKind, Vec<u8>)> {
        let row = self
            .db
            .fetch_optional("SELECT kind, body FROM evidence WHERE id = $1", args![id.0])
            .await?
            .ok_or_else(|| Error::NotFound { what: "evidence", key: id.to_string() })?;
        Ok((EvidenceKind::from_db(&row.text("kind")?)?, row.bytes("body")?))
    }

    /// Stored notifications not yet processed (a receiver restarted mid-way picks them up), oldest first.
    pub async fn pending_notifications(&self, limit: u32) -> Result<Vec<StoredNotification>> {
        let sql = format!("SELECT {COLS} FROM notifications WHERE outcome = 'PENDING' ORDER BY id LIMIT $1");
        self.db.fetch_all(&sql, args![i64::from(limit)]).await?.iter().map(notification_from_row).collect()
    }

    /// The notifications that concerned an order, oldest first.
    pub async fn notifications_for_order(&self, order: OrderId) -> Result<Vec<StoredNotification>> {
        let sql = format!("SELECT {COLS} FROM notifications WHERE order_id = $1 ORDER BY id");
        self.db.fetch_all(&sql, args![order.0]).await?.iter().map(notification_from_row).collect()
    }
}

pub(crate) async fn apply_refund_facts(
    tx: &mut Tx,
    merchant: MerchantId,
    facts: &RefundNotificationFacts,
    provenance: &Provenance,
) -> Result<AppliedNotification> {
    let Some(order) = order_by_no_in(tx, merchant, &facts.out_trade_no).await? else {
        return Ok(outcome(NotificationOutcome::UnknownOrder, Some("no such order".into()), None));
    };
    if order.total_fee != facts.total_fee {
        let reason =
            format!("AMOUNT_MISMATCH: order {} fen, notification {} fen", order.total_fee.0, facts.total_fee.0);
        flag_order_in(tx, order.id, &reason, provenance).await?;
        return Ok(outcome(NotificationOutcome::Rejected, Some(reason), Some(order.id)));
    }
    let refund = match refund_by_no_in(tx, merchant, &facts.out_refund_no).await? {
        Some(refund) => refund,
        None => {
            let external = crate::model::ExternalRefund {
                order: order.id,
                out_refund_no: facts.out_refund_no.clone(),
                amount: facts.refund_fee,
                observation: facts.observation.clone(),
            };
            match insert_external_refund_in(tx, &external, provenance).await {
                Ok(refund) => {
                    return Ok(AppliedNotification {
                        outcome: NotificationOutcome::Applied,
                        reason: Some("EXTERNAL_REFUND".into()),
                        order_id: Some(order.id),
                        refund_id: Some(refund.id),
                    })
                }
                Err(Error::NotRefundable { reason, .. }) => {
                    let reason = format!("EXTERNAL_REFUND_NOT_RECORDED: {reason}");
                    flag_order_in(tx, order.id, &reason, provenance).await?;
                    return Ok(outcome(NotificationOutcome::Rejected, Some(reason), Some(order.id)));
                }
                Err(e) => return Err(e),
            }
        }
    };
    let mut applied = AppliedNotification {
        outcome: NotificationOutcome::Applied,
        reason: None,
        order_id: Some(order.id),
        refund_id: Some(refund.id),
    };
    if refund.amount != facts.refund_fee {
        let reason =
            format!("AMOUNT_MISMATCH: refund {} fen, notification {} fen", refund.amount.0, facts.refund_fee.0);
        flag_order_in(tx, order.id, &reason, provenance).await?;
        applied.outcome = NotificationOutcome::Rejected;
        applied.reason = Some(reason);
        return Ok(applied);
    }
    match apply_refund_observation_in(tx, &refund, &facts.observation, provenance).await {
        Ok(RefundApplied::Changed { .. }) => {}
        Ok(RefundApplied::Unchanged | RefundApplied::Duplicate) => applied.outcome = NotificationOutcome::Duplicate,
        Err(Error::InvalidTransition(e)) => {
            applied.outcome = NotificationOutcome::Rejected;
            applied.reason = Some(format!("INVALID_TRANSITION: {e}"));
        }
        Err(e) => return Err(e),
    }
    Ok(applied)
}
