//! Status sync: orders paid at "WeChat" with no notification at all end right after a round.

use chrono::{Duration, Utc};
use wxpay::TradeState;

use crate::common::*;

pub async fn orders_paid_without_any_notification_end_success_after_a_round(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let (a, b, c, d) = (no("S"), no("S"), no("S"), no("S"));
    for n in [&a, &b, &c, &d] {
        sim.create_order(n, 1_200).await;
    }
    desk.register(&a, 1_200, Utc::now(), true).await;
    desk.register(&b, 1_200, Utc::now(), true).await;
    desk.register(&c, 1_200, Utc::now(), true).await;
    // Registered without a first check: the round adopts it.
    desk.register(&d, 1_200, Utc::now(), false).await;
    sim.pay(&a).await;
    sim.pay(&b).await;
    sim.pay(&d).await;
    let mut events = desk.core.subscribe();

    let report = desk.core.sync_round().await.unwrap();
    assert_eq!(report.adopted, 1);
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.changed, 3, "{report:?}");
    for n in [&a, &b, &d] {
        let o = desk.order(n).await;
        assert_eq!(o.trade_state, TradeState::Success, "{n}");
        assert_eq!(o.next_check_at, None, "{n} is no longer watched");
        let timeline = desk.ledger.timeline(o.id).await.unwrap();
        assert_eq!(timeline.last().unwrap().source, ledger::Source::Query);
    }
    // The unpaid one stays watched, next minute (its first 5 minutes).
    let unpaid = desk.order(&c).await;
    assert_eq!(unpaid.trade_state, TradeState::NotPay);
    let next = unpaid.next_check_at.unwrap() - unpaid.last_checked_at.unwrap();
    assert!((Duration::seconds(55)..=Duration::seconds(65)).contains(&next), "{next}");
    // Nothing reached the ledger as a notification: it was all learned by querying.
    for n in [&a, &b, &d] {
        assert!(desk.ledger.notifications_for_order(desk.order(n).await.id).await.unwrap().is_empty());
    }

    // What the UI sees: the watched list, the events.
    let status = desk.core.sync_status().await.unwrap();
    assert!(!status.running);
    assert!(status.last_sync_at.is_some());
    assert_eq!(status.watched.iter().map(|w| w.out_trade_no.as_str()).collect::<Vec<_>>(), [c.as_str()]);
    assert_eq!(status.watched[0].checks, 1);
    let mut names = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.name() == "orders-changed" {
            let mut changed: Vec<String> = serde_json::from_value(e.payload()["out_trade_nos"].clone()).unwrap();
            changed.sort();
            let mut expected = vec![a.clone(), b.clone(), d.clone()];
            expected.sort();
            assert_eq!(changed, expected);
        }
        names.push(e.name());
    }
    assert_eq!(names, ["orders-changed", "sync-status"]);

    // Paid later: the next due round finds it too.
    sim.pay(&c).await;
    desk.ledger.schedule_order_check(unpaid.id, Some(Utc::now())).await.unwrap();
    let status = desk.core.sync_now().await.unwrap();
    assert!(status.watched.is_empty());
    assert_eq!(desk.order(&c).await.trade_state, TradeState::Success);
}

pub async fn the_next_check_follows_the_schedule_by_age(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    // (minutes since placed, expected minutes to the next check; None = no longer watched)
    let table: &[(i64, Option<i64>)] = &[
        (2, Some(1)),
        (10, Some(2)),
        (20, Some(5)),
        (45, Some(10)),
        (120, Some(30)),
        (600, Some(60)),
        (25 * 60, None),
    ];
    let mut nos = Vec::new();
    for (age, _) in table {
        let n = no("A");
        sim.create_order(&n, 100).await;
        desk.register(&n, 100, Utc::now() - Duration::minutes(*age), true).await;
        nos.push(n);
    }
    let report = desk.core.sync_round().await.unwrap();
    assert_eq!(report.checked.len(), table.len(), "{report:?}");
    for ((age, expected), n) in table.iter().zip(&nos) {
        let o = desk.order(n).await;
        let got = o.next_check_at.map(|t| (t - o.last_checked_at.unwrap()).num_seconds());
        match expected {
            Some(m) => {
                let got = got.unwrap_or_else(|| panic!("placed {age} min ago: not watched"));
                assert!(
                    (m * 60 - 5..=m * 60 + 5).contains(&got),
                    "placed {age} min ago: next in {got} s, expected {m} min"
                );
            }
            None => assert_eq!(got, None, "placed {age} min ago"),
        }
    }
}

pub async fn concurrent_rounds_query_each_order_once(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    // Slow replies make overlapping rounds overlap for real.
    sim.handle
        .sim
        .set_merchant_faults(MCH, wxpay_sim::Faults { notify_lost: true, latency_ms: 150, ..Default::default() })
        .unwrap();
    let mut nos = Vec::new();
    for _ in 0..4 {
        let n = no("K");
        sim.create_order(&n, 100).await;
        desk.register(&n, 100, Utc::now(), true).await;
        nos.push(n);
    }
    let (r1, r2, r3, q) = tokio::join!(
        desk.core.sync_round(),
        desk.core.sync_round(),
        desk.core.sync_now(),
        desk.core.order_query_now(&nos[0]),
    );
    let reports = [r1.unwrap(), r2.unwrap()];
    r3.unwrap();
    q.unwrap();
    let checked: usize = reports.iter().map(|r| r.checked.iter().filter(|c| c.outcome != "skipped").count()).sum();
    assert!(checked <= 4, "{reports:?}");
    for n in &nos[1..] {
        assert_eq!(desk.order(n).await.check_count, 1, "{n} was queried more than once");
    }
    // The first one was also asked by "query now": once by it, at most once by a round, never at the same time.
    let first = desk.order(&nos[0]).await.check_count;
    assert!((1..=2).contains(&first), "{first}");
}

pub async fn dashboard_counts_todays_takings_and_the_last_14_days(engine: Engine) {
    let sim = sim().await;
    let desk = desk(&engine, &sim).await;
    let (a, b) = (no("D"), no("D"));
    for (n, fee) in [(&a, 1_234), (&b, 766)] {
        sim.create_order(n, fee).await;
        desk.register(n, fee, Utc::now(), true).await;
        sim.pay(n).await;
    }
    desk.core.sync_round().await.unwrap();
    let d = desk.core.dashboard().await.unwrap();
    assert_eq!(d.days.len(), 14);
    assert_eq!(d.days.last().unwrap(), &d.today);
    assert_eq!((d.today.paid_count, d.today.paid_fen, d.today.refunded_fen), (2, 2_000, 0));
    assert!(d.days[..13].iter().all(|x| x.paid_count == 0));
    assert!(d.days.windows(2).all(|w| w[0].day < w[1].day));
    assert_eq!(d.pending_applications, 0);
    assert!(d.last_sync_at.is_some());
}
