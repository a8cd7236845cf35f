//! Why a bill could not be read (§7.4, §7.5): every error names the 1-based line of the decompressed
//! text it stopped at and says what a person can do about it. Reading never panics; the writer's
//! errors are kept apart because they are the caller's mistakes, not WeChat's.

use std::fmt;

/// A bill that cannot be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bill line {line}: {kind}")]
pub struct BillError {
    /// 1-based line number in the (decompressed) text.
    pub line: u64,
    pub kind: BillErrorKind,
}

impl BillError {
    pub fn new(line: u64, kind: BillErrorKind) -> Self {
        BillError { line, kind }
    }
}

/// What is wrong at that line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillErrorKind {
    #[error("could not read the bill: {0}")]
    Io(String),
    #[error("the gzip stream is damaged ({0}); download the bill again")]
    Gzip(String),
    #[error(
        "byte {column} of the line is not UTF-8; bills are UTF-8 (was the file re-saved as GBK by a spreadsheet?)"
    )]
    NotUtf8 { column: usize },
    #[error("the line is longer than {max} bytes; this is not a WeChat bill")]
    LineTooLong { max: usize },
    #[error("the bill is empty")]
    Empty,
    #[error("this is a WeChat XML reply (for example \"No Bill Exist\"), not a bill: {0}")]
    XmlReply(String),
    #[error("the column titles line is missing: {0}")]
    MissingHeader(&'static str),
    #[error("column {0:?} appears twice in the titles line")]
    DuplicateColumn(String),
    #[error("the titles line has no {0} column; this is not a trade bill (a fund-flow bill starts with 记账时间)")]
    MissingColumn(&'static str),
    #[error(
        "too few columns: {found} values but the titles line has {expected}; a value lost its backtick or the line \
         was cut"
    )]
    TooFewColumns { expected: usize, found: usize },
    #[error(
        "too many columns: {found} values but the titles line has {expected}; a value probably contains \",`\", \
         which the format cannot carry"
    )]
    TooManyColumns { expected: usize, found: usize },
    #[error("{column}: {text:?} is not an exact yuan amount ({reason})")]
    BadAmount { column: String, text: String, reason: &'static str },
    #[error("{column}: {text:?} is not a time (expected yyyy-MM-dd HH:mm:ss, Beijing time)")]
    BadTime { column: String, text: String },
    #[error("{column}: {text:?} is not a whole count")]
    BadCount { column: String, text: String },
    #[error("an empty line inside the bill; a data row or the summary title (总交易单数…) was expected")]
    BlankLine,
    #[error("neither a data row (values start with a backtick) nor the summary title (总交易单数…): {0:?}")]
    UnexpectedLine(String),
    #[error("the bill ends without its summary (总交易单数…); the download was cut short: download it again")]
    Truncated,
    #[error("the summary titles are not followed by the summary values line")]
    MissingSummaryValues,
    #[error("the summary has {found} values for {expected} titles")]
    SummaryColumns { expected: usize, found: usize },
    #[error("text after the summary: {0:?}")]
    TrailingContent(String),
    #[error("the {0} column adds up beyond the range of a 64-bit amount")]
    Overflow(String),
}

/// The first characters of a line, for an error message.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A bill that cannot be written as asked.
#[derive(Debug, thiserror::Error)]
pub enum BillWriteError {
    #[error("writing the bill: {0}")]
    Io(#[from] std::io::Error),
    #[error("{column}: {reason}")]
    InvalidValue { column: &'static str, reason: InvalidValueReason },
    #[error("a {0} bill has no documented layout to write")]
    UnsupportedBillType(&'static str),
    #[error("the {0} total overflows a 64-bit amount")]
    Overflow(&'static str),
}

/// Why a value cannot be placed in a bill cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidValueReason {
    /// A line break would end the row.
    LineBreak,
    /// `` ,` `` is the cell separator; there is no escaping in the format (§7.4).
    Separator,
}

impl fmt::Display for InvalidValueReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidValueReason::LineBreak => "contains a line break, which would end the row",
            InvalidValueReason::Separator => "contains \",`\", the cell separator, which the format cannot escape",
        })
    }
}
