//! Counters and a latency histogram, rendered in Prometheus' text format at `/metrics`. Hand-rolled (a few atomics
//! and one small map) so that recording costs nothing measurable on the notification path. Labels are fixed words,
//! never request content, so nothing secret or unbounded can reach them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];

/// A cumulative histogram of durations.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; 14],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(i) = BUCKETS_US.iter().position(|&b| us <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS_US.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{}\"}} {cumulative}", seconds(*bound));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum{{{}}} {}",
            labels.trim_end_matches(','),
            seconds(self.sum_us.load(Ordering::Relaxed))
        );
        let _ = writeln!(out, "{name}_count{{{}}} {count}", labels.trim_end_matches(','));
    }
}

/// Microseconds as decimal seconds, without floats.
fn seconds(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Everything `/metrics` shows.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (kind, outcome) → count.
    notifications: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    notify_latency: [Histogram; 2],
    /// (route, status class) → count.
    api_requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    relay_delivered: AtomicU64,
    relay_failed: AtomicU64,
    recovered: AtomicU64,
}

fn kind_index(kind: &str) -> usize {
    usize::from(kind == "refund")
}

impl Metrics {
    /// One notification answered: its kind (`payment` / `refund`), outcome word and time from arrival to answer.
    pub fn notification(&self, kind: &'static str, outcome: &'static str, elapsed: Duration) {
        if let Ok(mut map) = self.notifications.lock() {
            *map.entry((kind, outcome)).or_insert(0) += 1;
        }
        self.notify_latency[kind_index(kind)].observe(elapsed);
    }

    pub fn api_request(&self, route: &'static str, status: u16) {
        if let Ok(mut map) = self.api_requests.lock() {
            *map.entry((route, status)).or_insert(0) += 1;
        }
    }

    pub fn relay_delivered(&self) {
        self.relay_delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub fn relay_failed(&self) {
        self.relay_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// A stored notification left unprocessed (crash, database error) was processed later.
    pub fn recovered(&self) {
        self.recovered.fetch_add(1, Ordering::Relaxed);
    }

    /// The count for one (kind, outcome), for tests and the bench.
    pub fn notification_count(&self, kind: &str, outcome: &str) -> u64 {
        self.notifications
            .lock()
            .map(|m| m.iter().filter(|((k, o), _)| *k == kind && *o == outcome).map(|(_, n)| *n).sum())
            .unwrap_or(0)
    }

    /// Prometheus text format (version 0.0.4). `relay_backlog` is read from the ledger by the caller.
    pub fn render(&self, relay_backlog: Option<i64>) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP notify_receiver_notifications_total Notifications answered, by kind and outcome.\n");
        out.push_str("# TYPE notify_receiver_notifications_total counter\n");
        if let Ok(map) = self.notifications.lock() {
            for ((kind, outcome), n) in map.iter() {
                let _ =
                    writeln!(out, "notify_receiver_notifications_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP notify_receiver_notification_duration_seconds Time from a notification's arrival to its answer.\n",
        );
        out.push_str("# TYPE notify_receiver_notification_duration_seconds histogram\n");
        for (i, kind) in ["payment", "refund"].iter().enumerate() {
            self.notify_latency[i].render(
                &mut out,
                "notify_receiver_notification_duration_seconds",
                &format!("kind=\"{kind}\","),
            );
        }
        out.push_str(
            "# HELP notify_receiver_api_requests_total Shop-backend API requests, by route and HTTP status.\n",
        );
        out.push_str("# TYPE notify_receiver_api_requests_total counter\n");
        if let Ok(map) = self.api_requests.lock() {
            for ((route, status), n) in map.iter() {
                let _ =
                    writeln!(out, "notify_receiver_api_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP notify_receiver_relay_deliveries_total Relay deliveries to the shop backend, by result.\n",
        );
        out.push_str("# TYPE notify_receiver_relay_deliveries_total counter\n");
        let _ = writeln!(
            out,
            "notify_receiver_relay_deliveries_total{{result=\"delivered\"}} {}",
            self.relay_delivered.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "notify_receiver_relay_deliveries_total{{result=\"failed\"}} {}",
            self.relay_failed.load(Ordering::Relaxed)
        );
        out.push_str("# HELP notify_receiver_recovered_total Stored notifications processed after a crash or error.\n");
        out.push_str("# TYPE notify_receiver_recovered_total counter\n");
        let _ = writeln!(out, "notify_receiver_recovered_total {}", self.recovered.load(Ordering::Relaxed));
        if let Some(backlog) = relay_backlog {
            out.push_str("# HELP notify_receiver_relay_backlog Events waiting to be relayed.\n");
            out.push_str("# TYPE notify_receiver_relay_backlog gauge\n");
            let _ = writeln!(out, "notify_receiver_relay_backlog {backlog}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_sums_in_seconds() {
        let m = Metrics::default();
        m.notification("payment", "applied", Duration::from_micros(700));
        m.notification("payment", "applied", Duration::from_millis(3));
        m.notification("payment", "duplicate", Duration::from_secs(20));
        let text = m.render(Some(4));
        assert!(text.contains("notify_receiver_notifications_total{kind=\"payment\",outcome=\"applied\"} 2"), "{text}");
        assert!(
            text.contains("notify_receiver_notification_duration_seconds_bucket{kind=\"payment\",le=\"0.000500\"} 0")
        );
        assert!(
            text.contains("notify_receiver_notification_duration_seconds_bucket{kind=\"payment\",le=\"0.001000\"} 1")
        );
        assert!(
            text.contains("notify_receiver_notification_duration_seconds_bucket{kind=\"payment\",le=\"0.005000\"} 2")
        );
        assert!(text.contains("notify_receiver_notification_duration_seconds_bucket{kind=\"payment\",le=\"+Inf\"} 3"));
        assert!(text.contains("notify_receiver_notification_duration_seconds_sum{kind=\"payment\"} 20.003700"));
        assert!(text.contains("notify_receiver_notification_duration_seconds_count{kind=\"refund\"} 0"));
        assert!(text.contains("notify_receiver_relay_backlog 4"));
        assert_eq!(m.notification_count("payment", "applied"), 2);
    }
}
