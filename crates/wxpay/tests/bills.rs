//! Bills (wxpay-v2.md §7.4, §7.5) against the public SDK fixtures in `tests/fixtures/bills/` (copied
//! from the shared fixture set; `index.json` there names each file's source and the values a correct
//! parser reads), plus the shapes the fixtures do not cover: gzip, empty days, damaged files, and a
//! writer → reader round trip.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers, like tests, may unwrap

use std::io::{Cursor, Write};
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use serde_json::Value;
use wxpay::bill::{
    Bill, BillErrorKind, BillFormat, BillReader, BillRow, BillType, BillWriter, Column, RowKind, TotalKey, TotalValue,
    Totals,
};
use wxpay::{BeijingTime, FeeAmount, Fen, RefundStatus, TradeState, TradeType};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bills").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn index() -> Vec<Value> {
    let index: Value = serde_json::from_slice(&fixture("index.json")).unwrap();
    index["files"].as_array().unwrap().clone()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn read(bytes: &[u8]) -> Result<Bill, wxpay::bill::BillError> {
    Bill::read(Cursor::new(bytes))
}

fn count(v: &Value) -> usize {
    usize::try_from(v.as_u64().unwrap()).unwrap()
}

/// Checks a parsed bill against its `index.json` entry.
fn assert_matches_index(bill: &Bill, entry: &Value, file: &str) {
    let expected = &entry["expected"];
    assert_eq!(bill.header.len(), count(&expected["header_columns"]), "{file}: columns");
    assert_eq!(bill.rows.len(), count(&expected["data_rows"]), "{file}: rows");
    let summary = expected["summary"].as_object().unwrap();
    assert_eq!(bill.summary.iter().count(), summary.len(), "{file}: summary width");
    for (title, value) in summary {
        assert_eq!(bill.summary.get(title), value.as_str(), "{file}: summary {title}");
    }
    if let Some(titles) = expected["summary_header"].as_array() {
        let got: Vec<&str> = bill.summary.iter().map(|(t, _)| t).collect();
        let want: Vec<&str> = titles.iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(got, want, "{file}: summary titles in order");
    }
    let first = bill.rows[0].as_row();
    let first_row = expected["first_row"].as_object().unwrap();
    assert_eq!(first_row.len(), bill.header.len(), "{file}: the index lists every column of the first row");
    for (title, value) in first_row {
        assert_eq!(first.get_by_title(title), value.as_str(), "{file}: first row {title}");
    }
}

#[test]
fn every_bill_fixture_parses_to_the_indexed_values() {
    let entries = index();
    assert_eq!(entries.len(), 5);
    for entry in &entries {
        let file = entry["file"].as_str().unwrap().trim_start_matches("bills/");
        let bytes = fixture(file);
        if !entry["expected"]["bytes"].is_null() {
            assert_eq!(bytes.len(), count(&entry["expected"]["bytes"]), "{file}: the copy is byte-exact");
        }
        let bill = read(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_matches_index(&bill, entry, file);
        // The same bytes gzip'd parse to the same bill (§7.5).
        assert_eq!(read(&gzip(&bytes)).unwrap(), bill, "{file}: gzip");
    }
}

#[test]
fn the_real_axios_bill_agrees_with_its_summary() {
    // BOM + CRLF + final CRLF, 45 rows, summary written `45.0`, `0.08`, `0.0` (§7.4).
    let bytes = fixture("all.axios-plugin.csv");
    assert!(bytes.starts_with(b"\xEF\xBB\xBF") && bytes.ends_with(b"\r\n"));
    let bill = read(&bytes).unwrap();
    assert_eq!(bill.format(), BillFormat::Modern);
    assert_eq!(bill.header.bill_type(), BillType::All);
    assert_eq!(bill.header.title(0), Some("交易时间"), "the BOM is not part of the first title");
    let r = bill.reconciliation();
    assert!(r.agrees(), "{:?}", r.discrepancies);
    // The row fees are 5-decimal text but whole fen (0.03 × 39% = 0.0117 → 0.01000): per-row
    // rounding happened before the bill was written, so the summary is their exact sum.
    assert_eq!(r.summary.fee_total, Some(FeeAmount(8000)));
    assert_eq!(r.computed.fee_total, Some(FeeAmount(8000)));
    assert!(bill.rows.iter().all(|row| row.as_row().fee().unwrap().0 % FeeAmount::UNITS_PER_FEN == 0));
    assert_eq!(
        r.summary,
        Totals {
            total_count: Some(45),
            settlement_total_fee: Some(Fen(47)),
            refund_total_fee: Some(Fen(14)),
            coupon_refund_total_fee: Some(Fen(0)),
            fee_total: Some(FeeAmount(8000)),
            order_total_fee: Some(Fen(47)),
            refund_apply_total_fee: Some(Fen(14)),
        }
    );
    assert_eq!((bill.payments, bill.refunds), (31, 14));
}

#[test]
fn typed_accessors_read_the_first_axios_row() {
    let bill = read(&fixture("all.axios-plugin.csv")).unwrap();
    let row = bill.rows[0].as_row();
    assert_eq!(row.line(), 2);
    assert_eq!(row.trade_time(), BeijingTime::parse_dashed("2019-02-19 05:01:46").unwrap());
    assert_eq!(row.appid(), Some("wxab8acd895ab1638a"));
    assert_eq!(row.mch_id(), Some("1921000401"));
    assert_eq!(row.sub_mch_id(), Some("0"));
    assert_eq!(row.device_info(), Some("harryma007"));
    assert_eq!(row.transaction_id(), Some("4200000263201902167700134212"));
    assert_eq!(row.out_trade_no(), Some("autotest_20190216081946_82335"));
    assert_eq!(row.openid(), Some("oHkLxtx0vUqe-18p_AXTZ1innxkCY"));
    assert_eq!(row.trade_type(), Some(TradeType::Jsapi));
    assert_eq!(row.trade_state(), Some(TradeState::Refund));
    assert_eq!(row.kind(), RowKind::Refund);
    assert_eq!(row.bank_type(), Some("OTHERS"));
    assert_eq!(row.currency(), Some("CNY"));
    assert_eq!(row.settlement_total_fee(), Some(Fen(0)));
    assert_eq!(row.coupon_fee(), Some(Fen(0)));
    assert_eq!(row.refund_id(), Some("50000709672019011908420787722"));
    assert_eq!(row.out_refund_no(), Some("REF4200000263201902167700963919"));
    assert_eq!(row.refund_fee(), Some(Fen(1)));
    assert_eq!(row.coupon_refund_fee(), Some(Fen(0)));
    assert_eq!(row.refund_type(), Some("ORIGINAL"));
    assert_eq!(row.refund_status(), Some(RefundStatus::Success));
    assert_eq!(row.body(), Some("系统拨测-cheeryin-test_micropay_succ"));
    assert_eq!(row.attach(), Some(""));
    assert_eq!(row.fee(), Some(FeeAmount(0)));
    assert_eq!(row.rate(), Some("39.00%"));
    assert_eq!(row.total_fee(), Some(Fen(0)));
    assert_eq!(row.refund_apply_fee(), Some(Fen(1)));
    assert_eq!(row.rate_note(), Some(""));
    assert_eq!(row.refund_apply_time(), None, "an ALL bill has no refund times");

    let payment = bill.rows[2].as_row();
    assert_eq!(payment.kind(), RowKind::Payment);
    assert_eq!(payment.refund_status(), None);
    assert_eq!((payment.settlement_total_fee(), payment.fee()), (Some(Fen(3)), Some(FeeAmount(1000))));
}

#[test]
fn wxjava_fixtures_disagree_because_their_summaries_describe_whole_days() {
    for file in ["all.wxjava.txt", "success.wxjava.txt", "refund.wxjava.txt"] {
        let bill = read(&fixture(file)).unwrap();
        let r = bill.reconciliation();
        assert!(!r.agrees(), "{file}");
        let count = r.discrepancies.iter().find(|d| d.key == TotalKey::TotalCount).expect(file);
        assert_eq!(count.computed, Some(TotalValue::Count(1)), "{file}");
    }
    // ALL: 48 orders, 5.76 yuan and a 0.01000 fee in the summary; the kept row is 6.00 with 0.04000.
    let r = read(&fixture("all.wxjava.txt")).unwrap().reconciliation();
    let keys: Vec<TotalKey> = r.discrepancies.iter().map(|d| d.key).collect();
    assert_eq!(
        keys,
        [
            TotalKey::TotalCount,
            TotalKey::SettlementTotalFee,
            TotalKey::RefundTotalFee,
            TotalKey::FeeTotal,
            TotalKey::OrderTotalFee,
            TotalKey::RefundApplyTotalFee
        ]
    );
    let fee = r.discrepancies.iter().find(|d| d.key == TotalKey::FeeTotal).unwrap();
    assert_eq!(fee.to_string(), "fee_total: the summary says 0.01000 yuan, the rows add up to 0.04000 yuan");
}

#[test]
fn success_bills_have_no_refund_columns_and_zero_refund_totals_agree() {
    let bill = read(&fixture("success.wxjava.txt")).unwrap();
    assert_eq!(bill.header.bill_type(), BillType::Success);
    assert_eq!(bill.computed.refund_total_fee, None, "nothing to add up");
    let r = bill.reconciliation();
    assert!(r.discrepancies.iter().all(|d| d.key != TotalKey::RefundTotalFee), "{:?}", r.discrepancies);
}

#[test]
fn refund_bills_carry_refund_times_and_negative_fee_totals() {
    let bill = read(&fixture("refund.wxjava.txt")).unwrap();
    assert_eq!(bill.header.bill_type(), BillType::Refund);
    let row = bill.rows[0].as_row();
    assert_eq!(row.refund_apply_time(), Some(BeijingTime::parse_dashed("2019-07-23 20:53:36").unwrap()));
    assert_eq!(row.refund_success_time(), Some(BeijingTime::parse_dashed("2019-07-23 20:53:40").unwrap()));
    assert_eq!(bill.summary.totals().fee_total, Some(FeeAmount(-2000)));
    assert_eq!(bill.refunds, 1);
}

#[test]
fn the_legacy_2014_bill_reads_with_fullwidth_colons_and_agrees() {
    let bytes = fixture("all.legacy-24col.doc2014.wxjava.txt");
    assert!(!bytes.ends_with(b"\n"), "no final newline");
    let bill = read(&bytes).unwrap();
    assert_eq!(bill.format(), BillFormat::Legacy);
    assert_eq!(bill.header.title_of(Column::SubMchId), "子商户号");
    let row = bill.rows[0].as_row();
    assert_eq!(row.trade_time().to_compact(), "20141110163345");
    assert_eq!(row.settlement_total_fee(), Some(Fen(1)), "总金额");
    assert_eq!(row.total_fee(), None, "no 订单金额 column in the legacy format");
    assert_eq!(row.coupon_fee(), Some(Fen(0)), "代金券或立减优惠金额 0.0");
    assert_eq!(row.fee(), Some(FeeAmount(0)), "手续费 written `0`");
    let t = bill.summary.totals();
    assert_eq!((t.total_count, t.order_total_fee, t.fee_total), (Some(2), Some(Fen(2)), Some(FeeAmount(0))));
    assert_eq!(t.settlement_total_fee, None);
    let r = bill.reconciliation();
    assert!(r.agrees(), "{:?}", r.discrepancies);
    assert_eq!(r.computed.order_total_fee, Some(Fen(2)), "总交易额 adds up 总金额");
}

#[test]
fn legacy_2016_titles_read_as_coupon_columns() {
    // Real 2016 bills used 企业红包金额 / 企业红包退款金额 (§7.4).
    let text = "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,总金额,企业红包金额,微信退款单号,商户退款单号,退款金额,企业红包退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率\n\
        `2018-05-07 10:54:45,`wx1,`1488511392,`0,`,`4200000113201805074559498485,`1525,`o1,`NATIVE,`REFUND,`CFT,`CNY,`0.00,`0.00,`50000506642018050704485755976,`4843,`0.02,`0.01,`ORIGINAL,`SUCCESS,`扫码充值,`3496--32,`0.00000,`0.60%\n\
        `2018-05-07 10:45:37,`wx1,`1488511392,`0,`,`4200000113201805074559498485,`1525,`o1,`NATIVE,`SUCCESS,`CFT,`CNY,`0.02,`0.00,`0,`0,`0.00,`0.00,`,`,`扫码充值,`3496--32,`0.00000,`0.60%\n\
        总交易单数,总交易额,总退款金额,总企业红包退款金额,手续费总金额\n\
        `2,`0.02,`0.02,`0.01,`0.00000\n";
    let bill = read(text.as_bytes()).unwrap();
    assert_eq!(bill.format(), BillFormat::Legacy);
    assert_eq!(bill.rows[0].as_row().coupon_refund_fee(), Some(Fen(1)));
    assert_eq!((bill.payments, bill.refunds), (1, 1));
    let r = bill.reconciliation();
    assert!(r.agrees(), "{:?}", r.discrepancies);
}

#[test]
fn lf_without_bom_reads_the_same_as_bom_with_crlf() {
    let crlf = fixture("all.axios-plugin.csv");
    let lf = String::from_utf8(crlf[3..].to_vec()).unwrap().replace("\r\n", "\n");
    let a = read(&crlf).unwrap();
    let b = read(lf.as_bytes()).unwrap();
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.computed, b.computed);
    let fields = |bill: &Bill| -> Vec<Vec<String>> {
        bill.rows.iter().map(|r| r.as_row().values().map(str::to_string).collect()).collect()
    };
    assert_eq!(fields(&a), fields(&b));
}

#[test]
fn trailing_empty_lines_are_dropped() {
    let mut text = fixture("all.wxjava.txt");
    text.extend_from_slice(b"\n\r\n\n");
    assert_eq!(read(&text).unwrap().rows.len(), 1);
}

#[test]
fn gzip_is_detected_by_its_magic_and_multi_member_streams_read_whole() {
    let bytes = fixture("all.axios-plugin.csv");
    let plain = read(&bytes).unwrap();
    let reader = BillReader::open(Cursor::new(gzip(&bytes))).unwrap();
    assert!(reader.is_gzip());
    // Two gzip members, split in the middle of a row (§7.5: a multi-member decoder).
    let mut two = gzip(&bytes[..7000]);
    two.extend(gzip(&bytes[7000..]));
    assert_eq!(read(&two).unwrap(), plain);
}

#[test]
fn damaged_gzip_is_a_gzip_error() {
    let mut damaged = gzip(&fixture("all.axios-plugin.csv"));
    let middle = damaged.len() / 2;
    for b in &mut damaged[middle..middle + 16] {
        *b ^= 0x5a;
    }
    let e = read(&damaged).unwrap_err();
    assert!(matches!(e.kind, BillErrorKind::Gzip(_)), "{e}");

    let cut = gzip(&fixture("all.axios-plugin.csv"));
    let e = read(&cut[..cut.len() / 2]).unwrap_err();
    assert!(matches!(e.kind, BillErrorKind::Gzip(_)), "{e}");
    assert!(e.line >= 2, "{e}");

    let mut header_damaged = gzip(&fixture("all.axios-plugin.csv"));
    header_damaged[12] ^= 0xff;
    assert!(matches!(read(&header_damaged).unwrap_err().kind, BillErrorKind::Gzip(_)));
}

#[test]
fn an_empty_day_parses_and_agrees() {
    let w = BillWriter::new(Vec::new(), BillType::All, true).unwrap();
    let bytes = w.finish().unwrap();
    let bill = read(&bytes).unwrap();
    assert!(bill.rows.is_empty());
    assert_eq!(bill.summary.totals().total_count, Some(0));
    assert!(bill.reconciliation().agrees());
    assert_eq!(bill.computed.fee_total, Some(FeeAmount::ZERO), "zero, not absent: the column exists");
}

fn replace_line(bytes: &[u8], line: usize, with: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    lines[line - 1] = with.to_string();
    lines.join("\n").into_bytes()
}

fn wxjava_all() -> Vec<u8> {
    fixture("all.wxjava.txt")
}

const WXJAVA_ROW: &str = "`2019-07-25 08:35:41,`WWWW,`XXXXXXXX,`0,`,`XXXXXXXXXXXXX,`XXXXXXXXXX,`XXXXXXXXXXX,`JSAPI,`SUCCESS,`PSBC_DEBIT,`CNY,`6.00,`0.00,`0,`0,`0.00,`0.00,`,`,`XXXXXX,`XXXXXXX,`0.04000,`0.60%,`6.00,`0.00,`";

#[test]
fn a_row_with_too_few_columns_names_its_line() {
    let short = WXJAVA_ROW.trim_end_matches(",`");
    let e = read(&replace_line(&wxjava_all(), 2, short)).unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.kind, BillErrorKind::TooFewColumns { expected: 27, found: 26 });
    assert!(e.to_string().starts_with("bill line 2: too few columns: 26 values"), "{e}");
}

#[test]
fn a_row_with_too_many_columns_names_its_line() {
    let long = format!("{WXJAVA_ROW},`extra");
    let e = read(&replace_line(&wxjava_all(), 2, &long)).unwrap_err();
    assert_eq!((e.line, e.kind), (2, BillErrorKind::TooManyColumns { expected: 27, found: 28 }));
}

#[test]
fn a_bad_amount_names_its_column_and_line() {
    let bad = WXJAVA_ROW.replace("`6.00,`0.00,`0,`0", "`6.005,`0.00,`0,`0");
    let e = read(&replace_line(&wxjava_all(), 2, &bad)).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        matches!(&e.kind, BillErrorKind::BadAmount { column, text, .. } if column == "应结订单金额" && text == "6.005"),
        "{e}"
    );
    let empty = WXJAVA_ROW.replace("`0.04000", "`");
    let e = read(&replace_line(&wxjava_all(), 2, &empty)).unwrap_err();
    assert!(matches!(&e.kind, BillErrorKind::BadAmount { column, .. } if column == "手续费"), "{e}");
}

#[test]
fn a_bad_time_names_its_line() {
    let bad = WXJAVA_ROW.replace("2019-07-25 08:35:41", "2019-07-25T08:35:41");
    let e = read(&replace_line(&wxjava_all(), 2, &bad)).unwrap_err();
    assert_eq!(e.line, 2);
    assert!(matches!(&e.kind, BillErrorKind::BadTime { column, .. } if column == "交易时间"), "{e}");
}

#[test]
fn a_missing_header_is_refused() {
    let text = String::from_utf8(wxjava_all()).unwrap();
    let without_header = text.split_once('\n').unwrap().1;
    let e = read(without_header.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.kind), (1, BillErrorKind::MissingHeader("line 1 is a data row")));
    assert_eq!(read(b"").unwrap_err().kind, BillErrorKind::Empty);
    let fund_flow = "记账时间,微信支付业务单号,资金流水单号,业务名称\n`2017-06-01 00:00:00,`1,`2,`x\n";
    assert_eq!(read(fund_flow.as_bytes()).unwrap_err().kind, BillErrorKind::MissingColumn("交易时间"));
}

#[test]
fn an_xml_error_reply_is_not_a_bill() {
    let reply =
        b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[No Bill Exist]]></return_msg></xml>";
    assert!(matches!(read(reply).unwrap_err().kind, BillErrorKind::XmlReply(_)));
}

#[test]
fn a_file_cut_before_its_summary_is_truncated() {
    let text = String::from_utf8(fixture("all.axios-plugin.csv")).unwrap();
    let cut = text.split("总交易单数").next().unwrap();
    let e = read(cut.as_bytes()).unwrap_err();
    assert_eq!((e.line, e.kind.clone()), (47, BillErrorKind::Truncated), "{e}");
    assert!(e.to_string().contains("download it again"), "{e}");

    // Cut after the summary titles: the values line is missing.
    let titles_only = format!("{cut}总交易单数,应结订单总金额\r\n");
    assert_eq!(read(titles_only.as_bytes()).unwrap_err().kind, BillErrorKind::MissingSummaryValues);

    // Cut in the middle of a row: the short row is the error, at its line.
    let mid = &text.as_bytes()[..text.find("autotest_20190219015232").unwrap()];
    let e = read(mid).unwrap_err();
    assert_eq!((e.line, e.kind), (4, BillErrorKind::TooFewColumns { expected: 27, found: 7 }));
}

#[test]
fn non_utf8_is_refused_with_its_position() {
    let mut bytes = wxjava_all();
    let row_start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[row_start + 3] = 0xff;
    let e = read(&bytes).unwrap_err();
    assert_eq!((e.line, e.kind), (2, BillErrorKind::NotUtf8 { column: 4 }));
}

#[test]
fn text_after_the_summary_and_blank_lines_inside_are_refused() {
    let mut after = wxjava_all();
    after.extend_from_slice(b"`1,`2\n");
    assert!(matches!(read(&after).unwrap_err().kind, BillErrorKind::TrailingContent(_)));

    let blank = replace_line(&wxjava_all(), 2, &format!("{WXJAVA_ROW}\n"));
    let e = read(&blank).unwrap_err();
    assert_eq!((e.line, e.kind), (3, BillErrorKind::BlankLine));

    let stray = replace_line(&wxjava_all(), 2, "合计,1");
    assert!(matches!(read(&stray).unwrap_err().kind, BillErrorKind::UnexpectedLine(_)));
}

#[test]
fn a_summary_that_disagrees_with_the_rows_is_reported() {
    let t = BeijingTime::parse_dashed("2024-03-01 10:00:00").unwrap();
    let mut w = BillWriter::new(Vec::new(), BillType::All, true).unwrap();
    w.write_row(&BillRow {
        settlement_total_fee: Fen(100),
        total_fee: Fen(100),
        fee: FeeAmount(600),
        ..BillRow::new(t)
    })
    .unwrap();
    let mut wrong = *w.totals();
    wrong.settlement_total_fee = Some(Fen(99));
    wrong.fee_total = Some(FeeAmount(1000));
    let bill = read(&w.finish_with_summary(&wrong).unwrap()).unwrap();
    let r = bill.reconciliation();
    let reported: Vec<String> = r.discrepancies.iter().map(ToString::to_string).collect();
    assert_eq!(
        reported,
        [
            "settlement_total_fee: the summary says 0.99 yuan, the rows add up to 1.00 yuan",
            "fee_total: the summary says 0.01000 yuan, the rows add up to 0.00600 yuan",
        ]
    );
}

#[test]
fn the_lending_reader_and_the_owned_rows_agree() {
    let bytes = fixture("all.axios-plugin.csv");
    let mut reader = BillReader::open(Cursor::new(&bytes)).unwrap();
    let mut lent = Vec::new();
    while let Some(row) = reader.next_row().unwrap() {
        lent.push((row.line(), row.out_trade_no().unwrap().to_string(), row.settlement_total_fee()));
    }
    assert!(reader.next_row().unwrap().is_none(), "stays finished");
    assert!(reader.reconciliation().unwrap().agrees());
    let owned: Vec<_> = read(&bytes)
        .unwrap()
        .rows
        .iter()
        .map(|r| (r.as_row().line(), r.as_row().out_trade_no().unwrap().to_string(), r.as_row().settlement_total_fee()))
        .collect();
    assert_eq!(lent, owned);
}

#[test]
fn an_error_is_returned_again_by_later_calls() {
    let bad = replace_line(&wxjava_all(), 2, "`x");
    let mut reader = BillReader::open(Cursor::new(bad)).unwrap();
    let first = reader.next_row().unwrap_err();
    assert_eq!(reader.next_row().unwrap_err(), first);
    assert!(reader.summary().is_none());
}

/// Values the writer can carry: no line breaks, no `,`` separator.
fn text_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_\\-|*@ 中文测试,`%.]{0,24}".prop_filter("no separator", |s| !s.contains(",`"))
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![0_i64..1000, 0_i64..10_000_000_000, Just(0)]
}

#[derive(Debug, Clone)]
struct GenRow {
    seconds: i64,
    refund: bool,
    body: String,
    attach: String,
    amounts: [i64; 7],
    fee: i64,
}

fn gen_row() -> impl Strategy<Value = GenRow> {
    (
        0_i64..86_400,
        any::<bool>(),
        text_value(),
        text_value(),
        proptest::array::uniform7(amount()),
        -10_000_000_i64..10_000_000,
    )
        .prop_map(|(seconds, refund, body, attach, amounts, fee)| GenRow {
            seconds,
            refund,
            body,
            attach,
            amounts,
            fee,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn amounts_written_by_the_writer_read_back_exactly(
        rows in proptest::collection::vec(gen_row(), 0..20),
        bill_type in prop_oneof![Just(BillType::All), Just(BillType::Success), Just(BillType::Refund)],
        bom in any::<bool>(),
        gz in any::<bool>(),
    ) {
        let day = BeijingTime::parse_dashed("2024-03-01 00:00:00").unwrap().naive();
        let mut w = BillWriter::new(Vec::new(), bill_type, bom).unwrap();
        for (i, g) in rows.iter().enumerate() {
            let time = BeijingTime::from_naive(day + chrono::Duration::seconds(g.seconds));
            let out_trade_no = format!("o{i}");
            let refund_id = if g.refund { format!("5000{i}") } else { "0".to_string() };
            let [settlement, coupon, refund, coupon_refund, total, apply, _] = g.amounts;
            w.write_row(&BillRow {
                out_trade_no: &out_trade_no,
                trade_state: if g.refund { "REFUND" } else { "SUCCESS" },
                refund_id: &refund_id,
                refund_apply_time: g.refund.then_some(time),
                body: &g.body,
                attach: &g.attach,
                settlement_total_fee: Fen(settlement),
                coupon_fee: Fen(coupon),
                refund_fee: Fen(refund),
                coupon_refund_fee: Fen(coupon_refund),
                total_fee: Fen(total),
                refund_apply_fee: Fen(apply),
                fee: FeeAmount(g.fee),
                ..BillRow::new(time)
            }).unwrap();
        }
        let written = *w.totals();
        let mut bytes = w.finish().unwrap();
        if gz {
            bytes = gzip(&bytes);
        }
        let bill = read(&bytes).unwrap();
        prop_assert_eq!(bill.rows.len(), rows.len());
        let has = |c: Column| bill.header.has(c);
        for (g, owned) in rows.iter().zip(&bill.rows) {
            let r = owned.as_row();
            let [settlement, coupon, refund, coupon_refund, total, apply, _] = g.amounts;
            prop_assert_eq!(r.trade_time(), BeijingTime::from_naive(day + chrono::Duration::seconds(g.seconds)));
            prop_assert_eq!(r.body(), Some(g.body.as_str()));
            prop_assert_eq!(r.attach(), Some(g.attach.as_str()));
            prop_assert_eq!(r.settlement_total_fee(), Some(Fen(settlement)));
            prop_assert_eq!(r.coupon_fee(), Some(Fen(coupon)));
            prop_assert_eq!(r.fee(), Some(FeeAmount(g.fee)));
            prop_assert_eq!(r.total_fee(), Some(Fen(total)));
            prop_assert_eq!(r.refund_fee(), has(Column::RefundFee).then_some(Fen(refund)));
            prop_assert_eq!(r.coupon_refund_fee(), has(Column::CouponRefundFee).then_some(Fen(coupon_refund)));
            prop_assert_eq!(r.refund_apply_fee(), has(Column::RefundApplyFee).then_some(Fen(apply)));
            let refund_row = g.refund;
            prop_assert_eq!(r.kind(), if refund_row { RowKind::Refund } else { RowKind::Payment });
        }
        prop_assert_eq!(bill.computed, written);
        let r = bill.reconciliation();
        prop_assert!(r.agrees(), "{:?}", r.discrepancies);
    }
}
