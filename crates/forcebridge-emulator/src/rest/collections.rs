//! sObject Collections: `POST|PATCH|DELETE /composite/sobjects` (create, update, delete up to 200
//! records), `PATCH /composite/sobjects/{obj}/{extIdField}` (upsert) and
//! `GET|POST /composite/sobjects/{obj}` (retrieve by ids).
//!
//! Invariants: the answer is 200 with one result per record, in request order, errors under
//! `statusCode`; with `allOrNone` any failure rolls back every record of the call and the records
//! that had no error of their own report `ALL_OR_NONE_OPERATION_ROLLED_BACK`.

use serde_json::{Map, Value, json};

use super::dml::{Tx, Upserted};
use super::sobjects::{field_list, render};
use super::{Body, Ctx, Reply};
use crate::error::SfError;
use crate::ids::SfId;
use crate::org::Org;

/// Most records one call may carry.
pub const MAX_RECORDS: usize = 200;

fn too_many() -> SfError {
    SfError::bad_request(
        "EXCEEDED_ID_LIMIT",
        format!("Record limit reached. Cannot submit more than {MAX_RECORDS} records into this call"),
    )
    .without_fields_key()
}

fn rolled_back() -> Value {
    let e = SfError::bad_request(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using AllOrNone header",
    );
    json!({ "success": false, "errors": [e.to_record_json()] })
}

fn failure(id: Option<&str>, e: &SfError) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    m.insert("success".into(), json!(false));
    m.insert("errors".into(), json!([e.to_record_json()]));
    Value::Object(m)
}

/// One record's outcome inside a call.
enum Outcome {
    Ok(Value),
    Err(Value),
}

/// Applies `allOrNone` to the outcomes and builds the answer.
fn finish(tx: &mut Tx<'_>, savepoint: usize, all_or_none: bool, outcomes: Vec<Outcome>) -> Reply {
    let failed = outcomes.iter().any(|o| matches!(o, Outcome::Err(_)));
    if failed && all_or_none {
        tx.rollback_to(savepoint);
        let results = outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Ok(_) => rolled_back(),
                Outcome::Err(v) => v,
            })
            .collect();
        return Reply::ok(Value::Array(results));
    }
    Reply::ok(Value::Array(
        outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Ok(v) | Outcome::Err(v) => v,
            })
            .collect(),
    ))
}

/// `allOrNone` and `records` of a body.
fn parse(body: Body<'_>) -> Result<(bool, Vec<Value>), SfError> {
    let body = body.object()?;
    let all_or_none = body.get("allOrNone").and_then(Value::as_bool).unwrap_or(false);
    let records = match body.get("records") {
        Some(Value::Array(r)) => r.clone(),
        _ => {
            return Err(SfError::bad_request(
                "INVALID_FIELD",
                "The records field is required and must be an array of sObjects",
            )
            .without_fields_key());
        }
    };
    if records.len() > MAX_RECORDS {
        return Err(too_many());
    }
    Ok((all_or_none, records))
}

fn record_type(record: &Map<String, Value>) -> Option<&str> {
    record.get("attributes")?.get("type")?.as_str()
}

fn concrete_type() -> SfError {
    SfError::bad_request("INVALID_TYPE", "Must send a concrete entity type.")
}

/// `POST /composite/sobjects`.
///
/// # Errors
/// `JSON_PARSER_ERROR`, `EXCEEDED_ID_LIMIT`; per-record errors are results, not errors.
pub fn create(_ctx: &Ctx<'_>, tx: &mut Tx<'_>, body: Body<'_>) -> Result<Reply, SfError> {
    let (all_or_none, records) = parse(body)?;
    let savepoint = tx.savepoint();
    let mut outcomes = Vec::with_capacity(records.len());
    for record in &records {
        let Some(record) = record.as_object() else {
            outcomes.push(Outcome::Err(failure(None, &concrete_type())));
            continue;
        };
        let Some(kind) = record_type(record) else {
            outcomes.push(Outcome::Err(failure(None, &concrete_type())));
            continue;
        };
        let sp = tx.savepoint();
        match tx.create(kind, record) {
            Ok(id) => outcomes.push(Outcome::Ok(
                json!({ "id": id.as_str(), "success": true, "errors": [] }),
            )),
            Err(e) => {
                tx.rollback_to(sp);
                outcomes.push(Outcome::Err(failure(None, &e)));
            }
        }
    }
    Ok(finish(tx, savepoint, all_or_none, outcomes))
}

/// `PATCH /composite/sobjects`.
///
/// # Errors
/// As [`create`].
pub fn update(_ctx: &Ctx<'_>, tx: &mut Tx<'_>, body: Body<'_>) -> Result<Reply, SfError> {
    let (all_or_none, records) = parse(body)?;
    let savepoint = tx.savepoint();
    let mut outcomes = Vec::with_capacity(records.len());
    for record in &records {
        let Some(record) = record.as_object() else {
            outcomes.push(Outcome::Err(failure(None, &concrete_type())));
            continue;
        };
        let id_text = record
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string);
        let Some(id_text) = id_text else {
            let e = SfError::bad_request("MISSING_ARGUMENT", "Id not specified in an update call")
                .with_fields(["Id"]);
            outcomes.push(Outcome::Err(failure(None, &e)));
            continue;
        };
        let Ok(id) = SfId::parse(&id_text) else {
            let e = SfError::bad_request("MALFORMED_ID", format!("malformed id {id_text}"));
            outcomes.push(Outcome::Err(failure(Some(&id_text), &e)));
            continue;
        };
        let kind = record_type(record).map(str::to_string).or_else(|| {
            tx.org
                .schema
                .object_by_prefix(id.key_prefix())
                .map(|o| o.name.clone())
        });
        let Some(kind) = kind else {
            outcomes.push(Outcome::Err(failure(Some(id.as_str()), &concrete_type())));
            continue;
        };
        let mut fields = record.clone();
        fields.retain(|k, _| !k.eq_ignore_ascii_case("id"));
        let sp = tx.savepoint();
        match tx.update(&kind, &id, &fields) {
            Ok(()) => outcomes.push(Outcome::Ok(
                json!({ "id": id.as_str(), "success": true, "errors": [] }),
            )),
            Err(e) => {
                tx.rollback_to(sp);
                let e = record_error(e);
                outcomes.push(Outcome::Err(failure(Some(id.as_str()), &e)));
            }
        }
    }
    Ok(finish(tx, savepoint, all_or_none, outcomes))
}

/// Inside per-record results a missing record is `INVALID_CROSS_REFERENCE_KEY`, not a 404.
fn record_error(e: SfError) -> SfError {
    if e.error_code == "NOT_FOUND" {
        SfError::bad_request("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    } else {
        e
    }
}

/// `DELETE /composite/sobjects?ids=a,b&allOrNone=true`.
///
/// # Errors
/// `EXCEEDED_ID_LIMIT`; missing `ids`.
pub fn delete(ctx: &Ctx<'_>, tx: &mut Tx<'_>) -> Result<Reply, SfError> {
    let ids: Vec<String> = ctx
        .param("ids")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(
            SfError::bad_request("MISSING_ARGUMENT", "ids parameter is required").without_fields_key(),
        );
    }
    if ids.len() > MAX_RECORDS {
        return Err(too_many());
    }
    let all_or_none = ctx
        .param("allOrNone")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let savepoint = tx.savepoint();
    let mut outcomes = Vec::with_capacity(ids.len());
    for text in &ids {
        let Ok(id) = SfId::parse(text) else {
            let e = SfError::bad_request("MALFORMED_ID", format!("malformed id {text}"));
            outcomes.push(Outcome::Err(failure(Some(text), &e)));
            continue;
        };
        let sp = tx.savepoint();
        match tx.delete(None, &id) {
            Ok(()) => outcomes.push(Outcome::Ok(
                json!({ "id": id.as_str(), "success": true, "errors": [] }),
            )),
            Err(e) => {
                tx.rollback_to(sp);
                outcomes.push(Outcome::Err(failure(Some(id.as_str()), &record_error(e))));
            }
        }
    }
    Ok(finish(tx, savepoint, all_or_none, outcomes))
}

/// `PATCH /composite/sobjects/{obj}/{extIdField}`: upsert, results with `created`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object or a field that cannot key an upsert.
pub fn upsert(
    _ctx: &Ctx<'_>,
    tx: &mut Tx<'_>,
    object: &str,
    field: &str,
    body: Body<'_>,
) -> Result<Reply, SfError> {
    let def = tx.org.schema.object(object).ok_or_else(SfError::no_resource)?;
    let name = def.name.clone();
    let key_field = def
        .field(field)
        .filter(|f| f.external_id || f.id_lookup)
        .ok_or_else(|| super::dml::no_such_key(field))?;
    let key = key_field.name.clone();
    let (all_or_none, records) = parse(body)?;
    let rule = crate::index::KeyRule::of(key_field);
    let normalise = |v: &str| rule.key_of_text(v);
    // The same key twice in one call is refused for both records, as Salesforce does.
    let key_of = |r: &Value| r.get(&key).map(crate::validate::value_text);
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for r in &records {
        if let Some(k) = key_of(r).filter(|k| !k.is_empty()) {
            *seen.entry(normalise(&k)).or_default() += 1;
        }
    }
    let savepoint = tx.savepoint();
    let mut outcomes = Vec::with_capacity(records.len());
    for record in &records {
        let Some(map) = record.as_object() else {
            outcomes.push(Outcome::Err(failure(None, &concrete_type())));
            continue;
        };
        if record_type(map).is_some_and(|t| !t.eq_ignore_ascii_case(&name)) {
            outcomes.push(Outcome::Err(failure(None, &concrete_type())));
            continue;
        }
        let value = key_of(record).unwrap_or_default();
        // Keyed by Id, a record without one is created (as Salesforce does).
        if value.is_empty() && key != "Id" {
            let e = SfError::bad_request("MISSING_ARGUMENT", format!("{key} not specified"))
                .with_fields([key.clone()]);
            outcomes.push(Outcome::Err(failure(None, &e)));
            continue;
        }
        if seen.get(&normalise(&value)).copied().unwrap_or(0) > 1 {
            let e = SfError::bad_request(
                "DUPLICATE_EXTERNAL_ID",
                format!("Duplicate external id specified: {value}"),
            )
            .with_fields([key.clone()]);
            outcomes.push(Outcome::Err(failure(None, &e)));
            continue;
        }
        let sp = tx.savepoint();
        let outcome = tx.upsert(&name, &key, &value, map);
        match outcome {
            Ok(Upserted::Created(id)) => outcomes.push(Outcome::Ok(
                json!({ "id": id.as_str(), "success": true, "errors": [], "created": true }),
            )),
            Ok(Upserted::Updated(id)) => outcomes.push(Outcome::Ok(
                json!({ "id": id.as_str(), "success": true, "errors": [], "created": false }),
            )),
            Ok(Upserted::Multiple(ids)) => {
                let list: Vec<&str> = ids.iter().map(SfId::as_str).collect();
                let e = SfError::bad_request(
                    "DUPLICATE_EXTERNAL_ID",
                    format!(
                        "{key}: more than one record found for external id field: [{}]",
                        list.join(", ")
                    ),
                )
                .with_fields([key.clone()]);
                outcomes.push(Outcome::Err(failure(None, &e)));
            }
            Err(e) => {
                tx.rollback_to(sp);
                outcomes.push(Outcome::Err(failure(None, &e)));
            }
        }
    }
    Ok(finish(tx, savepoint, all_or_none, outcomes))
}

/// `GET /composite/sobjects/{obj}?ids=&fields=` (or `POST` with `{"ids", "fields"}`): the
/// records in the order asked, `null` for ids that match nothing.
///
/// # Errors
/// `NOT_FOUND` for an unknown object; `INVALID_FIELD`; missing `ids` or `fields`.
pub fn retrieve(ctx: &Ctx<'_>, org: &Org, object: &str, body: Option<Body<'_>>) -> Result<Reply, SfError> {
    let def = org.schema.object(object).ok_or_else(SfError::no_resource)?;
    let (ids, fields): (Vec<String>, Option<String>) = match body {
        Some(body) => {
            let body = body.object()?;
            let list = |k: &str| -> Vec<String> {
                body.get(k)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default()
            };
            let fields = list("fields");
            (list("ids"), (!fields.is_empty()).then(|| fields.join(",")))
        }
        None => (
            ctx.param("ids")
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            ctx.param("fields").map(str::to_string),
        ),
    };
    if ids.is_empty() || fields.is_none() {
        return Err(
            SfError::bad_request("MISSING_ARGUMENT", "Both ids and fields are required").without_fields_key(),
        );
    }
    if ids.len() > 2000 {
        return Err(too_many());
    }
    let fields = field_list(def, fields.as_deref())?;
    let out: Vec<Value> = ids
        .iter()
        .map(|text| {
            SfId::parse(text)
                .ok()
                .and_then(|id| org.record(&def.name, &id))
                .filter(|r| r.get("IsDeleted").and_then(Value::as_bool) != Some(true))
                .map_or(Value::Null, |r| render(ctx, def, &r, fields.as_deref()))
        })
        .collect();
    Ok(Reply::ok(Value::Array(out)))
}
