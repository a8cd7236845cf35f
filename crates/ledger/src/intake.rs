//! Batched intake of payment notifications, for notify-receiver under load: the same facts and outcomes as
//! [`Ledger::store_notification`] + [`Ledger::record_verification`] + [`Ledger::apply_payment_notification_relayed`],
//! done for many notifications with a handful of statements instead of a dozen each.
//!
//! Why: a statement through sqlx costs a round trip to the connection's worker thread (SQLite) or the server
//! (PostgreSQL), and on SQLite all writers take turns: at ~20 statements per notification the turn, not the work,
//! bounds throughput (≈ 500 notifications/s on 2 cores). Here a batch costs:
//!
//! 1. [`Ledger::store_notifications`]: one multi-row `INSERT … RETURNING`, a transaction of its own — the raw bodies,
//!    each with its verification result (computed in memory before; nothing is applied yet), committed first.
//! 2. [`Ledger::apply_payment_notifications`]: one transaction that reads the orders concerned (by `out_trade_no`
//!    and by `transaction_id`), decides each notification with the same rules as the single path
//!    ([`crate::transitions::order_transition`]), then writes set-based: the `order_events` facts
//!    (`ON CONFLICT (fact_key) DO NOTHING RETURNING` — the idempotency key, as in the single path), the orders
//!    (`UPDATE … FROM (VALUES …) WHERE trade_state = <expected>`, row count checked), the outcomes, the relay events.
//!
//! Anything unusual goes through the single path's code inside the same transaction, in arrival order: several
//! notifications for one order or one transaction id in a batch, an unregistered order, an amount or transaction
//! mismatch (they flag the order), a payment after close, a refused transition.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use wxpay::TradeState;

use crate::db::{Arg, Engine};
use crate::error::{Error, Result};
use crate::model::{
    AppliedNotification, IncomingNotification, MerchantId, NotificationId, NotificationKind, NotificationOutcome,
    Order, PaymentFacts, Provenance, Source, VerificationResult,
};
use crate::notifications::outcome;
use crate::orders::{beijing_day, order_from_row, ORDER_COLS};
use crate::relay::{apply_payment_relayed_in, kind_text};
use crate::transitions::{order_transition, OrderEvent};
use crate::Ledger;

/// At most this many notifications per call (statement parameter limits).
pub const MAX_BATCH: usize = 256;

/// A verified payment notification to apply in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentToApply {
    /// Stored by [`Ledger::store_notifications`] with a VALID verification.
    pub id: NotificationId,
    pub facts: PaymentFacts,
    /// The relay event's JSON, written when the notification changes the ledger.
    pub relay_payload: Option<String>,
}

/// Placeholders in textual order: `?` on SQLite (bound by position: SQLite looks `$n` up by a linear scan, which
/// makes thousands of them slow to bind), `$n` on PostgreSQL.
struct Params {
    engine: Engine,
    args: Vec<Arg>,
}

impl Params {
    fn new(engine: Engine) -> Params {
        Params { engine, args: Vec::new() }
    }

    fn p(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        match self.engine {
            Engine::Sqlite => "?".to_owned(),
            Engine::Postgres => format!("${}", self.args.len()),
        }
    }
}

impl Ledger {
    /// Stores notifications exactly as they arrived, each with its verification result, in one transaction (one
    /// statement). An invalid one is stored REJECTED with the reason, like [`Ledger::record_verification`] does.
    /// Returns the ids in the order given.
    pub async fn store_notifications(
        &self,
        items: &[(IncomingNotification, VerificationResult)],
        at: DateTime<Utc>,
    ) -> Result<Vec<NotificationId>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if items.len() > MAX_BATCH {
            return Err(Error::InvalidInput(format!("at most {MAX_BATCH} notifications at once")));
        }
        let mut b = Params::new(self.db.engine());
        let mut rows = Vec::with_capacity(items.len());
        let mut shas = Vec::with_capacity(items.len());
        for (incoming, verification) in items {
            let headers: String = incoming.headers.iter().map(|(name, value)| format!("{name}: {value}\n")).collect();
            let sha = hex::encode(Sha256::digest(&incoming.body));
            let (verification_text, detail, mch_id, out_trade_no, out_refund_no, outcome, processed_at) =
                match verification {
                    VerificationResult::Valid { mch_id, out_trade_no, out_refund_no } => (
                        "VALID",
                        None,
                        Some(mch_id.as_str().to_owned()),
                        out_trade_no.as_ref().map(|n| n.as_str().to_owned()),
                        out_refund_no.as_ref().map(|n| n.as_str().to_owned()),
                        "PENDING",
                        None,
                    ),
                    VerificationResult::Invalid { reason } => {
                        ("INVALID", Some(reason.clone()), None, None, None, "REJECTED", Some(at))
                    }
                };
            let cols = [
                b.p(incoming.kind.as_str()),
                b.p(incoming.received_at),
                b.p(incoming.remote_addr.clone()),
                b.p(headers),
                b.p(incoming.body.clone()),
                b.p(sha.clone()),
                b.p(verification_text),
                b.p(detail.clone()),
                b.p(mch_id),
                b.p(out_trade_no),
                b.p(out_refund_no),
                b.p(outcome),
                b.p(detail),
                b.p(processed_at),
            ];
            rows.push(format!("({})", cols.join(", ")));
            shas.push(sha);
        }
        let sql = format!(
            "INSERT INTO notifications (kind, received_at, remote_addr, headers, body, body_sha256, verification, \
             verification_detail, mch_id, out_trade_no, out_refund_no, outcome, outcome_reason, processed_at) \
             VALUES {} RETURNING id, body_sha256",
            rows.join(", ")
        );
        // One statement is its own transaction: no BEGIN / COMMIT round trips.
        let returned = self.db.fetch_all(&sql, b.args).await?;
        // Ids are drawn in VALUES order within one statement (SQLite rowids, PostgreSQL's identity sequence);
        // RETURNING's own order is unspecified, so sort, and check each row against the body it should hold.
        let mut pairs = returned
            .iter()
            .map(|r| Ok((r.i64("id")?, r.text("body_sha256")?)))
            .collect::<Result<Vec<(i64, String)>>>()?;
        pairs.sort_by_key(|(id, _)| *id);
        if pairs.len() != shas.len() || pairs.iter().zip(&shas).any(|((_, got), want)| got != want) {
            return Err(Error::Corrupt("stored notifications came back in an unexpected order".into()));
        }
        Ok(pairs.into_iter().map(|(id, _)| NotificationId(id)).collect())
    }

    /// Applies verified payment notifications in one transaction, with the outcomes (and relay events) the single
    /// path would give: APPLIED, DUPLICATE, UNKNOWN_ORDER or REJECTED with the reason. Returns them in the order
    /// given. An error rolls everything back (the notifications stay stored and PENDING).
    pub async fn apply_payment_notifications(
        &self,
        items: &[PaymentToApply],
        at: DateTime<Utc>,
    ) -> Result<Vec<AppliedNotification>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if items.len() > MAX_BATCH {
            return Err(Error::InvalidInput(format!("at most {MAX_BATCH} notifications at once")));
        }
        let mut tx = self.db.begin().await?;
        let engine = tx.engine();

        // Read what the decisions need: merchants, orders by number, orders by transaction id.
        // The orders by number, each with its merchant's mch_id (an unknown merchant finds no order and takes the
        // single path, which rejects it).
        let orders: HashMap<(String, String), Order> = {
            let mut b = Params::new(engine);
            let list: Vec<String> =
                distinct(items.iter().map(|i| i.facts.out_trade_no.as_str())).map(|n| b.p(n)).collect();
            let sql = format!(
                "SELECT {ORDER_COLS}, (SELECT mch_id FROM merchants WHERE merchants.id = orders.merchant_id) AS m_mch_id \
                 FROM orders WHERE out_trade_no IN ({})",
                list.join(", ")
            );
            let rows = tx.fetch_all(&sql, b.args).await?;
            rows.iter()
                .map(|r| {
                    let o = order_from_row(r)?;
                    Ok(((r.text("m_mch_id")?, o.out_trade_no.as_str().to_owned()), o))
                })
                .collect::<Result<_>>()?
        };
        let by_txn: HashMap<String, (MerchantId, String)> = {
            // One equality per id, not `IN (…)`: with most orders unpaid, planner statistics can call the unique
            // index on transaction_id (mostly NULL) useless for a list and scan the table; an equality on a unique
            // index is always a single lookup.
            let mut b = Params::new(engine);
            let arms: Vec<String> = distinct(items.iter().map(|i| i.facts.transaction_id.as_str()))
                .map(|t| {
                    format!(
                        "SELECT merchant_id, out_trade_no, transaction_id FROM orders WHERE transaction_id = {}",
                        b.p(t)
                    )
                })
                .collect();
            let rows = tx.fetch_all(&arms.join(" UNION ALL "), b.args).await?;
            rows.iter()
                .map(|r| Ok((r.text("transaction_id")?, (MerchantId(r.i64("merchant_id")?), r.text("out_trade_no")?))))
                .collect::<Result<_>>()?
        };

        // Notifications that share an order or a transaction id with another of the batch take the single path,
        // in order, so that each sees what the one before it did.
        let mut per_order: HashMap<(&str, &str), usize> = HashMap::new();
        let mut per_txn: HashMap<&str, usize> = HashMap::new();
        for i in items {
            *per_order.entry((i.facts.mch_id.as_str(), i.facts.out_trade_no.as_str())).or_default() += 1;
            *per_txn.entry(i.facts.transaction_id.as_str()).or_default() += 1;
        }

        let mut results: Vec<Option<AppliedNotification>> = vec![None; items.len()];
        let mut single: Vec<usize> = Vec::new();
        // (item index, order, state it moves from)
        let mut to_pay: Vec<(usize, &Order, TradeState)> = Vec::new();
        for (idx, item) in items.iter().enumerate() {
            let f = &item.facts;
            if per_order[&(f.mch_id.as_str(), f.out_trade_no.as_str())] > 1 || per_txn[f.transaction_id.as_str()] > 1 {
                single.push(idx);
                continue;
            }
            let Some(order) = orders.get(&(f.mch_id.as_str().to_owned(), f.out_trade_no.as_str().to_owned())) else {
                single.push(idx); // unregistered (inserted and flagged), or an unknown merchant (rejected)
                continue;
            };
            let merchant = order.merchant_id;
            if let Some((m, no)) = by_txn.get(f.transaction_id.as_str()) {
                if *m != merchant || no != f.out_trade_no.as_str() {
                    single.push(idx); // the single path rejects it with the other order's id
                    continue;
                }
            }
            if order.total_fee != f.total_fee || order.transaction_id.as_ref().is_some_and(|t| *t != f.transaction_id) {
                single.push(idx); // rejected and flagged by the single path
                continue;
            }
            if let Some(appid) = &order.appid {
                if *appid != f.appid {
                    let reason = format!("APPID_MISMATCH {}", f.appid);
                    results[idx] = Some(outcome(NotificationOutcome::Rejected, Some(reason), Some(order.id)));
                    continue;
                }
            }
            match order_transition(&order.trade_state, OrderEvent::Paid) {
                Ok(to) if to == order.trade_state => {
                    results[idx] = Some(outcome(NotificationOutcome::Duplicate, None, Some(order.id)));
                }
                Ok(TradeState::Success) if order.trade_state != TradeState::Closed => {
                    to_pay.push((idx, order, order.trade_state.clone()));
                }
                _ => single.push(idx), // paid after close (flagged) or a refused transition
            }
        }

        let provenance = Provenance::new(Source::Notification, at);
        // One lock order for every batch (PostgreSQL: two receivers' batches never wait on each other in a cycle).
        to_pay.sort_by_key(|(_, order, _)| order.id);
        if !to_pay.is_empty() {
            // The facts: the unique fact_key refuses one another process already recorded (then: DUPLICATE).
            let mut b = Params::new(engine);
            let mut rows = Vec::with_capacity(to_pay.len());
            for (idx, order, from) in &to_pay {
                let cols = [
                    b.p(order.id.0),
                    b.p("STATE"),
                    b.p(from.as_str()),
                    b.p(TradeState::Success.as_str()),
                    b.p(order.total_fee),
                    b.p(provenance.source.as_str()),
                    b.p(items[*idx].id.0),
                    b.p(format!("order:{}:SUCCESS", order.id)),
                    b.p(at),
                ];
                rows.push(format!("({})", cols.join(", ")));
            }
            let sql = format!(
                "INSERT INTO order_events (order_id, kind, from_state, to_state, amount, source, notification_id, \
                 fact_key, at) VALUES {} ON CONFLICT (fact_key) DO NOTHING RETURNING order_id",
                rows.join(", ")
            );
            let inserted: HashSet<i64> =
                tx.fetch_all(&sql, b.args).await?.iter().map(|r| r.i64("order_id")).collect::<Result<_>>()?;
            let (new, taken): (Vec<_>, Vec<_>) = to_pay.into_iter().partition(|(_, o, _)| inserted.contains(&o.id.0));
            for (idx, order, _) in taken {
                results[idx] = Some(outcome(NotificationOutcome::Duplicate, None, Some(order.id)));
            }
            if !new.is_empty() {
                let mut b = Params::new(engine);
                let updated_at = b.p(at);
                let mut rows = Vec::with_capacity(new.len());
                for (idx, order, from) in &new {
                    let f = &items[*idx].facts;
                    let paid_at = f.time_end.to_utc();
                    let cols = [
                        b.p(order.id.0),
                        b.p(from.as_str()),
                        b.p(f.transaction_id.as_str()),
                        b.p(f.cash_fee),
                        b.p(f.settlement_total_fee),
                        b.p(f.coupon_fee),
                        b.p(f.fee_type.clone()),
                        b.p(f.trade_type.as_ref().map(|t| t.as_str().to_owned())),
                        b.p(f.bank_type.clone()),
                        b.p(f.openid.clone()),
                        b.p(f.attach.clone()),
                        b.p(paid_at),
                        b.p(beijing_day(paid_at)),
                    ];
                    rows.push(format!("({})", cols.join(", ")));
                }
                // VALUES columns are column1, column2, … on both engines.
                let sql = format!(
                    "UPDATE orders SET trade_state = 'SUCCESS', transaction_id = v.column3, cash_fee = v.column4, \
                     settlement_total_fee = v.column5, coupon_fee = v.column6, \
                     fee_type = COALESCE(v.column7, orders.fee_type), trade_type = COALESCE(v.column8, orders.trade_type), \
                     bank_type = COALESCE(v.column9, orders.bank_type), openid = COALESCE(v.column10, orders.openid), \
                     attach = COALESCE(orders.attach, v.column11), paid_at = v.column12, paid_day = v.column13, \
                     next_check_at = NULL, updated_at = {updated_at} \
                     FROM (VALUES {}) AS v WHERE orders.id = v.column1 AND orders.trade_state = v.column2",
                    rows.join(", ")
                );
                let n = tx.execute(&sql, b.args).await?;
                if usize::try_from(n).ok() != Some(new.len()) {
                    return Err(Error::Conflict(format!("{n} of {} orders updated: changed concurrently", new.len())));
                }
                for (idx, order, _) in new {
                    results[idx] = Some(outcome(NotificationOutcome::Applied, None, Some(order.id)));
                }
            }
        }

        // The outcomes of everything decided here, checking each row is still PENDING and VALID.
        let decided: Vec<usize> = (0..items.len()).filter(|i| results[*i].is_some()).collect();
        if !decided.is_empty() {
            let mut b = Params::new(engine);
            let processed_at = b.p(at);
            let mut rows = Vec::with_capacity(decided.len());
            for idx in &decided {
                let r = results[*idx].as_ref().ok_or_else(|| Error::Corrupt("undecided".into()))?;
                let cols = [
                    b.p(items[*idx].id.0),
                    b.p(r.outcome.as_str()),
                    b.p(r.reason.clone()),
                    b.p(r.order_id.map(|o| o.0)),
                ];
                rows.push(format!("({})", cols.join(", ")));
            }
            let sql = format!(
                "UPDATE notifications SET outcome = v.column2, outcome_reason = v.column3, order_id = v.column4, \
                 processed_at = {processed_at} FROM (VALUES {}) AS v \
                 WHERE notifications.id = v.column1 AND notifications.outcome = 'PENDING' \
                 AND notifications.verification = 'VALID' AND notifications.kind = 'PAYMENT'",
                rows.join(", ")
            );
            let n = tx.execute(&sql, b.args).await?;
            if usize::try_from(n).ok() != Some(decided.len()) {
                return Err(Error::Conflict("a notification of the batch is not a pending, verified payment".into()));
            }
            // Relay events for what changed the ledger, in one statement.
            let mut b = Params::new(engine);
            let mut rows = Vec::new();
            for idx in decided {
                let (Some(r), Some(payload)) = (&results[idx], &items[idx].relay_payload) else { continue };
                if r.outcome != NotificationOutcome::Applied {
                    continue;
                }
                let cols = [
                    b.p(items[idx].id.0),
                    b.p(kind_text(NotificationKind::Payment)),
                    b.p(r.outcome.as_str()),
                    b.p(payload.as_str()),
                    b.p(at),
                    b.p(at),
                ];
                rows.push(format!("({})", cols.join(", ")));
            }
            if !rows.is_empty() {
                let sql = format!(
                    "INSERT INTO relay_outbox (notification_id, event_type, outcome, payload, created_at,                      next_attempt_at) VALUES {} ON CONFLICT (notification_id) DO NOTHING",
                    rows.join(", ")
                );
                tx.execute(&sql, b.args).await?;
            }
        }

        // The rest, one by one in arrival order, through the single path's code.
        for idx in single {
            let item = &items[idx];
            let applied =
                apply_payment_relayed_in(&mut tx, item.id, &item.facts, at, item.relay_payload.as_deref()).await?;
            results[idx] = Some(applied);
        }
        tx.commit().await?;
        results.into_iter().map(|r| r.ok_or_else(|| Error::Corrupt("notification left undecided".into()))).collect()
    }
}

/// The distinct values, first occurrence first.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> impl Iterator<Item = &'a str> {
    let mut seen = HashSet::new();
    values.filter(move |v| seen.insert(*v))
}
