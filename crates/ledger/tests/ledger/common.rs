//! The harness: a fresh ledger per test on either engine, a second independent ledger on the same database
//! (another "process"), raw SQL for tampering tests, and builders for the records tests need.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use ledger::*;
use wxpay::{AppId, BeijingTime, Fen, MchId, OutRefundNo, OutTradeNo, SignType, TradeType, TransactionId};

pub const MCH: &str = "1900000109";
pub const APPID: &str = "wx2421b1c4370ec43b";

#[derive(Debug)]
pub struct TestDb {
    pub ledger: Ledger,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        let ledger = Ledger::open(&url).await.unwrap();
        assert_eq!(ledger.engine(), Engine::Sqlite);
        TestDb { ledger, url, _dir: Some(dir) }
    }

    /// A ledger in a fresh schema of the test server; `None` (skip) only when no server is configured and
    /// `PAYDESK_REQUIRE_POSTGRES` is not `1`.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(base) = std::env::var("PAYDESK_TEST_POSTGRES_URL") else {
            if std::env::var("PAYDESK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PAYDESK_REQUIRE_POSTGRES=1 but PAYDESK_TEST_POSTGRES_URL is not set: run under scripts/with-postgres");
            }
            eprintln!("skipping: PAYDESK_TEST_POSTGRES_URL is not set (run under scripts/with-postgres)");
            return None;
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = Utc::now().timestamp_subsec_nanos();
        let schema = format!("t{}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst), nanos);
        let admin = sqlx::PgPool::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={schema}");
        let ledger = Ledger::open(&url).await.unwrap();
        assert_eq!(ledger.engine(), Engine::Postgres);
        Some(TestDb { ledger, url, _dir: None })
    }

    /// Another ledger (its own pool) on the same database: what a second process would have.
    pub async fn open_another(&self) -> Ledger {
        Ledger::open(&self.url).await.unwrap()
    }

    /// Runs raw SQL outside the ledger (tampering tests).
    pub async fn raw(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match self.ledger.engine() {
            Engine::Sqlite => {
                let pool = sqlx::SqlitePool::connect(&self.url).await?;
                let r = sqlx::raw_sql(sql).execute(&pool).await.map(|r| r.rows_affected());
                pool.close().await;
                r
            }
            Engine::Postgres => {
                let pool = sqlx::PgPool::connect(&self.url).await?;
                let r = sqlx::raw_sql(sql).execute(&pool).await.map(|r| r.rows_affected());
                pool.close().await;
                r
            }
        }
    }
}

/// A UTC instant from "YYYY-MM-DD HH:MM:SS".
pub fn utc(text: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap())
}

pub fn now() -> DateTime<Utc> {
    utc("2024-06-01 04:00:00")
}

pub fn settings() -> MerchantSettings {
    MerchantSettings {
        mch_id: MchId::new(MCH).unwrap(),
        appid: AppId::new(APPID).unwrap(),
        name: "小店".into(),
        sign_type: SignType::Md5,
        api_base_url: None,
        refund_reauth_above: Some(Fen(10_000)),
    }
}

pub async fn merchant(l: &Ledger) -> Merchant {
    l.upsert_merchant(&settings(), "desk:owner", now()).await.unwrap()
}

pub fn no(text: &str) -> OutTradeNo {
    OutTradeNo::new(text).unwrap()
}

pub fn txn(n: u64) -> TransactionId {
    TransactionId::new(format!("42000004832020{n:014}")).unwrap()
}

pub fn refund_no(text: &str) -> OutRefundNo {
    OutRefundNo::new(text).unwrap()
}

pub fn new_order(m: &Merchant, out_trade_no: &str, fen: i64, placed_at: DateTime<Utc>) -> NewOrder {
    NewOrder {
        merchant: m.id,
        out_trade_no: no(out_trade_no),
        appid: Some(m.settings.appid.clone()),
        sign_type: SignType::HmacSha256,
        trade_type: Some(TradeType::Jsapi),
        total_fee: Fen(fen),
        body: Some("小店-咖啡".into()),
        attach: None,
        placed_at,
        time_expire: None,
        next_check_at: None,
        origin: Source::ShopBackend,
    }
}

pub fn payment(out_trade_no: &str, txid: &TransactionId, fen: i64, paid_at: DateTime<Utc>) -> PaymentFacts {
    PaymentFacts {
        mch_id: MchId::new(MCH).unwrap(),
        appid: AppId::new(APPID).unwrap(),
        out_trade_no: no(out_trade_no),
        transaction_id: txid.clone(),
        total_fee: Fen(fen),
        cash_fee: Some(Fen(fen)),
        settlement_total_fee: None,
        coupon_fee: None,
        fee_type: Some("CNY".into()),
        trade_type: Some(TradeType::Jsapi),
        bank_type: Some("CFT".into()),
        openid: Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into()),
        attach: None,
        time_end: BeijingTime::from_utc(paid_at),
        sign_type: SignType::HmacSha256,
    }
}

pub fn incoming(kind: NotificationKind, body: &str) -> IncomingNotification {
    IncomingNotification {
        kind,
        received_at: now(),
        remote_addr: Some("101.226.103.0:443".into()),
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// Stores, verifies and applies a payment notification; returns what applying said.
pub async fn deliver_payment(l: &Ledger, facts: &PaymentFacts) -> AppliedNotification {
    let id = l.store_notification(&incoming(NotificationKind::Payment, "<xml>pay</xml>")).await.unwrap();
    let valid = VerificationResult::Valid {
        mch_id: facts.mch_id.clone(),
        out_trade_no: Some(facts.out_trade_no.clone()),
        out_refund_no: None,
    };
    l.record_verification(id, &valid, now()).await.unwrap();
    l.apply_payment_notification(id, facts, now()).await.unwrap()
}

/// A registered and paid order of `fen`.
pub async fn paid_order(l: &Ledger, m: &Merchant, out_trade_no: &str, fen: i64, n: u64) -> Order {
    let placed = now() - Duration::minutes(5);
    l.register_order(&new_order(m, out_trade_no, fen, placed)).await.unwrap();
    let applied = deliver_payment(l, &payment(out_trade_no, &txn(n), fen, now() - Duration::minutes(4))).await;
    assert_eq!(applied.outcome, NotificationOutcome::Applied);
    l.order_by_out_trade_no(m.id, &no(out_trade_no)).await.unwrap().unwrap()
}

pub fn application(order: &Order, fen: i64, external_ref: Option<&str>) -> NewRefundApplication {
    NewRefundApplication {
        order: order.id,
        amount: Fen(fen),
        reason: Some("不想要了".into()),
        origin: ApplicationOrigin::ShopBackend,
        external_ref: external_ref.map(str::to_owned),
        requested_by: "shop-backend".into(),
        requested_at: now(),
    }
}

pub fn approval(out_refund_no: &str) -> Approval {
    Approval {
        out_refund_no: refund_no(out_refund_no),
        approver: "desk:owner".into(),
        note: None,
        at: now(),
        max_age: Duration::days(365),
        amount: None,
        refund_desc: None,
    }
}

/// An approved refund of `fen` on a fresh paid order.
pub async fn approved_refund(l: &Ledger, m: &Merchant, order_fen: i64, fen: i64) -> (Order, Refund) {
    let order = paid_order(l, m, "R-ORDER-1", order_fen, 901).await;
    let (app, _) = l.register_refund_application(&application(&order, fen, None)).await.unwrap();
    let refund = l.approve_application(app.id, &approval("RF-1")).await.unwrap();
    (order, refund)
}

pub fn observed(status: wxpay::RefundStatus) -> RefundObservation {
    RefundObservation {
        status,
        refund_id: Some(wxpay::RefundId::new("50300103182020010413419046597").unwrap()),
        refund_fee: None,
        success_time: Some(BeijingTime::from_utc(now())),
        recv_account: Some("支付用户零钱".into()),
        refund_account: Some("REFUND_SOURCE_UNSETTLED_FUNDS".into()),
        refund_channel: Some("ORIGINAL".into()),
    }
}

pub fn query(at: DateTime<Utc>) -> Provenance {
    Provenance::new(Source::Query, at).by("sync")
}
