//! Runs: the background work the API started (an install's apply), with state, attempts,
//! progress and outcome — `GET /v1/runs` (newest first, by install, paged) and
//! `GET /v1/runs/{run_id}`. Callers: a key with the `installs` or `operations` scope, or a
//! session (a member sees the runs on connections it may see).
//!
//! Invariant: every lookup goes through the caller's tenant; another tenant's run, or a run on a
//! connection a member may not see, is 404.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use forcebridge_store::control::{Run, RunFilter};
use forcebridge_store::{InstallId, Scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// How far a run got.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    /// Steps completed.
    pub done: u32,
    /// Steps in all.
    pub total: u32,
    /// The step in hand, or the last one once finished (`object Instruqt_Play__c`,
    /// `permission set Instruqt_Integration`, `access check`).
    pub step: Option<String>,
}

/// Why a run failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunErrorView {
    /// A stable code: `connection_auth_failed`, `salesforce_permission`, `salesforce_unavailable`,
    /// `salesforce_refused`, `not_found`, `unavailable`, `invalid` or `internal`.
    pub code: String,
    /// What failed, in words.
    pub message: String,
    /// What to do next.
    pub remedy: String,
}

/// A run as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// Its id.
    pub id: String,
    /// What it does: `install.apply`.
    pub kind: String,
    /// The install it works on.
    pub install_id: Option<String>,
    /// The connection it works against.
    pub connection_id: Option<String>,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    /// Attempts so far (a transient Salesforce failure is retried with backoff).
    pub attempts: u32,
    /// Steps done of the total.
    pub progress: ProgressView,
    /// Why it failed (`failed` only).
    pub error: Option<RunErrorView>,
    /// What it did (`succeeded` only): for an apply, `{"install", "applied", "access"}`.
    #[schema(value_type = Option<Object>)]
    pub report: Option<Value>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Run> for RunView {
    fn from(r: Run) -> Self {
        Self {
            id: r.id,
            kind: r.kind,
            install_id: r.install_id.map(|i| i.to_string()),
            connection_id: r.connection_id.map(|c| c.to_string()),
            state: r.state.as_str().to_owned(),
            attempts: r.attempts,
            progress: ProgressView {
                done: r.progress.done,
                total: r.progress.total,
                step: r.progress.step,
            },
            error: r.error.map(|e| RunErrorView {
                code: e.code,
                message: e.message,
                remedy: e.remedy,
            }),
            report: r.report,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Filters of the run list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RunQuery {
    /// Only this install's runs.
    pub install_id: Option<String>,
    /// Only runs older than this one (paging, newest first).
    pub before_id: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<u32>,
}

/// Keys need `installs` or `operations`; sessions are limited by what they may see.
fn allowed(caller: &Caller) -> ApiResult<()> {
    if caller.key_or_session(Scope::Installs).is_ok() {
        return Ok(());
    }
    caller.key_or_session(Scope::Operations)
}

/// The connections a member may see; `None` for admins and keys (all of the tenant's).
async fn member_connections(
    state: &AppState,
    caller: &Caller,
) -> ApiResult<Option<Vec<forcebridge_store::ConnectionId>>> {
    match caller.restricted_to() {
        None => Ok(None),
        Some(user) => Ok(Some(
            state
                .engine
                .list_connections(caller.tenant(), Some(user))
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect(),
        )),
    }
}

/// The tenant's runs, newest first.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", security(("tenant_key" = []), ("session" = [])), params(RunQuery),
    responses((status = 200, body = Vec<RunView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<RunQuery>,
) -> ApiResult<Json<Vec<RunView>>> {
    allowed(&caller)?;
    let install_id = q
        .install_id
        .as_deref()
        .map(InstallId::parse)
        .transpose()
        .map_err(|_| ApiError::invalid("install_id", "install_id must be an install's id"))?;
    if let Some(l) = q.limit
        && !(1..=1000).contains(&l)
    {
        return Err(ApiError::invalid("limit", "limit must be 1 to 1000"));
    }
    let filter = RunFilter {
        install_id,
        connection_ids: member_connections(&state, &caller).await?,
        before_id: q.before_id,
        limit: q.limit,
    };
    let runs = state.engine.store().list_runs(caller.tenant(), &filter).await?;
    Ok(Json(runs.into_iter().map(RunView::from).collect()))
}

/// One run: poll it until `state` is `succeeded` or `failed`.
#[utoipa::path(get, path = "/v1/runs/{run_id}", tag = "runs", security(("tenant_key" = []), ("session" = [])),
    params(("run_id" = String, Path)), responses((status = 200, body = RunView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    allowed(&caller)?;
    let run = state.engine.store().get_run(caller.tenant(), &id).await?;
    if let Some(visible) = member_connections(&state, &caller).await?
        && !run.connection_id.as_ref().is_some_and(|c| visible.contains(c))
    {
        return Err(ApiError::not_found("run"));
    }
    Ok(Json(run.into()))
}

/// The run routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get))
}
