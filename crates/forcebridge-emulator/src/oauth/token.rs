//! `POST /services/oauth2/token`: every grant type Salesforce supports for integrations.
//!
//! Invariant: the client is checked before the grant (unknown app → `invalid_client_id`, wrong
//! secret → `invalid_client`), as Salesforce does, and nothing changes in the org on failure.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;

use super::{OAuthError, Refresh, active_app, check_password, issue, pkce_s256, user_by_username};
use crate::app::SharedState;
use crate::org::ConnectedApp;

/// The JWT bearer grant type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Parameters from the query string and the form body (the body wins), plus HTTP Basic client
/// credentials when given.
pub(crate) fn params(
    headers: &HeaderMap,
    query: HashMap<String, String>,
    body: &[u8],
) -> HashMap<String, String> {
    let mut p = query;
    if let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        p.extend(form);
    }
    if let Some((id, secret)) = basic_auth(headers) {
        p.entry("client_id".into()).or_insert(id);
        p.entry("client_secret".into()).or_insert(secret);
    }
    p
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The token endpoint.
pub async fn token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let p = params(&headers, query, &body);
    let result = match p.get("grant_type").map(String::as_str) {
        Some("password") => password(&state, &p),
        Some("client_credentials") => client_credentials(&state, &p),
        Some("refresh_token") => refresh_token(&state, &p),
        Some("authorization_code") => authorization_code(&state, &p),
        Some(JWT_BEARER) => jwt_bearer(&state, &p),
        _ => Err(OAuthError::unsupported_grant_type()),
    };
    match result {
        Ok(body) => {
            state.mark_dirty();
            (
                [(
                    axum::http::header::CACHE_CONTROL,
                    "no-cache,must-revalidate,max-age=0,no-store,private",
                )],
                Json(body),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn get<'p>(p: &'p HashMap<String, String>, key: &str) -> Option<&'p str> {
    p.get(key).map(String::as_str).filter(|v| !v.is_empty())
}

/// Checks the consumer secret when one is required or given.
fn check_secret(app: &ConnectedApp, given: Option<&str>, required: bool) -> Result<(), OAuthError> {
    match given {
        Some(secret) if secret == app.client_secret => Ok(()),
        Some(_) => Err(OAuthError::invalid_client()),
        None if required => Err(OAuthError::invalid_client()),
        None => Ok(()),
    }
}

fn password(state: &SharedState, p: &HashMap<String, String>) -> Result<serde_json::Value, OAuthError> {
    let mut org = state.org_write();
    let mut runtime = state.runtime();
    let app = active_app(&org, get(p, "client_id").unwrap_or_default())?.clone();
    check_secret(&app, get(p, "client_secret"), true)?;
    let user = check_password(
        &org,
        get(p, "username").unwrap_or_default(),
        get(p, "password").unwrap_or_default(),
    )
    .ok_or_else(OAuthError::authentication_failure)?;
    let scope = get(p, "scope").unwrap_or("api web id full");
    Ok(issue(
        state,
        &mut org,
        &mut runtime,
        &user,
        &app,
        Refresh::None,
        scope,
    ))
}

fn client_credentials(
    state: &SharedState,
    p: &HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    let mut org = state.org_write();
    let mut runtime = state.runtime();
    let app = active_app(&org, get(p, "client_id").unwrap_or_default())?.clone();
    check_secret(&app, get(p, "client_secret"), true)?;
    let user = app
        .client_credentials_user
        .clone()
        .ok_or_else(|| OAuthError::invalid_grant("no client credentials user enabled"))?;
    let scope = get(p, "scope").unwrap_or("api web id full");
    Ok(issue(
        state,
        &mut org,
        &mut runtime,
        &user,
        &app,
        Refresh::None,
        scope,
    ))
}

fn refresh_token(state: &SharedState, p: &HashMap<String, String>) -> Result<serde_json::Value, OAuthError> {
    let mut org = state.org_write();
    let mut runtime = state.runtime();
    let app = active_app(&org, get(p, "client_id").unwrap_or_default())?.clone();
    // Public clients (PKCE) refresh without a secret; a secret that is given must be right.
    check_secret(&app, get(p, "client_secret"), false)?;
    let given = get(p, "refresh_token").ok_or_else(OAuthError::expired_token)?;
    let record = org
        .auth
        .refresh_tokens
        .iter()
        .find(|r| r.token == given && !r.revoked && r.client_id == app.client_id)
        .cloned()
        .ok_or_else(OAuthError::expired_token)?;
    let scope = "refresh_token api web id full";
    Ok(issue(
        state,
        &mut org,
        &mut runtime,
        &record.user_id,
        &app,
        Refresh::From(record.token),
        scope,
    ))
}

fn authorization_code(
    state: &SharedState,
    p: &HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    let mut org = state.org_write();
    let mut runtime = state.runtime();
    let app = active_app(&org, get(p, "client_id").unwrap_or_default())?.clone();
    let verifier = get(p, "code_verifier");
    // The secret may be left out only by a public client proving possession with PKCE.
    check_secret(&app, get(p, "client_secret"), verifier.is_none())?;
    let given = get(p, "code").ok_or_else(|| OAuthError::invalid_grant("invalid authorization code"))?;
    // A code is single-use: it is gone from here on, whatever happens next.
    let code = runtime
        .codes
        .remove(given)
        .ok_or_else(|| OAuthError::invalid_grant("invalid authorization code"))?;
    if code.client_id != app.client_id {
        return Err(OAuthError::invalid_grant("invalid authorization code"));
    }
    if chrono::Utc::now() > code.expires_at {
        return Err(OAuthError::invalid_grant("expired authorization code"));
    }
    if get(p, "redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri must match configuration"));
    }
    if let Some(challenge) = &code.code_challenge {
        let ok = verifier.is_some_and(|v| pkce_s256(v) == *challenge);
        if !ok {
            return Err(OAuthError::invalid_grant("invalid code verifier"));
        }
    }
    let wants_refresh = code.scope.as_deref().is_none_or(|s| {
        s.split_whitespace()
            .any(|w| w == "refresh_token" || w == "offline_access" || w == "full")
    });
    let scope = code
        .scope
        .clone()
        .unwrap_or_else(|| "refresh_token api web id full".to_string());
    let refresh = if wants_refresh {
        Refresh::New
    } else {
        Refresh::None
    };
    Ok(issue(
        state,
        &mut org,
        &mut runtime,
        &code.user_id,
        &app,
        refresh,
        &scope,
    ))
}

/// Claims of a JWT bearer assertion. `exp` and `aud` are read loosely, as Salesforce reads them:
/// `exp` as a number or a numeric string (simple-salesforce sends a string), `aud` as a string
/// or an array of strings.
#[derive(Debug, serde::Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    exp: Option<serde_json::Value>,
}

/// `exp` as seconds since the epoch, from a number or a numeric string.
fn exp_seconds(exp: &serde_json::Value) -> Option<f64> {
    match exp {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn jwt_bearer(state: &SharedState, p: &HashMap<String, String>) -> Result<serde_json::Value, OAuthError> {
    let invalid = || OAuthError::invalid_grant("invalid assertion");
    let assertion = get(p, "assertion").ok_or_else(invalid)?;
    // Find the app from the unverified issuer first: its certificate is what verifies the rest.
    let unverified: Claims = jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion)
        .map(|d| d.claims)
        .map_err(|_| invalid())?;
    let mut org = state.org_write();
    let mut runtime = state.runtime();
    let app = active_app(&org, &unverified.iss)?.clone();
    let pem = app.certificate_pem.as_deref().ok_or_else(invalid)?;
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| invalid())?;
    // The signature is checked here; the claims below, by hand, because jsonwebtoken insists on
    // a numeric `exp` and Salesforce does not.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.leeway = 0;
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims::<&str>(&[]);
    let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .map_err(|_| invalid())?
        .claims;
    if claims.iss != app.client_id {
        return Err(invalid());
    }
    let now = chrono::Utc::now().timestamp() as f64;
    match claims.exp.as_ref().and_then(exp_seconds) {
        Some(exp) if exp > now => {}
        _ => return Err(invalid()),
    }
    let base_owned = state.public_url();
    let base = base_owned.as_str();
    let allowed = |a: &str| {
        let a = a.trim_end_matches('/');
        a == base || a == "https://login.salesforce.com" || a == "https://test.salesforce.com"
    };
    let aud_ok = match &claims.aud {
        Some(serde_json::Value::String(a)) => allowed(a),
        Some(serde_json::Value::Array(list)) => {
            list.iter().filter_map(serde_json::Value::as_str).any(allowed)
        }
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::invalid_grant("audience is invalid"));
    }
    let user = user_by_username(&org, &claims.sub).ok_or_else(invalid)?;
    let scope = get(p, "scope").unwrap_or("api web id full");
    Ok(issue(
        state,
        &mut org,
        &mut runtime,
        &user,
        &app,
        Refresh::None,
        scope,
    ))
}
