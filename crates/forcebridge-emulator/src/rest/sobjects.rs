//! sObject rows: `POST /sobjects/{obj}` (create), `GET|PATCH|DELETE /sobjects/{obj}/{id}`, and
//! the external-id forms `GET|PATCH|DELETE /sobjects/{obj}/{field}/{value}` (upsert).
//!
//! Invariant: a record on the wire is `attributes` first, then every field in describe order (or
//! the `fields=` list in its order), with null for empty fields — as Salesforce renders it.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::dml::{self, Tx, Upserted};
use super::{Body, Ctx, Reply};
use crate::error::SfError;
use crate::ids::SfId;
use crate::org::{Org, Record};
use crate::schema::ObjectDef;

/// The JSON of one record as the REST API returns it.
pub fn render(ctx: &Ctx<'_>, def: &ObjectDef, record: &Record, fields: Option<&[String]>) -> Value {
    let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({ "type": def.name, "url": ctx.record_url(&def.name, id) }),
    );
    match fields {
        Some(list) => {
            for name in list {
                if let Some(fd) = def.field(name) {
                    out.insert(
                        fd.name.clone(),
                        record.get(&fd.name).cloned().unwrap_or(Value::Null),
                    );
                }
            }
        }
        None => {
            for fd in def.fields.values() {
                out.insert(
                    fd.name.clone(),
                    record.get(&fd.name).cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    Value::Object(out)
}

/// Checks a `fields=` list against the object.
///
/// # Errors
/// `INVALID_FIELD` in the words of SOQL (the `fields` parameter is answered by a query).
pub fn field_list(def: &ObjectDef, param: Option<&str>) -> Result<Option<Vec<String>>, SfError> {
    let Some(param) = param.filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in param.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let fd = def.field(name).ok_or_else(|| {
            SfError::bad_request(
                "INVALID_FIELD",
                format!(
                    "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                    def.name
                ),
            )
            .without_fields_key()
        })?;
        out.push(fd.name.clone());
    }
    Ok(Some(out))
}

fn object<'o>(org: &'o Org, name: &str) -> Result<&'o ObjectDef, SfError> {
    org.schema.object(name).ok_or_else(dml::unknown_object)
}

/// An id in the path that belongs to `def`, or the 404 Salesforce answers for anything else.
fn path_id(def: &ObjectDef, segment: &str) -> Result<SfId, SfError> {
    SfId::parse(segment)
        .ok()
        .filter(|id| id.key_prefix() == def.key_prefix)
        .ok_or_else(|| dml::no_such_key(segment))
}

/// `GET /sobjects/{obj}/{id}?fields=`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object, a missing or deleted record, or a segment that is not an id.
pub fn read(ctx: &Ctx<'_>, org: &Org, object_name: &str, id: &str) -> Result<Reply, SfError> {
    let def = object(org, object_name)?;
    let id = path_id(def, id)?;
    let fields = field_list(def, ctx.param("fields"))?;
    let record = org
        .record(&def.name, &id)
        .filter(|r| r.get("IsDeleted").and_then(Value::as_bool) != Some(true))
        .ok_or_else(SfError::no_resource)?;
    Ok(Reply::ok(render(ctx, def, &record, fields.as_deref())))
}

/// `GET /sobjects/{obj}/{field}/{value}`: the one record with that external id; 300 with the
/// URLs when several match.
///
/// # Errors
/// `NOT_FOUND` when nothing matches or the field cannot key a look-up.
pub fn read_by_field(
    ctx: &Ctx<'_>,
    org: &Org,
    object_name: &str,
    field: &str,
    value: &str,
) -> Result<Reply, SfError> {
    let def = object(org, object_name)?;
    let (_, found) = dml::lookup(org, def, field, value)?;
    let fields = field_list(def, ctx.param("fields"))?;
    match found.as_slice() {
        [] => Err(SfError::no_resource()),
        [one] => {
            let record = org.record(&def.name, one).ok_or_else(SfError::no_resource)?;
            Ok(Reply::ok(render(ctx, def, &record, fields.as_deref())))
        }
        many => Ok(multiple(ctx, def, many)),
    }
}

/// 300 Multiple Choices with the URLs of the matching records.
fn multiple(ctx: &Ctx<'_>, def: &ObjectDef, ids: &[SfId]) -> Reply {
    let urls: Vec<Value> = ids
        .iter()
        .map(|id| Value::String(ctx.record_url(&def.name, id.as_str())))
        .collect();
    Reply::json(StatusCode::MULTIPLE_CHOICES, Value::Array(urls))
}

/// `POST /sobjects/{obj}`: 201 `{"id", "success": true, "errors": []}`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object, `JSON_PARSER_ERROR`, validation errors.
pub fn create(ctx: &Ctx<'_>, tx: &mut Tx<'_>, object_name: &str, body: Body<'_>) -> Result<Reply, SfError> {
    let name = object(tx.org, object_name)?.name.clone();
    let body = body.object()?;
    let id = tx.create(&name, &body)?;
    Ok(Reply::json(
        StatusCode::CREATED,
        json!({ "id": id.as_str(), "success": true, "errors": [] }),
    )
    .header("Location", ctx.record_url(&name, id.as_str())))
}

/// `PATCH /sobjects/{obj}/{id}`: 204.
///
/// # Errors
/// `NOT_FOUND`, `ENTITY_IS_DELETED`, `JSON_PARSER_ERROR`, validation errors.
pub fn update(
    _ctx: &Ctx<'_>,
    tx: &mut Tx<'_>,
    object_name: &str,
    id: &str,
    body: Body<'_>,
) -> Result<Reply, SfError> {
    let def = object(tx.org, object_name)?;
    let name = def.name.clone();
    let id = path_id(def, id)?;
    let body = body.object()?;
    tx.update(&name, &id, &body)?;
    Ok(Reply::no_content())
}

/// `DELETE /sobjects/{obj}/{id}`: 204.
///
/// # Errors
/// `NOT_FOUND`, `ENTITY_IS_DELETED`.
pub fn delete(_ctx: &Ctx<'_>, tx: &mut Tx<'_>, object_name: &str, id: &str) -> Result<Reply, SfError> {
    let def = object(tx.org, object_name)?;
    let name = def.name.clone();
    let id = path_id(def, id)?;
    tx.delete(Some(&name), &id)?;
    Ok(Reply::no_content())
}

/// `DELETE /sobjects/{obj}/{field}/{value}`: deletes the one match; 300 for several.
///
/// # Errors
/// `NOT_FOUND` when nothing matches.
pub fn delete_by_field(
    ctx: &Ctx<'_>,
    tx: &mut Tx<'_>,
    object_name: &str,
    field: &str,
    value: &str,
) -> Result<Reply, SfError> {
    let def = object(tx.org, object_name)?;
    let name = def.name.clone();
    let (_, found) = tx.matches(&name, field, value)?;
    match found.as_slice() {
        [] => Err(SfError::no_resource()),
        [one] => {
            let one = one.clone();
            tx.delete(Some(&name), &one)?;
            Ok(Reply::no_content())
        }
        many => {
            let def = object(tx.org, &name)?;
            Ok(multiple(ctx, def, many))
        }
    }
}

/// The body of an upsert result (API 46.0 and later).
pub fn upsert_result(id: &SfId, created: bool) -> Value {
    json!({ "id": id.as_str(), "success": true, "errors": [], "created": created })
}

/// `PATCH /sobjects/{obj}/{field}/{value}`: 201 created / 200 updated, both with
/// `{"id", "success", "errors", "created"}`; 300 with the URLs when the key matches several.
/// Before API 46.0 Salesforce answered an update with 204 and a create without `created`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object or a field that cannot key an upsert; write errors.
pub fn upsert(
    ctx: &Ctx<'_>,
    tx: &mut Tx<'_>,
    object_name: &str,
    field: &str,
    value: &str,
    body: Body<'_>,
) -> Result<Reply, SfError> {
    let name = object(tx.org, object_name)?.name.clone();
    let body = body.object()?;
    let legacy = ctx.major() < 46;
    match tx.upsert(&name, field, value, &body)? {
        Upserted::Created(id) if legacy => Ok(Reply::json(
            StatusCode::CREATED,
            json!({ "id": id.as_str(), "success": true, "errors": [] }),
        )),
        Upserted::Updated(_) if legacy => Ok(Reply::no_content()),
        Upserted::Created(id) => Ok(Reply::json(StatusCode::CREATED, upsert_result(&id, true))
            .header("Location", ctx.record_url(&name, id.as_str()))),
        Upserted::Updated(id) => Ok(Reply::ok(upsert_result(&id, false))),
        Upserted::Multiple(ids) => {
            let def = object(tx.org, &name)?;
            Ok(multiple(ctx, def, &ids))
        }
    }
}
