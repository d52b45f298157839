//! sObject Tree: `POST /composite/tree/{object}` creates records with their children (up to 200
//! records in all, five levels deep), all or none.
//!
//! Records are created level by level — every root, then every second-level record, and so on —
//! as Salesforce does, and the answer lists `{referenceId, id}` in that order (201). When one
//! record fails, nothing is kept and the answer (400) names only that record with its errors
//! (`statusCode`, `message`, `fields`).
//!
//! Invariant: a child is created with its parent lookup set to the parent's new id, found from
//! the parent object's child relationship named in the request (`"Contacts": {"records": [...]}`).

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::dml::Tx;
use super::{Body, Reply};
use crate::error::SfError;

/// Most records one request may create.
pub const MAX_RECORDS: usize = 200;
/// Deepest tree a request may hold.
pub const MAX_DEPTH: usize = 5;

/// One record to create: its object, reference id, own fields, and the parent it hangs from.
struct Node {
    object: String,
    reference: String,
    fields: Map<String, Value>,
    /// Index of the parent node and the lookup field on this record pointing to it.
    parent: Option<(usize, String)>,
    depth: usize,
}

fn input_error(message: impl Into<String>) -> SfError {
    SfError::bad_request("INVALID_INPUT", message).without_fields_key()
}

/// Flattens `records` (of `object`) into `nodes`, children after their parents.
fn flatten(
    ctx_org: &crate::org::Org,
    object: &str,
    records: &[Value],
    parent: Option<usize>,
    depth: usize,
    nodes: &mut Vec<Node>,
) -> Result<(), SfError> {
    if depth > MAX_DEPTH {
        return Err(input_error(format!(
            "An sObject tree can be at most {MAX_DEPTH} levels deep"
        )));
    }
    let def = ctx_org.schema.object(object).ok_or_else(|| {
        SfError::bad_request(
            "INVALID_TYPE",
            format!("sObject type '{object}' is not supported."),
        )
    })?;
    for record in records {
        let Some(map) = record.as_object() else {
            return Err(input_error("Each record must be a JSON object"));
        };
        let attributes = map.get("attributes").and_then(Value::as_object);
        let kind = attributes
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
            .unwrap_or(&def.name);
        if !kind.eq_ignore_ascii_case(&def.name) {
            return Err(input_error(format!(
                "The type {kind} of a record does not match its place in the tree ({})",
                def.name
            )));
        }
        let reference = attributes
            .and_then(|a| a.get("referenceId"))
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| input_error("Include a reference ID for each record in the request."))?
            .to_string();
        let index = nodes.len();
        let mut fields = Map::new();
        let mut children: Vec<(String, Vec<Value>)> = Vec::new();
        for (key, value) in map {
            if key == "attributes" {
                continue;
            }
            if let Some(nested) = value.get("records").and_then(Value::as_array) {
                children.push((key.clone(), nested.clone()));
            } else {
                fields.insert(key.clone(), value.clone());
            }
        }
        nodes.push(Node {
            object: def.name.clone(),
            reference,
            fields,
            // The lookup field is filled in by the caller, which knows the relationship.
            parent: parent.map(|p| (p, String::new())),
            depth,
        });
        for (relationship, nested) in children {
            let rel = ctx_org
                .schema
                .child_relationships(&def.name)
                .iter()
                .find(|r| {
                    r.relationship_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&relationship))
                })
                .cloned()
                .ok_or_else(|| {
                    SfError::bad_request(
                        "INVALID_FIELD",
                        format!("No such column '{relationship}' on entity '{}'", def.name),
                    )
                })?;
            let first_child = nodes.len();
            flatten(
                ctx_org,
                &rel.child_sobject,
                &nested,
                Some(index),
                depth + 1,
                nodes,
            )?;
            // The children just added (and only those at the next depth) point to this record.
            for node in nodes.iter_mut().skip(first_child) {
                if node.depth == depth + 1 && node.parent.as_ref().is_some_and(|(p, _)| *p == index) {
                    node.parent = Some((index, rel.field.clone()));
                }
            }
        }
    }
    Ok(())
}

/// `POST /composite/tree/{object}`.
///
/// # Errors
/// `JSON_PARSER_ERROR`, a missing `records`, more than 200 records, a tree over five levels,
/// an unknown object or child relationship, a record without a reference id.
pub fn run(tx: &mut Tx<'_>, object: &str, body: Body<'_>) -> Result<Reply, SfError> {
    let body = body.object()?;
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return Err(input_error("records is required"));
    };
    let mut nodes = Vec::new();
    {
        let org: &crate::org::Org = tx.org;
        flatten(org, object, records, None, 1, &mut nodes)?;
    }
    if nodes.len() > MAX_RECORDS {
        return Err(input_error(format!(
            "An sObject tree request can hold at most {MAX_RECORDS} records, not {}",
            nodes.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let duplicates: Vec<&str> = nodes
        .iter()
        .filter(|n| !seen.insert(n.reference.clone()))
        .map(|n| n.reference.as_str())
        .collect();
    if !duplicates.is_empty() {
        let results: Vec<Value> = nodes
            .iter()
            .filter(|n| duplicates.contains(&n.reference.as_str()))
            .map(|n| {
                json!({"referenceId": n.reference, "errors": [{
                    "statusCode": "INVALID_INPUT",
                    "message": format!("Duplicate ReferenceId provided in the request: {}", n.reference),
                    "fields": []
                }]})
            })
            .collect();
        return Ok(Reply::json(
            StatusCode::BAD_REQUEST,
            json!({"hasErrors": true, "results": results}),
        ));
    }
    let savepoint = tx.savepoint();
    let mut ids: Vec<Option<String>> = vec![None; nodes.len()];
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| nodes.get(i).map_or(0, |n| n.depth));
    let mut results = Vec::with_capacity(nodes.len());
    for i in order {
        let Some(node) = nodes.get(i) else { continue };
        let mut values = node.fields.clone();
        if let Some((p, field)) = &node.parent
            && let Some(Some(parent_id)) = ids.get(*p)
        {
            values.insert(field.clone(), Value::String(parent_id.clone()));
        }
        match tx.create(&node.object, &values) {
            Ok(id) => {
                results.push(json!({"referenceId": node.reference, "id": id.to_string()}));
                if let Some(slot) = ids.get_mut(i) {
                    *slot = Some(id.to_string());
                }
            }
            Err(e) => {
                tx.rollback_to(savepoint);
                return Ok(Reply::json(
                    StatusCode::BAD_REQUEST,
                    json!({"hasErrors": true, "results": [{
                        "referenceId": node.reference,
                        "errors": [{"statusCode": e.error_code, "message": e.message, "fields": e.fields}],
                    }]}),
                ));
            }
        }
    }
    Ok(Reply::json(
        StatusCode::CREATED,
        json!({"hasErrors": false, "results": results}),
    ))
}
