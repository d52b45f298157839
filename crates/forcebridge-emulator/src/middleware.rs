//! Cross-cutting request handling: session check, API usage counting and the `Sforce-Limit-Info`
//! header, injected faults, and the request log.
//!
//! Invariants: every request under `/services/data/v…` either carries a live session — and then
//! its handler finds a [`Caller`] in the request extensions — or is answered 401
//! `INVALID_SESSION_ID` (and 403 `API_CURRENTLY_DISABLED` when the user lacks "API Enabled");
//! each authenticated call counts once against the daily allocation, and
//! past it the answer is 403 `REQUEST_LIMIT_EXCEEDED`; nothing under `/__emulator/` is counted,
//! faulted or logged. Every API request (REST, SOAP, Bulk, Chatter, Tooling, Metadata) holds a
//! [`crate::longrun`] guard while its handler runs; at the org's limit of long-running requests
//! new ones are answered 403 `REQUEST_LIMIT_EXCEEDED` before anything else is checked.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::{AppState, SharedState};
use crate::control::LogEntry;
use crate::ids::SfId;
use crate::org::{Org, Session};
use crate::security::{SystemPermission, UserAccess};

/// Largest token request body the log reads to find its `grant_type`.
const MAX_TOKEN_BODY: usize = 1 << 20;

/// Who is calling: put into the request extensions for authenticated routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: SfId,
    pub access_token: String,
}

/// The token of an `Authorization: Bearer <token>` (or `OAuth <token>`) header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then_some(token)
        .filter(|t| !t.is_empty())
}

/// The session of `token` if it exists and has not been expired.
pub fn live_session(org: &Org, token: &str) -> Option<Session> {
    org.auth.sessions.get(token).filter(|s| !s.expired).cloned()
}

/// Salesforce's REST error body: `[{"message", "errorCode"}]`.
fn sf_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!([{ "message": message, "errorCode": code }])),
    )
        .into_response()
}

fn invalid_session() -> Response {
    let mut resp = sf_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    );
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
    resp
}

/// Wraps every request.
pub async fn track(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    if let Some(uri) = crate::paths::normalize(req.uri()) {
        *req.uri_mut() = uri;
    }
    let path = req.uri().path().to_string();
    if path == "/__emulator" || path.starts_with("/__emulator/") {
        return next.run(req).await;
    }
    let started = Instant::now();
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);

    let (req, grant_type) = if path == "/services/oauth2/token" {
        match grant_type_of(req).await {
            Ok(pair) => pair,
            Err(resp) => return resp,
        }
    } else {
        (req, None)
    };

    let guard = if is_api(&path) {
        state.long_running.start().map(Some)
    } else {
        Some(None)
    };
    let mut response = match guard {
        None => long_running_refusal(&path),
        // The guard lives until the handler has answered.
        Some(_guard) if path.starts_with("/services/data/v") => {
            api_call(&state, req, next, &method, &path).await
        }
        Some(_guard) => match fault(&state, &method, &path).await {
            Some(resp) => resp,
            None => next.run(req).await,
        },
    };

    if path == "/services/data" || path.starts_with("/services/data/") {
        let usage = {
            let org = state.org_read();
            format!(
                "api-usage={}/{}",
                org.usage.daily_api_requests_used, org.usage.daily_api_requests_max
            )
        };
        if let Ok(v) = HeaderValue::from_str(&usage) {
            response.headers_mut().insert("sforce-limit-info", v);
        }
    }
    // A safety net for the state file: any write request may have changed the org.
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        state.mark_dirty();
    }
    state.runtime().record(LogEntry {
        method: method.to_string(),
        path,
        query,
        status: response.status().as_u16(),
        time,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        grant_type,
    });
    response
}

/// Whether `path` is an API request the concurrent long-running limit covers: everything under
/// `/services/` except the OAuth endpoints (sign-in is not an API call).
fn is_api(path: &str) -> bool {
    path.starts_with("/services/") && !path.starts_with("/services/oauth2/")
}

/// Salesforce's answer at the long-running request limit: the REST error array, or a SOAP fault
/// for the SOAP APIs.
fn long_running_refusal(path: &str) -> Response {
    if path.starts_with("/services/Soap/m/") {
        return crate::metadata::fault("REQUEST_LIMIT_EXCEEDED", crate::longrun::MESSAGE);
    }
    if path.starts_with("/services/Soap/") {
        return crate::soap::refusal(path, "REQUEST_LIMIT_EXCEEDED", crate::longrun::MESSAGE);
    }
    sf_error(
        StatusCode::FORBIDDEN,
        "REQUEST_LIMIT_EXCEEDED",
        crate::longrun::MESSAGE,
    )
}

/// An authenticated, counted API call.
async fn api_call(state: &AppState, mut req: Request, next: Next, method: &Method, path: &str) -> Response {
    let caller = {
        let mut org = state.org_write();
        let Some(session) = bearer_token(req.headers()).and_then(|t| live_session(&org, t)) else {
            return invalid_session();
        };
        // A user whose profile and permission sets lack "API Enabled" signs in but cannot call.
        if !UserAccess::for_user(&org, &session.user_id).has(SystemPermission::ApiEnabled) {
            return sf_error(
                StatusCode::FORBIDDEN,
                "API_CURRENTLY_DISABLED",
                "API is disabled for this User",
            );
        }
        if org.usage.daily_api_requests_used >= org.usage.daily_api_requests_max {
            return sf_error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            );
        }
        org.usage.daily_api_requests_used += 1;
        Caller {
            user_id: session.user_id,
            access_token: session.access_token,
        }
    };
    state.mark_dirty();
    req.extensions_mut().insert(caller);
    if let Some(resp) = fault(state, method, path).await {
        return resp;
    }
    next.run(req).await
}

/// Applies the first matching injected fault: waits its delay, then answers its error (if it has
/// a status) instead of the handler.
async fn fault(state: &AppState, method: &Method, path: &str) -> Option<Response> {
    let fault = state.runtime().take_fault(method.as_str(), path)?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms)).await;
    }
    let status = StatusCode::from_u16(fault.status?).ok()?;
    Some(sf_error(status, &fault.error_code, &fault.message))
}

/// Reads a token request's body to log its `grant_type`, and puts the body back.
async fn grant_type_of(req: Request) -> Result<(Request, Option<String>), Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_TOKEN_BODY).await.map_err(|_| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({"error": "invalid_request", "error_description": "request too large"})),
        )
            .into_response()
    })?;
    let from_body = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v));
    let from_query = parts.uri.query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()
            .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "grant_type").map(|(_, v)| v))
    });
    Ok((
        Request::from_parts(parts, Body::from(bytes)),
        from_body.or(from_query),
    ))
}
