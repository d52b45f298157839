//! Composite: `POST /composite` runs up to 25 subrequests in order, in one transaction, with
//! references to earlier results (`@{refAccount.id}`, `@{refQuery.records[0].Id}`).
//!
//! Invariants: the answer is always 200 with one `compositeResponse` entry per subrequest (body,
//! httpHeaders, httpStatusCode, referenceId). With `allOrNone` the first failure rolls back every
//! subrequest and every other entry reports `PROCESSING_HALTED`; without it, a subrequest that
//! references a failed or missing result reports `PROCESSING_HALTED` and the others still run.
//! Each subrequest goes through the same dispatcher as a direct call.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::dml::Tx;
use super::{Body, Ctx, Reply, dispatch_read, dispatch_write, parse_params, parse_version, segments};
use crate::error::SfError;

/// Most subrequests one Composite call may carry.
pub const MAX_SUBREQUESTS: usize = 25;

const HALTED_ROLLBACK: &str =
    "The transaction was rolled back since another operation in the same transaction failed.";

fn halted(reference_id: &str, message: String) -> Value {
    json!({
        "body": [{ "errorCode": "PROCESSING_HALTED", "message": message }],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": reference_id,
    })
}

/// Follows `path` (`id`, `records[0].Id`, `Account.Name`) into a result body.
fn follow<'v>(body: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = body;
    for part in path.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        let mut rest = indexes;
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']')?;
            let n: usize = stripped[..end].parse().ok()?;
            cur = cur.get(n)?;
            rest = &stripped[end + 1..];
        }
    }
    Some(cur)
}

/// Replaces every `@{ref.path}` in `text`; `Err(expression)` names the first that cannot be resolved.
fn substitute(text: &str, results: &HashMap<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let expr = &after[..end];
        // `ref.path`, `ref[0].path` (a Collections result is an array).
        let cut = expr.find(['.', '[']).unwrap_or(expr.len());
        let reference = &expr[..cut];
        let path = expr[cut..].strip_prefix('.').unwrap_or(&expr[cut..]);
        let value = results.get(reference).and_then(|body| {
            if path.is_empty() {
                Some(body)
            } else {
                follow(body, path)
            }
        });
        match value {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => return Err(expr.to_string()),
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn substitute_json(value: &Value, results: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(substitute(s, results)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_json(v, results))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), substitute_json(v, results)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn entry(reply: Reply, reference_id: &str) -> Value {
    let headers: Map<String, Value> = reply
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "body": reply.body.unwrap_or(Value::Null),
        "httpHeaders": headers,
        "httpStatusCode": reply.status.as_u16(),
        "referenceId": reference_id,
    })
}

/// Runs one subrequest.
pub(super) fn run_one(
    ctx: &Ctx<'_>,
    tx: &mut Tx<'_>,
    method: &Method,
    url: &str,
    body: Option<&Value>,
    headers: &Map<String, Value>,
) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let Some(below) = path.strip_prefix("/services/data/") else {
        return SfError::bad_request(
            "INVALID_API_INPUT",
            format!("The url of a composite subrequest must start with /services/data/: {url}"),
        )
        .into();
    };
    let segs_owned = segments(below);
    let segs: Vec<&str> = segs_owned.iter().map(String::as_str).collect();
    let Some((first, rest)) = segs.split_first() else {
        return SfError::no_resource().into();
    };
    let Some(version) = parse_version(first) else {
        return SfError::no_resource().into();
    };
    if matches!(rest, ["composite"]) {
        return SfError::bad_request(
            "INVALID_API_INPUT",
            "A composite request cannot contain another composite request",
        )
        .into();
    }
    let sub = Ctx {
        version,
        user: ctx.user.clone(),
        base_url: ctx.base_url,
        runtime: ctx.runtime,
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.to_ascii_lowercase(), v.to_string())))
            .collect(),
        params: parse_params(query),
    };
    if !super::is_write(method) {
        let org: &crate::org::Org = tx.org;
        return dispatch_read(&sub, org, rest).unwrap_or_else(Reply::from);
    }
    let savepoint = tx.savepoint();
    // A subrequest's own duplicate-rule header applies to it alone.
    let outer = tx.allow_save_duplicates;
    tx.allow_save_duplicates = outer || sub.allow_duplicates();
    let reply = dispatch_write(&sub, tx, method, rest, Body::Json(body)).unwrap_or_else(Reply::from);
    tx.allow_save_duplicates = outer;
    if reply.is_error() {
        tx.rollback_to(savepoint);
    }
    reply
}

/// `POST /composite`.
///
/// # Errors
/// `JSON_PARSER_ERROR`, a missing `compositeRequest`, more than 25 subrequests.
pub fn run(ctx: &Ctx<'_>, tx: &mut Tx<'_>, body: Body<'_>) -> Result<Reply, SfError> {
    let body = body.object()?;
    let all_or_none = body.get("allOrNone").and_then(Value::as_bool).unwrap_or(false);
    let (out, _) = run_requests(ctx, tx, &body, MAX_SUBREQUESTS, all_or_none)?;
    Ok(Reply::json(StatusCode::OK, json!({ "compositeResponse": out })))
}

/// Runs the `compositeRequest` of `body` (at most `max` subrequests): one `compositeResponse`
/// entry per subrequest, and whether any failed. With `all_or_none` a failure rolls back all.
///
/// # Errors
/// A missing `compositeRequest`, more than `max` subrequests, a malformed subrequest.
pub(super) fn run_requests(
    ctx: &Ctx<'_>,
    tx: &mut Tx<'_>,
    body: &Map<String, Value>,
    max: usize,
    all_or_none: bool,
) -> Result<(Vec<Value>, bool), SfError> {
    let Some(Value::Array(requests)) = body.get("compositeRequest") else {
        return Err(
            SfError::bad_request("JSON_PARSER_ERROR", "compositeRequest is required").without_fields_key(),
        );
    };
    if requests.len() > max {
        return Err(SfError::bad_request(
            "LIMIT_EXCEEDED",
            format!("Max number of subrequests allowed: {max}"),
        )
        .without_fields_key());
    }
    let mut seen = std::collections::HashSet::new();
    for r in requests {
        let reference = r.get("referenceId").and_then(Value::as_str).unwrap_or_default();
        let method_ok = r.get("method").and_then(Value::as_str).is_some_and(|m| {
            matches!(
                m.to_ascii_uppercase().as_str(),
                "GET" | "POST" | "PATCH" | "PUT" | "DELETE"
            )
        });
        if reference.is_empty() || !method_ok || r.get("url").and_then(Value::as_str).is_none() {
            return Err(SfError::bad_request(
                "INVALID_API_INPUT",
                "Each subrequest needs a method (GET, POST, PATCH, PUT or DELETE), a url and a referenceId",
            )
            .without_fields_key());
        }
        if !seen.insert(reference.to_string()) {
            return Err(SfError::bad_request(
                "INVALID_API_INPUT",
                format!("Duplicate ReferenceId provided in the request: {reference}"),
            )
            .without_fields_key());
        }
    }

    let savepoint = tx.savepoint();
    let mut results: HashMap<String, Value> = HashMap::new();
    let mut out: Vec<Value> = Vec::with_capacity(requests.len());
    let mut failed: Option<usize> = None;
    for (i, r) in requests.iter().enumerate() {
        let reference = r.get("referenceId").and_then(Value::as_str).unwrap_or_default();
        if failed.is_some() && all_or_none {
            out.push(halted(reference, HALTED_ROLLBACK.to_string()));
            continue;
        }
        let method_text = r
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let method = Method::from_bytes(method_text.as_bytes()).unwrap_or(Method::GET);
        let url = r.get("url").and_then(Value::as_str).unwrap_or_default();
        let resolved = substitute(url, &results).and_then(|u| {
            let b = r.get("body").map(|b| substitute_json(b, &results)).transpose()?;
            Ok((u, b))
        });
        let (url, sub_body) = match resolved {
            Ok(x) => x,
            Err(expr) => {
                let reference_name = expr.split(['.', '[']).next().unwrap_or_default();
                out.push(halted(
                    reference,
                    format!(
                        "Invalid reference specified. No value for {expr} found in {reference_name}. Provided referenceId ('{reference_name}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_')."
                    ),
                ));
                if all_or_none {
                    failed = Some(i);
                }
                continue;
            }
        };
        let headers = r
            .get("httpHeaders")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let reply = run_one(ctx, tx, &method, &url, sub_body.as_ref(), &headers);
        let is_error = reply.is_error();
        if let (false, Some(b)) = (is_error, &reply.body) {
            results.insert(reference.to_string(), b.clone());
        }
        out.push(entry(reply, reference));
        if is_error && failed.is_none() {
            failed = Some(i);
        }
    }
    if let (Some(bad), true) = (failed, all_or_none) {
        tx.rollback_to(savepoint);
        for (i, item) in out.iter_mut().enumerate() {
            if i != bad {
                let reference = item
                    .get("referenceId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                *item = halted(&reference, HALTED_ROLLBACK.to_string());
            }
        }
    }
    Ok((out, failed.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve() {
        let mut results = HashMap::new();
        results.insert("refAccount".to_string(), json!({"id": "001A"}));
        results.insert("q".to_string(), json!({"records": [{"Id": "003B"}]}));
        assert_eq!(
            substitute("/sobjects/Account/@{refAccount.id}", &results),
            Ok("/sobjects/Account/001A".to_string())
        );
        assert_eq!(substitute("@{q.records[0].Id}", &results), Ok("003B".to_string()));
        assert_eq!(substitute("@{nope.id}", &results), Err("nope.id".to_string()));
        assert_eq!(
            substitute("@{q.records[3].Id}", &results),
            Err("q.records[3].Id".to_string())
        );
    }
}
