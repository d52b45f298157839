//! The one error type of the client, and its classification.
//!
//! Every failure the client reports is an [`Error`]; callers decide what to do from
//! [`Error::kind`] (an [`ErrorKind`]) rather than from message text. Salesforce's own error
//! details (`errorCode`/`statusCode`, `message`, `fields`) are kept verbatim in [`ApiErrorDetail`].
//!
//! Invariant: classification is a pure function of the HTTP status and Salesforce's error codes, so
//! the same answer is always classified the same way.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What kind of failure an [`Error`] is, so callers can act without matching strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The credentials or session were refused (wrong secret, inactive user, bad session after a
    /// refresh); a person must fix the configuration.
    Auth,
    /// The refresh token (or other grant) is expired or revoked: the connection must be authorised
    /// again by a person ("Account Token Expired"). Never retried.
    TokenRevoked,
    /// The org's API allocation (or the budget threshold set on it) is used up; wait, do not retry now.
    LimitExhausted,
    /// A record is locked by another transaction (`UNABLE_TO_LOCK_ROW`); retry later.
    RowLock,
    /// A temporary failure (503, timeout, connection reset); retrying may succeed.
    Transient,
    /// A duplicate was refused (`DUPLICATE_VALUE`, `DUPLICATES_DETECTED`, ...).
    Duplicate,
    /// The request itself is wrong (bad field, malformed query, validation rule); retrying is useless.
    InvalidInput,
    /// The integration user lacks access to an object, field or record.
    Permission,
    /// The record, object or resource does not exist (or was deleted).
    NotFound,
    /// Anything else (unexpected answers, local I/O, the token store).
    Other,
}

impl ErrorKind {
    /// Whether an automatic retry with backoff may help.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::RowLock)
    }
}

/// One error entry as Salesforce reports it: REST error bodies use `errorCode`, sObject
/// Collections and Composite results use `statusCode`; both are read into [`Self::error_code`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorDetail {
    /// Salesforce's code, e.g. `INVALID_FIELD`, `UNABLE_TO_LOCK_ROW`.
    #[serde(rename = "errorCode", alias = "statusCode", default)]
    pub error_code: String,
    /// Salesforce's human message.
    #[serde(default)]
    pub message: String,
    /// Fields the error is about, when Salesforce names them.
    #[serde(default, deserialize_with = "fields_or_null")]
    pub fields: Vec<String>,
}

fn fields_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl ApiErrorDetail {
    /// The classification of this one error code (used for per-record results too).
    pub fn kind(&self) -> ErrorKind {
        classify_code(&self.error_code, &self.message).unwrap_or(ErrorKind::Other)
    }
}

impl std::fmt::Display for ApiErrorDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_code, self.message)?;
        if !self.fields.is_empty() {
            write!(f, " (fields: {})", self.fields.join(", "))?;
        }
        Ok(())
    }
}

/// Classifies a Salesforce error code; `None` when the code alone says nothing.
pub(crate) fn classify_code(code: &str, message: &str) -> Option<ErrorKind> {
    let kind = match code {
        "INVALID_SESSION_ID"
        | "INVALID_AUTH_HEADER"
        | "INVALID_LOGIN"
        | "LOGIN_MUST_USE_SECURITY_TOKEN"
        | "INVALID_OPERATION_WITH_EXPIRED_PASSWORD" => ErrorKind::Auth,
        // The concurrent long-running request limit is a short wait, not the daily allocation.
        "REQUEST_LIMIT_EXCEEDED" if message.contains("ConcurrentPerOrgLongTxn") => ErrorKind::Transient,
        "REQUEST_LIMIT_EXCEEDED" | "TXN_SECURITY_API_LIMIT" | "EXCEEDED_ID_LIMIT" => {
            ErrorKind::LimitExhausted
        }
        "UNABLE_TO_LOCK_ROW" => ErrorKind::RowLock,
        "SERVER_UNAVAILABLE" | "SERVICE_UNAVAILABLE" | "UNKNOWN_EXCEPTION" | "QUERY_TIMEOUT" => {
            ErrorKind::Transient
        }
        "DUPLICATE_VALUE" | "DUPLICATES_DETECTED" | "DUPLICATE_EXTERNAL_ID" | "DUPLICATE_USERNAME" => {
            ErrorKind::Duplicate
        }
        "INSUFFICIENT_ACCESS"
        | "INSUFFICIENT_ACCESS_OR_READONLY"
        | "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
        | "API_DISABLED_FOR_ORG"
        | "API_CURRENTLY_DISABLED"
        | "FUNCTIONALITY_NOT_ENABLED"
        | "NO_ACCESS" => ErrorKind::Permission,
        "NOT_FOUND" | "ENTITY_IS_DELETED" | "INVALID_CROSS_REFERENCE_KEY" => ErrorKind::NotFound,
        "INVALID_FIELD"
        | "INVALID_TYPE"
        | "MALFORMED_QUERY"
        | "MALFORMED_ID"
        | "INVALID_ID_FIELD"
        | "INVALID_QUERY_LOCATOR"
        | "INVALID_QUERY_FILTER_OPERATOR"
        | "REQUIRED_FIELD_MISSING"
        | "STRING_TOO_LONG"
        | "JSON_PARSER_ERROR"
        | "INVALID_FIELD_FOR_INSERT_UPDATE"
        | "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
        | "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        | "FIELD_INTEGRITY_EXCEPTION"
        | "INVALID_EMAIL_ADDRESS"
        | "NUMBER_OUTSIDE_VALID_RANGE"
        | "METHOD_NOT_ALLOWED"
        | "INVALID_BATCH_SIZE"
        | "PROCESSING_HALTED"
        | "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        | "INVALIDJSON"
        | "INVALID_VERSION" => ErrorKind::InvalidInput,
        _ => return None,
    };
    Some(kind)
}

/// Classifies an HTTP status when no error code decided.
pub(crate) fn classify_status(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Auth,
        403 => ErrorKind::Permission,
        404 | 410 => ErrorKind::NotFound,
        409 => ErrorKind::Duplicate,
        429 => ErrorKind::Transient,
        400 | 405 | 406 | 413 | 414 | 415 | 422 => ErrorKind::InvalidInput,
        500 | 502 | 503 | 504 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// Everything that can go wrong in the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Salesforce answered with an error status and (usually) an error body.
    #[error("salesforce answered {status}: {}", summarize(errors))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The errors in the body, in Salesforce's order; empty if the body had none.
        errors: Vec<ApiErrorDetail>,
        /// Seconds from a `Retry-After` header, when present.
        retry_after: Option<Duration>,
    },
    /// The OAuth token endpoint refused a grant (other than an expired/revoked one).
    #[error(
        "sign-in refused ({status}): {error}: {description}; check the connected app's consumer key and secret and the user's credentials"
    )]
    OAuth {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code (e.g. `invalid_client`).
        error: String,
        /// The OAuth `error_description`.
        description: String,
    },
    /// The refresh token or grant is expired or revoked (`invalid_grant`); a person must connect the
    /// org again. The seeds call this "Account Token Expired".
    #[error("the connection's token is expired or revoked ({description}); reconnect the Salesforce org")]
    TokenExpiredOrRevoked {
        /// Salesforce's `error_description`.
        description: String,
    },
    /// A connected app was still refused after waiting for it to become active.
    #[error(
        "the connected app is not active yet or its consumer key is wrong ({description}); new connected apps take 2-10 minutes to activate, waited {waited:?}"
    )]
    ConnectedAppNotReady {
        /// Salesforce's `error_description`.
        description: String,
        /// How long the client waited before giving up.
        waited: Duration,
    },
    /// The org's API budget (or the threshold set on it) is used up.
    #[error("api budget exhausted: {used}/{max} calls used, threshold {threshold_pct}%; wait until {until}")]
    BudgetExhausted {
        /// Calls used in the last 24 hours, as last observed.
        used: u64,
        /// The org's daily allocation.
        max: u64,
        /// The threshold set on the budget, in percent of `max`.
        threshold_pct: u8,
        /// When to ask again.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The request could not be sent or its answer not read (connection refused or reset, TLS, timeout).
    #[error("cannot reach salesforce: {source}")]
    Transport {
        /// Whether the request is known never to have been sent (connect failure).
        not_sent: bool,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// An answer could not be decoded into the expected shape.
    #[error("unexpected answer from salesforce ({context}): {reason}")]
    Decode {
        /// What was being decoded.
        context: String,
        /// Why it failed (with the start of the body).
        reason: String,
    },
    /// A value given to the client is invalid (URL, id, version, batch too large, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The caller-supplied token store refused to save tokens.
    #[error("cannot save tokens: {0}")]
    TokenStore(String),
    /// The caller's replay store failed to load or save a replay id.
    #[error("cannot load or save a replay id: {0}; the subscription stops so no event is lost")]
    ReplayStore(String),
    /// Retrying did not help within the time bound; `last` is the last failure.
    #[error("gave up after {attempts} attempts over {elapsed:?}: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// Total time spent.
        elapsed: Duration,
        /// The last failure.
        last: Box<Error>,
    },
    /// A Bulk API job ended in `Failed` or `Aborted`.
    #[error("bulk job {job_id} ended {state}: {message}")]
    BulkJobFailed {
        /// The job id.
        job_id: String,
        /// The final state.
        state: String,
        /// Salesforce's `errorMessage`.
        message: String,
    },
    /// A Metadata API call failed or a deploy did not finish.
    #[error("metadata api: {0}")]
    Metadata(String),
    /// A local I/O error (reading a key or CA file).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn summarize(errors: &[ApiErrorDetail]) -> String {
    if errors.is_empty() {
        return "no error details".to_string();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The classification callers act on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Api { status, errors, .. } => errors
                .iter()
                .find_map(|e| classify_code(&e.error_code, &e.message))
                .unwrap_or_else(|| classify_status(*status)),
            Error::OAuth { .. } | Error::ConnectedAppNotReady { .. } => ErrorKind::Auth,
            Error::TokenExpiredOrRevoked { .. } => ErrorKind::TokenRevoked,
            Error::BudgetExhausted { .. } => ErrorKind::LimitExhausted,
            Error::Transport { .. } => ErrorKind::Transient,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::RetriesExhausted { last, .. } => last.kind(),
            Error::Decode { .. }
            | Error::TokenStore(_)
            | Error::ReplayStore(_)
            | Error::BulkJobFailed { .. }
            | Error::Metadata(_)
            | Error::Io { .. } => ErrorKind::Other,
        }
    }

    /// The HTTP status Salesforce answered with, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::OAuth { status, .. } => Some(*status),
            Error::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Salesforce's error details, when the error came from an error body.
    pub fn details(&self) -> &[ApiErrorDetail] {
        match self {
            Error::Api { errors, .. } => errors,
            Error::RetriesExhausted { last, .. } => last.details(),
            _ => &[],
        }
    }

    /// The first Salesforce `errorCode`, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.details().first().map(|d| d.error_code.as_str())
    }

    /// When a caller should try again, if Salesforce or the budget said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            Error::BudgetExhausted { until, .. } => (*until - chrono::Utc::now())
                .to_std()
                .ok()
                .or(Some(Duration::ZERO)),
            Error::RetriesExhausted { last, .. } => last.retry_after(),
            _ => None,
        }
    }

    /// Whether this is the expired-session answer that calls for one token refresh.
    pub(crate) fn is_session_expired(&self) -> bool {
        match self {
            Error::Api { status, errors, .. } => {
                *status == 401
                    && (errors.is_empty() || errors.iter().any(|e| e.error_code == "INVALID_SESSION_ID"))
            }
            _ => false,
        }
    }

    pub(crate) fn decode(context: impl Into<String>, reason: impl std::fmt::Display, body: &[u8]) -> Self {
        let snippet: String = String::from_utf8_lossy(body).chars().take(300).collect();
        Error::Decode {
            context: context.into(),
            reason: format!("{reason}; body starts with: {snippet}"),
        }
    }
}

/// Builds an [`Error::Api`] from a status, headers and body; bodies that are not Salesforce error
/// lists (HTML from a proxy, an empty body) still give a useful error.
pub(crate) fn api_error(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Error {
    let errors = parse_error_body(body);
    Error::Api {
        status,
        errors,
        retry_after,
    }
}

/// Reads `[{"message","errorCode","fields"}]`, or a single object, or gives a synthetic entry with
/// the start of the body when the body is something else.
pub(crate) fn parse_error_body(body: &[u8]) -> Vec<ApiErrorDetail> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    if let Ok(list) = serde_json::from_slice::<Vec<ApiErrorDetail>>(body) {
        return list;
    }
    if let Ok(one) = serde_json::from_slice::<ApiErrorDetail>(body)
        && !one.error_code.is_empty()
    {
        return vec![one];
    }
    // Long enough to keep a whole SOAP fault envelope, short enough for a log line.
    let snippet: String = String::from_utf8_lossy(body).chars().take(2000).collect();
    vec![ApiErrorDetail {
        error_code: String::new(),
        message: snippet,
        fields: Vec::new(),
    }]
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rest_error_bodies() {
        let body = br#"[{"message":"No such column 'Foo' on entity 'Account'","errorCode":"INVALID_FIELD","fields":["Foo"]}]"#;
        let e = api_error(400, None, body);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.error_code(), Some("INVALID_FIELD"));
        assert_eq!(e.details()[0].fields, vec!["Foo".to_string()]);
        assert_eq!(e.status(), Some(400));
    }

    #[test]
    fn reads_collection_status_codes_and_null_fields() {
        let d: ApiErrorDetail =
            serde_json::from_str(r#"{"statusCode":"UNABLE_TO_LOCK_ROW","message":"locked","fields":null}"#)
                .unwrap();
        assert_eq!(d.kind(), ErrorKind::RowLock);
        assert!(d.fields.is_empty());
    }

    #[test]
    fn classifies_what_callers_act_on() {
        let cases = [
            (
                401,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
                ErrorKind::Auth,
            ),
            (
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
                ErrorKind::LimitExhausted,
            ),
            (
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded.",
                ErrorKind::Transient,
            ),
            (
                400,
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access",
                ErrorKind::RowLock,
            ),
            (503, "SERVER_UNAVAILABLE", "down", ErrorKind::Transient),
            (
                400,
                "DUPLICATE_VALUE",
                "duplicate value found",
                ErrorKind::Duplicate,
            ),
            (
                400,
                "DUPLICATES_DETECTED",
                "Use one of these records?",
                ErrorKind::Duplicate,
            ),
            (
                403,
                "INSUFFICIENT_ACCESS_OR_READONLY",
                "no",
                ErrorKind::Permission,
            ),
            (
                404,
                "NOT_FOUND",
                "The requested resource does not exist",
                ErrorKind::NotFound,
            ),
            (404, "ENTITY_IS_DELETED", "entity is deleted", ErrorKind::NotFound),
            (
                400,
                "MALFORMED_QUERY",
                "unexpected token",
                ErrorKind::InvalidInput,
            ),
            (418, "SOMETHING_NEW", "?", ErrorKind::Other),
            (502, "SOMETHING_NEW", "?", ErrorKind::Transient),
        ];
        for (status, code, message, kind) in cases {
            let body = serde_json::json!([{ "errorCode": code, "message": message }]).to_string();
            assert_eq!(api_error(status, None, body.as_bytes()).kind(), kind, "{code}");
        }
    }

    #[test]
    fn non_json_bodies_still_make_errors() {
        let e = api_error(503, None, b"<html>Service Unavailable</html>");
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert!(e.to_string().contains("Service Unavailable"));
        assert!(api_error(401, None, b"").is_session_expired());
    }
}
