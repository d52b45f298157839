//! Health and metrics: `/healthz` (the process answers), `/readyz` (the database answers),
//! `/metrics` (Prometheus text).
//!
//! Invariant: none of these needs credentials or reveals tenant data.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// The process can reach its database and take work.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<axum::Json<Health>> {
    match state.engine.store().is_initialised().await {
        Ok(true) => Ok(axum::Json(Health { status: "ok" })),
        Ok(false) => Err(ApiError::not_ready("the database holds no forcebridge store yet")),
        Err(e) => Err(ApiError::not_ready(format!("the database does not answer: {e}"))),
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(stats) = state.engine.store().queue_stats().await {
        metrics::gauge!("forcebridge_queue_dead_jobs").set(stats.dead as f64);
        for (kind, st, n) in &stats.by_kind_state {
            metrics::gauge!("forcebridge_queue_jobs", "kind" => kind.clone(), "state" => st.as_str())
                .set(*n as f64);
        }
        let age = stats.oldest_ready_at.map_or(0.0, |t| {
            (state.engine.clock().now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        metrics::gauge!("forcebridge_queue_oldest_ready_age_seconds").set(age);
    }
    // Outbound work as the store holds it, so every node reports the same totals.
    if let Ok(t) = state.engine.store().totals().await {
        for (st, n) in &t.deliveries {
            metrics::gauge!("forcebridge_deliveries", "state" => st.clone()).set(*n as f64);
        }
        for ((api, st), n) in &t.writes {
            metrics::gauge!("forcebridge_salesforce_writes", "api" => api.clone(), "state" => st.clone())
                .set(*n as f64);
        }
        for (conn, used, max) in &t.budgets {
            metrics::gauge!("forcebridge_api_budget_used", "connection" => conn.to_string())
                .set(*used as f64);
            metrics::gauge!("forcebridge_api_budget_remaining", "connection" => conn.to_string())
                .set(max.saturating_sub(*used) as f64);
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The health routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}
