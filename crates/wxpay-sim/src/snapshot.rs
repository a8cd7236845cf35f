//! The optional JSON snapshot (`snapshot = true` / `--snapshot`): the books — orders, refunds, fund
//! flows, balances and faults per merchant — written to `<data_dir>/state.json` on shutdown and on
//! `POST /admin/snapshot`, and read back at start, so a trainee's shop survives a restart. Not kept:
//! API keys (they come from the config; a merchant missing there is skipped), the notification log
//! and pending deliveries, the clock offset. Refunds still PROCESSING settle again after the delay.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use wxpay::Fen;

use crate::faults::Faults;
use crate::model::{Order, Refund};
use crate::sim::Sim;
use crate::store::FundFlow;

const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    saved_at: DateTime<Utc>,
    seq: u64,
    merchants: Vec<MerchantBooks>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MerchantBooks {
    mch_id: String,
    balance: Fen,
    faults: Faults,
    orders: Vec<Order>,
    refunds: Vec<Refund>,
    fund_flows: Vec<FundFlow>,
}

/// Where the snapshot lives.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("state.json")
}

/// Writes the snapshot (atomically: a temporary file renamed over the old one).
pub fn save(sim: &Sim) -> Result<PathBuf, String> {
    let snapshot = {
        let store = sim.store();
        Snapshot {
            version: VERSION,
            saved_at: Utc::now(),
            seq: store.seq(),
            merchants: store
                .merchants
                .values()
                .map(|m| MerchantBooks {
                    mch_id: m.mch_id.clone(),
                    balance: m.balance,
                    faults: m.faults.clone(),
                    orders: m.orders.values().cloned().collect(),
                    refunds: m.refunds.values().cloned().collect(),
                    fund_flows: m.fund_flows.clone(),
                })
                .collect(),
        }
    };
    let target = path(&sim.data_dir);
    let tmp = target.with_extension("json.tmp");
    let json = serde_json::to_vec(&snapshot).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, json).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(target)
}

/// Reads the snapshot into a fresh simulator, if there is one; returns how many orders came back.
pub fn load(sim: &Arc<Sim>) -> Result<usize, String> {
    let file = path(&sim.data_dir);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    if snapshot.version != VERSION {
        return Err(format!("{}: snapshot version {} (expected {VERSION})", file.display(), snapshot.version));
    }
    let mut restored = 0;
    let mut processing = Vec::new();
    {
        let mut store = sim.store();
        store.restore_seq(snapshot.seq);
        for books in snapshot.merchants {
            let Some(m) = store.merchants.get_mut(&books.mch_id) else {
                tracing::warn!("snapshot: merchant {} is not configured any more; its books are skipped", books.mch_id);
                continue;
            };
            m.balance = books.balance;
            m.faults = books.faults;
            m.fund_flows = books.fund_flows;
            for order in books.orders {
                if let Some(txn) = &order.transaction_id {
                    m.by_transaction_id.insert(txn.clone(), order.out_trade_no.clone());
                }
                m.orders.insert(order.out_trade_no.clone(), order);
                restored += 1;
            }
            for refund in books.refunds {
                if refund.refund_status == wxpay::RefundStatus::Processing {
                    if let Some(outcome) = refund.planned_outcome.clone() {
                        processing.push((refund.mch_id.clone(), refund.out_refund_no.clone(), outcome));
                    }
                }
                m.by_refund_id.insert(refund.refund_id.clone(), refund.out_refund_no.clone());
                m.refunds.insert(refund.out_refund_no.clone(), refund);
            }
        }
    }
    for (mch_id, out_refund_no, outcome) in processing {
        sim.schedule_settlement(mch_id, out_refund_no, outcome);
    }
    Ok(restored)
}
