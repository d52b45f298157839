//! Operations: deliveries (runs of an event's flows) with state and attempts, dead letters with
//! the Salesforce error, replay and cancel, the journal per event and per record, a connection's
//! API budget. A key with the `operations` scope; thin wrappers over the runtime's API.
//!
//! Invariant: every call is scoped to the caller's tenant; a foreign id is 404.

use axum::Json;
use axum::extract::{Path, Query, State};
use forcebridge_store::{
    BudgetRow, ConnectionId, Delivery, DeliveryFilter, DeliveryState, EventId, JournalRow, Scope,
};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// Filters of the delivery list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// `pending`, `done`, `skipped`, `filtered`, `superseded`, `dead` or `cancelled`.
    pub state: Option<String>,
    /// Only this connection's.
    pub connection_id: Option<String>,
    /// Only this event's.
    pub event_id: Option<String>,
    /// Only ids below this (paging, newest first).
    pub before_id: Option<i64>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<u32>,
}

/// Which record.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordQuery {
    /// The Salesforce record id.
    pub record_id: String,
}

const STATES: [DeliveryState; 7] = [
    DeliveryState::Pending,
    DeliveryState::Done,
    DeliveryState::Skipped,
    DeliveryState::Filtered,
    DeliveryState::Superseded,
    DeliveryState::Dead,
    DeliveryState::Cancelled,
];

/// Deliveries, newest first.
#[utoipa::path(get, path = "/v1/deliveries", tag = "operations", security(("tenant_key" = [])), params(DeliveryQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Vec<Delivery>>> {
    let tenant = caller.key_with(Scope::Operations)?;
    let st = match q.state.as_deref() {
        None => None,
        Some(s) => Some(STATES.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            ApiError::invalid(
                "state",
                "state must be pending, done, skipped, filtered, superseded, dead or cancelled",
            )
        })?),
    };
    let connection_id = q
        .connection_id
        .as_deref()
        .map(ConnectionId::parse)
        .transpose()
        .map_err(|_| ApiError::invalid("connection_id", "connection_id must be a connection's id"))?;
    let event_id = q
        .event_id
        .as_deref()
        .map(EventId::parse)
        .transpose()
        .map_err(|_| ApiError::invalid("event_id", "event_id must be an event's id"))?;
    if let Some(l) = q.limit
        && !(1..=1000).contains(&l)
    {
        return Err(ApiError::invalid("limit", "limit must be 1 to 1000"));
    }
    let filter = DeliveryFilter {
        state: st,
        connection_id,
        event_id,
        before_id: q.before_id,
        limit: q.limit,
    };
    Ok(Json(state.engine.deliveries(tenant, &filter).await?))
}

fn delivery_id(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::not_found("delivery"))
}

/// Replay a dead (or cancelled) delivery.
#[utoipa::path(post, path = "/v1/deliveries/{delivery_id}/replay", tag = "operations", security(("tenant_key" = [])),
    params(("delivery_id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    let tenant = caller.key_with(Scope::Operations)?;
    Ok(Json(state.engine.replay(tenant, delivery_id(&id)?).await?))
}

/// Cancel a pending delivery.
#[utoipa::path(post, path = "/v1/deliveries/{delivery_id}/cancel", tag = "operations", security(("tenant_key" = [])),
    params(("delivery_id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    let tenant = caller.key_with(Scope::Operations)?;
    Ok(Json(state.engine.cancel(tenant, delivery_id(&id)?).await?))
}

/// Every Salesforce write made for an event.
#[utoipa::path(get, path = "/v1/events/{event_id}/journal", tag = "operations", security(("tenant_key" = [])),
    params(("event_id" = String, Path)), responses((status = 200, body = Vec<Object>), (status = 404, body = ErrorBody)))]
pub async fn event_journal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<JournalRow>>> {
    let tenant = caller.key_with(Scope::Operations)?;
    let id = EventId::parse(&id).map_err(|_| ApiError::not_found("event"))?;
    Ok(Json(state.engine.journal_for_event(tenant, &id).await?))
}

/// Every Salesforce write made to a record.
#[utoipa::path(get, path = "/v1/journal", tag = "operations", security(("tenant_key" = [])), params(RecordQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
pub async fn record_journal(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<RecordQuery>,
) -> ApiResult<Json<Vec<JournalRow>>> {
    let tenant = caller.key_with(Scope::Operations)?;
    Ok(Json(state.engine.journal_for_record(tenant, &q.record_id).await?))
}

/// A connection's shared API budget as last observed (`null` before its first call).
#[utoipa::path(get, path = "/v1/connections/{connection_id}/budget", tag = "operations", security(("tenant_key" = [])),
    params(("connection_id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn budget(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Option<BudgetRow>>> {
    let tenant = caller.key_with(Scope::Operations)?;
    let id = ConnectionId::parse(&id).map_err(|_| ApiError::not_found("connection"))?;
    let b = state.engine.budget(tenant, &id).await?;
    if let Some(row) = &b {
        metrics::gauge!("forcebridge_api_budget_used", "connection" => id.to_string()).set(row.used as f64);
    }
    Ok(Json(b))
}

/// Which work the counts cover.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsQuery {
    /// Only this connection's (default: the whole tenant's).
    pub connection_id: Option<String>,
}

/// Counts of outbound work: events, deliveries by state, Salesforce writes by operation.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// Distinct events that reached at least one install.
    pub events: u64,
    /// Deliveries by state (`pending`, `done`, `dead`, …).
    pub deliveries: BTreeMap<String, u64>,
    /// Confirmed Salesforce writes by operation (`create`, `upsert`, `chatter`, …).
    pub writes: BTreeMap<String, u64>,
    /// Every confirmed write, whatever its operation.
    pub records_written: u64,
}

/// Counts of the tenant's (or one connection's) outbound work, for dashboards and progress.
#[utoipa::path(get, path = "/v1/stats", tag = "operations", security(("tenant_key" = [])), params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StatsQuery>,
) -> ApiResult<Json<StatsView>> {
    let tenant = caller.key_with(Scope::Operations)?;
    let connection = match q.connection_id.as_deref() {
        None => None,
        Some(s) => {
            let id = ConnectionId::parse(s)
                .map_err(|_| ApiError::invalid("connection_id", "connection_id must be a connection's id"))?;
            // Another tenant's connection is not found, never zero counts.
            state.engine.connection(tenant, &id).await?;
            Some(id)
        }
    };
    let s = state.engine.store().stats(tenant, connection.as_ref()).await?;
    Ok(Json(StatsView {
        events: s.events,
        records_written: s.records_written(),
        deliveries: s.deliveries,
        writes: s.writes,
    }))
}

/// The operations routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deliveries))
        .routes(routes!(replay))
        .routes(routes!(cancel))
        .routes(routes!(event_journal))
        .routes(routes!(record_journal))
        .routes(routes!(budget))
        .routes(routes!(stats))
}
