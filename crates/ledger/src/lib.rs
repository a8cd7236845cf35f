//! Paydesk's ledger: every fact Paydesk learns, and the only place the receiver and the desktops meet
//! (ARCHITECTURE.md §4).
//!
//! - [`Ledger`]: opened by URL — `sqlite://PATH` (embedded default: WAL, foreign keys, busy timeout) or
//!   `postgres://…` (shared by several receivers and desktops). Migrations (`migrations/{sqlite,postgres}`) are
//!   embedded at build time and applied on open.
//! - [`model`]: the records and status enums; protocol types (`Fen`, `OutTradeNo`, `TradeState`, …) come from
//!   `wxpay`.
//! - [`transitions`]: every state machine as a pure function `(from, event) -> Result<to, InvalidTransition>`.
//! - The methods, by area: merchants, orders (register, apply payments and queries, list, lookups, day totals,
//!   status-sync schedule), notifications (store raw first, verify, apply once), refunds (applications, approval
//!   with a fixed `out_refund_no`, attempts, outcomes), bills (bulk rows), reconciliation, and the hash-chained
//!   audit log.
//!
//! Every state change is one transaction that checks the expected current state (`UPDATE … WHERE state = …` and
//! the row count); the same fact applied twice is refused by a unique key (`order_events.fact_key`, `out_refund_no`,
//! `application_id`), never by a read-then-write. See docs/decisions/0004-ledger-two-engines.md.

mod audit;
mod bills;
mod db;
mod error;
mod intake;
mod merchants;
pub mod model;
mod notifications;
mod orders;
mod recon;
mod reconcile;
mod refunds;
mod relay;
mod shop;
mod sqlite_direct;
pub mod transitions;

pub use audit::{entry_hash, GENESIS_HASH};
pub use bills::{BillImportSession, BillImportStart, IMPORT_CHUNK_ROWS};
pub use db::{Engine, OpenOptions};
pub use error::{Error, Result};
pub use intake::{PaymentToApply, MAX_BATCH};
pub use model::*;
pub use orders::OrderApplied;
pub use reconcile::{Progress, ReconcileDay, Reconciled};
pub use refunds::{RefundApplied, MAX_REFUNDS_PER_ORDER, REFUND_DESC_MAX_CHARS};
pub use relay::{RelayBacklog, RelayEvent, RelayEventId};
pub use transitions::InvalidTransition;

/// The ledger: a pool on SQLite or PostgreSQL. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Ledger {
    db: db::Db,
}

impl Ledger {
    /// Opens (creating a SQLite file if needed) and migrates the ledger at `url` with default options.
    pub async fn open(url: &str) -> Result<Ledger> {
        Self::open_with(url, &OpenOptions::default()).await
    }

    /// Opens and migrates the ledger at `url`.
    pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Ledger> {
        let db = db::Db::open(url, options).await?;
        db::migrate(&db).await?;
        Ok(Ledger { db })
    }

    /// Which engine this ledger runs on.
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// Refreshes the query planner's statistics after a bulk import: `ANALYZE` on SQLite, `VACUUM (ANALYZE)` on
    /// PostgreSQL (which also sets the visibility map, so per-day totals can be index-only scans). Autovacuum
    /// does the same on PostgreSQL eventually; SQLite never analyzes by itself.
    pub async fn analyze(&self) -> Result<()> {
        match self.engine() {
            Engine::Sqlite => self.db.execute_plain("ANALYZE").await,
            Engine::Postgres => self.db.execute_plain("VACUUM (ANALYZE)").await,
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.db.close().await;
    }
}
