//! A second connection to the ledger's SQLite file through rusqlite, for bill-row bulk insert only.
//!
//! Why: through sqlx every bound value is wrapped, copied to owned (`into_static`), sent to sqlx's worker thread
//! and bound there; with 31 values a row that caps multi-row `VALUES` inserts near 140,000 rows/s whatever the
//! statement size. rusqlite binds straight into one prepared single-row `INSERT` reused for every row: under half
//! the instructions a row, 250,000–318,000 rows/s in the bench (docs/decisions/0004-ledger-two-engines.md).
//! rusqlite 0.32 links the same libsqlite3-sys (0.30, bundled) as sqlx-sqlite 0.8: one SQLite library, and two
//! connections that share the file's WAL and locks like any two: the writer takes the write lock with
//! `BEGIN IMMEDIATE`, waiting `busy_timeout`, and the pool's connections wait for it the same way.
//!
//! The connection is set up like the pool's: [`DirectSqlite::of`] asks a pooled connection for the database
//! file and its per-connection settings (`busy_timeout`, `synchronous`, `foreign_keys`, `cache_size`,
//! `temp_store`); `journal_mode = WAL` is a property of the file, already set by the pool. Errors come back as
//! [`Error::Database`] with SQLite's extended result code, like sqlx's own, so `is_unavailable` and
//! `is_unique_violation` answer the same.

use std::borrow::Cow;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sqlx::error::{DatabaseError, ErrorKind};

use crate::audit::entry_hash;
use crate::db::{ts_text, Db};
use crate::error::{Error, Result};
use crate::model::NewAuditEntry;

type Pragmas = (String, i64, i64, i64, i64, i64);

/// Where and how to open a second connection to the ledger's SQLite database.
#[derive(Debug)]
pub(crate) struct DirectSqlite {
    path: String,
    busy_timeout_ms: u64,
    synchronous: i64,
    foreign_keys: i64,
    cache_size: i64,
    temp_store: i64,
}

impl DirectSqlite {
    /// The settings of a pooled connection, or `None` when the ledger is not SQLite or has no file (in memory: a
    /// second connection would open another, empty database).
    pub(crate) async fn of(db: &Db) -> Result<Option<DirectSqlite>> {
        let Db::Sqlite(pool) = db else { return Ok(None) };
        // The main database's file ("" in memory) and the settings `Db::open` gave the pool's connections.
        let (path, busy_timeout_ms, synchronous, foreign_keys, cache_size, temp_store): Pragmas = sqlx::query_as(
            "SELECT d.file, b.timeout, s.synchronous, f.foreign_keys, c.cache_size, t.temp_store \
             FROM pragma_database_list AS d, pragma_busy_timeout AS b, pragma_synchronous AS s, \
             pragma_foreign_keys AS f, pragma_cache_size AS c, pragma_temp_store AS t WHERE d.name = 'main'",
        )
        .fetch_one(pool)
        .await?;
        if path.is_empty() {
            return Ok(None);
        }
        let busy_timeout_ms = u64::try_from(busy_timeout_ms).unwrap_or(0);
        Ok(Some(DirectSqlite { path, busy_timeout_ms, synchronous, foreign_keys, cache_size, temp_store }))
    }

    /// Opens the connection (blocking: call it off the async runtime). The file must exist.
    pub(crate) fn open(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_millis(self.busy_timeout_ms))?;
        conn.pragma_update(None, "synchronous", self.synchronous)?;
        conn.pragma_update(None, "foreign_keys", self.foreign_keys)?;
        conn.pragma_update(None, "cache_size", self.cache_size)?;
        conn.pragma_update(None, "temp_store", self.temp_store)?;
        Ok(conn)
    }
}

/// Appends an audit entry inside `tx`: the same statements as `audit::append_in`, on this connection.
pub(crate) fn append_audit(tx: &rusqlite::Transaction<'_>, entry: &NewAuditEntry) -> Result<()> {
    let (seq, prev_hash): (i64, String) =
        tx.query_row("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let hash = entry_hash(&prev_hash, seq, entry)
        .ok_or_else(|| Error::Corrupt("audit_head.hash is not a SHA-256 hex digest".into()))?;
    tx.execute("UPDATE audit_head SET hash = $1 WHERE id = 1", [&hash])?;
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, result, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        rusqlite::params![
            seq,
            ts_text(entry.at),
            entry.actor,
            entry.action,
            entry.subject,
            entry.result.as_str(),
            entry.detail,
            prev_hash,
            hash
        ],
    )?;
    Ok(())
}

/// A SQLite failure seen through rusqlite, shaped like sqlx-sqlite's error: the extended result code as the code,
/// the same kinds for constraint failures.
#[derive(Debug)]
struct SqliteFailure {
    extended_code: i32,
    message: String,
}

impl std::fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqliteFailure {}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.extended_code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => ErrorKind::UniqueViolation,
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        let code = match &err {
            rusqlite::Error::SqliteFailure(e, _) | rusqlite::Error::SqlInputError { error: e, .. } => e.extended_code,
            // Not a SQLite result (a type conversion or API misuse): SQLITE_ERROR, a plain refusal.
            _ => rusqlite::ffi::SQLITE_ERROR,
        };
        Error::Database(sqlx::Error::Database(Box::new(SqliteFailure {
            extended_code: code,
            message: err.to_string(),
        })))
    }
}
