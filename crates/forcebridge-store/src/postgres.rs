//! The PostgreSQL backend, for several nodes on one database.
//!
//! Invariants: leases select candidates with `FOR UPDATE SKIP LOCKED` (nodes never wait on each
//! other's candidates) and lock the concurrency groups' rows in key order before counting their
//! running jobs (so caps hold across nodes and lock order cannot deadlock); enqueues send
//! `NOTIFY forcebridge_jobs` inside the transaction, delivered when it commits.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool, Postgres};

use crate::StoreOptions;

type Db = Postgres;
type Conn = PgConnection;

const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
const FOR_UPDATE: &str = " FOR UPDATE";

/// The channel enqueues notify and workers listen on.
pub(crate) const CHANNEL: &str = "forcebridge_jobs";

/// The embedded migrations for PostgreSQL.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

async fn notify_jobs(c: &mut Conn) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *c)
        .await?;
    Ok(())
}

crate::ops::define_ops!();
crate::deliveries::define_runtime_ops!();
crate::stats::define_stats_ops!();

/// Connect; with `options.pg_schema`, create that schema if needed and put it first on the
/// `search_path` of every connection (tests use one schema each).
pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<PgPool> {
    let mut opts = PgConnectOptions::from_str(url)
        .map_err(|e| Error::Invalid(format!("database URL is not a PostgreSQL URL: {e}")))?
        .application_name("forcebridge");
    if let Some(schema) = &options.pg_schema
        && (schema.is_empty()
            || !schema
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'))
    {
        return Err(Error::Invalid(format!(
            "schema {schema:?} must be lowercase letters, digits and underscores"
        )));
    }
    // One plain connection first: an unreachable server, a refused login or a missing database is
    // reported at once with its cause, where the pool would retry until its acquire timeout and
    // then say only that it timed out.
    let mut probe = PgConnection::connect_with(&opts).await?;
    if let Some(schema) = &options.pg_schema {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
        )))
        .execute(&mut probe)
        .await?;
        opts = opts.options([("search_path", schema.as_str())]);
    }
    probe.close().await?;
    if !options.pg_synchronous_commit {
        opts = opts.options([("synchronous_commit", "off")]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(opts)
        .await?;
    Ok(pool)
}
