//! REST API resources on records: create, read, update, delete, upsert by external id; plus
//! describe ([`describe`]).
//!
//! Invariant: object and field names are checked to be API names before they go into a URL path;
//! external id values are percent-encoded.

pub mod describe;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, Req};
use crate::error::{ApiErrorDetail, Error, ErrorKind, Result};
use crate::types::{RecordId, check_api_name};

/// The answer to a create: `{"id","success","errors"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveResult {
    /// The record id.
    #[serde(default)]
    pub id: Option<String>,
    /// Whether it was saved.
    #[serde(default)]
    pub success: bool,
    /// Errors (for failures in Collections).
    #[serde(default)]
    pub errors: Vec<ApiErrorDetail>,
    /// For upserts: true when a record was created, false when one was updated.
    #[serde(default)]
    pub created: Option<bool>,
}

/// The result of an upsert by external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// The record id (absent only for updates on API versions before 46.0, which answer 204).
    pub id: Option<RecordId>,
    /// Whether a record was created (201) rather than updated (200/204).
    pub created: bool,
}

fn encode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl Client {
    fn note_schema_error(&self, sobject: &str, e: &Error) {
        if matches!(
            e.error_code(),
            Some("INVALID_FIELD" | "INVALID_TYPE" | "INVALID_FIELD_FOR_INSERT_UPDATE")
        ) {
            self.invalidate_describe(sobject);
        }
    }

    /// Creates a record; `fields` is a JSON object of field values.
    ///
    /// # Errors
    /// Salesforce's refusal as [`Error::Api`] (e.g. `REQUIRED_FIELD_MISSING`, `DUPLICATES_DETECTED`).
    pub async fn create(&self, sobject: &str, fields: &Value) -> Result<RecordId> {
        check_api_name("sObject", sobject)?;
        let req = Req::new(Method::POST, format!("sobjects/{sobject}")).json(fields)?;
        let resp = self
            .send(req)
            .await
            .inspect_err(|e| self.note_schema_error(sobject, e))?;
        let r: SaveResult = resp.json("create result")?;
        let id =
            r.id.ok_or_else(|| Error::decode("create result", "no id", &resp.body))?;
        RecordId::parse(&id)
    }

    /// Reads a record; `fields` limits the fields returned.
    ///
    /// # Errors
    /// Kind not found for a missing or deleted record; pipeline errors.
    pub async fn get_record(&self, sobject: &str, id: &RecordId, fields: Option<&[&str]>) -> Result<Value> {
        check_api_name("sObject", sobject)?;
        let mut req = Req::get(format!("sobjects/{sobject}/{id}"));
        if let Some(f) = fields {
            for name in f {
                check_api_name("field", name)?;
            }
            req = req.query("fields", f.join(","));
        }
        let resp = self
            .send(req)
            .await
            .inspect_err(|e| self.note_schema_error(sobject, e))?;
        resp.json("record")
    }

    /// Updates fields of a record.
    ///
    /// # Errors
    /// Salesforce's refusal as [`Error::Api`].
    pub async fn update(&self, sobject: &str, id: &RecordId, fields: &Value) -> Result<()> {
        check_api_name("sObject", sobject)?;
        let req = Req::new(Method::PATCH, format!("sobjects/{sobject}/{id}")).json(fields)?;
        self.send(req)
            .await
            .inspect_err(|e| self.note_schema_error(sobject, e))?;
        Ok(())
    }

    /// Deletes a record. Deleting a record that is already gone is reported (kind not found) so
    /// callers can decide whether that is fine.
    ///
    /// # Errors
    /// Salesforce's refusal as [`Error::Api`].
    pub async fn delete(&self, sobject: &str, id: &RecordId) -> Result<()> {
        check_api_name("sObject", sobject)?;
        self.send(Req::new(Method::DELETE, format!("sobjects/{sobject}/{id}")))
            .await?;
        Ok(())
    }

    /// Upserts by external id: creates the record when no record has `value` in `external_id_field`,
    /// updates it otherwise, and says which.
    ///
    /// # Errors
    /// `DUPLICATE_EXTERNAL_ID` (kind duplicate) when several records match; other refusals as
    /// [`Error::Api`].
    pub async fn upsert(
        &self,
        sobject: &str,
        external_id_field: &str,
        value: &str,
        fields: &Value,
    ) -> Result<UpsertOutcome> {
        check_api_name("sObject", sobject)?;
        check_api_name("field", external_id_field)?;
        if value.is_empty() {
            return Err(Error::InvalidInput(format!(
                "upsert on {sobject}.{external_id_field} needs a non-empty external id value"
            )));
        }
        let path = format!("sobjects/{sobject}/{external_id_field}/{}", encode_segment(value));
        // An upsert is idempotent: resending it finds the record it created.
        let req = Req::new(Method::PATCH, path).json(fields)?.idempotent(true);
        let resp = self
            .send(req)
            .await
            .inspect_err(|e| self.note_schema_error(sobject, e))?;
        if resp.body.is_empty() {
            return Ok(UpsertOutcome {
                id: None,
                created: resp.status == 201,
            });
        }
        let r: SaveResult = resp.json("upsert result")?;
        let id = r.id.as_deref().map(RecordId::parse).transpose()?;
        Ok(UpsertOutcome {
            id,
            created: r.created.unwrap_or(resp.status == 201),
        })
    }

    /// The API versions the org serves (`/services/data`).
    ///
    /// # Errors
    /// Pipeline and decode errors.
    pub async fn versions(&self) -> Result<Vec<Value>> {
        self.get_json("/services/data").await
    }
}

impl SaveResult {
    /// The kind of the first error, when it failed.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.errors.first().map(ApiErrorDetail::kind)
    }
}
