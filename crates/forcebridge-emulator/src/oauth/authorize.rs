//! `GET/POST /services/oauth2/authorize`: the web server flow's login and consent page.
//!
//! `GET` shows a page with the login form and Allow/Deny buttons; submitting it (`POST`) redirects
//! to the `redirect_uri` with `code` and `state`, or with `error` and `error_description`.
//!
//! Invariant: nothing is ever sent to a `redirect_uri` that is not one of the app's callback URLs,
//! and an unknown client never gets a redirect — both are answered with an error page, as
//! Salesforce does, because a redirect there could leak the code to an attacker.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use rand::RngCore;

use super::{active_app, check_password};
use crate::app::SharedState;
use crate::control::AuthCode;

/// How long an authorization code may be exchanged (Salesforce: 15 minutes).
const CODE_LIFETIME_SECS: i64 = 15 * 60;

/// The validated request, or how to answer it.
struct Valid {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: Option<String>,
    scope: Option<String>,
}

fn validate(state: &SharedState, p: &HashMap<String, String>) -> Result<Valid, Box<Response>> {
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id").unwrap_or_default();
    let redirect_uri = get("redirect_uri").unwrap_or_default();
    {
        let org = state.org_read();
        let app = active_app(&org, client_id)
            .map_err(|_| Box::new(error_page("invalid_client_id", "client identifier invalid")))?;
        if !app
            .callback_urls
            .iter()
            .any(|u| callback_matches(u, redirect_uri))
        {
            return Err(Box::new(error_page(
                "redirect_uri_mismatch",
                "redirect_uri must match configuration",
            )));
        }
    }
    let request_state = get("state").map(str::to_string);
    if get("response_type") != Some("code") {
        return Err(Box::new(redirect_error(
            redirect_uri,
            "unsupported_response_type",
            "response type not supported",
            request_state.as_deref(),
        )));
    }
    let code_challenge = get("code_challenge").map(str::to_string);
    if code_challenge.is_some() && get("code_challenge_method").is_some_and(|m| m != "S256") {
        return Err(Box::new(redirect_error(
            redirect_uri,
            "invalid_request",
            "invalid code_challenge_method",
            request_state.as_deref(),
        )));
    }
    Ok(Valid {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: request_state,
        code_challenge,
        scope: get("scope").map(str::to_string),
    })
}

/// `GET /services/oauth2/authorize`: the login and consent page.
pub async fn page(State(state): State<SharedState>, Query(p): Query<HashMap<String, String>>) -> Response {
    match validate(&state, &p) {
        Ok(_) => Html(render_form(&p, None)).into_response(),
        Err(resp) => *resp,
    }
}

/// `POST /services/oauth2/authorize`: the submitted page.
pub async fn submit(
    State(state): State<SharedState>,
    Query(query): Query<HashMap<String, String>>,
    body: bytes::Bytes,
) -> Response {
    let mut p = query;
    if let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) {
        p.extend(form);
    }
    let valid = match validate(&state, &p) {
        Ok(v) => v,
        Err(resp) => return *resp,
    };
    if p.get("action").map(String::as_str) == Some("deny") {
        return redirect_error(
            &valid.redirect_uri,
            "access_denied",
            "end-user denied authorization",
            valid.state.as_deref(),
        );
    }
    let username = p.get("username").map(String::as_str).unwrap_or_default();
    let password = p.get("password").map(String::as_str).unwrap_or_default();
    let user = {
        let org = state.org_read();
        check_password(&org, username, password)
    };
    let Some(user_id) = user else {
        let message = "Please check your username and password. If you still can't log in, contact your \
                       Salesforce administrator.";
        return (StatusCode::OK, Html(render_form(&p, Some(message)))).into_response();
    };
    let mut bytes = [0u8; 64];
    rand::rng().fill_bytes(&mut bytes);
    let code = format!("aPrx{}", base64::engine::general_purpose::STANDARD.encode(bytes));
    state.runtime().codes.insert(
        code.clone(),
        AuthCode {
            client_id: valid.client_id,
            user_id,
            redirect_uri: valid.redirect_uri.clone(),
            code_challenge: valid.code_challenge,
            scope: valid.scope,
            expires_at: chrono::Utc::now() + chrono::TimeDelta::seconds(CODE_LIFETIME_SECS),
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = valid.state.as_deref() {
        pairs.push(("state", s));
    }
    redirect(&valid.redirect_uri, &pairs)
}

/// Whether `uri` is allowed by the callback URL `pattern`: equal, or — for a pattern ending in
/// `:*` — the same scheme and host with any port and any path (`http://localhost:*` allows
/// `http://localhost:8080/cb`). The port must be digits and the rest a path or query, so a pattern
/// can never be stretched to another host (`http://localhost:1@evil.example`).
pub(crate) fn callback_matches(pattern: &str, uri: &str) -> bool {
    if pattern == uri {
        return true;
    }
    let Some(base) = pattern.strip_suffix('*').filter(|b| b.ends_with(':')) else {
        return false;
    };
    let Some(rest) = uri.strip_prefix(base) else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = rest.get(digits..).unwrap_or_default();
    digits > 0
        && (tail.is_empty() || tail.starts_with('/') || tail.starts_with('?'))
        && !tail.contains('@')
        && !tail.contains('\\')
}

fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return error_page("redirect_uri_mismatch", "redirect_uri must match configuration");
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn redirect_error(uri: &str, error: &str, description: &str, state: Option<&str>) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    redirect(uri, &pairs)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn error_page(error: &str, description: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html><head><title>Error</title></head><body><h1>OAuth Error</h1>\
         <p id=\"error\">error={}</p><p id=\"error_description\">{}</p></body></html>",
        escape(error),
        escape(description)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

/// The login and consent form; the request's OAuth parameters travel as hidden fields.
fn render_form(p: &HashMap<String, String>, message: Option<&str>) -> String {
    const CARRIED: [&str; 7] = [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "code_challenge",
        "code_challenge_method",
    ];
    let hidden: String = CARRIED
        .iter()
        .filter_map(|k| p.get(*k).map(|v| (k, v)))
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", escape(v)))
        .collect();
    let message = message
        .map(|m| format!("<p id=\"error\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    let app = escape(p.get("client_id").map(String::as_str).unwrap_or_default());
    let username = escape(p.get("username").map(String::as_str).unwrap_or_default());
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Login | Salesforce (forcebridge emulator)</title>\
         </head><body><h1>Log in to the forcebridge emulator</h1>{message}\
         <form method=\"post\" action=\"/services/oauth2/authorize\">{hidden}\
         <label>Username <input id=\"username\" name=\"username\" type=\"email\" value=\"{username}\"></label>\
         <label>Password <input id=\"password\" name=\"password\" type=\"password\"></label>\
         <p>The app <code>{app}</code> asks to access your data.</p>\
         <button id=\"allow\" type=\"submit\" name=\"action\" value=\"allow\">Allow</button>\
         <button id=\"deny\" type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\
         </form></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::callback_matches;

    #[test]
    fn callback_patterns() {
        assert!(callback_matches(
            "http://localhost/callback",
            "http://localhost/callback"
        ));
        assert!(!callback_matches(
            "http://localhost/callback",
            "http://localhost/callback2"
        ));
        assert!(callback_matches(
            "http://localhost:*",
            "http://localhost:8080/cb?x=1"
        ));
        assert!(callback_matches("http://localhost:*", "http://localhost:8080"));
        assert!(!callback_matches(
            "http://localhost:*",
            "http://localhost:1@evil.example/"
        ));
        assert!(!callback_matches("http://localhost:*", "http://localhost:x/"));
        assert!(!callback_matches(
            "http://localhost:*",
            "http://localhost.evil:80/"
        ));
    }
}
