//! [`Store`] and [`Tx`] methods over the runtime tables (`deliveries.rs` holds the types and SQL).
//!
//! Invariant: the methods that take a tenant filter by it; the drain-side methods take a
//! connection id that the engine read through its tenant.

use chrono::{DateTime, Utc};

use crate::clock::{from_millis, to_millis};
use crate::deliveries::*;
use crate::error::{Error, Result};
use crate::model::{ConnectionId, EventId, InstallId, TenantId};
use crate::{Store, Tx, TxInner};

impl Store {
    /// Pending deliveries of a connection that are due at `now`, oldest first, with their events.
    ///
    /// # Errors
    /// Database errors.
    pub async fn due_deliveries(
        &self,
        connection: &ConnectionId,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        in_read!(self, m, c, _ctx => m::runtime::due_deliveries(c, connection, to_millis(now), limit).await)
    }

    /// When the connection's next pending delivery is due, if it has any.
    ///
    /// # Errors
    /// Database errors.
    pub async fn next_due_delivery(&self, connection: &ConnectionId) -> Result<Option<DateTime<Utc>>> {
        let ms = in_read!(self, m, c, _ctx => m::runtime::next_due(c, connection).await)?;
        Ok(ms.map(from_millis))
    }

    /// A tenant's deliveries, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_deliveries(&self, tenant: &TenantId, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        in_read!(self, m, c, _ctx => m::runtime::list_deliveries(c, tenant, filter).await)
    }

    /// One delivery of a tenant.
    ///
    /// # Errors
    /// [`Error::NotFound`] (also for another tenant's delivery).
    pub async fn get_delivery(&self, tenant: &TenantId, id: i64) -> Result<Delivery> {
        in_read!(self, m, c, _ctx => m::runtime::get_delivery(c, tenant, id).await)
    }

    /// Moves a delivery from one of `from` to `to` (replay: dead → pending with attempts reset;
    /// cancel: pending or dead → cancelled).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Conflict`] when it is in another state.
    pub async fn move_delivery(
        &self,
        tenant: &TenantId,
        id: i64,
        from: &[DeliveryState],
        to: DeliveryState,
        reset_attempts: bool,
    ) -> Result<Delivery> {
        in_tx!(self, m, c, ctx => {
            let now = to_millis(ctx.clock.now());
            m::runtime::move_delivery(c, now, tenant, id, from, to, reset_attempts).await
        })
    }

    /// Puts every dead delivery of an install back to pending with its attempts reset (after the
    /// cause was fixed: the schema re-provisioned, the settings changed); returns how many.
    ///
    /// # Errors
    /// Database errors.
    pub async fn requeue_dead(&self, tenant: &TenantId, install: &InstallId) -> Result<u64> {
        in_tx!(self, m, c, ctx => {
            let now = to_millis(ctx.clock.now());
            m::runtime::requeue_dead(c, now, tenant, install).await
        })
    }

    /// Journal rows of a tenant's event, in order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_rows_for_event(
        &self,
        tenant: &TenantId,
        event: &EventId,
    ) -> Result<Vec<JournalRow>> {
        in_read!(self, m, c, _ctx => m::runtime::journal_where(c, tenant, "event_id", event.as_str()).await)
    }

    /// Journal rows that wrote one record, in order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_rows_for_record(
        &self,
        tenant: &TenantId,
        record_id: &str,
    ) -> Result<Vec<JournalRow>> {
        in_read!(self, m, c, _ctx => m::runtime::journal_where(c, tenant, "record_id", record_id).await)
    }

    /// Of `record_ids`, those a `done` journal row of the tenant claims as written (crash
    /// recovery asks this for many candidate records at once).
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_done_records(
        &self,
        tenant: &TenantId,
        record_ids: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let ids =
            in_read!(self, m, c, _ctx => m::runtime::journal_done_records(c, tenant, record_ids).await)?;
        Ok(ids.into_iter().collect())
    }

    /// Journal rows of these deliveries (intents left by a crashed run included), in order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_for_deliveries(&self, ids: &[i64]) -> Result<Vec<JournalRow>> {
        in_read!(self, m, c, _ctx => m::runtime::journal_for_deliveries(c, ids).await)
    }

    /// Journal rows with a correlation key on a connection, in order.
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_by_correlation(
        &self,
        connection: &ConnectionId,
        key: &str,
    ) -> Result<Vec<JournalRow>> {
        in_read!(self, m, c, _ctx => m::runtime::journal_by_correlation(c, connection, key).await)
    }

    /// Writes journal rows (e.g. intents before a call) in one transaction; returns their ids.
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_write_many(&self, rows: &[JournalRow]) -> Result<Vec<i64>> {
        in_tx!(self, m, c, ctx => {
            let now = to_millis(ctx.clock.now());
            let mut ids = Vec::with_capacity(rows.len());
            for r in rows {
                ids.push(m::runtime::journal_write(c, now, r).await?);
            }
            Ok::<_, Error>(ids)
        })
    }

    /// The connection's shared API budget, as last observed by any node.
    ///
    /// # Errors
    /// Database errors.
    pub async fn budget(&self, connection: &ConnectionId) -> Result<Option<BudgetRow>> {
        in_read!(self, m, c, _ctx => m::runtime::budget(c, connection).await)
    }

    /// Records the connection's API usage as Salesforce last reported it.
    ///
    /// # Errors
    /// Database errors.
    pub async fn observe_budget(&self, connection: &ConnectionId, used: u64, max: u64) -> Result<()> {
        in_tx!(self, m, c, ctx => {
            let now = to_millis(ctx.clock.now());
            m::runtime::observe_budget(c, now, connection, used, max).await
        })
    }
}

impl Tx {
    /// Creates deliveries for an accepted event (a delivery that exists is left as it is);
    /// returns how many were new.
    ///
    /// # Errors
    /// Database errors.
    pub async fn insert_deliveries(&mut self, tenant: &TenantId, items: &[NewDelivery]) -> Result<u32> {
        on_tx!(self, m, c, ctx => {
            let now = to_millis(ctx.clock.now());
            m::runtime::insert_deliveries(c, now, tenant, items).await
        })
    }

    /// The due time of the pending coalescing window of `(install, flow, key)`, if one is open.
    ///
    /// # Errors
    /// Database errors.
    pub async fn coalesce_window(
        &mut self,
        install: &InstallId,
        flow: &str,
        key: &str,
    ) -> Result<Option<DateTime<Utc>>> {
        let ms = on_tx!(self, m, c, _ctx => m::runtime::coalesce_window(c, install, flow, key).await)?;
        Ok(ms.map(from_millis))
    }

    /// Whether a job of `kind` in `group` is ready (not yet leased).
    ///
    /// # Errors
    /// Database errors.
    pub async fn has_ready_job(&mut self, kind: &str, group: &str) -> Result<bool> {
        on_tx!(self, m, c, _ctx => m::runtime::has_ready_job(c, kind, group).await)
    }

    /// Records what a drain did to its deliveries.
    ///
    /// # Errors
    /// Database errors.
    pub async fn update_deliveries(&mut self, updates: &[DeliveryUpdate]) -> Result<()> {
        on_tx!(self, m, c, ctx => {
            let now = to_millis(ctx.clock.now());
            m::runtime::update_deliveries(c, now, updates).await
        })
    }

    /// Writes a journal row; returns its id.
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_write(&mut self, row: &JournalRow) -> Result<i64> {
        on_tx!(self, m, c, ctx => {
            let now = to_millis(ctx.clock.now());
            m::runtime::journal_write(c, now, row).await
        })
    }

    /// Settles a journal row: its record id, state (`done`, `failed`, `undone`) and detail.
    ///
    /// # Errors
    /// Database errors.
    pub async fn journal_settle(
        &mut self,
        id: i64,
        record_id: Option<&str>,
        state: &str,
        detail: Option<&serde_json::Value>,
    ) -> Result<()> {
        on_tx!(self, m, c, _ctx => m::runtime::journal_settle(c, id, record_id, state, detail).await)
    }
}
