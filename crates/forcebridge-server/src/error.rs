//! [`ApiError`]: the one error every handler returns, rendered as JSON with a stable `code`
//! (the table below, documented in docs/server.md), a message that says what to do, and the
//! offending `field` when the input was at fault.
//!
//! Invariant: bad input is always a 4xx naming the field; a 5xx is only for our own failures,
//! and its message never carries secrets or internal details beyond the error's own words.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use forcebridge_engine::{Error as EngineError, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

/// The error body of every failed call.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code (see docs/server.md for the table).
    pub code: &'static str,
    /// What failed and what to do, in words.
    pub message: String,
    /// The request field at fault (`events[2].idempotency_key`, `environment.url`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
                field: None,
            },
            retry_after: None,
        }
    }

    /// 400 `invalid_request` naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        e.body.field = Some(field.into());
        e
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found (or it belongs to another tenant)"),
        )
    }

    /// 413 `payload_too_large`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests for this tenant; retry after {retry_after_secs} s"),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// 503 `not_ready`.
    pub fn not_ready(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", message)
    }

    /// 500 `internal`; the detail goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "forcebridge failed to handle this request; the server log has the details",
        )
    }

    /// The code (for tests and logs).
    pub fn code(&self) -> &'static str {
        self.body.code
    }
}

/// The leading field path of an engine or store message (`label must …` → `label`).
fn field_of(message: &str) -> Option<String> {
    let message = message.strip_prefix("invalid input: ").unwrap_or(message);
    let first = message.split([' ', ':']).next()?;
    let ok = !first.is_empty()
        && first
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c))
        && first.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    ok.then(|| first.to_owned())
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        use forcebridge_store::Error as StoreError;
        if let EngineError::Store(StoreError::ConnectionLimit { .. }) = &e {
            let mut a = Self::new(StatusCode::CONFLICT, "connection_limit", e.to_string());
            a.body.field = Some("owner".into());
            return a;
        }
        let message = e.to_string();
        if matches!(e, EngineError::Salesforce(_)) && e.kind() == ErrorKind::Internal {
            return Self::new(StatusCode::BAD_GATEWAY, "salesforce_error", message);
        }
        match e.kind() {
            ErrorKind::Invalid => {
                let mut a = Self::new(StatusCode::BAD_REQUEST, "invalid_request", message.clone());
                a.body.field = field_of(&message);
                a
            }
            ErrorKind::NotFound => Self::new(StatusCode::NOT_FOUND, "not_found", message),
            ErrorKind::Conflict => Self::new(StatusCode::CONFLICT, "conflict", message),
            ErrorKind::Auth => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "salesforce_auth_failed",
                message,
            ),
            ErrorKind::Retryable => Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
            ErrorKind::Internal => Self::internal(message),
        }
    }
}

impl From<forcebridge_store::Error> for ApiError {
    fn from(e: forcebridge_store::Error) -> Self {
        EngineError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("forcebridge_http_errors_total", "code" => self.body.code).increment(1);
        let mut r = (self.status, axum::Json(self.body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }
}

/// Turns the framework's own plain-text rejections (a query string or path that does not parse,
/// a wrong method) into the JSON error body, so every error has the same shape.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "invalid_request",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let message = if text.is_empty() { status.to_string() } else { text };
    let mut e = ApiError::new(status, code, message);
    if code == "invalid_request" {
        e.body.field = Some(
            if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                "content-type"
            } else {
                "request"
            }
            .into(),
        );
    }
    e.into_response()
}

/// Handlers' result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_the_start_of_messages() {
        assert_eq!(
            field_of("label must be 1 to 200 characters").as_deref(),
            Some("label")
        );
        assert_eq!(
            field_of("environment.url \"x\" must …").as_deref(),
            Some("environment.url")
        );
        assert_eq!(
            field_of("events[2].idempotency_key must …").as_deref(),
            Some("events[2].idempotency_key")
        );
        assert_eq!(field_of("invalid input: label must …").as_deref(), Some("label"));
        assert_eq!(field_of("The thing").as_deref(), None);
    }
}
