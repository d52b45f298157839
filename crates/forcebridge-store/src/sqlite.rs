//! The SQLite backend: one file in WAL mode, for the embedded single-process default.
//!
//! Invariant: every write transaction starts with `BEGIN IMMEDIATE`, so writers queue on the
//! database lock (with a busy timeout) instead of failing when a read transaction tries to
//! upgrade; this also makes a lease's count-then-update atomic without row locks.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use crate::StoreOptions;

type Db = Sqlite;
type Conn = SqliteConnection;

/// SQLite has no row locks; `BEGIN IMMEDIATE` already holds the write lock.
const SKIP_LOCKED: &str = "";
const FOR_UPDATE: &str = "";

/// The embedded migrations for SQLite.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Wake-ups on SQLite are in-process only (see `Store::wait_for_jobs`); nothing to send.
async fn notify_jobs(_c: &mut Conn) -> Result<()> {
    Ok(())
}

crate::ops::define_ops!();
crate::deliveries::define_runtime_ops!();
crate::stats::define_stats_ops!();

/// Open (creating if missing) the database file named by `url` (`sqlite://path` or `sqlite:path`).
pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<SqlitePool> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::Invalid(format!("database URL {url:?} is not a SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if options.sqlite_synchronous_full {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30));
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(opts)
        .await?;
    Ok(pool)
}
