//! The ledger's one error type. A caller branches on the kind: a refused transition or a lost race is expected
//! and reported to a person; a database error is not.

use crate::transitions::InvalidTransition;

/// Everything a ledger call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed (connection, constraint, I/O).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema failed when the ledger was opened.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The URL names neither `sqlite:` nor `postgres:`.
    #[error("unsupported ledger URL scheme {0:?} (expected sqlite:// or postgres://)")]
    UnsupportedUrl(String),
    /// The event does not apply to the record's current state.
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
    /// No such record.
    #[error("{what} {key} not found")]
    NotFound { what: &'static str, key: String },
    /// The record changed under us (another process got there first); re-read and decide again.
    #[error("{0} changed concurrently; re-read and retry")]
    Conflict(String),
    /// The same fact or key is already recorded with different content.
    #[error("already recorded differently: {0}")]
    Duplicate(String),
    /// A refund would take the order past what it can refund.
    #[error("order {order} cannot refund {requested} fen: {reason}")]
    NotRefundable { order: i64, requested: i64, reason: &'static str },
    /// A per-order rate limit (one refund request a minute) is not yet over.
    #[error("too soon: {0}")]
    TooSoon(String),
    /// The caller passed something the ledger cannot store.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A stored value does not parse (hand-edited database, or a newer schema).
    #[error("corrupt ledger value: {0}")]
    Corrupt(String),
}

/// The ledger's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
