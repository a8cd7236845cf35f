//! The dashboard: today's takings and count (Beijing day), refunds that succeeded today, refund applications
//! waiting for a decision, when status sync last ran, and the last 14 days for the chart (oldest first, days
//! without business included as zeros).

use chrono::{DateTime, Utc};

use crate::contract::{rfc3339, Dashboard, DayFigures};
use crate::error::CoreResult;
use crate::orders::{beijing_today, days_back};
use crate::session::Session;

/// Days in the chart.
pub const CHART_DAYS: i64 = 14;
/// Pending applications are counted up to this many (the badge shows "many" beyond).
const PENDING_LIMIT: u32 = 10_000;

pub(crate) async fn dashboard(
    session: &Session,
    now: DateTime<Utc>,
    last_sync_at: Option<DateTime<Utc>>,
) -> CoreResult<Dashboard> {
    let today = beijing_today(now);
    let first = days_back(today, CHART_DAYS - 1);
    let totals = session.ledger.day_totals(Some(session.merchant_id), first, today).await?;
    let days: Vec<DayFigures> = (0..CHART_DAYS)
        .map(|i| {
            let day = days_back(today, CHART_DAYS - 1 - i);
            let t = totals.iter().find(|t| t.day == day);
            DayFigures {
                day: day.format("%Y-%m-%d").to_string(),
                paid_count: t.map_or(0, |t| t.paid_count),
                paid_fen: t.map_or(0, |t| t.paid_total.get()),
                refunded_fen: t.map_or(0, |t| t.refunded_total.get()),
            }
        })
        .collect();
    let pending = session.ledger.pending_applications(PENDING_LIMIT).await?;
    let pending = pending.iter().filter(|a| a.merchant_id == session.merchant_id).count();
    let today_figures = days.last().cloned().unwrap_or(DayFigures {
        day: today.format("%Y-%m-%d").to_string(),
        paid_count: 0,
        paid_fen: 0,
        refunded_fen: 0,
    });
    Ok(Dashboard {
        today: today_figures,
        pending_applications: i64::try_from(pending).unwrap_or(i64::MAX),
        last_sync_at: last_sync_at.map(rfc3339),
        days,
    })
}
