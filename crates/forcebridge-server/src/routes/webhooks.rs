//! Webhook endpoints, the delivery log and redelivery, and the notification feed (a key with
//! the `webhooks` scope). Deliveries are signed and sent by the engine's deliverer.
//!
//! Invariant: an endpoint's secret is in the creating answer only.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use forcebridge_engine::control::notify::{NotificationKind, RETRY_FOR};
use forcebridge_store::{DeliveryAttempt, Notification, Scope, WebhookDelivery, WebhookEndpoint};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// Where to POST (http or https).
    pub url: String,
    /// Notification kinds (`connection.token_expired`, …) or `["*"]` for all (the default).
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
}

/// An endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    /// Id.
    pub id: String,
    /// URL.
    pub url: String,
    /// Kinds received.
    pub kinds: Vec<String>,
    /// Whether it receives new notifications.
    pub enabled: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// An endpoint just created, with its signing secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpoint {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The signing secret (`whsec_…`): verify `Forcebridge-Signature` with it.
    pub secret: String,
}

/// A delivery with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The delivery.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub delivery: WebhookDelivery,
    /// Its attempts, oldest first (only when reading one delivery).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub attempts: Option<Vec<DeliveryAttempt>>,
}

/// Filters of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveryQuery {
    /// Only this endpoint's.
    pub endpoint_id: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Paging of the notification feed.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// Only notifications after this id.
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

fn view(e: WebhookEndpoint) -> EndpointView {
    EndpointView {
        id: e.id,
        url: e.url,
        kinds: e.kinds,
        enabled: e.enabled,
        created_at: e.created_at,
    }
}

fn limit(l: Option<u32>) -> ApiResult<u32> {
    match l {
        None => Ok(100),
        Some(n @ 1..=1000) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", "limit must be 1 to 1000")),
    }
}

fn delivery_id(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::not_found("webhook delivery"))
}

/// Add an endpoint.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = NewEndpoint, security(("tenant_key" = [])),
    responses((status = 201, body = CreatedEndpoint), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewEndpoint>,
) -> ApiResult<(StatusCode, Json<CreatedEndpoint>)> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    let kinds = body.kinds.unwrap_or_else(|| vec!["*".into()]);
    for (i, k) in kinds.iter().enumerate() {
        if k != "*" && NotificationKind::parse(k).is_none() {
            return Err(ApiError::invalid(
                format!("kinds[{i}]"),
                format!(
                    "unknown kind {k:?}; expected \"*\" or one of: {}",
                    NotificationKind::ALL.map(NotificationKind::as_str).join(", ")
                ),
            ));
        }
    }
    let parsed = url::Url::parse(&body.url)
        .map_err(|_| ApiError::invalid("url", "url must be an absolute http(s) URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::invalid("url", "url must be an http(s) URL"));
    }
    let (e, secret) = state
        .engine
        .store()
        .create_webhook_endpoint(tenant, &body.url, &kinds)
        .await
        .map_err(|e| {
            ApiError::invalid(
                if e.to_string().contains("kinds") {
                    "kinds"
                } else {
                    "url"
                },
                e.to_string(),
            )
        })?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedEndpoint {
            endpoint: view(e),
            secret: secret.expose_secret().to_owned(),
        }),
    ))
}

/// The tenant's endpoints.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("tenant_key" = [])),
    responses((status = 200, body = Vec<EndpointView>)))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<EndpointView>>> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    let all = state.engine.store().list_webhook_endpoints(tenant).await?;
    Ok(Json(all.into_iter().map(view).collect()))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks", security(("tenant_key" = [])),
    params(("endpoint_id" = String, Path)), responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointView>> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    Ok(Json(view(
        state.engine.store().get_webhook_endpoint(tenant, &id).await?,
    )))
}

/// Remove an endpoint (its pending deliveries go with it).
#[utoipa::path(delete, path = "/v1/webhooks/{endpoint_id}", tag = "webhooks", security(("tenant_key" = [])),
    params(("endpoint_id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    state.engine.store().delete_webhook_endpoint(tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log, newest first.
#[utoipa::path(get, path = "/v1/webhook-deliveries", tag = "webhooks", security(("tenant_key" = [])),
    params(DeliveryQuery), responses((status = 200, body = Vec<DeliveryView>), (status = 400, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    let n = limit(q.limit)?;
    let all = state
        .engine
        .store()
        .list_webhook_deliveries(tenant, q.endpoint_id.as_deref(), n)
        .await?;
    Ok(Json(
        all.into_iter()
            .map(|delivery| DeliveryView {
                delivery,
                attempts: None,
            })
            .collect(),
    ))
}

/// One delivery with its attempts.
#[utoipa::path(get, path = "/v1/webhook-deliveries/{delivery_id}", tag = "webhooks", security(("tenant_key" = [])),
    params(("delivery_id" = String, Path)), responses((status = 200, body = DeliveryView), (status = 404, body = ErrorBody)))]
pub async fn delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    let id = delivery_id(&id)?;
    let store = state.engine.store();
    let delivery = store.get_webhook_delivery(tenant, id).await?;
    let attempts = store.webhook_attempts(tenant, id).await?;
    Ok(Json(DeliveryView {
        delivery,
        attempts: Some(attempts),
    }))
}

/// Send a delivery again (with a fresh three-day retry window).
#[utoipa::path(post, path = "/v1/webhook-deliveries/{delivery_id}/redeliver", tag = "webhooks", security(("tenant_key" = [])),
    params(("delivery_id" = String, Path)), responses((status = 202), (status = 404, body = ErrorBody)))]
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    state
        .engine
        .store()
        .redeliver_webhook(tenant, delivery_id(&id)?, RETRY_FOR)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The notification feed, oldest first (to pull instead of, or besides, webhooks).
#[utoipa::path(get, path = "/v1/notifications", tag = "webhooks", security(("tenant_key" = [])),
    params(FeedQuery), responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<FeedQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    let tenant = caller.key_with(Scope::Webhooks)?;
    let n = limit(q.limit)?;
    Ok(Json(
        state
            .engine
            .store()
            .list_notifications(tenant, q.after.unwrap_or(0), n)
            .await?,
    ))
}

/// The webhook routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get, remove))
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
        .routes(routes!(redeliver))
        .routes(routes!(notifications))
}
