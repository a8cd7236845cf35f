//! Money: integer fen (分) everywhere, exact decimal text at the edges.
//!
//! Every API field carries fen as an integer (wxpay-v2.md §4); bills print yuan with two decimals and
//! fees with five (§7.4). Conversions here are exact string ↔ integer arithmetic: there is no `f64`
//! anywhere in this module, and `Fen` has no float constructor on purpose.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An amount of money in fen (1 yuan = 100 fen). May be negative (refund rows, fee reversals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: i64) -> Self {
        Fen(fen)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    pub fn checked_neg(self) -> Option<Fen> {
        self.0.checked_neg().map(Fen)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parses an API integer field (`total_fee`, `refund_fee`, …): plain decimal digits, no sign, no
    /// decimals, no surrounding whitespace.
    pub fn parse_api(text: &str) -> Result<Fen, MoneyError> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::new(text, "expected a whole number of fen"));
        }
        text.parse::<i64>().map(Fen).map_err(|_| MoneyError::new(text, "amount too large"))
    }

    /// Parses a bill's yuan text (`0.01`, `45.0`, `0`, `-2.02`) into fen, exactly.
    /// More than two decimals are accepted only when the extra digits are zeros.
    pub fn parse_yuan(text: &str) -> Result<Fen, MoneyError> {
        parse_decimal(text, 2).map(Fen)
    }

    /// Formats as yuan with exactly two decimals (`1234` → `12.34`, `-5` → `-0.05`).
    pub fn to_yuan_string(self) -> String {
        format_decimal(self.0, 2)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_yuan_string())
    }
}

impl FromStr for Fen {
    type Err = MoneyError;

    /// Parses API form (integer fen). Use [`Fen::parse_yuan`] for bill text.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fen::parse_api(s)
    }
}

/// A bill fee (手续费) kept exactly at the bill's five decimals: units of 0.00001 yuan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FeeAmount(pub i64);

impl FeeAmount {
    pub const ZERO: FeeAmount = FeeAmount(0);
    /// 0.00001 yuan units per fen.
    pub const UNITS_PER_FEN: i64 = 1000;

    pub fn parse_yuan(text: &str) -> Result<FeeAmount, MoneyError> {
        parse_decimal(text, 5).map(FeeAmount)
    }

    pub fn checked_add(self, other: FeeAmount) -> Option<FeeAmount> {
        self.0.checked_add(other.0).map(FeeAmount)
    }

    /// Formats with five decimals (`4000` → `0.04000`).
    pub fn to_yuan_string(self) -> String {
        format_decimal(self.0, 5)
    }
}

impl fmt::Display for FeeAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_yuan_string())
    }
}

/// A decimal text that is not an exact amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid amount {text:?}: {reason}")]
pub struct MoneyError {
    pub text: String,
    pub reason: &'static str,
}

impl MoneyError {
    fn new(text: &str, reason: &'static str) -> Self {
        MoneyError { text: text.chars().take(40).collect(), reason }
    }
}

/// Parses `[-]digits[.digits]` into an integer scaled by 10^`scale`, exactly.
pub fn parse_decimal(text: &str, scale: u32) -> Result<i64, MoneyError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MoneyError::new(text, "expected digits before the decimal point"));
    }
    if body.contains('.') && frac_part.is_empty() {
        return Err(MoneyError::new(text, "expected digits after the decimal point"));
    }
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MoneyError::new(text, "expected digits after the decimal point"));
    }
    let scale_digits = usize::try_from(scale).unwrap_or(usize::MAX);
    let (kept, extra) = if frac_part.len() > scale_digits { frac_part.split_at(scale_digits) } else { (frac_part, "") };
    if extra.bytes().any(|b| b != b'0') {
        return Err(MoneyError::new(text, "more decimals than the unit allows"));
    }
    let too_large = || MoneyError::new(text, "amount too large");
    // Accumulate in i128 so that i64::MIN (whose magnitude exceeds i64::MAX) still parses.
    let mut value: i128 = 0;
    for b in int_part.bytes().chain(kept.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .filter(|v| *v <= i128::from(i64::MAX) + 1)
            .ok_or_else(too_large)?;
    }
    for _ in kept.len()..scale_digits {
        value = value.checked_mul(10).filter(|v| *v <= i128::from(i64::MAX) + 1).ok_or_else(too_large)?;
    }
    let signed = if negative { -value } else { value };
    i64::try_from(signed).map_err(|_| too_large())
}

/// Formats an integer scaled by 10^`scale` as `[-]int.frac` with exactly `scale` decimals.
pub fn format_decimal(value: i64, scale: u32) -> String {
    let digits = value.unsigned_abs().to_string();
    let scale = usize::try_from(scale).unwrap_or(0);
    let padded =
        if digits.len() <= scale { format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits) } else { digits };
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let sign = if value < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn yuan_text_converts_exactly() {
        let cases = [
            ("0.01", 1),
            ("45.0", 4500),
            ("0", 0),
            ("0.0", 0),
            ("6.00", 600),
            ("-2.02", -202),
            ("0.10", 10),
            ("1234567.89", 123_456_789),
            ("0.010", 1),
        ];
        for (text, fen) in cases {
            assert_eq!(Fen::parse_yuan(text), Ok(Fen(fen)), "{text}");
        }
    }

    #[test]
    fn inexact_or_malformed_yuan_is_refused() {
        for text in ["0.001", "1.005", "", ".5", "5.", "1,00", "¥1", "1e2", "0x10", " 1", "--1", "1.2.3"] {
            assert!(Fen::parse_yuan(text).is_err(), "{text:?} must be refused");
        }
    }

    #[test]
    fn fees_keep_five_decimals() {
        assert_eq!(FeeAmount::parse_yuan("0.04000"), Ok(FeeAmount(4000)));
        assert_eq!(FeeAmount::parse_yuan("-0.02000"), Ok(FeeAmount(-2000)));
        assert_eq!(FeeAmount::parse_yuan("0.00001"), Ok(FeeAmount(1)));
        assert_eq!(FeeAmount::parse_yuan("0"), Ok(FeeAmount(0)));
        assert_eq!(FeeAmount(4000).to_yuan_string(), "0.04000");
        assert_eq!(FeeAmount(-2000).to_yuan_string(), "-0.02000");
    }

    #[test]
    fn api_amounts_are_plain_integers() {
        assert_eq!(Fen::parse_api("3960"), Ok(Fen(3960)));
        for text in ["", "-1", "1.0", " 1", "1 ", "+1", "99999999999999999999"] {
            assert!(Fen::parse_api(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn display_is_yuan_with_two_decimals() {
        assert_eq!(Fen(1).to_string(), "0.01");
        assert_eq!(Fen(-5).to_string(), "-0.05");
        assert_eq!(Fen(123_456).to_string(), "1234.56");
        assert_eq!(Fen(i64::MIN).to_string(), "-92233720368547758.08");
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), None);
        assert_eq!(Fen(5).checked_sub(Fen(7)), Some(Fen(-2)));
    }

    proptest! {
        #[test]
        fn yuan_round_trips(fen in any::<i64>()) {
            prop_assert_eq!(Fen::parse_yuan(&Fen(fen).to_yuan_string()), Ok(Fen(fen)));
        }

        #[test]
        fn fee_round_trips(units in -1_000_000_000_000_i64..1_000_000_000_000) {
            prop_assert_eq!(FeeAmount::parse_yuan(&FeeAmount(units).to_yuan_string()), Ok(FeeAmount(units)));
        }
    }
}
