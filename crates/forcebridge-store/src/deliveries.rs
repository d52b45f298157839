//! The engine's outbound runtime tables: deliveries (one event's run of one flow of one install),
//! the journal's runtime columns (delivery, step, API, intent/done/undone, correlation key), and
//! the per-connection API budget shared by every worker and node.
//!
//! The SQL is written once (`define_runtime_ops!`) and instantiated for both backends, like
//! `ops.rs`.
//!
//! Invariant: every query on tenant data names the tenant or a connection id the caller read
//! through its tenant; a delivery leaves `pending` only through [`Store::update_deliveries`] or the
//! explicit replay/cancel calls.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{ConnectionId, Event, EventId, InstallId, TenantId};

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its connection's drain (or for its retry or coalescing time).
    Pending,
    /// Applied.
    Done,
    /// Not applied on purpose (a match found several records and the policy says skip; the
    /// workflow is off).
    Skipped,
    /// The flow's filter was false.
    Filtered,
    /// A later event with the same coalescing key replaced it.
    Superseded,
    /// Failed permanently (dead letter); can be replayed.
    Dead,
    /// Cancelled by a person.
    Cancelled,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Done => "done",
            DeliveryState::Skipped => "skipped",
            DeliveryState::Filtered => "filtered",
            DeliveryState::Superseded => "superseded",
            DeliveryState::Dead => "dead",
            DeliveryState::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => DeliveryState::Pending,
            "done" => DeliveryState::Done,
            "skipped" => DeliveryState::Skipped,
            "filtered" => DeliveryState::Filtered,
            "superseded" => DeliveryState::Superseded,
            "dead" => DeliveryState::Dead,
            "cancelled" => DeliveryState::Cancelled,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown delivery state {other:?}; expected pending, done, skipped, filtered, superseded, dead or cancelled"
                )));
            }
        })
    }
}

/// A delivery to create with an accepted event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// The install whose recipe has the flow.
    pub install_id: InstallId,
    /// The install's connection.
    pub connection_id: ConnectionId,
    /// The event.
    pub event_id: EventId,
    /// The flow's name.
    pub flow: String,
    /// Not before this time (a coalescing window's end); `None` means now.
    pub not_before: Option<DateTime<Utc>>,
    /// The coalescing key, if the flow coalesces.
    pub coalesce_key: Option<String>,
    /// The correlation key, if the flow declares one.
    pub correlation_key: Option<String>,
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Its id (ordered by creation).
    pub id: i64,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The install.
    pub install_id: InstallId,
    /// The connection.
    pub connection_id: ConnectionId,
    /// The event.
    pub event_id: EventId,
    /// The flow.
    pub flow: String,
    /// State.
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: u32,
    /// Due time.
    pub not_before: DateTime<Utc>,
    /// Coalescing key.
    pub coalesce_key: Option<String>,
    /// Correlation key.
    pub correlation_key: Option<String>,
    /// The last outcome: `{ "error", "code", "remedy", "api", ... }`.
    pub outcome: Option<serde_json::Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A due delivery with its event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Its event.
    pub event: Event,
}

/// A delivery's new state after a drain worked it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryUpdate {
    /// The delivery.
    pub id: i64,
    /// New state.
    pub state: DeliveryState,
    /// Attempts after this run.
    pub attempts: u32,
    /// Next due time (for `pending`).
    pub not_before: DateTime<Utc>,
    /// Outcome to keep.
    pub outcome: Option<serde_json::Value>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this state.
    pub state: Option<DeliveryState>,
    /// Only this connection.
    pub connection_id: Option<ConnectionId>,
    /// Only this event.
    pub event_id: Option<EventId>,
    /// Only ids below this (paging, newest first).
    pub before_id: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
}

/// A journal row with the runtime's columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalRow {
    /// Sequence number (0 for a row not yet written).
    pub id: i64,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The event, if any.
    pub event_id: Option<EventId>,
    /// The connection written through.
    pub connection_id: ConnectionId,
    /// The delivery, if any.
    pub delivery_id: Option<i64>,
    /// The step id in the flow.
    pub step: Option<String>,
    /// `create`, `update`, `upsert`, `delete`, `chatter`, `undo_delete`, `undo_update`.
    pub operation: String,
    /// The sObject.
    pub sobject: String,
    /// The record id (none for an intent not yet answered).
    pub record_id: Option<String>,
    /// `rest`, `collections`, `composite`, `bulk`, `chatter_batch`.
    pub api: Option<String>,
    /// `intent` (sent, answer not recorded), `done`, `undone`, `failed`.
    pub state: String,
    /// The flow's correlation key.
    pub correlation_key: Option<String>,
    /// Fields written, previous values (`previous`), created flag, external id, …
    pub detail: serde_json::Value,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// The shared API budget of a connection, as last observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BudgetRow {
    /// Requests used in the org's 24-hour window.
    pub used: u64,
    /// The org's allocation.
    pub max: u64,
    /// When observed.
    pub observed_at: DateTime<Utc>,
}

macro_rules! define_runtime_ops {
    () => {
        pub(crate) mod runtime {
            use sqlx::Row as _;

            use super::{Conn, Db};
            use crate::clock::{from_millis, to_millis};
            use crate::deliveries::*;
            use crate::error::{Error, Result};
            use crate::model::*;
            use crate::ops::{parse_json, placeholders, to_u32};

            type Row = <Db as sqlx::Database>::Row;

            const DELIVERY_COLS: &str = "d.id, d.tenant_id, d.install_id, d.connection_id, d.event_id, d.flow, d.state, \
                d.attempts, d.not_before, d.coalesce_key, d.correlation_key, d.outcome, d.created_at, d.updated_at";
            const JOURNAL_COLS: &str = "id, tenant_id, event_id, connection_id, delivery_id, step, operation, sobject, \
                record_id, api, state, correlation_key, detail, created_at";

            fn delivery(row: &Row) -> Result<Delivery> {
                let outcome: Option<String> = row.try_get("outcome")?;
                Ok(Delivery {
                    id: row.try_get("id")?,
                    tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                    install_id: InstallId::parse(row.try_get("install_id")?)?,
                    connection_id: ConnectionId::parse(row.try_get("connection_id")?)?,
                    event_id: EventId::parse(row.try_get("event_id")?)?,
                    flow: row.try_get("flow")?,
                    state: DeliveryState::parse(row.try_get("state")?)
                        .map_err(|_| Error::corrupt("deliveries", "state"))?,
                    attempts: to_u32(row.try_get("attempts")?, "deliveries", "attempts")?,
                    not_before: from_millis(row.try_get("not_before")?),
                    coalesce_key: row.try_get("coalesce_key")?,
                    correlation_key: row.try_get("correlation_key")?,
                    outcome: outcome.map(|s| parse_json(&s, "deliveries")).transpose()?,
                    created_at: from_millis(row.try_get("created_at")?),
                    updated_at: from_millis(row.try_get("updated_at")?),
                })
            }

            fn journal(row: &Row) -> Result<JournalRow> {
                let event: Option<String> = row.try_get("event_id")?;
                let detail: String = row.try_get("detail")?;
                Ok(JournalRow {
                    id: row.try_get("id")?,
                    tenant_id: TenantId::parse(row.try_get("tenant_id")?)?,
                    event_id: event.map(|e| EventId::parse(&e)).transpose()?,
                    connection_id: ConnectionId::parse(row.try_get("connection_id")?)?,
                    delivery_id: row.try_get("delivery_id")?,
                    step: row.try_get("step")?,
                    operation: row.try_get("operation")?,
                    sobject: row.try_get("sobject")?,
                    record_id: row.try_get("record_id")?,
                    api: row.try_get("api")?,
                    state: row.try_get("state")?,
                    correlation_key: row.try_get("correlation_key")?,
                    detail: parse_json(&detail, "journal")?,
                    created_at: from_millis(row.try_get("created_at")?),
                })
            }

            pub(crate) async fn insert_deliveries(
                c: &mut Conn,
                now: i64,
                tenant: &TenantId,
                items: &[NewDelivery],
            ) -> Result<u32> {
                let mut n = 0;
                for d in items {
                    let done = sqlx::query(
                        "INSERT INTO deliveries (tenant_id, install_id, connection_id, event_id, flow, state, attempts, \
                         not_before, coalesce_key, correlation_key, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $8, $9, $9) \
                         ON CONFLICT (install_id, event_id, flow) DO NOTHING",
                    )
                    .bind(tenant.as_str())
                    .bind(d.install_id.as_str())
                    .bind(d.connection_id.as_str())
                    .bind(d.event_id.as_str())
                    .bind(&d.flow)
                    .bind(d.not_before.map_or(now, to_millis))
                    .bind(d.coalesce_key.as_deref())
                    .bind(d.correlation_key.as_deref())
                    .bind(now)
                    .execute(&mut *c)
                    .await?;
                    n += u32::try_from(done.rows_affected()).unwrap_or(0);
                }
                Ok(n)
            }

            pub(crate) async fn coalesce_window(
                c: &mut Conn,
                install: &InstallId,
                flow: &str,
                key: &str,
            ) -> Result<Option<i64>> {
                let row = sqlx::query(
                    "SELECT MIN(not_before) AS nb FROM deliveries WHERE install_id = $1 AND flow = $2 \
                     AND coalesce_key = $3 AND state = 'pending'",
                )
                .bind(install.as_str())
                .bind(flow)
                .bind(key)
                .fetch_one(&mut *c)
                .await?;
                Ok(row.try_get("nb")?)
            }

            pub(crate) async fn has_ready_job(c: &mut Conn, kind: &str, group: &str) -> Result<bool> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND group_key = $2 AND state = 'ready'",
                )
                .bind(kind)
                .bind(group)
                .fetch_one(&mut *c)
                .await?;
                let n: i64 = row.try_get("n")?;
                Ok(n > 0)
            }

            pub(crate) async fn due_deliveries(
                c: &mut Conn,
                connection: &ConnectionId,
                now: i64,
                limit: u32,
            ) -> Result<Vec<DueDelivery>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLS}, e.idempotency_key, e.event_type, e.payload, e.accepted_at \
                     FROM deliveries d JOIN events e ON e.id = d.event_id AND e.tenant_id = d.tenant_id \
                     WHERE d.connection_id = $1 AND d.state = 'pending' AND d.not_before <= $2 \
                     ORDER BY d.id LIMIT $3"
                )))
                .bind(connection.as_str())
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await?;
                rows.iter()
                    .map(|row| {
                        let d = delivery(row)?;
                        let payload: String = row.try_get("payload")?;
                        let event = Event {
                            id: d.event_id.clone(),
                            tenant_id: d.tenant_id.clone(),
                            idempotency_key: row.try_get("idempotency_key")?,
                            event_type: row.try_get("event_type")?,
                            payload: parse_json(&payload, "events")?,
                            accepted_at: from_millis(row.try_get("accepted_at")?),
                        };
                        Ok(DueDelivery { delivery: d, event })
                    })
                    .collect()
            }

            pub(crate) async fn next_due(c: &mut Conn, connection: &ConnectionId) -> Result<Option<i64>> {
                let row = sqlx::query(
                    "SELECT MIN(not_before) AS nb FROM deliveries WHERE connection_id = $1 AND state = 'pending'",
                )
                .bind(connection.as_str())
                .fetch_one(&mut *c)
                .await?;
                Ok(row.try_get("nb")?)
            }

            pub(crate) async fn update_deliveries(c: &mut Conn, now: i64, updates: &[DeliveryUpdate]) -> Result<()> {
                for u in updates {
                    sqlx::query(
                        "UPDATE deliveries SET state = $1, attempts = $2, not_before = $3, outcome = $4, updated_at = $5 \
                         WHERE id = $6",
                    )
                    .bind(u.state.as_str())
                    .bind(i64::from(u.attempts))
                    .bind(to_millis(u.not_before))
                    .bind(u.outcome.as_ref().map(|o| o.to_string()))
                    .bind(now)
                    .bind(u.id)
                    .execute(&mut *c)
                    .await?;
                }
                Ok(())
            }

            pub(crate) async fn list_deliveries(
                c: &mut Conn,
                tenant: &TenantId,
                f: &DeliveryFilter,
            ) -> Result<Vec<Delivery>> {
                let mut sql = format!("SELECT {DELIVERY_COLS} FROM deliveries d WHERE d.tenant_id = $1");
                let mut n = 1;
                let mut push = |sql: &mut String, cond: &str| {
                    n += 1;
                    sql.push_str(&format!(" AND {cond} ${n}"));
                };
                if f.state.is_some() {
                    push(&mut sql, "d.state =");
                }
                if f.connection_id.is_some() {
                    push(&mut sql, "d.connection_id =");
                }
                if f.event_id.is_some() {
                    push(&mut sql, "d.event_id =");
                }
                if f.before_id.is_some() {
                    push(&mut sql, "d.id <");
                }
                sql.push_str(&format!(" ORDER BY d.id DESC LIMIT {}", f.limit.unwrap_or(100).clamp(1, 1000)));
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str());
                if let Some(s) = f.state {
                    q = q.bind(s.as_str());
                }
                if let Some(cid) = &f.connection_id {
                    q = q.bind(cid.as_str());
                }
                if let Some(e) = &f.event_id {
                    q = q.bind(e.as_str());
                }
                if let Some(b) = f.before_id {
                    q = q.bind(b);
                }
                q.fetch_all(&mut *c).await?.iter().map(delivery).collect()
            }

            pub(crate) async fn get_delivery(c: &mut Conn, tenant: &TenantId, id: i64) -> Result<Delivery> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLS} FROM deliveries d WHERE d.tenant_id = $1 AND d.id = $2"
                )))
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| Error::not_found("delivery", id))?;
                delivery(&row)
            }

            pub(crate) async fn move_delivery(
                c: &mut Conn,
                now: i64,
                tenant: &TenantId,
                id: i64,
                from: &[DeliveryState],
                to: DeliveryState,
                reset_attempts: bool,
            ) -> Result<Delivery> {
                let current = get_delivery(c, tenant, id).await?;
                if !from.contains(&current.state) {
                    return Err(Error::Conflict(format!(
                        "delivery {id} is {}, not {}",
                        current.state.as_str(),
                        from.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
                    )));
                }
                sqlx::query(
                    "UPDATE deliveries SET state = $1, attempts = CASE WHEN $2 THEN 0 ELSE attempts END, \
                     not_before = CASE WHEN $2 THEN $3 ELSE not_before END, updated_at = $3 \
                     WHERE tenant_id = $4 AND id = $5",
                )
                .bind(to.as_str())
                .bind(reset_attempts)
                .bind(now)
                .bind(tenant.as_str())
                .bind(id)
                .execute(&mut *c)
                .await?;
                get_delivery(c, tenant, id).await
            }

            pub(crate) async fn requeue_dead(c: &mut Conn, now: i64, tenant: &TenantId, install: &InstallId) -> Result<u64> {
                let done = sqlx::query(
                    "UPDATE deliveries SET state = 'pending', attempts = 0, not_before = $1, updated_at = $1 \
                     WHERE tenant_id = $2 AND install_id = $3 AND state = 'dead'",
                )
                .bind(now)
                .bind(tenant.as_str())
                .bind(install.as_str())
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected())
            }

            pub(crate) async fn journal_write(c: &mut Conn, now: i64, j: &JournalRow) -> Result<i64> {
                let row = sqlx::query(
                    "INSERT INTO journal (tenant_id, event_id, connection_id, delivery_id, step, operation, sobject, \
                     record_id, api, state, correlation_key, detail, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                )
                .bind(j.tenant_id.as_str())
                .bind(j.event_id.as_ref().map(|e| e.as_str()))
                .bind(j.connection_id.as_str())
                .bind(j.delivery_id)
                .bind(j.step.as_deref())
                .bind(&j.operation)
                .bind(&j.sobject)
                .bind(j.record_id.as_deref())
                .bind(j.api.as_deref())
                .bind(&j.state)
                .bind(j.correlation_key.as_deref())
                .bind(j.detail.to_string())
                .bind(now)
                .fetch_one(&mut *c)
                .await?;
                Ok(row.try_get("id")?)
            }

            pub(crate) async fn journal_settle(
                c: &mut Conn,
                id: i64,
                record_id: Option<&str>,
                state: &str,
                detail: Option<&serde_json::Value>,
            ) -> Result<()> {
                sqlx::query(
                    "UPDATE journal SET record_id = COALESCE($1, record_id), state = $2, \
                     detail = COALESCE($3, detail) WHERE id = $4",
                )
                .bind(record_id)
                .bind(state)
                .bind(detail.map(|d| d.to_string()))
                .bind(id)
                .execute(&mut *c)
                .await?;
                Ok(())
            }

            pub(crate) async fn journal_where(
                c: &mut Conn,
                tenant: &TenantId,
                column: &'static str,
                value: &str,
            ) -> Result<Vec<JournalRow>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {JOURNAL_COLS} FROM journal WHERE tenant_id = $1 AND {column} = $2 ORDER BY id"
                )))
                .bind(tenant.as_str())
                .bind(value)
                .fetch_all(&mut *c)
                .await?;
                rows.iter().map(journal).collect()
            }

            pub(crate) async fn journal_for_deliveries(c: &mut Conn, ids: &[i64]) -> Result<Vec<JournalRow>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT {JOURNAL_COLS} FROM journal WHERE delivery_id IN ({}) ORDER BY id",
                    placeholders(1, ids.len())
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut *c).await?.iter().map(journal).collect()
            }

            pub(crate) async fn journal_done_records(
                c: &mut Conn,
                tenant: &TenantId,
                ids: &[String],
            ) -> Result<Vec<String>> {
                let mut out = Vec::new();
                // Well under both backends' limit on bound values per statement.
                for part in ids.chunks(1_000) {
                    let sql = format!(
                        "SELECT DISTINCT record_id FROM journal WHERE tenant_id = $1 AND state = 'done' \
                         AND record_id IN ({})",
                        placeholders(2, part.len())
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str());
                    for id in part {
                        q = q.bind(id.as_str());
                    }
                    for row in q.fetch_all(&mut *c).await? {
                        out.push(row.try_get("record_id")?);
                    }
                }
                Ok(out)
            }

            pub(crate) async fn journal_by_correlation(
                c: &mut Conn,
                connection: &ConnectionId,
                key: &str,
            ) -> Result<Vec<JournalRow>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {JOURNAL_COLS} FROM journal WHERE connection_id = $1 AND correlation_key = $2 ORDER BY id"
                )))
                .bind(connection.as_str())
                .bind(key)
                .fetch_all(&mut *c)
                .await?;
                rows.iter().map(journal).collect()
            }

            pub(crate) async fn budget(c: &mut Conn, connection: &ConnectionId) -> Result<Option<BudgetRow>> {
                let row = sqlx::query("SELECT used, max, observed_at FROM api_budgets WHERE connection_id = $1")
                    .bind(connection.as_str())
                    .fetch_optional(&mut *c)
                    .await?;
                row.map(|r| {
                    let used: i64 = r.try_get("used")?;
                    let max: i64 = r.try_get("max")?;
                    Ok(BudgetRow {
                        used: u64::try_from(used).unwrap_or(0),
                        max: u64::try_from(max).unwrap_or(0),
                        observed_at: from_millis(r.try_get("observed_at")?),
                    })
                })
                .transpose()
            }

            pub(crate) async fn observe_budget(
                c: &mut Conn,
                now: i64,
                connection: &ConnectionId,
                used: u64,
                max: u64,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO api_budgets (connection_id, used, max, observed_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (connection_id) DO UPDATE SET used = excluded.used, max = excluded.max, \
                     observed_at = excluded.observed_at",
                )
                .bind(connection.as_str())
                .bind(i64::try_from(used).unwrap_or(i64::MAX))
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .bind(now)
                .execute(&mut *c)
                .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use define_runtime_ops;
