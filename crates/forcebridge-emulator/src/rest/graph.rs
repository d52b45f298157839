//! Composite Graph: `POST /composite/graph` runs several graphs (`graphs`: `graphId` and a
//! `compositeRequest` of up to 500 nodes), each all or none and independent of the others.
//!
//! The answer is 200 with `{"graphs": [{"graphId", "graphResponse": {"compositeResponse"},
//! "isSuccessful"}]}` in request order; a failing graph's entries report what failed and
//! `PROCESSING_HALTED` for the rest, as `allOrNone` Composite does.
//!
//! Invariant: a failed graph leaves the org as it found it; a successful graph stays even when
//! another graph of the request fails.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::dml::Tx;
use super::{Body, Ctx, Reply};
use crate::error::SfError;

/// Most nodes (subrequests) one graph may hold.
pub const MAX_NODES: usize = 500;

/// `POST /composite/graph`.
///
/// # Errors
/// `JSON_PARSER_ERROR`; a missing `graphs`, a graph without `graphId`, a repeated `graphId`, or a
/// malformed subrequest.
pub fn run(ctx: &Ctx<'_>, tx: &mut Tx<'_>, body: Body<'_>) -> Result<Reply, SfError> {
    let body = body.object()?;
    let Some(graphs) = body.get("graphs").and_then(Value::as_array) else {
        return Err(SfError::bad_request("INVALID_INPUT", "graphs is required").without_fields_key());
    };
    let mut seen = std::collections::HashSet::new();
    for g in graphs {
        let id = g.get("graphId").and_then(Value::as_str).unwrap_or_default();
        if id.is_empty() || !seen.insert(id.to_string()) {
            return Err(SfError::bad_request(
                "INVALID_INPUT",
                format!("Each graph needs a graphId of its own; '{id}' is missing or repeated"),
            )
            .without_fields_key());
        }
    }
    let mut out = Vec::with_capacity(graphs.len());
    for g in graphs {
        let id = g.get("graphId").and_then(Value::as_str).unwrap_or_default();
        let Some(map) = g.as_object() else { continue };
        let savepoint = tx.savepoint();
        let (responses, failed) = super::composite::run_requests(ctx, tx, map, MAX_NODES, true)?;
        if failed {
            tx.rollback_to(savepoint);
        }
        out.push(json!({
            "graphId": id,
            "graphResponse": { "compositeResponse": responses },
            "isSuccessful": !failed,
        }));
    }
    Ok(Reply::json(StatusCode::OK, json!({ "graphs": out })))
}
