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
    /// Keys Salesforce adds to some errors beside the usual ones (`duplicateResult` on
    /// `DUPLICATES_DETECTED`), merged into both wire shapes so per-record results carry them too.
    /// Boxed: errors travel in `Result`s everywhere and most have no extra keys.
    pub extra: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl SfError {
    pub fn new(status: StatusCode, error_code: &str, message: impl Into<String>) -> Self {
        SfError {
            status,
            error_code: error_code.to_string(),
            message: message.into(),
            fields: Vec::new(),
            fields_key: true,
            extra: None,
        }
    }

    /// Adds a key beside `message` / `errorCode` / `fields` on the wire.
    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra
            .get_or_insert_with(Box::default)
            .insert(key.to_string(), value);
        self
    }

    fn merge_extra(&self, mut v: serde_json::Value) -> serde_json::Value {
        if let (Some(extra), Some(obj)) = (&self.extra, v.as_object_mut()) {
            for (k, x) in extra.iter() {
                obj.insert(k.clone(), x.clone());
            }
        }
        v
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
        let v = if self.fields_key {
            json!({ "message": self.message, "errorCode": self.error_code, "fields": self.fields })
        } else {
            json!({ "message": self.message, "errorCode": self.error_code })
        };
        self.merge_extra(v)
    }

    /// The JSON Salesforce uses inside per-record results (Collections, Bulk): `statusCode`, not `errorCode`.
    pub fn to_record_json(&self) -> serde_json::Value {
        self.merge_extra(
            json!({ "statusCode": self.error_code, "message": self.message, "fields": self.fields }),
        )
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!([self.to_json()]))).into_response()
    }
}
