//! `GET /query?q=…&columns=true`: a query's column metadata instead of its rows — what
//! command-line tools ask for before they run a query, to lay out its columns.
//!
//! The answer is `{"columnMetadata": [...], "entityName", "groupBy", "idSelected", "keyPrefix"}`;
//! each column carries `aggregate`, `apexType`, `booleanType`, `columnName`, `custom`,
//! `displayName`, `foreignKeyName`, `insertable`, `joinColumns`, `numberType`, `textType` and
//! `updatable`. A parent path (`Account.Name`) is one column for the relationship whose
//! `joinColumns` hold the next part; a subquery is an `aggregate` column named for the child
//! relationship whose `joinColumns` are the subquery's columns; an aggregate function is an
//! `aggregate` column named by its alias or `exprN`, displayed as written (`COUNT(Id)`).
//!
//! Invariant: the query is first run as usual, so a query the API refuses is refused here with
//! the same error, and the metadata never names a field the query could not read.

use forcebridge_soql::ast::{AggFunc, FieldPath, FieldsKind, SelectItem, SelectQuery};
use serde_json::{Value, json};

use super::{Ctx, Reply};
use crate::error::SfError;
use crate::org::Org;
use crate::schema::{FieldDef, FieldType, ObjectDef};

fn apex_type(f: &FieldDef) -> &'static str {
    match f.ftype {
        FieldType::Id | FieldType::Reference => "Id",
        FieldType::Boolean => "Boolean",
        FieldType::Int => "Integer",
        FieldType::Double | FieldType::Currency | FieldType::Percent => "Double",
        FieldType::Date => "Date",
        FieldType::Datetime => "Datetime",
        FieldType::Time => "Time",
        FieldType::Address => "Address",
        FieldType::Location => "Location",
        FieldType::Base64 => "Blob",
        _ => "String",
    }
}

fn is_text(f: &FieldDef) -> bool {
    matches!(
        f.ftype,
        FieldType::String
            | FieldType::Textarea
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Picklist
            | FieldType::Multipicklist
            | FieldType::Combobox
            | FieldType::EncryptedString
    )
}

fn is_number(f: &FieldDef) -> bool {
    matches!(
        f.ftype,
        FieldType::Int | FieldType::Double | FieldType::Currency | FieldType::Percent
    )
}

/// The column of one field.
fn field_column(f: &FieldDef, display: String) -> Value {
    json!({
        "aggregate": false,
        "apexType": apex_type(f),
        "booleanType": f.ftype == FieldType::Boolean,
        "columnName": f.name,
        "custom": f.name.ends_with("__c"),
        "displayName": display,
        "foreignKeyName": null,
        "insertable": f.createable,
        "joinColumns": [],
        "numberType": is_number(f),
        "textType": is_text(f),
        "updatable": f.updateable,
    })
}

/// A column that only groups others (a relationship or a subquery).
fn join_column(name: &str, display: &str, aggregate: bool, joins: Vec<Value>) -> Value {
    json!({
        "aggregate": aggregate,
        "apexType": null,
        "booleanType": false,
        "columnName": name,
        "custom": name.ends_with("__r"),
        "displayName": display,
        "foreignKeyName": null,
        "insertable": false,
        "joinColumns": joins,
        "numberType": false,
        "textType": false,
        "updatable": false,
    })
}

/// The reference field of `def` whose relationship is `name` (`Account` for `AccountId`).
fn relationship<'o>(def: &'o ObjectDef, name: &str) -> Option<&'o FieldDef> {
    def.fields.values().find(|f| {
        f.ftype == FieldType::Reference
            && f.relationship_name
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(name))
    })
}

/// The column of a (possibly dotted) path, starting at `def`; `prefix` is the display path so far.
fn path_column(org: &Org, def: &ObjectDef, parts: &[String], prefix: &str) -> Option<Value> {
    let (first, rest) = parts.split_first()?;
    let display = if prefix.is_empty() {
        first.clone()
    } else {
        format!("{prefix}.{first}")
    };
    if rest.is_empty() {
        let f = def.field(first)?;
        return Some(field_column(
            f,
            if prefix.is_empty() {
                f.name.clone()
            } else {
                format!("{prefix}.{}", f.name)
            },
        ));
    }
    let rel = relationship(def, first)?;
    let target = rel.reference_to.first().and_then(|t| org.schema.object(t))?;
    let name = rel.relationship_name.clone().unwrap_or_else(|| first.clone());
    let display = if prefix.is_empty() { name.clone() } else { display };
    let inner = path_column(org, target, rest, &display)?;
    Some(join_column(&name, &display, false, vec![inner]))
}

/// The parts of `path` below the FROM alias, if the query gave one.
fn parts(path: &FieldPath, alias: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = path.parts.iter().map(|p| p.name.clone()).collect();
    if names.len() > 1 && alias.is_some_and(|a| names.first().is_some_and(|n| n.eq_ignore_ascii_case(a))) {
        names.remove(0);
    }
    names
}

fn agg_name(func: AggFunc) -> &'static str {
    match func {
        AggFunc::Count => "COUNT",
        AggFunc::CountDistinct => "COUNT_DISTINCT",
        AggFunc::Min => "MIN",
        AggFunc::Max => "MAX",
        AggFunc::Sum => "SUM",
        AggFunc::Avg => "AVG",
    }
}

/// The columns of one SELECT over `def`.
fn columns(org: &Org, def: &ObjectDef, select: &SelectQuery) -> Vec<Value> {
    let alias = select.from.alias.as_ref().map(|a| a.name.as_str());
    let mut out = Vec::new();
    let mut expr = 0;
    for item in &select.select {
        match item {
            SelectItem::Field {
                path,
                alias: col_alias,
            } => {
                if let Some(mut c) = path_column(org, def, &parts(path, alias), "") {
                    if let Some(a) = col_alias {
                        c["columnName"] = json!(a.name);
                    }
                    out.push(c);
                }
            }
            SelectItem::Function { path, .. } => {
                if let Some(c) = path_column(org, def, &parts(path, alias), "") {
                    out.push(c);
                }
            }
            SelectItem::Aggregate { call, alias: a } => {
                let arg = call.arg.as_ref().map(FieldPath::dotted).unwrap_or_default();
                let display = format!("{}({arg})", agg_name(call.func));
                let name = match a {
                    Some(a) => a.name.clone(),
                    None => {
                        let n = format!("expr{expr}");
                        expr += 1;
                        n
                    }
                };
                let numeric = matches!(
                    call.func,
                    AggFunc::Count | AggFunc::CountDistinct | AggFunc::Sum | AggFunc::Avg
                );
                out.push(json!({
                    "aggregate": true,
                    "apexType": if matches!(call.func, AggFunc::Count | AggFunc::CountDistinct) { "Integer" } else if numeric { "Double" } else { "String" },
                    "booleanType": false,
                    "columnName": name,
                    "custom": false,
                    "displayName": display,
                    "foreignKeyName": null,
                    "insertable": false,
                    "joinColumns": [],
                    "numberType": numeric,
                    "textType": !numeric,
                    "updatable": false,
                }));
            }
            SelectItem::Date { call, alias: a } => {
                let name = match a {
                    Some(a) => a.name.clone(),
                    None => {
                        let n = format!("expr{expr}");
                        expr += 1;
                        n
                    }
                };
                out.push(json!({
                    "aggregate": true, "apexType": "Integer", "booleanType": false,
                    "columnName": name, "custom": false,
                    "displayName": format!("{:?}({})", call.func, call.arg.dotted()),
                    "foreignKeyName": null, "insertable": false, "joinColumns": [],
                    "numberType": true, "textType": false, "updatable": false,
                }));
            }
            SelectItem::Subquery(sub) => {
                let rel_name = &sub.from.object.name;
                let child = org
                    .schema
                    .child_relationships(&def.name)
                    .iter()
                    .find(|r| {
                        r.relationship_name
                            .as_deref()
                            .is_some_and(|n| n.eq_ignore_ascii_case(rel_name))
                    })
                    .cloned();
                if let Some(child) = child
                    && let Some(child_def) = org.schema.object(&child.child_sobject)
                {
                    let name = child
                        .relationship_name
                        .clone()
                        .unwrap_or_else(|| rel_name.clone());
                    out.push(join_column(&name, &name, true, columns(org, child_def, sub)));
                }
            }
            // A polymorphic `TYPEOF` has no single column layout; clients read its rows as they come.
            SelectItem::TypeOf { .. } => {}
            SelectItem::Fields { kind, .. } => {
                for f in def.fields.values() {
                    let custom = f.name.ends_with("__c");
                    let take = match kind {
                        FieldsKind::All => true,
                        FieldsKind::Standard => !custom,
                        FieldsKind::Custom => custom,
                    };
                    if take {
                        out.push(field_column(f, f.name.clone()));
                    }
                }
            }
        }
    }
    out
}

/// `GET /query?q=…&columns=true` (and `queryAll`).
///
/// # Errors
/// The query's own errors, exactly as running it gives them.
pub fn describe(ctx: &Ctx<'_>, org: &Org, include_deleted: bool) -> Result<Reply, SfError> {
    let text = ctx.param("q").filter(|q| !q.trim().is_empty()).ok_or_else(|| {
        SfError::bad_request("MALFORMED_QUERY", "A query string has to be specified").without_fields_key()
    })?;
    super::query::run(ctx, org, text, include_deleted)?;
    let parsed = forcebridge_soql::parse(text)
        .map_err(|e| SfError::bad_request(e.code(), e.message.clone()).without_fields_key())?;
    let select = &parsed.select;
    let def = org
        .schema
        .object(&select.from.object.name)
        .ok_or_else(SfError::no_resource)?;
    Ok(Reply::ok(metadata(org, def, select)))
}

/// The `columns=true` answer for `select` over `def` (also used by the Tooling API's query, whose
/// objects are not in the org's schema: their paths then have no relationships to follow).
pub fn metadata(org: &Org, def: &ObjectDef, select: &SelectQuery) -> Value {
    let cols = columns(org, def, select);
    let id_selected = cols
        .iter()
        .any(|c| c["columnName"] == json!("Id") && c["joinColumns"].as_array().is_some_and(Vec::is_empty));
    let group_by = !select.group_by.is_empty()
        || select
            .select
            .iter()
            .any(|i| matches!(i, SelectItem::Aggregate { .. }));
    json!({
        "columnMetadata": cols,
        "entityName": def.name,
        "groupBy": group_by,
        "idSelected": id_selected,
        "keyPrefix": def.key_prefix,
    })
}
