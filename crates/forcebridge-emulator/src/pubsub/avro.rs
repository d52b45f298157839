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

/// A change event schema ready to encode datums.
#[derive(Debug)]
pub struct Compiled {
    pub id: String,
    pub json: String,
    pub schema: apache_avro::Schema,
    /// The record fields after the header, in schema order.
    pub fields: Vec<(String, FieldType)>,
}

/// Compiles the change event schema of `def`.
///
/// # Errors
/// A message when the generated schema does not parse (a bug, reported rather than panicking).
pub fn compile(def: &ObjectDef) -> Result<Compiled, String> {
    let json = schema_json(def).to_string();
    let schema = apache_avro::Schema::parse_str(&json)
        .map_err(|e| format!("change event schema of {}: {e}", def.name))?;
    Ok(Compiled {
        id: id_of(&json),
        json,
        schema,
        fields: event_fields(def)
            .into_iter()
            .map(|(n, t)| (n.to_string(), t))
            .collect(),
    })
}

/// A datum writer for `c` (resolving the schema once, for many events).
///
/// # Errors
/// A message when the schema cannot be resolved (a bug, reported rather than panicking).
pub fn writer(c: &Compiled) -> Result<apache_avro::writer::datum::GenericDatumWriter<'_>, String> {
    // Datums are built from the schema itself (every field, in order, of its declared type), so
    // checking each one against the schema again is work for nothing.
    apache_avro::writer::datum::GenericDatumWriter::builder(&c.schema)
        .validate(false)
        .build()
        .map_err(|e| format!("change event schema: {e}"))
}

/// The bitmap Salesforce sends for a set of schema positions: `0x` and the hexadecimal digits of
/// a number whose bit `i` (from the least significant) stands for field `i` of the schema.
pub fn bitmap(positions: impl IntoIterator<Item = usize>) -> Option<String> {
    let mut bytes: Vec<u8> = Vec::new();
    for p in positions {
        if bytes.len() <= p / 8 {
            bytes.resize(p / 8 + 1, 0);
        }
        if let Some(b) = bytes.get_mut(p / 8) {
            *b |= 1 << (p % 8);
        }
    }
    if bytes.is_empty() {
        return None;
    }
    let hex: String = bytes.iter().rev().map(|b| format!("{b:02X}")).collect();
    Some(format!("0x{hex}"))
}

fn typed(t: FieldType, v: &Value) -> apache_avro::types::Value {
    use apache_avro::types::Value as A;
    match t {
        FieldType::Boolean => A::Boolean(v.as_bool().unwrap_or(false)),
        FieldType::Int => A::Int(v.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or_default()),
        FieldType::Double | FieldType::Currency | FieldType::Percent => {
            A::Double(v.as_f64().unwrap_or_default())
        }
        FieldType::Datetime => A::TimestampMillis(v.as_str().map_or(0, crate::events::epoch_millis)),
        FieldType::Date => A::Date(
            v.as_str()
                .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(|d| i32::try_from(d.and_utc().timestamp() / 86_400).ok())
                .unwrap_or_default(),
        ),
        _ => A::String(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    }
}

/// The Avro datum of `e`: the header (bitmaps for the field lists) and, for creates and
/// undeletes, every non-null field; for updates, the changed fields that are not null; for
/// deletes and gap events, none (absent fields are null, as Salesforce sends unchanged ones).
///
/// # Errors
/// A message when the datum does not fit the schema (a bug, reported rather than panicking).
pub fn encode(
    c: &Compiled,
    writer: &apache_avro::writer::datum::GenericDatumWriter<'_>,
    e: &crate::events::BusEvent,
) -> Result<Vec<u8>, String> {
    use crate::events::ChangeType as C;
    use apache_avro::types::Value as A;
    let position = |name: &str| c.fields.iter().position(|(n, _)| n == name).map(|i| i + 1);
    let strings = |v: Vec<String>| A::Array(v.into_iter().map(A::String).collect());
    let map = |names: &[String]| -> Vec<String> {
        bitmap(names.iter().filter_map(|n| position(n)))
            .into_iter()
            .collect()
    };
    let (index, symbol) = match e.change_type {
        C::Create => (0, "CREATE"),
        C::Update => (1, "UPDATE"),
        C::Delete => (2, "DELETE"),
        C::Undelete => (3, "UNDELETE"),
        C::GapCreate => (4, "GAP_CREATE"),
        C::GapUpdate => (5, "GAP_UPDATE"),
        C::GapDelete => (6, "GAP_DELETE"),
        C::GapUndelete => (7, "GAP_UNDELETE"),
        C::GapOverflow => (8, "GAP_OVERFLOW"),
    };
    let header = A::Record(vec![
        ("entityName".into(), A::String(e.entity.clone())),
        ("recordIds".into(), strings(e.record_ids.clone())),
        ("changeType".into(), A::Enum(index, symbol.into())),
        ("changeOrigin".into(), A::String(e.change_origin.clone())),
        ("transactionKey".into(), A::String(e.transaction_key.clone())),
        (
            "sequenceNumber".into(),
            A::Int(i32::try_from(e.sequence_number).unwrap_or(i32::MAX)),
        ),
        ("commitTimestamp".into(), A::Long(e.commit_timestamp)),
        (
            "commitNumber".into(),
            A::Long(i64::try_from(e.commit_number).unwrap_or(i64::MAX)),
        ),
        ("commitUser".into(), A::String(e.commit_user.clone())),
        ("nulledFields".into(), strings(map(&e.nulled_fields))),
        ("diffFields".into(), A::Array(Vec::new())),
        ("changedFields".into(), strings(map(&e.changed_fields))),
    ]);
    let carries = |name: &str| match e.change_type {
        C::Create | C::Undelete => true,
        C::Update => e.changed_fields.iter().any(|f| f == name),
        _ => false,
    };
    let mut fields = vec![("ChangeEventHeader".to_string(), header)];
    for (name, t) in &c.fields {
        let value = match e.record.get(name).filter(|v| !v.is_null()) {
            Some(v) if carries(name) => A::Union(1, Box::new(typed(*t, v))),
            _ => A::Union(0, Box::new(A::Null)),
        };
        fields.push((name.clone(), value));
    }
    writer
        .write_value_to_vec(A::Record(fields))
        .map_err(|err| format!("change event datum of {}: {err}", e.entity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_set_bit_i_for_schema_field_i() {
        assert_eq!(bitmap([]), None);
        assert_eq!(bitmap([0]).as_deref(), Some("0x01"));
        assert_eq!(bitmap([1, 2, 9]).as_deref(), Some("0x0206"));
    }
}
