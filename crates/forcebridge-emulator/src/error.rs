//! Errors as Salesforce's REST API puts them on the wire.
//!
//! Invariant: every failure a REST handler returns becomes a status code and a JSON body
//! `[{"message": ..., "errorCode": ..., "fields": [...]}]`, exactly as Salesforce's. OAuth endpoints
//! use their own shape (`{"error", "error_description"}`) and do not go through this type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One Salesforce API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfError {
    pub status: StatusCode,
    pub error_code: String,
    pub message: String,
    pub fields: Vec<String>,
    /// Whether the wire body carries a `fields` key. Salesforce leaves it out of some errors
    /// (`NOT_FOUND` for a missing record, `INVALID_FIELD` for an unknown column, query errors).
    pub fields_key: bool,
}

impl SfError {
    pub fn new(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        SfError {
            status,
            error_code: error_code.to_string(),
            message: message.into(),
            fields: Vec::new(),
            fields_key: true,
        }
    }

    /// Leaves the `fields` key out of the wire body, as Salesforce does for this error.
    pub fn without_fields_key(mut self) -> Self {
        self.fields_key = false;
        self
    }

    /// Adds the field names the error is about.
    pub fn with_fields(mut self, fields: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    pub fn bad_request(error_code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error_code, message)
    }

    /// A 404 `NOT_FOUND`, without a `fields` key (as Salesforce sends it).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message).without_fields_key()
    }

    /// The 404 Salesforce answers for a path that names nothing: "The requested resource does not exist".
    pub fn no_resource() -> Self {
        Self::not_found("The requested resource does not exist")
    }

    /// The JSON Salesforce uses for this error inside a REST error array.
    pub fn to_json(&self) -> serde_json::Value {
        if self.fields_key {
            json!({ "message": self.message, "errorCode": self.error_code, "fields": self.fields })
        } else {
            json!({ "message": self.message, "errorCode": self.error_code })
        }
    }

    /// The JSON Salesforce uses inside per-record results (Collections, Bulk): `statusCode`, not `errorCode`.
    pub fn to_record_json(&self) -> serde_json::Value {
        json!({ "statusCode": self.error_code, "message": self.message, "fields": self.fields })
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!([self.to_json()]))).into_response()
    }
}
