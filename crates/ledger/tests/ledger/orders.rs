//! Orders: registration, payments and queries, the list, lookups, totals, status sync, bulk import.

use chrono::{Duration, NaiveDate};
use ledger::*;
use wxpay::{BeijingTime, Fen, SignType, TradeState};

use crate::common::*;

pub async fn opening_again_finds_the_schema_applied(db: &TestDb) {
    let m = merchant(&db.ledger).await;
    let again = db.open_another().await;
    assert_eq!(again.merchant_by_mch_id(&m.settings.mch_id).await.unwrap(), Some(m));
}

pub async fn registering_an_order_twice_is_idempotent_and_a_new_amount_is_refused(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (first, created) = l.register_order(&new_order(&m, "T1001", 1999, now())).await.unwrap();
    assert!(created);
    assert_eq!(first.trade_state, TradeState::NotPay);
    assert_eq!(first.sign_type, SignType::HmacSha256);
    let (again, created) = l.register_order(&new_order(&m, "T1001", 1999, now())).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    let err = l.register_order(&new_order(&m, "T1001", 2999, now())).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate(_)), "{err:?}");
    let timeline = l.timeline(first.id).await.unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].kind, "REGISTERED");
}

pub async fn timestamps_are_stored_as_utc_with_microseconds(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let placed = utc("2024-05-31 16:30:00") + Duration::nanoseconds(123_456_789);
    let (order, _) = l.register_order(&new_order(&m, "T-TIME", 100, placed)).await.unwrap();
    assert_eq!(order.placed_at, utc("2024-05-31 16:30:00") + Duration::microseconds(123_456));
    // Paid at 00:10 Beijing on 1 June = 16:10 UTC on 31 May: the bill day is 1 June.
    let paid = BeijingTime::parse_compact("20240601001000").unwrap();
    let facts = payment("T-TIME", &txn(1), 100, paid.to_utc());
    deliver_payment(l, &facts).await;
    let order = l.order(order.id).await.unwrap();
    assert_eq!(order.paid_at, Some(utc("2024-05-31 16:10:00")));
    assert_eq!(order.paid_day, NaiveDate::from_ymd_opt(2024, 6, 1));
}

pub async fn order_list_pages_by_keyset_with_filters(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let base = utc("2024-05-01 00:00:00");
    let mut imported = Vec::new();
    for i in 0..60_i64 {
        let state = match i % 4 {
            0 | 1 => TradeState::Success,
            2 => TradeState::NotPay,
            _ => TradeState::Closed,
        };
        // Pairs of orders share a placed_at, so the id must break ties.
        let placed_at = base + Duration::minutes(i / 2 * 30);
        imported.push(ImportedOrder {
            merchant: m.id,
            out_trade_no: no(&format!("L{i:04}")),
            transaction_id: state.is_paid().then(|| txn(u64::try_from(i).unwrap())),
            sign_type: SignType::Md5,
            trade_type: None,
            trade_state: state.clone(),
            total_fee: Fen(100 + i * 10),
            placed_at,
            paid_at: state.is_paid().then_some(placed_at + Duration::minutes(1)),
            body: None,
        });
    }
    assert_eq!(l.import_orders(&imported, Source::Bill).await.unwrap(), 60);
    let all = {
        let mut v = Vec::new();
        for o in &imported {
            v.push(l.order_by_out_trade_no(m.id, &o.out_trade_no).await.unwrap().unwrap());
        }
        v
    };
    let filters = [
        OrderFilter::default(),
        OrderFilter { states: vec![TradeState::Success], ..OrderFilter::default() },
        OrderFilter { states: vec![TradeState::NotPay, TradeState::Closed], ..OrderFilter::default() },
        OrderFilter {
            states: vec![TradeState::Success],
            placed_from: Some(base + Duration::hours(3)),
            placed_to: Some(base + Duration::hours(12)),
            min_total: Some(Fen(200)),
            max_total: Some(Fen(500)),
            ..OrderFilter::default()
        },
    ];
    for filter in filters {
        let mut expected: Vec<&Order> = all
            .iter()
            .filter(|o| filter.states.is_empty() || filter.states.contains(&o.trade_state))
            .filter(|o| filter.placed_from.is_none_or(|t| o.placed_at >= t))
            .filter(|o| filter.placed_to.is_none_or(|t| o.placed_at < t))
            .filter(|o| filter.min_total.is_none_or(|f| o.total_fee >= f))
            .filter(|o| filter.max_total.is_none_or(|f| o.total_fee <= f))
            .collect();
        expected.sort_by_key(|o| std::cmp::Reverse((o.placed_at, o.id)));
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = l.list_orders(&filter, cursor.as_ref(), 7).await.unwrap();
            assert!(page.orders.len() <= 7);
            got.extend(page.orders.into_iter().map(|o| o.id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let expected: Vec<OrderId> = expected.iter().map(|o| o.id).collect();
        assert!(!expected.is_empty());
        assert_eq!(got, expected, "{filter:?}");
    }
}

pub async fn lookups_by_out_trade_no_transaction_id_and_prefix(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let a = paid_order(l, &m, "SHOP-20240601-001", 500, 11).await;
    let b = paid_order(l, &m, "SHOP-20240601-002", 600, 12).await;
    let (c, _) = l.register_order(&new_order(&m, "SHOP-20240602-001", 700, now())).await.unwrap();
    assert_eq!(l.order_by_out_trade_no(m.id, &no("SHOP-20240601-002")).await.unwrap().unwrap().id, b.id);
    assert_eq!(l.order_by_transaction_id(&txn(11)).await.unwrap().unwrap().id, a.id);
    assert_eq!(l.order_by_transaction_id(&txn(99)).await.unwrap(), None);
    let ids = |v: Vec<Order>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(ids(l.search_orders("SHOP-20240601", 10).await.unwrap()), vec![a.id, b.id]);
    assert_eq!(ids(l.search_orders("SHOP-", 10).await.unwrap()), vec![a.id, b.id, c.id]);
    assert_eq!(ids(l.search_orders("SHOP-", 2).await.unwrap()), vec![a.id, b.id]);
    assert_eq!(ids(l.search_orders(&txn(12).as_str()[..20], 10).await.unwrap()), vec![a.id, b.id]);
    assert_eq!(ids(l.search_orders(txn(12).as_str(), 10).await.unwrap()), vec![b.id]);
    assert!(l.search_orders("shop-", 10).await.unwrap().is_empty(), "prefix search is case-sensitive");
    assert!(l.search_orders("%", 10).await.unwrap().is_empty());
}

pub async fn day_totals_follow_the_beijing_day(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let day1 = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
    let day2 = NaiveDate::from_ymd_opt(2024, 6, 2).unwrap();
    // 23:59 and 00:01 Beijing time fall on different days.
    for (i, (no_, fen, beijing)) in
        [("D1", 1000, "20240601235900"), ("D2", 2000, "20240601080000"), ("D3", 500, "20240602000100")]
            .into_iter()
            .enumerate()
    {
        let paid = BeijingTime::parse_compact(beijing).unwrap().to_utc();
        l.register_order(&new_order(&m, no_, fen, paid - Duration::minutes(1))).await.unwrap();
        deliver_payment(l, &payment(no_, &txn(100 + u64::try_from(i).unwrap()), fen, paid)).await;
    }
    let (_, refund) = {
        let order = l.order_by_out_trade_no(m.id, &no("D2")).await.unwrap().unwrap();
        let (app, _) = l.register_refund_application(&application(&order, 300, None)).await.unwrap();
        (order, l.approve_application(app.id, &approval("RF-D2")).await.unwrap())
    };
    let mut seen = observed(wxpay::RefundStatus::Success);
    seen.success_time = Some(BeijingTime::parse_compact("20240602100000").unwrap());
    l.apply_refund_observation(refund.id, &seen, &query(now())).await.unwrap();
    let totals = l.day_totals(Some(m.id), day1, day2).await.unwrap();
    assert_eq!(
        totals,
        vec![
            DayTotals { day: day1, paid_count: 2, paid_total: Fen(3000), refund_count: 0, refunded_total: Fen(0) },
            DayTotals { day: day2, paid_count: 1, paid_total: Fen(500), refund_count: 1, refunded_total: Fen(300) },
        ]
    );
    assert_eq!(totals[1].net(), Fen(200));
    assert_eq!(l.day_totals(None, day2, day2).await.unwrap().len(), 1);
    assert_eq!(l.orders_paid_on(m.id, day1).await.unwrap().len(), 2);
}

pub async fn order_queries_follow_the_transition_table(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let (order, _) = l.register_order(&new_order(&m, "Q1", 880, now())).await.unwrap();
    let observe = |state: TradeState, payment: Option<PaymentFacts>| OrderObservation { trade_state: state, payment };
    let applied = l.apply_order_observation(order.id, &observe(TradeState::NotPay, None), &query(now())).await.unwrap();
    assert_eq!(applied, OrderApplied::Unchanged);
    let applied =
        l.apply_order_observation(order.id, &observe(TradeState::UserPaying, None), &query(now())).await.unwrap();
    assert_eq!(applied, OrderApplied::Changed { from: TradeState::NotPay, to: TradeState::UserPaying });
    let evidence = l.store_evidence(EvidenceKind::OrderQuery, b"<xml>SUCCESS</xml>", now()).await.unwrap();
    let facts = payment("Q1", &txn(5), 880, now());
    let provenance = query(now()).with_evidence(Evidence::Raw(evidence));
    let applied = l
        .apply_order_observation(order.id, &observe(TradeState::Success, Some(facts.clone())), &provenance)
        .await
        .unwrap();
    assert_eq!(applied, OrderApplied::Changed { from: TradeState::UserPaying, to: TradeState::Success });
    // A stale CLOSED answer cannot unpay an order.
    let err = l.apply_order_observation(order.id, &observe(TradeState::Closed, None), &query(now())).await.unwrap_err();
    assert!(matches!(err, Error::InvalidTransition(_)), "{err:?}");
    let err = l
        .apply_order_observation(order.id, &observe(TradeState::Unknown("NEW".into()), None), &query(now()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let order = l.order(order.id).await.unwrap();
    assert_eq!(order.trade_state, TradeState::Success);
    assert_eq!(order.transaction_id, Some(txn(5)));
    assert_eq!(order.check_count, 3, "a refused observation is rolled back with its check");
    let timeline = l.timeline(order.id).await.unwrap();
    let states: Vec<_> = timeline.iter().filter(|e| e.kind == "STATE").map(|e| e.to_state.clone().unwrap()).collect();
    assert_eq!(states, vec!["USERPAYING", "SUCCESS"]);
    let paid = timeline.iter().find(|e| e.to_state.as_deref() == Some("SUCCESS")).unwrap();
    assert_eq!(paid.source, Source::Query);
    assert_eq!(paid.evidence, Evidence::Raw(evidence));
    assert_eq!(l.evidence(evidence).await.unwrap(), (EvidenceKind::OrderQuery, b"<xml>SUCCESS</xml>".to_vec()));
}

pub async fn status_sync_finds_orders_due_for_a_check(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    let mut first = new_order(&m, "S1", 100, now());
    first.next_check_at = Some(now() + Duration::minutes(1));
    let (s1, _) = l.register_order(&first).await.unwrap();
    let (s2, _) = l.register_order(&new_order(&m, "S2", 100, now())).await.unwrap();
    l.schedule_order_check(s2.id, Some(now() + Duration::seconds(30))).await.unwrap();
    let due =
        |at| async move { l.orders_due_for_check(at, 10).await.unwrap().into_iter().map(|o| o.id).collect::<Vec<_>>() };
    assert_eq!(due(now()).await, vec![]);
    assert_eq!(due(now() + Duration::minutes(2)).await, vec![s2.id, s1.id]);
    // Once paid, an order needs no more checks.
    deliver_payment(l, &payment("S1", &txn(7), 100, now())).await;
    assert_eq!(due(now() + Duration::minutes(2)).await, vec![s2.id]);
    l.schedule_order_check(s2.id, None).await.unwrap();
    assert_eq!(due(now() + Duration::days(2)).await, vec![]);
}

pub async fn bulk_import_skips_orders_already_known(db: &TestDb) {
    let l = &db.ledger;
    let m = merchant(l).await;
    l.register_order(&new_order(&m, "B0001", 100, now())).await.unwrap();
    let rows: Vec<ImportedOrder> = (0..2500)
        .map(|i| ImportedOrder {
            merchant: m.id,
            out_trade_no: no(&format!("B{i:04}")),
            transaction_id: Some(txn(50_000 + i)),
            sign_type: SignType::Md5,
            trade_type: None,
            trade_state: TradeState::Success,
            total_fee: Fen(100),
            placed_at: now(),
            paid_at: Some(now()),
            body: None,
        })
        .collect();
    assert_eq!(l.import_orders(&rows, Source::Bill).await.unwrap(), 2499);
    let mut bad = rows[0].clone();
    bad.paid_at = None;
    assert!(matches!(l.import_orders(&[bad], Source::Bill).await, Err(Error::InvalidInput(_))));
}
