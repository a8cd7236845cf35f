//! The two engines behind one small interface: a pool enum (`Db`), a transaction enum (`Tx`), owned query
//! arguments (`Arg`) and an engine-neutral row (`Row`). Every query in the crate is one SQL text with `$n`
//! placeholders that both SQLite and PostgreSQL accept; where the dialects differ (bulk insert) the caller matches
//! on [`Db::engine`]. See docs/decisions/0004-ledger-two-engines.md.
//!
//! Timestamps cross this boundary as `DateTime<Utc>` truncated to microseconds (PostgreSQL's precision). On SQLite
//! they are stored as fixed-width text `YYYY-MM-DDTHH:MM:SS.ffffffZ`, whose text order is time order.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SubsecRound, Timelike, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Row as _, Sqlite, SqlitePool};

use crate::error::{Error, Result};

/// Which database a ledger runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// How a ledger is opened. `Default` suits the desktop; the receiver may raise `max_connections`.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Pool size. SQLite has one writer at a time whatever this is; readers run in parallel (WAL).
    pub max_connections: u32,
    /// How long a SQLite writer waits for the write lock before giving up (`busy_timeout`).
    pub busy_timeout: Duration,
    /// How long to wait for a free pooled connection.
    pub acquire_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// The pool of one of the two engines.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// One value bound to a `$n` placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I64(Option<i64>),
    Text(Option<String>),
    Bytes(Vec<u8>),
    Ts(Option<DateTime<Utc>>),
    Date(Option<NaiveDate>),
}

/// Builds a `Vec<Arg>` from values that convert into [`Arg`].
macro_rules! args {
    () => { Vec::<$crate::db::Arg>::new() };
    ($($value:expr),+ $(,)?) => { vec![$($crate::db::Arg::from($value)),+] };
}
pub(crate) use args;

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::I64(v)
    }
}
impl From<wxpay::Fen> for Arg {
    fn from(v: wxpay::Fen) -> Self {
        Arg::I64(Some(v.get()))
    }
}
impl From<Option<wxpay::Fen>> for Arg {
    fn from(v: Option<wxpay::Fen>) -> Self {
        Arg::I64(v.map(wxpay::Fen::get))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}
impl From<DateTime<Utc>> for Arg {
    fn from(v: DateTime<Utc>) -> Self {
        Arg::Ts(Some(v))
    }
}
impl From<Option<DateTime<Utc>>> for Arg {
    fn from(v: Option<DateTime<Utc>>) -> Self {
        Arg::Ts(v)
    }
}
impl From<NaiveDate> for Arg {
    fn from(v: NaiveDate) -> Self {
        Arg::Date(Some(v))
    }
}
impl From<Option<NaiveDate>> for Arg {
    fn from(v: Option<NaiveDate>) -> Self {
        Arg::Date(v)
    }
}

/// The precision both engines keep.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// SQLite's text form of a timestamp, `YYYY-MM-DDTHH:MM:SS.ffffffZ`: fixed width, so text order is time order.
/// (Written by hand: chrono's strftime showed up in bulk-insert profiles.)
pub(crate) fn ts_text(t: DateTime<Utc>) -> String {
    let (d, tm) = (t.date_naive(), t.time());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        d.year(),
        d.month(),
        d.day(),
        tm.hour(),
        tm.minute(),
        tm.second(),
        (tm.nanosecond() / 1000).min(999_999)
    )
}

fn parse_ts_text(text: &str) -> Result<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .map(|naive| naive.and_utc())
        .map_err(|_| Error::Corrupt(format!("timestamp {text:?} is not in the ledger's format")))
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn bind_sqlite(sql: &str, args: Vec<Arg>) -> SqliteQuery<'_> {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = match arg {
            Arg::I64(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::Bytes(v) => query.bind(v),
            Arg::Ts(v) => query.bind(v.map(ts_text)),
            Arg::Date(v) => query.bind(v),
        };
    }
    query
}

fn bind_pg(sql: &str, args: Vec<Arg>) -> PgQuery<'_> {
    let mut query = sqlx::query(sql);
    for arg in args {
        query = match arg {
            Arg::I64(v) => query.bind(v),
            Arg::Text(v) => query.bind(v),
            Arg::Bytes(v) => query.bind(v),
            Arg::Ts(v) => query.bind(v.map(micros)),
            Arg::Date(v) => query.bind(v),
        };
    }
    query
}

/// A result row of either engine, read by column name.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    pub(crate) fn opt_i64(&self, col: &str) -> Result<Option<i64>> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub(crate) fn i64(&self, col: &str) -> Result<i64> {
        self.opt_i64(col)?.ok_or_else(|| Error::Corrupt(format!("{col} is NULL")))
    }

    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub(crate) fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?.ok_or_else(|| Error::Corrupt(format!("{col} is NULL")))
    }

    pub(crate) fn bytes(&self, col: &str) -> Result<Vec<u8>> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub(crate) fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        match self {
            Row::Sqlite(r) => {
                let text: Option<String> = r.try_get(col)?;
                text.as_deref().map(parse_ts_text).transpose()
            }
            Row::Postgres(r) => Ok(r.try_get(col)?),
        }
    }

    pub(crate) fn ts(&self, col: &str) -> Result<DateTime<Utc>> {
        self.opt_ts(col)?.ok_or_else(|| Error::Corrupt(format!("{col} is NULL")))
    }

    pub(crate) fn opt_date(&self, col: &str) -> Result<Option<NaiveDate>> {
        Ok(match self {
            Row::Sqlite(r) => r.try_get(col)?,
            Row::Postgres(r) => r.try_get(col)?,
        })
    }

    pub(crate) fn date(&self, col: &str) -> Result<NaiveDate> {
        self.opt_date(col)?.ok_or_else(|| Error::Corrupt(format!("{col} is NULL")))
    }
}

impl Db {
    pub(crate) async fn open(url: &str, options: &OpenOptions) -> Result<Db> {
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(options.busy_timeout)
                // 32 MiB of page cache per connection (the default is 2 MiB): the order list's indexes at a
                // million orders stay in memory, and a bill import does not spill mid-transaction.
                .pragma("cache_size", "-32768")
                .pragma("temp_store", "memory");
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            let scheme = url.split(':').next().unwrap_or_default().chars().take(20).collect();
            Err(Error::UnsupportedUrl(scheme))
        }
    }

    pub(crate) fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up front, so a
    /// transaction that reads and then writes never fails half-way with SQLITE_BUSY (it waits `busy_timeout`).
    /// On PostgreSQL it is READ COMMITTED; correctness comes from conditional updates and unique keys.
    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub(crate) async fn fetch_all(&self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>> {
        Ok(match self {
            Db::Sqlite(pool) => bind_sqlite(sql, args).fetch_all(pool).await?.into_iter().map(Row::Sqlite).collect(),
            Db::Postgres(pool) => bind_pg(sql, args).fetch_all(pool).await?.into_iter().map(Row::Postgres).collect(),
        })
    }

    pub(crate) async fn fetch_optional(&self, sql: &str, args: Vec<Arg>) -> Result<Option<Row>> {
        Ok(match self {
            Db::Sqlite(pool) => bind_sqlite(sql, args).fetch_optional(pool).await?.map(Row::Sqlite),
            Db::Postgres(pool) => bind_pg(sql, args).fetch_optional(pool).await?.map(Row::Postgres),
        })
    }

    pub(crate) async fn fetch_one(&self, sql: &str, args: Vec<Arg>) -> Result<Row> {
        Ok(match self {
            Db::Sqlite(pool) => Row::Sqlite(bind_sqlite(sql, args).fetch_one(pool).await?),
            Db::Postgres(pool) => Row::Postgres(bind_pg(sql, args).fetch_one(pool).await?),
        })
    }

    pub(crate) async fn execute_plain(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(pool) => {
                sqlx::raw_sql(sql).execute(pool).await?;
            }
            Db::Postgres(pool) => {
                sqlx::raw_sql(sql).execute(pool).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// A write transaction on either engine. Dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// Runs a statement; returns the number of rows it changed (the row count the state checks rely on).
    pub(crate) async fn execute(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_sqlite(sql, args).execute(&mut **tx).await?.rows_affected(),
            Tx::Postgres(tx) => bind_pg(sql, args).execute(&mut **tx).await?.rows_affected(),
        })
    }

    pub(crate) async fn fetch_optional(&mut self, sql: &str, args: Vec<Arg>) -> Result<Option<Row>> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_sqlite(sql, args).fetch_optional(&mut **tx).await?.map(Row::Sqlite),
            Tx::Postgres(tx) => bind_pg(sql, args).fetch_optional(&mut **tx).await?.map(Row::Postgres),
        })
    }

    pub(crate) async fn fetch_all(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_sqlite(sql, args).fetch_all(&mut **tx).await?.into_iter().map(Row::Sqlite).collect(),
            Tx::Postgres(tx) => bind_pg(sql, args).fetch_all(&mut **tx).await?.into_iter().map(Row::Postgres).collect(),
        })
    }

    pub(crate) async fn fetch_one(&mut self, sql: &str, args: Vec<Arg>) -> Result<Row> {
        Ok(match self {
            Tx::Sqlite(tx) => Row::Sqlite(bind_sqlite(sql, args).fetch_one(&mut **tx).await?),
            Tx::Postgres(tx) => Row::Postgres(bind_pg(sql, args).fetch_one(&mut **tx).await?),
        })
    }

    /// [`Tx::execute`] without keeping the prepared statement: for statements on temporary tables, which a cached
    /// plan would outlive (PostgreSQL refuses a cached plan whose table was dropped and created again).
    pub(crate) async fn execute_once(&mut self, sql: &str, args: Vec<Arg>) -> Result<u64> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_sqlite(sql, args).persistent(false).execute(&mut **tx).await?.rows_affected(),
            Tx::Postgres(tx) => bind_pg(sql, args).persistent(false).execute(&mut **tx).await?.rows_affected(),
        })
    }

    /// [`Tx::fetch_all`] without keeping the prepared statement (see [`Tx::execute_once`]).
    pub(crate) async fn fetch_all_once(&mut self, sql: &str, args: Vec<Arg>) -> Result<Vec<Row>> {
        Ok(match self {
            Tx::Sqlite(tx) => bind_sqlite(sql, args)
                .persistent(false)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Tx::Postgres(tx) => bind_pg(sql, args)
                .persistent(false)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }

    pub(crate) fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Bulk insert on SQLite: multi-row `INSERT … VALUES (?, …), …` statements of at most 32766 parameters, each
/// placeholder positional (SQLite looks named parameters up by a linear scan, which makes binding thousands of
/// `$n` quadratic). The arguments of statement n+1 are built while statement n runs on sqlx's SQLite worker
/// thread, so the two cores overlap.
pub(crate) async fn sqlite_bulk_insert<T>(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &[T],
    args_for: impl Fn(&T, &mut Vec<Arg>),
) -> Result<u64> {
    let per_statement = (32766 / columns.max(1)).max(1);
    let row = format!("({})", vec!["?"; columns].join(", "));
    let sql_for = |n: usize| format!("{head} VALUES {}{tail}", vec![row.as_str(); n].join(", "));
    let full_sql = sql_for(per_statement);
    let build = |chunk: &[T]| {
        let mut args = Vec::with_capacity(chunk.len() * columns);
        for r in chunk {
            args_for(r, &mut args);
        }
        (chunk.len(), args)
    };
    let mut chunks = rows.chunks(per_statement);
    let mut next = chunks.next().map(build);
    let mut inserted = 0;
    while let Some((len, args)) = next.take() {
        let partial;
        let sql = if len == per_statement {
            full_sql.as_str()
        } else {
            partial = sql_for(len);
            partial.as_str()
        };
        let (result, following) = tokio::join!(tx.execute(sql, args), async { chunks.next().map(build) });
        inserted += result?;
        next = following;
    }
    Ok(inserted)
}

/// Whether an error is a unique-key refusal (the way a duplicate fact shows up).
pub(crate) fn is_unique_violation(err: &Error) -> bool {
    matches!(err, Error::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
}

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// The embedded migrations of one engine, as sqlx's migrator wants them.
#[derive(Debug)]
struct Embedded(Engine);

impl<'s> sqlx::migrate::MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> futures_core_box::BoxFuture<'s, std::result::Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>>
    {
        let migrations = embedded::MIGRATIONS
            .iter()
            .map(|(version, description, sqlite, postgres)| {
                let sql = if self.0 == Engine::Sqlite { *sqlite } else { *postgres };
                sqlx::migrate::Migration::new(
                    *version,
                    std::borrow::Cow::Borrowed(*description),
                    sqlx::migrate::MigrationType::Simple,
                    std::borrow::Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// `BoxFuture` without a direct dependency on futures-core.
mod futures_core_box {
    pub(crate) type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
}

/// Applies the engine's pending migrations (sqlx records them in `_sqlx_migrations`).
pub(crate) async fn migrate(db: &Db) -> Result<()> {
    let migrator = sqlx::migrate::Migrator::new(Embedded(db.engine())).await?;
    match db {
        Db::Sqlite(pool) => migrator.run(pool).await?,
        Db::Postgres(pool) => migrator.run(pool).await?,
    }
    Ok(())
}
