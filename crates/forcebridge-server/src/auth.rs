//! Who is calling: the extractors [`AdminKey`] (the vendor's admin key, `fba_…`), and
//! [`Caller`] — a tenant API key (`fbk_…`, scoped) or an end-user session token (`fbs_…`, with a
//! role). All come as `Authorization: Bearer <secret>`. A tenant caller is rate-limited per
//! tenant here, before the handler runs.
//!
//! Invariant: a caller carries exactly one tenant, learnt from its credential, never from the
//! request; handlers pass that tenant to the engine, so a foreign id can only be "not found".

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use forcebridge_store::{ApiKeyId, Role, Scope, Session, TenantId, UserId};
use secrecy::SecretString;

use crate::error::ApiError;
use crate::state::AppState;

fn bearer(parts: &Parts) -> Result<SecretString, ApiError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized("missing Authorization header; send Authorization: Bearer <key>")
        })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let token = text
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be Bearer <key>"))?;
    Ok(SecretString::from(token.trim().to_owned()))
}

/// The vendor admin, authenticated by an admin key.
#[derive(Debug, Clone, Copy)]
pub struct AdminKey;

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if state
            .engine
            .store()
            .authenticate_admin_key(&token)
            .await
            .map_err(ApiError::from)?
        {
            Ok(AdminKey)
        } else {
            Err(ApiError::unauthorized(
                "this call needs the vendor admin key (fba_…), which was printed once on the first start",
            ))
        }
    }
}

/// A tenant's caller: its API key, or a session of one of its users.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A tenant API key with its scopes.
    Key {
        /// The tenant.
        tenant: TenantId,
        /// The key's id.
        key_id: ApiKeyId,
        /// Its prefix (for the audit log).
        prefix: String,
        /// What it may do.
        scopes: Vec<Scope>,
    },
    /// An end user's session.
    Session(Session),
}

impl Caller {
    /// The tenant acted for.
    pub fn tenant(&self) -> &TenantId {
        match self {
            Caller::Key { tenant, .. } => tenant,
            Caller::Session(s) => &s.tenant_id,
        }
    }

    /// Who, for the audit log.
    pub fn actor(&self) -> String {
        match self {
            Caller::Key { prefix, .. } => format!("api_key:{prefix}"),
            Caller::Session(s) => format!("user:{}", s.user_id),
        }
    }

    /// Require a key holding `scope` (sessions never qualify).
    ///
    /// # Errors
    /// 403 naming the scope.
    pub fn key_with(&self, scope: Scope) -> Result<&TenantId, ApiError> {
        match self {
            Caller::Key { tenant, scopes, .. } if scopes.iter().any(|s| *s == Scope::All || *s == scope) => {
                Ok(tenant)
            }
            Caller::Key { .. } => Err(ApiError::forbidden(format!(
                "this API key lacks the \"{}\" scope; create a key with it",
                scope.as_str()
            ))),
            Caller::Session(_) => Err(ApiError::forbidden(format!(
                "this call needs a tenant API key with the \"{}\" scope, not a session",
                scope.as_str()
            ))),
        }
    }

    /// A key with `scope`, or any session (sessions are then limited by their user and role).
    ///
    /// # Errors
    /// 403 for a key without the scope.
    pub fn key_or_session(&self, scope: Scope) -> Result<(), ApiError> {
        match self {
            Caller::Session(_) => Ok(()),
            Caller::Key { .. } => self.key_with(scope).map(|_| ()),
        }
    }

    /// The session's user, when this is a member's session (admins and keys see everything).
    pub fn restricted_to(&self) -> Option<&UserId> {
        match self {
            Caller::Session(s) if s.role == Role::Member => Some(&s.user_id),
            _ => None,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        use secrecy::ExposeSecret as _;
        let token = bearer(parts)?;
        let store = state.engine.store();
        let caller = if token.expose_secret().starts_with("fbs_") {
            let s = store
                .authenticate_session(&token)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| {
                    ApiError::unauthorized("the session token is unknown, expired or revoked; mint a new one")
                })?;
            Caller::Session(s)
        } else {
            let key = store
                .authenticate_api_key(&token)
                .await
                .map_err(ApiError::from)?
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "the API key is unknown or revoked; use a live tenant API key (fbk_…)",
                    )
                })?;
            let scopes = store
                .api_key_scopes(&key.tenant_id, &key.id)
                .await
                .map_err(ApiError::from)?;
            Caller::Key {
                tenant: key.tenant_id,
                key_id: key.id,
                prefix: key.prefix,
                scopes,
            }
        };
        if let Err(not_until) = state.limiter.check_key(caller.tenant()) {
            use governor::clock::Clock as _;
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            return Err(ApiError::rate_limited(wait.as_secs().max(1)));
        }
        Ok(caller)
    }
}
