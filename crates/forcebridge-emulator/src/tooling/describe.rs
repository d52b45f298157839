//! The Tooling API's describe: `GET /tooling/sobjects` (the Tooling objects served, in the shape
//! of the REST global describe) and `GET /tooling/sobjects/{type}/describe` (one object's fields).
//!
//! Invariant: the fields described are exactly those the Tooling query catalog answers
//! ([`super::tooling_field_names`]), so a client that builds its `SELECT` from describe never asks
//! for a field the query refuses.

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::{Kind, version};
use crate::app::SharedState;
use crate::error::SfError;
use crate::middleware::Caller;
use crate::schema::{FieldDef, FieldType, ObjectDef};

/// The Tooling objects this emulator serves.
const KINDS: [Kind; 2] = [Kind::CustomObject, Kind::CustomField];

/// The object definition describe renders for `kind`.
pub(super) fn definition(kind: Kind) -> ObjectDef {
    let (label, plural, prefix) = match kind {
        Kind::CustomObject => ("Custom Object", "Custom Objects", "01I"),
        Kind::CustomField => ("Custom Field", "Custom Fields", "00N"),
    };
    let mut fields = IndexMap::new();
    for name in super::tooling_field_names(kind) {
        let ftype = match super::field_kind(name) {
            forcebridge_soql::FieldKind::Id => FieldType::Id,
            forcebridge_soql::FieldKind::Number => FieldType::Int,
            forcebridge_soql::FieldKind::DateTime => FieldType::Datetime,
            _ => FieldType::String,
        };
        let mut f = FieldDef::new(name, name, ftype);
        if matches!(
            *name,
            "Id" | "CreatedDate" | "CreatedById" | "LastModifiedDate" | "LastModifiedById"
        ) {
            f = f.read_only();
        }
        fields.insert(name.to_string(), f);
    }
    ObjectDef {
        name: kind.name().into(),
        label: label.into(),
        label_plural: plural.into(),
        key_prefix: prefix.into(),
        custom: false,
        createable: true,
        updateable: true,
        deletable: true,
        queryable: true,
        searchable: false,
        retrieveable: true,
        undeletable: false,
        mergeable: false,
        replicateable: false,
        triggerable: false,
        feed_enabled: false,
        fields,
    }
}

/// The `urls` of a Tooling object, under `/tooling/sobjects`.
fn urls(version: &str, name: &str) -> Value {
    let base = format!("/services/data/v{version}/tooling/sobjects/{name}");
    json!({
        "rowTemplate": format!("{base}/{{ID}}"),
        "describe": format!("{base}/describe"),
        "sobject": base,
    })
}

/// One object's summary, as global describe lists it.
fn summary(version: &str, def: &ObjectDef) -> Value {
    json!({
        "activateable": false,
        "createable": def.createable,
        "custom": false,
        "customSetting": false,
        "deletable": def.deletable,
        "deprecatedAndHidden": false,
        "feedEnabled": false,
        "keyPrefix": def.key_prefix,
        "label": def.label,
        "labelPlural": def.label_plural,
        "layoutable": false,
        "mergeable": false,
        "mruEnabled": false,
        "name": def.name,
        "queryable": def.queryable,
        "replicateable": false,
        "retrieveable": def.retrieveable,
        "searchable": false,
        "triggerable": false,
        "undeletable": false,
        "updateable": def.updateable,
        "urls": urls(version, &def.name),
    })
}

/// `GET /tooling/sobjects`.
pub async fn global(
    State(_state): State<SharedState>,
    _caller: Option<Extension<Caller>>,
    uri: Uri,
) -> Response {
    match version(&uri) {
        Ok(v) => Json(json!({
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": KINDS.iter().map(|k| summary(&v, &definition(*k))).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /tooling/sobjects/{type}/describe`.
pub async fn describe(
    State(_state): State<SharedState>,
    _caller: Option<Extension<Caller>>,
    uri: Uri,
    Path(object): Path<String>,
) -> Response {
    let result = (|| -> Result<Value, SfError> {
        let v = version(&uri)?;
        let kind = Kind::parse(&object).ok_or_else(SfError::no_resource)?;
        let def = definition(kind);
        let mut body = summary(&v, &def);
        if let Some(m) = body.as_object_mut() {
            m.insert(
                "fields".into(),
                Value::Array(
                    def.fields
                        .values()
                        .map(|f| crate::rest::describe::field(&def, f))
                        .collect(),
                ),
            );
            m.insert("childRelationships".into(), json!([]));
            m.insert("recordTypeInfos".into(), json!([]));
            m.insert("urls".into(), urls(&v, &def.name));
        }
        Ok(body)
    })();
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}
