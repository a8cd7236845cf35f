//! Beijing time (UTC+8, no daylight saving): WeChat writes every time without a zone (§4).
//! `yyyyMMddHHmmss` in API fields, `yyyy-MM-dd HH:mm:ss` in refund notifications and bills.
//! Paydesk stores UTC and shows local time; a bill "day" is a Beijing calendar day.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

const BEIJING_OFFSET_SECS: i32 = 8 * 3600;

/// The UTC+8 offset WeChat's times are written in.
#[allow(clippy::expect_used)] // 8 hours is always within FixedOffset's ±24 h range
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(BEIJING_OFFSET_SECS).expect("UTC+8 is a valid offset")
}

/// A wall-clock time in Beijing as WeChat writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BeijingTime(NaiveDateTime);

/// A time text in neither of WeChat's formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Beijing time {text:?}: expected {expected}")]
pub struct TimeError {
    pub text: String,
    pub expected: &'static str,
}

impl BeijingTime {
    pub fn from_naive(local: NaiveDateTime) -> Self {
        BeijingTime(local)
    }

    pub fn from_utc(utc: DateTime<Utc>) -> Self {
        BeijingTime(utc.with_timezone(&beijing()).naive_local())
    }

    pub fn naive(self) -> NaiveDateTime {
        self.0
    }

    pub fn to_utc(self) -> DateTime<Utc> {
        // A fixed offset has exactly one mapping for every local time.
        DateTime::<Utc>::from_naive_utc_and_offset(
            self.0 - chrono::Duration::seconds(i64::from(BEIJING_OFFSET_SECS)),
            Utc,
        )
    }

    /// The Beijing calendar day (the bill / reconciliation day).
    pub fn date(self) -> NaiveDate {
        self.0.date()
    }

    /// `yyyyMMddHHmmss` (time_end, time_start, time_expire).
    pub fn parse_compact(text: &str) -> Result<Self, TimeError> {
        if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TimeError { text: text.into(), expected: "yyyyMMddHHmmss" });
        }
        NaiveDateTime::parse_from_str(text, "%Y%m%d%H%M%S")
            .map(BeijingTime)
            .map_err(|_| TimeError { text: text.into(), expected: "yyyyMMddHHmmss" })
    }

    /// `yyyy-MM-dd HH:mm:ss` (success_time, bills). The 2014 bill example writes fullwidth colons
    /// (`16：33：45`); they are accepted.
    pub fn parse_dashed(text: &str) -> Result<Self, TimeError> {
        let normalized;
        let text_ascii = if text.contains('：') {
            normalized = text.replace('：', ":");
            normalized.as_str()
        } else {
            text
        };
        let err = || TimeError { text: text.into(), expected: "yyyy-MM-dd HH:mm:ss" };
        // Exactly `dddd-dd-dd dd:dd:dd`: chrono alone would take `2019-02-19  05:01:4`.
        let shape_ok = text_ascii.len() == 19
            && text_ascii.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b' ',
                13 | 16 => b == b':',
                _ => b.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(err());
        }
        NaiveDateTime::parse_from_str(text_ascii, "%Y-%m-%d %H:%M:%S").map(BeijingTime).map_err(|_| err())
    }

    /// Either format, chosen by shape.
    pub fn parse_any(text: &str) -> Result<Self, TimeError> {
        if text.len() == 14 {
            Self::parse_compact(text)
        } else {
            Self::parse_dashed(text)
        }
    }

    pub fn to_compact(self) -> String {
        self.0.format("%Y%m%d%H%M%S").to_string()
    }

    pub fn to_dashed(self) -> String {
        self.0.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

impl fmt::Display for BeijingTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_dashed())
    }
}

/// `yyyyMMdd` for bill_date.
pub fn format_bill_date(date: NaiveDate) -> String {
    date.format("%Y%m%d").to_string()
}

/// Parses `yyyyMMdd` or `yyyy-MM-dd`.
pub fn parse_bill_date(text: &str) -> Result<NaiveDate, TimeError> {
    let fmt = if text.len() == 8 { "%Y%m%d" } else { "%Y-%m-%d" };
    NaiveDate::parse_from_str(text, fmt)
        .map_err(|_| TimeError { text: text.into(), expected: "yyyyMMdd or yyyy-MM-dd" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_time_is_beijing() {
        let t = BeijingTime::parse_compact("20141111170043").map_err(|e| e.to_string());
        let t = t.as_ref().map(|t| t.to_utc().to_rfc3339());
        assert_eq!(t, Ok("2014-11-11T09:00:43+00:00".to_string()));
    }

    #[test]
    fn midnight_in_beijing_is_the_previous_utc_day() {
        let t = BeijingTime::parse_dashed("2024-03-01 00:00:00").map(|t| (t.date(), t.to_utc().date_naive()));
        assert_eq!(
            t,
            Ok((
                NaiveDate::from_ymd_opt(2024, 3, 1).unwrap_or_default(),
                NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default()
            ))
        );
    }

    #[test]
    fn fullwidth_colons_from_the_2014_doc_parse() {
        assert_eq!(
            BeijingTime::parse_dashed("2014-11-10 16：33：45").map(BeijingTime::to_compact),
            Ok("20141110163345".to_string())
        );
    }

    #[test]
    fn malformed_times_are_refused() {
        for t in
            ["", "2014111117004", "20141311170043", "2014-11-10T16:33:45", "2014-11-10 16:33", "２０１４1111170043"]
        {
            assert!(BeijingTime::parse_any(t).is_err(), "{t:?}");
        }
    }

    #[test]
    fn utc_round_trip() {
        let t = BeijingTime::parse_compact("20200104183424").unwrap_or_else(|_| BeijingTime::from_utc(Utc::now()));
        assert_eq!(BeijingTime::from_utc(t.to_utc()), t);
    }
}
