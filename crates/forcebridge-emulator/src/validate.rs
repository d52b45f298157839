//! Field validation for record writes, with Salesforce's error codes, messages and `fields`.
//!
//! A create or update body is checked in Salesforce's order: unknown fields (`INVALID_FIELD`),
//! read-only fields (`INVALID_FIELD_FOR_INSERT_UPDATE`), each value against its field's type
//! (`STRING_TOO_LONG`, `INVALID_EMAIL_ADDRESS`, `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`,
//! `NUMBER_OUTSIDE_VALID_RANGE`, `MALFORMED_ID`, `FIELD_INTEGRITY_EXCEPTION`, `JSON_PARSER_ERROR`
//! for a value of the wrong JSON type), then required fields (`REQUIRED_FIELD_MISSING`).
//!
//! Invariant: every value that passes is normalised to the form the org stores and the wire shows
//! (18-character ids, `YYYY-MM-DD` dates, `...T..:..:...000+0000` datetimes, numbers rounded to
//! the field's scale), so readers never re-check stored values.

use serde_json::{Map, Value};

use crate::error::SfError;
use crate::ids::SfId;
use crate::org::{Org, Record, format_datetime};
use crate::schema::{FieldDef, FieldType, ObjectDef};

/// Which write a body is for: decides which fields may be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
}

fn bad(code: &str, message: String, field: &str) -> SfError {
    SfError::bad_request(code, message).with_fields([field])
}

/// Salesforce's message for a value the JSON deserializer cannot turn into the field's type.
fn parser_error(type_name: &str, value: &Value) -> SfError {
    let (token, shown) = match value {
        Value::String(s) => ("VALUE_STRING", s.clone()),
        Value::Bool(b) => (if *b { "VALUE_TRUE" } else { "VALUE_FALSE" }, b.to_string()),
        Value::Number(n) => ("VALUE_NUMBER_FLOAT", n.to_string()),
        Value::Array(_) => ("START_ARRAY", "[".into()),
        Value::Object(_) => ("START_OBJECT", "{".into()),
        Value::Null => ("VALUE_NULL", "null".into()),
    };
    SfError::bad_request(
        "JSON_PARSER_ERROR",
        format!(
            "Cannot deserialize instance of {type_name} from {token} value {shown} or request may be missing a required field"
        ),
    )
}

/// Checks a create/update body against `object` and returns the values to store, keyed by
/// canonical field name. Relationship objects (`"Account": {"Ext_Id__c": "A-1"}`) are resolved
/// to the parent's id through the parent's external id field.
///
/// # Errors
/// The first [`SfError`] Salesforce would report for this body.
pub fn check_body(
    org: &Org,
    object: &ObjectDef,
    body: &Map<String, Value>,
    op: Op,
) -> Result<Record, SfError> {
    let mut out = Record::new();
    let mut read_only = Vec::new();
    let mut pending: Vec<(&FieldDef, &Value)> = Vec::new();
    for (key, value) in body {
        if key == "attributes" {
            continue;
        }
        if let Some(field) = object.field(key) {
            let allowed = match op {
                Op::Create => field.createable,
                Op::Update => field.updateable,
            };
            if field.name == "Id" && op == Op::Update {
                // The record's own id may be repeated in an update body.
                continue;
            }
            if !allowed {
                read_only.push(field.name.clone());
                continue;
            }
            pending.push((field, value));
            continue;
        }
        if let (Some(rel), Value::Object(lookup)) = (object.relationship(key), value) {
            let allowed = match op {
                Op::Create => rel.createable,
                Op::Update => rel.updateable,
            };
            if !allowed {
                read_only.push(rel.name.clone());
                continue;
            }
            let id = resolve_foreign_key(org, rel, lookup)?;
            out.insert(rel.name.clone(), Value::String(id.to_string()));
            continue;
        }
        return Err(SfError::bad_request(
            "INVALID_FIELD",
            format!("No such column '{key}' on sobject of type {}", object.name),
        )
        .without_fields_key());
    }
    if !read_only.is_empty() {
        if op == Op::Create && read_only.iter().any(|f| f == "Id") {
            return Err(bad(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                "cannot specify Id in an insert call".into(),
                "Id",
            ));
        }
        return Err(SfError::bad_request(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!(
                "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                read_only.join(", ")
            ),
        )
        .with_fields(read_only));
    }
    for (field, value) in pending {
        let v = check_value(org, field, value)?;
        out.insert(field.name.clone(), v);
    }
    Ok(out)
}

/// Resolves `"Account": {"Ext_Id__c": "A-1"}` to the id of the one live parent with that value.
fn resolve_foreign_key(org: &Org, rel: &FieldDef, lookup: &Map<String, Value>) -> Result<SfId, SfError> {
    let parent_name = lookup
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| rel.reference_to.first().cloned())
        .unwrap_or_default();
    let parent = org.schema.object(&parent_name).ok_or_else(|| {
        SfError::bad_request(
            "INVALID_TYPE",
            format!("sObject type '{parent_name}' is not supported."),
        )
    })?;
    let Some((key, value)) = lookup.iter().find(|(k, _)| *k != "attributes") else {
        return Err(bad(
            "INVALID_FIELD",
            format!("Foreign key external ID: missing value for field {}", rel.name),
            &rel.name,
        ));
    };
    let field = parent
        .field(key)
        .filter(|f| f.external_id || f.id_lookup)
        .ok_or_else(|| {
            SfError::bad_request(
                "INVALID_FIELD",
                format!(
                    "Foreign key external ID field {key} is not an external id on {}",
                    parent.name
                ),
            )
        })?;
    let wanted = value_text(value);
    let matches: Vec<SfId> = find_by_field(org, parent, field, &wanted);
    match matches.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(SfError::bad_request(
            "INVALID_FIELD",
            format!(
                "Foreign key external ID: {wanted} not found for field {} in entity {}",
                field.name, parent.name
            ),
        )),
        _ => Err(SfError::bad_request(
            "INVALID_FIELD",
            format!(
                "Foreign key external ID: {wanted} matches multiple records for field {} in entity {}",
                field.name, parent.name
            ),
        )),
    }
}

/// A scalar JSON value as the text Salesforce compares external ids with.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Live records of `object` whose `field` equals `wanted` (case-insensitively unless the field is
/// case-sensitive; ids compare by their 18-character form; numbers by value). An index lookup
/// ([`crate::index`]), so a batch of upserts costs one lookup per record, not one table scan.
pub fn find_by_field(org: &Org, object: &ObjectDef, field: &FieldDef, wanted: &str) -> Vec<SfId> {
    org.indexes
        .lookup(org.data.get(&object.name), &object.name, field, wanted)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == ',' || c == ';' || c == '<' || c == '>')
        && !local.contains('@')
}

/// Parses the datetime forms Salesforce accepts: ISO 8601 with `Z`, `+HH:MM` or `+HHMM`, with or
/// without fractional seconds, or a bare date (midnight UTC).
pub fn parse_datetime(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{DateTime, NaiveDate, Utc};
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Checks one value for `field` and returns it normalised.
///
/// # Errors
/// The [`SfError`] Salesforce gives for this value in this field.
pub fn check_value(org: &Org, field: &FieldDef, value: &Value) -> Result<Value, SfError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match field.ftype {
        FieldType::String
        | FieldType::Textarea
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Email
        | FieldType::Picklist
        | FieldType::Multipicklist
        | FieldType::Combobox
        | FieldType::EncryptedString => {
            let s = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => return Err(parser_error("java.lang.String", other)),
            };
            if s.is_empty() {
                // Salesforce stores an empty string as null.
                return Ok(Value::Null);
            }
            if field.length > 0 && s.chars().count() > field.length as usize {
                return Err(bad(
                    "STRING_TOO_LONG",
                    format!("{}: data value too large: {s} (max length={})", field.label, field.length),
                    &field.name,
                ));
            }
            if field.ftype == FieldType::Email && !is_email(&s) {
                return Err(bad(
                    "INVALID_EMAIL_ADDRESS",
                    format!("{}: invalid email address: {s}", field.label),
                    &field.name,
                ));
            }
            if field.restricted_picklist {
                let ok = |v: &str| field.picklist_values.iter().any(|p| p.active && p.value == v);
                let all_ok = match field.ftype {
                    FieldType::Multipicklist => s.split(';').all(|v| ok(v.trim())),
                    _ => ok(&s),
                };
                if !all_ok {
                    return Err(bad(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        format!("{}: bad value for restricted picklist field: {s}", field.label),
                        &field.name,
                    ));
                }
            }
            Ok(Value::String(s))
        }
        FieldType::Boolean => match value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            other => Err(parser_error("boolean", other)),
        },
        FieldType::Int | FieldType::Double | FieldType::Currency | FieldType::Percent => {
            let n = match value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let type_name = if field.ftype == FieldType::Int { "int" } else { "double" };
            let n = n.filter(|n| n.is_finite()).ok_or_else(|| parser_error(type_name, value))?;
            let (int_digits, scale) = if field.ftype == FieldType::Int {
                (field.digits.max(1), 0)
            } else {
                (field.precision.saturating_sub(field.scale), field.scale)
            };
            let factor = 10f64.powi(scale.min(18) as i32);
            let rounded = (n * factor).round() / factor;
            let limit = 10f64.powi(int_digits.min(30) as i32);
            let bounded = field.precision > 0 || field.digits > 0;
            if bounded && rounded.abs() >= limit {
                return Err(bad(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    format!(
                        "{}: value outside of valid range on numeric field: {}",
                        field.label,
                        value_text(value)
                    ),
                    &field.name,
                ));
            }
            if field.ftype == FieldType::Int {
                if rounded.fract() != 0.0 {
                    return Err(parser_error("int", value));
                }
                return Ok(Value::from(rounded as i64));
            }
            Ok(serde_json::Number::from_f64(rounded).map_or(Value::Null, Value::Number))
        }
        FieldType::Date => {
            let s = value.as_str().ok_or_else(|| parser_error("date", value))?;
            let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .or_else(|| parse_datetime(s).map(|t| t.date_naive()))
                .ok_or_else(|| parser_error("date", value))?;
            Ok(Value::String(date.format("%Y-%m-%d").to_string()))
        }
        FieldType::Datetime => {
            let s = value.as_str().ok_or_else(|| parser_error("datetime", value))?;
            let t = parse_datetime(s).ok_or_else(|| parser_error("datetime", value))?;
            Ok(Value::String(format_datetime(t)))
        }
        FieldType::Time => {
            let s = value.as_str().ok_or_else(|| parser_error("time", value))?;
            let t = chrono::NaiveTime::parse_from_str(s.trim_end_matches('Z'), "%H:%M:%S%.f")
                .map_err(|_| parser_error("time", value))?;
            Ok(Value::String(format!("{}Z", t.format("%H:%M:%S%.3f"))))
        }
        FieldType::Reference | FieldType::Id => {
            let s = value.as_str().ok_or_else(|| parser_error("id", value))?;
            if s.is_empty() {
                return Ok(Value::Null);
            }
            let id = SfId::parse(s).map_err(|_| {
                bad(
                    "MALFORMED_ID",
                    format!("{}: id value of incorrect type: {s}", field.label),
                    &field.name,
                )
            })?;
            let target = org.schema.object_by_prefix(id.key_prefix());
            let right_type = target.is_some_and(|t| field.reference_to.iter().any(|r| r.eq_ignore_ascii_case(&t.name)));
            if !right_type {
                return Err(bad(
                    "FIELD_INTEGRITY_EXCEPTION",
                    format!("{}: id value of incorrect type: {s}", field.label),
                    &field.name,
                ));
            }
            match org.find(&id) {
                None => Err(bad(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id".into(),
                    &field.name,
                )),
                Some((_, r)) if r.get("IsDeleted").and_then(Value::as_bool) == Some(true) => Err(bad(
                    "ENTITY_IS_DELETED",
                    "entity is deleted".into(),
                    &field.name,
                )),
                Some(_) => Ok(Value::String(id.to_string())),
            }
        }
        FieldType::Base64 => match value {
            Value::String(s) => Ok(Value::String(s.clone())),
            other => Err(parser_error("base64Binary", other)),
        },
        FieldType::Address | FieldType::Location => Err(SfError::bad_request(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            format!("Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", field.name),
        )
        .with_fields([field.name.clone()])),
    }
}

/// Checks required fields: on create, every required field must be in `values` (the checked
/// body); on update, a body may not set a non-nillable field to null.
///
/// # Errors
/// `REQUIRED_FIELD_MISSING` naming every missing field, as Salesforce lists them.
pub fn check_required(object: &ObjectDef, values: &Record, op: Op) -> Result<(), SfError> {
    let missing: Vec<String> = object
        .fields
        .values()
        .filter(|f| match op {
            Op::Create => f.required_on_create() && values.get(&f.name).is_none_or(Value::is_null),
            Op::Update => {
                !f.nillable
                    && f.ftype != FieldType::Boolean
                    && values.get(&f.name).is_some_and(Value::is_null)
            }
        })
        .map(|f| f.name.clone())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(SfError::bad_request(
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{}]", missing.join(", ")),
    )
    .with_fields(missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails() {
        assert!(is_email("a.b@example.com"));
        assert!(!is_email("not an email"));
        assert!(!is_email("a@b"));
        assert!(!is_email("@example.com"));
    }

    #[test]
    fn datetimes_normalise() {
        let t = parse_datetime("2026-11-21T15:30:00Z").unwrap();
        assert_eq!(format_datetime(t), "2026-11-21T15:30:00.000+0000");
        let t = parse_datetime("2026-11-21T16:30:00.250+0100").unwrap();
        assert_eq!(format_datetime(t), "2026-11-21T15:30:00.250+0000");
        assert!(parse_datetime("yesterday").is_none());
    }

    #[test]
    fn lead_body_errors() {
        let org = crate::bootstrap::default_org(&crate::EmulatorConfig::default());
        let lead = org.schema.object("Lead").unwrap();
        let body = |v: Value| v.as_object().cloned().unwrap();
        let e = check_body(&org, lead, &body(json!({"Foo": 1})), Op::Create).unwrap_err();
        assert_eq!(e.error_code, "INVALID_FIELD");
        assert_eq!(e.message, "No such column 'Foo' on sobject of type Lead");
        let e = check_body(&org, lead, &body(json!({"Status": "Nope"})), Op::Create).unwrap_err();
        assert_eq!(e.error_code, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
        let e = check_body(&org, lead, &body(json!({"AnnualRevenue": 1e20})), Op::Create).unwrap_err();
        assert_eq!(e.error_code, "NUMBER_OUTSIDE_VALID_RANGE");
        let ok = check_body(
            &org,
            lead,
            &body(json!({"AnnualRevenue": "12.6", "Email": ""})),
            Op::Create,
        )
        .unwrap();
        assert_eq!(ok["AnnualRevenue"], json!(13.0));
        assert_eq!(ok["Email"], Value::Null);
    }
}
