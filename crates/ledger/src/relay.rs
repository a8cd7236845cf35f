//! The relay outbox (migrations `0002_relay_outbox`): notify-receiver forwards each notification that changed the
//! ledger to the shop backend. The event row is written in the same transaction that applies the notification
//! ([`Ledger::apply_payment_notification_relayed`], [`Ledger::apply_refund_notification_relayed`]), so an applied
//! fact is never lost for the relay; workers then claim due rows with a lease, deliver them and mark them delivered
//! or due again later. Delivery is at least once: the receiver of the relay deduplicates by the notification id.

use chrono::{DateTime, Duration, Utc};

use crate::db::{args, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{
    AppliedNotification, Evidence, MerchantId, NotificationId, NotificationKind, NotificationOutcome, PaymentFacts,
    Provenance, RefundNotificationFacts, Source,
};
use crate::notifications::{apply_refund_facts, claim, finish, outcome};
use crate::orders::{apply_payment_in, PaymentDecision};
use crate::Ledger;

/// A relay outbox row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RelayEventId(pub i64);

impl std::fmt::Display for RelayEventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One event to forward to the shop backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayEvent {
    pub id: RelayEventId,
    /// The applied notification; the event's idempotency key for whoever receives it.
    pub notification_id: NotificationId,
    pub kind: NotificationKind,
    /// APPLIED or UNKNOWN_ORDER.
    pub outcome: NotificationOutcome,
    /// The facts as JSON, as the receiver wrote them.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    /// Deliveries tried so far (counted when claimed).
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// How much is waiting to be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayBacklog {
    pub pending: i64,
    pub delivered: i64,
    /// When the oldest undelivered event was written.
    pub oldest_pending: Option<DateTime<Utc>>,
}

const COLS: &str = "id, notification_id, event_type, outcome, payload, created_at, attempts, next_attempt_at, \
    delivered_at, last_error";

fn event_from_row(row: &Row) -> Result<RelayEvent> {
    let kind = match row.text("event_type")?.as_str() {
        "payment" => NotificationKind::Payment,
        "refund" => NotificationKind::Refund,
        other => return Err(Error::Corrupt(format!("relay event_type {other:?}"))),
    };
    Ok(RelayEvent {
        id: RelayEventId(row.i64("id")?),
        notification_id: NotificationId(row.i64("notification_id")?),
        kind,
        outcome: NotificationOutcome::from_db(&row.text("outcome")?)?,
        payload: row.text("payload")?,
        created_at: row.ts("created_at")?,
        attempts: row.i64("attempts")?,
        next_attempt_at: row.ts("next_attempt_at")?,
        delivered_at: row.opt_ts("delivered_at")?,
        last_error: row.opt_text("last_error")?,
    })
}

/// The body of [`Ledger::apply_payment_notification_relayed`] inside `tx` (also the batch path's fallback).
pub(crate) async fn apply_payment_relayed_in(
    tx: &mut Tx,
    id: NotificationId,
    facts: &PaymentFacts,
    at: DateTime<Utc>,
    relay_payload: Option<&str>,
) -> Result<AppliedNotification> {
    if let Err(done) = claim(tx, id, NotificationKind::Payment).await? {
        return Ok(done);
    }
    let provenance = Provenance::new(Source::Notification, at).with_evidence(Evidence::Notification(id));
    let applied = match apply_payment_in(tx, facts, &provenance).await? {
        PaymentDecision::Applied(order) => outcome(NotificationOutcome::Applied, None, Some(order)),
        PaymentDecision::Duplicate(order) => outcome(NotificationOutcome::Duplicate, None, Some(order)),
        PaymentDecision::UnknownOrder(order) => {
            outcome(NotificationOutcome::UnknownOrder, Some("UNREGISTERED".into()), Some(order))
        }
        PaymentDecision::Rejected(order, reason) => outcome(NotificationOutcome::Rejected, Some(reason), order),
    };
    finish(tx, id, &applied, at).await?;
    enqueue_in(tx, id, NotificationKind::Payment, &applied, relay_payload, at).await?;
    Ok(applied)
}

/// The relay event's `event_type`.
pub(crate) fn kind_text(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Payment => "payment",
        NotificationKind::Refund => "refund",
    }
}

/// Writes the outbox row when the notification changed the ledger (APPLIED or UNKNOWN_ORDER).
pub(crate) async fn enqueue_in(
    tx: &mut Tx,
    id: NotificationId,
    kind: NotificationKind,
    applied: &AppliedNotification,
    payload: Option<&str>,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(payload) = payload else { return Ok(()) };
    if !matches!(applied.outcome, NotificationOutcome::Applied | NotificationOutcome::UnknownOrder) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO relay_outbox (notification_id, event_type, outcome, payload, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (notification_id) DO NOTHING",
        args![id.0, kind_text(kind), applied.outcome.as_str(), payload, at],
    )
    .await?;
    Ok(())
}

impl Ledger {
    /// [`Ledger::apply_payment_notification`], and in the same transaction, when the notification changed the
    /// ledger and `relay_payload` is given, the relay event with that JSON payload.
    pub async fn apply_payment_notification_relayed(
        &self,
        id: NotificationId,
        facts: &PaymentFacts,
        at: DateTime<Utc>,
        relay_payload: Option<&str>,
    ) -> Result<AppliedNotification> {
        let mut tx = self.db.begin().await?;
        let applied = apply_payment_relayed_in(&mut tx, id, facts, at, relay_payload).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// [`Ledger::apply_refund_notification`], and in the same transaction, when the notification changed the
    /// ledger and `relay_payload` is given, the relay event with that JSON payload.
    pub async fn apply_refund_notification_relayed(
        &self,
        id: NotificationId,
        facts: &RefundNotificationFacts,
        at: DateTime<Utc>,
        relay_payload: Option<&str>,
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
            Some(row) => apply_refund_facts(&mut tx, MerchantId(row.i64("id")?), facts, &provenance).await?,
        };
        finish(&mut tx, id, &applied, at).await?;
        enqueue_in(&mut tx, id, NotificationKind::Refund, &applied, relay_payload, at).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Claims up to `limit` due relay events (oldest due first): each claimed row's next attempt moves `lease`
    /// ahead and its attempt count goes up, so another worker does not take it meanwhile and a worker that dies
    /// holding it only delays it. The caller reports each with [`Ledger::relay_delivered`] or
    /// [`Ledger::relay_failed`].
    pub async fn claim_relay_events(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> Result<Vec<RelayEvent>> {
        let until = now.checked_add_signed(lease).ok_or_else(|| Error::InvalidInput("lease too long".into()))?;
        // One statement, so one transaction on its own. The outer conditions repeat the inner ones: PostgreSQL
        // re-checks them on a row a concurrent claimer just updated (READ COMMITTED), so two workers never both
        // take a row; SQLite runs one writer at a time.
        let sql = format!(
            "UPDATE relay_outbox SET next_attempt_at = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM relay_outbox WHERE delivered_at IS NULL AND next_attempt_at <= $2 \
             ORDER BY next_attempt_at, id LIMIT $3) AND delivered_at IS NULL AND next_attempt_at <= $2 \
             RETURNING {COLS}"
        );
        let rows = self.db.fetch_all(&sql, args![until, now, i64::from(limit)]).await?;
        let mut events = rows.iter().map(event_from_row).collect::<Result<Vec<_>>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// The event reached the shop backend.
    pub async fn relay_delivered(&self, id: RelayEventId, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(
                "UPDATE relay_outbox SET delivered_at = $1, last_error = NULL WHERE id = $2 AND delivered_at IS NULL",
                args![at, id.0],
            )
            .await?;
        tx.commit().await?;
        if n != 1 {
            return Err(Error::NotFound { what: "undelivered relay event", key: id.to_string() });
        }
        Ok(())
    }

    /// The delivery failed: keep the error (never a secret) and try again at `retry_at`.
    pub async fn relay_failed(&self, id: RelayEventId, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        let error: String = error.chars().take(500).collect();
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(
                "UPDATE relay_outbox SET last_error = $1, next_attempt_at = $2 WHERE id = $3 AND delivered_at IS NULL",
                args![error, retry_at, id.0],
            )
            .await?;
        tx.commit().await?;
        if n != 1 {
            return Err(Error::NotFound { what: "undelivered relay event", key: id.to_string() });
        }
        Ok(())
    }

    /// Every relay event, oldest first (operations and tests).
    pub async fn relay_events(&self, limit: u32) -> Result<Vec<RelayEvent>> {
        let sql = format!("SELECT {COLS} FROM relay_outbox ORDER BY id LIMIT $1");
        self.db.fetch_all(&sql, args![i64::from(limit)]).await?.iter().map(event_from_row).collect()
    }

    /// How many events wait and since when.
    pub async fn relay_backlog(&self) -> Result<RelayBacklog> {
        let row = self
            .db
            .fetch_one(
                "SELECT CAST(COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending, \
                 CAST(COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) AS delivered \
                 FROM relay_outbox",
                args![],
            )
            .await?;
        let oldest = self
            .db
            .fetch_optional(
                "SELECT created_at FROM relay_outbox WHERE delivered_at IS NULL ORDER BY id LIMIT 1",
                args![],
            )
            .await?;
        Ok(RelayBacklog {
            pending: row.i64("pending")?,
            delivered: row.i64("delivered")?,
            oldest_pending: oldest.as_ref().map(|r| r.ts("created_at")).transpose()?,
        })
    }
}
