//! Composite: up to 25 subrequests in one call, later ones referring to earlier results with
//! `@{referenceId.field}`.
//!
//! Invariant: a request is checked before sending — 1..=25 subrequests, unique reference ids made
//! of letters, digits and underscores, and every `@{ref...}` naming an earlier subrequest.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, Req};
use crate::error::{ApiErrorDetail, Error, ErrorKind, Result};

/// Salesforce's maximum subrequests per Composite call.
pub const MAX_SUBREQUESTS: usize = 25;

/// One subrequest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subrequest {
    /// HTTP method (`GET`, `POST`, `PATCH`, `DELETE`).
    pub method: String,
    /// Path such as `/services/data/v62.0/sobjects/Account`.
    pub url: String,
    /// Name later subrequests use to refer to this one's result.
    pub reference_id: String,
    /// The JSON body, when any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<Value>,
}

/// One subresponse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subresponse {
    /// The body: a record, a save result, or a list of errors.
    #[serde(default)]
    pub body: Value,
    /// Selected headers (e.g. `Location`).
    #[serde(default)]
    pub http_headers: Value,
    /// The status of this subrequest.
    pub http_status_code: u16,
    /// Its reference id.
    pub reference_id: String,
}

impl Subresponse {
    /// Whether this subrequest succeeded; `304 Not Modified` (a conditional GET) counts as success.
    pub fn is_success(&self) -> bool {
        (200..400).contains(&self.http_status_code)
    }

    /// The errors of a failed subrequest (`PROCESSING_HALTED` for the ones rolled back).
    pub fn errors(&self) -> Vec<ApiErrorDetail> {
        if self.is_success() {
            return Vec::new();
        }
        serde_json::from_value(self.body.clone()).unwrap_or_default()
    }

    /// The classification of a failure.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        if self.is_success() {
            return None;
        }
        let errors = self.errors();
        Some(
            errors
                .iter()
                .find(|e| e.error_code != "PROCESSING_HALTED")
                .or(errors.first())
                .map_or_else(
                    || crate::error::classify_status(self.http_status_code),
                    ApiErrorDetail::kind,
                ),
        )
    }

    /// The `id` in the body, for creates.
    pub fn id(&self) -> Option<&str> {
        self.body.get("id").and_then(Value::as_str)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompositeResponse {
    composite_response: Vec<Subresponse>,
}

/// Builds a Composite request.
#[derive(Debug, Clone, Default)]
pub struct CompositeRequest {
    /// Roll everything back when one subrequest fails.
    pub all_or_none: bool,
    /// The subrequests, in order.
    pub subrequests: Vec<Subrequest>,
}

impl CompositeRequest {
    /// An empty request.
    pub fn new(all_or_none: bool) -> Self {
        CompositeRequest {
            all_or_none,
            subrequests: Vec::new(),
        }
    }

    /// Adds a subrequest; `path` is relative to the data path (`sobjects/Account`) or absolute.
    pub fn add(
        &mut self,
        method: Method,
        path: &str,
        reference_id: &str,
        body: Option<Value>,
        version: crate::ApiVersion,
    ) -> &mut Self {
        let url = if path.starts_with("/services/") {
            path.to_string()
        } else {
            format!("{}/{}", version.data_path(), path.trim_start_matches('/'))
        };
        self.subrequests.push(Subrequest {
            method: method.as_str().to_string(),
            url,
            reference_id: reference_id.to_string(),
            body,
        });
        self
    }

    /// Checks the limits and references.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the problem.
    pub fn validate(&self) -> Result<()> {
        let n = self.subrequests.len();
        if n == 0 || n > MAX_SUBREQUESTS {
            return Err(Error::InvalidInput(format!(
                "a composite request has 1 to 25 subrequests, this one has {n}; split it"
            )));
        }
        let mut seen: Vec<&str> = Vec::new();
        for s in &self.subrequests {
            let r = s.reference_id.as_str();
            if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::InvalidInput(format!(
                    "reference id {r:?} must be letters, digits or _"
                )));
            }
            if seen.contains(&r) {
                return Err(Error::InvalidInput(format!("reference id {r:?} is used twice")));
            }
            let text = format!(
                "{}{}",
                s.url,
                s.body.as_ref().map(Value::to_string).unwrap_or_default()
            );
            for used in references_in(&text) {
                if !seen.contains(&used.as_str()) {
                    return Err(Error::InvalidInput(format!(
                        "subrequest {r:?} refers to @{{{used}...}} which is not an earlier subrequest"
                    )));
                }
            }
            seen.push(r);
        }
        Ok(())
    }
}

/// The reference ids used in `@{ref.field}` expressions.
fn references_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("@{") {
        rest = &rest[pos + 2..];
        let end = rest.find(['.', '}', '[']).unwrap_or(rest.len());
        out.push(rest[..end].to_string());
    }
    out
}

impl Client {
    /// Starts a Composite request using this client's API version.
    pub fn composite_request(&self, all_or_none: bool) -> CompositeRequest {
        CompositeRequest::new(all_or_none)
    }

    /// Sends a Composite request; subresponses come back in order.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] from [`CompositeRequest::validate`]; pipeline errors for the call as
    /// a whole (per-subrequest failures are in the subresponses).
    pub async fn composite(&self, request: &CompositeRequest) -> Result<Vec<Subresponse>> {
        request.validate()?;
        let body = serde_json::json!({
            "allOrNone": request.all_or_none,
            "compositeRequest": request.subrequests,
        });
        let resp = self
            .send(Req::new(Method::POST, "composite").json(&body)?)
            .await?;
        let r: CompositeResponse = resp.json("composite response")?;
        Ok(r.composite_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_references_and_size() {
        let v = crate::ApiVersion::DEFAULT;
        let mut r = CompositeRequest::new(true);
        r.add(
            Method::POST,
            "sobjects/Account",
            "acct",
            Some(serde_json::json!({"Name":"A"})),
            v,
        );
        r.add(
            Method::POST,
            "sobjects/Contact",
            "c1",
            Some(serde_json::json!({"AccountId":"@{acct.id}"})),
            v,
        );
        assert!(r.validate().is_ok());
        r.add(Method::GET, "sobjects/Contact/@{nope.id}", "c2", None, v);
        assert!(r.validate().unwrap_err().to_string().contains("nope"));
        let mut big = CompositeRequest::new(false);
        for i in 0..26 {
            big.add(Method::GET, "limits", &format!("r{i}"), None, v);
        }
        assert!(big.validate().is_err());
    }

    #[test]
    fn reads_subresponse_errors() {
        let s: Subresponse = serde_json::from_value(serde_json::json!({
            "body":[{"errorCode":"PROCESSING_HALTED","message":"The transaction was rolled back"}],
            "httpHeaders":{}, "httpStatusCode":400, "referenceId":"c1"}))
        .unwrap();
        assert_eq!(s.error_kind(), Some(ErrorKind::InvalidInput));
        let ok: Subresponse = serde_json::from_value(serde_json::json!({
            "body":{"id":"001D000000IqhSLIAZ","success":true,"errors":[]},
            "httpHeaders":{"Location":"/x"}, "httpStatusCode":201, "referenceId":"a"}))
        .unwrap();
        assert_eq!(ok.id(), Some("001D000000IqhSLIAZ"));
    }
}
