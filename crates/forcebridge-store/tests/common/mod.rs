//! Test support: a fresh store per test on SQLite (a temp file) or PostgreSQL (a fresh schema,
//! dropped afterwards), with a manual clock and a vault.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{TimeZone as _, Utc};
use forcebridge_store::{Backend, ManualClock, MasterKey, Store, StoreOptions, Vault};
use secrecy::SecretString;

pub const PG_ENV: &str = "FORCEBRIDGE_TEST_POSTGRES_URL";

/// The PostgreSQL URL, or `None` after printing the loud skip line (a failure under CI).
pub fn pg_url() -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("{PG_ENV} must be set when CI is set (PostgreSQL tests cannot be skipped in CI)");
            }
            eprintln!("SKIPPED: {PG_ENV} not set");
            None
        }
    }
}

/// A unique, valid schema name.
pub fn fresh_schema() -> String {
    format!("fbtest_{}", uuid::Uuid::new_v4().simple())
}

/// Drop a test schema (blocking; usable from `Drop`).
pub fn drop_schema(url: &str, schema: &str) {
    let url = url.to_owned();
    let schema = schema.to_owned();
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&pool)
                .await;
                pool.close().await;
            }
        });
    })
    .join();
}

/// Where a test database lives, so it can be reopened with other options.
#[derive(Debug, Clone)]
pub enum Place {
    Sqlite(std::path::PathBuf),
    Postgres { url: String, schema: String },
}

impl Place {
    pub fn options(&self) -> StoreOptions {
        match self {
            Place::Sqlite(path) => {
                let mut o = StoreOptions::new(format!("sqlite://{}", path.display()));
                o.sqlite_synchronous_full = false;
                o
            }
            Place::Postgres { url, schema } => {
                let mut o = StoreOptions::new(url.clone());
                o.pg_schema = Some(schema.clone());
                o
            }
        }
    }
}

pub fn key_text() -> SecretString {
    MasterKey::generate().1
}

pub fn key(text: &SecretString) -> MasterKey {
    MasterKey::from_base64(text).unwrap()
}

/// A test database and a store on it.
pub struct TestDb {
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub place: Place,
    pub key: SecretString,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Place::Postgres { url, schema } = &self.place {
            drop_schema(url, schema);
        }
    }
}

impl TestDb {
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Open another store on the same database (another "node"), with `f` adjusting options.
    pub async fn reopen(
        &self,
        f: impl FnOnce(StoreOptions) -> StoreOptions,
    ) -> forcebridge_store::Result<Store> {
        let o = self
            .place
            .options()
            .clock(self.clock.clone())
            .vault(Vault::new(key(&self.key)));
        Store::connect(f(o)).await
    }
}

pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

async fn open(place: Place, dir: Option<tempfile::TempDir>) -> TestDb {
    let clock = Arc::new(ManualClock::new(start_time()));
    let key = key_text();
    let opts = place
        .options()
        .clock(clock.clone())
        .vault(Vault::new(self::key(&key)));
    let store = Store::connect(opts).await.unwrap();
    TestDb {
        store,
        clock,
        place,
        key,
        _dir: dir,
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    open(Place::Sqlite(path), Some(dir)).await
}

pub async fn postgres() -> Option<TestDb> {
    let url = pg_url()?;
    Some(
        open(
            Place::Postgres {
                url,
                schema: fresh_schema(),
            },
            None,
        )
        .await,
    )
}

/// Run a statement with no parameters on whichever backend `store` is.
pub async fn exec(store: &Store, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match store.backend() {
        Backend::Sqlite => {
            sqlx::query(sql)
                .execute(store.sqlite_pool().unwrap())
                .await
                .unwrap();
        }
        Backend::Postgres => {
            sqlx::query(sql).execute(store.pg_pool().unwrap()).await.unwrap();
        }
    }
}

/// Rows of integer columns from a query with no parameters.
pub async fn rows_i64(store: &Store, sql: &str, cols: usize) -> Vec<Vec<i64>> {
    use sqlx::Row as _;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match store.backend() {
        Backend::Sqlite => sqlx::query(sql)
            .fetch_all(store.sqlite_pool().unwrap())
            .await
            .unwrap()
            .iter()
            .map(|r| (0..cols).map(|i| r.get::<i64, _>(i)).collect())
            .collect(),
        Backend::Postgres => sqlx::query(sql)
            .fetch_all(store.pg_pool().unwrap())
            .await
            .unwrap()
            .iter()
            .map(|r| (0..cols).map(|i| r.get::<i64, _>(i)).collect())
            .collect(),
    }
}

pub const HARNESS_TABLE: &str = "CREATE TABLE harness_runs (job_id BIGINT NOT NULL, event_key TEXT NOT NULL, \
     attempt BIGINT NOT NULL, node TEXT NOT NULL, grp TEXT NOT NULL, started_us BIGINT NOT NULL, ended_us BIGINT NOT NULL)";

/// The harness child's command line arguments for `place`: url and schema.
pub fn harness_target(place: &Place) -> (String, String) {
    match place {
        Place::Sqlite(path) => (format!("sqlite://{}", path.display()), "-".into()),
        Place::Postgres { url, schema } => (url.clone(), schema.clone()),
    }
}

/// Instantiate `suite::<name>(&TestDb)` for SQLite and PostgreSQL (the conformance suites).
#[allow(unused_macros)]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::common::sqlite().await;
                    super::suite::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::common::postgres().await else { return };
                    super::suite::$name(&db).await;
                    db.store.close().await;
                }
            )*
        }
    };
}
