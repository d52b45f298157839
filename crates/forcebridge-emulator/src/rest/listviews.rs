//! List views: `GET /sobjects/{type}/listviews` lists an object's list views and
//! `GET /sobjects/{type}/listviews/{id}/results` runs one (`limit` 1–2000, default 25; `offset`).
//!
//! Every object the caller can read has two built-in views, as a new org does: `All<Plural>`
//! ("All Accounts") and, where records have owners, `My<Plural>` ("My Accounts", the caller's
//! records). A view shows the object's name field, plus the hidden `Id`, `CreatedDate`,
//! `LastModifiedDate` and `SystemModstamp` columns, sorted by name.
//!
//! Invariant: results run through SOQL, so they honour field-level security and see only live
//! records; view ids are stable for a given org schema (they number the object's place in it).

use serde_json::{Value, json};

use super::{Ctx, Reply};
use crate::error::SfError;
use crate::ids::SfId;
use crate::org::Org;
use crate::schema::ObjectDef;

/// Records a view's results return when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 25;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 2000;

/// One built-in view.
struct View {
    id: String,
    developer_name: String,
    label: String,
    mine: bool,
}

fn views(org: &Org, def: &ObjectDef) -> Vec<View> {
    let position = org
        .schema
        .objects()
        .position(|o| o.name == def.name)
        .map_or(0, |p| p as u64);
    let plural: String = def.label_plural.split_whitespace().collect();
    let mut out = vec![View {
        id: SfId::generate("00B", &org.info.pod, position * 2 + 1).to_string(),
        developer_name: format!("All{plural}"),
        label: format!("All {}", def.label_plural),
        mine: false,
    }];
    if def.fields.contains_key("OwnerId") {
        out.push(View {
            id: SfId::generate("00B", &org.info.pod, position * 2 + 2).to_string(),
            developer_name: format!("My{plural}"),
            label: format!("My {}", def.label_plural),
            mine: true,
        });
    }
    out
}

fn object<'o>(ctx: &Ctx<'_>, org: &'o Org, object: &str) -> Result<&'o ObjectDef, SfError> {
    let def = org.schema.object(object).ok_or_else(SfError::no_resource)?;
    let access = crate::security::UserAccess::for_user(org, &ctx.user);
    if !access.object(def).read {
        return Err(SfError::no_resource());
    }
    Ok(def)
}

/// `GET /sobjects/{type}/listviews`.
///
/// # Errors
/// `NOT_FOUND` for an object that does not exist or the caller cannot read.
pub fn list(ctx: &Ctx<'_>, org: &Org, object_name: &str) -> Result<Reply, SfError> {
    let def = object(ctx, org, object_name)?;
    let base = format!("{}/sobjects/{}/listviews", ctx.prefix(), def.name);
    let listviews: Vec<Value> = views(org, def)
        .into_iter()
        .map(|v| {
            json!({
                "describeUrl": format!("{base}/{}/describe", v.id),
                "developerName": v.developer_name,
                "id": v.id,
                "label": v.label,
                "resultsUrl": format!("{base}/{}/results", v.id),
                "soqlCompatible": true,
                "url": format!("{base}/{}", v.id),
            })
        })
        .collect();
    Ok(Reply::ok(json!({
        "done": true,
        "listviews": listviews,
        "nextRecordsUrl": null,
        "size": listviews.len(),
        "sobjectType": def.name,
    })))
}

/// The column a view sorts by: the object's name field, else `Id`.
fn name_field(def: &ObjectDef) -> String {
    def.fields
        .values()
        .find(|f| f.name_field)
        .or_else(|| def.fields.get("Name"))
        .map_or_else(|| "Id".to_string(), |f| f.name.clone())
}

/// `GET /sobjects/{type}/listviews/{id}/results`.
///
/// # Errors
/// `NOT_FOUND` for an unknown object or view; `INVALID_QUERY_FILTER_OPERATOR`-free by
/// construction; a `limit` outside 1–2000 is `INVALID_PARAMETER_VALUE`.
pub fn results(ctx: &Ctx<'_>, org: &Org, object_name: &str, id: &str) -> Result<Reply, SfError> {
    let def = object(ctx, org, object_name)?;
    let view = views(org, def)
        .into_iter()
        .find(|v| v.id == id || v.id.get(..15) == Some(id))
        .ok_or_else(SfError::no_resource)?;
    let limit = match ctx.param("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                SfError::bad_request(
                    "INVALID_PARAMETER_VALUE",
                    format!("limit must be between 1 and {MAX_LIMIT}"),
                )
                .without_fields_key()
            })?,
    };
    let offset: usize = ctx.param("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let name = name_field(def);
    let mut columns = vec![(name.clone(), false)];
    for hidden in ["Id", "CreatedDate", "LastModifiedDate", "SystemModstamp"] {
        if hidden != name && def.fields.contains_key(hidden) {
            columns.push((hidden.to_string(), true));
        }
    }
    let select: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    let mut soql = format!("SELECT {} FROM {}", select.join(", "), def.name);
    if view.mine {
        soql.push_str(&format!(" WHERE OwnerId = '{}'", ctx.user));
    }
    soql.push_str(&format!(" ORDER BY {name} ASC NULLS FIRST, Id ASC LIMIT {limit}"));
    if offset > 0 {
        soql.push_str(&format!(" OFFSET {offset}"));
    }
    let (_, rows) = super::query::run(ctx, org, &soql, false)?;
    let column_meta: Vec<Value> = columns
        .iter()
        .enumerate()
        .map(|(i, (c, hidden))| {
            let f = def.fields.get(c);
            json!({
                "ascendingLabel": "Z-A",
                "descendingLabel": "A-Z",
                "fieldNameOrPath": c,
                "hidden": hidden,
                "label": f.map_or(c.as_str(), |f| f.label.as_str()),
                "selectListItem": c,
                "sortDirection": if i == 0 { json!("ascending") } else { Value::Null },
                "sortIndex": if i == 0 { json!(0) } else { Value::Null },
                "sortable": !hidden,
                "type": f.map_or_else(|| json!("string"), |f| json!(f.ftype)),
            })
        })
        .collect();
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            let cells: Vec<Value> = columns
                .iter()
                .map(|(c, _)| {
                    let value = match r.get(c) {
                        None | Some(Value::Null) => Value::Null,
                        Some(Value::String(s)) => Value::String(s.clone()),
                        Some(other) => Value::String(other.to_string()),
                    };
                    json!({ "fieldNameOrPath": c, "value": value })
                })
                .collect();
            json!({ "columns": cells })
        })
        .collect();
    Ok(Reply::ok(json!({
        "columns": column_meta,
        "developerName": view.developer_name,
        "done": true,
        "id": view.id,
        "label": view.label,
        "records": records,
        "size": records.len(),
    })))
}
