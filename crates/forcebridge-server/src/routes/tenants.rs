//! Tenants and their API keys, managed by the vendor with its admin key
//! (`/v1/tenants…`), and a tenant's own keys (`/v1/keys…`, a key with the `all` scope).
//!
//! Invariant: a key's secret appears in exactly one response, the one that created it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use forcebridge_store::{ApiKey, ApiKeyId, Scope, TenantId};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminKey, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Display name (1–200 characters).
    pub name: String,
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A label for people.
    pub label: String,
    /// What it may do: `all`, `events`, `connections`, `sessions`, `installs`, `webhooks`,
    /// `operations`. Default `["all"]`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// An API key (without its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Id.
    pub id: String,
    /// The public part of the key (`fbk_<prefix>_…`).
    pub prefix: String,
    /// Label.
    pub label: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just created: the secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key.
    #[serde(flatten)]
    pub key: KeyView,
    /// The full secret (`fbk_…`); store it now, it is never shown again.
    pub secret: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

fn key_view(k: ApiKey) -> KeyView {
    KeyView {
        id: k.id.to_string(),
        prefix: k.prefix,
        label: k.label,
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    }
}

pub(crate) fn parse_tenant(id: &str) -> ApiResult<TenantId> {
    TenantId::parse(id).map_err(|_| ApiError::not_found("tenant"))
}

fn parse_scopes(scopes: Option<Vec<String>>) -> ApiResult<Vec<Scope>> {
    let scopes = scopes.unwrap_or_else(|| vec!["all".into()]);
    if scopes.is_empty() {
        return Err(ApiError::invalid("scopes", "scopes must name at least one scope"));
    }
    scopes
        .iter()
        .enumerate()
        .map(|(i, s)| Scope::parse(s).map_err(|e| ApiError::invalid(format!("scopes[{i}]"), e.to_string())))
        .collect()
}

async fn create_key(state: &AppState, tenant: &TenantId, body: NewKey, actor: &str) -> ApiResult<CreatedKey> {
    let scopes = parse_scopes(body.scopes)?;
    let (key, secret) = state
        .engine
        .store()
        .create_scoped_api_key(tenant, &body.label, &scopes, actor)
        .await?;
    Ok(CreatedKey {
        key: key_view(key),
        secret: secret.expose_secret().to_owned(),
        scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
    })
}

/// Create a tenant (vendor admin).
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = NewTenant,
    security(("admin_key" = [])),
    responses((status = 201, body = TenantView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    _admin: AdminKey,
    ApiJson(body): ApiJson<NewTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let t = state
        .engine
        .store()
        .create_tenant(&body.name)
        .await
        .map_err(|e| {
            if e.kind() == forcebridge_store::ErrorKind::Invalid {
                ApiError::invalid("name", e.to_string())
            } else {
                e.into()
            }
        })?;
    Ok((
        StatusCode::CREATED,
        Json(TenantView {
            id: t.id.to_string(),
            name: t.name,
            created_at: t.created_at,
        }),
    ))
}

/// Read a tenant (vendor admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}", tag = "tenants", security(("admin_key" = [])),
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = TenantView), (status = 404, body = ErrorBody)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    _admin: AdminKey,
    Path(tenant_id): Path<String>,
) -> ApiResult<Json<TenantView>> {
    let t = state
        .engine
        .store()
        .get_tenant(&parse_tenant(&tenant_id)?)
        .await?;
    Ok(Json(TenantView {
        id: t.id.to_string(),
        name: t.name,
        created_at: t.created_at,
    }))
}

/// Create an API key for a tenant (vendor admin); the secret is in this answer only.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/keys", tag = "tenants", request_body = NewKey,
    security(("admin_key" = [])), params(("tenant_id" = String, Path)),
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn admin_create_key(
    State(state): State<AppState>,
    _admin: AdminKey,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let tenant = parse_tenant(&tenant_id)?;
    Ok((
        StatusCode::CREATED,
        Json(create_key(&state, &tenant, body, "vendor_admin").await?),
    ))
}

/// List a tenant's API keys (vendor admin).
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/keys", tag = "tenants", security(("admin_key" = [])),
    params(("tenant_id" = String, Path)), responses((status = 200, body = Vec<KeyView>), (status = 404, body = ErrorBody)))]
pub async fn admin_list_keys(
    State(state): State<AppState>,
    _admin: AdminKey,
    Path(tenant_id): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    let tenant = parse_tenant(&tenant_id)?;
    state.engine.store().get_tenant(&tenant).await?;
    let keys = state.engine.store().list_api_keys(&tenant).await?;
    Ok(Json(keys.into_iter().map(key_view).collect()))
}

/// Revoke a tenant's API key (vendor admin).
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/keys/{key_id}", tag = "tenants", security(("admin_key" = [])),
    params(("tenant_id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn admin_revoke_key(
    State(state): State<AppState>,
    _admin: AdminKey,
    Path((tenant_id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let tenant = parse_tenant(&tenant_id)?;
    let id = ApiKeyId::parse(&key_id).map_err(|_| ApiError::not_found("api key"))?;
    state
        .engine
        .store()
        .revoke_api_key(&tenant, &id, "vendor_admin")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling tenant's API keys (a key with the `all` scope).
#[utoipa::path(get, path = "/v1/keys", tag = "keys", security(("tenant_key" = [])),
    responses((status = 200, body = Vec<KeyView>), (status = 403, body = ErrorBody)))]
pub async fn list_keys(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<KeyView>>> {
    let tenant = caller.key_with(Scope::All)?;
    let keys = state.engine.store().list_api_keys(tenant).await?;
    Ok(Json(keys.into_iter().map(key_view).collect()))
}

/// Create another key for the calling tenant (a key with the `all` scope).
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = NewKey, security(("tenant_key" = [])),
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_own_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let tenant = caller.key_with(Scope::All)?.clone();
    Ok((
        StatusCode::CREATED,
        Json(create_key(&state, &tenant, body, &caller.actor()).await?),
    ))
}

/// Revoke one of the calling tenant's keys (a key with the `all` scope).
#[utoipa::path(delete, path = "/v1/keys/{key_id}", tag = "keys", security(("tenant_key" = [])),
    params(("key_id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke_own_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    let tenant = caller.key_with(Scope::All)?;
    let id = ApiKeyId::parse(&key_id).map_err(|_| ApiError::not_found("api key"))?;
    state
        .engine
        .store()
        .revoke_api_key(tenant, &id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant and key routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant))
        .routes(routes!(get_tenant))
        .routes(routes!(admin_create_key, admin_list_keys))
        .routes(routes!(admin_revoke_key))
        .routes(routes!(list_keys, create_own_key))
        .routes(routes!(revoke_own_key))
}
