//! `POST/GET /services/oauth2/revoke`: revoke an access token (that session ends) or a refresh
//! token (it and every session opened from it end).
//!
//! Invariant: an unknown token is answered 400 `unsupported_token_type`, as Salesforce does, and
//! changes nothing.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::{OAuthError, revoke_refresh_tokens};
use crate::app::SharedState;

/// `GET /services/oauth2/revoke?token=…`.
pub async fn revoke_get(
    State(state): State<SharedState>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    revoke(&state, p.get("token").map(String::as_str))
}

/// `POST /services/oauth2/revoke` with a form body `token=…`.
pub async fn revoke_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let p = super::token::params(&headers, query, &body);
    revoke(&state, p.get("token").map(String::as_str))
}

fn revoke(state: &SharedState, token: Option<&str>) -> Response {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return OAuthError::invalid_request("token is missing").into_response();
    };
    let done = {
        let mut org = state.org_write();
        let mut runtime = state.runtime();
        if org.auth.sessions.shift_remove(token).is_some() {
            runtime.session_refresh.remove(token);
            true
        } else {
            revoke_refresh_tokens(&mut org, &mut runtime, |r| r.token == token) > 0
        }
    };
    if !done {
        return OAuthError {
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_token_type",
            description: "this token type is not supported".into(),
        }
        .into_response();
    }
    state.mark_dirty();
    StatusCode::OK.into_response()
}
