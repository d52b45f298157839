//! `forcebridge-store`: persistence and the durable job queue, on SQLite (embedded default, WAL)
//! and PostgreSQL (several nodes), behind one interface: [`Store`] and its transactions [`Tx`].
//!
//! - **Model**: tenants, users with roles, API keys (argon2 hashes behind a lookup prefix),
//!   connections with sealed credentials and a per-owner limit, installed recipes, accepted events
//!   with per-tenant idempotency keys, sync cursors, the journal of Salesforce writes, the audit log.
//! - **Vault** ([`vault`]): credentials sealed with XChaCha20-Poly1305 under a master key, bound to
//!   their tenant and connection; rotation re-seals in small transactions while nodes keep running.
//! - **Queue** ([`queue`]): enqueue (optionally inside the caller's [`Tx`]), lease batches,
//!   heartbeat, complete, fail with backoff and dead letters, defer, cancel, replay, reap expired
//!   leases, per-group caps across nodes, wake-ups (LISTEN/NOTIFY on PostgreSQL, in-process on
//!   SQLite), statistics and retention. [`worker`] runs handlers over it.
//!
//! Both backends run the same SQL (see `ops.rs`); only row locking and wake-ups differ. Each has
//! its own embedded migrations, applied by [`Store::connect`] (unless disabled) and by
//! `forcebridge migrate`. The store knows nothing of Salesforce.
//!
//! Invariant: every method that touches tenant data takes the tenant id and filters by it; a
//! wrong tenant sees "not found", never another tenant's row.

mod clock;
pub mod control;
pub mod deliveries;
mod error;
mod model;
mod ops;
mod postgres;
pub mod queue;
mod sqlite;
pub mod vault;
pub mod worker;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::watch;

pub use clock::{Clock, ManualClock, SystemClock};
pub use control::{
    AttemptOutcome, DeliveryAttempt, DueWebhook, Notification, OAuthPending, Scope, Session, WebhookDelivery,
    WebhookDeliveryState, WebhookEndpoint,
};
pub use deliveries::{
    BudgetRow, Delivery, DeliveryFilter, DeliveryState, DeliveryUpdate, DueDelivery, JournalRow, NewDelivery,
};
pub use error::{Error, ErrorKind, Result};
pub use model::*;
pub use queue::{
    Enqueued, FailResult, Job, JobId, JobInfo, JobOutcome, JobState, Lease, LeaseRequest, NewJob,
    PurgeReport, QueueConfig, QueueStats, Retention,
};
pub use secrecy;
pub use vault::{Credentials, MasterKey, Vault};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// How to open a store. `Debug` shows the URL without its password.
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// The master keys; required to create connections or read credentials, and checked at start
    /// against what the database holds.
    pub vault: Option<Vault>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Queue behaviour.
    pub queue: QueueConfig,
    /// Most connections one user may own. Default 5.
    pub connections_per_owner: u32,
    /// Pool size.
    pub max_connections: u32,
    /// PostgreSQL only: use (and create) this schema instead of the default search path.
    pub pg_schema: Option<String>,
    /// Apply the embedded migrations when connecting. Default true.
    pub migrate: bool,
    /// SQLite only: `synchronous=FULL` (durable across power loss) instead of `NORMAL` (durable
    /// across process crashes only). Default true.
    pub sqlite_synchronous_full: bool,
    /// PostgreSQL only: `synchronous_commit=on` (a commit survives a database server crash)
    /// instead of `off` (it survives crashes of forcebridge, but a server crash may lose the last
    /// fraction of a second). Default true.
    pub pg_synchronous_commit: bool,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &redact_url(&self.url))
            .field("vault", &self.vault)
            .field("clock", &self.clock)
            .field("queue", &self.queue)
            .field("connections_per_owner", &self.connections_per_owner)
            .field("max_connections", &self.max_connections)
            .field("pg_schema", &self.pg_schema)
            .field("migrate", &self.migrate)
            .field("sqlite_synchronous_full", &self.sqlite_synchronous_full)
            .field("pg_synchronous_commit", &self.pg_synchronous_commit)
            .finish()
    }
}

/// `url` with the password of its user info (`scheme://user:password@host/...`) replaced by
/// `***`, for logs and `Debug`; URLs without a password come back unchanged.
pub fn redact_url(url: &str) -> std::borrow::Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.into();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.into();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.into();
    };
    format!("{}***{}", &url[..scheme_end + colon + 1], &url[scheme_end + at..]).into()
}

impl StoreOptions {
    /// Defaults for `url`: system clock, no vault, migrations on.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            vault: None,
            clock: Arc::new(SystemClock),
            queue: QueueConfig::default(),
            connections_per_owner: 5,
            max_connections: 8,
            pg_schema: None,
            migrate: true,
            sqlite_synchronous_full: true,
            pg_synchronous_commit: true,
        }
    }

    /// Set the vault.
    pub fn vault(mut self, vault: Vault) -> Self {
        self.vault = Some(vault);
        self
    }

    /// Set the clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// What the SQL functions need besides a connection.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) vault: Option<Vault>,
    pub(crate) queue: QueueConfig,
    pub(crate) connection_limit: u32,
}

impl Ctx {
    pub(crate) fn vault(&self) -> Result<&Vault> {
        self.vault.as_ref().ok_or_else(|| {
            Error::Crypto(
                "no master key is configured; set FORCEBRIDGE_MASTER_KEY or FORCEBRIDGE_MASTER_KEY_FILE"
                    .into(),
            )
        })
    }
}

/// Which rows a retention pass deletes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PurgeTarget {
    FinishedJobs,
    DeadJobs,
    Events,
    Journal,
    Audit,
}

#[derive(Debug)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug)]
struct Inner {
    db: Db,
    ctx: Ctx,
    /// Bumped whenever jobs may have become ready (local commits, PostgreSQL notifications).
    signal: watch::Sender<u64>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// SQLite allows one writer at a time. Queuing this process's writers here, instead of in
    /// SQLite's busy handler (which sleeps in steps of up to 100 ms), keeps write latency at the
    /// cost of one transaction; other processes still wait through `busy_timeout`.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// API keys this process has verified: stored hash → SHA-256 of the secret that matched it.
    /// argon2 costs ~20 ms of CPU a check, which would cap a node at ~100 requests a second; a
    /// key's row is still read (and revocation seen) on every request, only the argon2 step is
    /// skipped for a secret already proven against that very hash.
    verified_keys: Mutex<std::collections::HashMap<String, [u8; 32]>>,
}

/// At most this many verified keys are remembered (then the memory starts again).
const VERIFIED_KEYS_MAX: usize = 10_000;

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(h) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take() {
            h.abort();
        }
    }
}

/// A handle on the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// A database transaction. Everything done through it commits or rolls back together; dropping
/// it without [`Tx::commit`] rolls back.
#[derive(Debug)]
pub struct Tx {
    store: Store,
    inner: TxInner,
    wake: bool,
    /// Held for the life of a SQLite write transaction (see `Inner::write_lock`).
    _write_guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

#[derive(Debug)]
enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Run `$body` with `$c` bound to the transaction's connection and `$m` to the backend's module.
macro_rules! on_tx {
    ($tx:expr, $m:ident, $c:ident, $ctx:ident => $body:expr) => {{
        let $ctx = &$tx.store.inner.ctx;
        match &mut $tx.inner {
            TxInner::Sqlite(t) => {
                use crate::sqlite as $m;
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            TxInner::Postgres(t) => {
                use crate::postgres as $m;
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    }};
}

/// One write transaction around one call: `in_tx!(self, m, c, ctx => expr)`.
macro_rules! in_tx {
    ($store:expr, $m:ident, $c:ident, $ctx:ident => $body:expr) => {{
        let mut tx = $store.begin().await?;
        let out = on_tx!(tx, $m, $c, $ctx => $body)?;
        tx.commit().await?;
        Ok::<_, Error>(out)
    }};
}

/// One read-only transaction around one call.
macro_rules! in_read {
    ($store:expr, $m:ident, $c:ident, $ctx:ident => $body:expr) => {{
        let mut tx = $store.begin_read().await?;
        let out = on_tx!(tx, $m, $c, $ctx => $body)?;
        tx.commit().await?;
        Ok::<_, Error>(out)
    }};
}

impl Store {
    /// Open the store at `options.url`, apply migrations (unless `migrate` is false) and check the
    /// master keys against the database.
    ///
    /// # Errors
    /// A bad URL ([`Error::Invalid`]), an unreachable database ([`Error::Database`]), a failed
    /// migration ([`Error::Migrate`]), or a missing or wrong master key ([`Error::Crypto`]).
    pub async fn connect(options: StoreOptions) -> Result<Store> {
        let db = if options.url.starts_with("sqlite:") {
            Db::Sqlite(sqlite::connect(&options.url, &options).await?)
        } else if options.url.starts_with("postgres://") || options.url.starts_with("postgresql://") {
            Db::Postgres(postgres::connect(&options.url, &options).await?)
        } else {
            return Err(Error::Invalid(
                "database URL must start with sqlite:// or postgres:// (e.g. sqlite://forcebridge.db)".into(),
            ));
        };
        let (signal, _) = watch::channel(0);
        let store = Store {
            inner: Arc::new(Inner {
                db,
                ctx: Ctx {
                    clock: options.clock,
                    vault: options.vault,
                    queue: options.queue,
                    connection_limit: options.connections_per_owner,
                },
                signal,
                listener: Mutex::new(None),
                write_lock: Arc::new(tokio::sync::Mutex::new(())),
                verified_keys: Mutex::new(std::collections::HashMap::new()),
            }),
        };
        if options.migrate {
            store.migrate().await?;
        }
        // Check the keys whenever there are keys to check, or a schema we just made sure exists
        // (`forcebridge migrate` runs with neither and needs no key).
        if options.migrate || store.inner.ctx.vault.is_some() {
            in_tx!(store, m, c, ctx => m::check_vault(c, ctx).await)?;
        }
        Ok(store)
    }

    /// Apply the embedded migrations of this backend (idempotent; safe with several nodes, which
    /// serialise on the migrator's lock). Returns how many migrations the database gained during
    /// the call: 0 when it was already up to date.
    ///
    /// # Errors
    /// [`Error::Migrate`] when a migration fails or the database has migrations this build lacks.
    pub async fn migrate(&self) -> Result<u64> {
        /// Migrations recorded as applied (creating the bookkeeping table on a fresh database,
        /// which the migrator would do anyway).
        async fn applied(
            c: &mut impl sqlx::migrate::Migrate,
            migrator: &sqlx::migrate::Migrator,
        ) -> Result<u64> {
            c.ensure_migrations_table(&migrator.table_name).await?;
            let n = c.list_applied_migrations(&migrator.table_name).await?.len();
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        }
        // One connection for the count, the run and the recount, so that all three see the same
        // schema (PostgreSQL: the same search path).
        let (before, after) = match &self.inner.db {
            Db::Sqlite(p) => {
                let mut c = p.acquire().await?;
                let before = applied(&mut *c, &sqlite::MIGRATOR).await?;
                sqlite::MIGRATOR.run(&mut *c).await?;
                (before, applied(&mut *c, &sqlite::MIGRATOR).await?)
            }
            Db::Postgres(p) => {
                let mut c = p.acquire().await?;
                let before = applied(&mut *c, &postgres::MIGRATOR).await?;
                postgres::MIGRATOR.run(&mut *c).await?;
                (before, applied(&mut *c, &postgres::MIGRATOR).await?)
            }
        };
        Ok(after.saturating_sub(before))
    }

    /// Whether the database holds a forcebridge store at all (its migrations were ever applied),
    /// without creating anything — so that a tool pointed at the wrong database or schema can
    /// say so instead of working on an empty one.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn is_initialised(&self) -> Result<bool> {
        let found: bool = match &self.inner.db {
            Db::Sqlite(p) => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
                )
                .fetch_one(p)
                .await?
            }
            // `to_regclass` resolves through the search path, i.e. the configured schema.
            Db::Postgres(p) => {
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(p)
                    .await?
            }
        };
        Ok(found)
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match &self.inner.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite pool, for tools and tests that need raw SQL.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.inner.db {
            Db::Sqlite(p) => Some(p),
            Db::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, for tools and tests that need raw SQL.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.inner.db {
            Db::Postgres(p) => Some(p),
            Db::Sqlite(_) => None,
        }
    }

    /// The store's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.ctx.clock
    }

    /// The queue configuration.
    pub fn queue_config(&self) -> &QueueConfig {
        &self.inner.ctx.queue
    }

    /// Close the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match &self.inner.db {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Begin a write transaction (`BEGIN IMMEDIATE` on SQLite).
    ///
    /// # Errors
    /// [`Error::Database`] when no connection can be had or the database is locked too long.
    pub async fn begin(&self) -> Result<Tx> {
        let (inner, guard) = match &self.inner.db {
            Db::Sqlite(p) => {
                let guard = Arc::clone(&self.inner.write_lock).lock_owned().await;
                (
                    TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
                    Some(guard),
                )
            }
            Db::Postgres(p) => (TxInner::Postgres(p.begin().await?), None),
        };
        Ok(Tx {
            store: self.clone(),
            inner,
            wake: false,
            _write_guard: guard,
        })
    }

    /// Begin a read-only transaction (a deferred one on SQLite, which does not block writers).
    ///
    /// # Errors
    /// [`Error::Database`] when no connection can be had.
    pub async fn begin_read(&self) -> Result<Tx> {
        let inner = match &self.inner.db {
            Db::Sqlite(p) => TxInner::Sqlite(p.begin().await?),
            Db::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            store: self.clone(),
            inner,
            wake: false,
            _write_guard: None,
        })
    }

    fn wake(&self) {
        self.inner.signal.send_modify(|v| *v = v.wrapping_add(1));
    }

    // ------------------------------------------------------------------ tenants and users

    /// Create a tenant.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty or overlong name.
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant> {
        in_tx!(self, m, c, ctx => m::create_tenant(c, ctx, name).await)
    }

    /// A tenant by id.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn get_tenant(&self, id: &TenantId) -> Result<Tenant> {
        in_read!(self, m, c, _ctx => m::get_tenant(c, id).await)
    }

    /// Add a user to a tenant; recorded in the audit log as done by `actor`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed email, [`Error::Conflict`] for a duplicate email,
    /// [`Error::NotFound`] for an unknown tenant.
    pub async fn create_user(&self, tenant: &TenantId, email: &str, role: Role, actor: &str) -> Result<User> {
        in_tx!(self, m, c, ctx => {
            let u = m::create_user(&mut *c, ctx, tenant, email, role).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "user.create", u.id.as_str(),
                &serde_json::json!({ "email": u.email, "role": role.as_str() })).await?;
            Ok::<_, Error>(u)
        })
    }

    /// A user of a tenant.
    ///
    /// # Errors
    /// [`Error::NotFound`] (also when the user belongs to another tenant).
    pub async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<User> {
        in_read!(self, m, c, _ctx => m::get_user(c, tenant, id).await)
    }

    /// A tenant's users.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_users(&self, tenant: &TenantId) -> Result<Vec<User>> {
        in_read!(self, m, c, _ctx => m::list_users(c, tenant).await)
    }

    // ------------------------------------------------------------------ API keys

    /// Create an API key for `tenant`. The returned secret is the only time the full key exists
    /// outside its holder: only an argon2 hash is stored.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown tenant, [`Error::Crypto`] if hashing fails.
    pub async fn create_api_key(
        &self,
        tenant: &TenantId,
        label: &str,
        actor: &str,
    ) -> Result<(ApiKey, SecretString)> {
        let mut raw = [0u8; 6];
        rand::rng().fill_bytes(&mut raw);
        let prefix = hex::encode(raw);
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(secret.as_mut_slice());
        let full = SecretString::from(format!(
            "fbk_{prefix}_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret.as_slice())
        ));
        let to_hash = full.clone();
        let hash = tokio::task::spawn_blocking(move || {
            let mut salt = [0u8; 16];
            rand::rng().fill_bytes(&mut salt);
            let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Crypto(format!("salt: {e}")))?;
            argon2::Argon2::default()
                .hash_password(to_hash.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Crypto(format!("hashing the API key failed: {e}")))
        })
        .await
        .map_err(|e| Error::Crypto(format!("hashing task failed: {e}")))??;
        let key = in_tx!(self, m, c, ctx => {
            let k = m::insert_api_key(&mut *c, ctx, tenant, &prefix, &hash, label).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "api_key.create", k.id.as_str(),
                &serde_json::json!({ "prefix": prefix, "label": label })).await?;
            Ok::<_, Error>(k)
        })?;
        Ok((key, full))
    }

    /// The live API key matching `presented`, or `None` (malformed, unknown, revoked or wrong).
    ///
    /// # Errors
    /// [`Error::Database`] only; a bad key is `Ok(None)`.
    pub async fn authenticate_api_key(&self, presented: &SecretString) -> Result<Option<ApiKey>> {
        let text = presented.expose_secret();
        let mut parts = text.splitn(3, '_');
        let (Some("fbk"), Some(prefix), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(None);
        };
        if prefix.len() != 12 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let prefix = prefix.to_owned();
        let found = in_read!(self, m, c, _ctx => m::api_key_by_prefix(c, &prefix).await)?;
        let Some((key, hash)) = found else { return Ok(None) };
        let digest: [u8; 32] =
            <sha2::Sha256 as sha2::Digest>::digest(presented.expose_secret().as_bytes()).into();
        let known = self
            .inner
            .verified_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&hash)
            .is_some_and(|d| *d == digest);
        if known {
            return Ok(Some(key));
        }
        let presented = presented.clone();
        let stored = hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|h| {
                    argon2::Argon2::default()
                        .verify_password(presented.expose_secret().as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok {
            let mut m = self.inner.verified_keys.lock().unwrap_or_else(|p| p.into_inner());
            if m.len() >= VERIFIED_KEYS_MAX {
                m.clear();
            }
            m.insert(stored, digest);
        }
        Ok(ok.then_some(key))
    }

    /// Revoke an API key (idempotent).
    ///
    /// # Errors
    /// [`Error::NotFound`] when the key is not the tenant's.
    pub async fn revoke_api_key(&self, tenant: &TenantId, id: &ApiKeyId, actor: &str) -> Result<()> {
        in_tx!(self, m, c, ctx => {
            m::revoke_api_key(&mut *c, ctx, tenant, id).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "api_key.revoke", id.as_str(), &serde_json::json!({})).await
        })
    }

    /// A tenant's API keys (without secrets).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        in_read!(self, m, c, _ctx => m::list_api_keys(c, tenant).await)
    }

    // ------------------------------------------------------------------ connections

    /// Create a connection, sealing its credentials.
    ///
    /// # Errors
    /// [`Error::Invalid`] (bad label or URL, sharing by a non-admin), [`Error::NotFound`] (owner
    /// or shared user not in the tenant), [`Error::ConnectionLimit`], [`Error::Crypto`] (no key).
    pub async fn create_connection(
        &self,
        tenant: &TenantId,
        new: &NewConnection,
        actor: &str,
    ) -> Result<Connection> {
        in_tx!(self, m, c, ctx => {
            let conn = m::create_connection(&mut *c, ctx, tenant, new).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "connection.create", conn.id.as_str(),
                &serde_json::json!({ "label": conn.label, "auth_method": conn.auth_method, "owner": conn.owner })).await?;
            Ok::<_, Error>(conn)
        })
    }

    /// A tenant's connection.
    ///
    /// # Errors
    /// [`Error::NotFound`] (also for another tenant's connection).
    pub async fn get_connection(&self, tenant: &TenantId, id: &ConnectionId) -> Result<Connection> {
        in_read!(self, m, c, _ctx => m::get_connection(c, tenant, id).await)
    }

    /// A tenant's connections; with `visible_to`, only those the user owns or that are shared with them.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_connections(
        &self,
        tenant: &TenantId,
        visible_to: Option<&UserId>,
    ) -> Result<Vec<Connection>> {
        in_read!(self, m, c, _ctx => m::list_connections(c, tenant, visible_to).await)
    }

    /// Set a connection's status with its reason (time from the clock).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn set_connection_status(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        status: ConnectionStatus,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        in_tx!(self, m, c, ctx => {
            m::set_connection_status(&mut *c, ctx, tenant, id, status, reason).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "connection.status", id.as_str(),
                &serde_json::json!({ "status": status, "reason": reason })).await
        })
    }

    /// Replace the users a shared connection is shared with.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a personal connection, [`Error::NotFound`] for unknown users.
    pub async fn set_shared_users(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        users: &[UserId],
        actor: &str,
    ) -> Result<()> {
        in_tx!(self, m, c, ctx => {
            m::set_shared_users(&mut *c, tenant, id, users).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "connection.share", id.as_str(),
                &serde_json::json!({ "users": users })).await
        })
    }

    /// Delete a connection (its cursors and installs go with it).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn delete_connection(&self, tenant: &TenantId, id: &ConnectionId, actor: &str) -> Result<()> {
        in_tx!(self, m, c, ctx => {
            m::delete_connection(&mut *c, tenant, id).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "connection.delete", id.as_str(), &serde_json::json!({})).await
        })
    }

    /// Open a connection's credentials.
    ///
    /// # Errors
    /// [`Error::NotFound`], or [`Error::Crypto`] when the value does not open (wrong key, or a
    /// sealed value that belongs to another row).
    pub async fn credentials(&self, tenant: &TenantId, id: &ConnectionId) -> Result<Credentials> {
        in_read!(self, m, c, ctx => m::credentials(c, ctx, tenant, id).await)
    }

    /// Replace a connection's credentials (e.g. after a token refresh or a reconnect).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Crypto`].
    pub async fn update_credentials(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        creds: &Credentials,
    ) -> Result<()> {
        in_tx!(self, m, c, ctx => m::update_credentials(c, ctx, tenant, id, creds).await)
    }

    /// Re-seal every connection not yet under the current master key, `batch` rows per
    /// transaction so that running nodes are never blocked for long; returns how many were
    /// re-sealed. Nodes must hold both keys while this runs (see docs/operations.md).
    ///
    /// # Errors
    /// [`Error::Crypto`] when a value does not open with any configured key.
    pub async fn rotate_vault(&self, batch: u32) -> Result<u64> {
        let mut total = self.rotate_control_secrets(batch).await?;
        loop {
            let n: u64 = in_tx!(self, m, c, ctx => m::rotate_batch(c, ctx, i64::from(batch.max(1))).await)?;
            total += n;
            if n == 0 {
                break;
            }
        }
        let key = self.inner.ctx.vault()?.current_key_id().to_owned();
        self.record_audit(
            None,
            "system",
            "vault.rotate",
            &key,
            &serde_json::json!({ "resealed": total }),
        )
        .await?;
        Ok(total)
    }

    // ------------------------------------------------------------------ recipes

    /// Install (or update the settings of) a recipe on a tenant's connection.
    ///
    /// # Errors
    /// [`Error::NotFound`] for another tenant's connection, [`Error::Invalid`] for a bad name.
    pub async fn install_recipe(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        recipe: &str,
        settings: &serde_json::Value,
        enabled: bool,
        actor: &str,
    ) -> Result<RecipeInstall> {
        in_tx!(self, m, c, ctx => {
            let i = m::install_recipe(&mut *c, ctx, tenant, connection, recipe, settings, enabled).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "recipe.install", i.id.as_str(),
                &serde_json::json!({ "recipe": recipe, "connection": connection, "settings": settings, "enabled": enabled })).await?;
            Ok::<_, Error>(i)
        })
    }

    /// A tenant's installed recipes.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_installs(&self, tenant: &TenantId) -> Result<Vec<RecipeInstall>> {
        in_read!(self, m, c, _ctx => m::list_installs(c, tenant).await)
    }

    /// Remove an installed recipe.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn uninstall_recipe(&self, tenant: &TenantId, id: &InstallId, actor: &str) -> Result<()> {
        in_tx!(self, m, c, ctx => {
            m::uninstall_recipe(&mut *c, tenant, id).await?;
            m::record_audit(&mut *c, ctx, Some(tenant), actor, "recipe.uninstall", id.as_str(), &serde_json::json!({})).await
        })
    }

    // ------------------------------------------------------------------ events, cursors, journal, audit

    /// Accept an event and, when it is new, enqueue the job `job_for` makes for it — atomically.
    /// A repeated idempotency key returns the first acceptance and enqueues nothing.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad key or type; [`Error::Database`].
    pub async fn accept_event(
        &self,
        tenant: &TenantId,
        idempotency_key: &str,
        event_type: &str,
        payload: &serde_json::Value,
        job_for: impl FnOnce(&Event) -> Option<NewJob>,
    ) -> Result<(Accepted, Option<Enqueued>)> {
        let mut tx = self.begin().await?;
        let accepted = tx
            .accept_event(tenant, idempotency_key, event_type, payload)
            .await?;
        let mut enqueued = None;
        if accepted.is_new
            && let Some(job) = job_for(&accepted.event)
        {
            enqueued = Some(tx.enqueue(&job).await?);
        }
        tx.commit().await?;
        Ok((accepted, enqueued))
    }

    /// An accepted event.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn get_event(&self, tenant: &TenantId, id: &EventId) -> Result<Event> {
        in_read!(self, m, c, _ctx => m::get_event(c, tenant, id).await)
    }

    /// A sync cursor.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn get_cursor(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        sync: &str,
    ) -> Result<Option<String>> {
        in_read!(self, m, c, _ctx => m::get_cursor(c, tenant, connection, sync).await)
    }

    /// The journal of an event.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn journal_for_event(&self, tenant: &TenantId, event: &EventId) -> Result<Vec<JournalEntry>> {
        in_read!(self, m, c, _ctx => m::journal_for_event(c, tenant, event).await)
    }

    /// Append to the audit log.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn record_audit(
        &self,
        tenant: Option<&TenantId>,
        actor: &str,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        in_tx!(self, m, c, ctx => m::record_audit(c, ctx, tenant, actor, action, target, detail).await)
    }

    /// The newest `limit` audit records of a tenant, newest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_audit(&self, tenant: &TenantId, limit: u32) -> Result<Vec<AuditEntry>> {
        in_read!(self, m, c, _ctx => m::list_audit(c, Some(tenant), i64::from(limit)).await)
    }

    /// The newest `limit` system-wide audit records (those of no tenant, such as master-key
    /// rotations), newest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_system_audit(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        in_read!(self, m, c, _ctx => m::list_audit(c, None, i64::from(limit)).await)
    }

    // ------------------------------------------------------------------ queue

    /// Enqueue one job in its own transaction.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad job; [`Error::Database`].
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued> {
        let mut tx = self.begin().await?;
        let e = tx.enqueue(job).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Enqueue many jobs in one transaction (multi-row inserts); results in input order.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad job; [`Error::Database`].
    pub async fn enqueue_many(&self, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
        let mut tx = self.begin().await?;
        let e = tx.enqueue_many(jobs).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// Lease up to `req.max_jobs` due jobs, respecting group caps; highest priority first.
    ///
    /// # Errors
    /// [`Error::Database`] (retryable ones when the database is busy).
    pub async fn lease(&self, req: &LeaseRequest) -> Result<Vec<Job>> {
        // A read first: when nothing is ready, answer so without a write transaction. A wake-up
        // reaches every waiting worker and most find nothing; on SQLite each write transaction
        // (`BEGIN IMMEDIATE`) would queue behind the others and the producers for the lock.
        if !in_read!(self, m, c, ctx => m::any_ready(c, ctx).await)? {
            return Ok(Vec::new());
        }
        in_tx!(self, m, c, ctx => m::lease(c, ctx, req).await)
    }

    /// Extend a lease to `extend` from now.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] when the lease is no longer held.
    pub async fn heartbeat(&self, lease: &Lease, extend: Duration) -> Result<Lease> {
        in_tx!(self, m, c, ctx => m::heartbeat(c, ctx, lease, extend).await)
    }

    /// Mark a leased job done.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] when the lease is no longer held.
    pub async fn complete(&self, lease: &Lease) -> Result<()> {
        in_tx!(self, m, c, ctx => m::complete(c, ctx, lease).await)
    }

    /// Complete many leased jobs in one transaction (one commit for a whole batch); returns the
    /// ids whose lease was no longer held (those are left alone).
    ///
    /// # Errors
    /// [`Error::Database`]; then nothing was completed.
    pub async fn complete_many(&self, leases: &[Lease]) -> Result<Vec<JobId>> {
        in_tx!(self, m, c, ctx => {
            let mut lost = Vec::new();
            for lease in leases {
                match m::complete(&mut *c, ctx, lease).await {
                    Ok(()) => {}
                    Err(Error::LeaseLost { job_id }) => lost.push(job_id),
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, Error>(lost)
        })
    }

    /// Record a failed attempt: retry after the backoff, or dead-letter after the last attempt.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] when the lease is no longer held.
    pub async fn fail(&self, lease: &Lease, reason: &str) -> Result<FailResult> {
        in_tx!(self, m, c, ctx => m::fail(c, ctx, lease, reason, None, false).await)
    }

    /// Put a leased job back to run at `until` without spending an attempt (API-limit pauses).
    ///
    /// # Errors
    /// [`Error::LeaseLost`] when the lease is no longer held.
    pub async fn defer(&self, lease: &Lease, until: chrono::DateTime<chrono::Utc>) -> Result<()> {
        let out = in_tx!(self, m, c, ctx => m::defer(c, ctx, lease, until).await);
        self.wake();
        out
    }

    /// Apply a handler's outcome to its lease.
    ///
    /// # Errors
    /// [`Error::LeaseLost`] when the lease is no longer held.
    pub async fn finish(&self, lease: &Lease, outcome: &JobOutcome) -> Result<Option<FailResult>> {
        match outcome {
            JobOutcome::Done => self.complete(lease).await.map(|()| None),
            JobOutcome::Fail { reason } => self.fail(lease, reason).await.map(Some),
            JobOutcome::RetryAt { at, reason } => {
                in_tx!(self, m, c, ctx => m::fail(c, ctx, lease, reason, Some(*at), false).await).map(Some)
            }
            JobOutcome::DeadLetter { reason } => {
                in_tx!(self, m, c, ctx => m::fail(c, ctx, lease, reason, None, true).await).map(Some)
            }
            JobOutcome::Defer { until } => self.defer(lease, *until).await.map(|()| None),
        }
    }

    /// Cancel a ready or running job (a running job's holder then loses its lease).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] when the job already finished.
    pub async fn cancel(&self, id: JobId) -> Result<()> {
        in_tx!(self, m, c, ctx => m::cancel(c, ctx, id).await)
    }

    /// Put a dead job back in the queue with a fresh attempt budget.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] when it is not dead or its dedupe key is taken.
    pub async fn replay_dead(&self, id: JobId) -> Result<()> {
        in_tx!(self, m, c, ctx => m::replay_dead(c, ctx, id).await)?;
        self.wake();
        Ok(())
    }

    /// Jobs in `state`, oldest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_jobs(&self, state: JobState, limit: u32) -> Result<Vec<JobInfo>> {
        in_read!(self, m, c, _ctx => m::list_jobs(c, state, i64::from(limit)).await)
    }

    /// One job.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn job_info(&self, id: JobId) -> Result<JobInfo> {
        in_read!(self, m, c, _ctx => m::job_info(c, id).await)
    }

    /// Return jobs whose lease ran out to the queue (or dead-letter them when out of attempts);
    /// returns how many.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn reap_expired(&self) -> Result<u64> {
        let n = in_tx!(self, m, c, ctx => m::reap_expired(c, ctx).await)?;
        if n > 0 {
            self.wake();
        }
        Ok(n)
    }

    /// Whether any job (of `kind`, if given) is still ready or running — e.g. to drain before
    /// shutting down.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn has_unfinished_jobs(&self, kind: Option<&str>) -> Result<bool> {
        in_read!(self, m, c, _ctx => m::has_unfinished(c, kind).await)
    }

    /// Set the running-job cap of a concurrency group.
    ///
    /// # Errors
    /// [`Error::Invalid`] for 0.
    pub async fn set_group_limit(&self, group: &str, max_running: u32) -> Result<()> {
        in_tx!(self, m, c, _ctx => m::set_group_limit(c, group, max_running).await)
    }

    /// Queue depth per kind and state, the oldest due job, dead letters.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn queue_stats(&self) -> Result<QueueStats> {
        in_read!(self, m, c, ctx => m::queue_stats(c, ctx).await)
    }

    /// Delete what the retention policy no longer keeps, in batches of 5,000 rows per transaction.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn purge(&self, retention: &Retention) -> Result<PurgeReport> {
        const BATCH: i64 = 5000;
        let now = self.inner.ctx.clock.now();
        let mut report = PurgeReport::default();
        let rules = [
            (PurgeTarget::FinishedJobs, retention.finished_jobs),
            (PurgeTarget::DeadJobs, retention.dead_jobs),
            (PurgeTarget::Events, retention.events),
            (PurgeTarget::Journal, retention.journal),
            (PurgeTarget::Audit, retention.audit),
        ];
        for (target, keep) in rules {
            let Some(keep) = keep else { continue };
            let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
            let cutoff = now
                .checked_sub_signed(keep)
                .map(clock::to_millis)
                .unwrap_or(i64::MIN);
            loop {
                let n: u64 = in_tx!(self, m, c, _ctx => m::purge_batch(c, target, cutoff, BATCH).await)?;
                match target {
                    PurgeTarget::FinishedJobs | PurgeTarget::DeadJobs => report.jobs += n,
                    PurgeTarget::Events => report.events += n,
                    PurgeTarget::Journal => report.journal += n,
                    PurgeTarget::Audit => report.audit += n,
                }
                if n < BATCH.unsigned_abs() {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// A receiver of "jobs may be ready" signals, for [`Store::wait_for_jobs`].
    pub fn job_signal(&self) -> JobSignal {
        self.ensure_listener();
        JobSignal {
            rx: self.inner.signal.subscribe(),
        }
    }

    /// Wait until a job may be ready: a signal since `signal` last woke, the earliest scheduled
    /// run-at, or `max_wait`, whichever comes first. Signals are in-process on SQLite and
    /// LISTEN/NOTIFY on PostgreSQL (so another node's enqueue wakes this one at once).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn wait_for_jobs(&self, signal: &mut JobSignal, max_wait: Duration) -> Result<()> {
        if signal.rx.has_changed().unwrap_or(false) {
            signal.rx.borrow_and_update();
            return Ok(());
        }
        let next = in_read!(self, m, c, _ctx => m::next_ready_at(c).await)?;
        let now = clock::to_millis(self.inner.ctx.clock.now());
        let wait = match next {
            Some(t) if t <= now => return Ok(()),
            Some(t) => max_wait.min(Duration::from_millis(u64::try_from(t - now).unwrap_or(0))),
            None => max_wait,
        };
        tokio::select! {
            _ = signal.rx.changed() => { signal.rx.borrow_and_update(); }
            () = tokio::time::sleep(wait) => {}
        }
        Ok(())
    }

    /// On PostgreSQL, start (once) the task that turns notifications into signals.
    fn ensure_listener(&self) {
        let Db::Postgres(pool) = &self.inner.db else {
            return;
        };
        // Outside a runtime there is nothing to spawn on; waiters then poll.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut slot = self.inner.listener.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return;
        }
        let pool = pool.clone();
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        *slot = Some(runtime.spawn(async move {
            loop {
                if let Ok(mut listener) = sqlx::postgres::PgListener::connect_with(&pool).await
                    && listener.listen(postgres::CHANNEL).await.is_ok()
                {
                    // A (re)connect may have missed notifications: wake everyone once.
                    if let Some(inner) = weak.upgrade() {
                        inner.signal.send_modify(|v| *v = v.wrapping_add(1));
                    }
                    while listener.recv().await.is_ok() {
                        let Some(inner) = weak.upgrade() else { return };
                        inner.signal.send_modify(|v| *v = v.wrapping_add(1));
                    }
                }
                if weak.strong_count() == 0 {
                    return;
                }
                tracing::warn!("job notification listener lost its connection; reconnecting in 1s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }));
    }
}

/// See [`Store::job_signal`].
#[derive(Debug)]
pub struct JobSignal {
    rx: watch::Receiver<u64>,
}

impl Tx {
    /// Commit; wakes local workers when jobs were enqueued.
    ///
    /// # Errors
    /// [`Error::Database`]; on failure nothing was written.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        if self.wake {
            self.store.wake();
        }
        Ok(())
    }

    /// Roll back everything done in this transaction.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// The underlying SQLite connection, for SQL of the caller's own in this transaction.
    pub fn sqlite(&mut self) -> Option<&mut sqlx::SqliteConnection> {
        match &mut self.inner {
            TxInner::Sqlite(t) => Some(&mut *t),
            TxInner::Postgres(_) => None,
        }
    }

    /// The underlying PostgreSQL connection, for SQL of the caller's own in this transaction.
    pub fn postgres(&mut self) -> Option<&mut sqlx::PgConnection> {
        match &mut self.inner {
            TxInner::Postgres(t) => Some(&mut *t),
            TxInner::Sqlite(_) => None,
        }
    }

    /// Accept an event within this transaction (see [`Store::accept_event`]).
    ///
    /// # Errors
    /// [`Error::Invalid`]; [`Error::Database`].
    pub async fn accept_event(
        &mut self,
        tenant: &TenantId,
        idempotency_key: &str,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<Accepted> {
        on_tx!(self, m, c, ctx => m::accept_event(c, ctx, tenant, idempotency_key, event_type, payload).await)
    }

    /// Enqueue a job within this transaction: it exists only if the transaction commits.
    ///
    /// # Errors
    /// [`Error::Invalid`]; [`Error::Database`].
    pub async fn enqueue(&mut self, job: &NewJob) -> Result<Enqueued> {
        let e = on_tx!(self, m, c, ctx => m::enqueue(c, ctx, job).await)?;
        self.wake = true;
        Ok(e)
    }

    /// Enqueue many jobs within this transaction.
    ///
    /// # Errors
    /// [`Error::Invalid`]; [`Error::Database`].
    pub async fn enqueue_many(&mut self, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
        let e = on_tx!(self, m, c, ctx => m::enqueue_many(c, ctx, jobs).await)?;
        self.wake = true;
        Ok(e)
    }

    /// Complete a leased job within this transaction (e.g. together with writing its results).
    ///
    /// # Errors
    /// [`Error::LeaseLost`].
    pub async fn complete(&mut self, lease: &Lease) -> Result<()> {
        on_tx!(self, m, c, ctx => m::complete(c, ctx, lease).await)
    }

    /// Read a sync cursor within this transaction.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn get_cursor(
        &mut self,
        tenant: &TenantId,
        connection: &ConnectionId,
        sync: &str,
    ) -> Result<Option<String>> {
        on_tx!(self, m, c, _ctx => m::get_cursor(c, tenant, connection, sync).await)
    }

    /// Advance a sync cursor within this transaction (with the deliveries it makes durable).
    ///
    /// # Errors
    /// [`Error::NotFound`] for another tenant's connection.
    pub async fn set_cursor(
        &mut self,
        tenant: &TenantId,
        connection: &ConnectionId,
        sync: &str,
        cursor: &str,
    ) -> Result<()> {
        on_tx!(self, m, c, ctx => m::set_cursor(c, ctx, tenant, connection, sync, cursor).await)
    }

    /// Record a Salesforce write in the journal; returns its sequence number.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn record_journal(&mut self, entry: &NewJournalEntry) -> Result<i64> {
        on_tx!(self, m, c, ctx => m::record_journal(c, ctx, entry).await)
    }

    /// Append to the audit log within this transaction.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn record_audit(
        &mut self,
        tenant: Option<&TenantId>,
        actor: &str,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        on_tx!(self, m, c, ctx => m::record_audit(c, ctx, tenant, actor, action, target, detail).await)
    }

    /// Set a connection's status within this transaction.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn set_connection_status(
        &mut self,
        tenant: &TenantId,
        id: &ConnectionId,
        status: ConnectionStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        on_tx!(self, m, c, ctx => m::set_connection_status(c, ctx, tenant, id, status, reason).await)
    }

    /// Replace a connection's credentials within this transaction.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Crypto`].
    pub async fn update_credentials(
        &mut self,
        tenant: &TenantId,
        id: &ConnectionId,
        creds: &Credentials,
    ) -> Result<()> {
        on_tx!(self, m, c, ctx => m::update_credentials(c, ctx, tenant, id, creds).await)
    }
}

mod deliveries_api;
mod stats;
pub use stats::{Stats, Totals};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password_in_debug() {
        let cases = [
            (
                "postgres://fb:pa:ss@db:5432/x?sslmode=require",
                "postgres://fb:***@db:5432/x?sslmode=require",
            ),
            ("postgres://fb@db/x", "postgres://fb@db/x"),
            ("postgres://db/x?user=a@b", "postgres://db/x?user=a@b"),
            ("sqlite://data/forcebridge.db", "sqlite://data/forcebridge.db"),
            ("not a url", "not a url"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want);
        }
        let o = StoreOptions::new("postgres://fb:hunter2@db/x");
        let printed = format!("{o:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("postgres://fb:***@db/x"), "{printed}");
    }
}
