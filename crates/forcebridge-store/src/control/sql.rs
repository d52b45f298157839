//! The control plane's SQL, written once and instantiated for each backend (like `ops.rs`):
//! `define_control_sql!()` expands in `control::sqlite_sql` and `control::postgres_sql`, where
//! `Conn`, `Db` and `SKIP_LOCKED` name the backend's differences.
//!
//! Invariant: every query on tenant data names the tenant in its `WHERE` clause, except the two
//! lookups by a secret's hash (a session token, an OAuth `state`), which are how the tenant is
//! learnt in the first place.

macro_rules! define_control_sql {
    () => {
        use sqlx::Row as _;

        use crate::clock::{from_millis, to_millis};
        use crate::control::*;
        use crate::error::{Error, Result};
        use crate::ops::parse_json;
        use crate::Ctx;

        type Row = <Db as sqlx::Database>::Row;

        fn now_ms(ctx: &Ctx) -> i64 {
            to_millis(ctx.clock.now())
        }

        // ------------------------------------------------------------ key rotation

        /// Re-seal up to `batch` webhook secrets and OAuth verifiers not under the current key.
        pub(crate) async fn rotate_control_batch(c: &mut Conn, ctx: &Ctx, batch: i64) -> Result<u64> {
            let vault = ctx.vault()?;
            let mut n = 0;
            let sql = format!(
                "SELECT id, tenant_id, key_id, sealed_secret FROM webhook_endpoints WHERE key_id <> $1 \
                 ORDER BY id LIMIT $2{FOR_UPDATE}"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(vault.current_key_id())
                .bind(batch)
                .fetch_all(&mut *c)
                .await?;
            for row in &rows {
                let id: String = row.try_get("id")?;
                let tenant: String = row.try_get("tenant_id")?;
                let aad = webhook_aad(&tenant, &id);
                let plain = vault.open(&aad, &row.try_get::<Vec<u8>, _>("sealed_secret")?)?;
                let resealed = vault.seal(&aad, &plain)?;
                n += sqlx::query("UPDATE webhook_endpoints SET sealed_secret = $2, key_id = $3 WHERE id = $1")
                    .bind(&id)
                    .bind(resealed)
                    .bind(vault.current_key_id())
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
            }
            let sql = format!(
                "SELECT state_hash, sealed_verifier FROM oauth_pending WHERE key_id <> $1 \
                 ORDER BY state_hash LIMIT $2{FOR_UPDATE}"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(vault.current_key_id())
                .bind(batch)
                .fetch_all(&mut *c)
                .await?;
            for row in &rows {
                let state: String = row.try_get("state_hash")?;
                let aad = oauth_aad(&state);
                let plain = vault.open(&aad, &row.try_get::<Vec<u8>, _>("sealed_verifier")?)?;
                let resealed = vault.seal(&aad, &plain)?;
                n += sqlx::query("UPDATE oauth_pending SET sealed_verifier = $2, key_id = $3 WHERE state_hash = $1")
                    .bind(&state)
                    .bind(resealed)
                    .bind(vault.current_key_id())
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
            }
            Ok(n)
        }

        // ------------------------------------------------------------ API key scopes

        pub(crate) async fn set_api_key_scopes(c: &mut Conn, tenant: &TenantId, id: &ApiKeyId, scopes: &str) -> Result<()> {
            let r = sqlx::query("UPDATE api_keys SET scopes = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(scopes)
                .execute(&mut *c)
                .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("api key", id));
            }
            Ok(())
        }

        pub(crate) async fn api_key_scopes(c: &mut Conn, tenant: &TenantId, id: &ApiKeyId) -> Result<String> {
            let row = sqlx::query("SELECT scopes FROM api_keys WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("api key", id))?;
            Ok(row.try_get("scopes")?)
        }

        // ------------------------------------------------------------ admin keys

        pub(crate) async fn count_admin_keys(c: &mut Conn) -> Result<i64> {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM admin_keys").fetch_one(&mut *c).await?;
            Ok(row.try_get("n")?)
        }

        pub(crate) async fn insert_admin_key(c: &mut Conn, ctx: &Ctx, id: &str, prefix: &str, hash: &str, label: &str) -> Result<()> {
            sqlx::query("INSERT INTO admin_keys (id, prefix, hash, label, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(prefix)
                .bind(hash)
                .bind(label)
                .bind(now_ms(ctx))
                .execute(&mut *c)
                .await?;
            Ok(())
        }

        pub(crate) async fn admin_key_hash(c: &mut Conn, prefix: &str) -> Result<Option<(String, String)>> {
            let row = sqlx::query("SELECT id, hash FROM admin_keys WHERE prefix = $1 AND revoked_at IS NULL")
                .bind(prefix)
                .fetch_optional(&mut *c)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some((r.try_get("id")?, r.try_get("hash")?))),
            }
        }

        // ------------------------------------------------------------ users

        pub(crate) async fn user_by_email(c: &mut Conn, tenant: &TenantId, email: &str) -> Result<Option<UserId>> {
            let row = sqlx::query("SELECT id FROM users WHERE tenant_id = $1 AND email = $2")
                .bind(tenant.as_str())
                .bind(email)
                .fetch_optional(&mut *c)
                .await?;
            match row {
                None => Ok(None),
                Some(r) => Ok(Some(UserId::parse(r.try_get("id")?)?)),
            }
        }

        pub(crate) async fn set_user_role(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &UserId, role: Role) -> Result<()> {
            sqlx::query("UPDATE users SET role = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(role.as_str())
                .bind(now_ms(ctx))
                .execute(&mut *c)
                .await?;
            Ok(())
        }

        // ------------------------------------------------------------ sessions

        pub(crate) async fn insert_session(c: &mut Conn, s: &Session, token_hash: &str) -> Result<()> {
            sqlx::query(
                "INSERT INTO sessions (id, tenant_id, user_id, role, token_hash, created_at, expires_at, recipe) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&s.id)
            .bind(s.tenant_id.as_str())
            .bind(s.user_id.as_str())
            .bind(s.role.as_str())
            .bind(token_hash)
            .bind(to_millis(s.created_at))
            .bind(to_millis(s.expires_at))
            .bind(s.recipe.as_deref())
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        fn session_from_row(row: &Row) -> Result<Session> {
            Ok(Session {
                id: row.try_get("id")?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                user_id: UserId::parse(row.try_get("user_id")?)?,
                email: row.try_get("email")?,
                role: Role::parse(row.try_get("role")?)?,
                created_at: from_millis(row.try_get("created_at")?),
                expires_at: from_millis(row.try_get("expires_at")?),
                recipe: row.try_get("recipe")?,
            })
        }

        const SESSION_COLS: &str =
            "s.id, s.tenant_id, s.user_id, u.email, s.role, s.created_at, s.expires_at, s.recipe";

        pub(crate) async fn live_session_by_hash(c: &mut Conn, ctx: &Ctx, token_hash: &str) -> Result<Option<Session>> {
            let sql = format!(
                "SELECT {SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(token_hash)
                .bind(now_ms(ctx))
                .fetch_optional(&mut *c)
                .await?;
            row.as_ref().map(session_from_row).transpose()
        }

        pub(crate) async fn live_session_by_id(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &str) -> Result<Option<Session>> {
            let sql = format!(
                "SELECT {SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.tenant_id = $1 AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(id)
                .bind(now_ms(ctx))
                .fetch_optional(&mut *c)
                .await?;
            row.as_ref().map(session_from_row).transpose()
        }

        pub(crate) async fn revoke_session(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &str) -> Result<()> {
            let r = sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id)
                .bind(now_ms(ctx))
                .execute(&mut *c)
                .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("session", id));
            }
            Ok(())
        }

        // ------------------------------------------------------------ OAuth authorizations in flight

        pub(crate) async fn insert_oauth_pending(c: &mut Conn, ctx: &Ctx, p: &PendingRow<'_>) -> Result<()> {
            let (state_hash, tenant, session_id, request, ttl_ms) = (p.state_hash, p.tenant, p.session_id, p.request, p.ttl_ms);
            let vault = ctx.vault()?;
            let sealed = vault.seal(&oauth_aad(state_hash), secrecy::ExposeSecret::expose_secret(p.verifier).as_bytes())?;
            let now = now_ms(ctx);
            sqlx::query(
                "INSERT INTO oauth_pending (state_hash, tenant_id, session_id, request, key_id, sealed_verifier, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(state_hash)
            .bind(tenant.as_str())
            .bind(session_id)
            .bind(request.to_string())
            .bind(vault.current_key_id())
            .bind(sealed)
            .bind(now)
            .bind(now.saturating_add(ttl_ms))
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        pub(crate) async fn take_oauth_pending(c: &mut Conn, ctx: &Ctx, state_hash: &str) -> Result<Option<OAuthPending>> {
            let row = sqlx::query(
                "DELETE FROM oauth_pending WHERE state_hash = $1 \
                 RETURNING tenant_id, session_id, request, sealed_verifier, expires_at",
            )
            .bind(state_hash)
            .fetch_optional(&mut *c)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let expires_at: i64 = row.try_get("expires_at")?;
            if expires_at <= now_ms(ctx) {
                return Ok(None);
            }
            let sealed: Vec<u8> = row.try_get("sealed_verifier")?;
            let plain = ctx.vault()?.open(&oauth_aad(state_hash), &sealed)?;
            let verifier = String::from_utf8(plain.to_vec())
                .map_err(|_| Error::corrupt("oauth_pending", "verifier is not UTF-8"))?;
            Ok(Some(OAuthPending {
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                session_id: row.try_get("session_id")?,
                request: parse_json(row.try_get("request")?, "oauth_pending")?,
                code_verifier: secrecy::SecretString::from(verifier),
            }))
        }

        // ------------------------------------------------------------ connections

        pub(crate) async fn rename_connection(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &ConnectionId, label: &str) -> Result<()> {
            let r = sqlx::query("UPDATE connections SET label = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(label)
                .bind(now_ms(ctx))
                .execute(&mut *c)
                .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("connection", id));
            }
            Ok(())
        }

        pub(crate) async fn count_personal_connections(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, user: &UserId) -> Result<i64> {
            let n = sqlx::query("UPDATE users SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(user.as_str())
                .bind(now_ms(ctx))
                .execute(&mut *c)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(Error::not_found("user", user));
            }
            let row = sqlx::query(
                "SELECT count(*) AS n FROM connections WHERE tenant_id = $1 AND owner_user_id = $2 AND shared = 0",
            )
            .bind(tenant.as_str())
            .bind(user.as_str())
            .fetch_one(&mut *c)
            .await?;
            Ok(row.try_get("n")?)
        }

        pub(crate) async fn set_connection_org(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: &ConnectionId, org: &str) -> Result<()> {
            sqlx::query("UPDATE connections SET org_id = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .bind(org)
                .bind(now_ms(ctx))
                .execute(&mut *c)
                .await?;
            Ok(())
        }

        // ------------------------------------------------------------ notifications

        pub(crate) async fn insert_notification(
            c: &mut Conn,
            ctx: &Ctx,
            tenant: &TenantId,
            kind: &str,
            connection: Option<&ConnectionId>,
            data: &serde_json::Value,
            retry_for_ms: i64,
        ) -> Result<(i64, u32)> {
            let now = now_ms(ctx);
            let row = sqlx::query(
                "INSERT INTO notifications (tenant_id, kind, connection_id, data, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(tenant.as_str())
            .bind(kind)
            .bind(connection.map(ConnectionId::as_str))
            .bind(data.to_string())
            .bind(now)
            .fetch_one(&mut *c)
            .await?;
            let id: i64 = row.try_get("id")?;
            let endpoints = sqlx::query("SELECT id, kinds FROM webhook_endpoints WHERE tenant_id = $1 AND enabled = 1 ORDER BY id")
                .bind(tenant.as_str())
                .fetch_all(&mut *c)
                .await?;
            let mut n = 0u32;
            for e in endpoints {
                let kinds: Vec<String> = serde_json::from_str(e.try_get("kinds")?)
                    .map_err(|err| Error::corrupt("webhook_endpoints", format!("kinds: {err}")))?;
                if !kinds.iter().any(|k| k == "*" || k == kind) {
                    continue;
                }
                let endpoint: String = e.try_get("id")?;
                sqlx::query(
                    "INSERT INTO webhook_deliveries (tenant_id, endpoint_id, notification_id, order_key, state, \
                     next_attempt_at, give_up_at, created_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $5)",
                )
                .bind(tenant.as_str())
                .bind(endpoint)
                .bind(id)
                .bind(connection.map_or("", ConnectionId::as_str))
                .bind(now)
                .bind(now.saturating_add(retry_for_ms))
                .execute(&mut *c)
                .await?;
                n += 1;
            }
            Ok((id, n))
        }

        fn notification_from_row(row: &Row) -> Result<Notification> {
            Ok(Notification {
                id: row.try_get("id")?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                kind: row.try_get("kind")?,
                connection_id: row
                    .try_get::<Option<String>, _>("connection_id")?
                    .map(|s| ConnectionId::parse(&s))
                    .transpose()?,
                data: parse_json(row.try_get("data")?, "notifications")?,
                created_at: from_millis(row.try_get("created_at")?),
            })
        }

        pub(crate) async fn list_notifications(c: &mut Conn, tenant: &TenantId, after: i64, limit: i64) -> Result<Vec<Notification>> {
            let rows = sqlx::query(
                "SELECT id, tenant_id, kind, connection_id, data, created_at FROM notifications \
                 WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(tenant.as_str())
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(notification_from_row).collect()
        }

        // ------------------------------------------------------------ webhook endpoints

        pub(crate) async fn insert_webhook_endpoint(
            c: &mut Conn,
            ctx: &Ctx,
            e: &WebhookEndpoint,
            secret: &secrecy::SecretString,
        ) -> Result<()> {
            let vault = ctx.vault()?;
            let sealed = vault.seal(
                &webhook_aad(e.tenant_id.as_str(), &e.id),
                secrecy::ExposeSecret::expose_secret(secret).as_bytes(),
            )?;
            let kinds = serde_json::to_string(&e.kinds).map_err(|err| Error::Invalid(format!("kinds: {err}")))?;
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, tenant_id, url, kinds, key_id, sealed_secret, enabled, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&e.id)
            .bind(e.tenant_id.as_str())
            .bind(&e.url)
            .bind(kinds)
            .bind(vault.current_key_id())
            .bind(sealed)
            .bind(i64::from(e.enabled))
            .bind(to_millis(e.created_at))
            .execute(&mut *c)
            .await?;
            Ok(())
        }

        fn endpoint_from_row(row: &Row) -> Result<WebhookEndpoint> {
            Ok(WebhookEndpoint {
                id: row.try_get("id")?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                url: row.try_get("url")?,
                kinds: serde_json::from_str(row.try_get("kinds")?)
                    .map_err(|err| Error::corrupt("webhook_endpoints", format!("kinds: {err}")))?,
                enabled: row.try_get::<i64, _>("enabled")? != 0,
                created_at: from_millis(row.try_get("created_at")?),
            })
        }

        pub(crate) async fn list_webhook_endpoints(c: &mut Conn, tenant: &TenantId) -> Result<Vec<WebhookEndpoint>> {
            let rows = sqlx::query(
                "SELECT id, tenant_id, url, kinds, enabled, created_at FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id",
            )
            .bind(tenant.as_str())
            .fetch_all(&mut *c)
            .await?;
            rows.iter().map(endpoint_from_row).collect()
        }

        pub(crate) async fn get_webhook_endpoint(c: &mut Conn, tenant: &TenantId, id: &str) -> Result<WebhookEndpoint> {
            let row = sqlx::query(
                "SELECT id, tenant_id, url, kinds, enabled, created_at FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| Error::not_found("webhook endpoint", id))?;
            endpoint_from_row(&row)
        }

        pub(crate) async fn delete_webhook_endpoint(c: &mut Conn, tenant: &TenantId, id: &str) -> Result<()> {
            let r = sqlx::query("DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(id)
                .execute(&mut *c)
                .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("webhook endpoint", id));
            }
            Ok(())
        }

        // ------------------------------------------------------------ webhook deliveries

        const DELIVERY_COLS: &str = "d.id, d.tenant_id, d.endpoint_id, d.notification_id, d.state, d.attempts, \
             d.next_attempt_at, d.give_up_at, d.last_status, d.last_error, d.created_at, d.finished_at, \
             n.kind, n.connection_id";

        fn delivery_from_row(row: &Row) -> Result<WebhookDelivery> {
            Ok(WebhookDelivery {
                id: row.try_get("id")?,
                tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                endpoint_id: row.try_get("endpoint_id")?,
                notification_id: row.try_get("notification_id")?,
                kind: row.try_get("kind")?,
                connection_id: row
                    .try_get::<Option<String>, _>("connection_id")?
                    .map(|s| ConnectionId::parse(&s))
                    .transpose()?,
                state: WebhookDeliveryState::parse(row.try_get("state")?)?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                next_attempt_at: from_millis(row.try_get("next_attempt_at")?),
                give_up_at: from_millis(row.try_get("give_up_at")?),
                last_status: row
                    .try_get::<Option<i64>, _>("last_status")?
                    .and_then(|s| u16::try_from(s).ok()),
                last_error: row.try_get("last_error")?,
                created_at: from_millis(row.try_get("created_at")?),
                finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(from_millis),
            })
        }

        pub(crate) async fn lease_due_deliveries(c: &mut Conn, ctx: &Ctx, limit: i64, lease_ms: i64) -> Result<Vec<DueWebhook>> {
            let now = now_ms(ctx);
            // Only the head of each (endpoint, connection) line is due: a later delivery waits
            // until every earlier one was delivered or given up, which keeps them in order.
            let sql = format!(
                "SELECT d.id FROM webhook_deliveries d \
                 WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                   AND (d.lease_until IS NULL OR d.lease_until < $1) \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.endpoint_id = d.endpoint_id \
                       AND e.order_key = d.order_key AND e.state = 'pending' AND e.id < d.id) \
                 ORDER BY d.id LIMIT $2{SKIP_LOCKED}"
            );
            let ids: Vec<i64> = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *c)
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<std::result::Result<_, _>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                sqlx::query("UPDATE webhook_deliveries SET lease_until = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now.saturating_add(lease_ms))
                    .execute(&mut *c)
                    .await?;
                let sql = format!(
                    "SELECT {DELIVERY_COLS}, n.data, n.created_at AS n_created_at, w.url, w.sealed_secret \
                     FROM webhook_deliveries d JOIN notifications n ON n.id = d.notification_id \
                     JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id = $1"
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(&mut *c).await?;
                let delivery = delivery_from_row(&row)?;
                let sealed: Vec<u8> = row.try_get("sealed_secret")?;
                let secret = ctx
                    .vault()?
                    .open(&webhook_aad(delivery.tenant_id.as_str(), &delivery.endpoint_id), &sealed)?;
                let secret = String::from_utf8(secret.to_vec())
                    .map_err(|_| Error::corrupt("webhook_endpoints", "secret is not UTF-8"))?;
                out.push(DueWebhook {
                    notification: Notification {
                        id: delivery.notification_id,
                        tenant_id: delivery.tenant_id.clone(),
                        kind: delivery.kind.clone(),
                        connection_id: delivery.connection_id.clone(),
                        data: parse_json(row.try_get("data")?, "notifications")?,
                        created_at: from_millis(row.try_get("n_created_at")?),
                    },
                    url: row.try_get("url")?,
                    secret: secrecy::SecretString::from(secret),
                    delivery,
                });
            }
            Ok(out)
        }

        pub(crate) async fn record_delivery_attempt(
            c: &mut Conn,
            ctx: &Ctx,
            id: i64,
            attempt: &AttemptOutcome,
        ) -> Result<WebhookDeliveryState> {
            let now = now_ms(ctx);
            let row = sqlx::query("SELECT give_up_at, attempts FROM webhook_deliveries WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("webhook delivery", id))?;
            let give_up_at: i64 = row.try_get("give_up_at")?;
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(now)
            .bind(attempt.status.map(i64::from))
            .bind(attempt.error.as_deref())
            .bind(i64::try_from(attempt.duration.as_millis()).unwrap_or(i64::MAX))
            .execute(&mut *c)
            .await?;
            let next = attempt.retry_at.map(to_millis);
            let (state, next_at, finished) = if attempt.delivered {
                (WebhookDeliveryState::Delivered, now, Some(now))
            } else {
                match next {
                    Some(t) if t <= give_up_at => (WebhookDeliveryState::Pending, t, None),
                    _ => (WebhookDeliveryState::Failed, now, Some(now)),
                }
            };
            sqlx::query(
                "UPDATE webhook_deliveries SET state = $2, attempts = attempts + 1, next_attempt_at = $3, \
                 lease_until = NULL, last_status = $4, last_error = $5, finished_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(state.as_str())
            .bind(next_at)
            .bind(attempt.status.map(i64::from))
            .bind(attempt.error.as_deref())
            .bind(finished)
            .execute(&mut *c)
            .await?;
            Ok(state)
        }

        pub(crate) async fn list_deliveries(
            c: &mut Conn,
            tenant: &TenantId,
            endpoint: Option<&str>,
            limit: i64,
        ) -> Result<Vec<WebhookDelivery>> {
            let sql = format!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries d JOIN notifications n ON n.id = d.notification_id \
                 WHERE d.tenant_id = $1 AND ($2 = '' OR d.endpoint_id = $2) ORDER BY d.id DESC LIMIT $3"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(endpoint.unwrap_or(""))
                .bind(limit)
                .fetch_all(&mut *c)
                .await?;
            rows.iter().map(delivery_from_row).collect()
        }

        pub(crate) async fn get_delivery(c: &mut Conn, tenant: &TenantId, id: i64) -> Result<WebhookDelivery> {
            let sql = format!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries d JOIN notifications n ON n.id = d.notification_id \
                 WHERE d.tenant_id = $1 AND d.id = $2"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("webhook delivery", id))?;
            delivery_from_row(&row)
        }

        pub(crate) async fn delivery_attempts(c: &mut Conn, tenant: &TenantId, id: i64) -> Result<Vec<DeliveryAttempt>> {
            get_delivery(&mut *c, tenant, id).await?;
            let rows = sqlx::query(
                "SELECT at, status, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(DeliveryAttempt {
                        at: from_millis(r.try_get("at")?),
                        status: r.try_get::<Option<i64>, _>("status")?.and_then(|s| u16::try_from(s).ok()),
                        error: r.try_get("error")?,
                        duration_ms: u64::try_from(r.try_get::<i64, _>("duration_ms")?).unwrap_or(0),
                    })
                })
                .collect()
        }

        pub(crate) async fn redeliver(c: &mut Conn, ctx: &Ctx, tenant: &TenantId, id: i64, retry_for_ms: i64) -> Result<()> {
            let now = now_ms(ctx);
            let r = sqlx::query(
                "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $3, give_up_at = $4, \
                 lease_until = NULL, finished_at = NULL WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id)
            .bind(now)
            .bind(now.saturating_add(retry_for_ms))
            .execute(&mut *c)
            .await?;
            if r.rows_affected() == 0 {
                return Err(Error::not_found("webhook delivery", id));
            }
            Ok(())
        }
    };
}

pub(crate) use define_control_sql;
