//! Status sync, the first-class path of ARCHITECTURE.md §3: orders whose outcome is unknown are asked about on a
//! schedule, so every status ends right even with no notification receiver at all.
//!
//! One round: adopt recent unfinished orders nobody scheduled, take the orders whose check is due
//! (`orders_due_for_check`), query each (orderquery → evidence → `apply_order_observation`, source `query`), and
//! schedule the next check with [`next_check_at`] — each minute for the first 5 minutes after the order was
//! placed, then every 2, 5, 10, 30 and 60 minutes, and not after 24 hours (the daily bill and reconciliation take
//! over; "query now" still works). A final state ends the watch. Why this schedule:
//! `docs/decisions/0007-vault-and-status-sync.md`.
//!
//! Rounds never overlap (one lock), and an order being queried is never queried a second time at once ([`InFlight`]:
//! "query now" waits for the round's query of the same order and the round skips one that "query now" holds).

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use ledger::{Order, OrderId};
use serde::Serialize;
use wxpay::TradeState;

use crate::contract::{rfc3339, SyncStatus, WatchedOrder};
use crate::error::{CoreError, CoreResult, Locale};
use crate::orders::{check_order, Checked};
use crate::session::Session;

/// How long an unfinished order is watched after it was placed.
pub const WATCH_FOR: Duration = Duration::hours(24);

/// `(age below, interval)`: the schedule by the order's age.
const STEPS: &[(Duration, Duration)] = &[
    (Duration::minutes(5), Duration::minutes(1)),
    (Duration::minutes(15), Duration::minutes(2)),
    (Duration::minutes(30), Duration::minutes(5)),
    (Duration::hours(1), Duration::minutes(10)),
    (Duration::hours(3), Duration::minutes(30)),
    (WATCH_FOR, Duration::minutes(60)),
];

/// When to ask WeChat next about an order placed at `placed_at` whose state is `state`, checked at `now`; `None`
/// ends the watch (a final state, or older than [`WATCH_FOR`]). Pure: tested as a table.
pub fn next_check_at(placed_at: DateTime<Utc>, state: &TradeState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if state.is_final() {
        return None;
    }
    // An order "placed" in the future (a skewed clock elsewhere) is treated as placed now.
    let age = (now - placed_at).max(Duration::zero());
    let (_, interval) = STEPS.iter().find(|(below, _)| age < *below)?;
    let next = now + *interval;
    (next - placed_at <= WATCH_FOR).then_some(next)
}

/// Orders being queried right now (by a sync round or by "query now").
#[derive(Debug, Default)]
pub struct InFlight {
    ids: Mutex<HashSet<OrderId>>,
}

/// Holds an order in [`InFlight`] until dropped.
#[derive(Debug)]
pub struct InFlightGuard<'a> {
    set: &'a InFlight,
    id: OrderId,
}

impl InFlight {
    /// Takes the order if nobody is querying it.
    pub fn try_take(&self, id: OrderId) -> Option<InFlightGuard<'_>> {
        let mut ids = self.ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.insert(id).then(|| InFlightGuard { set: self, id })
    }

    /// Takes the order, waiting (up to `patience`) for a query of it already under way to end.
    pub async fn take(&self, id: OrderId, patience: std::time::Duration) -> Option<InFlightGuard<'_>> {
        let started = std::time::Instant::now();
        loop {
            if let Some(guard) = self.try_take(id) {
                return Some(guard);
            }
            if started.elapsed() >= patience {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut ids = self.set.ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.remove(&self.id);
    }
}

/// One order checked in a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedOrder {
    pub out_trade_no: String,
    pub state_before: String,
    /// The state after the check (unchanged on error).
    pub state_after: String,
    /// `changed`, `unchanged`, `not_at_wechat`, `skipped` (being queried elsewhere) or `error`.
    pub outcome: &'static str,
    /// The error's code and message, in the app's locale.
    pub error: Option<crate::error::UiError>,
    pub next_check_at: Option<String>,
}

/// What one round did (the CLI prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub started_at: String,
    pub finished_at: String,
    /// Unfinished orders that had no check scheduled and were put under watch.
    pub adopted: usize,
    pub checked: Vec<CheckedOrder>,
    pub changed: usize,
    pub errors: usize,
}

impl SyncReport {
    /// The out_trade_nos whose state changed.
    pub fn changed_orders(&self) -> Vec<String> {
        self.checked.iter().filter(|c| c.outcome == "changed").map(|c| c.out_trade_no.clone()).collect()
    }
}

/// Puts unfinished orders placed within [`WATCH_FOR`] that have no check scheduled and were never checked under
/// watch (orders registered without `next_check_at`).
async fn adopt(session: &Session, now: DateTime<Utc>) -> CoreResult<usize> {
    let filter = ledger::OrderFilter {
        merchant: crate::orders::merchant_scope(session).await?,
        states: vec![TradeState::NotPay, TradeState::UserPaying, TradeState::Accept],
        placed_from: Some(now - WATCH_FOR),
        ..ledger::OrderFilter::default()
    };
    let mut adopted = 0;
    let mut after = None;
    // Bounded: at most 5 pages of 1000 per round; the rest is adopted by later rounds.
    for _ in 0..5 {
        let page = session.ledger.list_orders(&filter, after.as_ref(), 1000).await?;
        let unscheduled = page.orders.iter().filter(|o| {
            o.merchant_id == session.merchant_id && o.next_check_at.is_none() && o.last_checked_at.is_none()
        });
        for o in unscheduled {
            session.ledger.schedule_order_check(o.id, Some(now)).await?;
            adopted += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(adopted)
}

/// The next check after a failed query: the regular schedule, but never sooner than a minute.
fn retry_at(order: &Order, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_check_at(order.placed_at, &order.trade_state, now).map(|t| t.max(now + Duration::minutes(1)))
}

/// Checks one order and schedules its next check. Returns what happened.
pub(crate) async fn check_and_schedule(
    session: &Session,
    order: &Order,
    actor: &str,
    locale: Locale,
) -> (CheckedOrder, CoreResult<Checked>) {
    let result = check_order(session, order, actor).await;
    let now = Utc::now();
    let (state_after, next, outcome) = match &result {
        Ok(Checked::Changed { to, .. }) => (to.clone(), next_check_at(order.placed_at, to, now), "changed"),
        Ok(Checked::Unchanged(state)) => (state.clone(), next_check_at(order.placed_at, state, now), "unchanged"),
        Ok(Checked::NotAtWeChat) => (order.trade_state.clone(), retry_at(order, now), "not_at_wechat"),
        // A payment the ledger refused (amount mismatch, another order's transaction): flagged, watching ends.
        Err(CoreError::Ledger(ledger::Error::InvalidInput(_) | ledger::Error::InvalidTransition(_))) => {
            (order.trade_state.clone(), None, "error")
        }
        Err(_) => (order.trade_state.clone(), retry_at(order, now), "error"),
    };
    let scheduled = session.ledger.schedule_order_check(order.id, next).await;
    let mut error = result.as_ref().err().map(|e| e.to_ui(locale));
    if let Err(e) = scheduled {
        error.get_or_insert_with(|| CoreError::from(e).to_ui(locale));
    }
    let entry = CheckedOrder {
        out_trade_no: order.out_trade_no.as_str().to_string(),
        state_before: order.trade_state.as_str().to_string(),
        state_after: state_after.as_str().to_string(),
        outcome: if error.is_some() { "error" } else { outcome },
        error,
        next_check_at: next.map(rfc3339),
    };
    (entry, result)
}

/// One sync round for this session's merchant: adopt, then check up to `batch` due orders.
pub(crate) async fn round(
    session: &Session,
    in_flight: &InFlight,
    batch: u32,
    locale: Locale,
) -> CoreResult<SyncReport> {
    let started = Utc::now();
    let adopted = adopt(session, started).await?;
    let due = session.ledger.orders_due_for_check(started, batch).await?;
    let mut checked = Vec::new();
    let actor = "sync";
    for order in due.iter().filter(|o| o.merchant_id == session.merchant_id) {
        let Some(_guard) = in_flight.try_take(order.id) else {
            checked.push(CheckedOrder {
                out_trade_no: order.out_trade_no.as_str().to_string(),
                state_before: order.trade_state.as_str().to_string(),
                state_after: order.trade_state.as_str().to_string(),
                outcome: "skipped",
                error: None,
                next_check_at: order.next_check_at.map(rfc3339),
            });
            continue;
        };
        let (entry, _) = check_and_schedule(session, order, actor, locale).await;
        checked.push(entry);
    }
    let changed = checked.iter().filter(|c| c.outcome == "changed").count();
    let errors = checked.iter().filter(|c| c.outcome == "error").count();
    Ok(SyncReport { started_at: rfc3339(started), finished_at: rfc3339(Utc::now()), adopted, checked, changed, errors })
}

/// The orders under watch (at most `limit`, next check first).
pub(crate) async fn status(
    session: &Session,
    running: bool,
    last_sync_at: Option<DateTime<Utc>>,
    limit: u32,
) -> CoreResult<SyncStatus> {
    let horizon = Utc::now() + Duration::days(3650);
    let watched = session.ledger.orders_due_for_check(horizon, limit).await?;
    Ok(SyncStatus {
        running,
        last_sync_at: last_sync_at.map(rfc3339),
        watched: watched
            .iter()
            .filter(|o| o.merchant_id == session.merchant_id)
            .filter_map(|o| {
                o.next_check_at.map(|next| WatchedOrder {
                    out_trade_no: o.out_trade_no.as_str().to_string(),
                    state: o.trade_state.as_str().to_string(),
                    last_checked_at: o.last_checked_at.map(rfc3339),
                    next_check_at: rfc3339(next),
                    checks: o.check_count,
                })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_709_280_000, 0).unwrap() + Duration::minutes(minutes)
    }

    #[test]
    fn the_schedule_follows_the_table() {
        let placed = at(0);
        let unpaid = TradeState::NotPay;
        // (minutes since placed at the check, minutes until the next check; None = stop)
        let table: &[(i64, Option<i64>)] = &[
            (0, Some(1)),
            (1, Some(1)),
            (4, Some(1)),
            (5, Some(2)),
            (14, Some(2)),
            (15, Some(5)),
            (29, Some(5)),
            (30, Some(10)),
            (59, Some(10)),
            (60, Some(30)),
            (179, Some(30)),
            (180, Some(60)),
            (23 * 60, Some(60)),
            (23 * 60 + 1, None),
            (24 * 60, None),
            (30 * 60, None),
        ];
        for (age, expected) in table {
            let got = next_check_at(placed, &unpaid, at(*age)).map(|t| (t - at(*age)).num_minutes());
            assert_eq!(got, *expected, "checked {age} min after placing");
        }
    }

    #[test]
    fn final_states_end_the_watch_and_open_ones_continue() {
        for s in ["SUCCESS", "REFUND", "CLOSED", "REVOKED", "PAYERROR"] {
            assert_eq!(next_check_at(at(0), &TradeState::parse(s), at(1)), None, "{s}");
        }
        for s in ["NOTPAY", "USERPAYING", "ACCEPT"] {
            assert_eq!(next_check_at(at(0), &TradeState::parse(s), at(1)), Some(at(2)), "{s}");
        }
    }

    #[test]
    fn an_order_from_the_future_is_checked_each_minute() {
        assert_eq!(next_check_at(at(10), &TradeState::NotPay, at(0)), Some(at(1)));
    }

    #[test]
    fn an_order_is_in_flight_once() {
        let f = InFlight::default();
        let g = f.try_take(OrderId(1)).unwrap();
        assert!(f.try_take(OrderId(1)).is_none());
        assert!(f.try_take(OrderId(2)).is_some());
        drop(g);
        assert!(f.try_take(OrderId(1)).is_some());
    }
}
