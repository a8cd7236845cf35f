//! The contract's daily-close shapes built from the ledger: the day (`DayClose`), the month's calendar
//! (`CloseDay[]`), the chart, and each discrepancy with its explanation in plain words and the actions it offers.
//!
//! A day's status: `clean` / `open` once reconciled (open = discrepancies that need a person: OPEN or
//! ACTION_PENDING; waiting ones inside the carry-over window do not count yet); `no_bill` when WeChat said "No Bill
//! Exist" and nothing is open; `not_reconciled` when a bill is there (or could be fetched); `not_yet` before 10:00
//! Beijing time the day after.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use ledger::{BillFile, DayFigures, DiscrepancyKind, DiscrepancyStatus, DiscrepancyView, MerchantId, ReconRun};
use wxpay::{BeijingTime, FeeAmount, Fen};

use super::{BillInfo, ChartDay, CloseDay, DayClose, DiscrepancyRow, RunInfo, SummaryCheck, Totals};
use crate::contract::{opt_rfc3339, rfc3339};
use crate::error::{CoreError, CoreResult, Locale};
use crate::session::{Role, Session};

/// `YYYY-MM-DD` → a day.
pub fn parse_day(text: &str) -> CoreResult<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        CoreError::invalid(
            format!("日期 {text} 应写作 YYYY-MM-DD。"),
            format!("The day {text} must be written YYYY-MM-DD."),
        )
    })
}

/// 10:00 Beijing time the day after `day`: when WeChat's bill of `day` can be downloaded (wxpay-v2.md §7.2).
pub fn bill_ready_at(day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    BeijingTime::from_naive(next.and_time(NaiveTime::from_hms_opt(10, 0, 0).unwrap_or(NaiveTime::MIN))).to_utc()
}

/// The Beijing day of an instant.
pub fn beijing_day(t: DateTime<Utc>) -> NaiveDate {
    BeijingTime::from_utc(t).date()
}

fn fee_text(f: FeeAmount) -> String {
    f.to_yuan_string()
}

pub(crate) fn totals(f: &DayFigures) -> Totals {
    Totals {
        payments_count: f.payments_count,
        payments_fen: f.payments.get(),
        refunds_count: f.refunds_count,
        refunds_fen: f.refunds.get(),
        fees_yuan: fee_text(f.fees),
        net_yuan: fee_text(f.net()),
    }
}

fn bill_info(file: &BillFile) -> BillInfo {
    let differences = file.summary_differences.clone().unwrap_or_default();
    BillInfo {
        day: file.bill_date.to_string(),
        bill_type: file.bill_type.as_str().to_string(),
        source: file.source.as_str().to_ascii_lowercase(),
        file_name: file.file_name.clone(),
        sha256: file.sha256.clone(),
        byte_len: file.byte_len,
        row_count: file.row_count,
        imported_by: file.imported_by.clone(),
        imported_at: rfc3339(file.imported_at),
        summary_check: SummaryCheck { ok: differences.is_empty(), differences },
    }
}

/// The contract's status text of a discrepancy.
pub fn status_text(s: DiscrepancyStatus) -> &'static str {
    match s {
        DiscrepancyStatus::Open => "open",
        DiscrepancyStatus::CarriedOver => "waiting",
        DiscrepancyStatus::ActionPending => "action_pending",
        DiscrepancyStatus::Resolved => "resolved",
        DiscrepancyStatus::Explained => "explained",
    }
}

pub fn kind_text(k: DiscrepancyKind) -> &'static str {
    match k {
        DiscrepancyKind::MissingInLedger => "missing_in_ledger",
        DiscrepancyKind::MissingAtWechat => "missing_at_wechat",
        DiscrepancyKind::AmountMismatch => "amount_mismatch",
        DiscrepancyKind::StatusMismatch => "status_mismatch",
        DiscrepancyKind::RefundMismatch => "refund_mismatch",
    }
}

/// The actions a discrepancy offers now (staff: query only).
pub fn actions(v: &DiscrepancyView, role: Role) -> Vec<String> {
    let d = &v.discrepancy;
    if matches!(d.status, DiscrepancyStatus::Resolved | DiscrepancyStatus::Explained) {
        return Vec::new();
    }
    let wechat_paid = d.wechat_value.as_deref() == Some("SUCCESS");
    let mut a = vec!["query"];
    match d.kind {
        DiscrepancyKind::MissingInLedger => a.extend(["record_from_bill", "propose_refund"]),
        DiscrepancyKind::MissingAtWechat => {}
        DiscrepancyKind::AmountMismatch => {
            if d.wechat_amount.zip(d.ledger_amount).is_some_and(|(w, l)| w > l) {
                a.push("propose_refund");
            }
        }
        DiscrepancyKind::StatusMismatch => {
            if wechat_paid {
                a.extend(["record_from_bill", "propose_refund"]);
            }
        }
        DiscrepancyKind::RefundMismatch => {
            if d.refund_id.is_none() && d.bill_row_id.is_some() {
                a.push("record_from_bill");
            }
        }
    }
    a.push("explain");
    if role == Role::Staff {
        a.retain(|x| *x == "query");
    }
    a.into_iter().map(str::to_string).collect()
}

fn yuan(f: Option<Fen>) -> String {
    f.map(|f| format!("¥{}", f.to_yuan_string())).unwrap_or_else(|| "-".into())
}

/// What differs and what the actions do, in plain words.
pub fn explanation(v: &DiscrepancyView, locale: Locale) -> String {
    let d = &v.discrepancy;
    let order = v.out_trade_no.clone().or_else(|| v.transaction_id.clone()).unwrap_or_default();
    let refund = v.out_refund_no.clone().unwrap_or_default();
    let (l, w) = (yuan(d.ledger_amount), yuan(d.wechat_amount));
    let (ls, ws) = (d.ledger_value.clone().unwrap_or_default(), d.wechat_value.clone().unwrap_or_default());
    let zh = locale == Locale::ZhCn;
    let waiting = d.status == DiscrepancyStatus::CarriedOver;
    match (d.kind, zh) {
        (DiscrepancyKind::MissingInLedger, true) => format!(
            "微信账单里有订单 {order} 收款 {w}，但账本里没有这笔订单。可以向微信查询，或按账单把它记入账本；如需退给顾客，可以提交退款申请。"
        ),
        (DiscrepancyKind::MissingInLedger, false) => format!(
            "WeChat's bill has order {order} paid {w}, but the ledger does not know it. Query WeChat, or record it from the bill; to give the money back, propose a refund."
        ),
        (DiscrepancyKind::MissingAtWechat, true) if waiting => format!(
            "账本里订单 {order} 已收款 {l}，但当天的微信账单里没有它。临近午夜的付款可能记在第二天的账单里：等第二天的账单到了再核对。"
        ),
        (DiscrepancyKind::MissingAtWechat, false) if waiting => format!(
            "The ledger has order {order} paid {l}, but the day's WeChat bill does not. A payment near midnight may be in the next day's bill: this waits for it."
        ),
        (DiscrepancyKind::MissingAtWechat, true) => format!(
            "账本里订单 {order} 已收款 {l}，但微信账单里（包括前后一天）都没有它。请向微信查询这笔订单；如果核实无误，可以写明原因标记为已解释。"
        ),
        (DiscrepancyKind::MissingAtWechat, false) => format!(
            "The ledger has order {order} paid {l}, but WeChat's bills (the day before and after included) do not. Query WeChat about it; once you know why, mark it explained with a note."
        ),
        (DiscrepancyKind::AmountMismatch, true) => format!(
            "订单 {order} 的金额不一致：账本 {l}，微信 {w}。可以向微信查询；如果多收了顾客的钱，可以提交退款申请退还差额。"
        ),
        (DiscrepancyKind::AmountMismatch, false) => format!(
            "Order {order} differs in amount: ledger {l}, WeChat {w}. Query WeChat; if the customer paid too much, propose a refund of the difference."
        ),
        (DiscrepancyKind::StatusMismatch, true) => format!(
            "订单 {order} 的状态不一致：账本是 {ls}，微信是 {ws}。向微信查询会按微信的结果更新账本；也可以按账单记为已付款，或提交退款申请把钱退给顾客。"
        ),
        (DiscrepancyKind::StatusMismatch, false) => format!(
            "Order {order} differs in state: the ledger says {ls}, WeChat says {ws}. Querying WeChat updates the ledger with its answer; you can also record the payment from the bill, or propose a refund to give the money back."
        ),
        (DiscrepancyKind::RefundMismatch, true) => match (d.refund_id.is_some(), d.bill_row_id.is_some()) {
            (false, _) => format!("微信账单里有退款 {refund}（{w}，{ws}），账本里没有。可以向微信查询，或按账单记入账本。"),
            (true, false) => format!("账本里的退款 {refund}（{l}，{ls}）不在微信账单里。请向微信查询这笔退款。"),
            (true, true) => format!("退款 {refund} 不一致：账本 {l} {ls}，微信 {w} {ws}。向微信查询会更新账本。"),
        },
        (DiscrepancyKind::RefundMismatch, false) => match (d.refund_id.is_some(), d.bill_row_id.is_some()) {
            (false, _) => format!("WeChat's bill has refund {refund} ({w}, {ws}) that the ledger does not. Query WeChat, or record it from the bill."),
            (true, false) => format!("The ledger's refund {refund} ({l}, {ls}) is not in WeChat's bill. Query WeChat about it."),
            (true, true) => format!("Refund {refund} differs: ledger {l} {ls}, WeChat {w} {ws}. Querying WeChat updates the ledger."),
        },
    }
}

pub(crate) fn discrepancy_row(v: &DiscrepancyView, role: Role, locale: Locale) -> DiscrepancyRow {
    let d = &v.discrepancy;
    DiscrepancyRow {
        id: d.id.get(),
        kind: kind_text(d.kind).to_string(),
        status: status_text(d.status).to_string(),
        out_trade_no: v.out_trade_no.clone(),
        transaction_id: v.transaction_id.clone(),
        out_refund_no: v.out_refund_no.clone(),
        ledger_value: d.ledger_value.clone(),
        wechat_value: d.wechat_value.clone(),
        ledger_fen: d.ledger_amount.map(Fen::get),
        wechat_fen: d.wechat_amount.map(Fen::get),
        explanation: explanation(v, locale),
        actions: actions(v, role),
        resolution: d.resolution.clone(),
        resolved_by: d.resolved_by.clone(),
        resolved_at: opt_rfc3339(d.resolved_at),
    }
}

/// The status of a day from what is known about it.
fn day_status(
    day: NaiveDate,
    reconciled: bool,
    open: i64,
    has_bill: bool,
    no_bill: bool,
    now: DateTime<Utc>,
) -> &'static str {
    if open > 0 {
        "open"
    } else if no_bill && !has_bill {
        "no_bill"
    } else if reconciled {
        "clean"
    } else if now < bill_ready_at(day) {
        "not_yet"
    } else {
        "not_reconciled"
    }
}

/// `close_day`.
pub async fn day_close(session: &Session, day: NaiveDate, locale: Locale, now: DateTime<Utc>) -> CoreResult<DayClose> {
    let ledger = &session.ledger;
    let m = session.merchant_id;
    let bill = ledger.newest_bill_file(m, day, ledger::BillType::All).await?;
    let run = ledger.latest_recon_run(m, day).await?;
    let no_bill = !ledger.bill_absences(m, day, day).await?.is_empty();
    let views = ledger.day_discrepancies(m, day).await?;
    let open = views
        .iter()
        .filter(|v| matches!(v.discrepancy.status, DiscrepancyStatus::Open | DiscrepancyStatus::ActionPending))
        .count();
    let open = i64::try_from(open).unwrap_or(i64::MAX);
    let ledger_totals = match run.as_ref().and_then(|r| r.ledger_figures) {
        Some(f) => totals(&f),
        None => live_ledger_totals(session, day).await?,
    };
    Ok(DayClose {
        day: day.to_string(),
        status: day_status(day, run.is_some(), open, bill.is_some(), no_bill, now).to_string(),
        bill: bill.as_ref().map(bill_info),
        run: run.as_ref().map(run_info),
        ledger: ledger_totals,
        wechat: run.as_ref().and_then(|r| r.wechat_figures).map(|f| totals(&f)),
        discrepancies: views.iter().map(|v| discrepancy_row(v, session.role, locale)).collect(),
    })
}

fn run_info(r: &ReconRun) -> RunInfo {
    RunInfo {
        id: r.id.get(),
        finished_at: opt_rfc3339(r.finished_at),
        by: r.started_by.clone(),
        matched: r.summary.map_or(0, |s| s.matched_count),
    }
}

/// The ledger's side of a day not reconciled yet: takings by payment day, refunds by success day (the dashboard's
/// figures); no fees.
async fn live_ledger_totals(session: &Session, day: NaiveDate) -> CoreResult<Totals> {
    let scope = crate::orders::merchant_scope(session).await?;
    let days = session.ledger.day_totals(scope, day, day).await?;
    let f = days.first().map_or_else(DayFigures::default, |d| DayFigures {
        payments_count: d.paid_count,
        payments: d.paid_total,
        refunds_count: d.refund_count,
        refunds: d.refunded_total,
        fees: FeeAmount::ZERO,
    });
    Ok(totals(&f))
}

/// `close_calendar`: every day of the month, oldest first.
pub async fn calendar(session: &Session, month: &str, now: DateTime<Utc>) -> CoreResult<Vec<CloseDay>> {
    let bad = || {
        CoreError::invalid(
            format!("月份 {month} 应写作 YYYY-MM。"),
            format!("The month {month} must be written YYYY-MM."),
        )
    };
    let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d").map_err(|_| bad())?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(bad)?;
    let last = next.pred_opt().ok_or_else(bad)?;
    let m: MerchantId = session.merchant_id;
    let ledger = &session.ledger;
    let scope = crate::orders::merchant_scope(session).await?;
    let totals: HashMap<NaiveDate, (i64, i64)> = ledger
        .day_totals(scope, first, last)
        .await?
        .iter()
        .map(|d| (d.day, (d.paid_total.get(), d.refunded_total.get())))
        .collect();
    let runs: HashSet<NaiveDate> =
        ledger.recon_runs_between(m, first, last).await?.iter().map(|r| r.bill_date).collect();
    let bills: HashSet<NaiveDate> = ledger.bill_days(m, first, last).await?.into_iter().collect();
    let absent: HashSet<NaiveDate> = ledger.bill_absences(m, first, last).await?.into_iter().collect();
    let open: BTreeMap<NaiveDate, i64> = ledger.open_discrepancy_counts(m, first, last).await?.into_iter().collect();
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        let n = open.get(&day).copied().unwrap_or(0);
        let (takings, refunds) = totals.get(&day).copied().unwrap_or((0, 0));
        out.push(CloseDay {
            day: day.to_string(),
            status: day_status(day, runs.contains(&day), n, bills.contains(&day), absent.contains(&day), now)
                .to_string(),
            open_discrepancies: n,
            takings_fen: takings,
            refunds_fen: refunds,
        });
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    Ok(out)
}

/// `close_chart`: the last `days` days up to yesterday (Beijing), oldest first, from the ledger.
pub async fn chart(session: &Session, days: u32, now: DateTime<Utc>) -> CoreResult<Vec<ChartDay>> {
    let days = i64::from(days.clamp(1, 366));
    let to = beijing_day(now) - Duration::days(1);
    let from = to - Duration::days(days - 1);
    let scope = crate::orders::merchant_scope(session).await?;
    let known: HashMap<NaiveDate, (i64, i64)> = session
        .ledger
        .day_totals(scope, from, to)
        .await?
        .iter()
        .map(|d| (d.day, (d.paid_total.get(), d.refunded_total.get())))
        .collect();
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        let (takings_fen, refunds_fen) = known.get(&day).copied().unwrap_or((0, 0));
        out.push(ChartDay { day: day.to_string(), takings_fen, refunds_fen });
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    Ok(out)
}
