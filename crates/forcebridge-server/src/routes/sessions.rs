//! End-user sessions: the vendor's backend (a key with the `sessions` scope) mints a short-lived
//! token for one of its users (email, role member/admin) to open the connect portal; `/v1/me`
//! says who a credential is.
//!
//! Invariant: the token is in the minting answer only; a session acts for its own tenant and
//! user, with its role's rights.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use forcebridge_store::{Role, Scope};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Mint a session for a user of the calling tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// The user's email (the user is created on first use).
    pub email: String,
    /// `member` (own connections only) or `admin` (shared connections, every connection).
    pub role: String,
    /// Lifetime in seconds (default 3600, at most the server's maximum).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// The integration (a recipe loaded on the server) the user is connecting for: connections
    /// the session creates without naming a `recipe` follow this one's connection policy.
    #[serde(default)]
    pub recipe: Option<String>,
}

/// A minted session.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSession {
    /// The session's id (to revoke it).
    pub session_id: String,
    /// The bearer token (`fbs_…`), shown once.
    pub token: String,
    /// The user's id in forcebridge.
    pub user_id: String,
    /// The role.
    pub role: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// The integration it was minted for, if any.
    pub recipe: Option<String>,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The tenant.
    pub tenant_id: String,
    /// `api_key` or `session`.
    pub kind: &'static str,
    /// The session's user, for sessions.
    pub user_id: Option<String>,
    /// The session user's email.
    pub email: Option<String>,
    /// The session's role.
    pub role: Option<String>,
    /// The key's scopes, for keys.
    pub scopes: Option<Vec<String>>,
}

/// Mint a session (a key with the `sessions` scope).
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = NewSession, security(("tenant_key" = [])),
    responses((status = 201, body = CreatedSession), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSession>,
) -> ApiResult<(StatusCode, Json<CreatedSession>)> {
    let tenant = caller.key_with(Scope::Sessions)?.clone();
    let role = Role::parse(&body.role)
        .map_err(|_| ApiError::invalid("role", "role must be \"member\" or \"admin\""))?;
    let ttl = match body.ttl_seconds {
        None => state.config.default_session_ttl,
        Some(0) => return Err(ApiError::invalid("ttl_seconds", "ttl_seconds must be at least 1")),
        Some(s) if Duration::from_secs(s) > state.config.max_session_ttl => {
            return Err(ApiError::invalid(
                "ttl_seconds",
                format!(
                    "ttl_seconds must be at most {}",
                    state.config.max_session_ttl.as_secs()
                ),
            ));
        }
        Some(s) => Duration::from_secs(s),
    };
    if let Some(r) = &body.recipe {
        state.engine.connection_policy(r)?;
    }
    let store = state.engine.store();
    let user = store
        .upsert_user(&tenant, &body.email, role, &caller.actor())
        .await
        .map_err(|e| {
            if e.kind() == forcebridge_store::ErrorKind::Invalid {
                ApiError::invalid("email", e.to_string())
            } else {
                e.into()
            }
        })?;
    let (s, token) = store
        .create_session_for(&tenant, &user.id, role, ttl, body.recipe.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSession {
            session_id: s.id,
            token: token.expose_secret().to_owned(),
            user_id: s.user_id.to_string(),
            role: role.as_str().to_owned(),
            expires_at: s.expires_at,
            recipe: s.recipe,
        }),
    ))
}

/// End a session now (a key with the `sessions` scope, or the session itself).
#[utoipa::path(delete, path = "/v1/sessions/{session_id}", tag = "sessions", security(("tenant_key" = []), ("session" = [])),
    params(("session_id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(session_id): Path<String>,
) -> ApiResult<StatusCode> {
    match &caller {
        Caller::Session(s) if s.id == session_id => {}
        Caller::Session(_) => return Err(ApiError::not_found("session")),
        Caller::Key { .. } => {
            caller.key_with(Scope::Sessions)?;
        }
    }
    state
        .engine
        .store()
        .revoke_session(caller.tenant(), &session_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the credential is.
#[utoipa::path(get, path = "/v1/me", tag = "sessions", security(("tenant_key" = []), ("session" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(match &caller {
        Caller::Key { tenant, scopes, .. } => Me {
            tenant_id: tenant.to_string(),
            kind: "api_key",
            user_id: None,
            email: None,
            role: None,
            scopes: Some(scopes.iter().map(|s| s.as_str().to_owned()).collect()),
        },
        Caller::Session(s) => Me {
            tenant_id: s.tenant_id.to_string(),
            kind: "session",
            user_id: Some(s.user_id.to_string()),
            email: Some(s.email.clone()),
            role: Some(s.role.as_str().to_owned()),
            scopes: None,
        },
    })
}

/// The session routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(revoke_session))
        .routes(routes!(me))
}
