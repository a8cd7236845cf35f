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

impl Error {
    /// Whether the database could not do the work *now* — unreachable, shut down, out of connections, locked by
    /// another writer past the busy timeout, read-only, out of space, or a transaction PostgreSQL asks to retry —
    /// as opposed to a refusal or a bug. A caller answers "try again later" (the receiver: FAIL with a 5xx, so
    /// WeChat retries) and can count these apart.
    pub fn is_unavailable(&self) -> bool {
        let Error::Database(e) = self else { return false };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
            _ => false,
        }
    }
}

/// SQLite result codes (decimal numbers of at most 4 digits, possibly extended: the primary code is the low byte)
/// and PostgreSQL SQLSTATEs (always 5 characters, often all digits) that mean "not now" rather than "no".
fn unavailable_code(code: &str) -> bool {
    if let (true, Ok(n)) = (code.len() < 5, code.parse::<u32>()) {
        // SQLITE_BUSY 5, LOCKED 6, NOMEM 7, READONLY 8, IOERR 10, FULL 13, CANTOPEN 14, PROTOCOL 15.
        return matches!(n & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14 | 15);
    }
    // 08: connection exception; 53: insufficient resources; 57P01–57P03: shutdown / cannot connect now;
    // 40001 / 40P01: serialization failure, deadlock (retry the transaction); 58: system error (I/O).
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("58")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_codes_are_told_apart_from_refusals() {
        for code in ["5", "517", "6", "8", "10", "266", "13", "14", "08006", "08001", "53300", "57P01", "40001"] {
            assert!(unavailable_code(code), "{code}");
        }
        // SQLITE_CONSTRAINT 19 / 2067 (unique), PostgreSQL 23505 unique_violation, 42P01 undefined_table.
        for code in ["19", "2067", "1", "23505", "42P01", "22001"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn connection_failures_are_unavailable_and_refusals_are_not() {
        assert!(Error::Database(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(Error::Database(sqlx::Error::PoolClosed).is_unavailable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(Error::Database(sqlx::Error::Io(io)).is_unavailable());
        assert!(!Error::Database(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!Error::Conflict("order 1".into()).is_unavailable());
        assert!(!Error::InvalidInput("x".into()).is_unavailable());
    }
}
