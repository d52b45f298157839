//! The store's SQL, written once and instantiated for each backend.
//!
//! `define_ops!()` expands inside `sqlite.rs` and `postgres.rs`, where `Conn` names the backend's
//! connection type and `SKIP_LOCKED`, `FOR_UPDATE` and `notify_jobs` supply the few differences
//! (row locks exist only on PostgreSQL; SQLite serialises writers with `BEGIN IMMEDIATE`). Both
//! backends accept `$N` placeholders, and the schemas use the same column names and types
//! (integers are 64-bit, times are unix milliseconds), so one SQL text serves both.
//!
//! Invariant: every query on tenant data names the tenant in its `WHERE` clause, so one tenant's
//! id can never reach another tenant's rows.

/// Column list of `jobs` read back as a [`crate::queue::Job`] or [`crate::queue::JobInfo`].
pub(crate) const JOB_COLS: &str = "id, tenant_id, kind, payload, priority, run_at, state, attempts, max_attempts, \
     dedupe_key, group_key, lease_token, lease_expires_at, last_error, created_at, finished_at";

/// Column list of `connections`.
pub(crate) const CONN_COLS: &str = "id, tenant_id, org_id, environment, my_domain_url, auth_method, owner_user_id, \
     shared, label, status, status_reason, status_at, created_at";

/// `$from, $from+1, ..., $from+n-1` as a placeholder list.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn to_u32(v: i64, table: &'static str, col: &str) -> crate::Result<u32> {
    u32::try_from(v).map_err(|_| crate::Error::corrupt(table, format!("{col} = {v}")))
}

pub(crate) fn parse_json(s: &str, table: &'static str) -> crate::Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| crate::Error::corrupt(table, format!("bad JSON: {e}")))
}

macro_rules! define_ops {
    () => {
        use sqlx::Row as _;

        use crate::clock::{from_millis, to_millis};
        use crate::error::{Error, Result};
        use crate::model::*;
        use crate::ops::{CONN_COLS, JOB_COLS, parse_json, placeholders, to_u32};
        use crate::queue::*;
        use crate::vault::{Credentials, credentials_aad};
        use crate::Ctx;

        type Row = <Db as sqlx::Database>::Row;

        fn now_ms(ctx: &Ctx) -> i64 {
            to_millis(ctx.clock.now())
        }

        // ---------------------------------------------------------------- tenants and users

        pub(crate) async fn create_tenant(c: &mut Conn, ctx: &Ctx, name: &str) -> Result<Tenant> {
            let name = name.trim();
            if name.is_empty() || name.len() > 200 {
                return Err(Error::Invalid("tenant name must be 1 to 200 characters".into()));
            }
            let t = Tenant { id: TenantId::new(), name: name.to_owned(), created_at: from_millis(now_ms(ctx)) };
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(t.id.as_str())
                .bind(&t.name)
                .bind(to_millis(t.created_at))
                .execute(&mut *c)
                .await?;
            Ok(t)
        }

        pub(crate) async fn get_tenant(c: &mut Conn, id: &TenantId) -> Result<Tenant> {
            let row = sqlx::query("SELECT id, name, created_at FROM tenants WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("tenant", id))?;
            Ok(Tenant {
                id: TenantId::parse(row.try_get("id")?)?,
                name: row.try_get("name")?,
                created_at: from_millis(row.try_get("created_at")?),
            })
        }

        pub(crate) async fn create_user(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            email: &str,
            role: Role,
        ) -> Result<User> {
            let email = email.trim();
            if email.is_empty() || !email.contains('@') || email.len() > 320 {
                return Err(Error::Invalid(format!("email {email:?} is not an email address")));
            }
            get_tenant(&mut *c, tenant).await?;
            let now = now_ms(ctx);
            let u = User {
                id: UserId::new(),
                tenant_id: tenant.clone(),
                email: email.to_owned(),
                role,
                created_at: from_millis(now),
            };
            let r = sqlx::query(
                "INSERT INTO users (id, tenant_id, email, role, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant_id, email) DO NOTHING",
            )
            .bind(u.id.as_str())
            .bind(tenant.as_str())
            .bind(&u.email)
            .bind(role.as_str())
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::Conflict(format!("a user with email {email} already exists in this tenant")));
            }
            Ok(u)
        }

        fn user_from_row(row: &Row) -> Result<User> {
            Ok(User {
                id: UserId::parse(row.try_get("id")?)?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                email: row.try_get("email")?,
                role: Role::parse(row.try_get("role")?)?,
                created_at: from_millis(row.try_get("created_at")?),
            })
        }

        pub(crate) async fn get_user(c: &mut Conn, tenant: &TenantId, id: &UserId) -> Result<User> {
            let row = sqlx::query(
                "SELECT id, tenant_id, email, role, created_at FROM users WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| Error::not_found("user", id))?;
            user_from_row(&row)
        }

        pub(crate) async fn list_users(c: &mut Conn, tenant: &TenantId) -> Result<Vec<User>> {
            let rows = sqlx::query(
                "SELECT id, tenant_id, email, role, created_at FROM users WHERE tenant_id = $1 ORDER BY email",
            )
            .bind(tenant.as_str())
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(user_from_row).collect()
        }

        // ---------------------------------------------------------------- API keys

        pub(crate) async fn insert_api_key(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            prefix: &str,
            hash: &str,
            label: &str,
        ) -> Result<ApiKey> {
            get_tenant(&mut *c, tenant).await?;
            let k = ApiKey {
                id: ApiKeyId::new(),
                tenant_id: tenant.clone(),
                prefix: prefix.to_owned(),
                label: label.to_owned(),
                created_at: from_millis(now_ms(ctx)),
                revoked_at: None,
            };
            sqlx::query(
                "INSERT INTO api_keys (id, tenant_id, prefix, hash, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(k.id.as_str())
            .bind(tenant.as_str())
            .bind(prefix)
            .bind(hash)
            .bind(label)
            .bind(to_millis(k.created_at))
            .execute(&mut *c)
            .await?;
            Ok(k)
        }

        fn api_key_from_row(row: &Row) -> Result<ApiKey> {
            Ok(ApiKey {
                id: ApiKeyId::parse(row.try_get("id")?)?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                prefix: row.try_get("prefix")?,
                label: row.try_get("label")?,
                created_at: from_millis(row.try_get("created_at")?),
                revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_millis),
            })
        }

        /// The live key with `prefix` and its hash, if any.
        pub(crate) async fn api_key_by_prefix(c: &mut Conn, prefix: &str) -> Result<Option<(ApiKey, String)>> {
            let row = sqlx::query(
                "SELECT id, tenant_id, prefix, hash, label, created_at, revoked_at FROM api_keys \
                 WHERE prefix = $1 AND revoked_at IS NULL",
            )
            .bind(prefix)
            .fetch_optional(&mut *c)
            .await?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some((api_key_from_row(&row)?, row.try_get("hash")?))),
            }
        }

        pub(crate) async fn list_api_keys(c: &mut Conn, tenant: &TenantId) -> Result<Vec<ApiKey>> {
            let rows = sqlx::query(
                "SELECT id, tenant_id, prefix, label, created_at, revoked_at FROM api_keys \
                 WHERE tenant_id = $1 ORDER BY created_at, id",
            )
            .bind(tenant.as_str())
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(api_key_from_row).collect()
        }

        pub(crate) async fn revoke_api_key(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &ApiKeyId) -> Result<()> {
            let r = sqlx::query(
                "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
            )
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(now_ms(ctx))
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                let exists = sqlx::query("SELECT 1 FROM api_keys WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_str())
                    .bind(id.as_str())
                    .fetch_optional(&mut *c)
                    .await?;
                if exists.is_none() {
                    return Err(Error::not_found("api key", id));
                }
            }
            Ok(())
        }

        // ---------------------------------------------------------------- connections

        pub(crate) async fn create_connection(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            new: &NewConnection,
        ) -> Result<Connection> {
            new.environment.validate()?;
            let label = new.label.trim();
            if label.is_empty() || label.len() > 200 {
                return Err(Error::Invalid("label must be 1 to 200 characters".into()));
            }
            let vault = ctx.vault()?;
            let owner = get_user(&mut *c, tenant, new.owner.owner_id()).await?;
            if let Owner::Shared { users, .. } = &new.owner {
                if owner.role != Role::Admin {
                    return Err(Error::Invalid(format!(
                        "owner.admin_id: user {} is not an admin; only admins share connections",
                        owner.id
                    )));
                }
                for u in users {
                    get_user(&mut *c, tenant, u).await?;
                }
            }
            let now = now_ms(ctx);
            // Lock the owner's row first: on PostgreSQL this serialises concurrent creations for
            // one owner so that the count below cannot be raced past the limit.
            sqlx::query("UPDATE users SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(owner.id.as_str())
                .bind(now)
                .execute(&mut *c)
                .await?;
            let count: i64 = sqlx::query("SELECT count(*) AS n FROM connections WHERE owner_user_id = $1")
                .bind(owner.id.as_str())
                .fetch_one(&mut *c)
                .await?
                .try_get("n")?;
            if count >= i64::from(ctx.connection_limit) {
                return Err(Error::ConnectionLimit { owner: owner.id.to_string(), limit: ctx.connection_limit });
            }
            let id = ConnectionId::new();
            let sealed = vault.seal(&credentials_aad(tenant.as_str(), id.as_str()), &new.credentials.to_plaintext()?)?;
            let (env, url) = new.environment.to_columns();
            sqlx::query(
                "INSERT INTO connections (id, tenant_id, org_id, environment, my_domain_url, auth_method, \
                 owner_user_id, shared, label, status, status_reason, status_at, key_id, sealed_credentials, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', NULL, $10, $11, $12, $10, $10)",
            )
            .bind(id.as_str())
            .bind(tenant.as_str())
            .bind(new.org_id.as_deref())
            .bind(env)
            .bind(url)
            .bind(new.auth_method.as_str())
            .bind(owner.id.as_str())
            .bind(i64::from(matches!(new.owner, Owner::Shared { .. })))
            .bind(label)
            .bind(now)
            .bind(vault.current_key_id())
            .bind(sealed)
            .execute(&mut *c)
            .await?;
            if let Owner::Shared { users, .. } = &new.owner {
                for u in users {
                    sqlx::query(
                        "INSERT INTO connection_shares (connection_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(id.as_str())
                    .bind(u.as_str())
                    .execute(&mut *c)
                    .await?;
                }
            }
            get_connection(&mut *c, tenant, &id).await
        }

        async fn connection_from_row(c: &mut Conn, row: &Row) -> Result<Connection> {
            let id = ConnectionId::parse(row.try_get("id")?)?;
            let owner_id = UserId::parse(row.try_get("owner_user_id")?)?;
            let shared: i64 = row.try_get("shared")?;
            let owner = if shared != 0 {
                let users = sqlx::query("SELECT user_id FROM connection_shares WHERE connection_id = $1 ORDER BY user_id")
                    .bind(id.as_str())
                    .fetch_all(&mut *c)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>("user_id").map_err(Error::from).and_then(|s| UserId::parse(&s)))
                    .collect::<Result<Vec<_>>>()?;
                Owner::Shared { admin_id: owner_id, users }
            } else {
                Owner::Personal { user_id: owner_id }
            };
            Ok(Connection {
                id,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                org_id: row.try_get("org_id")?,
                environment: Environment::from_columns(row.try_get("environment")?, row.try_get("my_domain_url")?)?,
                auth_method: AuthMethod::parse(row.try_get("auth_method")?)
                    .map_err(|e| Error::corrupt("connections", e.to_string()))?,
                owner,
                label: row.try_get("label")?,
                status: ConnectionStatus::parse(row.try_get("status")?)
                    .map_err(|e| Error::corrupt("connections", e.to_string()))?,
                status_reason: row.try_get("status_reason")?,
                status_at: from_millis(row.try_get("status_at")?),
                created_at: from_millis(row.try_get("created_at")?),
            })
        }

        pub(crate) async fn get_connection(c: &mut Conn, tenant: &TenantId, id: &ConnectionId) -> Result<Connection> {
            let sql = format!("SELECT {CONN_COLS} FROM connections WHERE tenant_id = $1 AND id = $2");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("connection", id))?;
            connection_from_row(c, &row).await
        }

        pub(crate) async fn list_connections(
            c: &mut Conn,
            tenant: &TenantId,
            visible_to: Option<&UserId>,
        ) -> Result<Vec<Connection>> {
            let rows = match visible_to {
                None => {
                    let sql = format!("SELECT {CONN_COLS} FROM connections WHERE tenant_id = $1 ORDER BY created_at, id");
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str()).fetch_all(&mut *c).await?
                }
                Some(user) => {
                    let sql = format!(
                        "SELECT {CONN_COLS} FROM connections WHERE tenant_id = $1 AND (owner_user_id = $2 OR \
                         id IN (SELECT connection_id FROM connection_shares WHERE user_id = $2)) ORDER BY created_at, id"
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.as_str())
                        .bind(user.as_str())
                        .fetch_all(&mut *c)
                        .await?
                }
            };
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push(connection_from_row(&mut *c, row).await?);
            }
            Ok(out)
        }

        pub(crate) async fn set_connection_status(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            id: &ConnectionId,
            status: ConnectionStatus,
            reason: Option<&str>,
        ) -> Result<()> {
            let now = now_ms(ctx);
            let r = sqlx::query(
                "UPDATE connections SET status = $3, status_reason = $4, status_at = $5, updated_at = $5 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(status.as_str())
            .bind(reason)
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("connection", id));
            }
            Ok(())
        }

        pub(crate) async fn set_shared_users(
            c: &mut Conn,
            tenant: &TenantId,
            id: &ConnectionId,
            users: &[UserId],
        ) -> Result<()> {
            let conn = get_connection(&mut *c, tenant, id).await?;
            if !matches!(conn.owner, Owner::Shared { .. }) {
                return Err(Error::Invalid(format!("connection {id} is personal; it cannot be shared")));
            }
            for u in users {
                get_user(&mut *c, tenant, u).await?;
            }
            sqlx::query("DELETE FROM connection_shares WHERE connection_id = $1")
                .bind(id.as_str())
                .execute(&mut *c)
                .await?;
            for u in users {
                sqlx::query("INSERT INTO connection_shares (connection_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id.as_str())
                    .bind(u.as_str())
                    .execute(&mut *c)
                    .await?;
            }
            Ok(())
        }

        pub(crate) async fn delete_connection(c: &mut Conn, tenant: &TenantId, id: &ConnectionId) -> Result<()> {
            let r = sqlx::query("DELETE FROM connections WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(&mut *c)
                .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("connection", id));
            }
            Ok(())
        }

        pub(crate) async fn credentials(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            id: &ConnectionId,
        ) -> Result<Credentials> {
            let vault = ctx.vault()?;
            let row = sqlx::query("SELECT sealed_credentials FROM connections WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("connection", id))?;
            let sealed: Vec<u8> = row.try_get("sealed_credentials")?;
            let plain = vault.open(&credentials_aad(tenant.as_str(), id.as_str()), &sealed)?;
            Credentials::from_plaintext(&plain)
        }

        pub(crate) async fn update_credentials(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            id: &ConnectionId,
            creds: &Credentials,
        ) -> Result<()> {
            let vault = ctx.vault()?;
            let sealed = vault.seal(&credentials_aad(tenant.as_str(), id.as_str()), &creds.to_plaintext()?)?;
            let r = sqlx::query(
                "UPDATE connections SET sealed_credentials = $3, key_id = $4, updated_at = $5 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(sealed)
            .bind(vault.current_key_id())
            .bind(now_ms(ctx))
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("connection", id));
            }
            Ok(())
        }

        // ---------------------------------------------------------------- vault keys

        /// Check the configured keys against what the database was sealed with (run at start).
        pub(crate) async fn check_vault(c: &mut Conn, ctx: &Ctx) -> Result<()> {
            let used: Vec<String> = sqlx::query("SELECT DISTINCT key_id FROM connections")
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(|r| r.try_get("key_id"))
                .collect::<std::result::Result<_, _>>()?;
            let Some(vault) = ctx.vault.as_ref() else {
                if let Some(id) = used.first() {
                    return Err(Error::Crypto(format!(
                        "no master key is configured, but stored credentials are sealed under key {id}; set \
                         FORCEBRIDGE_MASTER_KEY or FORCEBRIDGE_MASTER_KEY_FILE"
                    )));
                }
                return Ok(());
            };
            let canaries = sqlx::query("SELECT key_id, canary FROM vault_keys").fetch_all(&mut *c).await?;
            let mut known_key_present = canaries.is_empty();
            for row in &canaries {
                let id: String = row.try_get("key_id")?;
                let canary: Vec<u8> = row.try_get("canary")?;
                if vault.has_key(&id) {
                    vault.check_canary(&id, &canary)?;
                    known_key_present = true;
                }
            }
            for id in &used {
                if !vault.has_key(id) {
                    return Err(Error::Crypto(format!(
                        "stored credentials are sealed under master key {id}, which is not configured; start with \
                         that key, or pass it as the previous key and run `forcebridge vault rotate`"
                    )));
                }
            }
            if !known_key_present {
                return Err(Error::Crypto(format!(
                    "the configured master key ({}) is not the one this store was set up with; supply the right \
                     key (FORCEBRIDGE_MASTER_KEY / FORCEBRIDGE_MASTER_KEY_FILE)",
                    vault.current_key_id()
                )));
            }
            register_current_key(c, ctx).await
        }

        async fn register_current_key(c: &mut Conn, ctx: &Ctx) -> Result<()> {
            let vault = ctx.vault()?;
            sqlx::query("INSERT INTO vault_keys (key_id, canary, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(vault.current_key_id())
                .bind(vault.seal_canary()?)
                .bind(now_ms(ctx))
                .execute(&mut *c)
                .await?;
            Ok(())
        }

        /// Re-seal up to `batch` connections not yet under the current key; returns how many.
        pub(crate) async fn rotate_batch(c: &mut Conn, ctx: &Ctx, batch: i64) -> Result<u64> {
            let vault = ctx.vault()?;
            register_current_key(&mut *c, ctx).await?;
            let sql = format!(
                "SELECT id, tenant_id, key_id, sealed_credentials FROM connections WHERE key_id <> $1 \
                 ORDER BY id LIMIT $2{FOR_UPDATE}"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(vault.current_key_id())
                .bind(batch)
                .fetch_all(&mut *c)
                .await?;
            let mut n = 0;
            for row in &rows {
                let id: String = row.try_get("id")?;
                let tenant: String = row.try_get("tenant_id")?;
                let old_key: String = row.try_get("key_id")?;
                let sealed: Vec<u8> = row.try_get("sealed_credentials")?;
                let aad = credentials_aad(&tenant, &id);
                let plain = vault.open(&aad, &sealed)?;
                let resealed = vault.seal(&aad, &plain)?;
                let r = sqlx::query(
                    "UPDATE connections SET sealed_credentials = $2, key_id = $3 WHERE id = $1 AND key_id = $4",
                )
                .bind(&id)
                .bind(resealed)
                .bind(vault.current_key_id())
                .bind(&old_key)
                .execute(&mut *c)
                .await?;
                n += r.rows_affected();
            }
            if rows.is_empty() {
                // Everything is under the current key: forget the canaries of keys no row uses.
                sqlx::query(
                    "DELETE FROM vault_keys WHERE key_id <> $1 AND key_id NOT IN (SELECT key_id FROM connections)",
                )
                .bind(vault.current_key_id())
                .execute(&mut *c)
                .await?;
            }
            Ok(n)
        }

        // ---------------------------------------------------------------- recipes

        fn install_from_row(row: &Row) -> Result<RecipeInstall> {
            Ok(RecipeInstall {
                id: InstallId::parse(row.try_get("id")?)?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                connection_id: ConnectionId::parse(row.try_get("connection_id")?)?,
                recipe: row.try_get("recipe")?,
                settings: parse_json(row.try_get("settings")?, "recipe_installs")?,
                enabled: row.try_get::<i64, _>("enabled")? != 0,
                updated_at: from_millis(row.try_get("updated_at")?),
            })
        }

        pub(crate) async fn install_recipe(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            connection: &ConnectionId,
            recipe: &str,
            settings: &serde_json::Value,
            enabled: bool,
        ) -> Result<RecipeInstall> {
            if recipe.is_empty() || recipe.len() > 200 {
                return Err(Error::Invalid("recipe name must be 1 to 200 characters".into()));
            }
            get_connection(&mut *c, tenant, connection).await?;
            let now = now_ms(ctx);
            sqlx::query(
                "INSERT INTO recipe_installs (id, tenant_id, connection_id, recipe, settings, enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (tenant_id, connection_id, recipe) DO UPDATE SET settings = excluded.settings, \
                 enabled = excluded.enabled, updated_at = excluded.updated_at",
            )
            .bind(InstallId::new().as_str())
            .bind(tenant.as_str())
            .bind(connection.as_str())
            .bind(recipe)
            .bind(settings.to_string())
            .bind(i64::from(enabled))
            .bind(now)
            .execute(&mut *c)
            .await?;
            let row = sqlx::query(
                "SELECT id, tenant_id, connection_id, recipe, settings, enabled, updated_at FROM recipe_installs \
                 WHERE tenant_id = $1 AND connection_id = $2 AND recipe = $3",
            )
            .bind(tenant.as_str())
            .bind(connection.as_str())
            .bind(recipe)
            .fetch_one(&mut *c)
            .await?;
            install_from_row(&row)
        }

        pub(crate) async fn list_installs(c: &mut Conn, tenant: &TenantId) -> Result<Vec<RecipeInstall>> {
            let rows = sqlx::query(
                "SELECT id, tenant_id, connection_id, recipe, settings, enabled, updated_at FROM recipe_installs \
                 WHERE tenant_id = $1 ORDER BY recipe, connection_id",
            )
            .bind(tenant.as_str())
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(install_from_row).collect()
        }

        pub(crate) async fn uninstall_recipe(c: &mut Conn, tenant: &TenantId, id: &InstallId) -> Result<()> {
            let r = sqlx::query("DELETE FROM recipe_installs WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .execute(&mut *c)
                .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("recipe install", id));
            }
            Ok(())
        }

        // ---------------------------------------------------------------- events, cursors, journal, audit

        fn event_from_row(row: &Row) -> Result<Event> {
            Ok(Event {
                id: EventId::parse(row.try_get("id")?)?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                idempotency_key: row.try_get("idempotency_key")?,
                event_type: row.try_get("event_type")?,
                payload: parse_json(row.try_get("payload")?, "events")?,
                accepted_at: from_millis(row.try_get("accepted_at")?),
            })
        }

        pub(crate) async fn accept_event(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            idempotency_key: &str,
            event_type: &str,
            payload: &serde_json::Value,
        ) -> Result<Accepted> {
            if idempotency_key.is_empty() || idempotency_key.len() > 255 {
                return Err(Error::Invalid("idempotency_key must be 1 to 255 characters".into()));
            }
            if event_type.is_empty() || event_type.len() > 200 {
                return Err(Error::Invalid("type must be 1 to 200 characters".into()));
            }
            let id = EventId::new();
            let cols = "id, tenant_id, idempotency_key, event_type, payload, accepted_at";
            let inserted = sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO events ({cols}) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING {cols}"
            )))
            .bind(id.as_str())
            .bind(tenant.as_str())
            .bind(idempotency_key)
            .bind(event_type)
            .bind(payload.to_string())
            .bind(now_ms(ctx))
            .fetch_optional(&mut *c)
            .await?;
            if let Some(row) = inserted {
                return Ok(Accepted { event: event_from_row(&row)?, is_new: true });
            }
            // The key was used before: answer with the first acceptance.
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {cols} FROM events WHERE tenant_id = $1 AND idempotency_key = $2"
            )))
            .bind(tenant.as_str())
            .bind(idempotency_key)
            .fetch_one(&mut *c)
            .await?;
            Ok(Accepted { event: event_from_row(&row)?, is_new: false })
        }

        pub(crate) async fn get_event(c: &mut Conn, tenant: &TenantId, id: &EventId) -> Result<Event> {
            let row = sqlx::query(
                "SELECT id, tenant_id, idempotency_key, event_type, payload, accepted_at FROM events \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| Error::not_found("event", id))?;
            event_from_row(&row)
        }

        pub(crate) async fn get_cursor(
            c: &mut Conn,
            tenant: &TenantId,
            connection: &ConnectionId,
            sync: &str,
        ) -> Result<Option<String>> {
            let row = sqlx::query(
                "SELECT cursor FROM sync_cursors WHERE tenant_id = $1 AND connection_id = $2 AND sync_name = $3",
            )
            .bind(tenant.as_str())
            .bind(connection.as_str())
            .bind(sync)
            .fetch_optional(&mut *c)
            .await?;
            Ok(match row {
                Some(r) => Some(r.try_get("cursor")?),
                None => None,
            })
        }

        pub(crate) async fn set_cursor(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            connection: &ConnectionId,
            sync: &str,
            cursor: &str,
        ) -> Result<()> {
            get_connection(&mut *c, tenant, connection).await?;
            sqlx::query(
                "INSERT INTO sync_cursors (tenant_id, connection_id, sync_name, cursor, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, connection_id, sync_name) \
                 DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            )
            .bind(tenant.as_str())
            .bind(connection.as_str())
            .bind(sync)
            .bind(cursor)
            .bind(now_ms(ctx))
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        pub(crate) async fn record_journal(c: &mut Conn, ctx: &Ctx, e: &NewJournalEntry) -> Result<i64> {
            let row = sqlx::query(
                "INSERT INTO journal (tenant_id, event_id, connection_id, operation, sobject, record_id, detail, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(e.tenant_id.as_str())
            .bind(e.event_id.as_ref().map(|x| x.as_str()))
            .bind(e.connection_id.as_str())
            .bind(&e.operation)
            .bind(&e.sobject)
            .bind(e.record_id.as_deref())
            .bind(e.detail.to_string())
            .bind(now_ms(ctx))
            .fetch_one(&mut *c)
            .await?;
            Ok(row.try_get("id")?)
        }

        pub(crate) async fn journal_for_event(
            c: &mut Conn,
            tenant: &TenantId,
            event: &EventId,
        ) -> Result<Vec<JournalEntry>> {
            let rows = sqlx::query(
                "SELECT id, tenant_id, event_id, connection_id, operation, sobject, record_id, detail, created_at \
                 FROM journal WHERE tenant_id = $1 AND event_id = $2 ORDER BY id",
            )
            .bind(tenant.as_str())
            .bind(event.as_str())
            .fetch_all(&mut *c)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(JournalEntry {
                        id: row.try_get("id")?,
                        entry: NewJournalEntry {
                            tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                            event_id: row.try_get::<Option<String>, _>("event_id")?.map(|s| EventId::parse(&s)).transpose()?,
                            connection_id: ConnectionId::parse(row.try_get("connection_id")?)?,
                            operation: row.try_get("operation")?,
                            sobject: row.try_get("sobject")?,
                            record_id: row.try_get("record_id")?,
                            detail: parse_json(row.try_get("detail")?, "journal")?,
                        },
                        created_at: from_millis(row.try_get("created_at")?),
                    })
                })
                .collect()
        }

        pub(crate) async fn record_audit(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: Option<&TenantId>,
            actor: &str,
            action: &str,
            target: &str,
            detail: &serde_json::Value,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO audit_log (tenant_id, actor, action, target, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tenant.map(|t| t.as_str()))
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(detail.to_string())
            .bind(now_ms(ctx))
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        /// A tenant's audit records, or with `None` the system-wide ones (tenant NULL), newest first.
        pub(crate) async fn list_audit(c: &mut Conn, tenant: Option<&TenantId>, limit: i64) -> Result<Vec<AuditEntry>> {
            let rows = match tenant {
                Some(tenant) => sqlx::query(
                    "SELECT id, tenant_id, actor, action, target, detail, at FROM audit_log WHERE tenant_id = $1 \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(tenant.as_str())
                .bind(limit)
                .fetch_all(&mut *c)
                .await?,
                None => sqlx::query(
                    "SELECT id, tenant_id, actor, action, target, detail, at FROM audit_log WHERE tenant_id IS NULL \
                     ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&mut *c)
                .await?,
            };
            rows.iter()
                .map(|row| {
                    Ok(AuditEntry {
                        id: row.try_get("id")?,
                        tenant_id: row.try_get::<Option<String>, _>("tenant_id")?.map(|s| TenantId::parse(&s)).transpose()?,
                        actor: row.try_get("actor")?,
                        action: row.try_get("action")?,
                        target: row.try_get("target")?,
                        detail: parse_json(row.try_get("detail")?, "audit_log")?,
                        at: from_millis(row.try_get("at")?),
                    })
                })
                .collect()
        }

        // ---------------------------------------------------------------- queue

        async fn ensure_group(c: &mut Conn, ctx: &Ctx, group: &str) -> Result<()> {
            sqlx::query("INSERT INTO job_groups (group_key, max_running) VALUES ($1, $2) ON CONFLICT (group_key) DO NOTHING")
                .bind(group)
                .bind(i64::from(ctx.queue.default_group_limit))
                .execute(&mut *c)
                .await?;
            Ok(())
        }

        pub(crate) async fn set_group_limit(c: &mut Conn, group: &str, max_running: u32) -> Result<()> {
            if max_running == 0 {
                return Err(Error::Invalid("a concurrency group's limit must be at least 1".into()));
            }
            sqlx::query(
                "INSERT INTO job_groups (group_key, max_running) VALUES ($1, $2) \
                 ON CONFLICT (group_key) DO UPDATE SET max_running = excluded.max_running",
            )
            .bind(group)
            .bind(i64::from(max_running))
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        pub(crate) async fn enqueue(c: &mut Conn, ctx: &Ctx, job: &NewJob) -> Result<Enqueued> {
            job.validate()?;
            let now = now_ms(ctx);
            if let Some(g) = &job.group {
                ensure_group(&mut *c, ctx, g).await?;
            }
            // A dedupe conflict with a job that finishes between the insert and the select frees
            // the key again; a few rounds settle it.
            for _ in 0..3 {
                let row = sqlx::query(
                    "INSERT INTO jobs (tenant_id, kind, payload, priority, run_at, state, attempts, max_attempts, \
                     dedupe_key, group_key, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'ready', 0, $6, $7, $8, $9, $9) \
                     ON CONFLICT (dedupe_key) WHERE state IN ('ready', 'running') DO NOTHING RETURNING id",
                )
                .bind(job.tenant_id.as_ref().map(|t| t.as_str()))
                .bind(&job.kind)
                .bind(job.payload.to_string())
                .bind(i64::from(job.priority))
                .bind(job.run_at.map(to_millis).unwrap_or(now))
                .bind(i64::from(job.max_attempts.unwrap_or(ctx.queue.default_max_attempts)))
                .bind(job.dedupe_key.as_deref())
                .bind(job.group.as_deref())
                .bind(now)
                .fetch_optional(&mut *c)
                .await?;
                if let Some(row) = row {
                    notify_jobs(&mut *c).await?;
                    return Ok(Enqueued { id: row.try_get("id")?, deduplicated: false });
                }
                let existing = sqlx::query("SELECT id FROM jobs WHERE dedupe_key = $1 AND state IN ('ready', 'running')")
                    .bind(job.dedupe_key.as_deref())
                    .fetch_optional(&mut *c)
                    .await?;
                if let Some(row) = existing {
                    return Ok(Enqueued { id: row.try_get("id")?, deduplicated: true });
                }
            }
            Err(Error::Conflict("dedupe key kept changing hands while enqueuing; try again".into()))
        }

        /// Multi-row insert of jobs without dedupe keys (those go through [`enqueue`]).
        pub(crate) async fn enqueue_many(c: &mut Conn, ctx: &Ctx, jobs: &[NewJob]) -> Result<Vec<Enqueued>> {
            const COLS: usize = 8;
            const CHUNK: usize = 500;
            let now = now_ms(ctx);
            let mut groups: Vec<&str> = jobs.iter().filter_map(|j| j.group.as_deref()).collect();
            groups.sort_unstable();
            groups.dedup();
            for g in groups {
                ensure_group(&mut *c, ctx, g).await?;
            }
            let mut out = vec![Enqueued { id: 0, deduplicated: false }; jobs.len()];
            let plain: Vec<usize> = (0..jobs.len())
                .filter(|&i| jobs.get(i).is_some_and(|j| j.dedupe_key.is_none()))
                .collect();
            for (i, job) in jobs.iter().enumerate() {
                job.validate()?;
                if job.dedupe_key.is_some()
                    && let Some(slot) = out.get_mut(i)
                {
                    *slot = enqueue(&mut *c, ctx, job).await?;
                }
            }
            for chunk in plain.chunks(CHUNK) {
                let mut sql = String::from(
                    "INSERT INTO jobs (tenant_id, kind, payload, priority, run_at, max_attempts, group_key, created_at, \
                     state, attempts, updated_at) VALUES ",
                );
                for n in 0..chunk.len() {
                    if n > 0 {
                        sql.push_str(", ");
                    }
                    let b = n * COLS + 1;
                    sql.push_str(&format!("({}, 'ready', 0, ${})", placeholders(b, COLS), b + COLS - 1));
                }
                sql.push_str(" RETURNING id");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for &i in chunk {
                    let Some(job) = jobs.get(i) else { continue };
                    q = q
                        .bind(job.tenant_id.as_ref().map(|t| t.as_str().to_owned()))
                        .bind(job.kind.clone())
                        .bind(job.payload.to_string())
                        .bind(i64::from(job.priority))
                        .bind(job.run_at.map(to_millis).unwrap_or(now))
                        .bind(i64::from(job.max_attempts.unwrap_or(ctx.queue.default_max_attempts)))
                        .bind(job.group.clone())
                        .bind(now);
                }
                let mut ids: Vec<i64> =
                    q.fetch_all(&mut *c).await?.iter().map(|r| r.try_get("id")).collect::<std::result::Result<_, _>>()?;
                // Identity values are assigned in VALUES order; sort in case rows come back otherwise.
                ids.sort_unstable();
                for (&i, id) in chunk.iter().zip(ids) {
                    if let Some(slot) = out.get_mut(i) {
                        slot.id = id;
                    }
                }
            }
            if !plain.is_empty() {
                notify_jobs(&mut *c).await?;
            }
            Ok(out)
        }

        fn job_from_row(row: &Row) -> Result<(JobInfo, Option<String>, Option<i64>, Option<String>, i32, i64)> {
            let info = JobInfo {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                payload: parse_json(row.try_get("payload")?, "jobs")?,
                state: JobState::parse(row.try_get("state")?)?,
                attempts: to_u32(row.try_get("attempts")?, "jobs", "attempts")?,
                max_attempts: to_u32(row.try_get("max_attempts")?, "jobs", "max_attempts")?,
                run_at: from_millis(row.try_get("run_at")?),
                group: row.try_get("group_key")?,
                dedupe_key: row.try_get("dedupe_key")?,
                last_error: row.try_get("last_error")?,
                finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(from_millis),
            };
            let priority = i32::try_from(row.try_get::<i64, _>("priority")?)
                .map_err(|_| Error::corrupt("jobs", "priority out of range"))?;
            Ok((
                info,
                row.try_get("lease_token")?,
                row.try_get("lease_expires_at")?,
                row.try_get("tenant_id")?,
                priority,
                row.try_get("created_at")?,
            ))
        }

        pub(crate) async fn job_info(c: &mut Conn, id: JobId) -> Result<JobInfo> {
            let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("job", id))?;
            Ok(job_from_row(&row)?.0)
        }

        pub(crate) async fn lease(c: &mut Conn, ctx: &Ctx, req: &LeaseRequest) -> Result<Vec<Job>> {
            let now = now_ms(ctx);
            let max = usize::try_from(req.max_jobs.clamp(1, 1000)).unwrap_or(1);
            let window = i64::try_from(max * 2 + 8).unwrap_or(i64::MAX);
            // Candidates: due, ready, in a group that is not already at its cap. Over-fetching lets
            // us skip candidates beyond a group's remaining room without a second round trip.
            let mut sql = String::from(
                "SELECT id, group_key FROM jobs WHERE state = 'ready' AND run_at <= $1 AND (group_key IS NULL OR \
                 group_key NOT IN (SELECT g.group_key FROM job_groups g WHERE g.max_running <= \
                 (SELECT count(*) FROM jobs r WHERE r.group_key = g.group_key AND r.state = 'running')))",
            );
            if !req.kinds.is_empty() {
                sql.push_str(&format!(" AND kind IN ({})", placeholders(3, req.kinds.len())));
            }
            sql.push_str(" ORDER BY priority DESC, run_at, id LIMIT $2");
            sql.push_str(SKIP_LOCKED);
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(window);
            for k in &req.kinds {
                q = q.bind(k.clone());
            }
            let candidates: Vec<(i64, Option<String>)> = q
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("group_key")?)))
                .collect::<Result<_>>()?;
            if candidates.is_empty() {
                return Ok(Vec::new());
            }
            // Room per group, counted while holding the groups' rows (PostgreSQL) so that no other
            // node can lease into the same group until we commit.
            let mut groups: Vec<String> = candidates.iter().filter_map(|(_, g)| g.clone()).collect();
            groups.sort_unstable();
            groups.dedup();
            let mut room: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
            if !groups.is_empty() {
                let sql = format!(
                    "SELECT group_key, max_running FROM job_groups WHERE group_key IN ({}) ORDER BY group_key{FOR_UPDATE}",
                    placeholders(1, groups.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for g in &groups {
                    q = q.bind(g.clone());
                }
                for r in q.fetch_all(&mut *c).await? {
                    room.insert(r.try_get("group_key")?, r.try_get("max_running")?);
                }
                let sql = format!(
                    "SELECT group_key, count(*) AS n FROM jobs WHERE state = 'running' AND group_key IN ({}) GROUP BY group_key",
                    placeholders(1, groups.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for g in &groups {
                    q = q.bind(g.clone());
                }
                for r in q.fetch_all(&mut *c).await? {
                    let g: String = r.try_get("group_key")?;
                    let n: i64 = r.try_get("n")?;
                    if let Some(v) = room.get_mut(&g) {
                        *v -= n;
                    }
                }
            }
            let mut chosen: Vec<i64> = Vec::with_capacity(max);
            for (id, g) in &candidates {
                if chosen.len() >= max {
                    break;
                }
                match g {
                    None => chosen.push(*id),
                    Some(g) => {
                        let r = room.entry(g.clone()).or_insert(i64::from(ctx.queue.default_group_limit));
                        if *r > 0 {
                            *r -= 1;
                            chosen.push(*id);
                        }
                    }
                }
            }
            if chosen.is_empty() {
                return Ok(Vec::new());
            }
            let token = uuid::Uuid::new_v4().simple().to_string();
            let lease_ms = i64::try_from(req.lease_for.as_millis()).unwrap_or(i64::MAX / 4);
            let expires = now.saturating_add(lease_ms);
            let sql = format!(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, lease_owner = $2, \
                 lease_expires_at = $3, updated_at = $4 WHERE state = 'ready' AND id IN ({}) RETURNING {JOB_COLS}",
                placeholders(5, chosen.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(token.clone()).bind(req.worker.clone()).bind(expires).bind(now);
            for id in &chosen {
                q = q.bind(*id);
            }
            let rows = q.fetch_all(&mut *c).await?;
            let mut jobs = Vec::with_capacity(rows.len());
            for row in &rows {
                let (info, _, _, tenant_id, priority, created_at) = job_from_row(row)?;
                jobs.push(Job {
                    id: info.id,
                    kind: info.kind,
                    payload: info.payload,
                    priority,
                    attempt: info.attempts,
                    max_attempts: info.max_attempts,
                    group: info.group,
                    dedupe_key: info.dedupe_key,
                    tenant_id,
                    last_error: info.last_error,
                    created_at: from_millis(created_at),
                    lease: Lease { job_id: info.id, token: token.clone(), expires_at: from_millis(expires) },
                });
            }
            jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
            Ok(jobs)
        }

        pub(crate) async fn heartbeat(
            c: &mut Conn,
            ctx: &Ctx,
            lease: &Lease,
            extend: std::time::Duration,
        ) -> Result<Lease> {
            let now = now_ms(ctx);
            let expires = now.saturating_add(i64::try_from(extend.as_millis()).unwrap_or(i64::MAX / 4));
            let r = sqlx::query(
                "UPDATE jobs SET lease_expires_at = $3, updated_at = $4 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(expires)
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::LeaseLost { job_id: lease.job_id });
            }
            Ok(Lease { job_id: lease.job_id, token: lease.token.clone(), expires_at: from_millis(expires) })
        }

        pub(crate) async fn complete(c: &mut Conn, ctx: &Ctx, lease: &Lease) -> Result<()> {
            let now = now_ms(ctx);
            let r = sqlx::query(
                "UPDATE jobs SET state = 'done', finished_at = $3, updated_at = $3, lease_token = NULL, \
                 lease_expires_at = NULL WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::LeaseLost { job_id: lease.job_id });
            }
            Ok(())
        }

        /// Failure with retry at `retry_at` (computed from the attempt when `None`), or dead-letter
        /// when the budget is spent or `dead_now`.
        pub(crate) async fn fail(
            c: &mut Conn,
            ctx: &Ctx,
            lease: &Lease,
            reason: &str,
            retry_at: Option<chrono::DateTime<chrono::Utc>>,
            dead_now: bool,
        ) -> Result<FailResult> {
            let now = now_ms(ctx);
            let row = sqlx::query("SELECT attempts, max_attempts FROM jobs WHERE id = $1 AND lease_token = $2 AND state = 'running'")
                .bind(lease.job_id)
                .bind(&lease.token)
                .fetch_optional(&mut *c)
                .await?
                .ok_or(Error::LeaseLost { job_id: lease.job_id })?;
            let attempts = to_u32(row.try_get("attempts")?, "jobs", "attempts")?;
            let max_attempts = to_u32(row.try_get("max_attempts")?, "jobs", "max_attempts")?;
            let reason: String = reason.chars().take(4000).collect();
            let dead = dead_now || attempts >= max_attempts;
            let (state, run_at, finished, result) = if dead {
                ("dead", now, Some(now), FailResult::Dead)
            } else {
                let at = match retry_at {
                    Some(at) => to_millis(at),
                    None => now.saturating_add(i64::try_from(ctx.queue.backoff(attempts).as_millis()).unwrap_or(i64::MAX / 4)),
                };
                ("ready", at, None, FailResult::Retrying { at: from_millis(at) })
            };
            let r = sqlx::query(
                "UPDATE jobs SET state = $3, run_at = $4, finished_at = $5, last_error = $6, updated_at = $7, \
                 lease_token = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(state)
            .bind(run_at)
            .bind(finished)
            .bind(&reason)
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::LeaseLost { job_id: lease.job_id });
            }
            Ok(result)
        }

        pub(crate) async fn defer(
            c: &mut Conn,
            ctx: &Ctx,
            lease: &Lease,
            until: chrono::DateTime<chrono::Utc>,
        ) -> Result<()> {
            let now = now_ms(ctx);
            let r = sqlx::query(
                "UPDATE jobs SET state = 'ready', run_at = $3, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                 updated_at = $4, lease_token = NULL, lease_expires_at = NULL \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(lease.job_id)
            .bind(&lease.token)
            .bind(to_millis(until))
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::LeaseLost { job_id: lease.job_id });
            }
            Ok(())
        }

        pub(crate) async fn cancel(c: &mut Conn, ctx: &Ctx, id: JobId) -> Result<()> {
            let now = now_ms(ctx);
            let r = sqlx::query(
                "UPDATE jobs SET state = 'cancelled', finished_at = $2, updated_at = $2, lease_token = NULL, \
                 lease_expires_at = NULL, last_error = COALESCE(last_error, 'cancelled') \
                 WHERE id = $1 AND state IN ('ready', 'running')",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                let info = job_info(&mut *c, id).await?;
                return Err(Error::Conflict(format!("job {id} is {} and cannot be cancelled", info.state)));
            }
            Ok(())
        }

        pub(crate) async fn replay_dead(c: &mut Conn, ctx: &Ctx, id: JobId) -> Result<()> {
            let now = now_ms(ctx);
            let r = sqlx::query(
                "UPDATE jobs SET state = 'ready', attempts = 0, run_at = $2, finished_at = NULL, updated_at = $2 \
                 WHERE id = $1 AND state = 'dead'",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await
            .map_err(|e| match Error::from(e) {
                e if e.kind() == crate::ErrorKind::Conflict => Error::Conflict(format!(
                    "job {id} cannot be replayed: another job with its dedupe key is ready or running"
                )),
                e => e,
            })?;
            if r.rows_affected() == 0 {
                let info = job_info(&mut *c, id).await?;
                return Err(Error::Conflict(format!("job {id} is {}, not dead; only dead jobs are replayed", info.state)));
            }
            notify_jobs(&mut *c).await?;
            Ok(())
        }

        pub(crate) async fn list_jobs(c: &mut Conn, state: JobState, limit: i64) -> Result<Vec<JobInfo>> {
            let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE state = $1 ORDER BY id LIMIT $2");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(state.as_str()).bind(limit).fetch_all(&mut *c).await?;
            rows.iter().map(|r| Ok(job_from_row(r)?.0)).collect()
        }

        pub(crate) async fn reap_expired(c: &mut Conn, ctx: &Ctx) -> Result<u64> {
            let now = now_ms(ctx);
            let r = sqlx::query(
                "UPDATE jobs SET \
                 state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END, \
                 finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END, \
                 last_error = 'lease expired during attempt ' || CAST(attempts AS TEXT) || ' (worker stopped or missed its heartbeat)', \
                 run_at = $1, updated_at = $1, lease_token = NULL, lease_expires_at = NULL \
                 WHERE state = 'running' AND lease_expires_at < $1",
            )
            .bind(now)
            .execute(&mut *c)
            .await?;
            if r.rows_affected() > 0 {
                notify_jobs(&mut *c).await?;
            }
            Ok(r.rows_affected())
        }

        pub(crate) async fn has_unfinished(c: &mut Conn, kind: Option<&str>) -> Result<bool> {
            let row = match kind {
                Some(k) => {
                    sqlx::query("SELECT 1 AS x FROM jobs WHERE state IN ('ready', 'running') AND kind = $1 LIMIT 1")
                        .bind(k)
                        .fetch_optional(&mut *c)
                        .await?
                }
                None => {
                    sqlx::query("SELECT 1 AS x FROM jobs WHERE state IN ('ready', 'running') LIMIT 1")
                        .fetch_optional(&mut *c)
                        .await?
                }
            };
            Ok(row.is_some())
        }

        /// Whether some job is ready to run now (the index on ready jobs answers it at the first
        /// row in the common case).
        pub(crate) async fn any_ready(c: &mut Conn, ctx: &Ctx) -> Result<bool> {
            let row = sqlx::query("SELECT 1 AS one FROM jobs WHERE state = 'ready' AND run_at <= $1 LIMIT 1")
                .bind(now_ms(ctx))
                .fetch_optional(&mut *c)
                .await?;
            Ok(row.is_some())
        }

        pub(crate) async fn next_ready_at(c: &mut Conn) -> Result<Option<i64>> {
            let row = sqlx::query("SELECT min(run_at) AS t FROM jobs WHERE state = 'ready'").fetch_one(&mut *c).await?;
            Ok(row.try_get("t")?)
        }

        pub(crate) async fn queue_stats(c: &mut Conn, ctx: &Ctx) -> Result<QueueStats> {
            let rows = sqlx::query("SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state")
                .fetch_all(&mut *c)
                .await?;
            let mut by_kind_state = Vec::with_capacity(rows.len());
            let mut dead = 0;
            for r in &rows {
                let state = JobState::parse(r.try_get("state")?)?;
                let n = u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0);
                if state == JobState::Dead {
                    dead += n;
                }
                by_kind_state.push((r.try_get("kind")?, state, n));
            }
            let oldest: Option<i64> = sqlx::query("SELECT min(run_at) AS t FROM jobs WHERE state = 'ready' AND run_at <= $1")
                .bind(now_ms(ctx))
                .fetch_one(&mut *c)
                .await?
                .try_get("t")?;
            Ok(QueueStats { by_kind_state, oldest_ready_at: oldest.map(from_millis), dead })
        }

        /// Delete up to `batch` rows matching a retention rule; returns how many.
        pub(crate) async fn purge_batch(
            c: &mut Conn,
            what: crate::PurgeTarget,
            cutoff: i64,
            batch: i64,
        ) -> Result<u64> {
            let sql = match what {
                crate::PurgeTarget::FinishedJobs => "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE \
                     state IN ('done', 'cancelled') AND finished_at < $1 LIMIT $2)",
                crate::PurgeTarget::DeadJobs => "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE \
                     state = 'dead' AND finished_at < $1 LIMIT $2)",
                crate::PurgeTarget::Events => "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE \
                     accepted_at < $1 LIMIT $2)",
                crate::PurgeTarget::Journal => "DELETE FROM journal WHERE id IN (SELECT id FROM journal WHERE \
                     created_at < $1 LIMIT $2)",
                crate::PurgeTarget::Audit => "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE \
                     at < $1 LIMIT $2)",
            };
            let r = sqlx::query(sql).bind(cutoff).bind(batch).execute(&mut *c).await?;
            Ok(r.rows_affected())
        }
    };
}

pub(crate) use define_ops;
