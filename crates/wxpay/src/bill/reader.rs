//! The streaming bill reader (§7.4, §7.5): text or gzip from any `BufRead`, one reused line buffer,
//! rows lent out one at a time, so memory does not grow with the number of rows.
//!
//! Layout (§7.4): an optional UTF-8 BOM; the titles line (no backticks); data rows whose every value
//! starts with a backtick; the summary titles line starting with 总交易单数; one backticked summary
//! values line; then nothing but empty lines. CRLF or LF. GZIP is recognised by its magic bytes
//! `1f 8b` and decompressed with a multi-member decoder (§7.5).

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;

use super::columns::{BillFormat, Header};
use super::error::{excerpt, BillError, BillErrorKind};
use super::row::{split_cells, OwnedRow, Row, RowKind, RowValues};
use super::totals::{Reconciliation, Summary, Totals, SUMMARY_FIRST_TITLE};
use crate::api::BillType;

/// The longest line accepted. Real rows are a few hundred bytes; the cap keeps a damaged or hostile
/// file from growing the line buffer without bound.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
const MAX_LINE_BYTES_U64: u64 = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const GZIP_BUFFER: usize = 64 * 1024;

/// A bill's bytes, plain or gzip, told apart by the first two bytes.
#[derive(Debug)]
pub struct Input<R: BufRead> {
    inner: InputKind<R>,
}

#[derive(Debug)]
enum InputKind<R: BufRead> {
    Plain(Chain<Cursor<Vec<u8>>, R>),
    Gzip(BufReader<MultiGzDecoder<Chain<Cursor<Vec<u8>>, R>>>),
}

impl<R: BufRead> Input<R> {
    /// Looks at the first two bytes (without losing them) and decompresses when they are the gzip magic.
    pub fn detect(mut inner: R) -> io::Result<Self> {
        let mut head = Vec::with_capacity(GZIP_MAGIC.len());
        while head.len() < GZIP_MAGIC.len() {
            let available = match inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let take = available.len().min(GZIP_MAGIC.len() - head.len());
            head.extend_from_slice(&available[..take]);
            inner.consume(take);
        }
        let gzip = head == GZIP_MAGIC;
        let whole = Cursor::new(head).chain(inner);
        Ok(Input {
            inner: if gzip {
                InputKind::Gzip(BufReader::with_capacity(GZIP_BUFFER, MultiGzDecoder::new(whole)))
            } else {
                InputKind::Plain(whole)
            },
        })
    }

    pub fn is_gzip(&self) -> bool {
        matches!(self.inner, InputKind::Gzip(_))
    }
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            InputKind::Plain(r) => r.read(buf),
            InputKind::Gzip(r) => r.read(buf),
        }
    }
}

impl<R: BufRead> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.inner {
            InputKind::Plain(r) => r.fill_buf(),
            InputKind::Gzip(r) => r.fill_buf(),
        }
    }

    fn consume(&mut self, amount: usize) {
        match &mut self.inner {
            InputKind::Plain(r) => r.consume(amount),
            InputKind::Gzip(r) => r.consume(amount),
        }
    }
}

#[derive(Debug)]
enum State {
    Rows,
    Done,
    Failed(BillError),
}

/// The input split into lines: one reused buffer, the 1-based number of the line in it.
#[derive(Debug)]
struct Lines<R> {
    input: R,
    gzip: bool,
    line_no: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    /// Reads the next line into `buf` without its line end; `false` at the end of the input.
    fn read_line(&mut self) -> Result<bool, BillError> {
        self.buf.clear();
        let line = self.line_no + 1;
        let read = loop {
            match self.input.by_ref().take(MAX_LINE_BYTES_U64 + 1).read_until(b'\n', &mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BillError::new(line, self.io_error(&e))),
            }
        };
        if read == 0 {
            return Ok(false);
        }
        self.line_no = line;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > MAX_LINE_BYTES {
            return Err(BillError::new(line, BillErrorKind::LineTooLong { max: MAX_LINE_BYTES }));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(true)
    }

    fn io_error(&self, e: &io::Error) -> BillErrorKind {
        // flate2 reports a damaged or cut stream as InvalidInput / InvalidData / UnexpectedEof.
        let corrupt =
            matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof);
        if self.gzip && corrupt {
            BillErrorKind::Gzip(e.to_string())
        } else {
            BillErrorKind::Io(e.to_string())
        }
    }

    /// Reads the rest of the input; the gzip error that ends it, if any.
    fn damaged_gzip(&mut self) -> Option<BillErrorKind> {
        loop {
            let len = match self.input.fill_buf() {
                Ok([]) => return None,
                Ok(available) => available.len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(self.io_error(&e)).filter(|k| matches!(k, BillErrorKind::Gzip(_))),
            };
            self.input.consume(len);
        }
    }

    /// The current line as text.
    fn text(&self) -> Result<&str, BillError> {
        std::str::from_utf8(&self.buf).map_err(|e| {
            BillError::new(self.line_no, BillErrorKind::NotUtf8 { column: e.valid_up_to().saturating_add(1) })
        })
    }

    /// Reads and parses the titles line (§7.4).
    fn read_header(&mut self) -> Result<Header, BillError> {
        let err = |kind| BillError::new(1, kind);
        if !self.read_line()? {
            return Err(err(BillErrorKind::Empty));
        }
        if self.buf.starts_with(UTF8_BOM) {
            self.buf.drain(..UTF8_BOM.len());
        }
        if !self.gzip && self.buf.starts_with(&GZIP_MAGIC) {
            return Err(err(BillErrorKind::MissingHeader("the input is gzip; open it with BillReader::open")));
        }
        let text = self.text()?;
        let trimmed = text.trim_start();
        if trimmed.starts_with("<xml") || trimmed.starts_with("<?xml") {
            return Err(err(BillErrorKind::XmlReply(excerpt(trimmed))));
        }
        if trimmed.is_empty() {
            return Err(err(BillErrorKind::MissingHeader("line 1 is empty")));
        }
        if text.starts_with('`') {
            return Err(err(BillErrorKind::MissingHeader("line 1 is a data row")));
        }
        if text.starts_with(SUMMARY_FIRST_TITLE) {
            return Err(err(BillErrorKind::MissingHeader("line 1 is the summary titles line")));
        }
        Header::parse(text).map_err(err)
    }
}

/// Reads a bill row by row.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wxpay::bill::BillReader;
/// let file = std::io::BufReader::new(std::fs::File::open("bill.csv")?);
/// let mut bill = BillReader::open(file)?;
/// while let Some(row) = bill.next_row()? {
///     println!("{} {:?} {:?}", row.line(), row.out_trade_no(), row.settlement_total_fee());
/// }
/// let reconciliation = bill.reconciliation().ok_or("no summary")?;
/// for d in &reconciliation.discrepancies {
///     eprintln!("{d}");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct BillReader<R> {
    lines: Lines<R>,
    cells: Vec<(usize, usize)>,
    values: RowValues,
    header: Arc<Header>,
    state: State,
    payments: u64,
    refunds: u64,
    computed: Totals,
    summary: Option<Summary>,
}

impl<R: BufRead> BillReader<Input<R>> {
    /// Reads a bill that may be gzip (§7.5): the format is recognised from the first two bytes.
    pub fn open(input: R) -> Result<Self, BillError> {
        let input = Input::detect(input).map_err(|e| BillError::new(1, BillErrorKind::Io(e.to_string())))?;
        let gzip = input.is_gzip();
        BillReader::start(input, gzip)
    }
}

impl<R: BufRead> BillReader<R> {
    /// Reads a plain-text bill (use [`BillReader::open`] when it may be gzip). Reads the titles line.
    pub fn new(input: R) -> Result<Self, BillError> {
        BillReader::start(input, false)
    }

    fn start(input: R, gzip: bool) -> Result<Self, BillError> {
        let mut lines = Lines { input, gzip, line_no: 0, buf: Vec::with_capacity(1024) };
        let header = match lines.read_header() {
            Ok(header) => header,
            Err(mut e) => {
                if gzip && !matches!(e.kind, BillErrorKind::Io(_) | BillErrorKind::Gzip(_)) {
                    if let Some(kind) = lines.damaged_gzip() {
                        e.kind = kind;
                    }
                }
                return Err(e);
            }
        };
        Ok(BillReader {
            lines,
            cells: Vec::with_capacity(32),
            values: RowValues::default(),
            computed: Totals::zero_for(&header),
            header: Arc::new(header),
            state: State::Rows,
            payments: 0,
            refunds: 0,
            summary: None,
        })
    }

    /// The titles line.
    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn format(&self) -> BillFormat {
        self.header.format()
    }

    /// The bill type the columns show.
    pub fn bill_type(&self) -> BillType {
        self.header.bill_type()
    }

    /// Whether the input was gzip.
    pub fn is_gzip(&self) -> bool {
        self.lines.gzip
    }

    /// The next data row, or `None` once the summary has been read. An error ends the reading: later
    /// calls return it again.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, BillError> {
        match &self.state {
            State::Done => return Ok(None),
            State::Failed(e) => return Err(e.clone()),
            State::Rows => {}
        }
        match self.advance() {
            Ok(true) => Ok(Some(Row {
                line_no: self.lines.line_no,
                // advance() checked that the buffer is UTF-8.
                line: std::str::from_utf8(&self.lines.buf).unwrap_or(""),
                cells: &self.cells,
                header: &self.header,
                values: &self.values,
            })),
            Ok(false) => {
                self.state = State::Done;
                Ok(None)
            }
            Err(mut e) => {
                if self.lines.gzip && !matches!(e.kind, BillErrorKind::Io(_) | BillErrorKind::Gzip(_)) {
                    // Damaged deflate data decompresses to garbage before the checksum at the end
                    // says so: tell a damaged download from a damaged bill.
                    if let Some(gzip) = self.lines.damaged_gzip() {
                        e.kind = gzip;
                    }
                }
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Reads one line: `true` for a data row (split and parsed), `false` once the summary is read.
    fn advance(&mut self) -> Result<bool, BillError> {
        if !self.lines.read_line()? {
            return Err(BillError::new(self.lines.line_no + 1, BillErrorKind::Truncated));
        }
        let line_no = self.lines.line_no;
        let err = |kind| BillError::new(line_no, kind);
        let line = self.lines.text()?;
        if line.starts_with('`') {
            split_cells(line, &mut self.cells);
            let (expected, found) = (self.header.len(), self.cells.len());
            if found < expected {
                return Err(err(BillErrorKind::TooFewColumns { expected, found }));
            }
            if found > expected {
                return Err(err(BillErrorKind::TooManyColumns { expected, found }));
            }
            self.values.parse(line, &self.cells, &self.header, line_no)?;
            let header = &self.header;
            self.computed.add_row(&self.values.amounts).map_err(|key| {
                let column = key.source_column(header).map_or(key.as_str(), |c| header.title_of(c));
                err(BillErrorKind::Overflow(column.to_string()))
            })?;
            let row = Row { line_no, line, cells: &self.cells, header, values: &self.values };
            match row.kind() {
                RowKind::Payment => self.payments += 1,
                RowKind::Refund => self.refunds += 1,
            }
            return Ok(true);
        }
        if line.starts_with(SUMMARY_FIRST_TITLE) {
            let titles = line.to_string();
            self.summary = Some(self.read_summary(&titles)?);
            return Ok(false);
        }
        if line.trim().is_empty() {
            return Err(err(BillErrorKind::BlankLine));
        }
        Err(err(BillErrorKind::UnexpectedLine(excerpt(line))))
    }

    fn read_summary(&mut self, titles: &str) -> Result<Summary, BillError> {
        if !self.lines.read_line()? {
            return Err(BillError::new(self.lines.line_no + 1, BillErrorKind::MissingSummaryValues));
        }
        let line_no = self.lines.line_no;
        let line = self.lines.text()?;
        if !line.starts_with('`') {
            return Err(BillError::new(line_no, BillErrorKind::MissingSummaryValues));
        }
        split_cells(line, &mut self.cells);
        let values: Vec<&str> = self.cells.iter().map(|&(s, e)| line.get(s..e).unwrap_or("")).collect();
        let summary = Summary::parse(titles, &values, line_no)?;
        // Only empty lines may follow (§7.4: "drop empty trailing lines").
        while self.lines.read_line()? {
            let line = self.lines.text()?;
            if !line.trim().is_empty() {
                return Err(BillError::new(self.lines.line_no, BillErrorKind::TrailingContent(excerpt(line))));
            }
        }
        Ok(summary)
    }

    /// Reads the remaining rows (validating each) up to the summary.
    pub fn read_to_end(&mut self) -> Result<(), BillError> {
        while self.next_row()?.is_some() {}
        Ok(())
    }

    /// An iterator of owned rows (allocates per row; use [`BillReader::next_row`] on large bills).
    /// The reader keeps the summary for after the iteration.
    pub fn owned_rows(&mut self) -> OwnedRows<'_, R> {
        OwnedRows { reader: self }
    }

    /// Data rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.payments + self.refunds
    }

    pub fn payments(&self) -> u64 {
        self.payments
    }

    pub fn refunds(&self) -> u64 {
        self.refunds
    }

    /// The totals of the rows read so far.
    pub fn computed(&self) -> &Totals {
        &self.computed
    }

    /// The bill's own summary, once every row has been read.
    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// The summary compared with the rows, once every row has been read.
    pub fn reconciliation(&self) -> Option<Reconciliation> {
        self.summary.as_ref().map(|s| Reconciliation::new(*s.totals(), self.computed))
    }
}

/// Owned rows of a [`BillReader`].
#[derive(Debug)]
pub struct OwnedRows<'a, R> {
    reader: &'a mut BillReader<R>,
}

impl<R: BufRead> Iterator for OwnedRows<'_, R> {
    type Item = Result<OwnedRow, BillError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next_row().map(|row| row.map(|r| r.to_owned_row())).transpose()
    }
}

/// A whole bill in memory: for small bills, tests and tools. Large bills go through [`BillReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bill {
    pub header: Arc<Header>,
    pub rows: Vec<OwnedRow>,
    pub summary: Summary,
    pub computed: Totals,
    pub payments: u64,
    pub refunds: u64,
}

impl Bill {
    /// Reads a plain or gzip bill completely.
    pub fn read(input: impl Read) -> Result<Bill, BillError> {
        let mut reader = BillReader::open(BufReader::new(input))?;
        let rows = reader.owned_rows().collect::<Result<Vec<_>, _>>()?;
        let summary =
            reader.summary.take().ok_or_else(|| BillError::new(reader.lines.line_no, BillErrorKind::Truncated))?;
        Ok(Bill {
            header: Arc::clone(&reader.header),
            rows,
            summary,
            computed: reader.computed,
            payments: reader.payments,
            refunds: reader.refunds,
        })
    }

    pub fn format(&self) -> BillFormat {
        self.header.format()
    }

    pub fn reconciliation(&self) -> Reconciliation {
        Reconciliation::new(*self.summary.totals(), self.computed)
    }
}
