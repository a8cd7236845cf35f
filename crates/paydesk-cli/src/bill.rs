//! `paydesk-cli bill parse FILE [--rows]`: reads a trade bill (wxpay-v2.md §7.4; plain or gzip,
//! §7.5), prints its own summary next to the same totals added up from its rows, and exits 3 when
//! they disagree. Money is integer fen; the fee (手续费) is integer units of 0.00001 yuan.
//!
//! With `--rows` the document gains a `rows_detail` array, one object per data row in bill order:
//! `line`, `kind` (`payment`/`refund`), `trade_time`, the amounts the bill has (`settlement_total_fee`,
//! `coupon_fee`, `refund_fee`, `coupon_refund_fee`, `fee`, `total_fee`, `refund_apply_fee`) and
//! `fields` (every title with its text, in column order). The bill is read twice (check, then print)
//! so that nothing is printed for a bill that fails to parse, and memory stays flat either way.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::ser::{Serialize, SerializeMap, Serializer};
use wxpay::bill::{BillReader, Input, Row, TotalValue, Totals};

use crate::json::{self, OrderedMap};
use crate::Outcome;

#[derive(Debug, clap::Subcommand)]
pub enum BillCommand {
    /// Parses a bill and compares its summary with its rows. Exit 0 when they agree, 3 when not,
    /// 1 when the file cannot be parsed (line and reason on stderr).
    Parse {
        /// The bill file, as downloaded (text or gzip, recognised by content).
        file: PathBuf,
        /// Add every row to the output, as a `rows_detail` array.
        #[arg(long)]
        rows: bool,
    },
    /// Downloads the day's ALL bill from WeChat Pay, keeps and imports it, reconciles the day (a set-up desk).
    /// Exit 0 imported or already imported, 4 not yet (Bill Creating), 5 no bill (No Bill Exist), 1 failure.
    Fetch(crate::close::FetchArgs),
    /// Imports a bill file exported from the merchant platform (plain or gzip) and reconciles its day.
    Import(crate::close::ImportArgs),
}

pub fn run(cmd: &BillCommand) -> anyhow::Result<Outcome> {
    match cmd {
        BillCommand::Parse { file, rows } => parse(file, *rows),
        BillCommand::Fetch(args) => crate::close::fetch(args),
        BillCommand::Import(args) => crate::close::import(args),
    }
}

const READ_BUFFER: usize = 64 * 1024;

fn open(path: &Path) -> anyhow::Result<BillReader<Input<BufReader<File>>>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    BillReader::open(BufReader::with_capacity(READ_BUFFER, file))
        .with_context(|| format!("cannot parse the bill {}", path.display()))
}

#[derive(Debug, serde::Serialize)]
struct Discrepancy {
    key: &'static str,
    summary: serde_json::Value,
    /// `null` when the bill has no column to add up.
    computed: serde_json::Value,
    message: String,
}

fn units(value: TotalValue) -> serde_json::Value {
    match value {
        TotalValue::Count(n) => n.into(),
        TotalValue::Money(f) => f.get().into(),
        TotalValue::Fee(f) => f.0.into(),
    }
}

#[derive(Debug, serde::Serialize)]
struct Report<'a> {
    format: &'static str,
    bill_type: &'static str,
    gzip: bool,
    columns: &'a [String],
    rows: u64,
    payments: u64,
    refunds: u64,
    /// The bill's own summary row, typed.
    summary: Totals,
    /// The summary exactly as written, title → text.
    summary_text: OrderedMap<'a>,
    /// The same totals added up from the rows.
    computed: Totals,
    agrees: bool,
    discrepancies: Vec<Discrepancy>,
}

fn parse(path: &Path, with_rows: bool) -> anyhow::Result<Outcome> {
    let mut reader = open(path)?;
    reader.read_to_end().with_context(|| format!("cannot parse the bill {}", path.display()))?;
    let summary = reader.summary().context("the bill has no summary")?;
    let reconciliation = reader.reconciliation().context("the bill has no summary")?;
    for d in &reconciliation.discrepancies {
        eprintln!("paydesk-cli: {}: summary and rows disagree: {d}", path.display());
    }
    let report = Report {
        format: reader.format().as_str(),
        bill_type: reader.bill_type().as_str(),
        gzip: reader.is_gzip(),
        columns: reader.header().titles(),
        rows: reader.rows_read(),
        payments: reader.payments(),
        refunds: reader.refunds(),
        summary: reconciliation.summary,
        summary_text: OrderedMap::new(summary.iter()),
        computed: reconciliation.computed,
        agrees: reconciliation.agrees(),
        discrepancies: reconciliation
            .discrepancies
            .iter()
            .map(|d| Discrepancy {
                key: d.key.as_str(),
                summary: units(d.summary),
                computed: d.computed.map_or(serde_json::Value::Null, units),
                message: d.to_string(),
            })
            .collect(),
    };
    if with_rows {
        print_with_rows(&report, path)?;
    } else {
        json::print(&report)?;
    }
    Ok(if reconciliation.agrees() { Outcome::Ok } else { Outcome::Disagrees })
}

/// Prints the report with a streamed `rows_detail` array as its last member.
fn print_with_rows(report: &Report<'_>, path: &Path) -> anyhow::Result<()> {
    let head = serde_json::to_string_pretty(report).context("cannot encode the JSON output")?;
    let head = head.strip_suffix('}').context("the report is not a JSON object")?.trim_end();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write!(out, "{head},\n  \"rows_detail\": [").context("cannot write to stdout")?;
    let mut reader = open(path)?;
    let mut first = true;
    while let Some(row) = reader.next_row().with_context(|| format!("cannot parse the bill {}", path.display()))? {
        let text = serde_json::to_string(&RowJson(row)).context("cannot encode a row")?;
        write!(out, "{}    {text}", if first { "\n" } else { ",\n" }).context("cannot write to stdout")?;
        first = false;
    }
    writeln!(out, "\n  ]\n}}").context("cannot write to stdout")?;
    out.flush().context("cannot write to stdout")
}

/// One row as JSON (see the module doc).
struct RowJson<'r>(Row<'r>);

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let row = &self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("line", &row.line())?;
        map.serialize_entry("kind", row.kind().as_str())?;
        map.serialize_entry("trade_time", &row.trade_time().to_dashed())?;
        let amounts = [
            ("settlement_total_fee", row.settlement_total_fee()),
            ("coupon_fee", row.coupon_fee()),
            ("refund_fee", row.refund_fee()),
            ("coupon_refund_fee", row.coupon_refund_fee()),
        ];
        for (name, fen) in amounts {
            if let Some(fen) = fen {
                map.serialize_entry(name, &fen.get())?;
            }
        }
        if let Some(fee) = row.fee() {
            map.serialize_entry("fee", &fee.0)?;
        }
        for (name, fen) in [("total_fee", row.total_fee()), ("refund_apply_fee", row.refund_apply_fee())] {
            if let Some(fen) = fen {
                map.serialize_entry(name, &fen.get())?;
            }
        }
        map.serialize_entry("fields", &OrderedMap::new(row.fields()))?;
        map.end()
    }
}
