//! The OAuth callback Salesforce redirects the popup to: it finishes the web-server flow (the
//! code exchanged with the flow's PKCE verifier, the tokens stored sealed) and answers a small
//! page that tells the opener and closes the window.
//!
//! Invariant: no credentials travel in the answer; an error page says what to do and never
//! echoes the code.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// What Salesforce sends back.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` the flow started with.
    pub state: Option<String>,
    /// Set when the user denied access or Salesforce refused.
    pub error: Option<String>,
    /// Salesforce's words for `error`.
    pub error_description: Option<String>,
}

fn page(status: StatusCode, title: &str, text: &str, result: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body data-result=\"{r}\"><h1>{t}</h1><p>{x}</p><p>You can close this window.</p></body></html>",
        t = esc(title),
        x = esc(text),
        r = esc(result),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
        ],
        body,
    )
        .into_response()
}

/// Finish the web-server flow (Salesforce redirects the user's browser here).
#[utoipa::path(get, path = "/v1/oauth/callback", tag = "connections", params(Callback),
    responses((status = 200, description = "connected; an HTML page"), (status = 400, description = "an HTML page saying what failed")))]
pub async fn callback(State(state): State<AppState>, Query(q): Query<Callback>) -> Response {
    if let Some(err) = q.error {
        let why = q.error_description.unwrap_or_else(|| err.clone());
        // The flow is over either way: forget its state.
        if let Some(s) = q.state {
            let _ = state.engine.store().take_oauth(&s).await;
        }
        return page(
            StatusCode::BAD_REQUEST,
            "Not connected",
            &format!("Salesforce said: {why}. Start connecting again."),
            "error",
        );
    }
    let (Some(code), Some(st)) = (q.code, q.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not connected",
            "The callback lacks code or state; start connecting again.",
            "error",
        );
    };
    let Some(app) = state.config.oauth_app.as_ref() else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not connected",
            "The OAuth flow is not configured on this server.",
            "error",
        );
    };
    match state.engine.finish_oauth(app, &st, &code).await {
        Ok((_, conn)) => page(
            StatusCode::OK,
            "Connected",
            &format!("Salesforce connection \"{}\" is ready.", conn.label),
            "connected",
        ),
        Err(e) => {
            tracing::warn!(error = %e, "oauth callback failed");
            page(StatusCode::BAD_REQUEST, "Not connected", &format!("{e}"), "error")
        }
    }
}

/// The callback route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callback))
}
