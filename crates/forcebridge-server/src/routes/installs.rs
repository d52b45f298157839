//! Installs: a recipe installed on a connection with settings (validation errors name the
//! setting), its provisioning plan, consent and apply, settings, on/off, uninstall (the schema
//! stays in the org). A key with the `installs` scope; thin wrappers over the engine's install API.
//!
//! Invariant: apply names the plan hash the admin saw, so exactly that plan is applied.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use forcebridge_engine::install::{ApplyReport, PlanView};
use forcebridge_store::{ConnectionId, InstallId, RecipeInstall, Scope};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
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

fn install_id(id: &str) -> ApiResult<InstallId> {
    InstallId::parse(id).map_err(|_| ApiError::not_found("install"))
}

/// The tenant's installs.
#[utoipa::path(get, path = "/v1/installs", tag = "installs", security(("tenant_key" = [])),
    responses((status = 200, body = Vec<Object>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<RecipeInstall>>> {
    let tenant = caller.key_with(Scope::Installs)?;
    Ok(Json(state.engine.store().list_installs(tenant).await?))
}

/// Install a recipe on a connection (not yet provisioned: read the plan, then apply).
#[utoipa::path(post, path = "/v1/installs", tag = "installs", request_body = NewInstall, security(("tenant_key" = [])),
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewInstall>,
) -> ApiResult<(StatusCode, Json<RecipeInstall>)> {
    let tenant = caller.key_with(Scope::Installs)?.clone();
    let conn = ConnectionId::parse(&body.connection_id)
        .map_err(|_| ApiError::invalid("connection_id", "connection_id must be a connection's id"))?;
    if state.engine.connection(&tenant, &conn).await.is_err() {
        return Err(ApiError::invalid(
            "connection_id",
            "connection_id names no connection of this tenant",
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
        .install(&tenant, &conn, &body.recipe, settings, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(i)))
}

/// The provisioning plan (what would change in the org), with its hash to consent to.
#[utoipa::path(get, path = "/v1/installs/{install_id}/plan", tag = "installs", security(("tenant_key" = [])),
    params(("install_id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanView>> {
    let tenant = caller.key_with(Scope::Installs)?;
    Ok(Json(state.engine.plan(tenant, &install_id(&id)?).await?))
}

/// Consent and apply the plan with this hash.
#[utoipa::path(post, path = "/v1/installs/{install_id}/apply", tag = "installs", request_body = Apply,
    security(("tenant_key" = [])), params(("install_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Apply>,
) -> ApiResult<Json<ApplyReport>> {
    let tenant = caller.key_with(Scope::Installs)?;
    Ok(Json(
        state
            .engine
            .apply(tenant, &install_id(&id)?, &body.plan_hash, &caller.actor())
            .await?,
    ))
}

/// Change settings (validation errors name the setting).
#[utoipa::path(put, path = "/v1/installs/{install_id}/settings", tag = "installs", request_body = Settings,
    security(("tenant_key" = [])), params(("install_id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Settings>,
) -> ApiResult<Json<RecipeInstall>> {
    let tenant = caller.key_with(Scope::Installs)?;
    Ok(Json(
        state
            .engine
            .set_settings(tenant, &install_id(&id)?, body.settings, &caller.actor())
            .await?,
    ))
}

/// Switch an install on or off.
#[utoipa::path(put, path = "/v1/installs/{install_id}/enabled", tag = "installs", request_body = Enabled,
    security(("tenant_key" = [])), params(("install_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn enabled(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Enabled>,
) -> ApiResult<Json<RecipeInstall>> {
    let tenant = caller.key_with(Scope::Installs)?;
    Ok(Json(
        state
            .engine
            .set_enabled(tenant, &install_id(&id)?, body.enabled, &caller.actor())
            .await?,
    ))
}

/// Uninstall (the provisioned schema stays in the org).
#[utoipa::path(delete, path = "/v1/installs/{install_id}", tag = "installs", security(("tenant_key" = [])),
    params(("install_id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn uninstall(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let tenant = caller.key_with(Scope::Installs)?;
    state
        .engine
        .uninstall(tenant, &install_id(&id)?, &caller.actor())
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
