//! The Avro schema of an object's change event and the schema id (a fingerprint of its text).
//!
//! Invariants: field 0 of every change event schema is `ChangeEventHeader`, then the object's
//! fields that change events carry (see [`crate::events::capture::in_events`]) in describe order,
//! each a union of `null` and its type with default null — so the positions `changedFields`'
//! bitmap refers to are the positions of this schema's fields; the same object and fields always
//! give the same text and id.

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;

use crate::org::Org;
use crate::schema::{FieldType, ObjectDef};

/// The Avro type of a field's values.
fn avro_type(t: FieldType) -> Value {
    match t {
        FieldType::Boolean => json!("boolean"),
        FieldType::Int => json!("int"),
        FieldType::Double | FieldType::Currency | FieldType::Percent => json!("double"),
        FieldType::Datetime => json!({"type": "long", "logicalType": "timestamp-millis"}),
        FieldType::Date => json!({"type": "int", "logicalType": "date"}),
        _ => json!("string"),
    }
}

/// The header record, as Salesforce's change event schemas define it.
fn header() -> Value {
    let strings = json!({"type": "array", "items": "string"});
    json!({
        "name": "ChangeEventHeader",
        "type": {
            "type": "record",
            "name": "ChangeEventHeader",
            "namespace": "com.sforce.eventbus",
            "fields": [
                {"name": "entityName", "type": "string"},
                {"name": "recordIds", "type": strings},
                {"name": "changeType", "type": {
                    "type": "enum", "name": "ChangeType", "namespace": "com.sforce.eventbus",
                    "symbols": ["CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE",
                                "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW", "SNAPSHOT"]
                }},
                {"name": "changeOrigin", "type": "string"},
                {"name": "transactionKey", "type": "string"},
                {"name": "sequenceNumber", "type": "int"},
                {"name": "commitTimestamp", "type": "long"},
                {"name": "commitNumber", "type": "long"},
                {"name": "commitUser", "type": "string"},
                {"name": "nulledFields", "type": strings},
                {"name": "diffFields", "type": strings},
                {"name": "changedFields", "type": strings},
            ]
        }
    })
}

/// The fields a change event of `def` carries, in schema order (after the header).
pub fn event_fields(def: &ObjectDef) -> Vec<(&str, FieldType)> {
    def.fields
        .values()
        .filter(|f| crate::events::capture::in_events(def, &f.name))
        .map(|f| (f.name.as_str(), f.ftype))
        .collect()
}

/// The schema of `def`'s change event, as JSON.
pub fn schema_json(def: &ObjectDef) -> Value {
    let mut fields = vec![header()];
    for (name, t) in event_fields(def) {
        fields.push(json!({"name": name, "type": ["null", avro_type(t)], "default": null}));
    }
    json!({
        "type": "record",
        "name": super::super::streaming::cdc::event_name(&def.name),
        "namespace": "com.sforce.eventbus",
        "fields": fields,
    })
}

/// The id of a schema text: 22 characters of the URL-safe base64 of its SHA-256.
pub fn id_of(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    s.truncate(22);
    s
}

/// The schema id of `entity`'s change event ("" for an unknown object).
pub fn schema_id(org: &Org, entity: &str) -> String {
    org.schema
        .object(entity)
        .map(|d| id_of(&schema_json(d).to_string()))
        .unwrap_or_default()
}
