//! The simulated clock: real time plus an offset that the admin API sets or advances, so that
//! "yesterday's bill after 10:00", "366 days after payment" or "one minute later" are reached in
//! seconds. Every business rule reads the time here; only delivery pacing (retry intervals, refund
//! delay) runs on real time, scaled by the time factor.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use wxpay::BeijingTime;

/// Simulated now = real now + offset. The offset only changes through [`Clock::set`] and
/// [`Clock::advance`]; time keeps flowing in between.
#[derive(Debug, Default)]
pub struct Clock {
    /// Nanoseconds added to real time (±292 years fit).
    offset_ns: AtomicI64,
}

impl Clock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: Option<DateTime<Utc>>) -> Clock {
        let clock = Clock::default();
        if let Some(start) = start {
            clock.set(start);
        }
        clock
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }

    pub fn now_beijing(&self) -> BeijingTime {
        BeijingTime::from_utc(self.now())
    }

    fn offset(&self) -> Duration {
        Duration::nanoseconds(self.offset_ns.load(Ordering::Relaxed))
    }

    /// Jumps to `at` (forwards or backwards).
    pub fn set(&self, at: DateTime<Utc>) {
        let ns = (at - Utc::now()).num_nanoseconds().unwrap_or(i64::MAX);
        self.offset_ns.store(ns, Ordering::Relaxed);
    }

    /// Moves forward by `by` (negative moves back).
    pub fn advance(&self, by: Duration) {
        let by = by.num_nanoseconds().unwrap_or(i64::MAX);
        let _ = self.offset_ns.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| Some(o.saturating_add(by)));
    }

    /// Back to real time.
    pub fn reset(&self) {
        self.offset_ns.store(0, Ordering::Relaxed);
    }
}

/// Parses an instant: RFC 3339 (`2024-03-01T12:00:00+08:00`), or a Beijing wall-clock time in
/// WeChat's formats (`2024-03-01 12:00:00`, `20240301120000`).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    BeijingTime::parse_any(text).map(BeijingTime::to_utc).map_err(|_| {
        format!(
            "{text:?} is not a time: use RFC 3339 (2024-03-01T12:00:00+08:00) or Beijing time (2024-03-01 12:00:00)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_advance_move_the_simulated_time_only() {
        let clock = Clock::default();
        let target = parse_instant("2024-03-01T12:00:00+08:00").unwrap();
        clock.set(target);
        let now = clock.now();
        assert!((now - target).num_seconds().abs() <= 1, "{now}");
        clock.advance(Duration::days(366));
        assert_eq!(clock.now_beijing().date().to_string(), "2025-03-02");
        clock.reset();
        assert!((clock.now() - Utc::now()).num_seconds().abs() <= 1);
    }

    #[test]
    fn instants_parse_in_every_documented_form() {
        let a = parse_instant("2024-03-01T04:00:00Z").unwrap();
        assert_eq!(parse_instant("2024-03-01 12:00:00").unwrap(), a);
        assert_eq!(parse_instant("20240301120000").unwrap(), a);
        assert!(parse_instant("yesterday").is_err());
    }
}
