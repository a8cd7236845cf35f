//! Orders: registration by the shop backend, payments and queries applied once, the timeline, the order list
//! (keyset pages), lookups, per-day totals, the status-sync schedule, and the bulk import path.

use chrono::{DateTime, NaiveDate, Utc};
use wxpay::{AppId, BeijingTime, Fen, OutTradeNo, TradeState, TradeType, TransactionId};

use crate::db::{args, sqlite_bulk_insert, Arg, Engine, Row, Tx};
use crate::error::{Error, Result};
use crate::model::{
    id_from_db, sign_type_from_db, trade_state_from_db, ApplicationId, DayTotals, Evidence, ImportedOrder, MerchantId,
    NewOrder, NotificationId, Order, OrderCursor, OrderFilter, OrderId, OrderObservation, OrderPage, PaymentFacts,
    Provenance, RefundRecordId, Source, TimelineEntry,
};
use crate::transitions::{order_transition, OrderEvent};
use crate::Ledger;

pub(crate) const ORDER_COLS: &str = "id, merchant_id, out_trade_no, transaction_id, appid, sign_type, trade_type, \
    trade_state, body, attach, total_fee, cash_fee, settlement_total_fee, coupon_fee, fee_type, bank_type, openid, \
    refund_reserved, refunded_total, refund_count, origin, placed_at, paid_at, paid_day, time_expire, flag_reason, \
    next_check_at, last_checked_at, check_count, last_refund_request_at, created_at, updated_at";

pub(crate) fn order_from_row(row: &Row) -> Result<Order> {
    Ok(Order {
        id: OrderId(row.i64("id")?),
        merchant_id: MerchantId(row.i64("merchant_id")?),
        out_trade_no: id_from_db("out_trade_no", OutTradeNo::new(row.text("out_trade_no")?))?,
        transaction_id: row
            .opt_text("transaction_id")?
            .map(|t| id_from_db("transaction_id", TransactionId::new(t)))
            .transpose()?,
        appid: row.opt_text("appid")?.map(|t| id_from_db("appid", AppId::new(t))).transpose()?,
        sign_type: sign_type_from_db(&row.text("sign_type")?)?,
        trade_type: row.opt_text("trade_type")?.map(TradeType::from),
        trade_state: trade_state_from_db(&row.text("trade_state")?)?,
        body: row.opt_text("body")?,
        attach: row.opt_text("attach")?,
        total_fee: Fen(row.i64("total_fee")?),
        cash_fee: row.opt_i64("cash_fee")?.map(Fen),
        settlement_total_fee: row.opt_i64("settlement_total_fee")?.map(Fen),
        coupon_fee: row.opt_i64("coupon_fee")?.map(Fen),
        fee_type: row.text("fee_type")?,
        bank_type: row.opt_text("bank_type")?,
        openid: row.opt_text("openid")?,
        refund_reserved: Fen(row.i64("refund_reserved")?),
        refunded_total: Fen(row.i64("refunded_total")?),
        refund_count: row.i64("refund_count")?,
        origin: Source::from_db(&row.text("origin")?)?,
        placed_at: row.ts("placed_at")?,
        paid_at: row.opt_ts("paid_at")?,
        paid_day: row.opt_date("paid_day")?,
        time_expire: row.opt_ts("time_expire")?,
        flag_reason: row.opt_text("flag_reason")?,
        next_check_at: row.opt_ts("next_check_at")?,
        last_checked_at: row.opt_ts("last_checked_at")?,
        check_count: row.i64("check_count")?,
        last_refund_request_at: row.opt_ts("last_refund_request_at")?,
        created_at: row.ts("created_at")?,
        updated_at: row.ts("updated_at")?,
    })
}

/// The Beijing calendar day of a UTC instant (the bill day, §7; ARCHITECTURE.md §4).
pub(crate) fn beijing_day(t: DateTime<Utc>) -> NaiveDate {
    BeijingTime::from_utc(t).date()
}

/// A timeline entry to insert.
pub(crate) struct Event<'a> {
    pub order_id: OrderId,
    pub refund_id: Option<RefundRecordId>,
    pub application_id: Option<ApplicationId>,
    pub kind: &'a str,
    pub from_state: Option<&'a str>,
    pub to_state: Option<&'a str>,
    pub amount: Option<Fen>,
    pub provenance: &'a Provenance,
    pub note: Option<String>,
    /// The fact's idempotency key; `None` for entries that are not facts (attempts, notes).
    pub fact_key: Option<String>,
}

impl<'a> Event<'a> {
    pub(crate) fn new(order_id: OrderId, kind: &'a str, provenance: &'a Provenance) -> Self {
        Event {
            order_id,
            refund_id: None,
            application_id: None,
            kind,
            from_state: None,
            to_state: None,
            amount: None,
            provenance,
            note: None,
            fact_key: None,
        }
    }
}

/// Inserts a timeline entry. Returns `false` when its fact key was already recorded (the fact is a duplicate):
/// this unique key, not a read, is what makes applying a fact idempotent across processes.
pub(crate) async fn insert_event(tx: &mut Tx, event: Event<'_>) -> Result<bool> {
    let (notification, evidence, bill_row) = event.provenance.evidence.columns();
    let inserted = tx
        .execute(
            "INSERT INTO order_events (order_id, refund_id, application_id, kind, from_state, to_state, amount, \
             source, notification_id, evidence_id, bill_row_id, actor, note, fact_key, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (fact_key) DO NOTHING",
            args![
                event.order_id.0,
                event.refund_id.map(|r| r.0),
                event.application_id.map(|a| a.0),
                event.kind,
                event.from_state,
                event.to_state,
                event.amount,
                event.provenance.source.as_str(),
                notification,
                evidence,
                bill_row,
                event.provenance.actor.clone(),
                event.note,
                event.fact_key,
                event.provenance.at
            ],
        )
        .await?;
    Ok(inserted == 1)
}

pub(crate) async fn order_in(tx: &mut Tx, id: OrderId) -> Result<Order> {
    let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE id = $1");
    let row = tx.fetch_optional(&sql, args![id.0]).await?;
    row.as_ref().map(order_from_row).transpose()?.ok_or_else(|| Error::NotFound { what: "order", key: id.to_string() })
}

pub(crate) async fn order_by_no_in(tx: &mut Tx, merchant: MerchantId, no: &OutTradeNo) -> Result<Option<Order>> {
    let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND out_trade_no = $2");
    tx.fetch_optional(&sql, args![merchant.0, no.as_str()]).await?.as_ref().map(order_from_row).transpose()
}

/// What applying one fact to an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderApplied {
    /// The state changed.
    Changed { from: TradeState, to: TradeState },
    /// Consistent with the current state; nothing changed.
    Unchanged,
    /// This very fact was already recorded (by another process or an earlier delivery).
    Duplicate,
}

/// Applies one event to an order inside `tx`: the target state comes from the pure transition function, the
/// fact key refuses a second application, and the update checks the state it started from.
pub(crate) async fn apply_order_event_in(
    tx: &mut Tx,
    order: &Order,
    event: OrderEvent,
    payment: Option<&PaymentFacts>,
    provenance: &Provenance,
) -> Result<OrderApplied> {
    let from = order.trade_state.clone();
    let to = order_transition(&from, event)?;
    if to == from {
        return Ok(OrderApplied::Unchanged);
    }
    let mut ev = Event::new(order.id, "STATE", provenance);
    ev.from_state = Some(from.as_str());
    ev.to_state = Some(to.as_str());
    ev.fact_key = Some(format!("order:{}:{}", order.id, to.as_str()));
    if payment.is_some() {
        ev.amount = Some(order.total_fee);
    }
    if !insert_event(tx, ev).await? {
        return Ok(OrderApplied::Duplicate);
    }
    // A state that WeChat will not change on its own needs no more status checks.
    let clear_check = to.is_final();
    let changed = match payment.filter(|_| to == TradeState::Success) {
        Some(p) => {
            let paid_at = p.time_end.to_utc();
            tx.execute(
                "UPDATE orders SET trade_state = $1, transaction_id = $2, cash_fee = $3, settlement_total_fee = $4, \
                 coupon_fee = $5, fee_type = COALESCE($6, fee_type), trade_type = COALESCE($7, trade_type), \
                 bank_type = COALESCE($8, bank_type), openid = COALESCE($9, openid), \
                 attach = COALESCE(attach, $10), paid_at = $11, paid_day = $12, next_check_at = NULL, \
                 updated_at = $13 WHERE id = $14 AND trade_state = $15",
                args![
                    to.as_str(),
                    p.transaction_id.as_str(),
                    p.cash_fee,
                    p.settlement_total_fee,
                    p.coupon_fee,
                    p.fee_type.clone(),
                    p.trade_type.as_ref().map(|t| t.as_str().to_owned()),
                    p.bank_type.clone(),
                    p.openid.clone(),
                    p.attach.clone(),
                    paid_at,
                    beijing_day(paid_at),
                    provenance.at,
                    order.id.0,
                    from.as_str()
                ],
            )
            .await?
        }
        None => {
            let sql = if clear_check {
                "UPDATE orders SET trade_state = $1, next_check_at = NULL, updated_at = $2 \
                 WHERE id = $3 AND trade_state = $4"
            } else {
                "UPDATE orders SET trade_state = $1, updated_at = $2 WHERE id = $3 AND trade_state = $4"
            };
            tx.execute(sql, args![to.as_str(), provenance.at, order.id.0, from.as_str()]).await?
        }
    };
    if changed != 1 {
        return Err(Error::Conflict(format!("order {}", order.id)));
    }
    Ok(OrderApplied::Changed { from, to })
}

/// Marks an order for a person, with a timeline entry.
pub(crate) async fn flag_order_in(tx: &mut Tx, order: OrderId, reason: &str, provenance: &Provenance) -> Result<()> {
    tx.execute(
        "UPDATE orders SET flag_reason = $1, updated_at = $2 WHERE id = $3",
        args![reason, provenance.at, order.0],
    )
    .await?;
    let mut ev = Event::new(order, "FLAGGED", provenance);
    ev.note = Some(reason.to_owned());
    insert_event(tx, ev).await?;
    Ok(())
}

/// The outcome of applying a verified payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PaymentDecision {
    Applied(OrderId),
    Duplicate(OrderId),
    UnknownOrder(OrderId),
    Rejected(Option<OrderId>, String),
}

/// Applies a verified payment in `tx`: the shared core of payment notifications and SUCCESS queries.
pub(crate) async fn apply_payment_in(
    tx: &mut Tx,
    facts: &PaymentFacts,
    provenance: &Provenance,
) -> Result<PaymentDecision> {
    let merchant =
        tx.fetch_optional("SELECT id FROM merchants WHERE mch_id = $1", args![facts.mch_id.as_str()]).await?;
    let Some(merchant) = merchant else {
        return Ok(PaymentDecision::Rejected(None, format!("UNKNOWN_MERCHANT {}", facts.mch_id)));
    };
    let merchant = MerchantId(merchant.i64("id")?);
    let taken_by = tx
        .fetch_optional(
            "SELECT id, merchant_id, out_trade_no FROM orders WHERE transaction_id = $1",
            args![facts.transaction_id.as_str()],
        )
        .await?;
    if let Some(other) = taken_by {
        if other.i64("merchant_id")? != merchant.0 || other.text("out_trade_no")? != facts.out_trade_no.as_str() {
            return Ok(PaymentDecision::Rejected(
                Some(OrderId(other.i64("id")?)),
                "TRANSACTION_ID_BELONGS_TO_ANOTHER_ORDER".into(),
            ));
        }
    }

    let order = match order_by_no_in(tx, merchant, &facts.out_trade_no).await? {
        Some(order) => order,
        None => {
            // A verified payment nobody registered: money arrived, so it is recorded as a paid order, flagged.
            let paid_at = facts.time_end.to_utc();
            let inserted = tx
                .fetch_optional(
                    "INSERT INTO orders (merchant_id, out_trade_no, transaction_id, appid, sign_type, trade_type, \
                     trade_state, attach, total_fee, cash_fee, settlement_total_fee, coupon_fee, fee_type, bank_type, \
                     openid, origin, placed_at, paid_at, paid_day, flag_reason, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'SUCCESS', $7, $8, $9, $10, $11, COALESCE($12, 'CNY'), $13, $14, \
                     $15, $16, $16, $17, 'UNREGISTERED', $18, $18) \
                     ON CONFLICT (merchant_id, out_trade_no) DO NOTHING RETURNING id",
                    args![
                        merchant.0,
                        facts.out_trade_no.as_str(),
                        facts.transaction_id.as_str(),
                        facts.appid.as_str(),
                        facts.sign_type.as_str(),
                        facts.trade_type.as_ref().map(|t| t.as_str().to_owned()),
                        facts.attach.clone(),
                        facts.total_fee,
                        facts.cash_fee,
                        facts.settlement_total_fee,
                        facts.coupon_fee,
                        facts.fee_type.clone(),
                        facts.bank_type.clone(),
                        facts.openid.clone(),
                        provenance.source.as_str(),
                        paid_at,
                        beijing_day(paid_at),
                        provenance.at
                    ],
                )
                .await?;
            if let Some(row) = inserted {
                let id = OrderId(row.i64("id")?);
                let mut ev = Event::new(id, "STATE", provenance);
                ev.to_state = Some("SUCCESS");
                ev.amount = Some(facts.total_fee);
                ev.note = Some("UNREGISTERED: paid order nobody registered".into());
                ev.fact_key = Some(format!("order:{id}:SUCCESS"));
                insert_event(tx, ev).await?;
                return Ok(PaymentDecision::UnknownOrder(id));
            }
            // Another process recorded it a moment ago: continue as for a known order.
            order_by_no_in(tx, merchant, &facts.out_trade_no)
                .await?
                .ok_or_else(|| Error::Conflict(format!("order {}", facts.out_trade_no)))?
        }
    };

    if order.total_fee != facts.total_fee {
        // wxpay-v2.md §6.1: check total_fee against the local order ("fake notifications").
        let reason = format!("AMOUNT_MISMATCH: order {} fen, payment {} fen", order.total_fee.0, facts.total_fee.0);
        flag_order_in(tx, order.id, &reason, provenance).await?;
        return Ok(PaymentDecision::Rejected(Some(order.id), reason));
    }
    if let Some(appid) = &order.appid {
        if appid != &facts.appid {
            return Ok(PaymentDecision::Rejected(Some(order.id), format!("APPID_MISMATCH {}", facts.appid)));
        }
    }
    if let Some(existing) = &order.transaction_id {
        if existing != &facts.transaction_id {
            let reason = format!("TRANSACTION_ID_MISMATCH: order has {existing}");
            flag_order_in(tx, order.id, &reason, provenance).await?;
            return Ok(PaymentDecision::Rejected(Some(order.id), reason));
        }
    }
    match apply_order_event_in(tx, &order, OrderEvent::Paid, Some(facts), provenance).await {
        Ok(OrderApplied::Changed { from, .. }) => {
            if from == TradeState::Closed {
                flag_order_in(tx, order.id, "PAID_AFTER_CLOSE", provenance).await?;
            }
            Ok(PaymentDecision::Applied(order.id))
        }
        Ok(OrderApplied::Unchanged | OrderApplied::Duplicate) => Ok(PaymentDecision::Duplicate(order.id)),
        Err(Error::InvalidTransition(e)) => {
            let reason = format!("INVALID_TRANSITION: {e}");
            flag_order_in(tx, order.id, &reason, provenance).await?;
            Ok(PaymentDecision::Rejected(Some(order.id), reason))
        }
        Err(e) => Err(e),
    }
}

/// Builds SQL with numbered placeholders (`$1`, `$2`, …).
pub(crate) struct SqlBuilder {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl SqlBuilder {
    pub(crate) fn new() -> Self {
        SqlBuilder { sql: String::new(), args: Vec::new() }
    }

    /// Adds an argument and returns its placeholder.
    pub(crate) fn arg(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }
}

/// The exclusive upper bound of a prefix range: ids are ASCII, so incrementing the last byte is enough.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b);
    if prefix.is_empty() || prefix.len() > 64 || !prefix.bytes().all(allowed) {
        return None;
    }
    let mut bytes = prefix.as_bytes().to_vec();
    let last = bytes.pop()?;
    bytes.push(last + 1);
    String::from_utf8(bytes).ok()
}

impl Ledger {
    /// Registers an order from the shop backend (or the desk). Idempotent: registering the same out_trade_no with
    /// the same amount returns the stored order (`false`); a different amount is refused (WeChat's
    /// "商户订单号重复"). An order first learned from an unregistered payment loses its UNREGISTERED flag.
    pub async fn register_order(&self, new: &NewOrder) -> Result<(Order, bool)> {
        if new.total_fee.get() <= 0 {
            return Err(Error::InvalidInput("total_fee must be positive".into()));
        }
        let mut tx = self.db.begin().await?;
        let inserted = tx
            .fetch_optional(
                "INSERT INTO orders (merchant_id, out_trade_no, appid, sign_type, trade_type, trade_state, body, \
                 attach, total_fee, origin, placed_at, time_expire, next_check_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'NOTPAY', $6, $7, $8, $9, $10, $11, $12, $13, $13) \
                 ON CONFLICT (merchant_id, out_trade_no) DO NOTHING RETURNING id",
                args![
                    new.merchant.0,
                    new.out_trade_no.as_str(),
                    new.appid.as_ref().map(|a| a.as_str().to_owned()),
                    new.sign_type.as_str(),
                    new.trade_type.as_ref().map(|t| t.as_str().to_owned()),
                    new.body.clone(),
                    new.attach.clone(),
                    new.total_fee,
                    new.origin.as_str(),
                    new.placed_at,
                    new.time_expire,
                    new.next_check_at,
                    Utc::now()
                ],
            )
            .await?;
        let provenance = Provenance::new(new.origin, Utc::now());
        let created = match inserted {
            Some(row) => {
                let id = OrderId(row.i64("id")?);
                let mut ev = Event::new(id, "REGISTERED", &provenance);
                ev.to_state = Some("NOTPAY");
                ev.amount = Some(new.total_fee);
                insert_event(&mut tx, ev).await?;
                true
            }
            None => {
                let existing = order_by_no_in(&mut tx, new.merchant, &new.out_trade_no)
                    .await?
                    .ok_or_else(|| Error::Conflict(format!("order {}", new.out_trade_no)))?;
                if existing.total_fee != new.total_fee {
                    return Err(Error::Duplicate(format!(
                        "out_trade_no {} is registered with {} fen",
                        new.out_trade_no, existing.total_fee.0
                    )));
                }
                let cleared = tx
                    .execute(
                        "UPDATE orders SET flag_reason = NULL, sign_type = $1, body = COALESCE(body, $2), \
                         attach = COALESCE(attach, $3), updated_at = $4 \
                         WHERE id = $5 AND flag_reason = 'UNREGISTERED'",
                        args![
                            new.sign_type.as_str(),
                            new.body.clone(),
                            new.attach.clone(),
                            provenance.at,
                            existing.id.0
                        ],
                    )
                    .await?;
                if cleared == 1 {
                    let mut ev = Event::new(existing.id, "REGISTERED", &provenance);
                    ev.note = Some("registered after its payment was recorded".into());
                    insert_event(&mut tx, ev).await?;
                }
                false
            }
        };
        let order = order_by_no_in(&mut tx, new.merchant, &new.out_trade_no)
            .await?
            .ok_or_else(|| Error::Conflict(format!("order {}", new.out_trade_no)))?;
        tx.commit().await?;
        Ok((order, created))
    }

    pub async fn order(&self, id: OrderId) -> Result<Order> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE id = $1");
        let row = self.db.fetch_optional(&sql, args![id.0]).await?;
        row.as_ref()
            .map(order_from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound { what: "order", key: id.to_string() })
    }

    pub async fn order_by_out_trade_no(&self, merchant: MerchantId, no: &OutTradeNo) -> Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND out_trade_no = $2");
        self.db.fetch_optional(&sql, args![merchant.0, no.as_str()]).await?.as_ref().map(order_from_row).transpose()
    }

    pub async fn order_by_transaction_id(&self, id: &TransactionId) -> Result<Option<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE transaction_id = $1");
        self.db.fetch_optional(&sql, args![id.as_str()]).await?.as_ref().map(order_from_row).transpose()
    }

    /// Orders whose out_trade_no or transaction_id starts with `prefix` (the desk's search box), in id order of
    /// out_trade_no. A prefix with characters no id can hold finds nothing.
    pub async fn search_orders(&self, prefix: &str, limit: u32) -> Result<Vec<Order>> {
        let Some(upper) = prefix_upper_bound(prefix) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {ORDER_COLS} FROM (SELECT {ORDER_COLS} FROM orders WHERE out_trade_no >= $1 AND out_trade_no < $2 \
             ORDER BY out_trade_no LIMIT $3) AS by_no \
             UNION SELECT {ORDER_COLS} FROM (SELECT {ORDER_COLS} FROM orders WHERE transaction_id >= $1 \
             AND transaction_id < $2 ORDER BY transaction_id LIMIT $3) AS by_txn \
             ORDER BY out_trade_no, id LIMIT $3"
        );
        self.db.fetch_all(&sql, args![prefix, upper, i64::from(limit)]).await?.iter().map(order_from_row).collect()
    }

    /// One page of the order list, newest first. Pass the previous page's `next` to continue (keyset pagination:
    /// a deep page costs the same as the first).
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        after: Option<&OrderCursor>,
        limit: u32,
    ) -> Result<OrderPage> {
        let limit = limit.clamp(1, 1000);
        let mut b = SqlBuilder::new();
        let mut common = String::new();
        if let Some(m) = filter.merchant {
            common.push_str(&format!(" AND merchant_id = {}", b.arg(m.0)));
        }
        if let Some(from) = filter.placed_from {
            common.push_str(&format!(" AND placed_at >= {}", b.arg(from)));
        }
        match (after, filter.placed_to) {
            // The cursor is the range's upper bound. Written as `placed_at <= t AND (placed_at < t OR id < i)`
            // rather than the row value `(placed_at, id) < (t, i)`: SQLite uses only the former as an index
            // bound, and a deep page would otherwise walk every row newer than the cursor.
            (Some(cursor), to) if to.is_none_or(|to| cursor.placed_at < to) => {
                let t = b.arg(cursor.placed_at);
                let i = b.arg(cursor.id.0);
                common.push_str(&format!(" AND placed_at <= {t} AND (placed_at < {t} OR id < {i})"));
            }
            (cursor, to) => {
                if let Some(to) = to {
                    common.push_str(&format!(" AND placed_at < {}", b.arg(to)));
                }
                if let Some(cursor) = cursor {
                    let t = b.arg(cursor.placed_at);
                    let i = b.arg(cursor.id.0);
                    common.push_str(&format!(" AND (placed_at < {t} OR (placed_at = {t} AND id < {i}))"));
                }
            }
        }
        if let Some(min) = filter.min_total {
            common.push_str(&format!(" AND total_fee >= {}", b.arg(min)));
        }
        if let Some(max) = filter.max_total {
            common.push_str(&format!(" AND total_fee <= {}", b.arg(max)));
        }
        if filter.flagged_only {
            common.push_str(" AND flag_reason IS NOT NULL");
        }
        let lim = b.arg(i64::from(limit) + 1);
        let order_by = "ORDER BY placed_at DESC, id DESC";
        let mut states: Vec<&TradeState> = Vec::new();
        for s in &filter.states {
            if !s.is_known() {
                return Err(Error::InvalidInput(format!("unknown trade state {s}")));
            }
            if !states.contains(&s) {
                states.push(s);
            }
        }
        b.sql = match states.as_slice() {
            [] => format!("SELECT {ORDER_COLS} FROM orders WHERE 1 = 1{common} {order_by} LIMIT {lim}"),
            [one] => {
                let s = b.arg(one.as_str());
                format!("SELECT {ORDER_COLS} FROM orders WHERE trade_state = {s}{common} {order_by} LIMIT {lim}")
            }
            several => {
                // One ordered index range per state, merged: each arm reads at most a page.
                let arms: Vec<String> = several
                    .iter()
                    .enumerate()
                    .map(|(n, s)| {
                        let s = b.arg(s.as_str());
                        format!(
                            "SELECT {ORDER_COLS} FROM (SELECT {ORDER_COLS} FROM orders WHERE trade_state = {s}{common} \
                             {order_by} LIMIT {lim}) AS s{n}"
                        )
                    })
                    .collect();
                format!("{} {order_by} LIMIT {lim}", arms.join(" UNION ALL "))
            }
        };
        let rows = self.db.fetch_all(&b.sql, b.args).await?;
        let mut orders = rows.iter().map(order_from_row).collect::<Result<Vec<_>>>()?;
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = if orders.len() > limit {
            orders.truncate(limit);
            orders.last().map(|o| OrderCursor { placed_at: o.placed_at, id: o.id })
        } else {
            None
        };
        Ok(OrderPage { orders, next })
    }

    /// Takings (paid orders by Beijing payment day) and refunds (SUCCESS by Beijing success day), per day in
    /// `from..=to`. Days with neither are left out.
    pub async fn day_totals(
        &self,
        merchant: Option<MerchantId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayTotals>> {
        let (m_clause, m_arg) = match merchant {
            Some(m) => (" AND merchant_id = $3", Some(m.0)),
            None => ("", None),
        };
        let mut paid_args = args![from, to];
        let mut refund_args = args![from, to];
        if let Some(m) = m_arg {
            paid_args.push(Arg::from(m));
            refund_args.push(Arg::from(m));
        }
        let paid = self
            .db
            .fetch_all(
                &format!(
                    "SELECT paid_day AS day, COUNT(*) AS n, CAST(COALESCE(SUM(total_fee), 0) AS BIGINT) AS total \
                     FROM orders WHERE paid_day >= $1 AND paid_day <= $2{m_clause} GROUP BY paid_day"
                ),
                paid_args,
            )
            .await?;
        let refunds = self
            .db
            .fetch_all(
                &format!(
                    "SELECT success_day AS day, COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total \
                     FROM refunds WHERE success_day >= $1 AND success_day <= $2{m_clause} GROUP BY success_day"
                ),
                refund_args,
            )
            .await?;
        let mut days: std::collections::BTreeMap<NaiveDate, DayTotals> = std::collections::BTreeMap::new();
        let blank =
            |day| DayTotals { day, paid_count: 0, paid_total: Fen::ZERO, refund_count: 0, refunded_total: Fen::ZERO };
        for row in &paid {
            let day = row.date("day")?;
            let entry = days.entry(day).or_insert_with(|| blank(day));
            entry.paid_count = row.i64("n")?;
            entry.paid_total = Fen(row.i64("total")?);
        }
        for row in &refunds {
            let day = row.date("day")?;
            let entry = days.entry(day).or_insert_with(|| blank(day));
            entry.refund_count = row.i64("n")?;
            entry.refunded_total = Fen(row.i64("total")?);
        }
        Ok(days.into_values().collect())
    }

    /// Paid orders of one Beijing day (the ledger side of the daily close).
    pub async fn orders_paid_on(&self, merchant: MerchantId, day: NaiveDate) -> Result<Vec<Order>> {
        let sql = format!("SELECT {ORDER_COLS} FROM orders WHERE paid_day = $1 AND merchant_id = $2 ORDER BY id");
        self.db.fetch_all(&sql, args![day, merchant.0]).await?.iter().map(order_from_row).collect()
    }

    /// The order's timeline, oldest first.
    pub async fn timeline(&self, order: OrderId) -> Result<Vec<TimelineEntry>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT id, order_id, refund_id, application_id, kind, from_state, to_state, amount, source, \
                 notification_id, evidence_id, bill_row_id, actor, note, at FROM order_events \
                 WHERE order_id = $1 ORDER BY id",
                args![order.0],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let evidence =
                    match (row.opt_i64("notification_id")?, row.opt_i64("evidence_id")?, row.opt_i64("bill_row_id")?) {
                        (Some(n), _, _) => Evidence::Notification(NotificationId(n)),
                        (_, Some(e), _) => Evidence::Raw(crate::model::EvidenceId(e)),
                        (_, _, Some(b)) => Evidence::BillRow(crate::model::BillRowId(b)),
                        _ => Evidence::None,
                    };
                Ok(TimelineEntry {
                    id: row.i64("id")?,
                    order_id: OrderId(row.i64("order_id")?),
                    refund_id: row.opt_i64("refund_id")?.map(RefundRecordId),
                    application_id: row.opt_i64("application_id")?.map(ApplicationId),
                    kind: row.text("kind")?,
                    from_state: row.opt_text("from_state")?,
                    to_state: row.opt_text("to_state")?,
                    amount: row.opt_i64("amount")?.map(Fen),
                    source: Source::from_db(&row.text("source")?)?,
                    evidence,
                    actor: row.opt_text("actor")?,
                    note: row.opt_text("note")?,
                    at: row.ts("at")?,
                })
            })
            .collect()
    }

    /// Applies what an orderquery reply says (status sync). A SUCCESS reply must carry the payment facts.
    /// Also records the check (`last_checked_at`, `check_count`).
    pub async fn apply_order_observation(
        &self,
        order: OrderId,
        observation: &OrderObservation,
        provenance: &Provenance,
    ) -> Result<OrderApplied> {
        let event = OrderEvent::from_observed(&observation.trade_state).ok_or_else(|| {
            Error::InvalidInput(format!("trade_state {} is unknown to this version", observation.trade_state))
        })?;
        let mut tx = self.db.begin().await?;
        let current = order_in(&mut tx, order).await?;
        tx.execute(
            "UPDATE orders SET last_checked_at = $1, check_count = check_count + 1 WHERE id = $2",
            args![provenance.at, order.0],
        )
        .await?;
        let applied = match (event, &observation.payment) {
            (OrderEvent::Paid, Some(facts)) => {
                if facts.out_trade_no != current.out_trade_no {
                    return Err(Error::InvalidInput("payment facts are for another order".into()));
                }
                match apply_payment_in(&mut tx, facts, provenance).await? {
                    PaymentDecision::Applied(_) | PaymentDecision::UnknownOrder(_) => {
                        OrderApplied::Changed { from: current.trade_state.clone(), to: TradeState::Success }
                    }
                    PaymentDecision::Duplicate(_) => OrderApplied::Unchanged,
                    PaymentDecision::Rejected(_, reason) => {
                        tx.commit().await?;
                        return Err(Error::InvalidInput(format!("payment not applied: {reason}")));
                    }
                }
            }
            (OrderEvent::Paid, None) if !current.trade_state.is_paid() => {
                return Err(Error::InvalidInput("a SUCCESS observation needs the payment facts".into()));
            }
            (event, _) => apply_order_event_in(&mut tx, &current, event, None, provenance).await?,
        };
        tx.commit().await?;
        Ok(applied)
    }

    /// Applies a verified payment learned by a query or from a bill row (source and evidence in `provenance`): the
    /// order becomes paid, or — when nobody registered it — is recorded as a paid order, flagged UNREGISTERED. The
    /// same rules as a payment notification (amount, appid and transaction id checked; applied once).
    pub async fn record_payment(&self, facts: &PaymentFacts, provenance: &Provenance) -> Result<OrderId> {
        let mut tx = self.db.begin().await?;
        let decision = apply_payment_in(&mut tx, facts, provenance).await?;
        let id = match decision {
            PaymentDecision::Applied(id) | PaymentDecision::Duplicate(id) | PaymentDecision::UnknownOrder(id) => id,
            PaymentDecision::Rejected(_, reason) => {
                tx.commit().await?;
                return Err(Error::InvalidInput(format!("payment not applied: {reason}")));
            }
        };
        tx.commit().await?;
        Ok(id)
    }

    /// Orders whose outcome is unknown and whose next check is due (status sync), earliest first.
    pub async fn orders_due_for_check(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Order>> {
        let sql = format!(
            "SELECT {ORDER_COLS} FROM orders WHERE next_check_at IS NOT NULL AND next_check_at <= $1 \
             ORDER BY next_check_at, id LIMIT $2"
        );
        self.db.fetch_all(&sql, args![now, i64::from(limit)]).await?.iter().map(order_from_row).collect()
    }

    /// Sets (or clears, with `None`) when status sync should next ask WeChat about the order.
    pub async fn schedule_order_check(&self, order: OrderId, next_check_at: Option<DateTime<Utc>>) -> Result<()> {
        let mut tx = self.db.begin().await?;
        let n = tx.execute("UPDATE orders SET next_check_at = $1 WHERE id = $2", args![next_check_at, order.0]).await?;
        if n != 1 {
            return Err(Error::NotFound { what: "order", key: order.to_string() });
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks an order for a person (or clears the mark with `None`), with a timeline entry.
    pub async fn set_order_flag(&self, order: OrderId, reason: Option<&str>, provenance: &Provenance) -> Result<()> {
        let mut tx = self.db.begin().await?;
        order_in(&mut tx, order).await?;
        match reason {
            Some(reason) => flag_order_in(&mut tx, order, reason, provenance).await?,
            None => {
                tx.execute(
                    "UPDATE orders SET flag_reason = NULL, updated_at = $1 WHERE id = $2",
                    args![provenance.at, order.0],
                )
                .await?;
                insert_event(&mut tx, Event::new(order, "UNFLAGGED", provenance)).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Bulk path: inserts many orders in one transaction (history import; the benchmark's fill). Orders whose
    /// out_trade_no already exists are skipped. No timeline entries are written. Returns how many were inserted.
    pub async fn import_orders(&self, orders: &[ImportedOrder], origin: Source) -> Result<u64> {
        const COLS: usize = 14;
        for o in orders {
            if !o.trade_state.is_known() || o.total_fee.get() <= 0 || o.trade_state.is_paid() != o.paid_at.is_some() {
                return Err(Error::InvalidInput(format!(
                    "order {}: state, amount or paid_at inconsistent",
                    o.out_trade_no
                )));
            }
        }
        let now = Utc::now();
        let mut tx = self.db.begin().await?;
        let head =
            "INSERT INTO orders (merchant_id, out_trade_no, transaction_id, sign_type, trade_type, trade_state, \
                    total_fee, origin, placed_at, paid_at, paid_day, body, created_at, updated_at)";
        let row_args = |o: &ImportedOrder, a: &mut Vec<Arg>| {
            a.extend([
                Arg::from(o.merchant.0),
                Arg::from(o.out_trade_no.as_str()),
                Arg::from(o.transaction_id.as_ref().map(|t| t.as_str().to_owned())),
                Arg::from(o.sign_type.as_str()),
                Arg::from(o.trade_type.as_ref().map(|t| t.as_str().to_owned())),
                Arg::from(o.trade_state.as_str()),
                Arg::from(o.total_fee),
                Arg::from(origin.as_str()),
                Arg::from(o.placed_at),
                Arg::from(o.paid_at),
                Arg::from(o.paid_at.map(beijing_day)),
                Arg::from(o.body.clone()),
                Arg::from(now),
                Arg::from(now),
            ]);
        };
        let inserted = match tx.engine() {
            Engine::Sqlite => {
                let tail = " ON CONFLICT (merchant_id, out_trade_no) DO NOTHING";
                sqlite_bulk_insert(&mut tx, head, tail, COLS, orders, row_args).await?
            }
            Engine::Postgres => {
                let mut inserted = 0;
                for chunk in orders.chunks(4000) {
                    let mut b = SqlBuilder::new();
                    let mut values = Vec::with_capacity(chunk.len());
                    let mut a = Vec::with_capacity(COLS);
                    for o in chunk {
                        a.clear();
                        row_args(o, &mut a);
                        let p: Vec<String> = a.drain(..).map(|v| b.arg(v)).collect();
                        values.push(format!("({})", p.join(", ")));
                    }
                    b.sql = format!(
                        "{head} VALUES {} ON CONFLICT (merchant_id, out_trade_no) DO NOTHING",
                        values.join(", ")
                    );
                    inserted += tx.execute(&b.sql, b.args).await?;
                }
                inserted
            }
        };
        tx.commit().await?;
        Ok(inserted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bounds_are_exclusive_successors() {
        assert_eq!(prefix_upper_bound("T10"), Some("T11".to_string()));
        assert_eq!(prefix_upper_bound("a-z"), Some("a-{".to_string()));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("订单"), None);
        assert_eq!(prefix_upper_bound("a%"), None);
    }

    #[test]
    fn beijing_day_of_late_utc_evening_is_the_next_day() {
        let t = DateTime::parse_from_rfc3339("2024-03-01T16:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(beijing_day(t), NaiveDate::from_ymd_opt(2024, 3, 2).unwrap());
    }
}
