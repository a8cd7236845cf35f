//! Message throughput: how many `orderquery` replies per second one core can sign, serialize, parse
//! and verify — the work the simulator does per reply plus the work the client does per reply.
//! Run: `cargo bench -p wxpay --bench message`. Prints figures; asserts nothing about time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use wxpay::api::{ApiRequest, OrderQuery};
use wxpay::sign::{self, ApiKey};
use wxpay::xml::Message;
use wxpay::SignType;

fn reply(i: u64) -> Message {
    let out_trade_no = format!("T{i:012}");
    let transaction_id = format!("42000004832020010420{i:08}");
    Message::from_pairs([
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("appid", "wx2421b1c4370ec43b"),
        ("mch_id", "10000100"),
        ("nonce_str", "TN55wO9Pba5yENl8"),
        ("result_code", "SUCCESS"),
        ("openid", "oUpF8uN95-Ptaags6E_roPHg7AG0"),
        ("is_subscribe", "Y"),
        ("trade_type", "JSAPI"),
        ("bank_type", "CMC"),
        ("total_fee", "2990"),
        ("fee_type", "CNY"),
        ("cash_fee", "2990"),
        ("transaction_id", transaction_id.as_str()),
        ("out_trade_no", out_trade_no.as_str()),
        ("attach", "订单额外描述"),
        ("time_end", "20241111170043"),
        ("trade_state", "SUCCESS"),
        ("trade_state_desc", "支付成功"),
    ])
}

fn run(sign_type: SignType, key: &ApiKey, budget: Duration) -> (u64, Duration) {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            let mut m = reply(n);
            sign::sign_in_place(&mut m, sign_type, key);
            let xml = m.to_xml().unwrap_or_default();
            let parsed = wxpay::api::check_reply(wxpay::Api::OrderQuery, xml.as_bytes(), sign_type, key);
            let typed = parsed.ok().and_then(|m| OrderQuery::read_reply(m).ok());
            black_box(typed.map(|r| r.trade_state));
            n += 1;
        }
    }
    (n, start.elapsed())
}

fn main() {
    let key = ApiKey::new("192006250b4c09247ec02edce69f6a2d");
    // Sanity: one round trip must verify, or the figures mean nothing.
    let mut probe = reply(0);
    sign::sign_in_place(&mut probe, SignType::Md5, &key);
    let xml = probe.to_xml().unwrap_or_default();
    if wxpay::api::check_reply(wxpay::Api::OrderQuery, xml.as_bytes(), SignType::Md5, &key).is_err() {
        eprintln!("round trip does not verify");
        std::process::exit(1);
    }
    println!("orderquery reply: sign + serialize + parse + verify + typed read, one thread, {} bytes/reply", xml.len());
    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let _warm = run(sign_type, &key, Duration::from_millis(300));
        let mut rates = Vec::new();
        for _ in 0..5 {
            let (n, elapsed) = run(sign_type, &key, Duration::from_secs(1));
            rates.push(u128::from(n) * 1_000_000 / elapsed.as_micros().max(1));
        }
        rates.sort_unstable();
        println!(
            "  {:<11} min {:>7}/s  median {:>7}/s  max {:>7}/s  (5 runs of 1 s)",
            sign_type.as_str(),
            rates[0],
            rates[2],
            rates[4]
        );
    }
}
