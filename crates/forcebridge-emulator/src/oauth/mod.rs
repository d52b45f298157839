//! OAuth 2.0 the way Salesforce does it: `/services/oauth2/token` (password, client credentials,
//! refresh token, authorization code with PKCE, JWT bearer), `/authorize` with a login and consent
//! page, `/revoke`, `/userinfo` and the identity URL `/id/{orgId}/{userId}`.
//!
//! Invariants: token responses never carry `expires_in` (Salesforce gives none; a client learns a
//! session ended from a 401 `INVALID_SESSION_ID`); errors are `{"error","error_description"}`
//! with Salesforce's codes and texts; a user keeps at most [`MAX_REFRESH_TOKENS`] live refresh
//! tokens per connected app, issuing one more revokes the oldest silently.

mod authorize;
mod identity;
mod revoke;
mod token;

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::{AppState, SharedState};
use crate::control::Runtime;
use crate::ids::SfId;
use crate::org::{ConnectedApp, Org, RefreshToken, Session};

/// Live refresh tokens Salesforce keeps per user per connected app.
pub const MAX_REFRESH_TOKENS: usize = 5;

/// Routes of this module.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/services/oauth2/token", post(token::token))
        .route(
            "/services/oauth2/authorize",
            get(authorize::page).post(authorize::submit),
        )
        .route(
            "/services/oauth2/revoke",
            get(revoke::revoke_get).post(revoke::revoke_post),
        )
        .route(
            "/services/oauth2/userinfo",
            get(identity::userinfo).post(identity::userinfo),
        )
        .route(
            "/id/{org_id}/{user_id}",
            get(identity::identity).post(identity::identity),
        )
}

/// An OAuth error as the token and revoke endpoints answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: &str) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.to_string(),
        }
    }

    /// Unknown consumer key, or an app still inside its activation delay.
    pub fn invalid_client_id() -> Self {
        Self::new("invalid_client_id", "client identifier invalid")
    }

    /// Wrong consumer secret.
    pub fn invalid_client() -> Self {
        Self::new("invalid_client", "invalid client credentials")
    }

    /// Wrong username or password (password flow).
    pub fn authentication_failure() -> Self {
        Self::new("invalid_grant", "authentication failure")
    }

    /// Unknown, revoked or foreign refresh token.
    pub fn expired_token() -> Self {
        Self::new("invalid_grant", "expired access/refresh token")
    }

    /// Unknown or missing grant type.
    pub fn unsupported_grant_type() -> Self {
        Self::new("unsupported_grant_type", "grant type not supported")
    }

    /// Any other `invalid_grant` with its own description.
    pub fn invalid_grant(description: &str) -> Self {
        Self::new("invalid_grant", description)
    }

    /// A required parameter is missing or malformed.
    pub fn invalid_request(description: &str) -> Self {
        Self::new("invalid_request", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(
                header::CACHE_CONTROL,
                "no-cache,must-revalidate,max-age=0,no-store,private",
            )],
            Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response()
    }
}

/// `len` random characters of the alphabet Salesforce tokens use.
pub(crate) fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let i = rng.random_range(0..ALPHABET.len());
            ALPHABET.get(i).copied().map_or('A', char::from)
        })
        .collect()
}

/// A new access token shaped like Salesforce's: the 15-character org id, `!`, then opaque text.
pub(crate) fn new_access_token(org: &Org) -> String {
    format!("{}!AQ{}", org.info.id.short(), random_token(94))
}

/// A new refresh token shaped like Salesforce's (`5Aep861…`).
pub(crate) fn new_refresh_token() -> String {
    format!("5Aep861{}", random_token(80))
}

/// HMAC-SHA256 (RFC 2104) over SHA-256, so no extra crate is needed for the one MAC we compute.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        let digest = Sha256::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The `signature` of a token response: base64 HMAC-SHA256 of `id` + `issued_at`, keyed with the
/// consumer secret, so the client can check the `id` came from Salesforce.
pub fn token_signature(client_secret: &str, id: &str, issued_at: &str) -> String {
    let mac = hmac_sha256(client_secret.as_bytes(), format!("{id}{issued_at}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// The identity URL of a user, as the token response's `id` gives it.
pub fn identity_url(base_url: &str, org: &Org, user_id: &SfId) -> String {
    format!("{base_url}/id/{}/{}", org.info.id, user_id)
}

/// The connected app with this consumer key, if it exists and is already active.
///
/// # Errors
/// `invalid_client_id` when the app is unknown or still inside its activation delay (Salesforce
/// answers a connected app that is not yet propagated as if it did not exist).
pub(crate) fn active_app<'o>(org: &'o Org, client_id: &str) -> Result<&'o ConnectedApp, OAuthError> {
    let app = org
        .auth
        .apps
        .iter()
        .find(|a| a.client_id == client_id)
        .ok_or_else(OAuthError::invalid_client_id)?;
    let delay = i64::try_from(app.activation_delay_secs).unwrap_or(i64::MAX);
    let active_at = app
        .created_at
        .checked_add_signed(chrono::TimeDelta::try_seconds(delay).unwrap_or(chrono::TimeDelta::MAX))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    if chrono::Utc::now() < active_at {
        return Err(OAuthError::invalid_client_id());
    }
    Ok(app)
}

/// The user whose username and password match. The password may be given with the security
/// token appended (as from an untrusted network) or alone (as from a trusted IP range): the
/// emulator treats every caller as inside the org's trusted IP ranges but accepts both forms.
pub(crate) fn check_password(org: &Org, username: &str, password: &str) -> Option<SfId> {
    let cred = org
        .auth
        .credentials
        .iter()
        .find(|c| c.username.eq_ignore_ascii_case(username))?;
    let with_token = format!("{}{}", cred.password, cred.security_token);
    let ok = constant_time_eq(password.as_bytes(), cred.password.as_bytes())
        || constant_time_eq(password.as_bytes(), with_token.as_bytes());
    (ok && user_active(org, &cred.user_id)).then(|| cred.user_id.clone())
}

/// The user with this username (any case), whatever its password.
pub(crate) fn user_by_username(org: &Org, username: &str) -> Option<SfId> {
    org.auth
        .credentials
        .iter()
        .find(|c| c.username.eq_ignore_ascii_case(username))
        .map(|c| c.user_id.clone())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the User record (if there is one) is active; a user without a record counts as active.
fn user_active(org: &Org, user_id: &SfId) -> bool {
    user_record(org, user_id)
        .and_then(|r| r.get("IsActive"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(true)
}

fn user_record<'o>(org: &'o Org, user_id: &SfId) -> Option<&'o crate::org::Record> {
    org.data.get("User").and_then(|t| t.get(user_id))
}

/// What the identity endpoints and SOAP `login` say about a user: read from the User record when
/// there is one, else derived from the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub user_id: SfId,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub profile_id: Option<String>,
    pub time_zone: String,
    pub locale: String,
    pub language: String,
    pub active: bool,
    pub last_modified: String,
}

/// The profile of `user_id`, or `None` when the org does not know the user.
pub fn user_profile(org: &Org, user_id: &SfId) -> Option<UserProfile> {
    let cred = org.auth.credentials.iter().find(|c| &c.user_id == user_id);
    let rec = user_record(org, user_id);
    if cred.is_none() && rec.is_none() {
        return None;
    }
    let text = |field: &str| {
        rec.and_then(|r| r.get(field))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let username = text("Username")
        .or_else(|| cred.map(|c| c.username.clone()))
        .unwrap_or_default();
    let first_name = text("FirstName").unwrap_or_default();
    let last_name = text("LastName").unwrap_or_else(|| username.clone());
    let display_name = text("Name").unwrap_or_else(|| {
        if first_name.is_empty() {
            last_name.clone()
        } else {
            format!("{first_name} {last_name}")
        }
    });
    Some(UserProfile {
        user_id: user_id.clone(),
        email: text("Email").unwrap_or_else(|| username.clone()),
        username,
        first_name,
        last_name,
        display_name,
        profile_id: text("ProfileId"),
        time_zone: text("TimeZoneSidKey").unwrap_or_else(|| "America/Los_Angeles".into()),
        locale: text("LocaleSidKey").unwrap_or_else(|| "en_US".into()),
        language: text("LanguageLocaleKey").unwrap_or_else(|| "en_US".into()),
        active: user_active(org, user_id),
        last_modified: text("LastModifiedDate").unwrap_or_else(|| "2026-01-01T00:00:00.000+0000".into()),
    })
}

/// Whether to hand out a refresh token with a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// No refresh token (password, client credentials, JWT bearer).
    None,
    /// A new refresh token (authorization code).
    New,
    /// The session comes from this existing refresh token (refresh token grant); none is returned.
    From(String),
}

/// Opens a session for `user_id` through `app` and builds the token response.
///
/// Called with the org and runtime locks held (org first); marks nothing dirty itself — the
/// caller does after dropping the locks.
pub(crate) fn issue(
    state: &AppState,
    org: &mut Org,
    runtime: &mut Runtime,
    user_id: &SfId,
    app: &ConnectedApp,
    refresh: Refresh,
    scope: &str,
) -> serde_json::Value {
    let now = chrono::Utc::now();
    let access_token = new_access_token(org);
    org.auth.sessions.insert(
        access_token.clone(),
        Session {
            access_token: access_token.clone(),
            user_id: user_id.clone(),
            client_id: Some(app.client_id.clone()),
            issued_at: now,
            expired: false,
        },
    );
    let refresh_token = match refresh {
        Refresh::None => None,
        Refresh::From(token) => {
            runtime.session_refresh.insert(access_token.clone(), token);
            None
        }
        Refresh::New => {
            let token = new_refresh_token();
            let live: Vec<usize> = org
                .auth
                .refresh_tokens
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.revoked && &r.user_id == user_id && r.client_id == app.client_id)
                .map(|(i, _)| i)
                .collect();
            // Keep at most MAX_REFRESH_TOKENS live: the new one plus the newest four.
            let excess = (live.len() + 1).saturating_sub(MAX_REFRESH_TOKENS);
            for &i in live.iter().take(excess) {
                let old = org.auth.refresh_tokens.get_mut(i).map(|r| {
                    r.revoked = true;
                    r.token.clone()
                });
                if let Some(old) = old {
                    end_sessions_of_refresh(org, runtime, &old);
                }
            }
            org.auth.refresh_tokens.push(RefreshToken {
                token: token.clone(),
                user_id: user_id.clone(),
                client_id: app.client_id.clone(),
                issued_at: now,
                revoked: false,
            });
            runtime
                .session_refresh
                .insert(access_token.clone(), token.clone());
            Some(token)
        }
    };
    let id = identity_url(&state.public_url(), org, user_id);
    let issued_at = now.timestamp_millis().to_string();
    let signature = token_signature(&app.client_secret, &id, &issued_at);
    let mut body = serde_json::Map::new();
    body.insert("access_token".into(), json!(access_token));
    if let Some(token) = refresh_token {
        body.insert("refresh_token".into(), json!(token));
    }
    body.insert("signature".into(), json!(signature));
    body.insert("scope".into(), json!(scope));
    body.insert("instance_url".into(), json!(state.public_url()));
    body.insert("id".into(), json!(id));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("issued_at".into(), json!(issued_at));
    serde_json::Value::Object(body)
}

/// Ends every session opened from `refresh_token` (revoking a refresh token revokes the access
/// tokens it produced).
pub(crate) fn end_sessions_of_refresh(org: &mut Org, runtime: &mut Runtime, refresh_token: &str) {
    let tokens: Vec<String> = runtime
        .session_refresh
        .iter()
        .filter(|(_, r)| r.as_str() == refresh_token)
        .map(|(a, _)| a.clone())
        .collect();
    for access in tokens {
        org.auth.sessions.shift_remove(&access);
        runtime.session_refresh.remove(&access);
    }
}

/// Revokes refresh tokens matching `filter` and ends their sessions; returns how many were revoked.
pub(crate) fn revoke_refresh_tokens(
    org: &mut Org,
    runtime: &mut Runtime,
    filter: impl Fn(&RefreshToken) -> bool,
) -> usize {
    let revoked: Vec<String> = org
        .auth
        .refresh_tokens
        .iter_mut()
        .filter(|r| !r.revoked && filter(r))
        .map(|r| {
            r.revoked = true;
            r.token.clone()
        })
        .collect();
    for token in &revoked {
        end_sessions_of_refresh(org, runtime, token);
    }
    revoked.len()
}

/// The base64url SHA-256 of a PKCE verifier (`S256`), as compared with the `code_challenge`.
pub(crate) fn pkce_s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
