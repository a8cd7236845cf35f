//! Injected faults, per merchant or per order (an order's own faults replace its merchant's): what a
//! test or a trainer turns on to see the code under test cope with WeChat misbehaving. Each field is
//! independent; the default is a perfectly behaved WeChat.

use serde::{Deserialize, Serialize};
use wxpay::RefundStatus;

/// The faults in force for a merchant or an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Share of API calls (0–100 %) answered `SYSTEMERROR` without doing anything.
    pub system_error_percent: u8,
    /// The next N API calls are answered `SYSTEMERROR` without doing anything (counts down).
    pub system_error_next: u32,
    /// The next N API calls are carried out and then answered `SYSTEMERROR` anyway — "did my refund
    /// go through?" (counts down).
    pub system_error_after_apply_next: u32,
    /// Added to every API reply.
    pub latency_ms: u64,
    /// The first N attempts of every notification are lost on the way (nothing reaches the merchant;
    /// WeChat sees no acknowledgement and retries on schedule).
    pub notify_drop_first: u32,
    /// Notifications are never sent at all: the merchant learns only by querying.
    pub notify_lost: bool,
    /// After a notification was acknowledged it is delivered once more (another WeChat server).
    pub notify_duplicate: bool,
    /// Every attempt is sent twice at the same moment.
    pub notify_concurrent: bool,
    /// New refunds stay PROCESSING until settled through the admin API.
    pub refund_stuck: bool,
    /// How new refunds settle on their own (default SUCCESS): SUCCESS, REFUNDCLOSE or CHANGE.
    pub refund_outcome: Option<RefundStatus>,
    /// Refund calls are answered FREQUENCY_LIMITED.
    pub frequency_limited: bool,
    /// New refunds are refused with this err_code and nothing is done (e.g. `USER_ACCOUNT_ABNORMAL`: the payer's
    /// account is frozen; `TRADE_OVERDUE`). A repeat of an existing refund is still answered as before.
    pub refund_refusal: Option<String>,
}

/// What the fault roll says about one API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFault {
    None,
    /// Answer SYSTEMERROR and do nothing.
    SystemError,
    /// Do the work, answer SYSTEMERROR.
    SystemErrorAfterApply,
}

impl Faults {
    /// Decides the fate of one call, counting down the `_next` counters. `roll` is 0–99.
    pub fn take_call_fault(&mut self, roll: u8) -> CallFault {
        if self.system_error_next > 0 {
            self.system_error_next -= 1;
            return CallFault::SystemError;
        }
        if roll < self.system_error_percent.min(100) {
            return CallFault::SystemError;
        }
        if self.system_error_after_apply_next > 0 {
            self.system_error_after_apply_next -= 1;
            return CallFault::SystemErrorAfterApply;
        }
        CallFault::None
    }

    /// The status a new refund moves to by itself.
    pub fn refund_outcome(&self) -> RefundStatus {
        match &self.refund_outcome {
            Some(s @ (RefundStatus::RefundClose | RefundStatus::Change)) => s.clone(),
            _ => RefundStatus::Success,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count_down_and_percent_applies() {
        let mut f = Faults { system_error_next: 2, system_error_after_apply_next: 1, ..Faults::default() };
        assert_eq!(f.take_call_fault(99), CallFault::SystemError);
        assert_eq!(f.take_call_fault(99), CallFault::SystemError);
        assert_eq!(f.take_call_fault(99), CallFault::SystemErrorAfterApply);
        assert_eq!(f.take_call_fault(0), CallFault::None);
        let mut half = Faults { system_error_percent: 50, ..Faults::default() };
        assert_eq!(half.take_call_fault(49), CallFault::SystemError);
        assert_eq!(half.take_call_fault(50), CallFault::None);
    }

    #[test]
    fn only_terminal_outcomes_other_than_success_are_kept() {
        let f = Faults { refund_outcome: Some(RefundStatus::Processing), ..Faults::default() };
        assert_eq!(f.refund_outcome(), RefundStatus::Success);
        let f = Faults { refund_outcome: Some(RefundStatus::Change), ..Faults::default() };
        assert_eq!(f.refund_outcome(), RefundStatus::Change);
    }

    #[test]
    fn unknown_fault_names_are_refused() {
        assert!(serde_json::from_str::<Faults>(r#"{"system_error_pct": 5}"#).is_err());
        let f: Faults = serde_json::from_str(r#"{"refund_outcome": "REFUNDCLOSE"}"#).unwrap();
        assert_eq!(f.refund_outcome(), RefundStatus::RefundClose);
    }
}
