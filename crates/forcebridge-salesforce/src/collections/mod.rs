//! sObject Collections: create, update, upsert, delete and retrieve many records, split
//! automatically into calls of at most 200 records, with one result per input record in the
//! caller's order.
//!
//! `all_or_none` applies within each 200-record call (Salesforce cannot roll back across calls).
//! When a call fails as a whole (expired token, exhausted limit, outage after retries) its records
//! and the ones after it are reported [`RecordOutcome::NotSent`] with that error, and records of
//! earlier calls keep their real results — so a caller always knows exactly what was written.
//!
//! Invariant: `results.len() == input.len()` and `results[i]` is about `input[i]`.

use std::sync::Arc;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::client::{Client, Req};
use crate::error::{ApiErrorDetail, Error, ErrorKind, Result};
use crate::rest::SaveResult;
use crate::types::{RecordId, check_api_name};

/// Salesforce's maximum records per Collections call.
pub const MAX_RECORDS_PER_CALL: usize = 200;

/// The result for one input record.
#[derive(Debug, Clone)]
pub enum RecordOutcome {
    /// Saved (or deleted); `created` is set for upserts.
    Saved {
        /// The record id.
        id: RecordId,
        /// For upserts: created (true) or updated (false).
        created: Option<bool>,
    },
    /// Salesforce refused this record.
    Failed {
        /// Its errors.
        errors: Vec<ApiErrorDetail>,
    },
    /// The call carrying this record failed as a whole, or an earlier call did; nothing was written.
    NotSent(Arc<Error>),
}

impl RecordOutcome {
    /// Whether the record was saved.
    pub fn is_saved(&self) -> bool {
        matches!(self, RecordOutcome::Saved { .. })
    }

    /// The id, when saved.
    pub fn id(&self) -> Option<&RecordId> {
        match self {
            RecordOutcome::Saved { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The classification of the failure, when it failed.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self {
            RecordOutcome::Saved { .. } => None,
            RecordOutcome::Failed { errors } => {
                Some(errors.first().map_or(ErrorKind::Other, ApiErrorDetail::kind))
            }
            RecordOutcome::NotSent(e) => Some(e.kind()),
        }
    }
}

/// Options of a Collections operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionOptions {
    /// Roll back a whole call when one of its records fails.
    pub all_or_none: bool,
    /// Records per call (1..=200).
    pub chunk_size: usize,
}

impl Default for CollectionOptions {
    fn default() -> Self {
        CollectionOptions {
            all_or_none: false,
            chunk_size: MAX_RECORDS_PER_CALL,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SaveBody<'a> {
    all_or_none: bool,
    records: &'a [Value],
}

fn with_type(sobject: &str, record: &Value, index: usize) -> Result<Value> {
    let Value::Object(map) = record else {
        return Err(Error::InvalidInput(format!(
            "record {index} is not a JSON object"
        )));
    };
    let mut out = Map::with_capacity(map.len() + 1);
    out.insert("attributes".into(), serde_json::json!({ "type": sobject }));
    for (k, v) in map {
        if k != "attributes" {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn outcome(r: SaveResult) -> RecordOutcome {
    match (r.success, r.id.as_deref().map(RecordId::parse)) {
        (true, Some(Ok(id))) => RecordOutcome::Saved {
            id,
            created: r.created,
        },
        (true, _) => RecordOutcome::Failed {
            errors: vec![ApiErrorDetail {
                error_code: "UNEXPECTED_ANSWER".into(),
                message: "salesforce reported success without a valid id".into(),
                fields: Vec::new(),
            }],
        },
        (false, _) => RecordOutcome::Failed { errors: r.errors },
    }
}

/// Whether later chunks should still be sent after a chunk failed as a whole.
fn continue_after(e: &Error) -> bool {
    e.kind() == ErrorKind::InvalidInput
}

impl Client {
    async fn run_chunks<F, Fut>(
        &self,
        len: usize,
        options: CollectionOptions,
        mut call: F,
    ) -> Result<Vec<RecordOutcome>>
    where
        F: FnMut(std::ops::Range<usize>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<SaveResult>>>,
    {
        if options.chunk_size == 0 || options.chunk_size > MAX_RECORDS_PER_CALL {
            return Err(Error::InvalidInput(format!(
                "collections chunk size must be 1..=200, got {}",
                options.chunk_size
            )));
        }
        let mut out: Vec<RecordOutcome> = Vec::with_capacity(len);
        let mut start = 0;
        let mut stop: Option<Arc<Error>> = None;
        while start < len {
            let end = (start + options.chunk_size).min(len);
            if let Some(e) = &stop {
                out.extend((start..end).map(|_| RecordOutcome::NotSent(e.clone())));
                start = end;
                continue;
            }
            match call(start..end).await {
                Ok(results) if results.len() == end - start => out.extend(results.into_iter().map(outcome)),
                Ok(results) => {
                    let e = Arc::new(Error::Decode {
                        context: "collections results".into(),
                        reason: format!("{} results for {} records", results.len(), end - start),
                    });
                    out.extend((start..end).map(|_| RecordOutcome::NotSent(e.clone())));
                }
                Err(e) => {
                    let e = Arc::new(e);
                    out.extend((start..end).map(|_| RecordOutcome::NotSent(e.clone())));
                    if !continue_after(&e) {
                        stop = Some(e);
                    }
                }
            }
            start = end;
        }
        Ok(out)
    }

    /// Creates many records (`POST /composite/sobjects`), 200 per call.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad object name, a record that is not a JSON object or a bad
    /// chunk size; call-level failures are reported per record as [`RecordOutcome::NotSent`].
    pub async fn create_many(
        &self,
        sobject: &str,
        records: &[Value],
        options: CollectionOptions,
    ) -> Result<Vec<RecordOutcome>> {
        check_api_name("sObject", sobject)?;
        let typed = records
            .iter()
            .enumerate()
            .map(|(i, r)| with_type(sobject, r, i))
            .collect::<Result<Vec<_>>>()?;
        self.run_chunks(typed.len(), options, |range| {
            let body = SaveBody {
                all_or_none: options.all_or_none,
                records: &typed[range],
            };
            let req = Req::new(Method::POST, "composite/sobjects").json(&body);
            async move { self.send(req?).await?.json("collections results") }
        })
        .await
    }

    /// Updates many records (`PATCH /composite/sobjects`); each record must carry its `Id`.
    ///
    /// # Errors
    /// As [`Self::create_many`], plus a record without `Id`.
    pub async fn update_many(
        &self,
        sobject: &str,
        records: &[Value],
        options: CollectionOptions,
    ) -> Result<Vec<RecordOutcome>> {
        check_api_name("sObject", sobject)?;
        let typed = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                if r.get("Id").and_then(Value::as_str).is_none() {
                    return Err(Error::InvalidInput(format!("record {i} has no Id to update")));
                }
                with_type(sobject, r, i)
            })
            .collect::<Result<Vec<_>>>()?;
        self.run_chunks(typed.len(), options, |range| {
            let body = SaveBody {
                all_or_none: options.all_or_none,
                records: &typed[range],
            };
            let req = Req::new(Method::PATCH, "composite/sobjects").json(&body);
            async move { self.send(req?).await?.json("collections results") }
        })
        .await
    }

    /// Upserts many records by an external id field
    /// (`PATCH /composite/sobjects/{sobject}/{field}`); results carry `created`.
    ///
    /// Upserting by `Id` is allowed: records without an `Id` are created.
    ///
    /// # Errors
    /// As [`Self::create_many`], plus a record without the external id field (other than `Id`).
    pub async fn upsert_many(
        &self,
        sobject: &str,
        external_id_field: &str,
        records: &[Value],
        options: CollectionOptions,
    ) -> Result<Vec<RecordOutcome>> {
        check_api_name("sObject", sobject)?;
        check_api_name("field", external_id_field)?;
        let typed = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                // Upsert by Id creates the records that have no Id (CumulusCI relies on it).
                let by_id = external_id_field.eq_ignore_ascii_case("Id");
                if !by_id && r.get(external_id_field).is_none_or(Value::is_null) {
                    return Err(Error::InvalidInput(format!(
                        "record {i} has no {external_id_field} to upsert by"
                    )));
                }
                with_type(sobject, r, i)
            })
            .collect::<Result<Vec<_>>>()?;
        let path = format!("composite/sobjects/{sobject}/{external_id_field}");
        self.run_chunks(typed.len(), options, |range| {
            let body = SaveBody {
                all_or_none: options.all_or_none,
                records: &typed[range],
            };
            let req = Req::new(Method::PATCH, path.clone()).json(&body);
            async move { self.send(req?).await?.json("collections results") }
        })
        .await
    }

    /// Deletes many records (`DELETE /composite/sobjects?ids=...`).
    ///
    /// # Errors
    /// As [`Self::create_many`].
    pub async fn delete_many(
        &self,
        ids: &[RecordId],
        options: CollectionOptions,
    ) -> Result<Vec<RecordOutcome>> {
        self.run_chunks(ids.len(), options, |range| {
            let list = ids[range]
                .iter()
                .map(RecordId::as_str)
                .collect::<Vec<_>>()
                .join(",");
            let req = Req::new(Method::DELETE, "composite/sobjects")
                .query("ids", list)
                .query("allOrNone", options.all_or_none.to_string());
            async move { self.send(req).await?.json("collections results") }
        })
        .await
    }

    /// Reads many records by id (`POST /composite/sobjects/{sobject}`); `None` where a record was
    /// not found. Results are in the order of `ids`.
    ///
    /// # Errors
    /// Pipeline errors (the first failing call ends the operation: nothing was written).
    pub async fn retrieve_many(
        &self,
        sobject: &str,
        ids: &[RecordId],
        fields: &[&str],
    ) -> Result<Vec<Option<Value>>> {
        check_api_name("sObject", sobject)?;
        for f in fields {
            check_api_name("field", f)?;
        }
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(2000) {
            let body = serde_json::json!({
                "ids": chunk.iter().map(RecordId::as_str).collect::<Vec<_>>(),
                "fields": fields,
            });
            // A retrieve changes nothing, so resending is safe.
            let req = Req::new(Method::POST, format!("composite/sobjects/{sobject}"))
                .json(&body)?
                .idempotent(true);
            let rows: Vec<Value> = self.send(req).await?.json("collections retrieve")?;
            out.extend(rows.into_iter().map(|v| if v.is_null() { None } else { Some(v) }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_save_results() {
        let body = r#"[{"id":"001D000000IqhSLIAZ","success":true,"errors":[],"created":true},
            {"success":false,"errors":[{"statusCode":"DUPLICATE_VALUE","message":"dup","fields":["Ext__c"]}]}]"#;
        let rs: Vec<SaveResult> = serde_json::from_str(body).unwrap();
        let out: Vec<_> = rs.into_iter().map(outcome).collect();
        assert!(matches!(
            &out[0],
            RecordOutcome::Saved {
                created: Some(true),
                ..
            }
        ));
        assert_eq!(out[1].error_kind(), Some(ErrorKind::Duplicate));
    }

    #[test]
    fn adds_the_type_attribute() {
        let v = with_type(
            "Lead",
            &serde_json::json!({"LastName":"X","attributes":{"type":"Bad"}}),
            0,
        )
        .unwrap();
        assert_eq!(v["attributes"]["type"], "Lead");
        assert!(with_type("Lead", &serde_json::json!([1]), 3).is_err());
    }
}
