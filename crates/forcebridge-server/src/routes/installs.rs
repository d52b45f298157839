//! Installs: a recipe installed on a connection with settings (validation errors name the
//! setting), its provisioning plan, consent and apply (a run in the background: `202` and the
//! run to poll), settings, on/off, uninstall (the schema stays in the org unless asked). Callers:
//! a key with the `installs` scope, or a session with the connection routes' rules — a member
//! sees the installs on connections it may see and changes only those on its own personal
//! connections; an admin manages all of the tenant's. Thin wrappers over the engine's install API.
//!
//! Invariants: apply names the plan hash the admin saw, so exactly that plan is applied; an
//! install on a connection a member may not see is "not found", like another tenant's.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use forcebridge_engine::install::PlanView;
use forcebridge_store::{ConnectionId, InstallId, RecipeInstall, Scope};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::connections::{changeable, visible};
use crate::routes::runs::RunView;
use crate::state::AppState;

/// Install a recipe.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstall {
    /// The connection to run against.
    pub connection_id: String,
    /// The recipe's name.
    pub recipe: String,
    /// The tenant's settings for it (validated against the recipe).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<Value>,
}

/// Consent to a plan.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// The `hash` of the plan that was shown.
    pub plan_hash: String,
}

/// New settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The settings.
    #[schema(value_type = Object)]
    pub settings: Value,
}

/// Switch an install on or off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enabled {
    /// Whether it runs.
    pub enabled: bool,
}

/// Uninstall options.
#[derive(Debug, Deserialize, IntoParams)]
pub struct UninstallQuery {
    /// Also delete what the install provisioned in the org (its custom objects and fields, with
    /// their data, and its permission set). Default false: the schema stays.
    pub remove_schema: Option<bool>,
}

fn install_id(id: &str) -> ApiResult<InstallId> {
    InstallId::parse(id).map_err(|_| ApiError::not_found("install"))
}

/// The caller's install `id`: a session member must be able to see its connection (else 404) and,
/// to `change` it, own that connection (else 403).
async fn load(state: &AppState, caller: &Caller, id: &str, change: bool) -> ApiResult<RecipeInstall> {
    caller.key_or_session(Scope::Installs)?;
    let id = install_id(id)?;
    let inst = state.engine.installation(caller.tenant(), &id).await?;
    if caller.restricted_to().is_some() {
        let conn = state
            .engine
            .connection(caller.tenant(), &inst.connection_id)
            .await?;
        if !visible(caller, &conn) {
            return Err(ApiError::not_found("install"));
        }
        if change && !changeable(caller, &conn) {
            return Err(ApiError::forbidden(
                "a member may change only the installs on their own personal connections; ask a tenant admin",
            ));
        }
    }
    Ok(inst)
}

/// The installs the caller may see.
#[utoipa::path(get, path = "/v1/installs", tag = "installs", security(("tenant_key" = []), ("session" = [])),
    responses((status = 200, body = Vec<Object>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<RecipeInstall>>> {
    caller.key_or_session(Scope::Installs)?;
    let all = state.engine.store().list_installs(caller.tenant()).await?;
    let Some(user) = caller.restricted_to() else {
        return Ok(Json(all));
    };
    let mine: Vec<ConnectionId> = state
        .engine
        .list_connections(caller.tenant(), Some(user))
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    Ok(Json(
        all.into_iter()
            .filter(|i| mine.contains(&i.connection_id))
            .collect(),
    ))
}

/// Install a recipe on a connection (not yet provisioned: read the plan, then apply).
#[utoipa::path(post, path = "/v1/installs", tag = "installs", request_body = NewInstall,
    security(("tenant_key" = []), ("session" = [])),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewInstall>,
) -> ApiResult<(StatusCode, Json<RecipeInstall>)> {
    caller.key_or_session(Scope::Installs)?;
    let tenant = caller.tenant().clone();
    let unknown = || {
        ApiError::invalid(
            "connection_id",
            "connection_id names no connection of this tenant",
        )
    };
    let conn_id = ConnectionId::parse(&body.connection_id)
        .map_err(|_| ApiError::invalid("connection_id", "connection_id must be a connection's id"))?;
    let conn = state
        .engine
        .connection(&tenant, &conn_id)
        .await
        .map_err(|_| unknown())?;
    if !visible(&caller, &conn) {
        return Err(unknown());
    }
    if !changeable(&caller, &conn) {
        return Err(ApiError::forbidden(
            "a member may install only on their own personal connections; ask a tenant admin",
        ));
    }
    if state.engine.recipes().get(&body.recipe).is_none() {
        return Err(ApiError::invalid(
            "recipe",
            format!("no recipe named {:?} is loaded on this server", body.recipe),
        ));
    }
    let settings = body.settings.unwrap_or_else(|| Value::Object(Default::default()));
    let i = state
        .engine
        .install(&tenant, &conn_id, &body.recipe, settings, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(i)))
}

/// The provisioning plan (what would change in the org), with its hash to consent to.
#[utoipa::path(get, path = "/v1/installs/{install_id}/plan", tag = "installs", security(("tenant_key" = []), ("session" = [])),
    params(("install_id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanView>> {
    let inst = load(&state, &caller, &id, false).await?;
    Ok(Json(state.engine.plan(caller.tenant(), &inst.id).await?))
}

/// Consent to the plan with this hash and apply it in the background: `202` with the run (and
/// `Location: /v1/runs/{id}`) to poll until it `succeeded` or `failed`. While a run of this install
/// is queued or running, that run is answered and nothing new starts.
#[utoipa::path(post, path = "/v1/installs/{install_id}/apply", tag = "installs", request_body = Apply,
    security(("tenant_key" = []), ("session" = [])), params(("install_id" = String, Path)),
    responses((status = 202, body = RunView, headers(("location" = String, description = "the run: /v1/runs/{run_id}"))),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Apply>,
) -> ApiResult<(StatusCode, HeaderMap, Json<RunView>)> {
    let inst = load(&state, &caller, &id, true).await?;
    let run = state
        .engine
        .start_apply(caller.tenant(), &inst.id, &body.plan_hash, &caller.actor())
        .await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/runs/{}", run.id)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::ACCEPTED, headers, Json(run.into())))
}

/// Change settings (validation errors name the setting).
#[utoipa::path(put, path = "/v1/installs/{install_id}/settings", tag = "installs", request_body = Settings,
    security(("tenant_key" = []), ("session" = [])), params(("install_id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Settings>,
) -> ApiResult<Json<RecipeInstall>> {
    let inst = load(&state, &caller, &id, true).await?;
    Ok(Json(
        state
            .engine
            .set_settings(caller.tenant(), &inst.id, body.settings, &caller.actor())
            .await?,
    ))
}

/// Switch an install on or off.
#[utoipa::path(put, path = "/v1/installs/{install_id}/enabled", tag = "installs", request_body = Enabled,
    security(("tenant_key" = []), ("session" = [])), params(("install_id" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn enabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Enabled>,
) -> ApiResult<Json<RecipeInstall>> {
    let inst = load(&state, &caller, &id, true).await?;
    Ok(Json(
        state
            .engine
            .set_enabled(caller.tenant(), &inst.id, body.enabled, &caller.actor())
            .await?,
    ))
}

/// Uninstall. The provisioned schema stays in the org unless `remove_schema=true`.
#[utoipa::path(delete, path = "/v1/installs/{install_id}", tag = "installs", security(("tenant_key" = []), ("session" = [])),
    params(("install_id" = String, Path), UninstallQuery),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn uninstall(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<UninstallQuery>,
) -> ApiResult<StatusCode> {
    let inst = load(&state, &caller, &id, true).await?;
    state
        .engine
        .uninstall_with(
            caller.tenant(),
            &inst.id,
            q.remove_schema.unwrap_or(false),
            &caller.actor(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The install routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(plan))
        .routes(routes!(apply))
        .routes(routes!(settings))
        .routes(routes!(enabled))
        .routes(routes!(uninstall))
}
