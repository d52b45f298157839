//! The control plane's tables (migration `0003_control.sql`): API key scopes, the vendor admin
//! keys, end-user sessions, OAuth authorizations in flight, the notification outbox, webhook
//! endpoints and their deliveries with an attempt log.
//!
//! Secrets are never stored in the clear: admin keys and session tokens as SHA-256 hashes (they
//! are 256-bit random values, so a fast hash is enough), PKCE verifiers and webhook signing
//! secrets sealed by the vault, bound to their row.
//!
//! Invariant: every method on tenant data takes the tenant and filters by it; a notification and
//! the deliveries it fans out to are written in one transaction, so an event the engine raised
//! is either durable with all its deliveries or not recorded at all.

mod runs_sql;
mod sql;

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::model::{ApiKey, ApiKeyId, ConnectionId, Role, TenantId, User, UserId};
use crate::{Store, TxInner};

mod sqlite_sql {
    use sqlx::{Sqlite, SqliteConnection};
    type Db = Sqlite;
    type Conn = SqliteConnection;
    const SKIP_LOCKED: &str = "";
    const FOR_UPDATE: &str = "";
    super::sql::define_control_sql!();
    super::runs_sql::define_runs_sql!();
}

mod postgres_sql {
    use sqlx::{PgConnection, Postgres};
    type Db = Postgres;
    type Conn = PgConnection;
    const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
    const FOR_UPDATE: &str = " FOR UPDATE";
    super::sql::define_control_sql!();
    super::runs_sql::define_runs_sql!();
}

/// Run `$body` with `$m` bound to the backend's control SQL module and `$c` to the connection.
macro_rules! ctl {
    ($tx:expr, $m:ident, $c:ident, $ctx:ident => $body:expr) => {{
        let $ctx = &$tx.store.inner.ctx;
        match &mut $tx.inner {
            TxInner::Sqlite(t) => {
                use $crate::control::sqlite_sql as $m;
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            TxInner::Postgres(t) => {
                use $crate::control::postgres_sql as $m;
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    }};
}

macro_rules! ctl_write {
    ($store:expr, $m:ident, $c:ident, $ctx:ident => $body:expr) => {{
        let mut tx = $store.begin().await?;
        let out = ctl!(tx, $m, $c, $ctx => $body)?;
        tx.commit().await?;
        Ok::<_, Error>(out)
    }};
}

macro_rules! ctl_read {
    ($store:expr, $m:ident, $c:ident, $ctx:ident => $body:expr) => {{
        let mut tx = $store.begin_read().await?;
        let out = ctl!(tx, $m, $c, $ctx => $body)?;
        tx.commit().await?;
        Ok::<_, Error>(out)
    }};
}

mod runs;
pub use runs::{NewRun, Run, RunEnd, RunError, RunFilter, RunProgress, RunState};

/// A started web-server flow as written to `oauth_pending`.
pub(crate) struct PendingRow<'a> {
    pub(crate) state_hash: &'a str,
    pub(crate) tenant: &'a TenantId,
    pub(crate) session_id: &'a str,
    pub(crate) request: &'a serde_json::Value,
    pub(crate) verifier: &'a SecretString,
    pub(crate) ttl_ms: i64,
}

pub(crate) fn oauth_aad(state_hash: &str) -> Vec<u8> {
    format!("forcebridge:oauth:v1|{state_hash}").into_bytes()
}

pub(crate) fn webhook_aad(tenant: &str, endpoint: &str) -> Vec<u8> {
    format!("forcebridge:webhook:v1|{tenant}|{endpoint}").into_bytes()
}

/// SHA-256 of a high-entropy secret, hex: how admin keys, session tokens and OAuth `state`s are
/// looked up without being stored.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_b64(bytes: usize) -> String {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    rand::rng().fill_bytes(buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf.as_slice())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What a tenant API key may do. A key holds one or more scopes; `all` allows everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything below.
    All,
    /// Post events.
    Events,
    /// Manage connections.
    Connections,
    /// Mint end-user sessions and manage users.
    Sessions,
    /// Install and configure recipes.
    Installs,
    /// Manage webhook endpoints and read deliveries.
    Webhooks,
    /// Read and act on runs, jobs, the journal and the budget.
    Operations,
}

impl Scope {
    /// Every scope, for documentation and validation messages.
    pub const ALL: [Scope; 7] = [
        Scope::All,
        Scope::Events,
        Scope::Connections,
        Scope::Sessions,
        Scope::Installs,
        Scope::Webhooks,
        Scope::Operations,
    ];

    /// The stored (and wire) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Events => "events",
            Scope::Connections => "connections",
            Scope::Sessions => "sessions",
            Scope::Installs => "installs",
            Scope::Webhooks => "webhooks",
            Scope::Operations => "operations",
        }
    }

    /// Parse a scope name.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the accepted values.
    pub fn parse(s: &str) -> Result<Self> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown scope {s:?}; expected one of: all, events, connections, sessions, installs, webhooks, operations"
                ))
            })
    }
}

/// An end-user session: what the vendor's backend minted for one of its users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// Its id (not the token).
    pub id: String,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The user it acts as.
    pub user_id: UserId,
    /// The user's email.
    pub email: String,
    /// The role it was minted with.
    pub role: Role,
    /// When it was minted.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The integration (recipe name) the user is connecting for, when the vendor minted the
    /// session for one: connections it creates follow that recipe's connection policy.
    pub recipe: Option<String>,
}

/// A web-server OAuth flow waiting for its callback.
#[derive(Debug)]
pub struct OAuthPending {
    /// The tenant that started it.
    pub tenant_id: TenantId,
    /// The session that started it (the callback requires it to be still live).
    pub session_id: String,
    /// What the engine needs to finish (environment, label, owner), as it wrote it.
    pub request: serde_json::Value,
    /// The PKCE verifier.
    pub code_verifier: SecretString,
}

/// A notification in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Sequence number (per store; increasing).
    pub id: i64,
    /// The tenant.
    pub tenant_id: TenantId,
    /// `connection.token_expired`, `install.failed`, …
    pub kind: String,
    /// The connection concerned, if any (deliveries are ordered per connection).
    pub connection_id: Option<ConnectionId>,
    /// Details.
    pub data: serde_json::Value,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
}

/// A tenant's webhook endpoint (its signing secret is sealed and read only by the deliverer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: String,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The notification kinds it receives (`*` for all).
    pub kinds: Vec<String>,
    /// Whether new notifications are delivered to it.
    pub enabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDeliveryState {
    /// Not yet delivered; retried until its give-up time.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after the retry window (redeliver to try again).
    Failed,
}

impl WebhookDeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookDeliveryState::Pending => "pending",
            WebhookDeliveryState::Delivered => "delivered",
            WebhookDeliveryState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(WebhookDeliveryState::Pending),
            "delivered" => Ok(WebhookDeliveryState::Delivered),
            "failed" => Ok(WebhookDeliveryState::Failed),
            other => Err(Error::corrupt("webhook_deliveries", format!("state {other:?}"))),
        }
    }
}

/// One notification's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookDelivery {
    /// Its id.
    pub id: i64,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The endpoint.
    pub endpoint_id: String,
    /// The notification.
    pub notification_id: i64,
    /// The notification's kind.
    pub kind: String,
    /// The connection it concerns, if any.
    pub connection_id: Option<ConnectionId>,
    /// Where it stands.
    pub state: WebhookDeliveryState,
    /// Attempts so far.
    pub attempts: u32,
    /// When it is next tried (while pending).
    pub next_attempt_at: DateTime<Utc>,
    /// After this it is not retried any more.
    pub give_up_at: DateTime<Utc>,
    /// The receiver's last HTTP status.
    pub last_status: Option<u16>,
    /// The last failure in words.
    pub last_error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was delivered or given up.
    pub finished_at: Option<DateTime<Utc>>,
}

/// One attempt of a delivery (the delivery log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    /// When.
    pub at: DateTime<Utc>,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// A delivery leased for sending, with what is needed to send it.
#[derive(Debug)]
pub struct DueWebhook {
    /// The delivery.
    pub delivery: WebhookDelivery,
    /// The notification it carries.
    pub notification: Notification,
    /// The endpoint URL.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: SecretString,
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// Its status, if it answered.
    pub status: Option<u16>,
    /// What went wrong, in words (never secrets).
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
    /// When to try again (ignored when delivered; past the give-up time it fails).
    pub retry_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Re-seal the control plane's sealed values (webhook secrets, OAuth verifiers) under the
    /// current master key, `batch` rows per transaction; returns how many. Called by
    /// [`Store::rotate_vault`] before the connections, so no old key's canary is dropped while a
    /// value still needs it.
    ///
    /// # Errors
    /// [`Error::Crypto`] when a value does not open with any configured key.
    pub async fn rotate_control_secrets(&self, batch: u32) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = ctl_write!(self, m, c, ctx => m::rotate_control_batch(c, ctx, i64::from(batch.max(1))).await)?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    // ---------------------------------------------------------------- API key scopes

    /// Create an API key limited to `scopes`; the secret is returned once (see
    /// [`Store::create_api_key`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] for no scopes, [`Error::NotFound`] for an unknown tenant.
    pub async fn create_scoped_api_key(
        &self,
        tenant: &TenantId,
        label: &str,
        scopes: &[Scope],
        actor: &str,
    ) -> Result<(ApiKey, SecretString)> {
        if scopes.is_empty() {
            return Err(Error::Invalid("scopes must name at least one scope".into()));
        }
        let label = label.trim();
        if label.is_empty() || label.len() > 200 {
            return Err(Error::Invalid("label must be 1 to 200 characters".into()));
        }
        let (key, secret) = self.create_api_key(tenant, label, actor).await?;
        // Nobody holds the secret until this returns, so the key's default scope (`all`) between
        // the two transactions is never usable; on failure the key is revoked and its secret dropped.
        let text = serde_json::to_string(scopes).map_err(|e| Error::Invalid(format!("scopes: {e}")))?;
        let set = ctl_write!(self, m, c, _ctx => m::set_api_key_scopes(c, tenant, &key.id, &text).await);
        if let Err(e) = set {
            let _ = self.revoke_api_key(tenant, &key.id, actor).await;
            return Err(e);
        }
        Ok((key, secret))
    }

    /// The scopes of a tenant's API key.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn api_key_scopes(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<Vec<Scope>> {
        let text = ctl_read!(self, m, c, _ctx => m::api_key_scopes(c, tenant, id).await)?;
        serde_json::from_str(&text).map_err(|e| Error::corrupt("api_keys", format!("scopes: {e}")))
    }

    // ---------------------------------------------------------------- vendor admin keys

    /// Create the first vendor admin key when there is none yet; returns it (shown once) or
    /// `None` when one already exists. Safe to call from several nodes at once on PostgreSQL
    /// only in the sense that each may create one; call it from one process at first start.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn bootstrap_admin_key(&self) -> Result<Option<SecretString>> {
        let mut tx = self.begin().await?;
        let n = ctl!(tx, m, c, _ctx => m::count_admin_keys(c).await)?;
        if n > 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let key = self.insert_admin_key_in(&mut tx, "first start").await?;
        tx.commit().await?;
        Ok(Some(key))
    }

    /// Create another vendor admin key (shown once).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn create_admin_key(&self, label: &str) -> Result<SecretString> {
        let mut tx = self.begin().await?;
        let key = self.insert_admin_key_in(&mut tx, label).await?;
        tx.commit().await?;
        Ok(key)
    }

    async fn insert_admin_key_in(&self, tx: &mut crate::Tx, label: &str) -> Result<SecretString> {
        let mut raw = [0u8; 6];
        rand::rng().fill_bytes(&mut raw);
        let prefix = hex::encode(raw);
        let full = SecretString::from(format!("fba_{prefix}_{}", random_b64(32)));
        let hash = secret_hash(full.expose_secret());
        let id = uuid::Uuid::now_v7().to_string();
        ctl!(tx, m, c, ctx => m::insert_admin_key(c, ctx, &id, &prefix, &hash, label).await)?;
        Ok(full)
    }

    /// Whether `presented` is a live vendor admin key.
    ///
    /// # Errors
    /// [`Error::Database`] only.
    pub async fn authenticate_admin_key(&self, presented: &SecretString) -> Result<bool> {
        let text = presented.expose_secret();
        let mut parts = text.splitn(3, '_');
        let (Some("fba"), Some(prefix), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return Ok(false);
        };
        if prefix.len() != 12 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let prefix = prefix.to_owned();
        let found = ctl_read!(self, m, c, _ctx => m::admin_key_hash(c, &prefix).await)?;
        Ok(found.is_some_and(|(_, hash)| constant_time_eq(hash.as_bytes(), secret_hash(text).as_bytes())))
    }

    // ---------------------------------------------------------------- users and sessions

    /// The tenant's user with `email`, created (or given `role`) as needed.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed email, [`Error::NotFound`] for an unknown tenant.
    pub async fn upsert_user(&self, tenant: &TenantId, email: &str, role: Role, actor: &str) -> Result<User> {
        let email = email.trim();
        let found = ctl_read!(self, m, c, _ctx => m::user_by_email(c, tenant, email).await)?;
        match found {
            Some(id) => {
                ctl_write!(self, m, c, ctx => m::set_user_role(c, ctx, tenant, &id, role).await)?;
                self.get_user(tenant, &id).await
            }
            None => match self.create_user(tenant, email, role, actor).await {
                // Another request created it meanwhile.
                Err(Error::Conflict(_)) => {
                    let id = ctl_read!(self, m, c, _ctx => m::user_by_email(c, tenant, email).await)?
                        .ok_or_else(|| Error::not_found("user", email))?;
                    self.get_user(tenant, &id).await
                }
                other => other,
            },
        }
    }

    /// Mint a session for a tenant's user; the token is returned once (only its hash is stored).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown user.
    pub async fn create_session(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        ttl: Duration,
    ) -> Result<(Session, SecretString)> {
        self.create_session_for(tenant, user, role, ttl, None).await
    }

    /// Mint a session that carries a default `recipe` (the integration its user connects for);
    /// see [`Store::create_session`].
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown user; [`Error::Invalid`] for an overlong recipe name.
    pub async fn create_session_for(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
        ttl: Duration,
        recipe: Option<&str>,
    ) -> Result<(Session, SecretString)> {
        if recipe.is_some_and(|r| r.is_empty() || r.len() > 200) {
            return Err(Error::Invalid("recipe must be 1 to 200 characters".into()));
        }
        let u = self.get_user(tenant, user).await?;
        let now = self.clock().now();
        let token = SecretString::from(format!("fbs_{}", random_b64(32)));
        let s = Session {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.clone(),
            user_id: u.id,
            email: u.email,
            role,
            created_at: now,
            expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1)),
            recipe: recipe.map(str::to_owned),
        };
        let hash = secret_hash(token.expose_secret());
        ctl_write!(self, m, c, _ctx => m::insert_session(c, &s, &hash).await)?;
        Ok((s, token))
    }

    /// The live session `token` opens, if any.
    ///
    /// # Errors
    /// [`Error::Database`] only.
    pub async fn authenticate_session(&self, token: &SecretString) -> Result<Option<Session>> {
        if !token.expose_secret().starts_with("fbs_") {
            return Ok(None);
        }
        let hash = secret_hash(token.expose_secret());
        ctl_read!(self, m, c, ctx => m::live_session_by_hash(c, ctx, &hash).await)
    }

    /// A tenant's session by id, if it is still live.
    ///
    /// # Errors
    /// [`Error::Database`] only.
    pub async fn live_session(&self, tenant: &TenantId, id: &str) -> Result<Option<Session>> {
        ctl_read!(self, m, c, ctx => m::live_session_by_id(c, ctx, tenant, id).await)
    }

    /// End a session now.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn revoke_session(&self, tenant: &TenantId, id: &str) -> Result<()> {
        ctl_write!(self, m, c, ctx => m::revoke_session(c, ctx, tenant, id).await)
    }

    // ---------------------------------------------------------------- OAuth in flight

    /// Remember a started web-server flow until its callback: `state` (stored hashed), the PKCE
    /// verifier (sealed) and the engine's `request`.
    ///
    /// # Errors
    /// [`Error::Crypto`] without a vault.
    pub async fn begin_oauth(
        &self,
        tenant: &TenantId,
        session_id: &str,
        state: &str,
        verifier: &SecretString,
        request: &serde_json::Value,
        ttl: Duration,
    ) -> Result<()> {
        let hash = secret_hash(state);
        let row = PendingRow {
            state_hash: &hash,
            tenant,
            session_id,
            request,
            verifier,
            ttl_ms: ms(ttl),
        };
        ctl_write!(self, m, c, ctx => m::insert_oauth_pending(c, ctx, &row).await)
    }

    /// Take (once) the flow started with `state`; `None` when unknown, used or expired.
    ///
    /// # Errors
    /// [`Error::Crypto`] when the verifier does not open.
    pub async fn take_oauth(&self, state: &str) -> Result<Option<OAuthPending>> {
        let hash = secret_hash(state);
        ctl_write!(self, m, c, ctx => m::take_oauth_pending(c, ctx, &hash).await)
    }

    // ---------------------------------------------------------------- connections

    /// Change a connection's label.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty or overlong label, [`Error::NotFound`].
    pub async fn rename_connection(
        &self,
        tenant: &TenantId,
        id: &ConnectionId,
        label: &str,
        actor: &str,
    ) -> Result<()> {
        let label = label.trim();
        if label.is_empty() || label.len() > 200 {
            return Err(Error::Invalid("label must be 1 to 200 characters".into()));
        }
        let mut tx = self.begin().await?;
        ctl!(tx, m, c, ctx => m::rename_connection(c, ctx, tenant, id, label).await)?;
        tx.record_audit(
            Some(tenant),
            actor,
            "connection.rename",
            id.as_str(),
            &serde_json::json!({ "label": label }),
        )
        .await?;
        tx.commit().await
    }

    /// Create a personal connection under a per-owner limit of personal connections (an
    /// integration's own `per_owner_limit`), checked and written in one transaction so that
    /// concurrent creations cannot pass it; the store's own ceiling on all of an owner's
    /// connections ([`crate::StoreOptions::connections_per_owner`]) still applies beneath it.
    ///
    /// # Errors
    /// [`Error::ConnectionLimit`] at the limit; as [`Store::create_connection`] otherwise.
    pub async fn create_personal_connection_within(
        &self,
        tenant: &TenantId,
        new: &crate::model::NewConnection,
        limit: u32,
        actor: &str,
    ) -> Result<crate::model::Connection> {
        let crate::model::Owner::Personal { user_id } = &new.owner else {
            return Err(Error::Invalid(
                "owner: only personal connections have a per-owner limit".into(),
            ));
        };
        let mut tx = self.begin().await?;
        // Locks the owner's row first (PostgreSQL), so the count cannot be raced past the limit.
        let count = ctl!(tx, m, c, ctx => m::count_personal_connections(c, ctx, tenant, user_id).await)?;
        if count >= i64::from(limit) {
            return Err(Error::ConnectionLimit {
                owner: user_id.to_string(),
                limit,
            });
        }
        let ctx = &self.inner.ctx;
        let conn = match &mut tx.inner {
            TxInner::Sqlite(t) => crate::sqlite::create_connection(&mut *t, ctx, tenant, new).await,
            TxInner::Postgres(t) => crate::postgres::create_connection(&mut *t, ctx, tenant, new).await,
        }?;
        tx.record_audit(
            Some(tenant),
            actor,
            "connection.create",
            conn.id.as_str(),
            &serde_json::json!({ "label": conn.label, "auth_method": conn.auth_method, "owner": conn.owner, "limit": limit }),
        )
        .await?;
        tx.commit().await?;
        Ok(conn)
    }

    /// Record the org a connection reached (learnt at its first sign-in).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn set_connection_org(&self, tenant: &TenantId, id: &ConnectionId, org_id: &str) -> Result<()> {
        ctl_write!(self, m, c, ctx => m::set_connection_org(c, ctx, tenant, id, org_id).await)
    }

    // ---------------------------------------------------------------- notifications

    /// Write a notification to the outbox with one delivery per enabled endpoint of the tenant
    /// that takes its kind, retried until `retry_for` has passed; returns its id and how many
    /// deliveries it fanned out to.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn record_notification(
        &self,
        tenant: &TenantId,
        kind: &str,
        connection: Option<&ConnectionId>,
        data: &serde_json::Value,
        retry_for: Duration,
    ) -> Result<(i64, u32)> {
        ctl_write!(self, m, c, ctx => m::insert_notification(c, ctx, tenant, kind, connection, data, ms(retry_for)).await)
    }

    /// A tenant's notifications after `after`, oldest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_notifications(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        ctl_read!(self, m, c, _ctx => m::list_notifications(c, tenant, after, i64::from(limit)).await)
    }

    // ---------------------------------------------------------------- webhook endpoints

    /// Add a webhook endpoint; returns it with its signing secret (shown once).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a URL that is not http(s) or an empty kinds list; [`Error::Crypto`]
    /// without a vault.
    pub async fn create_webhook_endpoint(
        &self,
        tenant: &TenantId,
        url: &str,
        kinds: &[String],
    ) -> Result<(WebhookEndpoint, SecretString)> {
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
            return Err(Error::Invalid(format!("url {url:?} must be an http(s) URL")));
        }
        if kinds.is_empty() {
            return Err(Error::Invalid(
                "kinds must name at least one notification kind, or \"*\"".into(),
            ));
        }
        self.get_tenant(tenant).await?;
        let e = WebhookEndpoint {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.clone(),
            url: url.to_owned(),
            kinds: kinds.to_vec(),
            enabled: true,
            created_at: self.clock().now(),
        };
        let secret = SecretString::from(format!("whsec_{}", random_b64(32)));
        ctl_write!(self, m, c, ctx => m::insert_webhook_endpoint(c, ctx, &e, &secret).await)?;
        Ok((e, secret))
    }

    /// A tenant's webhook endpoints.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_webhook_endpoints(&self, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>> {
        ctl_read!(self, m, c, _ctx => m::list_webhook_endpoints(c, tenant).await)
    }

    /// One of a tenant's webhook endpoints.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn get_webhook_endpoint(&self, tenant: &TenantId, id: &str) -> Result<WebhookEndpoint> {
        ctl_read!(self, m, c, _ctx => m::get_webhook_endpoint(c, tenant, id).await)
    }

    /// Remove a webhook endpoint with its deliveries.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn delete_webhook_endpoint(&self, tenant: &TenantId, id: &str) -> Result<()> {
        ctl_write!(self, m, c, _ctx => m::delete_webhook_endpoint(c, tenant, id).await)
    }

    // ---------------------------------------------------------------- webhook deliveries

    /// Lease up to `limit` due deliveries for `lease_for` (the heads of their per-connection
    /// lines only, so deliveries of one connection go out in order).
    ///
    /// # Errors
    /// [`Error::Crypto`] when an endpoint's secret does not open.
    pub async fn lease_webhook_deliveries(&self, limit: u32, lease_for: Duration) -> Result<Vec<DueWebhook>> {
        ctl_write!(self, m, c, ctx => m::lease_due_deliveries(c, ctx, i64::from(limit), ms(lease_for)).await)
    }

    /// Log an attempt and move the delivery on: delivered, pending until `retry_at`, or failed
    /// when past its give-up time.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn record_webhook_attempt(
        &self,
        id: i64,
        outcome: &AttemptOutcome,
    ) -> Result<WebhookDeliveryState> {
        ctl_write!(self, m, c, ctx => m::record_delivery_attempt(c, ctx, id, outcome).await)
    }

    /// A tenant's deliveries, newest first (optionally of one endpoint).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub async fn list_webhook_deliveries(
        &self,
        tenant: &TenantId,
        endpoint: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        ctl_read!(self, m, c, _ctx => m::list_deliveries(c, tenant, endpoint, i64::from(limit)).await)
    }

    /// One delivery of a tenant.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn get_webhook_delivery(&self, tenant: &TenantId, id: i64) -> Result<WebhookDelivery> {
        ctl_read!(self, m, c, _ctx => m::get_delivery(c, tenant, id).await)
    }

    /// The attempt log of a delivery.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn webhook_attempts(&self, tenant: &TenantId, id: i64) -> Result<Vec<DeliveryAttempt>> {
        ctl_read!(self, m, c, _ctx => m::delivery_attempts(c, tenant, id).await)
    }

    /// Send a delivery again (pending now, with a fresh retry window).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub async fn redeliver_webhook(&self, tenant: &TenantId, id: i64, retry_for: Duration) -> Result<()> {
        ctl_write!(self, m, c, ctx => m::redeliver(c, ctx, tenant, id, ms(retry_for)).await)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
