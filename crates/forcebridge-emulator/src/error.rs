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
}

impl SfError {
    pub fn new(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        SfError {
            status,
            error_code: error_code.to_string(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// Adds the field names the error is about.
    pub fn with_fields(mut self, fields: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    pub fn bad_request(error_code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error_code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// The JSON Salesforce uses for this error inside a REST error array.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "message": self.message, "errorCode": self.error_code, "fields": self.fields })
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
