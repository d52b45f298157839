//! Composite Batch: `POST /composite/batch` runs up to 25 independent subrequests
//! (`batchRequests`: `method`, `url` relative to `/services/data/` such as
//! `v66.0/sobjects/Account/001…`, optional `richInput`), each in its own transaction.
//!
//! The answer is 200 with `{"hasErrors", "results": [{"statusCode", "result"}]}` in request
//! order. With `haltOnError`, the subrequests after the first failure are not run and answer 412
//! `BATCH_PROCESSING_HALTED`. A malformed subrequest (bad method or url) fails the whole request
//! with 400 before any runs.
//!
//! Invariant: a failed subrequest leaves the org as it found it and never undoes another one.

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::dml::Tx;
use super::{Body, Ctx, Reply};
use crate::error::SfError;

/// Most subrequests one batch may carry.
pub const MAX_SUBREQUESTS: usize = 25;

fn input_error(message: impl Into<String>) -> SfError {
    SfError::bad_request("INVALID_BATCH_REQUEST", message).without_fields_key()
}

/// `url` as a path below `/services/data/`, as [`super::composite::run_one`] takes it.
fn full_url(url: &str) -> String {
    let trimmed = url.trim_start_matches('/');
    if trimmed.starts_with("services/data/") {
        format!("/{trimmed}")
    } else {
        format!("/services/data/{trimmed}")
    }
}

/// `POST /composite/batch`.
///
/// # Errors
/// `JSON_PARSER_ERROR`; a missing `batchRequests`, more than 25, or a subrequest without a
/// valid method and url.
pub fn run(ctx: &Ctx<'_>, tx: &mut Tx<'_>, body: Body<'_>) -> Result<Reply, SfError> {
    let body = body.object()?;
    let halt_on_error = body.get("haltOnError").and_then(Value::as_bool).unwrap_or(false);
    let Some(requests) = body.get("batchRequests").and_then(Value::as_array) else {
        return Err(input_error("batchRequests is required"));
    };
    if requests.len() > MAX_SUBREQUESTS {
        return Err(SfError::bad_request(
            "LIMIT_EXCEEDED",
            format!("Max number of subrequests allowed: {MAX_SUBREQUESTS}"),
        )
        .without_fields_key());
    }
    let mut parsed = Vec::with_capacity(requests.len());
    for r in requests {
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .filter(|m| matches!(m.as_str(), "GET" | "POST" | "PATCH" | "PUT" | "DELETE" | "HEAD"))
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
        let url = r.get("url").and_then(Value::as_str).filter(|u| !u.is_empty());
        let (Some(method), Some(url)) = (method, url) else {
            return Err(input_error(
                "Each subrequest needs a method (GET, POST, PATCH, PUT, DELETE or HEAD) and a url",
            ));
        };
        let below = full_url(url);
        if below.starts_with("/services/data/v") && below.contains("/composite/batch") {
            return Err(input_error(
                "A batch request cannot contain another batch request",
            ));
        }
        parsed.push((method, below, r.get("richInput")));
    }
    let mut results = Vec::with_capacity(parsed.len());
    let mut has_errors = false;
    let mut halted = false;
    for (method, url, rich) in parsed {
        if halted {
            results.push(json!({
                "statusCode": 412,
                "result": [{
                    "errorCode": "BATCH_PROCESSING_HALTED",
                    "message": "Batch processing halted per request"
                }]
            }));
            continue;
        }
        let reply = super::composite::run_one(ctx, tx, &method, &url, rich, &Map::new());
        let failed = reply.is_error();
        has_errors |= failed;
        halted = failed && halt_on_error;
        results.push(json!({
            "statusCode": reply.status.as_u16(),
            "result": reply.body.unwrap_or(Value::Null),
        }));
    }
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "hasErrors": has_errors, "results": results }),
    ))
}
