//! Counts over a tenant's outbound work: events, deliveries by state, and the Salesforce writes
//! the journal recorded by operation — what a dashboard or the demo's summary shows.
//!
//! Invariant: every count is filtered by the tenant, and by a connection the caller read through
//! that tenant; nothing here writes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{ConnectionId, TenantId};
use crate::{Store, TxInner};

/// What a tenant's (or one connection's) outbound work amounts to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Distinct events that reached at least one install.
    pub events: u64,
    /// Deliveries by state (`pending`, `done`, `dead`, …; absent states are 0).
    pub deliveries: BTreeMap<String, u64>,
    /// Writes Salesforce confirmed, by operation (`create`, `update`, `upsert`, `delete`,
    /// `chatter`, `undo_delete`, `undo_update`) — one per record; a write later undone still counts.
    pub writes: BTreeMap<String, u64>,
}

impl Stats {
    /// Records written (every confirmed write, whatever its operation).
    pub fn records_written(&self) -> u64 {
        self.writes.values().sum()
    }

    /// Deliveries in `state`.
    pub fn deliveries_in(&self, state: &str) -> u64 {
        self.deliveries.get(state).copied().unwrap_or(0)
    }
}

/// Totals across every tenant, for the process's metrics (no tenant ids in them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Deliveries by state.
    pub deliveries: BTreeMap<String, u64>,
    /// Journal rows by (API, state): `("collections", "done")`, `("bulk", "failed")`, …
    pub writes: BTreeMap<(String, String), u64>,
    /// Each connection's API budget as last observed: (connection, used, max).
    pub budgets: Vec<(ConnectionId, u64, u64)>,
}

macro_rules! define_stats_ops {
    () => {
        pub(crate) mod stats {
            use std::collections::BTreeMap;

            use sqlx::Row as _;

            use super::Conn;
            use crate::error::Result;
            use crate::model::{ConnectionId, TenantId};
            use crate::stats::{Stats, Totals};

            fn count(n: i64) -> u64 {
                u64::try_from(n).unwrap_or(0)
            }

            async fn grouped(
                c: &mut Conn,
                sql: &str,
                tenant: &TenantId,
                connection: Option<&ConnectionId>,
            ) -> Result<BTreeMap<String, u64>> {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).bind(tenant.as_str());
                if let Some(cid) = connection {
                    q = q.bind(cid.as_str());
                }
                let mut out = BTreeMap::new();
                for row in q.fetch_all(&mut *c).await? {
                    out.insert(
                        row.try_get::<String, _>(0)?,
                        count(row.try_get::<i64, _>(1)?),
                    );
                }
                Ok(out)
            }

            pub(crate) async fn stats(
                c: &mut Conn,
                tenant: &TenantId,
                connection: Option<&ConnectionId>,
            ) -> Result<Stats> {
                let and_conn = if connection.is_some() {
                    " AND connection_id = $2"
                } else {
                    ""
                };
                let sql =
                    format!("SELECT COUNT(DISTINCT event_id) FROM deliveries WHERE tenant_id = $1{and_conn}");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str());
                if let Some(cid) = connection {
                    q = q.bind(cid.as_str());
                }
                let events = count(q.fetch_one(&mut *c).await?.try_get::<i64, _>(0)?);
                let deliveries = grouped(
                    c,
                    &format!(
                        "SELECT state, COUNT(*) FROM deliveries WHERE tenant_id = $1{and_conn} GROUP BY state"
                    ),
                    tenant,
                    connection,
                )
                .await?;
                let writes = grouped(
                    c,
                    &format!(
                        "SELECT operation, COUNT(*) FROM journal WHERE tenant_id = $1{and_conn} \
                         AND state IN ('done', 'undone') GROUP BY operation"
                    ),
                    tenant,
                    connection,
                )
                .await?;
                Ok(Stats {
                    events,
                    deliveries,
                    writes,
                })
            }

            pub(crate) async fn totals(c: &mut Conn) -> Result<Totals> {
                let mut deliveries = BTreeMap::new();
                for row in sqlx::query("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
                    .fetch_all(&mut *c)
                    .await?
                {
                    deliveries.insert(row.try_get::<String, _>(0)?, count(row.try_get::<i64, _>(1)?));
                }
                let mut writes = BTreeMap::new();
                for row in sqlx::query(
                    "SELECT COALESCE(api, 'unknown'), state, COUNT(*) FROM journal GROUP BY COALESCE(api, 'unknown'), state",
                )
                .fetch_all(&mut *c)
                .await?
                {
                    writes.insert(
                        (row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?),
                        count(row.try_get::<i64, _>(2)?),
                    );
                }
                let mut budgets = Vec::new();
                for row in sqlx::query("SELECT connection_id, used, max FROM api_budgets ORDER BY connection_id")
                    .fetch_all(&mut *c)
                    .await?
                {
                    budgets.push((
                        ConnectionId::parse(row.try_get::<&str, _>(0)?)?,
                        count(row.try_get::<i64, _>(1)?),
                        count(row.try_get::<i64, _>(2)?),
                    ));
                }
                Ok(Totals {
                    deliveries,
                    writes,
                    budgets,
                })
            }
        }
    };
}
pub(crate) use define_stats_ops;

impl Store {
    /// Counts of a tenant's outbound work, or of one of its connections'.
    ///
    /// # Errors
    /// Database errors.
    pub async fn stats(&self, tenant: &TenantId, connection: Option<&ConnectionId>) -> Result<Stats> {
        in_read!(self, m, c, _ctx => m::stats::stats(c, tenant, connection).await)
    }

    /// Totals across every tenant, for metrics.
    ///
    /// # Errors
    /// Database errors.
    pub async fn totals(&self) -> Result<Totals> {
        in_read!(self, m, c, _ctx => m::stats::totals(c).await)
    }
}
