//! Fuzzes the bill reader (wxpay-v2.md §7.4, §7.5) over arbitrary bytes, plain or gzip: it must
//! return a row, the end, or an error with a line number, never panic, and the streaming reader and
//! `Bill::read` must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxpay::bill::{Bill, BillReader};

fuzz_target!(|data: &[u8]| {
    let streamed = BillReader::open(data).and_then(|mut reader| {
        let mut rows = 0_u64;
        while let Some(row) = reader.next_row()? {
            // Every accessor of an accepted row is infallible; touch them all.
            let _ = (row.kind(), row.trade_time(), row.trade_state(), row.refund_status(), row.fee());
            let _ = (row.settlement_total_fee(), row.refund_fee(), row.total_fee(), row.fields().count());
            rows += 1;
        }
        let reconciliation = reader.reconciliation().expect("a finished reader has its summary");
        Ok((rows, reconciliation))
    });
    match (streamed, Bill::read(data)) {
        (Ok((rows, reconciliation)), Ok(bill)) => {
            assert_eq!(rows, u64::try_from(bill.rows.len()).unwrap_or(u64::MAX));
            assert_eq!(reconciliation, bill.reconciliation());
        }
        (Err(a), Err(b)) => {
            assert!(a.line >= 1, "errors carry a 1-based line");
            assert_eq!(a, b);
        }
        (a, b) => panic!("streaming and whole-bill reading disagree: {a:?} vs {:?}", b.map(|b| b.rows.len())),
    }
});
