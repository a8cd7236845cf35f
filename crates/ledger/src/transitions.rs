//! State transitions as pure functions, `(from, event) -> Result<to, InvalidTransition>`, tested as tables.
//!
//! The ledger's write paths compute the target state here and then write it with `UPDATE … WHERE state = <from>`,
//! checking the row count, so a transition decided on a stale read never lands. `Ok(to)` with `to == from` means
//! the event is consistent with the current state but changes nothing (a repeated observation).

use std::fmt;

use wxpay::{RefundStatus, TradeState};

use crate::model::{ApplicationStatus, DiscrepancyStatus, ReconStatus, RefundState};

/// An event that does not apply to the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{machine}: {event} is not allowed in state {from}")]
pub struct InvalidTransition {
    pub machine: &'static str,
    pub from: String,
    pub event: String,
}

fn invalid(machine: &'static str, from: impl fmt::Display, event: impl fmt::Debug) -> InvalidTransition {
    InvalidTransition { machine, from: from.to_string(), event: format!("{event:?}") }
}

/// What the ledger learns about an order's payment (wxpay-v2.md §5.2, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// Money arrived (notification, SUCCESS query, bill row).
    Paid,
    /// USERPAYING (付款码: the payer is entering a password).
    UserPaying,
    /// ACCEPT (accepted, debit pending).
    Accepted,
    /// PAYERROR.
    PayFailed,
    /// CLOSED (closeorder or expiry).
    Closed,
    /// REVOKED (付款码 reversed).
    Revoked,
    /// REFUND: a refund was accepted for the order (WeChat's state turns REFUND once any refund exists).
    RefundStarted,
    /// NOTPAY observed again (a query while still unpaid).
    StillUnpaid,
}

impl OrderEvent {
    /// The event a queried `trade_state` stands for; `None` for a state this version does not know.
    pub fn from_observed(state: &TradeState) -> Option<OrderEvent> {
        Some(match state {
            TradeState::Success => OrderEvent::Paid,
            TradeState::Refund => OrderEvent::RefundStarted,
            TradeState::NotPay => OrderEvent::StillUnpaid,
            TradeState::Closed => OrderEvent::Closed,
            TradeState::Revoked => OrderEvent::Revoked,
            TradeState::UserPaying => OrderEvent::UserPaying,
            TradeState::PayError => OrderEvent::PayFailed,
            TradeState::Accept => OrderEvent::Accepted,
            TradeState::Unknown(_) => return None,
        })
    }
}

/// The order (trade_state) machine. Money that arrived is a fact even for an order we thought closed (a close can
/// race a payment), so `Paid` is accepted from every unpaid state except REVOKED; a paid order never goes back.
pub fn order_transition(from: &TradeState, event: OrderEvent) -> Result<TradeState, InvalidTransition> {
    use OrderEvent as E;
    use TradeState as S;
    let to = match (from, event) {
        (S::NotPay | S::UserPaying | S::Accept | S::PayError | S::Closed, E::Paid) => S::Success,
        (S::Success, E::Paid) => S::Success,
        (S::Refund, E::Paid | E::RefundStarted) => S::Refund,
        (S::Success, E::RefundStarted) => S::Refund,
        (S::NotPay, E::StillUnpaid) => S::NotPay,
        (S::NotPay, E::UserPaying) => S::UserPaying,
        (S::UserPaying, E::UserPaying) => S::UserPaying,
        (S::NotPay | S::UserPaying, E::Accepted) => S::Accept,
        (S::Accept, E::Accepted) => S::Accept,
        (S::NotPay | S::UserPaying | S::Accept, E::PayFailed) => S::PayError,
        (S::PayError, E::PayFailed) => S::PayError,
        (S::NotPay | S::UserPaying | S::Accept | S::PayError, E::Closed) => S::Closed,
        (S::Closed, E::Closed) => S::Closed,
        (S::NotPay | S::UserPaying, E::Revoked) => S::Revoked,
        (S::Revoked, E::Revoked) => S::Revoked,
        _ => return Err(invalid("order", from, event)),
    };
    Ok(to)
}

/// What the ledger learns about a refund (wxpay-v2.md §5.4, §5.5, §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEvent {
    /// The refund request's reply said SUCCESS (= accepted).
    Accepted,
    /// The request failed in a way that is retried with the same out_refund_no (SYSTEMERROR, timeout, NOTENOUGH…).
    SendFailedRetryable,
    /// The request was refused for good (retry class N: TRADE_OVERDUE, USER_ACCOUNT_ABNORMAL, …).
    SendRefused,
    /// refund_status observed (notification or refundquery).
    Observed(RefundObserved),
}

/// A `refund_status` value, without the unknown arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundObserved {
    Processing,
    Success,
    RefundClose,
    Change,
}

impl RefundObserved {
    pub fn from_status(status: &RefundStatus) -> Option<RefundObserved> {
        Some(match status {
            RefundStatus::Processing => RefundObserved::Processing,
            RefundStatus::Success => RefundObserved::Success,
            RefundStatus::RefundClose => RefundObserved::RefundClose,
            RefundStatus::Change => RefundObserved::Change,
            RefundStatus::Unknown(_) => return None,
        })
    }
}

/// The refund machine: CREATED → PROCESSING → SUCCESS / REFUNDCLOSE / CHANGE, or CREATED → FAILED. A query may
/// find a CREATED refund already past PROCESSING (the accepting reply was lost). CHANGE can still be fixed by a
/// person in the merchant platform, after which WeChat reports SUCCESS (or closes it).
pub fn refund_transition(from: RefundState, event: RefundEvent) -> Result<RefundState, InvalidTransition> {
    use RefundEvent as E;
    use RefundObserved as O;
    use RefundState as S;
    let to = match (from, event) {
        (S::Created, E::SendFailedRetryable) => S::Created,
        (S::Created, E::SendRefused) => S::Failed,
        (S::Created | S::Processing, E::Accepted | E::Observed(O::Processing)) => S::Processing,
        (S::Created | S::Processing | S::Change | S::Success, E::Observed(O::Success)) => S::Success,
        (S::Created | S::Processing | S::Change | S::RefundClose, E::Observed(O::RefundClose)) => S::RefundClose,
        (S::Created | S::Processing | S::Change, E::Observed(O::Change)) => S::Change,
        // A late accepting reply after the outcome is known changes nothing.
        (S::Success | S::RefundClose | S::Change, E::Accepted) => from,
        _ => return Err(invalid("refund", from, event)),
    };
    Ok(to)
}

/// Decisions on a refund application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationEvent {
    Approve,
    Reject,
    Cancel,
}

/// PENDING → APPROVED / REJECTED / CANCELLED, once.
pub fn application_transition(
    from: ApplicationStatus,
    event: ApplicationEvent,
) -> Result<ApplicationStatus, InvalidTransition> {
    match (from, event) {
        (ApplicationStatus::Pending, ApplicationEvent::Approve) => Ok(ApplicationStatus::Approved),
        (ApplicationStatus::Pending, ApplicationEvent::Reject) => Ok(ApplicationStatus::Rejected),
        (ApplicationStatus::Pending, ApplicationEvent::Cancel) => Ok(ApplicationStatus::Cancelled),
        _ => Err(invalid("refund application", from, event)),
    }
}

/// What happens to a discrepancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscrepancyEvent {
    /// The carry-over window ended without the item showing up.
    WindowEnded,
    /// An action (query now, refund via approval) was started.
    ActionStarted,
    /// The action failed or was abandoned.
    ActionFailed,
    /// A later run, query or bill shows both sides agree.
    Matched,
    /// A person marked it explained with a note.
    Explained,
}

/// OPEN / CARRIED_OVER → ACTION_PENDING → RESOLVED, or → EXPLAINED by a person.
pub fn discrepancy_transition(
    from: DiscrepancyStatus,
    event: DiscrepancyEvent,
) -> Result<DiscrepancyStatus, InvalidTransition> {
    use DiscrepancyEvent as E;
    use DiscrepancyStatus as S;
    let to = match (from, event) {
        (S::CarriedOver, E::WindowEnded) => S::Open,
        (S::Open | S::CarriedOver, E::ActionStarted) => S::ActionPending,
        (S::ActionPending, E::ActionFailed) => S::Open,
        (S::Open | S::CarriedOver | S::ActionPending, E::Matched) => S::Resolved,
        (S::Open | S::CarriedOver | S::ActionPending, E::Explained) => S::Explained,
        _ => return Err(invalid("discrepancy", from, event)),
    };
    Ok(to)
}

/// RUNNING → COMPLETED / FAILED.
pub fn recon_transition(from: ReconStatus, to: ReconStatus) -> Result<ReconStatus, InvalidTransition> {
    match (from, to) {
        (ReconStatus::Running, ReconStatus::Completed | ReconStatus::Failed) => Ok(to),
        _ => Err(invalid("reconciliation run", from, to)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T>(to: T) -> Result<T, ()> {
        Ok(to)
    }
    const ERR: Result<TradeState, ()> = Err(());

    #[test]
    fn order_transition_table() {
        use OrderEvent as E;
        use TradeState as S;
        let table: Vec<(TradeState, OrderEvent, Result<TradeState, ()>)> = vec![
            (S::NotPay, E::Paid, ok(S::Success)),
            (S::UserPaying, E::Paid, ok(S::Success)),
            (S::Accept, E::Paid, ok(S::Success)),
            (S::PayError, E::Paid, ok(S::Success)),
            (S::Closed, E::Paid, ok(S::Success)),
            (S::Revoked, E::Paid, ERR),
            (S::Success, E::Paid, ok(S::Success)),
            (S::Refund, E::Paid, ok(S::Refund)),
            (S::Success, E::RefundStarted, ok(S::Refund)),
            (S::Refund, E::RefundStarted, ok(S::Refund)),
            (S::NotPay, E::RefundStarted, ERR),
            (S::Closed, E::RefundStarted, ERR),
            (S::NotPay, E::StillUnpaid, ok(S::NotPay)),
            (S::Success, E::StillUnpaid, ERR),
            (S::Closed, E::StillUnpaid, ERR),
            (S::NotPay, E::UserPaying, ok(S::UserPaying)),
            (S::Success, E::UserPaying, ERR),
            (S::NotPay, E::Accepted, ok(S::Accept)),
            (S::UserPaying, E::Accepted, ok(S::Accept)),
            (S::Success, E::Accepted, ERR),
            (S::NotPay, E::PayFailed, ok(S::PayError)),
            (S::UserPaying, E::PayFailed, ok(S::PayError)),
            (S::Success, E::PayFailed, ERR),
            (S::NotPay, E::Closed, ok(S::Closed)),
            (S::PayError, E::Closed, ok(S::Closed)),
            (S::Closed, E::Closed, ok(S::Closed)),
            (S::Success, E::Closed, ERR),
            (S::Refund, E::Closed, ERR),
            (S::UserPaying, E::Revoked, ok(S::Revoked)),
            (S::Success, E::Revoked, ERR),
        ];
        for (from, event, expected) in table {
            let got = order_transition(&from, event).map_err(|_| ());
            assert_eq!(got, expected, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn a_paid_order_never_becomes_unpaid() {
        use OrderEvent as E;
        for from in [TradeState::Success, TradeState::Refund] {
            for event in [E::UserPaying, E::Accepted, E::PayFailed, E::Closed, E::Revoked, E::StillUnpaid] {
                assert!(order_transition(&from, event).is_err(), "{from:?} + {event:?}");
            }
        }
    }

    #[test]
    fn unknown_trade_states_map_to_no_event() {
        assert_eq!(OrderEvent::from_observed(&TradeState::Unknown("NEW".into())), None);
        assert_eq!(OrderEvent::from_observed(&TradeState::Success), Some(OrderEvent::Paid));
    }

    #[test]
    fn refund_transition_table() {
        use RefundEvent as E;
        use RefundObserved as O;
        use RefundState as S;
        let table: Vec<(RefundState, RefundEvent, Result<RefundState, ()>)> = vec![
            (S::Created, E::Accepted, ok(S::Processing)),
            (S::Created, E::SendFailedRetryable, ok(S::Created)),
            (S::Created, E::SendRefused, ok(S::Failed)),
            (S::Created, E::Observed(O::Success), ok(S::Success)),
            (S::Created, E::Observed(O::Processing), ok(S::Processing)),
            (S::Processing, E::Observed(O::Success), ok(S::Success)),
            (S::Processing, E::Observed(O::RefundClose), ok(S::RefundClose)),
            (S::Processing, E::Observed(O::Change), ok(S::Change)),
            (S::Processing, E::Observed(O::Processing), ok(S::Processing)),
            (S::Processing, E::Accepted, ok(S::Processing)),
            (S::Processing, E::SendRefused, Err(())),
            (S::Processing, E::SendFailedRetryable, Err(())),
            (S::Change, E::Observed(O::Success), ok(S::Success)),
            (S::Change, E::Observed(O::Change), ok(S::Change)),
            (S::Change, E::Observed(O::Processing), Err(())),
            (S::Success, E::Observed(O::Success), ok(S::Success)),
            (S::Success, E::Accepted, ok(S::Success)),
            (S::Success, E::Observed(O::RefundClose), Err(())),
            (S::Success, E::Observed(O::Change), Err(())),
            (S::RefundClose, E::Observed(O::Success), Err(())),
            (S::RefundClose, E::Observed(O::RefundClose), ok(S::RefundClose)),
            (S::Failed, E::Accepted, Err(())),
            (S::Failed, E::Observed(O::Success), Err(())),
            (S::Failed, E::SendRefused, Err(())),
        ];
        for (from, event, expected) in table {
            let got = refund_transition(from, event).map_err(|_| ());
            assert_eq!(got, expected, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn application_transition_table() {
        use ApplicationEvent as E;
        use ApplicationStatus as S;
        let table = [
            (S::Pending, E::Approve, ok(S::Approved)),
            (S::Pending, E::Reject, ok(S::Rejected)),
            (S::Pending, E::Cancel, ok(S::Cancelled)),
            (S::Approved, E::Approve, Err(())),
            (S::Approved, E::Reject, Err(())),
            (S::Approved, E::Cancel, Err(())),
            (S::Rejected, E::Approve, Err(())),
            (S::Cancelled, E::Approve, Err(())),
        ];
        for (from, event, expected) in table {
            assert_eq!(application_transition(from, event).map_err(|_| ()), expected, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn discrepancy_transition_table() {
        use DiscrepancyEvent as E;
        use DiscrepancyStatus as S;
        let table = [
            (S::CarriedOver, E::WindowEnded, ok(S::Open)),
            (S::Open, E::WindowEnded, Err(())),
            (S::Open, E::ActionStarted, ok(S::ActionPending)),
            (S::ActionPending, E::ActionFailed, ok(S::Open)),
            (S::ActionPending, E::Matched, ok(S::Resolved)),
            (S::CarriedOver, E::Matched, ok(S::Resolved)),
            (S::Open, E::Explained, ok(S::Explained)),
            (S::Resolved, E::Explained, Err(())),
            (S::Explained, E::Matched, Err(())),
            (S::Resolved, E::ActionStarted, Err(())),
        ];
        for (from, event, expected) in table {
            assert_eq!(discrepancy_transition(from, event).map_err(|_| ()), expected, "{from:?} + {event:?}");
        }
    }

    #[test]
    fn recon_runs_finish_once() {
        assert_eq!(recon_transition(ReconStatus::Running, ReconStatus::Completed), Ok(ReconStatus::Completed));
        assert_eq!(recon_transition(ReconStatus::Running, ReconStatus::Failed), Ok(ReconStatus::Failed));
        assert!(recon_transition(ReconStatus::Completed, ReconStatus::Failed).is_err());
        assert!(recon_transition(ReconStatus::Running, ReconStatus::Running).is_err());
    }

    #[test]
    fn invalid_transition_names_the_machine() {
        let err = application_transition(ApplicationStatus::Approved, ApplicationEvent::Approve).unwrap_err();
        assert_eq!(err.machine, "refund application");
        assert_eq!(err.from, "APPROVED");
    }
}
