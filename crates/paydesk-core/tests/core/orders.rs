//! The orders page and the drawer through the core's commands.

use chrono::{Duration, TimeZone, Utc};
use ledger::{ImportedOrder, Source};
use paydesk_core::contract::OrderFilter;
use wxpay::{Fen, OutTradeNo, SignType, TradeState, TransactionId};

use crate::common::*;

pub async fn list_filters_and_pages_by_keyset(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    // 120 orders, one every 2 hours from 2024-03-01 00:00 Beijing (= 2024-02-29 16:00 UTC), amounts 100..=12000.
    let start = Utc.with_ymd_and_hms(2024, 2, 29, 16, 0, 0).unwrap();
    let orders: Vec<ImportedOrder> = (0..120i64)
        .map(|i| {
            let paid = i % 3 == 0;
            ImportedOrder {
                merchant: desk.merchant,
                out_trade_no: OutTradeNo::new(format!("L{i:04}")).unwrap(),
                transaction_id: paid.then(|| TransactionId::new(format!("42000000002024{i:014}")).unwrap()),
                sign_type: SignType::Md5,
                trade_type: None,
                trade_state: if paid { TradeState::Success } else { TradeState::NotPay },
                total_fee: Fen(100 * (i + 1)),
                placed_at: start + Duration::hours(2 * i),
                paid_at: paid.then(|| start + Duration::hours(2 * i) + Duration::minutes(1)),
                body: Some(format!("订单 {i}")),
            }
        })
        .collect();
    assert_eq!(desk.ledger.import_orders(&orders, Source::System).await.unwrap(), 120);

    // Keyset pages of 50: 50 + 50 + 20, newest first, no order twice.
    let all = OrderFilter::default();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = desk.core.orders_list(&all, cursor.as_deref(), 50).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|r| r.out_trade_no.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..120).rev().map(|i| format!("L{i:04}")).collect();
    assert_eq!(seen, expected);

    // One row as the contract shapes it: fen integers, RFC 3339 UTC, flags.
    let first = desk.core.orders_list(&all, None, 1).await.unwrap().items.remove(0);
    assert_eq!(first.out_trade_no, "L0119");
    assert_eq!((first.total_fee_fen, first.refunded_fen), (12_000, 0));
    assert_eq!(first.created_at, "2024-03-10T14:00:00Z");
    assert_eq!(first.state, "NOTPAY");
    assert!(first.flags.is_empty(), "{:?}", first.flags);

    // State filter.
    let paid = OrderFilter { states: vec!["SUCCESS".into()], ..OrderFilter::default() };
    let page = desk.core.orders_list(&paid, None, 200).await.unwrap();
    assert_eq!(page.items.len(), 40);
    assert!(page.items.iter().all(|r| r.state == "SUCCESS" && r.paid_at.is_some()));

    // Beijing days, inclusive: 2024-03-02 holds orders 12..=23.
    let day = OrderFilter {
        from_day: Some("2024-03-02".into()),
        to_day: Some("2024-03-02".into()),
        ..OrderFilter::default()
    };
    let rows = desk.core.orders_list(&day, None, 200).await.unwrap().items;
    let nos: Vec<&str> = rows.iter().map(|r| r.out_trade_no.as_str()).collect();
    assert_eq!(nos.len(), 12, "{nos:?}");
    assert_eq!((nos[0], nos[11]), ("L0023", "L0012"));

    // Amounts (fen) and states together.
    let f = OrderFilter {
        states: vec!["NOTPAY".into()],
        min_fen: Some(1_000),
        max_fen: Some(2_000),
        ..OrderFilter::default()
    };
    let rows = desk.core.orders_list(&f, None, 200).await.unwrap().items;
    assert!(rows.iter().all(|r| (1_000..=2_000).contains(&r.total_fee_fen) && r.state == "NOTPAY"));
    assert_eq!(rows.len(), 7, "{rows:?}"); // i = 9..=19 without 9, 12, 15, 18

    // Search by out_trade_no prefix (paged too) and by transaction_id.
    let s = OrderFilter { search: Some("L01".into()), ..OrderFilter::default() };
    let page = desk.core.orders_list(&s, None, 15).await.unwrap();
    assert_eq!(page.items.len(), 15);
    let rest = desk.core.orders_list(&s, page.next_cursor.as_deref(), 15).await.unwrap();
    assert_eq!(rest.items.len(), 5);
    assert!(rest.next_cursor.is_none());
    let t = OrderFilter { search: Some("4200000000202400000000000009".into()), ..OrderFilter::default() };
    let rows = desk.core.orders_list(&t, None, 50).await.unwrap().items;
    assert_eq!(rows.iter().map(|r| r.out_trade_no.as_str()).collect::<Vec<_>>(), ["L0009"]);

    // Another merchant in the same (shared) ledger: its orders never show here.
    let other = desk
        .ledger
        .upsert_merchant(
            &ledger::MerchantSettings {
                mch_id: wxpay::MchId::new("1900000110").unwrap(),
                appid: wxpay::AppId::new("wx2421b1c4370ec43c").unwrap(),
                name: "other".into(),
                sign_type: SignType::Md5,
                api_base_url: None,
                refund_reauth_above: None,
            },
            "test",
            Utc::now(),
        )
        .await
        .unwrap()
        .id;
    let theirs: Vec<ImportedOrder> = (0..5i64)
        .map(|i| ImportedOrder {
            merchant: other,
            out_trade_no: OutTradeNo::new(format!("L01X{i}")).unwrap(),
            transaction_id: None,
            sign_type: SignType::Md5,
            trade_type: None,
            trade_state: TradeState::NotPay,
            total_fee: Fen(100),
            placed_at: start + Duration::days(30),
            paid_at: None,
            body: None,
        })
        .collect();
    desk.ledger.import_orders(&theirs, Source::System).await.unwrap();
    let page = desk.core.orders_list(&all, None, 200).await.unwrap();
    assert_eq!(page.items.len(), 120);
    assert!(page.items.iter().all(|r| !r.out_trade_no.contains('X')), "only this merchant's orders");
    let page = desk.core.orders_list(&s, None, 200).await.unwrap();
    assert_eq!(page.items.len(), 20, "search stays within this merchant");

    // Bad input is refused with invalid_input.
    let bad = OrderFilter { from_day: Some("2024/03/02".into()), ..OrderFilter::default() };
    assert_eq!(desk.core.orders_list(&bad, None, 50).await.unwrap_err().code(), "invalid_input");
    assert_eq!(desk.core.orders_list(&all, Some("garbage"), 50).await.unwrap_err().code(), "invalid_input");
}

pub async fn query_now_records_what_wechat_says_with_source_query_and_evidence(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let no = no("Q");
    sim.create_order(&no, 2_800).await;
    desk.register(&no, 2_800, Utc::now(), false).await;
    sim.pay(&no).await;

    let detail = desk.core.order_query_now(&no).await.unwrap();
    assert_eq!(detail.order.row.state, "SUCCESS");
    assert!(detail.order.row.transaction_id.is_some());
    assert_eq!(detail.order.bank_type.as_deref(), Some("CMB_DEBIT"));
    assert!(detail.order.last_checked_at.is_some());
    assert_eq!(detail.order.next_check_at, None, "a paid order is not watched");

    // The timeline, oldest first: registered by the shop backend, then SUCCESS learned by a query, with evidence.
    let sources: Vec<&str> = detail.timeline.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(sources, ["shop_backend", "query"]);
    let paid = &detail.timeline[1];
    assert_eq!(paid.state_after.as_deref(), Some("SUCCESS"));
    assert_eq!(paid.actor.as_deref(), Some("desk:王老板"));
    assert!(paid.what.contains("NOTPAY → SUCCESS"), "{}", paid.what);
    let evidence = paid.evidence_ref.as_deref().unwrap().strip_prefix("evidence:").unwrap().parse::<i64>().unwrap();
    let (kind, raw) = desk.ledger.evidence(ledger::EvidenceId(evidence)).await.unwrap();
    assert_eq!(kind, ledger::EvidenceKind::OrderQuery);
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.contains("SUCCESS") && raw.contains(&no), "the raw reply is kept: {raw}");

    // Asking again changes nothing and adds nothing to the timeline.
    let again = desk.core.order_query_now(&no).await.unwrap();
    assert_eq!(again.timeline.len(), 2);
    assert_eq!(desk.order(&no).await.check_count, 2);
    // order_detail reads the same without asking WeChat.
    assert_eq!(desk.core.order_detail(&no).await.unwrap().timeline, again.timeline);
    assert_eq!(desk.core.order_detail("NO_SUCH_ORDER").await.unwrap_err().code(), "not_found");
}

pub async fn query_now_for_an_order_wechat_does_not_know_is_a_business_error(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let no = no("U");
    desk.register(&no, 100, Utc::now(), false).await;
    let err = desk.core.order_query_now(&no).await.unwrap_err();
    assert_eq!(err.code(), "wechat_business");
    assert!(err.message(paydesk_core::Locale::ZhCn).contains("ORDERNOTEXIST"));
    assert_eq!(desk.order(&no).await.trade_state, TradeState::NotPay);
}

pub async fn close_of_an_unpaid_order_ends_closed_as_wechat_confirms(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let no = no("C");
    sim.create_order(&no, 500).await;
    desk.register(&no, 500, Utc::now(), true).await;
    let mut events = desk.core.subscribe();

    let detail = desk.core.order_close(&no).await.unwrap();
    assert_eq!(detail.order.row.state, "CLOSED");
    assert_eq!(sim.state(&no), "CLOSED");
    let last = detail.timeline.last().unwrap();
    assert_eq!((last.source.as_str(), last.state_after.as_deref()), ("query", Some("CLOSED")));
    assert!(last.evidence_ref.is_some());
    assert_eq!(detail.order.next_check_at, None, "a closed order is no longer watched");
    assert!(!detail.order.row.flags.contains(&"watched".to_string()));
    let event = events.try_recv().unwrap();
    assert_eq!(event.name(), "orders-changed");
    assert_eq!(event.payload()["out_trade_nos"][0], no.as_str());

    // The audit log says who closed it.
    let audit = desk.ledger.audit_entries(0, 100).await.unwrap();
    let close = audit.iter().find(|e| e.action == "order.close").unwrap();
    assert_eq!((close.actor.as_str(), close.subject.as_str()), ("desk:王老板", format!("order:{no}").as_str()));

    // Closing again is refused: it is no longer NOTPAY.
    assert_eq!(desk.core.order_close(&no).await.unwrap_err().code(), "invalid_input");
}

pub async fn close_of_a_paid_order_is_refused(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let no = no("P");
    sim.create_order(&no, 900).await;
    desk.register(&no, 900, Utc::now(), false).await;
    sim.pay(&no).await;
    desk.core.order_query_now(&no).await.unwrap();

    let err = desk.core.order_close(&no).await.unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.message(paydesk_core::Locale::En).contains("NOTPAY"), "{}", err.message(paydesk_core::Locale::En));
    assert_eq!(sim.state(&no), "SUCCESS");
    assert_eq!(desk.order(&no).await.trade_state, TradeState::Success);

    // Paid at WeChat while the ledger still says NOTPAY: the close finds out and keeps it paid.
    let late = crate::common::no("P");
    sim.create_order(&late, 300).await;
    desk.register(&late, 300, Utc::now(), false).await;
    sim.pay(&late).await;
    let err = desk.core.order_close(&late).await.unwrap_err();
    assert_eq!(err.code(), "wechat_business");
    assert_eq!(desk.order(&late).await.trade_state, TradeState::Success);
    assert_eq!(sim.state(&late), "SUCCESS");
}
