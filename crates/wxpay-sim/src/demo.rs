//! `wxpay-sim --demo`: realistic traffic for the desktop demo. First a backfilled history (by
//! moving the simulated clock through the past days): a café's orders from morning to night, most
//! paid (payment notifications go to the demo's notify URL), some left unpaid, some closed, a few
//! partially refunded in the merchant platform, and customers' refund applications posted to the
//! receiver. Then live traffic at a steady pace until the process stops.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Span, NaiveTime, Utc};
use rand::Rng;
use wxpay::{BeijingTime, Fen, SignType};

use crate::sim::{NewOrder, Payment, RefundRequest, Sim};

/// What the demo needs to know.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub mch_id: String,
    /// Where payment notifications of demo orders go (the receiver's payment notify URL).
    pub notify_url: String,
    /// Where customers' refund applications are posted (JSON), if anywhere.
    pub refund_applications_url: Option<String>,
    /// Bearer token for the refund applications endpoint.
    pub receiver_token: Option<String>,
    /// Days of history before today.
    pub history_days: u32,
    /// Time between live orders.
    pub live_interval: Duration,
}

const MENU: [(&str, i64); 8] = [
    ("美式咖啡", 2200),
    ("拿铁", 2800),
    ("燕麦拿铁", 3200),
    ("抹茶拿铁", 3000),
    ("三明治套餐", 3900),
    ("芝士蛋糕", 3500),
    ("可颂", 1800),
    ("手冲咖啡豆 250g", 9800),
];

const BANKS: [&str; 5] = ["CFT", "CMB_DEBIT", "ICBC_DEBIT", "CCB_CREDIT", "OTHERS"];

/// Runs the demo until the simulator shuts down.
pub async fn run(sim: Arc<Sim>, options: DemoOptions) -> Result<(), String> {
    sim.merchant(&options.mch_id).map_err(|e| e.to_string())?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(|e| e.to_string())?;
    let today = BeijingTime::from_utc(Utc::now()).date();
    for back in (1..=options.history_days).rev() {
        let day = today - Span::days(i64::from(back));
        let mut minute = 8 * 60 + rand::thread_rng().gen_range(0..20);
        let mut n = 0u32;
        while minute < 22 * 60 {
            n += 1;
            let at = day.and_time(
                NaiveTime::from_hms_opt(minute / 60, minute % 60, rand::thread_rng().gen_range(0..60))
                    .unwrap_or_default(),
            );
            sim.clock.set(BeijingTime::from_naive(at).to_utc());
            let no = format!("D{}{:04}", day.format("%Y%m%d"), n);
            one_order(&sim, &options, &http, &no).await;
            minute += rand::thread_rng().gen_range(8..35);
        }
    }
    sim.clock.reset();
    tracing::info!("demo: history written; live orders every {:?}", options.live_interval);
    let mut n = 0u32;
    while !sim.is_shut_down() {
        n += 1;
        let no = format!("L{}{:04}", BeijingTime::from_utc(Utc::now()).to_compact(), n % 10_000);
        one_order(&sim, &options, &http, &no).await;
        tokio::time::sleep(options.live_interval).await;
    }
    Ok(())
}

/// One customer: order, then pay / leave / close, maybe a refund or a refund application.
async fn one_order(sim: &Arc<Sim>, options: &DemoOptions, http: &reqwest::Client, out_trade_no: &str) {
    let (item, price, qty, roll, bank, hmac) = {
        let mut rng = rand::thread_rng();
        let (item, price) = MENU[rng.gen_range(0..MENU.len())];
        (
            item,
            price,
            rng.gen_range(1..=3i64),
            rng.gen_range(0..100u32),
            BANKS[rng.gen_range(0..BANKS.len())],
            rng.gen_bool(0.3),
        )
    };
    let Some((appid, _)) = sim.with_merchant(&options.mch_id, |m| (m.appid.clone(), ())) else { return };
    let total = Fen(price * qty);
    let trade_type = if hmac { "JSAPI" } else { "NATIVE" };
    let new = NewOrder {
        appid,
        out_trade_no: out_trade_no.to_string(),
        body: format!("Paydesk咖啡-{item}x{qty}"),
        attach: Some(format!("table={}", roll % 12 + 1)),
        device_info: Some("POS01".into()),
        fee_type: "CNY".into(),
        total_fee: total,
        spbill_create_ip: "127.0.0.1".into(),
        notify_url: options.notify_url.clone(),
        trade_type: trade_type.into(),
        product_id: (!hmac).then(|| format!("SKU{price}")),
        openid: hmac.then(|| format!("oDemo{:08}", roll * 7919 % 100_000_000)),
        time_expire: None,
        sign_type: if hmac { SignType::HmacSha256 } else { SignType::Md5 },
        params: Default::default(),
    };
    if sim.unified_order(&options.mch_id, new).is_err() {
        return;
    }
    match roll {
        0..=5 => {} // never paid, left open
        6..=10 => {
            let _ = sim.close_order(&options.mch_id, out_trade_no);
        }
        _ => {
            let payment =
                Payment { bank_type: Some(bank.into()), is_subscribe: Some(roll % 2 == 0), ..Payment::default() };
            let Ok(order) = sim.pay(&options.mch_id, out_trade_no, payment) else { return };
            if (11..=16).contains(&roll) {
                // The owner refunded part of it in the merchant platform.
                let _ = sim.refund(
                    &options.mch_id,
                    RefundRequest {
                        appid: order.appid.clone(),
                        transaction_id: None,
                        out_trade_no: Some(out_trade_no.to_string()),
                        out_refund_no: format!("R{out_trade_no}"),
                        total_fee: order.total_fee,
                        refund_fee: Fen(order.total_fee.get() / 2),
                        refund_desc: Some("部分退款：少做一杯".into()),
                        refund_account: None,
                        notify_url: None,
                        source: "VENDOR_PLATFORM",
                    },
                );
            } else if (17..=21).contains(&roll) {
                if let Some(url) = &options.refund_applications_url {
                    // The shape of ledger's NewRefundApplication; the receiver's shop API is the judge.
                    let application = serde_json::json!({
                        "mch_id": options.mch_id,
                        "out_trade_no": out_trade_no,
                        "amount": order.total_fee.get(),
                        "reason": "顾客申请退款：饮品口味不对",
                        "external_ref": format!("demo-{out_trade_no}"),
                        "requested_by": order.openid,
                    });
                    let mut req = http
                        .post(url)
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(application.to_string());
                    if let Some(token) = &options.receiver_token {
                        req = req.bearer_auth(token);
                    }
                    if let Err(e) = req.send().await {
                        tracing::warn!("demo: refund application to {url} failed: {e}");
                    }
                }
            }
        }
    }
}
